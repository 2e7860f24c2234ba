#!/usr/bin/env bash
# Memory per idle connection and connect+handshake rate. For each server
# (the C server; uWebSockets when bench/peers/uws.sh built it; the Node
# peers bench/peers/ws_server.js and bench/peers/primus_server.js when they
# exist; MEM_SERVERS picks some of them) pinned to CPU 0, the load
# generator build/bench/idle_load pinned to CPU 1 opens 1000, 5000, then
# 10000 idle WebSocket connections; at 0 and at each step the server's
# VmRSS (/proc/PID/status) and Pss / private memory (/proc/PID/smaps_rollup)
# are read. Bytes per connection is the least-squares slope over the four
# points; 100k / 1M estimates are intercept + slope * N. RUNS repetitions
# (default 5), each running every server once in turn (alternating); the
# figures of each run and the medians go to bench/results/memory.json (OUT).
# A first step of one connection (WARM=1, the default) gives a second slope,
# "warm", over 1/1k/5k/10k: the first connection's one-time costs (code
# pages faulted in, such as libcrypto's SHA-1 and provider tables, ~2 MB for
# weft; lazily built tables) are not per-connection memory, yet a step between
# 0 and 1k adds about step/15,500 B to the 0/1k/5k/10k slope. Both are kept.
# Socket buffers live in the kernel and are not in any of these figures.
set -uo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
RUNS=${RUNS:-5}
STAGES=${STAGES:-1000,5000,10000}
SETTLE=${SETTLE:-1}  # seconds between reaching a step and reading memory
NOFILE=${NOFILE:-20000}
MEM_SERVERS=${MEM_SERVERS:-"weft-c weft-c-lean uws ws primus"}
LOAD_ARGS=${LOAD_ARGS:-} # more idle_load options, e.g. "--bust 1" (a `_primuscb` in every URL)
ONLY=${ONLY:-} # e.g. ONLY=weft-c: only these of MEM_SERVERS (comma-separated)
WARM=${WARM:-1}
LOAD_STAGES=$STAGES
[ "$WARM" = 1 ] && LOAD_STAGES=1,$STAGES
out=${OUT:-bench/results/memory.json}
mkdir -p "$(dirname "$out")"
raw=$(mktemp)
pin() { if command -v taskset >/dev/null; then taskset -c "$1" "${@:2}"; else "${@:2}"; fi; }

server_pid= load_pid= log=
cleanup() {
  [ -n "$load_pid" ] && kill "$load_pid" 2>/dev/null
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null
  wait 2>/dev/null || true
  [ -n "$log" ] && rm -f "$log"
  rm -f "$raw"
}
trap cleanup EXIT

if [ ! -x "$BUILD/bench/idle_load" ] || [ ! -x "$BUILD/weft" ]; then
  echo "memory: build first (cmake -S . -B $BUILD && cmake --build $BUILD)" >&2
  exit 1
fi

# name|command (run under prlimit, pinned to CPU 0)
. bench/hosts.sh # UWS_SERVER
servers=()
for name in $MEM_SERVERS; do
  case $name in
    weft-c) servers+=("weft-c|$BUILD/weft serve --mode echo --ping-interval 0 --port 0") ;;
    # the same, keeping nothing of the request after the connection event
    weft-c-lean) servers+=("weft-c-lean|$BUILD/weft serve --mode echo --ping-interval 0 --port 0 --drop-headers --drop-url") ;;
    uws)
      if [ -x "$UWS_SERVER" ]; then servers+=("uws|$UWS_SERVER --mode echo --port 0"); else
        echo "memory: skipping uws (bash bench/peers/uws.sh builds it)"
      fi ;;
    ws | primus)
      f=bench/peers/${name}_server.js
      if [ -f "$f" ] && command -v node >/dev/null; then
        servers+=("$name|node $f --mode echo --port 0")
      else
        echo "memory: skipping $name ($f missing)"
      fi ;;
  esac
done

# kB figures of one process: rss pss private
mem_of() {
  local pid=$1 rss pss priv
  rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status" 2>/dev/null)
  pss=$(awk '/^Pss:/ {print $2}' "/proc/$pid/smaps_rollup" 2>/dev/null)
  priv=$(awk '/^Private_(Clean|Dirty):/ {s += $2} END {print s + 0}' "/proc/$pid/smaps_rollup" 2>/dev/null)
  echo "${rss:-0} ${pss:-0} ${priv:-0}"
}

# start_server, stop_server
. bench/server.sh

