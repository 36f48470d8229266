#!/usr/bin/env bash
# tsan.sh - builds lucid with ThreadSanitizer into build-tsan/ and runs the tests that
# exercise threads under it; any TSan report fails the run (docs/reliability.md, "Thread
# safety", says what the build covers). Usage: scripts/tsan.sh [TEST ...]
#   default tests: test_concurrency test_threadpool test_plan
#   LUCID_CONCURRENCY_SCALE=N multiplies test_concurrency's iterations and durations.
# The Debian packages come from scripts/setup.sh (run it once on a fresh machine).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${LUCID_TSAN_BUILD_DIR:-$root/build-tsan}"
tests=("$@")
[ ${#tests[@]} -gt 0 ] || tests=(test_concurrency test_threadpool test_plan)

# LUCID_TSAN turns oneDNN, OpenBLAS, XNNPACK and the OpenMP pool off (CMakeLists.txt says why)
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DLUCID_CUDA=OFF -DLUCID_WERROR=ON \
  -DLUCID_TSAN=ON >/dev/null
cmake --build "$build" -j"$(nproc)" --target "${tests[@]}"

# halt_on_error: the first report stops the test with exitcode 66, so no report can pass
# unnoticed; a suppressions file is used only when one is committed (none is needed while the
# build leaves the uninstrumented threading libraries out)
opts="halt_on_error=1 exitcode=66 second_deadlock_stack=1 history_size=4"
[ -f "$root/tests/tsan.supp" ] && opts="$opts suppressions=$root/tests/tsan.supp"
export TSAN_OPTIONS="${TSAN_OPTIONS:-$opts}"

status=0
for t in "${tests[@]}"; do
  echo "== $t (TSAN_OPTIONS=$TSAN_OPTIONS)"
  start=$(date +%s)
  if (cd "$build/tests" && "./$t"); then
    echo "== $t: passed, no ThreadSanitizer report ($(( $(date +%s) - start )) s)"
  else
    rc=$?
    echo "== $t: FAILED (exit $rc; 66 is a ThreadSanitizer report)"
    status=1
  fi
done
exit $status
