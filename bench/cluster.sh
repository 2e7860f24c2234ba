#!/usr/bin/env bash
# Cross-node broadcast on Redis (issue #19): 1, 2 and 4 weft nodes (the CLI,
# `serve --mode broadcast --redis URL`) on one redis-server (a free port, a
# temporary folder, no persistence, stopped by PID), then as many Socket.IO
# 4.8 nodes with @socket.io/redis-adapter 8.3 (bench/sio/sio_server.js: io.emit
# of every "m" event; npm-installed into bench/sio on first use) with the same
# clients per node, in the same run. bcast_load spreads its
# receivers and senders over the nodes (--ports): every message a sender
# writes to its node is broadcast there and published once, and every other
# node delivers it to its own clients. Prints one JSON line per node count
# with deliveries/s (all receivers, all nodes) and the Redis commands per
# delivered message (INFO commandstats before/after). Nodes are pinned
# round-robin to the CPUs, the load generator to the last one. RUNS
# repetitions per node count, each running weft then Socket.IO
# (alternating); every line and the medians go to results/cluster.json
# (OUT). Not a test: nothing is asserted.
#
#   bench/cluster.sh [BUILD]        CLIENTS=1000 SENDERS=8 SECONDS_PER_RUN=3 NODES="1 2 4" RUNS=3
set -uo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
CLIENTS=${CLIENTS:-1000}
SENDERS=${SENDERS:-8}
SECS=${SECONDS_PER_RUN:-3}
NODES=${NODES:-"1 2 4"}
RUNS=${RUNS:-3}
result_file=${OUT:-bench/results/cluster.json}
command -v redis-server >/dev/null || { echo "cluster: no redis-server (apt-get install redis-server): skipped" >&2; exit 0; }
NCPU=$(nproc)
dir=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  wait 2>/dev/null
  rm -rf "$dir"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
rport=$(free_port)
redis-server --port "$rport" --bind 127.0.0.1 --save '' --appendonly no --dir "$dir" >/dev/null &
rpid=$!
pids+=("$rpid")
for _ in $(seq 100); do redis-cli -p "$rport" ping >/dev/null 2>&1 && break; sleep 0.05; done
calls() { redis-cli -p "$rport" info commandstats | awk -F'[=,]' '/^cmdstat_/ {n += $2} END {print n + 0}'; }
[ -d bench/sio/node_modules/socket.io ] ||
  (cd bench/sio && npm install --no-audit --no-fund --loglevel=error >/dev/null) ||
  { echo "cluster: npm install in bench/sio failed" >&2; exit 1; }
run() { # KIND N: prints one JSON line
  local kind=$1 n=$2 ports=() node_pids=() extra=()
  for k in $(seq 0 $((n - 1))); do
    log=$dir/$kind$k.log
    : >"$log"
    if [ "$kind" = weft ]; then
      taskset -c $((k % NCPU)) "$BUILD/weft" serve --port 0 --mode broadcast --ping-interval 0 \
        --redis "redis://127.0.0.1:$rport" >"$log" 2>/dev/null &
    else
      taskset -c $((k % NCPU)) node bench/sio/sio_server.js --redis "redis://127.0.0.1:$rport" \
        >"$log" 2>/dev/null &
    fi
    node_pids+=($!)
    pids+=($!)
    for _ in $(seq 200); do
      p=$(sed -n 's#^listening on ws://[^:]*:\([0-9]*\)/.*#\1#p' "$log" | head -1)
      [ -n "$p" ] && break
      sleep 0.05
    done
    ports+=("$p")
  done
  [ "$kind" = sio ] && extra=(--sio)
  list=$(IFS=,; echo "${ports[*]}")
  before=$(calls)
  out=$(taskset -c $((NCPU - 1)) "$BUILD/bench/bcast_load" --ports "$list" --clients "$CLIENTS" \
    --senders "$SENDERS" --seconds "$SECS" "${extra[@]}" 2>/dev/null | tail -1)
  after=$(calls)
  echo "{\"server\":\"$kind\",\"nodes\":$n,\"redis_commands\":$((after - before)),\"load\":$out}"
  for p in "${node_pids[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
}
lines=()
for n in $NODES; do
  for _ in $(seq "$RUNS"); do
    for kind in weft sio; do
      line=$(run "$kind" "$n")
      echo "$line"
      lines+=("$line")
    done
  done
done
mkdir -p "$(dirname "$result_file")"
printf '%s\n' "${lines[@]}" | CLIENTS=$CLIENTS SENDERS=$SENDERS SECS=$SECS python3 -c '
import json, os, statistics, sys
rows = [json.loads(l) for l in sys.stdin if l.strip()]
cmd = {"weft": "weft serve --port 0 --mode broadcast --ping-interval 0 --redis URL (per node)",
       "sio": "node bench/sio/sio_server.js --redis URL (per node)"}
out = []
for key in sorted({(r["server"], r["nodes"]) for r in rows}, key=lambda k: (k[1], k[0] != "weft")):
    rs = [r for r in rows if (r["server"], r["nodes"]) == key]
    per_run = [r["load"].get("deliveries_per_s", 0) if isinstance(r["load"], dict) else 0 for r in rs]
    load = "build/bench/bcast_load --ports P1,P2,… --clients %s --senders %s --seconds %s" % (
        os.environ["CLIENTS"], os.environ["SENDERS"], os.environ["SECS"])
    out.append({"server": key[0], "nodes": key[1], "median": statistics.median(per_run),
                "min": min(per_run), "max": max(per_run), "per_run": per_run,
                "redis_commands": [r["redis_commands"] for r in rs],
                "command": cmd[key[0]] + "; " + load + (" --sio" if key[0] == "sio" else "")})
json.dump(out, open(sys.argv[1], "w"), indent=1)
print("wrote", sys.argv[1])
' "$result_file"
