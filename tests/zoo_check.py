#!/usr/bin/python3
"""zoo_check.py - runs each exported zoo model through `lucid run` and compares its outputs with PyTorch's.

    /usr/bin/python3 tests/zoo_check.py --lucid BUILD/lucid [--cache DIR] [--models a,b]
                                         [--export] [--timeout S]

For every model folder in the cache (<cache>/<name>/{model.onnx,input.npy,output*.npy},
written by models/export_zoo.py), runs

    lucid run model.onnx --input input=input.npy --output-dir TMP

and compares every reference output*.npy with TMP's file of the same name: a model passes
iff, for each output, shapes match and max|lucid - torch| <= 1e-4 * max|torch|. Prints
the error ratio (max abs error / max |reference|) and the time `lucid run` took. With
--export, models missing from the cache are exported first (needs torch). Ends with
"N passed, M failed"; exits 1 if anything failed or nothing was checked.
"""

import argparse
import glob
import os
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
TOLERANCE = 1e-4


def compare(ref, got):
    """Returns (ok, ratio, note)."""
    if got.shape != ref.shape:
        return False, float("inf"), "shape %s, expected %s" % (got.shape, ref.shape)
    if got.dtype != ref.dtype:
        return False, float("inf"), "dtype %s, expected %s" % (got.dtype, ref.dtype)
    if not np.all(np.isfinite(got)):
        return False, float("inf"), "%d non-finite values" % int(np.sum(~np.isfinite(got)))
    scale = float(np.max(np.abs(ref))) if ref.size else 0.0
    err = float(np.max(np.abs(got.astype(np.float64) - ref.astype(np.float64)))) if ref.size else 0.0
    if scale == 0.0:
        return err == 0.0, (0.0 if err == 0.0 else float("inf")), "reference is all zero"
    ratio = err / scale
    return ratio <= TOLERANCE, ratio, ""


def check_model(lucid, folder, timeout, engine):
    """Runs one engine ("reference": the reference executor on the graph as exported, the
    ground truth; "plan": the engine lucid builds, graph passes and timed tactics) and returns
    (ok, worst ratio, seconds, message)."""
    refs = sorted(glob.glob(os.path.join(folder, "output*.npy")))
    if not refs:
        return False, float("inf"), 0.0, "no output*.npy in %s" % folder
    tmp = tempfile.mkdtemp(prefix="lucid-zoo-")
    try:
        cmd = [lucid, "run", os.path.join(folder, "model.onnx"),
               "--input", "input=" + os.path.join(folder, "input.npy"), "--output-dir", tmp] + (
                   ["--reference", "--opt-level", "0"] if engine == "reference" else [])
        t0 = time.time()
        try:
            p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               timeout=timeout, stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            return False, float("inf"), time.time() - t0, "timed out after %.0f s" % timeout
        secs = time.time() - t0
        if p.returncode != 0:
            err = p.stderr.decode("utf-8", "replace").strip().splitlines()
            return False, float("inf"), secs, "exit %d: %s" % (p.returncode,
                                                               err[0] if err else "(no message)")
        worst, notes, ok = 0.0, [], True
        for ref_path in refs:
            name = os.path.basename(ref_path)
            got_path = os.path.join(tmp, name)
            if not os.path.isfile(got_path):
                ok = False
                notes.append("%s not written" % name)
                worst = float("inf")
                continue
            good, ratio, note = compare(np.load(ref_path), np.load(got_path))
            ok = ok and good
            worst = max(worst, ratio)
            if note or len(refs) > 1:
                notes.append("%s %.2e%s" % (name, ratio, (" " + note) if note else ""))
        return ok, worst, secs, "; ".join(notes)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main(argv=None):
    ap = argparse.ArgumentParser(description="Check lucid's outputs on the model zoo against PyTorch.")
    ap.add_argument("--lucid", required=True, help="path to the lucid CLI")
    ap.add_argument("--cache", default=os.path.join(".", "cache", "zoo"),
                    help="zoo cache folder (default ./cache/zoo)")
    ap.add_argument("--models", default="", help="comma-separated model names (default: all cached)")
    ap.add_argument("--export", action="store_true",
                    help="export models missing from the cache first (with models/export_zoo.py)")
    ap.add_argument("--timeout", type=float, default=1800.0, help="seconds per model (default 1800)")
    ap.add_argument("--engines", default="reference,plan",
                    help="which engines to check: reference (the reference executor, the ground "
                         "truth) and/or plan (the optimized engine lucid builds); default both")
    ap.add_argument("--skip-uncapped", action="store_true",
                    help="exit 77 (skipped) unless LUCID_CPU_ISA caps lucid below this "
                         "processor's instruction sets, and check the optimized engine only "
                         "(the reference kernels do not depend on the cap)")
    args = ap.parse_args(argv)

    lucid = os.path.abspath(args.lucid)
    if not os.access(lucid, os.X_OK):
        sys.stderr.write("zoo_check.py: %s is not an executable\n" % lucid)
        return 1
    if args.skip_uncapped:
        version = subprocess.run([lucid, "--version"], stdout=subprocess.PIPE,
                                 stdin=subprocess.DEVNULL, check=True).stdout.decode()
        isa = next((l for l in version.splitlines() if l.startswith("cpu instruction sets:")), "")
        if "capped" not in isa:
            print("skipped: no instruction-set cap below this processor's (%s)" % isa.strip())
            return 77
        print(isa.strip())
        args.engines = "plan"
    names = [n.strip() for n in args.models.split(",") if n.strip()]
    if args.export:
        cmd = [sys.executable, os.path.join(ROOT, "models", "export_zoo.py"), "--out", args.cache]
        if names:
            cmd += ["--models", ",".join(names)]
        t0 = time.time()
        rc = subprocess.call(cmd)
        print("export step: %.1f s" % (time.time() - t0), flush=True)
        if rc != 0:
            sys.stderr.write("zoo_check.py: export_zoo.py failed with exit code %d\n" % rc)
            return 1
    if not names:
        names = sorted(d for d in os.listdir(args.cache)
                       if os.path.isfile(os.path.join(args.cache, d, "model.onnx"))) \
            if os.path.isdir(args.cache) else []

    passed = failed = 0
    total = 0.0
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    if not engines or any(e not in ("reference", "plan") for e in engines):
        sys.stderr.write("zoo_check.py: --engines takes reference and/or plan\n")
        return 1
    for n in names:
        folder = os.path.join(args.cache, n)
        for engine in engines:
            if not os.path.isfile(os.path.join(folder, "model.onnx")):
                ok, ratio, secs, msg = False, float("inf"), 0.0, "not in the cache (use --export)"
            else:
                ok, ratio, secs, msg = check_model(lucid, folder, args.timeout, engine)
            total += secs
            print("%s %-20s %-9s ratio %-9s time %7.2f s%s" % ("PASS" if ok else "FAIL", n, engine,
                  "%.2e" % ratio if ratio != float("inf") else "-", secs,
                  ("  " + msg) if msg else ""), flush=True)
            passed += ok
            failed += not ok
    print("total lucid run time %.1f s" % total)
    print("%d passed, %d failed" % (passed, failed))
    return 0 if failed == 0 and passed > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
