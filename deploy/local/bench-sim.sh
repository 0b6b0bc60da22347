#!/usr/bin/env bash
# Simulator speed in release mode on this machine, for docs/benchmarks.md:
#  1. events per wall-clock second of full runs of steady-state, against the bare event queue
#     (the peer) measured in the same process right after;
#  2. the wall time of one simulated hour at 1,000 requests/s, one process, one core, with the
#     same peer measured right after it.
set -euo pipefail
cd "$(dirname "$0")/../.."
export PATH="/opt/swift/usr/bin:$PATH"
bin=.build/release/aiplatform
[ -x "$bin" ] || swift build -c release --product aiplatform
echo "== steady-state (3 seeds) vs bare event queue"
"$bin" bench scenarios/steady-state.json
echo "== one simulated hour at 1,000 requests/s (scenarios/bench/one-hour-1000rps.json, seed 1) vs bare event queue"
"$bin" bench scenarios/bench/one-hour-1000rps.json --seeds 1
