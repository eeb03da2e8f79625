//! `trailproof generate` + `trailproof scan DIR`: ground truth in, exact evidence out.

use std::path::{Path, PathBuf};
use std::process::Command;

use arrow_array::Array;
use arrow_array::cast::AsArray;
use arrow_array::types::{TimestampMicrosecondType, UInt64Type};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

const START: &str = "2026-01-01T00:00:00Z";
const H0: i64 = 1_767_225_600;
const REGIONS: &str = "us-east-1,eu-west-1,ap-south-1";

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_trailproof"))
}

/// Generates a 6-hour corpus with the given extra arguments; returns its dir and ground truth.
fn generate(dir: &Path, extra: &[&str]) -> serde_json::Value {
    let out = bin()
        .args([
            "generate",
            "--out",
            dir.to_str().unwrap(),
            "--regions",
            REGIONS,
            "--hours",
            "6",
            "--start",
            START,
            "--truth",
        ])
        .args(extra)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "generate: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn scan(dir: &Path, out: &Path, extra: &[&str]) -> (i32, serde_json::Value) {
    let res = bin()
        .args([
            "scan",
            dir.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--since",
            START,
            "--until",
            "2026-01-01T06:00:00Z",
            "--format",
            "json",
        ])
        .args(extra)
        .output()
        .unwrap();
    let summary: serde_json::Value = serde_json::from_slice(&res.stdout).unwrap_or_else(|e| {
        panic!(
            "scan stdout is not JSON ({e}): {}\n{}",
            String::from_utf8_lossy(&res.stdout),
            String::from_utf8_lossy(&res.stderr)
        )
    });
    (res.status.code().unwrap(), summary)
}

pub fn batches(path: &Path) -> Vec<arrow_array::RecordBatch> {
    let f = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    ParquetRecordBatchReaderBuilder::try_new(f)
        .unwrap()
        .build()
        .unwrap()
        .map(|b| b.unwrap())
        .collect()
}

/// A gap row: (region, category, kind, start hour offset, end hour offset, detail).
pub type GapRow = (String, String, String, i64, i64, String);

/// gaps.parquet as rows.
/// String columns of files.parquet, row by row (`None` for null).
pub fn file_rows(out: &Path, columns: &[&str]) -> Vec<Vec<Option<String>>> {
    let mut rows = Vec::new();
    for b in batches(&out.join("files.parquet")) {
        let cols: Vec<_> = columns
            .iter()
            .map(|c| b.column_by_name(c).unwrap().as_string::<i32>().clone())
            .collect();
        for i in 0..b.num_rows() {
            rows.push(
                cols.iter()
                    .map(|c| c.is_valid(i).then(|| c.value(i).to_owned()))
                    .collect(),
            );
        }
    }
    rows
}

pub fn gaps(out: &Path) -> Vec<GapRow> {
    let mut rows = Vec::new();
    for b in batches(&out.join("gaps.parquet")) {
        let s = |name: &str| b.column_by_name(name).unwrap().as_string::<i32>().clone();
        let t = |name: &str| {
            b.column_by_name(name)
                .unwrap()
                .as_primitive::<TimestampMicrosecondType>()
                .clone()
        };
        let (region, category, kind, detail, start, end) = (
            s("region"),
            s("category"),
            s("kind"),
            s("detail"),
            t("start"),
            t("end"),
        );
        for i in 0..b.num_rows() {
            let h = |us: i64| (us / 1_000_000 - H0).div_euclid(3_600);
            rows.push((
                region.value(i).to_owned(),
                category.value(i).to_owned(),
                kind.value(i).to_owned(),
                h(start.value(i)),
                h(end.value(i)),
                detail.value(i).to_owned(),
            ));
        }
    }
    rows
}

