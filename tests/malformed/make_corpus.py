#!/usr/bin/python3
"""make_corpus.py - writes a corpus of hostile and broken ONNX files, and what lucid must say about each.

    /usr/bin/python3 tests/malformed/make_corpus.py OUT_DIR

writes OUT_DIR/<case>.onnx (or a folder per external-data case), OUT_DIR/input.npy (a
float32 1x3x4x4 input matching the graphs' 'input'), and OUT_DIR/manifest.json: a list of
cases, each with

    name        the case's name
    path        the model path to give lucid, relative to OUT_DIR
    info_code   the exit code `lucid info` must return (a list: any of them)
    run_code    the exit code `lucid run` must return (a list: any of them)
    must        substrings the one stderr line must all contain
    any         substrings of which the line must contain at least one (may be empty)
    files       file names of which the line must contain at least one
    why         what the case breaks

Exit codes follow the CLI: 0 ok, 2 invalid or unsupported model, 3 I/O error. The expected
substrings are the names a clear message cannot do without: the node or tensor name given
in the case, the op name, 'opset', 'cycle'. Cases are deterministic: the same corpus is
written every time.
"""

import json
import os
import random
import shutil
import sys

import numpy as np

try:
    import onnx
    from onnx import TensorProto, helper, numpy_helper
except ImportError as exc:
    sys.stderr.write("make_corpus.py: %s (run with /usr/bin/python3, which has python3-onnx)\n" % exc)
    sys.exit(3)

IN_SHAPE = [1, 3, 4, 4]
DECODE_WORDS = ["truncat", "decode", "pars", "protobuf", "invalid", "malformed", "corrupt",
                "not an onnx", "not a model"]


def vinfo(name, shape, dtype=TensorProto.FLOAT):
    return helper.make_tensor_value_info(name, dtype, shape)


def weight(name, shape, seed=0, dtype=np.float32):
    rng = np.random.default_rng(seed)
    return numpy_helper.from_array(rng.standard_normal(shape).astype(dtype), name)


def model(nodes, inputs, outputs, inits=(), opset=13, extra_opsets=(), name="g"):
    g = helper.make_graph(nodes, name, inputs, outputs, initializer=list(inits))
    ops = [helper.make_opsetid("", opset)] + [helper.make_opsetid(d, v) for d, v in extra_opsets]
    m = helper.make_model(g, opset_imports=ops, producer_name="lucid-malformed-corpus")
    m.ir_version = 8
    return m


def valid_model():
    """Conv 3->8 3x3 pad 1, Relu: the control case, and the source of the truncations."""
    conv = helper.make_node("Conv", ["input", "W", "B"], ["conv_out"], name="conv0",
                            kernel_shape=[3, 3], pads=[1, 1, 1, 1])
    relu = helper.make_node("Relu", ["conv_out"], ["output"], name="relu0")
    return model([conv, relu], [vinfo("input", IN_SHAPE)], [vinfo("output", [1, 8, 4, 4])],
                 [weight("W", [8, 3, 3, 3], 1), weight("B", [8], 2)])


def single(op, attrs=None, inputs=("input",), inits=(), out_shape=None, node_name=None, opset=13,
           domain=None, extra_opsets=(), in_shape=None, in_dtype=TensorProto.FLOAT,
           out_dtype=TensorProto.FLOAT):
    """A graph of one node from 'input' (plus initializers) to 'output'."""
    kw = dict(attrs or {})
    if domain is not None:
        kw["domain"] = domain
    n = helper.make_node(op, list(inputs), ["output"], name=node_name or op.lower() + "_node", **kw)
    return model([n], [vinfo("input", in_shape or IN_SHAPE, in_dtype)],
                 [vinfo("output", out_shape, out_dtype)], inits, opset=opset,
                 extra_opsets=extra_opsets)


def raw_tensor(name, dims, dtype=TensorProto.FLOAT, raw=b""):
    """A TensorProto built field by field, so its dims and data may disagree."""
    t = TensorProto()
    t.name = name
    t.data_type = dtype
    t.dims.extend(dims)
    if raw:
        t.raw_data = raw
    return t


