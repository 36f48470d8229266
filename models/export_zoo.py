#!/usr/bin/python3
"""export_zoo.py - exports the model zoo (torchvision classifiers and Tiny-YOLOv3) to ONNX with reference I/O.

Each model is built with seeded random weights (nothing is downloaded), exported at batch 1
with static shapes and opset 13 (input 'input', output 'output'), checked with
onnx.checker, and written with a fixed seeded standard-normal input and PyTorch's output
for it:

    <out>/<name>/model.onnx
    <out>/<name>/input.npy
    <out>/<name>/output.npy      (Tiny-YOLOv3 has two heads: output.npy and output2.npy)

Usage (run with Debian's Python, which has torch, torchvision and onnx):

    /usr/bin/python3 models/export_zoo.py [--out DIR] [--models a,b,c] [--force] [--list]

Models already in the cache are skipped unless --force is given. The script prints, per
model, its parameter count, export time and file size, and the total export time.
"""

import argparse
import inspect
import os
import shutil
import sys
import tempfile
import time
import warnings

import numpy as np

try:
    import onnx
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
    import torchvision.models as tvm
except ImportError as exc:  # the pyenv python on PATH lacks these
    sys.stderr.write("export_zoo.py: %s (run with /usr/bin/python3, which has python3-torch, "
                     "python3-torchvision and python3-onnx)\n" % exc)
    sys.exit(3)

OPSET = 13
DARKNET_CFG = "/usr/share/darknet/cfg/yolov3-tiny.cfg"


# ---- Tiny-YOLOv3 from its darknet cfg ------------------------------------------------

def parse_darknet_cfg(path):
    """Returns the cfg's sections as a list of (type, {key: value-string})."""
    sections = []
    with open(path, "r", encoding="utf-8") as f:
        for raw in f:
            line = raw.split("#", 1)[0].strip()
            if not line:
                continue
            if line.startswith("["):
                if not line.endswith("]"):
                    raise ValueError("%s: bad section header %r" % (path, line))
                sections.append((line[1:-1].strip(), {}))
                continue
            if "=" not in line or not sections:
                raise ValueError("%s: bad line %r" % (path, line))
            key, value = line.split("=", 1)
            sections[-1][1][key.strip()] = value.strip()
    return sections


class DarknetMaxPool(nn.Module):
    """darknet's maxpool: windows running past the edge ignore the missing cells, so a
    size-2 stride-1 pool keeps the spatial size. Padding right/bottom by replicating the
    edge gives the same maximum as ignoring the cells."""

    def __init__(self, size, stride):
        super().__init__()
        self.size, self.stride = size, stride
        self.pool = nn.MaxPool2d(size, stride)

    def forward(self, x):
        if self.stride == 1 and self.size > 1:
            x = F.pad(x, (0, self.size - 1, 0, self.size - 1), mode="replicate")
        return self.pool(x)


