#!/usr/bin/env python3
"""torch_driver.py - benchmarks an ONNX model in PyTorch, as the torch.nn.Module onnx_torch.py builds from the ONNX file itself, and prints one lucid-bench/1 JSON document.

Usage (a python3 with torch and numpy: Debian's /usr/bin/python3 here, torch 1.13 on CPU;
the GPU machine's python3, torch 2.x with CUDA):

    python3 bench/peers/torch_driver.py MODEL [--device cpu|cuda] [--precision fp32|fp16|bf16]
        [--mode eager|compile-default|compile-reduce-overhead|compile-max-autotune]
        [--batch N] [--shape NAME=DIMS ...] [--arch zoo:NAME|fashion:NAME] [--allow-mismatch]
        [--warmup MS] [--iterations N] [--duration S] [--threads N]
        [--input NAME=FILE.npy ...] [--seed N] [--save-outputs DIR] [--json]

The module: onnx_torch.convert(MODEL) for any model lucid runs (the user's own as well as the
zoo): initializers become buffers, the graph runs node by node, and values computed from
shapes are folded for the input shapes of this run (from --input files, else --shape
NAME=DIMS as lucid's flag, e.g. input=1x3x224x224, else the model's fixed dimensions with 1 for
symbolic ones and --batch for the first). `lucid characterize` passes its inputs as --input
files, so the peer runs the shapes lucid runs.

Equivalence before timing: the module runs in fp32 on the CPU on this run's inputs and ONNX
Runtime (CPU, all optimizations) on the same inputs; when any output differs by more than
1e-5 times the largest magnitude of ONNX Runtime's output, the document is "failed" with the
output's name and the numbers, and nothing is timed (--allow-mismatch times it anyway).
Without onnxruntime the check is recorded as not made ("equivalence".ok null) and the run
goes on. The result is in "equivalence" either way.

--arch zoo:NAME|fashion:NAME times the PyTorch definition instead (export_zoo's constructor
with its seeds, or train_fashion.build with the ONNX or saved weights), checked against the
outputs stored beside the model within 1e-3; it is kept to cross-check the converter against
the networks the ONNX files were exported from (tests/test_onnx_torch.py).

Timing: torch.inference_mode; each timed run is host wall time of one inference as
trtexec's host latency: copy the inputs to the device, forward, copy the outputs back,
torch.cuda.synchronize() (on the CPU the copies are no-ops). Compiled modes run once
before the warm-up so compilation is not timed ("first_run_s" records it). Warm-up,
iteration/duration rule and statistics follow lucid bench. Inputs not given by --input get
lucid's seeded random values. fp16/bf16 convert the module and inputs; bf16 outputs are
widened to float32 for the digest (numpy has no bfloat16). torch.compile needs PyTorch 2.x:
on 1.x the document is "not_installed" with the reason.
"""

import os
import sys
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
import common  # noqa: E402
import onnx_lite  # noqa: E402

EQUIV_RTOL = 1e-5  # the converter against ONNX Runtime, relative to the largest output magnitude

import numpy as np  # noqa: E402

MODES = ("eager", "compile-default", "compile-reduce-overhead", "compile-max-autotune")
PRECISIONS = ("fp32", "fp16", "bf16")


def import_models_module(name):
    """Imports models/<name>.py. export_zoo.py exits at import when the onnx package is
    missing, though it needs onnx only to export; a bare module stands in for it then."""
    models_dir = os.path.join(REPO, "models")
    if models_dir not in sys.path:
        sys.path.insert(0, models_dir)
    if name == "export_zoo":
        try:
            import onnx  # noqa: F401
        except ImportError:
            import types
            sys.modules["onnx"] = types.ModuleType("onnx")
    return __import__(name)


def identify(model_path, arch):
    """Returns (family, name) for --arch or the model's folder."""
    if arch:
        if ":" not in arch:
            raise ValueError("--arch wants zoo:NAME or fashion:NAME, got '%s'" % arch)
        fam, name = arch.split(":", 1)
        if fam not in ("zoo", "fashion"):
            raise ValueError("--arch family must be zoo or fashion, got '%s'" % fam)
        return fam, name
    name = os.path.basename(os.path.dirname(os.path.abspath(model_path)))
    tf = import_models_module("train_fashion")
    if name in tf.MODELS and os.path.basename(os.path.dirname(
            os.path.dirname(os.path.abspath(model_path)))) == "fashion":
        return "fashion", name
    ez = import_models_module("export_zoo")
    if name in ez.ZOO:
        return "zoo", name
    if name in tf.MODELS:
        return "fashion", name
    raise ValueError("cannot tell which model %s is: its folder '%s' is neither a zoo model "
                     "(%s) nor a Fashion-MNIST model (%s); use --arch"
                     % (model_path, name, ", ".join(ez.ZOO), ", ".join(tf.MODELS)))


