#!/usr/bin/env bash
# engine.io (issues #18, #23): weft (`weft serve --transformer engine.io`)
# beside Primus 8 on engine.io 6.6 (bench/peers/primus_server.js
# --transformer engine.io) in the same run. Each server pinned to CPU 0, the
# load generator to CPU 1: build/bench/eio_load (C on libuv, the wire by
# hand; LOAD=node: bench/eio_load.js, one Node process, which was the limit
# for weft):
#   - echo over long-polling: CONNS sessions × 8 messages in flight, 32 B;
#   - echo over upgraded WebSocket: the same after the probe and upgrade;
#   - idle memory per polling session: 0, 1000, 2000 sessions each holding
#     a poll (always eio_load.js); VmRSS per session is the least-squares
#     slope.
# Messages/s, messages per server CPU-second (utime + stime of the server
# during the measured seconds) and the load generator's own CPU (load_cpu,
# fraction of one CPU; the C generator only): near 1.0, the load generator
# was the limit. RUNS repetitions per case (3), each running weft then
# Primus (alternating); medians and every run in results/engineio.json (OUT).
set -uo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
RUNS=${RUNS:-3}
CONNS=${CONNS:-100}
SECONDS_PER_RUN=${SECONDS_PER_RUN:-4}
IDLE=${IDLE:-2000}
MODES=${MODES:-"polling websocket"}
LOAD=${LOAD:-c}
out=${OUT:-bench/results/engineio.json}
mkdir -p "$(dirname "$out")"
raw=$(mktemp)
server_pid= log=
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null
  wait 2>/dev/null || true
  [ -n "$log" ] && rm -f "$log"
  rm -f "$raw"
}
trap cleanup EXIT

if [ ! -x "$BUILD/weft" ] || [ ! -d tests/interop/node_modules/primus ]; then
  echo "engineio: build first and install tests/interop's npm packages (scripts/deps.sh)" >&2
  exit 1
fi
case $LOAD in
  c) load_cmd=("$BUILD/bench/eio_load") ;;
  node) load_cmd=(node bench/eio_load.js) ;;
  *) echo "engineio: LOAD is c or node" >&2; exit 2 ;;
esac
if [ "$LOAD" = c ] && [ ! -x "$BUILD/bench/eio_load" ]; then
  echo "engineio: $BUILD/bench/eio_load missing (build first)" >&2
  exit 1
fi

servers=("weft|$BUILD/weft serve --mode echo --ping-interval 0 --port 0 --transformer engine.io"
  "primus|node bench/peers/primus_server.js --mode echo --port 0 --transformer engine.io")

# start_server, stop_server
. bench/server.sh
stop() { stop_server; rm -f "$log"; log=; }
rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }

