#!/usr/bin/env bash
# The Python host's own measurements (issue #15): call overhead per echo and
# per call, A/B between two builds of the package, and the memory of a spark
# whose reader is paused. Timings live here, never in tests.
#
#   bash bench/python.sh build REV DIR     the package of git revision REV into DIR
#   bash bench/python.sh echo A B          echo_load against python/bench/weft_server.py
#   bash bench/python.sh calls A B         python/bench/calls.py (ns per call, in process)
#   bash bench/python.sh dispatch [A]      python/bench/dispatch.py (SWIG vs hand-written, ns per call)
#   bash bench/python.sh rss [A]           python/bench/paused_rss.py (100k x 1 KiB, paused reader; figures in bench/results/python.json)
#
# A and B are folders holding a `weft` package (from `build`), or "venv" for
# the one python/test.sh installed. echo and calls alternate A, B, A, B, …
# RUNS times each (default 5) and print every run and the medians. The
# machine is shared: read medians, and run again when the spread is wide.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BUILD=${BUILD:-build}
PY=$ROOT/build-python/venv/bin/python
RUNS=${RUNS:-5}
SECONDS_PER_RUN=${SECONDS_PER_RUN:-3}
PIN0=() PIN1=()
if command -v taskset >/dev/null; then PIN0=(taskset -c 0) PIN1=(taskset -c 1); fi

pkgpath() { # A -> a PYTHONPATH ("" for the venv's own package)
  if [ "$1" = venv ]; then echo ""; else (cd "$1" && pwd); fi
}

A=${2:-venv} B=${3:-venv}

median() { sort -n | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }

case ${1:-} in
build)
  rev=$2 dir=$3
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  git archive "$rev" python core include cmake bindings VERSION LICENSE 2>/dev/null | tar -x -C "$tmp" ||
    git archive "$rev" python core include cmake VERSION LICENSE | tar -x -C "$tmp"
  rm -rf "$dir" && mkdir -p "$dir"
  "$PY" -m pip install -q --no-build-isolation --no-deps --target "$dir" "$tmp/python" >"$tmp/log" 2>&1 ||
    { tail -30 "$tmp/log"; exit 1; }
  echo "built $rev into $dir"
  ;;
echo)
  [ -x "$BUILD/bench/echo_load" ] || cmake --build "$BUILD" --target echo_load >/dev/null
  declare -A rates
  for run in $(seq "$RUNS"); do
    for side in A B; do
      pkg=$([ $side = A ] && echo "$A" || echo "$B")
      for case in "100 32" "100 1024"; do
        read -r conns size <<<"$case"
        log=$(mktemp)
        PYTHONPATH=$(pkgpath "$pkg") "${PIN0[@]}" "$PY" python/bench/weft_server.py --port 0 \
          --mode echo --stats >"$log" 2>&1 &
        pid=$!
        for _ in $(seq 200); do grep -q '^listening' "$log" && break; sleep 0.05; done
        port=$(sed -n 's#^listening on ws://[^:]*:\([0-9]*\)/.*#\1#p' "$log")
        line=$(timeout 60 "${PIN1[@]}" "$BUILD/bench/echo_load" --port "$port" --conns "$conns" \
          --size "$size" --pipeline 8 --seconds "$SECONDS_PER_RUN")
        kill "$pid"; wait "$pid" 2>/dev/null || true
        r=$(echo "$line" | sed 's/.*"msgs_per_s":\([0-9]*\).*/\1/')
        # CPU per echo: the server's CPU seconds over the messages it took.
        us=$(sed -n 's/^stats msgs=\([0-9]*\) cpu=\([0-9.]*\)/\2 \1/p' "$log" |
          awk '{printf "%.3f", $1 * 1e6 / $2}')
        rm -f "$log"
        echo "run $run $side ${conns}x${size}: $r msgs/s, $us us CPU per echo"
        rates[$side.${conns}x$size]="${rates[$side.${conns}x$size]:-} $us"
      done
    done
  done
  for k in "${!rates[@]}"; do
    echo "median $k: $(echo "${rates[$k]}" | tr ' ' '\n' | grep . | median) us CPU per echo"
  done | sort
  ;;
calls)
  for run in $(seq "$RUNS"); do
    for side in A B; do
      pkg=$([ $side = A ] && echo "$A" || echo "$B")
      PYTHONPATH=$(pkgpath "$pkg") "${PIN0[@]}" "$PY" python/bench/calls.py | sed "s/^/run $run $side /"
    done
  done | tee /tmp/weft-calls.$$
  awk '{k=$3" "$4; v[k]=v[k]" "$5} END {for (k in v) print k, v[k]}' /tmp/weft-calls.$$ | sort |
    while read -r side what vals; do
      echo "median $side $what: $(echo "$vals" | tr ' ' '\n' | grep . | median) ns"
    done
  rm -f /tmp/weft-calls.$$
  ;;
dispatch)
  d=$(mktemp -d)
  trap 'rm -rf "$d"' EXIT
  inc=$("$PY" -c 'import sysconfig; print(sysconfig.get_paths()["include"])')
  ext=$("$PY" -c 'import sysconfig; print(sysconfig.get_config_var("EXT_SUFFIX"))')
  cc -O2 -shared -fPIC -I"$inc" python/bench/dispatch.c -o "$d/_dispatch$ext"
  for run in $(seq "$RUNS"); do
    PYTHONPATH=$d${A:+:}$(pkgpath "$A") "${PIN0[@]}" "$PY" python/bench/dispatch.py | sed "s/^/run $run /"
  done
  ;;
rss)
  PYTHONPATH=$(pkgpath "$A") "$PY" python/bench/paused_rss.py
  ;;
*)
  sed -n '2,16p' "$0"
  exit 2
  ;;
esac