def close_enough(out, ref):
    diff = float(np.max(np.abs(out.astype(np.float64) - ref.astype(np.float64)))) if ref.size else 0.0
    tol = 1e-3 * max(1.0, float(np.max(np.abs(ref))) if ref.size else 1.0)
    return diff, tol


def as_list(y):
    return list(y) if isinstance(y, (tuple, list)) else [y]


def build_zoo(torch, name, folder):
    ez = import_models_module("export_zoo")
    if name not in ez.ZOO:
        raise ValueError("'%s' is not in export_zoo.ZOO (%s)" % (name, ", ".join(ez.ZOO)))
    ctor, _side, seed = ez.ZOO[name]
    torch.manual_seed(seed)
    model = ctor()
    gen = torch.Generator().manual_seed(seed + 1000)
    with torch.no_grad():
        ez.randomize_batchnorm(model, gen)
    model.eval()
    eq = {"method": "export_zoo.ZOO constructor with export_one's seeds"}
    x_path = os.path.join(folder, "input.npy")
    refs = [os.path.join(folder, "output.npy")]
    k = 2
    while os.path.exists(os.path.join(folder, "output%d.npy" % k)):
        refs.append(os.path.join(folder, "output%d.npy" % k))
        k += 1
    if os.path.exists(x_path) and os.path.exists(refs[0]):
        with torch.inference_mode():
            outs = as_list(model(torch.from_numpy(np.load(x_path))))
        diffs = []
        ok = len(outs) == len(refs)
        for o, r in zip(outs, refs):
            d, tol = close_enough(o.numpy(), np.load(r))
            diffs.append(d)
            ok = ok and d <= tol
        eq.update(reference=[os.path.basename(r) for r in refs], max_abs_diff=max(diffs), ok=ok)
    else:
        eq.update(reference=None, ok=None, note="no input.npy/output.npy next to the model")
    return model, eq


def load_onnx_weights(torch, model, onnx_path):
    """Assigns ONNX initializers to the module's parameters and buffers: by name first,
    then the rest in order among tensors of equal shape. Returns a description."""
    meta = onnx_lite.read_model(onnx_path)
    inits = meta["initializers"]
    state = model.state_dict()
    targets = [k for k, v in state.items()
               if not k.endswith("num_batches_tracked") and v.dtype.is_floating_point]
    by_name = {n: a for n, a in inits}
    # equal parameters are stored once; Identity nodes give the others their names
    for alias, src in meta["aliases"].items():
        by_name.setdefault(alias, by_name[src])
    new, used = {}, set()
    for k in targets:
        a = by_name.get(k)
        if a is not None and tuple(a.shape) == tuple(state[k].shape):
            new[k] = a
            used.add(k)
    rest = [(n, a) for n, a in inits if n not in used]
    matched_by_name = len(new)
    for k in targets:
        if k in new:
            continue
        for i, (n, a) in enumerate(rest):
            if tuple(a.shape) == tuple(state[k].shape):
                new[k] = a
                del rest[i]
                break
        else:
            raise ValueError("no ONNX initializer left for %s %s" % (k, tuple(state[k].shape)))
    with torch.no_grad():
        for k, a in new.items():
            state[k].copy_(torch.from_numpy(np.array(a, dtype=np.float32)))
    return "ONNX initializers: %d by name, %d by order and shape" % (
        matched_by_name, len(new) - matched_by_name)


