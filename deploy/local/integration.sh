#!/usr/bin/env bash
# Prepares this machine for the integration tests that `make test` runs: the test tools
# (deploy/local/install-test-tools.sh: promtool, nginx, wrk) and a real NVIDIA Triton
# (deploy/local/triton.sh install, a venv under .build-triton). Called by `make test` before
# `swift test`, which then runs Tests/PlatformProductionTests/TritonIntegrationTests.swift with
# AIPLATFORM_TRITON=1.
#
# Idempotent and quick when everything is present (a package check and a version check, no network).
# The first run downloads about 370 MB from PyPI and takes a minute or two.
#
# AIPLATFORM_TRITON=0 skips the Triton install (the integration tests are then skipped too, unless CI
# is set: under CI they always run, so a Triton that could not be installed fails the build).
set -euo pipefail

repo="$(cd "$(dirname "$0")/../.." && pwd)"

"$repo/deploy/local/install-test-tools.sh"

if [ "${AIPLATFORM_TRITON:-1}" = "0" ] && [ -z "${CI:-}" ]; then
    echo "integration.sh: AIPLATFORM_TRITON=0, not installing Triton (TritonIntegrationTests will be skipped)"
    exit 0
fi

# triton.sh install is itself idempotent; only its "installed" line is worth showing when nothing changed.
if ! "$repo/deploy/local/triton.sh" install; then
    echo "integration.sh: installing Triton failed; the integration tests cannot run" >&2
    echo "  (set AIPLATFORM_TRITON=0 to run make test without them; under CI they are required)" >&2
    exit 1
fi
