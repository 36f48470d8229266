#!/usr/bin/env python3
"""test_onnx_torch.py - checks bench/peers/onnx_torch.py, the ONNX -> torch.nn.Module converter of the PyTorch peer, and torch_driver.py's equivalence check.

Usage (ctest 'onnx_torch'):

    python3 tests/test_onnx_torch.py [--zoo-cache DIR[,DIR...]] [--zoo NAMES]

Needs torch, onnx and numpy; ONNX Runtime is taken from the first Python that has it
($LUCID_PEERS_PYTHON, .venv-peers/bin/python3): the script re-runs itself there when its own
Python lacks onnxruntime, and without one every check against ONNX Runtime is a SKIP.

Checks:
- every Fashion model (models/fashion/*/model.onnx) and every zoo model found in the cache
  folders (zoo_small exports them; a model not exported is a SKIP with that note): the
  converted module's outputs equal ONNX Runtime's within 1e-5 of the largest magnitude of
  each output, on lucid's seeded random input;
- the cross-check with the networks the files came from: the converted module against
  export_zoo's constructor (the zoo's input.npy) and train_fashion.build (ref_input.npy),
  within 1e-5 relative;
- a network built and exported here (not in the zoo: grouped, dilated and transposed
  convolutions, asymmetric padding, ceil-mode and count_include_pad pooling, Softplus,
  InstanceNorm, PReLU, hard activations, bilinear and nearest resize, split, a flatten
  through Shape/Gather/Concat/Reshape) at opsets 11 and 13 and with a symbolic batch fixed to
  2, against ONNX Runtime; the shape subgraph must be folded;
- the ONNX backend node tests (the onnx package's data) whose ops are all in lucid's list:
  outputs equal the stored ones within 1e-5 relative (exact for integers); a test the
  converter refuses with ConversionError (training mode, types PyTorch lacks) is a SKIP with
  the reason; at least 400 must pass;
- the protobuf reader without the onnx package (onnx_lite) gives bit-identical modules;
- an unsupported op fails naming the op, the node and the opset;
- torch_driver.check_equivalence: the converted module passes, a module with one weight
  perturbed by 1e-3 fails and the reason names the output and the numbers; torch_driver.py
  on the exported network with --shape for the symbolic batch times it (status ok, batch 2).
The last line is "N passed, M failed, K skipped"; the exit code is 1 when anything failed.
"""

import argparse
import glob
import json
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
PEERS = os.path.join(REPO, "bench", "peers")
sys.path.insert(0, PEERS)


def reexec_with_ort():
    """Runs this script under a Python that has onnxruntime, torch and onnx, when this one
    lacks onnxruntime and such a Python exists."""
    try:
        import onnxruntime  # noqa: F401
        return
    except ImportError:
        pass
    if os.environ.get("LUCID_ONNX_TORCH_REEXEC"):
        return
    for py in (os.environ.get("LUCID_PEERS_PYTHON"),
               os.path.join(REPO, ".venv-peers", "bin", "python3")):
        if py and os.path.exists(py) and subprocess.run(
                [py, "-c", "import onnxruntime, torch, onnx"], stderr=subprocess.DEVNULL).returncode == 0:
            os.environ["LUCID_ONNX_TORCH_REEXEC"] = "1"
            os.execv(py, [py] + sys.argv)


reexec_with_ort()

import numpy as np  # noqa: E402
import torch  # noqa: E402

import common  # noqa: E402
import onnx_torch  # noqa: E402
import torch_driver  # noqa: E402

try:
    import onnxruntime as ort
except ImportError:
    ort = None

COUNTS = {"passed": 0, "failed": 0, "skipped": 0}
RTOL = 1e-5


def report(ok, name, detail=""):
    COUNTS["passed" if ok else "failed"] += 1
    print("%s %s%s" % ("PASS" if ok else "FAIL", name, "" if ok or not detail else ": " + detail))
    sys.stdout.flush()


def skip(name, why):
    COUNTS["skipped"] += 1
    print("SKIP %s: %s" % (name, why))


def as_tuple(y):
    return y if isinstance(y, tuple) else (y,)


