#!/usr/bin/env bash
# Churn soak (issue #16; not part of make test): `weft serve --mode echo`
# under bench/soak.js — 100k connect/upgrade/close cycles, then 10 minutes
# of mixed traffic with a fixed population — while the server's RSS and
# open descriptors are sampled every 5 s from /proc. Prints the samples at
# the start, the middle and the end and writes bench/results/soak.json.
#
#   bench/soak.sh [BUILD]      CYCLES=… MINUTES=… POPULATION=… to change the load
set -uo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
CYCLES=${CYCLES:-100000}
MINUTES=${MINUTES:-10}
POPULATION=${POPULATION:-200}
mkdir -p bench/results
log=$(mktemp) samples=$(mktemp) load=$(mktemp)
server_pid= load_pid=
cleanup() {
  [ -n "$load_pid" ] && kill "$load_pid" 2>/dev/null
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null
  wait 2>/dev/null
  rm -f "$log" "$samples" "$load"
}
trap cleanup EXIT
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

"$BUILD/weft" serve --port 0 --mode echo --ping-interval 10000 >"$log" 2>/dev/null &
server_pid=$!
for _ in $(seq 100); do grep -q '^listening' "$log" && break; sleep 0.05; done
port=$(sed -n 's#^listening on ws://[^:]*:\([0-9]*\)/.*#\1#p' "$log")
[ -n "$port" ] || { echo "soak: the server did not start" >&2; exit 1; }

node bench/soak.js --port "$port" --cycles "$CYCLES" --minutes "$MINUTES" \
  --population "$POPULATION" >"$load" &
load_pid=$!
t0=$SECONDS
while kill -0 "$load_pid" 2>/dev/null; do
  rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$server_pid/status")
  fds=$(ls "/proc/$server_pid/fd" | wc -l)
  echo "$((SECONDS - t0)) $rss $fds" >>"$samples"
  sleep 5
done
wait "$load_pid"
load_pid=
rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$server_pid/status")
fds=$(ls "/proc/$server_pid/fd" | wc -l)
echo "$((SECONDS - t0)) $rss $fds" >>"$samples"

python3 - "$samples" "$load" <<'EOF'
import json, sys
samples = [tuple(map(int, l.split())) for l in open(sys.argv[1]) if l.strip()]
phases = [json.loads(l) for l in open(sys.argv[2]) if l.startswith("{")]
pick = {"start": samples[0], "middle": samples[len(samples) // 2], "end": samples[-1]}
for name, (t, rss, fds) in pick.items():
    print(f"soak {name:>6}: t={t:5d} s  RSS {rss / 1024:7.1f} MiB  fds {fds}")
for p in phases:
    print("soak " + json.dumps(p))
json.dump({"samples": [{"t": t, "rss_kb": r, "fds": f} for t, r, f in samples], "phases": phases},
          open("bench/results/soak.json", "w"), indent=1)
print("wrote bench/results/soak.json")
EOF
