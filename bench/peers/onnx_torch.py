"""onnx_torch.py - turns an ONNX file into a torch.nn.Module that executes its graph node by node, so the PyTorch peer (eager, torch.compile, CUDA graphs) runs any model lucid runs.

    import onnx_torch
    module = onnx_torch.convert("model.onnx", {"input": (1, 3, 224, 224)})
    y = module(torch.from_numpy(x))          # one tensor, or a tuple for several outputs

Reading: the onnx package when it is installed, else a small protobuf decoder built on
onnx_lite.py (the GPU machine's python3 may have torch without onnx); both give the same
graph. Initializers become buffers of the module (so .to(device, dtype) moves and casts them).

Shapes are fixed at conversion: every graph input gets the shape given to convert() (for
symbolic or -1 dimensions; fixed dimensions come from the file, and 1 where nothing says
otherwise, as lucid does). The graph is then evaluated once on zeros of those shapes, and
every value that depends only on initializers, Constant nodes and tensor shapes (Shape and
Size outputs, and the Gather/Concat/Unsqueeze/Reshape chains built from them by exporters) is
folded into a constant. The forward pass runs only the remaining nodes; the arguments they
need as Python numbers (Reshape's shape, Slice's starts, Pad's pads, Resize's sizes, axes of
Squeeze/Unsqueeze/Reduce* and Split's sizes) come from those constants, so forward has no
data-dependent Python control flow and torch.compile traces it as one graph. A node that
needs such an argument from data computed at run time raises ConversionError. Tables that
depend only on shapes (Resize's indices and weights) are computed at conversion and kept as
buffers; a call with other input shapes (eager only) recomputes them.

Ops: every ONNX op in lucid's list (src/ops/op_list.h) with the attributes and opset
variants lucid reads. lucid's own engine layers (domain "lucid": FusedConv, QConv, Reorder,
...) exist only in graphs lucid exports after optimizing and are not ONNX ops; they and any
other op raise ConversionError naming the op, the node and the opset.

Precision: module.float_dtype (float32 by default) is the type that Cast-to-float and
generated float tensors (ConstantOfShape, Range) take; a driver that runs the module in
fp16 sets it to torch.float16 after .to(torch.float16).
"""

import math
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

# TensorProto.DataType -> torch dtype (bfloat16 is 16)
TORCH_DTYPES = {1: torch.float32, 2: torch.uint8, 3: torch.int8, 5: torch.int16,
                6: torch.int32, 7: torch.int64, 9: torch.bool, 10: torch.float16,
                11: torch.float64, 16: torch.bfloat16}
NUMPY_DTYPES = {1: np.float32, 2: np.uint8, 3: np.int8, 4: np.uint16, 5: np.int16,
                6: np.int32, 7: np.int64, 9: np.bool_, 10: np.float16, 11: np.float64,
                12: np.uint32, 13: np.uint64}

# a constant with more values than this is not turned into a Python list for handlers
PY_CONST_MAX = 4096


class ConversionError(ValueError):
    """The model cannot be turned into a module: unsupported op, data-dependent argument."""


# ---- reading ---------------------------------------------------------------------------------

class Node:
    __slots__ = ("idx", "op", "domain", "name", "inputs", "outputs", "attrs", "opset")

    def __init__(self, idx, op, domain, name, inputs, outputs, attrs, opset):
        self.idx, self.op, self.domain, self.name = idx, op, domain, name
        self.inputs, self.outputs, self.attrs, self.opset = inputs, outputs, attrs, opset

    def where(self):
        return "node '%s' (%s, opset %d)" % (self.name or "#%d" % self.idx, self.op, self.opset)

    def a(self, key, default=None):
        return self.attrs.get(key, default)


class Graph:
    """What the converter needs from a model: opsets, inputs (name, elem type, dims),
    output names, initializers (name -> numpy) and nodes with Python attribute values."""

    def __init__(self):
        self.opsets, self.inputs, self.outputs, self.inits, self.nodes = {}, [], [], {}, []
        self.reader = ""


def _read_with_onnx(path):
    import onnx
    from onnx import numpy_helper
    model = onnx.load(path)
    g = Graph()
    g.reader = "onnx %s" % onnx.__version__
    for o in model.opset_import:
        g.opsets[o.domain or "ai.onnx"] = int(o.version)
    for t in model.graph.initializer:
        g.inits[t.name] = numpy_helper.to_array(t)
    for vi in model.graph.input:
        tt = vi.type.tensor_type
        dims = None
        if tt.HasField("shape"):
            dims = [d.dim_value if d.HasField("dim_value") else
                    (d.dim_param if d.HasField("dim_param") else None) for d in tt.shape.dim]
        g.inputs.append((vi.name, tt.elem_type, dims))
    g.outputs = [vi.name for vi in model.graph.output]
    A = onnx.AttributeProto
    for i, n in enumerate(model.graph.node):
        attrs = {}
        for at in n.attribute:
            if at.type == A.FLOAT:
                v = float(at.f)
            elif at.type == A.INT:
                v = int(at.i)
            elif at.type == A.STRING:
                v = at.s.decode("utf-8")
            elif at.type == A.TENSOR:
                v = numpy_helper.to_array(at.t)
            elif at.type == A.FLOATS:
                v = [float(x) for x in at.floats]
            elif at.type == A.INTS:
                v = [int(x) for x in at.ints]
            elif at.type == A.STRINGS:
                v = [s.decode("utf-8") for s in at.strings]
            else:
                v = ("unsupported attribute type", at.type)
            attrs[at.name] = v
        g.nodes.append(Node(i, n.op_type, n.domain, n.name, list(n.input), list(n.output),
                            attrs, 0))
    return g