def rel_err(a, b):
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        return float("inf")
    if not b.size:
        return 0.0
    scale = float(np.max(np.abs(b)))
    return float(np.max(np.abs(a - b))) / (scale if scale > 0 else 1.0)


def random_feeds(path):
    """lucid's seeded random inputs at the model's shapes (symbolic dims 1)."""
    g = onnx_torch.read_graph(path)
    feeds = {}
    for name, elem, dims in g.inputs:
        if name in g.inits:
            continue
        shape = [d if isinstance(d, int) and d > 0 else 1 for d in (dims or [])]
        feeds[name] = common.random_input(name, np.dtype(onnx_torch.NUMPY_DTYPES[elem]).name,
                                          shape, 0)
    return feeds


def run_module(m, feeds):
    with torch.inference_mode():
        return [y.numpy() for y in as_tuple(m(*[torch.from_numpy(feeds[n]) for n in m.input_names]))]


def against_ort(name, path, feeds=None):
    """The converted module against ONNX Runtime; returns the module."""
    feeds = feeds or random_feeds(path)
    m = onnx_torch.convert(path, {k: v.shape for k, v in feeds.items()})
    if ort is None:
        skip(name + " vs ONNX Runtime", "onnxruntime is not installed for any Python found")
        return m
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    refs = sess.run(None, feeds)
    ys = run_module(m, feeds)
    errs = [rel_err(y, r) for y, r in zip(ys, refs)]
    report(len(ys) == len(refs) and all(e <= RTOL for e in errs),
           "%s: matches ONNX Runtime within %g relative (%d outputs, worst %.2e; %d of %d nodes "
           "folded)" % (name, RTOL, len(refs), max(errs) if errs else 0, m.n_folded, m.n_nodes),
           "errors %s, %d outputs vs %d" % (errs, len(ys), len(refs)))
    return m


# ---- models in the repository and the zoo -------------------------------------------------------

def test_fashion():
    tf = torch_driver.import_models_module("train_fashion")
    for path in sorted(glob.glob(os.path.join(REPO, "models", "fashion", "*", "model.onnx"))):
        folder = os.path.dirname(path)
        name = "fashion/" + os.path.basename(folder)
        m = against_ort(name, path)
        xp = os.path.join(folder, "ref_input.npy")
        if os.path.basename(folder) not in tf.MODELS or not os.path.exists(xp):
            skip(name + " cross-check", "no train_fashion definition or ref_input.npy")
            continue
        ref_model, eq = torch_driver.build_fashion(torch, os.path.basename(folder), folder, path)
        x = np.load(xp)[:1]
        with torch.inference_mode():
            want = ref_model(torch.from_numpy(x)).numpy()
        got = run_module(m, {m.input_names[0]: x})[0]
        e = rel_err(got, want)
        report(e <= RTOL, "%s: converted module equals train_fashion.build (%s) within %g "
               "relative (%.2e)" % (name, eq["method"], RTOL, e))


def test_zoo(caches, names):
    ez = None
    for zname in names:
        path = next((os.path.join(c, zname, "model.onnx") for c in caches
                     if os.path.exists(os.path.join(c, zname, "model.onnx"))), None)
        if path is None:
            skip("zoo/" + zname, "not exported in %s (ctest zoo_small exports it)" % ", ".join(caches))
            continue
        m = against_ort("zoo/" + zname, path)
        folder = os.path.dirname(path)
        if not os.path.exists(os.path.join(folder, "input.npy")):
            skip("zoo/%s cross-check" % zname, "no input.npy beside the model")
            continue
        if ez is None:
            ez = torch_driver.import_models_module("export_zoo")
        ref_model, _ = torch_driver.build_zoo(torch, zname, folder)
        x = np.load(os.path.join(folder, "input.npy"))
        with torch.inference_mode():
            want = [y.numpy() for y in torch_driver.as_list(ref_model(torch.from_numpy(x)))]
        got = run_module(m, {m.input_names[0]: x})
        errs = [rel_err(a, b) for a, b in zip(got, want)]
        report(len(got) == len(want) and max(errs) <= RTOL,
               "zoo/%s: converted module equals export_zoo's torchvision/darknet model within %g "
               "relative (%.2e)" % (zname, RTOL, max(errs)), str(errs))


