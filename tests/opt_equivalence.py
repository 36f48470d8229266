#!/usr/bin/env python3
"""opt_equivalence.py - the graph optimizer changes no result: for every zoo model in the cache
and every trained Fashion-MNIST model, outputs at --opt-level 1, 2 and 3 equal those at level 0
within 1e-5 relative (max |a - b| <= 1e-5 * max |a|, FP32 reference kernels); the Fashion
models' top-1 on their 100 reference images is unchanged; and the optimized graph exported with
`lucid build --export-onnx` passes onnx.checker (when the onnx package is there) and, loaded
back, computes the level-3 outputs.

usage: opt_equivalence.py --lucid PATH [--cache DIR[,DIR]] [--models a,b] [--fashion DIR]
                          [--levels 1,2,3] [--timeout S]

Prints one line per model and level with the ratio, and exits 1 if any check failed. Models
missing from the cache are reported as SKIP (tests/zoo_check.py --export makes them).
"""
import argparse
import glob
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

TOLERANCE = 1e-5


def sh(cmd, timeout):
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                       timeout=timeout)
    if p.returncode != 0:
        raise RuntimeError("%s: exit %d: %s" % (" ".join(cmd[:3]), p.returncode,
                                               p.stderr.strip()[-500:]))
    return p.stdout


def ratio(ref, got):
    """max |ref - got| / max |ref| (0 when both are all zero; inf on shape mismatch)."""
    if ref.shape != got.shape:
        return float("inf")
    ref = ref.astype(np.float64)
    got = got.astype(np.float64)
    diff = float(np.max(np.abs(ref - got))) if ref.size else 0.0
    peak = float(np.max(np.abs(ref))) if ref.size else 0.0
    if np.isnan(got).any() != np.isnan(ref).any():
        return float("inf")
    return diff / peak if peak > 0 else diff


def input_name(lucid, model, timeout):
    info = json.loads(sh([lucid, "info", model, "--json"], timeout))
    return info["inputs"][0]["name"]


def run_outputs(lucid, model, inp_name, inp, level, out_dir, timeout, extra=()):
    os.makedirs(out_dir, exist_ok=True)
    doc = json.loads(sh([lucid, "run", model, "--input", "%s=%s" % (inp_name, inp),
                         "--opt-level", str(level), "--output-dir", out_dir, "--json",
                         *extra], timeout))
    return [np.load(o["file"]) for o in doc["outputs"]]


def check_export(lucid, model, inp_name, inp, ref, tmp, timeout):
    """Exports the level-3 graph, checks it with onnx.checker, runs it as loaded."""
    path = os.path.join(tmp, "optimized.onnx")
    sh([lucid, "build", model, "--export-onnx", path], timeout)
    checker = "skipped (no onnx package)"
    try:
        import onnx  # noqa: F401 - optional
        onnx.checker.check_model(onnx.load(path), full_check=True)
        checker = "onnx.checker ok"
    except ImportError:
        pass
    outs = run_outputs(lucid, path, inp_name, inp, 0, os.path.join(tmp, "exported"), timeout)
    r = max(ratio(a, b) for a, b in zip(ref, outs)) if len(outs) == len(ref) else float("inf")
    return r, checker


def check_zoo(lucid, folder, levels, timeout):
    model = os.path.join(folder, "model.onnx")
    inp = os.path.join(folder, "input.npy")
    name = input_name(lucid, model, timeout)
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        base = run_outputs(lucid, model, name, inp, 0, os.path.join(tmp, "l0"), timeout)
        outs3 = None
        for level in levels:
            outs = run_outputs(lucid, model, name, inp, level, os.path.join(tmp, "l%d" % level),
                               timeout)
            if level == 3:
                outs3 = outs
            r = max(ratio(a, b) for a, b in zip(base, outs)) if len(outs) == len(base) \
                else float("inf")
            results.append(("level %d" % level, r <= TOLERANCE, "ratio %.3g" % r))
        if outs3 is not None:
            r, checker = check_export(lucid, model, name, inp, outs3, tmp, timeout)
            results.append(("export", r <= TOLERANCE, "ratio %.3g vs level 3, %s" % (r, checker)))
    return results


