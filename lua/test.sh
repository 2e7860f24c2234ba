#!/usr/bin/env bash
# The Lua stage of `make test`: builds the module (Lua 5.4 and LuaJIT) and the
# embedding host into build-lua/core, checks what the module exports and
# links, runs the suite under lua5.4 and luajit, and runs the game example
# headless in the embedding host. Ends with "lua: N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BUILD=$ROOT/build-lua/core
passed=0
failed=0
tpassed=0 # tests inside the suites (their own "N passed, N failed" lines)
tfailed=0
ok() { passed=$((passed + 1)); echo "--- ok: $1"; }
ko() { failed=$((failed + 1)); echo "--- FAILED: $1"; }
summary() {
  echo
  echo "checks: $passed passed, $failed failed; suite tests: $tpassed passed, $tfailed failed"
  passed=$((passed + tpassed))
  failed=$((failed + tfailed))
  echo "lua: $passed passed, $failed failed"
  [ "$failed" -eq 0 ]
  exit
}

echo "=== build ($BUILD)"
mkdir -p "$BUILD"
if cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DWEFT_TESTS=OFF -DWEFT_TOOLS=OFF \
  -DWEFT_LUA=ON >"$BUILD/configure.log" 2>&1 &&
  cmake --build "$BUILD" -j 2 >"$BUILD/build.log" 2>&1; then
  ok "build"
else
  cat "$BUILD/configure.log" "$BUILD/build.log" 2>/dev/null | tail -40
  ko "build"
  summary
fi

MOD54=$BUILD/lua/5.4/weft.so
MODJIT=$BUILD/lua/jit/weft.so
HOST=$BUILD/lua/game_host

# The module exports luaopen_weft only and does not link liblua.
check_module() { # FILE
  local syms
  syms=$(nm -D --defined-only "$1" | awk '$2 ~ /^[TDBRVW]$/ {print $3}' | sort | tr '\n' ' ')
  if [ "$syms" != "luaopen_weft " ]; then
    echo "$1 exports: $syms"
    return 1
  fi
  if ldd "$1" | grep -qi 'lua'; then
    echo "$1 links liblua:"
    ldd "$1" | grep -i lua
    return 1
  fi
}
for m in "$MOD54" "$MODJIT"; do
  [ -f "$m" ] || continue
  if check_module "$m"; then ok "exports of $m"; else ko "exports of $m"; fi
done

# clang-format for the C sources of lua/
if command -v clang-format >/dev/null; then
  if clang-format --dry-run --Werror lua/src/*.c lua/examples/*.c 2>&1; then
    ok "clang-format"
  else
    ko "clang-format"
  fi
fi

run_suite() { # INTERP MODULE_DIR SCRIPT
  echo "=== $3 under $1"
  local log=$BUILD/suite-$1-$(basename "$3" .lua).log rc
  WEFT_ROOT=$ROOT LUA_CPATH="$2/?.so" LUA_PATH="$ROOT/lua/tests/?.lua" \
    timeout 120 "$1" "lua/tests/$3" 2>&1 | tee "$log"
  rc=${PIPESTATUS[0]}
  local line
  line=$(grep -E '^[a-z0-9.-]+: [0-9]+ passed, [0-9]+ failed$' "$log" | tail -1)
  if [ -n "$line" ]; then
    tpassed=$((tpassed + $(sed -E 's/.*: ([0-9]+) passed.*/\1/' <<<"$line")))
    tfailed=$((tfailed + $(sed -E 's/.* ([0-9]+) failed$/\1/' <<<"$line")))
  fi
  return "$rc"
}
# test_weft.lua: the module; test_ext.lua: the extensions (issue #9);
# test_obs.lua: logs and metrics (issue #17); test_streams.lua: streams and
# routes (issue #20)
SUITES=(test_weft.lua test_ext.lua test_obs.lua test_parity.lua test_streams.lua)
for suite in "${SUITES[@]}"; do
  if [ -f "$MOD54" ] && command -v lua5.4 >/dev/null; then
    if run_suite lua5.4 "$BUILD/lua/5.4" "$suite"; then ok "$suite (lua5.4)"; else ko "$suite (lua5.4)"; fi
  else
    ko "lua5.4 or its module missing (bash scripts/deps.sh)"
  fi
  if [ -f "$MODJIT" ] && command -v luajit >/dev/null; then
    if run_suite luajit "$BUILD/lua/jit" "$suite"; then ok "$suite (luajit)"; else ko "$suite (luajit)"; fi
  else
    ko "luajit or its module missing (bash scripts/deps.sh)"
  fi
done

VG=()
command -v valgrind >/dev/null &&
  VG=(valgrind --quiet --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite)
if [ ${#VG[@]} -gt 0 ] && [ -f "$MOD54" ]; then
  for suite in "${SUITES[@]}"; do
    echo "=== $suite (lua5.4) under valgrind (memory errors and definite leaks fail)"
    vlog=$BUILD/suite-valgrind-$(basename "$suite" .lua).log
    if WEFT_ROOT=$ROOT LUA_CPATH="$BUILD/lua/5.4/?.so" LUA_PATH="$ROOT/lua/tests/?.lua" \
      timeout 180 "${VG[@]}" lua5.4 "lua/tests/$suite" >"$vlog" 2>&1; then
      ok "$suite under valgrind"
    else
      tail -60 "$vlog"
      ko "$suite under valgrind"
    fi
  done
fi

for script in open_at_exit.lua open_at_exit_ext.lua; do
  echo "=== lua_close with open handles: $script (valgrind when available)"
  if LUA_CPATH="$BUILD/lua/5.4/?.so" timeout 60 "${VG[@]}" lua5.4 "lua/tests/$script"; then
    ok "lua_close with open handles ($script)"
  else
    ko "lua_close with open handles ($script)"
  fi
done

echo "=== embedding host: game example headless (100 bots, 50 ticks at 20 Hz)"
if [ -x "$HOST" ] &&
  (cd lua/examples && timeout 60 "$HOST" "$BUILD/lua/5.4" game_server.lua --bots 100 --ticks 50); then
  ok "embedding host runs the game example"
else
  ko "embedding host runs the game example"
fi
# Bad input of the host: a missing script is an error, not a crash.
if "$HOST" "$BUILD/lua/5.4" /nonexistent.lua 2>/dev/null; [ $? -eq 1 ]; then
  ok "embedding host: missing script exits 1"
else
  ko "embedding host: missing script exits 1"
fi

summary
