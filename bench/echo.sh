#!/usr/bin/env bash
# Echo benchmark: the weft C server, then the Node peers in the same run
# (plain ws and Primus 8, bench/peers/*.js), each pinned to CPU 0; the load
# generator build/bench/echo_load pinned to CPU 1; each case RUNS times;
# prints the median and spread and writes bench/results/echo.json
# ({"server":"weft-c"|"ws"|"primus", ...}). Timings live here, never in tests.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
RUNS=${RUNS:-3}
SECONDS_PER_RUN=${SECONDS_PER_RUN:-3}
SERVERS=${SERVERS:-"weft-c weft-c-msgpack weft-node weft-python weft-lua ws primus"}
NODE=${NODE:-node}
mkdir -p bench/results
out=bench/results/echo.json
# Not a shell function: `f cmd &` would leave $! the PID of a subshell and
# `kill $server_pid` would miss the server. taskset execs, so $! is the server.
PIN0=() PIN1=()
if command -v taskset >/dev/null; then PIN0=(taskset -c 0) PIN1=(taskset -c 1); fi
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

server_pid=
log=$(mktemp)
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null
  wait 2>/dev/null || true
  rm -f "$log"
}
trap cleanup EXIT
# shellcheck source=hosts.sh
. bench/hosts.sh

start_server() { # $1 = weft-c|ws|primus or a host (hosts.sh)
  case $1 in
    weft-node | weft-python | weft-lua) start_host "$1" echo "$log" /dev/null ;;
    weft-c) "${PIN0[@]}" "$BUILD/weft" serve --port 0 --ping-interval 0 --mode echo >"$log" 2>/dev/null & ;;
    weft-c-msgpack) "${PIN0[@]}" "$BUILD/weft" serve --port 0 --ping-interval 0 --mode echo \
      --parser msgpack >"$log" 2>/dev/null & ;;
    ws) "${PIN0[@]}" "$NODE" bench/peers/ws_server.js --port 0 --mode echo >"$log" 2>/dev/null & ;;
    primus) "${PIN0[@]}" "$NODE" bench/peers/primus_server.js --port 0 --mode echo >"$log" 2>/dev/null & ;;
  esac
  server_pid=$!
  for _ in $(seq 200); do
    grep -q '^listening' "$log" && break
    sleep 0.05
  done
  port=$(sed -n 's#^listening on ws://[^:]*:\([0-9]*\)/.*#\1#p' "$log")
  [ -n "$port" ] || { echo "echo: $1 did not start" >&2; exit 1; }
}

echo "[" >"$out"
first=1
for server in $SERVERS; do
  host_available "$server" || { echo "echo: $server is not built here (make test builds it): skipped" >&2; continue; }
  for case in "100 32" "1000 32" "100 1024" "1000 1024"; do
    set -- $case
    conns=$1 size=$2
    rates=() cpus=()
    extra=()
    [ "$server" = weft-c-msgpack ] && extra=(--msgpack)
    for run in $(seq "$RUNS"); do
      start_server "$server"
      line=$(timeout 60 "${PIN1[@]}" "$BUILD/bench/echo_load" --port "$port" --conns "$conns" \
        --size "$size" --pipeline 8 --seconds "$SECONDS_PER_RUN" "${extra[@]}") ||
        { echo "echo: $server $conns x $size run $run failed" >&2; line='"msgs_per_s":0,"load_cpu":0'; }
      kill "$server_pid"; wait "$server_pid" 2>/dev/null || true; server_pid=
      rates+=("$(echo "$line" | sed 's/.*"msgs_per_s":\([0-9]*\).*/\1/')")
      cpus+=("$(echo "$line" | sed 's/.*"load_cpu":\([0-9.]*\).*/\1/')")
    done
    load_cpu=$(printf '%s\n' "${cpus[@]}" | sort -n | tail -1)
    sorted=$(printf '%s\n' "${rates[@]}" | sort -n)
    median=$(echo "$sorted" | sed -n "$(((RUNS + 1) / 2))p")
    min=$(echo "$sorted" | head -1)
    max=$(echo "$sorted" | tail -1)
    if [ "$server" = weft-c ]; then
      printf 'echo %5d conns x %5d B: median %8d msgs/s (min %d, max %d)\n' \
        "$conns" "$size" "$median" "$min" "$max"
    else
      printf 'echo [%s] %5d conns x %5d B: median %8d msgs/s (min %d, max %d)\n' \
        "$server" "$conns" "$size" "$median" "$min" "$max"
    fi
    [ $first -eq 1 ] || echo "," >>"$out"
    first=0
    printf '{"server":"%s","case":"echo","conns":%d,"size":%d,"median":%d,"min":%d,"max":%d,"runs":%d,"load_cpu":%s}' \
      "$server" "$conns" "$size" "$median" "$min" "$max" "$RUNS" "${load_cpu:-null}" >>"$out"
  done
done
echo "]" >>"$out"
echo "wrote $out"
