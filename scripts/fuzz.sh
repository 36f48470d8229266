#!/bin/bash
# fuzz.sh - builds lucid's libFuzzer targets (tests/fuzz, build folder build-fuzz) and runs each
# one for a bounded time over a copy of its seed corpus; exits 1 on any finding.
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET]        (default 60)
#
# Environment:
#   FUZZ_TARGETS    targets to run, space-separated (default: all; names without "fuzz_")
#   FUZZ_PARALLEL   targets run at the same time (default 1), each one process of one worker
#   FUZZ_BUILD      build folder (default <repo>/build-fuzz)
#   FUZZ_WORK       where corpus copies, logs and crash inputs go (default: a new temporary
#                   folder, kept when something was found)
#   FUZZ_SUMMARY    also write the summary lines to this file
#   FUZZ_NO_BUILD=1 use the build folder as it is
#
# The repository's corpus (tests/fuzz/corpus/<target>/) is only read: inputs the fuzzers find
# go to FUZZ_WORK. A finding is a sanitizer report, a crash, a leak, an input that runs longer
# than 10 s, or memory beyond 2048 MB; its input and report are printed.
set -u
SECONDS_PER_TARGET=${1:-60}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${FUZZ_BUILD:-$ROOT/build-fuzz}
PARALLEL=${FUZZ_PARALLEL:-1}
. "$ROOT/tests/fuzz/limits.sh"
TARGETS=${FUZZ_TARGETS:-$TARGETS_ALL}
RSS_MB=2048
TIMEOUT_S=10

case "$SECONDS_PER_TARGET" in
''|*[!0-9]*) echo "usage: $0 [SECONDS_PER_TARGET]" >&2; exit 2 ;;
esac


# ---- clang with libFuzzer (Debian: clang and libclang-rt-<N>-dev), installed once
have_libfuzzer() {
    local t
    t=$(mktemp -d) || return 1
    echo 'int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n) { return 0; }' \
        >"$t/t.c"
    clang -fsanitize=fuzzer,address,undefined "$t/t.c" -o "$t/t" >/dev/null 2>&1
    local rc=$?
    rm -rf "$t"
    return $rc
}
if ! command -v clang >/dev/null 2>&1 || ! have_libfuzzer; then
    echo "fuzz.sh: installing clang and libFuzzer (apt-get)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null && apt-get install -y -qq clang >/dev/null || {
        echo "fuzz.sh: cannot install clang" >&2; exit 2; }
    if ! have_libfuzzer; then
        ver=$(clang --version | sed -n 's/.*clang version \([0-9]*\).*/\1/p' | head -1)
        apt-get install -y -qq "libclang-rt-$ver-dev" >/dev/null 2>&1 ||
            apt-get install -y -qq libclang-rt-dev >/dev/null 2>&1
        have_libfuzzer || { echo "fuzz.sh: clang has no libFuzzer runtime" >&2; exit 2; }
    fi
fi

# ---- build. Library tactics (oneDNN, XNNPACK, OpenBLAS) are left out: their code is not
# instrumented, and plans name only tactics of the build that reads them.
if [ "${FUZZ_NO_BUILD:-0}" != 1 ]; then
    mkdir -p "$BUILD"
    CC=clang cmake -S "$ROOT" -B "$BUILD" -DLUCID_CUDA=OFF -DCMAKE_BUILD_TYPE=Release \
        -DLUCID_WERROR=ON -DLUCID_FUZZ=ON -DLUCID_TESTS=OFF -DLUCID_DNNL=OFF -DLUCID_XNNPACK=OFF \
        -DLUCID_BLAS=OFF >"$BUILD/fuzz-configure.log" 2>&1 ||
        { cat "$BUILD/fuzz-configure.log" >&2; echo "fuzz.sh: configure failed" >&2; exit 2; }
    build_targets=""
    for t in $TARGETS; do build_targets="$build_targets fuzz_$t"; done
    # shellcheck disable=SC2086
    cmake --build "$BUILD" -j2 --target $build_targets >"$BUILD/fuzz-build.log" 2>&1 ||
        { tail -40 "$BUILD/fuzz-build.log" >&2; echo "fuzz.sh: build failed" >&2; exit 2; }
fi

WORK=${FUZZ_WORK:-$(mktemp -d /tmp/lucid-fuzz.XXXXXX)}
mkdir -p "$WORK"
echo "fuzz.sh: $SECONDS_PER_TARGET s per target, $PARALLEL at a time, work folder $WORK"

