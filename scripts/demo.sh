#!/usr/bin/env bash
# The demo of the main job on an embedded default. It starts the AWS API emulator, creates two
# accounts through the AWS APIs (one compliant, one whose only trail records write events
# only), uploads a generated day of CloudTrail logs and signed digests to the compliant
# trail's bucket (eu-west-1 silent for three hours; one ap-northeast-1 log deleted after
# delivery), and runs:
#   trailproof check   on the non-compliant account     -> FAIL WRITE_ONLY (exit 1)
#   trailproof verify --digests off                      -> GAPS: eu-west-1 no_log_files only
#   trailproof verify  (digests as heartbeat)            -> PASS; GAPS: ap-northeast-1 log_missing
#                                                           only (eu-west-1 silent but logging)
#   trailproof validate                                  -> INVALID: the same log_missing
# It exits 0 when all come out as expected. The evidence is left in target/demo-evidence/
# (report.html for the auditor; target/demo-evidence-validate/ for validate).
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
echo "=== Account $GOOD_ACCOUNT: uploading one day of generated logs and signed digests ($start .. $until) ==="
echo "    injected: eu-west-1 silent for 3 hours; one ap-northeast-1 log file deleted after delivery;"
echo "    logging stopped (StopLogging ... StartLogging) in sa-east-1 for 3 hours"
keys="$root/target/demo-public-keys.json"
as GOOD generate --out "s3://demo-$GOOD_ACCOUNT-org-audit" --accounts "$GOOD_ACCOUNT" --regions "$regions" \
  --start "$start" --hours 24 --fault silent:eu-west-1:10:3 --fault tamper:delete-log:ap-northeast-1 --fault stop-logging:sa-east-1:15:3 \
  --public-keys-out "$keys"
summary_gaps() {
  "$(scripts/moto.sh python)" - "$1/summary.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
print(" ".join(f"{g['region']}/{g['kind']}" for g in s["gaps"]))
PY
}

echo
echo "--- Logs alone: a silent region looks broken, and a deleted file leaves no trace ---"
echo "\$ trailproof verify --regions $regions --since $start --until $until --max-silence 2h --digests off --out target/demo-evidence-logs-only"
rm -rf "$evidence-logs-only"
set +e; as GOOD verify --regions "$regions" --since "$start" --until "$until" --max-silence 2h --digests off \
  --out "$evidence-logs-only" >/dev/null; off=$?; set -e
off_gaps="$(summary_gaps "$evidence-logs-only")"
echo "(exit code $off; gaps: $off_gaps)"

echo
echo "--- With the digests (moto has no ListPublicKeys: the generator's test key is passed) ---"
echo "\$ trailproof verify --regions $regions --since $start --until $until --max-silence 2h --public-keys $keys --out target/demo-evidence"
rm -rf "$evidence"
set +e; as GOOD verify --regions "$regions" --since "$start" --until "$until" --max-silence 2h \
  --public-keys "$keys" --out "$evidence"; good=$?; set -e
echo "(exit code $good)"
gaps="$(summary_gaps "$evidence")"

echo
echo "\$ trailproof validate s3://demo-$GOOD_ACCOUNT-org-audit --since $start --until $until --public-keys $keys --out target/demo-evidence-validate"
set +e; as GOOD validate "s3://demo-$GOOD_ACCOUNT-org-audit" --since "$start" --until "$until" \
  --public-keys "$keys" --out "$evidence-validate" | head -20; valid=${PIPESTATUS[0]}; set -e
echo "(exit code $valid)"

echo
changes="$("$(scripts/moto.sh python)" - "$evidence/summary.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
print(" ".join(f"{c['region']}/{c['event_name']}" for c in s["trail_changes"]))
PY
)"
if [ "$bad" = 1 ] && [ "$off" = 1 ] && [ "$off_gaps" = "eu-west-1/no_log_files sa-east-1/no_log_files" ] \
  && [ "$good" = 1 ] && [ "$gaps" = "ap-northeast-1/log_missing sa-east-1/no_log_files sa-east-1/no_digest" ] \
  && [ "$changes" = "sa-east-1/StopLogging sa-east-1/StartLogging" ] && [ "$valid" = 1 ]; then
  echo "demo: as expected: write-only account FAIL WRITE_ONLY; compliant account PASS. From the logs alone the"
  echo "demo: silent eu-west-1 is a gap and the deleted file is invisible; with the digests eu-west-1 is proven"
  echo "demo: silent but logging, the deleted ap-northeast-1 file is a finding (verify and validate), and"
  echo "demo: sa-east-1's silence has no digest heartbeat: a gap, with the StopLogging and StartLogging beside it."
  echo "demo: evidence (Parquet, summary.json, OSCAL, OCSF, manifest.json) in $evidence, validate.json in $evidence-validate"
  echo "demo: the auditor's report: $evidence/report.html"
else
  echo "demo: unexpected result (check $bad; logs-only $off '$off_gaps'; verify $good '$gaps' '$changes'; validate $valid)" >&2
  exit 1
fi
