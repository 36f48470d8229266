#!/usr/bin/env bash
# test_cli.sh - end-to-end checks of the lucid CLI: commands, JSON, npy I/O, seeds, exit codes.
# Usage: test_cli.sh PATH/TO/lucid
# Models and data are made with the system Python's onnx and numpy (Debian python3-onnx).
set -u

LUCID=${1:?usage: test_cli.sh PATH/TO/lucid}
PY=/usr/bin/python3
pass=0
fail=0
T=$(mktemp -d /tmp/lucid_cli_test.XXXXXX)
trap 'rm -rf "$T"' EXIT

ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }

# run_cli: runs lucid with the given args; leaves $rc, $T/out, $T/err
run_cli() {
    "$LUCID" "$@" >"$T/out" 2>"$T/err"
    rc=$?
}

# expect_ok DESC ARGS...: exit 0
expect_ok() {
    local desc=$1; shift
    run_cli "$@"
    if [ "$rc" -eq 0 ]; then ok; else bad "$desc: exit $rc, stderr: $(cat "$T/err")"; fi
}

# expect_err DESC CODE SUBJECT ARGS...: exit CODE, nothing on stdout, exactly one stderr line
# of the form 'lucid: SUBJECT: ...'
expect_err() {
    local desc=$1 code=$2 subject=$3; shift 3
    run_cli "$@"
    local lines
    lines=$(wc -l <"$T/err")
    if [ "$rc" -ne "$code" ]; then
        bad "$desc: exit $rc, want $code; stderr: $(cat "$T/err")"
    elif [ "$lines" -ne 1 ]; then
        bad "$desc: $lines stderr lines, want 1: $(cat "$T/err")"
    elif ! grep -qF "lucid: $subject: " "$T/err"; then
        bad "$desc: stderr does not start with 'lucid: $subject: ': $(cat "$T/err")"
    elif [ -s "$T/out" ]; then
        bad "$desc: stdout not empty: $(head -c 200 "$T/out")"
    else
        ok
    fi
}

# expect_out DESC PATTERN: the last command's stdout contains PATTERN (grep -E)
expect_out() {
    if grep -qE "$2" "$T/out"; then ok; else bad "$1: stdout lacks /$2/: $(head -c 400 "$T/out")"; fi
}

# json_check DESC PYTHON-EXPR: stdout parses as JSON and EXPR (over d) is true
json_check() {
    if "$PY" -c "import json,sys; d=json.load(open(sys.argv[1])); sys.exit(0 if ($2) else 1)" \
        "$T/out" 2>"$T/pyerr"; then
        ok
    else
        bad "$1: JSON check failed ($2): $(cat "$T/pyerr") $(head -c 400 "$T/out")"
    fi
}

# ---- fixtures --------------------------------------------------------------------------
if ! "$PY" - "$T" <<'EOF'
import sys, os
import numpy as np
import onnx
from onnx import helper, TensorProto as TP
t = sys.argv[1]
op = [helper.make_opsetid("", 17)]
def save(g, name):
    m = helper.make_model(g, producer_name="lucid-test", producer_version="1.0", opset_imports=op)
    m.ir_version = 8
    onnx.save(m, os.path.join(t, name))
save(helper.make_graph([helper.make_node("Relu", ["x"], ["y"], name="relu1")], "relu",
     [helper.make_tensor_value_info("x", TP.FLOAT, [2, 3])],
     [helper.make_tensor_value_info("y", TP.FLOAT, [2, 3])]), "relu.onnx")
save(helper.make_graph([helper.make_node("Add", ["a", "b"], ["out/sum"], name="add1")], "add",
     [helper.make_tensor_value_info("a", TP.FLOAT, ["batch", 4]),
      helper.make_tensor_value_info("b", TP.FLOAT, ["batch", 4])],
     [helper.make_tensor_value_info("out/sum", TP.FLOAT, ["batch", 4])]), "add.onnx")
# tf2onnx and paddle2onnx write -1 for a dimension fixed at run time
save(helper.make_graph([helper.make_node("Relu", ["x"], ["y"], name="relu1")], "relu_neg",
     [helper.make_tensor_value_info("x", TP.FLOAT, [-1, 3])],
     [helper.make_tensor_value_info("y", TP.FLOAT, [-1, 3])]), "relu_neg1.onnx")
save(helper.make_graph([helper.make_node("Relu", ["x"], ["y"], name="relu1")], "relu_neg2",
     [helper.make_tensor_value_info("x", TP.FLOAT, [-2, 3])],
     [helper.make_tensor_value_info("y", TP.FLOAT, [2, 3])]), "relu_neg2.onnx")
# a convolution whose residual is its own input, conv(r) + r: the output must not take r's
# memory while the convolution still reads it
from onnx import numpy_helper as nh
wr = np.random.default_rng(3).standard_normal((8, 8, 3, 3)).astype(np.float32) * 0.2
save(helper.make_graph([helper.make_node("Relu", ["x"], ["r"]),
                        helper.make_node("Conv", ["r", "w"], ["c"], pads=[1, 1, 1, 1]),
                        helper.make_node("Add", ["c", "r"], ["s"]),
                        helper.make_node("Relu", ["s"], ["y"])], "self_res",
     [helper.make_tensor_value_info("x", TP.FLOAT, [1, 8, 12, 12])],
     [helper.make_tensor_value_info("y", TP.FLOAT, [1, 8, 12, 12])], [nh.from_array(wr, "w")]),
     "self_res.onnx")
