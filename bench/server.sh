# Sourced by bench/memory.sh and bench/engineio.sh (from the repository's
# root): start_server CMD starts a server pinned to CPU 0 under prlimit
# --nofile=$NOFILE, its output in $log, its PID in $server_pid and its port
# (from its "listening on ws://127.0.0.1:PORT/…" line, up to 15 s) in
# $port, and fails when it does not come up; stop_server ends it.
NOFILE=${NOFILE:-20000}

start_server() { # $1: command line
  log=$(mktemp)
  # shellcheck disable=SC2086
  # not through pin(): a function run with & is a subshell, and $! must be
  # the server itself (taskset and prlimit exec it)
  if command -v taskset >/dev/null; then
    taskset -c 0 prlimit --nofile="$NOFILE:$NOFILE" $1 >"$log" 2>&1 &
  else
    prlimit --nofile="$NOFILE:$NOFILE" $1 >"$log" 2>&1 &
  fi
  server_pid=$!
  port=
  for _ in $(seq 300); do # up to 15 s (Node start-up)
    port=$(sed -n 's#^listening on ws://127\.0\.0\.1:\([0-9]*\)/.*#\1#p' "$log" | head -1)
    [ -n "$port" ] && break
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.05
  done
  [ -n "$port" ]
}

stop_server() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null
  wait "$server_pid" 2>/dev/null
  server_pid=
}
