#!/usr/bin/env bash
# Builds bench/REPORT.md from whatever bench/results/*.json exist: first the
# one table of every peer (bench/table.py), then the sections of echo,
# broadcast, rooms, memory, the transports' peers and the rest, with PNG plots in bench/plots/ when gnuplot is there
# (installed on demand: apt-get install -y -qq gnuplot-nox; NO_INSTALL=1
# skips that). RESULTS=DIR reads another folder, REPORT=FILE writes another
# file. Nothing is measured here.
set -uo pipefail
cd "$(dirname "$0")/.."
mkdir -p bench/plots
plots=1
plot_note=
if ! command -v gnuplot >/dev/null; then
  if [ "${NO_INSTALL:-0}" != 1 ] && command -v apt-get >/dev/null; then
    echo "report: installing gnuplot-nox for the plots"
    if ! timeout 300 env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq gnuplot-nox >/dev/null 2>&1; then
      timeout 120 apt-get update -qq >/dev/null 2>&1 &&
        timeout 300 env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq gnuplot-nox >/dev/null 2>&1
    fi
  fi
  if ! command -v gnuplot >/dev/null; then
    plots=0
    plot_note="gnuplot is not installed and could not be installed; this report has no plots."
  fi
fi

PLOTS=$plots PLOT_NOTE=$plot_note python3 - <<'EOF'
import json, os, statistics, subprocess, datetime, platform, glob

R = os.environ.get("RESULTS", "bench/results")
P = "bench/plots"
REPORT = os.environ.get("REPORT", "bench/REPORT.md")
# plots only for the report of bench/results (a report of another folder
# would overwrite bench/plots)
plots = os.environ.get("PLOTS") == "1" and "RESULTS" not in os.environ
notes = []
if os.environ.get("PLOT_NOTE"):
    notes.append(os.environ["PLOT_NOTE"])

ALIAS = {"node-ws": "ws", "node-primus": "primus", "weft": "weft-c"}
ORDER = ["weft-c", "weft-c-lean", "weft-c-raw", "weft-c-msgpack", "weft-node", "weft-python", "weft-lua", "uws", "lws", "ws", "primus"]
LABEL = {"weft-c": "weft (C)", "weft-c-lean": "weft (C, --drop-headers --drop-url)", "weft-c-raw": "weft (C, raw)", "weft-c-msgpack": "weft (C, msgpack)", "weft-node": "weft (Node)", "weft-python": "weft (Python)", "weft-lua": "weft (Lua)", "ws": "Node ws", "primus": "Node Primus", "uws": "uWebSockets", "lws": "libwebsockets"}

def srv(name):
    return ALIAS.get(name, name)

def order(names):
    return sorted(set(names), key=lambda n: (ORDER.index(n) if n in ORDER else 99, n))

def load(name):
    p = os.path.join(R, name + ".json")
    if not os.path.exists(p):
        return None
    try:
        return json.load(open(p))
    except Exception as e:
        notes.append("%s could not be read (%s)." % (p, e))
        return None

def fmt(x, d=0):
    if x is None:
        return "–"
    return f"{x:,.{d}f}"

def ratio(a, b):
    if not a or not b:
        return "–"
    return f"{a / b:.2f}×"

def mib(b):
    return f"{b / 2**20:,.0f} MiB" if b < 10 * 2**30 else f"{b / 2**30:,.1f} GiB"

def cpu_model():
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"

def mem_total():
    try:
        for line in open("/proc/meminfo"):
            if line.startswith("MemTotal"):
                return f"{int(line.split()[1]) / 2**20:.1f} GiB"
    except OSError:
        pass
    return "unknown"

def gnuplot(script, name):
    if not plots:
        return None
    try:
        subprocess.run(["gnuplot"], input=script, text=True, check=True, timeout=60,
                       capture_output=True)
        return f"plots/{name}"
    except Exception as e:
        notes.append(f"plot {name} failed: {e}")
        return None