# ---- a network exported here ---------------------------------------------------------------------

class Net(torch.nn.Module):
    """Not in the zoo: the layer variants the zoo does not exercise."""

    def __init__(self):
        super().__init__()
        nn = torch.nn
        self.c1 = nn.Conv2d(3, 8, 3, stride=2, padding=1)
        self.bn1 = nn.BatchNorm2d(8)
        self.c2 = nn.Conv2d(8, 8, 3, padding=2, dilation=2, groups=4)
        self.prelu = nn.PReLU(8)
        self.c3 = nn.Conv2d(8, 12, (3, 2), padding=0)
        self.inorm = nn.InstanceNorm2d(12, affine=True)
        self.up = nn.ConvTranspose2d(12, 6, 3, stride=2, padding=1, output_padding=1)
        self.fc = nn.Linear(6 * 4 * 4 + 12, 10)

    def forward(self, x):
        nnf = torch.nn.functional
        y = torch.relu(self.bn1(self.c1(x)))
        y = self.prelu(self.c2(y))
        y = nnf.max_pool2d(y, 3, 2, ceil_mode=True)
        y = nnf.pad(y, (0, 1, 1, 0))                    # asymmetric padding
        y = nnf.hardswish(self.c3(y))
        y = nnf.softplus(self.inorm(y)) - 0.5
        a, b = torch.split(y, [5, 7], 1)
        y = torch.cat([nnf.hardsigmoid(a), nnf.leaky_relu(b, 0.1)], 1)
        u = nnf.interpolate(y, scale_factor=2, mode="bilinear", align_corners=False)
        u = nnf.avg_pool2d(u, 3, 2, padding=1, ceil_mode=True, count_include_pad=False)
        u = nnf.elu(self.up(u))
        u = nnf.interpolate(u, size=(4, 4), mode="nearest")
        g = nnf.adaptive_avg_pool2d(y, 1)
        z = torch.cat([u.reshape(u.size(0), -1), g.reshape(g.size(0), -1)], 1)
        return torch.log_softmax(self.fc(z), 1), torch.sigmoid(u).mean(dim=(2, 3))


def export_net(work, opset, dynamic):
    torch.manual_seed(7)
    net = Net()
    with torch.no_grad():
        net.bn1.running_mean.uniform_(-0.5, 0.5)
        net.bn1.running_var.uniform_(0.5, 1.5)
    net.eval()
    path = os.path.join(work, "net_op%d%s.onnx" % (opset, "_dyn" if dynamic else ""))
    kw = {"dynamic_axes": {"x": {0: "batch"}}} if dynamic else {}
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(net, torch.zeros(1, 3, 20, 20), path, opset_version=opset,
                          input_names=["x"], output_names=["logp", "pooled"],
                          do_constant_folding=False, **kw)
    return path


def test_own_network(work):
    for opset, dynamic in ((11, False), (13, False), (13, True)):
        path = export_net(work, opset, dynamic)
        name = "exported network (opset %d%s)" % (opset, ", symbolic batch = 2" if dynamic else "")
        feeds = {"x": common.random_input("x", "float32", [2 if dynamic else 1, 3, 20, 20], 0)}
        m = against_ort(name, path, feeds)
        ops = set(node.op for node, _, _, _, _, _ in m._steps)
        report("Shape" not in ops and "Gather" not in ops and m.n_folded > 0,
               name + ": the Shape/Gather/Concat subgraphs are folded (%d of %d nodes; run time "
               "ops: %s)" % (m.n_folded, m.n_nodes, ", ".join(sorted(ops))))
    return path


# ---- the ONNX backend node tests -----------------------------------------------------------------

