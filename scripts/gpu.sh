#!/bin/bash
# gpu.sh - the GPU tests and benchmarks, for a machine with an NVIDIA GPU but none of lucid's
# Debian build dependencies (e.g. Ubuntu 24.04 with CUDA 13, cuDNN 9 and cuBLAS
# from PyTorch's pip wheels, no network). docs/gpu.md explains the method.
#
#   scripts/gpu.sh stage [DIR]   here (the build machine): builds a self-contained lucid and
#                                test_cuda with LUCID_CUDA=ON and no optional CPU libraries,
#                                and copies them, the two shared libraries they need that the
#                                GPU machine lacks (libprotobuf-c, libcjson) and the scripts the
#                                run needs into DIR (default .stage-gpu, at most ~10 MiB)
#   scripts/gpu.sh run [WHAT] [DIR]  there, from the repository root, with DIR carried:
#                                WHAT = tests (default: test_cuda on the Fashion-MNIST and zoo
#                                models, compute-sanitizer on small models), bench (lucid against
#                                PyTorch eager and torch.compile, bench/gpu_bench.py), study
#                                (lucid characterize --device cuda on the Fashion-MNIST models
#                                with their test images and on zoo models; STUDY_FASHION and
#                                STUDY_ZOO name them, STUDY_ARGS adds flags, STUDY_TIMEOUT stops
#                                one model's study after that many seconds, keeping what it
#                                measured; the result folders are packed into $OUT/study.tgz),
#                                or all.
#                                Zoo models are exported there with models/export_zoo.py into
#                                /tmp/zoo (seconds each). Logs and results go to $OUT (or
#                                /tmp/gpu-out). Environment: ZOO_MODELS (a,b: the zoo models
#                                exported, tested and benchmarked), TEST_TIMEOUT (seconds for
#                                test_cuda), SANITIZE (all, memcheck or none), BENCH_ARGS (more
#                                gpu_bench.py flags); test_cuda's own LUCID_TEST_ZOO_LAYERS.
#                                test_cuda past TEST_TIMEOUT gets SIGABRT and prints its stack.
set -euo pipefail
cmd=${1:-}
here=$(cd "$(dirname "$0")/.." && pwd)