def bars(name, title, ylabel, rows, servers):
    """rows: [(case label, {server: (median, min, max)})] -> clustered bars with min-max."""
    if not rows or not plots:
        return None
    dat = os.path.join(P, name.replace(".png", ".dat"))
    with open(dat, "w") as f:
        f.write("# case " + " ".join(f"{s}_med {s}_min {s}_max" for s in servers) + "\n")
        for label, vals in rows:
            cols = []
            for s in servers:
                v = vals.get(s)
                cols += [str(v[0]), str(v[1]), str(v[2])] if v else ["NaN"] * 3
            f.write('"%s" %s\n' % (label, " ".join(cols)))
    plot = ", ".join(
        f"'{dat}' using {2 + 3 * i}:{3 + 3 * i}:{4 + 3 * i}:xtic(1) title '{LABEL.get(s, s)}'"
        for i, s in enumerate(servers))
    script = f"""set terminal pngcairo size 900,500 noenhanced
set output '{P}/{name}'
set title '{title}'
set ylabel '{ylabel}'
set style data histograms
set style histogram errorbars gap 2 lw 1
set style fill solid 0.8 border -1
set key top right
set yrange [0:*]
set grid ytics
set format y '%.1s%c'
plot {plot}
"""
    return gnuplot(script, name)

out = []
w = out.append
now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
w("# weft benchmark report\n")
w(f"Generated {now} by `bench/report.sh` from `bench/results/*.json` "
  "(written by `bench/echo.sh`, `bench/broadcast.sh`, `bench/rooms.sh`, `bench/memory.sh`, `bench/engineio.sh`, "
  "`bench/fasttcp.sh`, `bench/vibe.sh`, `bench/cluster.sh`, `bench/ext.sh`, `bench/profile.sh`; "
  "`make bench` runs them all, `bench/run.sh`).\n")
w("## Machine and harness\n")
w(f"- Machine: {os.cpu_count()} CPUs (`nproc`), CPU model `{cpu_model()}`, {mem_total()} RAM, "
  f"Linux {platform.release()}. Loopback only (127.0.0.1–127.0.0.8).")
w("- Pinning: the server under test on CPU 0, the load generator on CPU 1 (`taskset`). "
  "With only two CPUs the load generator can itself be the limit: its CPU use is reported where the "
  "load tool measures it (`load_cpu`, fraction of one CPU), and any other process on the machine "
  "during a run competes for the same two CPUs.")
w("- Load generators are C programs on libuv written here (`bench/*.c`): `echo_load` keeps a fixed "
  "number of messages in flight per connection (pipelining, see `pipeline`/`inflight` below) and "
  "answers every echo with a new message; `bcast_load` has a few senders whose messages the server "
  "fans out to all clients; `idle_load` opens idle WebSocket connections with at most 200 connects+handshakes in flight, "
  "source addresses spread over 127.0.0.1–8.")
w("- Servers: `build/weft serve --ping-interval 0` (heartbeats off); the peers `bench/peers/ws_server.js` "
  "(Node `ws`) and `bench/peers/primus_server.js` (Primus on `ws`, heartbeat off) doing the same thing. "
  "Every case runs several times; the tables give the median and the spread (min–max).")
w("- Not directly comparable with figures measured with other load generators (e.g. uWebSockets' own), "
  "whose pipelining depth differs.\n")

# ---------------- the one table
table = subprocess.run(["python3", "bench/table.py", R], capture_output=True, text=True)
if table.returncode == 0 and table.stdout.startswith("|"):
    w("## Every peer in one table\n")
    w("weft beside each peer in the same run: within a repetition every server of a case runs once, "
      "in turn, so repetition i of weft and of its peer ran side by side; the ratio is weft / peer of "
      "each repetition and its median (for memory lower is better, so a ratio below 1 favours weft). "
      "Figures are min–median–max over the repetitions. uWebSockets is built by "
      "`bench/peers/uws.sh` (v20.79.0 and the uSockets commit it pins) around "
      "`bench/peers/uws_server.cpp`; the sections below give the details of each benchmark.\n")
    w(table.stdout)
