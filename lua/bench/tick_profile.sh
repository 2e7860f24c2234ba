#!/usr/bin/env bash
# Where one Lua tick's time goes (issue #23, item 5), in counts that do not
# depend on the machine's load: tick_bench.lua at PLAYERS (1000), each
# figure the difference between a run of T2 (60) and one of T1 (20) ticks,
# per tick, so start-up and the connection burst cancel out.
#
#   lua/bench/tick_profile.sh [MODULE_DIR]   (default build-lua/core/lua/5.4)
#
# 1. Syscalls per tick by kind (perf stat on tracepoints, the server
#    process only), beside bench/tick_floor's for the same tick.
# 2. User-space instructions per tick (callgrind, collecting inside poll(),
#    server:write() and server:flush() only), split into: weft's core
#    (decode, framing, queues and writes, libuv), the binding's calls into
#    Lua (the value pushed as Lua objects, with the garbage collection that
#    allocating them triggers, and the protected call around each handler),
#    and the Lua handler itself. The server runs in a small host linked with the static
#    liblua5.4.a when it is there, so the interpreter's functions have names.
# The ticks are 300 ms long under callgrind (the tick's work fits in them).
# RT=1 (root): the syscall runs SCHED_FIFO on both sides, as tick_ab.sh's
# (without it, on a busy machine, the bots fall behind and the server reads
# several inputs per read(2): fewer reads than the floor's).
set -euo pipefail
cd "$(dirname "$0")/../.."
MOD=${1:-build-lua/core/lua/5.4}
case $MOD in /*) ;; *) MOD=$PWD/$MOD ;; esac
PLAYERS=${PLAYERS:-1000}
T1=${T1:-20}
T2=${T2:-60}
[ -f "$MOD/weft.so" ] || { echo "tick_profile: $MOD/weft.so is missing (lua/bench/run.sh builds it)" >&2; exit 1; }
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
PIN=()
export BOTS_PREFIX=
if command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then
  PIN=(taskset -c 0)
  export BOTS_PREFIX="taskset -c 1"
fi
HOST=(lua5.4)
if [ -f /usr/lib/x86_64-linux-gnu/liblua5.4.a ] && command -v cc >/dev/null; then
  cat >"$dir/host.c" <<'EOF'
#include <lauxlib.h>
#include <lualib.h>
#include <stdio.h>
int main(int argc, char **argv) { /* lua5.4 SCRIPT ARGS..., with symbols */
  lua_State *L = luaL_newstate();
  luaL_openlibs(L);
  lua_createtable(L, argc, 0);
  for (int i = 0; i < argc; i++) lua_pushstring(L, argv[i]), lua_rawseti(L, -2, i - 1);
  lua_setglobal(L, "arg");
  if (argc < 2 || luaL_dofile(L, argv[1])) return fprintf(stderr, "%s\n", lua_tostring(L, -1)), 1;
  lua_close(L);
  return 0;
}
EOF
  cc -O2 -g -I/usr/include/lua5.4 -o "$dir/host" "$dir/host.c" -Wl,-E \
    /usr/lib/x86_64-linux-gnu/liblua5.4.a -lm -ldl && HOST=("$dir/host")
fi
RTP=()
if [ "${RT:-0}" = 1 ]; then
  RTP=(chrt -f 10)
  export BOTS_PREFIX="chrt -f 10 $BOTS_PREFIX"
fi
bench() { LUA_CPATH="$MOD/?.so" "${PIN[@]}" "$@" lua/bench/tick_bench.lua "$PLAYERS" "$T" "$MS" lua5.4 >/dev/null; }

