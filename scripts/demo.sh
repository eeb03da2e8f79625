#!/usr/bin/env bash
# The demo of the main job on an embedded default. It starts the AWS API emulator, creates two
# accounts through the AWS APIs (one compliant, one whose only trail records write events
# only), uploads a generated day of CloudTrail logs with one injected gap (eu-west-1 silent for
# three hours) to the compliant trail's bucket, and runs:
#   trailproof check   on the non-compliant account  -> FAIL WRITE_ONLY (exit 1)
#   trailproof verify  on the compliant account      -> configuration PASS, delivery GAPS:
#                                                       exactly the injected gap (exit 1)
# It exits 0 when both come out as expected. The evidence is left in target/demo-evidence/.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
cargo build --quiet --bin trailproof
bin="${CARGO_TARGET_DIR:-$root/target}/debug/trailproof"
dir="$root/target/moto-demo"
evidence="$root/target/demo-evidence"
eval "$(scripts/moto.sh start "$dir")"
trap 'scripts/moto.sh stop "$dir"' EXIT
eval "$("$(scripts/moto.sh python)" "$root/scripts/demo_setup.py" "$TRAILPROOF_TEST_ENDPOINT")"

regions=us-east-1,eu-west-1,ap-northeast-1,sa-east-1
start="$(date -u -d '-1 day' +%Y-%m-%dT%H:00:00Z)"
until="$(date -u +%Y-%m-%dT%H:00:00Z)"

as() { # run trailproof as one of the demo accounts
  local who="$1"; shift
  local key secret token
  key="$(eval echo "\$${who}_KEY")"; secret="$(eval echo "\$${who}_SECRET")"; token="$(eval echo "\$${who}_TOKEN")"
  env -u AWS_PROFILE AWS_ACCESS_KEY_ID="$key" AWS_SECRET_ACCESS_KEY="$secret" AWS_SESSION_TOKEN="$token" \
    AWS_REGION=us-east-1 AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null \
    "$bin" "$@" --endpoint-url "$TRAILPROOF_TEST_ENDPOINT"
}

echo "=== Account $BAD_ACCOUNT: the only multi-region trail records write events only ==="
echo "\$ trailproof check --regions $regions"
set +e; as BAD check --regions "$regions"; bad=$?; set -e
echo "(exit code $bad)"

echo
echo "=== Account $GOOD_ACCOUNT: uploading one day of generated logs ($start .. $until), eu-west-1 silent for 3 hours ==="
as GOOD generate --out "s3://demo-$GOOD_ACCOUNT-org-audit" --accounts "$GOOD_ACCOUNT" --regions "$regions" \
  --start "$start" --hours 24 --fault silent:eu-west-1:10:3
echo
echo "\$ trailproof verify --regions $regions --since $start --until $until --max-silence 2h --out target/demo-evidence"
rm -rf "$evidence"
set +e; as GOOD verify --regions "$regions" --since "$start" --until "$until" --max-silence 2h --out "$evidence"; good=$?; set -e
echo "(exit code $good)"

echo
gaps="$("$(scripts/moto.sh python)" - "$evidence/summary.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
print(" ".join(f"{g['region']}/{g['kind']}" for g in s["gaps"]))
PY
)"
if [ "$bad" = 1 ] && [ "$good" = 1 ] && [ "$gaps" = "eu-west-1/no_log_files" ]; then
  echo "demo: as expected: write-only account FAIL WRITE_ONLY; compliant account PASS, and its logs prove every region except the injected 3-hour silence in eu-west-1."
  echo "demo: evidence (Parquet + summary.json) in $evidence"
else
  echo "demo: unexpected result (check exit $bad, verify exit $good, gaps '$gaps')" >&2
  exit 1
fi
