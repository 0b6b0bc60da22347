#!/usr/bin/env bash
# Installs and runs a real NVIDIA Triton Inference Server (2.51, CPU only, from PyPI's nvidia-pytriton wheel) over the
# model repository deploy/models, so the platform can be tested against Triton itself and the Swift reference
# backend's answers can be checked against Triton's (deploy/local/sample_classifier_golden.py).
#
# Usage:
#   deploy/local/triton.sh install
#       Idempotent. Makes a venv with Debian's /usr/bin/python3 at ${TRITON_HOME:-<repo>/.build-triton/venv} (the
#       Python backend stub links Debian's libpython, so a venv from another Python would load no model), installs
#       nvidia-pytriton==0.7.0 and puts the Python backend stub where Triton looks for it. Installs python3-venv
#       with apt-get when it is missing and we are root.
#   deploy/local/triton.sh start --http-port P --grpc-port P --metrics-port P [--log FILE]
#       Starts tritonserver in the background, bound to 127.0.0.1 only, writes its pid to
#       <state>/triton-<http port>.pid and waits (at most 60 s) until GET /v2/health/ready answers 200.
#   deploy/local/triton.sh stop [--http-port P]
#       Stops the server started on that HTTP port (without the flag: every server this script started).
#   deploy/local/triton.sh infer --http-port P 5.1 3.5 1.4 0.2 [more rows of 4 ...]
#       Sends one KServe v2 infer request to sample-classifier and prints the JSON answer.
#
# Environment: TRITON_HOME (the venv), TRITON_STATE (pid files and default logs, default <repo>/.build-triton/run).
set -euo pipefail

repo="$(cd "$(dirname "$0")/../.." && pwd)"
venv="${TRITON_HOME:-$repo/.build-triton/venv}"
state="${TRITON_STATE:-$repo/.build-triton/run}"
models="$repo/deploy/models"
pytriton_version="0.7.0"
# Loopback only: nothing this script starts is reachable from another machine.
address="127.0.0.1"

die() {
    echo "triton.sh: $*" >&2
    exit 1
}

usage() {
    sed -n '2,/^set -euo/p' "$0" | sed -e '/^set -euo/d' -e 's/^# \{0,1\}//' >&2
    exit 2
}

# The venv's site-packages directory (its python version decides which stub Triton needs).
site_packages() {
    "$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])'
}

python_version() {
    "$venv/bin/python" -c 'import sys; print(f"{sys.version_info.major}.{sys.version_info.minor}")'
}

cmd_install() {
    if ! /usr/bin/python3 -c 'import ensurepip, venv' 2>/dev/null; then
        if [ "$(id -u)" -ne 0 ]; then
            die "python3-venv is missing; as root: apt-get update && apt-get install -y python3-venv"
        fi
        echo "installing python3-venv"
        apt-get update
        DEBIAN_FRONTEND=noninteractive apt-get install -y python3-venv
    fi
    if [ ! -x "$venv/bin/python" ]; then
        echo "creating the venv $venv"
        mkdir -p "$(dirname "$venv")"
        /usr/bin/python3 -m venv "$venv"
    fi
    local installed
    installed="$("$venv/bin/python" -c 'import importlib.metadata as m; print(m.version("nvidia-pytriton"))' \
        2>/dev/null || true)"
    if [ "$installed" != "$pytriton_version" ]; then
        echo "installing nvidia-pytriton==$pytriton_version (about 370 MB, a minute or two)"
        "$venv/bin/pip" install --quiet --disable-pip-version-check "nvidia-pytriton==$pytriton_version"
    fi
    local server stub target
    server="$(site_packages)/pytriton/tritonserver"
    stub="$server/python_backend_stubs/$(python_version)/triton_python_backend_stub"
    target="$server/backends/python/triton_python_backend_stub"
    [ -f "$stub" ] || die "no Python backend stub for Python $(python_version) at $stub"
    if ! cmp -s "$stub" "$target"; then
        cp "$stub" "$target"
        chmod +x "$target"
    fi
    echo "Triton is installed in $venv"
}

# Flags shared by the subcommands; each subcommand checks the ones it needs.
http_port=""
grpc_port=""
metrics_port=""
log_file=""
rows=()

parse_flags() {
    while [ "$#" -gt 0 ]; do
        case "$1" in
        --http-port) http_port="${2:?--http-port needs a value}"; shift 2 ;;
        --grpc-port) grpc_port="${2:?--grpc-port needs a value}"; shift 2 ;;
        --metrics-port) metrics_port="${2:?--metrics-port needs a value}"; shift 2 ;;
        --log) log_file="${2:?--log needs a value}"; shift 2 ;;
        -h | --help) usage ;;
        -*) die "unknown flag $1" ;;
        *) rows+=("$1"); shift ;;
        esac
    done
}

check_port() {
    case "$2" in
    '' ) die "$1 is required" ;;
    *[!0-9]*) die "$1 must be a port number, got '$2'" ;;
    esac
    if [ "$2" -lt 1 ] || [ "$2" -gt 65535 ]; then
        die "$1 out of range: $2"
    fi
}

