#!/usr/bin/env python3
"""openvino_driver.py - benchmarks an ONNX model with OpenVINO's CPU plugin and prints one lucid-bench/1 JSON document.

Usage (the peers' python, bench/setup_peers.sh makes it: .venv-peers/bin/python3):

    python3 bench/peers/openvino_driver.py MODEL [--precision f32|default] [--warmup MS]
        [--iterations N] [--duration S] [--threads N] [--input NAME=FILE.npy ...] [--seed N]
        [--save-outputs DIR] [--json]

The model is read from the ONNX file by OpenVINO's own frontend and compiled for "CPU" with
PERFORMANCE_HINT LATENCY (one stream: the SingleStream scenario lucid measures, one
synchronous request at a time) and INFERENCE_NUM_THREADS = --threads (0 = OpenVINO's own
default). Two configs:

- "cpu-fp32" (--precision f32): INFERENCE_PRECISION_HINT f32, every layer computes in FP32:
  the comparison with lucid's and ONNX Runtime's FP32 numbers;
- "cpu-default" (--precision default): no precision hint, OpenVINO's default for the CPU,
  which is BF16 on CPUs with AMX or AVX-512 BF16 and FP32 elsewhere. The precision it chose
  is read back from the compiled model and given as "inference_precision" and in "note".

Inputs and outputs stay FP32 in both. Symbolic dimensions are set to 1, or to the shape of
the --input file (as lucid does); inputs not given by --input get lucid's seeded random values
(bench/peers/common.py). Timing, statistics and the document follow lucid bench (warm-up by
time, then at least N runs and S seconds). engine "openvino". Without openvino the document
has status "not_installed" and a reason naming the interpreter.
"""

import os
import sys
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import common  # noqa: E402

import numpy as np  # noqa: E402

CONFIGS = {"f32": "cpu-fp32", "default": "cpu-default"}


def not_installed_reason(exc):
    """The reason a missing OpenVINO gives, the same words in every driver."""
    return "openvino: not installed for %s: %s (bench/setup_peers.sh installs it)" % (
        sys.executable, exc)


def version(ov):
    return getattr(ov, "__version__", "") or ov.get_version()


def compile_model(ov, path, threads, precision, shapes=None, batch=None):
    """Reads the ONNX file and compiles it for the CPU plugin as the module docstring says.

    shapes: {input name: shape} to fix; batch: the first input's first dimension when it is
    symbolic; other symbolic dimensions are set to 1.
    Returns (compiled model, property dict as set, inference precision chosen, threads used).
    """
    core = ov.Core()
    model = core.read_model(path)
    shapes = dict(shapes or {})
    new_shapes, changed = {}, False
    for index, port in enumerate(model.inputs):
        name = port.get_any_name()
        ps = port.get_partial_shape()
        if name in shapes:
            want = [int(d) for d in shapes[name]]
        elif ps.is_dynamic:
            want = [d.get_length() if d.is_static else 1 for d in ps]
            # (model.inputs makes new port objects at every call: the first input is index 0)
            if batch is not None and index == 0 and len(want) and ps[0].is_dynamic:
                want[0] = int(batch)
        else:
            want = None
        if want is not None:
            if ps.rank.is_static and len(want) != ps.rank.get_length():
                raise ValueError("input '%s': shape %s does not fit the model's %s"
                                 % (name, want, ps))
            for k, d in enumerate(ps):
                if d.is_static and d.get_length() != want[k]:
                    raise ValueError("input '%s': shape %s does not fit the model's %s"
                                     % (name, want, ps))
            new_shapes[name] = want
            changed = changed or ps.is_dynamic
    if changed:
        model.reshape({n: ov.PartialShape(s) for n, s in new_shapes.items()})
    props = {"PERFORMANCE_HINT": "LATENCY"}
    if threads > 0:
        props["INFERENCE_NUM_THREADS"] = int(threads)
    if precision == "f32":
        props["INFERENCE_PRECISION_HINT"] = "f32"
    elif precision != "default":
        raise ValueError("precision '%s': f32 or default" % precision)
    compiled = core.compile_model(model, "CPU", props)
    chosen = compiled.get_property("INFERENCE_PRECISION_HINT")
    chosen = chosen.get_type_name() if hasattr(chosen, "get_type_name") else str(chosen)
    used = int(compiled.get_property("INFERENCE_NUM_THREADS"))
    return compiled, props, chosen, used


def precision_note(precision, chosen):
    if precision == "f32":
        return "inference precision %s (INFERENCE_PRECISION_HINT f32)" % chosen
    return ("inference precision %s: OpenVINO's default on this CPU (no INFERENCE_PRECISION_HINT;"
            " BF16 where the CPU has AMX or AVX-512 BF16)" % chosen)


def run_benchmark(ov, args, doc):
    core = ov.Core()
    names = [p.get_any_name() for p in core.read_model(args.model).inputs]
    given = common.parse_input_flags(args.input, names)
    compiled, _, chosen, used = compile_model(
        ov, args.model, args.threads, args.precision, {n: a.shape for n, a in given.items()})
    doc["threads_used"] = used
    doc["inference_precision"] = chosen
    doc["note"] = precision_note(args.precision, chosen)

    feeds = {}
    for port in compiled.inputs:
        name = port.get_any_name()
        dtype = np.dtype(port.get_element_type().to_dtype())
        shape = [d.get_length() for d in port.get_partial_shape()]
        if name in given:
            a = given[name]
            if a.dtype != dtype:
                raise ValueError("input '%s': file has dtype %s, the model wants %s"
                                 % (name, a.dtype, dtype))
            feeds[name] = np.ascontiguousarray(a)
        else:
            feeds[name] = common.random_input(name, dtype, shape, args.seed)
    doc["inputs"] = [dict(common.io_desc(n, feeds[n]), source=common.input_source(args.input, n))
                     for n in names]
    first = feeds[names[0]] if names else None
    batch = int(first.shape[0]) if first is not None and first.ndim > 0 else 1

    req = compiled.create_infer_request()
    outs = [o.get_any_name() for o in compiled.outputs]

    def run():
        req.infer(feeds)  # synchronous: returns when the outputs are written

    common.fill_timing(doc, common.bench_loop(run, args.warmup, args.iterations, args.duration),
                       batch)
    common.fill_outputs(doc, [(n, np.array(req.get_output_tensor(i).data, copy=True))
                              for i, n in enumerate(outs)], args.save_outputs)


def main(argv=None):
    ap = common.new_parser(__doc__)
    common.add_bench_flags(ap)
    ap.add_argument("--precision", choices=sorted(CONFIGS), default="f32",
                    help="f32 (config cpu-fp32, the default) or default (cpu-default: "
                         "OpenVINO's own choice, BF16 on CPUs with BF16 support)")
    args = ap.parse_args(argv)
    common.check_bench_flags(ap, args)
    doc = common.base_document("openvino", CONFIGS[args.precision], args)
    try:
        import openvino as ov
    except ImportError as exc:
        return common.emit(common.unavailable(doc, "not_installed", not_installed_reason(exc)))
    doc["engine_version"] = version(ov)
    try:
        run_benchmark(ov, args, doc)
    except Exception as exc:  # the document says what failed instead of a bare traceback
        traceback.print_exc(file=sys.stderr)
        common.unavailable(doc, "failed", "%s: %s" % (type(exc).__name__, exc))
    return common.emit(doc)


if __name__ == "__main__":
    sys.exit(main())
