#!/usr/bin/env bash
# test_characterize.sh - `lucid characterize` end to end.
#   cli:    bad input (one line, the documented exit code), a small full study on the LeNet-5
#           Fashion-MNIST model (lucid configs, ONNX Runtime, OpenVINO, TensorRT unavailable) whose
#           results.json validates against docs/characterize.schema.json and says what it
#           must, the CSV tables, and an interrupted run (SIGINT) leaving valid partial results;
#           a small CNN outside the zoo, exported on the spot, studied without a dataset with
#           lucid, ONNX Runtime, OpenVINO and PyTorch (the module converted from ONNX) all ok.
#   report: the report renders in headless Chromium with every chart drawn and no script
#           error (checked in the DOM the page annotates), and a screenshot is taken.
# Usage: test_characterize.sh LUCID SOURCE_DIR cli|report
set -uo pipefail
lucid="$1"
src="$2"
mode="$3"
py="${LUCID_PYTHON:-/usr/bin/python3}"
model="$src/models/fashion/lenet5/model.onnx"
schema="$src/docs/characterize.schema.json"
tmp="$(mktemp -d /tmp/lucid-test-characterize.XXXXXX)"
trap 'rm -rf "$tmp"' EXIT
pass=0
fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }
dataset=()
if [ -f /usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz ]; then
  dataset=(--dataset fashion-mnist:test --limit 200)
fi
small=(--warmup 0 --iterations 3 --duration 0.05 --runs 3 --builds 2 --tune-ms 0.5 --threads 2 --quiet)

# expect CODE ARGS...: the exit code and exactly one 'lucid: ' line on stderr
expect() {
  local want="$1"
  shift
  "$lucid" characterize "$@" >"$tmp/out" 2>"$tmp/err"
  local rc=$?
  local lines
  lines=$(wc -l <"$tmp/err")
  if [ "$rc" -eq "$want" ] && [ "$lines" -eq 1 ] && grep -q '^lucid: ' "$tmp/err"; then
    ok
  else
    bad "characterize $* -> exit $rc (want $want), stderr: $(cat "$tmp/err")"
  fi
}

validate() { # validate FILE: against the schema, when python3-jsonschema is there
  if ! "$py" -c 'import jsonschema' 2>/dev/null; then
    echo "SKIP: schema validation of $1: python3-jsonschema is not installed (scripts/setup.sh installs it)"
    return 0
  fi
  if "$py" - "$schema" "$1" <<'EOF'
import json, sys, jsonschema
schema, doc = (json.load(open(p)) for p in sys.argv[1:3])
jsonschema.Draft202012Validator.check_schema(schema)
errors = sorted(jsonschema.Draft202012Validator(schema).iter_errors(doc), key=lambda e: list(e.path))
for e in errors[:5]:
    print("schema: %s: %s" % ("/".join(map(str, e.path)), e.message))
sys.exit(1 if errors else 0)
EOF
  then ok; else bad "$1 does not validate against $schema"; fi
}

if [ "$mode" = cli ]; then
  expect 1 "$model" --configs tuned,fp64 --out "$tmp/x"
  expect 1 "$model" --engines lucid,tensorflow --out "$tmp/x"
  expect 1 "$model" --device tpu --out "$tmp/x"
  expect 1 "$model" --runs 0 --out "$tmp/x"
  expect 1 "$model" --no-such-flag
  expect 1 --out "$tmp/x"
  expect 3 "$tmp/missing.onnx" --out "$tmp/x"
  echo "not a model" >"$tmp/bad.onnx"
  expect 2 "$tmp/bad.onnx" --out "$tmp/x"
  expect 1 "$model" --dataset npy:"$tmp/none.npy" --out "$tmp/x"
  [ ! -e "$tmp/x/results.json" ] && ok || bad "a refused study wrote results"

  out="$tmp/run"
  if "$lucid" characterize "$model" "${dataset[@]}" --engines lucid,onnxruntime,openvino,tensorrt \
      --batches 1,8 "${small[@]}" --out "$out" >"$tmp/out" 2>"$tmp/err"; then ok; else
    bad "the study failed: $(cat "$tmp/err")"; fi
  grep -q "report: $out/report.html" "$tmp/out" && ok || bad "no report line: $(cat "$tmp/out")"
  for f in results.json cells.csv layers.csv determinism.csv ablation.csv offline.csv \
      profile.trace.json report.html; do
    [ -s "$out/$f" ] && ok || bad "$f missing"
  done
  validate "$out/results.json"
  "$py" - "$out" "${#dataset[@]}" <<'EOF' && ok || bad "results.json content"
