#!/usr/bin/env bash
# One of Vibe's own suites (vibe-protocol 3.0.0-Alpha9 test/server.js or
# test/client.js, unmodified) against a weft testee:
#   run_suite.sh server|client TRANSPORTS TESTEE_COMMAND...
# The suites dial localhost:8000 (server testee) or :9000 (client testee),
# so the testee listens there; the run fails early when something else
# holds the port. The harness loads node20.js (the reference client on
# Node 20) and node20_server.js (the reference server's long-poll guard,
# for the client suite's in-process server). Prints mocha's counts.
set -uo pipefail
cd "$(dirname "$0")"
suite=${1:?usage: run_suite.sh server|client TRANSPORTS TESTEE_COMMAND...}
transports=${2:?transports}
shift 2
port=8000
[ "$suite" = client ] && port=9000
if (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null; then
  echo "vibe: port $port is taken; the $suite suite needs it" >&2
  exit 1
fi
log=$(mktemp)
"$@" >"$log" 2>&1 &
pid=$!
for _ in $(seq 50); do grep -q '^listening' "$log" && break; sleep 0.1; done
if ! grep -q '^listening' "$log"; then
  cat "$log" >&2
  kill "$pid" 2>/dev/null
  exit 1
fi
out=$(mktemp)
timeout 240 node_modules/.bin/mocha --reporter dot --require ./node20.js --require ./node20_server.js \
  "node_modules/vibe-protocol/test/$suite.js" --vibe.transports "$transports" >"$out" 2>&1
rc=$?
kill "$pid" 2>/dev/null
wait "$pid" 2>/dev/null
cat "$out"
echo "vibe $suite suite ($transports): $(grep -Eo '[0-9]+ (passing|failing|pending)' "$out" | paste -sd, -)"
rm -f "$log" "$out"
exit $rc
