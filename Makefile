# The two commands a newcomer needs: `make run` and `make test`. Everything else is a helper.
# Swift is expected at /opt/swift (the machines' toolchain) or on PATH; the system packages the
# build links against (libcrypto's headers) are installed by deploy/local/install-packages.sh.

SHELL := /bin/bash
export PATH := /opt/swift/usr/bin:$(PATH)
SWIFT ?= swift
BIN_RELEASE := .build/release/aiplatform
SCENARIOS := $(wildcard scenarios/*.json)
SEEDS ?= 1..50

.PHONY: all build release run chaos test unit sim-all determinism bench fuzz format lint clean toolchain

all: build

toolchain:
	@deploy/local/check-toolchain.sh
	@deploy/local/install-packages.sh

build: toolchain
	$(SWIFT) build

release: toolchain
	$(SWIFT) build -c release --product aiplatform

# The platform on this machine with embedded defaults: the built-in reference backend serves the sample model
# and the development key `demo-token` is accepted. Ctrl-C stops it (requests in flight finish first).
run: release
	@echo "starting aiplatform serve (embedded mode) on port $${PORT:-8080}; try, from another terminal:"
	@echo "  curl -s localhost:$${PORT:-8080}/v1/infer -H 'Authorization: Bearer demo-token' \\"
	@echo "    --json '{\"model\": \"sample-classifier\", \"version\": 1, \"input\": {\"features\": [5.1, 3.5, 1.4, 0.2]}}'"
	@echo "  curl -s localhost:$${PORT:-8080}/v2/models/sample-classifier -H 'Authorization: Bearer demo-token'"
	@echo "  curl -s localhost:$${PORT:-8080}/metrics"
	$(BIN_RELEASE) serve

# The steady-state chaos scenario, its report in out/steady-state/report.html.
chaos: release
	$(BIN_RELEASE) sim scenarios/steady-state.json --seed 1 --report out/steady-state
	@echo "open out/steady-state/report.html (e.g. chromium out/steady-state/report.html)"

# Unit, property, simulation and integration tests. Simulation tests drive the release binary in separate
# processes (determinism must hold across processes, and release mode keeps them quick). integration.sh installs
# the test tools and a real Triton (quick when present) for TritonIntegrationTests; AIPLATFORM_TRITON=0 skips them.
test: release
	deploy/local/integration.sh
	AIPLATFORM_TRITON=$${AIPLATFORM_TRITON:-1} AIPLATFORM_BIN=$(CURDIR)/$(BIN_RELEASE) $(SWIFT) test

unit: toolchain
	$(SWIFT) test --skip SimulationProcessTests

# Every shipped scenario for seeds $(SEEDS).
sim-all: release
	@for scenario in $(SCENARIOS); do $(BIN_RELEASE) sim $$scenario --seeds $(SEEDS) | tail -n 1 || exit 1; done

determinism: release
	@for scenario in $(SCENARIOS); do $(BIN_RELEASE) sim $$scenario --seeds 1..3 --check-determinism || exit 1; done

bench: release
	deploy/local/bench-sim.sh

fuzz:
	deploy/local/fuzz.sh

format:
	$(SWIFT) format --in-place --recursive Sources Simulation Tests

lint:
	$(SWIFT) format lint --recursive Sources Simulation Tests

clean:
	rm -rf .build out