import csv, json, sys
out, labelled = sys.argv[1], sys.argv[2] != "0"
r = json.load(open(out + "/results.json"))
cells = {c["label"]: c for c in r["cells"]}
def need(cond, what):
    if not cond:
        print("results.json:", what)
        sys.exit(1)
need(r["complete"] and not r["interrupted"], "complete")
for name in ("reference", "fusions", "tuned", "deterministic"):
    c = cells["lucid/" + name]
    need(c["status"] == "ok", name + " ok: " + str(c["reason"]))
    l = c["latency"]
    need(l["min"] <= l["median"] <= l["p90"] <= l["p95"] <= l["p99"] <= l["max"], name + " percentiles ordered")
    need(l["iterations"] >= 3, name + " iterations")
    need(c["accuracy"]["vs_reference"]["argmax_agreement"] >= 99.0, name + " agrees with the reference")
    need(c["accuracy"]["vs_reference"]["cosine"] > 0.9999, name + " cosine")
    need(c["profile"] and len(c["profile"]["layers"]) >= 3, name + " profile")
    need(c["determinism"]["run_to_run"]["runs"] == 3, name + " run-to-run runs")
    need(c["determinism"]["run_to_run"]["distinct_outputs"] == 1, name + " run-to-run deterministic")
    if labelled:
        need(80 <= c["accuracy"]["top1"] <= 100, name + " top-1 plausible")
for name in ("tuned", "deterministic"):
    b = cells["lucid/" + name]["determinism"]["build_to_build"]
    need(b["builds"] == 2 and len(b["plans"]) == 2, name + " build-to-build")
    need(cells["lucid/" + name]["cost"]["plan_bytes"] > 0, name + " plan size")
need(cells["lucid/reference"]["accuracy"]["vs_reference"]["max_abs_error"] == 0, "reference is the reference")
# reduced precision and compression run (int8 calibrates on the training split when the test
# split is evaluated; without Fashion-MNIST it has no calibration set and says so)
for name in ("fp16", "bf16", "int8", "pruned", "clustered"):
    c = cells["lucid/" + name]
    if name == "int8" and not labelled:
        need(c["status"] == "unavailable" and "calibration" in c["reason"], "int8 unavailable without calibration data")
        continue
    need(c["status"] == "ok", name + " ok: " + str(c["reason"]))
    # 16-bit and INT8 stay close; 50% pruning and 16-value clustering of LeNet-5 without
    # fine-tuning move about 4% and 1% of the answers (docs/precision.md)
    floor = {"fp16": 99.0, "bf16": 99.0, "int8": 97.0, "pruned": 80.0, "clustered": 90.0}[name]
    need(c["accuracy"]["vs_reference"]["argmax_agreement"] >= floor, name + " agrees with the reference")
    need(c["accuracy"]["vs_reference"]["max_abs_error"] > 0, name + " differs from the reference at all")
    if labelled:
        need(80 <= c["accuracy"]["top1"] <= 100, name + " top-1 plausible")
need(cells["tensorrt/fp32"]["status"] == "unavailable" and "GPU" in cells["tensorrt/fp32"]["reason"], "tensorrt unavailable")
ort = cells["onnxruntime/cpu-all-opts"]
need(ort["status"] in ("ok", "unavailable"), "onnxruntime: " + str(ort["reason"]))
if ort["status"] == "ok":
    need(ort["latency"]["median"] > 0 and ort["accuracy"]["vs_reference"]["argmax_agreement"] >= 99, "onnxruntime measured")
    rr = ort["determinism"]["run_to_run"]
    need(rr["runs"] == 3 and rr["distinct_outputs"] >= 1 and rr["note"], "onnxruntime run-to-run")