rng = np.random.default_rng(1)
x = rng.standard_normal((2, 3)).astype(np.float32)
np.save(os.path.join(t, "x.npy"), x)
np.save(os.path.join(t, "relu_ref.npy"), np.maximum(x, 0))
# the same data written as format 2.0
with open(os.path.join(t, "x_v2.npy"), "wb") as f:
    np.lib.format.write_array(f, x, version=(2, 0))
np.save(os.path.join(t, "x_int.npy"), np.zeros((2, 3), dtype=np.int64))
np.save(os.path.join(t, "x_shape.npy"), np.zeros((3, 2), dtype=np.float32))
np.save(os.path.join(t, "x_be.npy"), x.astype(">f4"))
a = rng.standard_normal((5, 4)).astype(np.float32)
b = rng.standard_normal((5, 4)).astype(np.float32)
np.save(os.path.join(t, "a5.npy"), a)
np.save(os.path.join(t, "b5.npy"), b)
np.save(os.path.join(t, "add_ref.npy"), a + b)
with open(os.path.join(t, "x.npy"), "rb") as f:
    data = f.read()
with open(os.path.join(t, "trunc.npy"), "wb") as f:
    f.write(data[:-3])
with open(os.path.join(t, "notnpy.npy"), "wb") as f:
    f.write(b"hello, world, this is not numpy")
with open(os.path.join(t, "bad.onnx"), "wb") as f:
    f.write(b"\x08\x07\x12\xff\xff\xff\xff\x0fgarbage")
EOF
then
    echo "FAIL: could not make the test models with $PY (needs python3-onnx and numpy)"
    echo "0 passed, 1 failed"
    exit 1
fi

# ---- top level -------------------------------------------------------------------------
expect_ok "--help" --help
expect_out "--help lists commands" "info.*run.*bench|Commands"
expect_out "--help lists exit codes" "Exit codes"
expect_ok "--version" --version
expect_out "--version" "^lucid [0-9]+\.[0-9]+"
for c in info run bench eval; do
    expect_ok "help $c" help "$c"
    expect_out "help $c" "Usage: lucid $c MODEL"
    expect_ok "$c --help" "$c" --help
    expect_out "$c --help" "Usage: lucid $c MODEL"
done
expect_err "unknown command" 1 frobnicate frobnicate x.onnx
expect_err "help for an unknown command" 1 frobnicate help frobnicate
expect_err "unknown top-level flag" 1 --frob --frob
expect_err "no command" 1 lucid

# ---- info --------------------------------------------------------------------------------
expect_ok "info relu" info "$T/relu.onnx"
expect_out "info: producer" "producer: +lucid-test 1.0"
expect_out "info: IR version" "IR version: +8"
expect_out "info: opset" "opset: +17"
expect_out "info: input" "x +float32 +\[2, 3\]"
expect_out "info: op histogram" "Relu: 1"
expect_out "info: parameters" "parameters:"
expect_out "info: MACs" "MACs:.*GMACs"
expect_out "info: activation memory" "activation memory: +48 bytes"
expect_out "info: nodes" "nodes: +1"

expect_ok "info add (symbolic)" info "$T/add.onnx"
expect_out "info: symbolic dim name" "a +float32 +\[batch, 4\]"
if grep -q "lucid: note: input 'a'.*batch" "$T/err"; then ok; else bad "note for symbolic dims: $(cat "$T/err")"; fi

# a -1 dimension is unknown, like an unnamed symbolic one: the caller's shape fixes it
expect_ok "info on a -1 dimension" info "$T/relu_neg1.onnx"
expect_out "info: a -1 dimension shows as unknown" "x +float32 +\[\?, 3\]"
expect_ok "run a -1 dimension fixed by --input" run "$T/relu_neg1.onnx" --input "x=$T/x.npy" --output-dir "$T/oneg"
if "$PY" -c "import numpy as np,sys; a=np.load(sys.argv[1]); b=np.load(sys.argv[2]); sys.exit(0 if a.shape==b.shape and (a==b).all() else 1)" \
    "$T/oneg/y.npy" "$T/relu_ref.npy"; then ok; else bad "Relu with a -1 input dimension differs from numpy"; fi
expect_ok "run a -1 dimension fixed by --shape" run "$T/relu_neg1.onnx" --shape x=5x3 --json
json_check "the -1 dimension takes the --shape value" "d['outputs'][0]['shape']==[5,3]"
expect_ok "build a -1 dimension fixed by --shape" build "$T/relu_neg1.onnx" --shape x=4x3 -o "$T/neg.plan"
expect_ok "run the plan of a -1 dimension" run "$T/neg.plan" --json
json_check "the plan keeps the fixed shape" "d['outputs'][0]['shape']==[4,3]"
expect_err "a dimension of -2 is refused" 2 "$T/relu_neg2.onnx" info "$T/relu_neg2.onnx"
if grep -q "negative dimension -2" "$T/err"; then ok; else bad "the -2 dimension is named: $(cat "$T/err")"; fi

