#!/usr/bin/env python3
"""ort_driver.py - benchmarks an ONNX model with ONNX Runtime (CPU execution provider, or CUDA's with --device cuda) and prints one lucid-bench/1 JSON document.

Usage (the peers' python, bench/setup_peers.sh makes it: .venv-peers/bin/python3):

    python3 bench/peers/ort_driver.py MODEL [--warmup MS] [--iterations N] [--duration S]
        [--threads N] [--device cpu|cuda] [--input NAME=FILE.npy ...] [--seed N]
        [--save-outputs DIR] [--json]

Session: CPUExecutionProvider (with --device cuda: CUDAExecutionProvider, then the CPU's for
what it does not take; an ONNX Runtime without it is "not_installed"), graph_optimization_level ORT_ENABLE_ALL,
intra_op_num_threads = --threads (0 = all cores, ORT's own default, which the document
reports as os.cpu_count(); ORT picks the physical cores), inter_op_num_threads 1, ORT_SEQUENTIAL execution. Inputs not
given by --input get lucid's seeded random values (bench/peers/common.py; symbolic
dimensions are set to 1, as lucid does). Timing, statistics and the document follow lucid
bench (warm-up by time, then at least N runs and S seconds). engine "onnxruntime",
config "cpu-all-opts". Without onnxruntime the document has status "not_installed".
"""

import os
import sys
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402

import numpy as np  # noqa: E402

ORT_TYPES = {"tensor(float)": "float32", "tensor(double)": "float64", "tensor(float16)": "float16",
             "tensor(int8)": "int8", "tensor(int16)": "int16", "tensor(int32)": "int32",
             "tensor(int64)": "int64", "tensor(uint8)": "uint8", "tensor(uint16)": "uint16",
             "tensor(uint32)": "uint32", "tensor(uint64)": "uint64", "tensor(bool)": "bool"}


def main(argv=None):
    ap = common.new_parser(__doc__)
    common.add_bench_flags(ap)
    ap.add_argument("--device", choices=("cpu", "cuda"), default="cpu",
                    help="cuda: the CUDA execution provider (ONNX Runtime built with it)")
    args = ap.parse_args(argv)
    common.check_bench_flags(ap, args)
    doc = common.base_document("onnxruntime", "cuda" if args.device == "cuda" else
                               "cpu-all-opts", args, device=args.device)
    try:
        import onnxruntime as ort
    except ImportError as exc:
        return common.emit(common.unavailable(
            doc, "not_installed", "onnxruntime: not installed for %s: %s (bench/setup_peers.sh "
            "installs it)" % (sys.executable, exc)))
    doc["engine_version"] = ort.__version__
    if args.device == "cuda" and "CUDAExecutionProvider" not in ort.get_available_providers():
        return common.emit(common.unavailable(
            doc, "not_installed", "onnxruntime %s has no CUDA execution provider (its providers: "
            "%s); the onnxruntime-gpu package has it" % (ort.__version__,
                                                         ", ".join(ort.get_available_providers()))))
    try:
        run_benchmark(ort, args, doc)
    except Exception as exc:  # the document says what failed instead of a bare traceback
        traceback.print_exc(file=sys.stderr)
        common.unavailable(doc, "failed", "%s: %s" % (type(exc).__name__, exc))
    return common.emit(doc)


def cuda_providers(ort):
    """The CUDA execution provider first, the CPU's for what it does not take."""
    return ["CUDAExecutionProvider", "CPUExecutionProvider"]


def run_benchmark(ort, args, doc):
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.intra_op_num_threads = args.threads
    so.inter_op_num_threads = 1
    providers = cuda_providers(ort) if args.device == "cuda" else ["CPUExecutionProvider"]
    sess = ort.InferenceSession(args.model, sess_options=so, providers=providers)
    if args.device == "cuda" and sess.get_providers()[0] != "CUDAExecutionProvider":
        raise RuntimeError("the CUDA execution provider did not load (session providers: %s)"
                           % ", ".join(sess.get_providers()))
    threads = args.threads if args.threads > 0 else (os.cpu_count() or 1)
    doc["threads_used"] = threads

    meta = sess.get_inputs()
    given = common.parse_input_flags(args.input, [m.name for m in meta])
    feeds = {}
    for m in meta:
        dtype = ORT_TYPES.get(m.type)
        if m.name in given:
            a = given[m.name]
            if dtype and a.dtype != np.dtype(dtype):
                raise ValueError("input '%s': file has dtype %s, the model wants %s"
                                 % (m.name, a.dtype, dtype))
            feeds[m.name] = np.ascontiguousarray(a)
        else:
            if dtype is None:
                raise ValueError("input '%s': no random generator for %s" % (m.name, m.type))
            shape = [d if isinstance(d, int) and d >= 0 else 1 for d in m.shape]
            feeds[m.name] = common.random_input(m.name, dtype, shape, args.seed)
    doc["inputs"] = [dict(common.io_desc(m.name, feeds[m.name]),
                          source=common.input_source(args.input, m.name)) for m in meta]
    first = feeds[meta[0].name] if meta else None
    batch = int(first.shape[0]) if first is not None and first.ndim > 0 else 1

    names = [o.name for o in sess.get_outputs()]
    last = [None]

    def run():
        last[0] = sess.run(names, feeds)

    common.fill_timing(doc, common.bench_loop(run, args.warmup, args.iterations, args.duration),
                       batch)
    common.fill_outputs(doc, list(zip(names, last[0])), args.save_outputs)


if __name__ == "__main__":
    sys.exit(main())
