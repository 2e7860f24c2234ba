#!/usr/bin/env bash
# Echo benchmark: the weft C server (json, raw, msgpack), its host front
# ends, uWebSockets (bench/peers/uws_server.cpp, when bench/peers/uws.sh has
# built it) and the Node peers (plain ws and Primus 8, bench/peers/*.js),
# each pinned to CPU 0; the load generator build/bench/echo_load pinned to
# CPU 1. Each case ("conns size in-flight", comma-separated CASES) runs RUNS
# repetitions; within a repetition every server runs once, in turn
# (alternating), so a ratio per repetition compares runs made side by side.
# Prints the median and spread and writes bench/results/echo.json
# ({"server":…, "conns", "size", "pipeline", "median", "min", "max",
# "per_run": [msgs/s of repetition 1, 2, …], "per_run_cpu": [msgs per
# server CPU-second, …], "user_ns"/"sys_ns": the server's user and kernel
# time per message (medians), "load_cpu", "command"}).
# Timings live here, never in tests.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
RUNS=${RUNS:-5}
SECONDS_PER_RUN=${SECONDS_PER_RUN:-3}
WARMUP=${WARMUP:-1}
SERVERS=${SERVERS:-"weft-c weft-c-raw weft-c-msgpack weft-node weft-python weft-lua uws ws primus"}
CASES=${CASES:-"100 32 1,100 32 4,100 32 8,1000 32 4,100 1024 4,1000 1024 4"}
NODE=${NODE:-node}
out=${OUT:-bench/results/echo.json}
mkdir -p "$(dirname "$out")"
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
  : >"$log"
  case $1 in
    weft-node | weft-python | weft-lua) start_host "$1" echo "$log" /dev/null ;;
    weft-c) "${PIN0[@]}" "$BUILD/weft" serve --port 0 --ping-interval 0 --mode echo >"$log" 2>/dev/null & ;;
    weft-c-msgpack) "${PIN0[@]}" "$BUILD/weft" serve --port 0 --ping-interval 0 --mode echo \
      --parser msgpack >"$log" 2>/dev/null & ;;
    weft-c-raw) "${PIN0[@]}" "$BUILD/weft" serve --port 0 --ping-interval 0 --mode echo \
      --parser raw >"$log" 2>/dev/null & ;;
    uws) "${PIN0[@]}" "$UWS_SERVER" --port 0 --mode echo >"$log" 2>/dev/null & ;;
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

# The command line of each server, for the report.
server_cmd() {
  case $1 in
    weft-c) echo "build/weft serve --port 0 --ping-interval 0 --mode echo" ;;
    weft-c-raw) echo "build/weft serve --port 0 --ping-interval 0 --mode echo --parser raw" ;;
    weft-c-msgpack) echo "build/weft serve --port 0 --ping-interval 0 --mode echo --parser msgpack" ;;
    uws) echo "build-uws/uws_server --port 0 --mode echo (bench/peers/uws.sh)" ;;
    ws | primus) echo "node bench/peers/${1}_server.js --port 0 --mode echo" ;;
    *) echo "$1 (bench/hosts.sh) --mode echo" ;;
  esac
}

med() { [ $# -gt 0 ] && printf '%s\n' "$@" | sort -n | sed -n "$((($# + 1) / 2))p"; }

pick_servers echo

echo "[" >"$out"
first=1
IFS=, read -ra cases <<<"$CASES"
for case in "${cases[@]}"; do
  set -- $case
  conns=$1 size=$2 pipeline=${3:-8}
  declare -A rates=() cpus=() percpu=() uns=() sns=()
  for run in $(seq "$RUNS"); do
    for server in "${servers[@]}"; do
      extra=()
      [ "$server" = weft-c-msgpack ] && extra=(--msgpack)
      start_server "$server"
      line=$(timeout 60 "${PIN1[@]}" "$BUILD/bench/echo_load" --port "$port" --conns "$conns" \
        --size "$size" --pipeline "$pipeline" --seconds "$SECONDS_PER_RUN" --warmup "$WARMUP" --server-pid "$server_pid" "${extra[@]}") ||
        { echo "echo: $server $conns x $size run $run failed" >&2; line='"msgs_per_s":0,"load_cpu":0'; }
      kill "$server_pid"; wait "$server_pid" 2>/dev/null || true; server_pid=
      rates[$server]+="$(echo "$line" | sed 's/.*"msgs_per_s":\([0-9]*\).*/\1/') "
      cpus[$server]+="$(echo "$line" | sed 's/.*"load_cpu":\([0-9.]*\).*/\1/') "
      percpu[$server]+="$(field "$line" per_server_cpu) "
      uns[$server]+="$(field "$line" user_ns) "
      sns[$server]+="$(field "$line" sys_ns) "
    done
  done
  for server in "${servers[@]}"; do
    read -ra per_run <<<"${rates[$server]}"
    load_cpu=$(printf '%s\n' ${cpus[$server]} | sort -n | tail -1)
    read -ra per_run_cpu <<<"${percpu[$server]}"
    user_ns=$(med ${uns[$server]}) sys_ns=$(med ${sns[$server]})
    sorted=$(printf '%s\n' "${per_run[@]}" | sort -n)
    median=$(echo "$sorted" | sed -n "$(((RUNS + 1) / 2))p")
    min=$(echo "$sorted" | head -1)
    max=$(echo "$sorted" | tail -1)
    printf 'echo [%s] %5d conns x %5d B, %d in flight: median %8d msgs/s (min %d, max %d)\n' \
      "$server" "$conns" "$size" "$pipeline" "$median" "$min" "$max"
    [ $first -eq 1 ] || echo "," >>"$out"
    first=0
    load_cmd="build/bench/echo_load --port PORT --conns $conns --size $size --pipeline $pipeline --seconds $SECONDS_PER_RUN --warmup $WARMUP"
    [ "$server" = weft-c-msgpack ] && load_cmd+=" --msgpack"
    printf '{"server":"%s","case":"echo","conns":%d,"size":%d,"pipeline":%d,"median":%d,"min":%d,"max":%d,"runs":%d,"load_cpu":%s,"per_run":[%s],"per_run_cpu":[%s],"user_ns":%s,"sys_ns":%s,"command":"%s; %s"}' \
      "$server" "$conns" "$size" "$pipeline" "$median" "$min" "$max" "$RUNS" "${load_cpu:-null}" \
      "$(IFS=,; echo "${per_run[*]}")" "$(IFS=,; echo "${per_run_cpu[*]}")" "${user_ns:-null}" "${sys_ns:-null}" \
      "$(server_cmd "$server")" "$load_cmd --server-pid PID" >>"$out"
  done
  unset rates cpus percpu uns sns
done
echo "]" >>"$out"
echo "wrote $out"