def check_fashion(lucid, folder, levels, timeout):
    model = os.path.join(folder, "model.onnx")
    data = "npy:%s,%s" % (os.path.join(folder, "ref_input.npy"),
                          os.path.join(folder, "ref_labels.npy"))
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        logits = {}
        for level in [0] + list(levels):
            path = os.path.join(tmp, "logits%d.npy" % level)
            sh([lucid, "eval", model, "--dataset", data, "--opt-level", str(level),
                "--save-logits", path, "--json"], timeout)
            logits[level] = np.load(path)
        top1 = logits[0].argmax(axis=1)
        for level in levels:
            r = ratio(logits[0], logits[level])
            same = bool((logits[level].argmax(axis=1) == top1).all())
            results.append(("level %d" % level, r <= TOLERANCE and same,
                            "ratio %.3g, top-1 of %d images %s" %
                            (r, len(top1), "unchanged" if same else "CHANGED")))
        inp = os.path.join(tmp, "one.npy")
        np.save(inp, np.load(os.path.join(folder, "ref_input.npy"))[:1])
        name = input_name(lucid, model, timeout)
        ref = run_outputs(lucid, model, name, inp, 3, os.path.join(tmp, "l3"), timeout)
        r, checker = check_export(lucid, model, name, inp, ref, tmp, timeout)
        results.append(("export", r <= TOLERANCE, "ratio %.3g vs level 3, %s" % (r, checker)))
    return results


def main(argv=None):
    ap = argparse.ArgumentParser(description="Optimized outputs equal unoptimized ones.")
    ap.add_argument("--lucid", required=True, help="path to the lucid CLI")
    ap.add_argument("--cache", default=os.path.join(".", "cache", "zoo"),
                    help="zoo cache folders, comma-separated; the first holding a model is "
                    "used (default ./cache/zoo)")
    ap.add_argument("--models", default="", help="comma-separated zoo models (default: all cached)")
    ap.add_argument("--fashion", default="", help="folder of Fashion-MNIST models (model.onnx, "
                    "ref_input.npy, ref_labels.npy per sub-folder); empty: none")
    ap.add_argument("--levels", default="1,2,3", help="levels compared with 0 (default 1,2,3)")
    ap.add_argument("--timeout", type=float, default=1800.0, help="seconds per command")
    a = ap.parse_args(argv)
    levels = [int(x) for x in a.levels.split(",") if x]

    jobs = []
    caches = [c for c in a.cache.split(",") if c]
    names = [m for m in a.models.split(",") if m]
    if not names:
        names = sorted({d for c in caches if os.path.isdir(c) for d in os.listdir(c)
                        if os.path.isdir(os.path.join(c, d))})
    for name in names:
        found = [os.path.join(c, name) for c in caches
                 if os.path.exists(os.path.join(c, name, "model.onnx"))]
        folder = found[0] if found else os.path.join(caches[0] if caches else ".", name)
        jobs.append(("zoo/" + name, folder, check_zoo))
    if a.fashion:
        for f in sorted(glob.glob(os.path.join(a.fashion, "*", "model.onnx"))):
            folder = os.path.dirname(f)
            jobs.append(("fashion/" + os.path.basename(folder), folder, check_fashion))

    failed = skipped = 0
    for label, folder, fn in jobs:
        t0 = time.time()
        if not os.path.exists(os.path.join(folder, "model.onnx")):
            print("SKIP %-28s not in the cache" % label, flush=True)
            skipped += 1
            continue
        try:
            results = fn(a.lucid, folder, levels, a.timeout)
        except (RuntimeError, subprocess.TimeoutExpired, ValueError, KeyError) as e:
            results = [("error", False, str(e))]
        for what, ok, msg in results:
            failed += not ok
            print("%s %-28s %-8s %s" % ("ok  " if ok else "FAIL", label, what, msg), flush=True)
        print("     %-28s %.1f s" % (label, time.time() - t0), flush=True)
    print("%d models, %d failed checks, %d skipped" % (len(jobs) - skipped, failed, skipped))
    return 1 if failed or not jobs or skipped == len(jobs) else 0


if __name__ == "__main__":
    sys.exit(main())
