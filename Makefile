# kmem -- top-level commands.  CMake does the building underneath.
#
#   make            build the library, tools, examples and benchmarks (build/)
#   make check      install what is missing, then every test: the normal
#                   build, an AddressSanitizer+UndefinedBehaviorSanitizer
#                   build (clang), the threaded tests under ThreadSanitizer,
#                   and each libFuzzer harness for 30 seconds
#   make fuzz [SECONDS=N]
#                   build the libFuzzer harnesses (tests/fuzz, clang, in
#                   build-fuzz/) and run each for N seconds (default 60)
#                   over a copy of its seed corpus; a crash fails, naming
#                   the file that holds the input
#   make demo       install what is missing, build, run the showcase
#                   (scripts/demo.sh: a leak hunt with kmemstat, then map_demo)
#   make bench      run the benchmarks
#   make stress DURATION=SECONDS
#                   the stress test (tests/stress/stress.c) for that long
#                   each (default 60): kmem's interfaces, then under failure
#                   injection and refused commits, then malloc and the rest
#                   under `kmem run`; THREADS=N (default 8), SEED=N
#   make install PREFIX=DIR
#   make format     clang-format the sources

SHELL := /bin/bash
MAKEFLAGS += --no-print-directory
PREFIX ?= /usr/local
DURATION ?= 60
THREADS ?= 8
SEED ?= 1
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
CMAKE ?= cmake
CTEST ?= ctest

BUILD := build
BUILD_ASAN := build-asan
BUILD_TSAN := build-tsan
BUILD_FUZZ := build-fuzz
SECONDS ?= 60

.PHONY: all setup build check test test-asan test-tsan fuzz demo bench bench-quick stress \
	install format clean

all: build

setup:
	@sh scripts/setup

$(BUILD)/CMakeCache.txt:
	$(CMAKE) -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo \
		-DCMAKE_INSTALL_PREFIX=$(PREFIX) >/dev/null

build: $(BUILD)/CMakeCache.txt
	$(CMAKE) --build $(BUILD) -j $(JOBS)

# Each run keeps its ctest output in ctest.log, so that `make check` can
# close with one line that counts every test of every run.
test: build
	set -o pipefail; cd $(BUILD) && $(CTEST) --output-on-failure -j $(JOBS) | tee ctest.log

test-asan:
	CC=clang $(CMAKE) -S . -B $(BUILD_ASAN) -DCMAKE_BUILD_TYPE=Debug \
		-DKMEM_SANITIZE=address -DKMEM_BENCH=OFF >/dev/null
	$(CMAKE) --build $(BUILD_ASAN) -j $(JOBS)
	set -o pipefail; cd $(BUILD_ASAN) && $(CTEST) --output-on-failure -j $(JOBS) | tee ctest.log

test-tsan:
	CC=clang $(CMAKE) -S . -B $(BUILD_TSAN) -DCMAKE_BUILD_TYPE=Debug \
		-DKMEM_SANITIZE=thread -DKMEM_BENCH=OFF -DKMEM_EXAMPLES=OFF >/dev/null
	$(CMAKE) --build $(BUILD_TSAN) -j $(JOBS)
	set -o pipefail; cd $(BUILD_TSAN) && $(CTEST) --output-on-failure -L threads | tee ctest.log

# The harnesses run one after another: each is a CTest test labelled fuzz
# that runs for FUZZ_SECONDS (tests/fuzz/run.sh).
fuzz:
	CC=clang $(CMAKE) -S . -B $(BUILD_FUZZ) -DCMAKE_BUILD_TYPE=RelWithDebInfo \
		-DKMEM_FUZZ=ON -DKMEM_TESTS=OFF -DKMEM_BENCH=OFF -DKMEM_EXAMPLES=OFF >/dev/null
	$(CMAKE) --build $(BUILD_FUZZ) -j $(JOBS)
	set -o pipefail; cd $(BUILD_FUZZ) && FUZZ_SECONDS=$(SECONDS) \
		$(CTEST) --output-on-failure -L fuzz | tee ctest.log

check: setup
	$(MAKE) test
	$(MAKE) test-asan
	$(MAKE) test-tsan
	$(MAKE) fuzz SECONDS=30
	$(MAKE) bench-quick
	@n=$$(cat $(BUILD)/ctest.log $(BUILD_ASAN)/ctest.log $(BUILD_TSAN)/ctest.log \
		$(BUILD_FUZZ)/ctest.log | \
		sed -n 's/.*tests passed, 0 tests failed out of \([0-9]*\).*/\1/p' | \
		awk '{ s += $$1 } END { print s + 0 }'); \
		echo "make check: every run passed (plain, ASan+UBSan, TSan, fuzzing, benchmark smoke run)"; \
		echo "check: $$n passed, 0 failed"

demo: setup build
	sh scripts/demo.sh $(BUILD)

bench: setup build
	sh bench/run.sh $(BUILD)

bench-quick: build
	sh bench/run.sh $(BUILD) --quick

STRESS := $(BUILD)/tests/stress
stress: build
	KMEM_OPTIONS= $(STRESS)/stress -s $(SEED) -t $(THREADS) -d $(DURATION)
	KMEM_OPTIONS=failure_rate=5,failure_seed=$(SEED) \
		$(STRESS)/stress -s $(SEED) -t $(THREADS) -d $(DURATION)
	KMEM_OPTIONS=fail_commit=7,fail_reserve=3 \
		$(STRESS)/stress -s $(SEED) -t $(THREADS) -d $(DURATION)
	KMEM_OPTIONS= $(BUILD)/tools/kmem run -- \
		$(STRESS)/stress_libc -s $(SEED) -t $(THREADS) -d $(DURATION)

install: build
	$(CMAKE) --install $(BUILD) --prefix $(PREFIX)

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD) $(BUILD_ASAN) $(BUILD_TSAN) $(BUILD_FUZZ)
