#!/usr/bin/env bash
# Installs what the build and the test suites need, only what is missing.
# Idempotent and quiet: a second run on a ready machine does nothing but check.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PKGS=(build-essential cmake pkg-config libuv1-dev libmsgpack-dev
          libcmocka-dev zlib1g-dev libssl-dev valgrind clang libclang-rt-14-dev
          clang-format libhiredis-dev redis-server)
# Node.js may come from another source (the machine's own build ships npm);
# only a machine without node gets Debian's.
# Each host front end may add Debian packages (HOST/deps.env sets
# HOST_APT_PKGS) and install its own npm/PyPI packages (HOST/deps.sh, run
# after apt).
HOSTS=(python node lua clients/js)
# npm packages for Primus's own test suite (mocha, chai, request, ejson).
if [ -f tests/primus-suite/package.json ]; then
  if [ ! -d tests/primus-suite/node_modules ] ||
     [ tests/primus-suite/package.json -nt tests/primus-suite/node_modules/.stamp ]; then
    echo "deps: npm install in tests/primus-suite"
    (cd tests/primus-suite && npm install --no-audit --no-fund --loglevel=error >/dev/null &&
       touch node_modules/.stamp)
  fi
fi

for h in "${HOSTS[@]}"; do
  if [ -f "$h/deps.env" ]; then
    HOST_APT_PKGS=()
    # shellcheck disable=SC1090
    . "$h/deps.env"
    APT_PKGS+=("${HOST_APT_PKGS[@]}")
  fi
done
command -v node >/dev/null || APT_PKGS+=(nodejs)
command -v npm >/dev/null || APT_PKGS+=(npm)

missing=()
for p in "${APT_PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "deps: installing ${missing[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  # An empty package list (a fresh machine) needs one update first.
  if ! apt-cache policy "${missing[0]}" 2>/dev/null | grep -q Candidate: ||
     apt-cache policy "${missing[0]}" 2>/dev/null | grep -q "Candidate: (none)"; then
    $SUDO apt-get update -qq
  fi
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
    || { $SUDO apt-get update -qq && $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; }
fi

# promtool and prometheus for the metrics stage: Debian's package unpacked
# into build-tools/ (not installed: its service must not start on a test
# machine).
PROM_DIR=build-tools/prometheus
if [ ! -x "$PROM_DIR/promtool" ]; then
  echo "deps: unpacking Debian's prometheus into $PROM_DIR"
  tmp=$(mktemp -d)
  if ! apt-cache policy prometheus 2>/dev/null | grep -q 'Candidate: [0-9]'; then
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    $SUDO apt-get update -qq
  fi
  (cd "$tmp" && apt-get download -qq prometheus 2>/dev/null && dpkg-deb -x prometheus_*.deb x) &&
    mkdir -p "$PROM_DIR" && cp "$tmp/x/usr/bin/promtool" "$tmp/x/usr/bin/prometheus" "$PROM_DIR/"
  rm -rf "$tmp"
  [ -x "$PROM_DIR/promtool" ] || { echo "deps: could not unpack prometheus" >&2; exit 1; }
fi

# npm packages of a test folder (its package.json, exact versions), when
# package.json is newer than the last install.
npm_folder() { # DIR
  if [ -f "$1/package.json" ]; then
    if [ ! -d "$1/node_modules" ] || [ "$1/package.json" -nt "$1/node_modules/.stamp" ]; then
      echo "deps: npm install in $1"
      (cd "$1" && npm install --no-audit --no-fund --loglevel=error >/dev/null &&
         touch node_modules/.stamp)
    fi
  fi
}
# The interop tests (Primus client and server, primus-msgpack); Vibe's
# suites (vibe-protocol, mocha and the suites' requires).
npm_folder tests/interop
npm_folder tests/vibe

for h in "${HOSTS[@]}"; do
  [ -f "$h/deps.sh" ] && bash "$h/deps.sh"
done
exit 0
