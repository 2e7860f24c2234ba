#!/usr/bin/env bash
# Node-host benchmarks next to ws and Primus, in the same harness as bench/:
# echo (echo_load: 100 connections x 32 B, 8 in flight) and broadcast
# (bcast_load: 1000 clients, 8 senders). Servers pinned to CPU 0, load to CPU 1.
#   BUILD=build bash node/bench/run.sh      # BUILD holds bench/echo_load, bench/bcast_load
# Prints one JSON line per (server, case). Timings live here, never in tests.
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
SECONDS_PER_RUN=${SECONDS_PER_RUN:-3}
NODE=${NODE:-node}
PIN0=() PIN1=()
if command -v taskset >/dev/null; then PIN0=(taskset -c 0) PIN1=(taskset -c 1); fi
[ -f node/build/Release/weft.node ] || (cd node && npm install --no-audit --no-fund --loglevel=error >/dev/null)
log=$(mktemp)
server_pid=
cleanup() { [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null; wait 2>/dev/null || true; rm -f "$log"; }
trap cleanup EXIT

start() { # name mode
  case $1 in
    weft-node) "${PIN0[@]}" "$NODE" node/bench/weft_server.js --port 0 --mode "$2" >"$log" 2>/dev/null & ;;
    ws) "${PIN0[@]}" "$NODE" bench/peers/ws_server.js --port 0 --mode "$2" >"$log" 2>/dev/null & ;;
    primus) "${PIN0[@]}" "$NODE" bench/peers/primus_server.js --port 0 --mode "$2" >"$log" 2>/dev/null & ;;
  esac
  server_pid=$!
  for _ in $(seq 200); do grep -q '^listening' "$log" && break; sleep 0.05; done
  port=$(sed -n 's#^listening on ws://[^:]*:\([0-9]*\)/.*#\1#p' "$log")
  [ -n "$port" ] || { echo "node bench: $1 did not start" >&2; exit 1; }
}
stop() { kill "$server_pid" 2>/dev/null; wait "$server_pid" 2>/dev/null || true; server_pid=; }

for server in ${SERVERS:-weft-node ws primus}; do
  start "$server" echo
  line=$(timeout 60 "${PIN1[@]}" "$BUILD/bench/echo_load" --port "$port" --conns 100 --size 32 \
    --pipeline 8 --seconds "$SECONDS_PER_RUN")
  echo "{\"server\":\"$server\",\"bench\":\"echo\",${line#\{}"
  stop
  start "$server" broadcast
  line=$(timeout 90 "${PIN1[@]}" "$BUILD/bench/bcast_load" --port "$port" --clients 1000 \
    --seconds "$SECONDS_PER_RUN" 2>/dev/null)
  echo "{\"server\":\"$server\",\"bench\":\"broadcast\",${line#\{}"
  stop
done