/// Sums a u64 column of coverage.parquet per region.
fn coverage_sum(out: &Path, column: &str) -> std::collections::BTreeMap<String, u64> {
    let mut sums = std::collections::BTreeMap::new();
    for b in batches(&out.join("coverage.parquet")) {
        let region = b
            .column_by_name("region")
            .unwrap()
            .as_string::<i32>()
            .clone();
        let col = b
            .column_by_name(column)
            .unwrap()
            .as_primitive::<UInt64Type>()
            .clone();
        for i in 0..b.num_rows() {
            *sums.entry(region.value(i).to_owned()).or_default() += col.value(i);
        }
    }
    sums
}

/// Log files the generator wrote, from its ground truth.
pub fn truth_log_files(truth: &serde_json::Value) -> u64 {
    truth["regions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["log_files"].as_u64().unwrap())
        .sum()
}

fn tmp() -> (tempfile::TempDir, PathBuf, PathBuf) {
    let t = tempfile::tempdir().unwrap();
    let (c, o) = (t.path().join("bucket"), t.path().join("out"));
    (t, c, o)
}

#[test]
fn clean_corpus_is_proven_and_matches_ground_truth() {
    let (_t, corpus, out) = tmp();
    let truth = generate(&corpus, &[]);
    let (code, summary) = scan(&corpus, &out, &["--max-silence", "2h"]);
    assert_eq!(code, 0, "{summary:#}");
    assert_eq!(summary["verdict"], "PROVEN");
    assert!(gaps(&out).is_empty());
    for (column, field) in [
        ("mgmt_read", "mgmt_read"),
        ("mgmt_write", "mgmt_write"),
        ("mgmt_unknown", "mgmt_unknown"),
        ("global_read", "global_read"),
        ("global_write", "global_write"),
        ("data_events", "data_events"),
        ("other_events", "other_events"),
    ] {
        let got = coverage_sum(&out, column);
        for r in truth["regions"].as_array().unwrap() {
            let region = r["region"].as_str().unwrap();
            assert_eq!(
                got.get(region).copied().unwrap_or(0),
                r[field].as_u64().unwrap(),
                "{column} in {region}"
            );
        }
    }
    // Every generated log file is in files.parquet with status ok; the extras are skipped.
    let files = batches(&out.join("files.parquet"));
    let status: Vec<String> = files
        .iter()
        .flat_map(|b| {
            let s = b
                .column_by_name("status")
                .unwrap()
                .as_string::<i32>()
                .clone();
            (0..b.num_rows())
                .map(move |i| s.value(i).to_owned())
                .collect::<Vec<_>>()
        })
        .collect();
    let logs = truth_log_files(&truth);
    assert_eq!(status.iter().filter(|s| *s == "ok").count() as u64, logs);
    assert_eq!(
        status.iter().filter(|s| *s == "skipped").count() as u64,
        2 + truth["digests"].as_u64().unwrap(),
        "digests, insight, Config probe"
    );
}

/// Runs one fault and returns the gap rows (and the scan's exit code).
fn fault(
    args: &[&str],
    scan_extra: &[&str],
) -> (
    i32,
    Vec<GapRow>,
    serde_json::Value,
    PathBuf,
    tempfile::TempDir,
) {
    let (t, corpus, out) = tmp();
    let mut gen_args = Vec::new();
    for a in args {
        gen_args.push("--fault");
        gen_args.push(a);
    }
    let truth = generate(&corpus, &gen_args);
    let (code, _) = scan(&corpus, &out, scan_extra);
    (code, gaps(&out), truth, out, t)
}

pub fn kinds(rows: &[GapRow]) -> Vec<(&str, &str, &str, i64, i64)> {
    rows.iter()
        .map(|(r, c, k, s, e, _)| (r.as_str(), c.as_str(), k.as_str(), *s, *e))
        .collect()
}

#[test]
fn silent_region_is_one_no_log_files_gap() {
    let (code, rows, ..) = fault(&["silent:eu-west-1:2:3"], &["--max-silence", "2h"]);
    assert_eq!(code, 1);
    assert_eq!(
        kinds(&rows),
        [("eu-west-1", "delivery", "no_log_files", 2, 5)]
    );
}

#[test]
fn missing_files_are_one_no_log_files_gap() {
    let (code, rows, ..) = fault(&["missing-files:ap-south-1:1:2"], &["--max-silence", "2h"]);
    assert_eq!(code, 1);
    assert_eq!(
        kinds(&rows),
        [("ap-south-1", "delivery", "no_log_files", 1, 3)]
    );
}

#[test]
fn silence_shorter_than_max_silence_is_no_gap() {
    let (code, rows, ..) = fault(&["silent:eu-west-1:2:1"], &["--max-silence", "2h"]);
    assert_eq!((code, rows.len()), (0, 0), "{rows:?}");
}

#[test]
fn reads_without_writes_is_one_mgmt_write_gap() {
    let (code, rows, ..) = fault(&["no-writes:ap-south-1"], &[]);
    assert_eq!(code, 1);
    assert_eq!(
        kinds(&rows),
        [("ap-south-1", "mgmt_write", "no_events", 0, 6)]
    );
}

#[test]
fn no_global_events_is_one_global_gap() {
    let (code, rows, ..) = fault(&["no-global"], &[]);
    assert_eq!(code, 1);
    assert_eq!(kinds(&rows), [("us-east-1", "global", "no_events", 0, 6)]);
}

#[test]
fn region_mismatch_is_one_integrity_gap() {
    let (code, rows, truth, ..) = fault(&["region-mismatch:ap-south-1:5"], &[]);
    assert_eq!(code, 1);
    let mismatched = truth["regions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["region"] == "ap-south-1")
        .unwrap()["mismatched"]
        .as_u64()
        .unwrap();
    assert_eq!(mismatched, 5);
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(
        (rows[0].0.as_str(), rows[0].1.as_str(), rows[0].2.as_str()),
        ("ap-south-1", "integrity", "region_mismatch")
    );
    assert!(
        rows[0].5.starts_with("5 non-global events"),
        "{}",
        rows[0].5
    );
}

#[test]
fn late_delivery_is_one_late_gap() {
    let (code, rows, ..) = fault(&["late:eu-west-1:2:3"], &[]);
    assert_eq!(code, 1);
    assert_eq!(
        kinds(&rows),
        [("eu-west-1", "delivery", "late_delivery", 2, 3)]
    );
}

#[test]
fn corrupt_objects_are_unreadable_never_proven() {
    let (code, rows, truth, out, _t) = fault(
        &[
            "corrupt:eu-west-1:truncated-gzip:1",
            "corrupt:eu-west-1:invalid-json:1",
            "corrupt:eu-west-1:not-gzip:1",
        ],
        &[],
    );
    assert_eq!(code, 1);
    let corrupt: Vec<(String, String)> = truth["corrupt_keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p[0].as_str().unwrap().to_owned(),
                p[1].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(corrupt.len(), 3);
    assert_eq!(rows.len(), 3, "{rows:?}");
    for (key, kind) in &corrupt {
        let row = rows
            .iter()
            .find(|r| r.5.starts_with(key.as_str()))
            .unwrap_or_else(|| panic!("no gap row names {key}: {rows:?}"));
        assert_eq!(
            (row.0.as_str(), row.1.as_str(), row.2.as_str()),
            ("eu-west-1", "delivery", "object_unreadable")
        );
        let want = match kind.as_str() {
            "truncated_gzip" | "not_gzip" => "invalid_gzip",
            _ => "invalid_json",
        };
        assert!(row.5.contains(want), "{} should say {want}", row.5);
    }
    // files.parquet names each with its status and error; the region is unknown, not proven.
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("summary.json")).unwrap()).unwrap();
    let eu = summary["outcome"]["regions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["region"] == "eu-west-1")
        .unwrap()
        .clone();
    assert_eq!(eu["status"], "unknown");
    assert_eq!(summary["verdict"], "UNKNOWN");
    let statuses: std::collections::BTreeMap<_, _> = file_rows(&out, &["key", "status", "error"])
        .into_iter()
        .map(|r| {
            let [key, status, error] = <[_; 3]>::try_from(r).unwrap();
            (key.unwrap(), (status.unwrap(), error.is_some()))
        })
        .collect();
    for (key, _) in &corrupt {
        let (status, has_error) = &statuses[key];
        assert!(
            status == "invalid_gzip" || status == "invalid_json",
            "{key}: {status}"
        );
        assert!(has_error);
    }
}

#[test]
fn org_and_prefix_layouts_scan() {
    let (_t, corpus, out) = tmp();
    generate(
        &corpus,
        &[
            "--org-id",
            "o-abcd123456",
            "--prefix",
            "audit/logs",
            "--accounts",
            "111122223333,444455556666",
        ],
    );
    assert!(
        corpus
            .join("audit/logs/AWSLogs/o-abcd123456/444455556666/CloudTrail/eu-west-1")
            .is_dir()
    );
    let (code, summary) = scan(&corpus, &out, &[]);
    assert_eq!(code, 0, "{summary:#}");
    assert_eq!(
        summary["outcome"]["expected_accounts"],
        serde_json::json!(["111122223333", "444455556666"])
    );
    assert_eq!(summary["outcome"]["regions"].as_array().unwrap().len(), 6);
}

#[test]
fn symlinked_region_folders_are_followed() {
    let (t, corpus, out) = tmp();
    let truth = generate(&corpus, &[]);
    let region = corpus.join("AWSLogs/111122223333/CloudTrail/eu-west-1");
    let elsewhere = t.path().join("moved-eu-west-1");
    std::fs::rename(&region, &elsewhere).unwrap();
    std::os::unix::fs::symlink(&elsewhere, &region).unwrap();
    let (code, summary) = scan(&corpus, &out, &[]);
    assert_eq!(code, 0, "{summary:#}");
    let eu = summary["outcome"]["regions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["region"] == "eu-west-1")
        .cloned();
    let want = truth["regions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["region"] == "eu-west-1")
        .unwrap()["mgmt_read"]
        .clone();
    assert_eq!(
        eu.expect("eu-west-1 is expected")["totals"]["mgmt_read"],
        want
    );
}

#[test]
fn missing_expected_region_is_a_gap() {
    let (_t, corpus, out) = tmp();
    generate(&corpus, &[]);
    let (code, _) = scan(
        &corpus,
        &out,
        &["--regions", "us-east-1,eu-west-1,ap-south-1,sa-east-1"],
    );
    assert_eq!(code, 1);
    assert_eq!(
        kinds(&gaps(&out)),
        [
            ("sa-east-1", "mgmt_read", "no_events", 0, 6),
            ("sa-east-1", "mgmt_write", "no_events", 0, 6)
        ]
    );
}

#[test]
fn events_parquet_has_every_event() {
    let (_t, corpus, out) = tmp();
    generate(&corpus, &[]);
    let (code, summary) = scan(&corpus, &out, &["--events"]);
    assert_eq!(code, 0);
    let rows: usize = batches(&out.join("events.parquet"))
        .iter()
        .map(|b| b.num_rows())
        .sum();
    assert_eq!(
        rows as u64,
        summary["outcome"]["stats"]["events"].as_u64().unwrap()
    );
}

/// The real delivered files of invictus-ir/aws_dataset, gzipped at test time into the layout.
#[test]
fn invictus_dataset_counts_exactly() {
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/invictus/CloudTrail");
    assert!(
        data.is_dir(),
        "{} is part of the repository",
        data.display()
    );
    let t = tempfile::tempdir().unwrap();
    let day = t
        .path()
        .join("bucket/AWSLogs/218007301253/CloudTrail/us-east-1/2023/07/10");
    std::fs::create_dir_all(&day).unwrap();
    let mut n = 0;
    for entry in std::fs::read_dir(&data).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_owned();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(6));
        std::io::Write::write_all(&mut gz, &std::fs::read(&path).unwrap()).unwrap();
        std::fs::write(day.join(format!("{name}.gz")), gz.finish().unwrap()).unwrap();
        n += 1;
    }
    assert_eq!(n, 55);
    let out = t.path().join("out");
    let res = bin()
        .args([
            "scan",
            t.path().join("bucket").to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    let summary: serde_json::Value = serde_json::from_slice(&res.stdout).unwrap();
    let stats = &summary["outcome"]["stats"];
    assert_eq!(stats["events"], 2_900, "{stats}");
    assert_eq!(stats["log_files_read"], 55);
    let east = summary["outcome"]["regions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["region"] == "us-east-1")
        .unwrap()
        .clone();
    assert_eq!(east["totals"]["mgmt_read"], 2_326);
    assert_eq!(east["totals"]["mgmt_write"], 574);
    assert_eq!(coverage_sum(&out, "mgmt_read")["us-east-1"], 2_326);
    assert_eq!(coverage_sum(&out, "mgmt_write")["us-east-1"], 574);
    assert_eq!(east["status"], "proven", "{east}");
    assert_eq!(res.status.code(), Some(0));
}

/// The Parquet outputs are read by a real, independent reader (DuckDB's Python package, pinned
/// in scripts/moto.sh) with the documented column names and types.
#[test]
fn duckdb_reads_every_table() {
    let python = std::env::var("TRAILPROOF_TEST_PYTHON").unwrap_or_else(|_| {
        let out = Command::new("bash")
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/moto.sh"))
            .arg("python")
            .output()
            .unwrap();
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    });
    let (_t, corpus, out) = tmp();
    generate(
        &corpus,
        &[
            "--fault",
            "no-writes:eu-west-1",
            "--fault",
            "corrupt:ap-south-1:not-gzip:1",
        ],
    );
    let (code, summary) = scan(&corpus, &out, &["--events"]);
    assert_eq!(code, 1);
    let script = r#"
import duckdb, json, sys
d = sys.argv[1]
con = duckdb.connect()
res = {}
for t in ["coverage", "gaps", "files", "events"]:
    rel = con.sql(f"SELECT * FROM read_parquet('{d}/{t}.parquet')")
    rows = con.sql(f"SELECT count(*) FROM read_parquet('{d}/{t}.parquet')").fetchall()[0][0]
    res[t] = {"rows": rows, "types": {c: str(ty) for c, ty in zip(rel.columns, rel.types)}}
res["reads"] = con.sql(f"SELECT sum(mgmt_read) FROM read_parquet('{d}/coverage.parquet')").fetchall()[0][0]
res["gap"] = con.sql(f"SELECT region, category, kind FROM read_parquet('{d}/gaps.parquet') WHERE kind = 'no_events'").fetchall()
res["bad"] = con.sql(f"SELECT status FROM read_parquet('{d}/files.parquet') WHERE status NOT IN ('ok', 'skipped')").fetchall()
print(json.dumps(res))
"#;
    let res = Command::new(&python).arg("-c").arg(script).arg(&out).output().unwrap_or_else(|e| {
        panic!("cannot run {python} ({e}); install the test tools with `scripts/moto.sh install` (scripts/test.sh does)")
    });
    assert!(
        res.status.success(),
        "duckdb failed (install it with scripts/moto.sh install): {}",
        String::from_utf8_lossy(&res.stderr)
    );
    let got: serde_json::Value = serde_json::from_slice(&res.stdout).unwrap();
    let cov = &got["coverage"]["types"];
    assert_eq!(cov["account_id"], "VARCHAR");
    assert_eq!(cov["hour"], "TIMESTAMP WITH TIME ZONE");
    assert_eq!(cov["mgmt_read"], "UBIGINT");
    assert_eq!(cov["max_delivery_lag_s"], "BIGINT");
    assert_eq!(got["coverage"]["rows"], 18, "3 regions x 6 hours, dense");
    assert_eq!(got["gaps"]["types"]["start"], "TIMESTAMP WITH TIME ZONE");
    assert_eq!(got["files"]["types"]["size"], "UBIGINT");
    assert_eq!(got["events"]["rows"], summary["outcome"]["stats"]["events"]);
    assert_eq!(
        got["reads"],
        summary["outcome"]["regions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["totals"]["mgmt_read"].as_u64().unwrap())
            .sum::<u64>()
    );
    assert_eq!(
        got["gap"],
        serde_json::json!([["eu-west-1", "mgmt_write", "no_events"]])
    );
    assert_eq!(got["bad"], serde_json::json!([["invalid_gzip"]]));
}

#[test]
fn an_offline_copy_is_checked_against_its_digests_with_a_keys_file() {
    let (t, corpus, out) = tmp();
    let keys = t.path().join("keys.json");
    let k = keys.to_str().unwrap();
    let truth = generate(
        &corpus,
        &[
            "--fault",
            "tamper:delete-log:ap-south-1",
            "--public-keys-out",
            k,
        ],
    );
    // Without keys: digests found but unverifiable, said, and judged from the logs.
    let (code, summary) = scan(&corpus, &out, &[]);
    assert_eq!(code, 0, "{summary:#}");
    let d = &summary["outcome"]["digests"];
    assert_eq!(d["in_use"], false);
    assert!(
        d["notes"][0].as_str().unwrap().contains("--public-keys"),
        "{d:#}"
    );
    // With the keys file: the deleted log is exactly one log_missing gap.
    let (code, summary) = scan(&corpus, &out, &["--public-keys", k]);
    assert_eq!(code, 1, "{summary:#}");
    assert_eq!(summary["outcome"]["digests"]["in_use"], true);
    let rows = gaps(&out);
    assert_eq!(kinds(&rows).len(), 1, "{rows:?}");
    assert_eq!(rows[0].2, "log_missing");
    assert!(
        rows[0]
            .5
            .starts_with(truth["tampered"][0][1].as_str().unwrap())
    );
    // --digests off: the logs alone, as before digests existed.
    let (code, summary) = scan(&corpus, &out, &["--public-keys", k, "--digests", "off"]);
    assert_eq!(code, 0, "{summary:#}");
    assert!(summary["outcome"]["digests"].is_null());
}

/// The log files of files.parquet (status ok) with and without a sha256.
fn hashed_ok_files(out: &Path) -> (usize, usize) {
    let (mut hashed, mut bare) = (0, 0);
    for r in file_rows(out, &["status", "sha256"]) {
        match (r[0].as_deref(), &r[1]) {
            (Some("ok"), Some(sha)) => {
                assert_eq!(sha.len(), 64, "{sha}");
                hashed += 1;
            }
            (Some("ok"), None) => bare += 1,
            _ => {}
        }
    }
    (hashed, bare)
}

#[test]
fn file_hashes_are_skipped_only_when_no_digest_needs_them() {
    let (t, corpus, out) = tmp();
    let keys = t.path().join("keys.json");
    let k = keys.to_str().unwrap();
    let truth = generate(&corpus, &["--public-keys-out", k]);
    let logs = truth_log_files(&truth) as usize;
    // Default: every log hashed, digests or not.
    let (code, hashed) = scan(&corpus, &out, &["--digests", "off"]);
    assert_eq!(code, 0);
    assert!(hashed["outcome"]["stats"]["events"].as_u64().unwrap() > 0);
    assert_eq!(hashed_ok_files(&out), (logs, 0));
    // Bulk analysis: no digests, no hashes, the same counts.
    let (code, summary) = scan(&corpus, &out, &["--digests", "off", "--no-file-hashes"]);
    assert_eq!(code, 0, "{summary:#}");
    assert_eq!(hashed_ok_files(&out), (0, logs));
    assert_eq!(
        summary["outcome"]["stats"]["events"], hashed["outcome"]["stats"]["events"],
        "{summary:#}"
    );
    // Digests in use: the flag cannot turn the hash checks off.
    let (code, summary) = scan(&corpus, &out, &["--public-keys", k, "--no-file-hashes"]);
    assert_eq!(code, 0, "{summary:#}");
    assert_eq!(summary["outcome"]["digests"]["in_use"], true);
    assert_eq!(hashed_ok_files(&out), (logs, 0));
}
