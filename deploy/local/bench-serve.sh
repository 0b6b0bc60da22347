#!/usr/bin/env bash
# Benchmarks the production shell's gateway on this machine, against peers measured in the same run.
#
# What runs (all on 127.0.0.1, on free ports, stopped on exit):
#   upstream  an embedded `aiplatform serve`; only its built-in reference backend (KServe v2 REST) is used,
#             as the one upstream every path below ends at
#   gateway   the gateway under test: a second `aiplatform serve --backend http://127.0.0.1:<reference port>`
#             with a static key, rate limits out of the way and LOG_LEVEL=warn
#   nginx     Debian's nginx proxying /v2/ to the same upstream (keep-alive upstream pool), the peer a gateway
#             is usually compared with
#   recording the same gateway configuration with `--record DIR`, so the cost of recording every machine input is
#             measured against the gateway in the same rounds; its trace is replayed at the end
#             (`aiplatform replay`), which must report every reactor identical
#
# What it measures:
#   1. Closed loop, wrk (--latency): ROUNDS rounds, each running the four targets in turn (upstream directly,
#      through nginx, through the gateway, through the recording gateway; reversed every other round) for DURATION
#      seconds with the same threads and connections, POSTing a small KServe v2 body to
#      /v2/models/sample-classifier/infer. Prints requests/s, p50 and p99 per run, the median per target, and the
#      gateway/nginx and recording/gateway ratios as the median of the per-round ratios.
#   2. Open loop at half the gateway's median peak rate, `aiplatform load` (latency from the time each request
#      was due, so queueing is not hidden): OPEN_ROUNDS interleaved rounds (default 9) of OPEN_DURATION seconds
#      (default 4) per target: many short rounds, because this shared host's bursts of stolen time move a whole
#      round's p99 by milliseconds and a median over many rounds is what stays put. Medians of p50/p90/p99 for
#      upstream, nginx and gateway; a proxy's added latency is its figure minus the upstream's, given round by
#      round for the gateway and for nginx, with the median of those differences.
#   3. CPU per request at a fixed CPU_RATE (default 10,000/s, open loop): CPU_ROUNDS interleaved rounds (default 3)
#      of CPU_DURATION seconds (default 5) through nginx, the gateway and the recording gateway; the CPU time of the
#      proxy's threads (the scheduler's account in /proc/PID/task/TID/schedstat) over the answers. The same work
#      at the same rate, so less at the mercy of a noisy neighbour than a closed-loop rate.
#   4. Memory: HOLD keep-alive connections opened to the gateway, each sending one GET /health and staying open;
#      the gateway's VmRSS (from /proc/PID/status) before and while they are held.
#
# It measures and never asserts: it exits 0 when it ran to the end, whatever the figures. Bounded: about
# 4 × ROUNDS × DURATION s of wrk, 3 × OPEN_ROUNDS × OPEN_DURATION s of open-loop load, 3 × CPU_ROUNDS ×
# CPU_DURATION s at the fixed rate and under a minute for the rest, plus the build.
#
# Usage: deploy/local/bench-serve.sh            (environment: ROUNDS=3 DURATION=10 THREADS=2 CONNECTIONS=64
#                                                HOLD=10000 SKIP_BUILD=1 to reuse .build/release/aiplatform)
# Needs nginx and wrk (deploy/local/install-test-tools.sh installs them).
set -euo pipefail

repo="$(cd "$(dirname "$0")/../.." && pwd)"
rounds="${ROUNDS:-3}"
duration="${DURATION:-10}"
threads="${THREADS:-2}"
connections="${CONNECTIONS:-64}"
hold="${HOLD:-10000}"
bin="$repo/.build/release/aiplatform"
secret="bench-secret-0123456789"

for tool in nginx wrk python3 curl; do
    if ! command -v "$tool" >/dev/null; then
        echo "bench-serve.sh: $tool is missing (deploy/local/install-test-tools.sh installs nginx and wrk)" >&2
        exit 1
    fi
done

if [ -z "${SKIP_BUILD:-}" ]; then
    echo "== building release"
    (cd "$repo" && PATH="/opt/swift/usr/bin:$PATH" swift build -c release --product aiplatform 2>&1 | tail -n 1)
fi
[ -x "$bin" ] || { echo "bench-serve.sh: no $bin" >&2; exit 1; }

