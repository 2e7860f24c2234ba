#!/usr/bin/env bash
# Vibe (issue #21): weft (`weft serve --transformer vibe --mode echo`)
# beside the reference Vibe server (bench/peers/vibe_server.js,
# vibe-protocol 3.0.0-Alpha9 with the Node 20 long-poll guard) in the same
# run, each transport: ws, httpstream, httplongpoll. The server pinned to
# CPU 0, the load generator to CPU 1: build/bench/vibe_load (C, the
# reference client's wire; LOAD=node: bench/vibe_load.js, the reference
# client itself, which is the limit for weft). Both servers stay up; each
# repetition runs the load against weft then the reference (alternating).
# Events/s, events per server CPU-second and the load generator's CPU
# (fraction of one core); RUNS repetitions (3), medians and every run
# ("per_run") in results/vibe.json (OUT). Not asserted anywhere.
set -uo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
RUNS=${RUNS:-3}
CONNS=${CONNS:-20}
SECONDS_PER_RUN=${SECONDS_PER_RUN:-4}
TRANSPORTS=${TRANSPORTS:-"ws httpstream httplongpoll"}
LOAD=${LOAD:-c}
case $LOAD in
  c) load=("$BUILD/bench/vibe_load") ;;
  node) load=(node bench/vibe_load.js) ;;
  *)
    echo "vibe: LOAD is c or node" >&2
    exit 1
    ;;
esac
out=${OUT:-bench/results/vibe.json}
mkdir -p "$(dirname "$out")"
if [ ! -x "$BUILD/weft" ] || [ ! -x "$BUILD/bench/vibe_load" ] || [ ! -d tests/vibe/node_modules/vibe-protocol ]; then
  echo "vibe: build first and install tests/vibe's npm packages (scripts/deps.sh)" >&2
  exit 1
fi
servers=("weft|$BUILD/weft serve --mode echo --transformer vibe --listen http://127.0.0.1:0/vibe"
  "reference|node bench/peers/vibe_server.js 0")
declare -A pid=() url=() cmd=()
logs=()
# the servers (by PID) and their logs go at exit
trap '[ ${#pid[@]} -eq 0 ] || kill "${pid[@]}" 2>/dev/null; wait 2>/dev/null; rm -f "${logs[@]}"' EXIT
names=()
for entry in "${servers[@]}"; do
  name=${entry%%|*}
  names+=("$name")
  cmd[$name]=${entry#*|}
  log=$(mktemp)
  logs+=("$log")
  taskset -c 0 ${entry#*|} >"$log" 2>&1 &
  pid[$name]=$!
  for _ in $(seq 50); do grep -q '^listening on ' "$log" && break; sleep 0.1; done
  url[$name]=$(grep -m1 '^listening on ' "$log" | sed 's/^listening on //; s/^ws:/http:/')
done
echo "[" >"$out"
first=1
for transport in $TRANSPORTS; do
  declare -A results=()
  for _ in $(seq "$RUNS"); do
    for name in "${names[@]}"; do
      results[$name]+="$(taskset -c 1 "${load[@]}" --url "${url[$name]}" --transport "$transport" \
        --conns "$CONNS" --seconds "$SECONDS_PER_RUN" --server-pid "${pid[$name]}")"$'\n'
    done
  done
  for name in "${names[@]}"; do
    med=$(printf '%s' "${results[$name]}" | node -e '
      const rows = require("fs").readFileSync(0, "utf8").trim().split("\n").map(JSON.parse);
      const m = (k) => { const v = rows.map((r) => r[k]).sort((a, b) => a - b); return v[v.length >> 1]; };
      console.log(JSON.stringify({ events_per_s: m("events_per_s"), events_per_cpu_s: m("events_per_cpu_s"),
        load_cpu: m("load_cpu"), per_run: rows.map((r) => r.events_per_s),
        per_run_cpu: rows.map((r) => r.events_per_cpu_s), per_run_load_cpu: rows.map((r) => r.load_cpu) }));')
    echo "vibe $name $transport: $med"
    [ $first = 1 ] || echo "," >>"$out"
    first=0
    echo "{\"server\":\"$name\",\"transport\":\"$transport\",\"result\":$med,\"load\":\"$LOAD\",\"command\":\"${cmd[$name]}; ${load[*]} --url URL --transport $transport --conns $CONNS --seconds $SECONDS_PER_RUN --server-pid PID\"}" >>"$out"
  done
  unset results
done
echo "]" >>"$out"
