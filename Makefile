# profd: the two commands of the README, and a few for developers.
#   make demo   install what is missing, build, profile a sample app, print the flame graph
#   make test   install what is missing, build, run every test through CTest
BUILD ?= build
JOBS ?= 2
CMAKE_FLAGS ?=

.PHONY: all deps build test demo sanitize fuzz format lint clean

all: build

deps:
	@bash scripts/install-deps.sh

build: deps
	@cmake -S . -B $(BUILD) $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(BUILD) -j$(JOBS)

test: build
	cd $(BUILD) && ctest --output-on-failure -j$(JOBS)

demo: build
	@bash scripts/demo.sh $(BUILD)/profd

sanitize:
	$(MAKE) test BUILD=build-asan CMAKE_FLAGS="-DPROFD_SANITIZE=ON -DCMAKE_C_COMPILER=clang"

format:
	git ls-files '*.c' '*.h' | xargs clang-format -i

lint:
	git ls-files '*.c' '*.h' | xargs clang-format --dry-run --Werror

clean:
	rm -rf build build-*
