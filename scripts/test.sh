#!/usr/bin/env bash
# Runs the test stages. `test.sh all` runs every stage and ends with the line
# "N passed, N failed" (stages, and the tests inside them are reported by
# their own runners above it). A stage name runs just that stage.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
JOBS=$(nproc 2>/dev/null || echo 2)
FUZZ_SECONDS=${FUZZ_SECONDS:-15}
passed=0
failed=0
failures=()

log() { printf '\n=== %s\n' "$*"; }

stage() { # stage NAME COMMAND...
  local name=$1
  shift
  log "$name"
  local t0=$SECONDS
  if "$@"; then
    passed=$((passed + 1))
    echo "--- $name: ok ($((SECONDS - t0)) s)"
  else
    failed=$((failed + 1))
    failures+=("$name")
    echo "--- $name: FAILED ($((SECONDS - t0)) s)"
  fi
}

configure_build() { # DIR [cmake args...]
  local dir=$1
  shift
  cmake -S . -B "$dir" "$@" >/dev/null || return 1
  cmake --build "$dir" -j "$JOBS" >"$dir/build.log" 2>&1 || { cat "$dir/build.log"; return 1; }
}

run_c() {
  configure_build build -DCMAKE_BUILD_TYPE=RelWithDebInfo &&
    ctest --test-dir build -L c --output-on-failure -j "$JOBS"
}

# The dependency rule between the core's layer folders (docs/architecture.md):
# includes and calls go down, checked on the objects of the C build.
run_layers() {
  configure_build build -DCMAKE_BUILD_TYPE=RelWithDebInfo && python3 scripts/layers.py --self-test &&
    python3 scripts/layers.py --graph
}

run_interop() {
  configure_build build -DCMAKE_BUILD_TYPE=RelWithDebInfo || return 1
  WEFT_TEST_SERVER="$ROOT/build/tests/weft_test_server" WEFT_CLI="$ROOT/build/weft" \
    node --test --test-concurrency=2 tests/interop/
}

# Vibe's own mocha suites against weft's testees (the server's and the
# client's over every transport), weft serve's echo
# over Vibe, and weft's client against the reference server (tests/vibe/).
run_vibe() {
  configure_build build -DCMAKE_BUILD_TYPE=RelWithDebInfo || return 1
  # The client testee is weft's client through the Node host: its addon,
  # rebuilt when the core changed (as node/test.sh does).
  if [ ! -f node/build/Release/weft.node ] ||
    [ -n "$(find core include node/src node/binding.gyp -newer node/build/Release/weft.node -print -quit)" ]; then
    (cd node && npm run --silent build >build.log 2>&1) || { cat node/build.log; return 1; }
  fi
  bash tests/vibe/run_suite.sh server ws,httpstream,httplongpoll "$ROOT/build/tests/vibe_server_testee" &&
    bash tests/vibe/run_suite.sh client ws,httpstream,httplongpoll node "$ROOT/tests/vibe/client_testee.js" &&
    WEFT_CLI="$ROOT/build/weft" node --test tests/vibe/cli.test.js tests/vibe/client_interop.test.js
}

run_asan() {
  configure_build build-asan -DCMAKE_BUILD_TYPE=Debug -DWEFT_SANITIZE=ON || return 1
  export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1
  ctest --test-dir build-asan -L c --output-on-failure -j "$JOBS" || return 1
  # The sanitized server under the interop suite: a report aborts it, and the
  # harness asserts a clean exit.
  WEFT_TEST_SERVER="$ROOT/build-asan/tests/weft_test_server" WEFT_CLI="$ROOT/build-asan/weft" \
    node --test --test-concurrency=2 tests/interop/
}

run_valgrind() {
  configure_build build -DCMAKE_BUILD_TYPE=RelWithDebInfo || return 1
  local rc=0 t
  for t in build/tests/test_integration build/tests/test_tls build/tests/test_client \
    build/tests/test_ext build/tests/test_listen build/tests/test_lifetimes build/tests/test_options build/tests/test_client_plugins build/tests/test_eio_pause build/tests/test_eio_seal build/tests/test_pending build/tests/test_loop_dirty build/tests/test_fasttcp build/tests/test_vibe build/tests/test_ftextras build/tests/test_callbacks build/tests/test_parser_def build/tests/test_http build/tests/test_eio_heads; do
    [ -x "$t" ] || continue
    echo "valgrind $t"
    valgrind --quiet --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite \
      --show-leak-kinds=definite "$t" || rc=1
  done
  # The server process itself under the whole interop suite: the harness
  # asserts exit status 0 on SIGTERM, and valgrind exits 99 on any error or
  # definite leak.
  WEFT_TEST_SERVER_WRAPPER="valgrind --quiet --error-exitcode=99 --leak-check=full \
--errors-for-leak-kinds=definite --show-leak-kinds=definite" \
    WEFT_TEST_SERVER="$ROOT/build/tests/weft_test_server" \
    node --test --test-concurrency=2 tests/interop/ || rc=1
  return $rc
}

