#!/bin/bash
# campaign.sh - a long fuzzing round on a machine with many cores and no compiler: runs every
# fuzz target of an already built fuzz folder at once, each with libFuzzer's fork mode
# (WORKERS processes per target), over a corpus folder that it grows in place, so that
# several rounds add up to one long run. Exits 1 if any target found something.
#
#   tests/fuzz/campaign.sh BUILD CORPUS_DIR OUT_DIR SECONDS [WORKERS]
#
# BUILD:      a folder holding tests/fuzz/fuzz_<target> (scripts/fuzz.sh builds one) and, for a
#             machine that lacks them, the shared libraries they need in BUILD/lib
# CORPUS_DIR: one folder per target (start from tests/fuzz/corpus; later rounds pass the
#             folder the previous round grew)
# OUT_DIR:    logs, one summary line per target (OUT_DIR/summary.txt) and any crash inputs
# CAMPAIGN_TARGETS="a b" runs only these targets (e.g. one again after its fix)
set -u
BUILD=$1 CORPUS=$2 OUT=$3 SECS=$4 WORKERS=${5:-2}
. "$(dirname "$0")/limits.sh"
TARGETS=${CAMPAIGN_TARGETS:-$TARGETS_ALL}
mkdir -p "$OUT"
export LD_LIBRARY_PATH="$BUILD/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"

# the path-taking readers write each input to a scratch file: on tmpfs where there is one (a
# timing cache's save fsyncs)
scratch=/tmp
[ -w /dev/shm ] && scratch=/dev/shm
for t in $TARGETS; do
    mkdir -p "$CORPUS/$t" "$OUT/$t" "$scratch/lucid-campaign/$t"
    (
        cd "$OUT/$t" || exit 1
        # bash's time keyword counts the forked workers' CPU too (user + system seconds): on a
        # shared machine that, not the wall time, is how long the target was fuzzed
        TIMEFORMAT='%U %S'
        { time LUCID_FUZZ_TMP="$scratch/lucid-campaign/$t" \
        ASAN_OPTIONS="detect_leaks=1:allocator_may_return_null=0" \
        UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1" \
            "$BUILD/tests/fuzz/fuzz_$t" "$CORPUS/$t" -fork="$WORKERS" \
            -max_total_time="$SECS" -max_len="$(max_len "$t")" -rss_limit_mb=2048 \
            -malloc_limit_mb=2048 -timeout=10 -artifact_prefix="$OUT/$t/" \
            -close_fd_mask=1 >"$OUT/$t/log" 2>&1
        echo $? >"$OUT/$t/rc"; } 2>"$OUT/$t/cpu"
    ) &
done
wait

fail=0
: >"$OUT/summary.txt"
for t in $TARGETS; do
    rc=$(cat "$OUT/$t/rc" 2>/dev/null || echo "?")
    # fork mode's progress lines: "#EXECS: cov: C ft: F corp: N exec/s R oom/timeout/crash:
    # O/T/C time: Ss job: J dft_time: D"; the last one holds the totals
    last=$(grep -E '^#[0-9]+: cov:' "$OUT/$t/log" | tail -1)
    execs=$(echo "$last" | sed -n 's/^#\([0-9]*\):.*/\1/p')
    rate=$(echo "$last" | sed -n 's/.*exec\/s:* \([0-9]*\).*/\1/p')
    otc=$(echo "$last" | sed -n 's/.*oom\/timeout\/crash: \([0-9/]*\).*/\1/p')
    cov=$(echo "$last" | sed -n 's/.* cov: \([0-9]*\).*/\1/p')
    files=$(find "$CORPUS/$t" -type f | wc -l)
    artifacts=$(find "$OUT/$t" -maxdepth 1 -type f \( -name 'crash-*' -o -name 'leak-*' \
        -o -name 'timeout-*' -o -name 'oom-*' \) | wc -l)
    cpu=$(awk '{printf "%d", $1 + $2}' "$OUT/$t/cpu" 2>/dev/null)
    result="no findings"
    if [ "$rc" != 0 ] || [ "$artifacts" != 0 ] || { [ -n "$otc" ] && [ "$otc" != "0/0/0" ]; }; then
        result="FINDING (exit $rc, oom/timeout/crash $otc, $artifacts inputs)"
        fail=1
    fi
    printf 'fuzz_%-13s %5d s x %d workers  %7s CPU s  %12s execs  %8s exec/s  cov %6s  corpus %6d  %s\n' \
        "$t" "$SECS" "$WORKERS" "${cpu:-?}" "${execs:-?}" "${rate:-?}" "${cov:-?}" "$files" \
        "$result" \
        | tee -a "$OUT/summary.txt"
    rm -rf "$scratch/lucid-campaign/$t"
done
exit $fail
