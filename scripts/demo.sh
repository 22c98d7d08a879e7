#!/usr/bin/env bash
# Sets up the environment if needed, then runs the end-to-end demo on the data
# the project ships: corpus -> TFRecords -> pre-train the tiny model -> eval ->
# fine-tune it on the shipped sentiment set (GLUE SST-2 format).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
python="$(bash "$root/scripts/setup_venv.sh")"
cd "$root"
exec "$python" demo.py "$@"
