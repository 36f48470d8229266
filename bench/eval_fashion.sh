#!/usr/bin/env bash
# eval_fashion.sh - lucid's top-1 on all 10,000 Fashion-MNIST test images for each committed
# model, compared with PyTorch's from models/fashion/results.json (exact equality required).
# Usage: bench/eval_fashion.sh [PATH/TO/lucid] [OUT.json]
#   PATH/TO/lucid defaults to build/lucid; OUT.json (optional) receives every eval's JSON plus
#   the machine and date. Prints a Markdown table (docs/eval.md); exits 1 when a model is
#   missing or any top-1 differs from PyTorch's, 2 when lucid itself fails.
set -u

HERE=$(cd "$(dirname "$0")/.." && pwd)
LUCID=${1:-$HERE/build/lucid}
OUT=${2:-}
PY=/usr/bin/python3
MODELS="lenet5 vgg resnet mobilenet squeezenet inception"
RESULTS=$HERE/models/fashion/results.json
T=$(mktemp -d /tmp/lucid_eval_fashion.XXXXXX)
trap 'rm -rf "$T"' EXIT

if [ ! -x "$LUCID" ]; then
    echo "eval_fashion.sh: $LUCID: not an executable (build lucid first)" >&2
    exit 2
fi
if [ ! -f "$RESULTS" ]; then
    echo "eval_fashion.sh: $RESULTS: missing (train the models first)" >&2
    exit 1
fi

status=0
for m in $MODELS; do
    model=$HERE/models/fashion/$m/model.onnx
    if [ ! -f "$model" ]; then
        echo "eval_fashion.sh: $model: missing" >&2
        status=1
        continue
    fi
    if ! "$LUCID" eval "$model" --dataset fashion-mnist:test --json >"$T/$m.json" 2>"$T/$m.err"; then
        echo "eval_fashion.sh: $m: lucid eval failed: $(cat "$T/$m.err")" >&2
        status=2
        rm -f "$T/$m.json"
    fi
done

# The table, and the exact comparison: results.json keeps PyTorch's top-1 in percent with two
# decimals, which over 10,000 images is exactly correct/100.
"$PY" - "$T" "$RESULTS" "$OUT" "$LUCID" $MODELS <<'EOF'
import json, os, platform, subprocess, sys, datetime
tmp, results_path, out, lucid = sys.argv[1:5]
names = sys.argv[5:]
res = json.load(open(results_path))["models"]
cpu = "unknown"
try:
    for line in open("/proc/cpuinfo"):
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
except OSError:
    pass
rows, evals, ok = [], {}, True
print("| model | lucid top-1 % | PyTorch top-1 % | equal | lucid top-5 % | PyTorch top-5 % | images | seconds | images/s |")
print("|---|---:|---:|---|---:|---:|---:|---:|---:|")
for n in names:
    p = os.path.join(tmp, n + ".json")
    if not os.path.exists(p) or n not in res:
        print(f"| {n} | - | {res.get(n, {}).get('top1', '-')} | missing | - | - | - | - | - |")
        ok = False
        continue
    d = json.load(open(p))
    evals[n] = d
    want = round(res[n]["top1"] * d["images"] / 100)
    equal = d["images"] == 10000 and d["top1_correct"] == want
    ok &= equal
    print(f"| {n} | {d['top1']:.2f} | {res[n]['top1']:.2f} | {'yes' if equal else 'NO'} | "
          f"{d['top5']:.2f} | {res[n].get('top5', float('nan')):.2f} | {d['images']} | "
          f"{d['seconds']:.1f} | {d['images_per_s']:.0f} |")
if out:
    version = subprocess.run([lucid, "--version"], capture_output=True, text=True).stdout.strip()
    doc = {"schema": "lucid-eval-fashion/1", "command": "bench/eval_fashion.sh",
           "lucid": version, "config": "reference", "device_name": cpu,
           "machine": {"cores": os.cpu_count(), "os": platform.platform()},
           "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
           "pytorch_results": os.path.relpath(results_path),
           "models": {n: {"lucid": evals.get(n),
                          "pytorch_top1": res.get(n, {}).get("top1"),
                          "pytorch_top5": res.get(n, {}).get("top5")} for n in names},
           "all_equal": ok}
    with open(out, "w") as f:
        json.dump(doc, f, indent=2)
        f.write("\n")
sys.exit(0 if ok else 1)
EOF
py_status=$?
if [ "$status" -eq 0 ] && [ "$py_status" -ne 0 ]; then status=1; fi
exit "$status"
