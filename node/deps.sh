#!/usr/bin/env bash
# npm packages of the Node front end (primus and ws for the tests), and the
# addon build. Idempotent: does nothing when node_modules is newer than
# package.json and the addon is built.
set -euo pipefail
cd "$(dirname "$0")"
if [ ! -f node_modules/.stamp ] || [ package.json -nt node_modules/.stamp ] ||
   [ ! -f build/Release/weft.node ]; then
  echo "deps: npm install in node/"
  npm install --no-audit --no-fund --loglevel=error >/dev/null
  touch node_modules/.stamp
fi
