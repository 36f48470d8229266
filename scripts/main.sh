#!/usr/bin/env bash
# main.sh - installs what is missing, builds lucid, and runs it on the bundled default model.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$root/scripts/setup.sh"
lucid="${LUCID_BUILD_DIR:-$root/build}/lucid"
model="$root/models/fashion/lenet5/model.onnx"
"$lucid" info "$model"
"$lucid" run "$model" --input input="$root/models/fashion/lenet5/ref_input_0.npy"
