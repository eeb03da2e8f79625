#!/usr/bin/env bash
# Runs every test: unit tests, and the integration tests against the moto server, which this
# script installs (pinned, private venv) and starts on a free 127.0.0.1 port, then stops.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
dir="$root/target/moto-test-run"
eval "$(scripts/moto.sh start "$dir")"
trap 'scripts/moto.sh stop "$dir"' EXIT
export TRAILPROOF_TEST_ENDPOINT
export TRAILPROOF_TEST_PYTHON="$(scripts/moto.sh python)"
cargo test --all-targets "$@"
