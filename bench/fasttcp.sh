#!/usr/bin/env bash
# fast-tcp echo with acks: `weft serve --mode echo` on tcp:// and ipc://,
# npm fast-tcp 3.3.2's server (bench/peers/fasttcp_server.js) in the same
# run; then weft on ws:// under the same load shape, and stream throughput
# (MB/s, bench/ft_stream.js) against weft and npm fast-tcp. The server
# pinned to CPU 0, build/bench/ft_load pinned to CPU 1; each case RUNS
# repetitions, each running weft then fast-tcp (alternating); prints the
# median per case and writes bench/results/fasttcp.json (OUT), with the
# figure of each repetition ("per_run") and the commands.
# Timings live here, never in tests.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
RUNS=${RUNS:-3}
SECONDS_PER_RUN=${SECONDS_PER_RUN:-3}
CONNS=${CONNS:-100}
INFLIGHT=${INFLIGHT:-8}
PIN0=() PIN1=()
if command -v taskset >/dev/null; then PIN0=(taskset -c 0) PIN1=(taskset -c 1); fi
out=${OUT:-bench/results/fasttcp.json}
mkdir -p "$(dirname "$out")"
dir=$(mktemp -d)
server_pid=
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null
  wait 2>/dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT

start() { # $1 = weft|fast-tcp, $2 = tcp|ipc, $3 = echo|broadcast
  local listen="tcp://127.0.0.1:0"
  [ "$2" = ipc ] && listen="ipc://$dir/s.sock"
  rm -f "$dir/s.sock" "$dir/log"
  if [ "$1" = weft ]; then
    "${PIN0[@]}" "$BUILD/weft" serve --listen "$listen" --mode "$3" >"$dir/log" 2>/dev/null &
  elif [ "$2" = ipc ]; then
    "${PIN0[@]}" node bench/peers/fasttcp_server.js --ipc "$dir/s.sock" --mode "$3" >"$dir/log" 2>/dev/null &
  else
    "${PIN0[@]}" node bench/peers/fasttcp_server.js --port 0 --mode "$3" >"$dir/log" 2>/dev/null &
  fi
  server_pid=$!
  for _ in $(seq 100); do grep -q '^listening on' "$dir/log" 2>/dev/null && break; sleep 0.05; done
  url=$(sed -n 's/^listening on \(.*\)$/\1/p' "$dir/log" | head -1)
}

stop() { kill "$server_pid" 2>/dev/null; wait "$server_pid" 2>/dev/null || true; server_pid=; }

# Broadcast: BCAST_CONNS connections, the first SENDERS writing plain
# messages that reach every connection (deliveries/s).
BCAST_CONNS=${BCAST_CONNS:-100}
SENDERS=${SENDERS:-8}
MODES=${MODES:-"echo broadcast"}
SCHEMES=${SCHEMES:-"tcp ipc"}
echo "[" >"$out"
first=1
for mode in $MODES; do
  for scheme in $SCHEMES; do
    declare -A rates=()
    if [ "$mode" = echo ]; then
      args=("$CONNS" "$INFLIGHT" "$SECONDS_PER_RUN" 1)
    else
      args=("$BCAST_CONNS" "$INFLIGHT" "$SECONDS_PER_RUN" 1 "$SENDERS")
    fi
    for _ in $(seq "$RUNS"); do
      for server in weft fast-tcp; do
        start "$server" "$scheme" "$mode"
        r=$("${PIN1[@]}" "$BUILD/bench/ft_load" "$url" "${args[@]}" |
          sed -n 's/.*"\(acks_\)\{0,1\}per_s":\([0-9]*\).*/\2/p')
        stop
        rates[$server]+="${r:-0} "
      done
    done
    for server in weft fast-tcp; do
      read -ra per_run <<<"${rates[$server]}"
      median=$(printf '%s\n' "${per_run[@]}" | sort -n | sed -n "$(((RUNS + 1) / 2))p")
      unit=$([ "$mode" = echo ] && echo "acks/s ($CONNS x $INFLIGHT)" ||
        echo "deliveries/s ($SENDERS senders x $INFLIGHT to $BCAST_CONNS)")
      echo "fast-tcp $mode, $server over $scheme://: $median $unit (runs: ${per_run[*]})"
      if [ "$server" = weft ]; then cmd="build/weft serve --listen $scheme://… --mode $mode"; else
        cmd="node bench/peers/fasttcp_server.js $([ "$scheme" = ipc ] && echo '--ipc PATH' || echo '--port 0') --mode $mode"
      fi
      [ $first = 1 ] || echo "," >>"$out"
      first=0
      printf '{"mode":"%s","server":"%s","scheme":"%s","per_s":%s,"unit":"%s","per_run":[%s],"command":"%s; build/bench/ft_load URL %s"}' \
        "$mode" "$server" "$scheme" "$median" "$unit" "$(IFS=,; echo "${per_run[*]}")" "$cmd" "${args[*]}" >>"$out"
    done
    unset rates
  done
