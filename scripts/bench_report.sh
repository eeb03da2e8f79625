#!/usr/bin/env bash
# Benchmark of the evidence pack at audit scale: 30 days x 17 regions x 3 accounts, logging
# stopped for 6 hours in one region. Generates the corpus (once, cached), scans it with the
# release binary, then times `trailproof report DIR` (re-rendering report.html from the
# directory alone) with hyperfine and prints report.html's size and the whole pack's.
#
#   scripts/bench_report.sh [--runs N]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
runs=10
if [ "${1:-}" = "--runs" ]; then runs="$2"; fi
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/trailproof/ci-target}"
cargo build --release --quiet
bin="$CARGO_TARGET_DIR/release/trailproof"
cache="${XDG_CACHE_HOME:-$HOME/.cache}/trailproof/bench-report-corpus"
if [ ! -f "$cache/.done" ]; then
  rm -rf "$cache"
  mkdir -p "$cache"
  "$bin" generate --out "$cache/bucket" --accounts 111122223333,222233334444,333344445555 \
    --start 2026-01-01 --hours 720 --events-per-hour 2 --max-files-per-slot 1 \
    --fault stop-logging:eu-west-1:200:6 --public-keys-out "$cache/keys.json" >/dev/null
  touch "$cache/.done"
fi
ev="$root/target/bench-report-evidence"
rm -rf "$ev"
start=$(date +%s.%N)
set +e
"$bin" scan "$cache/bucket" --since 2026-01-01 --until 2026-01-31 --max-silence 3h \
  --public-keys "$cache/keys.json" --no-progress --out "$ev" >/dev/null
code=$?
set -e
echo "scan (exit $code): $(echo "$(date +%s.%N) - $start" | bc) s, $(find "$cache/bucket" -type f | wc -l) objects"
command -v hyperfine >/dev/null || apt-get install -y -qq hyperfine >/dev/null
hyperfine --warmup 1 --runs "$runs" -N "$bin report $ev --output $root/target/bench-report.html"
printf 'report.html: %s bytes (%s table cells with a state class; the hourly drill-downs alone are %s)\n' \
  "$(stat -c %s "$ev/report.html")" \
  "$(grep -o '<td class=[a-z"]' "$ev/report.html" | wc -l)" "$((30 * 24 * 17 * 3))"
printf 'evidence pack: '; du -sb "$ev" | cut -f1
ls -l "$ev"
