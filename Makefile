# argo-node-allocator — every target installs what it needs first (Debian 12).
SHELL := /bin/bash
BUILD ?= build
ASAN_BUILD ?= build-asan
TSAN_BUILD ?= build-tsan
JOBS ?= $(shell nproc)
POLICY ?= examples/policy.yaml
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

# Build and test tools, all Debian 12 packages.
DEB_BUILD := cmake g++ make libboost1.81-dev libssl-dev rapidjson-dev libsimdjson-dev libyaml-cpp-dev \
             libspdlog-dev doctest-dev openssl
DEB_TEST  := python3 python3-jsonpatch python3-jsonschema python3-yaml curl golang-go
DEB_BENCH := nghttp2-client nginx libnginx-mod-http-echo valgrind python3-matplotlib
DEB_FUZZ  := clang libclang-rt-14-dev
DEB_LINT  := clang-format clang-tidy
DEB_SCAN  := sslscan

define install_missing
	@missing=$$(for p in $(1); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing:" $$missing; \
	  $(SUDO) apt-get update -qq && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	fi
endef

.PHONY: all deps deps-test deps-bench deps-fuzz build test test-asan test-tsan run certs bench fuzz soak tls-scan image format lint tidy clean

all: build

deps:
	$(call install_missing,$(DEB_BUILD))

deps-test: deps
	$(call install_missing,$(DEB_TEST))

deps-bench: deps-test
	$(call install_missing,$(DEB_BENCH))

deps-fuzz: deps-test
	$(call install_missing,$(DEB_FUZZ))

build: deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	cmake --build $(BUILD) -j $(JOBS)

test: deps-test build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

# The whole suite under AddressSanitizer + UndefinedBehaviorSanitizer.
test-asan: deps-test
	cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DNODEALLOC_SANITIZE=address,undefined >/dev/null
	cmake --build $(ASAN_BUILD) -j $(JOBS)
	cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
	  ctest --output-on-failure -j $(JOBS)

# The server's end-to-end tests under ThreadSanitizer.
test-tsan: deps-test
	cmake -S . -B $(TSAN_BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DNODEALLOC_SANITIZE=thread >/dev/null
	cmake --build $(TSAN_BUILD) -j $(JOBS) --target argo-node-allocator server-unit-tests
	cd $(TSAN_BUILD) && TSAN_OPTIONS=halt_on_error=1 ctest --output-on-failure -L server

certs/dev/tls.crt:
	bash certs/gen-certs.sh --out certs/dev --service argo-node-allocator --namespace argo-node-allocator \
	  --extra-san localhost --extra-san 127.0.0.1

certs: deps certs/dev/tls.crt

run: build certs
	$(BUILD)/argo-node-allocator serve --policy $(POLICY) \
	  --tls-cert certs/dev/tls.crt --tls-key certs/dev/tls.key \
	  --listen 127.0.0.1:8443 --metrics-listen 127.0.0.1:9090

# Benchmarks (the image's profile-guided Release build, in $(BENCH_BUILD)): core in-process vs bare
# RapidJSON, end to end over TLS vs an nginx ceiling, memory and startup; prints one table
# (docs/benchmarks.md). The build takes about 3 min on 2 cores, the run under 5.
BENCH_BUILD ?= build-bench
BENCH_ARGS ?=
bench: deps-bench
	JOBS=$(JOBS) bash tests/bench/pgo-build.sh $(BENCH_BUILD)
	/usr/bin/python3 tests/bench/run_bench.py $(BENCH_BUILD) --plot $(BENCH_BUILD)/bench/scaling.png $(BENCH_ARGS)

# libFuzzer targets (clang, ASan+UBSan) for FUZZ_SECONDS each; fails on any finding (docs/fuzzing.md).
FUZZ_BUILD ?= build-fuzz
FUZZ_SECONDS ?= 60
FUZZ_SEED ?=
fuzz: deps-fuzz
	cmake -S . -B $(FUZZ_BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++ \
	  -DNODEALLOC_FUZZ=ON >/dev/null
	cmake --build $(FUZZ_BUILD) -j $(JOBS) --target fuzz-targets
	bash tests/fuzz/make-seeds.sh $(FUZZ_BUILD)/seeds
	FUZZ_SEED=$(FUZZ_SEED) bash tests/fuzz/run-fuzzers.sh $(FUZZ_BUILD) $(FUZZ_SECONDS)

# Soak (docs/security.md): 256 keep-alive TLS connections for SOAK_SECONDS with a certificate
# rotation, a valid and an invalid policy reload, then SIGTERM under load. Fails on any error,
# RSS growth after warm-up, or file descriptors not back to baseline. CI runs a 30 s version.
SOAK_SECONDS ?= 300
soak: deps-test build
	NODEALLOC_BIN=$(BUILD)/argo-node-allocator /usr/bin/python3 tests/hardening/soak.py --seconds $(SOAK_SECONDS)

# sslscan against the server on 127.0.0.1 (throw-away certificate): only TLS 1.2/1.3, no weak
# cipher; prints the scan (recorded in docs/security.md).
tls-scan: deps-test build
	$(call install_missing,$(DEB_SCAN))
	NODEALLOC_BIN=$(BUILD)/argo-node-allocator /usr/bin/python3 tests/hardening/tls_scan.py

format:
	clang-format -i $$(git ls-files '*.cpp' '*.hpp')

# What CI checks: formatting everywhere, clang-tidy on the core and the CLI (the server's
# Beast-heavy files take minutes each; `make tidy` covers everything).
lint: build
	$(call install_missing,$(DEB_LINT))
	clang-format --dry-run --Werror $$(git ls-files '*.cpp' '*.hpp')
	clang-tidy -p $(BUILD) --quiet --extra-arg=-Wno-unknown-warning-option $$(git ls-files 'webhook/core/*.cpp' 'webhook/cli/*.cpp')

tidy: build
	$(call install_missing,$(DEB_LINT))
	clang-tidy -p $(BUILD) --quiet --extra-arg=-Wno-unknown-warning-option $$(git ls-files 'webhook/*.cpp')

image:
	docker build -t argo-node-allocator:$$(git describe --always --dirty 2>/dev/null || echo dev) .

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(TSAN_BUILD)
