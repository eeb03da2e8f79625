#!/usr/bin/env bash
# Memory and time against the size of the coverage grid (accounts x regions x hours).
#
#   scripts/bench_grid.sh
#
# Generates an organization layout of 50 accounts x 17 regions with sparse traffic (two days,
# about one event per account, region and hour), then scans it with windows of one day to ten
# years, and with 10 and 50 accounts, printing wall time and peak RSS (GNU time) for each. The
# data read is the same in every row: what grows is the grid the window spans.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
if [ ! -x /usr/bin/time ]; then
  apt-get update -qq && apt-get install -y -qq time >/dev/null
fi
target="${CARGO_TARGET_DIR:-$root/target}"
cargo build --release --quiet --bin trailproof
bin="$target/release/trailproof"
corpus="$target/bench-grid-corpus"
accounts="$(seq -f '1000000000%02g' 0 49 | paste -sd, -)"
if [ ! -f "$corpus/.done" ]; then
  rm -rf "$corpus"
  "$bin" generate --out "$corpus" --accounts "$accounts" --org-id o-bench12345 --hours 48 \
    --events-per-hour 1 --start 2026-01-01 --seed 11 --no-extras --no-digests
  touch "$corpus/.done"
fi
ten="$(seq -f '1000000000%02g' 0 9 | paste -sd, -)"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
printf '| window | accounts x regions | grid cells (x hours) | wall s | peak RSS MiB | coverage rows | silences rows |\n|---|---|---|---|---|---|---|\n'
run() { # label since accounts
  local label="$1" since="$2" acct="$3" n="$4"
  /usr/bin/time -f '%e %M' -o "$out/time" "$bin" scan "$corpus" --since "$since" --until 2026-01-03 \
    --accounts "$acct" --digests off --no-progress --out "$out/ev" --format json > "$out/summary.json" || true
  read -r wall rss < <(tail -1 "$out/time")
  local hours cells rows silences
  hours=$(( ( $(date -u -d 2026-01-03 +%s) - $(date -u -d "$since" +%s) ) / 3600 ))
  cells=$(( n * 17 ))
  rows="$(python3 -c 'import json,sys; o=json.load(open(sys.argv[1]))["outcome"]; print(next(f["rows"] for f in o["outputs"] if f["name"]=="coverage.parquet"))' "$out/summary.json")"
  silences="$(python3 -c 'import json,sys; o=json.load(open(sys.argv[1]))["outcome"]; print(next((f["rows"] for f in o["outputs"] if f["name"]=="silences.parquet"), "-"))' "$out/summary.json")"
  printf '| %s | %s x 17 | %s | %s | %s | %s | %s |\n' "$label" "$n" "$(( cells * hours ))" "$wall" "$(( rss / 1024 ))" "$rows" "$silences"
}
run "2 days" 2026-01-01 "$accounts" 50
run "30 days" 2025-12-04 "$accounts" 50
run "1 year" 2025-01-03 "$accounts" 50
run "10 years" 2016-01-05 "$ten" 10
run "10 years" 2016-01-05 "$accounts" 50
