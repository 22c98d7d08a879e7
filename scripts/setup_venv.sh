#!/usr/bin/env bash
# Creates ./.venv (or $VENV) and installs requirements.txt and
# requirements-test.txt, then requirements-nodeps.txt without dependencies,
# when any of them changed since the last install. Prints the venv's python path.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${VENV:-$root/.venv}"
python="${PYTHON:-python3}"
if [ ! -x "$venv/bin/python" ]; then
  "$python" -m venv "$venv" >&2
fi
stamp="$venv/.requirements.sha256"
want="$(cat "$root/requirements.txt" "$root/requirements-test.txt" "$root/requirements-nodeps.txt" \
  | sha256sum | cut -d' ' -f1)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "installing requirements into $venv (first run: about 2 minutes, 3.5 GB)" >&2
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$root/requirements.txt" \
    -r "$root/requirements-test.txt" >&2
  "$venv/bin/pip" install --quiet --disable-pip-version-check --no-deps \
    -r "$root/requirements-nodeps.txt" >&2
  echo "$want" > "$stamp"
fi
echo "$venv/bin/python"
