# Slipway: set-up, build, run and test in two commands (see README.md).
#
#   make run    install what is missing, build, start the server on 127.0.0.1:5000
#   make test   install what is missing, build, run every test
#
# Both are safe to repeat: installed packages are detected and skipped, and the
# build is incremental (ccache).

BUILD_DIR   ?= build
BUILD_TYPE  ?= RelWithDebInfo
JOBS        ?= $(shell nproc)
PYTHON      ?= python3
HOST        ?= 127.0.0.1
PORT        ?= 5000
DATA_DIR    ?= slipway-data

APT_PACKAGES := build-essential cmake ninja-build ccache pkg-config clang-format \
	libsqlite3-dev libssl-dev libpq-dev nlohmann-json3-dev libyaml-cpp-dev libcli11-dev \
	libspdlog-dev libfmt-dev libcpp-httplib-dev libgtest-dev libgmock-dev wrk prometheus

CMAKE_FLAGS := -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) -DCMAKE_CXX_COMPILER_LAUNCHER=ccache

.PHONY: all deps deps-apt deps-python build run test test-unit test-integration \
	sanitize format format-check bench clean

all: build

deps: deps-apt deps-python

# apt only when a package is missing, so repeated runs cost nothing.
deps-apt:
	@missing=$$(for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing: $$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	fi

# The Python side (the real mlflow client the tests drive) is pinned in
# tests/requirements.txt; pip is skipped when the pins are already satisfied.
deps-python:
	@$(PYTHON) tools/check_requirements.py tests/requirements.txt || \
	  $(PYTHON) -m pip install -q -r tests/requirements.txt

build: deps-apt
	cmake -S . -B $(BUILD_DIR) $(CMAKE_FLAGS)
	cmake --build $(BUILD_DIR) -j $(JOBS)

run: build
	./$(BUILD_DIR)/slipway server --host $(HOST) --port $(PORT) \
	  --store sqlite:///$(DATA_DIR)/slipway.db --artifacts $(DATA_DIR)/artifacts \
	  --datasets $(DATA_DIR)/datasets

test: deps build
	$(MAKE) test-unit test-integration

test-unit:
	cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS)

test-integration:
	SLIPWAY_BINARY=$(CURDIR)/$(BUILD_DIR)/slipway $(PYTHON) -m pytest tests/integration -q

# Address and undefined-behaviour sanitizers over the whole suite.
sanitize: deps
	cmake -S . -B build-asan $(CMAKE_FLAGS) -DCMAKE_BUILD_TYPE=Debug -DSLIPWAY_SANITIZE=ON
	cmake --build build-asan -j $(JOBS)
	cd build-asan && ctest --output-on-failure -j $(JOBS)
	SLIPWAY_BINARY=$(CURDIR)/build-asan/slipway $(PYTHON) -m pytest tests/integration -q

format:
	find src tests -name '*.h' -o -name '*.cc' | xargs clang-format -i

format-check:
	find src tests -name '*.h' -o -name '*.cc' | xargs clang-format --dry-run --Werror

bench: build
	$(PYTHON) bench/tracking/run.py

clean:
	rm -rf $(BUILD_DIR) build-asan