def build_fashion(torch, name, folder, onnx_path):
    tf = import_models_module("train_fashion")
    if name not in tf.MODELS:
        raise ValueError("'%s' is not in train_fashion.MODELS (%s)" % (name, ", ".join(tf.MODELS)))
    model = tf.build(name)
    wpath = os.path.join(folder, "weights.pt")
    if os.path.exists(wpath):
        sd = torch.load(wpath, map_location="cpu")
        if isinstance(sd, dict) and "state_dict" in sd:
            sd = sd["state_dict"]
        model.load_state_dict(sd)
        how = "state_dict " + wpath
    else:
        how = load_onnx_weights(torch, model, onnx_path)
    model.eval()
    eq = {"method": "train_fashion.build + " + how}
    xp, rp = os.path.join(folder, "ref_input.npy"), os.path.join(folder, "ref_logits.npy")
    if os.path.exists(xp) and os.path.exists(rp):
        x, ref = np.load(xp)[:10], np.load(rp)[:10]
        with torch.inference_mode():
            out = np.concatenate([model(torch.from_numpy(x[i:i + 1])).numpy()
                                  for i in range(len(x))])
        d, tol = close_enough(out, ref)
        eq.update(reference="ref_logits.npy (first %d images)" % len(x), max_abs_diff=d,
                  ok=d <= tol)
    else:
        eq.update(reference=None, ok=None, note="no ref_input.npy/ref_logits.npy next to the model")
    return model, eq


def parse_shapes(flags, known_names):
    """--shape NAME=DIMS list (DIMS as lucid's: 1x3x224x224) -> {name: [dims]}."""
    out = {}
    for f in flags:
        name, sep, dims = f.rpartition("=")
        if not sep or not name:
            raise ValueError("--shape %s: expected NAME=DIMS (e.g. input=1x3x224x224)" % f)
        if name not in known_names:
            raise ValueError("--shape %s: the model has no input '%s' (inputs: %s)"
                             % (f, name, ", ".join(known_names)))
        if name in out:
            raise ValueError("--shape: input '%s' given twice" % name)
        try:
            d = [int(v) for v in dims.split("x")] if dims else []
        except ValueError:
            raise ValueError("--shape %s: dimensions must be integers separated by x" % f)
        if any(v < 1 for v in d):
            raise ValueError("--shape %s: dimensions must be >= 1" % f)
        out[name] = d
    return out


def make_inputs(meta, args):
    """The host arrays of this run, in the model's input order: --input files, else lucid's
    seeded random values at --shape, the model's fixed dimensions (1 for symbolic ones) and
    --batch for the first dimension."""
    in_names = [i["name"] for i in meta["inputs"]]
    given = common.parse_input_flags(args.input, in_names)
    shapes = parse_shapes(args.shape, in_names)
    host = []
    for i in meta["inputs"]:
        if i["name"] in given:
            host.append(np.ascontiguousarray(given[i["name"]]))
            continue
        if i["name"] in shapes:
            shape = shapes[i["name"]]
            fixed = i["shape"] or []
            if len(shape) != len(fixed) or any(isinstance(d, int) and d > 0 and d != v
                                               for d, v in zip(fixed, shape)):
                raise ValueError("--shape %s=%s does not fit the model's input %s" % (
                    i["name"], "x".join(map(str, shape)), fixed))
        else:
            shape = [d if isinstance(d, int) and d > 0 else 1 for d in (i["shape"] or [])]
            if args.batch and shape:
                shape[0] = args.batch
        host.append(common.random_input(i["name"], i["dtype"], shape, args.seed))
    return in_names, host


def ort_outputs(model_path, in_names, host):
    """ONNX Runtime's outputs (CPU, all graph optimizations) on host, or None with the reason
    when onnxruntime is not installed."""
    try:
        import onnxruntime as ort
    except ImportError as exc:
        return None, "onnxruntime not installed for %s (%s)" % (sys.executable, exc)
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    sess = ort.InferenceSession(model_path, sess_options=so, providers=["CPUExecutionProvider"])
    return sess.run(None, dict(zip(in_names, host))), "onnxruntime %s" % ort.__version__


