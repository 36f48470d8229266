#!/usr/bin/env python3
"""gpu_study_check.py - checks a `lucid characterize --device cuda` results folder: every cell
ok or unavailable with its reason (a failed cell fails the check), lucid's GPU cells carry what
the GPU study promises (GPU breakdown, device memory, energy reading or why not, per-layer
profile with kernel names or why not, per-layer output signatures, run-to-run determinism),
and results.json is valid against docs/characterize.schema.json where the jsonschema module
is installed (the GPU machine may lack it; the check says so).

    python3 tests/gpu_study_check.py RESULTS_DIR [--schema docs/characterize.schema.json]
        [--allow-failed ENGINE/CONFIG ...]

Exit 0 when every check holds, 1 with one line per problem otherwise.
"""

import argparse
import json
import math
import os
import sys


def check(doc, allow_failed):
    problems = []
    if doc.get("settings", {}).get("device") != "cuda":
        problems.append("settings.device is %r, not 'cuda'" % doc.get("settings", {}).get("device"))
    dev = doc.get("environment", {}).get("device") or {}
    if dev.get("kind") != "cuda":
        problems.append("environment.device.kind is %r: no GPU facts" % dev.get("kind"))
    for key in ("peak_gflops_fp32", "bandwidth_gbs"):
        v = dev.get(key)
        if not isinstance(v, (int, float)) or v <= 0:
            problems.append("environment.device.%s is %r" % (key, v))
    lucid_ok = 0
    for c in doc.get("cells", []):
        label = c.get("label")
        st = c.get("status")
        if st == "failed" and label in allow_failed:
            continue
        if st not in ("ok", "unavailable"):
            problems.append("%s: status %s: %s" % (label, st, c.get("reason")))
            continue
        if st == "unavailable":
            if not c.get("reason"):
                problems.append("%s: unavailable without a reason" % label)
            continue
        lat = c.get("latency") or {}
        if not (isinstance(lat.get("median"), (int, float)) and lat["median"] > 0):
            problems.append("%s: no latency median" % label)
        if c.get("engine") != "lucid":
            continue
        lucid_ok += 1
        gb = lat.get("gpu_breakdown") or {}
        for k in ("h2d_ms", "compute_ms", "d2h_ms", "enqueue_ms"):
            v = gb.get(k)
            if not isinstance(v, (int, float)) or math.isnan(v) or v < 0:
                problems.append("%s: gpu_breakdown.%s is %r" % (label, k, v))
        cost = c.get("cost") or {}
        if not (isinstance(cost.get("device_bytes"), (int, float)) and cost["device_bytes"] > 0):
            problems.append("%s: cost.device_bytes is %r" % (label, cost.get("device_bytes")))
        en = c.get("energy")
        if not en or not (en.get("readable") or en.get("note")):
            problems.append("%s: energy neither read nor explained" % label)
        prof = c.get("profile") or {}
        layers = prof.get("layers") or []
        if not layers:
            problems.append("%s: no per-layer profile" % label)
        elif not any(l.get("kernels") for l in layers) and not prof.get("kernels_note"):
            problems.append("%s: no kernel names and no reason" % label)
        if not c.get("layer_outputs"):
            problems.append("%s: no per-layer output signatures" % label)
        r2r = (c.get("determinism") or {}).get("run_to_run")
        if not r2r or not r2r.get("runs"):
            problems.append("%s: no run-to-run result" % label)
    if lucid_ok == 0:
        problems.append("no lucid cell measured ok")
    return problems


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dir")
    ap.add_argument("--schema", default=os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                     "..", "docs", "characterize.schema.json"))
    ap.add_argument("--allow-failed", nargs="*", default=[])
    args = ap.parse_args(argv)
    path = os.path.join(args.dir, "results.json")
    try:
        with open(path) as f:
            doc = json.load(f)
    except (OSError, ValueError) as exc:
        print("FAIL: %s: %s" % (path, exc))
        return 1
    problems = check(doc, set(args.allow_failed))
    try:
        import jsonschema
        with open(args.schema) as f:
            jsonschema.validate(doc, json.load(f))
        print("schema: valid against %s" % args.schema)
    except ImportError:
        print("schema: not checked (no jsonschema module for %s)" % sys.executable)
    except Exception as exc:  # a validation error names the path inside the document
        problems.append("schema: %s" % str(exc).splitlines()[0])
    for p in problems:
        print("FAIL: %s" % p)
    cells = doc.get("cells", [])
    print("%d cells: %d ok, %d unavailable, %d problems" % (
        len(cells), sum(c.get("status") == "ok" for c in cells),
        sum(c.get("status") == "unavailable" for c in cells), len(problems)))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