# Ten thousand held connections need as many descriptors in the gateway and in the client holding them.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
if [ "$(ulimit -n)" != "unlimited" ] && [ "$(ulimit -n)" -lt $((hold + 1000)) ]; then
    echo "bench-serve.sh: ulimit -n is $(ulimit -n); holding $(($(ulimit -n) - 1000)) connections instead of $hold"
    hold=$(($(ulimit -n) - 1000))
fi

work="$(mktemp -d /tmp/bench-serve.XXXXXX)"
chmod 755 "$work"
pids=()
# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
    local pid
    for pid in "${pids[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in "${pids[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    if [ -f "$work/nginx.pid" ]; then
        kill "$(cat "$work/nginx.pid")" 2>/dev/null || true
    fi
    # The processes' logs outlive the run, for a crash or a surprising figure to be looked at.
    mkdir -p "$repo/out/bench-serve"
    cp "$work"/*.log "$repo/out/bench-serve/" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

# A loopback port nobody listens on (the kernel picks it; a race with another process is possible but unlikely).
free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

wait_http() {
    local url="$1" deadline=$((SECONDS + 30))
    until curl -s -o /dev/null "$url"; do
        if [ "$SECONDS" -ge "$deadline" ]; then
            echo "bench-serve.sh: nothing answers at $url after 30 s" >&2
            exit 1
        fi
        sleep 0.1
    done
}

upstream_gateway_port="$(free_port)"
upstream_port="$(free_port)"
gateway_port="$(free_port)"
nginx_port="$(free_port)"
recording_port="$(free_port)"

echo "== starting the upstream (reference backend on 127.0.0.1:$upstream_port)"
LOG_LEVEL=warn "$bin" serve --host 127.0.0.1 --port "$upstream_gateway_port" --reference-port "$upstream_port" \
    --data-dir "$work/upstream-data" --model-repository "$repo/deploy/models" >"$work/upstream.log" 2>&1 &
pids+=("$!")
wait_http "http://127.0.0.1:$upstream_port/v2/health/ready"

gateway_starts=0
start_gateway() {
    gateway_starts=$((gateway_starts + 1))
    LOG_LEVEL=warn "$bin" serve --host 127.0.0.1 --port "$gateway_port" --backend "http://127.0.0.1:$upstream_port" \
        --api-key "bench:$secret" --rate-limit 1000000000 --burst 100000000 \
        --data-dir "$work/gateway-data" --model-repository "$repo/deploy/models" >>"$work/gateway.log" 2>&1 &
    gateway_pid="$!"
    pids+=("$gateway_pid")
    wait_http "http://127.0.0.1:$gateway_port/health"
}

# A gateway that died is a finding, not the end of the run: its log's tail is shown (and kept in out/bench-serve),
# and a fresh one is started so the remaining measurements still happen.
ensure_gateway() {
    if ! kill -0 "$gateway_pid" 2>/dev/null; then
        echo "  !! the gateway (pid $gateway_pid) died; what its log says about it:"
        { grep -E '^(Fatal|Simultaneous|\*\*\* Program crashed)' "$work/gateway.log" || tail -n 5 "$work/gateway.log"; } |
            tail -n 3 | sed 's/^/  !!   /'
        echo "  !! starting it again"
        start_gateway
    fi
}

echo "== starting the gateway under test on 127.0.0.1:$gateway_port"
start_gateway

echo "== starting the recording gateway on 127.0.0.1:$recording_port (trace in $work/trace)"
LOG_LEVEL=warn "$bin" serve --host 127.0.0.1 --port "$recording_port" --backend "http://127.0.0.1:$upstream_port" \
    --api-key "bench:$secret" --rate-limit 1000000000 --burst 100000000 --record "$work/trace" \
    --data-dir "$work/recording-data" --model-repository "$repo/deploy/models" >"$work/recording.log" 2>&1 &
recording_pid="$!"
pids+=("$recording_pid")
wait_http "http://127.0.0.1:$recording_port/health"

echo "== starting nginx on 127.0.0.1:$nginx_port"
mkdir -p "$work/nginx"
cat >"$work/nginx/nginx.conf" <<EOF
worker_processes 2;
pid $work/nginx.pid;
error_log $work/nginx/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $work/nginx/body;
    proxy_temp_path $work/nginx/proxy;
    fastcgi_temp_path $work/nginx/fastcgi;
    uwsgi_temp_path $work/nginx/uwsgi;
    scgi_temp_path $work/nginx/scgi;
    upstream reference {
        server 127.0.0.1:$upstream_port;
        keepalive 64;
    }
    server {
        listen 127.0.0.1:$nginx_port;
        location /v2/ {
            proxy_pass http://reference;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }
    }
}
EOF
nginx -c "$work/nginx/nginx.conf" -p "$work/nginx"
wait_http "http://127.0.0.1:$nginx_port/v2/health/ready"

body='{"inputs": [{"name": "features", "datatype": "FP32", "shape": [1, 4], "data": [5.1, 3.5, 1.4, 0.2]}]}'
printf '%s' "$body" >"$work/body.json"
cat >"$work/post.lua" <<EOF
wrk.method = "POST"
wrk.body = '$body'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $secret"
EOF

path="/v2/models/sample-classifier/infer"
declare -A url=(
    [upstream]="http://127.0.0.1:$upstream_port$path"
    [nginx]="http://127.0.0.1:$nginx_port$path"
    [gateway]="http://127.0.0.1:$gateway_port$path"
    [recording]="http://127.0.0.1:$recording_port$path"
)
targets=(upstream nginx gateway recording)
# The open loop and the memory check compare the gateway with its peers; recording is a closed-loop ratio.
open_targets=(upstream nginx gateway)

# Every target must answer the body with 200 before anything is measured.
for target in "${targets[@]}"; do
    status="$(curl -s -o "$work/check.json" -w '%{http_code}' -H 'Content-Type: application/json' \
        -H "Authorization: Bearer $secret" --data "$body" "${url[$target]}")"
    if [ "$status" != "200" ]; then
        echo "bench-serve.sh: $target answered $status: $(head -c 300 "$work/check.json")" >&2
        exit 1
    fi
done

# wrk prints latencies as 812.00us, 1.23ms or 2.01s; this turns one into milliseconds.
to_ms() {
    awk -v v="$1" 'BEGIN {
        if (v ~ /us$/) { sub(/us$/, "", v); printf "%.3f", v / 1000 }
        else if (v ~ /ms$/) { sub(/ms$/, "", v); printf "%.3f", v }
        else if (v ~ /s$/) { sub(/s$/, "", v); printf "%.3f", v * 1000 }
        else { printf "%s", v } }'
}

median() {
    printf '%s\n' "$@" | sort -g |
        awk '{ v[NR] = $1 }
            END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

declare -A rps_runs=() p50_runs=() p99_runs=() errors=()
echo "== closed loop: wrk -t$threads -c$connections -d${duration}s --latency, $rounds rounds, targets interleaved"
# A short warm-up per target so connection pools and caches are in place before the first measured run.
for target in "${targets[@]}"; do
    timeout 30 wrk -t"$threads" -c"$connections" -d2s -s "$work/post.lua" "${url[$target]}" >/dev/null || true
done
for round in $(seq 1 "$rounds"); do
    # Odd rounds run the targets in order, even rounds in reverse, so a load drifting across a round (these
    # machines are shared) does not always fall on the same target.
    order=("${targets[@]}")
    if [ $((round % 2)) -eq 0 ]; then
        order=()
        for ((position = ${#targets[@]} - 1; position >= 0; position--)); do order+=("${targets[$position]}"); done
    fi
    for target in "${order[@]}"; do
        [ "$target" != gateway ] || ensure_gateway
        output="$(timeout $((duration + 30)) wrk -t"$threads" -c"$connections" -d"${duration}s" --latency \
            -s "$work/post.lua" "${url[$target]}" || true)"
        rps="$(awk '/^Requests\/sec:/ { print $2 }' <<<"$output")"
        p50="$(to_ms "$(awk '$1 == "50%" { print $2 }' <<<"$output")")"
        p99="$(to_ms "$(awk '$1 == "99%" { print $2 }' <<<"$output")")"
        bad="$(awk '/Non-2xx or 3xx responses:/ { print $NF }' <<<"$output")"
        socket_errors="$(awk -F'Socket errors: ' 'NF > 1 { print $2 }' <<<"$output")"
        rps="${rps:-0}"
        rps_runs[$target]+="$rps "
        p50_runs[$target]+="$p50 "
        p99_runs[$target]+="$p99 "
        errors[$target]="$((${errors[$target]:-0} + ${bad:-0}))"
        printf '  round %d  %-8s  %10s req/s  p50 %8s ms  p99 %8s ms%s%s\n' "$round" "$target" "$rps" "$p50" "$p99" \
            "${bad:+  non-2xx $bad}" "${socket_errors:+  socket errors: $socket_errors}"
    done
done

declare -A rps_median=() p50_median=() p99_median=()
for target in "${targets[@]}"; do
    # shellcheck disable=SC2086 # the runs are a space-separated list on purpose
    rps_median[$target]="$(median ${rps_runs[$target]})"
    # shellcheck disable=SC2086
    p50_median[$target]="$(median ${p50_runs[$target]})"
    # shellcheck disable=SC2086
    p99_median[$target]="$(median ${p99_runs[$target]})"
done

half="$(awk -v r="${rps_median[gateway]}" 'BEGIN { h = int(r / 2); print (h < 1 ? 1 : h) }')"
load_connections=$((connections < 10000 ? connections : 10000))
open_rounds="${OPEN_ROUNDS:-9}"
open_duration="${OPEN_DURATION:-4}"
echo "== open loop at half the gateway's peak, $open_rounds interleaved rounds:" \
    "aiplatform load --rate $half --duration $open_duration --connections $load_connections"
declare -A open_p50_runs=() open_p90_runs=() open_p99_runs=() open_max_runs=() open_rate_runs=()
for round in $(seq 1 "$open_rounds"); do
    order=("${open_targets[@]}")
    if [ $((round % 2)) -eq 0 ]; then
        order=()
        for ((position = ${#open_targets[@]} - 1; position >= 0; position--)); do
            order+=("${open_targets[$position]}")
        done
    fi
    for target in "${order[@]}"; do
        [ "$target" != gateway ] || ensure_gateway
        output="$(timeout 60 "$bin" load "${url[$target]}" --rate "$half" --duration "$open_duration" \
            --connections "$load_connections" --body "$work/body.json" --header "Authorization: Bearer $secret" ||
            true)"
        awk -v r="$round" -v t="$target" 'NR == 1 { print "  round " r "  " t } { print "    " $0 }' <<<"$output"
        open_rate_runs[$target]+="$(awk '/^achieved/ { print $2 }' <<<"$output") "
        open_p50_runs[$target]+="$(awk '/^latency/ { print $4 }' <<<"$output") "
        open_p90_runs[$target]+="$(awk '/^latency/ { print $6 }' <<<"$output") "
        open_p99_runs[$target]+="$(awk '/^latency/ { print $8 }' <<<"$output") "
        open_max_runs[$target]+="$(awk '/^latency/ { print $10 }' <<<"$output") "
    done
done
declare -A open_p50=() open_p90=() open_p99=() open_max=() open_rate=()
for target in "${open_targets[@]}"; do
    # shellcheck disable=SC2086 # the runs are a space-separated list on purpose
    open_rate[$target]="$(median ${open_rate_runs[$target]})"
    # shellcheck disable=SC2086
    open_p50[$target]="$(median ${open_p50_runs[$target]})"
    # shellcheck disable=SC2086
    open_p90[$target]="$(median ${open_p90_runs[$target]})"
    # shellcheck disable=SC2086
    open_p99[$target]="$(median ${open_p99_runs[$target]})"
    # shellcheck disable=SC2086
    open_max[$target]="$(median ${open_max_runs[$target]})"
done
# A proxy's added p99 round by round (its run minus the upstream's in the same round): the gateway's, and nginx's
# beside it, since the host's own noise moves both.
added_p99_rounds() {
    local proxy="$1" i
    for i in $(seq 1 "$open_rounds"); do
        awk -v g="$(echo "${open_p99_runs[$proxy]}" | awk -v i="$i" '{ print $i }')" \
            -v u="$(echo "${open_p99_runs[upstream]}" | awk -v i="$i" '{ print $i }')" 'BEGIN { printf "%.3f ", g - u }'
    done | sed 's/ $//'
}
added_p99_rounds="$(added_p99_rounds gateway)"
nginx_added_p99_rounds="$(added_p99_rounds nginx)"

# CPU time on the clock, in nanoseconds, of every thread of the given processes (/proc/PID/task/TID/schedstat's
# first field: the scheduler's own account, not tick sampling).
cpu_ns() {
    local pid
    for pid in "$@"; do cat /proc/"$pid"/task/*/schedstat 2>/dev/null; done | awk '{ s += $1 } END { printf "%.0f", s }'
}
# The processes that do a target's proxying: the gateway's or the recording gateway's process, nginx's workers.
proxy_pids() {
    case "$1" in
    gateway) echo "$gateway_pid" ;;
    recording) echo "$recording_pid" ;;
    nginx) pgrep -P "$(cat "$work/nginx.pid")" | tr '\n' ' ' ;;
    esac
}