def check_equivalence(torch, module, model_path, in_names, host, out_names):
    """The converted module (fp32, CPU) against ONNX Runtime on the same inputs: per output
    max |difference| and that over the largest |reference|; ok when every relative error is
    <= EQUIV_RTOL. ok is None when ONNX Runtime is missing."""
    refs, how = ort_outputs(model_path, in_names, host)
    eq = {"method": "onnx_torch module (fp32, CPU) against ONNX Runtime on this run's inputs",
          "reference": how, "tolerance": EQUIV_RTOL}
    if refs is None:
        eq.update(ok=None, note="not checked: " + how)
        return eq
    with torch.inference_mode():
        ys = as_list(module(*[torch.from_numpy(a) for a in host]))
    per, ok, worst = [], len(ys) == len(refs), None
    for name, y, r in zip(out_names, ys, refs):
        y = y.numpy().astype(np.float64)
        r = np.asarray(r).astype(np.float64)
        if y.shape != r.shape:
            per.append({"name": name, "shape": list(y.shape), "reference_shape": list(r.shape)})
            ok = False
            continue
        diff = float(np.max(np.abs(y - r))) if r.size else 0.0
        scale = float(np.max(np.abs(r))) if r.size else 0.0
        rel = diff / scale if scale > 0 else diff
        per.append({"name": name, "max_abs_diff": diff, "max_abs_reference": scale,
                    "relative": rel})
        if not rel <= EQUIV_RTOL:
            ok = False
        if worst is None or not rel <= worst["relative"]:
            worst = per[-1]
    eq.update(ok=ok, outputs=per, max_relative=worst["relative"] if worst else None)
    if len(ys) != len(refs):
        eq["note"] = "the module gives %d outputs, ONNX Runtime %d" % (len(ys), len(refs))
    return eq


def mismatch_text(eq):
    bad = [o for o in eq.get("outputs", []) if not o.get("relative", 1.0) <= eq["tolerance"]]
    if not bad:
        return eq.get("note", "outputs differ")
    o = bad[0]
    if "relative" not in o:
        return "output '%s' has shape %s, ONNX Runtime's %s" % (o["name"], o["shape"],
                                                                 o["reference_shape"])
    return ("output '%s' differs from ONNX Runtime's by %.3g (max |reference| %.3g, relative "
            "%.3g > %g)" % (o["name"], o["max_abs_diff"], o["max_abs_reference"],
                            o["relative"], eq["tolerance"]))


def main(argv=None):
    ap = common.new_parser(__doc__)
    common.add_bench_flags(ap)
    ap.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    ap.add_argument("--precision", choices=PRECISIONS, default="fp32")
    ap.add_argument("--mode", choices=MODES, default="eager")
    ap.add_argument("--batch", type=int, default=0,
                    help="batch size of random inputs (default: the ONNX input's)")
    ap.add_argument("--shape", action="append", default=[], metavar="NAME=DIMS",
                    help="fix input NAME's shape for random inputs, as lucid's --shape "
                         "(e.g. input=1x3x224x224; repeatable)")
    ap.add_argument("--arch", default="", help="time the PyTorch definition zoo:NAME or "
                    "fashion:NAME instead of the module converted from MODEL")
    ap.add_argument("--host-input", choices=("model", "float32"), default="model",
                    help="the host copy of a floating-point input: in the model's precision "
                         "(default; fp16 runs copy 16-bit data) or float32, cast on the device "
                         "after the copy, as lucid's engine boundary takes it")
    ap.add_argument("--allow-mismatch", action="store_true",
                    help="benchmark even if the module's outputs differ from the reference")
    args = ap.parse_args(argv)
    common.check_bench_flags(ap, args)
    if args.batch < 0:
        ap.error("--batch must be >= 1")
    engine = "pytorch" if args.mode == "eager" else "torch.compile"
    doc = common.base_document(engine, "%s-%s" % (args.mode, args.precision), args,
                               device=args.device)
    doc["timing"] = ("host latency: inputs copied to the device, forward, outputs copied back, "
                     "torch.cuda.synchronize() per run" if args.device == "cuda" else
                     "wall time of one forward call per run")
    try:
        import torch
    except ImportError as exc:
        return common.emit(common.unavailable(
            doc, "not_installed", "torch: not installed for %s: %s" % (sys.executable, exc)))
    doc["engine_version"] = torch.__version__
    if args.mode != "eager" and not hasattr(torch, "compile"):
        return common.emit(common.unavailable(
            doc, "not_installed", "torch.compile needs PyTorch 2.x; this is torch %s"
            % torch.__version__))
    if args.device == "cuda":
        if not torch.cuda.is_available():
            return common.emit(common.unavailable(
                doc, "not_installed", "torch %s sees no CUDA device (torch.cuda.is_available() "
                "is False)" % torch.__version__))
        doc["device_name"] = torch.cuda.get_device_name(0)
    try:
        run_benchmark(torch, args, doc)
    except Exception as exc:
        traceback.print_exc(file=sys.stderr)
        common.unavailable(doc, "failed", "%s: %s" % (type(exc).__name__, exc))
    return common.emit(doc)


