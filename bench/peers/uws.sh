#!/usr/bin/env bash
# Builds the uWebSockets peer of bench/ (bench/peers/uws_server.cpp) against
# uWebSockets and uSockets at a pinned release, into a git-ignored folder:
#
#   bash bench/peers/uws.sh        -> build-uws/uws_server (prints its path)
#
# Sources, in this order: a local mirror (UWS_MIRROR, a folder holding
# uNetworking+uWebSockets/repo and uNetworking+uSockets/repo bare git
# directories; /work/.mirror by default), exported with `git archive` of the
# pinned commits; else `git clone --depth 1 --branch $UWS_TAG
# --recurse-submodules` from GitHub. uSockets is the commit uWebSockets'
# tag pins as its submodule (checked). Neither available: prints why and
# exits 3 (callers skip the uWebSockets cells). No uWS code is copied into
# this repository. Compiled as uWS's own build does (-O3 -flto, no TLS,
# system zlib), without -march=native (weft is not built with it either).
set -euo pipefail
cd "$(dirname "$0")/../.."
UWS_TAG=${UWS_TAG:-v20.79.0}
USOCKETS_COMMIT=${USOCKETS_COMMIT:-86097c490263ab662d62e8e7b541390bdec7d149}
UWS_MIRROR=${UWS_MIRROR:-/work/.mirror}
OUT=${UWS_BUILD:-build-uws}
src=bench/peers/uws_server.cpp
bin=$OUT/uws_server
stamp="$UWS_TAG $USOCKETS_COMMIT $(sha1sum "$src" | cut -c1-40)"
skip() { echo "uws: skipped: $*" >&2; exit 3; }

if [ -x "$bin" ] && [ "$(cat "$OUT/stamp" 2>/dev/null)" = "$stamp" ]; then
  echo "$bin"
  exit 0
fi
command -v g++ >/dev/null || skip "no g++"
command -v cc >/dev/null || skip "no C compiler"
[ -f /usr/include/zlib.h ] || skip "no zlib headers (apt-get install zlib1g-dev)"
rm -rf "$OUT/src"
mkdir -p "$OUT/src/uWebSockets" "$OUT/src/uSockets"
uws_git=$UWS_MIRROR/uNetworking+uWebSockets/repo
us_git=$UWS_MIRROR/uNetworking+uSockets/repo
if git --git-dir="$uws_git" cat-file -e "$UWS_TAG^{commit}" 2>/dev/null &&
  git --git-dir="$us_git" cat-file -e "$USOCKETS_COMMIT^{commit}" 2>/dev/null; then
  from="mirror $UWS_MIRROR"
  pinned=$(git --git-dir="$uws_git" ls-tree "$UWS_TAG" uSockets | awk '{print $3}')
  git --git-dir="$uws_git" archive "$UWS_TAG" src | tar -x -C "$OUT/src/uWebSockets"
  git --git-dir="$us_git" archive "$USOCKETS_COMMIT" src | tar -x -C "$OUT/src/uSockets"
elif command -v git >/dev/null &&
  timeout "${UWS_CLONE_TIMEOUT:-120}" git clone -q --depth 1 --branch "$UWS_TAG" --recurse-submodules --shallow-submodules \
    https://github.com/uNetworking/uWebSockets "$OUT/src/clone" 2>"$OUT/clone.log"; then
  from="github.com (git clone --depth 1 --branch $UWS_TAG)"
  pinned=$(git -C "$OUT/src/clone" ls-tree HEAD uSockets | awk '{print $3}')
  rm -rf "$OUT/src/uWebSockets" "$OUT/src/uSockets"
  mv "$OUT/src/clone" "$OUT/src/uWebSockets"
  mv "$OUT/src/uWebSockets/uSockets" "$OUT/src/uSockets"
else
  skip "uWebSockets $UWS_TAG is neither in $UWS_MIRROR nor reachable on github.com ($(tail -1 "$OUT/clone.log" 2>/dev/null))"
fi
[ "$pinned" = "$USOCKETS_COMMIT" ] ||
  skip "uWebSockets $UWS_TAG pins uSockets $pinned, not $USOCKETS_COMMIT (update USOCKETS_COMMIT)"
echo "uws: building uWebSockets $UWS_TAG + uSockets ${USOCKETS_COMMIT:0:12} from $from" >&2
us=$OUT/src/uSockets/src
mkdir -p "$OUT/obj"
(cd "$OUT/obj" && cc -O3 -flto -DLIBUS_NO_SSL -std=c11 -I"../src/uSockets/src" \
  -c ../src/uSockets/src/*.c ../src/uSockets/src/eventing/*.c ../src/uSockets/src/crypto/*.c)
g++ -O3 -flto=auto -std=c++2b -DLIBUS_NO_SSL -I"$OUT/src/uWebSockets/src" -I"$us" \
  "$src" "$OUT"/obj/*.o -lz -o "$bin"
echo "$stamp" >"$OUT/stamp"
echo "$bin"
