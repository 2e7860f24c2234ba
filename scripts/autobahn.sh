#!/usr/bin/env bash
# The Autobahn WebSocket testsuite (wstest: 517 cases of framing, pings,
# fragmentation, UTF-8, limits, the closing handshake, permessage-deflate)
# against build/weft, both sides, every case:
#   server  wstest -m fuzzingclient against `weft serve --parser raw
#           --compression --max-length 16777216 --ping-interval 0`;
#   client  wstest -m fuzzingserver, `weft connect URL --echo --compression
#           --max-length 16777216` started once per case.
# Prints the case counts per behaviour for each side and fails unless every
# case is OK or INFORMATIONAL (behavior and behaviorClose) and both sides ran
# the same number of cases. `all` runs the two sides at the same time (each
# is one busy wstest process; the permessage-deflate cases take ~8 minutes).
# wstest runs on Python 2.7 only: it is installed into build-autobahn/
# (git-ignored; the pins are autobahntestsuite 25.10.1's requires.txt, which
# its sdist does not ship) where ~/.pyenv/versions/2.7.18 exists (or
# $WEFT_PYTHON27); elsewhere this prints "skipped: no Python 2.7" and passes.
# Usage: scripts/autobahn.sh [server|client|all]
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
D=$ROOT/build-autobahn
OUT=$D/reports
PY27=${WEFT_PYTHON27:-$HOME/.pyenv/versions/2.7.18/bin/python}
WEFT=$ROOT/build/weft
WSTEST=$D/venv/bin/wstest
SIDE_TIMEOUT=1200 # seconds for one side's whole run
CASE_TIMEOUT=600  # seconds for one client case (the longest allow 480)
what=${1:-all}

if [ ! -x "$PY27" ]; then
  echo "skipped: no Python 2.7"
  exit 0
fi

install_wstest() {
  if "$WSTEST" -a 2>/dev/null | grep -q 'AutobahnTestSuite 25.10.1'; then return 0; fi
  echo "installing wstest into $D"
  rm -rf "$D/vtool" "$D/venv"
  mkdir -p "$D"
  {
    "$PY27" -m pip install --target "$D/vtool" 'virtualenv<20.22' &&
      PYTHONPATH="$D/vtool" "$PY27" -m virtualenv "$D/venv" &&
      "$D/venv/bin/pip" install txaio==2.1.0 incremental==16.10.1 pyOpenSSL==19.1.0 \
        cryptography==3.3.2 Twisted==19.10.0 zope.interface==4.6.0 jinja2==2.11.3 \
        markupsafe==1.1.1 Werkzeug==1.0.1 klein==17.10.0 service_identity==18.1.0 \
        unittest2==1.1.0 six==1.16.0 'autobahn[accelerate,twisted]==0.10.9' &&
      "$D/venv/bin/pip" install --no-deps autobahntestsuite==25.10.1
  } >"$D/install.log" 2>&1 || {
    tail -20 "$D/install.log"
    return 1
  }
  "$WSTEST" -a
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Waits up to 30 s for something to listen on 127.0.0.1:$1 while PID $2 lives.
wait_port() {
  local i
  for i in $(seq 300); do
    kill -0 "$2" 2>/dev/null || return 1
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}

# Ends a process we started (by its PID) and reaps it.
stop_pid() {
  kill "$1" 2>/dev/null
  local i
  for i in $(seq 50); do
    kill -0 "$1" 2>/dev/null || break
    sleep 0.1
  done
  kill -9 "$1" 2>/dev/null
  wait "$1" 2>/dev/null
}

# The counts per behaviour in an index.json, the cases that are neither OK
# nor INFORMATIONAL; writes the case count to $2. Fails on any such case.
summarize() { # SIDE INDEX COUNT_FILE
  python3 - "$@" <<'EOF'
import collections, json, sys
side, index, count_file = sys.argv[1:4]
try:
    cases = json.load(open(index))["weft"]
except (OSError, ValueError, KeyError) as e:
    print("%s: no report (%s)" % (side, e))
    sys.exit(1)
good = ("OK", "INFORMATIONAL")
def key(c):
    return [int(x) for x in c.split(".")]
for field in ("behavior", "behaviorClose"):
    n = collections.Counter(v[field] for v in cases.values())
    print("%s %s: %s" % (side, field, ", ".join("%s %d" % kv for kv in sorted(n.items()))))
bad = [c for c in sorted(cases, key=key)
       if cases[c]["behavior"] not in good or cases[c]["behaviorClose"] not in good]
for c in bad[:40]:
    print("  %s %s/%s" % (c, cases[c]["behavior"], cases[c]["behaviorClose"]))
print("%s: %d cases, %d not OK or INFORMATIONAL" % (side, len(cases), len(bad)))
open(count_file, "w").write(str(len(cases)))
sys.exit(1 if bad or not cases else 0)
EOF
}

run_server_side() {
  local dir=$OUT/server port pid rc=0
  rm -rf "$dir"
  mkdir -p "$dir"
  port=$(free_port)
  "$WEFT" serve --host 127.0.0.1 --port "$port" --path / --parser raw --compression \
    --max-length 16777216 --ping-interval 0 >"$dir/weft.log" 2>&1 &
  pid=$!
  if ! wait_port "$port" "$pid"; then
    echo "server: weft serve did not start"
    cat "$dir/weft.log"
    stop_pid "$pid"
    return 1
  fi
  cat >"$dir/spec.json" <<EOF
{"outdir": "$dir", "servers": [{"agent": "weft", "url": "ws://127.0.0.1:$port/"}],
 "cases": ["*"], "exclude-cases": [], "exclude-agent-cases": {}}
EOF
  timeout "$SIDE_TIMEOUT" "$WSTEST" -m fuzzingclient -s "$dir/spec.json" >"$dir/wstest.log" 2>&1 ||
    { echo "server: wstest failed or timed out" && tail -5 "$dir/wstest.log" && rc=1; }
  kill -0 "$pid" 2>/dev/null || { echo "server: weft serve died" && tail -20 "$dir/weft.log" && rc=1; }
  stop_pid "$pid"
  summarize server "$dir/index.json" "$dir/count" || rc=1
  return $rc
}

# The number of cases a fuzzingserver has: the one text message it sends on
# /getCaseCount (a plain socket: no client of ours is trusted to count).
case_count() { # PORT
  python3 - "$1" <<'EOF'
import base64, os, socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=30)
key = base64.b64encode(os.urandom(16)).decode()
s.sendall(("GET /getCaseCount HTTP/1.1\r\nHost: 127.0.0.1:%s\r\nUpgrade: websocket\r\n"
           "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n"
           % (sys.argv[1], key)).encode())
buf = b""
while b"\r\n\r\n" not in buf or len(buf.split(b"\r\n\r\n", 1)[1]) < 2:
    more = s.recv(4096)
    if not more:
        sys.exit(1)
    buf += more
head, body = buf.split(b"\r\n\r\n", 1)
n = body[1] & 0x7f
while len(body) < 2 + n:
    body += s.recv(4096)
print(int(body[2:2 + n]))
EOF
}

