#!/usr/bin/env bash
# The Lua tick beside the kernel's floor, alternating (issue #23, item 5):
# per repetition, tick_bench.lua with each module dir given (Lua 5.4 and
# LuaJIT when their weft.so is there), then bench/tick_floor, so every
# figure of a repetition sees the same machine state. Prints each run's
# tick (poll + broadcast) in wall-clock ms and in CPU ms, its ratio to that
# repetition's floor, and the median of the ratios per build and interpreter.
#
#   lua/bench/tick_ab.sh [MODULE_ROOT ...]   (default build-lua/core/lua)
#
# SHAPES ("flush"; "flush noflush" for both): "flush" is the tick that
# flushes its broadcast at its end (weft.flush), beside the floor's
# read-first order; "noflush" leaves it to the next poll (TICK_FLUSH=0),
# beside the floor's write-first order (weft's order then). A build without
# flush() runs its tick without it.
# A MODULE_ROOT holds 5.4/weft.so and/or jit/weft.so (a build's lua/ dir);
# give two to compare builds (e.g. main's and a branch's). REPS (5),
# PLAYERS (1000), TICKS (200) from the environment. RT=1 (root only) runs
# both sides SCHED_FIFO on their cores (chrt): the server and the bots, the
# floor and its peer. On a shared machine other tenants then preempt
# neither a tick (its wall-clock time means something) nor the players:
# without it the Lua bots fall behind, their inputs pile up and the server
# reads 2-3 of them per read(2) (about 370 reads per tick instead of the
# floor's ~860), which makes weft look cheaper than it is; its CPU columns
# are then not comparable either. Builds build-lua/core and
# build/bench/tick_floor first. Timings live here, never in tests.
set -euo pipefail
cd "$(dirname "$0")/../.."
REPS=${REPS:-5}
PLAYERS=${PLAYERS:-1000}
TICKS=${TICKS:-200}
cmake -S . -B build-lua/core -DWEFT_TESTS=OFF -DWEFT_TOOLS=OFF >/dev/null
cmake --build build-lua/core -j 2 >/dev/null
cmake -S . -B build -DWEFT_TOOLS=ON >/dev/null && cmake --build build -j 2 --target tick_floor >/dev/null
ROOTS=("$@")
[ ${#ROOTS[@]} -gt 0 ] || ROOTS=(build-lua/core/lua)
PIN=()
export BOTS_PREFIX=
if command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then
  PIN=(taskset -c 0)
  export BOTS_PREFIX="taskset -c 1"
fi
if [ "${RT:-0}" = 1 ]; then
  PIN=(chrt -f 10 "${PIN[@]}")
  export BOTS_PREFIX="chrt -f 10 $BOTS_PREFIX"
fi
out=$(mktemp)
trap 'rm -f "$out"' EXIT
field() { sed -n "s/.*\"$2\":\([0-9.]*\).*/\1/p" <<<"$1"; }
for rep in $(seq 1 "$REPS"); do
  for shape in ${SHAPES:-flush}; do
    for root in "${ROOTS[@]}"; do
      for interp in lua5.4 luajit; do
        dir=$root/5.4
        [ "$interp" = luajit ] && dir=$root/jit
        command -v "$interp" >/dev/null && [ -f "$dir/weft.so" ] || continue
        case $dir in /*) ;; *) dir=$PWD/$dir ;; esac
        line=$(TICK_FLUSH=$([ "$shape" = flush ] && echo 1 || echo 0) LUA_CPATH="$dir/?.so" timeout 300 \
          "${PIN[@]}" "$interp" lua/bench/tick_bench.lua "$PLAYERS" "$TICKS" 50 "$interp" | tail -1)
        echo "$rep.$shape $root $interp $(field "$line" tick_ms) $(field "$line" cpu_ms)" \
          "$(field "$line" inputs_per_tick)" >>"$out"
      done
    done
    order=read-first
    [ "$shape" = flush ] || order=write-first
    line=$("${PIN[@]}" build/bench/tick_floor "$PLAYERS" "$TICKS" 200 50 "$order")
    echo "$rep.$shape floor - $(field "$line" tick_ms) $(field "$line" cpu_ms) $(field "$line" inputs_per_tick)" >>"$out"
  done
done
python3 - "$out" <<'EOF'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
floor = {r[0]: (float(r[3]), float(r[4])) for r in rows if r[1] == "floor"}
print("rep.shape  build                interp   tick ms  CPU ms  inputs/tick  tick/floor  CPU/floor")
per = {}
for r in rows:
    rep, root, interp, tick, cpu, inputs = r[0], r[1], r[2], float(r[3]), float(r[4]), r[5]
    ft, fc = floor[rep]
    if root == "floor":
        print(f"{rep:9s}  {'kernel floor':20s} {'':8s} {tick:7.3f} {cpu:7.3f} {inputs:>12s}")
        continue
    print(f"{rep:9s}  {root[-20:]:20s} {interp:8s} {tick:7.3f} {cpu:7.3f} {inputs:>12s}  {tick/ft:10.3f} {cpu/fc:10.3f}")
    per.setdefault((root, interp, rep.split(".")[1]), []).append((tick / ft, cpu / fc, tick, cpu))
for shape in sorted({r.split(".")[1] for r in floor}):
    fl = [v for r, v in floor.items() if r.endswith("." + shape)]
    print(f"floor ({shape}): tick ms median {statistics.median(f[0] for f in fl):.3f}, CPU ms median "
          f"{statistics.median(f[1] for f in fl):.3f}")
for (root, interp, shape), xs in per.items():
    med = lambda i: statistics.median(x[i] for x in xs)
    rng = lambda i: f"{min(x[i] for x in xs):.3f}-{max(x[i] for x in xs):.3f}"
    print(f"{root} {interp} {shape}: tick {med(2):.3f} ms, CPU {med(3):.3f} ms; ratio to the floor, median "
          f"(min-max) of {len(xs)}: tick {med(0):.3f} ({rng(0)}), CPU {med(1):.3f} ({rng(1)})")
EOF
