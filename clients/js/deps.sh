#!/usr/bin/env bash
# npm packages of clients/js (esbuild, playwright-core, typescript: dev only),
# installed from package-lock.json when missing or when the lock changed.
set -euo pipefail
cd "$(dirname "$0")"
if [ ! -f node_modules/.stamp ] || [ package-lock.json -nt node_modules/.stamp ]; then
  echo "deps: npm ci in clients/js"
  npm ci --no-audit --no-fund --loglevel=error >/dev/null
  touch node_modules/.stamp
fi
