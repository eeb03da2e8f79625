//! Incremental runs (`--state`) on the emulator: consecutive runs judge what one run over
//! their span judges, late files are counted by the next run, digest chains are continued,
//! a killed run leaves the state as it was, and of two concurrent runs exactly one advances.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use arrow_array::Array;
use arrow_array::cast::AsArray;
use arrow_array::types::{Int64Type, TimestampMicrosecondType, UInt64Type};
use arrow_schema::DataType;

use crate::scan_local::batches;
use crate::util::{Account, TrailSpec, all_mgmt, endpoint};

const D0: &str = "2026-01-01T00:00:00Z";
const H0: i64 = 1_767_225_600; // D0
const HOUR: i64 = 3_600;
const DAY: i64 = 86_400;
const REGIONS: &str = "us-east-1,eu-west-1";

/// Three days of logs with digests in `bucket`; returns the public keys file.
fn generate(a: &Account, bucket: &str, dir: &Path, extra: &[&str]) -> String {
    let keys = dir.join("keys.json").to_str().unwrap().to_owned();
    let mut args = vec![
        "generate",
        "--out",
        bucket,
        "--endpoint-url",
        endpoint(),
        "--regions",
        REGIONS,
        "--hours",
        "72",
        "--events-per-hour",
        "60",
        "--max-files-per-slot",
        "1",
        "--start",
        D0,
        "--accounts",
        &a.id,
        "--public-keys-out",
        &keys,
    ];
    args.extend_from_slice(extra);
    let out = a.run(&args);
    assert!(
        out.status.success(),
        "generate: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    keys
}

/// The arguments of a scan of `bucket` into `out`.
fn scan_args<'a>(bucket: &'a str, keys: &'a str, out: &'a Path, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "scan",
        bucket,
        "--endpoint-url",
        endpoint(),
        "--public-keys",
        keys,
        "--max-silence",
        "6h",
        "--format",
        "json",
        "--no-progress",
        "--summary-line",
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    args
}

/// Runs a scan; returns (exit code, summary.json as printed, stderr).
fn scan(
    a: &Account,
    bucket: &str,
    keys: &str,
    out: &Path,
    extra: &[&str],
) -> (i32, serde_json::Value, String) {
    let res = a.run(&scan_args(bucket, keys, out, extra));
    let stderr = String::from_utf8_lossy(&res.stderr).into_owned();
    let summary = serde_json::from_slice(&res.stdout).unwrap_or(serde_json::Value::Null);
    (res.status.code().unwrap(), summary, stderr)
}

/// The last line on stderr: the summary line.
fn line(stderr: &str) -> serde_json::Value {
    serde_json::from_str(stderr.lines().last().unwrap_or_default())
        .unwrap_or_else(|e| panic!("no summary line ({e}):\n{stderr}"))
}

fn secs(rfc3339: &serde_json::Value) -> i64 {
    trailproof::time::parse_event_time(rfc3339.as_str().expect("a time")).expect("a time")
}

/// A cell of a table: (account, region, hour).
type Cell = (String, String, i64);

/// A gap spread over one hour: (account, region, hour, category/kind).
type GapHour = (String, String, i64, String);