class DarknetNet(nn.Module):
    """A network from a darknet cfg with the layer types Tiny-YOLOv3 uses: convolutional,
    maxpool, route, upsample and yolo. Each yolo head's output is its input: the raw
    output of the conv before it."""

    def __init__(self, cfg_path):
        super().__init__()
        sections = parse_darknet_cfg(cfg_path)
        if not sections or sections[0][0] not in ("net", "network"):
            raise ValueError("%s: first section must be [net]" % cfg_path)
        net = sections[0][1]
        self.width, self.height = int(net["width"]), int(net["height"])
        channels = int(net.get("channels", 3))
        self.layers = nn.ModuleList()
        self.kinds = []   # per layer: (type, data)
        out_channels = []  # channels of each layer's output
        for kind, opts in sections[1:]:
            if kind == "convolutional":
                filters = int(opts["filters"])
                size = int(opts.get("size", 1))
                stride = int(opts.get("stride", 1))
                pad = size // 2 if int(opts.get("pad", 0)) else int(opts.get("padding", 0))
                bn = int(opts.get("batch_normalize", 0))
                act = opts.get("activation", "logistic")
                mods = [nn.Conv2d(channels, filters, size, stride, pad, bias=not bn)]
                if bn:
                    mods.append(nn.BatchNorm2d(filters, momentum=0.01, eps=1e-5))
                if act == "leaky":
                    mods.append(nn.LeakyReLU(0.1))
                elif act != "linear":
                    raise ValueError("%s: unsupported activation %r" % (cfg_path, act))
                self.layers.append(nn.Sequential(*mods))
                self.kinds.append(("conv", None))
                channels = filters
            elif kind == "maxpool":
                self.layers.append(DarknetMaxPool(int(opts.get("size", 2)),
                                                  int(opts.get("stride", 2))))
                self.kinds.append(("pool", None))
            elif kind == "upsample":
                self.layers.append(nn.Upsample(scale_factor=int(opts.get("stride", 2)),
                                               mode="nearest"))
                self.kinds.append(("upsample", None))
            elif kind == "route":
                here = len(self.kinds)
                refs = [int(v) for v in opts["layers"].split(",")]
                refs = [r + here if r < 0 else r for r in refs]
                if any(r < 0 or r >= here for r in refs):
                    raise ValueError("%s: route to a missing layer %r" % (cfg_path, opts["layers"]))
                self.layers.append(nn.Identity())
                self.kinds.append(("route", refs))
                channels = sum(out_channels[r] for r in refs)
            elif kind == "yolo":
                self.layers.append(nn.Identity())
                self.kinds.append(("yolo", None))
            else:
                raise ValueError("%s: unsupported section [%s]" % (cfg_path, kind))
            out_channels.append(channels)

    def forward(self, x):
        outs, heads = [], []
        for layer, (kind, refs) in zip(self.layers, self.kinds):
            if kind == "route":
                x = outs[refs[0]] if len(refs) == 1 else torch.cat([outs[r] for r in refs], 1)
            else:
                x = layer(x)
            if kind == "yolo":
                heads.append(x)
            outs.append(x)
        return tuple(heads)


def tiny_yolov3():
    return DarknetNet(DARKNET_CFG)


def fold_pad_subgraphs(model):
    """torch.onnx computes F.pad's 'pads' input with a chain of ConstantOfShape, Concat,
    Reshape, Slice (step -1), Transpose and Cast nodes that its constant folding leaves in
    place. Every such chain here depends on constants only, so evaluate it with onnx's
    reference semantics reproduced in numpy, store the result as an initializer, and drop
    the nodes nobody consumes any more. The graph then has one plain Pad per padded pool,
    as hand-written darknet converters produce."""
    from onnx import numpy_helper
    g = model.graph
    values = {i.name: numpy_helper.to_array(i) for i in g.initializer}
    producers = {o: n for n in g.node for o in n.output}

    def evaluate(name):
        if name in values:
            return values[name]
        n = producers[name]
        attrs = {a.name: onnx.helper.get_attribute_value(a) for a in n.attribute}
        ins = [evaluate(i) if i else None for i in n.input]
        if n.op_type == "Constant":
            v = numpy_helper.to_array(attrs["value"])
        elif n.op_type == "ConstantOfShape":
            fill = numpy_helper.to_array(attrs["value"]) if "value" in attrs else np.zeros(1, np.float32)
            v = np.full(tuple(ins[0]), fill.reshape(-1)[0], dtype=fill.dtype)
        elif n.op_type == "Concat":
            v = np.concatenate(ins, axis=attrs["axis"])
        elif n.op_type == "Reshape":
            v = ins[0].reshape(tuple(ins[1]))
        elif n.op_type == "Slice":
            data, starts, ends = ins[0], ins[1], ins[2]
            axes = ins[3] if len(ins) > 3 and ins[3] is not None else range(len(starts))
            steps = ins[4] if len(ins) > 4 and ins[4] is not None else [1] * len(starts)
            idx = [slice(None)] * data.ndim
            for a, b, e, st in zip(axes, starts, ends, steps):
                dim = data.shape[a]
                b = int(b); e = int(e)
                if e < -dim - 1:
                    e = None  # "to the front" with a negative step
                idx[int(a)] = slice(b, e, int(st))
            v = data[tuple(idx)]
        elif n.op_type == "Transpose":
            v = np.transpose(ins[0], attrs.get("perm"))
        elif n.op_type == "Cast":
            v = ins[0].astype(onnx.mapping.TENSOR_TYPE_TO_NP_TYPE[attrs["to"]])
        else:
            raise ValueError("cannot fold %s (%s)" % (n.name, n.op_type))
        values[name] = v
        return v

    for n in g.node:
        if n.op_type == "Pad" and len(n.input) > 1 and n.input[1] in producers:
            pads = evaluate(n.input[1]).astype(np.int64)
            name = n.name.strip("/").replace("/", "_") + "_pads"
            g.initializer.append(numpy_helper.from_array(pads, name))
            n.input[1] = name
    while True:
        used = {i for n in g.node for i in n.input} | {o.name for o in g.output}
        dead = [n for n in g.node if not any(o in used for o in n.output)]
        if not dead:
            break
        for n in dead:
            g.node.remove(n)


