#!/usr/bin/env bash
# Installs Debian packages when they are missing: by default the ones the build links against (libcrypto's
# headers for CCrypto, SQLite's for CSQLite, and pkg-config, which SwiftPM asks for their flags); other scripts
# pass their own list. Idempotent: does nothing when all are present. Installs without recommended packages.
# Usage: deploy/local/install-packages.sh [package ...]
set -euo pipefail
packages=("$@")
if [ "${#packages[@]}" -eq 0 ]; then
    packages=(libssl-dev libsqlite3-dev pkg-config)
fi
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
    echo "install them as root: apt-get update && apt-get install -y --no-install-recommends ${missing[*]}" >&2
    exit 1
fi
echo "installing ${missing[*]}"
apt-get update
DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
