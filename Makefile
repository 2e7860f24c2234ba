# weft — the two commands: `make run` and `make test`. Both install what is
# missing first (scripts/deps.sh), then build with CMake into build/.
BUILD ?= build
JOBS ?= $(shell nproc 2>/dev/null || echo 2)

.PHONY: all deps build run test test-c test-layers test-interop test-asan test-valgrind test-fuzz fuzz \
        test-autobahn \
        format format-check bench clean

all: build

deps:
	@bash scripts/deps.sh

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

# The demo: the chat of examples/chat at http://127.0.0.1:8080/ (the page,
# the browser client at /primus/weft.js and the real-time endpoint /primus).
run: build
	@echo "weft chat: open http://127.0.0.1:8080/"
	$(BUILD)/weft serve --host 127.0.0.1 --port 8080 --mode chat --static examples/chat

# Every suite; prints one summary line "N passed, N failed" at the end.
test: deps
	@bash scripts/test.sh all

test-c test-layers test-interop test-asan test-valgrind test-fuzz test-autobahn format-check: deps
	@bash scripts/test.sh $(patsubst test-%,%,$@)

# Longer fuzzing: FUZZ_SECONDS per target (default 600).
fuzz: deps
	@FUZZ_SECONDS=$${FUZZ_SECONDS:-600} bash scripts/test.sh fuzz

format:
	@clang-format -i $$(git ls-files '*.c' '*.h')

bench: build
	@bash bench/run.sh

clean:
	rm -rf build build-asan build-fuzz