elif table.returncode != 0:
    notes.append("bench/table.py failed: " + table.stderr.strip()[-300:])

# ---------------- echo
echo = load("echo")
if echo:
    w("## Echo throughput\n")
    w("Messages echoed per second (median of the runs; min–max in brackets).\n")
    cases = {}
    for e in echo:
        cases.setdefault((e.get("conns"), e.get("size"), e.get("pipeline", 8)), {})[srv(e["server"])] = e
    servers = order(s for c in cases.values() for s in c)
    extra = any("pipeline" in e for e in echo)
    hdr = "| conns × size, in flight | " + " | ".join(LABEL.get(s, s) for s in servers)
    ratios = [(a, b) for a, b in (("weft-c", "uws"), ("weft-c-raw", "uws"), ("weft-c", "ws"),
                                  ("weft-c", "primus"), ("weft-node", "ws"))
              if a in servers and b in servers]
    # A row kept from an earlier run (bench/echo.sh with SERVERS= a subset)
    # carries a "note"; a ratio is printed only between rows of one run.
    older = {srv(e["server"]): e["note"] for e in echo if e.get("note")}
    ratios = [(a, b) for a, b in ratios if (a in older) == (b in older)]
    hdr += "".join(f" | {LABEL[a]} / {LABEL[b]}" for a, b in ratios) + " |"
    w(hdr)
    w("|" + "---|" * (1 + len(servers) + len(ratios)))
    rows = []
    for (conns, size, pipe), by in sorted(cases.items()):
        cells = []
        for s in servers:
            e = by.get(s)
            if e:
                c = f"{fmt(e['median'])} ({fmt(e['min'])}–{fmt(e['max'])})"
                if e.get("load_cpu") is not None:
                    c += f", load CPU {e['load_cpu']:.2f}"
                cells.append(c)
            else:
                cells.append("–")
        rc = [ratio(by.get(a, {}).get("median"), by.get(b, {}).get("median")) for a, b in ratios]
        w(f"| {conns} × {size} B, {pipe} | " + " | ".join(cells + rc) + " |")
        rows.append((f"{conns}x{size}B/{pipe}", {s: (by[s]["median"], by[s]["min"], by[s]["max"]) for s in by}))
    pipes = sorted({e.get("pipeline", 8) for e in echo})
    w(f"\nPipelining: {', '.join(map(str, pipes))} messages in flight per connection. "
      f"Runs per case: {', '.join(sorted({str(e.get('runs', '?')) for e in echo}))}.\n")
    for note in sorted(set(older.values())):
        w("Not re-run with the others: " + ", ".join(LABEL.get(k, k) for k, v in older.items() if v == note)
          + f" ({note}).\n")
    img = bars("echo.png", "Echo throughput (median, min-max)", "messages/s", rows, servers)
    if img:
        w(f"![echo throughput]({img})\n")

# ---------------- broadcast
bc = load("broadcast")
if bc:
    w("## Broadcast fan-out\n")
    w("Deliveries per second (messages received by all clients together), median (min–max); "
      "latency percentiles from send to receipt; `load CPU` is the load generator's CPU use "
      "(fraction of one CPU).\n")
    cases = {}
    for e in bc:
        key = (e.get("clients"), e.get("senders"), e.get("size"), e.get("inflight"))
        cases.setdefault(key, {})[srv(e["server"])] = e
    servers = order(s for c in cases.values() for s in c)
    ratios = [s for s in ("uws", "ws", "primus") if s in servers and "weft-c" in servers]
    w("| clients | senders | size | in flight | server | deliveries/s | p50 ms | p99 ms | load CPU |"
      + "".join(f" weft / {LABEL[s]} |" for s in ratios))
    w("|" + "---|" * (9 + len(ratios)))
    rows = []
    for key, by in sorted(cases.items()):
        for s in servers:
            e = by.get(s)
            if not e:
                continue
            rc = [ratio(by["weft-c"]["median"], by[r]["median"]) if s == "weft-c" and r in by else ""
                  for r in ratios]
            w(f"| {key[0]} | {key[1]} | {key[2]} B | {key[3]} | {LABEL.get(s, s)} | "
              f"{fmt(e['median'])} ({fmt(e['min'])}–{fmt(e['max'])}) | {fmt(e.get('p50_ms'), 1)} | "
              f"{fmt(e.get('p99_ms'), 1)} | {fmt(e.get('load_cpu'), 2)} |" + "".join(f" {x} |" for x in rc))
        rows.append((f"{key[0]} clients", {s: (by[s]["median"], by[s]["min"], by[s]["max"]) for s in by}))
    w("")
    img = bars("broadcast.png", "Broadcast deliveries/s (median, min-max)", "deliveries/s", rows, servers)
    if img:
        w(f"![broadcast]({img})\n")

