# Sourced by echo.sh, broadcast.sh and memory.sh: the bench servers of weft's host front
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
