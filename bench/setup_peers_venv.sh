#!/usr/bin/env bash
# Creates the torch peers' venv with only bench/requirements-peers.txt (PyTorch
# CPU + transformers, no TensorFlow) and prints its python, for
# `bench/pretrain_throughput.py --peer-python` and bench/torch_peers.py.
# The venv lives outside the source tree (its ~8,000 .py files would otherwise
# be scanned as the project's by tests/test_architecture.py, pyflakes, isort);
# bench/.venv-peers is a symlink to it (git ignores it; `**` globs do not follow it).
# Usage: bash bench/setup_peers_venv.sh [base-python]   (default python3)
#        ELECTRA_TF_PEERS_VENV=DIR to choose where the venv goes.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venv="${ELECTRA_TF_PEERS_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/electra-tf/venv-peers}"
base_python="${1:-python3}"
if [ -e "$here/.venv-peers" ] && [ ! -L "$here/.venv-peers" ]; then
  echo "bench/.venv-peers is a directory, not the symlink this script makes; remove it and rerun" >&2
  exit 1
fi
mkdir -p "$(dirname "$venv")"
"$base_python" -m venv "$venv"
"$venv/bin/python" -m pip install -q --upgrade pip
# --only-binary: a source build of torch would take hours; the CPU wheel is pinned.
"$venv/bin/python" -m pip install -q --only-binary=torch -r "$here/requirements-peers.txt"
"$venv/bin/python" - <<'PY'
import torch
import transformers
assert torch.version.cuda is None, f"torch {torch.__version__} is a CUDA build; want the CPU wheel"
print(f"torch {torch.__version__} (CPU), transformers {transformers.__version__}")
PY
ln -sfn "$venv" "$here/.venv-peers"
echo "$here/.venv-peers/bin/python"
