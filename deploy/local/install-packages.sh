#!/usr/bin/env bash
# Installs the system packages the build links against: libcrypto's headers (libssl-dev, for the CCrypto module),
# SQLite's (libsqlite3-dev, for CSQLite) and pkg-config (which SwiftPM asks for their flags). Idempotent: does
# nothing when all are present.
set -euo pipefail
packages=(libssl-dev libsqlite3-dev pkg-config)
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
    echo "error: missing system packages: ${missing[*]}" >&2
    echo "install them as root: apt-get update && apt-get install -y ${missing[*]}" >&2
    exit 1
fi
echo "installing ${missing[*]}"
apt-get update
DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing[@]}"
