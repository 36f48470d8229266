#!/usr/bin/env bash
# test_eval.sh - end-to-end checks of `lucid eval`: accuracy counting, batching, tie rule, logits
# against PyTorch's for the committed Fashion-MNIST models, and bad datasets and models.
# Usage: test_eval.sh PATH/TO/lucid SOURCE_DIR
# Synthetic models and data are made with the system Python's onnx, numpy and PIL. The full
# 10,000-image comparison with PyTorch's accuracy is bench/eval_fashion.sh (slower; docs/eval.md).
set -u

LUCID=${1:?usage: test_eval.sh PATH/TO/lucid SOURCE_DIR}
SRC=${2:?usage: test_eval.sh PATH/TO/lucid SOURCE_DIR}
PY=/usr/bin/python3
FMNIST=/usr/share/datasets/fashion-mnist
pass=0
fail=0
T=$(mktemp -d /tmp/lucid_eval_test.XXXXXX)
trap 'rm -rf "$T"' EXIT

ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }

run_cli() {
    "$LUCID" "$@" >"$T/out" 2>"$T/err"
    rc=$?
}

expect_ok() {
    local desc=$1; shift
    run_cli "$@"
    if [ "$rc" -eq 0 ]; then ok; else bad "$desc: exit $rc, stderr: $(cat "$T/err")"; fi
}

# expect_err DESC CODE SUBJECT NAMED ARGS...: exit CODE, nothing on stdout, exactly one stderr
# line 'lucid: SUBJECT: ...' that contains NAMED (the file the error is about)
expect_err() {
    local desc=$1 code=$2 subject=$3 named=$4; shift 4
    run_cli "$@"
    local lines
    lines=$(wc -l <"$T/err")
    if [ "$rc" -ne "$code" ]; then
        bad "$desc: exit $rc, want $code; stderr: $(cat "$T/err")"
    elif [ "$lines" -ne 1 ]; then
        bad "$desc: $lines stderr lines, want 1: $(cat "$T/err")"
    elif ! grep -qF "lucid: $subject: " "$T/err"; then
        bad "$desc: stderr does not start with 'lucid: $subject: ': $(cat "$T/err")"
    elif ! grep -qF -- "$named" "$T/err"; then
        bad "$desc: stderr does not name '$named': $(cat "$T/err")"
    elif [ -s "$T/out" ]; then
        bad "$desc: stdout not empty: $(head -c 200 "$T/out")"
    else
        ok
    fi
}

json_check() {
    if "$PY" -c "import json,sys; d=json.load(open(sys.argv[1])); sys.exit(0 if ($2) else 1)" \
        "$T/out" 2>"$T/pyerr"; then
        ok
    else
        bad "$1: JSON check failed ($2): $(cat "$T/pyerr") $(head -c 400 "$T/out")"
    fi
}

# py_check DESC SCRIPT ARGS...: a Python snippet that exits 0 when the check holds
py_check() {
    local desc=$1 script=$2; shift 2
    if "$PY" -c "$script" "$@" >"$T/pyout" 2>&1; then ok; else bad "$desc: $(cat "$T/pyout")"; fi
}

# ---- fixtures --------------------------------------------------------------------------
if ! "$PY" - "$T" <<'EOF'
import gzip, os, struct, sys
import numpy as np
import onnx
from onnx import helper, numpy_helper, TensorProto as TP
from PIL import Image
t = sys.argv[1]
op = [helper.make_opsetid("", 17)]
def save(nodes, name, inp, out, inits=()):
    g = helper.make_graph(nodes, name, [inp], [out], initializer=list(inits))
    m = helper.make_model(g, producer_name="lucid-test", opset_imports=op)
    m.ir_version = 8
    onnx.save(m, os.path.join(t, name + ".onnx"))
rng = np.random.default_rng(3)
# linear classifier over 1x4x4 samples with a symbolic batch: logits = flatten(x) @ W
W = rng.standard_normal((16, 6)).astype(np.float32)
np.save(os.path.join(t, "W.npy"), W)
flat = helper.make_node("Flatten", ["x"], ["f"], axis=1)
save([flat, helper.make_node("MatMul", ["f", "W"], ["logits"])], "lin",
     helper.make_tensor_value_info("x", TP.FLOAT, ["N", 1, 4, 4]),
     helper.make_tensor_value_info("logits", TP.FLOAT, ["N", 6]),
     [numpy_helper.from_array(W, "W")])