/// coverage.parquet: every column of every row, as text, by (account, region, hour).
fn coverage(dir: &Path) -> BTreeMap<Cell, Vec<String>> {
    let mut rows = BTreeMap::new();
    for b in batches(&dir.join("coverage.parquet")) {
        for i in 0..b.num_rows() {
            let mut values = Vec::new();
            for (f, c) in b.schema().fields().iter().zip(b.columns()) {
                let v = if c.is_null(i) {
                    "null".to_owned()
                } else {
                    match f.data_type() {
                        DataType::Utf8 => c.as_string::<i32>().value(i).to_owned(),
                        DataType::UInt64 => c.as_primitive::<UInt64Type>().value(i).to_string(),
                        DataType::Int64 => c.as_primitive::<Int64Type>().value(i).to_string(),
                        DataType::Boolean => c.as_boolean().value(i).to_string(),
                        DataType::Timestamp(..) => c
                            .as_primitive::<TimestampMicrosecondType>()
                            .value(i)
                            .to_string(),
                        other => panic!("coverage column {} of type {other}", f.name()),
                    }
                };
                values.push(format!("{}={v}", f.name()));
            }
            let hour = b
                .column_by_name("hour")
                .unwrap()
                .as_primitive::<TimestampMicrosecondType>()
                .value(i)
                / 1_000_000;
            let s = |n: &str| {
                b.column_by_name(n)
                    .unwrap()
                    .as_string::<i32>()
                    .value(i)
                    .to_owned()
            };
            rows.insert((s("account_id"), s("region"), hour), values);
        }
    }
    rows
}

/// gaps.parquet, each row spread over the hours it touches: (account, region, hour,
/// category/kind).
fn gap_hours(dir: &Path) -> BTreeSet<GapHour> {
    let mut out = BTreeSet::new();
    for b in batches(&dir.join("gaps.parquet")) {
        let s = |n: &str| b.column_by_name(n).unwrap().as_string::<i32>().clone();
        let t = |n: &str| {
            b.column_by_name(n)
                .unwrap()
                .as_primitive::<TimestampMicrosecondType>()
                .clone()
        };
        let (account, region, category, kind, start, end) = (
            s("account_id"),
            s("region"),
            s("category"),
            s("kind"),
            t("start"),
            t("end"),
        );
        for i in 0..b.num_rows() {
            let (from, to) = (start.value(i) / 1_000_000, end.value(i) / 1_000_000);
            let mut h = from.div_euclid(HOUR) * HOUR;
            while h < to {
                out.insert((
                    account.value(i).to_owned(),
                    region.value(i).to_owned(),
                    h,
                    format!("{}/{}", category.value(i), kind.value(i)),
                ));
                h += HOUR;
            }
        }
    }
    out
}

/// Consecutive runs' evidence read as one: a later run replaces the rows and gaps of the
/// hours it judged again (its window); what it finds about earlier hours (a silence that
/// began before it) is added.
fn combine(runs: &[&Path]) -> (BTreeMap<Cell, Vec<String>>, BTreeSet<GapHour>) {
    let mut rows = BTreeMap::new();
    let mut gaps = BTreeSet::new();
    for d in runs {
        let s: serde_json::Value =
            serde_json::from_slice(&std::fs::read(d.join("summary.json")).unwrap()).unwrap();
        let st = &s["parameters"]["state"];
        let (from, to) = (secs(&st["window_start"]), secs(&st["window_end"]));
        let mine = |h: i64| h >= from && h < to;
        rows.retain(|c: &Cell, _| !mine(c.2));
        gaps.retain(|g: &GapHour| !mine(g.2));
        rows.extend(coverage(d));
        gaps.extend(gap_hours(d));
    }
    (rows, gaps)
}

/// The log files of `region` delivered in `[from, to)`.
fn logs_delivered_in(keys: &[String], region: &str, from: i64, to: i64) -> Vec<String> {
    let found: Vec<String> = keys
        .iter()
        .filter(|k| {
            trailproof::source::layout::parse_key(k).is_ok_and(|p| {
                p.kind == trailproof::source::layout::ObjectKind::Log
                    && p.region == region
                    && p.delivered_at >= from
                    && p.delivered_at < to
            })
        })
        .cloned()
        .collect();
    assert!(!found.is_empty(), "no {region} log delivered in the range");
    found
}

async fn keys_under(s3: &aws_sdk_s3::Client, bucket: &str, prefix: &str) -> Vec<String> {
    let mut keys = Vec::new();
    let mut pages = s3
        .list_objects_v2()
        .bucket(bucket)
        .prefix(prefix)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        keys.extend(
            page.unwrap()
                .contents()
                .iter()
                .map(|o| o.key().unwrap().to_owned()),
        );
    }
    keys
}

