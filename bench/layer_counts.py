#!/usr/bin/env python3
"""layer_counts.py - the optimizer's before/after table for the model zoo, from
`lucid build --json` (schema lucid-build/1): ONNX nodes, engine layers at opt level 3, the
main layer types before -> after, and activation memory traffic removed. Writes Markdown to
stdout (or --out FILE), ready for docs/optimizer.md.

usage: bench/layer_counts.py --lucid build/lucid [--cache cache/zoo] [--models a,b]
                             [--opt-level 3] [--out FILE]
"""
import argparse
import json
import os
import subprocess
import sys

MIB = 1024.0 * 1024.0


def build_report(lucid, model, level):
    p = subprocess.run([lucid, "build", model, "--opt-level", str(level), "--json"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if p.returncode != 0:
        raise RuntimeError("%s: %s" % (model, p.stderr.strip()))
    return json.loads(p.stdout)


def by_type(doc, key):
    """'Conv 53, Relu 49, ...' (most frequent first) for key 'before' or 'after'."""
    rows = sorted((r for r in doc["layers_by_op"] if r[key]), key=lambda r: (-r[key], r["op"]))
    return ", ".join("%s %d" % (r["op"], r[key]) for r in rows)


def main(argv=None):
    ap = argparse.ArgumentParser(description="Layer counts before and after lucid's optimizer.")
    ap.add_argument("--lucid", required=True, help="path to the lucid CLI")
    ap.add_argument("--cache", default=os.path.join("cache", "zoo"), help="zoo cache folder")
    ap.add_argument("--models", default="", help="comma-separated models (default: all cached)")
    ap.add_argument("--opt-level", type=int, default=3)
    ap.add_argument("--out", default="", help="write the Markdown here instead of stdout")
    a = ap.parse_args(argv)
    names = [m for m in a.models.split(",") if m] or sorted(
        d for d in os.listdir(a.cache) if os.path.isfile(os.path.join(a.cache, d, "model.onnx")))

    lines = ["| model | ONNX nodes | engine layers | elided | rewrites | refused "
             "| traffic MiB before | after | removed | layers before (by type) "
             "| layers after (by type) |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---|"]
    for name in names:
        doc = build_report(a.lucid, os.path.join(a.cache, name, "model.onnx"), a.opt_level)
        rewrites = sum(1 for r in doc["rewrites"] if r["kind"] == "rewrite")
        refused = sum(1 for r in doc["rewrites"] if r["kind"] == "refused")
        before, after = doc["before"], doc["after"]
        removed = doc["traffic_removed_bytes"]
        lines.append("| %s | %d | %d | %d | %d | %d | %.1f | %.1f | %.1f (%.0f%%) | %s | %s |" % (
            name, before["nodes"], after["layers"], after["elided"], rewrites, refused,
            before["traffic_bytes"] / MIB, after["traffic_bytes"] / MIB, removed / MIB,
            100.0 * removed / before["traffic_bytes"] if before["traffic_bytes"] else 0.0,
            by_type(doc, "before"), by_type(doc, "after")))
        print("%s: %d -> %d" % (name, before["nodes"], after["layers"]), file=sys.stderr)
    text = "\n".join(lines) + "\n"
    if a.out:
        with open(a.out, "w") as f:
            f.write(text)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
