#!/usr/bin/env bash
# The demo of the main job on an embedded default: starts the AWS API emulator, creates two
# accounts through the AWS APIs (one compliant, one whose only trail records write events
# only), and runs `trailproof check` on both. Exits 0 when both verdicts come out as expected.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
cargo build --quiet --bin trailproof
bin="${CARGO_TARGET_DIR:-$root/target}/debug/trailproof"
dir="$root/target/moto-demo"
eval "$(scripts/moto.sh start "$dir")"
trap 'scripts/moto.sh stop "$dir"' EXIT
venv_python="${TRAILPROOF_MOTO_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/trailproof/moto-venv-$(scripts/moto.sh version)}/bin/python"

# Set up the two accounts with boto3 (moto's own dependency, in the emulator's venv).
eval "$("$venv_python" "$root/scripts/demo_setup.py" "$TRAILPROOF_TEST_ENDPOINT")"

run() {
  local label="$1" key="$2" secret="$3" token="$4"
  echo
  echo "=== $label ==="
  echo "\$ trailproof check --endpoint-url $TRAILPROOF_TEST_ENDPOINT --regions us-east-1,eu-west-1,ap-northeast-1"
  set +e
  env -u AWS_PROFILE AWS_ACCESS_KEY_ID="$key" AWS_SECRET_ACCESS_KEY="$secret" AWS_SESSION_TOKEN="$token" \
    AWS_REGION=us-east-1 AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null \
    "$bin" check --endpoint-url "$TRAILPROOF_TEST_ENDPOINT" --regions us-east-1,eu-west-1,ap-northeast-1
  local code=$?
  set -e
  echo "(exit code $code)"
  return $code
}

run "Account $GOOD_ACCOUNT: one multi-region trail, all management events, logging" "$GOOD_KEY" "$GOOD_SECRET" "$GOOD_TOKEN" \
  || { echo "demo: expected PASS (exit 0) for the compliant account" >&2; exit 1; }
if run "Account $BAD_ACCOUNT: the only multi-region trail records write events only" "$BAD_KEY" "$BAD_SECRET" "$BAD_TOKEN"; then
  echo "demo: expected FAIL (exit 1) for the non-compliant account" >&2
  exit 1
fi
echo
echo "demo: both verdicts as expected (compliant: PASS, write-only: FAIL WRITE_ONLY)."
