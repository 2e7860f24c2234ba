#!/usr/bin/env bash
# The Python stage of `make test`: installs the package into
# build-python/venv (when its sources changed), runs the pytest suite and
# mypy --strict on the package and the examples. Exits non-zero on failure.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
VENV=$ROOT/build-python/venv
t0=$SECONDS
[ -x "$VENV/bin/pytest" ] || bash python/deps.sh || exit 1

# Reinstall when anything the wheel is built from changed.
stamp=$ROOT/build-python/.installed.sha
want=$(cat python/pyproject.toml python/CMakeLists.txt core/sources.txt VERSION \
  $(git ls-files -co --exclude-standard python/weft bindings core include cmake | sort) 2>/dev/null |
  sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ] || ! "$VENV/bin/python" -c 'import weft' 2>/dev/null; then
  echo "pip install ./python"
  # The build tree: kept under build-python/ so that rebuilds are incremental
  # (a user's `pip install ./python` builds in a temporary folder).
  if ! "$VENV/bin/pip" install -q --no-build-isolation --force-reinstall --no-deps \
    --config-settings=build-dir="$ROOT/build-python/skbuild" ./python \
    >"$ROOT/build-python/install.log" 2>&1; then
    tail -60 "$ROOT/build-python/install.log"
    echo "python: pip install failed"
    exit 1
  fi
  echo "$want" >"$stamp"
fi

# The CLI that tests/test_listen.py runs (never skipped): $WEFT_CLI when set,
# else the C build's build/weft, configured when missing and brought up to
# date here (an incremental build of that one target).
if [ -z "${WEFT_CLI:-}" ]; then
  export WEFT_CLI=$ROOT/build/weft
  mkdir -p "$ROOT/build-python"
  if ! { { [ -f build/CMakeCache.txt ] || cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo; } &&
    cmake --build build -j 2 --target weft_cli; } >"$ROOT/build-python/cli.log" 2>&1; then
    tail -40 "$ROOT/build-python/cli.log"
    echo "python: building the CLI (build/weft) failed"
    exit 1
  fi
fi

rc=0
echo "pytest"
(cd python && timeout 180 "$VENV/bin/pytest" -q) || rc=1
# The same suite on an ASan+UBSan build of the extension (the C trampolines
# and the core), preloaded into the venv's Python. WEFT_PY_ASAN=0 skips it.
if [ "${WEFT_PY_ASAN:-1}" != 0 ]; then
  echo "pytest on an ASan+UBSan build"
  A=$ROOT/build-python/asan
  SAN="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer"
  if cmake -S python -B "$A" -DPython_EXECUTABLE="$VENV/bin/python" -DCMAKE_BUILD_TYPE=Debug \
    -DCMAKE_C_FLAGS="$SAN" -DCMAKE_MODULE_LINKER_FLAGS="-fsanitize=address,undefined" \
    >"$A.log" 2>&1 && cmake --build "$A" -j 2 >>"$A.log" 2>&1; then
    rm -rf "$A/pkg" && mkdir -p "$A/pkg/weft"
    cp python/weft/*.py python/weft/py.typed "$A"/_lowlevel*.so "$A/lowlevel.py" "$A/pkg/weft/"
    (cd "$A" && LD_PRELOAD="$(cc -print-file-name=libasan.so) $(cc -print-file-name=libubsan.so)" \
      ASAN_OPTIONS=detect_leaks=0 UBSAN_OPTIONS=print_stacktrace=1 PYTHONPATH="$A/pkg" \
      timeout 180 "$VENV/bin/python" -c "
import sys, weft
assert weft.__file__.startswith('$A/pkg'), weft.__file__
import pytest
sys.exit(pytest.main(['-q', '-c', '$ROOT/python/pytest.ini', '$ROOT/python/tests']))") || rc=1
  else
    tail -40 "$A.log"
    rc=1
  fi
fi
echo "mypy --strict"
(cd python && timeout 120 "$VENV/bin/mypy" --strict --cache-dir "$ROOT/build-python/mypy-cache" \
  weft examples ../examples/handlers/app.py) || rc=1
echo "python stage: $([ $rc = 0 ] && echo ok || echo FAILED) in $((SECONDS - t0)) s"
exit $rc