expect_ok "info --json" info "$T/add.onnx" --json --nodes --shape a=3x4 --shape b=3x4
json_check "info json fields" "d['file'].endswith('add.onnx') and d['opset']==17 and d['ir_version']==8 and d['producer'].startswith('lucid-test')"
json_check "info json inputs" "d['inputs'][0]['name']=='a' and d['inputs'][0]['shape']==['batch',4] and d['inputs'][0]['resolved_shape']==[3,4]"
json_check "info json ops" "d['ops']==[{'op':'Add','count':1}] and d['num_nodes']==1"
json_check "info json costs" "d['activation_bytes']==3*4*4*3 and d['param_count']==0 and 'macs' in d and 'gmacs' in d"
json_check "info json nodes" "d['nodes'][0]['op']=='Add' and d['nodes'][0]['outputs'][0]['shape']==[3,4]"
if [ ! -s "$T/err" ]; then ok; else bad "info with all shapes given prints no note: $(cat "$T/err")"; fi
expect_ok "info --nodes" info "$T/relu.onnx" --nodes
expect_out "info --nodes table" "relu1 +Relu +\[2, 3\]"

# ---- run ---------------------------------------------------------------------------------
expect_ok "run relu with --input" run "$T/relu.onnx" --input "x=$T/x.npy" --output-dir "$T/o1"
expect_out "run: output summary" "output y +float32 +\[2, 3\] +min .* max .* mean .* argmax [0-9]+ fnv1a64 [0-9a-f]{16}"
if "$PY" -c "import numpy as np,sys; a=np.load(sys.argv[1]); b=np.load(sys.argv[2]); sys.exit(0 if a.dtype==b.dtype and a.shape==b.shape and (a==b).all() else 1)" \
    "$T/o1/y.npy" "$T/relu_ref.npy"; then ok; else bad "Relu output differs from numpy"; fi

expect_ok "run relu with a format 2.0 npy" run "$T/relu.onnx" --input "x=$T/x_v2.npy" --json
json_check "v2 input gives the same digest" "True"
d1=$(grep -o '[0-9a-f]\{16\}' "$T/out" | head -1)
run_cli run "$T/relu.onnx" --input "x=$T/x.npy" --json
d2=$(grep -o '[0-9a-f]\{16\}' "$T/out" | head -1)
if [ -n "$d1" ] && [ "$d1" = "$d2" ]; then ok; else bad "digests differ for the same data: '$d1' '$d2'"; fi

expect_ok "run add with both inputs" run "$T/add.onnx" --input "a=$T/a5.npy" --input "b=$T/b5.npy" --output-dir "$T/o2" --json
json_check "run json" "d['outputs'][0]['name']=='out/sum' and d['outputs'][0]['shape']==[5,4] and len(d['outputs'][0]['fnv1a64'])==16 and d['inputs'][0]['source'].endswith('a5.npy')"
if [ -f "$T/o2/out_sum.npy" ]; then ok; else bad "sanitized output file out_sum.npy missing: $(ls "$T/o2")"; fi
if "$PY" -c "import numpy as np,sys; a=np.load(sys.argv[1]); b=np.load(sys.argv[2]); sys.exit(0 if np.allclose(a,b,rtol=0,atol=1e-6) else 1)" \
    "$T/o2/out_sum.npy" "$T/add_ref.npy" 2>/dev/null; then ok; else bad "Add output differs from numpy"; fi

expect_ok "run seeded 7" run "$T/add.onnx" --shape a=2x4 --shape b=2x4 --seed 7 --json
cp "$T/out" "$T/seed7a"
expect_ok "run seeded 7 again" run "$T/add.onnx" --shape a=2x4 --shape b=2x4 --seed 7 --json
if "$PY" -c "import json,sys; a=json.load(open(sys.argv[1])); b=json.load(open(sys.argv[2])); sys.exit(0 if a['outputs']==b['outputs'] else 1)" \
    "$T/seed7a" "$T/out"; then ok; else bad "the same seed gives different outputs"; fi
expect_ok "run seeded 8" run "$T/add.onnx" --shape a=2x4 --shape b=2x4 --seed 8 --json
if "$PY" -c "import json,sys; a=json.load(open(sys.argv[1])); b=json.load(open(sys.argv[2])); sys.exit(0 if a['outputs'][0]['fnv1a64']!=b['outputs'][0]['fnv1a64'] else 1)" \
    "$T/seed7a" "$T/out"; then ok; else bad "different seeds give the same outputs"; fi
json_check "random floats lie in [-2, 2) for a sum of two" "-2 <= d['outputs'][0]['min'] and d['outputs'][0]['max'] < 2"

expect_ok "run: default symbolic dims" run "$T/add.onnx"
if grep -q "lucid: note: input 'b'" "$T/err"; then ok; else bad "run note for symbolic dims"; fi
expect_out "run defaults batch to 1" "output out/sum +float32 +\[1, 4\]"