cpu_rate="${CPU_RATE:-10000}"
cpu_rounds="${CPU_ROUNDS:-3}"
cpu_duration="${CPU_DURATION:-5}"
cpu_targets=(nginx gateway recording)
echo "== CPU per request at a fixed $cpu_rate/s (open loop, $cpu_rounds interleaved rounds of ${cpu_duration}s):" \
    "the proxy's threads' CPU time (schedstat) over the answers"
declare -A cpu_runs=()
for round in $(seq 1 "$cpu_rounds"); do
    order=("${cpu_targets[@]}")
    if [ $((round % 2)) -eq 0 ]; then order=(recording gateway nginx); fi
    line="  round $round"
    for target in "${order[@]}"; do
        [ "$target" != gateway ] || ensure_gateway
        # shellcheck disable=SC2046 # the pids are a list on purpose
        before="$(cpu_ns $(proxy_pids "$target"))"
        output="$(timeout 60 "$bin" load "${url[$target]}" --rate "$cpu_rate" --duration "$cpu_duration" \
            --connections "$load_connections" --body "$work/body.json" --header "Authorization: Bearer $secret" ||
            true)"
        # shellcheck disable=SC2046
        after="$(cpu_ns $(proxy_pids "$target"))"
        answered="$(awk '/^achieved/ { print $6 }' <<<"$output")"
        per="$(awk -v a="$before" -v b="$after" -v n="${answered:-0}" \
            'BEGIN { if (n > 0) printf "%.2f", (b - a) / n / 1000; else print "-" }')"
        cpu_runs[$target]+="$per "
        line+="  $target $per µs"
    done
    echo "$line"