# the same with a [N, 6, 1, 1] output
save([flat, helper.make_node("MatMul", ["f", "W"], ["m"]),
      helper.make_node("Unsqueeze", ["m", "axes"], ["logits"])], "lin4d",
     helper.make_tensor_value_info("x", TP.FLOAT, ["N", 1, 4, 4]),
     helper.make_tensor_value_info("logits", TP.FLOAT, ["N", 6, 1, 1]),
     [numpy_helper.from_array(W, "W"), numpy_helper.from_array(np.array([2, 3], np.int64), "axes")])
# every score equal: the tie rule alone decides top-k
save([flat, helper.make_node("MatMul", ["f", "Z"], ["logits"])], "ties",
     helper.make_tensor_value_info("x", TP.FLOAT, ["N", 1, 4, 4]),
     helper.make_tensor_value_info("logits", TP.FLOAT, ["N", 6]),
     [numpy_helper.from_array(np.zeros((16, 6), np.float32), "Z")])
# three classes: top-5 does not apply
save([flat, helper.make_node("MatMul", ["f", "W3"], ["logits"])], "three",
     helper.make_tensor_value_info("x", TP.FLOAT, [1, 1, 4, 4]),
     helper.make_tensor_value_info("logits", TP.FLOAT, [1, 3]),
     [numpy_helper.from_array(W[:, :3].copy(), "W3")])
# not 4-D, and an ImageNet-shaped model that Fashion-MNIST cannot feed
save([helper.make_node("Relu", ["x"], ["y"])], "flat2d",
     helper.make_tensor_value_info("x", TP.FLOAT, [2, 3]),
     helper.make_tensor_value_info("y", TP.FLOAT, [2, 3]))
save([flat, helper.make_node("MatMul", ["f", "W"], ["logits"])], "lin1",
     helper.make_tensor_value_info("x", TP.FLOAT, [1, 1, 4, 4]),
     helper.make_tensor_value_info("logits", TP.FLOAT, [1, 6]),
     [numpy_helper.from_array(W, "W")])
save([helper.make_node("GlobalAveragePool", ["x"], ["p"]),
      helper.make_node("Flatten", ["p"], ["logits"], axis=1)], "gray28",
     helper.make_tensor_value_info("x", TP.FLOAT, [1, 1, 28, 28]),
     helper.make_tensor_value_info("logits", TP.FLOAT, [1, 1]))
save([helper.make_node("GlobalAveragePool", ["x"], ["p"]),
      helper.make_node("Flatten", ["p"], ["logits"], axis=1)], "rgb224",
     helper.make_tensor_value_info("x", TP.FLOAT, [1, 3, 224, 224]),
     helper.make_tensor_value_info("logits", TP.FLOAT, [1, 3]))
x = rng.standard_normal((20, 1, 4, 4)).astype(np.float32)
y = rng.integers(0, 6, 20).astype(np.int64)
np.save(os.path.join(t, "x.npy"), x)
np.save(os.path.join(t, "y.npy"), y)
np.save(os.path.join(t, "y_short.npy"), y[:19])
np.save(os.path.join(t, "y_big.npy"), np.where(np.arange(20) == 13, 6, y).astype(np.int64))
np.save(os.path.join(t, "y3.npy"), (y % 3).astype(np.int64))
# a folder of photos without class sub-folders: unlabelled
os.makedirs(os.path.join(t, "photos"))
for i in range(2):
    Image.fromarray(rng.integers(0, 255, (8, 8), dtype=np.uint8)).save(
        os.path.join(t, "photos", "p%d.png" % i))
# IDX sets: a corrupt one, and one with 5 images but 4 labels
def idx(path, magic_type, dims, data):
    with gzip.open(path, "wb") as f:
        f.write(struct.pack(">BBBB", 0, 0, magic_type, len(dims)))
        for d in dims:
            f.write(struct.pack(">I", d))
        f.write(data)
os.makedirs(os.path.join(t, "corrupt"))
with gzip.open(os.path.join(t, "corrupt", "t10k-images-idx3-ubyte.gz"), "wb") as f:
    f.write(b"\x00\x00\x08")
idx(os.path.join(t, "corrupt", "t10k-labels-idx1-ubyte.gz"), 8, [5], bytes(5))
os.makedirs(os.path.join(t, "mismatch"))
idx(os.path.join(t, "mismatch", "t10k-images-idx3-ubyte.gz"), 8, [5, 28, 28], bytes(5 * 784))
idx(os.path.join(t, "mismatch", "t10k-labels-idx1-ubyte.gz"), 8, [4], bytes(4))
EOF
then
    echo "FAIL: could not make the test models with $PY (needs onnx, numpy, PIL)"
    echo "0 passed, 1 failed"
    exit 1
fi

