# weft — the two commands: `make run` and `make test`. Both install what is
# missing first (scripts/deps.sh), then build with CMake into build/ (quietly:
# the compiler's output goes to build/build.log, shown when the build fails).
BUILD ?= build
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
# make run: where the chat listens.
HOST ?= 127.0.0.1
PORT ?= 8080
# make install: where the libraries, headers, CLI, weft.pc and weftConfig.cmake go.
PREFIX ?= /usr/local

.PHONY: all deps build run install test test-c test-layers test-interop test-hostile test-metrics test-primus-suite \
        test-conformance test-asan test-valgrind test-fuzz test-packages test-autobahn fuzz format format-check bench bench-smoke clean

all: build

deps:
	@bash scripts/deps.sh

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@cmake --build $(BUILD) -j $(JOBS) >$(BUILD)/build.log 2>&1 || \
	  { cat $(BUILD)/build.log; echo "build failed (log: $(BUILD)/build.log)"; exit 1; }

# The demo: the chat of examples/chat at http://$(HOST):$(PORT)/ (the page,
# the browser client at /primus/weft.js and the real-time endpoint /primus).
# The server's last line at start is the page's URL.
run: build
	@$(BUILD)/weft serve --host $(HOST) --port $(PORT) --mode chat --static examples/chat

# Installs into $(PREFIX) (DESTDIR is honoured, for staging).
install: build
	@cmake --install $(BUILD) --prefix $(PREFIX)

# Every suite; prints one summary line "N passed, N failed" at the end.
test: deps
	@bash scripts/test.sh all

test-c test-layers test-interop test-hostile test-metrics test-conformance test-asan test-valgrind test-primus-suite \
  test-fuzz test-packages test-autobahn format-check: deps
	@bash scripts/test.sh $(patsubst test-%,%,$@)

# Longer fuzzing: FUZZ_SECONDS per target (default 600).
fuzz: deps
	@FUZZ_SECONDS=$${FUZZ_SECONDS:-600} bash scripts/test.sh fuzz

format:
	@clang-format -i $$(git ls-files '*.c' '*.h')

bench: build
	@bash bench/run.sh

# Short runs of the headline cells (under 2 minutes): ratios printed, not asserted.
bench-smoke: build
	@bash bench/smoke.sh

clean:
	rm -rf build build-asan build-fuzz