def decodes(data):
    """True if protobuf accepts the bytes as a ModelProto."""
    m = onnx.ModelProto()
    try:
        m.ParseFromString(data)
    except Exception:  # protobuf raises DecodeError, or RuntimeWarning-derived errors
        return False
    return True


class Corpus:
    def __init__(self, out):
        self.out = out
        self.cases = []

    def add(self, name, path, code, must=(), any_of=(), run_code=None, files=None, why=""):
        self.cases.append({
            "name": name, "path": path, "info_code": code if isinstance(code, list) else [code],
            "run_code": (code if run_code is None else run_code)
            if isinstance(code if run_code is None else run_code, list)
            else [code if run_code is None else run_code],
            "must": list(must), "any": list(any_of),
            "files": files or [os.path.basename(path.rstrip("/"))], "why": why})

    def write_model(self, name, m, code, must=(), any_of=(), why="", **kw):
        path = name + ".onnx"
        with open(os.path.join(self.out, path), "wb") as f:
            f.write(m.SerializeToString())
        self.add(name, path, code, must, any_of, why=why, **kw)

    def write_bytes(self, name, data, code, must=(), any_of=(), why=""):
        path = name + ".onnx"
        with open(os.path.join(self.out, path), "wb") as f:
            f.write(data)
        self.add(name, path, code, must, any_of, why=why)


def external(c, name, location, offset=None, length=None, data_file=None, data=b"", code=2,
             why=""):
    """A folder <name>/ holding model.onnx whose initializer W lives in external data."""
    folder = os.path.join(c.out, name)
    os.makedirs(folder)
    if data_file:
        with open(os.path.join(folder, data_file), "wb") as f:
            f.write(data)
    w = raw_tensor("W_ext", [8, 3, 3, 3])
    w.data_location = TensorProto.EXTERNAL
    entries = [("location", location)]
    if offset is not None:
        entries.append(("offset", str(offset)))
    if length is not None:
        entries.append(("length", str(length)))
    for k, v in entries:
        e = w.external_data.add()
        e.key, e.value = k, v
    conv = helper.make_node("Conv", ["input", "W_ext"], ["output"], name="conv_ext",
                            kernel_shape=[3, 3], pads=[1, 1, 1, 1])
    m = model([conv], [vinfo("input", IN_SHAPE)], [vinfo("output", [1, 8, 4, 4])], [w])
    path = os.path.join(name, "model.onnx")
    with open(os.path.join(c.out, path), "wb") as f:
        f.write(m.SerializeToString())
    c.add(name, path, code, must=["W_ext"], files=["model.onnx", os.path.basename(location)],
          why=why)


