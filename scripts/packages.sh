#!/usr/bin/env bash
# The packages stage of `make test` (`bash scripts/test.sh packages`): installs
# each package the way its users do, from the built artifacts, into temporary
# prefixes, venvs and folders outside the repository, and runs a hello world
# in each (tests/packages/: a server and a client in one program, the
# client's message echoed):
#   version   scripts/version.py --check (and --self-test): every copy of VERSION
#   C         make install PREFIX=…; hello.c through pkg-config (weft, and
#             weft-static: no libweft.so needed) and find_package(weft)
#             (weft::weft, weft::weft_static; the static one's missing
#             dependencies named); add_subdirectory from a parent
#   Python    python -m build (sdist, then the wheel from the sdist); the sdist
#             and the wheel each into a fresh venv; a missing system library
#             named by pip install
#   Node      npm pack; the tarball installed offline into an empty folder;
#             CommonJS, ESM, and TypeScript (nodenext, tsc --strict)
#   Lua       luarocks make into a local tree, for Lua 5.4 and for LuaJIT
# Network: PyPI only (the build backend in pip's isolated build environments).
# About a minute on 2 cores. Ends with "packages: N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
T=$(mktemp -d "${TMPDIR:-/tmp}/weft-packages.XXXXXX")
trap 'rm -rf "$T"' EXIT
HELLO=$ROOT/tests/packages
VENV=$ROOT/build-python/venv # the tools: python -m build (python/deps.sh)
PY=${PYTHON:-python3}
VERSION=$(cat VERSION)
export CMAKE_BUILD_PARALLEL_LEVEL=${CMAKE_BUILD_PARALLEL_LEVEL:-$(nproc 2>/dev/null || echo 2)}
passed=0
failed=0

# step NAME COMMAND...: runs COMMAND (a function below) in a shell bounded to
# 5 minutes, its output shown only when it fails.
step() {
  local name=$1 t0=$SECONDS
  shift
  if timeout 300 bash -c '"$@"' step "$@" >"$T/step.log" 2>&1; then
    passed=$((passed + 1))
    echo "--- ok: $name ($((SECONDS - t0)) s)"
  else
    failed=$((failed + 1))
    tail -60 "$T/step.log"
    echo "--- FAILED: $name ($((SECONDS - t0)) s)"
  fi
}

# expect OUTPUT: the hello world's line, with this version.
expect_hello() {
  local out
  out=$("$@") || return 1
  echo "$out"
  grep -qx "hello, weft (weft $VERSION.*)" <<<"$out" || { echo "unexpected output: $out"; return 1; }
}

# needs_libweft BINARY: whether it loads libweft.so.
needs_libweft() { readelf -d "$1" | grep -q 'NEEDED.*libweft'; }

version_copies() {
  python3 scripts/version.py --check && python3 scripts/version.py --self-test
}

# ---- C ----
P=$T/prefix
c_install() {
  make --no-print-directory install PREFIX="$P" || return 1
  local f
  for f in include/weft/weft.h include/weft/plugin.h include/weft/ext.h include/weft/version.h \
    lib/libweft.so lib/libweft.a lib/pkgconfig/weft.pc lib/pkgconfig/weft-static.pc \
    lib/cmake/weft/weftConfig.cmake lib/cmake/weft/weftConfigVersion.cmake bin/weft; do
    [ -e "$P/$f" ] || { echo "not installed: $f"; return 1; }
  done
  grep -q "#define WEFT_VERSION_STRING \"$VERSION\"" "$P/include/weft/version.h" &&
    [ "$("$P/bin/weft" --version)" = "weft $VERSION" ]
}

c_pkgconfig() {
  export PKG_CONFIG_PATH=$P/lib/pkgconfig
  [ "$(pkg-config --modversion weft)" = "$VERSION" ] || return 1
  # Requires.private and Libs.private: what a static link needs.
  local static
  static=$(pkg-config --static --libs weft)
  echo "pkg-config --static --libs weft: $static"
  for l in -lweft -luv -lmsgpackc -lz -lssl -lcrypto -lm; do
    grep -qw -- "$l" <<<"$static" || { echo "missing $l"; return 1; }
  done
  # shellcheck disable=SC2046
  cc -o "$T/hello_pc" "$HELLO/hello.c" $(pkg-config --cflags --libs weft) -Wl,-rpath,"$P/lib" &&
    needs_libweft "$T/hello_pc" && expect_hello "$T/hello_pc" || return 1
  # shellcheck disable=SC2046
  cc -o "$T/hello_pc_static" "$HELLO/hello.c" $(pkg-config --cflags --libs weft-static) &&
    ! needs_libweft "$T/hello_pc_static" && expect_hello "$T/hello_pc_static"
}