# ---- bench -------------------------------------------------------------------------------
expect_ok "bench" bench "$T/relu.onnx" --warmup 5 --iterations 20 --duration 0.05 --threads 2
for f in min mean median p90 p95 p99 max stddev CV throughput; do expect_out "bench prints $f" "$f"; done
expect_out "bench builds a plan" "engine: +plan \(built for this run\)"
expect_out "bench uses the plan's threads" "threads: +2 \(the plan was built for 2\)"
if grep -q "lucid: note: built a plan in" "$T/err"; then ok; else bad "bench notes the build time: $(cat "$T/err")"; fi
expect_ok "bench --reference" bench "$T/relu.onnx" --reference --warmup 5 --iterations 20 --duration 0.05 --threads 2
expect_out "bench --reference records threads" "2 requested"
expect_ok "bench --json" bench "$T/add.onnx" --warmup 0 --iterations 15 --duration 0 --shape a=2x4 --shape b=2x4 --json
json_check "bench json" "d['iterations']>=15 and d['threads_requested']==0 and all(k in d['latency_ms'] for k in ['min','mean','median','p90','p95','p99','max','stddev','cv']) and d['throughput']>0 and d['settings']['min_iterations']==15"
json_check "bench json order" "d['latency_ms']['min']<=d['latency_ms']['median']<=d['latency_ms']['p99']<=d['latency_ms']['max']"
json_check "bench json lucid-bench/1 header" "d['schema']=='lucid-bench/1' and d['engine']=='lucid' and d['engine_version'] and d['config']=='plan' and isinstance(d['tactics'],dict) and sum(d['tactics'].values())==1 and d['build_s']>=0 and d['device']=='cpu' and isinstance(d['device_name'],str) and d['device_name'] and d['model'].endswith('add.onnx') and d['status']=='ok'"
json_check "bench json batch and samples/s" "d['batch']==2 and abs(d['samples_per_s']-2*d['throughput'])<=1e-6*d['samples_per_s'] and d['threads_used']>=1"
expect_ok "bench --json --reference" bench "$T/add.onnx" --reference --warmup 0 --iterations 3 --duration 0 --shape a=2x4 --shape b=2x4 --json
json_check "bench json reference config" "d['config']=='reference' and d['threads_used']==1 and 'tactics' not in d and d['build_s'] is None"
json_check "bench json inputs" "d['inputs']==[{'name':'a','dtype':'float32','shape':[2,4],'source':'random'},{'name':'b','dtype':'float32','shape':[2,4],'source':'random'}]"
json_check "bench json settings and warmup" "set(d['settings'])=={'warmup_ms','min_iterations','min_duration_s'} and 'iterations' in d['warmup'] and 'seconds' in d['warmup'] and isinstance(d['cv_warning'],bool) and isinstance(d['capped'],bool) and d['total_s']>=0"
json_check "bench json outputs" "len(d['outputs'])==1 and d['outputs'][0]['name']=='out/sum' and d['outputs'][0]['dtype']=='float32' and d['outputs'][0]['shape']==[2,4] and __import__('re').fullmatch('fnv1a64:[0-9a-f]{16}', d['outputs'][0]['digest'])"
json_check "bench json date" "__import__('re').fullmatch(r'\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ', d['date'])"
# --input on bench: the digest of the timed output equals run's on the same data
expect_ok "bench --input" bench "$T/add.onnx" --input "a=$T/a5.npy" --input "b=$T/b5.npy" --warmup 0 --iterations 3 --duration 0 --json
json_check "bench --input json" "d['batch']==5 and d['inputs'][0]['source'].endswith('a5.npy') and d['outputs'][0]['shape']==[5,4]"
bd=$("$PY" -c "import json,sys; print(json.load(open(sys.argv[1]))['outputs'][0]['digest'])" "$T/out")
run_cli run "$T/add.onnx" --input "a=$T/a5.npy" --input "b=$T/b5.npy" --json
rd=$("$PY" -c "import json,sys; print('fnv1a64:'+json.load(open(sys.argv[1]))['outputs'][0]['fnv1a64'])" "$T/out")
if [ -n "$bd" ] && [ "$bd" = "$rd" ]; then ok; else bad "bench and run digests differ on the same inputs: '$bd' '$rd'"; fi
expect_err "bench --input dtype mismatch" 2 "$T/x_int.npy" bench "$T/relu.onnx" --input "x=$T/x_int.npy"
expect_err "bench --input missing file" 3 "$T/none.npy" bench "$T/relu.onnx" --input "x=$T/none.npy"

# ---- plans: build, run, bench, info --------------------------------------------------------
# md5sum-free byte comparison: cmp; numeric comparison: numpy
cmp_npy() { # cmp_npy DESC A.npy B.npy RTOL: same dtype and shape, |a-b| <= rtol*max(|b|,tiny)
    if "$PY" -c "
import sys, numpy as np
a = np.load(sys.argv[1]); b = np.load(sys.argv[2]); r = float(sys.argv[3])
assert a.dtype == b.dtype and a.shape == b.shape, (a.dtype, b.dtype, a.shape, b.shape)
tol = r * max(float(np.abs(b).max()), 1e-30)
assert r == 0 and (a == b).all() or r > 0 and np.abs(a - b).max() <= tol, np.abs(a - b).max()
" "$2" "$3" "$4" 2>"$T/pyerr"; then ok; else bad "$1: $(cat "$T/pyerr")"; fi
}
# conv(r) + r with every convolution family (the residual-in-place tactics among them)
expect_ok "self-residual: reference" run "$T/self_res.onnx" --reference --seed 4 --output-dir "$T/sr_ref"
for fam in dnnl.conv.f32.nchw dnnl.conv.f32.nhwc dnnl.conv.f32.nchw16c cpu.conv xnnpack; do
    expect_ok "self-residual: $fam" run "$T/self_res.onnx" --seed 4 --tactics "$fam,cpu.reorder,ref" \
        --output-dir "$T/sr_$fam"
    cmp_npy "self-residual: $fam agrees with the reference" "$T/sr_$fam/y.npy" "$T/sr_ref/y.npy" 1e-5
done

# inputs the fuzzers found, replayed in every build of the suite (tests/fuzz/corpus)
REGRESS_PLAN="$(dirname "$0")/fuzz/corpus/plan/regress-attr-ints-without-data.plan"
if [ -f "$REGRESS_PLAN" ]; then
    expect_err "a plan whose INTS attribute has no array" 2 "$REGRESS_PLAN" info "$REGRESS_PLAN"
    if grep -q "corrupt plan file (attribute)" "$T/err"; then ok; else bad "the attribute is named: $(cat "$T/err")"; fi
