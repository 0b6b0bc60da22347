#!/usr/bin/env bash
# Checks that a Swift 6 toolchain is reachable; the machines ship one at /opt/swift.
set -euo pipefail
export PATH="/opt/swift/usr/bin:$PATH"
if ! command -v swift >/dev/null 2>&1; then
    echo "error: no Swift toolchain found (expected /opt/swift/usr/bin/swift or swift on PATH)" >&2
    exit 1
fi
version="$(swift --version 2>&1 | head -n 1)"
case "$version" in
    *"Swift version 6."*) ;;
    *) echo "error: Swift 6.x is required, found: $version" >&2; exit 1 ;;
esac