for run in $(seq "$RUNS"); do
  for entry in "${servers[@]}"; do
    name=${entry%%|*} cmd=${entry#*|}
    [ -z "$ONLY" ] || [[ ",$ONLY," == *",$name,"* ]] || continue
    if ! start_server "$cmd"; then
      echo "memory: $name did not start: $(tail -3 "$log" | tr '\n' ' ')"
      echo "$name $run skip 0 0 0 0 0 0 0 0" >>"$raw"
      stop_server
      rm -f "$log"
      continue
    fi
    sleep "$SETTLE"
    comm=$(cat "/proc/$server_pid/comm" 2>/dev/null)
    echo "$name $run point 0 $(mem_of "$server_pid") 0 0 0 0 0" >>"$raw"
    echo "$name $run loadavg $(cut -d' ' -f1-3 /proc/loadavg) 0 0 0 0 0" >>"$raw"
    errf=$(mktemp)
    coproc LOAD { pin 1 timeout 300 "$BUILD/bench/idle_load" --port "$port" --stages "$LOAD_STAGES" \
      --timeout 120 --hold 120 ${LOAD_ARGS:-} 2>"$errf"; }
    load_pid=$LOAD_PID
    ok=1
    nstages=$(echo "$LOAD_STAGES" | tr ',' '\n' | wc -l)
    for _ in $(seq "$nstages"); do
      if ! read -r -t 150 -u "${LOAD[0]}" word open rate failed lost secs cpu; then
        ok=0
        break
      fi
      [ "$word" = ready ] || { ok=0; break; }
      sleep "$SETTLE"
      echo "$name $run point $open $(mem_of "$server_pid") $rate ${failed#failed=} ${lost#lost=} ${secs#connect_s=} ${cpu#cpu_s=}" >>"$raw"
      printf 'memory %-12s run %d (%s): %6d conns  %s kB RSS  %6s conn/s  %s %s\n' "$name" "$run" "$comm" \
        "$open" "$(mem_of "$server_pid" | cut -d' ' -f1)" "$rate" "$failed" "$lost"
      echo >&"${LOAD[1]}"
    done
    exec {LOAD[1]}>&- 2>/dev/null || true
    wait "$load_pid" 2>/dev/null
    load_pid=
    [ $ok -eq 1 ] || echo "memory: $name run $run: load generator stopped early: $(tr '\n' ' ' <"$errf")"
    grep -v '^idle_load: done' "$errf" | sed "s/^/memory: $name run $run: /" | head -5
    rm -f "$errf"
    alive=1
    kill -0 "$server_pid" 2>/dev/null || alive=0
    errs=$(grep -ciE 'error|fail|refused|too many|EMFILE|abort' "$log" || true)
    echo "$name $run server $alive $errs 0 0 0 0 0 0 0" >>"$raw"
    stop_server
    rm -f "$log"
    log=
  done
done

cmds=$(for entry in "${servers[@]}"; do echo "${entry%%|*}|${entry#*|}"; done)
CMDS=$cmds python3 - "$raw" "$out" "$STAGES" "$RUNS" <<'EOF'
import json, statistics, sys, os, platform
raw, out, stages, runs = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
data = {}
for line in open(raw):
    f = line.split()
    if len(f) < 11:
        continue
    name, run, kind = f[0], int(f[1]), f[2]
    d = data.setdefault(name, {}).setdefault(run, {"points": [], "server_alive": None, "server_log_errors": None})
    if kind == "point":
        conns, rss, pss, priv, rate, failed, lost, secs, cpu = map(float, f[3:12])
        d["points"].append({"conns": int(conns), "rss_kb": int(rss), "pss_kb": int(pss),
                            "private_kb": int(priv), "conn_per_s": rate,
                            "failed": int(failed), "lost": int(lost),
                            "connect_s": secs, "load_cpu_s": cpu})
    elif kind == "loadavg":
        d["loadavg_before"] = [float(x) for x in f[3:6]]
    elif kind == "server":
        d["server_alive"] = f[3] == "1"
        d["server_log_errors"] = int(f[4])
    elif kind == "skip":
        d["skipped"] = True

def fit(xs, ys):
    n = len(xs)
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    if sxx == 0:
        return None, None
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sxx
    return slope, my - slope * mx

def med(v):
    v = [x for x in v if x is not None]
    return statistics.median(v) if v else None

results = []
for name, rs in data.items():
    per_run = []
    for run, d in sorted(rs.items()):
        pts = d["points"]
        r = {"run": run, "points": pts, "server_alive_after": d["server_alive"],
             "server_log_error_lines": d["server_log_errors"],
             "loadavg_before": d.get("loadavg_before")}
        # the classic slope over 0 and the stages; the warm one from the
        # one-connection step on (when it was taken)
        cold = [p for p in pts if p["conns"] != 1]
        warm = [p for p in pts if p["conns"] >= 1]
        if len(warm) >= 2 and len(warm) < len(pts):
            s, b = fit([p["conns"] for p in warm], [p["rss_kb"] * 1024 for p in warm])
            r["rss_bytes_per_conn_warm"] = s
            r["rss_intercept_bytes_warm"] = b
        pts = cold
        if len(pts) >= 2:
            xs = [p["conns"] for p in pts]
            for key in ("rss", "pss", "private"):
                s, b = fit(xs, [p[key + "_kb"] * 1024 for p in pts])
                r[key + "_bytes_per_conn"] = s
                r[key + "_intercept_bytes"] = b
            last = pts[-1]
            r["max_conns"] = last["conns"]
            r["conn_per_s_to_max"] = last["conn_per_s"]
            r["failed"] = last["failed"]
            r["lost"] = last["lost"]
            # the load generator's CPU time over its connecting time (start-up included)
            r["load_cpu"] = last["load_cpu_s"] / last["connect_s"] if last["connect_s"] else None
        per_run.append(r)
    ok = [r for r in per_run if "rss_bytes_per_conn" in r]
    cmd = dict(l.split("|", 1) for l in os.environ.get("CMDS", "").splitlines() if "|" in l).get(name, "")
    entry = {"server": name, "case": "memory", "runs": len(per_run), "ok_runs": len(ok),
             "command": cmd.replace(os.getcwd() + "/", "") + "; build/bench/idle_load --port PORT --stages " + stages,
             "stages": [0] + [int(x) for x in stages.split(",")], "per_run": per_run}
    if ok:
        for key in ("rss", "pss", "private"):
            vals = [r[key + "_bytes_per_conn"] for r in ok]
            entry[key + "_bytes_per_conn"] = {"median": med(vals), "min": min(vals), "max": max(vals)}
            b = med([r[key + "_intercept_bytes"] for r in ok])
            entry[key + "_intercept_bytes"] = b
        wv = [r["rss_bytes_per_conn_warm"] for r in ok if "rss_bytes_per_conn_warm" in r]
        if wv:
            entry["rss_bytes_per_conn_warm"] = {"median": med(wv), "min": min(wv), "max": max(wv)}
            sw = med(wv)
            bw = med([r["rss_intercept_bytes_warm"] for r in ok if "rss_intercept_bytes_warm" in r])
            entry["estimate_rss_bytes_warm"] = {"100k": bw + sw * 1e5, "1M": bw + sw * 1e6}
        s = entry["rss_bytes_per_conn"]["median"]
        b = entry["rss_intercept_bytes"]
        entry["estimate_rss_bytes"] = {"100k": b + s * 1e5, "1M": b + s * 1e6}
        entry["estimate_rss_bytes_slope_only"] = {"100k": s * 1e5, "1M": s * 1e6}
        rates = [r["conn_per_s_to_max"] for r in ok]
        entry["conn_per_s"] = {"median": med(rates), "min": min(rates), "max": max(rates),
                               "to_conns": ok[0]["max_conns"]}
        entry["load_cpu"] = med([r.get("load_cpu") for r in ok])
        entry["loadavg_before"] = [r.get("loadavg_before") for r in ok]
        # per step medians, for tables and plots
        steps = {}
        for r in ok:
            for p in r["points"]:
                steps.setdefault(p["conns"], []).append(p)
        entry["steps"] = [{"conns": c, "rss_kb": med([p["rss_kb"] for p in ps]),
                           "pss_kb": med([p["pss_kb"] for p in ps]),
                           "private_kb": med([p["private_kb"] for p in ps])}
                          for c, ps in sorted(steps.items())]
        entry["failed_total"] = sum(r["failed"] for r in ok)
        entry["lost_total"] = sum(r["lost"] for r in ok)
    results.append(entry)
meta = {"harness": "build/bench/idle_load (libuv, bind to 127.0.0.1-8, 200 connects in flight), "
                   "server on CPU 0, load on CPU 1; server under prlimit --nofile",
        "nproc": os.cpu_count(), "kernel": platform.release()}
json.dump({"meta": meta, "results": results}, open(out, "w"), indent=1)
for e in results:
    if "rss_bytes_per_conn" in e:
        print("memory %-12s %7.0f B/conn RSS (min %.0f, max %.0f), %7.0f B/conn private, %6.0f conn/s, "
              "est. 100k %.1f MiB, 1M %.1f MiB" % (
              e["server"], e["rss_bytes_per_conn"]["median"], e["rss_bytes_per_conn"]["min"],
              e["rss_bytes_per_conn"]["max"], e["private_bytes_per_conn"]["median"],
              e["conn_per_s"]["median"], e["estimate_rss_bytes"]["100k"] / 2**20,
              e["estimate_rss_bytes"]["1M"] / 2**20))
        if "rss_bytes_per_conn_warm" in e:
            print("memory %-12s %7.0f B/conn RSS warm (1/1k/5k/10k; min %.0f, max %.0f), est. 1M %.1f MiB" % (
                  e["server"], e["rss_bytes_per_conn_warm"]["median"], e["rss_bytes_per_conn_warm"]["min"],
                  e["rss_bytes_per_conn_warm"]["max"], e["estimate_rss_bytes_warm"]["1M"] / 2**20))
    else:
        print("memory %-12s no complete run" % e["server"])
print("wrote", out)
EOF