run_fuzz() {
  CC=clang configure_build build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DWEFT_FUZZ=ON \
    -DWEFT_TESTS=OFF || return 1
  local rc=0 f corpus
  for f in build-fuzz/tests/fuzz/fuzz_*; do
    [ -x "$f" ] || continue
    corpus="build-fuzz/corpus/$(basename "$f")"
    mkdir -p "$corpus"
    [ -d "tests/fuzz/seeds/$(basename "$f")" ] && cp -n tests/fuzz/seeds/"$(basename "$f")"/* "$corpus"/ 2>/dev/null
    # The committed corpus: what long runs found, merged to its coverage
    # (tests/fuzz/README.md says how it is refreshed).
    [ -f "tests/fuzz/corpus/$(basename "$f").tar.gz" ] &&
      tar -xzf "tests/fuzz/corpus/$(basename "$f").tar.gz" -C "$corpus" --skip-old-files
    echo "fuzz $(basename "$f") for ${FUZZ_SECONDS}s"
    if ! "$f" -max_total_time="$FUZZ_SECONDS" -print_final_stats=1 -artifact_prefix=build-fuzz/ \
      "$corpus" >"build-fuzz/$(basename "$f").log" 2>&1; then
      rc=1
      tail -40 "build-fuzz/$(basename "$f").log"
    fi
    grep -E 'stat::number_of_executed_units' "build-fuzz/$(basename "$f").log"
  done
  return $rc
}

# Hostile peers against `weft serve` with a crowd of 20 echoing clients
# (issue #16): memory bounded and returned, the slow-consumer policy, the
# heartbeat, fairness. The release build only: its bounds are about it.
run_hostile() {
  configure_build build -DCMAKE_BUILD_TYPE=RelWithDebInfo || return 1
  WEFT_CLI="$ROOT/build/weft" node --test --test-concurrency=1 tests/hostile/
}

# The metrics path as an operator scrapes it: exact counters after known
# traffic, promtool check metrics, a real Prometheus server (issue #17).
run_metrics() {
  configure_build build -DCMAKE_BUILD_TYPE=RelWithDebInfo || return 1
  WEFT_CLI="$ROOT/build/weft" WEFT_PROMETHEUS="$ROOT/build-tools/prometheus" \
    node --test --test-concurrency=1 tests/metrics/
}

# Acks across hosts (C and Python clients; Lua and Node servers): needs
# the host stages' builds.
run_cross() {
  configure_build build -DCMAKE_BUILD_TYPE=RelWithDebInfo || return 1
  WEFT_BUILD=build node --test --test-concurrency=1 tests/cross/
}

# The conformance suite (tests/conformance/): every scenario against the
# driver of every host, the scenario x host table, and the capability
# matrix of docs/bindings.md checked against the headers and the bindings.
# Needs the host stages' builds (Python's venv, Node's addon, the browser's
# Chromium); the C driver and the Lua module come with the C build.
run_conformance() {
  configure_build build -DCMAKE_BUILD_TYPE=RelWithDebInfo || return 1
  bash node/deps.sh || return 1
  WEFT_BUILD=build timeout 600 node --test --test-reporter=spec --test-concurrency=1 tests/conformance/
}

run_format() {
  local bad
  bad=$(git ls-files '*.c' '*.h' | xargs clang-format --dry-run 2>&1 | grep -c 'warning:' || true)
  if [ "$bad" != "0" ]; then
    echo "clang-format: $bad places differ; run 'make format'"
    return 1
  fi
}

# Each package installed as its users install it, into temporary prefixes,
# venvs and folders, with a hello world run in each (scripts/packages.sh).
run_packages() {
  configure_build build -DCMAKE_BUILD_TYPE=RelWithDebInfo && bash scripts/packages.sh
}

# The Autobahn testsuite against the server and the client of build/weft
# (scripts/autobahn.sh: skipped where there is no Python 2.7).
# Primus 8.0.9's own test suite (tests/primus-suite/vendor, MIT) against
# weft's Node API through a module-name shim; the failures weft does not
# mirror are listed (tests/primus-suite/expected-failures.txt, docs/primus-compat.md).
run_primus_suite() {
  bash node/deps.sh || return 1
  if [ ! -f tests/primus-suite/node_modules/.stamp ] ||
     [ tests/primus-suite/package.json -nt tests/primus-suite/node_modules/.stamp ]; then
    (cd tests/primus-suite && npm install --no-audit --no-fund --loglevel=error >/dev/null &&
       touch node_modules/.stamp) || return 1
  fi
  timeout 240 node tests/primus-suite/run.js
}

run_autobahn() {
  configure_build build -DCMAKE_BUILD_TYPE=RelWithDebInfo && bash scripts/autobahn.sh all
}

# Short runs of the headline benchmark cells beside uWebSockets (built by
# bench/peers/uws.sh when its sources can be had, else Node ws), idle memory
# and fast-tcp: the ratios are printed, nothing is asserted (bench/smoke.sh,
# issue #23); fails only when a benchmark tool does.
run_bench_smoke() {
  configure_build build -DCMAKE_BUILD_TYPE=RelWithDebInfo && timeout 300 bash bench/smoke.sh
}

# Each host front end owns its stage: HOST/test.sh builds what it needs and
# runs that host's suites (python/, node/, lua/, clients/js/).
HOSTS=(python node lua clients/js)
run_host() { # DIR
  bash "$1/test.sh"
}
host_stages() {
  local h
  for h in "${HOSTS[@]}"; do
    [ -f "$h/test.sh" ] && stage "host: $h" run_host "$h"
  done
}

what=${1:-all}
case $what in
  c) stage "C unit and integration tests" run_c ;;
  layers) stage "layers" run_layers ;;
  interop) stage "interop with the npm Primus client" run_interop ;;
  vibe) stage "Vibe's own suites (vibe-protocol 3.0.0-Alpha9)" run_vibe ;;
  asan) stage "C tests under ASan+UBSan" run_asan ;;
  valgrind) stage "valgrind" run_valgrind ;;
  fuzz) stage "fuzzing (${FUZZ_SECONDS}s per target)" run_fuzz ;;
  format-check) stage "clang-format" run_format ;;
  hosts) host_stages ;;
  cross) stage "acks and a Redis cluster across hosts" run_cross ;;
  conformance) stage "conformance: scenarios x hosts, the bindings matrix" run_conformance ;;
  hostile) stage "hostile peers" run_hostile ;;
  primus-suite) stage "Primus's own test suite" run_primus_suite ;;
  metrics) stage "metrics: promtool and Prometheus" run_metrics ;;
  packages) stage "packages: install and hello world in each ecosystem" run_packages ;;
  autobahn) stage "Autobahn testsuite (server and client)" run_autobahn ;;
  python | node | lua | clients/js) stage "host: $what" run_host "$what" ;;
  bench-smoke) stage "bench-smoke" run_bench_smoke ;;
  all)
    stage "clang-format" run_format
    stage "C unit and integration tests" run_c
    stage "layers" run_layers
    stage "interop with the npm Primus client" run_interop
    stage "Vibe's own suites (vibe-protocol 3.0.0-Alpha9)" run_vibe
    stage "Autobahn testsuite (server and client)" run_autobahn
    host_stages
    stage "Primus's own test suite" run_primus_suite
    stage "conformance: scenarios x hosts, the bindings matrix" run_conformance
    stage "acks and a Redis cluster across hosts" run_cross
    stage "hostile peers" run_hostile
    stage "metrics: promtool and Prometheus" run_metrics
    stage "packages: install and hello world in each ecosystem" run_packages
    stage "C tests under ASan+UBSan" run_asan
    stage "valgrind" run_valgrind
    stage "fuzzing (${FUZZ_SECONDS}s per target)" run_fuzz
    stage "bench-smoke" run_bench_smoke
    ;;
  *) echo "unknown stage $what" >&2; exit 2 ;;
esac

echo
[ ${#failures[@]} -gt 0 ] && printf 'failed stage: %s\n' "${failures[@]}"
echo "stages: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
