#!/usr/bin/env bash
# `make bench`: every benchmark in one run, then the report. Each part is a
# script of its own that writes bench/results/<part>.json; report.sh turns
# the results into bench/REPORT.md (and plots when gnuplot is there).
set -uo pipefail
cd "$(dirname "$0")/.."
for part in echo broadcast memory ext profile; do
  if [ -x "bench/$part.sh" ]; then
    echo "== bench: $part"
    bash "bench/$part.sh" || echo "bench: $part failed"
  fi
done
[ -x bench/report.sh ] && bash bench/report.sh
