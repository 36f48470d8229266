"""onnx_lite.py - reads an ONNX file's graph inputs, outputs and initializers with a small protobuf decoder (no onnx package needed).

The PyTorch driver runs where the onnx package may be missing (the GPU machine's python3 has
torch and onnxruntime only), yet needs the model's input shapes and, for models whose
trainer saved no state_dict, the weights. Only the fields below are decoded (field numbers
from onnx.proto); everything else is skipped by wire type.

    ModelProto   7 graph
    GraphProto   1 node, 5 initializer (TensorProto), 11 input, 12 output (ValueInfoProto)
    NodeProto    1 input, 2 output, 4 op_type (only to find Identity nodes that rename an
                 initializer: torch.onnx stores equal parameters once and aliases the others)
    TensorProto  1 dims, 2 data_type, 4 float_data, 5 int32_data, 7 int64_data, 8 name,
                 9 raw_data, 10 double_data, 11 uint64_data, 14 data_location
    ValueInfoProto 1 name, 2 type;  TypeProto 1 tensor_type;  TypeProto.Tensor 1 elem_type,
                 2 shape;  TensorShapeProto 1 dim;  Dimension 1 dim_value, 2 dim_param

Tensors stored as external data are reported as an error (none of the models here use it).
"""

import struct

import numpy as np

# TensorProto.DataType -> numpy dtype (bfloat16 has no numpy dtype: read as uint16 bits)
DTYPES = {1: np.float32, 2: np.uint8, 3: np.int8, 4: np.uint16, 5: np.int16, 6: np.int32,
          7: np.int64, 9: np.bool_, 10: np.float16, 11: np.float64, 12: np.uint32,
          13: np.uint64, 16: np.uint16}
DTYPE_NAMES = {1: "float32", 2: "uint8", 3: "int8", 4: "uint16", 5: "int16", 6: "int32",
               7: "int64", 9: "bool", 10: "float16", 11: "float64", 12: "uint32",
               13: "uint64", 16: "bfloat16"}


class OnnxFormatError(ValueError):
    pass


def _varint(buf, pos):
    result = shift = 0
    while True:
        if pos >= len(buf):
            raise OnnxFormatError("truncated varint")
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise OnnxFormatError("varint longer than 10 bytes")


def _fields(buf):
    """Yields (field number, wire type, value) of one message; value is an int for varint
    and fixed fields, a memoryview for length-delimited ones."""
    pos, n = 0, len(buf)
    while pos < n:
        key, pos = _varint(buf, pos)
        field, wt = key >> 3, key & 7
        if wt == 0:
            v, pos = _varint(buf, pos)
        elif wt == 1:
            if pos + 8 > n:
                raise OnnxFormatError("truncated fixed64")
            v = buf[pos:pos + 8]
            pos += 8
        elif wt == 2:
            ln, pos = _varint(buf, pos)
            if pos + ln > n:
                raise OnnxFormatError("length-delimited field %d runs past its message" % field)
            v = buf[pos:pos + ln]
            pos += ln
        elif wt == 5:
            if pos + 4 > n:
                raise OnnxFormatError("truncated fixed32")
            v = buf[pos:pos + 4]
            pos += 4
        else:
            raise OnnxFormatError("unsupported wire type %d" % wt)
        yield field, wt, v


def _signed64(v):
    return v - (1 << 64) if v >= 1 << 63 else v


def _packed_varints(v, wt):
    if wt == 0:
        return [v]
    out, pos = [], 0
    while pos < len(v):
        x, pos = _varint(v, pos)
        out.append(x)
    return out


def _value_info(buf):
    name, elem, dims = "", 0, None
    for f, wt, v in _fields(buf):
        if f == 1 and wt == 2:
            name = bytes(v).decode("utf-8")
        elif f == 2 and wt == 2:
            for tf, twt, tv in _fields(v):
                if tf == 1 and twt == 2:           # tensor_type
                    for ef, ewt, ev in _fields(tv):
                        if ef == 1 and ewt == 0:
                            elem = ev
                        elif ef == 2 and ewt == 2:  # shape
                            dims = []
                            for sf, swt, sv in _fields(ev):
                                if sf == 1 and swt == 2:
                                    d = None
                                    for df, dwt, dv in _fields(sv):
                                        if df == 1 and dwt == 0:
                                            d = _signed64(dv)
                                        elif df == 2 and dwt == 2:
                                            d = bytes(dv).decode("utf-8")
                                    dims.append(d)
    return {"name": name, "elem_type": elem, "dtype": DTYPE_NAMES.get(elem, "type%d" % elem),
            "shape": dims}