if command -v perf >/dev/null && perf stat -e raw_syscalls:sys_enter true >/dev/null 2>&1; then
  ev=raw_syscalls:sys_enter
  for s in read recvfrom write writev sendmsg sendto epoll_wait epoll_pwait epoll_ctl; do
    ev+=,syscalls:sys_enter_$s
  done
  [ -x build/bench/tick_floor ] || { cmake -S . -B build -DWEFT_TOOLS=ON >/dev/null &&
    cmake --build build -j 2 --target tick_floor >/dev/null; }
  for T in "$T1" "$T2"; do
    MS=50 bench perf stat --no-inherit -x, -e "$ev" -o "$dir/sys.weft.$T" -- "${RTP[@]}" lua5.4
    perf stat --no-inherit -x, -e "$ev" -o "$dir/sys.floor.$T" -- "${RTP[@]}" \
      build/bench/tick_floor "$PLAYERS" "$T" 200 50 >/dev/null
  done
  python3 - "$dir" "$T1" "$T2" <<'EOF'
import sys
d, t1, t2 = sys.argv[1], sys.argv[2], sys.argv[3]
def counts(name, t):
    c = {}
    for l in open(f"{d}/sys.{name}.{t}"):
        f = l.split(",")
        if len(f) > 2 and f[0].isdigit(): c[f[2].split(":")[-1].replace("sys_enter_", "")] = int(f[0])
    return c
print("syscalls per tick      weft   floor")
for name in ("weft", "floor"):
    a, b = counts(name, t1), counts(name, t2)
    globals()[name] = {k: (b[k] - a.get(k, 0)) / (int(t2) - int(t1)) for k in b}
for k in sorted(set(weft) | set(floor), key=lambda k: (k != "sys_enter", k)):
    w, f = weft.get(k, 0), floor.get(k, 0)
    if w >= 0.05 or f >= 0.05: print(f"  {'all' if k == 'sys_enter' else k:14s} {w:9.1f} {f:7.1f}")
EOF
else
  echo "syscalls: perf with tracepoints is not available here"
fi

command -v valgrind >/dev/null || { echo "tick_profile: valgrind is not installed" >&2; exit 1; }
for T in "$T1" "$T2"; do
  MS=300 bench valgrind --tool=callgrind --callgrind-out-file="$dir/cg.$T" --toggle-collect=l_poll \
    --toggle-collect=l_write --toggle-collect=l_flush "${HOST[@]}" 2>/dev/null
done
python3 - "$dir/cg.$T1" "$dir/cg.$T2" "$((T2 - T1))" "$PLAYERS" <<'EOF'
import collections, re, sys
def load(path): # inclusive instructions per function name (callgrind's format)
    names, incl, fn, call = {}, collections.Counter(), None, False
    def name(v):
        m = re.match(r"\((\d+)\)(?: (.*))?$", v)
        if not m: return v
        if m.group(2) is not None: names[m.group(1)] = m.group(2)
        return names.get(m.group(1), "?")
    for l in open(path):
        if l.startswith("fn="): fn = name(l[3:].strip())
        elif l.startswith("cfn="): name(l[4:].strip())
        elif l.startswith("calls="): call = True
        elif l[:1].isdigit() or l[:1] in "+-*":
            f = l.split()
            if len(f) > 1: incl[fn] += int(f[1])
            call = False
    return incl
a, b = load(sys.argv[1]), load(sys.argv[2])
n, players = int(sys.argv[3]), int(sys.argv[4])
per = lambda k: (b[k] - a[k]) / n
total = per("l_poll") + per("l_write") + per("l_flush")
calls = per("on_data")          # the binding's data event: everything from here is Lua's side
push = per("weft__lpush_value")  # the message as Lua objects (and the GC their allocation runs)
handler = per("lua_callk")       # the handler's own run
print(f"user-space instructions per tick ({players} players, one input each): {total:,.0f}")
rows = [("weft core (decode, frames, queues, writes, libuv)", total - calls),
        ("binding: the message as Lua objects, with its GC", push),
        ("binding: the protected call around each handler", calls - push - handler),
        ("the Lua handler itself", handler)]
for what, v in rows:
    print(f"  {what:52s} {v:12,.0f}  {v / players:7,.0f} per input  {100 * v / total:5.1f} %")
EOF
