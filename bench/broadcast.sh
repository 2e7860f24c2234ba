#!/usr/bin/env bash
# Broadcast fan-out benchmark: the weft C server, its host front ends,
# uWebSockets (bench/peers/uws_server.cpp --mode broadcast: App::publish to
# one topic every socket joined; when bench/peers/uws.sh built it), Node ws
# and Primus (bench/peers/*.js), each in broadcast mode pinned to CPU 0; the
# load generator build/bench/bcast_load pinned to CPU 1. 32-byte JSON
# strings, 8 senders each keeping INFLIGHT messages whose fan-out is
# incomplete, to 1k and 10k receivers; RUNS repetitions, each running every
# server once in turn (alternating); prints the median and spread of
# deliveries/s and writes bench/results/broadcast.json (with "per_run", the
# figure of each repetition, and "command").
# Timings live here, never in tests.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
RUNS=${RUNS:-5}
SECONDS_PER_RUN=${SECONDS_PER_RUN:-3}
SENDERS=${SENDERS:-"1 8"}  # one case per count of senders
INFLIGHT=${INFLIGHT:-4}
CLIENTS=${CLIENTS:-"1000 10000"}
SERVERS=${SERVERS:-"weft-c weft-node weft-python weft-lua uws ws primus"}
NODE=${NODE:-node}
out=${OUT:-bench/results/broadcast.json}
mkdir -p "$(dirname "$out")"
# Not a shell function: `f cmd &` would leave $! the PID of a subshell and
# `kill $server_pid` would miss the server. taskset execs, so $! is the server.
PIN0=() PIN1=()
if command -v taskset >/dev/null; then PIN0=(taskset -c 0) PIN1=(taskset -c 1); fi
# 10k clients need 10k descriptors on both sides: take the hard limit.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

server_pid=
logdir=$(mktemp -d)
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null
  wait 2>/dev/null || true
  rm -rf "$logdir"
}
trap cleanup EXIT
# shellcheck source=hosts.sh
. bench/hosts.sh

start_server() { # $1 = weft-c|ws|primus or a host (hosts.sh)
  : >"$logdir/out"
  : >"$logdir/err"
  case $1 in
    weft-node | weft-python | weft-lua) start_host "$1" broadcast "$logdir/out" "$logdir/err" ;;
    weft-c) "${PIN0[@]}" "$BUILD/weft" serve --port 0 --ping-interval 0 --mode broadcast \
      >"$logdir/out" 2>"$logdir/err" & ;;
    uws) "${PIN0[@]}" "$UWS_SERVER" --port 0 --mode broadcast >"$logdir/out" 2>"$logdir/err" & ;;
    ws) "${PIN0[@]}" "$NODE" bench/peers/ws_server.js --port 0 --mode broadcast \
      >"$logdir/out" 2>"$logdir/err" & ;;
    primus) "${PIN0[@]}" "$NODE" bench/peers/primus_server.js --port 0 --mode broadcast \
      >"$logdir/out" 2>"$logdir/err" & ;;
  esac
  server_pid=$!
  wait_listening broadcast "$1"
}

server_cmd() {
  case $1 in
    weft-c) echo "build/weft serve --port 0 --ping-interval 0 --mode broadcast" ;;
    uws) echo "build-uws/uws_server --port 0 --mode broadcast (bench/peers/uws.sh)" ;;
    ws | primus) echo "node bench/peers/${1}_server.js --port 0 --mode broadcast" ;;
    *) echo "$1 (bench/hosts.sh) --mode broadcast" ;;
  esac
}

pick_servers broadcast

echo "[" >"$out"
first=1
for clients in $CLIENTS; do
for senders in $SENDERS; do
  declare -A rates=() lines=()
  for run in $(seq "$RUNS"); do
    for server in "${servers[@]}"; do
      start_server "$server"
      line=$(timeout 120 "${PIN1[@]}" "$BUILD/bench/bcast_load" --port "$port" \
        --clients "$clients" --senders "$senders" --inflight "$INFLIGHT" \
        --seconds "$SECONDS_PER_RUN" --server-pid "$server_pid" 2>"$logdir/load") || {
        echo "broadcast: $server $clients clients $senders senders run $run failed:" >&2
        cat "$logdir/load" >&2
        line='{"deliveries_per_s":0,"p50_ms":0,"p99_ms":0,"load_cpu":0}'
      }
      stop_server
      echo "  $server $clients x $senders run $run: $line" >&2
      rates[$server]+="$(field "$line" deliveries_per_s) "
      lines[$server]+="$line"$'\n'
    done
  done
  for server in "${servers[@]}"; do
    read -ra per_run <<<"${rates[$server]}"
    sorted=$(printf '%s\n' "${per_run[@]}" | sort -n)
    median=$(echo "$sorted" | sed -n "$(((RUNS + 1) / 2))p")
    min=$(echo "$sorted" | head -1)
    max=$(echo "$sorted" | tail -1)
    # latency and load CPU of the median run
    mline=$(echo "${lines[$server]}" | while read -r l; do
      [ "$(field "$l" deliveries_per_s)" = "$median" ] && { echo "$l"; break; }
    done)
    p50=$(field "$mline" p50_ms) p99=$(field "$mline" p99_ms) cpu=$(field "$mline" load_cpu)
    scpu=$(field "$mline" server_cpu)
    printf 'broadcast %-7s %5d clients x %d senders: median %8d deliveries/s (min %d, max %d) p50 %s ms p99 %s ms load_cpu %s\n' \
      "$server" "$clients" "$senders" "$median" "$min" "$max" "$p50" "$p99" "$cpu"
    [ $first -eq 1 ] || echo "," >>"$out"
    first=0
    printf '{"server":"%s","case":"broadcast","clients":%d,"senders":%d,"size":32,"inflight":%d,"median":%d,"min":%d,"max":%d,"p50_ms":%s,"p99_ms":%s,"load_cpu":%s,"server_cpu":%s,"runs":%d,"per_run":[%s],"command":"%s; build/bench/bcast_load --port PORT --clients %d --senders %d --inflight %d --seconds %s"}' \
      "$server" "$clients" "$senders" "$INFLIGHT" "$median" "$min" "$max" "${p50:-null}" "${p99:-null}" "${cpu:-null}" \
      "${scpu:-null}" "$RUNS" "$(IFS=,; echo "${per_run[*]}")" "$(server_cmd "$server")" \
      "$clients" "$senders" "$INFLIGHT" "$SECONDS_PER_RUN" >>"$out"
  done
  unset rates lines
done
done
echo "]" >>"$out"
echo "wrote $out"
