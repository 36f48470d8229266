#!/usr/bin/env python3
"""precision_fashion.py - top-1 of every reduced-precision and compression config of lucid on
the trained Fashion-MNIST models, on all 10,000 test images, against the FP32 plan.

For each model (models/fashion/<name>/model.onnx) and config it builds a plan with
`lucid build --json` (calibrating INT8 on the first N training images, never on test images),
then runs `lucid eval PLAN --dataset fashion-mnist:test --json`. Prints a Markdown table and
writes every build summary and eval result as JSON.

Usage: bench/precision_fashion.py [--lucid build/lucid] [--out OUT.json] [--md OUT.md]
                                  [--models lenet5,resnet] [--configs fp32,int8-entropy]
                                  [--calibration-count 500] [--threads N] [--work DIR]
"""
import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODELS = ["lenet5", "vgg", "resnet", "mobilenet", "squeezenet", "inception"]

# name -> (build flags, what it is)
CONFIGS = [
    ("fp32", [], "float32 plan (the baseline)"),
    ("fp16", ["--precision", "fp16"], "FP16 weights and activations"),
    ("bf16", ["--precision", "bf16"], "BF16 weights and activations"),
    ("int8-minmax", ["--precision", "int8", "--calibrator", "minmax"], "INT8, min-max calibration"),
    ("int8-percentile", ["--precision", "int8", "--calibrator", "percentile"],
     "INT8, 99.99th percentile calibration"),
    ("int8-entropy", ["--precision", "int8", "--calibrator", "entropy"],
     "INT8, entropy (KL) calibration"),
    ("int8-entropy-auto", ["--precision", "int8", "--calibrator", "entropy", "--auto-precision",
                           "0.05"],
     "INT8, entropy calibration, layers adding more than 5% error kept FP32"),
    ("prune-50", ["--prune", "0.5"], "50% magnitude pruning"),
    ("prune-75", ["--prune", "0.75"], "75% magnitude pruning"),
    ("prune-90", ["--prune", "0.9"], "90% magnitude pruning"),
    ("prune-2:4", ["--prune-2-4"], "2:4 structured pruning"),
    ("cluster-16", ["--cluster-bits", "4"], "16 shared weight values per layer"),
    ("cluster-256", ["--cluster-bits", "8"], "256 shared weight values per layer"),
]


def run(cmd):
    p = subprocess.run(cmd, capture_output=True, text=True)
    return p.returncode, p.stdout, p.stderr


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lucid", default=os.path.join(HERE, "build", "lucid"))
    ap.add_argument("--out")
    ap.add_argument("--md")
    ap.add_argument("--models", default=",".join(MODELS))
    ap.add_argument("--configs", default=",".join(c[0] for c in CONFIGS))
    ap.add_argument("--calibration-count", type=int, default=500)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--work")
    a = ap.parse_args()
    models = a.models.split(",")
    wanted = a.configs.split(",")
    configs = [c for c in CONFIGS if c[0] in wanted]
    unknown = set(wanted) - {c[0] for c in CONFIGS}
    if unknown:
        sys.exit("precision_fashion.py: unknown configs: " + ", ".join(sorted(unknown)))
    work = a.work or tempfile.mkdtemp(prefix="lucid_precision_")
    os.makedirs(work, exist_ok=True)
    results = {}
    failures = 0
    for m in models:
        onnx = os.path.join(HERE, "models", "fashion", m, "model.onnx")
        if not os.path.exists(onnx):
            sys.exit(f"precision_fashion.py: {onnx}: missing")
        results[m] = {}
        for name, flags, _ in configs:
            plan = os.path.join(work, f"{m}.{name}.plan")
            cmd = [a.lucid, "build", onnx, "-o", plan, "--json", "--threads", str(a.threads)] + flags
            if "int8" in flags:
                cmd += ["--calibration-data", "fashion-mnist:train",
                        "--calibration-count", str(a.calibration_count),
                        "--calibration-cache", os.path.join(work, f"{m}.{name}.calib")]
            t0 = time.time()
            rc, out, err = run(cmd)
            build_s = time.time() - t0
            entry = {"flags": flags, "build_command": " ".join(cmd[1:]), "build_wall_s": build_s}
            if rc != 0:
                entry["error"] = err.strip()
                results[m][name] = entry
                failures += 1
                print(f"{m} {name}: build failed: {err.strip()}", file=sys.stderr)
                continue
            b = json.loads(out)
            p = b.get("plan", {})
            entry["plan"] = {k: p.get(k) for k in ("precision", "reduced_layers", "reformat_layers",
                                                    "calibration", "calibration_samples",
                                                    "weight_bytes", "plan_bytes")}
            comp = p.get("compressed_layers") or []
            if comp:
                entry["compressed_bytes_before"] = sum(c["bytes_before"] for c in comp)
                entry["compressed_bytes_after"] = sum(c["bytes_after"] for c in comp)
                w = sum(c["weights"] for c in comp)
                entry["sparsity"] = sum(c["zeros_after"] for c in comp) / w if w else 0
            entry["precision_layers"] = p.get("precision_layers")
            rc, out, err = run([a.lucid, "eval", plan, "--dataset", "fashion-mnist:test", "--json"])
            if rc != 0:
                entry["error"] = err.strip()
                failures += 1
                print(f"{m} {name}: eval failed: {err.strip()}", file=sys.stderr)
            else:
                entry["eval"] = json.loads(out)
            results[m][name] = entry
            ev = entry.get("eval")
            print(f"{m:10s} {name:16s} top-1 {ev['top1']:.2f}" if ev else f"{m} {name}: -",
                  file=sys.stderr)

    lines = ["| model | " + " | ".join(c[0] for c in configs) + " |",
             "|---|" + "---:|" * len(configs)]
    for m in models:
        base = results[m].get("fp32", {}).get("eval", {}).get("top1")
        cells = []
        for name, _, _ in configs:
            e = results[m].get(name, {})
            ev = e.get("eval")
            if not ev:
                cells.append("failed")
                continue
            cell = f"{ev['top1']:.2f}"
            if base is not None and name != "fp32":
                cell += f" ({ev['top1'] - base:+.2f})"
            cells.append(cell)
        lines.append(f"| {m} | " + " | ".join(cells) + " |")
    table = "\n".join(lines)
    print(table)
    version = run([a.lucid, "--version"])[1].strip()
    cpu = "unknown"
    for line in open("/proc/cpuinfo"):
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    doc = {"schema": "lucid-precision-fashion/1",
           "command": "bench/precision_fashion.py " + " ".join(sys.argv[1:]),
           "lucid": version, "cpu": cpu, "cores": os.cpu_count(), "os": platform.platform(),
           "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
           "dataset": "fashion-mnist:test (10,000 images)",
           "calibration": f"first {a.calibration_count} images of fashion-mnist:train",
           "configs": {c[0]: c[2] for c in configs}, "results": results}
    if a.out:
        with open(a.out, "w") as f:
            json.dump(doc, f, indent=1)
            f.write("\n")
    if a.md:
        with open(a.md, "w") as f:
            f.write(table + "\n")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
