#!/usr/bin/env bash
# alloc_fail.sh - the allocation-failure sweep: configures build-oom/ with AddressSanitizer
# (LeakSanitizer on) and LUCID_ALLOC_FAIL, builds the sweep and runs it. With no argument it
# runs the ctest entry (every allocation of LeNet-5, a stride of the other Fashion-MNIST
# models); arguments go to the test executable instead (--full: every allocation of every
# model; --model NAME --mode once|rest --stride S --trace N: one sweep, or one allocation's
# stack). docs/reliability.md describes it.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${LUCID_OOM_BUILD_DIR:-$root/build-oom}"
jobs="$(nproc)"

cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DLUCID_CUDA=OFF -DLUCID_WERROR=ON \
  -DLUCID_SANITIZE=ON -DLUCID_ALLOC_FAIL=ON >/dev/null
cmake --build "$build" -j"$jobs" --target test_alloc_fail

# passive OpenMP waits, as scripts/test.sh: the sweep runs on one thread
export OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-passive}"
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1}"
if [ $# -eq 0 ]; then
  (cd "$build" && ctest --output-on-failure -R '^alloc_fail$')
else
  (cd "$build/tests" && ./test_alloc_fail "$@")
fi
