#!/usr/bin/env bash
# Whole-program benchmark: trailproof against zcat, chDB (ClickHouse), DuckDB and Python on one
# generated corpus,
# task "count events by region and readOnly", medians of repeated whole-process runs.
#
#   scripts/bench.sh [--quick]
#
# Installs what it needs (hyperfine from Debian, DuckDB in the project's tools venv, chDB in a
# bench venv under ~/.cache/trailproof), builds
# the release binary, generates the corpus once into target/bench-corpus (1 day x 17 regions,
# ~900 MB of JSON), runs every tool with hyperfine and prints medians and the ratios the
# throughput targets are stated in. Results are kept in target/bench-runs/DATE/.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
quick=0; [ "${1:-}" = "--quick" ] && quick=1
if ! command -v hyperfine >/dev/null; then
  apt-get update -qq && apt-get install -y -qq hyperfine >/dev/null
fi
scripts/moto.sh install >/dev/null
py="$(scripts/moto.sh python)"
target="${CARGO_TARGET_DIR:-$root/target}"
cargo build --release --quiet --bin trailproof
bin="$target/release/trailproof"
corpus="$target/bench-corpus-v2"
keys="$target/bench-corpus-v2.keys.json"
if [ ! -f "$corpus/.done" ]; then
  rm -rf "$corpus"
  "$bin" generate --out "$corpus" --hours 24 --events-per-hour 2200 --start 2026-01-01 --seed 7 --no-extras \
    --public-keys-out "$keys"
  touch "$corpus/.done"
fi
# The log files (the corpus also holds signed digests, which the other tools must not read).
find "$corpus" -path '*/CloudTrail/*' -name '*.json.gz' | sort > "$target/bench-files.txt"
window="--since 2026-01-01 --until 2026-01-02"
runs=5; slow=3; [ $quick = 1 ] && { runs=2; slow=1; }
out="$target/bench-runs/$(date -u +%Y-%m-%dT%H%M%SZ)"
CHDB_VERSION=4.4.0
ISAL_VERSION=1.9.1
DEFLATE_VERSION=0.9.0
mkdir -p "$out"

cat > "$out/python_stdlib.py" <<'PY'
import gzip, json, sys, collections
c = collections.Counter()
for path in open(sys.argv[1]).read().split():
    with gzip.open(path) as f:
        for r in json.load(f)["Records"]:
            c[(r.get("awsRegion"), r.get("readOnly"))] += 1
print(sum(c.values()))
PY
cat > "$out/duckdb_count.py" <<'PY'
import duckdb, sys
con = duckdb.connect()
con.sql("SET threads = 2")
q = f"""
SELECT r.awsRegion, r.readOnly, count(*) FROM (
  SELECT unnest(from_json(json, '{{"Records":[{{"awsRegion":"VARCHAR","readOnly":"BOOLEAN"}}]}}').Records) AS r
  FROM read_json_objects('{sys.argv[1]}/AWSLogs/*/CloudTrail/**/*.json.gz', maximum_object_size = 1000000000)
) GROUP BY ALL
"""
print(sum(row[2] for row in con.sql(q).fetchall()))
PY

# chDB: ClickHouse in-process (simdjson inside), in a venv of its own.
chdb_venv="${TRAILPROOF_BENCH_VENV:-$HOME/.cache/trailproof/bench-venv}"
if ! "$chdb_venv/bin/python" -c "import chdb, isal, deflate, sys; sys.exit(chdb.__version__ != '$CHDB_VERSION' or isal.__version__ != '$ISAL_VERSION' or deflate.__version__ != '$DEFLATE_VERSION')" 2>/dev/null; then
  python3 -m venv "$chdb_venv"
  "$chdb_venv/bin/pip" install --quiet --disable-pip-version-check "chdb==$CHDB_VERSION" \
    "isal==$ISAL_VERSION" "deflate==$DEFLATE_VERSION"
fi
chpy="$chdb_venv/bin/python"
cat > "$out/chdb_count.py" <<'PY'
import chdb, sys
q = f"""
SELECT JSONExtractString(r, 'awsRegion') AS region, JSONExtractRaw(r, 'readOnly') AS ro, count() AS n
FROM file('{sys.argv[1]}/AWSLogs/*/CloudTrail/*/*/*/*/*.json.gz', 'JSONAsString')
ARRAY JOIN JSONExtractArrayRaw(json, 'Records') AS r
GROUP BY region, ro
SETTINGS max_threads = 2
"""
print(sum(int(line.rsplit(",", 1)[1]) for line in str(chdb.query(q, "CSV")).splitlines() if line.strip()))
PY

