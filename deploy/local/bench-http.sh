#!/usr/bin/env bash
# Release-mode cost of the HTTP/1.1 client codecs and the KServe v2 response decoder, for docs/benchmarks.md: the
# response parser per typical answer against the request parser (the peer) in the same process. Built by swiftc
# directly with PlatformWire's sources, as the fuzz targets are, so it needs no SwiftPM product.
# Usage: deploy/local/bench-http.sh [runs, default 1000000]
set -euo pipefail
cd "$(dirname "$0")/../.."
export PATH="/opt/swift/usr/bin:$PATH"
runs="${1:-1000000}"
mkdir -p .build/bench/modules
# ar adds to an existing archive: start from empty ones so no stale object survives.
rm -f .build/bench/libPlatformCore.a .build/bench/libPlatformWire.a
find Sources/PlatformCore -name '*.swift' -print0 | sort -z | xargs -0 swiftc -O -wmo -module-name PlatformCore \
    -emit-module -emit-module-path .build/bench/modules/PlatformCore.swiftmodule \
    -emit-library -static -o .build/bench/libPlatformCore.a
find Sources/PlatformWire -name '*.swift' -print0 | sort -z | xargs -0 swiftc -O -wmo -module-name PlatformWire \
    -emit-module -emit-module-path .build/bench/modules/PlatformWire.swiftmodule -I .build/bench/modules \
    -emit-library -static -o .build/bench/libPlatformWire.a
swiftc -O -parse-as-library -I .build/bench/modules -L .build/bench -lPlatformWire -lPlatformCore -lm \
    Tests/Bench/HTTPClientBench.swift -o .build/bench/http-client
.build/bench/http-client "$runs"