def _read_with_lite(path):
    """The same Graph from onnx_lite's protobuf decoder (fields from onnx.proto: ModelProto 7
    graph, 8 opset_import; GraphProto 1 node; NodeProto 1 input, 2 output, 3 name, 4 op_type,
    5 attribute, 7 domain; AttributeProto 1 name, 2 f, 3 i, 4 s, 5 t, 7 floats, 8 ints,
    9 strings, 20 type; OperatorSetIdProto 1 domain, 2 version)."""
    import struct
    import onnx_lite as L
    meta = L.read_model(path)
    g = Graph()
    g.reader = "onnx_lite"
    g.inits = {n: a for n, a in meta["initializers"]}
    g.inputs = [(i["name"], i["elem_type"], i["shape"]) for i in meta["inputs"]]
    g.outputs = [o["name"] for o in meta["outputs"]]
    with open(path, "rb") as f:
        buf = memoryview(f.read())
    graph = None
    for f_, wt, v in L._fields(buf):
        if f_ == 7 and wt == 2:
            graph = v
        elif f_ == 8 and wt == 2:
            dom, ver = "", 0
            for of, owt, ov in L._fields(v):
                if of == 1 and owt == 2:
                    dom = bytes(ov).decode("utf-8")
                elif of == 2 and owt == 0:
                    ver = L._signed64(ov)
            g.opsets[dom or "ai.onnx"] = ver
    i = 0
    for f_, wt, v in L._fields(graph):
        if f_ != 1 or wt != 2:
            continue
        ins, outs, name, op, dom, attrs = [], [], "", "", "", {}
        for nf, nwt, nv in L._fields(v):
            if nwt != 2:
                continue
            if nf == 1:
                ins.append(bytes(nv).decode("utf-8"))
            elif nf == 2:
                outs.append(bytes(nv).decode("utf-8"))
            elif nf == 3:
                name = bytes(nv).decode("utf-8")
            elif nf == 4:
                op = bytes(nv).decode("utf-8")
            elif nf == 7:
                dom = bytes(nv).decode("utf-8")
            elif nf == 5:
                an, at, val = "", 0, {}
                for af, awt, av in L._fields(nv):
                    if af == 1 and awt == 2:
                        an = bytes(av).decode("utf-8")
                    elif af == 20 and awt == 0:
                        at = av
                    elif af == 2 and awt == 5:
                        val[2] = struct.unpack("<f", bytes(av))[0]
                    elif af == 3 and awt == 0:
                        val[3] = L._signed64(av)
                    elif af == 4 and awt == 2:
                        val[4] = bytes(av).decode("utf-8")
                    elif af == 5 and awt == 2:
                        val[5] = L._tensor(av)[1]
                    elif af == 7:
                        raw = bytes(av)
                        val.setdefault(7, []).extend(
                            struct.unpack("<%df" % (len(raw) // 4), raw))
                    elif af == 8:
                        val.setdefault(8, []).extend(
                            L._signed64(x) for x in L._packed_varints(av, awt))
                    elif af == 9 and awt == 2:
                        val.setdefault(9, []).append(bytes(av).decode("utf-8"))
                # AttributeType: 1 FLOAT 2 INT 3 STRING 4 TENSOR 6 FLOATS 7 INTS 8 STRINGS
                field = {1: 2, 2: 3, 3: 4, 4: 5, 6: 7, 7: 8, 8: 9}.get(at)
                if field is None:
                    attrs[an] = ("unsupported attribute type", at)
                else:
                    attrs[an] = val.get(field, [] if field in (7, 8, 9) else None)
        g.nodes.append(Node(i, op, dom, name, ins, outs, attrs, 0))
        i += 1
    return g


def read_graph(path, reader="auto"):
    """Graph of the ONNX file at path; reader: auto (onnx if importable), onnx or lite."""
    if reader == "auto":
        try:
            import onnx  # noqa: F401
            reader = "onnx"
        except ImportError:
            reader = "lite"
    g = _read_with_onnx(path) if reader == "onnx" else _read_with_lite(path)
    for n in g.nodes:
        n.opset = g.opsets.get(n.domain or "ai.onnx", 0)
        if not n.name:
            n.name = "%s_%d" % (n.op, n.idx)
    return g


# ---- helpers for handlers ----------------------------------------------------------------------

def _need(node, cs, i, what):
    """The constant input i as a Python list; data computed at run time is refused."""
    if i >= len(cs) or cs[i] is None:
        raise ConversionError("%s: input %d (%s) must be a constant or computed from shapes; "
                              "it depends on data computed at run time" % (node.where(), i, what))
    return cs[i]


def _present(xs, i):
    return i < len(xs) and xs[i] is not None


def _axis(a, rank):
    return a + rank if a < 0 else a


def _float_type(m, elem):
    """The torch dtype for ONNX elem type elem; float32 follows the module's precision."""
    if elem == 1:
        return m.float_dtype
    if elem not in TORCH_DTYPES:
        raise ConversionError("ONNX data type %d has no torch dtype here" % elem)
    return TORCH_DTYPES[elem]


def _pads_torch(pads, nsp):
    """ONNX [b1..bn, e1..en] of the last nsp dims -> F.pad's list (last dim first)."""
    out = []
    for i in reversed(range(nsp)):
        out += [pads[i], pads[nsp + i]]
    return out


def _spatial_pads(node, x_sp, k, s, d, pads_attr, ceil_mode=False, pool=False):
    """ONNX auto_pad/pads for one Conv/pool node -> (begin, end) lists (lucid's rules, conv.c
    and pool.c); ceil_mode (pools) adds the extra end padding a floor-mode pool needs."""
    nsp = len(x_sp)
    ap = node.a("auto_pad", "NOTSET")
    pb = list(pads_attr[:nsp]) if pads_attr else [0] * nsp
    pe = list(pads_attr[nsp:]) if pads_attr else [0] * nsp
    for i in range(nsp):
        dk = (k[i] - 1) * d[i] + 1
        if ap in ("SAME_UPPER", "SAME_LOWER"):
            out = -(-x_sp[i] // s[i])
            total = max(0, (out - 1) * s[i] + dk - x_sp[i])
            pb[i] = total // 2 if ap == "SAME_UPPER" else total - total // 2
            pe[i] = total - pb[i]
        elif ap == "VALID":
            pb[i] = pe[i] = 0
        elif ap != "NOTSET":
            raise ConversionError("%s: auto_pad '%s' is not one of NOTSET, SAME_UPPER, "
                                  "SAME_LOWER, VALID" % (node.where(), ap))
        if ceil_mode and ap not in ("SAME_UPPER", "SAME_LOWER"):
            span = x_sp[i] + pb[i] + pe[i] - dk
            out = -(-span // s[i]) + 1
            if (out - 1) * s[i] >= x_sp[i] + pb[i]:
                out -= 1
            pe[i] += max(0, (out - 1) * s[i] + dk - (x_sp[i] + pb[i] + pe[i]))
    return pb, pe


def _conv_fn(nsp, transpose=False):
    table = {1: (F.conv1d, F.conv_transpose1d), 2: (F.conv2d, F.conv_transpose2d),
             3: (F.conv3d, F.conv_transpose3d)}
    if nsp not in table:
        raise ConversionError("convolution over %d spatial dims" % nsp)
    return table[nsp][1 if transpose else 0]


# ---- handlers: (module, node, inputs as tensors or None, constant inputs as lists or None)
#      -> list of outputs --------------------------------------------------------------------------

def op_conv(m, n, xs, cs):
    x, w = xs[0], xs[1]
    b = xs[2] if _present(xs, 2) else None
    nsp = x.dim() - 2
    k = list(w.shape[2:])
    s = n.a("strides") or [1] * nsp
    d = n.a("dilations") or [1] * nsp
    pb, pe = _spatial_pads(n, list(x.shape[2:]), k, s, d, n.a("pads"))
    fn = _conv_fn(nsp)
    if pb == pe:
        return [fn(x, w, b, s, pb, d, n.a("group", 1))]
    x = F.pad(x, _pads_torch(pb + pe, nsp))
    return [fn(x, w, b, s, 0, d, n.a("group", 1))]


def op_conv_transpose(m, n, xs, cs):
    x, w = xs[0], xs[1]
    b = xs[2] if _present(xs, 2) else None
    nsp = x.dim() - 2
    g = n.a("group", 1)
    k = list(w.shape[2:])
    s = n.a("strides") or [1] * nsp
    d = n.a("dilations") or [1] * nsp
    op = n.a("output_padding") or [0] * nsp
    pads = n.a("pads")
    oshape = n.a("output_shape")
    ap = n.a("auto_pad", "NOTSET")
    pb = list(pads[:nsp]) if pads else [0] * nsp
    pe = list(pads[nsp:]) if pads else [0] * nsp
    for i in range(nsp):
        full = s[i] * (x.shape[2 + i] - 1) + op[i] + (k[i] - 1) * d[i] + 1
        if oshape or ap in ("SAME_UPPER", "SAME_LOWER"):
            out = oshape[len(oshape) - nsp + i] if oshape else x.shape[2 + i] * s[i]
            total = full - out
            half = total // 2 if total >= 0 else -((-total + 1) // 2)
            pb[i], pe[i] = (half, total - half) if ap == "SAME_UPPER" else (total - half, half)
        elif ap == "VALID":
            pb[i] = pe[i] = 0
    fn = _conv_fn(nsp, True)
    if pb == pe and all(op[i] < max(s[i], d[i]) for i in range(nsp)) and min(pb) >= 0:
        return [fn(x, w, b, s, pb, op, g, d)]
    y = fn(x, w, None, s, 0, 0, g, d)
    # F.pad with negative amounts crops: begin padding removed, output_padding appended
    y = F.pad(y, _pads_torch([-v for v in pb] + [op[i] - pe[i] for i in range(nsp)], nsp))
    if b is not None:
        y = y + b.reshape([1, -1] + [1] * nsp)
    return [y]


def op_gemm(m, n, xs, cs):
    a, b = xs[0], xs[1]
    c = xs[2] if _present(xs, 2) else None
    alpha, beta = n.a("alpha", 1.0), n.a("beta", 1.0)
    ta, tb = n.a("transA", 0), n.a("transB", 0)
    if not ta and tb and alpha == 1.0 and (c is None or (beta == 1.0 and c.dim() == 1)):
        return [F.linear(a, b, c)]
    if ta:
        a = a.t()
    if tb:
        b = b.t()
    y = torch.matmul(a, b)
    if alpha != 1.0:
        y = y * alpha
    if c is not None:
        y = y + (c if beta == 1.0 else c * beta)
    return [y]


def op_matmul(m, n, xs, cs):
    return [torch.matmul(xs[0], xs[1])]


def op_batch_norm(m, n, xs, cs):
    if n.a("training_mode", 0):
        raise ConversionError("%s: training_mode=1 is not inference" % n.where())
    return [F.batch_norm(xs[0], xs[3], xs[4], xs[1], xs[2], False, 0.0, n.a("epsilon", 1e-5))]


def op_instance_norm(m, n, xs, cs):
    return [F.instance_norm(xs[0], weight=xs[1], bias=xs[2], eps=n.a("epsilon", 1e-5))]


def op_lrn(m, n, xs, cs):
    x = xs[0]
    size = n.a("size")
    alpha, beta, bias = n.a("alpha", 1e-4), n.a("beta", 0.75), n.a("bias", 1.0)
    shp = x.shape
    sq = (x * x).reshape(shp[0], 1, shp[1], -1)
    # ONNX's window over channels is [c - floor((size-1)/2), c + ceil((size-1)/2)]
    sq = F.pad(sq, [0, 0, (size - 1) // 2, size - 1 - (size - 1) // 2])
    ssum = F.avg_pool2d(sq, (size, 1), stride=1) * size
    return [x / (bias + alpha / size * ssum.reshape(shp)) ** beta]


def _pool(m, n, xs, kind):
    x = xs[0]
    nsp = x.dim() - 2
    k = n.a("kernel_shape")
    s = n.a("strides") or [1] * nsp
    d = n.a("dilations") or [1] * nsp
    ceil = bool(n.a("ceil_mode", 0))
    if kind == "avg" and any(v != 1 for v in d):
        raise ConversionError("%s: AveragePool with dilations is not supported" % n.where())
    pads = n.a("pads")
    ap = n.a("auto_pad", "NOTSET")
    sym = ap == "NOTSET" and (not pads or list(pads[:nsp]) == list(pads[nsp:]))
    p = list(pads[:nsp]) if pads else [0] * nsp
    fn = {("max", 1): F.max_pool1d, ("max", 2): F.max_pool2d, ("max", 3): F.max_pool3d,
          ("avg", 1): F.avg_pool1d, ("avg", 2): F.avg_pool2d, ("avg", 3): F.avg_pool3d}.get(
              (kind, nsp))
    if fn is None:
        raise ConversionError("%s: pooling over %d spatial dims" % (n.where(), nsp))
    if sym and all(2 * p[i] <= k[i] for i in range(nsp)):
        # PyTorch's output size, ceil_mode included, is lucid's (pool.c) for symmetric pads
        if kind == "max":
            return [fn(x, k, s, p, d, ceil_mode=ceil)]
        return [fn(x, k, s, p, ceil_mode=ceil, count_include_pad=bool(n.a("count_include_pad", 0)))]
    pb, pe = _spatial_pads(n, list(x.shape[2:]), k, s, d, pads, ceil_mode=ceil, pool=True)
    tp = _pads_torch(pb + pe, nsp)
    if kind == "max":
        return [fn(F.pad(x, tp, value=-math.inf), k, s, 0, d)]
    if not x.is_floating_point():
        raise ConversionError("%s: AveragePool of %s" % (n.where(), x.dtype))
    ksize = 1
    for v in k:
        ksize *= v
    total = fn(F.pad(x, tp), k, s, 0) * ksize
    # the divisor: input cells (and with count_include_pad the declared pads, not the extra
    # end padding ceil_mode adds) under each window
    ones = torch.ones([1, 1] + list(x.shape[2:]), dtype=x.dtype, device=x.device)
    if n.a("count_include_pad", 0):
        _, pe0 = _spatial_pads(n, list(x.shape[2:]), k, s, d, pads)
        ones = F.pad(ones, _pads_torch(pb + pe0, nsp), value=1.0)
        extra = [pe[i] - pe0[i] for i in range(nsp)]
        ones = F.pad(ones, _pads_torch([0] * nsp + extra, nsp))
    else:
        ones = F.pad(ones, tp)
    return [total / (fn(ones, k, s, 0) * ksize)]


def op_max_pool(m, n, xs, cs):
    if len(n.outputs) > 1 and n.outputs[1]:
        raise ConversionError("%s: the Indices output is not supported" % n.where())
    x = xs[0]
    if not x.is_floating_point():
        # PyTorch pools floats only; 8-bit integers are exact in float32
        return [_pool(m, n, [x.float()], "max")[0].to(x.dtype)]
    return _pool(m, n, xs, "max")


def op_average_pool(m, n, xs, cs):
    return _pool(m, n, xs, "avg")


def op_global_average_pool(m, n, xs, cs):
    return [xs[0].mean(dim=tuple(range(2, xs[0].dim())), keepdim=True)]


def op_global_max_pool(m, n, xs, cs):
    return [xs[0].amax(dim=tuple(range(2, xs[0].dim())), keepdim=True)]


def op_clip(m, n, xs, cs):
    x = xs[0]
    if n.opset < 11:
        lo, hi = n.a("min", -3.4028234663852886e38), n.a("max", 3.4028234663852886e38)
    else:
        lo = cs[1][0] if len(cs) > 1 and cs[1] is not None else None
        hi = cs[2][0] if len(cs) > 2 and cs[2] is not None else None
        if (_present(xs, 1) and lo is None) or (_present(xs, 2) and hi is None):
            # bounds computed at run time: tensors
            y = x
            if _present(xs, 1):
                y = torch.maximum(y, xs[1].to(x.dtype))
            if _present(xs, 2):
                y = torch.minimum(y, xs[2].to(x.dtype))
            return [y]
    if lo is None and hi is None:
        return [x]
    return [torch.clamp(x, lo, hi)]


def op_prelu(m, n, xs, cs):
    x, slope = xs[0], xs[1]
    if slope.dim() == 1 and x.dim() > 1 and slope.shape[0] == x.shape[1] and slope.shape[0] != x.shape[-1]:
        slope = slope.reshape([1, -1] + [1] * (x.dim() - 2))  # opset < 7 per-channel slope
    return [torch.where(x < 0, x * slope, x)]


def op_softmax(m, n, xs, cs, log=False):
    x = xs[0]
    fn = torch.log_softmax if log else torch.softmax
    if n.opset >= 13:
        return [fn(x, _axis(n.a("axis", -1), x.dim()))]
    ax = _axis(n.a("axis", 1), x.dim())
    shp = x.shape
    lead = 1
    for v in shp[:ax]:
        lead *= v
    return [fn(x.reshape(lead, -1), 1).reshape(shp)]


def _reduce_axes(n, xs, cs, input_since):
    """axes of a Reduce*: an attribute before opset input_since, an input from it on."""
    if n.opset >= input_since:
        if _present(xs, 1):
            return _need(n, cs, 1, "axes")
        return None
    return n.a("axes")


def _reduce(name, since):
    def h(m, n, xs, cs):
        x = xs[0]
        axes = _reduce_axes(n, xs, cs, since)
        keep = bool(n.a("keepdims", 1))
        if not axes:
            if n.a("noop_with_empty_axes", 0):
                return [x]
            axes = list(range(x.dim()))
        axes = [_axis(a, x.dim()) for a in axes]
        if name == "mean":
            return [x.mean(dim=axes, keepdim=keep)]
        if name == "sum":
            return [x.sum(dim=axes, keepdim=keep)]
        if name == "max":
            return [x.amax(dim=axes, keepdim=keep)]
        return [x.amin(dim=axes, keepdim=keep)]
    return h


def op_arg_max(m, n, xs, cs):
    x = xs[0]
    ax = _axis(n.a("axis", 0), x.dim())
    keep = bool(n.a("keepdims", 1))
    if n.a("select_last_index", 0):
        return [x.shape[ax] - 1 - torch.argmax(x.flip(ax), ax, keepdim=keep)]
    return [torch.argmax(x, ax, keepdim=keep)]


def _binary(fn):
    def h(m, n, xs, cs):
        return [fn(xs[0], xs[1])]
    return h


def _div(a, b):
    if a.is_floating_point():
        return a / b
    return torch.div(a, b, rounding_mode="trunc")


def _pow(a, b):
    y = torch.pow(a, b)
    return y.to(a.dtype) if y.dtype != a.dtype else y


def _variadic(kind):
    def h(m, n, xs, cs):
        vals = [v for v in xs if v is not None]
        y = vals[0]
        for v in vals[1:]:
            y = torch.minimum(y, v) if kind == "min" else torch.maximum(y, v) if kind == "max" \
                else y + v
        if kind == "mean":
            y = y / len(vals)
        return [y]
    return h


def op_shape(m, n, xs, cs):
    dims = list(xs[0].shape)
    r = len(dims)
    start, end = n.a("start", 0), n.a("end", r)
    start = min(max(_axis(start, r), 0), r)
    end = min(max(_axis(end, r), 0), r)
    return [torch.tensor(dims[start:end], dtype=torch.int64, device=xs[0].device)]


def op_size(m, n, xs, cs):
    return [torch.tensor(xs[0].numel(), dtype=torch.int64, device=xs[0].device)]


def op_reshape(m, n, xs, cs):
    x = xs[0]
    if n.opset < 5:
        shape = list(n.a("shape"))
    else:
        shape = list(_need(n, cs, 1, "shape"))
    if not n.a("allowzero", 0):
        shape = [x.shape[i] if v == 0 else v for i, v in enumerate(shape)]
    return [x.reshape(shape)]


def op_flatten(m, n, xs, cs):
    x = xs[0]
    ax = _axis(n.a("axis", 1), x.dim())
    lead = 1
    for v in x.shape[:ax]:
        lead *= v
    return [x.reshape(lead, -1)]


def op_squeeze(m, n, xs, cs):
    x = xs[0]
    axes = n.a("axes") if n.opset < 13 else (_need(n, cs, 1, "axes") if _present(xs, 1) else None)
    if not axes:
        return [x.reshape([v for v in x.shape if v != 1])]
    axes = set(_axis(a, x.dim()) for a in axes)
    return [x.reshape([v for i, v in enumerate(x.shape) if i not in axes])]


def op_unsqueeze(m, n, xs, cs):
    x = xs[0]
    axes = n.a("axes") if n.opset < 13 else _need(n, cs, 1, "axes")
    r = x.dim() + len(axes)
    axes = set(_axis(a, r) for a in axes)
    shape, it = [], iter(x.shape)
    for i in range(r):
        shape.append(1 if i in axes else next(it))
    return [x.reshape(shape)]


def op_identity(m, n, xs, cs):
    return [xs[0]]


def op_dropout(m, n, xs, cs):
    if (n.opset >= 12 and _present(xs, 2) and (cs[2] is None or any(cs[2]))) or \
            (n.opset < 7 and not n.a("is_test", 0)):
        raise ConversionError("%s: training mode is not inference" % n.where())
    outs = [xs[0]]
    if len(n.outputs) > 1:
        outs.append(torch.ones_like(xs[0], dtype=torch.bool))
    return outs


def op_concat(m, n, xs, cs):
    vals = [v for v in xs if v is not None]
    return [torch.cat(vals, _axis(n.a("axis"), vals[0].dim()))]


def op_split(m, n, xs, cs):
    x = xs[0]
    ax = _axis(n.a("axis", 0), x.dim())
    nout = len(n.outputs)
    if n.opset >= 13:
        sizes = _need(n, cs, 1, "split") if _present(xs, 1) else None
    else:
        sizes = n.a("split")
    if not sizes:
        dim = x.shape[ax]
        if n.opset >= 18 and n.a("num_outputs") is not None:
            nout = n.a("num_outputs")
            step = -(-dim // nout)
        else:
            step = dim // nout
        sizes = [step] * (nout - 1) + [dim - step * (nout - 1)]
    return list(torch.split(x, list(sizes), ax))


def op_slice(m, n, xs, cs):
    x = xs[0]
    if n.opset < 10:
        starts, ends, axes, steps = n.a("starts"), n.a("ends"), n.a("axes"), None
    else:
        starts = _need(n, cs, 1, "starts")
        ends = _need(n, cs, 2, "ends")
        axes = _need(n, cs, 3, "axes") if _present(xs, 3) else None
        steps = _need(n, cs, 4, "steps") if _present(xs, 4) else None
    r = x.dim()
    axes = list(axes) if axes else list(range(len(starts)))
    steps = list(steps) if steps else [1] * len(starts)
    idx = [slice(None)] * r
    flips = []
    for st, en, ax, sp in zip(starts, ends, axes, steps):
        ax = _axis(ax, r)
        dim = x.shape[ax]
        if sp == 0:
            raise ConversionError("%s: step 0" % n.where())
        st = st + dim if st < 0 else st
        en = en + dim if en < 0 else en
        if sp > 0:
            st, en = min(max(st, 0), dim), min(max(en, 0), dim)
            idx[ax] = slice(st, max(st, en), sp)
        else:
            st, en = min(max(st, 0), dim - 1), min(max(en, -1), dim - 1)
            # x[st:en:sp] with sp < 0 is flip(x)[dim-1-st : dim-1-en : -sp]
            flips.append(ax)
            a, b = dim - 1 - st, dim - 1 - en
            idx[ax] = slice(a, max(a, b), -sp)
    if flips:
        x = x.flip(flips)
    return [x[tuple(idx)]]


def op_transpose(m, n, xs, cs):
    x = xs[0]
    perm = n.a("perm") or list(reversed(range(x.dim())))
    return [x.permute(perm)]


def op_expand(m, n, xs, cs):
    shape = _need(n, cs, 1, "shape")
    out = torch.broadcast_shapes(tuple(xs[0].shape), tuple(shape))
    return [xs[0].expand(out)]


def op_tile(m, n, xs, cs):
    return [xs[0].repeat(list(_need(n, cs, 1, "repeats")))]


def _index_pad(x, ax, b, e, mode):
    """Pads dim ax of x by b, e cells with reflect, edge or wrap indexing."""
    dim = x.shape[ax]
    idx = []
    for j in range(-b, dim + e):
        if mode == "edge":
            i = min(max(j, 0), dim - 1)
        elif mode == "wrap":
            i = j % dim
        else:
            period = 2 * (dim - 1) if dim > 1 else 1
            i = j % period
            i = period - i if i >= dim else i
        idx.append(i)
    return x.index_select(ax, torch.tensor(idx, dtype=torch.int64, device=x.device))


def op_pad(m, n, xs, cs):
    x = xs[0]
    r = x.dim()
    if n.opset < 11:
        pads, value, mode = list(n.a("pads") or n.a("paddings")), n.a("value", 0.0), \
            n.a("mode", "constant")
        axes = list(range(r))
    else:
        mode = n.a("mode", "constant")
        pads = list(_need(n, cs, 1, "pads"))
        value = _need(n, cs, 2, "constant_value")[0] if _present(xs, 2) else 0
        axes = list(_need(n, cs, 3, "axes")) if _present(xs, 3) else list(range(r))
    axes = [_axis(a, r) for a in axes]
    na = len(axes)
    full = [0] * (2 * r)
    for i, a in enumerate(axes):
        full[a], full[r + a] = pads[i], pads[na + i]
    if mode == "constant":
        return [F.pad(x, _pads_torch(full, r), value=value)]
    if mode not in ("reflect", "edge", "wrap"):
        raise ConversionError("%s: mode '%s' is not supported" % (n.where(), mode))
    for a in range(r):
        b, e = full[a], full[r + a]
        if b < 0 or e < 0:
            sl = [slice(None)] * r
            sl[a] = slice(max(0, -b), x.shape[a] - max(0, -e))
            x = x[tuple(sl)]
            b, e = max(b, 0), max(e, 0)
        if b or e:
            x = _index_pad(x, a, b, e, mode)
    return [x]


def op_gather(m, n, xs, cs):
    x, idx = xs[0], xs[1]
    ax = _axis(n.a("axis", 0), x.dim())
    idx = torch.where(idx < 0, idx + x.shape[ax], idx).to(torch.int64)
    flat = x.index_select(ax, idx.reshape(-1))
    return [flat.reshape(list(x.shape[:ax]) + list(idx.shape) + list(x.shape[ax + 1:]))]


def op_where(m, n, xs, cs):
    return [torch.where(xs[0].to(torch.bool), xs[1], xs[2])]


def op_constant(m, n, xs, cs):
    for key in ("value", "sparse_value", "value_float", "value_floats", "value_int",
                "value_ints", "value_string", "value_strings"):
        if key in n.attrs:
            v = n.attrs[key]
            break
    else:
        raise ConversionError("%s: no value attribute" % n.where())
    if key == "sparse_value" or key.startswith("value_string"):
        raise ConversionError("%s: attribute '%s' is not supported" % (n.where(), key))
    if key in ("value_float", "value_floats"):
        v = np.array(v, dtype=np.float32)
    elif key in ("value_int", "value_ints"):
        v = np.array(v, dtype=np.int64)
    return [torch.from_numpy(np.array(v))]


def op_constant_of_shape(m, n, xs, cs):
    shape = _need(n, cs, 0, "shape")
    v = n.a("value")
    if v is None:
        return [torch.zeros(list(shape), dtype=m.float_dtype, device=xs[0].device)]
    v = np.asarray(v)
    dt = m.float_dtype if v.dtype == np.float32 else torch.from_numpy(v.reshape(-1)[:1].copy()).dtype
    return [torch.full(list(shape), v.reshape(-1)[0].item(), dtype=dt, device=xs[0].device)]


def op_range(m, n, xs, cs):
    st, lim, dl = (_need(n, cs, i, w)[0] for i, w in enumerate(("start", "limit", "delta")))
    dt = xs[0].dtype
    if dt == torch.float32:
        dt = m.float_dtype
    cnt = max(int(math.ceil((lim - st) / dl)), 0)
    return [(torch.arange(cnt, dtype=torch.float64, device=xs[0].device) * dl + st).to(dt)
            if dt.is_floating_point else
            torch.arange(cnt, dtype=torch.int64, device=xs[0].device).mul(dl).add(st).to(dt)]


def op_cast(m, n, xs, cs):
    to = n.a("to")
    if isinstance(to, str):
        raise ConversionError("%s: 'to' as a string is not supported" % n.where())
    return [xs[0].to(_float_type(m, to))]


def _qparams(x, scale, zp, axis):
    """scale and zero point shaped to broadcast along axis (per-axis) or as scalars."""
    if scale.dim() == 1 and scale.numel() > 1:
        shp = [1] * x.dim()
        shp[_axis(axis, x.dim())] = -1
        scale = scale.reshape(shp)
        if zp is not None:
            zp = zp.reshape(shp)
    return scale, zp


def op_quantize_linear(m, n, xs, cs):
    x, scale = xs[0], xs[1]
    zp = xs[2] if _present(xs, 2) else None
    scale, zp = _qparams(x, scale, zp, n.a("axis", 1))
    dt = zp.dtype if zp is not None else torch.uint8
    lo, hi = {torch.uint8: (0, 255), torch.int8: (-128, 127)}.get(dt, (None, None))
    if lo is None:
        raise ConversionError("%s: quantization to %s is not supported" % (n.where(), dt))
    y = torch.round(x.float() / scale.float())
    if zp is not None:
        y = y + zp.float()
    return [torch.clamp(y, lo, hi).to(dt)]


def op_dequantize_linear(m, n, xs, cs):
    x, scale = xs[0], xs[1]
    zp = xs[2] if _present(xs, 2) else None
    scale, zp = _qparams(x, scale, zp, n.a("axis", 1))
    y = x.float()
    if zp is not None:
        y = y - zp.float()
    return [(y * scale.float()).to(scale.dtype if scale.dtype != torch.float32 else m.float_dtype)]


def _unary(fn):
    def h(m, n, xs, cs):
        return [fn(xs[0])]
    return h


# ---- Resize and Upsample -------------------------------------------------------------------------

def _resize_tables(mode, coord, round_mode, a, exclude, in_len, out_len, scale, roi):
    """Per-axis (indices [out, taps], weights [out, taps], outside mask or None) as numpy, from
    the coordinate transform ONNX specifies (and lucid's resize.c implements)."""
    pos = np.empty(out_len, np.float64)
    out_f = scale * in_len  # ONNX's reference uses the unrounded output length
    for o in range(out_len):
        if coord == "half_pixel":
            x = (o + 0.5) / scale - 0.5
        elif coord == "half_pixel_symmetric":
            adj = out_len / (scale * in_len)
            x = in_len / 2.0 * (1 - adj) + (o + 0.5) / scale - 0.5
        elif coord == "pytorch_half_pixel":
            x = (o + 0.5) / scale - 0.5 if out_f > 1 else 0.0
        elif coord == "align_corners":
            x = 0.0 if out_f == 1 else o * (in_len - 1) / (out_f - 1)
        elif coord == "asymmetric":
            x = o / scale
        elif coord == "tf_half_pixel_for_nn":
            x = (o + 0.5) / scale
        elif coord == "tf_crop_and_resize":
            s0, e0 = roi
            x = (s0 * (in_len - 1) + o * (e0 - s0) * (in_len - 1) / (out_len - 1)
                 if out_len > 1 else 0.5 * (s0 + e0) * (in_len - 1))
        else:
            raise ConversionError("coordinate_transformation_mode '%s'" % coord)
        pos[o] = x
    outside = None
    if coord == "tf_crop_and_resize":
        outside = (pos < 0) | (pos > in_len - 1)
    if mode == "nearest":
        if round_mode == "simple":
            i = np.ceil(pos) if scale < 1 else np.floor(pos)
        elif round_mode == "round_prefer_floor":
            i = np.where(pos - np.floor(pos) == 0.5, np.floor(pos), np.round(pos))
        elif round_mode == "round_prefer_ceil":
            i = np.where(pos - np.floor(pos) == 0.5, np.ceil(pos), np.round(pos))
        elif round_mode == "floor":
            i = np.floor(pos)
        else:
            i = np.ceil(pos)
        idx = np.clip(i, 0, in_len - 1).astype(np.int64)[:, None]
        return idx, np.ones((out_len, 1)), outside
    f = np.floor(pos)
    t = pos - f
    if mode == "linear":
        base = f.astype(np.int64)[:, None] + np.arange(2)[None, :]
        w = np.stack([1 - t, t], 1)
    else:
        base = f.astype(np.int64)[:, None] + np.arange(-1, 3)[None, :]
        d = np.stack([t + 1, t, 1 - t, 2 - t], 1)
        w = np.where(d <= 1, ((a + 2) * d - (a + 3)) * d * d + 1,
                     ((a * d - 5 * a) * d + 8 * a) * d - 4 * a)
        if exclude:
            w = np.where((base < 0) | (base >= in_len), 0.0, w)
            w = w / w.sum(1, keepdims=True)
    return np.clip(base, 0, in_len - 1), w, outside


def op_resize(m, n, xs, cs):
    x = xs[0]
    r = x.dim()
    up = n.op == "Upsample"
    mode = n.a("mode", "nearest")
    if mode == "bilinear":
        mode = "linear"
    if up or n.opset < 11:
        coord, rnd = "asymmetric", "simple"
    else:
        coord = n.a("coordinate_transformation_mode", "half_pixel")
        rnd = n.a("nearest_mode", "round_prefer_floor")
    if n.opset >= 18 and not up and n.a("antialias", 0) and mode != "nearest":
        raise ConversionError("%s: antialias is not supported" % n.where())
    if mode not in ("nearest", "linear", "cubic"):
        raise ConversionError("%s: mode '%s' is not supported" % (n.where(), mode))
    axes = list(range(r))
    if not up and n.opset >= 18 and n.a("axes"):
        axes = [_axis(v, r) for v in n.a("axes")]
    scales = sizes = roi = None
    if up and n.opset < 9:
        scales = n.a("scales")
    elif up or n.opset < 11:
        scales = _need(n, cs, 1, "scales")
    else:
        if _present(xs, 3) and x.numel() >= 0 and (cs[3] is None or len(cs[3])):
            sizes = _need(n, cs, 3, "sizes")
        if sizes is None or not len(sizes):
            sizes = None
            scales = _need(n, cs, 2, "scales")
        if _present(xs, 1) and cs[1] is not None and len(cs[1]):
            roi = cs[1]
    in_shape = list(x.shape)
    sc = [1.0] * r
    out = list(in_shape)
    if sizes is not None:
        sz = list(sizes)
        policy = n.a("keep_aspect_ratio_policy", "stretch") if n.opset >= 18 else "stretch"
        if policy != "stretch":
            ratios = [sz[i] / in_shape[a] for i, a in enumerate(axes)]
            s = min(ratios) if policy == "not_larger" else max(ratios)
            sz = [int(math.floor(s * in_shape[a] + 0.5)) for a in axes]
            for a in axes:
                sc[a] = s
        for i, a in enumerate(axes):
            out[a] = int(sz[i])
            if policy == "stretch":
                sc[a] = out[a] / in_shape[a]
    else:
        for i, a in enumerate(axes):
            sc[a] = float(scales[i])
            out[a] = int(math.floor(in_shape[a] * sc[a]))
    key = (tuple(in_shape), tuple(out))

    def make():
        tabs = []
        for a in range(r):
            if out[a] == in_shape[a] and sc[a] == 1.0 and coord != "tf_crop_and_resize":
                continue
            rr = (roi[axes.index(a)], roi[len(axes) + axes.index(a)]) if roi and a in axes \
                else (0.0, 1.0)
            idx, w, outside = _resize_tables(mode, coord, rnd, n.a("cubic_coeff_a", -0.75),
                                             n.a("exclude_outside", 0), in_shape[a], out[a],
                                             sc[a], rr)
            mask = torch.from_numpy(outside.astype(np.bool_)) if outside is not None else None
            tabs.append((a, torch.from_numpy(idx), torch.from_numpy(w.astype(np.float32)), mask))
        return tabs
    tabs = m.cached(n, key, make)
    y = x
    masks = []
    for a, idx, w, mask in tabs:
        taps = idx.shape[1]
        shp = [1] * r
        shp[a] = -1
        acc = None
        for t in range(taps):
            v = y.index_select(a, idx[:, t])
            if taps > 1 or mode != "nearest":
                v = v * w[:, t].reshape(shp).to(v.dtype)
            acc = v if acc is None else acc + v
        y = acc
        if mask is not None:
            masks.append(mask.reshape(shp))
    if masks:
        out_mask = masks[0]
        for mk in masks[1:]:
            out_mask = out_mask | mk
        y = torch.where(out_mask, torch.full_like(y, n.a("extrapolation_value", 0.0)), y)
    return [y]


OPS = {
    "Conv": op_conv, "ConvTranspose": op_conv_transpose, "Gemm": op_gemm, "MatMul": op_matmul,
    "BatchNormalization": op_batch_norm, "InstanceNormalization": op_instance_norm,
    "LRN": op_lrn, "MaxPool": op_max_pool, "AveragePool": op_average_pool,
    "GlobalAveragePool": op_global_average_pool, "GlobalMaxPool": op_global_max_pool,
    "Relu": _unary(torch.relu),
    "LeakyRelu": lambda m, n, xs, cs: [F.leaky_relu(xs[0], n.a("alpha", 0.01))],
    "PRelu": op_prelu, "Clip": op_clip, "Sigmoid": _unary(torch.sigmoid),
    "HardSigmoid": lambda m, n, xs, cs: [torch.clamp(xs[0] * n.a("alpha", 0.2)
                                                     + n.a("beta", 0.5), 0, 1)],
    "HardSwish": _unary(F.hardswish), "Tanh": _unary(torch.tanh),
    "Elu": lambda m, n, xs, cs: [F.elu(xs[0], n.a("alpha", 1.0))],
    "Selu": lambda m, n, xs, cs: [n.a("gamma", 1.05070102214813232421875) * torch.where(
        xs[0] > 0, xs[0], n.a("alpha", 1.67326319217681884765625) * torch.expm1(xs[0]))],
    "Softplus": _unary(F.softplus),
    "Erf": _unary(torch.erf), "Sqrt": _unary(torch.sqrt), "Exp": _unary(torch.exp),
    "Log": _unary(torch.log), "Neg": _unary(torch.neg), "Abs": _unary(torch.abs),
    "Reciprocal": _unary(torch.reciprocal), "Floor": _unary(torch.floor),
    "Ceil": _unary(torch.ceil), "Not": _unary(torch.logical_not),
    "Add": _binary(torch.add), "Sub": _binary(torch.sub), "Mul": _binary(torch.mul),
    "Div": _binary(_div), "Pow": _binary(_pow),
    "Min": _variadic("min"), "Max": _variadic("max"), "Sum": _variadic("sum"),
    "Mean": _variadic("mean"),
    "Equal": _binary(torch.eq), "Less": _binary(torch.lt), "Greater": _binary(torch.gt),
    "And": _binary(torch.logical_and), "Or": _binary(torch.logical_or), "Where": op_where,
    "Softmax": op_softmax,
    "LogSoftmax": lambda m, n, xs, cs: op_softmax(m, n, xs, cs, log=True),
    "ReduceMean": _reduce("mean", 18), "ReduceSum": _reduce("sum", 13),
    "ReduceMax": _reduce("max", 18), "ReduceMin": _reduce("min", 18), "ArgMax": op_arg_max,
    "Shape": op_shape, "Size": op_size, "Reshape": op_reshape, "Flatten": op_flatten,
    "Squeeze": op_squeeze, "Unsqueeze": op_unsqueeze, "Identity": op_identity,
    "Dropout": op_dropout,
    "Concat": op_concat, "Split": op_split, "Slice": op_slice, "Transpose": op_transpose,
    "Expand": op_expand, "Tile": op_tile, "Pad": op_pad, "Gather": op_gather,
    "Constant": op_constant, "ConstantOfShape": op_constant_of_shape, "Range": op_range,
    "Cast": op_cast,
    "QuantizeLinear": op_quantize_linear, "DequantizeLinear": op_dequantize_linear,
    "Resize": op_resize, "Upsample": op_resize,
}

# ops whose outputs are known once the input shapes are (their input data is not read)
SHAPE_ONLY = {"Shape", "Size"}


# ---- the module --------------------------------------------------------------------------------

def _py_const(a):
    a = np.asarray(a)
    if a.size > PY_CONST_MAX or a.dtype.kind not in "biuf":
        return None
    return a.reshape(-1).tolist()


class OnnxModule(torch.nn.Module):
    """The graph of one ONNX file, with constants folded for fixed input shapes."""

    def __init__(self, graph, input_shapes=None, fold=True, constants=None):
        super().__init__()
        self.float_dtype = torch.float32
        self.reader = graph.reader
        self._converting = True
        self._state = {}
        inits = dict(graph.inits)
        inits.update(constants or {})
        self.input_names = [nm for nm, _, _ in graph.inputs if nm not in inits]
        self.output_names = list(graph.outputs)
        shapes = dict(input_shapes or {})
        env, const = {}, {}
        self.input_shapes = {}
        for nm, elem, dims in graph.inputs:
            if nm in inits:
                continue
            if elem not in TORCH_DTYPES:
                raise ConversionError("graph input '%s': ONNX data type %d is not supported"
                                      % (nm, elem))
            shp = shapes.get(nm)
            if shp is None:
                shp = [d if isinstance(d, int) and d > 0 else 1 for d in (dims or [])]
            self.input_shapes[nm] = tuple(int(v) for v in shp)
            # ones, not zeros: integer division by a graph input must not fail at conversion
            env[nm] = torch.ones(self.input_shapes[nm], dtype=TORCH_DTYPES[elem])
        for nm, a in inits.items():
            const[nm] = np.asarray(a)
            env[nm] = torch.from_numpy(np.array(a))
        steps = []
        for node in graph.nodes:
            h = OPS.get(node.op) if node.domain in ("", "ai.onnx") else None
            if h is None:
                raise ConversionError("%s: op %s%s is not supported by onnx_torch" % (
                    node.where(), (node.domain + ".") if node.domain else "", node.op))
            for k, v in node.attrs.items():
                if isinstance(v, tuple) and v and v[0] == "unsupported attribute type":
                    raise ConversionError("%s: attribute '%s' has a type (%d) onnx_torch does "
                                          "not read" % (node.where(), k, v[1]))
            xs, cs = [], []
            for nm in node.inputs:
                if not nm:
                    xs.append(None)
                    cs.append(None)
                    continue
                if nm not in env:
                    raise ConversionError("%s: input '%s' is produced by no earlier node (the "
                                          "graph is not topologically sorted)" % (node.where(), nm))
                xs.append(env[nm])
                cs.append(_py_const(const[nm]) if nm in const else None)
            try:
                with torch.no_grad():
                    ys = h(self, node, xs, cs)
            except ConversionError:
                raise
            except Exception as exc:
                raise ConversionError("%s: %s: %s" % (node.where(), type(exc).__name__, exc))
            folded = fold and (node.op in SHAPE_ONLY or node.op == "Constant" or
                               all(nm in const for nm in node.inputs if nm))
            for nm, y in zip(node.outputs, ys):
                if not nm:
                    continue
                env[nm] = y
                if folded:
                    const[nm] = y.detach().cpu().numpy()
            if not folded:
                steps.append((node, h, list(node.inputs), [nm for nm in node.outputs]))
        # buffers: constants that run-time nodes or graph outputs read
        needed = set(nm for _, _, ins, _ in steps for nm in ins if nm)
        needed |= set(self.output_names)
        self._buf = {}
        for nm in sorted(needed):
            if nm in const:
                b = "c%d" % len(self._buf)
                self.register_buffer(b, torch.from_numpy(np.array(const[nm])), persistent=True)
                self._buf[nm] = b
        for nm in self.output_names:
            if nm not in env:
                raise ConversionError("graph output '%s' is produced by no node" % nm)
        # per step: inputs as ("x", name) run-time value, ("b", buffer) or None, constants
        # as Python lists, and the names to drop after the step (last use)
        last = {}
        for i, (_, _, ins, _) in enumerate(steps):
            for nm in ins:
                if nm:
                    last[nm] = i
        self._steps = []
        for i, (node, h, ins, outs) in enumerate(steps):
            refs = [None if not nm else ("b", self._buf[nm]) if nm in self._buf else ("x", nm)
                    for nm in ins]
            cs = [_py_const(const[nm]) if nm and nm in const else None for nm in ins]
            drop = [nm for nm in set(ins) if nm and nm not in self._buf and last.get(nm) == i
                    and nm not in self.output_names]
            self._steps.append((node, h, refs, cs, outs, drop))
        self.n_nodes = len(graph.nodes)
        self.n_folded = len(graph.nodes) - len(steps)
        self._converting = False

    def cached(self, node, key, make):
        """Shape-dependent tables of a node: made at conversion and kept as buffers (so they
        follow .to()); a call with other shapes makes them again, unkept."""
        if self._converting:
            tabs = make()
            names = []
            for t_i, tab in enumerate(tabs):
                row = []
                for j, v in enumerate(tab):
                    if isinstance(v, torch.Tensor):
                        b = "s%d_%d_%d" % (node.idx, t_i, j)
                        self.register_buffer(b, v, persistent=False)
                        row.append(("b", b))
                    else:
                        row.append(("v", v))
                names.append(row)
            self._state[node.idx] = (key, names)
            return tabs
        st = self._state.get(node.idx)
        if st is None or st[0] != key:
            dev = None
            for b in self.buffers():
                dev = b.device
                break
            return [tuple(v.to(dev) if isinstance(v, torch.Tensor) else v for v in tab)
                    for tab in make()]
        return [tuple(getattr(self, v) if k == "b" else v for k, v in row) for row in st[1]]

    def forward(self, *args):
        env = dict(zip(self.input_names, args))
        for node, h, refs, cs, outs, drop in self._steps:
            xs = [None if r is None else env[r[1]] if r[0] == "x" else getattr(self, r[1])
                  for r in refs]
            ys = h(self, node, xs, cs)
            for nm, y in zip(outs, ys):
                if nm:
                    env[nm] = y
            for nm in drop:
                del env[nm]
        res = tuple(env[nm] if nm in env else getattr(self, self._buf[nm])
                    for nm in self.output_names)
        return res[0] if len(res) == 1 else res


def convert(model, input_shapes=None, fold=True, reader="auto", constants=None):
    """An OnnxModule (eval mode) for the ONNX file at path model (or a Graph).
    input_shapes: {input name: shape} for inputs whose dims are symbolic or -1;
    constants: {input name: array} graph inputs fixed at conversion (they become
    initializers, as lucid's conformance runner makes shape arguments given as inputs)."""
    g = model if isinstance(model, Graph) else read_graph(model, reader)
    return OnnxModule(g, input_shapes, fold, constants).eval()
