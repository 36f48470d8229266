#!/usr/bin/env bash
# setup_peers.sh - makes the peer engines' Python environment, $root/.venv-peers (or
# $LUCID_PEERS_VENV): a virtual environment of Debian's /usr/bin/python3 that also sees the
# system's packages (python3-numpy, python3-onnx, python3-torch, python3-torchvision from apt),
# with ONNX Runtime and OpenVINO from PyPI. Idempotent: when the environment already imports
# everything, it only verifies and prints the versions. Prints the interpreter's path last.
#
# `lucid characterize`, tests/test_peers.py and scripts/main.sh use this interpreter for every
# Python peer (ONNX Runtime, OpenVINO, PyTorch) when it exists (docs/characterize.md, "Peer
# engines"). TensorRT's trtexec is found on PATH by bench/peers/trtexec.py when present.
#
# Debian's numpy is pinned while pip installs: Debian's torch is built against it, and a newer
# numpy from PyPI in the environment would shadow it and break `import torch`. pip then picks
# the newest ONNX Runtime and OpenVINO releases that accept that numpy.
#
# A package that cannot be installed (no wheel for this platform, no network) is a warning,
# not a failure: the study reports that peer as not installed, with the reason.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${LUCID_PEERS_VENV:-$root/.venv-peers}"
base=/usr/bin/python3
py="$venv/bin/python3"

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
apt_install() {
  echo "setup_peers: installing $*"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "$@"
}

# the fast path: the environment exists and imports every engine
if [ -x "$py" ] && "$py" -c "import numpy, onnxruntime, openvino" >/dev/null 2>&1; then
  :
else
  # the base interpreter and the packages the environment inherits from it
  need=()
  [ -x "$base" ] || need+=(python3)
  "$base" -c "import venv, ensurepip" >/dev/null 2>&1 || need+=(python3-venv)
  for m in numpy:python3-numpy onnx:python3-onnx; do
    "$base" -c "import ${m%%:*}" >/dev/null 2>&1 || need+=("${m#*:}")
  done
  [ ${#need[@]} -eq 0 ] || apt_install "${need[@]}"
  if [ ! -x "$py" ]; then
    echo "setup_peers: creating $venv from $base (with the system's site packages)"
    "$base" -m venv --system-site-packages "$venv"
  fi
  constraints="$(mktemp)"
  trap 'rm -f "$constraints"' EXIT
  "$base" -c "import numpy; print('numpy==' + numpy.__version__)" >"$constraints"
  for pkg in onnxruntime openvino; do
    if ! "$py" -c "import $pkg" >/dev/null 2>&1; then
      "$py" -m pip install --disable-pip-version-check -q -c "$constraints" "$pkg" ||
        echo "setup_peers: warning: pip could not install $pkg; the study reports it as not installed" >&2
    fi
  done
fi

# verify and say what is there; an engine that does not import is named with the reason
"$py" - <<'EOF'
import importlib, sys
for name in ("numpy", "onnxruntime", "openvino", "torch", "onnx"):
    try:
        m = importlib.import_module(name)
        v = getattr(m, "__version__", None) or getattr(getattr(m, "runtime", None), "get_version", lambda: "?")()
        print("setup_peers: %-12s %s" % (name, v))
    except Exception as exc:
        print("setup_peers: %-12s not importable: %s" % (name, exc))
print("setup_peers: interpreter  %s" % sys.executable)
EOF