done
declare -A cpu_median=()
for target in "${cpu_targets[@]}"; do
    # shellcheck disable=SC2086
    cpu_median[$target]="$(median ${cpu_runs[$target]})"
done

rss_mb() {
    awk '/^VmRSS:/ { printf "%.1f", $2 / 1024 }' "/proc/$1/status"
}

echo "== memory: $hold keep-alive connections to the gateway, one GET /health each, held open"
ensure_gateway
rss_before="$(rss_mb "$gateway_pid")"
# The holder opens the connections, checks every answer, prints "held N", then waits for a line on stdin.
mkfifo "$work/hold-in"
cat >"$work/hold.py" <<'EOF'
import resource, select, socket, sys, time
port, count = int(sys.argv[1]), int(sys.argv[2])
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
request = b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
sockets, answered, deadline = [], 0, time.monotonic() + 60
for _ in range(count):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(request)
    sockets.append(s)
poller = select.epoll()
pending = {s.fileno(): s for s in sockets}
for fd in pending:
    poller.register(fd, select.EPOLLIN)
while pending and time.monotonic() < deadline:
    for fd, _ in poller.poll(1.0):
        data = pending[fd].recv(4096)
        if data.startswith(b"HTTP/1.1 200"):
            answered += 1
        poller.unregister(fd)
        del pending[fd]
