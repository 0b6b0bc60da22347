#!/usr/bin/env bash
# Installs the tools the tests call but the build does not need: `promtool` (Debian's prometheus package) checks
# that our Prometheus exposition parses as Prometheus itself would parse it. Later the home of nginx and wrk too.
# Idempotent: does nothing when all are present, so `make test` can call it every time.
set -euo pipefail
packages=(prometheus)
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
# The package's postinst starts a Prometheus server only where systemd runs; on a CI container it stays stopped.
DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
