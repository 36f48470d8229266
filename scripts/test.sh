#!/usr/bin/env bash
# test.sh - installs what is missing, builds lucid, and runs every test: the normal build
# first, then an AddressSanitizer + UndefinedBehaviorSanitizer build of the same suite.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
jobs="$(nproc)"

# OpenMP threads (oneDNN's, and lucid's pool, which shares them) and OpenBLAS's threads spin
# after each call by default; with two test processes at a time on few cores the spinning
# teams take each other's cores (the normal suite took 69 s instead of 37 s without the
# zoo on 2 cores), so the tests wait passively. Both libraries read these only when they load.
export OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-passive}"
export OPENBLAS_THREAD_TIMEOUT="${OPENBLAS_THREAD_TIMEOUT:-4}"

LUCID_BUILD_DIR="$root/build" LUCID_CMAKE_ARGS="-DLUCID_WERROR=ON" bash "$root/scripts/setup.sh"
# the peer engines for the peer-driver tests: .venv-peers (ONNX Runtime and OpenVINO from
# PyPI over Debian's numpy, onnx and torch), which lucid and tests/test_peers.py pick up
bash "$root/bench/setup_peers.sh"
export LUCID_PEERS_PYTHON="${LUCID_PEERS_PYTHON:-${LUCID_PEERS_VENV:-$root/.venv-peers}/bin/python3}"
(cd "$root/build" && ctest --output-on-failure -j"$jobs")

# The sanitizer run skips the zoo models, which take minutes without sanitizers.
LUCID_BUILD_DIR="$root/build-asan" \
LUCID_CMAKE_ARGS="-DLUCID_WERROR=ON -DLUCID_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug" \
  bash "$root/scripts/setup.sh"
(cd "$root/build-asan" && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
  ctest --output-on-failure -j"$jobs" -LE zoo)
