#!/usr/bin/env bash
# What an incremental run (--state) costs against a plain run of the same day: the second
# day of a 48-hour corpus judged by `scan --since D1 --until D2` and by `scan --state` whose
# state ended at D1 (it re-judges the delivery grace, one hour, and checks the carried silences
# and chain tips). Release build; hyperfine; digests on (signed, keys from the generator).
#
#   scripts/bench_state.sh            # 4 regions x 48 h x 2,000 events/hour
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
cargo build --release --quiet
bin="$CARGO_TARGET_DIR/release/trailproof"
work=target/bench-state
corpus=$work/corpus
if [ ! -d "$corpus" ]; then
  mkdir -p "$work"
  "$bin" generate --out "$corpus" --regions us-east-1,eu-west-1,ap-south-1,sa-east-1 --hours 48 \
    --events-per-hour 2000 --start 2026-01-01 --seed 11 --no-extras \
    --public-keys-out "$work/keys.json" >/dev/null
fi
common=(--public-keys "$work/keys.json" --max-silence 6h --no-progress --workers 2)
rm -rf "$work/day1" "$work/state.json"
"$bin" scan "$corpus" "${common[@]}" --state "$work/state.json" --since 2026-01-01 \
  --until 2026-01-02 --out "$work/day1" >/dev/null || true
cp "$work/state.json" "$work/state.day1.json"
hyperfine --warmup 1 --runs 5 \
  -n "plain: --since D1 --until D2 (24 h)" \
  "$bin scan $corpus ${common[*]} --since 2026-01-02 --until 2026-01-03 --out $work/plain" \
  -n "incremental: --state (D1 - 1 h .. D2, 25 h)" \
  --prepare "cp $work/state.day1.json $work/state.json" \
  "$bin scan $corpus ${common[*]} --state $work/state.json --until 2026-01-03 --out $work/incr"
