#!/usr/bin/env bash
# A/B: two builds of the weft C server side by side, in alternating runs (A,
# B, A, B, …), so a change on a hot path is measured against what it
# replaces under the same machine state. The load generators are the B
# build's (the same tool for both); servers are pinned to CPU 0, load to
# CPU 1.
#
#   bench/ab.sh BUILD_A BUILD_B        e.g. bench/ab.sh ../old/build build
#
# Cases: echo 100 and 1000 connections x 32 B (8 in flight each), broadcast
# to 1k and 10k clients (8 senders, 4 in flight), and memory per idle
# connection (server RSS at 10k open connections minus RSS at 0, over 10k).
# With --compression on the server (not in the default CASES): bcastz1k,
# broadcast of 256 B to 1k clients that offer permessage-deflate (deliveries/s,
# and bcastz1k_ns: the server's CPU ns per delivery); bcastzmix1k, the same
# with the clients' server_max_window_bits spread over none, 8, 9, …, 15;
# idlez10k, memory per idle connection that negotiated permessage-deflate,
# and idlez10k_w10 with server_max_window_bits=10.
# RUNS (default 3) of each per build; prints the medians, the ratio B/A and
# every run, and writes bench/results/ab.json. Timings live here, never in
# tests.
set -uo pipefail
cd "$(dirname "$0")/.."
A=${1:?usage: bench/ab.sh BUILD_A BUILD_B}
B=${2:?usage: bench/ab.sh BUILD_A BUILD_B}
RUNS=${RUNS:-3}
SECONDS_PER_RUN=${SECONDS_PER_RUN:-3}
CASES=${CASES:-"echo100 echo1000 bcast1k bcast10k idle10k"}
LOAD=$B/bench
for bin in "$A/weft" "$B/weft" "$LOAD/echo_load" "$LOAD/bcast_load" "$LOAD/idle_load"; do
  [ -x "$bin" ] || { echo "ab: $bin is missing (build first)" >&2; exit 1; }
done
PIN0=() PIN1=()
if command -v taskset >/dev/null; then PIN0=(taskset -c 0) PIN1=(taskset -c 1); fi
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
mkdir -p bench/results
raw=$(mktemp)
log=$(mktemp)
server_pid=
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null
  wait 2>/dev/null || true
  rm -f "$raw" "$log"
}
trap cleanup EXIT

start() { # BUILD MODE [SERVER OPTIONS…]
  local build=$1 mode=$2
  shift 2
  "${PIN0[@]}" "$build/weft" serve --port 0 --ping-interval 0 --mode "$mode" "$@" >"$log" 2>/dev/null &
  server_pid=$!
  port=
  for _ in $(seq 300); do
    port=$(sed -n 's#^listening on ws://[^:]*:\([0-9]*\)/.*#\1#p' "$log" | head -1)
    [ -n "$port" ] && return 0
    sleep 0.05
  done
  echo "ab: $build/weft did not start" >&2
  return 1
}

stop() {
  kill "$server_pid" 2>/dev/null
  wait "$server_pid" 2>/dev/null
  server_pid=
}

rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }

field() { echo "$1" | sed -n "s/.*\"$2\":\([0-9.]*\).*/\1/p"; }

# Memory per idle connection: prints bytes per connection of 10k. With an
# extension offer (permessage-deflate), the server has compression on.
idle_rss() { # BUILD [OFFER]
  local opts=() ext=()
  [ -n "${2:-}" ] && opts=(--compression) ext=(--extensions "$2")
  start "$1" echo "${opts[@]}" || return 1
  sleep 1
  local before after word
  before=$(rss_kb "$server_pid")
  coproc IDLE { "${PIN1[@]}" timeout 300 "$LOAD/idle_load" --port "$port" --stages 10000 \
    --timeout 120 --hold 120 "${ext[@]}" 2>/dev/null; }
  local idle_pid=$IDLE_PID
  read -r -t 150 -u "${IDLE[0]}" word _ && [ "$word" = ready ] && sleep 1 &&
    after=$(rss_kb "$server_pid")
  echo >&"${IDLE[1]}"
  exec {IDLE[1]}>&- 2>/dev/null || true
  wait "$idle_pid" 2>/dev/null
  stop
  [ -n "${after:-}" ] && echo $(((after - before) * 1024 / 10000))
}

