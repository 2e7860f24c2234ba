#!/usr/bin/env bash
# Vibe's own server suite (vibe-protocol 3.0.0-Alpha9 test/server.js,
# unmodified) against weft's server testee, every transport. The suite
# dials localhost:8000, so the testee listens there; the stage fails early
# when something else holds the port. Prints mocha's counts.
set -uo pipefail
cd "$(dirname "$0")"
TESTEE=${1:?usage: run_server_suite.sh PATH_TO_vibe_server_testee}
if (exec 3<>/dev/tcp/127.0.0.1/8000) 2>/dev/null; then
  echo "vibe: port 8000 is taken; the suite needs it" >&2
  exit 1
fi
log=$(mktemp)
"$TESTEE" >"$log" 2>&1 &
pid=$!
for _ in $(seq 50); do grep -q '^listening' "$log" && break; sleep 0.1; done
if ! grep -q '^listening' "$log"; then
  cat "$log" >&2
  kill "$pid" 2>/dev/null
  exit 1
fi
out=$(mktemp)
timeout 240 node_modules/.bin/mocha --reporter dot --require ./node20.js \
  node_modules/vibe-protocol/test/server.js --vibe.transports ws,httpstream,httplongpoll >"$out" 2>&1
rc=$?
kill "$pid" 2>/dev/null
wait "$pid" 2>/dev/null
cat "$out"
echo "vibe server suite (ws,httpstream,httplongpoll): $(grep -Eo '[0-9]+ (passing|failing|pending)' "$out" | paste -sd, -)"
rm -f "$log" "$out"
exit $rc
