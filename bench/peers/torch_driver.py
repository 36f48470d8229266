#!/usr/bin/env python3
"""torch_driver.py - benchmarks the PyTorch model an ONNX file was made from (rebuilt from its definition, not from ONNX) and prints one lucid-bench/1 JSON document.

Usage (a python3 with torch and numpy: Debian's /usr/bin/python3 here, torch 1.13 on CPU;
the GPU machine's python3, torch 2.x with CUDA):

    python3 bench/peers/torch_driver.py MODEL [--device cpu|cuda] [--precision fp32|fp16|bf16]
        [--mode eager|compile-default|compile-reduce-overhead|compile-max-autotune]
        [--batch N] [--arch zoo:NAME|fashion:NAME] [--allow-mismatch]
        [--warmup MS] [--iterations N] [--duration S] [--threads N]
        [--input NAME=FILE.npy ...] [--seed N] [--save-outputs DIR] [--json]

Which model: MODEL's folder name picks it (--arch overrides):

- the zoo (models/export_zoo.py, folders <cache>/<name>/model.onnx): the module is built
  by export_zoo's own constructor table ZOO with export_one's seeding (torch.manual_seed(seed),
  constructor, BatchNorm statistics from a generator seeded seed + 1000, eval mode), so the
  weights are the ones exported. The exported ONNX has Conv+BN folded, so its initializers
  cannot be mapped back; equivalence is checked instead by running the rebuilt model in
  fp32 on the CPU on the folder's input.npy and comparing with output.npy (and output2.npy).
- Fashion-MNIST (models/train_fashion.py, folders models/fashion/<name>/model.onnx): the
  module comes from train_fashion.build(name). Weights: <folder>/weights.pt (a state_dict)
  when the trainer saved one; otherwise the ONNX initializers, read by onnx_lite.py and
  assigned by name (the exporter keeps state_dict names when BatchNorm is preserved; it
  stores parameters with equal values once and names the others through Identity nodes,
  which count as names), and any left over by order among tensors of equal shape. Checked
  against ref_logits.npy for the first 10 images of ref_input.npy.

A check that fails (max |difference| > 1e-3 * max(1, max |reference|)) makes the document
"failed" unless --allow-mismatch; the result is in "equivalence" either way.

Timing: torch.inference_mode; each timed run is host wall time of one inference as
trtexec's host latency: copy the inputs to the device, forward, copy the outputs back,
torch.cuda.synchronize() (on the CPU the copies are no-ops). Compiled modes run once
before the warm-up so compilation is not timed ("first_run_s" records it). Warm-up,
iteration/duration rule and statistics follow lucid bench. Inputs not given by --input get
lucid's seeded random values at the ONNX input's shape (first dimension = --batch when
given). fp16/bf16 convert the module and inputs; bf16 outputs are widened to float32 for
the digest (numpy has no bfloat16). torch.compile needs PyTorch 2.x: on 1.x the document is
"not_installed" with the reason.
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


def main(argv=None):
    ap = common.new_parser(__doc__)
    common.add_bench_flags(ap)
    ap.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    ap.add_argument("--precision", choices=PRECISIONS, default="fp32")
    ap.add_argument("--mode", choices=MODES, default="eager")
    ap.add_argument("--batch", type=int, default=0,
                    help="batch size of random inputs (default: the ONNX input's)")
    ap.add_argument("--arch", default="", help="zoo:NAME or fashion:NAME (default: from MODEL's folder)")
    ap.add_argument("--host-input", choices=("model", "float32"), default="model",
                    help="the host copy of a floating-point input: in the model's precision "
                         "(default; fp16 runs copy 16-bit data) or float32, cast on the device "
                         "after the copy, as lucid's engine boundary takes it")
    ap.add_argument("--allow-mismatch", action="store_true",
                    help="benchmark even if the rebuilt model's outputs differ from the references")
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

    fam, name = identify(args.model, args.arch)
    folder = os.path.dirname(os.path.abspath(args.model))
    t0 = time.perf_counter()
    if fam == "zoo":
        model, eq = build_zoo(torch, name, folder)
    else:
        model, eq = build_fashion(torch, name, folder, args.model)
    doc["architecture"] = "%s:%s" % (fam, name)
    doc["equivalence"] = eq
    doc["build_s"] = time.perf_counter() - t0
    if eq.get("ok") is False and not args.allow_mismatch:
        raise RuntimeError("the rebuilt %s:%s differs from its reference (max abs diff %g); "
                           "--allow-mismatch benchmarks it anyway" % (fam, name, eq["max_abs_diff"]))

    meta = onnx_lite.read_model(args.model, with_initializers=False)
    in_names = [i["name"] for i in meta["inputs"]]
    out_names = [o["name"] for o in meta["outputs"]]
    given = common.parse_input_flags(args.input, in_names)
    host = []
    for i in meta["inputs"]:
        if i["name"] in given:
            host.append(np.ascontiguousarray(given[i["name"]]))
            continue
        shape = [d if isinstance(d, int) and d >= 0 else 1 for d in (i["shape"] or [])]
        if args.batch and shape:
            shape[0] = args.batch
        host.append(common.random_input(i["name"], i["dtype"], shape, args.seed))
    doc["batch"] = int(host[0].shape[0]) if host and host[0].ndim else 1

    dtype = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}[args.precision]
    dev = torch.device(args.device)
    model = model.to(dev, dtype)
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
