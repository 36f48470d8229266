#!/usr/bin/env bash
# setup.sh - installs the Debian packages lucid builds and tests with (idempotent: installs
# only what is missing) and configures + builds lucid into build/ (or $LUCID_BUILD_DIR).
set -euo pipefail

packages=(
  build-essential cmake pkg-config
  protobuf-c-compiler libprotobuf-c-dev libonnx-dev libonnx-testdata
  libcjson-dev zlib1g-dev libjpeg62-turbo-dev libpng-dev
  python3-numpy python3-onnx python3-torch python3-torchvision
  dataset-fashion-mnist darknet
  libdnnl-dev libopenblas-dev libxnnpack-dev
  libjs-chart.js chromium python3-jsonschema
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${LUCID_BUILD_DIR:-$root/build}"
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release ${LUCID_CMAKE_ARGS:-} >/dev/null
cmake --build "$build" -j"$(nproc)"