def _tensor(buf):
    name, dims, dt, raw = "", [], 0, None
    typed = {}
    for f, wt, v in _fields(buf):
        if f == 1:
            dims.extend(_signed64(x) for x in _packed_varints(v, wt))
        elif f == 2 and wt == 0:
            dt = v
        elif f == 8 and wt == 2:
            name = bytes(v).decode("utf-8")
        elif f == 9 and wt == 2:
            raw = bytes(v)
        elif f == 14 and wt == 0 and v == 1:
            raise OnnxFormatError("initializer stored as external data (not supported here)")
        elif f in (4, 10) and wt in (1, 2, 5):   # float_data / double_data
            typed.setdefault(f, []).append((wt, bytes(v)))
        elif f in (5, 7, 11):                      # int32 / int64 / uint64 data
            typed.setdefault(f, []).extend(_packed_varints(v, wt))
    if dt not in DTYPES:
        raise OnnxFormatError("initializer '%s': unsupported data type %d" % (name, dt))
    np_dt = np.dtype(DTYPES[dt])
    count = int(np.prod(dims, dtype=np.int64)) if dims else 1
    if raw is not None:
        a = np.frombuffer(raw, dtype=np_dt.newbyteorder("<")).astype(np_dt)
    elif 4 in typed:
        a = np.frombuffer(b"".join(b for _, b in typed[4]), dtype="<f4").astype(np.float32)
    elif 10 in typed:
        a = np.frombuffer(b"".join(b for _, b in typed[10]), dtype="<f8").astype(np.float64)
    elif 5 in typed:   # int32_data also carries int8/16, uint8/16, bool, float16 bits
        vals = np.array(typed[5], dtype=np.uint64).astype(np.uint32)
        if dt in (10, 16):
            a = vals.astype(np.uint16)
            if dt == 10:
                a = a.view(np.float16)
        else:
            a = vals.view(np.int32).astype(np_dt)
    elif 7 in typed:
        a = np.array(typed[7], dtype=np.uint64).view(np.int64).astype(np_dt)
    elif 11 in typed:
        a = np.array(typed[11], dtype=np.uint64).astype(np_dt)
    else:
        a = np.zeros(0, np_dt)
    if a.size != count:
        raise OnnxFormatError("initializer '%s': %d values for shape %s" % (name, a.size, dims))
    return name, a.reshape(dims)


def read_model(path, with_initializers=True):
    """Returns {"inputs": [...], "outputs": [...], "initializers": [(name, array)],
    "aliases": {Identity output: initializer name}}; graph inputs that are also
    initializers (IR < 4 style) are left out of "inputs"."""
    with open(path, "rb") as f:
        data = f.read()
    buf = memoryview(data)
    graph = None
    try:
        for f_, wt, v in _fields(buf):
            if f_ == 7 and wt == 2:
                graph = v
        if graph is None:
            raise OnnxFormatError("no graph")
        inputs, outputs, inits, init_names, identities = [], [], [], set(), []
        for f_, wt, v in _fields(graph):
            if wt != 2:
                continue
            if f_ == 1:
                node = {1: [], 2: [], 4: []}
                for nf, nwt, nv in _fields(v):
                    if nf in node and nwt == 2:
                        node[nf].append(bytes(nv).decode("utf-8"))
                if node[4] == ["Identity"] and len(node[1]) == 1 and len(node[2]) == 1:
                    identities.append((node[2][0], node[1][0]))
            elif f_ == 11:
                inputs.append(_value_info(v))
            elif f_ == 12:
                outputs.append(_value_info(v))
            elif f_ == 5:
                if with_initializers:
                    inits.append(_tensor(v))
                    init_names.add(inits[-1][0])
                else:
                    for tf, twt, tv in _fields(v):
                        if tf == 8 and twt == 2:
                            init_names.add(bytes(tv).decode("utf-8"))
    except (OnnxFormatError, UnicodeDecodeError, struct.error) as exc:
        raise OnnxFormatError("%s: not a readable ONNX model (%s)" % (path, exc))
    aliases = {out: src for out, src in identities if src in init_names}
    return {"inputs": [i for i in inputs if i["name"] not in init_names],
            "outputs": outputs, "initializers": inits, "aliases": aliases}
