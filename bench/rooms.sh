#!/usr/bin/env bash
# Rooms fan-out beside uWebSockets' topics (issue #23 item 3): the weft
# server bench/ext/rooms_server.c (weft_rooms_join of "room<K>" from the
# URL's ?room=K, each message written to the sender's room with
# weft_rooms_write) and uWebSockets (bench/peers/uws_server.cpp --mode
# rooms: subscribe to "room<K>", App::publish; when bench/peers/uws.sh built
# it), each pinned to CPU 0; the load generator build/bench/bcast_load
# --rooms pinned to CPU 1. N clients (1k and 10k), client i in room i % 100,
# 8 senders (clients 0..7, so 8 different rooms) each keeping INFLIGHT
# messages whose fan-out is incomplete (complete: every member of the
# sender's room, the sender included, got it); 32-byte JSON strings.
# First, for each count of clients, a short run per server with --verify
# (every client got exactly the messages of its room, once each, in order):
# a server that fails it stops the script, its figures would be wrong.
# Then RUNS repetitions, each running every server once in turn
# (alternating); prints the median and spread of deliveries/s and writes
# bench/results/rooms.json (the shape of broadcast.json's entries: "per_run",
# the figure of each repetition, and "command"; with "per_run_cpu", the
# deliveries per server CPU-second of each repetition, which holds still
# when other processes take CPU time from both sides, and
# "per_run_load_cpu", the load generator's CPU: near 1.0 it is the limit).
# Timings live here, never in tests.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
RUNS=${RUNS:-5}
SECONDS_PER_RUN=${SECONDS_PER_RUN:-3}
SENDERS=${SENDERS:-8}
ROOMS=${ROOMS:-100}
INFLIGHT=${INFLIGHT:-4}
CLIENTS=${CLIENTS:-"1000 10000"}
SERVERS=${SERVERS:-"weft-c uws"}
VERIFY_SECONDS=${VERIFY_SECONDS:-1}
out=${OUT:-bench/results/rooms.json}
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

[ -x "$BUILD/bench/rooms_server" ] && [ -x "$BUILD/bench/bcast_load" ] ||
  { echo "rooms: build $BUILD first (cmake --build $BUILD)" >&2; exit 1; }

start_server() { # $1 = weft-c|uws
  : >"$logdir/out"
  : >"$logdir/err"
  case $1 in
    weft-c) "${PIN0[@]}" "$BUILD/bench/rooms_server" --port 0 >"$logdir/out" 2>"$logdir/err" & ;;
    uws) "${PIN0[@]}" "$UWS_SERVER" --port 0 --mode rooms >"$logdir/out" 2>"$logdir/err" & ;;
  esac
  server_pid=$!
  wait_listening rooms "$1"
}

server_cmd() {
  case $1 in
    weft-c) echo "build/bench/rooms_server --port 0" ;;
    uws) echo "build-uws/uws_server --port 0 --mode rooms (bench/peers/uws.sh)" ;;
  esac
}

load_args() { # clients -> the load generator's options but --port and the timing
  echo "--clients $1 --senders $SENDERS --rooms $ROOMS --inflight $INFLIGHT"
}

pick_servers rooms

# Correctness first: each client must get its room's messages and no others.
for clients in $CLIENTS; do
  for server in "${servers[@]}"; do
    start_server "$server"
    # shellcheck disable=SC2046 # load_args is a list of words
    if ! line=$(timeout 120 "${PIN1[@]}" "$BUILD/bench/bcast_load" --port "$port" \
      $(load_args "$clients") --verify --seconds "$VERIFY_SECONDS" --warmup 0.5 2>"$logdir/load"); then
      echo "rooms: $server $clients clients: verification failed: $line" >&2
      cat "$logdir/load" >&2
      exit 1
    fi
    stop_server
    echo "  $server $clients clients: verify $(echo "$line" | sed -n 's/.*"verify":"\([a-z]*\)".*/\1/p')" >&2
  done
done

echo "[" >"$out"
first=1
for clients in $CLIENTS; do
  declare -A rates=() lines=() cpus=() percpu=()
  for run in $(seq "$RUNS"); do
    for server in "${servers[@]}"; do
      start_server "$server"
      # shellcheck disable=SC2046
      line=$(timeout 120 "${PIN1[@]}" "$BUILD/bench/bcast_load" --port "$port" \
        $(load_args "$clients") --seconds "$SECONDS_PER_RUN" --server-pid "$server_pid" \
        2>"$logdir/load") || {
        echo "rooms: $server $clients clients run $run failed:" >&2
        cat "$logdir/load" >&2
        line='{"deliveries_per_s":0,"p50_ms":0,"p99_ms":0,"load_cpu":0}'
      }
      stop_server
      echo "  $server $clients clients run $run: $line" >&2
      rates[$server]+="$(field "$line" deliveries_per_s) "
      cpus[$server]+="$(field "$line" load_cpu) "
      percpu[$server]+="$(awk -v d="$(field "$line" deliveries_per_s)" -v c="$(field "$line" server_cpu)" \
        'BEGIN { printf "%.0f", (c > 0 ? d / c : 0) }') "
      lines[$server]+="$line"$'\n'
    done
  done
  for server in "${servers[@]}"; do
    read -ra per_run <<<"${rates[$server]}"
    read -ra per_cpu <<<"${cpus[$server]}"
    read -ra per_run_cpu <<<"${percpu[$server]}"
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
    printf 'rooms %-6s %5d clients, %d rooms x %d senders: median %8d deliveries/s (min %d, max %d) p50 %s ms p99 %s ms load_cpu %s\n' \
      "$server" "$clients" "$ROOMS" "$SENDERS" "$median" "$min" "$max" "$p50" "$p99" "$cpu"
    [ $first -eq 1 ] || echo "," >>"$out"
    first=0
    printf '{"server":"%s","case":"rooms","clients":%d,"rooms":%d,"senders":%d,"size":32,"inflight":%d,"median":%d,"min":%d,"max":%d,"p50_ms":%s,"p99_ms":%s,"load_cpu":%s,"server_cpu":%s,"runs":%d,"per_run":[%s],"per_run_cpu":[%s],"per_run_load_cpu":[%s],"command":"%s; build/bench/bcast_load --port PORT %s --seconds %s"}' \
      "$server" "$clients" "$ROOMS" "$SENDERS" "$INFLIGHT" "$median" "$min" "$max" "${p50:-null}" "${p99:-null}" \
      "${cpu:-null}" "${scpu:-null}" "$RUNS" "$(IFS=,; echo "${per_run[*]}")" "$(IFS=,; echo "${per_run_cpu[*]}")" \
      "$(IFS=,; echo "${per_cpu[*]}")" \
      "$(server_cmd "$server")" "$(load_args "$clients")" "$SECONDS_PER_RUN" >>"$out"
  done
  unset rates lines cpus percpu
done
echo "]" >>"$out"
echo "wrote $out"
