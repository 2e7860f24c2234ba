#!/usr/bin/env bash
# Extensions benchmark (issue #9): emit+ack round trips/s (100 clients, 16
# emits in flight each, 32-byte argument echoed back) and room fan-out
# (10k clients in 100 rooms; WRITES room writes of 32 bytes, each to one
# room of 100). Server (build/bench/ext_bench server) pinned to CPU 0, load
# (ext_bench ack|rooms, weft clients with emitters) to CPU 1; RUNS times
# each; writes bench/results/ext.json with medians and spread.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
RUNS=${RUNS:-3}
SECONDS_PER_RUN=${SECONDS_PER_RUN:-3}
ROOM_CLIENTS=${ROOM_CLIENTS:-10000}
WRITES=${WRITES:-20000}
mkdir -p bench/results
out=bench/results/ext.json
PIN0=() PIN1=()
if command -v taskset >/dev/null; then PIN0=(taskset -c 0) PIN1=(taskset -c 1); fi
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

server_pid=
logdir=$(mktemp -d)
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null
  wait 2>/dev/null || true
  rm -rf "$logdir"
}
trap cleanup EXIT

start_server() {
  "${PIN0[@]}" "$BUILD/bench/ext_bench" server --port 0 --rooms 100 >"$logdir/out" 2>"$logdir/err" &
  server_pid=$! # taskset execs: this is the server
  port=
  for _ in $(seq 200); do
    port=$(sed -n 's/^listening \([0-9]*\)$/\1/p' "$logdir/out")
    [ -n "$port" ] && break
    sleep 0.05
  done
  [ -n "$port" ] || { echo "ext: server did not start" >&2; cat "$logdir/err" >&2; exit 1; }
}

stop_server() {
  kill "$server_pid" 2>/dev/null || true
  wait "$server_pid" 2>/dev/null || true
  server_pid=
}

field() { echo "$1" | sed -n "s/.*\"$2\":\([0-9.]*\).*/\1/p"; }

# median and spread (min-max) of the numbers on stdin
stats() { sort -n | awk '{a[NR]=$1} END {printf "%d %d %d\n", a[int((NR+1)/2)], a[1], a[NR]}'; }

run_case() { # name key cmd...
  local name=$1 key=$2
  shift 2
  local rates=() run line
  for run in $(seq "$RUNS"); do
    start_server
    line=$(timeout 120 "${PIN1[@]}" "$@" --url "ws://127.0.0.1:$port/primus" 2>"$logdir/load") ||
      { echo "ext: $name run $run failed" >&2; cat "$logdir/load" >&2; stop_server; continue; }
    stop_server
    rates+=("$(field "$line" "$key")")
    echo "  $name run $run: $line" >&2
  done
  read -r med lo hi < <(printf '%s\n' "${rates[@]}" | stats)
  echo "$name: median $med (spread $lo-$hi)" >&2
  printf '  {"case":"%s","metric":"%s","median":%s,"min":%s,"max":%s,"runs":%d}' \
    "$name" "$key" "$med" "$lo" "$hi" "${#rates[@]}"
}

{
  echo "["
  run_case "emit+ack, 100 clients x 16 in flight" acks_per_s \
    "$BUILD/bench/ext_bench" ack --conns 100 --inflight 16 --seconds "$SECONDS_PER_RUN"
  echo ","
  run_case "room fan-out, $ROOM_CLIENTS clients in 100 rooms" deliveries_per_s \
    "$BUILD/bench/ext_bench" rooms --conns "$ROOM_CLIENTS" --rooms 100 --writes "$WRITES"
  echo
  echo "]"
} >"$out"
echo "wrote $out"
