#!/usr/bin/env python3
"""test_peers.py - checks the peer-engine drivers in bench/peers/ and bench/run_bench.py: JSON schema, statistics, outputs, missing engines, trtexec parsing.

Usage (ctest 'peers'):

    python3 tests/test_peers.py [--lucid PATH] [--model-python /usr/bin/python3]
                                [--peers-python PY] [--torch-python PY]

The drivers run under the interpreter `lucid characterize` would pick (--peers-python, else
$LUCID_PEERS_PYTHON, else .venv-peers/bin/python3 that bench/setup_peers.sh makes, else
python3; PyTorch's under --torch-python, else that same interpreter when it was found, else
/usr/bin/python3). OpenVINO's FP32 outputs on models/fashion/lenet5 must equal ONNX Runtime's
within 1e-4 (its default precision, BF16 where the CPU has it, within 5% of the largest
logit, same argmax); with --lucid, a study whose Python lacks the peers (or numpy) must
report each peer cell as unavailable with the reason in results.json, the summary and
report.html.

A tiny ONNX model (MatMul + Add + Relu, and a second output Relu(x)) is built with
--model-python (which has onnx). ONNX Runtime's output must equal numpy's; with --lucid,
the Relu(x) output of ONNX Runtime on random inputs must have lucid's digest (the drivers
use lucid's input generator). The PyTorch driver runs on models/fashion/lenet5 when that
model exists. A driver whose engine is missing must print status "not_installed"; those
checks, and checks needing an engine that is missing, print SKIP with the reason. The
trtexec parser is run on tests/data/trtexec/ (valid and malformed samples). The last line
is "N passed, M failed, K skipped"; the exit code is 1 when anything failed.
"""

import argparse
import json
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
PEERS = os.path.join(REPO, "bench", "peers")
DATA = os.path.join(HERE, "data", "trtexec")
sys.path.insert(0, PEERS)
import common  # noqa: E402

import numpy as np  # noqa: E402

COUNTS = {"passed": 0, "failed": 0, "skipped": 0}
SHORT = ["--warmup", "20", "--iterations", "5", "--duration", "0.05", "--threads", "1"]

SCHEMA_KEYS = ["schema", "engine", "engine_version", "config", "device", "device_name", "model",
               "batch", "threads_requested", "threads_used", "inputs", "settings", "warmup",
               "iterations", "total_s", "throughput", "samples_per_s", "latency_ms", "cv_warning",
               "capped", "outputs", "status", "date"]
STAT_KEYS = ["min", "mean", "median", "p90", "p95", "p99", "max", "stddev", "cv"]

BUILD_MODEL = r'''
import sys, numpy as np, onnx
from onnx import helper, TensorProto, numpy_helper
W = (np.arange(12, dtype=np.float32).reshape(4, 3) - 5.5) / 4
b = np.array([0.25, -0.5, 0.125], np.float32)
g = helper.make_graph(
    [helper.make_node("MatMul", ["x", "W"], ["xw"]), helper.make_node("Add", ["xw", "b"], ["s"]),
     helper.make_node("Relu", ["s"], ["y"]), helper.make_node("Relu", ["x"], ["r"])],
    "tiny", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 4])],
    [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 3]),
     helper.make_tensor_value_info("r", TensorProto.FLOAT, [2, 4])],
    [numpy_helper.from_array(W, "W"), numpy_helper.from_array(b, "b")])
m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)], producer_name="test_peers")
m.ir_version = 8
onnx.checker.check_model(m)
onnx.save(m, sys.argv[1])
'''
W = (np.arange(12, dtype=np.float32).reshape(4, 3) - 5.5) / 4
B = np.array([0.25, -0.5, 0.125], np.float32)


def report(ok, name, detail=""):
    COUNTS["passed" if ok else "failed"] += 1
    print("%s %s%s" % ("PASS" if ok else "FAIL", name, (": " + detail) if detail and not ok else ""))
    return ok


def skip(name, reason):
    COUNTS["skipped"] += 1
    print("SKIP %s: %s" % (name, reason))


def run_driver(cmd, env=None):
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        return json.loads(p.stdout), p.returncode, p.stderr
    except ValueError:
        return None, p.returncode, p.stderr[-2000:] + p.stdout[-500:]


