#!/usr/bin/env bash
# Refreshes vendor/test from github.com/primus/primus at a commit (network;
# maintainers only, never run by `make test`). Usage: vendor.sh [COMMIT]
set -euo pipefail
cd "$(dirname "$0")"
commit=${1:-7158e36b361c473a915c7df51bfaab199fceeec3}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
curl -fsSL "https://codeload.github.com/primus/primus/tar.gz/$commit" | tar -xz -C "$tmp" --strip-components=1
for f in common.js middleware.test.js plugin.test.js primus.parsers.test.js primus.test.js spark.test.js \
  transformer.base.js websockets.integration.js engine.io.integration.js \
  unix_domain_websockets.integration.js ssl/server.crt ssl/server.key; do
  install -D -m 644 "$tmp/test/$f" "vendor/test/$f"
done
cp "$tmp/LICENSE" vendor/LICENSE
echo "vendor/test at $commit; update the commit in vendor/README.md"