# OpenVINO: measured, or unavailable with the reason (not installed for the peers' python)
for config in ("cpu-fp32", "cpu-default"):
    ov = cells["openvino/" + config]
    need(ov["status"] in ("ok", "unavailable") and (ov["status"] == "ok" or "openvino" in ov["reason"]),
         "openvino/%s: %s %s" % (config, ov["status"], ov["reason"]))
    if ov["status"] == "ok":
        need(ov["latency"]["median"] > 0 and ov["threads"] == 2 and "precision" in ov["note"],
             "openvino/%s measured with 2 threads and its precision noted" % config)
        floor = 99 if config == "cpu-fp32" else 97
        need(ov["accuracy"]["vs_reference"]["argmax_agreement"] >= floor, "openvino/%s agrees" % config)
need(r["settings"]["python"] and r["settings"]["torch_python"], "settings name the peers' python")
steps = {(a["leaf"], a["step"]) for a in r["ablation"]}
need(("tuned", "fusions") in steps and ("tuned", "tuned") in steps, "ablation chain of tuned")
# the chain's steps multiply to the config's speedup over the reference, and their shares sum to 1
for leaf in ("tuned", "deterministic"):
    rows = [a for a in r["ablation"] if a["leaf"] == leaf]
    prod = 1.0
    for a in rows:
        prod *= a["step_speedup"]
    total = cells["lucid/reference"]["latency"]["median"] / cells["lucid/" + leaf]["latency"]["median"]
    need(abs(prod - total) <= 1e-6 * total and abs(rows[-1]["cumulative_speedup"] - total) <= 1e-6 * total,
         leaf + " steps multiply to the total speedup")
    shares = [a["share_of_speedup"] for a in rows]
    need(None in shares or abs(sum(shares) - 1) < 1e-6, leaf + " shares sum to 1: %s" % shares)
# what lucid compare reads: the machine's peaks, per-layer output signatures, sample outputs
dev = r["environment"]["device"]
need(dev["kind"] == "cpu" and dev["peak_gflops_fp32"] > 0 and dev["bandwidth_gbs"] > 0, "device peaks")
for name in ("reference", "tuned", "fp16"):
    c = cells["lucid/" + name]
    sig = c["layer_outputs"]
    need(sig and len(sig) >= 3 and all(s["digest"].startswith("fnv1a64:") for s in sig),
         name + " layer output signatures")
    o = c["outputs_sample"]
    need(o and o["samples"] >= 1 and len(o["values"]) == o["samples"] * o["elements_per_sample"],
         name + " outputs sample")
# the same plan's outputs on the same input: the sample equals the reference's within FP32 noise
ref_v, tun_v = cells["lucid/reference"]["outputs_sample"]["values"], cells["lucid/tuned"]["outputs_sample"]["values"]
need(max(abs(a - b) for a, b in zip(ref_v, tun_v)) < 1e-3 * max(abs(a) for a in ref_v), "tuned sample near the reference")
rows = list(csv.DictReader(open(out + "/cells.csv")))
need(len(rows) == len(r["cells"]), "cells.csv rows")
trace = json.load(open(out + "/profile.trace.json"))
need(any(e.get("ph") == "X" for e in trace["traceEvents"]), "trace events")
EOF

  # a model the user brings: a small CNN that is in no zoo, exported here with a symbolic
  # batch, studied without a dataset; every CPU peer, PyTorch included (the module converted
  # from the ONNX file), must give an ok cell, or be unavailable because its package is missing
  own="$tmp/own"
  mkdir -p "$own"
  if "$py" - "$own/model.onnx" >"$own/export.log" 2>&1 <<'EOF'
