#!/usr/bin/env bash
# Installs the tools the tests and benchmarks call but the build does not need: `promtool` (Debian's prometheus
# package) checks that our Prometheus exposition parses as Prometheus itself would parse it; nginx (the peer proxy)
# and wrk (the load generator) are what deploy/local/bench-serve.sh measures the gateway against.
# Idempotent: does nothing when all are present, so `make test` can call it every time. Without recommended
# packages: only promtool is wanted of prometheus, not its exporters and web assets. Their postinst scripts start
# services only where an init system runs; on a CI container they stay stopped (the benchmark starts its own nginx).
set -euo pipefail
exec "$(dirname "$0")/install-packages.sh" prometheus nginx wrk