# ---- the zoo -----------------------------------------------------------------------------

# name: (constructor, input side, seed). Inception-v3 keeps PyTorch's default init
# (init_weights=False): torchvision's truncated-normal std 0.1 scheme grows activations by
# about 4x per layer without trained BN statistics, giving outputs near 1e13.
ZOO = {
    "alexnet": (lambda: tvm.alexnet(weights=None), 224, 1),
    "vgg16": (lambda: tvm.vgg16(weights=None), 224, 2),
    "resnet18": (lambda: tvm.resnet18(weights=None), 224, 3),
    "resnet50": (lambda: tvm.resnet50(weights=None), 224, 4),
    "googlenet": (lambda: tvm.googlenet(weights=None, aux_logits=False, init_weights=True), 224, 5),
    "inception_v3": (lambda: tvm.inception_v3(weights=None, aux_logits=False, init_weights=False), 299, 6),
    "mobilenet_v2": (lambda: tvm.mobilenet_v2(weights=None), 224, 7),
    "squeezenet1_1": (lambda: tvm.squeezenet1_1(weights=None), 224, 8),
    "densenet121": (lambda: tvm.densenet121(weights=None), 224, 9),
    "shufflenet_v2_x1_0": (lambda: tvm.shufflenet_v2_x1_0(weights=None), 224, 10),
    "efficientnet_b0": (lambda: tvm.efficientnet_b0(weights=None), 224, 11),
    "tiny_yolov3": (tiny_yolov3, 416, 12),
}


def randomize_batchnorm(model, gen):
    """Default BatchNorm statistics (mean 0, var 1, scale 1, shift 0) make every BN an
    identity, which would let a wrong BN kernel pass. Give them mild random values that keep
    activations in range."""
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            n = m.num_features
            m.running_mean.copy_(torch.randn(n, generator=gen) * 0.1)
            m.running_var.copy_(torch.rand(n, generator=gen) * 0.5 + 0.75)
            m.weight.data.copy_(torch.rand(n, generator=gen) * 0.5 + 0.75)
            m.bias.data.copy_(torch.randn(n, generator=gen) * 0.1)


# torch 1.13 computes Tiny-YOLOv3's edge padding with a chain of shape ops; lucid resolves
# that chain itself when it loads the model. --fold-pads stores the pads as a constant instead,
# for engines that cannot.
FOLD_PADS = False


def dynamic_batch(name, out_names):
    """The batch dimension stays symbolic ("batch"), so one file serves every batch size
    (lucid fixes it with --shape, as trtexec does with --shapes). Tiny-YOLOv3 keeps batch 1:
    its darknet-style edge padding is folded to constants after export."""
    if name == "tiny_yolov3":
        return None
    axes = {"input": {0: "batch"}}
    for o in out_names:
        axes[o] = {0: "batch"}
    return axes


