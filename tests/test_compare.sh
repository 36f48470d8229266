#!/usr/bin/env bash
# test_compare.sh - `lucid compare` end to end: the committed CPU results of two models merged;
# three devices made from the LeNet-5 results (the CPU's, and two GPUs with peaks whose
# latencies are rescaled so that lucid/tuned is slower on the bigger one) with the anomaly in
# the summary, compare.json and anomalies.csv; bad input refused with one line and the
# documented exit code; and compare.html rendered in headless Chromium (skipped, saying why,
# without it): status ok, every chart drawn, the finding sentences in the DOM.
# Usage: test_compare.sh LUCID SOURCE_DIR
set -uo pipefail
lucid="$1"
src="$2"
py="${LUCID_PYTHON:-/usr/bin/python3}"
lenet="$src/bench/results/2026-11-26-characterize-fashion-lenet5-amd-epyc-2c"
resnet="$src/bench/results/2026-11-26-characterize-resnet50-amd-epyc-2c"
tmp="$(mktemp -d /tmp/lucid-test-compare.XXXXXX)"
trap 'rm -rf "$tmp"' EXIT
pass=0
fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }

# expect CODE ARGS...: the exit code and exactly one 'lucid: ' line on stderr, nothing on stdout
expect() {
  local want="$1"
  shift
  "$lucid" compare "$@" >"$tmp/out" 2>"$tmp/err"
  local rc=$?
  if [ "$rc" -eq "$want" ] && [ "$(wc -l <"$tmp/err")" -eq 1 ] && grep -q '^lucid: ' "$tmp/err" &&
      [ ! -s "$tmp/out" ]; then
    ok
  else
    bad "compare $* -> exit $rc (want $want), stderr: $(cat "$tmp/err")"
  fi
}

# the committed CPU results: two models on one machine
out="$tmp/cpu"
if "$lucid" compare "$lenet" "$resnet" --out "$out" >"$tmp/summary" 2>"$tmp/err"; then ok; else
  bad "compare of the committed results failed: $(cat "$tmp/err")"; fi
for f in compare.json latency.csv anomalies.csv layers.csv compare.html; do
  [ -s "$out/$f" ] && ok || bad "$f missing"
done
grep -q 'AMD EPYC (2 cores): peaks not recorded' "$tmp/summary" && ok ||
  bad "the summary does not say the CPU has no peaks: $(cat "$tmp/summary")"
grep -q 'autotuned tactics to lucid/fusions (lucid/tuned) makes resnet50' "$tmp/summary" && ok ||
  bad "no optimization finding for resnet50"
grep -q "report: $out/compare.html" "$tmp/summary" && ok || bad "no report line"

# three devices from the LeNet-5 results: the CPU, GPU Big and GPU Small
"$py" - "$lenet/results.json" "$tmp" <<'EOF' || bad "making the synthetic GPU results"
import json, os, sys
src, tmp = sys.argv[1], sys.argv[2]
def gpu(name, fp32, fp16, bw, scale, tuned_scale, folder):
    r = json.load(open(src))
    r["settings"]["device"] = "cuda"
    r["environment"]["device"] = {"kind": "cuda", "name": name, "peak_gflops_fp32": fp32,
                                  "peak_gflops_fp16": fp16, "bandwidth_gbs": bw, "source": "test"}
    for c in r["cells"]:
        s = tuned_scale if c["config"] == "tuned" else scale
        if c.get("latency"):
            for k in ("min", "mean", "median", "p90", "p95", "p99", "max"):
                c["latency"][k] *= s
        if c.get("profile"):
            for i, l in enumerate(c["profile"]["layers"]):
                # the tuned plan's second layer carries the gap on the bigger GPU
                l["mean_ms"] *= s * (40 if c["config"] == "tuned" and i == 1 and tuned_scale > scale else 1)
        if c["config"] == "tuned" and c.get("profile"):
            # outputs and per-layer signatures: the two GPUs part from the third layer on
            small = name == "GPU Small"
            vals = [0.01 * i for i in range(20)]
            if small:
                vals[13] += 1e-6
            c["outputs_sample"] = {"samples": 2, "elements_per_sample": 10, "values": vals}
            c["layer_outputs"] = [
                {"name": l["name"], "digest": "fnv1a64:%016x" % (i + (100 if small and i >= 2 else 0)),
                 "elements": 10, "l2": 1.0 + i + (0.01 if small and i >= 3 else 0), "max_abs": 1.0}
                for i, l in enumerate(c["profile"]["layers"])]
        c["energy"] = {"readable": True, "note": None, "sm_clock_mhz": 1500, "power_w": 200,
                       "joules_per_inference": 200 * (c["latency"] or {}).get("median", 0) / 1e3}
    os.makedirs(tmp + "/" + folder)
    json.dump(r, open(tmp + "/" + folder + "/results.json", "w"))
gpu("GPU Big", 60000, 500000, 3000, 0.05, 0.8, "big")
gpu("GPU Small", 20000, 150000, 900, 0.1, 0.2, "small")
EOF
out="$tmp/three"
if "$lucid" compare "$lenet" "$tmp/big" "$tmp/small" --out "$out" >"$tmp/summary" 2>"$tmp/err"; then ok
else bad "compare of three devices failed: $(cat "$tmp/err")"; fi
grep -q 'Anomaly: lucid/tuned on lenet5 is 4.00x slower on GPU Big than on GPU Small' "$tmp/summary" && ok ||
  bad "the planted anomaly is not in the summary: $(cat "$tmp/summary")"