if [ "$cmd" = stage ]; then
    stage=$(realpath -m "${2:-.stage-gpu}")
    build="$here/build-gpu-stage"
    cmake -S "$here" -B "$build" -DCMAKE_BUILD_TYPE=Release -DLUCID_WERROR=ON -DLUCID_CUDA=ON \
        -DLUCID_DNNL=OFF -DLUCID_BLAS=OFF -DLUCID_XNNPACK=OFF -DLUCID_JPEG=OFF -DLUCID_PNG=OFF \
        "-DCMAKE_CUDA_ARCHITECTURES=87;90" >/dev/null
    make -C "$build" -j2 lucid test_cuda >/dev/null
    rm -rf "$stage/bin" "$stage/lib" "$stage/src"
    mkdir -p "$stage/bin" "$stage/lib" "$stage/src"
    cp "$build/lucid" "$build/tests/test_cuda" "$stage/bin/"
    strip "$stage/bin/lucid" "$stage/bin/test_cuda"
    for lib in libprotobuf-c.so.1 libcjson.so.1; do
        cp -L "$(ldd "$build/lucid" | awk -v l=$lib '$1 == l {print $3}')" "$stage/lib/"
    done
    (cd "$here" && cp --parents scripts/gpu.sh bench/gpu_bench.py models/export_zoo.py \
        bench/peers/*.py models/train_fashion.py "$stage/src/")
    # the study's Fashion-MNIST images: the test split, and the first 1000 training images
    # for INT8 calibration (the study calibrates on 500), from Debian's dataset-fashion-mnist
    fm=/usr/share/datasets/fashion-mnist
    if [ -f "$fm/t10k-images-idx3-ubyte.gz" ]; then
        rm -rf "$stage/data" && mkdir -p "$stage/data/fashion-mnist"
        cp "$fm"/t10k-*.gz "$stage/data/fashion-mnist/"
        python3 - "$fm" "$stage/data/fashion-mnist" <<'PY'
import gzip, struct, sys
src, dst = sys.argv[1:3]
for name, per in (("train-images-idx3-ubyte.gz", 784), ("train-labels-idx1-ubyte.gz", 1)):
    data = gzip.open("%s/%s" % (src, name)).read()
    head = 16 if per == 784 else 8
    magic, count = struct.unpack(">II", data[:8])
    keep = min(count, 1000)
    out = data[:4] + struct.pack(">I", keep) + data[8:head] + data[head:head + keep * per]
    gzip.open("%s/%s" % (dst, name), "wb").write(out)
PY
    fi
    # Tiny-YOLOv3's layer list comes from Debian's darknet package
    [ -f /usr/share/darknet/cfg/yolov3-tiny.cfg ] && cp /usr/share/darknet/cfg/yolov3-tiny.cfg "$stage/"
    du -sh "$stage"
    exit 0
fi

[ "$cmd" = run ] || { echo "usage: scripts/gpu.sh stage [DIR] | run [tests|bench|all] [DIR]" >&2; exit 1; }
what=${2:-tests}
stage=$(realpath -m "${3:-.stage-gpu}")
out=${OUT:-/tmp/gpu-out}
mkdir -p "$out"
export NCCL_NVLS_ENABLE=0 TORCH_SYMM_MEM_DISABLE_MULTICAST=1 NVSHMEM_DISABLE_NVLS=1
export PYTHONUNBUFFERED=1
# cuDNN and cuBLASLt come from the pip wheels next to PyTorch
libdirs=$(python3 - <<'EOF'
import glob, os, site
dirs = set()
for sp in site.getsitepackages():
    for pat in ("nvidia/*/lib/libcudnn.so.9", "nvidia/*/lib/libcublasLt.so.*", "nvidia/*/*/lib/libcublasLt.so.*",
                "nvidia/*/lib/libcupti.so.*", "nvidia/*/*/lib/libcudnn.so.9"):
        for f in glob.glob(os.path.join(sp, pat)):
            dirs.add(os.path.dirname(f))
print(":".join(sorted(dirs)))
EOF
)
export LD_LIBRARY_PATH="$stage/lib:$libdirs:${LD_LIBRARY_PATH:-}"
lucid="$stage/bin/lucid"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || true
if ldd "$lucid" | grep -q "not found"; then ldd "$lucid"; echo "missing libraries" >&2; exit 1; fi
src="$stage/src"
zoo=/tmp/zoo
models=${ZOO_MODELS:-resnet18,mobilenet_v2,squeezenet1_1,shufflenet_v2_x1_0,efficientnet_b0,googlenet,tiny_yolov3,densenet121,inception_v3,resnet50,alexnet,vgg16}
t0=$(date +%s)
if [ -f "$stage/yolov3-tiny.cfg" ] && [ ! -f /usr/share/darknet/cfg/yolov3-tiny.cfg ]; then
    mkdir -p /usr/share/darknet/cfg && cp "$stage/yolov3-tiny.cfg" /usr/share/darknet/cfg/