async fn rename(s3: &aws_sdk_s3::Client, bucket: &str, from: &str, to: &str) {
    s3.copy_object()
        .bucket(bucket)
        .copy_source(format!("{bucket}/{from}"))
        .key(to)
        .send()
        .await
        .unwrap();
    s3.delete_object()
        .bucket(bucket)
        .key(from)
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn three_daily_runs_judge_what_one_three_day_run_judges() {
    let a = Account::new().await;
    let name = a.bucket("logs").await;
    let bucket = format!("s3://{name}");
    let tmp = tempfile::tempdir().unwrap();
    // eu-west-1 stops logging 20:00-04:00 across the first boundary: a silence of 8 hours,
    // no digests while stopped.
    let keys = generate(
        &a,
        &bucket,
        tmp.path(),
        &["--fault", "stop-logging:eu-west-1:20:8"],
    );
    let state = tmp.path().join("state/daily.json");
    let st = state.to_str().unwrap();
    // Named as `--out s3://…/daily` would publish them: `run=START_END`, START the planned
    // window's (the second and third start an hour early, re-judging the previous end).
    let dirs: Vec<_> = [
        "20260101T000000Z_20260102T000000Z",
        "20260101T230000Z_20260103T000000Z",
        "20260102T230000Z_20260104T000000Z",
    ]
    .iter()
    .map(|w| tmp.path().join(format!("daily/run={w}")))
    .collect();
    let day = |n: i64| trailproof::time::rfc3339(H0 + n * DAY);

    // The us-east-1 files delivered in the first 20 minutes after the first day's end
    // (holding events of its last hour) are late: not there when the first run reads.
    let s3 = a.s3().await;
    let all = keys_under(
        &s3,
        &name,
        &format!("AWSLogs/{}/CloudTrail/us-east-1/2026/01/02/", a.id),
    )
    .await;
    let late = logs_delivered_in(&all, "us-east-1", H0 + DAY, H0 + DAY + 20 * 60);
    for k in &late {
        rename(&s3, &name, k, &format!("held/{k}")).await;
    }

    let (code, s1, err) = scan(
        &a,
        &bucket,
        &keys,
        &dirs[0],
        &["--state", st, "--since", &day(0), "--until", &day(1)],
    );
    assert_eq!(code, 1, "{err}\n{s1:#}");
    assert_eq!(line(&err)["state"], "created");
    let missing: Vec<&str> = s1["gaps"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|g| g["kind"] == "log_missing")
        .map(|g| g["detail"].as_str().unwrap())
        .collect();
    for k in &late {
        assert!(
            missing.iter().any(|d| d.contains(k.as_str())),
            "the digest lists the late file {k}: {missing:#?}"
        );
        rename(&s3, &name, &format!("held/{k}"), k).await;
    }

    // A run killed mid-way leaves the state as it was; the next run redoes its window.
    let before = std::fs::read(&state).unwrap();
    let mut child = a
        .command(
            &scan_args(
                &bucket,
                &keys,
                &dirs[1],
                &["--state", st, "--until", &day(2), "--workers", "1"],
            ),
            &[],
        )
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let parent = dirs[1].parent().unwrap().to_owned();
    let staged = || {
        std::fs::read_dir(&parent).unwrap().any(|e| {
            e.unwrap()
                .file_name()
                .to_string_lossy()
                .starts_with(".run=20260101T230000Z_20260103T000000Z.tmp-")
        })
    };
    let t0 = std::time::Instant::now();
    while !staged() && t0.elapsed() < std::time::Duration::from_secs(60) {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    std::thread::sleep(std::time::Duration::from_millis(150));
    assert!(
        child.try_wait().unwrap().is_none(),
        "the run ended before it could be killed"
    );
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    assert_eq!(
        std::fs::read(&state).unwrap(),
        before,
        "a killed run wrote the state"
    );
    assert!(!dirs[1].exists(), "a killed run left evidence");

    let (code, s2, err) = scan(
        &a,
        &bucket,
        &keys,
        &dirs[1],
        &["--state", st, "--until", &day(2)],
    );
    assert_eq!(code, 1, "{err}\n{s2:#}");
    let planned = &s2["parameters"]["state"];
    assert_eq!(
        planned["window_start"],
        trailproof::time::rfc3339(H0 + DAY - HOUR),
        "{planned}"
    );
    assert_eq!(planned["previous_judged_until"], day(1));
    // The silence across the boundary is one silence of 8 hours, found by the second run.
    let silences: Vec<(&str, &str)> = s2["gaps"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|g| g["kind"] == "no_log_files")
        .map(|g| (g["start"].as_str().unwrap(), g["end"].as_str().unwrap()))
        .collect();
    assert_eq!(silences, [("2026-01-01T20:00:00Z", "2026-01-02T04:00:00Z")]);
    let (code, s3_, err) = scan(
        &a,
        &bucket,
        &keys,
        &dirs[2],
        &["--state", st, "--until", &day(3)],
    );
    assert_eq!(code, 0, "{err}\n{s3_:#}");

    let whole = tmp.path().join("whole");
    let (code, _, err) = scan(
        &a,
        &bucket,
        &keys,
        &whole,
        &["--since", &day(0), "--until", &day(3)],
    );
    assert_eq!(code, 1, "{err}");

    let (rows, gaps) = combine(&[&dirs[0], &dirs[1], &dirs[2]]);
    let (whole_rows, whole_gaps) = (coverage(&whole), gap_hours(&whole));
    assert_eq!(rows.len(), 72 * 2, "every hour once");
    assert_eq!(rows, whole_rows);
    assert_eq!(gaps, whole_gaps);
    assert!(!gaps.is_empty());
    // The late file's hour: counted by the second run, not by the first.
    let cell = (a.id.clone(), "us-east-1".to_owned(), H0 + DAY - HOUR);
    let events = |rows: &BTreeMap<Cell, Vec<String>>| {
        rows[&cell]
            .iter()
            .find(|v| v.starts_with("mgmt_read="))
            .cloned()
    };
    assert_ne!(
        events(&coverage(&dirs[0])),
        events(&whole_rows),
        "the first run saw the late file"
    );
    assert_eq!(events(&coverage(&dirs[1])), events(&whole_rows));

    // The same, as docs/periodic.md tells an analyst to read a month of daily runs: DuckDB,
    // the latest run's row for each hour.
    let py = std::env::var("TRAILPROOF_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
    let q = std::process::Command::new(py)
        .arg("-c")
        .arg(format!(
            r#"
import duckdb
sums = "count(*), sum(mgmt_read), sum(mgmt_write), sum(global_read + global_write)"
latest = duckdb.sql('''
  SELECT * FROM read_parquet('{daily}/**/coverage.parquet', filename = true)
  QUALIFY row_number() OVER (PARTITION BY account_id, region, hour ORDER BY filename DESC) = 1''')
print(duckdb.sql(f"SELECT {{sums}} FROM latest").fetchall())
print(duckdb.sql(f"SELECT {{sums}} FROM read_parquet('{whole}/coverage.parquet')").fetchall())
"#,
            daily = tmp.path().join("daily").display(),
            whole = whole.display()
        ))
        .output()
        .unwrap();
    let printed = String::from_utf8_lossy(&q.stdout);
    let lines: Vec<&str> = printed.lines().collect();
    assert!(
        lines.len() == 2 && lines[0] == lines[1] && lines[0].starts_with("[(144,"),
        "{printed}{}",
        String::from_utf8_lossy(&q.stderr)
    );

    let saved: serde_json::Value = serde_json::from_slice(&std::fs::read(&state).unwrap()).unwrap();
    assert_eq!(saved["format"], "trailproof.state/v1");
    assert_eq!(saved["runs"], 3);
    assert_eq!(saved["judged_until"], day(3));
    assert_eq!(saved["last_run"]["evidence"], dirs[2].to_str().unwrap());
    assert_eq!(
        saved["chain_tips"].as_array().unwrap().len(),
        2,
        "{saved:#}"
    );
}

/// Starts two runs at once on one state; returns each one's (exit code, stderr).
fn race(a: &Account, runs: [Vec<&str>; 2]) -> Vec<(i32, String)> {
    let children: Vec<_> = runs
        .iter()
        .map(|args| {
            a.command(args, &[])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    children
        .into_iter()
        .map(|c| {
            let out = c.wait_with_output().unwrap();
            (
                out.status.code().unwrap(),
                String::from_utf8_lossy(&out.stderr).into_owned(),
            )
        })
        .collect()
}

/// Of two results, the one that advanced the state and the one that did not.
fn winner_and_loser(results: &[(i32, String)]) -> (&(i32, String), &(i32, String)) {
    let won: Vec<&(i32, String)> = results.iter().filter(|(c, _)| *c != 2).collect();
    let lost: Vec<&(i32, String)> = results.iter().filter(|(c, _)| *c == 2).collect();
    assert_eq!((won.len(), lost.len()), (1, 1), "{results:#?}");
    (won[0], lost[0])
}

#[tokio::test]
async fn of_two_concurrent_runs_on_one_state_exactly_one_advances_it() {
    let a = Account::new().await;
    let name = a.bucket("logs").await;
    let states = a.bucket("states").await;
    let bucket = format!("s3://{name}");
    let tmp = tempfile::tempdir().unwrap();
    let keys = generate(&a, &bucket, tmp.path(), &[]);
    let d = |k: &str| tmp.path().join(k);
    let (d3, d4) = (d("a3"), d("a4"));
    // The first pair also publishes to one S3 prefix: the same window, at the same time.
    let published = std::path::PathBuf::from(format!("s3://{states}/daily"));
    let (d1, d2) = (published.clone(), published);

    // On S3: both read the state (none yet, then the first run's), both run; the conditional
    // PUT lets exactly one advance it.
    let at = format!("s3://{states}/trailproof/daily.json");
    let s3 = a.s3().await;
    let read_state = || async {
        let o = s3
            .get_object()
            .bucket(&states)
            .key("trailproof/daily.json")
            .send()
            .await
            .unwrap();
        let b = o.body.collect().await.unwrap().into_bytes();
        serde_json::from_slice::<serde_json::Value>(&b).unwrap()
    };
    let first = [
        "--state",
        at.as_str(),
        "--since",
        D0,
        "--until",
        "2026-01-02T00:00:00Z",
    ];
    let results = race(
        &a,
        [
            scan_args(&bucket, &keys, &d1, &first),
            scan_args(&bucket, &keys, &d2, &first),
        ],
    );
    let (_, (_, lost)) = winner_and_loser(&results);
    assert!(lost.contains("advanced by another run"), "{lost}");
    assert_eq!(line(lost)["state"], "not_advanced", "{lost}");
    assert_eq!(line(lost)["exit_code"], 2, "{lost}");
    assert_eq!(read_state().await["runs"], 1);
    // Neither overwrote the other: one has `run=…/`, the other `run=…/rerun=…/`, and each
    // folder, downloaded, is exactly what its manifest says.
    let published = keys_under(&s3, &states, "daily/").await;
    let folders: BTreeSet<&str> = published
        .iter()
        .filter_map(|k| k.strip_suffix("/manifest.json"))
        .collect();
    assert_eq!(folders.len(), 2, "{published:#?}");
    assert!(folders.iter().any(|f| f.contains("/rerun=")), "{folders:?}");
    for f in &folders {
        let down = tempfile::tempdir().unwrap();
        for k in published
            .iter()
            .filter(|k| k.rsplit_once('/').is_some_and(|(dir, _)| dir == *f))
        {
            let o = s3.get_object().bucket(&states).key(k).send().await.unwrap();
            let bytes = o.body.collect().await.unwrap().into_bytes();
            std::fs::write(down.path().join(k.rsplit('/').next().unwrap()), bytes).unwrap();
        }
        let check = a.run(&["verify-evidence", down.path().to_str().unwrap()]);
        assert_eq!(
            check.status.code(),
            Some(0),
            "{f}: {}",
            String::from_utf8_lossy(&check.stdout)
        );
    }
    let next = ["--state", at.as_str(), "--until", "2026-01-03T00:00:00Z"];
    let results = race(
        &a,
        [
            scan_args(&bucket, &keys, &d3, &next),
            scan_args(&bucket, &keys, &d4, &next),
        ],
    );
    let (_, (_, lost)) = winner_and_loser(&results);
    assert!(lost.contains("advanced by another run"), "{lost}");
    let saved = read_state().await;
    assert_eq!(saved["runs"], 2);
    assert_eq!(saved["judged_until"], "2026-01-03T00:00:00Z");

    // A local state is locked for the whole run: the second run stops at once.
    let local = d("local.json");
    let lf = [
        "--state",
        local.to_str().unwrap(),
        "--since",
        D0,
        "--until",
        "2026-01-02T00:00:00Z",
    ];
    let (l1, l2) = (d("l1"), d("l2"));
    let results = race(
        &a,
        [
            scan_args(&bucket, &keys, &l1, &lf),
            scan_args(&bucket, &keys, &l2, &lf),
        ],
    );
    let (_, (_, lost)) = winner_and_loser(&results);
    assert!(lost.contains("in use by another run"), "{lost}");
    let saved: serde_json::Value = serde_json::from_slice(&std::fs::read(&local).unwrap()).unwrap();
    assert_eq!(saved["runs"], 1);
    assert!(
        !(l1.exists() && l2.exists()),
        "the stopped run judged nothing"
    );
}

#[tokio::test]
async fn verify_continues_the_digest_chain_and_finds_a_digest_deleted_between_runs() {
    let a = Account::new().await;
    a.trail(TrailSpec::mr("main-trail", all_mgmt())).await;
    let states = a.bucket("states").await;
    let name = format!("tp-{}-main-trail", a.id);
    let tmp = tempfile::tempdir().unwrap();
    let keys = generate(&a, &format!("s3://{name}"), tmp.path(), &[]);
    let at = format!("s3://{states}/verify.json");
    let verify = |out: &Path, extra: &[&str]| {
        let mut args = vec![
            "verify",
            "--endpoint-url",
            endpoint(),
            "--regions",
            REGIONS,
            "--public-keys",
            &keys,
            "--state",
            &at,
            "--format",
            "json",
            "--no-progress",
            "--summary-line",
            "--max-attempts",
            "2",
            "--out",
            out.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        let res = a.run(&args);
        let stderr = String::from_utf8_lossy(&res.stderr).into_owned();
        let summary: serde_json::Value =
            serde_json::from_slice(&std::fs::read(out.join("summary.json")).unwrap_or_default())
                .unwrap_or_default();
        (res.status.code().unwrap(), summary, stderr)
    };
    let (code, s1, err) = verify(
        &tmp.path().join("v1"),
        &["--since", D0, "--until", "2026-01-02T00:00:00Z"],
    );
    assert_eq!(code, 0, "{err}\n{s1:#}");
    assert_eq!(line(&err)["state"], "created");
    // The first run's tip of the us-east-1 chain is deleted before the next run.
    let s3 = a.s3().await;
    let o = s3
        .get_object()
        .bucket(&states)
        .key("verify.json")
        .send()
        .await
        .unwrap();
    let saved: serde_json::Value =
        serde_json::from_slice(&o.body.collect().await.unwrap().into_bytes()).unwrap();
    let tip = saved["chain_tips"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["region"] == "us-east-1")
        .unwrap_or_else(|| panic!("{saved:#}"))["digest_key"]
        .as_str()
        .unwrap()
        .to_owned();
    s3.delete_object()
        .bucket(&name)
        .key(&tip)
        .send()
        .await
        .unwrap();
    let (code, s2, err) = verify(&tmp.path().join("v2"), &["--until", "2026-01-03T00:00:00Z"]);
    assert_eq!(code, 1, "{err}\n{s2:#}");
    let found: Vec<&serde_json::Value> = s2["gaps"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|g| g["detail"].as_str().unwrap().contains(&tip))
        .collect();
    assert!(
        found.iter().any(|g| g["kind"] == "no_digest"
            && g["region"] == "us-east-1"
            && g["detail"]
                .as_str()
                .unwrap()
                .contains("the previous run verified")),
        "{s2:#}"
    );
    // Untouched, the next day continues the chain with no finding.
    let (code, s3_, err) = verify(&tmp.path().join("v3"), &["--until", "2026-01-04T00:00:00Z"]);
    assert_eq!(code, 0, "{err}\n{s3_:#}");
}

#[test]
fn a_run_far_behind_catches_up_at_most_max_catch_up_and_says_so() {
    let tmp = tempfile::tempdir().unwrap();
    let logs = tmp.path().join("logs");
    let run = crate::util::offline;
    let (code, err) = run(&[
        "generate",
        "--out",
        logs.to_str().unwrap(),
        "--regions",
        REGIONS,
        "--hours",
        "72",
        "--start",
        D0,
        "--no-digests",
    ]);
    assert_eq!(code, 0, "{err}");
    let state = tmp.path().join("state.json");
    let scan = |out: &str, extra: &[&str]| {
        let out = tmp.path().join(out);
        let mut args = vec![
            "scan",
            logs.to_str().unwrap(),
            "--state",
            state.to_str().unwrap(),
            "--no-progress",
            "--summary-line",
            "--out",
            out.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        let (code, err) = run(&args);
        let summary: serde_json::Value =
            serde_json::from_slice(&std::fs::read(out.join("summary.json")).unwrap_or_default())
                .unwrap_or_default();
        (code, err, summary)
    };
    let (code, err, _) = scan("c1", &["--since", D0, "--until", "2026-01-01T12:00:00Z"]);
    assert_eq!(code, 0, "{err}");
    // A day and a half behind, one day at most: the run judges up to 12:00 the next day,
    // says what is left, and exits 1 although everything it judged is proven.
    let (code, err, s) = scan(
        "c2",
        &["--until", "2026-01-03T00:00:00Z", "--max-catch-up", "1d"],
    );
    assert_eq!(code, 1, "{err}");
    assert_eq!(s["verdict"], "PROVEN", "{s:#}");
    assert_eq!(s["exit_code"], 1);
    assert_eq!(
        s["parameters"]["state"]["window_end"],
        "2026-01-02T12:00:00Z"
    );
    assert_eq!(s["parameters"]["state"]["behind_s"], 12 * HOUR);
    assert!(
        err.contains("caught up only to 2026-01-02T12:00:00Z") && err.contains("12h"),
        "{err}"
    );
    // The next run continues from there and catches up.
    let (code, err, s) = scan("c3", &["--until", "2026-01-03T00:00:00Z"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        s["parameters"]["state"]["window_start"],
        "2026-01-02T11:00:00Z"
    );
    // The state belongs to its source; an --until before it is refused; both exit 2.
    let other = tmp.path().join("other");
    std::fs::create_dir(&other).unwrap();
    let (code, err) = run(&[
        "scan",
        other.to_str().unwrap(),
        "--state",
        state.to_str().unwrap(),
        "--out",
        tmp.path().join("c4").to_str().unwrap(),
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("belongs to"), "{err}");
    let (code, err, _) = scan("c5", &["--until", "2026-01-02T00:00:00Z"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("before where the state"), "{err}");
    let saved: serde_json::Value = serde_json::from_slice(&std::fs::read(&state).unwrap()).unwrap();
    assert_eq!(saved["runs"], 3);
}