"$py" - "$out" <<'EOF' && ok || bad "compare.json / anomalies.csv content"
import csv, json, sys
out = sys.argv[1]
r = json.load(open(out + "/compare.json"))
assert r["schema"] == "lucid-compare/1"
assert [d["name"] for d in r["devices"]] == ["AMD EPYC (2 cores)", "GPU Big", "GPU Small"], r["devices"]
an = r["anomalies"]
assert len(an) == 1 and an[0]["label"] == "lucid/tuned", an
assert an[0]["layers"][0]["name"] == "/features/features.2/MaxPool", an[0]["layers"][0]
rows = list(csv.DictReader(open(out + "/anomalies.csv")))
assert rows and rows[0]["layer"] == "/features/features.2/MaxPool" and rows[0]["rank"] == "1", rows
lat = list(csv.DictReader(open(out + "/latency.csv")))
assert len([x for x in lat if x["config"] == "tuned"]) == 3
assert any(f["kind"] == "device" and "energy per inference is" in f["text"] for f in r["findings"])
det = [f for f in r["findings"] if f["kind"] == "determinism"]
assert len(det) == 1 and det[0]["cell"] == "lucid/tuned" and det[0]["chart"], det
layers = [l["name"] for l in json.load(open(out + "/../big/results.json"))["cells"][2]["profile"]["layers"]]
d = [x for x in r["determinism"] if x["label"] == "lucid/tuned" and x["device"] == "GPU Big" and x["other_device"] == "GPU Small"][0]
assert d["device"] == "GPU Big" and d["outputs"] == "differ" and d["argmax_agreement"] == 100, d
assert d["layers"]["first_digest_difference"]["name"] == layers[2], d
assert d["layers"]["first_l2_difference"]["name"] == layers[3], d
EOF

# the same with peaks given for the CPU: compared, and still only the planted anomaly
"$lucid" compare "$lenet" "$tmp/big" "$tmp/small" --peak "AMD EPYC (2 cores)=500,50" \
  --margin 0.1 --quiet --out "$tmp/peaks" >"$tmp/summary" 2>"$tmp/err" && ok || bad "--peak: $(cat "$tmp/err")"
grep -q "^report: $tmp/peaks/compare.html$" "$tmp/summary" && ok || bad "--quiet prints the report only"
"$py" -c 'import json,sys; r=json.load(open(sys.argv[1])); assert not r["anomaly_check"]["skipped_devices"] and len(r["anomalies"]) == 1 and r["margin"] == 0.1' \
  "$tmp/peaks/compare.json" && ok || bad "--peak and --margin not applied"

# bad input: one line, the documented exit code
mkdir -p "$tmp/empty" "$tmp/broken" "$tmp/wrong"
echo '{"schema": "lucid-characterize/1", "cells": [' >"$tmp/broken/results.json"
echo '{"schema": "lucid-bench/1"}' >"$tmp/wrong/results.json"
expect 1
expect 1 "$lenet" --no-such-flag
expect 1 "$lenet" --out
expect 1 "$lenet" --margin -1 --out "$tmp/x"
expect 1 "$lenet" --peak "no equals sign" --out "$tmp/x"
expect 1 "$lenet" --peak "AMD EPYC (2 cores)=500" --out "$tmp/x"
expect 1 "$lenet" --peak "GPU Nowhere=500,50" --out "$tmp/x"
expect 1 "$lenet" "$lenet/results.json" --out "$tmp/x"
expect 3 "$tmp/missing" --out "$tmp/x"
expect 3 "$tmp/empty" --out "$tmp/x"
expect 2 "$tmp/broken" --out "$tmp/x"
expect 2 "$tmp/wrong" --out "$tmp/x"
grep -q 'lucid-bench/1' "$tmp/err" && ok || bad "the wrong schema is not named: $(cat "$tmp/err")"
[ ! -e "$tmp/x" ] && ok || bad "a refused compare wrote $tmp/x"
"$lucid" help compare | grep -q -- '--peak' && ok || bad "lucid help compare"

# the page in headless Chromium
chromium=""
for c in chromium chromium-browser google-chrome; do
  command -v "$c" >/dev/null 2>&1 && { chromium="$c"; break; }
done
if [ -z "$chromium" ]; then
  echo "SKIP: compare.html in a browser: no headless Chromium (Debian package chromium)"
else
  flags=(--headless --no-sandbox --disable-gpu --disable-dev-shm-usage --no-first-run
    --user-data-dir="$tmp/profile")
  timeout 120 "$chromium" "${flags[@]}" --dump-dom "file://$out/compare.html" >"$tmp/dom.html" 2>"$tmp/chromium.log"
  body=$(grep -o '<body[^>]*>' "$tmp/dom.html" | head -1)
  echo "rendered: $body"
  echo "$body" | grep -q 'data-status="ok"' && ok ||
    bad "page status not ok: $body; errors: $(grep -o '<pre id="errors">[^<]*' "$tmp/dom.html")"
  drawn=$(echo "$body" | sed -n 's/.*data-charts="\([0-9]*\)".*/\1/p')
  wanted=$(echo "$body" | sed -n 's/.*data-charts-wanted="\([0-9]*\)".*/\1/p')
  if [ -f /usr/share/javascript/chart.js/chart.min.js ] || [ -n "${LUCID_CHARTJS:-}" ]; then
    [ -n "$drawn" ] && [ "$drawn" -ge 5 ] && [ "$drawn" = "$wanted" ] && ok || bad "charts drawn $drawn of $wanted"
  fi
  grep -q 'class="sentence">Anomaly: lucid/tuned on lenet5 is 4.00x slower on GPU Big than on GPU Small' "$tmp/dom.html" && ok ||
    bad "the anomaly sentence is not in the rendered page"
  grep -q 'class="sentence">lucid/tuned on lenet5 is [0-9.]*x faster on GPU Small than on AMD EPYC (2 cores)' "$tmp/dom.html" && ok ||
    bad "the cross-device sentence is not in the rendered page"
fi
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