run_client_side() {
  local dir=$OUT/client port pid rc=0 n i t0=$SECONDS
  rm -rf "$dir"
  mkdir -p "$dir"
  port=$(free_port)
  cat >"$dir/spec.json" <<EOF
{"url": "ws://127.0.0.1:$port", "outdir": "$dir", "cases": ["*"], "exclude-cases": [],
 "exclude-agent-cases": {}}
EOF
  # --webport 0: no embedded web server (its default port 8080 collides
  # with any other run on the machine).
  (cd "$dir" && exec "$WSTEST" -m fuzzingserver --webport 0 -s "$dir/spec.json") >"$dir/wstest.log" 2>&1 &
  pid=$!
  if ! wait_port "$port" "$pid" || ! n=$(case_count "$port"); then
    echo "client: the fuzzingserver did not start"
    tail -20 "$dir/wstest.log"
    stop_pid "$pid"
    return 1
  fi
  local opts=(--echo --compression --max-length 16777216)
  for i in $(seq "$n"); do
    if [ $((SECONDS - t0)) -ge "$SIDE_TIMEOUT" ]; then
      echo "client: out of time at case $i of $n"
      rc=1
      break
    fi
    timeout "$CASE_TIMEOUT" "$WEFT" connect "ws://127.0.0.1:$port/runCase?case=$i&agent=weft" \
      "${opts[@]}" >/dev/null 2>>"$dir/weft.log"
    [ $? -eq 124 ] && echo "client: case $i timed out" && rc=1
  done
  timeout 60 "$WEFT" connect "ws://127.0.0.1:$port/updateReports?agent=weft" "${opts[@]}" \
    >/dev/null 2>>"$dir/weft.log"
  stop_pid "$pid"
  summarize client "$dir/index.json" "$dir/count" || rc=1
  return $rc
}

install_wstest || exit 1
[ -x "$WEFT" ] || { echo "no $WEFT: build first" && exit 1; }
rc=0
case $what in
  server) run_server_side || rc=1 ;;
  client) run_client_side || rc=1 ;;
  all)
    # The two sides at once: each is one wstest process busy on one core.
    mkdir -p "$OUT"
    run_server_side >"$OUT/server.out" 2>&1 &
    spid=$!
    run_client_side >"$OUT/client.out" 2>&1 &
    cpid=$!
    wait "$spid" || rc=1
    wait "$cpid" || rc=1
    cat "$OUT/server.out" "$OUT/client.out"
    if [ "$(cat "$OUT/server/count" 2>/dev/null)" != "$(cat "$OUT/client/count" 2>/dev/null)" ]; then
      echo "the two sides ran different numbers of cases"
      rc=1
    fi
    ;;
  *) echo "usage: $0 [server|client|all]" >&2 && exit 2 ;;
esac
exit $rc
