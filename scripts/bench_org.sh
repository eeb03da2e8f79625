#!/usr/bin/env bash
# Organization scale: planning, listing and reading an organization trail's bucket of A
# accounts x 17 regions x D days against a fast local S3 endpoint (examples/s3_dir.rs: an
# in-memory key index over a directory; moto and s3s-fs walk the whole bucket per LIST),
# unsharded and as N shards run one after another, then merged. Per run: wall time, peak RSS,
# S3 LIST requests, objects listed; objects per second. Release build, 2 workers.
#
#   scripts/bench_org.sh                 # A in 100 250 500 (1 day), 500 x 2 days; N = 4
#   SIZES="500:1" SHARDS=8 scripts/bench_org.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
cargo build --release --quiet --bin trailproof --example s3_dir
bin="$CARGO_TARGET_DIR/release/trailproof"
server="$CARGO_TARGET_DIR/release/examples/s3_dir"
work="${BENCH_ORG_DIR:-$HOME/.cache/trailproof/bench-org}"
sizes="${SIZES:-100:1 250:1 500:1 500:2}"
shards="${SHARDS:-4}"
port="${PORT:-8917}"
mkdir -p "$work"
export AWS_ACCESS_KEY_ID=AKIDBENCH AWS_SECRET_ACCESS_KEY=bench AWS_REGION=us-east-1 \
  AWS_EC2_METADATA_DISABLED=true
measure() { # name out-dir args... -> prints one table row
  local name=$1 out=$2; shift 2
  rm -rf "$out"
  /usr/bin/time -f '%e %M' -o "$work/time" "$@" --out "$out" --no-progress >/dev/null 2>"$work/err" || true
  read -r wall rss < <(tail -1 "$work/time")
  python3 - "$name" "$out" "$wall" "$rss" <<'PY'
import json, sys
name, out, wall, rss = sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4])
s = json.load(open(f"{out}/summary.json"))
st = s["outcome"]["stats"]
print(f"| {name} | {st['list_requests']:,} | {st['objects_listed']:,} | {wall:.1f} s | "
      f"{st['objects_listed'] / wall:,.0f} | {rss / 1024:.0f} MB | {s['verdict']} |")
PY
}
echo "| run | LIST requests | objects | wall | objects/s | peak RSS | verdict |"
echo "|---|---|---|---|---|---|---|"
for size in $sizes; do
  accounts=${size%%:*}; days=${size##*:}
  root="$work/root-$accounts-$days"
  if [ ! -d "$root/org-bucket" ]; then
    list=$(python3 -c "print(','.join(str(300000000000 + i) for i in range($accounts)))")
    "$bin" generate --out "$root/org-bucket" --org-id o-orgbench01 --accounts "$list" \
      --hours $((24 * days)) --events-per-hour 1 --max-files-per-slot 1 --no-extras \
      --no-digests --start 2026-01-01 >/dev/null
  fi
  "$server" "$root" "$port" 2>"$work/server.log" &
  pid=$!
  sleep 2
  until=$(python3 -c "import datetime as d; print((d.date(2026,1,1)+d.timedelta(days=$days)).isoformat())")
  common=(scan s3://org-bucket --endpoint-url "http://127.0.0.1:$port" --since 2026-01-01
    --until "$until" --digests off --workers 2)
  measure "$accounts x 17 x ${days}d, unsharded" "$work/whole" "$bin" "${common[@]}"
  for k in $(seq 0 $((shards - 1))); do
    measure "$accounts x 17 x ${days}d, shard $k/$shards" "$work/shard-$k" "$bin" "${common[@]}" --shard "$k/$shards"
  done
  dirs=()
  for k in $(seq 0 $((shards - 1))); do dirs+=("$work/shard-$k"); done
  rm -rf "$work/merged"
  /usr/bin/time -f '%e %M' -o "$work/time" "$bin" merge "${dirs[@]}" --out "$work/merged" >/dev/null 2>&1 || true
  read -r wall rss < <(tail -1 "$work/time")
  echo "| $accounts x 17 x ${days}d, merge of $shards | - | - | $wall s | - | $((rss / 1024)) MB | $(python3 -c "import json; print(json.load(open('$work/merged/summary.json'))['verdict'])") |"
  kill "$pid"; wait "$pid" 2>/dev/null || true
done