def test_node_suite():
    try:
        import onnx
        from onnx import numpy_helper
    except ImportError:
        skip("ONNX backend node tests", "the onnx package is not installed")
        return
    root = os.path.join(os.path.dirname(onnx.__file__), "backend", "test", "data", "node")
    if not os.path.isdir(root):
        skip("ONNX backend node tests", "%s does not exist" % root)
        return
    t0 = time.time()
    passed, failed, refused = [], [], []
    idx = lambda p: int(p.rsplit("_", 1)[1].split(".")[0])  # noqa: E731
    for d in sorted(os.listdir(root)):
        mp = os.path.join(root, d, "model.onnx")
        try:
            g = onnx_torch.read_graph(mp)
        except Exception:
            continue
        if any(n.op not in onnx_torch.OPS or n.domain not in ("", "ai.onnx") for n in g.nodes):
            continue
        if any(e == 16 for _, e, _ in g.inputs) or any(n.a("to") == 16 for n in g.nodes):
            # numpy has no bfloat16: such inputs and outputs cannot be fed or compared here
            refused.append("%s (bfloat16 values: numpy cannot hold them)" % d)
            continue
        ds = os.path.join(root, d, "test_data_set_0")
        try:
            ins = [numpy_helper.to_array(onnx.load_tensor(p))
                   for p in sorted(glob.glob(ds + "/input_*.pb"), key=idx)]
            outs = [numpy_helper.to_array(onnx.load_tensor(p))
                    for p in sorted(glob.glob(ds + "/output_*.pb"), key=idx)]
        except Exception:
            continue  # sequence or optional values: not tensors
        names = [n for n, _, _ in g.inputs if n not in g.inits]
        shapes = {n: a.shape for n, a in zip(names, ins)}
        try:
            # inputs that carry shapes, axes or pads are constants for lucid as well: the
            # first tried as the only data input, then none
            for k in (len(names), 1, 0):
                try:
                    m = onnx_torch.convert(g, shapes, constants=dict(zip(names[k:], ins[k:])))
                    break
                except onnx_torch.ConversionError as exc:
                    if "must be a constant" not in str(exc) or k == 0:
                        raise
            ys = [y.numpy() for y in as_tuple(m(*[torch.from_numpy(np.array(a))
                                                  for a in ins[:k]]))]
        except onnx_torch.ConversionError as exc:
            refused.append("%s (%s)" % (d, str(exc)[:100]))
            continue
        except Exception as exc:
            failed.append("%s: %s: %s" % (d, type(exc).__name__, str(exc)[:200]))
            continue
        why = None
        if len(ys) != len(outs):
            why = "%d outputs, expected %d" % (len(ys), len(outs))
        for y, o in zip(ys, outs):
            if why:
                break
            if y.shape != o.shape:
                why = "shape %s, expected %s" % (y.shape, o.shape)
            elif o.dtype.kind == "f":
                e = rel_err(y, o)
                if not e <= RTOL:
                    why = "relative error %.3g" % e
            elif not np.array_equal(y, o):
                why = "values differ"
        (failed if why else passed).append(d if not why else "%s: %s" % (d, why))
    for f in failed:
        report(False, "ONNX node test " + f)
    for r in refused:
        skip("ONNX node test", "refused with ConversionError: " + r)
    report(len(passed) >= 400, "ONNX backend node tests: %d pass, %d fail, %d refused (%.1f s)"
           % (len(passed), len(failed), len(refused), time.time() - t0),
           "fewer than 400 pass")


# ---- readers, errors and the driver's check ------------------------------------------------------

def test_lite_reader(paths):
    for path in paths:
        if not os.path.exists(path):
            continue
        a = onnx_torch.convert(path, reader="onnx")
        b = onnx_torch.convert(path, reader="lite")
        feeds = random_feeds(path)
        same = all(np.array_equal(x, y) for x, y in zip(run_module(a, feeds), run_module(b, feeds)))
        report(same and b.reader == "onnx_lite", "%s: onnx_lite reader gives the same outputs as "
               "the onnx package's" % os.path.basename(path))


