#!/usr/bin/env bash
# Creates bench/.venv-peers with only bench/requirements-peers.txt (PyTorch CPU +
# transformers, no TensorFlow) and prints its python, for
# `bench/pretrain_throughput.py --peer-python` and bench/torch_peers.py.
# Usage: bash bench/setup_peers_venv.sh [python3.11]
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venv="$here/.venv-peers"
base_python="${1:-python3}"
"$base_python" -m venv "$venv"
"$venv/bin/python" -m pip install -q --upgrade pip
# --only-binary: a source build of torch would be hours; the CPU wheel is pinned.
"$venv/bin/python" -m pip install -q --only-binary=torch -r "$here/requirements-peers.txt"
"$venv/bin/python" - <<'PY'
import torch
import transformers
assert torch.version.cuda is None, f"torch {torch.__version__} is a CUDA build; want the CPU wheel"
print(f"torch {torch.__version__} (CPU), transformers {transformers.__version__}")
PY
echo "$venv/bin/python"