# ---------------- rooms fan-out
rm_ = load("rooms")
if rm_:
    w("## Rooms fan-out beside uWebSockets' topics\n")
    w("`bench/rooms.sh`: client i in room i % R (it says `?room=K` in its upgrade URL), the senders "
      "are clients 0..S-1 (different rooms) and each keeps `in flight` messages whose fan-out is "
      "incomplete; a message is complete when every member of the sender's room, the sender "
      "included, got it. weft: `bench/ext/rooms_server.c` (`weft_rooms_join`, `weft_rooms_write` to "
      "the sender's room, JSON parser); uWebSockets: `bench/peers/uws_server.cpp --mode rooms` "
      "(`subscribe(\"room<K>\")`, `App::publish`). Every client is checked first to get exactly "
      "its room's messages (`bcast_load --verify`). Deliveries per second (every member's copy, the "
      "sender's too), median (min–max) and each repetition (weft and uWebSockets alternate); "
      "latency and load CPU of the median run; deliveries per server CPU-second, median of the "
      "repetitions (steadier than deliveries/s when other processes take CPU time).\n")
    cases = {}
    for e in rm_:
        key = (e.get("clients"), e.get("rooms"), e.get("senders"), e.get("size"), e.get("inflight"))
        cases.setdefault(key, {})[srv(e["server"])] = e
    servers = order(s for c in cases.values() for s in c)
    both = "weft-c" in servers and "uws" in servers
    w("| clients | rooms | senders | size | in flight | server | deliveries/s | per repetition | p50 ms "
      "| p99 ms | load CPU | per server CPU-s |"
      + (" weft / uWebSockets per repetition (median) |" if both else ""))
    w("|" + "---|" * (12 + both))
    cmds = []
    for key, by in sorted(cases.items()):
        for s in servers:
            e = by.get(s)
            if not e:
                continue
            if e.get("command") and e["command"] not in cmds:
                cmds.append(e["command"])
            rc = ""
            if both:
                rc = " |"
                if s == "weft-c" and "uws" in by:
                    wr, ur = by["weft-c"]["per_run"], by["uws"]["per_run"]
                    per = [a / b for a, b in zip(wr, ur) if b]
                    if per:
                        rc = (" " + ", ".join(f"{r:.2f}" for r in per)
                              + f" (**{statistics.median(per):.2f}×**) |")
            w(f"| {key[0]} | {key[1]} | {key[2]} | {key[3]} B | {key[4]} | {LABEL.get(s, s)} | "
              f"{fmt(e['median'])} ({fmt(e['min'])}–{fmt(e['max'])}) | "
              f"{', '.join(fmt(x) for x in e.get('per_run', []))} | {fmt(e.get('p50_ms'), 2)} | "
              f"{fmt(e.get('p99_ms'), 2)} | {fmt(e.get('load_cpu'), 2)} | "
              f"{fmt(statistics.median(e['per_run_cpu'])) if e.get('per_run_cpu') else '–'} |" + rc)
    w("\nCommands (server; load generator, pinned to CPUs 0 and 1):\n")
    for c in cmds:
        w(f"- `{c}`")
    w("")

