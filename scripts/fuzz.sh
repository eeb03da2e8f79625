#!/usr/bin/env bash
# Fuzzes every cargo-fuzz target in fuzz/ (fuzz/README.md says what each one checks).
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]   SECONDS per target (default 60)
#   scripts/fuzz.sh --ci [TARGET...]        20 seconds per target
#
# First replays fuzz/regressions/TARGET/* (inputs that once failed), then fuzzes from the
# committed seeds (fuzz/corpus/TARGET) plus the working corpus kept in
# fuzz/target/corpus/TARGET (or $FUZZ_TARGET_DIR/corpus/TARGET). Exits non-zero if any target
# fails, naming the crash input.
# Installs cargo-fuzz (and the nightly toolchain) if missing. Works from any directory.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

seconds=60
case "${1:-}" in
  --ci) seconds=20; shift ;;
  ''|-*) ;;
  *[!0-9]*) ;;
  *) seconds=$1; shift ;;
esac
case "${1:-}" in
  -h|--help) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  -*) echo "fuzz.sh: unknown option $1 (try --help)" >&2; exit 2 ;;
esac

export CARGO_TERM_COLOR=never
# The fuzz crate has its own target dir: never the main crate's (CI sets CARGO_TARGET_DIR).
# FUZZ_TARGET_DIR moves it (and the working corpus) out of the tree, e.g. for CI, whose fresh
# clone would otherwise rebuild from cold every run.
unset CARGO_TARGET_DIR
target_dir="${FUZZ_TARGET_DIR:-$root/fuzz/target}"
# Sixteen codegen units: the instrumented build of the whole dependency tree (AWS SDK,
# arrow, parquet) is several times faster than with cargo-fuzz's default of one.
build_flags=(--codegen-units 16 --target-dir "$target_dir")

if ! rustup toolchain list | grep -q '^nightly'; then
  rustup toolchain install nightly --profile minimal
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
  cargo install cargo-fuzz --locked
fi

mapfile -t all < <(cargo +nightly fuzz list)
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=("${all[@]}")

start=$(date +%s)
echo "fuzz: building the fuzz targets (nightly, in $target_dir)"
cargo +nightly fuzz build "${build_flags[@]}"
echo "fuzz: built in $(( $(date +%s) - start )) s"

failed=()
logs="$target_dir/fuzz-logs"
mkdir -p "$logs"
for t in "${targets[@]}"; do
  log="$logs/$t.log"
  : >"$log"
  # The failing input: where libFuzzer wrote it, else the replayed file, else the newest artifact.
  report() {
    echo "fuzz: $t FAILED ($1); log: $log"
    local where
    where=$(grep -o 'Test unit written to .*' "$log" | tail -n 1 | sed 's/Test unit written to //' || true)
    if [ -z "$where" ]; then  # a replayed regression input: the last one libFuzzer ran
      where=$(grep -o '^Running: .*' "$log" | tail -n 1 | sed 's/^Running: //' || true)
    fi
    if [ -z "$where" ]; then
      where=$(ls -t "$root/fuzz/artifacts/$t"/* 2>/dev/null | head -n 1 || true)
    fi
    [ -n "$where" ] && echo "fuzz:   crash input: $where" \
      && echo "fuzz:   replay: cargo +nightly fuzz run $t $where" \
      && echo "fuzz:   minimize: cargo +nightly fuzz tmin $t $where"
    grep -m 3 -E "panicked at|^thread '.*' panicked|ERROR: (libFuzzer|AddressSanitizer)" "$log" \
      | sed 's/^/fuzz:   /' || true
    failed+=("$t")
  }

  shopt -s nullglob
  regressions=("$root/fuzz/regressions/$t"/*)
  shopt -u nullglob
  if [ ${#regressions[@]} -gt 0 ]; then
    echo "fuzz: $t: replaying ${#regressions[@]} regression input(s)"
    if ! cargo +nightly fuzz run "${build_flags[@]}" "$t" "${regressions[@]}" >>"$log" 2>&1; then
      report "a regression input fails again"
      continue
    fi
  fi

  echo "fuzz: $t: ${seconds} s"
  work="$target_dir/corpus/$t"
  mkdir -p "$work"
  t0=$(date +%s)
  # libFuzzer adds new inputs to the first corpus directory only: the seeds stay as committed.
  if cargo +nightly fuzz run "${build_flags[@]}" "$t" "$work" "$root/fuzz/corpus/$t" -- \
      -max_total_time="$seconds" -timeout=20 -print_final_stats=1 >>"$log" 2>&1; then
    runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | tail -n 1 | grep -o '[0-9]*$' || true)
    echo "fuzz: $t ok: ${runs:-?} runs in $(( $(date +%s) - t0 )) s, corpus $(ls "$work" | wc -l) inputs"
  else
    report "fuzzing found a failing input"
  fi
done

echo "fuzz: done in $(( $(date +%s) - start )) s"
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: FAILED: ${failed[*]}"
  echo "fuzz: minimize a new crash input and keep it in fuzz/regressions/TARGET/ (fuzz/README.md)"
  exit 1
fi
echo "fuzz: all ${#targets[@]} target(s) passed"