# tests/packages/CMakeLists.txt: hello_shared (weft::weft) and hello_static
# (weft::weft_static), against an installed weft or a source tree.
c_cmake() { # BUILD_DIR CMAKE_ARGS...
  local b=$1
  shift
  cmake -S "$HELLO" -B "$b" "$@" && cmake --build "$b" &&
    needs_libweft "$b/hello_shared" && ! needs_libweft "$b/hello_static" &&
    expect_hello "$b/hello_shared" && expect_hello "$b/hello_static"
}

# find_package(weft) where pkg-config finds none of the static library's
# dependencies: weft::weft still works, and requiring the static one fails
# naming what it needs.
c_cmake_no_deps() {
  mkdir -p "$T/no-pc"
  local out
  out=$(PKG_CONFIG_LIBDIR=$T/no-pc PKG_CONFIG_PATH= cmake -S "$HELLO" -B "$T/cmake-no-deps" \
    -DCMAKE_PREFIX_PATH="$P" 2>&1)
  [ $? -ne 0 ] || { echo "$out"; echo "configured without weft::weft_static's dependencies"; return 1; }
  grep -q "weft::weft_static needs libuv (Debian/Ubuntu package: libuv1-dev)" <<<"$out" ||
    { echo "$out"; echo "the reason is not named"; return 1; }
  rm -rf "$T/cmake-no-deps"
  PKG_CONFIG_LIBDIR=$T/no-pc PKG_CONFIG_PATH= cmake -S "$HELLO" -B "$T/cmake-no-deps" \
    -DCMAKE_PREFIX_PATH="$P" -DHELLO_COMPONENTS=shared && cmake --build "$T/cmake-no-deps" &&
    expect_hello "$T/cmake-no-deps/hello_shared"
}

# ---- Python ----
python_build() {
  [ -x "$VENV/bin/python" ] || bash python/deps.sh || return 1
  local before
  before=$(ls -A "$ROOT")
  "$VENV/bin/python" -m build -o "$T/dist" python || return 1
  # Self-contained: the core travels inside, as files (not links).
  local sdist=$T/dist/weft-$VERSION.tar.gz
  for f in core/sources.txt core/primus/server.c include/weft/weft.h include/weft/version.h.in \
    bindings/weft.i bindings/pyweft.c bindings/pyint.h cmake/weft_deps.cmake VERSION LICENSE; do
    tar tvzf "$sdist" "weft-$VERSION/$f" | grep -q '^-' || { echo "sdist lacks the file $f"; return 1; }
  done
  # The build tree stays out of the repository.
  [ "$(ls -A "$ROOT")" = "$before" ] || { echo "the build wrote into the root:"; diff <(echo "$before") <(ls -A "$ROOT"); return 1; }
}

python_install() { # NAME ARTIFACT: a fresh venv, the artifact installed, hello.py run outside the repo
  "$PY" -m venv "$T/venv-$1" && "$T/venv-$1/bin/pip" install -q "$2" &&
    (cd "$T" && expect_hello "$T/venv-$1/bin/python" "$HELLO/hello.py")
}

# pip install with the system libraries hidden from pkg-config: the error
# names each one and its Debian package.
python_missing_lib() {
  mkdir -p "$T/no-pc"
  local out
  out=$(cd "$T" && PKG_CONFIG_LIBDIR=$T/no-pc PKG_CONFIG_PATH= "$VENV/bin/pip" install \
    --no-build-isolation --no-deps --target "$T/no-install" "$T/dist/weft-$VERSION.tar.gz" 2>&1)
  [ $? -ne 0 ] || { echo "pip install succeeded without the system libraries"; return 1; }
  for want in "weft needs these system libraries" "libuv (Debian/Ubuntu package: libuv1-dev)" \
    "msgpack-c (Debian/Ubuntu package: libmsgpack-dev)" "libssl-dev" "zlib1g-dev"; do
    grep -qF "$want" <<<"$out" || { echo "$out"; echo "the message lacks: $want"; return 1; }
  done
}