def test_unsupported(work):
    try:
        import onnx
        from onnx import helper, TensorProto
    except ImportError:
        skip("unsupported op", "the onnx package is not installed")
        return
    node = helper.make_node("Mod", ["a", "b"], ["c"], name="the_mod")
    g = helper.make_graph([node], "g", [helper.make_tensor_value_info("a", TensorProto.INT64, [2]),
                                        helper.make_tensor_value_info("b", TensorProto.INT64, [2])],
                          [helper.make_tensor_value_info("c", TensorProto.INT64, [2])])
    path = os.path.join(work, "mod.onnx")
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), path)
    try:
        onnx_torch.convert(path)
        report(False, "an unsupported op is refused", "no error")
    except onnx_torch.ConversionError as exc:
        msg = str(exc)
        report("Mod" in msg and "the_mod" in msg and "opset 13" in msg,
               "an unsupported op is refused naming op, node and opset: " + msg)


def test_driver(work, net_path):
    path = os.path.join(REPO, "models", "fashion", "lenet5", "model.onnx")
    if ort is None:
        skip("torch_driver equivalence check", "onnxruntime is not installed")
        return
    if os.path.exists(path):
        feeds = random_feeds(path)
        names = list(feeds)
        host = [feeds[n] for n in names]
        m = onnx_torch.convert(path, {n: a.shape for n, a in feeds.items()})
        eq = torch_driver.check_equivalence(torch, m, path, names, host, ["logits"])
        report(eq["ok"] is True and eq["max_relative"] <= RTOL,
               "check_equivalence passes the converted lenet5 (%.2e)" % eq["max_relative"], str(eq))
        with torch.no_grad():
            w = next(b for b in m.buffers() if b.dim() == 4)
            w.add_(1e-3 * torch.sign(w))
        eq = torch_driver.check_equivalence(torch, m, path, names, host, ["logits"])
        text = torch_driver.mismatch_text(eq) if eq["ok"] is False else ""
        report(eq["ok"] is False and "logits" in text and "relative" in text,
               "check_equivalence refuses a module with a perturbed weight: " + text, str(eq))
    cmd = [sys.executable, os.path.join(PEERS, "torch_driver.py"), net_path, "--shape",
           "x=2x3x20x20", "--warmup", "0", "--iterations", "2", "--duration", "0",
           "--threads", "1"]
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        doc = json.loads(p.stdout)
    except ValueError:
        doc = None
    ok = doc is not None and doc.get("status") == "ok" and doc.get("batch") == 2 and \
        doc.get("equivalence", {}).get("ok") is True and doc.get("architecture") == "onnx_torch"
    report(ok, "torch_driver.py times the exported network with --shape x=2x3x20x20 after the "
           "equivalence check", p.stderr[-400:] if doc is None else json.dumps(
               {k: doc.get(k) for k in ("status", "reason", "batch", "equivalence")}))


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--zoo-cache", default=os.path.join(REPO, "build", "cache", "zoo"),
                    help="folders with exported zoo models, comma-separated")
    # every zoo model: those not exported in the cache folders are SKIPs (the suite's zoo_small
    # exports the first seven; models/export_zoo.py exports the rest into the source tree's cache)
    ap.add_argument("--zoo", default="resnet18,mobilenet_v2,squeezenet1_1,shufflenet_v2_x1_0,"
                    "efficientnet_b0,googlenet,tiny_yolov3,alexnet,vgg16,resnet50,inception_v3,"
                    "densenet121")
    args = ap.parse_args()
    torch.set_num_threads(1)
    print("python %s, torch %s, onnxruntime %s" % (sys.executable, torch.__version__,
                                                   ort.__version__ if ort else "missing"))
    t0 = time.time()
    with tempfile.TemporaryDirectory(prefix="lucid-onnx-torch-") as work:
        test_fashion()
        test_zoo([c for c in args.zoo_cache.split(",") if c], [z for z in args.zoo.split(",") if z])
        net = test_own_network(work)
        test_node_suite()
        test_lite_reader([os.path.join(REPO, "models", "fashion", "mobilenet", "model.onnx"), net])
        test_unsupported(work)
        test_driver(work, net)
    print("%.1f s" % (time.time() - t0))
    print("%d passed, %d failed, %d skipped" % (COUNTS["passed"], COUNTS["failed"], COUNTS["skipped"]))
    return 1 if COUNTS["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
