#!/usr/bin/env python3
"""The one table of bench/: weft beside every peer, from bench/results/*.json.

    python3 bench/table.py [--brief] [RESULTS_DIR]      (bench/results by default)

Prints Markdown: one row per (case, weft server, peer) with each side's
min–median–max over the repetitions, the ratio weft / peer of every
repetition (the scripts run weft and its peers in turn within a
repetition, so repetition i of both sides ran side by side), the median of
those ratios, and a reference to the commands that produced the figures,
listed under the table. Nothing is measured here; a result file that is
missing leaves its rows out. report.sh puts this table in REPORT.md;
--brief prints one line per row instead (bench/smoke.sh).
"""
import json
import os
import statistics
import sys

BRIEF = "--brief" in sys.argv[1:]
ARGS = [a for a in sys.argv[1:] if a != "--brief"]
R = ARGS[0] if ARGS else "bench/results"
LABEL = {"weft-c": "weft (C, json)", "weft-c-raw": "weft (C, raw)", "weft-c-msgpack": "weft (C, msgpack)",
         "weft-c-lean": "weft (C, nothing of the request kept)",
         "uws": "uWebSockets", "ws": "Node ws", "primus": "Primus", "weft": "weft",
         "fast-tcp": "npm fast-tcp", "reference": "Vibe reference", "sio": "Socket.IO + redis-adapter"}
rows = []      # (case, unit, weft label, peer label, weft runs, peer runs, lower_is_better, command ids)
commands = []  # every distinct command line, numbered in order of use


def load(name):
    p = os.path.join(R, name + ".json")
    try:
        return json.load(open(p)) if os.path.exists(p) else None
    except ValueError:
        return None


def cmd_id(cmd):
    if not cmd:
        return None
    if cmd not in commands:
        commands.append(cmd)
    return commands.index(cmd) + 1


def add(case, unit, wname, pname, w, p, lower=False):
    """w, p: dicts with "per_run" (list) and "command", or None."""
    if not w or not p or not w.get("per_run") or not p.get("per_run"):
        return
    if w.get("note") != p.get("note"):
        return  # rows of different runs (one kept from an earlier run): no per-repetition ratio
    ids = [i for i in (cmd_id(w.get("command")), cmd_id(p.get("command"))) if i]
    rows.append((case, unit, LABEL.get(wname, wname), LABEL.get(pname, pname),
                 [float(x) for x in w["per_run"]], [float(x) for x in p["per_run"]], lower, ids))


def echo_rows():
    data = load("echo") or []
    cases = {}
    for e in data:
        if "per_run" in e:
            cases.setdefault((e["conns"], e["size"], e.get("pipeline", 8)), {})[e["server"]] = e
    for (conns, size, pipe), by in sorted(cases.items()):
        size_s = f"{size // 1024} KiB" if size >= 1024 else f"{size} B"
        case = f"echo {conns} × {size_s}, {pipe} in flight"
        for peer, sides in (("uws", ("weft-c", "weft-c-raw")), ("ws", ("weft-c",)), ("primus", ("weft-c",))):
            for w in sides:
                add(case, "msgs/s", w, peer, by.get(w), by.get(peer))
        for w in ("weft-c", "weft-c-raw"):  # beside uWS, per server CPU-second as well
            cpu = {k: {"per_run": e.get("per_run_cpu"), "command": e.get("command")} for k, e in by.items()}
            add(case, "msgs per server CPU-s", w, "uws", cpu.get(w), cpu.get("uws"))


def broadcast_rows():
    cases = {}
    for e in load("broadcast") or []:
        if "per_run" in e:
            cases.setdefault((e["clients"], e["senders"]), {})[e["server"]] = e
    for (clients, senders), by in sorted(cases.items()):
        case = f"fan-out {senders} sender{'s' if senders > 1 else ''} → {clients:,} clients"
        for peer in ("uws", "ws", "primus"):
            add(case, "deliveries/s", "weft-c", peer, by.get("weft-c"), by.get(peer))


def rooms_rows():
    cases = {}
    for e in load("rooms") or []:
        if "per_run" in e:
            cases.setdefault((e["clients"], e["senders"], e["rooms"]), {})[e["server"]] = e
    for (clients, senders, nrooms), by in sorted(cases.items()):
        w, p = by.get("weft-c"), by.get("uws")
        # the load generator's CPU (fraction of one core): near 1.0 it is the limit
        lc = (f" (load CPU {w['load_cpu']:.2f} / {p['load_cpu']:.2f})"
              if w and p and w.get("load_cpu") is not None and p.get("load_cpu") is not None else "")
        case = f"rooms fan-out → {clients:,} clients, {senders} senders, {nrooms} rooms{lc}"
        add(case, "deliveries/s", "weft-c", "uws", w, p)
        cpu = [{"per_run": e.get("per_run_cpu"), "command": e.get("command")} if e else None for e in (w, p)]
        add(case, "deliveries per server CPU-s", "weft-c", "uws", cpu[0], cpu[1])