fi
if [ "$what" = study ]; then models=${STUDY_ZOO-}; fi
if [ -n "$models" ]; then
    if ! python3 "$src/models/export_zoo.py" --out "$zoo" --models "$models" 2>&1 | tail -1; then
        for m in ${models//,/ }; do  # one at a time: a model that fails to export is reported
            python3 "$src/models/export_zoo.py" --out "$zoo" --models "$m" 2>&1 | tail -1 || true
        done
    fi
fi
echo "zoo export: $(( $(date +%s) - t0 )) s"

if [ "$what" = tests ] || [ "$what" = all ]; then
    set +e  # a failing test is reported; the sanitizer and benchmarks still run
    LUCID_SOURCE="$PWD" LUCID_ZOO_DIR="$zoo" timeout -s ABRT -k 20 "${TEST_TIMEOUT:-3000}" "$stage/bin/test_cuda" 2>&1 |
        tee "$out/test_cuda.log" | grep -v "^  " | tail -60
    echo "test_cuda: exit ${PIPESTATUS[0]}"
    # the GPU study on a small model: every cell ok or unavailable with its reason
    "$lucid" characterize "$PWD/models/fashion/lenet5/model.onnx" --device cuda --limit 200 \
        --out /tmp/study-test --peers-dir "$src/bench/peers" --python python3 --quiet \
        --tune-ms 2 --builds 2 --runs 3 --duration 0.2 --warmup 50 >"$out/study-test.log" 2>&1
    echo "characterize --device cuda (lenet5): exit $?"
    python3 tests/gpu_study_check.py /tmp/study-test
    echo "gpu_study_check: exit $?"
    sanitize=${SANITIZE:-all}
    [ "$sanitize" = none ] || for m in lenet5 resnet; do
        compute-sanitizer --tool memcheck --error-exitcode 9 "$lucid" run "$PWD/models/fashion/$m/model.onnx" \
            --device cuda --precision fp16 --tune-ms 1 2>&1 | tail -3
        echo "compute-sanitizer memcheck $m fp16: exit ${PIPESTATUS[0]}"
    done
    [ "$sanitize" = none ] || for m in resnet mobilenet; do
        compute-sanitizer --tool memcheck --error-exitcode 9 "$lucid" run "$PWD/models/fashion/$m/model.onnx" \
            --device cuda --precision int8 --tune-ms 1 --calibration-count 64 \
            --calibration-data "npy:$PWD/models/fashion/$m/ref_input.npy" 2>&1 | tail -3
        echo "compute-sanitizer memcheck $m int8: exit ${PIPESTATUS[0]}"
    done
    if [ "$sanitize" = all ]; then
        compute-sanitizer --tool racecheck --error-exitcode 9 "$lucid" run "$PWD/models/fashion/resnet/model.onnx" \
            --device cuda --tune-ms 1 2>&1 | tail -2
        echo "compute-sanitizer racecheck resnet fp32: exit ${PIPESTATUS[0]}"
    fi
fi
if [ "$what" = study ] || [ "$what" = all ]; then
    data="$stage/data/fashion-mnist"
    sdir="$out/study"
    mkdir -p "$sdir"
    for m in $(echo "${STUDY_FASHION-lenet5,vgg,resnet,mobilenet,squeezenet,inception}" | tr , ' '); do
        t=$(date +%s)
        timeout -s INT -k 30 "${STUDY_TIMEOUT:-600}" "$lucid" characterize \
            "$PWD/models/fashion/$m/model.onnx" --device cuda --dataset "fashion-mnist:test@$data" \
            --out "$sdir/fashion-$m" --peers-dir "$src/bench/peers" --python python3 --quiet \
            ${STUDY_ARGS:-} >"$sdir/fashion-$m.log" 2>&1
        echo "study fashion-$m: exit $? in $(( $(date +%s) - t )) s"
        python3 tests/gpu_study_check.py "$sdir/fashion-$m" | tail -4
    done
    for m in $(echo "${STUDY_ZOO-}" | tr , ' '); do
        t=$(date +%s)
        timeout -s INT -k 30 "${STUDY_TIMEOUT:-600}" "$lucid" characterize "$zoo/$m/model.onnx" \
            --device cuda --out "$sdir/zoo-$m" --peers-dir "$src/bench/peers" --python python3 \
            --quiet ${STUDY_ARGS:-} ${STUDY_ZOO_ARGS:-} >"$sdir/zoo-$m.log" 2>&1
        echo "study zoo-$m: exit $? in $(( $(date +%s) - t )) s"
        python3 tests/gpu_study_check.py "$sdir/zoo-$m" | tail -4
    done
    tar czf "$out/study.tgz" -C "$sdir" .
fi
if [ "$what" = bench ] || [ "$what" = all ]; then
    python3 "$src/bench/gpu_bench.py" --lucid "$lucid" --zoo "$zoo" --models "$models" \
        --out "$out" ${BENCH_ARGS:-}
fi
