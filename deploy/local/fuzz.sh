#!/usr/bin/env bash
# Builds and runs the libFuzzer targets for the pure codecs. Each target is compiled by swiftc
# directly with the sources of the module it exercises (SwiftPM's executable linking clashes
# with libFuzzer's main). Usage: deploy/local/fuzz.sh [seconds per target, default 60]
set -euo pipefail
cd "$(dirname "$0")/../.."
export PATH="/opt/swift/usr/bin:$PATH"
seconds="${1:-60}"
mkdir -p .build/fuzz corpus/json
for seed in scenarios/*.json; do cp "$seed" corpus/json/ 2>/dev/null || true; done
# PlatformWire decodes into core values, so PlatformCore comes first, as an instrumented static library.
core=(-I .build/fuzz -L .build/fuzz -lPlatformCore)
find Sources/PlatformCore -name '*.swift' | sort | xargs swiftc -O -sanitize=fuzzer,address -parse-as-library \
    -module-name PlatformCore -emit-module -emit-module-path .build/fuzz/PlatformCore.swiftmodule \
    -emit-library -static -o .build/fuzz/libPlatformCore.a
swiftc -O -sanitize=fuzzer,address -parse-as-library -module-name PlatformWire "${core[@]}" \
    Sources/PlatformWire/*.swift Tests/Fuzz/JSONFuzz.swift -o .build/fuzz/json 2>&1 | grep -v "Cannot export local symbol" || true
.build/fuzz/json -max_total_time="$seconds" -max_len=4096 corpus/json 2>&1 | tail -n 5
# Registry create/update bodies and KServe v2 inference bodies, through decoding, validation and encoding.
mkdir -p corpus/registry
cp Tests/Fuzz/seeds/registry/*.json corpus/registry/
swiftc -O -sanitize=fuzzer,address -parse-as-library -module-name PlatformWire "${core[@]}" \
    Sources/PlatformWire/*.swift Tests/Fuzz/RegistryJSONFuzz.swift -o .build/fuzz/registry 2>&1 | grep -v "Cannot export local symbol" || true
.build/fuzz/registry -max_total_time="$seconds" -max_len=4096 -dict=Tests/Fuzz/registry.dict corpus/registry 2>&1 | tail -n 5
