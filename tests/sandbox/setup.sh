#!/usr/bin/env bash
# Idempotent: create tests/sandbox/.venv and install requirements.txt into it.
# Skips pip when the stamp matches the hash of both requirements files.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venv="$here/.venv"
stamp="$venv/.requirements.sha256"
want="$(cat "$here/requirements.txt" "$here/runtime-requirements.txt" | sha256sum | cut -d' ' -f1)"
if [[ -x "$venv/bin/python" && -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
  exit 0
fi
if [[ ! -x "$venv/bin/python" ]]; then
  "${PYTHON:-python3}" -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip >/dev/null
# The sandbox's own packages, every one pinned with its hashes (as the app's practice cloud installs them).
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --require-hashes -r "$here/runtime-requirements.txt"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$here/requirements.txt"
echo "$want" >"$stamp"
echo "sandbox venv ready: $venv" >&2