# ---------------- memory + connect rate
mem = load("memory")
if mem:
    meta = mem.get("meta", {}) if isinstance(mem, dict) else {}
    res = mem["results"] if isinstance(mem, dict) else mem
    res = [dict(e, server=srv(e["server"])) for e in res]
    res.sort(key=lambda e: ORDER.index(e["server"]) if e["server"] in ORDER else 99)
    by = {e["server"]: e for e in res}
    w("## Memory per idle connection\n")
    w("`bench/memory.sh`: the server's memory read at 0, 1000, 5000 and 10,000 idle WebSocket "
      "connections (heartbeats off, nothing sent after the upgrade), 1 s after each step is reached. "
      "Bytes per connection is the least-squares slope of the four points; the estimates are "
      "intercept + slope × N, an extrapolation, not a measurement. RSS is `VmRSS` from "
      "`/proc/PID/status`; Pss and private (Private_Clean + Private_Dirty) come from "
      "`/proc/PID/smaps_rollup`. Kernel socket buffers are not in any of these figures. "
      "Medians over the runs, min–max in brackets. \"warm\" is the RSS slope over 1, 1000, 5000 "
      "and 10,000 connections (a first step of one connection): the first handshake's one-time "
      "costs (code pages faulted in — for weft ~2 MB of libcrypto — and lazily built tables) "
      "are not per-connection memory, yet a step between the 0 and 1000 points adds about "
      "step/15,500 B to the 0/1k/5k/10k slope; the 1M estimate is the warm fit's.\n")
    target = 450  # issue #23, scope 2 (uWebSockets: 272 B)
    w("| server | RSS B/conn | warm RSS B/conn | Pss B/conn | private B/conn | RSS at 0 / 10k | est. RSS 100k | est. RSS 1M (warm) | ≤ 450 B/conn? | runs ok |")
    w("|---|---|---|---|---|---|---|---|---|---|")
    for e in res:
        if "rss_bytes_per_conn" not in e:
            w(f"| {LABEL.get(e['server'], e['server'])} | no complete run | | | | | | | | 0/{e.get('runs')} |")
            continue
        r, p, q = e["rss_bytes_per_conn"], e["pss_bytes_per_conn"], e["private_bytes_per_conn"]
        rw = e.get("rss_bytes_per_conn_warm")
        warm = f"{fmt(rw['median'])} ({fmt(rw['min'])}–{fmt(rw['max'])})" if rw else "–"
        est = e.get("estimate_rss_bytes_warm", e["estimate_rss_bytes"])
        steps = [st for st in e.get("steps", []) if st["conns"] != 1]
        ends = f"{fmt(steps[0]['rss_kb'])} kB / {fmt(steps[-1]['rss_kb'])} kB" if steps else "–"
        ok = "yes" if (rw or r)["median"] <= target else "no"
        w(f"| {LABEL.get(e['server'], e['server'])} | {fmt(r['median'])} ({fmt(r['min'])}–{fmt(r['max'])}) | "
          f"{warm} | {fmt(p['median'])} | {fmt(q['median'])} | {ends} | {mib(est['100k'])} | "
          f"{mib(est['1M'])} | {ok} | {e['ok_runs']}/{e['runs']} |")
    w("")
    if "weft-c" in by and "rss_bytes_per_conn" in by["weft-c"]:
        wb = by["weft-c"]["rss_bytes_per_conn"]["median"]
        parts = []
        for s in ("uws", "ws", "primus"):
            if s in by and "rss_bytes_per_conn" in by[s]:
                parts.append(f"{LABEL[s]} uses {by[s]['rss_bytes_per_conn']['median'] / wb:.1f}× "
                             f"weft's RSS per idle connection")
        ww = by["weft-c"].get("rss_bytes_per_conn_warm", {}).get("median", wb)
        verdict = "meets" if ww <= target else "misses"
        w(f"weft: {fmt(wb)} B of RSS per idle connection ({fmt(ww)} B warm), which {verdict} issue #23's "
          f"target of ≤ 450 B at 10k connections (uWebSockets: 272 B; what each byte is: "
          f"docs/decisions.md #29)" + ("; " + "; ".join(parts) if parts else "") + ".\n")
        lean = by.get("weft-c-lean", {}).get("rss_bytes_per_conn_warm", {}).get("median")
        if lean:
            w(f"weft keeping nothing of the request after the connection event (`kept_headers: []`, "
              f"`keep_url: false`; `weft serve --drop-headers --drop-url`, decisions #39 and #40): {fmt(lean)} B "
              f"warm, which {'meets' if lean <= target else 'misses'} the target; the default keeps "
              f"every header for `spark.headers`, as Primus does, in one copy per server for heads that "
              f"differ only in their Sec-WebSocket-Key (decision #41; `idle_load` sends a random key "
              f"on each connection).\n")
        bad = [(e["server"], e.get("failed_total", 0), e.get("lost_total", 0)) for e in res
               if e.get("failed_total") or e.get("lost_total")]
        w("Failed connects/handshakes and connections lost while idle (all runs): " +
          (", ".join(f"{LABEL.get(s, s)} {f} failed, {l} lost" for s, f, l in bad) if bad else "none") + ".\n")
    # plot: RSS against connections
    if plots and any(e.get("steps") for e in res):
        dats = []
        for i, e in enumerate(res):
            if not e.get("steps"):
                continue
            dat = os.path.join(P, f"memory_{e['server']}.dat")
            with open(dat, "w") as f:
                for st in e["steps"]:
                    f.write(f"{st['conns']} {st['rss_kb'] / 1024:.3f}\n")
            s = e["rss_bytes_per_conn"]["median"]
            b = e["rss_intercept_bytes"]
            dats.append(f"'{dat}' using 1:2 with linespoints lw 2 lc {i + 1} title '{LABEL.get(e['server'], e['server'])} "
                        f"({s:.0f} B/conn)', ({b} + {s} * x) / 1048576 with lines dt 2 lc {i + 1} notitle")
        img = gnuplot(f"""set terminal pngcairo size 900,500 noenhanced
set output '{P}/memory.png'
set title 'Server RSS against idle connections (median of runs; dashed: least-squares fit)'
set xlabel 'idle connections'
set ylabel 'RSS (MiB)'
set key top left
set grid
set xrange [0:*]
set yrange [0:*]
plot {', '.join(dats)}
""", "memory.png")
        if img:
            w(f"![memory per connection]({img})\n")

    w("## Connect + handshake rate\n")
    w("Connections per second to reach 10,000 open WebSocket connections (TCP connect + HTTP upgrade), "
      "as measured by `idle_load` during the memory runs: open connections divided by the time spent "
      "connecting (the pauses at 1000 and 5000 to read memory excluded), 200 in flight at a time. "
      "Median (min–max).\n")
    ratios = [s for s in ("uws", "ws", "primus") if s in by and "conn_per_s" in by[s]]
    w("| server | conn/s to 10k | load generator CPU |" + "".join(f" weft / {LABEL[s]} |" for s in ratios))
    w("|---|---|---|" + "---|" * len(ratios))
    rows = []
    for e in res:
        if "conn_per_s" not in e:
            continue
        c = e["conn_per_s"]
        rc = [ratio(c["median"], by[s]["conn_per_s"]["median"]) if e["server"] == "weft-c" else ""
              for s in ratios]
        w(f"| {LABEL.get(e['server'], e['server'])} | {fmt(c['median'])} ({fmt(c['min'])}–{fmt(c['max'])}) | "
          f"{fmt(e.get('load_cpu'), 2)} |" + "".join(f" {x} |" for x in rc))
        rows.append((e["server"], c))
    w("")
    busy = [e for e in res if (e.get("load_cpu") or 0) >= 0.8]
    if busy:
        w("Client-bound: for " + ", ".join(LABEL.get(e["server"], e["server"]) for e in busy) +
          " the load generator used ≥ 0.8 of its CPU, so the rate measured is the client's limit and the "
          "server's own connect+handshake rate is at least that (a lower bound, and so are the ratios).\n")
    las = [la[0] for e in res for la in (e.get("loadavg_before") or []) if la]
    if las and max(las) > 1.0:
        w(f"Caution: the 1-minute load average before the memory runs was up to {max(las):.2f} on "
          f"{os.cpu_count()} CPUs, so other processes competed with the server and the load generator; "
          "the connect rates (not the memory slopes) are affected. Rerun `bash bench/memory.sh` on a "
          "quiet machine for figures to quote.\n")
    img = bars("connect.png", "Connect + handshake rate to 10k (median, min-max)", "connections/s",
               [("to 10k", {s: (c["median"], c["min"], c["max"]) for s, c in rows})], [s for s, _ in rows])
    if img:
        w(f"![connect rate]({img})\n")
    w("Load generator CPU: `idle_load`'s own CPU time (user + system, start-up included) over its "
      "connecting time, as a fraction of one CPU; near 1.0 would mean the client, not the server, "
      "limits the rate. A wide min–max here usually means another process was busy on the two CPUs "
      "during that run (load average before each run is in `memory.json`).\n")