def memory_rows():
    mem = load("memory")
    if not mem:
        return
    by = {e["server"]: e for e in (mem["results"] if isinstance(mem, dict) else mem)}

    def side(e, key):
        if not e:
            return None
        runs = sorted(e.get("per_run", []), key=lambda r: r["run"])
        vals = [r.get(key) for r in runs]
        return {"per_run": vals, "command": e.get("command")} if vals and None not in vals else None
    top = max((e.get("stages") or [0])[-1] for e in by.values())
    for peer in ("uws", "ws", "primus"):
        add(f"idle memory per connection (RSS slope to {top:,})", "B/conn", "weft-c", peer,
            side(by.get("weft-c"), "rss_bytes_per_conn"), side(by.get(peer), "rss_bytes_per_conn"), lower=True)
    # warm: the slope over 1/1k/5k/10k (issue #23's figure); lean: nothing of
    # the request kept after the connection event (decision #39)
    for w in ("weft-c", "weft-c-lean"):
        add(f"idle memory per connection (warm RSS slope to {top:,})", "B/conn", w, "uws",
            side(by.get(w), "rss_bytes_per_conn_warm"), side(by.get("uws"), "rss_bytes_per_conn_warm"),
            lower=True)
    for peer in ("uws", "ws", "primus"):
        add(f"connect + upgrade rate to {top:,}", "conn/s", "weft-c", peer,
            side(by.get("weft-c"), "conn_per_s_to_max"), side(by.get(peer), "conn_per_s_to_max"))


def transport_rows():
    eio = load("engineio")
    if eio:
        s = eio.get("servers", {})
        w, p = s.get("weft", {}), s.get("primus", {})
        for mode in ("polling", "websocket"):
            case = f"engine.io echo over {mode}"
            if "load_cpu" in w.get(mode, {}) and "load_cpu" in p.get(mode, {}):
                case += f" (load generator CPU {w[mode]['load_cpu']:.2f} / {p[mode]['load_cpu']:.2f})"
            for key, unit in (("msgs_per_s", "msgs/s"), ("msgs_per_cpu_s", "msgs per server CPU-s")):
                if mode in w and mode in p:
                    add(case, unit, "weft", "Primus (engine.io)",
                        {"per_run": [r[key] for r in w[mode]["runs"]], "command": w.get("command")},
                        {"per_run": [r[key] for r in p[mode]["runs"]], "command": p.get("command")})
    ft = {}
    for e in load("fasttcp") or []:
        if "per_run" in e:
            ft.setdefault((e["mode"], e["scheme"]), {})[e["server"]] = e
    for (mode, scheme), by in sorted(ft.items()):
        unit = "acks/s" if mode == "echo" else "deliveries/s"
        add(f"fast-tcp {mode} over {scheme}://", unit, "weft", "fast-tcp", by.get("weft"), by.get("fast-tcp"))
    vb = {}
    for e in load("vibe") or []:
        if "per_run" in e.get("result", {}):
            vb.setdefault(e["transport"], {})[e["server"]] = dict(e["result"], command=e.get("command"))
    for transport, by in vb.items():
        w, p = by.get("weft"), by.get("reference")
        # the load generator's CPU (fraction of one core) when it was recorded
        lc = (f" (load CPU {w['load_cpu']:.2f} / {p['load_cpu']:.2f})"
              if w and p and w.get("load_cpu") is not None and p.get("load_cpu") is not None else "")
        add(f"Vibe echo over {transport}{lc}", "events/s", "weft", "reference", w, p)
        if w and p and w.get("per_run_cpu") and p.get("per_run_cpu"):
            add(f"Vibe echo over {transport}, per server CPU-s", "events/CPU-s", "weft", "reference",
                {"per_run": w["per_run_cpu"], "command": w["command"]},
                {"per_run": p["per_run_cpu"], "command": p["command"]})
    cl = {}
    for e in load("cluster") or []:
        cl.setdefault(e["nodes"], {})[e["server"]] = e
    for nodes, by in sorted(cl.items()):
        add(f"Redis cross-node broadcast, {nodes} node{'s' if nodes > 1 else ''}", "deliveries/s",
            "weft", "sio", by.get("weft"), by.get("sio"))


def mmm(xs):
    f = (lambda x: f"{x:,.0f}")
    return f"{f(min(xs))}–{f(statistics.median(xs))}–{f(max(xs))}"


def main():
    echo_rows()
    broadcast_rows()
    rooms_rows()
    memory_rows()
    transport_rows()
    if not rows:
        print("No paired results in %s (run `make bench`)." % R)
        return
    if BRIEF:
        for case, unit, wl, pl, w, p, lower, ids in rows:
            per = [w[i] / p[i] for i in range(min(len(w), len(p))) if p[i]]
            if per:
                print(f"  {case}: {wl} / {pl} = {statistics.median(per):.2f}x {unit}"
                      f"{' (lower is better)' if lower else ''}, per repetition "
                      + ", ".join(f"{r:.2f}" for r in per))
        return
    print("| case | unit | weft | min–median–max | peer | min–median–max | weft / peer per repetition "
          "| median ratio | commands |")
    print("|---|---|---|---|---|---|---|---|---|")
    for case, unit, wl, pl, w, p, lower, ids in rows:
        n = min(len(w), len(p))
        per = [w[i] / p[i] if p[i] else None for i in range(n)]
        ok = [r for r in per if r is not None]
        med = f"**{statistics.median(ok):.2f}×**" if ok else "–"
        if lower and ok:
            med += " (lower is better)"
        reps = ", ".join(f"{r:.2f}" if r is not None else "–" for r in per)
        cmds = ", ".join(f"[{i}]" for i in ids) if ids else "an older result file (not alternated)"
        print(f"| {case} | {unit} | {wl} | {mmm(w)} | {pl} | {mmm(p)} | {reps} | {med} | {cmds} |")
    print("\nCommands (PORT, URL, PID: the server's, found at run time; each server pinned to CPU 0 and "
          "its load generator to CPU 1 with `taskset`):\n")
    for i, c in enumerate(commands, 1):
        print(f"{i}. `{c}`")


if __name__ == "__main__":
    main()