fi

expect_ok "build -o" build "$T/relu.onnx" -o "$T/relu.plan"
if [ "$(head -c 8 "$T/relu.plan")" = "LUCIDPLN" ]; then ok; else bad "build -o writes a plan starting with LUCIDPLN"; fi
for f in "layers:" "tactics:" "build time:" "activations: .* bytes peak \(arena\) vs .* bytes naive sum" "in place:" "weights:" "plan size: +[0-9]+ bytes" "written: .*relu.plan"; do
    expect_out "build summary: $f" "$f"
done
expect_ok "build without -o" build "$T/add.onnx" --shape a=3x4 --shape b=3x4 --report
expect_out "build without -o writes nothing" "written: +no"
expect_out "build --report: optimizer passes" "^passes:"
expect_out "build --report: layer table" "\[0\] add1 \(Add, fp32\)"
expect_out "build --report: chosen tactic with its reason" "tactic [a-z0-9_.]+.*: "
expect_ok "build --json" build "$T/add.onnx" --shape a=3x4 --shape b=3x4 --json --tune-ms 1 --threads 1
json_check "build json lucid-build/2" "d['schema']=='lucid-build/2' and d['output'] is None and d['plan']['threads']==1 and d['plan']['plan_bytes'] is None and d['plan']['arena_bytes']<=d['plan']['naive_bytes'] and d['plan']['build_s']>0 and sum(d['tactics'].values())==1 and 'passes' in d and 'rewrites' in d"
json_check "build json layers and candidates" "d['layers'][0]['name']=='add1' and d['layers'][0]['op']=='Add' and d['layers'][0]['runs'] and d['layers'][0]['tactic'] and len(d['layers'][0]['candidates'])>1 and sum(c['chosen'] for c in d['layers'][0]['candidates'])==1 and all(set(c)=={'tactic','chosen','supported','timed','median_ms','why'} for c in d['layers'][0]['candidates'])"
expect_ok "build --tactics ref" build "$T/relu.onnx" --tactics nonexistent.prefix --json
json_check "--tactics leaves only the reference kernel" "list(d['tactics'])==['ref'] and any(c['why'] and 'not in --tactics' in c['why'] for c in d['layers'][0]['candidates'])"

# a plan run equals the reference executor (1e-4 relative) and the plan built for the run (exactly)
expect_ok "run the plan file" run "$T/relu.plan" --input "x=$T/x.npy" --output-dir "$T/p1" --json
json_check "run json of a plan" "d['engine']=='plan' and d['build_s'] is None"
expect_ok "run --reference" run "$T/relu.onnx" --reference --input "x=$T/x.npy" --output-dir "$T/p2" --json
json_check "run json reference" "d['engine']=='reference' and d['build_s'] is None"
expect_ok "run the ONNX model (a built plan)" run "$T/relu.onnx" --input "x=$T/x.npy" --output-dir "$T/p3" --json
json_check "run json of a built plan" "d['engine']=='plan' and d['build_s']>=0"
cmp_npy "plan file vs reference executor" "$T/p1/y.npy" "$T/p2/y.npy" 1e-4
cmp_npy "plan file vs built plan" "$T/p1/y.npy" "$T/p3/y.npy" 0