def check_document(name, doc, min_iterations=5):
    """Schema keys and statistical consistency of an ok document."""
    missing = [k for k in SCHEMA_KEYS if k not in doc]
    report(not missing, name + ": schema keys", "missing %s" % missing)
    report(doc.get("schema") == "lucid-bench/1", name + ": schema name", str(doc.get("schema")))
    lat = doc.get("latency_ms") or {}
    if not report(all(isinstance(lat.get(k), (int, float)) for k in STAT_KEYS),
                  name + ": latency statistics present", str(lat)):
        return
    ok = (lat["min"] <= lat["median"] <= lat["max"] and lat["p90"] <= lat["p95"] <= lat["p99"] <= lat["max"]
          and lat["min"] <= lat["mean"] <= lat["max"] and lat["min"] > 0)
    report(ok, name + ": min <= median <= max, p90 <= p95 <= p99 <= max", str(lat))
    report(abs(lat["cv"] - lat["stddev"] / lat["mean"]) <= 1e-9 * max(1, lat["cv"]),
           name + ": cv = stddev / mean", str(lat))
    report(doc["cv_warning"] == (lat["cv"] > 0.01), name + ": cv_warning = cv > 1%")
    s = doc["settings"]
    report(doc["iterations"] >= s["min_iterations"] >= min_iterations if min_iterations else True,
           name + ": iterations >= min_iterations", "%s vs %s" % (doc["iterations"], s))
    report(doc["total_s"] >= s["min_duration_s"] or doc["capped"],
           name + ": total_s >= min_duration_s", "%s vs %s" % (doc["total_s"], s))
    report(math.isclose(doc["throughput"], doc["iterations"] / doc["total_s"], rel_tol=1e-9)
           and math.isclose(doc["samples_per_s"], doc["throughput"] * doc["batch"], rel_tol=1e-9),
           name + ": throughput = iterations / total_s, samples_per_s = throughput * batch")
    report(doc["warmup"]["seconds"] * 1e3 >= s["warmup_ms"] or doc["capped"],
           name + ": warm-up lasted warmup_ms", str(doc["warmup"]))
    report(all(re.fullmatch(r"fnv1a64:[0-9a-f]{16}", o.get("digest", "")) for o in doc["outputs"])
           and len(doc["outputs"]) > 0, name + ": output digests", str(doc["outputs"]))
    report(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", doc["date"]) is not None,
           name + ": ISO-8601 UTC date", doc["date"])


def test_common():
    st = common.stats([4.0, 1.0, 3.0, 2.0])
    report(st["median"] == 2.5 and st["min"] == 1 and st["max"] == 4 and st["mean"] == 2.5,
           "stats: even-count median is the mean of the middle two", str(st))
    xs = list(range(1, 101))
    st = common.stats(xs)
    report(st["p90"] == 90 and st["p95"] == 95 and st["p99"] == 99 and st["median"] == 50.5,
           "stats: nearest-rank percentiles on 1..100", str(st))
    st = common.stats([1.0] * 10 + [2.0])
    report(st["p90"] == 1.0 and st["p95"] == 2.0, "stats: nearest rank on 11 samples", str(st))
    report(math.isclose(common.stats([1.0, 3.0])["stddev"], math.sqrt(2)), "stats: sample stddev (n-1)")
    report(common.digest(np.zeros(0, np.float32)) == "fnv1a64:cbf29ce484222325"
           and common.fnv1a64(b"a") == 0xaf63dc4c8601ec8c, "fnv1a64 reference values")
    big = np.arange(6, dtype=">f4").reshape(2, 3)
    report(common.digest(big) == common.digest(big.astype("<f4")), "digest is of little-endian bytes")
    a = common.random_input("x", "float32", [1000], 0)
    report(a.dtype == np.float32 and a.min() >= -1 and a.max() < 1 and
           np.array_equal(a, common.random_input("x", "float32", [1000], 0)) and
           not np.array_equal(a, common.random_input("x", "float32", [1000], 1)),
           "random inputs: float32 in [-1, 1), reproducible, seed-dependent")
    h = common.random_input("h", "float16", [4096], 7)
    report(np.all((h.astype(np.float64) + 1) * 1024 == np.round((h.astype(np.float64) + 1) * 1024)),
           "random inputs: float16 on the 1/1024 grid")
    i = common.random_input("i", "int64", [100], 3)
    report(i.min() >= 0 and i.max() <= 3, "random inputs: integers in 0..3")