for mode in $MODES; do
  for run in $(seq "$RUNS"); do
    for entry in "${servers[@]}"; do
      name=${entry%%|*}
      cmd=${entry#*|}
      start_server "$cmd" || { echo "engineio: $name did not start" >&2; cat "$log" >&2; exit 1; }
      res=$(prlimit --nofile=20000:20000 taskset -c 1 "${load_cmd[@]}" --url "http://127.0.0.1:$port/primus" \
        --mode "$mode" --conns "$CONNS" --seconds "$SECONDS_PER_RUN" --server-pid "$server_pid") ||
        { echo "engineio: $name $mode failed" >&2; exit 1; }
      echo "$name $mode run $run: $res"
      echo "$name $mode $res" >>"$raw"
      stop
    done
  done
done
for entry in "${servers[@]}"; do
  name=${entry%%|*}
  cmd=${entry#*|}
  [ "$IDLE" -gt 0 ] || continue
  # Idle polling sessions.
  start_server "$cmd" || exit 1
  sleep 0.5
  points="0 $(rss_kb "$server_pid")"
  fifo=$(mktemp -u)
  mkfifo "$fifo"
  prlimit --nofile=20000:20000 taskset -c 1 node bench/eio_load.js --url "http://127.0.0.1:$port/primus" \
    --mode idle --conns "$IDLE" >"$fifo" &
  load=$!
  while read -r word n rest; do
    [ "$word" = idle ] || continue
    sleep 1
    points="$points,$n $(rss_kb "$server_pid")"
    [ "$rest" = done ] && break
  done <"$fifo"
  kill "$load" 2>/dev/null
  wait "$load" 2>/dev/null
  rm -f "$fifo"
  echo "$name idle-points $points" | tee -a "$raw"
  stop
done

CMDS=$(printf '%s\n' "${servers[@]}") LOADER=${load_cmd[*]} CONNS=$CONNS SECS=$SECONDS_PER_RUN python3 - "$raw" "$out" <<'PY'
import json, os, statistics, sys
raw, out = sys.argv[1], sys.argv[2]
cmds = dict(l.split('|', 1) for l in os.environ['CMDS'].splitlines())
runs, idle = {}, {}
for line in open(raw):
    name, what, rest = line.split(' ', 2)
    if what == 'idle-points':
        pts = [tuple(map(float, p.split())) for p in rest.strip().split(',')]
        n = len(pts); mx = sum(x for x, _ in pts) / n; my = sum(y for _, y in pts) / n
        slope = sum((x - mx) * (y - my) for x, y in pts) / sum((x - mx) ** 2 for x, _ in pts)
        idle[name] = {'points_kB': pts, 'bytes_per_session': round(slope * 1024)}
    else:
        runs.setdefault(name, {}).setdefault(what, []).append(json.loads(rest))
res = {'servers': {}}
for name, modes in runs.items():
    res['servers'][name] = {m: {'msgs_per_s': statistics.median(r['msgs_per_s'] for r in rs),
                               'msgs_per_cpu_s': statistics.median(r.get('msgs_per_cpu_s', 0) for r in rs),
                               **({'load_cpu': statistics.median(r['load_cpu'] for r in rs)}
                                  if all('load_cpu' in r for r in rs) else {}),
                               'runs': rs} for m, rs in modes.items()}
    res['servers'][name]['idle'] = idle.get(name)
    res['servers'][name]['command'] = (cmds[name] +
        f"; {os.environ['LOADER']} --url URL --mode polling|websocket --conns {os.environ['CONNS']} "
        f"--seconds {os.environ['SECS']} --server-pid PID")
w, p = res['servers']['weft'], res['servers']['primus']
modes = [m for m in ('polling', 'websocket') if m in w and m in p]
res['ratios'] = {m: {'msgs_per_s': round(w[m]['msgs_per_s'] / p[m]['msgs_per_s'], 2),
                     'msgs_per_cpu_s': round(w[m]['msgs_per_cpu_s'] / p[m]['msgs_per_cpu_s'], 2)}
                 for m in modes}
if w.get('idle') and p.get('idle'):
    res['ratios']['idle_memory'] = round(p['idle']['bytes_per_session'] / w['idle']['bytes_per_session'], 2)
json.dump(res, open(out, 'w'), indent=1)
print('| case | weft | Primus (engine.io) | ratio |')
print('|---|---|---|---|')
for m in modes:
    print(f"| echo over {m}, msgs/s | {w[m]['msgs_per_s']:,} | {p[m]['msgs_per_s']:,} | {res['ratios'][m]['msgs_per_s']}x |")
    print(f"| echo over {m}, msgs per server CPU-s | {w[m]['msgs_per_cpu_s']:,} | {p[m]['msgs_per_cpu_s']:,} | {res['ratios'][m]['msgs_per_cpu_s']}x |")
    if 'load_cpu' in w[m] and 'load_cpu' in p[m]:
        print(f"| echo over {m}, load generator's CPU (of one) | {w[m]['load_cpu']:.2f} | {p[m]['load_cpu']:.2f} | |")
if 'idle_memory' in res['ratios']:
  print(f"| idle polling session, bytes of RSS | {w['idle']['bytes_per_session']:,} | {p['idle']['bytes_per_session']:,} | {res['ratios']['idle_memory']}x less |")
PY
