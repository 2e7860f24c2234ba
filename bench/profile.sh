#!/usr/bin/env bash
# Where the time goes: the C server under callgrind, driven by the load
# generators (echo: 100 conns x 32 B json, 8 in flight; broadcast: 1000
# clients, 8 senders). callgrind counts instructions, not seconds, so the
# figures hold on a busy machine too. Writes bench/results/profile.json:
# instructions per message (or per delivery), writes (send/sendmsg calls) per message,
# and the top functions by self cost. bench/report.sh turns it into the
# "Where the time goes" section of REPORT.md.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
SECONDS_PER_RUN=${SECONDS_PER_RUN:-4}
command -v valgrind >/dev/null || { echo "profile: valgrind is not installed" >&2; exit 1; }
mkdir -p bench/results
dir=$(mktemp -d)
server_pid=
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null
  wait 2>/dev/null || true
  # PROFILE_KEEP=DIR keeps the callgrind files and their annotations there.
  [ -n "${PROFILE_KEEP:-}" ] && mkdir -p "$PROFILE_KEEP" && cp "$dir"/* "$PROFILE_KEEP"/
  rm -rf "$dir"
}
trap cleanup EXIT

profile() { # name mode load-command...
  local name=$1 mode=$2
  shift 2
  valgrind --tool=callgrind --callgrind-out-file="$dir/$name.cg" \
    "$BUILD/weft" serve --port 0 --mode "$mode" --ping-interval 0 >"$dir/$name.out" 2>"$dir/$name.err" &
  server_pid=$!
  local port=
  for _ in $(seq 200); do
    port=$(sed -n 's#^listening on ws://[^:]*:\([0-9]*\)/.*#\1#p' "$dir/$name.out")
    [ -n "$port" ] && break
    sleep 0.1
  done
  [ -n "$port" ] || { echo "profile: server did not start" >&2; exit 1; }
  "$@" --port "$port" >"$dir/$name.load"
  kill -INT "$server_pid"
  wait "$server_pid" || true
  server_pid=
  callgrind_annotate "$dir/$name.cg" >"$dir/$name.self" 2>/dev/null
  callgrind_annotate --tree=caller "$dir/$name.cg" >"$dir/$name.tree" 2>/dev/null
}

profile echo echo "$BUILD/bench/echo_load" --conns 100 --size 32 --pipeline 8 \
  --seconds "$SECONDS_PER_RUN" --warmup 1
profile broadcast broadcast "$BUILD/bench/bcast_load" --clients 1000 --senders 8 --inflight 4 \
  --seconds "$SECONDS_PER_RUN"

DIR=$dir python3 - <<'EOF'
import json, os, re
d = os.environ["DIR"]

def num(s):
    return int(s.replace(",", ""))

def calls(cg, fn):
    # Every call to fn, from the callgrind file itself: each call record is
    # "cfn=(id) name" (the name only the first time an id appears, in fn=
    # or cfn= lines) and then "calls=N ...". The annotated tree would miss
    # call sites in files it does not show.
    names, total, want = {}, 0, False
    for line in open(cg, errors="replace"):
        if line.startswith(("fn=", "cfn=")):
            m = re.match(r"c?fn=\((\d+)\)(?: (.*))?", line.rstrip("\n"))
            if m and m.group(2) is not None:
                names[m.group(1)] = m.group(2)
            if line.startswith("cfn="):
                want = m is not None and names.get(m.group(1)) == fn
        elif line.startswith("calls=") and want:
            total += int(line[6:].split()[0])
            want = False
    return total

def summary(name, unit_fn, unit):
    self_txt = open(os.path.join(d, name + ".self")).read()
    total = num(re.search(r"([\d,]+) \(100.0%\)\s+PROGRAM TOTALS", self_txt).group(1))
    top = []
    for l in self_txt.split("file:function", 1)[1].splitlines():
        m = re.match(r"\s*([\d,]+) \(\s*([\d.]+)%\)\s+(\S+?):(\S+) \[(\S+)\]", l)
        if m and len(top) < 12:
            top.append({"function": m.group(4), "file": os.path.basename(m.group(3)),
                        "object": os.path.basename(m.group(5)), "ir": num(m.group(1)),
                        "percent": float(m.group(2))})
    cg = os.path.join(d, name + ".cg")
    # weft's flush writes with send (one buffer) or sendmsg (uv_try_write
    # where there is no fd)
    units = calls(cg, unit_fn)
    flushes = calls(cg, "send") + calls(cg, "sendmsg") + calls(cg, "uv_try_write")
    load = json.loads(open(os.path.join(d, name + ".load")).read().strip().splitlines()[-1])
    return {"case": name, "unit": unit, "units": units, "total_ir": total,
            "ir_per_unit": round(total / units) if units else None,
            "flushes": flushes, "writes_per_unit": round(flushes / units, 4) if units else None,
            "top": top, "load": load}

res = [summary("echo", "weft__spark_message", "message"),
       summary("broadcast", "weft__ws_send", "delivery")]
json.dump(res, open("bench/results/profile.json", "w"), indent=1)
for r in res:
    print(f"{r['case']}: {r['units']} {r['unit']}s, {r['ir_per_unit']} instructions per {r['unit']}, "
          f"{r['writes_per_unit']} writes per {r['unit']}")
EOF
echo "wrote bench/results/profile.json"