LENET="$(dirname "$0")/../models/fashion/lenet5"
if [ -f "$LENET/model.onnx" ] && [ -f "$LENET/ref_input.npy" ]; then
    # the model takes one image; ref_input.npy holds a batch of them
    "$PY" -c "import sys, numpy as np; np.save(sys.argv[2], np.load(sys.argv[1])[:1])" \
        "$LENET/ref_input.npy" "$T/lenet_x.npy"
    # one timing cache and the deterministic rule: the plan built by `run` makes the same
    # choices as the plan file, so their outputs must be identical
    expect_ok "lenet5: build -o" build "$LENET/model.onnx" -o "$T/lenet.plan" --tune-ms 2 \
        --deterministic --timing-cache "$T/lenet.cache"
    expect_ok "lenet5: run the plan" run "$T/lenet.plan" --input "input=$T/lenet_x.npy" --output-dir "$T/l1"
    expect_ok "lenet5: run --reference" run "$LENET/model.onnx" --reference --input "input=$T/lenet_x.npy" --output-dir "$T/l2"
    expect_ok "lenet5: run a built plan" run "$LENET/model.onnx" --tune-ms 2 --deterministic \
        --timing-cache "$T/lenet.cache" --input "input=$T/lenet_x.npy" --output-dir "$T/l3"
    for f in "$T"/l1/*.npy; do
        cmp_npy "lenet5 $(basename "$f"): plan vs reference" "$f" "$T/l2/$(basename "$f")" 1e-4
    done
    expect_ok "lenet5: run the plan again" run "$T/lenet.plan" --input "input=$T/lenet_x.npy" --output-dir "$T/l4"
    for f in "$T"/l1/*.npy; do cmp_npy "lenet5 $(basename "$f"): plan runs are identical" "$f" "$T/l4/$(basename "$f")" 0; done
    for f in "$T"/l3/*.npy; do cmp_npy "lenet5 $(basename "$f"): built plan vs plan file" "$f" "$T/l1/$(basename "$f")" 0; done
    expect_ok "lenet5: info on the plan" info "$T/lenet.plan"
    expect_out "lenet5 info: conv tactic" "FusedConv"
    expect_ok "lenet5: bench the plan" bench "$T/lenet.plan" --warmup 0 --iterations 3 --duration 0 --json
    json_check "lenet5 bench json" "d['config']=='plan' and sum(d['tactics'].values())>=5 and d['build_s'] is None"
    DET_MODEL="$LENET/model.onnx"

    # ---- reduced precision and compression ----
    L="$LENET/model.onnx"
    run_cli run "$L" --reference --input "input=$T/lenet_x.npy" --output-dir "$T/ref"
    for p in fp16 bf16; do
        expect_ok "lenet5: build $p" build "$L" --precision $p --tune-ms 1 -o "$T/l_$p.plan"
        expect_out "lenet5 $p: layers in reduced precision" "precision: +[1-9][0-9]* layers in reduced precision"
        expect_ok "lenet5: info $p plan" info "$T/l_$p.plan"
        expect_out "lenet5 $p plan: its precision" "device: +cpu, $p"
        expect_out "lenet5 $p plan: per-layer precision" "\(FusedConv, $p\)"
        expect_ok "lenet5: run $p plan" run "$T/l_$p.plan" --input "input=$T/lenet_x.npy" --output-dir "$T/o_$p"
        cmp_npy "lenet5 $p plan vs reference" "$T/o_$p/logits.npy" "$T/ref/logits.npy" 3e-2
    done
    expect_ok "lenet5: bf16 with a layer kept fp32" build "$L" --precision bf16 --tune-ms 1 \
        --layer-precision /classifier/classifier.4/Gemm=fp32 --json
    json_check "the constrained layer is fp32 and says why" "[r for r in d['plan']['precision_layers'] if r['name']=='/classifier/classifier.4/Gemm' and r['precision']=='fp32' and 'constraint' in r['why']]"
    expect_err "layer constraint naming no layer" 2 "$L" build "$L" --precision bf16 --layer-precision nosuch=fp32
    expect_err "layer constraint to another precision" 2 "$L" build "$L" --precision bf16 --layer-precision /classifier/classifier.4/Gemm=int8
    expect_err "layer constraint in an fp32 build" 2 "$L" build "$L" --layer-precision /classifier/classifier.4/Gemm=fp32
    expect_err "layer constraint syntax" 1 --layer-precision build "$L" --precision bf16 --layer-precision nosuch
    expect_err "tf32 on the CPU" 2 "$L" build "$L" --precision tf32
    expect_err "unknown precision" 1 --precision build "$L" --precision int4
    expect_err "int8 without calibration data" 2 "$L" build "$L" --precision int8
    expect_err "bad calibrator" 1 --calibrator build "$L" --precision int8 --calibrator mean
    expect_err "pruning fraction 1" 1 --prune build "$L" --prune 1
    expect_err "cluster bits 9" 1 --cluster-bits build "$L" --cluster-bits 9
    expect_ok "lenet5: prune and cluster" build "$L" --prune 0.5 --cluster-bits 4 --tune-ms 1 --json
    json_check "compression report" "all(c['zeros_after'] >= c['weights']//2 and c['distinct_values'] <= 17 and c['bytes_after'] < c['bytes_before'] for c in d['plan']['compressed_layers']) and len(d['plan']['compressed_layers']) == 5"
    if [ -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ]; then
        expect_ok "lenet5: int8 build writes a calibration cache" build "$L" --precision int8 \
            --calibration-data fashion-mnist:train --calibration-count 50 \
            --calibration-cache "$T/l.calib" --tune-ms 1 -o "$T/l_int8.plan"
        expect_out "int8: calibration source" "calibration: +percentile calibrator on 50 samples"
        [ -s "$T/l.calib" ] && ok || bad "no calibration cache written"
        expect_ok "lenet5: int8 build from the cache" build "$L" --precision int8 \
            --calibration-cache "$T/l.calib" --tune-ms 1 -o "$T/l_int8b.plan"
        expect_out "int8 from the cache: named" "calibration: +calibration cache"
        expect_ok "lenet5: run int8 plan" run "$T/l_int8.plan" --input "input=$T/lenet_x.npy" --output-dir "$T/o_i8"
        expect_ok "lenet5: run int8 plan from the cache" run "$T/l_int8b.plan" --input "input=$T/lenet_x.npy" --output-dir "$T/o_i8b"
        cmp_npy "int8 plans from data and from its cache agree" "$T/o_i8b/logits.npy" "$T/o_i8/logits.npy" 0
        cmp_npy "int8 plan vs reference" "$T/o_i8/logits.npy" "$T/ref/logits.npy" 0.1
        expect_ok "lenet5: info int8 plan" info "$T/l_int8.plan"
        expect_out "int8 plan: QConv layers" "\(QConv, int8\)"
        # a corrupt cache: one changed byte breaks the checksum
        sed 's/samples 50/samples 51/' "$T/l.calib" >"$T/bad.calib"
        expect_err "corrupt calibration cache" 2 "$L" build "$L" --precision int8 --calibration-cache "$T/bad.calib"
        grep -q "bad.calib" "$T/err" && ok || bad "the corrupt cache is named: $(cat "$T/err")"
        "$PY" -c "import sys, numpy as np; np.save(sys.argv[1], np.zeros((4, 1, 20, 20), np.float32))" "$T/c20.npy"
        expect_err "calibration data of the wrong shape" 2 "$L" build "$L" --precision int8 \
            --calibration-data "npy:$T/c20.npy"
        grep -q "c20.npy" "$T/err" && ok || bad "the wrong calibration set is named: $(cat "$T/err")"
        expect_err "auto precision without data" 2 "$L" build "$L" --precision bf16 --auto-precision 0.01
        expect_ok "lenet5: automatic mixed precision" build "$L" --precision int8 --auto-precision 0.02 \
            --calibration-data fashion-mnist:train --calibration-count 40 --tune-ms 1 --json
        json_check "auto mode: every eligible layer has its measured error" "all(r['error'] is not None and r['added_error'] is not None for r in d['plan']['precision_layers']) and d['plan']['error_samples'] == 32"
    fi
else
    echo "note: models/fashion/lenet5 not found; its plan checks are skipped"
    DET_MODEL="$T/relu.onnx"
fi

# deterministic builds with a timing cache: byte-identical plans
expect_ok "deterministic build a" build "$DET_MODEL" --deterministic --timing-cache "$T/cache" -o "$T/a.plan" --tune-ms 2
expect_ok "deterministic build b" build "$DET_MODEL" --deterministic --timing-cache "$T/cache" -o "$T/b.plan" --tune-ms 2
if cmp -s "$T/a.plan" "$T/b.plan"; then ok; else bad "two deterministic builds with one timing cache differ"; fi
expect_ok "info on a deterministic plan" info "$T/a.plan" --json
json_check "info json of a plan" "d['kind']=='plan' and d['plan']['deterministic'] and d['plan']['build_s'] is None and d['plan']['plan_bytes']==$(wc -c <"$T/a.plan") and len(d['layers'])==d['plan']['layers'] and d['inputs'] and d['outputs']"

# info, bench on plans
expect_ok "info x.plan" info "$T/relu.plan"
expect_out "info plan: file" "relu.plan \(lucid plan\)"
expect_out "info plan: threads" "threads: +[0-9]+"
expect_out "info plan: built on" "built on:"
expect_out "info plan: memory" "activations: .* naive sum"
expect_out "info plan: layer table" "\[0\] relu1 \(Relu, fp32\)"
expect_ok "bench a plan" bench "$T/relu.plan" --warmup 0 --iterations 3 --duration 0 --json
json_check "bench json of a plan" "d['config']=='plan' and d['tactics'] and d['build_s'] is None and d['threads_used']>=1"
run_cli info "$T/relu.plan" --json
pt=$("$PY" -c "import json,sys; print(json.load(open(sys.argv[1]))['plan']['threads'])" "$T/out")
run_cli bench "$T/relu.plan" --warmup 0 --iterations 3 --duration 0 --json
bt=$("$PY" -c "import json,sys; print(json.load(open(sys.argv[1]))['threads_used'])" "$T/out")
if [ -n "$pt" ] && [ "$pt" = "$bt" ]; then ok; else bad "bench threads_used '$bt' is not the plan's threads '$pt'"; fi
expect_ok "bench a plan on one thread" bench "$T/relu.plan" --threads 1 --warmup 0 --iterations 3 --duration 0 --json
json_check "bench --threads 1 on a plan" "d['threads_used']==1 and d['threads_requested']==1"

# bad plans: exit 2, one line naming the file
size=$(wc -c <"$T/relu.plan")
head -c $((size / 2)) "$T/relu.plan" >"$T/trunc.plan"
cp "$T/relu.plan" "$T/flip.plan"
"$PY" -c "import sys; p=sys.argv[1]; b=bytearray(open(p,'rb').read()); b[len(b)-20]^=0x40; open(p,'wb').write(b)" "$T/flip.plan"
"$PY" -c "import os,sys; open(sys.argv[1],'wb').write(b'LUCIDPLN'+os.urandom(300))" "$T/random.plan"
: >"$T/empty.plan"
printf 'LUCI' >"$T/short.plan"
for f in trunc flip random empty short; do
    for c in run info bench; do
        expect_err "$c on a bad plan ($f)" 2 "$T/$f.plan" "$c" "$T/$f.plan"
    done
done
expect_err "build on a plan" 2 "$T/relu.plan" build "$T/relu.plan"

# flags that make no sense with a plan: exit 1
expect_err "--shape with a plan" 1 --shape run "$T/relu.plan" --shape x=2x3
expect_err "--opt-level with a plan" 1 --opt-level run "$T/relu.plan" --opt-level 1
expect_err "--passes with a plan" 1 --passes bench "$T/relu.plan" --passes dead_nodes
expect_err "--disable-pass with a plan" 1 --disable-pass run "$T/relu.plan" --disable-pass dead_nodes
expect_err "--threads above the plan's" 1 --threads bench "$T/relu.plan" --threads 4096
expect_err "--deterministic with a plan" 1 --deterministic run "$T/relu.plan" --deterministic
expect_err "--tactics with a plan" 1 --tactics run "$T/relu.plan" --tactics cpu
expect_err "--reference with a plan" 1 --reference run "$T/relu.plan" --reference
expect_err "--optimized with a plan" 1 --optimized info "$T/relu.plan" --optimized
expect_err "--tune-ms with --reference" 1 --tune-ms run "$T/relu.onnx" --reference --tune-ms 1
expect_err "--margin out of range" 1 --margin build "$T/relu.onnx" --margin 11
expect_err "--tune-ms not a number" 1 --tune-ms build "$T/relu.onnx" --tune-ms x
expect_err "--tactics empty entry" 1 --tactics build "$T/relu.onnx" --tactics cpu,,dnnl
expect_err "-o without a value" 1 -o build "$T/relu.onnx" -o
expect_err "-o on run" 1 -o run "$T/relu.onnx" -o x.plan
expect_err "-o into a missing folder" 3 "$T/nodir/x.plan" build "$T/relu.onnx" -o "$T/nodir/x.plan"
expect_err "unwritable timing cache" 3 "$T/nodir/cache" build "$T/relu.onnx" --timing-cache "$T/nodir/cache"

# the OpenMP/OpenBLAS environment: set once, never a loop, the user's values kept
if out=$(env -u LUCID_ENV_SET -u OMP_WAIT_POLICY -u OPENBLAS_THREAD_TIMEOUT timeout 20 "$LUCID" --version); then
    case "$out" in "lucid "*) ok ;; *) bad "--version after the re-exec: $out" ;; esac
else
    bad "lucid with OMP_WAIT_POLICY unset did not finish"
fi

# ---- usage errors (exit 1) -----------------------------------------------------------------
expect_err "--iterations abc" 1 --iterations bench "$T/relu.onnx" --iterations abc
expect_err "--iterations -5" 1 --iterations bench "$T/relu.onnx" --iterations -5
expect_err "--iterations 0" 1 --iterations bench "$T/relu.onnx" --iterations 0
expect_err "--iterations overflow" 1 --iterations bench "$T/relu.onnx" --iterations 99999999999999999999999
expect_err "--iterations=1x" 1 --iterations bench "$T/relu.onnx" --iterations=1x
expect_err "--warmup nan" 1 --warmup bench "$T/relu.onnx" --warmup nan
expect_err "--warmup -1" 1 --warmup bench "$T/relu.onnx" --warmup -1
expect_err "--duration 1e400" 1 --duration bench "$T/relu.onnx" --duration 1e400
expect_err "--threads x" 1 --threads bench "$T/relu.onnx" --threads x
expect_err "--seed -1" 1 --seed run "$T/relu.onnx" --seed -1
expect_err "--seed overflow" 1 --seed run "$T/relu.onnx" --seed 18446744073709551616
expect_err "missing value" 1 --iterations bench "$T/relu.onnx" --iterations
expect_err "unknown flag" 1 --frob run "$T/relu.onnx" --frob
expect_err "flag of another command" 1 --iterations run "$T/relu.onnx" --iterations 3
expect_err "--json with a value" 1 --json info "$T/relu.onnx" --json=yes
expect_err "missing model" 1 run run
expect_err "two models" 1 "$T/add.onnx" info "$T/relu.onnx" "$T/add.onnx"
expect_err "bad --shape syntax" 1 --shape info "$T/add.onnx" --shape a
expect_err "bad --shape dims" 1 --shape info "$T/add.onnx" --shape a=2xq
expect_err "--shape rank 9" 1 --shape info "$T/add.onnx" --shape a=1x1x1x1x1x1x1x1x1
expect_err "--shape unknown input" 1 --shape info "$T/add.onnx" --shape nope=2x4
expect_err "--shape does not fit" 1 --shape info "$T/add.onnx" --shape a=2x5
expect_err "--shape wrong rank" 1 --shape info "$T/relu.onnx" --shape x=2x3x1
expect_err "--input syntax" 1 --input run "$T/relu.onnx" --input "$T/x.npy"
expect_err "--input unknown input" 1 --input run "$T/relu.onnx" --input "nope=$T/x.npy"
expect_err "--input twice" 1 --input run "$T/relu.onnx" --input "x=$T/x.npy" --input "x=$T/x.npy"

# ---- bad models and data (exit 2) and I/O (exit 3) -------------------------------------------
expect_err "missing model file" 3 "$T/none.onnx" info "$T/none.onnx"
expect_err "garbage model" 2 "$T/bad.onnx" info "$T/bad.onnx"
expect_err "missing npy" 3 "$T/none.npy" run "$T/relu.onnx" --input "x=$T/none.npy"
expect_err "not an npy" 2 "$T/notnpy.npy" run "$T/relu.onnx" --input "x=$T/notnpy.npy"
expect_err "truncated npy" 2 "$T/trunc.npy" run "$T/relu.onnx" --input "x=$T/trunc.npy"
expect_err "big-endian npy" 2 "$T/x_be.npy" run "$T/relu.onnx" --input "x=$T/x_be.npy"
expect_err "npy dtype mismatch" 2 "$T/x_int.npy" run "$T/relu.onnx" --input "x=$T/x_int.npy"
if grep -q "'x'" "$T/err"; then ok; else bad "dtype mismatch names the input: $(cat "$T/err")"; fi
expect_err "npy shape mismatch" 2 "$T/x_shape.npy" run "$T/relu.onnx" --input "x=$T/x_shape.npy"
if grep -q "'x'" "$T/err"; then ok; else bad "shape mismatch names the input: $(cat "$T/err")"; fi
expect_err "npy conflicts with --shape" 2 "$T/a5.npy" run "$T/add.onnx" --shape a=2x4 --input "a=$T/a5.npy"
touch "$T/file"
expect_err "--output-dir is a file" 3 "$T/file" run "$T/relu.onnx" --output-dir "$T/file"
expect_err "--output-dir under a file" 3 "$T/file/sub" run "$T/relu.onnx" --output-dir "$T/file/sub"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
