# profd: the two commands of the README, and a few for developers.
#   make demo   install what is missing, build, profile a sample app, print the flame graph
#   make test   install what is missing, build, run every test through CTest
#   make        (make build) only configures and builds: it never installs anything;
#               make deps (scripts/install-deps.sh) does, and the targets that run
#               things (test, demo, soak, sanitize, fuzz, valgrind, lint) call it first.
BUILD ?= build
JOBS ?= 2
CMAKE_FLAGS ?=

.PHONY: all deps build test soak demo sanitize fuzz valgrind format lint matrix clean

all: build

deps:
	@bash scripts/install-deps.sh

build:
	@cmake -S . -B $(BUILD) $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(BUILD) -j$(JOBS)

# deps, then build: in a sub-make so that `make -j` cannot start both at once.
test: deps
	@$(MAKE) --no-print-directory build
	cd $(BUILD) && ctest --output-on-failure -j$(JOBS)

soak: deps
	@$(MAKE) --no-print-directory build
	bash scripts/soak.sh $(BUILD) $(or $(ROUNDS),5)

demo: deps
	@$(MAKE) --no-print-directory build
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
valgrind: deps
	@$(MAKE) --no-print-directory build
	PROFD_BUILD_DIR=$(CURDIR)/$(BUILD) PROFD_BIN=$(CURDIR)/$(BUILD)/profd bash tests/hardening/valgrind_worker.sh

format:
	git ls-files '*.c' '*.h' | xargs clang-format -i

# clang-format; cppcheck over src/ (inline suppressions only, each with its
# reason); no cross-module private include; and nm on every module library:
# no undefined symbol outside the module's declared dependencies.
CPPCHECK_FLAGS = --enable=warning,performance,portability --error-exitcode=1 --quiet \
	--inline-suppr --std=c11 -D_GNU_SOURCE -j$(JOBS) -I include -I src
# Every check runs; lint fails at the end if any failed.
lint: deps
	@$(MAKE) --no-print-directory build
	@rc=0; \
	echo "lint: clang-format"; git ls-files '*.c' '*.h' | xargs clang-format --dry-run --Werror || rc=1; \
	echo "lint: cppcheck"; cppcheck $(CPPCHECK_FLAGS) src/ || rc=1; \
	echo "lint: cross-module includes"; bash scripts/check-includes.sh || rc=1; \
	echo "lint: module dependencies (nm)"; bash scripts/check-deps.sh $(BUILD) || rc=1; \
	exit $$rc

# Debug, RelWithDebInfo and Release with gcc and clang, -Werror clean, unit tests
# in each (scripts/build-matrix.sh; build-matrix/<type>-<cc>).
matrix: deps
	bash scripts/build-matrix.sh

clean:
	rm -rf build build-*