print(f"held {len(sockets)} answered {answered}", flush=True)
sys.stdin.readline()
EOF
python3 "$work/hold.py" "$gateway_port" "$hold" <"$work/hold-in" >"$work/hold.out" 2>&1 &
holder="$!"
pids+=("$holder")
exec 3>"$work/hold-in"
deadline=$((SECONDS + 90))
until grep -q '^held' "$work/hold.out" 2>/dev/null; do
    if ! kill -0 "$holder" 2>/dev/null || [ "$SECONDS" -ge "$deadline" ]; then
        echo "  the connection holder failed: $(tail -n 3 "$work/hold.out")"
        break
    fi
    sleep 0.2
done
sleep 1
rss_held="$(rss_mb "$gateway_pid")"
open_metric="$(curl -s "http://127.0.0.1:$gateway_port/metrics" | awk '/^http_connections_open / { print $2 }')"
echo "  $(cat "$work/hold.out"); gateway VmRSS ${rss_before} MB before, ${rss_held} MB while held;" \
    "http_connections_open ${open_metric:-?}"
exec 3>&-
wait "$holder" 2>/dev/null || true

echo
echo "== summary ($(date -u +%Y-%m-%d), $(nproc) cores; wrk -t$threads -c$connections, median of $rounds × ${duration}s)"
printf '| %-8s | %12s | %9s | %9s | %8s |\n' target "req/s" "p50 ms" "p99 ms" "non-2xx"
printf '| %-8s | %12s | %9s | %9s | %8s |\n' --- --- --- --- ---
for target in "${targets[@]}"; do
    printf '| %-8s | %12s | %9s | %9s | %8s |\n' "$target" "${rps_median[$target]}" "${p50_median[$target]}" \
        "${p99_median[$target]}" "${errors[$target]}"