# ---------------- beside uWebSockets
uws = load("uws")
if uws:
    w("## Beside uWebSockets, by hand (before `bench/peers/uws.sh`)\n")
    w("The figures of `results/uws.json`, measured by hand before uWebSockets became a peer of "
      "`make bench` (the table at the top supersedes them; the callgrind counts still hold for the "
      "code they measured). uWebSockets (its `examples/EchoServer.cpp`) and its own C load generator "
      "(`benchmarks/load_test.c`: one 32-byte text message in flight per connection), built "
      "locally from the fetched sources and not part of this repository, run beside weft in one "
      "run: server on CPU 0, load on CPU 1. weft serves `--parser raw` here (uWebSockets echoes "
      "bytes, it has no parser), and also `json`. `load_test` asks for `/`, so it was run against "
      "weft with that one string changed to `/primus`. `echo_load` is weft's pipelined load "
      "generator (8 in flight). Medians of the runs (min–max); msgs/s.\n")
    w("Besides msgs/s, each `echo_load` run records the server's own CPU time over the measured "
      "window (`/proc/PID/stat`, user and kernel): msgs per server CPU-second is the rate a "
      "saturated server would reach, so it compares the servers even when the load generator, "
      "not the server, was the limit.\n")
    groups = {}
    for r in uws:
        if r["tool"] == "callgrind":
            continue
        res = r.get("result", {})
        v = r.get("msgs_per_s", res.get("msgs_per_s"))
        groups.setdefault((r["tool"], r["conns"], r["server"]), []).append((float(v or 0), res))
    label = {"uws": "uWebSockets", "weft-c-raw": "weft (C, raw)", "weft-c": "weft (C, json)"}

    def med_of(vals, key):
        xs = [res[key] for _, res in vals if res.get(key) is not None]
        return statistics.median(xs) if xs else None

    w("| load tool | conns × 32 B | server | msgs/s | load CPU | server CPU | server user / kernel ns per msg | msgs per server CPU-s | weft / uWS: msgs/s | per CPU-s |")
    w("|---|---|---|---|---|---|---|---|---|---|")
    for (tool, conns, server), vals in sorted(groups.items()):
        xs = sorted(v for v, _ in vals)
        med = statistics.median(xs)
        base = groups.get((tool, conns, "uws"))
        lc, sc = med_of(vals, "load_cpu"), med_of(vals, "server_cpu")
        un, kn, pc = med_of(vals, "user_ns"), med_of(vals, "sys_ns"), med_of(vals, "per_server_cpu")
        rel = relc = ""
        if server != "uws" and base:
            rel = f"{med / statistics.median(sorted(v for v, _ in base)):.2f}×"
            bpc = med_of(base, "per_server_cpu")
            if pc and bpc:
                relc = f"{pc / bpc:.2f}×"
        w(f"| {tool} | {conns} | {label.get(server, server)} | {fmt(med)} ({fmt(xs[0])}–{fmt(xs[-1])}) | "
          f"{fmt(lc, 2) if lc is not None else '–'} | {fmt(sc, 2) if sc is not None else '–'} | "
          f"{f'{fmt(un)} / {fmt(kn)}' if un is not None else '–'} | {fmt(pc) if pc else '–'} | {rel} | {relc} |")
    w("")
    w("Reading it: with 100 connections the two servers make the same syscalls per message "
      "(`strace -c`: one `read` and one `write` per connection per loop turn, ~0.125 of each per "
      "message), so the kernel's share, most of each message's cost on loopback, is alike; weft "
      "spends more instructions in user space (below). At 1000 connections weft's kernel time per "
      "message is higher and varies more from run to run than uWebSockets' with the same syscall "
      "counts: each connection's state (libuv handle, frame reader, write ring) is larger than "
      "uWebSockets' socket, and more of it is cold by the time its next read comes.\n")
    cg = [r for r in uws if r["tool"] == "callgrind"]
    if cg:
        w("User-space instructions per echoed message (callgrind, `echo_load` 100 conns × 32 B, "
          "8 in flight; kernel time is not in these):\n")
        w("| server | instructions per message |")
        w("|---|---|")
        for r in cg:
            w(f"| {label.get(r['server'], r['server'])} | {fmt(r['ir_per_msg'])} |")
        w("")

