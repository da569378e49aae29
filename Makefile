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

# What building and running need (make run), and what only the tests and the
# benchmarks need on top (make test, make bench).
APT_RUN  := build-essential cmake ninja-build ccache pkg-config \
	libsqlite3-dev libssl-dev libpq-dev nlohmann-json3-dev libyaml-cpp-dev libcli11-dev \
	libspdlog-dev libfmt-dev libcpp-httplib-dev libboost-dev zlib1g-dev \
	libxgboost-dev libeigen3-dev libjemalloc-dev \
	libgrpc++-dev libprotobuf-dev protobuf-compiler protobuf-compiler-grpc
APT_TEST := libgtest-dev libgmock-dev clang-format prometheus prometheus-alertmanager wrk chromium \
	openjdk-17-jre-headless maven postgresql nginx-light
# nginx answering a fixed 200 is bench/serving's HTTP limit (and, in APT_TEST,
# the load balancer of test_replicas.py).
APT_BENCH := nginx-light
# The web UI is built with npm (ui/package-lock.json). Debian's nodejs and npm
# are installed only when no npm is on PATH, so a Node.js installed another
# way (nodesource's nodejs, which carries its own npm) is left alone.
APT_NODE := nodejs npm

CMAKE_FLAGS := -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) -DCMAKE_CXX_COMPILER_LAUNCHER=ccache

.PHONY: all deps deps-apt deps-apt-test deps-apt-bench deps-python deps-s3proxy deps-k8s image test-image build build-run run test test-unit \
	test-integration test-integration-pg-s3 sanitize tsan format format-check bench clean

all: build

deps: deps-apt-test deps-python deps-s3proxy deps-k8s

