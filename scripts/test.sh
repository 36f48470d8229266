#!/usr/bin/env bash
# test.sh - installs what is missing, builds lucid, and runs every test:
#   1. the normal build's suite, on every instruction-set level the processor has;
#   2. the same suite again with LUCID_CPU_ISA=avx2 (what an AVX2-only processor runs);
#   3. an AddressSanitizer + UndefinedBehaviorSanitizer build of the suite, with the
#      allocation-failure sweep (LUCID_ALLOC_FAIL);
#   4. the thread tests under ThreadSanitizer (scripts/tsan.sh);
#   5. every libFuzzer target for a bounded time over its committed corpus (scripts/fuzz.sh).
# docs/reliability.md says what each part guarantees. LUCID_FUZZ_SECONDS sets part 5's seconds
# per target (default 60; 0 skips it).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
jobs="$(nproc)"

# OpenMP threads (oneDNN's, and lucid's pool, which shares them) and OpenBLAS's threads spin
# after each call by default; with two test processes at a time on few cores the spinning
# teams take each other's cores (the normal suite took 69 s instead of 37 s without the
# zoo on 2 cores), so the tests wait passively. Both libraries read these only when they load.
export OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-passive}"
export OPENBLAS_THREAD_TIMEOUT="${OPENBLAS_THREAD_TIMEOUT:-4}"
# the suite runs at the processor's own level unless part 2 says otherwise
unset LUCID_CPU_ISA

part() { echo; echo "==== test.sh: $* ($(date -u +%H:%M:%S))"; }

part "1. normal build"
LUCID_BUILD_DIR="$root/build" LUCID_CMAKE_ARGS="-DLUCID_WERROR=ON" bash "$root/scripts/setup.sh"
# the peer engines for the peer-driver tests: .venv-peers (ONNX Runtime and OpenVINO from
# PyPI over Debian's numpy, onnx and torch), which lucid and tests/test_peers.py pick up
bash "$root/bench/setup_peers.sh"
export LUCID_PEERS_PYTHON="${LUCID_PEERS_PYTHON:-${LUCID_PEERS_VENV:-$root/.venv-peers}/bin/python3}"
"$root/build/lucid" --version
(cd "$root/build" && ctest --output-on-failure -j"$jobs")

part "2. the normal suite capped at AVX2"
# the per-level tests (label isa) already ran every level in part 1
if LUCID_CPU_ISA=avx2 "$root/build/lucid" --version | grep -q "capped"; then
  (cd "$root/build" && LUCID_CPU_ISA=avx2 ctest --output-on-failure -j"$jobs" -LE isa)
else
  echo "this processor's level is avx2 or below: part 1 was the AVX2 run"
fi

part "3. AddressSanitizer + UndefinedBehaviorSanitizer, allocation-failure sweep"
# The sanitizer run skips the zoo models, which take minutes without sanitizers.
LUCID_BUILD_DIR="$root/build-asan" \
LUCID_CMAKE_ARGS="-DLUCID_WERROR=ON -DLUCID_SANITIZE=ON -DLUCID_ALLOC_FAIL=ON -DCMAKE_BUILD_TYPE=Debug" \
  bash "$root/scripts/setup.sh"
(cd "$root/build-asan" && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
  ctest --output-on-failure -j"$jobs" -LE zoo)

part "4. ThreadSanitizer"
bash "$root/scripts/tsan.sh"

part "5. fuzzing"
fuzz_seconds="${LUCID_FUZZ_SECONDS:-60}"
if [ "$fuzz_seconds" -gt 0 ]; then
  FUZZ_PARALLEL="${FUZZ_PARALLEL:-$jobs}" bash "$root/scripts/fuzz.sh" "$fuzz_seconds"
else
  echo "skipped (LUCID_FUZZ_SECONDS=0)"
fi
part "done: every part passed"
