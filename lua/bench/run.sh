#!/usr/bin/env bash
# Runs the Lua tick benchmark at 100 and 1000 players (20 Hz, 200 B state).
# Builds the module into build-lua/core first. Usage: bash lua/bench/run.sh [TICKS]
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD=build-lua/core
cmake -S . -B "$BUILD" -DWEFT_TESTS=OFF -DWEFT_TOOLS=OFF >/dev/null
cmake --build "$BUILD" -j 2 >/dev/null
TICKS=${1:-200}
# The server on core 0 and the bots on core 1, as in bench/ (when taskset
# and a second core exist), so the figures are not the bots' scheduling.
PIN=()
BOTS_PREFIX=
if command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then
  PIN=(taskset -c 0)
  BOTS_PREFIX="taskset -c 1"
fi
export BOTS_PREFIX
for interp in lua5.4 luajit; do
  dir=$BUILD/lua/5.4
  [ "$interp" = luajit ] && dir=$BUILD/lua/jit
  command -v "$interp" >/dev/null && [ -f "$dir/weft.so" ] || continue
  for n in 100 1000; do
    LUA_CPATH="$PWD/$dir/?.so" timeout 120 "${PIN[@]}" "$interp" lua/bench/tick_bench.lua "$n" "$TICKS" 50 "$interp"
  done
done

# The floor: the same reads and writes per tick with no library at all
# (bench/tick_floor.c), on the same cores.
cmake -S . -B build -DWEFT_TOOLS=ON >/dev/null && cmake --build build -j 2 --target tick_floor >/dev/null
for n in 100 1000; do
  echo "kernel floor, $n players: $(build/bench/tick_floor "$n" "$TICKS" 200 50)"
done