# ---- Node ----
N=$T/node-app
node_pack() {
  (cd node && npm pack --silent --pack-destination "$T") || return 1
  local tgz=$T/weft-$VERSION.tgz
  tar tzf "$tgz" | grep -qx package/csrc/core/sources.txt &&
    tar tzf "$tgz" | grep -qx package/csrc/include/weft/version.h.in &&
    tar tzf "$tgz" | grep -qx package/LICENSE || { echo "the tarball lacks the C sources"; return 1; }
  [ ! -e node/csrc ] || { echo "npm pack left node/csrc behind"; return 1; }
}

node_install() {
  mkdir -p "$N" && cp "$HELLO/hello.cjs" "$HELLO/hello.mjs" "$HELLO/hello.mts" "$HELLO/tsconfig.json" "$N/"
  # npm 11 runs a dependency's install script (the addon's build) once the
  # project approves it.
  printf '{ "name": "hello-weft", "private": true, "allowScripts": { "file:%s": true } }\n' \
    "$T/weft-$VERSION.tgz" >"$N/package.json"
  (cd "$N" && npm install --offline --no-audit --no-fund "$T/weft-$VERSION.tgz") &&
    [ -f "$N/node_modules/weft/build/Release/weft.node" ]
}

node_typescript() {
  # tsc and @types/node from node/'s dev dependencies (node/deps.sh): the
  # folder itself installs offline, weft only.
  (cd "$N" && node "$ROOT/node/node_modules/typescript/bin/tsc" -p tsconfig.json \
    --typeRoots "$ROOT/node/node_modules/@types") &&
    (cd "$N" && expect_hello node out/hello.mjs)
}

# ---- Lua ----
lua_rock() { # LUA_VERSION INTERPRETER [luarocks variables]
  local v=$1 lua=$2
  shift 2
  luarocks --lua-version "$v" make --tree "$T/rocks" "$@" "weft-$VERSION-1.rockspec" || return 1
  [ -f "$T/rocks/lib/lua/$v/weft.so" ] || { echo "no $T/rocks/lib/lua/$v/weft.so"; return 1; }
  (eval "$(luarocks --lua-version "$v" --tree "$T/rocks" path)" && cd "$T" &&
    expect_hello "$lua" "$HELLO/hello.lua")
}

export ROOT T HELLO VENV PY VERSION P N
export -f $(compgen -A function)
t0=$SECONDS
step "version: every copy equals VERSION ($VERSION)" version_copies
step "C: make install PREFIX=…" c_install
step "C: pkg-config weft (shared) and weft-static" c_pkgconfig
step "C: find_package(weft): weft::weft and weft::weft_static" c_cmake "$T/cmake-installed" \
  -DCMAKE_PREFIX_PATH="$P"
step "C: find_package(weft) without the static library's dependencies" c_cmake_no_deps
step "C: add_subdirectory(weft) from a parent project" c_cmake "$T/cmake-subdir" \
  -DWEFT_SOURCE_DIR="$ROOT"
step "Python: python -m build (sdist, wheel from the sdist)" python_build
step "Python: the sdist in a fresh venv" python_install sdist "$T/dist/weft-$VERSION.tar.gz"
step "Python: the wheel in a fresh venv" python_install wheel \
  "$(ls "$T"/dist/weft-"$VERSION"-*.whl 2>/dev/null | head -1)"
step "Python: a missing system library is named" python_missing_lib
step "Node: npm pack is self-contained" node_pack
step "Node: the tarball installs offline in an empty folder" node_install
step "Node: CommonJS" expect_hello node "$N/hello.cjs"
step "Node: ESM named imports" expect_hello node "$N/hello.mjs"
step "Node: TypeScript nodenext (tsc --strict)" node_typescript
step "Lua: luarocks make (Lua 5.4) into a local tree" lua_rock 5.4 lua5.4
# LuaJIT speaks Lua 5.1's API: luarocks' 5.1 tree, with LuaJIT's headers.
step "Lua: luarocks make for LuaJIT (--lua-version 5.1)" lua_rock 5.1 luajit \
  LUA_INCDIR=/usr/include/luajit-2.1
echo "packages: $passed passed, $failed failed ($((SECONDS - t0)) s)"
[ "$failed" -eq 0 ]