import sys, warnings
import torch, torch.nn as nn, torch.nn.functional as F
class Own(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Conv2d(3, 8, 3, padding=1)
        self.bn = nn.BatchNorm2d(8)
        self.b = nn.Conv2d(8, 16, 3, stride=2, padding=1, groups=2)
        self.c = nn.Conv2d(16, 16, 1)
        self.fc = nn.Linear(16 * 8 * 8, 10)
    def forward(self, x):
        y = F.relu6(self.bn(self.a(x)))
        y = F.max_pool2d(y, 2)
        y = F.hardswish(self.b(y))
        y = y + torch.sigmoid(self.c(y))
        y = F.interpolate(y, scale_factor=2, mode="nearest")
        y = F.avg_pool2d(y, 2)
        return self.fc(torch.flatten(y, 1))
torch.manual_seed(3)
warnings.simplefilter("ignore")
torch.onnx.export(Own().eval(), torch.zeros(1, 3, 32, 32), sys.argv[1], input_names=["image"],
                  output_names=["logits"], dynamic_axes={"image": {0: "batch"}}, opset_version=13)
EOF
  then
    if "$lucid" characterize "$own/model.onnx" --engines lucid,onnxruntime,openvino,pytorch \
        --configs tuned "${small[@]}" --out "$own/run" >"$tmp/out" 2>"$tmp/err"; then ok; else
      bad "the study of a model outside the zoo failed: $(cat "$tmp/err")"; fi
    "$py" - "$own/run/results.json" <<'EOF' && ok || bad "own model: results.json"
import json, sys
r = json.load(open(sys.argv[1]))
cells = {c["label"]: c for c in r["cells"]}
bad = []
for label, package in (("lucid/tuned", None), ("onnxruntime/cpu-all-opts", "onnxruntime"),
                       ("openvino/cpu-fp32", "openvino"), ("pytorch/eager-fp32", "torch")):
    c = cells.get(label)
    if c is None:
        bad.append(label + ": no cell")
    elif c["status"] == "ok":
        if not c["latency"]["median"] > 0:
            bad.append(label + ": no latency")
    elif not (package and c["status"] == "unavailable" and "not installed" in (c["reason"] or "")):
        bad.append("%s: %s: %s" % (label, c["status"], c["reason"]))
    else:
        print("SKIP: %s: %s" % (label, c["reason"]))
# the symbolic batch is fixed for every peer's accuracy run too (OpenVINO compiles one shape)
ov = cells.get("openvino/cpu-fp32")
if ov and ov["status"] == "ok":
    acc = (ov["accuracy"] or {}).get("vs_reference")
    if not (acc and acc["argmax_agreement"] == 100):
        bad.append("openvino/cpu-fp32 accuracy not measured: %s" % ov["accuracy"])
pt = cells.get("pytorch/eager-fp32")
if pt and pt["status"] == "ok":
    acc = pt["accuracy"]["vs_reference"]
    if not (acc and acc["argmax_agreement"] == 100 and acc["cosine"] > 0.99999):
        bad.append("pytorch/eager-fp32 does not agree with lucid's FP32 reference: %s" % acc)
for b in bad:
    print("own model:", b)
sys.exit(1 if bad else 0)
EOF
  else
    echo "SKIP: the study of a model outside the zoo: $py could not export it: $(tail -1 "$own/export.log")"
  fi

  # --device cuda on this machine: no cell can run, each says why, nothing is faked
  cuda="$tmp/cuda"
  if "$lucid" characterize "$model" --device cuda "${small[@]}" --out "$cuda" >"$tmp/cout" 2>"$tmp/cerr"; then
    ok; else bad "--device cuda study failed: $(cat "$tmp/cerr")"; fi
  validate "$cuda/results.json"
  "$py" - "$cuda" <<'EOF' && ok || bad "--device cuda results"
import json, sys
r = json.load(open(sys.argv[1] + "/results.json"))
for c in r["cells"]:
    assert c["status"] in ("unavailable", "ok"), c
    assert c["status"] == "unavailable" or c["engine"] in ("pytorch", "tensorrt"), c["label"]
    assert c["status"] == "ok" or c["reason"], c["label"]
    assert c["status"] == "ok" or c["latency"] is None, c["label"]
lucid = {c["config"]: c for c in r["cells"] if c["engine"] == "lucid"}
# the GPU's configs, none of the CPU-only ones; without a GPU each says why
assert set(lucid) == {"unfused", "fusions", "tuned", "deterministic", "tf32", "fp16", "bf16",
                      "int8", "pruned", "clustered"}, sorted(lucid)
for c in lucid.values():
    assert c["status"] == "unavailable", c["label"]
    assert c["config"] == "int8" or "CUDA" in c["reason"] or "cuda" in c["reason"], c["reason"]
gpu_base = {x["name"]: x["base"] for x in r["configs"]}
assert gpu_base["tuned"] == "fusions" and gpu_base["fusions"] == "unfused", gpu_base
torch = sorted(c["config"] for c in r["cells"] if c["engine"] == "pytorch")
assert torch == ["compile-fp16", "compile-fp32", "eager-fp16", "eager-fp32"], torch
assert [c["config"] for c in r["cells"] if c["engine"] == "tensorrt"] == ["fp32", "fp16"]
EOF

  # an interrupted study leaves valid, partial results and exits 130
  int="$tmp/int"
  "$lucid" characterize "$model" --engines lucid --configs reference,tuned --duration 20 \
    --warmup 0 --quiet --out "$int" >"$tmp/iout" 2>"$tmp/ierr" &
  pid=$!
  for _ in $(seq 1 100); do [ -s "$int/results.json" ] && break; sleep 0.1; done
  sleep 1
  kill -INT "$pid"
  wait "$pid"
  rc=$?
  [ "$rc" -eq 130 ] && ok || bad "interrupted study exit $rc (want 130): $(cat "$tmp/ierr")"
  grep -q "interrupted" "$tmp/ierr" && ok || bad "no interruption message: $(cat "$tmp/ierr")"
  validate "$int/results.json"
  "$py" - "$int" <<'EOF' && ok || bad "interrupted results.json content"
import json, sys
r = json.load(open(sys.argv[1] + "/results.json"))
assert r["interrupted"] and not r["complete"], "flags"
assert any(c["status"] == "skipped" or c["reason"] for c in r["cells"]), "a cell not measured"
EOF
  [ -s "$int/report.html" ] && ok || bad "no report after an interruption"
else
  chromium=""
  for c in chromium chromium-browser google-chrome; do
    command -v "$c" >/dev/null 2>&1 && { chromium="$c"; break; }
  done
  if [ -z "$chromium" ]; then
    echo "SKIP: no headless Chromium (Debian package chromium; scripts/setup.sh installs it)"
    echo "0 passed, 0 failed"
    exit 0
  fi
  out="$tmp/run"
  if "$lucid" characterize "$model" "${dataset[@]}" --engines lucid,tensorrt --batches 1 \
      "${small[@]}" --out "$out" >"$tmp/out" 2>"$tmp/err"; then ok; else
    bad "the study failed: $(cat "$tmp/err")"; fi
  flags=(--headless --no-sandbox --disable-gpu --disable-dev-shm-usage --no-first-run
    --user-data-dir="$tmp/profile")
  timeout 120 "$chromium" "${flags[@]}" --dump-dom "file://$out/report.html" >"$tmp/dom.html" 2>"$tmp/chromium.log"
  body=$(grep -o '<body[^>]*>' "$tmp/dom.html" | head -1)
  echo "rendered: $body"
  echo "$body" | grep -q 'data-status="ok"' && ok || bad "page status not ok: $body; errors: $(grep -o '<pre id="errors">[^<]*' "$tmp/dom.html")"
  drawn=$(echo "$body" | sed -n 's/.*data-charts="\([0-9]*\)".*/\1/p')
  wanted=$(echo "$body" | sed -n 's/.*data-charts-wanted="\([0-9]*\)".*/\1/p')
  [ -n "$drawn" ] && [ "$drawn" -ge 5 ] && [ "$drawn" = "$wanted" ] && ok || bad "charts drawn $drawn of $wanted"
  grep -q 'Determinism' "$tmp/dom.html" && grep -q 'Environment' "$tmp/dom.html" && ok || bad "sections missing"
  timeout 120 "$chromium" "${flags[@]}" --hide-scrollbars --window-size=1280,4000 \
    --screenshot="$tmp/report.png" "file://$out/report.html" >>"$tmp/chromium.log" 2>&1
  size=$(stat -c %s "$tmp/report.png" 2>/dev/null || echo 0)
  [ "$size" -gt 20000 ] && ok || bad "screenshot $size bytes"
  # without Chart.js the page still renders its tables and says why charts are missing
  out2="$tmp/nochart"
  "$lucid" characterize "$model" --engines lucid --configs reference --batches 1 "${small[@]}" \
    --chartjs "$tmp/none.js" --out "$out2" >/dev/null 2>&1 && ok || bad "study without Chart.js"
  timeout 120 "$chromium" "${flags[@]}" --dump-dom "file://$out2/report.html" >"$tmp/dom2.html" 2>>"$tmp/chromium.log"
  grep -q 'data-status="ok"' "$tmp/dom2.html" && grep -q 'Chart not drawn' "$tmp/dom2.html" && ok ||
    bad "report without Chart.js"
fi
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
