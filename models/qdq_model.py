#!/usr/bin/python3
"""qdq_model.py - a Q/DQ (explicitly quantized) ONNX model from a float one, for trying
lucid's INT8 path: QuantizeLinear -> DequantizeLinear pairs in front of the data inputs of
every Conv / lucid FusedConv (its residual input too) and Gemm / FusedGemm / MatMul, activations
per tensor (symmetric int8, scale = amax / 127), constant weights as int8 initializers with
per-output-channel scales behind a DequantizeLinear, biases left float.

The ranges come from running the float model once on seeded random inputs with ONNX Runtime
(a stand-in for calibration; lucid's own calibration makes the real thresholds). Give it the
model that `lucid build M.onnx --export-onnx OPT.onnx` wrote to get the form lucid's INT8 build
quantizes (FusedConv layers with their residuals), or a plain ONNX model.

  qdq_model.py FLOAT.onnx OUT.onnx [--ranges-from ORIGINAL.onnx] [--samples 2]
               [--ort-python python3] [--uint8-after-relu]

--ranges-from: the model ONNX Runtime runs to measure ranges (the original, when FLOAT.onnx has
lucid-domain ops); tensors are matched by name. --uint8-after-relu: tensors written by a layer
ending in Relu (or by MaxPool of one) are quantized as uint8 with zero point 0 (scale amax/255).
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

ORT_SNIPPET = r"""
import json, sys
import numpy as np
import onnxruntime as ort
path, out, samples = sys.argv[1], sys.argv[2], int(sys.argv[3])
so = ort.SessionOptions()
so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
s = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
rng = np.random.default_rng(0)
amax = {}
for _ in range(samples):
    feeds = {}
    for i in s.get_inputs():
        shape = [d if isinstance(d, int) else 1 for d in i.shape]
        x = rng.standard_normal(shape).astype(np.float32)
        feeds[i.name] = x
        amax[i.name] = max(amax.get(i.name, 0.0), float(np.abs(x).max()))
    names = [o.name for o in s.get_outputs()]
    for n, v in zip(names, s.run(names, feeds)):
        if v.dtype == np.float32 and v.size:
            amax[n] = max(amax.get(n, 0.0), float(np.abs(v).max()))
json.dump(amax, open(out, "w"))
"""


def measure_ranges(model_path, ort_python, samples):
    m = onnx.load(model_path)
    have = {o.name for o in m.graph.output}
    for n in m.graph.node:
        for o in n.output:
            if o and o not in have:
                m.graph.output.append(helper.make_empty_tensor_value_info(o))
                have.add(o)
    with tempfile.TemporaryDirectory() as d:
        mp, jp, sp = os.path.join(d, "m.onnx"), os.path.join(d, "r.json"), os.path.join(d, "r.py")
        onnx.save(m, mp)
        open(sp, "w").write(ORT_SNIPPET)
        subprocess.run([ort_python, sp, mp, jp, str(samples)], check=True)
        return json.load(open(jp))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("out")
    ap.add_argument("--ranges-from")
    ap.add_argument("--samples", type=int, default=2)
    ap.add_argument("--ort-python", default="python3")
    ap.add_argument("--uint8-after-relu", action="store_true")
    a = ap.parse_args()
    amax = measure_ranges(a.ranges_from or a.model, a.ort_python, a.samples)
    m = onnx.load(a.model)
    g = m.graph
    inits = {t.name: t for t in g.initializer}
    producer = {o: n for n in g.node for o in n.output}

    def relu_written(t):
        n = producer.get(t)
        while n is not None and n.op_type == "MaxPool":
            n = producer.get(n.input[0])
        if n is None:
            return False
        if n.op_type == "Relu":
            return True
        for at in n.attribute:
            if at.name == "activation" and at.s == b"Relu":
                return True
        return False

    new_nodes, new_inits, done = [], [], {}

    def quantize_act(t):
        if t in done:
            return done[t]
        if t not in amax:
            print(f"no range for {t}: left float", file=sys.stderr)
            return t
        unsigned = a.uint8_after_relu and relu_written(t)
        s = max(amax[t], 1e-8) / (255.0 if unsigned else 127.0)
        base = t.replace("/", "_").strip("_")
        sc, zp = base + "_scale", base + "_zp"
        new_inits.append(numpy_helper.from_array(np.array(s, np.float32), sc))
        new_inits.append(numpy_helper.from_array(np.array(0, np.uint8 if unsigned else np.int8), zp))
        q, dq = base + "_q", base + "_dq"
        new_nodes.append(helper.make_node("QuantizeLinear", [t, sc, zp], [q], name=base + "_QuantizeLinear"))
        new_nodes.append(helper.make_node("DequantizeLinear", [q, sc, zp], [dq], name=base + "_DequantizeLinear"))
        done[t] = dq
        return dq

    def quantize_weight(name, axis):
        w = numpy_helper.to_array(inits[name]).astype(np.float32)
        red = tuple(i for i in range(w.ndim) if i != axis)
        amaxw = np.abs(w).max(axis=red)
        s = np.maximum(amaxw, 1e-12) / 127.0
        shape = [1] * w.ndim
        shape[axis] = -1
        q = np.clip(np.rint(w / s.reshape(shape)), -127, 127).astype(np.int8)
        base = name.replace("/", "_")
        new_inits.append(numpy_helper.from_array(q, base + "_int8"))
        new_inits.append(numpy_helper.from_array(s.astype(np.float32), base + "_wscale"))
        new_nodes.append(helper.make_node("DequantizeLinear", [base + "_int8", base + "_wscale"],
                                          [base + "_deq"], name=base + "_DequantizeLinear", axis=axis))
        return base + "_deq"

    out_nodes = []
    for n in g.node:
        new_nodes = []
        if n.op_type in ("Conv", "FusedConv") and n.input[1] in inits:
            n.input[0] = quantize_act(n.input[0])
            n.input[1] = quantize_weight(n.input[1], 0)
            if n.op_type == "FusedConv" and len(n.input) > 3 and n.input[3]:
                n.input[3] = quantize_act(n.input[3])
        elif n.op_type in ("Gemm", "FusedGemm", "MatMul") and n.input[1] in inits:
            tb = next((at.i for at in n.attribute if at.name == "transB"), 0)
            n.input[0] = quantize_act(n.input[0])
            n.input[1] = quantize_weight(n.input[1], 0 if tb else 1)
        out_nodes.extend(new_nodes)
        out_nodes.append(n)
    del g.node[:]
    g.node.extend(out_nodes)
    g.initializer.extend(new_inits)
    if not any(o.domain in ("", "ai.onnx") and o.version >= 13 for o in m.opset_import):
        for o in m.opset_import:
            if o.domain in ("", "ai.onnx"):
                o.version = 13
    onnx.save(m, a.out)
    print(f"{a.out}: {len(done)} activations quantized")


if __name__ == "__main__":
    main()
