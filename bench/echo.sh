#!/usr/bin/env bash
# Echo benchmark of the C server: the server pinned to CPU 0, the load
# generator to CPU 1, each case 3 times; prints the median and spread and
# writes bench/results/echo.json. Timings live here, never in tests.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
RUNS=${RUNS:-3}
SECONDS_PER_RUN=${SECONDS_PER_RUN:-5}
mkdir -p bench/results
out=bench/results/echo.json
pin() { if command -v taskset >/dev/null; then taskset -c "$1" "${@:2}"; else "${@:2}"; fi; }

server_pid=
cleanup() { [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null; wait 2>/dev/null || true; }
trap cleanup EXIT

start_server() {
  local log
  log=$(mktemp)
  pin 0 "$BUILD/weft" serve --port 0 --ping-interval 0 --mode echo "$@" >"$log" 2>/dev/null &
  server_pid=$!
  for _ in $(seq 100); do
    grep -q '^listening' "$log" && break
    sleep 0.05
  done
  port=$(sed -n 's#^listening on ws://[^:]*:\([0-9]*\)/.*#\1#p' "$log")
  rm -f "$log"
}

echo "[" >"$out"
first=1
for case in "100 32" "1000 32" "100 1024" "1000 1024"; do
  set -- $case
  conns=$1 size=$2
  rates=()
  for run in $(seq "$RUNS"); do
    start_server
    line=$(pin 1 "$BUILD/bench/echo_load" --port "$port" --conns "$conns" --size "$size" \
      --pipeline 8 --seconds "$SECONDS_PER_RUN")
    kill "$server_pid"; wait "$server_pid" 2>/dev/null || true; server_pid=
    rates+=("$(echo "$line" | sed 's/.*"msgs_per_s":\([0-9]*\).*/\1/')")
  done
  sorted=$(printf '%s\n' "${rates[@]}" | sort -n)
  median=$(echo "$sorted" | sed -n "$(((RUNS + 1) / 2))p")
  min=$(echo "$sorted" | head -1)
  max=$(echo "$sorted" | tail -1)
  printf 'echo %5d conns x %5d B: median %8d msgs/s (min %d, max %d)\n' \
    "$conns" "$size" "$median" "$min" "$max"
  [ $first -eq 1 ] || echo "," >>"$out"
  first=0
  printf '{"server":"weft-c","case":"echo","conns":%d,"size":%d,"median":%d,"min":%d,"max":%d,"runs":%d}' \
    "$conns" "$size" "$median" "$min" "$max" "$RUNS" >>"$out"
done
echo "]" >>"$out"
echo "wrote $out"
