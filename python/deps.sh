#!/usr/bin/env bash
# Creates build-python/venv and installs python/requirements-dev.txt into it.
# Idempotent: a second run with nothing changed only compares a stamp.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=build-python/venv
PY=${PYTHON:-python3}
if [ ! -x "$VENV/bin/python" ]; then
  mkdir -p build-python
  "$PY" -m venv "$VENV"
  "$VENV/bin/python" -m pip install -q --upgrade pip
fi
stamp="$VENV/.requirements.sha"
want=$(sha256sum python/requirements-dev.txt | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  "$VENV/bin/python" -m pip install -q -r python/requirements-dev.txt
  echo "$want" >"$stamp"
fi