done

# weft tcp:// against weft ws:// under the same load shape: CONNS
# connections, INFLIGHT 32-byte messages in flight each. On tcp:// each is
# an event with an ack (the echo case above); on ws:// a Primus message
# echoed back (build/bench/echo_load; there is no ack without the emitter).
rates=()
for _ in $(seq "$RUNS"); do
  rm -f "$dir/log"
  "${PIN0[@]}" "$BUILD/weft" serve --listen ws://127.0.0.1:0 --mode echo >"$dir/log" 2>/dev/null &
  server_pid=$!
  for _ in $(seq 100); do grep -q '^listening on' "$dir/log" 2>/dev/null && break; sleep 0.05; done
  port=$(sed -n 's/^listening on ws:\/\/127.0.0.1:\([0-9]*\).*/\1/p' "$dir/log" | head -1)
  r=$("${PIN1[@]}" "$BUILD/bench/echo_load" --port "$port" --conns "$CONNS" --pipeline "$INFLIGHT" \
    --size 32 --seconds "$SECONDS_PER_RUN" --warmup 1 | sed -n 's/.*"msgs_per_s":\([0-9]*\).*/\1/p')
  stop
  rates+=("$r")
done
median=$(printf '%s\n' "${rates[@]}" | sort -n | sed -n "$(((RUNS + 1) / 2))p")
echo "weft over ws:// (same shape): $median echoes/s ($CONNS x $INFLIGHT) (runs: ${rates[*]})"
printf ',\n{"mode":"echo","server":"weft","scheme":"ws","per_s":%s}' "$median" >>"$out"

# Stream throughput: npm fast-tcp's client (bench/ft_stream.js) streams
# STREAM_BYTES up to, and down from, weft (build/tests/weft_ft_peer) and
# npm fast-tcp's server (--mode stream). The client is Node in both cases.
STREAM_BYTES=${STREAM_BYTES:-33554432}
for server in weft fast-tcp; do
  for sdir in up down; do
    rates=()
    for _ in $(seq "$RUNS"); do
      rm -f "$dir/log"
      if [ "$server" = weft ]; then
        "${PIN0[@]}" "$BUILD/tests/weft_ft_peer" --listen tcp://127.0.0.1:0 >"$dir/log" 2>/dev/null &
      else
        "${PIN0[@]}" node bench/peers/fasttcp_server.js --port 0 --mode stream >"$dir/log" 2>/dev/null &
      fi
      server_pid=$!
      for _ in $(seq 100); do grep -q '^listening on' "$dir/log" 2>/dev/null && break; sleep 0.05; done
      url=$(sed -n 's/^listening on \(tcp:.*\)$/\1/p' "$dir/log" | head -1)
      r=$("${PIN1[@]}" node bench/ft_stream.js "$url" "$sdir" "$STREAM_BYTES" |
        sed -n 's/.*"mb_per_s":\([0-9.]*\).*/\1/p')
      stop
      rates+=("$r")
    done
    median=$(printf '%s\n' "${rates[@]}" | sort -n | sed -n "$(((RUNS + 1) / 2))p")
    echo "fast-tcp stream $sdir, $server over tcp://: $median MB/s ($STREAM_BYTES bytes; runs: ${rates[*]})"
    printf ',\n{"mode":"stream-%s","server":"%s","scheme":"tcp","mb_per_s":%s}' "$sdir" "$server" "$median" >>"$out"
  done
done
echo "]" >>"$out"
