#!/usr/bin/env bash
# Refreshes the committed fuzz corpora (tests/fuzz/corpus/<target>.tar.gz)
# from what build-fuzz/corpus/ holds after a long run (`make fuzz`): each
# target's corpus is merged down to the inputs that add coverage, then
# packed reproducibly. Not part of make test.
set -euo pipefail
cd "$(dirname "$0")/.."
for f in build-fuzz/tests/fuzz/fuzz_*; do
  [ -x "$f" ] || continue
  t=$(basename "$f")
  [ -d "build-fuzz/corpus/$t" ] || continue
  min=$(mktemp -d)
  "$f" -merge=1 "$min" "build-fuzz/corpus/$t" >/dev/null 2>&1
  tar -C "$min" --sort=name --mtime=2026-01-01 --owner=0 --group=0 -czf "tests/fuzz/corpus/$t.tar.gz" .
  echo "$t: $(ls "$min" | wc -l) inputs, $(stat -c %s "tests/fuzz/corpus/$t.tar.gz") bytes packed"
  rm -rf "$min"
done