# Every tool must count the same events.
want="$("$bin" scan "$corpus" --out "$out/scan" --no-progress --digests off --format json | "$py" -c 'import json,sys; print(json.load(sys.stdin)["outcome"]["stats"]["events"])')"
for tool in "$py $out/python_stdlib.py $target/bench-files.txt" "$py $out/duckdb_count.py $corpus" "$chpy $out/chdb_count.py $corpus"; do
  got="$(sh -c "$tool")"
  [ "$got" = "$want" ] || { echo "bench: $tool counted $got events, trailproof $want" >&2; exit 1; }
done

hyperfine --style basic --warmup 1 --runs "$runs" --export-json "$out/fast.json" \
  -n "zcat" "xargs zcat < $target/bench-files.txt > /dev/null" \
  -n "trailproof 2 workers" "$bin scan $corpus --out $out/scan --no-progress --digests off --workers 2" \
  -n "trailproof 1 worker" "$bin scan $corpus --out $out/scan --no-progress --digests off --workers 1" \
  -n "trailproof bulk (--no-file-hashes), 2 workers" "$bin scan $corpus --out $out/scan --no-progress --digests off --no-file-hashes --workers 2" \
  -n "trailproof bulk (--no-file-hashes), 1 worker" "$bin scan $corpus --out $out/scan --no-progress --digests off --no-file-hashes --workers 1" \
  -n "trailproof scan, digests verified" "$bin scan $corpus $window --out $out/scan --no-progress --public-keys $keys" \
  -n "trailproof validate" "$bin validate $corpus $window --out $out/validate --public-keys $keys" >/dev/null
hyperfine --style basic --runs "$slow" --export-json "$out/slow.json" \
  -n "chDB (ClickHouse, max_threads=2)" "$chpy $out/chdb_count.py $corpus" \
  -n "DuckDB (threads=2)" "$py $out/duckdb_count.py $corpus" \
  -n "Python gzip+json (1 process)" "$py $out/python_stdlib.py $target/bench-files.txt" >/dev/null

"$py" - "$out" "$corpus" "$want" <<'PY'
import json, os, sys, statistics
out, corpus, events = sys.argv[1], sys.argv[2], int(sys.argv[3])
res = {}
for f in ("fast.json", "slow.json"):
    for r in json.load(open(os.path.join(out, f)))["results"]:
        res[r["command"]] = r
logs = [os.path.join(d, n) for d, _, fs in os.walk(corpus) for n in fs if n.endswith(".gz") and "/CloudTrail/" in d + "/"]
gz = sum(os.path.getsize(p) for p in logs)
files = len(logs)
m = {k: statistics.median(v["times"]) for k, v in res.items()}
tp2, tp1 = m["trailproof 2 workers"], m["trailproof 1 worker"]
lines = [
    f"corpus: {files} files, {gz/1e6:.1f} MB gzip, {events:,} events ({corpus})",
    f"machine: {os.cpu_count()} cores; medians of whole-process runs",
    "",
    "| tool | median s | min-max s | ratio to trailproof 2 workers |",
    "|---|---|---|---|",
]
bulk2, bulk1 = m["trailproof bulk (--no-file-hashes), 2 workers"], m["trailproof bulk (--no-file-hashes), 1 worker"]
best_name = min(["chDB (ClickHouse, max_threads=2)", "DuckDB (threads=2)"], key=lambda k: m[k])
best = m[best_name]
for k in ["trailproof 2 workers", "trailproof 1 worker", "trailproof bulk (--no-file-hashes), 2 workers", "trailproof bulk (--no-file-hashes), 1 worker", "trailproof scan, digests verified", "trailproof validate", "zcat", "chDB (ClickHouse, max_threads=2)", "DuckDB (threads=2)", "Python gzip+json (1 process)"]:
    t = res[k]["times"]
    lines.append(f"| {k} | {m[k]:.2f} | {min(t):.2f}-{max(t):.2f} | {m[k]/tp2:.2f} |")
