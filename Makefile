# profd: the two commands of the README, and a few for developers.
#   make demo   install what is missing, build, profile a sample app, print the flame graph
#   make test   install what is missing, build, run every test through CTest
BUILD ?= build
JOBS ?= 2
CMAKE_FLAGS ?=

.PHONY: all deps build test soak demo sanitize fuzz valgrind format lint clean

all: build

deps:
	@bash scripts/install-deps.sh

build: deps
	@cmake -S . -B $(BUILD) $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(BUILD) -j$(JOBS)

test: build
	cd $(BUILD) && ctest --output-on-failure -j$(JOBS)

soak: build
	bash scripts/soak.sh $(BUILD) $(or $(ROUNDS),5)

demo: build
	@bash scripts/demo.sh $(BUILD)/profd

# The whole suite under clang's ASan + UBSan, LeakSanitizer on (docs/reliability.md).
sanitize: export ASAN_OPTIONS ?= detect_leaks=1
sanitize: export UBSAN_OPTIONS ?= print_stacktrace=1:halt_on_error=1
sanitize:
	$(MAKE) test BUILD=build-asan CMAKE_FLAGS="-DPROFD_SANITIZE=ON -DCMAKE_C_COMPILER=clang"

# libFuzzer smoke run of every target (clang); FUZZ_SECONDS each, two at a time.
FUZZ_SECONDS ?= 40
fuzz: deps
	bash fuzz/smoke.sh $(FUZZ_SECONDS)

# The worker's Kafka integration run with the worker under valgrind memcheck.
valgrind: build
	PROFD_BUILD_DIR=$(CURDIR)/$(BUILD) PROFD_BIN=$(CURDIR)/$(BUILD)/profd bash tests/hardening/valgrind_worker.sh

format:
	git ls-files '*.c' '*.h' | xargs clang-format -i

lint:
	git ls-files '*.c' '*.h' | xargs clang-format --dry-run --Werror

clean:
	rm -rf build build-*