def test_onnx_lite(model):
    import onnx_lite
    m = onnx_lite.read_model(model)
    inits = dict(m["initializers"])
    report(m["inputs"] == [{"name": "x", "elem_type": 1, "dtype": "float32", "shape": [2, 4]}]
           and [o["name"] for o in m["outputs"]] == ["y", "r"]
           and np.array_equal(inits.get("W"), W) and np.array_equal(inits.get("b"), B),
           "onnx_lite: inputs, outputs and initializers of the tiny model", str(m["inputs"]))
    bad = model + ".bad"
    with open(model, "rb") as f, open(bad, "wb") as g:
        g.write(f.read()[:-7])
    try:
        onnx_lite.read_model(bad)
        report(False, "onnx_lite: a truncated file is an error")
    except onnx_lite.OnnxFormatError as exc:
        report(bad in str(exc), "onnx_lite: a truncated file is an error naming it", str(exc))


def test_ort(args, work, model):
    name = "ort_driver"
    x = common.random_input("x", "float32", [2, 4], 5)
    xf = os.path.join(work, "x.npy")
    np.save(xf, x)
    outdir = os.path.join(work, "ort_out")
    doc, rc, err = run_driver([args.ort_python, os.path.join(PEERS, "ort_driver.py"), model,
                               "--input", "x=" + xf, "--save-outputs", outdir] + SHORT)
    if doc is None:
        report(False, name + ": prints JSON", "exit %s: %s" % (rc, err))
        return
    if doc.get("status") == "not_installed":
        skip(name, doc.get("reason"))
        return
    if not report(doc.get("status") == "ok" and rc == 0, name + ": status ok", str(doc.get("reason"))):
        return
    check_document(name, doc)
    report(doc["engine"] == "onnxruntime" and doc["config"] == "cpu-all-opts" and doc["device"] == "cpu"
           and doc["threads_used"] == 1 and doc["batch"] == 2, name + ": engine, config, threads, batch",
           str({k: doc[k] for k in ("engine", "config", "threads_used", "batch")}))
    report(doc["inputs"] == [{"name": "x", "dtype": "float32", "shape": [2, 4], "source": xf}],
           name + ": inputs", str(doc["inputs"]))
    y = np.load(os.path.join(outdir, "y.npy"))
    r = np.load(os.path.join(outdir, "r.npy"))
    expect = np.maximum(x @ W + B, 0)
    report(np.allclose(y, expect, rtol=1e-6, atol=1e-6), name + ": MatMul+Add+Relu equals numpy",
           "max diff %g" % float(np.abs(y - expect).max()))
    report(np.array_equal(r, np.maximum(x, 0)), name + ": Relu(x) equals numpy exactly")
    report([o["digest"] for o in doc["outputs"]] == [common.digest(y), common.digest(r)],
           name + ": digests are of the saved outputs")

    # random inputs follow lucid's generator: Relu(x) is exact in both engines
    doc2, rc, err = run_driver([args.ort_python, os.path.join(PEERS, "ort_driver.py"), model,
                                "--seed", "11"] + SHORT)
    if args.lucid:
        p = subprocess.run([args.lucid, "run", model, "--seed", "11", "--json"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            lr = {o["name"]: o["fnv1a64"] for o in json.loads(p.stdout)["outputs"]}
            ort_r = next(o["digest"] for o in doc2["outputs"] if o["name"] == "r")
            report(ort_r == "fnv1a64:" + lr["r"], name + ": random input equals lucid's (Relu(x) digest)",
                   "%s vs %s" % (ort_r, lr["r"]))
        except (ValueError, KeyError, StopIteration, TypeError) as exc:
            report(False, name + ": lucid run for the generator check", "%s %s" % (exc, p.stderr))
    else:
        skip(name + ": random input equals lucid's", "no --lucid given")

    bad, rc, err = run_driver([args.ort_python, os.path.join(PEERS, "ort_driver.py"), model,
                               "--input", "nosuch=" + xf] + SHORT)
    report(bad is not None and bad.get("status") == "failed" and "nosuch" in bad.get("reason", "")
           and rc == 4, name + ": unknown input name is a failed document with the reason",
           str(bad and bad.get("reason")))


def test_openvino(args, work):
    name = "openvino_driver"
    lenet = os.path.join(REPO, "models", "fashion", "lenet5", "model.onnx")
    if not os.path.exists(lenet):
        skip(name, "models/fashion/lenet5/model.onnx does not exist")
        return
    ref = np.load(os.path.join(os.path.dirname(lenet), "ref_input.npy"))
    xf = os.path.join(work, "ov_x.npy")
    np.save(xf, ref[:1])
    outs = {}
    for driver, extra, key in (("ort_driver.py", [], "ort"),
                               ("openvino_driver.py", ["--precision", "f32"], "f32"),
                               ("openvino_driver.py", ["--precision", "default"], "default")):
        d = os.path.join(work, "ov_out_" + key)
        doc, rc, err = run_driver([args.peers_python, os.path.join(PEERS, driver), lenet,
                                   "--input", "input=" + xf, "--save-outputs", d] + extra + SHORT)
        label = "%s %s" % (driver, key)
        if doc is None:
            report(False, label + ": prints JSON", "exit %s: %s" % (rc, err))
            return
        if doc.get("status") == "not_installed":
            skip(name + " on lenet5", doc.get("reason"))
            return
        if not report(doc.get("status") == "ok" and rc == 0, label + ": status ok", str(doc.get("reason"))):
            return
        check_document(label, doc)
        outs[key] = (doc, np.load(os.path.join(d, "logits.npy")))
    doc, y = outs["f32"]
    report(doc["engine"] == "openvino" and doc["config"] == "cpu-fp32" and doc["threads_used"] == 1
           and doc["batch"] == 1 and doc["inference_precision"] == "f32",
           name + ": engine, config cpu-fp32, threads, batch, precision f32",
           str({k: doc.get(k) for k in ("engine", "config", "threads_used", "batch", "inference_precision")}))
    report(doc["inputs"] == [{"name": "input", "dtype": "float32", "shape": [1, 1, 28, 28], "source": xf}],
           name + ": inputs", str(doc["inputs"]))
    yo = outs["ort"][1]
    report(y.shape == yo.shape == (1, 10) and np.allclose(y, yo, rtol=1e-4, atol=1e-4),
           name + ": FP32 logits equal ONNX Runtime's within 1e-4",
           "max diff %g" % float(np.abs(y - yo).max()) if y.shape == yo.shape else str(y.shape))
    ddoc, yd = outs["default"]
    scale = float(np.abs(yo).max())
    report(ddoc["config"] == "cpu-default" and ddoc.get("inference_precision") in ("bf16", "f32", "f16")
           and ddoc["inference_precision"] in ddoc.get("note", ""),
           name + ": cpu-default names the precision OpenVINO chose", str(ddoc.get("note")))
    report(np.abs(yd - yo).max() <= 0.05 * scale and yd.argmax() == yo.argmax(),
           name + ": default-precision logits within 5% of the largest and the same class",
           "max diff %g of %g" % (float(np.abs(yd - yo).max()), scale))

    # the accuracy path: 64 images through outputs_driver.py, OpenVINO FP32 against ONNX Runtime
    sf = os.path.join(work, "ov_samples.npy")
    np.save(sf, ref[:64])
    got = {}
    for engine in ("onnxruntime", "openvino"):
        of = os.path.join(work, "ov_outputs_%s.npy" % engine)
        p = subprocess.run([args.peers_python, os.path.join(PEERS, "outputs_driver.py"), lenet,
                            "--engine", engine, "--input", sf, "--out", of, "--chunk", "1",
                            "--threads", "1", "--repeat", "2"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            d = json.loads(p.stdout)
        except ValueError:
            d = {"status": "no document", "reason": p.stderr[-500:]}
        if not report(d.get("status") == "ok" and d.get("samples") == 64 and d["run_to_run"]["runs"] == 2,
                      "outputs_driver %s: 64 samples, run-to-run" % engine, str(d)):
            return
        got[engine] = np.load(of)
    a, b = got["openvino"], got["onnxruntime"]
    report(a.shape == b.shape == (64, 10) and np.allclose(a, b, rtol=1e-4, atol=1e-4)
           and np.array_equal(a.argmax(1), b.argmax(1)),
           "outputs_driver: OpenVINO FP32 equals ONNX Runtime on 64 images within 1e-4",
           "max diff %g" % float(np.abs(a - b).max()) if a.shape == b.shape else str(a.shape))


def test_missing_peer_in_study(args, work):
    """A study whose interpreter lacks a peer reports it with the reason everywhere."""
    lenet = os.path.join(REPO, "models", "fashion", "lenet5", "model.onnx")
    if not args.lucid or not os.path.exists(lenet):
        skip("missing peer in a study", "needs --lucid and models/fashion/lenet5")
        return
    # a Python without the peers (Debian's, when the peers live in the environment), and one
    # without even numpy (-S: no site packages), where the drivers die at their first import
    nosite = os.path.join(work, "python-nosite")
    with open(nosite, "w") as f:
        f.write('#!/bin/sh\nexec %s -S "$@"\n' % args.model_python)
    os.chmod(nosite, 0o755)
    cases = [(nosite, "No module named 'numpy'")]
    if subprocess.run([args.model_python, "-c", "import openvino"], stderr=subprocess.DEVNULL).returncode:
        cases.append((args.model_python, "No module named 'openvino'"))
    else:
        skip("missing openvino in a study", "%s has openvino" % args.model_python)
    for py, why in cases:
        out = os.path.join(work, "study-" + os.path.basename(py))
        p = subprocess.run([args.lucid, "characterize", lenet, "--engines", "openvino,pytorch",
                            "--python", py, "--warmup", "0", "--iterations", "3", "--duration", "0.05",
                            "--runs", "2", "--builds", "1", "--batches", "1", "--out", out],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        name = "study with --python %s" % py
        if not report(p.returncode == 0, name + ": completes", p.stderr[-500:]):
            continue
        try:
            r = json.load(open(os.path.join(out, "results.json")))
            html = open(os.path.join(out, "report.html")).read()
        except (OSError, ValueError) as exc:
            report(False, name + ": results.json and report.html", str(exc))
            continue
        ov = [c for c in r["cells"] if c["engine"] == "openvino"]
        want = "openvino: not installed for %s" % py
        report(len(ov) == 2 and all(c["status"] == "unavailable" and want in c["reason"]
                                    and why in c["reason"] and c["latency"] is None for c in ov),
               name + ": both openvino cells unavailable with the reason in results.json",
               json.dumps([(c["label"], c["status"], c["reason"]) for c in ov]))
        report(r["settings"]["python"] == py and r["settings"]["torch_python"] == py,
               name + ": settings name the interpreter", str(r["settings"].get("python")))
        report(all(("%s: unavailable: %s" % (c["label"], c["reason"])) in p.stdout for c in ov),
               name + ": the summary prints each reason", p.stdout[-800:])
        report(all(json.dumps(c["reason"])[1:-1] in html for c in ov),
               name + ": report.html carries each reason")


def test_missing_engines(args, model):
    # ONNX Runtime under a python without it
    py = next((p for p in (args.model_python, args.torch_python) if p and subprocess.run(
        [p, "-c", "import onnxruntime"], stderr=subprocess.DEVNULL).returncode != 0), None)
    if py:
        doc, rc, err = run_driver([py, os.path.join(PEERS, "ort_driver.py"), model] + SHORT)
        report(doc is not None and doc.get("status") == "not_installed" and "onnxruntime" in doc.get("reason", "")
               and rc == 0, "ort_driver without onnxruntime: not_installed", str(doc or err))
    else:
        skip("ort_driver without onnxruntime", "every python given has onnxruntime")
    # OpenVINO under a python without it
    py = next((p for p in (args.model_python, sys.executable, shutil.which("python3")) if p and subprocess.run(
        [p, "-c", "import openvino"], stderr=subprocess.DEVNULL).returncode != 0), None)
    if py:
        doc, rc, err = run_driver([py, os.path.join(PEERS, "openvino_driver.py"), model] + SHORT)
        report(doc is not None and doc.get("status") == "not_installed" and rc == 0
               and ("openvino: not installed for %s" % py) in doc.get("reason", "")
               and "No module named 'openvino'" in doc.get("reason", "")
               and doc.get("engine") == "openvino",
               "openvino_driver without openvino: not_installed naming the interpreter", str(doc or err))
    else:
        skip("openvino_driver without openvino", "every python given has openvino")
    # PyTorch under a python without it
    py = next((p for p in (args.peers_python, args.model_python, sys.executable, shutil.which("python3"))
               if p and subprocess.run(
        [p, "-c", "import torch"], stderr=subprocess.DEVNULL).returncode != 0), None)
    if py:
        doc, rc, err = run_driver([py, os.path.join(PEERS, "torch_driver.py"), model] + SHORT)
        report(doc is not None and doc.get("status") == "not_installed" and "torch" in doc.get("reason", ""),
               "torch_driver without torch: not_installed", str(doc or err))
    else:
        skip("torch_driver without torch", "every python here has torch")
    # trtexec with a PATH that has no trtexec
    env = dict(os.environ, PATH=os.path.dirname(shutil.which("python3") or "/usr/bin"))
    if shutil.which("trtexec", path=env["PATH"]):
        skip("trtexec.py without trtexec", "trtexec is in " + env["PATH"])
    else:
        doc, rc, err = run_driver([sys.executable, os.path.join(PEERS, "trtexec.py"), model] + SHORT, env=env)
        report(doc is not None and doc.get("status") == "not_installed"
               and doc.get("reason") == "trtexec not found on PATH" and doc.get("engine") == "tensorrt",
               "trtexec.py without trtexec: not_installed", str(doc or err))
    if shutil.which("trtexec"):
        doc, rc, err = run_driver([sys.executable, os.path.join(PEERS, "trtexec.py"), model] + SHORT)
        if doc is not None and doc.get("status") == "ok":
            check_document("trtexec.py (real trtexec)", doc)
        else:
            report(False, "trtexec.py with trtexec", str(doc and doc.get("reason") or err))
    else:
        skip("trtexec.py run", "trtexec not found on PATH")


def test_torch(args, work, tiny):
    name = "torch_driver"
    if subprocess.run([args.torch_python, "-c", "import torch"], stderr=subprocess.DEVNULL).returncode:
        skip(name, "%s cannot import torch" % args.torch_python)
        return
    doc, rc, err = run_driver([args.torch_python, os.path.join(PEERS, "torch_driver.py"), tiny] + SHORT)
    report(doc is not None and doc.get("status") == "ok" and doc.get("architecture") == "onnx_torch",
           name + ": a model of no known architecture runs as the module converted from ONNX",
           str(doc or err))
    lenet = os.path.join(REPO, "models", "fashion", "lenet5", "model.onnx")
    if not os.path.exists(lenet):
        skip(name + " on lenet5", "models/fashion/lenet5/model.onnx does not exist")
        return
    ref = np.load(os.path.join(os.path.dirname(lenet), "ref_input.npy"))[:1]
    xf = os.path.join(work, "lenet_x.npy")
    np.save(xf, ref)
    outdir = os.path.join(work, "torch_out")
    doc, rc, err = run_driver([args.torch_python, os.path.join(PEERS, "torch_driver.py"), lenet,
                               "--input", "input=" + xf, "--save-outputs", outdir] + SHORT)
    if doc is None or doc.get("status") != "ok":
        report(False, name + " on lenet5: status ok", str(doc and doc.get("reason") or err))
        return
    check_document(name + " on lenet5", doc)
    report(doc["engine"] == "pytorch" and doc["config"] == "eager-fp32" and doc["device"] == "cpu",
           name + ": engine pytorch, config eager-fp32")
    eq = doc.get("equivalence", {})
    report(eq.get("ok") in (True, None) and (eq.get("ok") is None or eq["max_relative"] <= 1e-5),
           name + ": the converted lenet5 matches ONNX Runtime (when installed)", str(eq))
    logits = np.load(os.path.join(outdir, "logits.npy"))
    ref_logits = np.load(os.path.join(os.path.dirname(lenet), "ref_logits.npy"))[:1]
    report(np.allclose(logits, ref_logits, atol=1e-4), name + ": output on ref image 0 equals ref_logits[0]",
           "max diff %g" % float(np.abs(logits - ref_logits).max()))
    doc, rc, err = run_driver([args.torch_python, os.path.join(PEERS, "torch_driver.py"), lenet,
                               "--mode", "compile-default"] + SHORT)
    if doc is not None and doc.get("status") == "not_installed":
        report(doc.get("engine") == "torch.compile" and "2." in doc.get("reason", ""),
               name + ": torch.compile on torch 1.x is not_installed with the reason", str(doc))
        skip(name + " compile-default", doc.get("reason"))
    elif doc is not None and doc.get("status") == "ok":
        check_document(name + " compile-default", doc)
    else:
        # torch.compile exists but could not compile here (no compiler toolchain, ...): the
        # document must still say why
        report(doc is not None and doc.get("status") == "failed" and doc.get("reason"),
               name + " compile-default: failed with a reason", str(doc or err))


def test_trtexec_parser():
    name = "trtexec parser"
    cmd = [sys.executable, os.path.join(PEERS, "trtexec.py"), "tiny.onnx",
           "--parse", os.path.join(DATA, "times.json"), "--profile", os.path.join(DATA, "profile.json"),
           "--layer-info", os.path.join(DATA, "layers.json"), "--output", os.path.join(DATA, "output.json"),
           "--log", os.path.join(DATA, "trtexec.log"), "--iterations", "5", "--duration", "0", "--warmup", "0"]
    doc, rc, err = run_driver(cmd)
    if not report(doc is not None and doc.get("status") == "ok" and rc == 0, name + ": samples parse",
                  str(doc and doc.get("reason") or err)):
        return
    check_document(name, doc)
    lat = doc["latency_ms"]
    report(doc["iterations"] == 5 and lat["min"] == 1.0 and lat["median"] == 1.2 and lat["max"] == 1.5
           and lat["p90"] == 1.5 and math.isclose(lat["mean"], 1.22), name + ": latency from latencyMs", str(lat))
    report(math.isclose(doc["total_s"], 0.00615, rel_tol=1e-9) and
           math.isclose(doc["throughput"], 5 / 0.00615, rel_tol=1e-9), name + ": span and throughput",
           "%s %s" % (doc["total_s"], doc["throughput"]))
    report(math.isclose(doc["compute_ms"]["median"], 1.08) and math.isclose(doc["h2d_ms"]["max"], 0.07)
           and math.isclose(doc["enqueue_ms"]["median"], 0.02, rel_tol=1e-6),
           name + ": compute, h2d and enqueue statistics")
    report(doc["engine_version"] == "10.3.0" and doc["device_name"] == "NVIDIA H100 80GB HBM3"
           and doc["warmup"] == {"iterations": 230, "seconds": 0.2}, name + ": version, device, warm-up from the log",
           str({k: doc[k] for k in ("engine_version", "device_name", "warmup")}))
    layers = doc.get("layers", [])
    report(len(layers) == 4 and layers[0]["name"] == "/conv1/Conv + /relu/Relu"
           and layers[0]["average_ms"] == 0.6 and layers[0]["info"]["LayerType"] == "CaskConvolution"
           and layers[3]["name"] == "reformatting_copy_output" and layers[3]["total_ms"] is None
           and doc["profile_iterations"] == 4, name + ": profile joined with layer info", json.dumps(layers)[:400])
    report(doc["outputs"][0]["shape"] == [1, 10] and doc["outputs"][0]["digest"] == common.digest(
        np.array([0.5, -1.25, 2, 0, 0.125, -0.5, 3.75, 1, -2, 0.25], np.float32).reshape(1, 10)),
        name + ": exported output values")
    for bad in sorted(f for f in os.listdir(DATA) if f.startswith("bad_")):
        path = os.path.join(DATA, bad)
        kind = bad.split("_")[1]
        files = {"times": os.path.join(DATA, "times.json"), "profile": os.path.join(DATA, "profile.json"),
                 "layers": os.path.join(DATA, "layers.json")}
        files[kind] = path
        doc, rc, err = run_driver([sys.executable, os.path.join(PEERS, "trtexec.py"), "tiny.onnx",
                                   "--parse", files["times"], "--profile", files["profile"],
                                   "--layer-info", files["layers"]])
        report(doc is not None and doc.get("status") == "failed" and rc == 4 and path in doc.get("reason", ""),
               name + ": %s is rejected naming the file" % bad, str(doc and doc.get("reason") or err))


def test_run_bench(args, work, model, have_ort):
    if not have_ort:
        skip("run_bench", "onnxruntime is not installed")
        return
    zoo = os.path.join(work, "zoo")
    os.makedirs(os.path.join(zoo, "tiny"))
    shutil.copy(model, os.path.join(zoo, "tiny", "model.onnx"))
    engines = "lucid,onnxruntime" if args.lucid else "onnxruntime"
    out = os.path.join(work, "results")
    cmd = [sys.executable, os.path.join(REPO, "bench", "run_bench.py"), "--zoo", zoo, "--fashion", "",
           "--engines", engines, "--rounds", "2", "--duration", "0.05", "--warmup", "10", "--iterations", "5",
           "--out", out, "--machine", "testbox", "--ort-python", args.ort_python, "--work", os.path.join(work, "rb")]
    if args.lucid:
        cmd += ["--lucid", args.lucid]
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    files = sorted(os.listdir(out)) if os.path.isdir(out) else []
    if not report(p.returncode == 0 and len(files) == 2 and files[0].endswith("-testbox.json"),
                  "run_bench: writes <date>-<machine>.json and .md", "%s %s" % (files, p.stderr[-800:])):
        return
    res = json.load(open(os.path.join(out, files[0])))
    entry = res["models"].get("zoo/tiny", {})
    rounds = entry.get("rounds", {})
    report(all(len(rounds.get(e, [])) == 2 for e in engines.split(",")) and
           all(d.get("status") == "ok" for e in engines.split(",") for d in rounds.get(e, [])),
           "run_bench: every engine ran every round", json.dumps(rounds)[:600])
    report(all(k in res["machine"] for k in ("cpu", "cores", "os")) and res["command"] and
           "numpy" in res["versions"], "run_bench: machine, versions and command recorded")
    md = open(os.path.join(out, files[1])).read()
    report("| zoo/tiny |" in md, "run_bench: markdown row")
    if args.lucid:
        cmp_ = entry["summary"]["outputs_vs_lucid"]["onnxruntime"]
        report(cmp_ is not None and cmp_["max_abs_diff"] is not None and cmp_["max_abs_diff"] < 1e-5
               and cmp_["outputs"]["r"]["equal_digest"], "run_bench: lucid and ORT outputs agree", str(cmp_))
        report("config `plan`" in md and entry.get("lucid_build", {}).get("schema") == "lucid-build/2"
               and entry["summary"]["ratios"]["lucid/onnxruntime"]["median"] > 0
               and "peak/naive" in md,
               "run_bench: lucid's plan (built once), its memory and the ratio in the table")


def peers_python():
    """The interpreter `lucid characterize` picks without --python (src/characterize/
    characterize.c): $LUCID_PEERS_PYTHON, else the environment bench/setup_peers.sh makes;
    None when neither exists."""
    env = os.environ.get("LUCID_PEERS_PYTHON")
    if env:
        return env
    venv = os.path.join(REPO, ".venv-peers", "bin", "python3")
    return venv if os.access(venv, os.X_OK) else None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--lucid", default="")
    ap.add_argument("--model-python", default="/usr/bin/python3")
    ap.add_argument("--peers-python", "--ort-python", dest="peers_python", default=None)
    ap.add_argument("--torch-python", default=None)
    args = ap.parse_args()
    found = args.peers_python or peers_python()
    args.peers_python = shutil.which(found or "python3") or found or "python3"
    args.torch_python = args.torch_python or (args.peers_python if found else "/usr/bin/python3")
    args.ort_python = args.peers_python  # bench/run_bench.py's flag
    print("peers' python: %s; PyTorch's: %s" % (args.peers_python, args.torch_python))

    test_common()
    work = tempfile.mkdtemp(prefix="test_peers.")
    try:
        model = os.path.join(work, "tiny.onnx")
        p = subprocess.run([args.model_python, "-c", BUILD_MODEL, model], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True)
        if p.returncode != 0:
            skip("driver runs", "cannot build the tiny model with %s: %s" % (args.model_python, p.stderr[-300:]))
        else:
            # bench/setup_peers.sh (scripts/test.sh runs it) installs the engines; a test only
            # looks at what is there
            have_ort = subprocess.run([args.peers_python, "-c", "import onnxruntime"],
                                      stderr=subprocess.DEVNULL).returncode == 0
            test_onnx_lite(model)
            test_ort(args, work, model)
            test_openvino(args, work)
            test_missing_engines(args, model)
            test_missing_peer_in_study(args, work)
            test_torch(args, work, model)
            test_run_bench(args, work, model, have_ort)
        test_trtexec_parser()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print("%d passed, %d failed, %d skipped" % (COUNTS["passed"], COUNTS["failed"], COUNTS["skipped"]))
    return 1 if COUNTS["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