# ---- accuracy, batching, tie rule on synthetic models ---------------------------------------
# reference top-k under lucid's documented rule: higher score first, equal scores by lower index
REF_TOPK='
import json, sys
import numpy as np
def counts(logits, labels):
    t1 = t5 = 0
    for row, l in zip(logits, labels):
        rank = sum(1 for j in range(len(row)) if row[j] > row[l] or (row[j] == row[l] and j < l))
        t1 += rank < 1
        t5 += rank < 5
    return t1, t5
'
for b in 1 7 20 32; do
    expect_ok "eval lin batch $b" eval "$T/lin.onnx" --dataset "npy:$T/x.npy,$T/y.npy" \
        --shape "x=${b}x1x4x4" --save-logits "$T/lin_$b.npy" --json
    py_check "batch $b: logits and counts match numpy" "$REF_TOPK
d = json.load(open(sys.argv[1])); x = np.load(sys.argv[2]); y = np.load(sys.argv[3])
W = np.load(sys.argv[4]); got = np.load(sys.argv[5])
ref = x.reshape(20, 16).astype(np.float64) @ W.astype(np.float64)
assert got.shape == (20, 6) and got.dtype == np.float32, got.shape
assert np.abs(got - ref).max() <= 1e-5 * np.abs(ref).max(), np.abs(got - ref).max()
t1, t5 = counts(got, y)
assert d['batch'] == $b and d['images'] == 20 and d['classes'] == 6, d
assert d['top1_correct'] == t1 and d['top5_correct'] == t5, (d, t1, t5)
assert abs(d['top1'] - 100.0 * t1 / 20) < 1e-9 and d['schema'] == 'lucid-eval/1'
" "$T/out" "$T/x.npy" "$T/y.npy" "$T/W.npy" "$T/lin_$b.npy"
done

expect_ok "eval with --limit" eval "$T/lin.onnx" --dataset "npy:$T/x.npy,$T/y.npy" --limit 9 \
    --shape x=4x1x4x4 --save-logits "$T/lim.npy" --json
# a batch-4 plan may pick other tactics than the batch-1 plan (another summation order), so
# the logits agree to rounding, not bit for bit
py_check "--limit 9 evaluates the first 9" "
import json, sys, numpy as np
d = json.load(open(sys.argv[1])); a = np.load(sys.argv[2]); b = np.load(sys.argv[3])
assert d['images'] == 9 and a.shape == (9, 6), (d['images'], a.shape)
assert np.abs(a - b[:9]).max() <= 1e-5 * np.abs(b[:9]).max(), np.abs(a - b[:9]).max()
" "$T/out" "$T/lim.npy" "$T/lin_1.npy"

expect_ok "eval [N, classes, 1, 1] output" eval "$T/lin4d.onnx" --dataset "npy:$T/x.npy,$T/y.npy" \
    --save-logits "$T/lin4d.npy" --json
py_check "4-D output gives the same logits" "
import sys, numpy as np
a = np.load(sys.argv[1]); b = np.load(sys.argv[2])
assert a.shape == b.shape and np.abs(a - b).max() <= 1e-5 * np.abs(b).max(), np.abs(a - b).max()
" "$T/lin4d.npy" "$T/lin_1.npy"

expect_ok "eval ties" eval "$T/ties.onnx" --dataset "npy:$T/x.npy,$T/y.npy" --json
py_check "equal scores rank by lower class index" "
import json, sys, numpy as np
d = json.load(open(sys.argv[1])); y = np.load(sys.argv[2])
assert d['top1_correct'] == int((y == 0).sum()) and d['top5_correct'] == int((y < 5).sum()), d
" "$T/out" "$T/y.npy"

expect_ok "eval three classes" eval "$T/three.onnx" --dataset "npy:$T/x.npy,$T/y3.npy" --json
json_check "top-5 not applicable below 5 classes" "d['classes']==3 and d['top5'] is None and d['top5_correct'] is None and d['top1'] is not None"
expect_ok "eval three classes, text" eval "$T/three.onnx" --dataset "npy:$T/x.npy,$T/y3.npy"
if grep -q "top-5: *not applicable" "$T/out"; then ok; else bad "text says top-5 n/a: $(cat "$T/out")"; fi

expect_ok "eval text summary" eval "$T/lin.onnx" --dataset "npy:$T/x.npy,$T/y.npy"
for f in "model:" "dataset: .*20 samples" "images: +20" "top-1: .*% \([0-9]+ / 20 correct\)" \
    "top-5: .*%" "time: .*images/s"; do
    if grep -qE "$f" "$T/out"; then ok; else bad "text summary lacks /$f/: $(cat "$T/out")"; fi