ready() {
    [ "$(curl -s -o /dev/null -w '%{http_code}' "http://$address:$1/v2/health/ready" || true)" = "200" ]
}

# True when $1 is the pid of a running tritonserver (so a stale pid file never kills an unrelated process).
is_triton() {
    [ -r "/proc/$1/cmdline" ] && tr '\0' ' ' <"/proc/$1/cmdline" | grep -q 'tritonserver'
}

cmd_start() {
    check_port --http-port "$http_port"
    check_port --grpc-port "$grpc_port"
    check_port --metrics-port "$metrics_port"
    [ "${#rows[@]}" -eq 0 ] || die "start takes no positional arguments: ${rows[*]}"
    local site server pid_file
    [ -x "$venv/bin/python" ] || die "Triton is not installed; run: $0 install"
    site="$(site_packages)"
    server="$site/pytriton/tritonserver"
    [ -x "$server/backends/python/triton_python_backend_stub" ] || die "the Python backend stub is missing; run: $0 install"
    mkdir -p "$state"
    pid_file="$state/triton-$http_port.pid"
    if [ -f "$pid_file" ] && is_triton "$(cat "$pid_file")"; then
        die "a Triton started by this script already runs on HTTP port $http_port (pid $(cat "$pid_file"))"
    fi
    if ready "$http_port"; then
        die "something already answers on $address:$http_port"
    fi
    log_file="${log_file:-$state/triton-$http_port.log}"
    mkdir -p "$(dirname "$log_file")"
    local started
    started="$(date +%s.%N)"
    # The stub runs model.py with the venv's packages (numpy), hence the venv first on PATH; the wheel's own
    # shared libraries live in nvidia_pytriton.libs. (The stub's embedded Python ignores PYTHONDONTWRITEBYTECODE:
    # it leaves a __pycache__ directory next to model.py.)
    PATH="$venv/bin:$PATH" \
        LD_LIBRARY_PATH="$site/nvidia_pytriton.libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" \
        nohup "$server/bin/tritonserver" \
        --model-repository "$models" \
        --backend-directory "$server/backends" \
        --http-address "$address" --http-port "$http_port" \
        --grpc-address "$address" --grpc-port "$grpc_port" \
        --metrics-address "$address" --metrics-port "$metrics_port" \
        --exit-on-error true \
        >"$log_file" 2>&1 </dev/null &
    local pid=$!
    echo "$pid" >"$pid_file"
    local deadline=$((SECONDS + 60))
    while ! ready "$http_port"; do
        if ! kill -0 "$pid" 2>/dev/null; then
            rm -f "$pid_file"
            echo "triton.sh: tritonserver exited before it was ready; the end of $log_file:" >&2
            tail -n 30 "$log_file" >&2
            exit 1
        fi
        if [ "$SECONDS" -ge "$deadline" ]; then
            echo "triton.sh: not ready after 60 s; the end of $log_file:" >&2
            tail -n 30 "$log_file" >&2
            kill "$pid" 2>/dev/null || true
            rm -f "$pid_file"
            exit 1
        fi
        sleep 0.2
    done
    local took
    took="$(echo "$(date +%s.%N) $started" | awk '{printf "%.1f", $1 - $2}')"
    echo "Triton ready in ${took} s: pid $pid, http://$address:$http_port (grpc $grpc_port, metrics $metrics_port)," \
        "log $log_file"
}

stop_one() {
    local pid_file="$1" pid
    pid="$(cat "$pid_file")"
    if is_triton "$pid"; then
        kill "$pid"
        # Triton drains in-flight requests before exiting; give it a few seconds, then insist.
        local waited=0
        while kill -0 "$pid" 2>/dev/null && [ "$waited" -lt 50 ]; do
            sleep 0.2
            waited=$((waited + 1))
        done
        if kill -0 "$pid" 2>/dev/null; then
            kill -9 "$pid" 2>/dev/null || true
        fi
        echo "stopped Triton pid $pid"
    else
        echo "no Triton runs as pid $pid any more; removing $pid_file"
    fi
    rm -f "$pid_file"
}

cmd_stop() {
    if [ -n "$http_port" ]; then
        check_port --http-port "$http_port"
        [ -f "$state/triton-$http_port.pid" ] || die "no Triton started by this script on HTTP port $http_port"
        stop_one "$state/triton-$http_port.pid"
        return
    fi
    local pid_file found=0
    for pid_file in "$state"/triton-*.pid; do
        [ -f "$pid_file" ] || continue
        found=1
        stop_one "$pid_file"
    done
    [ "$found" -eq 1 ] || echo "no Triton started by this script is running"
}

cmd_infer() {
    check_port --http-port "$http_port"
    local count="${#rows[@]}"
    if [ "$count" -eq 0 ] || [ $((count % 4)) -ne 0 ]; then
        die "infer needs rows of 4 numbers, got $count"
    fi
    local value data=""
    for value in "${rows[@]}"; do
        [[ "$value" =~ ^-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?$ ]] || die "not a number: $value"
        data="${data:+$data, }$value"
    done
    local body
    body="{\"inputs\": [{\"name\": \"features\", \"shape\": [$((count / 4)), 4], \"datatype\": \"FP32\","
    body="$body \"data\": [$data]}]}"
    curl -sS --fail-with-body -H 'Content-Type: application/json' --data "$body" \
        "http://$address:$http_port/v2/models/sample-classifier/infer"
    echo
}

[ "$#" -ge 1 ] || usage
command="$1"
shift
parse_flags "$@"
case "$command" in
install) cmd_install ;;
start) cmd_start ;;
stop) cmd_stop ;;
infer) cmd_infer ;;
-h | --help | help) usage ;;
*) die "unknown command '$command' (install, start, stop or infer)" ;;
esac
