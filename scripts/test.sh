#!/usr/bin/env bash
# Runs every test: unit tests, and the integration tests against the moto server, which this
# script installs (pinned, private venv) and starts on a free 127.0.0.1 port, then stops; the
# evidence-pack tests' OSCAL/OCSF validators and headless Chromium are installed on demand.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
dir="$root/target/moto-test-run"
eval "$(scripts/moto.sh start "$dir")"
trap 'scripts/moto.sh stop "$dir"' EXIT
export TRAILPROOF_TEST_ENDPOINT
export TRAILPROOF_TEST_PYTHON="$(scripts/moto.sh python)"
# OSCAL and OCSF validators and headless Chromium, for the evidence-pack tests.
eval "$(scripts/evidence_tools.sh install)"
export TRAILPROOF_OSCAL11_PYTHON TRAILPROOF_OSCAL12_PYTHON TRAILPROOF_CHROMIUM
cargo test --all-targets "$@"
