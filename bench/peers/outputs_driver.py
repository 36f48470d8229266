#!/usr/bin/env python3
"""outputs_driver.py - runs a peer engine over N stacked samples and saves its first output for every sample, for `lucid characterize`'s accuracy columns.

Usage:

    python3 bench/peers/outputs_driver.py --engine onnxruntime|openvino|pytorch MODEL
        --input SAMPLES.npy --out OUTPUTS.npy [--chunk B] [--threads N] [--device cpu|cuda]
        [--precision f32|default]

SAMPLES.npy is float32 [N, ...]; the engine runs it in chunks of B samples (the model's fixed
batch, or any B when the batch dimension is symbolic; the last chunk may be shorter only when
the batch is symbolic, else it is padded with zeros whose outputs are dropped). OUTPUTS.npy is
float32 [N, ...] (the first output). The engine is set up as by ort_driver.py (CPU execution
provider, all graph optimizations, intra-op threads = --threads), openvino_driver.py (CPU
plugin, LATENCY hint, INFERENCE_NUM_THREADS = --threads, --precision f32 or OpenVINO's
default, the batch dimension fixed to B when it is symbolic) and torch_driver.py (the
module onnx_torch.py converts from MODEL for the chunk's shape, fp32, inference_mode). Prints one JSON
document: status ok | not_installed | failed, reason, engine_version, samples, seconds, and
with --repeat R, run_to_run: the first chunk run R more times in the same session, the number
of distinct output digests (common.digest) and the first digest.
"""

import argparse
import json
import os
import sys
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import common  # noqa: E402
import numpy as np  # noqa: E402


def run_chunks(fn, x, chunk, symbolic):
    outs = []
    for i in range(0, len(x), chunk):
        part = x[i:i + chunk]
        n = len(part)
        if n < chunk and not symbolic:
            pad = np.zeros((chunk - n,) + part.shape[1:], dtype=part.dtype)
            part = np.concatenate([part, pad])
        y = np.asarray(fn(part), dtype=np.float32)
        outs.append(y[:n])
    return np.concatenate(outs)


def ort_runner(args, doc):
    import onnxruntime as ort
    doc["engine_version"] = ort.__version__
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.intra_op_num_threads = args.threads
    so.inter_op_num_threads = 1
    providers = ["CPUExecutionProvider"]
    if args.device == "cuda":
        import ort_driver
        providers = ort_driver.cuda_providers(ort)
    sess = ort.InferenceSession(args.model, sess_options=so, providers=providers)
    name = sess.get_inputs()[0].name
    out = sess.get_outputs()[0].name
    return lambda x: sess.run([out], {name: x})[0]


def openvino_runner(args, doc):
    import openvino as ov
    import openvino_driver
    doc["engine_version"] = openvino_driver.version(ov)
    batch = None
    if args.symbolic_batch:
        # a compiled model has one shape: the batch is the chunk, a shorter last chunk is padded
        # (its outputs dropped) as for a model whose batch is fixed
        batch = max(1, args.chunk)
        args.symbolic_batch = False
    compiled, _, chosen, _ = openvino_driver.compile_model(ov, args.model, args.threads,
                                                           args.precision, batch=batch)
    doc["inference_precision"] = chosen
    doc["note"] = openvino_driver.precision_note(args.precision, chosen)
    req = compiled.create_infer_request()
    name = compiled.inputs[0].get_any_name()

    def fn(part):
        req.infer({name: np.ascontiguousarray(part)})
        return np.array(req.get_output_tensor(0).data, copy=True)
    return fn


def torch_runner(args, doc):
    import torch
    import onnx_torch
    import torch_driver
    doc["engine_version"] = torch.__version__
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    dev = torch.device(args.device)
    dtype = {"fp32": torch.float32, "fp16": torch.float16,
             "bf16": torch.bfloat16}[args.torch_precision]
    graph = onnx_torch.read_graph(args.model)
    name = [n for n, _, _ in graph.inputs if n not in graph.inits][0]
    modules = {}

    def fn(x):
        # shapes are folded at conversion: one module per chunk shape (a shorter last chunk)
        key = tuple(x.shape)
        if key not in modules:
            modules[key] = onnx_torch.convert(graph, {name: key}).to(dev, dtype)
        with torch.inference_mode():
            xt = torch.from_numpy(x).to(dev)
            y = torch_driver.as_list(modules[key](xt.to(dtype) if xt.is_floating_point()
                                                  else xt))[0]
            return y.float().cpu().numpy()
    return fn


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model")
    ap.add_argument("--engine", choices=("onnxruntime", "openvino", "pytorch"), required=True)
    ap.add_argument("--input", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--chunk", type=int, default=1)
    ap.add_argument("--symbolic-batch", action="store_true")
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    ap.add_argument("--precision", choices=("f32", "default"), default="f32",
                    help="OpenVINO's inference precision: f32, or the plugin's default")
    ap.add_argument("--torch-precision", choices=("fp32", "fp16", "bf16"), default="fp32",
                    help="PyTorch: the module's and inputs' floating-point type")
    ap.add_argument("--repeat", type=int, default=0,
                    help="also run the first chunk R more times and count distinct output digests")
    args = ap.parse_args(argv)
    doc = {"status": "ok", "engine": args.engine, "engine_version": "", "samples": 0}
    try:
        make = {"onnxruntime": ort_runner, "openvino": openvino_runner,
                "pytorch": torch_runner}[args.engine]
        try:
            fn = make(args, doc)
        except ImportError as exc:
            doc.update(status="not_installed",
                       reason="%s: not installed for %s: %s" % (args.engine, sys.executable, exc))
            print(json.dumps(doc))
            return 0
        x = np.load(args.input, allow_pickle=False).astype(np.float32, copy=False)
        t0 = time.perf_counter()
        y = run_chunks(fn, x, max(1, args.chunk), args.symbolic_batch)
        doc["seconds"] = time.perf_counter() - t0
        doc["samples"] = int(len(y))
        np.save(args.out, np.ascontiguousarray(y, dtype=np.float32))
        if args.repeat > 0:
            # run-to-run: the first chunk again, R times in this session, digests of its outputs
            first = x[:max(1, args.chunk)]
            if len(first) < args.chunk and not args.symbolic_batch:
                first = np.concatenate([first, np.zeros((args.chunk - len(first),) + x.shape[1:],
                                                        dtype=x.dtype)])
            digests = [common.digest(np.asarray(fn(first), dtype=np.float32))
                       for _ in range(args.repeat)]
            doc["run_to_run"] = {"runs": args.repeat, "distinct_outputs": len(set(digests)),
                                 "first_digest": digests[0]}
    except Exception as exc:  # the document says what failed
        traceback.print_exc(file=sys.stderr)
        doc.update(status="failed", reason="%s: %s" % (type(exc).__name__, exc))
    print(json.dumps(doc))
    return 0 if doc["status"] != "failed" else 4


if __name__ == "__main__":
    sys.exit(main())