# runs one target; its summary line goes to $WORK/<t>/summary
run_target() {
    local t=$1 dir="$WORK/$1"
    rm -rf "$dir"
    mkdir -p "$dir/corpus"
    # the targets' scratch files (inputs of the readers that take a path) on tmpfs when there:
    # the timing cache's save syncs its file (fsync), 21 runs/s on /tmp, 16425 on /dev/shm
    local scratch
    scratch=$(mktemp -d /dev/shm/lucid-fuzz-$t.XXXXXX 2>/dev/null) || scratch="$dir/tmp"
    mkdir -p "$scratch"
    if [ -d "$ROOT/tests/fuzz/corpus/$t" ]; then
        cp -r "$ROOT/tests/fuzz/corpus/$t/." "$dir/corpus/"
    fi
    local seeds
    seeds=$(find "$dir/corpus" -type f | wc -l)
    local start=$SECONDS
    LUCID_FUZZ_TMP="$scratch" \
    ASAN_OPTIONS="detect_leaks=1:allocator_may_return_null=0:${ASAN_OPTIONS:-}" \
    UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:${UBSAN_OPTIONS:-}" \
        "$BUILD/tests/fuzz/fuzz_$t" "$dir/corpus" -max_total_time="$SECONDS_PER_TARGET" \
        -max_len="$(max_len "$t")" -rss_limit_mb=$RSS_MB -malloc_limit_mb=$RSS_MB \
        -timeout=$TIMEOUT_S -artifact_prefix="$dir/" -print_final_stats=1 \
        -close_fd_mask=1 >"$dir/log" 2>&1
    local rc=$? took=$((SECONDS - start))
    local execs rate rss corpus artifacts
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$dir/log" | tail -1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$dir/log" | tail -1)
    rss=$(sed -n 's/^stat::peak_rss_mb: *//p' "$dir/log" | tail -1)
    corpus=$(find "$dir/corpus" -type f | wc -l)
    artifacts=$(find "$dir" -maxdepth 1 -type f \( -name 'crash-*' -o -name 'leak-*' \
        -o -name 'timeout-*' -o -name 'oom-*' \) | sort)
    local result="no findings"
    if [ "$rc" != 0 ] || [ -n "$artifacts" ]; then
        result="FINDING (exit $rc)"
        for a in $artifacts; do result="$result $a"; done
    fi
    printf 'fuzz_%-13s %5d s  %10s execs  %7s exec/s  corpus %5d (%d seeds)  peak %s MB  %s\n' \
        "$t" "$took" "${execs:-?}" "${rate:-?}" "$corpus" "$seeds" "${rss:-?}" "$result" \
        >"$dir/summary"
    rm -rf "$scratch"
    [ "$result" = "no findings" ]
}

fail=0
pids=()
names=()
for t in $TARGETS; do
    if [ ! -x "$BUILD/tests/fuzz/fuzz_$t" ]; then
        echo "fuzz.sh: no target fuzz_$t in $BUILD" >&2
        fail=1
        continue
    fi
    run_target "$t" &
    pids+=($!)
    names+=("$t")
    # at most PARALLEL at a time: wait for the oldest
    if [ "${#pids[@]}" -ge "$PARALLEL" ]; then
        wait "${pids[0]}" || fail=1
        cat "$WORK/${names[0]}/summary"
        pids=("${pids[@]:1}")
        names=("${names[@]:1}")
    fi
done
for i in "${!pids[@]}"; do
    wait "${pids[$i]}" || fail=1
    cat "$WORK/${names[$i]}/summary"
done

if [ -n "${FUZZ_SUMMARY:-}" ]; then
    for t in $TARGETS; do [ -f "$WORK/$t/summary" ] && cat "$WORK/$t/summary"; done \
        >"$FUZZ_SUMMARY"
fi
if [ "$fail" != 0 ]; then
    for t in $TARGETS; do
        [ -f "$WORK/$t/summary" ] && grep -q FINDING "$WORK/$t/summary" || continue
        echo "==== fuzz_$t: report ($WORK/$t/log) ===="
        grep -n -m1 -E 'ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error:|==ERROR' \
            "$WORK/$t/log" >/dev/null &&
            sed -n '/ERROR: \|runtime error:/,$p' "$WORK/$t/log" | head -80 ||
            tail -40 "$WORK/$t/log"
    done
    echo "fuzz.sh: FINDINGS; inputs and logs kept in $WORK" >&2
    exit 1
fi
[ -z "${FUZZ_WORK:-}" ] && rm -rf "$WORK"
echo "fuzz.sh: no findings"
exit 0
