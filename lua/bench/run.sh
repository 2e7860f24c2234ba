#!/usr/bin/env bash
# Runs the Lua tick benchmark at 100 and 1000 players (20 Hz, 200 B state).
# Builds the module into build-lua/core first. Usage: bash lua/bench/run.sh [TICKS]
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD=build-lua/core
cmake -S . -B "$BUILD" -DWEFT_TESTS=OFF -DWEFT_TOOLS=OFF >/dev/null
cmake --build "$BUILD" -j 2 >/dev/null
TICKS=${1:-200}
for interp in lua5.4 luajit; do
  dir=$BUILD/lua/5.4
  [ "$interp" = luajit ] && dir=$BUILD/lua/jit
  command -v "$interp" >/dev/null && [ -f "$dir/weft.so" ] || continue
  for n in 100 1000; do
    LUA_CPATH="$PWD/$dir/?.so" timeout 120 "$interp" lua/bench/tick_bench.lua "$n" "$TICKS" 50 "$interp"
  done
done
