#!/usr/bin/env bash
# main.sh - installs what is missing, builds lucid, and runs it on the bundled default model:
# a LeNet-5 trained on Fashion-MNIST (models/fashion/lenet5). It describes the model, builds
# an engine (graph passes, tactics timed on this machine, memory planned) into a plan file,
# runs it once, and measures its accuracy on the 10,000 Fashion-MNIST test images.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$root/scripts/setup.sh"
build="${LUCID_BUILD_DIR:-$root/build}"
lucid="$build/lucid"
model="$root/models/fashion/lenet5/model.onnx"
out="$build/main"
mkdir -p "$out"
"$lucid" info "$model"
echo
"$lucid" build "$model" -o "$out/lenet5.plan"
echo
"$lucid" run "$out/lenet5.plan"
echo
"$lucid" eval "$out/lenet5.plan" --dataset fashion-mnist:test
echo
echo "main: the plan is $out/lenet5.plan"
