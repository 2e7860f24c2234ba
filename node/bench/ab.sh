#!/usr/bin/env bash
# A/B of the Node host's call overhead per echo: two checkouts' node/
# folders (each with its addon built), their bench/weft_server.js --mode
# echo started in alternating runs (A, B, A, B, …) so both see the same
# machine state; server pinned to CPU 0, the load (build/bench/echo_load,
# 8 in flight per connection) to CPU 1. Per run: msgs/s, and the server's
# CPU time per echo (utime+stime from /proc over the load's seconds,
# divided by the echoes), which is the binding's cost plus the core's.
#
#   node/bench/ab.sh NODE_DIR_A NODE_DIR_B    e.g. node/bench/ab.sh /tmp/main/node node
#
# RUNS (4) per side, SECONDS_PER_RUN (3), CASES ("100x32 100x1024").
# Prints every run, the medians and B/A. Timings live here, never in tests.
set -uo pipefail
cd "$(dirname "$0")/../.."
A=${1:?usage: node/bench/ab.sh NODE_DIR_A NODE_DIR_B}
B=${2:?usage: node/bench/ab.sh NODE_DIR_A NODE_DIR_B}
BUILD=${BUILD:-build}
RUNS=${RUNS:-4}
SECONDS_PER_RUN=${SECONDS_PER_RUN:-3}
CASES=${CASES:-"100x32 100x1024"}
NODE=${NODE:-node}
LOAD=$BUILD/bench/echo_load
for f in "$A/build/Release/weft.node" "$B/build/Release/weft.node" "$LOAD"; do
  [ -e "$f" ] || { echo "ab: $f is missing (build first)" >&2; exit 1; }
done
PIN0=() PIN1=()
if command -v taskset >/dev/null; then PIN0=(taskset -c 0) PIN1=(taskset -c 1); fi
TICK=$(getconf CLK_TCK)
log=$(mktemp)
server_pid=
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null
  wait 2>/dev/null || true
  rm -f "$log" "$log.run" "$log.err"
}
trap cleanup EXIT

cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

one_run() { # dir conns size -> "msgs_per_s ns_per_echo"
  "${PIN0[@]}" "$NODE" "$1/bench/weft_server.js" --port 0 --mode echo >"$log" 2>/dev/null &
  server_pid=$!
  for _ in $(seq 200); do
    grep -q '^listening' "$log" && break
    sleep 0.05
  done
  local port
  port=$(sed -n 's#^listening on ws://[^:]*:\([0-9]*\)/.*#\1#p' "$log")
  [ -n "$port" ] || { echo "ab: $1 did not start" >&2; exit 1; }
  local t0 t1 line rate
  t0=$(cpu_ticks "$server_pid")
  line=$(timeout 60 "${PIN1[@]}" "$LOAD" --port "$port" --conns "$2" --size "$3" --pipeline 8 \
    --seconds "$SECONDS_PER_RUN" 2>>"$log.err") || line="\"msgs_per_s\":0"
  t1=$(cpu_ticks "$server_pid")
  kill "$server_pid"
  wait "$server_pid" 2>/dev/null || true
  server_pid=
  rate=$(echo "$line" | sed 's/.*"msgs_per_s":\([0-9]*\).*/\1/')
  awk -v r="$rate" -v d="$((t1 - t0))" -v hz="$TICK" -v s="$SECONDS_PER_RUN" \
    'BEGIN { printf "%d %.0f\n", r, (r > 0 ? d / hz * 1e9 / (r * s) : 0) }'
}

median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

for case in $CASES; do
  conns=${case%x*} size=${case#*x}
  ra=() rb=() na=() nb=()
  for run in $(seq "$RUNS"); do
    one_run "$A" "$conns" "$size" >"$log.run"
    read -r r n <"$log.run"
    ra+=("$r") na+=("$n")
    one_run "$B" "$conns" "$size" >"$log.run"
    read -r r n <"$log.run"
    rb+=("$r") nb+=("$n")
    printf '%s run %d: A %8d msgs/s %6d ns/echo   B %8d msgs/s %6d ns/echo\n' \
      "$case" "$run" "${ra[-1]}" "${na[-1]}" "${rb[-1]}" "${nb[-1]}"
  done
  mra=$(printf '%s\n' "${ra[@]}" | median) mrb=$(printf '%s\n' "${rb[@]}" | median)
  mna=$(printf '%s\n' "${na[@]}" | median) mnb=$(printf '%s\n' "${nb[@]}" | median)
  awk -v c="$case" -v a="$mra" -v b="$mrb" -v x="$mna" -v y="$mnb" 'BEGIN {
    printf "%s median: A %d msgs/s %d ns/echo, B %d msgs/s %d ns/echo; B/A rate %.3f, ns %.3f\n",
      c, a, x, b, y, b / a, y / x }'
done
