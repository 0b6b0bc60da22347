#!/usr/bin/env bash
# Installs the tools the tests and benchmarks call but the build does not need: `promtool` (Debian's prometheus
# package) checks that our Prometheus exposition parses as Prometheus itself would parse it; nginx (the peer proxy)
# and wrk (the load generator) are what deploy/local/bench-serve.sh measures the gateway against.
# Idempotent: does nothing when all are present, so `make test` can call it every time.
set -euo pipefail
packages=(prometheus nginx wrk)
missing=()
for package in "${packages[@]}"; do
    if ! dpkg -s "$package" 2>/dev/null | grep -q '^Status: install ok installed'; then
        missing+=("$package")
    fi
done
if [ "${#missing[@]}" -eq 0 ]; then
    exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "error: missing test tools: ${missing[*]}" >&2
    echo "install them as root: apt-get update && apt-get install -y --no-install-recommends ${missing[*]}" >&2
    exit 1
fi
echo "installing ${missing[*]}"
apt-get update
# --no-install-recommends: only promtool is wanted, not the exporters and web assets the package recommends.
# The postinst scripts of prometheus and nginx start their services only where an init system runs; on a CI
# container they stay stopped (the benchmark starts its own nginx with its own configuration).
DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
