#!/usr/bin/env bash
# What the metrics cost (issue #17): the release build against the same
# sources built with -DWEFT_NO_METRICS=ON (the per-message counters compiled
# out), in alternating runs — callgrind instructions per echo message and
# per broadcast delivery (steady on a busy machine), then bench/ab.sh's
# throughput cases (noisy on a shared machine: read the medians).
#   bench/metrics_cost.sh            RUNS=3 by default
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-3}
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j2 >/dev/null
cmake -S . -B build-nometrics -DCMAKE_BUILD_TYPE=RelWithDebInfo -DWEFT_TESTS=OFF \
  -DWEFT_NO_METRICS=ON >/dev/null
cmake --build build-nometrics -j2 >/dev/null
keep=$(mktemp)
cp bench/results/profile.json "$keep" 2>/dev/null || true
for r in $(seq "$RUNS"); do
  for b in build-nometrics build; do
    BUILD=$b bash bench/profile.sh >/dev/null 2>&1
    python3 -c "import json,sys; d=json.load(open('bench/results/profile.json'));
print('$b run $r', ' '.join('%s %d' % (c['case'], c['ir_per_unit']) for c in d))"
  done
done
cp "$keep" bench/results/profile.json 2>/dev/null || true
rm -f "$keep"
RUNS=$RUNS CASES="echo100 echo1000 bcast1k bcast10k" bash bench/ab.sh build-nometrics build
