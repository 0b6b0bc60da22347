#!/usr/bin/env bash
# User-space instructions per request of the gateway alone: a native embedded `aiplatform serve` is the upstream
# (its reference backend), and a second `serve --backend …` with one reactor thread runs under valgrind's callgrind
# in front of it. Warms up, zeroes the counters, drives a fixed wrk run at /v2/models/sample-classifier/infer,
# dumps, and prints the instructions per request and the dump (inspect it with
# `callgrind_annotate --inclusive=yes DUMP`). Counts do not depend on how busy the machine is, so two commits can be
# compared on a shared host. Loopback only, about half a minute.
# Usage: deploy/local/profile-gateway.sh [PORT_BASE]   (BIN=path/to/aiplatform; EXTRA="--record DIR" adds flags to
#        the gateway; TARGET=upstream profiles the upstream alone, driven directly; OUT=dir keeps the dump, default a
#        fresh /tmp directory; needs valgrind, wrk and curl)
set -uo pipefail
cd "$(dirname "$0")/../.."
base="${1:-23000}"
bin="${BIN:-.build/release/aiplatform}"
out="${OUT:-$(mktemp -d /tmp/profile-gateway.XXXXXX)}"
mkdir -p "$out"
body='{"inputs": [{"name": "features", "datatype": "FP32", "shape": [1, 4], "data": [5.1, 3.5, 1.4, 0.2]}]}'
cat >"$out/post.lua" <<LUA
wrk.method = "POST"
wrk.body = '$body'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer bench-secret-0123456789"
LUA
if [ "${TARGET:-gateway}" = upstream ]; then
    # The upstream alone (the embedded reference backend), profiled with the same load, nothing in front of it.
    LOG_LEVEL=warn valgrind --tool=callgrind --callgrind-out-file="$out/cg.out" "$bin" serve --threads 1 \
        --host 127.0.0.1 --port "$base" --metadata-port $((base + 1)) --reference-port $((base + 2)) \
        --data-dir "$out/upstream" --model-repository deploy/models >"$out/upstream.log" 2>&1 &
    upstream=$!
    profiled=$upstream
    gateway=""
    for _ in $(seq 1 120); do curl -s -o /dev/null "127.0.0.1:$((base + 2))/v2/health/ready" && break; sleep 0.5; done
    url="http://127.0.0.1:$((base + 2))/v2/models/sample-classifier/infer"
else
    LOG_LEVEL=warn "$bin" serve --threads 1 --host 127.0.0.1 --port "$base" --metadata-port $((base + 1)) \
        --reference-port $((base + 2)) --data-dir "$out/upstream" --model-repository deploy/models \
        >"$out/upstream.log" 2>&1 &
    upstream=$!
    for _ in $(seq 1 60); do curl -s -o /dev/null "127.0.0.1:$((base + 2))/v2/health/ready" && break; sleep 0.25; done
    # shellcheck disable=SC2086 # EXTRA is a list of flags on purpose
    LOG_LEVEL=warn valgrind --tool=callgrind --callgrind-out-file="$out/cg.out" "$bin" serve --threads 1 \
        --host 127.0.0.1 --port $((base + 5)) --metadata-port $((base + 6)) --backend "http://127.0.0.1:$((base + 2))" \
        --api-key bench:bench-secret-0123456789 --rate-limit 1000000000 --burst 100000000 ${EXTRA:-} \
        --data-dir "$out/gateway" --model-repository deploy/models >"$out/gateway.log" 2>&1 &
    gateway=$!
    profiled=$gateway
    for _ in $(seq 1 120); do curl -s -o /dev/null "127.0.0.1:$((base + 5))/health" && break; sleep 0.5; done
    url="http://127.0.0.1:$((base + 5))/v2/models/sample-classifier/infer"
fi
wrk -t1 -c4 -d3s -s "$out/post.lua" "$url" >/dev/null
callgrind_control -z "$profiled" >/dev/null
wrk -t1 -c4 -d8s -s "$out/post.lua" "$url" >"$out/wrk.out"
callgrind_control -d "$profiled" >/dev/null
sleep 1
# shellcheck disable=SC2086 # $gateway is empty when the upstream alone is profiled
kill -TERM $gateway "$upstream"
# shellcheck disable=SC2086
wait $gateway "$upstream" 2>/dev/null
requests="$(awk '/requests in/ { print $1 }' "$out/wrk.out")"
dump="$(find "$out" -name 'cg.out.*' | sort | head -n 1)"
instructions="$(callgrind_annotate "$dump" 2>/dev/null | awk '/PROGRAM TOTALS/ { gsub(",", "", $1); print $1 }')"
echo "requests $requests, instructions $instructions, per request $((instructions / requests))"
echo "dump $dump"
