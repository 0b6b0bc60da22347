#!/usr/bin/env bash
# Builds and runs the libFuzzer targets for the pure codecs: the JSON reader, the compact JWS (JWT) parser, the
# registry and KServe v2 request decoders (with validation), the HTTP/1.1 request parser, the client side (the
# HTTP/1.1 response parser and the KServe v2 infer response decoder) and the recorded-trace decoder. Each target is
# compiled by swiftc directly with PlatformWire's sources (SwiftPM's executable linking clashes with libFuzzer's
# main); PlatformWire decodes into core values, so PlatformCore is built first as a static library with the same
# instrumentation.
# Usage: deploy/local/fuzz.sh [seconds per target, default 60]
#            [targets, default "json jwt registry http http-response kserve trace"]
#   deploy/local/fuzz.sh 60 jwt     # only the JWT parser, for 60 seconds
set -euo pipefail
cd "$(dirname "$0")/../.."
export PATH="/opt/swift/usr/bin:$PATH"
seconds="${1:-60}"
targets="${2:-json jwt registry http http-response kserve trace}"
flags=(-O -sanitize=fuzzer,address -parse-as-library)
quiet() { grep -v "Cannot export local symbol" || true; }
mkdir -p .build/fuzz/modules corpus/json corpus/jwt corpus/registry corpus/http corpus/http-response corpus/kserve \
    corpus/trace

find Sources/PlatformCore -name '*.swift' -print0 | sort -z | xargs -0 swiftc "${flags[@]}" -module-name PlatformCore \
    -emit-module -emit-module-path .build/fuzz/modules/PlatformCore.swiftmodule \
    -emit-library -static -o .build/fuzz/libPlatformCore.a 2>&1 | quiet

# Builds target $1 from PlatformWire's sources and the harness $2.
build() {
    find Sources/PlatformWire -name '*.swift' -print0 | sort -z | xargs -0 swiftc "${flags[@]}" -module-name PlatformWire \
        -I .build/fuzz/modules -L .build/fuzz -lPlatformCore "$2" -o ".build/fuzz/$1" 2>&1 | quiet
}

for target in $targets; do
    case "$target" in
    json)
        for seed in scenarios/*.json; do cp "$seed" corpus/json/ 2>/dev/null || true; done
        build json Tests/Fuzz/JSONFuzz.swift
        echo "== json: ${seconds}s"
        .build/fuzz/json -max_total_time="$seconds" -max_len=4096 corpus/json 2>&1 | tail -n 5
        ;;
    jwt)
        # Seeds: the RFC 7515 appendix A tokens (HS256, ES256, and the unsecured A.5) and one with every claim.
        payload="eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ"
        printf '%s' "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9.$payload.dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk" \
            >corpus/jwt/rfc7515-a1
        printf '%s' "eyJhbGciOiJFUzI1NiJ9.$payload.DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q" \
            >corpus/jwt/rfc7515-a3
        printf '%s' "eyJhbGciOiJub25lIn0.$payload." >corpus/jwt/rfc7515-a5
        printf '%s' "eyJhbGciOiJSUzI1NiIsImtpZCI6ImsxIiwidHlwIjoiSldUIn0.eyJpc3MiOiJqb2UiLCJzdWIiOiJ1c2VyLTciLCJhdWQiOlsiaW5mZXJlbmNlIiwieCJdLCJleHAiOjIwMDAwMDAwMDAsIm5iZiI6MC41LCJpYXQiOjEsInRlbmFudCI6ImFjbWUiLCJzY29wZSI6ImluZmVyIGpvYnM6cmVhZCJ9.c2ln" \
            >corpus/jwt/claims
        build jwt Tests/Fuzz/JWTFuzz.swift
        echo "== jwt: ${seconds}s"
        .build/fuzz/jwt -max_total_time="$seconds" -max_len=8192 corpus/jwt 2>&1 | tail -n 5
        ;;
    registry)
        # Registry create/update bodies and KServe v2 inference bodies, through decoding, validation and encoding.
        cp Tests/Fuzz/seeds/registry/*.json corpus/registry/
        build registry Tests/Fuzz/RegistryJSONFuzz.swift
        echo "== registry: ${seconds}s"
        .build/fuzz/registry -max_total_time="$seconds" -max_len=4096 -dict=Tests/Fuzz/registry.dict corpus/registry \
            2>&1 | tail -n 5
        ;;
    http)
        # The first byte of each input picks where it is split in two; the rest is the connection's bytes.
        cp Tests/Fuzz/seeds/http/* corpus/http/
        build http Tests/Fuzz/HTTPFuzz.swift
        echo "== http: ${seconds}s"
        .build/fuzz/http -max_total_time="$seconds" -max_len=4096 -dict=Tests/Fuzz/http.dict corpus/http 2>&1 | tail -n 5
        ;;
    http-response)
        # The first byte picks the split, the second how many requests were sent and which were HEAD, the third
        # whether the backend closes after the bytes; the rest is what the backend sent.
        cp Tests/Fuzz/seeds/http-response/* corpus/http-response/
        build http-response Tests/Fuzz/HTTPResponseFuzz.swift
        echo "== http-response: ${seconds}s"
        .build/fuzz/http-response -max_total_time="$seconds" -max_len=4096 -dict=Tests/Fuzz/http-response.dict \
            corpus/http-response 2>&1 | tail -n 5
        ;;
    kserve)
        # KServe v2 infer response and error bodies, decoded, encoded and decoded again.
        cp Tests/Fuzz/seeds/kserve/* corpus/kserve/
        build kserve Tests/Fuzz/KServeFuzz.swift
        echo "== kserve: ${seconds}s"
        .build/fuzz/kserve -max_total_time="$seconds" -max_len=4096 -dict=Tests/Fuzz/kserve.dict corpus/kserve 2>&1 |
            tail -n 5
        ;;
    trace)
        # Seeds: small traces with one of every record kind, written by the codec's own tests' inputs.
        cp Tests/Fuzz/seeds/trace/* corpus/trace/
        build trace Tests/Fuzz/TraceFuzz.swift
        echo "== trace: ${seconds}s"
        .build/fuzz/trace -max_total_time="$seconds" -max_len=4096 corpus/trace 2>&1 | tail -n 5
        ;;
    *)
        echo "unknown fuzz target: $target (known: json jwt registry http http-response kserve trace)" >&2
        exit 2
        ;;
    esac
done
