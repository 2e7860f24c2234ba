#!/usr/bin/env bash
# The Node stage of `make test`: builds the addon from the project's C sources
# (npm install runs node-gyp offline against Node's headers), then runs the
# node:test suite. Exits non-zero on any failure.
set -uo pipefail
cd "$(dirname "$0")"
t0=$SECONDS
if [ ! -d node_modules/primus ] || [ ! -d node_modules/ws ] || [ package.json -nt node_modules/.stamp ]; then
  npm install --no-audit --no-fund --loglevel=error || { echo "node: npm install failed"; exit 1; }
  touch node_modules/.stamp
elif [ ! -f build/Release/weft.node ] ||
     [ -n "$(find ../core ../include src binding.gyp -newer build/Release/weft.node -print -quit)" ]; then
  # Dependencies are there: rebuild the addon when its C sources changed.
  npm run --silent build >build.log 2>&1 || { cat build.log; echo "node: addon build failed"; exit 1; }
fi
out=$(mktemp)
timeout 180 npm test --silent 2>&1 | tee "$out"
rc=${PIPESTATUS[0]}
pass=$(grep -E '^# pass' "$out" | awk '{print $3}')
fail=$(grep -E '^# fail' "$out" | awk '{print $3}')
rm -f "$out"
echo "node: ${pass:-0} passed, ${fail:-?} failed, $((SECONDS - t0)) s"
exit "$rc"
