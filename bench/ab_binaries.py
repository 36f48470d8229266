#!/usr/bin/env python3
"""A/B of two lucid binaries on the same plans: what a run-path change buys.

Each round runs `lucid bench PLAN --duration S --json` once with every binary (the order
rotates from round to round), so both see the same machine state; the result per binary is the
median of its round medians, and the ratio is the median of the per-round ratios B/A.

    bench/ab_binaries.py --a NEW_LUCID --b OLD_LUCID --rounds 6 PLAN...
"""
import argparse
import json
import statistics
import subprocess
import sys


def bench(lucid, plan, duration):
    p = subprocess.run([lucid, "bench", plan, "--duration", str(duration), "--json"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if p.returncode:
        sys.exit("%s bench %s failed: %s" % (lucid, plan, p.stderr.strip()))
    return json.loads(p.stdout)["latency_ms"]["median"]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--a", required=True, help="lucid binary A (the change)")
    ap.add_argument("--b", required=True, help="lucid binary B (the baseline)")
    ap.add_argument("--rounds", type=int, default=6)
    ap.add_argument("--duration", type=float, default=1.0, help="seconds per bench call")
    ap.add_argument("plans", nargs="+")
    args = ap.parse_args()
    print("plan | A median ms | B median ms | B/A (median of rounds) | A rounds | B rounds")
    print("---|---|---|---|---|---")
    for plan in args.plans:
        got = {"a": [], "b": []}
        for r in range(args.rounds):
            for k in (("a", "b") if r % 2 == 0 else ("b", "a")):
                got[k].append(bench(getattr(args, k), plan, args.duration))
        ratio = statistics.median(b / a for a, b in zip(got["a"], got["b"]))
        print("%s | %.3f | %.3f | %.3f | %s | %s" % (
            plan, statistics.median(got["a"]), statistics.median(got["b"]), ratio,
            " ".join("%.2f" % x for x in got["a"]), " ".join("%.2f" % x for x in got["b"])))
        sys.stdout.flush()


if __name__ == "__main__":
    main()