lines += [
    "",
    f"best peer (of chDB and DuckDB):     {best_name}, {best:.2f} s",
    f"trailproof vs the best peer, same threads: {best/tp2:.1f}x faster (target >= 10x); bulk {best/bulk2:.1f}x",
    f"trailproof vs zcat alone:           {m['zcat']/tp2:.1f}x faster (target >= 2x)",
    f"1 -> 2 workers:                     {tp1/tp2:.2f}x (target >= 1.9x)",
    f"bulk (no file hashes) vs DuckDB:    {m['DuckDB (threads=2)']/bulk2:.1f}x faster; vs zcat {m['zcat']/bulk2:.1f}x; 1 -> 2 workers {bulk1/bulk2:.2f}x",
    f"digests verified (hash + chains):   {m['trailproof scan, digests verified']/tp2:.2f}x the time of the logs-only scan",
]
text = "\n".join(lines)
print(text)
open(os.path.join(out, "summary.md"), "w").write(text + "\n")
PY
# S3 path: trailproof scan s3:// against a raw 32-way parallel download of the same objects
# from a local moto server (moto, single-process, is the bottleneck on both sides).
mdir="$target/moto-bench"
eval "$(scripts/moto.sh start "$mdir")"
trap 'scripts/moto.sh stop "$mdir"' EXIT
export AWS_ACCESS_KEY_ID=AKIABENCH AWS_SECRET_ACCESS_KEY=bench AWS_REGION=us-east-1 AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
"$py" -c "import boto3; boto3.client('s3', endpoint_url='$TRAILPROOF_TEST_ENDPOINT', region_name='us-east-1').create_bucket(Bucket='bench-s3')"
"$bin" generate --out s3://bench-s3 --endpoint-url "$TRAILPROOF_TEST_ENDPOINT" --regions us-east-1,eu-west-1,ap-south-1,sa-east-1 \
  --hours 6 --events-per-hour 2200 --start 2026-01-01 --no-extras --no-digests
cat > "$out/raw_download.py" <<'PY'
import boto3, sys, concurrent.futures as cf
s3 = boto3.client("s3", endpoint_url=sys.argv[1], region_name="us-east-1")
keys = [o["Key"] for p in s3.get_paginator("list_objects_v2").paginate(Bucket="bench-s3") for o in p.get("Contents", [])]
with cf.ThreadPoolExecutor(32) as ex:
    print(sum(ex.map(lambda k: len(s3.get_object(Bucket="bench-s3", Key=k)["Body"].read()), keys)))
PY
hyperfine --style basic --warmup 1 --runs "$slow" --export-json "$out/s3.json" \
  -n "raw parallel download (boto3, 32 threads)" "$py $out/raw_download.py $TRAILPROOF_TEST_ENDPOINT" \
  -n "trailproof scan s3://" "$bin scan s3://bench-s3 --endpoint-url $TRAILPROOF_TEST_ENDPOINT --out $out/scan-s3 --no-progress --digests off --since 2026-01-01 --until 2026-01-01T06:00:00Z" >/dev/null
"$py" - "$out" <<'PY'
import json, os, statistics, sys
res = {r["command"]: statistics.median(r["times"]) for r in json.load(open(os.path.join(sys.argv[1], "s3.json")))["results"]}
raw, tp = res["raw parallel download (boto3, 32 threads)"], res["trailproof scan s3://"]
text = f"S3 (moto on loopback): raw download {raw:.2f} s, trailproof scan s3:// {tp:.2f} s: {raw/tp*100:.0f}% of raw download throughput (target >= 80%)"
print(text)
open(os.path.join(sys.argv[1], "summary.md"), "a").write("\n" + text + "\n")
PY
# Is there an inflater faster than libdeflate on these files? ISA-L's igzip (python-isal) and
# libdeflate (the `deflate` bindings) through the same thin Python call per file, one thread,
# best of three passes over the same 3,000 files held in memory.
head -3000 "$target/bench-files.txt" > "$out/inflate-files.txt"
"$chpy" scripts/inflate_peers.py "$out/inflate-files.txt" | tee -a "$out/summary.md"

# Instructions per byte of JSON for each parser (valgrind: no hardware counters on this VM, and
# a count does not move with the machine's load). Valgrind emulates no AVX-512: the structural
# index runs its AVX2 path here.
if ! command -v valgrind >/dev/null; then
  apt-get update -qq && apt-get install -y -qq valgrind >/dev/null
fi
cargo build --release --quiet --example instructions
head -60 "$target/bench-files.txt" > "$out/instructions-files.txt"
for parser in extract simd-json serde_json; do
  # shellcheck disable=SC2046
  valgrind --tool=callgrind --toggle-collect='*parse_all*' \
    --callgrind-out-file="$out/callgrind.$parser" "$target/release/examples/instructions" "$parser" \
    $(cat "$out/instructions-files.txt") > "$out/instructions.$parser" 2>/dev/null
  read -r bytes records level < "$out/instructions.$parser"
  ir=$(awk '/^summary:/ { print $2; exit }' "$out/callgrind.$parser")
  line="instructions per byte of JSON, $parser (60 files, $bytes bytes, $records records, index path $level): $(awk -v i="$ir" -v b="$bytes" 'BEGIN { printf "%.2f", i / b }')"
  echo "$line"
  echo "$line" >> "$out/summary.md"
done
echo "bench: results in $out"