def run_benchmark(torch, args, doc):
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    doc["threads_used"] = torch.get_num_threads()
    try:
        import torchvision
        doc["torchvision_version"] = torchvision.__version__
    except ImportError:
        pass

    meta = onnx_lite.read_model(args.model, with_initializers=False)
    out_names = [o["name"] for o in meta["outputs"]]
    in_names, host = make_inputs(meta, args)
    doc["batch"] = int(host[0].shape[0]) if host and host[0].ndim else 1
    t0 = time.perf_counter()
    if args.arch:
        fam, name = identify(args.model, args.arch)
        folder = os.path.dirname(os.path.abspath(args.model))
        if fam == "zoo":
            model, eq = build_zoo(torch, name, folder)
        else:
            model, eq = build_fashion(torch, name, folder, args.model)
        doc["architecture"] = "%s:%s" % (fam, name)
        doc["build_s"] = time.perf_counter() - t0
        doc["equivalence"] = eq
        if eq.get("ok") is False and not args.allow_mismatch:
            raise RuntimeError("the rebuilt %s:%s differs from its reference (max abs diff %g); "
                               "--allow-mismatch benchmarks it anyway"
                               % (fam, name, eq["max_abs_diff"]))
    else:
        import onnx_torch
        model = onnx_torch.convert(args.model, {n: a.shape for n, a in zip(in_names, host)})
        doc["architecture"] = "onnx_torch"
        doc["build_s"] = time.perf_counter() - t0
        doc["converter"] = {"reader": model.reader, "nodes": model.n_nodes,
                            "folded": model.n_folded}
        eq = check_equivalence(torch, model, args.model, in_names, host, out_names)
        doc["equivalence"] = eq
        if eq["ok"] is False and not args.allow_mismatch:
            doc["status"] = "failed"
            doc["reason"] = ("not timed: the converted module does not match ONNX Runtime: %s "
                             "(--allow-mismatch times it anyway)" % mismatch_text(eq))
            return
        if eq["ok"] is None:
            doc["note"] = "PyTorch module not checked against ONNX Runtime: " + eq["note"][13:]

    dtype = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}[args.precision]
    dev = torch.device(args.device)
    model = model.to(dev, dtype)
    if hasattr(model, "float_dtype"):
        model.float_dtype = dtype
    xs_host = []
    for a in host:
        t = torch.from_numpy(a)
        if t.is_floating_point() and args.host_input == "model":
            t = t.to(dtype)
        if args.device == "cuda":
            t = t.pin_memory()
        xs_host.append(t)
    doc["inputs"] = [{"name": n, "dtype": str(t.dtype).replace("torch.", ""),
                      "shape": list(t.shape),
                      "source": next((f[len(n) + 1:] for f in args.input if f.startswith(n + "=")),
                                     "random")} for n, t in zip(in_names, xs_host)]

    fn = model
    if args.mode != "eager":
        kw = {"compile-default": {}, "compile-reduce-overhead": {"mode": "reduce-overhead"},
              "compile-max-autotune": {"mode": "max-autotune"}}[args.mode]
        fn = torch.compile(model, **kw)
    mark_step = None
    if args.mode == "compile-reduce-overhead" and hasattr(torch, "compiler") and \
            hasattr(torch.compiler, "cudagraph_mark_step_begin"):
        mark_step = torch.compiler.cudagraph_mark_step_begin
    cuda = args.device == "cuda"
    last = [None]

    def run():
        if mark_step:
            mark_step()
        xs = [t.to(dev, non_blocking=True) for t in xs_host] if cuda else xs_host
        if args.host_input == "float32":
            xs = [t.to(dtype) if t.is_floating_point() else t for t in xs]
        ys = [y.to("cpu", non_blocking=False) if cuda else y for y in as_list(fn(*xs))]
        if cuda:
            torch.cuda.synchronize()
        last[0] = ys

    with torch.inference_mode():
        if args.mode != "eager":
            t0 = time.perf_counter()
            run()
            doc["first_run_s"] = time.perf_counter() - t0
        loop = common.bench_loop(run, args.warmup, args.iterations, args.duration)
    common.fill_timing(doc, loop, doc["batch"])
    outs = []
    for n, y in zip(out_names + ["output_%d" % k for k in range(len(out_names), len(last[0]))],
                    last[0]):
        y = y.detach().cpu()
        if y.dtype == torch.bfloat16:
            y = y.float()
        outs.append((n, y.numpy()))
    common.fill_outputs(doc, outs, args.save_outputs)


if __name__ == "__main__":
    sys.exit(main())
