#!/usr/bin/env bash
# A/B of the Lua binding's call overhead per echo (issue #15): two builds of
# weft.so under the same bench server (lua/bench/weft_server.lua, a Lua
# "data" handler that writes every message back), in alternating runs (A, B,
# A, B, …) so both see the same machine state.
#
#   lua/bench/ab.sh MODULE_DIR_A MODULE_DIR_B   e.g. /tmp/main/build/lua/5.4 build/lua/5.4
#
# 1. Throughput: the server pinned to CPU 0, build/bench/echo_load on CPU 1
#    (100 connections x 32 B json, 8 in flight, SECONDS_PER_RUN s): messages
#    per second and the server's CPU ns per echo (/proc/PID/stat over the
#    load window).
# 2. Instructions (callgrind, steady on a busy machine): the server under
#    callgrind for CG_SECONDS of the same load, minus a run of the same
#    build without load (its start-up and shutdown); instructions per echo
#    (per weft__spark_message) in total and in the binding's own functions
#    (those nm -l places in lua/src/; the Lua interpreter's lua_* calls
#    count in the total only).
# RUNS (default 3) of each per build; prints every run and the medians.
# Timings live here, never in tests.
set -uo pipefail
cd "$(dirname "$0")/../.."
A=${1:?usage: lua/bench/ab.sh MODULE_DIR_A MODULE_DIR_B}
B=${2:?usage: lua/bench/ab.sh MODULE_DIR_A MODULE_DIR_B}
BUILD=${BUILD:-build}
RUNS=${RUNS:-3}
SECONDS_PER_RUN=${SECONDS_PER_RUN:-4}
CG_SECONDS=${CG_SECONDS:-2}
LOAD=$BUILD/bench/echo_load
for f in "$A/weft.so" "$B/weft.so" "$LOAD"; do
  [ -e "$f" ] || { echo "ab: $f is missing (build first)" >&2; exit 1; }
done
PIN0=() PIN1=()
if command -v taskset >/dev/null; then PIN0=(taskset -c 0) PIN1=(taskset -c 1); fi
TICK=$(getconf CLK_TCK)
dir=$(mktemp -d)
server_pid=
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null
  wait 2>/dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT

start() { # MODULE_DIR [wrapper…]
  local mod=$1
  shift
  LUA_CPATH="$mod/?.so" "${PIN0[@]}" "$@" lua5.4 lua/bench/weft_server.lua --port 0 --mode echo \
    >"$dir/out" 2>"$dir/err" &
  server_pid=$!
  port=
  for _ in $(seq 400); do
    port=$(sed -n 's#^listening on ws://[^:]*:\([0-9]*\)/.*#\1#p' "$dir/out" | head -1)
    [ -n "$port" ] && return 0
    sleep 0.05
  done
  echo "ab: the server with $mod did not start" >&2
  cat "$dir/err" >&2
  return 1
}

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

throughput() { # MODULE_DIR --> "msgs_per_s ns_per_echo"
  start "$1" || return 1
  local t0 t1 line rate
  t0=$(cpu_ticks "$server_pid")
  line=$(timeout 60 "${PIN1[@]}" "$LOAD" --port "$port" --conns 100 --size 32 --pipeline 8 \
    --seconds "$SECONDS_PER_RUN")
  t1=$(cpu_ticks "$server_pid")
  kill "$server_pid"
  wait "$server_pid" 2>/dev/null
  server_pid=
  rate=$(echo "$line" | sed 's/.*"msgs_per_s":\([0-9]*\).*/\1/')
  awk -v r="$rate" -v c=$((t1 - t0)) -v hz="$TICK" -v s="$SECONDS_PER_RUN" \
    'BEGIN { printf "%d %.0f\n", r, (r > 0 ? c / hz * 1e9 / (r * s) : 0) }'
}

instructions() { # MODULE_DIR [idle] --> "total_ir binding_ir echoes"
  start "$1" valgrind --tool=callgrind --callgrind-out-file="$dir/cg" || return 1
  [ -n "${2:-}" ] || timeout 120 "$LOAD" --port "$port" --conns 100 --size 32 --pipeline 8 \
    --seconds "$CG_SECONDS" >/dev/null
  kill -TERM "$server_pid" # the default action: callgrind writes its counts on the way out
  wait "$server_pid" 2>/dev/null
  server_pid=
  callgrind_annotate "$dir/cg" >"$dir/self" 2>/dev/null
  callgrind_annotate --tree=calling "$dir/cg" >"$dir/tree" 2>/dev/null
  # The binding's functions: those nm -l places in lua/src/ (and nowhere else).
  nm -l --defined-only "$1/weft.so" >"$dir/nm"
  python3 - "$dir/self" "$dir/tree" "$dir/nm" <<'PY'
import re, sys
num = lambda s: int(s.replace(",", ""))
selft, tree = open(sys.argv[1]).read(), open(sys.argv[2]).read()
mine, other = set(), set()
for l in open(sys.argv[3]):
    f = l.split()
    if len(f) >= 3 and f[1] in "tTdDbBrR":
        (mine if len(f) > 3 and "/lua/src/" in f[3] else other).add(f[2])
mine -= other
total = num(re.search(r"([\d,]+) \(100.0%\)\s+PROGRAM TOTALS", selft).group(1))
msgs = sum(num(m) for m in re.findall(r"=?> +\S*:weft__spark_message \(([\d,]+)x\)", tree))
binding = 0
for l in selft.split("file:function", 1)[1].splitlines():
    m = re.match(r"\s*([\d,]+) \(\s*[\d.]+%\)\s+\S*?:([^\s']+)\S* \[(\S+)\]", l)
    if m and m.group(2) in mine and m.group(3).endswith("weft.so"):
        binding += num(m.group(1))
print(total, binding, msgs)
PY
}

command -v valgrind >/dev/null || { echo "ab: valgrind is not installed" >&2; exit 1; }
declare -A rate ns ir bir idle
for run in $(seq "$RUNS"); do
  for x in A B; do
    mod=$A
    [ $x = B ] && mod=$B
    read -r r n < <(throughput "$mod")
    [ "${r:-0}" -gt 0 ] || read -r r n < <(throughput "$mod") # once more: a start that failed
    rate[$x]+="$r " ns[$x]+="$n "
    echo "run $run $x: $r msgs/s, $n ns of server CPU per echo"
  done
done
for x in A B; do
  mod=$A
  [ $x = B ] && mod=$B
  idle[$x]=$(instructions "$mod" idle)
  echo "callgrind idle $x: ${idle[$x]} (instructions, in the binding, echoes)"
done
for run in $(seq "$RUNS"); do
  for x in A B; do
    mod=$A
    [ $x = B ] && mod=$B
    read -r t b m < <(instructions "$mod")
    read -r i b < <(echo "$t $b $m ${idle[$x]}" |
      awk '$3 > 0 { printf "%.0f %.0f\n", ($1 - $4) / $3, ($2 - $5) / $3 }')
    ir[$x]+="$i " bir[$x]+="$b "
    echo "callgrind $run $x: $i instructions per echo, $b in the binding (lua/src)"
  done
done
median() { tr ' ' '\n' | grep -v '^$' | sort -n | awk '{a[NR] = $1} END { print a[int((NR + 1) / 2)] }'; }
for x in A B; do
  echo "median $x: $(echo "${rate[$x]}" | median) msgs/s, $(echo "${ns[$x]}" | median) ns CPU/echo," \
    "$(echo "${ir[$x]}" | median) instructions/echo ($(echo "${bir[$x]}" | median) in lua/src)"
done