def export_one(name, out_dir, verbose=True):
    """Exports one model into out_dir/name; returns a dict of facts."""
    ctor, side, seed = ZOO[name]
    torch.manual_seed(seed)
    model = ctor()
    gen = torch.Generator().manual_seed(seed + 1000)
    with torch.no_grad():
        randomize_batchnorm(model, gen)
    model.eval()
    params = sum(p.numel() for p in model.parameters())

    rng = np.random.default_rng(seed)
    x = rng.standard_normal((1, 3, side, side), dtype=np.float32)
    with torch.no_grad():
        y = model(torch.from_numpy(x))
    outputs = list(y) if isinstance(y, (tuple, list)) else [y]
    out_names = ["output"] + ["output%d" % (i + 1) for i in range(1, len(outputs))]
    for o, n in zip(outputs, out_names):
        if not torch.isfinite(o).all():
            raise RuntimeError("%s: PyTorch output %s is not finite" % (name, n))

    final = os.path.join(out_dir, name)
    os.makedirs(out_dir, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix="." + name + ".", dir=out_dir)
    try:
        onnx_path = os.path.join(tmp, "model.onnx")
        t0 = time.time()
        with torch.no_grad():
            # BatchNormalization stays a node (PRESERVE keeps the eval-mode model as written,
            # without the exporter's own Conv+BN folding) and constant subgraphs stay
            # unfolded: the graph the optimizer starts from is the one a user exports.
            # torch >= 2.9 defaults to the dynamo exporter: ask for the TorchScript one
            legacy = {"dynamo": False} if "dynamo" in inspect.signature(torch.onnx.export).parameters else {}
            torch.onnx.export(model, torch.from_numpy(x), onnx_path, opset_version=OPSET,
                              input_names=["input"], output_names=out_names,
                              do_constant_folding=False, export_params=True,
                              training=torch.onnx.TrainingMode.PRESERVE,
                              dynamic_axes=dynamic_batch(name, out_names), **legacy)
        export_s = time.time() - t0
        if name == "tiny_yolov3" and FOLD_PADS:
            m = onnx.load(onnx_path)
            fold_pad_subgraphs(m)
            onnx.save(m, onnx_path)
        onnx.checker.check_model(onnx_path)
        np.save(os.path.join(tmp, "input.npy"), x)
        for o, n in zip(outputs, out_names):
            np.save(os.path.join(tmp, n + ".npy"), o.numpy().astype(np.float32))
        if os.path.exists(final):
            shutil.rmtree(final)
        os.rename(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    size = os.path.getsize(os.path.join(final, "model.onnx"))
    facts = {"name": name, "params": params, "export_s": export_s, "bytes": size,
             "outputs": [tuple(o.shape) for o in outputs]}
    if verbose:
        print("%-20s params %11d  export %6.1f s  model.onnx %8.1f MB  outputs %s"
              % (name, params, export_s, size / 1e6,
                 ", ".join("x".join(str(d) for d in s) for s in facts["outputs"])), flush=True)
    return facts


def is_cached(out_dir, name):
    d = os.path.join(out_dir, name)
    return all(os.path.isfile(os.path.join(d, f)) for f in ("model.onnx", "input.npy", "output.npy"))


def main(argv=None):
    ap = argparse.ArgumentParser(description="Export the lucid model zoo to ONNX with reference I/O.")
    ap.add_argument("--out", default=os.path.join(".", "cache", "zoo"),
                    help="cache directory (default ./cache/zoo)")
    ap.add_argument("--models", default="",
                    help="comma-separated model names (default: all; see --list)")
    ap.add_argument("--force", action="store_true", help="export again even if cached")
    ap.add_argument("--list", action="store_true", help="list the model names and exit")
    ap.add_argument("--threads", type=int, default=0,
                    help="torch threads (default: torch's choice)")
    ap.add_argument("--fold-pads", action="store_true",
                    help="store Tiny-YOLOv3's computed edge padding as a constant")
    args = ap.parse_args(argv)
    global FOLD_PADS
    FOLD_PADS = args.fold_pads

    if args.list:
        for n, (_, side, _) in ZOO.items():
            print("%s %dx%d" % (n, side, side))
        return 0
    names = [n.strip() for n in args.models.split(",") if n.strip()] or list(ZOO)
    unknown = [n for n in names if n not in ZOO]
    if unknown:
        sys.stderr.write("export_zoo.py: unknown model(s) %s; known: %s\n"
                         % (", ".join(unknown), ", ".join(ZOO)))
        return 1
    # torch.onnx's UserWarnings about its own constant folding and shape inference say
    # nothing about the exported model's correctness, which onnx.checker and the reference
    # outputs cover.
    warnings.filterwarnings("ignore", category=UserWarning)
    if args.threads > 0:
        torch.set_num_threads(args.threads)

    total = 0.0
    exported = 0
    t_all = time.time()
    for n in names:
        if not args.force and is_cached(args.out, n):
            print("%-20s cached in %s" % (n, os.path.join(args.out, n)), flush=True)
            continue
        facts = export_one(n, args.out)
        total += facts["export_s"]
        exported += 1
    print("exported %d model(s): torch.onnx.export total %.1f s, wall %.1f s (with model "
          "construction, reference run and checks)" % (exported, total, time.time() - t_all))
    return 0


if __name__ == "__main__":
    sys.exit(main())