# ---------------- extensions
ext = load("ext")
if ext:
    w("## Extensions: emit+ack and rooms\n")
    w("`bench/ext.sh`: `build/bench/ext_bench` as the server (an emitter whose \"echo\" resolves with "
      "its argument; rooms, spark i in room i mod 100) on CPU 0, and as the load (weft C clients with "
      "emitters) on CPU 1. Median (min–max) of the runs.\n")
    w("| case | metric | median | min–max | runs |")
    w("|---|---|---|---|---|")
    for r in ext:
        w(f"| {r['case']} | {r['metric'].replace('_', ' ')} | {fmt(r['median'])} | "
          f"{fmt(r['min'])}–{fmt(r['max'])} | {r['runs']} |")
    w("")

# ---------------- profile
prof = load("profile")
if prof:
    w("## Where the time goes (callgrind)\n")
    w("`bench/profile.sh`: the C server under `valgrind --tool=callgrind`, driven by `echo_load` "
      "(100 conns × 32 B json, 8 in flight) and `bcast_load` (1000 clients, 8 senders). callgrind "
      "counts instructions, not seconds, so these figures do not depend on what else the machine "
      "was doing. User space only: the kernel's share (the syscalls) is not in them.\n")
    w("| case | units | instructions per unit | writes (send/sendmsg calls) per unit |")
    w("|---|---|---|---|")
    for r in prof:
        w(f"| {r['case']} | {fmt(r['units'])} {'deliveries' if r['unit'] == 'delivery' else r['unit'] + 's'} | {fmt(r['ir_per_unit'])} | "
          f"{r['writes_per_unit']} |")
    w("")
    for r in prof:
        w(f"Top functions by own instructions, {r['case']}:\n")
        w("| function | file / object | share |")
        w("|---|---|---|")
        for t in r["top"][:10]:
            where = t["file"] if t["file"] != "???" else t["object"]
            w(f"| `{t['function']}` | {where} | {t['percent']:.1f}% |")
        w("")

w("## Reference figures\n")
w("Measured earlier on machines of this project (design notes), not in this run: RSS per idle "
  "WebSocket connection uWebSockets 272 B, libwebsockets 4.1.6 ~5.7 KiB, Node ws ~6.2 KiB, Primus "
  "~11.9 KiB; connect rate uWebSockets ~13k/s, libwebsockets on libuv ~8.6k/s, Node ws ~6k/s.\n")
missing = [n for n in ("echo", "broadcast", "memory") if not os.path.exists(os.path.join(R, n + ".json"))]
if missing:
    notes.append("No results for: " + ", ".join(missing) + " (that benchmark was not run).")
if notes:
    w("## Notes\n")
    for n in notes:
        w(f"- {n}")
    w("")
open(REPORT, "w").write("\n".join(out))
print("wrote " + REPORT + (" with plots in bench/plots/" if plots else " (no plots)"))
EOF