done
echo
echo "open loop (aiplatform load) at $half requests/s, $load_connections connections, median of $open_rounds ×" \
    "${open_duration}s:"
printf '| %-8s | %12s | %9s | %9s | %9s | %9s |\n' target "achieved/s" "p50 ms" "p90 ms" "p99 ms" "max ms"
printf '| %-8s | %12s | %9s | %9s | %9s | %9s |\n' --- --- --- --- --- ---
for target in "${open_targets[@]}"; do
    printf '| %-8s | %12s | %9s | %9s | %9s | %9s |\n' "$target" "${open_rate[$target]}" "${open_p50[$target]}" \
        "${open_p90[$target]}" "${open_p99[$target]}" "${open_max[$target]}"
done
added_p50="$(awk -v g="${open_p50[gateway]}" -v u="${open_p50[upstream]}" 'BEGIN { printf "%.3f", g - u }')"
added_p99="$(awk -v g="${open_p99[gateway]}" -v u="${open_p99[upstream]}" 'BEGIN { printf "%.3f", g - u }')"
median_of_list() { echo "$1" | tr ' ' '\n' | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
echo "gateway added latency at ${half}/s (open loop, medians, vs upstream direct): p50 +${added_p50} ms," \
    "p99 +${added_p99} ms; p99 added per round: $added_p99_rounds ms (median $(median_of_list "$added_p99_rounds") ms)"
echo "nginx added p99 per round, for comparison: $nginx_added_p99_rounds ms" \
    "(median $(median_of_list "$nginx_added_p99_rounds") ms)"
echo "gateway RSS: ${rss_before} MB idle, ${rss_held} MB with $hold connections held"
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.3f", a / b; else print "?" }'; }
# Each round's ratio compares two targets measured a few seconds apart; their median is the figure least moved by
# the machine's other tenants. The ratio of the medians is printed beside it.
round_ratios() {
    local numerator="$1" denominator="$2" i
    for i in $(seq 1 "$rounds"); do
        printf '%s ' "$(ratio "$(echo "${rps_runs[$numerator]}" | awk -v i="$i" '{ print $i }')" \
            "$(echo "${rps_runs[$denominator]}" | awk -v i="$i" '{ print $i }')")"
    done | sed 's/ $//'
}
gateway_rounds="$(round_ratios gateway nginx)"
recording_rounds="$(round_ratios recording gateway)"
# shellcheck disable=SC2086 # the ratios are a space-separated list on purpose
echo "gateway / nginx requests/s: $(median $gateway_rounds) (median of per-round ratios; per round: $gateway_rounds;" \
    "ratio of medians $(ratio "${rps_median[gateway]}" "${rps_median[nginx]}"))"
# shellcheck disable=SC2086
echo "recording / gateway requests/s: $(median $recording_rounds) (median of per-round ratios; per round:" \
    "$recording_rounds; ratio of medians $(ratio "${rps_median[recording]}" "${rps_median[gateway]}"))"
kill "$recording_pid" 2>/dev/null || true
wait "$recording_pid" 2>/dev/null || true
# A quotient of two figures, or "-" when either is missing (a target that answered nothing).
quotient() {
    awk -v a="$1" -v b="$2" 'BEGIN { if (a + 0 > 0 && b + 0 > 0) printf "%.3f", a / b; else print "-" }'
}
echo "CPU per request at $cpu_rate/s (medians of $cpu_rounds rounds): nginx ${cpu_median[nginx]} µs, gateway" \
    "${cpu_median[gateway]} µs, recording ${cpu_median[recording]} µs; recording / gateway" \
    "$(quotient "${cpu_median[recording]}" "${cpu_median[gateway]}"), gateway / nginx" \
    "$(quotient "${cpu_median[gateway]}" "${cpu_median[nginx]}")"
echo "replay of the recording gateway's trace ($(du -sh "$work/trace" | cut -f1)):"
timeout 300 "$bin" replay "$work/trace" 2>&1 | tail -n 4 | sed 's/^/  /' || true
if [ "$gateway_starts" -gt 1 ]; then
    echo "the gateway died $((gateway_starts - 1)) time(s) during the run; its log: out/bench-serve/gateway.log"
fi
exit 0