# apt only when a package is missing, so repeated runs cost nothing.
define apt_install
	@missing=$$(for p in $(1); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing: $$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	fi
endef

deps-apt:
	$(call apt_install,$(APT_RUN))
	@command -v npm >/dev/null 2>&1 || { \
	  echo "installing: $(APT_NODE) (no npm on PATH)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(APT_NODE); \
	}

deps-apt-test: deps-apt
	$(call apt_install,$(APT_TEST))

deps-apt-bench: deps-apt-test
	$(call apt_install,$(APT_BENCH))

# The Python side (the real mlflow client the tests drive) is pinned in
# tests/requirements.txt; pip is skipped when the pins are already satisfied.
deps-python:
	@$(PYTHON) tools/check_requirements.py tests/requirements.txt || \
	  $(PYTHON) -m pip install -q -r tests/requirements.txt

# S3Proxy, the S3-compatible server of the S3 tests (Java 17, from Maven
# Central through tests/s3proxy/pom.xml); skipped when its jars are there.
S3PROXY_LIB := tests/s3proxy/lib
deps-s3proxy: deps-apt-test
	@test -f $(S3PROXY_LIB)/s3proxy-2.6.0.jar || \
	  mvn -q -f tests/s3proxy/pom.xml dependency:copy-dependencies

# What the Kubernetes tests validate with (tests/integration/test_kubernetes.py),
# all through the Go module proxy and cached in $(K8S_TOOLS): helm and
# kubeconform built with `go install`, and kubeconform's JSON schemas made
# from the OpenAPI document in k8s.io/kubernetes and the ServiceMonitor CRD in
# prometheus-operator's module (tests/kubernetes/make_schemas.py). Each step
# is skipped when its result is there.
K8S_TOOLS := $(BUILD_DIR)/k8s-tools
HELM_VERSION := v4.3.2
KUBECONFORM_VERSION := v0.8.0
K8S_SCHEMAS_VERSION := v1.37.2
PROMETHEUS_OPERATOR_VERSION := v0.88.0
deps-k8s:
	@command -v go >/dev/null || { echo "deps-k8s: no go on PATH (helm and kubeconform are built with it)"; exit 1; }
	@test -x $(K8S_TOOLS)/bin/helm || \
	  GOBIN=$(abspath $(K8S_TOOLS))/bin go install helm.sh/helm/v4/cmd/helm@$(HELM_VERSION)
	@test -x $(K8S_TOOLS)/bin/kubeconform || \
	  GOBIN=$(abspath $(K8S_TOOLS))/bin go install github.com/yannh/kubeconform/cmd/kubeconform@$(KUBECONFORM_VERSION)
	@grep -qs $(K8S_SCHEMAS_VERSION) $(K8S_TOOLS)/schemas/.complete || \
	  $(PYTHON) tests/kubernetes/make_schemas.py --out $(K8S_TOOLS)/schemas \
	    --kubernetes $(K8S_SCHEMAS_VERSION) --prometheus-operator $(PROMETHEUS_OPERATOR_VERSION)

# The container image (Dockerfile: FROM scratch, the binary and its shared
# libraries); needs a running Docker daemon.
IMAGE ?= slipway:$(shell grep -om1 'slipway VERSION [0-9.]*' CMakeLists.txt | cut -d' ' -f3)
image: build
	deploy/docker/make_rootfs.sh $(BUILD_DIR)/slipway build/image
	docker build -t $(IMAGE) .

# The image built and run (tests/integration/test_container_image.py) on a
# Docker daemon of the test's own (tests/kubernetes/with_dockerd.sh: private
# socket, no bridge or iptables changes). Not part of `make test`.
test-image: build
	$(call apt_install,docker.io)
	SLIPWAY_BINARY=$(CURDIR)/$(BUILD_DIR)/slipway tests/kubernetes/with_dockerd.sh $(BUILD_DIR)/dockerd \
	  $(PYTHON) -m pytest tests/integration/test_container_image.py -q

# The tests are built only when GoogleTest is there (make test installs it).
build: deps-apt
	cmake -S . -B $(BUILD_DIR) $(CMAKE_FLAGS) \
	  -DSLIPWAY_BUILD_TESTS=$$(dpkg -s libgtest-dev >/dev/null 2>&1 && echo ON || echo OFF)
	cmake --build $(BUILD_DIR) -j $(JOBS)

run: build
	./$(BUILD_DIR)/slipway server --host $(HOST) --port $(PORT) --data-dir $(DATA_DIR)

test: deps
	$(MAKE) build
	$(MAKE) test-unit test-integration test-integration-pg-s3

# One S3Proxy and one PostgreSQL for every unit test process
# (tests/with_test_servers.py).
test-unit:
	cd $(BUILD_DIR) && $(PYTHON) $(CURDIR)/tests/with_test_servers.py \
	  ctest --output-on-failure -j $(JOBS)

# The integration tests wait on servers, clients and browsers more than they
# compute, so TEST_JOBS pytest-xdist workers (each its own servers) share the
# cores; whole files go to one worker (--dist loadfile), so a file's fixtures
# are started once. TEST_JOBS=0 runs them in this process, one at a time.
TEST_JOBS ?= $(JOBS)
test-integration:
	SLIPWAY_BINARY=$(CURDIR)/$(BUILD_DIR)/slipway SLIPWAY_K8S_TOOLS=$(CURDIR)/$(K8S_TOOLS) \
	  $(PYTHON) -m pytest tests/integration -q \
	  $(if $(filter 0,$(TEST_JOBS)),,-n $(TEST_JOBS) --dist loadfile)

# The MLflow client flows, registry, logged models, auth, audit and datasets
# again with every server on a fresh PostgreSQL database and its artifacts in
# an S3 bucket (S3Proxy): the same tests, the other engines
# (SLIPWAY_ITEST_STORE, SLIPWAY_ITEST_ARTIFACTS in tests/integration/conftest.py).
# Any other file runs the same way by hand.
PG_S3_FILES := test_tracking_flow.py test_registry.py test_logged_models.py test_auth.py \
	test_audit.py test_data.py
test-integration-pg-s3:
	SLIPWAY_BINARY=$(CURDIR)/$(BUILD_DIR)/slipway SLIPWAY_ITEST_STORE=postgresql SLIPWAY_ITEST_ARTIFACTS=s3 \
	  $(PYTHON) -m pytest $(addprefix tests/integration/,$(PG_S3_FILES)) -q \
	  $(if $(filter 0,$(TEST_JOBS)),,-n $(TEST_JOBS) --dist loadfile)

# Address and undefined-behaviour sanitizers over the whole suite.
sanitize: deps
	cmake -S . -B build-asan $(CMAKE_FLAGS) -DCMAKE_BUILD_TYPE=Debug -DSLIPWAY_SANITIZE=address
	cmake --build build-asan -j $(JOBS)
	cd build-asan && ctest --output-on-failure -j $(JOBS)
	# ASan keeps freed memory in a quarantine (256 MB by default) that counts
	# as RSS; a small one keeps the memory-bound tests meaningful.
	ASAN_OPTIONS=quarantine_size_mb=8 SLIPWAY_SANITIZER=address \
	  SLIPWAY_BINARY=$(CURDIR)/build-asan/slipway $(PYTHON) -m pytest tests/integration -q

# ThreadSanitizer over the unit tests (the HTTP core, executor, stores).
tsan: deps
	cmake -S . -B build-tsan $(CMAKE_FLAGS) -DCMAKE_BUILD_TYPE=Debug -DSLIPWAY_SANITIZE=thread
	cmake --build build-tsan -j $(JOBS) --target slipway_unit_tests
	cd build-tsan && TSAN_OPTIONS="halt_on_error=1 suppressions=$(CURDIR)/tests/tsan.supp" \
	  ctest --output-on-failure -j $(JOBS)

format:
	find src tests -name '*.h' -o -name '*.cc' | xargs clang-format -i

format-check:
	find src tests -name '*.h' -o -name '*.cc' | xargs clang-format --dry-run --Werror

bench: deps deps-apt-bench build
	$(PYTHON) bench/tracking/run.py
	$(PYTHON) bench/serving/run.py --record --venvs $(BUILD_DIR)/bench-venvs
	$(PYTHON) bench/training/run.py --record

clean:
	rm -rf $(BUILD_DIR) build-asan build-tsan
