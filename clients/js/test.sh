#!/usr/bin/env bash
# clients/js stage of `make test`: checks the committed dist/ is built from
# src/, builds the weft CLI into build-js/core, runs the unit tests
# (node:test), the type check (tsc), the chat server's protocol tests and
# the browser tests (the Vibe module's too) in headless
# Chromium. Screenshots land in build-js/artifacts/. Ends with
# "clients/js: N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")"
ROOT=$(cd ../.. && pwd)
BUILD="$ROOT/build-js/core"
LOG="$ROOT/build-js/test-logs"
mkdir -p "$LOG" "$ROOT/build-js/artifacts"
start=$(date +%s)
passed=0
failed=0
step() { # NAME CMD...
  local name=$1
  shift
  if "$@" >"$LOG/$name.log" 2>&1; then
    echo "  ok   $name"
  else
    echo "  FAIL $name (log: build-js/test-logs/$name.log)"
    tail -40 "$LOG/$name.log" | grep -v -i dbus
    failed=$((failed + 1))
    return 1
  fi
}
# node:test's own counts for a test file
count() { # LOGNAME
  local p f
  p=$(sed -n 's/^ℹ pass \([0-9]*\)$/\1/p' "$LOG/$1.log" | tail -1)
  f=$(sed -n 's/^ℹ fail \([0-9]*\)$/\1/p' "$LOG/$1.log" | tail -1)
  passed=$((passed + ${p:-0}))
  [ "${f:-0}" -gt 0 ] && echo "       ($1: ${f} failed)"
  return 0
}

[ -f node_modules/.stamp ] || bash deps.sh
# The reference Vibe server of the vibe test (tests/vibe's npm package).
[ -d "$ROOT/tests/vibe/node_modules/vibe-protocol" ] ||
  (cd "$ROOT/tests/vibe" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
step dist-up-to-date node build.mjs --check && passed=$((passed + 1))
step build-cli bash -c "cmake -S '$ROOT' -B '$BUILD' >/dev/null && cmake --build '$BUILD' -j2 --target weft_cli" &&
  passed=$((passed + 1))
step types npx --no-install tsc -p test/tsconfig.json && passed=$((passed + 1))
step unit timeout 60 node --test --test-force-exit --test-reporter=spec test/unit.test.mjs
count unit
if [ -x "$BUILD/weft" ]; then
  step chat env WEFT_BIN="$BUILD/weft" timeout 60 node --test --test-force-exit \
    --test-reporter=spec test/chat.test.mjs
  count chat
  step browser env WEFT_BIN="$BUILD/weft" timeout 150 node --test --test-force-exit \
    --test-reporter=spec test/browser.test.mjs
  count browser
  step vibe env WEFT_BIN="$BUILD/weft" timeout 120 node --test --test-force-exit \
    --test-reporter=spec test/vibe.test.mjs
  count vibe
else
  echo "  FAIL browser (no $BUILD/weft)"
  failed=$((failed + 1))
fi
sizes=$(node build.mjs --check 2>/dev/null)
main=$(grep '^dist/weft.min.js' <<<"$sizes")
chans=$(grep '^dist/weft-channels.min.js' <<<"$sizes")
vibes=$(grep '^dist/weft-vibe.min.js' <<<"$sizes")
echo "clients/js: bundle ${main#dist/weft.min.js: } (channels module ${chans#dist/weft-channels.min.js: }; vibe module ${vibes#dist/weft-vibe.min.js: }); $(($(date +%s) - start)) s"
echo "clients/js: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
