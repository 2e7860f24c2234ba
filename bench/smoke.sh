#!/usr/bin/env bash
# `make bench-smoke` (and the bench-smoke stage of `make test`): short runs
# of the headline cells, the ratios printed, nothing asserted. Under two
# minutes on 2 cores:
#   - echo 100 × 32 B, 8 in flight, weft json and raw beside uWebSockets
#     (bench/peers/uws.sh; when it cannot be built, e.g. offline without a
#     mirror, beside Node ws instead, with a message);
#   - memory per idle connection at 2000 connections, weft beside the same
#     peer;
#   - rooms fan-out at 1k clients beside uWebSockets' topics (after its
#     verify pass: every client gets exactly its room's messages);
#   - one new transport: tcp:// echo with acks beside npm fast-tcp.
# Results go to a temporary folder (bench/results is not touched), and
# bench/table.py prints them. Exits 0 unless a benchmark script fails (a
# server that does not start, a load generator that crashes); ratios below
# 1 are not failures: speed is measured here, never asserted.
set -uo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
export BUILD
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
t0=$SECONDS
status=0
part() { # NAME COMMAND...: runs one part, its output indented
  local name=$1
  shift
  echo "-- bench-smoke: $name"
  "$@" 2>&1 | sed 's/^/   /' # pipefail: the part's status
  [ "${PIPESTATUS[0]}" -eq 0 ] || { echo "bench-smoke: $name failed"; status=1; }
}
for tool in "$BUILD/weft" "$BUILD/bench/echo_load" "$BUILD/bench/idle_load" "$BUILD/bench/ft_load"; do
  [ -x "$tool" ] || { echo "bench-smoke: $tool is missing (cmake --build $BUILD)"; exit 1; }
done

peer=uws
if ! UWS_CLONE_TIMEOUT=${UWS_CLONE_TIMEOUT:-30} bash bench/peers/uws.sh >"$dir/uws.log" 2>&1; then
  peer=ws
  echo "bench-smoke: uWebSockets cells skipped, Node ws instead: $(tail -1 "$dir/uws.log")"
fi
part "echo 100 x 32 B, 8 in flight (weft json, weft raw, $peer)" \
  env RUNS=3 SECONDS_PER_RUN=1 WARMUP=0.5 CASES="100 32 8" SERVERS="weft-c weft-c-raw $peer" \
  OUT="$dir/echo.json" bash bench/echo.sh
part "idle memory at 2000 connections (weft, $peer)" \
  env RUNS=2 STAGES=2000 SETTLE=0.5 MEM_SERVERS="weft-c $peer" OUT="$dir/memory.json" bash bench/memory.sh
if [ "$peer" = uws ]; then
  part "rooms fan-out, 1k clients in 100 rooms, 8 senders (weft, uws; a verify pass first)" \
    env RUNS=1 SECONDS_PER_RUN=1 CLIENTS=1000 SERVERS="weft-c uws" OUT="$dir/rooms.json" \
    bash bench/rooms.sh
fi
if [ -d tests/interop/node_modules/fast-tcp ]; then
  part "tcp:// echo + ack (weft, npm fast-tcp)" \
    env RUNS=3 SECONDS_PER_RUN=1 MODES=echo SCHEMES=tcp OUT="$dir/fasttcp.json" bash bench/fasttcp.sh
else
  echo "bench-smoke: fast-tcp skipped: tests/interop/node_modules/fast-tcp is missing (bash scripts/deps.sh)"
fi
echo
echo "bench-smoke: short runs on whatever else the machine is doing; the ratios are not asserted"
python3 bench/table.py --brief "$dir" || status=1
echo "bench-smoke: $((SECONDS - t0)) s"
exit $status
