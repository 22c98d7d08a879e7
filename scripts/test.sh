#!/usr/bin/env bash
# Sets up the environment if needed, then runs the default test suite
# (slow tests excluded; run them with: scripts/test.sh -m slow).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
python="$(bash "$root/scripts/setup_venv.sh")"
cd "$root"
exec "$python" -m pytest "$@"
