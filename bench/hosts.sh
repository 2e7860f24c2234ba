# Sourced by echo.sh, broadcast.sh, rooms.sh and memory.sh: the bench servers of weft's host front
# ends (node/bench/weft_server.js, python/bench/weft_server.py,
# lua/bench/weft_server.lua), started like the peers: pinned with PIN0, in
# the background of the calling shell (so $! and server_pid are the server).

# uWebSockets, built by bench/peers/uws.sh (bench/run.sh runs it first).
UWS_SERVER=${UWS_SERVER:-${UWS_BUILD:-build-uws}/uws_server}

# Is this host built here? (make test builds them; the bench does not.)
host_available() { # name
  case $1 in
    uws) [ -x "$UWS_SERVER" ] ;;
    weft-node) [ -f node/build/Release/weft.node ] ;;
    weft-python) [ -x build-python/venv/bin/python ] &&
      build-python/venv/bin/python -c 'import weft' 2>/dev/null ;;
    weft-lua) [ -f "$BUILD/lua/5.4/weft.so" ] && command -v lua5.4 >/dev/null ;;
    *) return 0 ;;
  esac
}

# The servers of $SERVERS built here, into the array `servers`; each other
# one is skipped with a message naming PART.
pick_servers() { # PART
  local s
  servers=()
  for s in $SERVERS; do
    if host_available "$s"; then servers+=("$s"); else
      echo "$1: $s is not built here ($([ "$s" = uws ] && echo 'bash bench/peers/uws.sh builds it' ||
        echo 'make test builds it')): skipped" >&2
    fi
  done
}

start_host() { # name mode stdout stderr
  case $1 in
    weft-node) "${PIN0[@]}" "$NODE" node/bench/weft_server.js --port 0 --mode "$2" >"$3" 2>"$4" & ;;
    weft-python) "${PIN0[@]}" build-python/venv/bin/python python/bench/weft_server.py --port 0 \
      --mode "$2" >"$3" 2>"$4" & ;;
    weft-lua) LUA_CPATH="$BUILD/lua/5.4/?.so" "${PIN0[@]}" lua5.4 lua/bench/weft_server.lua \
      --port 0 --mode "$2" >"$3" 2>"$4" & ;;
  esac
  server_pid=$!
}

# A server the caller started in the background (server_pid; its output in
# $logdir/out and $logdir/err): wait for its "listening on" line and set
# `port`, or exit naming the tool ($1) and the server ($2).
wait_listening() { # tool server
  port=
  for _ in $(seq 600); do # 30 s: a server that just held 10k sockets is slow to go
    grep -q '^listening' "$logdir/out" && break
    sleep 0.05
  done
  port=$(sed -n 's#^listening on ws://[^:]*:\([0-9]*\)/.*#\1#p' "$logdir/out")
  [ -n "$port" ] || { echo "$1: $2 did not start" >&2; cat "$logdir/err" >&2; exit 1; }
}

stop_server() {
  kill "$server_pid" 2>/dev/null || true
  wait "$server_pid" 2>/dev/null || true
  server_pid=
  # Anything the server said on stderr (weft: "error <kind> ...") is reported.
  if [ -s "$logdir/err" ]; then
    echo "  server stderr ($(wc -l <"$logdir/err") lines):" >&2
    sort "$logdir/err" | uniq -c | sort -rn | head -5 >&2
  fi
}

# A number field of a one-line JSON object.
field() { echo "$1" | sed -n "s/.*\"$2\":\([0-9.]*\).*/\1/p"; }