def build(out):
    c = Corpus(out)
    np.save(os.path.join(out, "input.npy"),
            np.random.default_rng(0).standard_normal(IN_SHAPE).astype(np.float32))

    # ---- a control case: everything must work -------------------------------------------
    good = valid_model()
    onnx.checker.check_model(good)
    c.write_model("valid_conv_relu", good, 0, why="control: a valid model")

    # ---- broken bytes ---------------------------------------------------------------------
    blob = good.SerializeToString()
    wanted = [1, 5, 17, len(blob) // 3, len(blob) // 2, len(blob) - 40, len(blob) - 1]
    for cut in wanted:
        # Keep cuts that protobuf itself rejects: a cut exactly between two fields is a
        # shorter, well-formed message, which is a different case.
        while cut > 0 and decodes(blob[:cut]):
            cut -= 1
        if cut <= 0:
            continue
        c.write_bytes("truncated_at_%d" % cut, blob[:cut], 2, any_of=DECODE_WORDS,
                      why="the valid model cut after %d of %d bytes" % (cut, len(blob)))
    rnd = random.Random(1234)
    for seed in range(100):
        data = bytes(rnd.getrandbits(8) for _ in range(4096))
        if not decodes(data):
            break
    c.write_bytes("random_bytes", data, 2, any_of=DECODE_WORDS, why="4096 random bytes")
    c.write_bytes("empty_file", b"", 2, any_of=["empty", "graph"],
                  why="an empty file decodes as a model without a graph")
    os.makedirs(os.path.join(out, "a_directory.onnx"))
    c.add("directory", "a_directory.onnx", 3, any_of=["directory", "read", "open"],
          why="a directory where a file is expected")
    c.add("nonexistent", "no_such_model.onnx", 3,
          any_of=["No such file", "not found", "exist", "open"], why="a path that does not exist")

    # ---- wrong data types and inconsistent tensors ---------------------------------------
    m = single("Conv", {"kernel_shape": [3, 3], "pads": [1, 1, 1, 1]}, ["input", "W_i64"],
               [numpy_helper.from_array(np.ones([8, 3, 3, 3], np.int64), "W_i64")],
               [1, 8, 4, 4], "conv_int64", in_dtype=TensorProto.INT64, out_dtype=TensorProto.INT64)
    c.write_model("conv_int64", m, 2, must=["conv_int64"], any_of=["int64", "type"],
                  why="Conv on int64 input and weights (Conv takes floating types only)")
    m = single("Conv", {"kernel_shape": [3, 3], "pads": [1, 1, 1, 1]}, ["input", "W_short"],
               [raw_tensor("W_short", [8, 3, 3, 3], raw=b"\0" * 100)], [1, 8, 4, 4], "conv_short")
    c.write_model("raw_data_length", m, 2, must=["W_short"],
                  why="initializer raw_data of 100 bytes for 8x3x3x3 float32 (864 bytes)")
    t = raw_tensor("W_float_data", [8, 3, 3, 3])
    t.float_data.extend([1.0] * 7)
    m = single("Conv", {"kernel_shape": [3, 3], "pads": [1, 1, 1, 1]}, ["input", "W_float_data"],
               [t], [1, 8, 4, 4], "conv_float_data")
    c.write_model("float_data_count", m, 2, must=["W_float_data"],
                  why="initializer with 7 float_data values for 216 elements")

    # ---- graph structure -----------------------------------------------------------------
    m = single("Add", None, ["input", "ghost_tensor"], (), IN_SHAPE, "add_ghost")
    c.write_model("missing_initializer", m, 2, must=["ghost_tensor"],
                  why="a node input that no node, initializer or graph input produces")
    a = helper.make_node("Relu", ["loop_b"], ["loop_a"], name="cycle_a")
    b = helper.make_node("Add", ["input", "loop_a"], ["loop_b"], name="cycle_b")
    o = helper.make_node("Identity", ["loop_b"], ["output"], name="cycle_out")
    m = model([a, b, o], [vinfo("input", IN_SHAPE)], [vinfo("output", IN_SHAPE)])
    c.write_model("cycle", m, 2, must=["cycle"], why="two nodes feeding each other")
    n1 = helper.make_node("Relu", ["input"], ["dup_tensor"], name="dup_first")
    n2 = helper.make_node("Sigmoid", ["input"], ["dup_tensor"], name="dup_second")
    n3 = helper.make_node("Identity", ["dup_tensor"], ["output"], name="dup_out")
    m = model([n1, n2, n3], [vinfo("input", IN_SHAPE)], [vinfo("output", IN_SHAPE)])
    c.write_model("duplicate_output", m, 2, must=["dup_tensor"],
                  why="two nodes produce the same tensor")
    n = helper.make_node("Relu", ["input"], ["output"], name="relu_only")
    m = model([n], [vinfo("input", IN_SHAPE)],
              [vinfo("output", IN_SHAPE), vinfo("nowhere_tensor", IN_SHAPE)])
    c.write_model("output_not_produced", m, 2, must=["nowhere_tensor"],
                  why="a graph output nothing produces")
    m = single("Conv", {"kernel_shape": [3, 3]}, ["input"], (), [1, 8, 2, 2], "conv_no_weight")
    c.write_model("missing_required_input", m, 2, must=["conv_no_weight"],
                  why="Conv with its required input W left out")
    m = single("Conv", {"kernel_shape": [3, 3]}, ["input", ""], (), [1, 8, 2, 2], "conv_empty_w")
    c.write_model("empty_required_input", m, 2, must=["conv_empty_w"],
                  why="Conv with its required input W given as the empty name")

    # ---- absurd sizes --------------------------------------------------------------------
    huge = raw_tensor("huge_init", [1 << 40, 1 << 40], raw=b"\0" * 16)
    m = single("Add", None, ["input", "huge_init"], [huge], IN_SHAPE, "add_huge")
    c.write_model("dims_2_40", m, 2, must=["huge_init"],
                  why="an initializer of 2^40 x 2^40 floats (overflows 64-bit byte counts)")
    neg = raw_tensor("neg_init", [-3, 4], raw=b"\0" * 48)
    m = single("Add", None, ["input", "neg_init"], [neg], IN_SHAPE, "add_neg")
    c.write_model("negative_dims", m, 2, must=["neg_init"], why="initializer dims [-3, 4]")
    deep = raw_tensor("rank20_init", [1] * 20, raw=b"\0" * 4)
    m = single("Add", None, ["input", "rank20_init"], [deep], IN_SHAPE, "add_rank20")
    c.write_model("rank_20", m, 2, must=["rank20_init"], why="an initializer of rank 20")
    m = single("Relu", None, ["input"], (), [1 << 40, 1 << 40], "relu_huge",
               in_shape=[1 << 40, 1 << 40])
    c.write_model("input_dims_2_40", m, 2, must=["input"],
                  why="a graph input declared 2^40 x 2^40", run_code=2)

    # ---- ops, domains, opsets ------------------------------------------------------------
    m = single("FooBar", None, ["input"], (), IN_SHAPE, "foo_node")
    c.write_model("unknown_op", m, 2, must=["FooBar"], why="op FooBar in the default domain")
    m = single("Relu", None, ["input"], (), IN_SHAPE, "weird_relu", domain="com.example.weird",
               extra_opsets=[("com.example.weird", 1)])
    c.write_model("unknown_domain", m, 2, must=["com.example.weird"],
                  why="a node in a domain lucid does not know")
    m = single("Dropout", None, ["input"], (), IN_SHAPE, "dropout_opset3", opset=3)
    c.write_model("opset_3", m, 2, must=["opset", "Dropout"],
                  why="Dropout in its opset-3 form (is_test attribute), which lucid does not take")
    m = single("Relu", None, ["input"], (), IN_SHAPE, "relu_opset99", opset=99)
    c.write_model("opset_99", m, 2, must=["opset"], why="default-domain opset 99")
    m = valid_model()
    del m.opset_import[:]
    c.write_model("no_opset_import", m, 2, must=["opset"], why="no opset_import at all")

    # ---- bad attribute values ------------------------------------------------------------
    w = weight("W_conv", [8, 3, 3, 3], 3)
    conv_cases = [
        ("conv_strides_zero", {"kernel_shape": [3, 3], "strides": [0, 0]}, [w], ["strides"],
         "Conv strides [0, 0]"),
        ("conv_negative_pads", {"kernel_shape": [3, 3], "pads": [-1, -1, -1, -1]}, [w], ["pads"],
         "Conv pads [-1, -1, -1, -1]"),
        ("conv_kernel_mismatch", {"kernel_shape": [5, 5]}, [w], ["kernel"],
         "Conv kernel_shape [5, 5] with 3x3 weights"),
        ("conv_bad_group", {"kernel_shape": [3, 3], "group": 2}, [weight("W_conv", [8, 1, 3, 3], 4)],
         ["group"], "Conv group 2 with 3 input channels"),
        ("conv_dilation_zero", {"kernel_shape": [3, 3], "dilations": [0, 0]}, [w], ["dilation"],
         "Conv dilations [0, 0]"),
    ]
    for name, attrs, inits, words, why in conv_cases:
        m = single("Conv", attrs, ["input", "W_conv"], inits, [1, 8, 2, 2], name)
        c.write_model(name, m, 2, must=[name] + words, why=why)
    m = single("Conv", {"kernel_shape": [3, 3], "pads": [1, 1, 1, 1]}, ["input", "W_conv"],
               [weight("W_conv", [8, 5, 3, 3], 5)], [1, 8, 4, 4], "conv_channel_mismatch")
    c.write_model("conv_channel_mismatch", m, 2, must=["conv_channel_mismatch"],
                  why="Conv weights for 5 input channels on a 3-channel input")
    m = single("Transpose", {"perm": [0, 0, 1, 2]}, ["input"], (), IN_SHAPE, "transpose_dup_perm")
    c.write_model("transpose_perm", m, 2, must=["transpose_dup_perm", "perm"],
                  why="Transpose perm [0, 0, 1, 2]")
    m = single("Transpose", {"perm": [0, 0]}, ["input"], (), IN_SHAPE, "transpose_short_perm")
    c.write_model("transpose_perm_rank", m, 2, must=["transpose_short_perm", "perm"],
                  why="Transpose perm [0, 0] on a rank-4 input")
    m = single("Reshape", None, ["input", "shape_5x7"],
               [numpy_helper.from_array(np.array([5, 7], np.int64), "shape_5x7")], [5, 7],
               "reshape_incompatible")
    c.write_model("reshape_incompatible", m, 2, must=["reshape_incompatible"],
                  why="Reshape of 48 elements to 5x7")
    m = single("Reshape", None, ["input", "shape_two_minus"],
               [numpy_helper.from_array(np.array([-1, -1], np.int64), "shape_two_minus")], [6, 8],
               "reshape_two_minus_one")
    c.write_model("reshape_two_inferred", m, 2, must=["reshape_two_minus_one"],
                  why="Reshape with two -1 dimensions")
    m = single("Gather", {"axis": 5}, ["input", "gather_idx"],
               [numpy_helper.from_array(np.array([0], np.int64), "gather_idx")], IN_SHAPE,
               "gather_bad_axis")
    c.write_model("gather_axis", m, 2, must=["gather_bad_axis", "axis"],
                  why="Gather axis 5 on a rank-4 input")
    m = single("Gather", {"axis": 1}, ["input", "gather_far"],
               [numpy_helper.from_array(np.array([7], np.int64), "gather_far")], [1, 1, 4, 4],
               "gather_index_range")
    # Index values are data: an importer may check them at load (2) or the kernel at run
    # time (2 for invalid data, 4 for a runtime failure); reading out of bounds is wrong.
    c.write_model("gather_index", m, [0, 2], must=["gather_index_range"], run_code=[2, 4],
                  why="Gather index 7 on an axis of size 3")
    m = single("Concat", {"axis": 1}, ["input", "concat_other"],
               [weight("concat_other", [1, 3, 5, 5], 6)], [1, 6, 4, 4], "concat_mismatch")
    c.write_model("concat_shapes", m, 2, must=["concat_mismatch"],
                  why="Concat on axis 1 of 1x3x4x4 and 1x3x5x5")
    m = single("Concat", {"axis": 4}, ["input", "input"], (), [1, 3, 4, 8], "concat_bad_axis")
    c.write_model("concat_axis", m, 2, must=["concat_bad_axis", "axis"],
                  why="Concat axis 4 on rank-4 inputs")
    m = single("Softmax", {"axis": -9}, ["input"], (), IN_SHAPE, "softmax_bad_axis")
    c.write_model("softmax_axis", m, 2, must=["softmax_bad_axis", "axis"],
                  why="Softmax axis -9 on a rank-4 input")
    m = single("MaxPool", {"kernel_shape": [9, 9]}, ["input"], (), [1, 3, 1, 1], "pool_too_big")
    c.write_model("maxpool_kernel_too_big", m, 2, must=["pool_too_big"],
                  why="MaxPool 9x9 window on a 4x4 input without padding")

    # ---- outputs too large to allocate (each must hit a limit, not malloc) ---------------
    def i64(name, vals):
        return numpy_helper.from_array(np.array(vals, np.int64), name)

    m = single("Pad", None, ["input", "pads_huge"],
               [i64("pads_huge", [0, 0, 1 << 40, 0, 0, 0, 1 << 40, 0])], None, "pad_huge")
    c.write_model("pad_huge", m, 2, must=["pad_huge"], why="Pad by 2^40 rows on each side")
    m = single("Expand", None, ["input", "expand_shape"],
               [i64("expand_shape", [1 << 20, 1 << 20, 1, 3, 4, 4])], None, "expand_huge")
    c.write_model("expand_huge", m, 2, must=["expand_huge"], why="Expand to 2^20 x 2^20 x 1 x 3 x 4 x 4")
    m = single("Tile", None, ["input", "tile_repeats"],
               [i64("tile_repeats", [1, 1, 1 << 30, 1 << 30])], None, "tile_huge")
    c.write_model("tile_huge", m, 2, must=["tile_huge"], why="Tile with repeats 2^30 x 2^30")
    m = single("Resize", {"mode": "nearest"}, ["input", "", "resize_scales"],
               [numpy_helper.from_array(np.array([1, 1, 1e6, 1e6], np.float32), "resize_scales")],
               None, "resize_huge")
    c.write_model("resize_huge", m, 2, must=["resize_huge"], why="Resize by 1e6 in each spatial dim")
    n1 = helper.make_node("ConstantOfShape", ["cos_shape"], ["big"], name="constant_of_shape_huge")
    n2 = helper.make_node("Add", ["input", "big"], ["output"], name="add_big")
    m = model([n1, n2], [vinfo("input", IN_SHAPE)], [vinfo("output", None)],
              [i64("cos_shape", [1 << 31, 1 << 31])])
    c.write_model("constant_of_shape_huge", m, 2, must=["constant_of_shape_huge"],
                  why="ConstantOfShape of 2^31 x 2^31")
    m = single("Conv", {"kernel_shape": [3, 3], "group": -1}, ["input", "W_conv"], [w], None,
               "conv_negative_group")
    c.write_model("conv_negative_group", m, 2, must=["conv_negative_group", "group"],
                  why="Conv group -1")

    # ---- external data -------------------------------------------------------------------
    good_bytes = np.ones(8 * 3 * 3 * 3, np.float32).tobytes()
    with open(os.path.join(out, "outside.bin"), "wb") as f:
        f.write(good_bytes)
    external(c, "ext_outside_folder", "../outside.bin",
             why="external data location ../outside.bin escapes the model folder")
    external(c, "ext_absolute_path", "/etc/hostname",
             why="external data location is an absolute path")
    external(c, "ext_missing_file", "missing.bin", code=3,
             why="external data file that does not exist")
    external(c, "ext_beyond_end", "w.bin", offset=8, length=864, data_file="w.bin",
             data=good_bytes[:64], why="offset 8 + length 864 in a 64-byte file")
    external(c, "ext_short_file", "w.bin", data_file="w.bin", data=good_bytes[:100],
             why="a 100-byte file for an 864-byte tensor")
    external(c, "ext_length_mismatch", "w.bin", offset=0, length=12, data_file="w.bin",
             data=good_bytes, why="length 12 for an 864-byte tensor")
    external(c, "ext_huge_offset", "w.bin", offset=1 << 62, length=864, data_file="w.bin",
             data=good_bytes, why="offset 2^62")

    with open(os.path.join(out, "manifest.json"), "w", encoding="utf-8") as f:
        json.dump({"input": "input.npy", "cases": c.cases}, f, indent=1)
    return c.cases


def main(argv):
    if len(argv) != 2:
        sys.stderr.write("usage: make_corpus.py OUT_DIR\n")
        return 1
    out = argv[1]
    if os.path.isdir(out):
        shutil.rmtree(out)
    os.makedirs(out)
    cases = build(out)
    print("wrote %d cases to %s" % (len(cases), out))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
