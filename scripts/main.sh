#!/usr/bin/env bash
# main.sh - installs what is missing, builds lucid, and runs the characterization study on the
# bundled default model: a LeNet-5 trained on Fashion-MNIST (models/fashion/lenet5), on the CPU,
# with the 10,000 Fashion-MNIST test images. It measures every lucid config (reference,
# fusions, tuned, deterministic, fp16, bf16, int8 calibrated on the training split, pruned,
# clustered) and the peer engines (ONNX Runtime, OpenVINO at FP32 and at its default precision,
# PyTorch; TensorRT needs a GPU), and writes results.json, CSV tables and report.html
# (docs/characterize.md). A peer that cannot run is listed with the reason.
#
# The peers run in .venv-peers, which bench/setup_peers.sh makes (or only verifies, when it is
# there): Debian's python3 with its numpy, onnx and torch, plus ONNX Runtime and OpenVINO from
# PyPI. LUCID_PEERS_PYTHON, when set, names another interpreter for them.
# LUCID_BUILD_DIR and LUCID_CMAKE_ARGS choose the build folder and its CMake options.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$root/scripts/setup.sh"
bash "$root/bench/setup_peers.sh"
export LUCID_PEERS_PYTHON="${LUCID_PEERS_PYTHON:-${LUCID_PEERS_VENV:-$root/.venv-peers}/bin/python3}"
build="${LUCID_BUILD_DIR:-$root/build}"
lucid="$build/lucid"
model="$root/models/fashion/lenet5/model.onnx"
out="$build/main/characterize"
"$lucid" info "$model"
echo
"$lucid" characterize "$model" --device cpu --dataset fashion-mnist:test --out "$out"
echo
echo "main: the report is $out/report.html (open it in a browser; results.json and CSV tables alongside)"
