#!/usr/bin/env bash
# `make bench`: every benchmark in one run, then the one table and the
# report. uWebSockets is built first (bench/peers/uws.sh; its cells are left
# out when it cannot be obtained). Each part is a script of its own that
# runs weft and its peers in turn within each repetition and writes
# bench/results/<part>.json; bench/table.py prints the table of every peer
# (min–median–max, the ratio per repetition, the commands) and report.sh
# turns the results into bench/REPORT.md (and plots when gnuplot is there).
# PARTS picks some parts; RUNS etc. are each script's own.
set -uo pipefail
cd "$(dirname "$0")/.."
PARTS=${PARTS:-"echo broadcast rooms memory engineio fasttcp vibe cluster ext profile"}
echo "== bench: uWebSockets (bench/peers/uws.sh)"
bash bench/peers/uws.sh || echo "bench: without uWebSockets (see above)"
for part in $PARTS; do
  if [ -x "bench/$part.sh" ]; then
    echo "== bench: $part"
    bash "bench/$part.sh" || echo "bench: $part failed"
  fi
done
echo "== bench: every peer"
python3 bench/table.py
[ -x bench/report.sh ] && bash bench/report.sh
