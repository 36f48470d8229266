#!/usr/bin/env bash
# test.sh - installs what is missing, builds lucid, and runs every test: the normal build
# first, then an AddressSanitizer + UndefinedBehaviorSanitizer build of the same suite.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
jobs="$(nproc)"

LUCID_BUILD_DIR="$root/build" LUCID_CMAKE_ARGS="-DLUCID_WERROR=ON" bash "$root/scripts/setup.sh"
(cd "$root/build" && ctest --output-on-failure -j"$jobs")

# The sanitizer run skips the zoo models, which take minutes without sanitizers.
LUCID_BUILD_DIR="$root/build-asan" \
LUCID_CMAKE_ARGS="-DLUCID_WERROR=ON -DLUCID_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug" \
  bash "$root/scripts/setup.sh"
(cd "$root/build-asan" && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
  ctest --output-on-failure -j"$jobs" -E '^zoo')
