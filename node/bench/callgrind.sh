#!/usr/bin/env bash
# Instructions per echo of the Node host, A/B, under callgrind (steadier than
# wall-clock time on a shared machine): each side's bench/weft_server.js
# --mode echo runs under valgrind --tool=callgrind (pinned to CPU 0) while
# build/bench/echo_load (CPU 1; 10 connections x 32 B, 8 in flight, no
# warm-up) loads it for SECONDS; the process's total Ir is fitted against
# the echoes of RUNS runs of different lengths (the load is time-based and
# callgrind's speed varies), and the slope is the cost of one echo in steady
# state: the binding, the core and V8 (startup and JIT warm-up fall into the
# intercept).
#
#   node/bench/callgrind.sh NODE_DIR_A NODE_DIR_B
#
# RUNS (3) per side, alternating; SECONDS ("4 8 16", one per run). Prints
# every run and the fitted Ir/echo with B/A.
set -uo pipefail
cd "$(dirname "$0")/../.."
A=${1:?usage: node/bench/callgrind.sh NODE_DIR_A NODE_DIR_B}
B=${2:?usage: node/bench/callgrind.sh NODE_DIR_A NODE_DIR_B}
SECONDS_LIST=${SECONDS_LIST:-"4 8 16"}
LOAD=${BUILD:-build}/bench/echo_load
command -v valgrind >/dev/null || { echo "callgrind: valgrind is missing" >&2; exit 1; }
PIN0=() PIN1=()
if command -v taskset >/dev/null; then PIN0=(taskset -c 0) PIN1=(taskset -c 1); fi
tmp=$(mktemp -d)
server_pid=
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null
  wait 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT

one_run() { # dir seconds -> "ir echoes"
  "${PIN0[@]}" valgrind --tool=callgrind --callgrind-out-file="$tmp/cg.out" \
    node "$1/bench/weft_server.js" --port 0 --mode echo >"$tmp/log" 2>/dev/null &
  server_pid=$!
  for _ in $(seq 600); do
    grep -q '^listening' "$tmp/log" && break
    sleep 0.1
  done
  local port line
  port=$(sed -n 's#^listening on ws://[^:]*:\([0-9]*\)/.*#\1#p' "$tmp/log")
  [ -n "$port" ] || { echo "callgrind: $1 did not start" >&2; exit 1; }
  line=$(timeout 120 "${PIN1[@]}" "$LOAD" --port "$port" --conns 10 --size 32 --pipeline 8 \
    --seconds "$2" --warmup 0)
  kill -TERM "$server_pid"
  wait "$server_pid" 2>/dev/null || true
  server_pid=
  echo "$line" | awk -v ir="$(awk '/^(summary|totals):/ { print $2; exit }' "$tmp/cg.out")" '{
    match($0, /"msgs_per_s":[0-9]+/); r = substr($0, RSTART + 13, RLENGTH - 13)
    match($0, /"seconds":[0-9.]+/); s = substr($0, RSTART + 10, RLENGTH - 10)
    printf "%s %d\n", ir, r * s }'
}

for secs in $SECONDS_LIST; do
  for side in A B; do
    dir=$A
    [ "$side" = B ] && dir=$B
    read -r ir n < <(one_run "$dir" "$secs")
    printf '%s %s %s\n' "$side" "$ir" "$n" | tee -a "$tmp/runs"
  done
done
awk '{ n[$1]++; x[$1] += $3; y[$1] += $2; xx[$1] += $3 * $3; xy[$1] += $2 * $3 }
  END {
    for (s in n) k[s] = (n[s] * xy[s] - x[s] * y[s]) / (n[s] * xx[s] - x[s] * x[s])
    printf "Ir per echo (fitted): A %.0f, B %.0f; B/A %.3f\n", k["A"], k["B"], k["B"] / k["A"] }' "$tmp/runs"