done
if ! grep -q "eval:" "$T/err"; then ok; else bad "no progress output when stderr is not a terminal: $(cat "$T/err")"; fi
if command -v script >/dev/null 2>&1; then
    script -qec "'$LUCID' eval '$T/lin.onnx' --dataset 'npy:$T/x.npy,$T/y.npy' >/dev/null" "$T/tty" \
        >/dev/null 2>&1
    if grep -q "eval: 20/20 .*top-1 .*images/s .*ETA" "$T/tty"; then ok; else bad "progress on a terminal: $(cat -v "$T/tty")"; fi
fi

# ---- the committed Fashion-MNIST models against PyTorch's logits ----------------------------
n_models=0
for model in "$SRC"/models/fashion/*/model.onnx; do
    [ -f "$model" ] || continue
    d=$(dirname "$model")
    name=$(basename "$d")
    [ -f "$d/ref_input.npy" ] && [ -f "$d/ref_labels.npy" ] && [ -f "$d/ref_logits.npy" ] || continue
    n_models=$((n_models + 1))
    expect_ok "$name: eval reference images" eval "$model" \
        --dataset "npy:$d/ref_input.npy,$d/ref_labels.npy" --save-logits "$T/$name.npy" --json
    py_check "$name: logits within 1e-4 max|ref| of PyTorch's, same argmax, ref_top1" "
import json, sys, numpy as np
d = json.load(open(sys.argv[1])); got = np.load(sys.argv[2]); ref = np.load(sys.argv[3])
res = json.load(open(sys.argv[4]))['models'].get(sys.argv[5], {})
assert got.shape == ref.shape, (got.shape, ref.shape)
err = np.abs(got - ref).max(); tol = 1e-4 * np.abs(ref).max()
assert err <= tol, 'max |diff| %g > %g' % (err, tol)
assert (got.argmax(1) == ref.argmax(1)).all(), np.nonzero(got.argmax(1) != ref.argmax(1))
if 'ref_top1' in res:
    assert abs(d['top1'] - res['ref_top1']) < 1e-9, (d['top1'], res['ref_top1'])
" "$T/out" "$T/$name.npy" "$d/ref_logits.npy" "$SRC/models/fashion/results.json" "$name"
    # the same model as a plan file, and on the reference executor: the same logits and
    # top-1 as the plan built for the run above
    expect_ok "$name: build a plan" build "$model" -o "$T/$name.plan"
    expect_ok "$name: eval the plan file" eval "$T/$name.plan" \
        --dataset "npy:$d/ref_input.npy,$d/ref_labels.npy" --save-logits "$T/${name}_plan.npy" --json
    json_check "$name: plan file engine" "d['engine']=='plan' and d['build_s'] is None"
    cp "$T/out" "$T/${name}_plan.json"
    expect_ok "$name: eval --reference" eval "$model" --reference \
        --dataset "npy:$d/ref_input.npy,$d/ref_labels.npy" --save-logits "$T/${name}_ref.npy" --json
    json_check "$name: reference engine" "d['engine']=='reference' and d['build_s'] is None"
    py_check "$name: plan file and reference executor agree with the built plan" "
import json, sys, numpy as np
built = np.load(sys.argv[1]); plan = np.load(sys.argv[2]); ref = np.load(sys.argv[3])
tol = 1e-4 * np.abs(ref).max()
assert np.abs(plan - ref).max() <= tol, np.abs(plan - ref).max()
assert np.abs(built - ref).max() <= tol, np.abs(built - ref).max()
assert json.load(open(sys.argv[4]))['top1'] == json.load(open(sys.argv[5]))['top1']
" "$T/$name.npy" "$T/${name}_plan.npy" "$T/${name}_ref.npy" "$T/${name}_plan.json" "$T/out"
    if [ -f "$FMNIST/t10k-images-idx3-ubyte.gz" ]; then
        # the IDX reader's normalization must be the trainer's: same first 100 images, same logits
        expect_ok "$name: eval fashion-mnist first 100" eval "$model" \
            --dataset fashion-mnist:test --limit 100 --save-logits "$T/${name}_idx.npy"
        py_check "$name: fashion-mnist:test gives PyTorch's logits on the first 100" "
import sys, numpy as np
got = np.load(sys.argv[1]); ref = np.load(sys.argv[2])
assert np.abs(got - ref).max() <= 1e-4 * np.abs(ref).max(), np.abs(got - ref).max()
assert (got.argmax(1) == ref.argmax(1)).all()
" "$T/${name}_idx.npy" "$d/ref_logits.npy"
        expect_ok "$name: eval fashion-mnist --limit 1000" eval "$model" \
            --dataset fashion-mnist:test --limit 1000 --json
        json_check "$name: 1000 images counted" "d['images']==1000 and 0<=d['top5_correct']-d['top1_correct'] and d['top5_correct']<=1000"
    fi
done
echo "checked $n_models Fashion-MNIST model(s)"

# ---- usage errors (exit 1) --------------------------------------------------------------------
expect_err "no --dataset" 1 --dataset --dataset eval "$T/lin1.onnx"
expect_err "unknown dataset kind" 1 --dataset "cifar" eval "$T/lin1.onnx" --dataset cifar
expect_err "unknown split" 1 --dataset "fashion-mnist:val" eval "$T/lin1.onnx" --dataset fashion-mnist:val
expect_err "--limit 0" 1 --limit --limit eval "$T/lin1.onnx" --dataset "npy:$T/x.npy,$T/y.npy" --limit 0
expect_err "--limit x" 1 --limit --limit eval "$T/lin1.onnx" --dataset "npy:$T/x.npy,$T/y.npy" --limit x
"$LUCID" build "$T/lin.onnx" -o "$T/lin.plan" >/dev/null 2>&1
expect_err "--threads above the plan's" 1 --threads "$T/lin.plan" \
    eval "$T/lin.plan" --dataset "npy:$T/x.npy,$T/y.npy" --threads 4096
expect_err "--deterministic with --reference" 1 --deterministic "reference" \
    eval "$T/lin1.onnx" --reference --deterministic --dataset "npy:$T/x.npy,$T/y.npy"
expect_err "--save-logits empty" 1 --save-logits --save-logits eval "$T/lin1.onnx" --dataset "npy:$T/x.npy,$T/y.npy" --save-logits=

# ---- bad datasets and models (exit 2) and I/O (exit 3) -----------------------------------------
expect_err "missing dataset folder" 3 --dataset "$T/nodir/t10k-images-idx3-ubyte.gz" \
    eval "$T/gray28.onnx" --dataset "fashion-mnist@$T/nodir"
expect_err "missing npy dataset" 3 --dataset "$T/none.npy" eval "$T/lin1.onnx" --dataset "npy:$T/none.npy"
expect_err "corrupt IDX" 2 --dataset "$T/corrupt/t10k-images-idx3-ubyte.gz" \
    eval "$T/gray28.onnx" --dataset "fashion-mnist@$T/corrupt"
expect_err "IDX label count mismatch" 2 --dataset "$T/mismatch/t10k-labels-idx1-ubyte.gz" \
    eval "$T/gray28.onnx" --dataset "fashion-mnist@$T/mismatch"
expect_err "npy label count mismatch" 2 --dataset "$T/y_short.npy" \
    eval "$T/lin1.onnx" --dataset "npy:$T/x.npy,$T/y_short.npy"
expect_err "unlabelled images folder" 2 --dataset "images:$T/photos" \
    eval "$T/lin1.onnx" --dataset "images:$T/photos"
expect_err "unlabelled npy" 2 --dataset "npy:$T/x.npy" eval "$T/lin1.onnx" --dataset "npy:$T/x.npy"
expect_err "3x224x224 model on fashion-mnist" 2 --dataset "3x224x224" \
    eval "$T/rgb224.onnx" --dataset fashion-mnist:test
expect_err "npy samples do not fit the model" 2 --dataset "$T/x.npy" \
    eval "$T/rgb224.onnx" --dataset "npy:$T/x.npy,$T/y.npy"
expect_err "model input not 4-D" 2 "$T/flat2d.onnx" "4-D" eval "$T/flat2d.onnx" --dataset "npy:$T/x.npy,$T/y.npy"
expect_err "label >= classes" 2 --dataset "sample 13 has label 6" \
    eval "$T/lin1.onnx" --dataset "npy:$T/x.npy,$T/y_big.npy"
expect_err "--save-logits unwritable" 3 "$T/nodir/l.npy" "$T/nodir/l.npy" \
    eval "$T/lin1.onnx" --dataset "npy:$T/x.npy,$T/y.npy" --save-logits "$T/nodir/l.npy"
expect_err "missing model" 3 "$T/none.onnx" "$T/none.onnx" eval "$T/none.onnx" --dataset "npy:$T/x.npy,$T/y.npy"
if [ ! -e "$T/lbig.npy" ]; then ok; else bad "a failed eval leaves no logits file"; fi
"$LUCID" eval "$T/lin1.onnx" --dataset "npy:$T/x.npy,$T/y_big.npy" --save-logits "$T/lbig.npy" \
    >/dev/null 2>&1
if [ ! -e "$T/lbig.npy" ]; then ok; else bad "a failed eval removes its logits file"; fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
