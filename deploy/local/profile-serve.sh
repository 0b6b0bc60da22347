#!/usr/bin/env bash
# User-space instructions per request of `aiplatform serve` (gateway and reference backend in one process, one
# reactor thread): runs it under valgrind's callgrind, warms up, zeroes the counters, drives a fixed wrk run
# against /v2/models/sample-classifier/infer, dumps, and prints Ir per request. Instruction counts do not depend
# on how busy the machine is, so two commits can be compared on a shared host. Loopback only, about a minute.
# Usage: deploy/local/profile-serve.sh   (BIN=path/to/aiplatform; needs valgrind and wrk)
set -euo pipefail
cd "$(dirname "$0")/../.."
bin="${BIN:-.build/release/aiplatform}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cat >"$work/body.lua" <<'LUA'
wrk.method = "POST"
wrk.body = '{"inputs":[{"name":"features","datatype":"FP32","shape":[1,4],"data":[5.1,3.5,1.4,0.2]}]}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer profile-key-123456"
LUA
LOG_LEVEL=warn valgrind --tool=callgrind --callgrind-out-file="$work/cg.out" "$bin" serve --threads 1 \
    --port 18980 --metadata-port 18983 --reference-port 18990 --data-dir "$work/data" \
    --api-key profile:profile-key-123456 --rate-limit 100000000 --burst 1000000 >"$work/serve.log" 2>&1 &
pid=$!
for _ in $(seq 1 120); do curl -s -o /dev/null 127.0.0.1:18980/health && break; sleep 0.5; done
url=http://127.0.0.1:18980/v2/models/sample-classifier/infer
wrk -t1 -c4 -d3s -s "$work/body.lua" "$url" >/dev/null
callgrind_control -z "$pid" >/dev/null
wrk -t1 -c4 -d10s -s "$work/body.lua" "$url" >"$work/wrk.out"
callgrind_control -d "$pid" >/dev/null
sleep 1
kill -TERM "$pid"
wait "$pid" 2>/dev/null || true
requests="$(awk '/requests in/ { print $1 }' "$work/wrk.out")"
dump="$(find "$work" -name 'cg.out.*' | sort | head -n 1)"
instructions="$(callgrind_annotate "$dump" 2>/dev/null | awk '/PROGRAM TOTALS/ { gsub(",", "", $1); print $1 }')"
echo "requests $requests, instructions $instructions, per request $((instructions / requests))"
