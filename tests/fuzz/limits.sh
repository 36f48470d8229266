# limits.sh - per-target fuzzing limits, sourced by scripts/fuzz.sh and tests/fuzz/campaign.sh.
# TARGETS: every target; max_len T: the largest input for target T (above the biggest seed of
# each, small enough to mutate quickly).
TARGETS_ALL="onnx plan npy idx images calib_cache timing_cache json"
max_len() {
    case "$1" in
    onnx|plan) echo 400000 ;;
    calib_cache) echo 65536 ;;
    images|timing_cache) echo 16384 ;;
    *) echo 8192 ;;
    esac
}
