#!/bin/sh
# setup_peers.sh - installs the peer engines' Python packages (ONNX Runtime, numpy) for the python3 on PATH, if they are missing; safe to run again.
#
# PyTorch is not installed here: on this machine it comes from Debian (python3-torch,
# python3-torchvision for /usr/bin/python3); the GPU machine's python3 has it already.
# TensorRT's trtexec is found on PATH by bench/peers/trtexec.py when present.
set -eu
PY="${PYTHON:-python3}"
if "$PY" -c "import onnxruntime, numpy" >/dev/null 2>&1; then
    :
else
    "$PY" -m pip install onnxruntime numpy
fi
"$PY" -c "import onnxruntime, numpy; print('onnxruntime', onnxruntime.__version__, 'numpy', numpy.__version__, 'for', __import__('sys').executable)"