# One run of one case on one build: prints "CASE FIGURE" lines.
run_case() { # CASE BUILD
  case $1 in
    echo100 | echo1000)
      start "$2" echo || return 1
      local line
      line=$(timeout 60 "${PIN1[@]}" "$LOAD/echo_load" --port "$port" --conns "${1#echo}" --size 32 \
        --pipeline 8 --seconds "$SECONDS_PER_RUN")
      stop
      echo "$1 $(field "$line" msgs_per_s)"
      ;;
    bcast1k | bcast10k)
      start "$2" broadcast || return 1
      local n=1000 line
      [ "$1" = bcast10k ] && n=10000
      line=$(timeout 120 "${PIN1[@]}" "$LOAD/bcast_load" --port "$port" --clients "$n" --senders 8 \
        --inflight 4 --seconds "$SECONDS_PER_RUN" 2>/dev/null)
      stop
      echo "$1 $(field "$line" deliveries_per_s)"
      ;;
    bcastz1k | bcastzmix1k)
      start "$2" broadcast --compression || return 1
      local windows=0 line
      [ "$1" = bcastzmix1k ] && windows=0,8,9,10,11,12,13,14,15
      line=$(timeout 120 "${PIN1[@]}" "$LOAD/bcast_load" --port "$port" --clients 1000 --senders 8 \
        --inflight 4 --size 256 --deflate "$windows" --server-pid "$server_pid" \
        --seconds "$SECONDS_PER_RUN" 2>/dev/null)
      stop
      echo "$1 $(field "$line" deliveries_per_s)"
      echo "${1}_ns $(field "$line" server_ns_per_delivery)"
      ;;
    idlez10k) echo "$1 $(idle_rss "$2" "permessage-deflate; client_max_window_bits")" ;;
    idlez10k_w10) echo "$1 $(idle_rss "$2" "permessage-deflate; server_max_window_bits=10")" ;;
    idle10k) echo "$1 $(idle_rss "$2")" ;;
  esac
}

for c in $CASES; do
  for r in $(seq "$RUNS"); do
    for side in A B; do
      build=$A
      [ $side = B ] && build=$B
      while read -r name v; do
        echo "$name $side $r ${v:-0}" | tee -a "$raw" >&2
      done < <(run_case "$c" "$build")
    done
  done
done

python3 - "$raw" "$A" "$B" <<'EOF'
import json, statistics, sys
raw, a, b = sys.argv[1:4]
rows = {}
for line in open(raw):
    case, side, run, v = line.split()
    rows.setdefault(case, {"A": [], "B": []})[side].append(float(v))
unit = {"echo100": "msgs/s", "echo1000": "msgs/s", "bcast1k": "deliveries/s",
        "bcast10k": "deliveries/s", "idle10k": "bytes/conn", "bcastz1k": "deliveries/s",
        "bcastz1k_ns": "server ns/deliv", "bcastzmix1k": "deliveries/s",
        "bcastzmix1k_ns": "server ns/deliv", "idlez10k": "bytes/conn", "idlez10k_w10": "bytes/conn"}
out = []
print(f"A = {a}\nB = {b}")
print(f"{'case':<10} {'A median':>12} {'B median':>12} {'B/A':>6}  unit          runs A | runs B")
for case, d in rows.items():
    ma, mb = statistics.median(d["A"]), statistics.median(d["B"])
    ratio = mb / ma if ma else 0
    print(f"{case:<10} {ma:>12.0f} {mb:>12.0f} {ratio:>6.3f}  {unit.get(case, ''):<13} "
          f"{' '.join(f'{x:.0f}' for x in d['A'])} | {' '.join(f'{x:.0f}' for x in d['B'])}")
    out.append({"case": case, "unit": unit.get(case, ""), "a": d["A"], "b": d["B"],
                "a_median": ma, "b_median": mb, "ratio": round(ratio, 4)})
json.dump({"a": a, "b": b, "results": out}, open("bench/results/ab.json", "w"), indent=1)
print("wrote bench/results/ab.json")
EOF
