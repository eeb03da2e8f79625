//! Shards (`--shard K/N`, `--shards N` with the engine's index) on the emulator: N processes
//! over an organization trail's bucket (50 accounts x 17 regions) read every (account, region) cell exactly once, and
//! together judge what one unsharded run judges.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use arrow_array::Array;
use arrow_array::cast::AsArray;
use arrow_array::types::{TimestampMicrosecondType, UInt64Type};

use crate::scan_local::batches;
use crate::util::{Account, endpoint};

const ORG: &str = "o-shard0test1";

/// (account, region, hour) -> (mgmt_read, mgmt_write, global events) of coverage.parquet.
fn coverage(dir: &Path) -> BTreeMap<(String, String, i64), (u64, u64, u64)> {
    let mut rows = BTreeMap::new();
    for b in batches(&dir.join("coverage.parquet")) {
        let s = |n: &str| b.column_by_name(n).unwrap().as_string::<i32>().clone();
        let u = |n: &str| {
            b.column_by_name(n)
                .unwrap()
                .as_primitive::<UInt64Type>()
                .clone()
        };
        let hour = b
            .column_by_name("hour")
            .unwrap()
            .as_primitive::<TimestampMicrosecondType>()
            .clone();
        let (acct, region) = (s("account_id"), s("region"));
        let (r, w, gr, gw) = (
            u("mgmt_read"),
            u("mgmt_write"),
            u("global_read"),
            u("global_write"),
        );
        for i in 0..b.num_rows() {
            let key = (
                acct.value(i).to_owned(),
                region.value(i).to_owned(),
                hour.value(i) / 1_000_000,
            );
            let prev = rows.insert(key, (r.value(i), w.value(i), gr.value(i) + gw.value(i)));
            assert!(prev.is_none(), "a cell twice in {}", dir.display());
        }
    }
    rows
}

/// (account, region, kind, detail) of gaps.parquet.
fn gaps(dir: &Path) -> BTreeSet<(String, String, String, String)> {
    let mut out = BTreeSet::new();
    for b in batches(&dir.join("gaps.parquet")) {
        let s = |n: &str| b.column_by_name(n).unwrap().as_string::<i32>().clone();
        let (a, r, k, d) = (s("account_id"), s("region"), s("kind"), s("detail"));
        for i in 0..b.num_rows() {
            out.insert((
                a.value(i).to_owned(),
                r.value(i).to_owned(),
                k.value(i).to_owned(),
                d.value(i).to_owned(),
            ));
        }
    }
    out
}

/// Log files read, by key.
fn files(dir: &Path) -> Vec<String> {
    let mut keys = Vec::new();
    for b in batches(&dir.join("files.parquet")) {
        let k = b.column_by_name("key").unwrap().as_string::<i32>().clone();
        keys.extend(
            (0..b.num_rows())
                .filter(|i| k.is_valid(*i))
                .map(|i| k.value(i).to_owned()),
        );
    }
    keys
}

/// Runs trailproof as `a`: (exit code, the JSON on stdout or null, stderr).
fn run_json(a: &Account, args: &[&str], env: &[(&str, &Path)]) -> (i32, serde_json::Value, String) {
    let res = a.run_with(args, env);
    let summary: serde_json::Value = serde_json::from_slice(&res.stdout).unwrap_or_default();
    (
        res.status.code().unwrap(),
        summary,
        String::from_utf8_lossy(&res.stderr).into_owned(),
    )
}

#[tokio::test]
async fn shards_in_separate_processes_judge_what_one_run_judges() {
    let a = Account::new().await;
    let name = a.bucket("org-logs").await;
    let tmp = tempfile::tempdir().unwrap();
    // 50 member accounts x 17 regions, an hour, small event counts; one silent region.
    let accounts: Vec<String> = (0..50)
        .map(|i| format!("{:012}", 210_000_000_000u64 + i))
        .collect();
    let list = accounts.join(",");
    let keys = tmp.path().join("keys.json");
    let out = a.run(&[
        "generate",
        "--out",
        &format!("s3://{name}"),
        "--endpoint-url",
        endpoint(),
        "--org-id",
        ORG,
        "--accounts",
        &list,
        "--hours",
        "1",
        "--events-per-hour",
        "3",
        "--max-files-per-slot",
        "1",
        "--start",
        "2026-01-01T00:00:00Z",
        "--fault",
        "silent:eu-west-3:0:1",
        "--public-keys-out",
        keys.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let source = format!("s3://{name}");
    let regions = trailproof::regions::default_enabled_regions("aws").join(",");
    let scan = |dir: &Path, extra: &[&str], env: &[(&str, &Path)]| {
        let mut args = vec![
            "scan",
            source.as_str(),
            "--endpoint-url",
            endpoint(),
            "--since",
            "2026-01-01T00:00:00Z",
            "--until",
            "2026-01-01T01:00:00Z",
            "--public-keys",
            keys.to_str().unwrap(),
            "--max-silence",
            "1h",
            "--regions",
            regions.as_str(),
            "--no-progress",
            "--format",
            "json",
            "--out",
            dir.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        run_json(&a, &args, env)
    };
    let whole = tmp.path().join("whole");
    let (code, s, err) = scan(&whole, &[], &[]);
    assert_eq!(code, 1, "{err}\n{s:#}");
    let (whole_rows, whole_gaps, whole_files) = (coverage(&whole), gaps(&whole), files(&whole));
    assert_eq!(whole_rows.len(), 50 * 17);
    assert!(
        whole_gaps.iter().any(|g| g.1 == "eu-west-3"),
        "{whole_gaps:#?}"
    );

    for n in [3u32, 8] {
        let mut rows = BTreeMap::new();
        let mut found = BTreeSet::new();
        let mut read = Vec::new();
        for k in 0..n {
            let dir = tmp.path().join(format!("n{n}-k{k}"));
            // Shard 0 from the flag; the others as AWS Batch and Kubernetes would start them.
            let (code, s, err) = if k == 0 {
                scan(&dir, &["--shard", &format!("0/{n}")], &[])
            } else {
                let var = if k % 2 == 1 {
                    "AWS_BATCH_JOB_ARRAY_INDEX"
                } else {
                    "JOB_COMPLETION_INDEX"
                };
                scan(
                    &dir,
                    &["--shards", &n.to_string()],
                    &[(var, Path::new(&k.to_string()))],
                )
            };
            assert!(code <= 1, "{err}\n{s:#}");
            assert_eq!(s["parameters"]["shard"], format!("{k}/{n}"), "{s:#}");
            for (cell, v) in coverage(&dir) {
                assert!(
                    rows.insert(cell.clone(), v).is_none(),
                    "{cell:?} in two shards"
                );
            }
            found.extend(gaps(&dir));
            read.extend(files(&dir));
        }
        read.sort();
        let mut expected_files = whole_files.clone();
        expected_files.sort();
        assert_eq!(rows, whole_rows, "N = {n}");
        assert_eq!(found, whole_gaps, "N = {n}");
        assert_eq!(read, expected_files, "N = {n}: every log file read once");

        // Merged, the shards are the unsharded run: tables, gaps, verdict.
        let shard_dirs: Vec<String> = (0..n)
            .map(|k| tmp.path().join(format!("n{n}-k{k}")).display().to_string())
            .collect();
        let merged = tmp.path().join(format!("merged-{n}"));
        let mut args = vec![
            "merge",
            "--format",
            "json",
            "--out",
            merged.to_str().unwrap(),
        ];
        args.extend(shard_dirs.iter().map(String::as_str));
        let res = a.run(&args);
        let err = String::from_utf8_lossy(&res.stderr);
        assert_eq!(res.status.code(), Some(1), "{err}");
        let m: serde_json::Value = serde_json::from_slice(&res.stdout).unwrap();
        assert_eq!(coverage(&merged), whole_rows, "merged N = {n}");
        assert_eq!(gaps(&merged), whole_gaps, "merged N = {n}");
        assert_eq!(files(&merged), whole_files, "merged N = {n}: in key order");
        assert_eq!(m["verdict"], s["verdict"]);
        assert_eq!(m["exit_code"], s["exit_code"]);
        for key in [
            "regions_by_status",
            "totals",
            "expected_regions",
            "window_start",
        ] {
            assert_eq!(m["outcome"][key], s["outcome"][key], "{key}");
        }
        for key in ["digests_found", "hours_by_status", "in_use"] {
            assert_eq!(
                m["outcome"]["digests"][key], s["outcome"]["digests"][key],
                "{key}"
            );
        }
        assert_eq!(
            m["outcome"]["stats"]["log_files_read"],
            s["outcome"]["stats"]["log_files_read"]
        );
        assert_eq!(
            m["parameters"]["merged_from"].as_array().unwrap().len(),
            n as usize
        );
        let check = a.run(&["verify-evidence", merged.to_str().unwrap()]);
        assert_eq!(check.status.code(), Some(0));
        assert!(merged.join("report.html").is_file());

        // Refused, naming the shard: one missing, one twice.
        let refused = |dirs: &[&str], what: &str| {
            let out = tmp.path().join("refused");
            let mut args = vec!["merge", "--out", out.to_str().unwrap()];
            args.extend_from_slice(dirs);
            let res = a.run(&args);
            let err = String::from_utf8_lossy(&res.stderr).into_owned();
            assert_eq!(res.status.code(), Some(2), "{err}");
            assert!(err.contains(what), "{what}: {err}");
            assert!(!out.exists());
        };
        let d: Vec<&str> = shard_dirs.iter().map(String::as_str).collect();
        refused(&d[1..], &format!("shard 0/{n} missing"));
        let mut twice = d.clone();
        twice.push(d[1]);
        refused(&twice, &format!("shard 1/{n} twice"));
    }
    // Shards of different splits, or changed since their manifest, are refused too.
    let n3 = tmp.path().join("n3-k0");
    let n8 = tmp.path().join("n8-k1");
    let res = a.run(&[
        "merge",
        "--out",
        tmp.path().join("x").to_str().unwrap(),
        n3.to_str().unwrap(),
        n8.to_str().unwrap(),
    ]);
    assert_eq!(res.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&res.stderr).contains("not the same number of shards"));
    std::fs::write(n3.join("gaps.parquet"), b"changed").unwrap();
    let mut args = vec![
        "merge".to_owned(),
        "--out".to_owned(),
        tmp.path().join("y").display().to_string(),
    ];
    args.extend((0..3).map(|k| tmp.path().join(format!("n3-k{k}")).display().to_string()));
    let res = a.run(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(res.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&res.stderr).contains("does not match its manifest.json"));
}

#[tokio::test]
async fn shards_published_to_s3_are_merged_from_their_run_folder() {
    let a = Account::new().await;
    let logs = a.bucket("logs").await;
    let evidence = a.bucket("evidence").await;
    let tmp = tempfile::tempdir().unwrap();
    let keys = tmp.path().join("keys.json");
    let out = a.run(&[
        "generate",
        "--out",
        &format!("s3://{logs}"),
        "--endpoint-url",
        endpoint(),
        "--accounts",
        "111122223333,444455556666",
        "--regions",
        "us-east-1,eu-west-1,ap-south-1,sa-east-1",
        "--hours",
        "2",
        "--start",
        "2026-01-01T00:00:00Z",
        "--fault",
        "no-writes:ap-south-1",
        "--public-keys-out",
        keys.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // One account has no sa-east-1 folder at all: a cell no listing shows, still expected.
    let s3 = a.s3().await;
    for service in ["CloudTrail", "CloudTrail-Digest"] {
        let prefix = format!("AWSLogs/444455556666/{service}/sa-east-1/");
        let listed = s3
            .list_objects_v2()
            .bucket(&logs)
            .prefix(&prefix)
            .send()
            .await
            .unwrap();
        for o in listed.contents() {
            s3.delete_object()
                .bucket(&logs)
                .key(o.key().unwrap())
                .send()
                .await
                .unwrap();
        }
    }
    let source = format!("s3://{logs}");
    let scan = |out: &str, extra: &[&str], env: &[(&str, &Path)]| {
        let mut args = vec![
            "scan",
            source.as_str(),
            "--endpoint-url",
            endpoint(),
            "--since",
            "2026-01-01T00:00:00Z",
            "--until",
            "2026-01-01T02:00:00Z",
            "--public-keys",
            keys.to_str().unwrap(),
            "--no-progress",
            "--out",
            out,
        ];
        args.extend_from_slice(extra);
        a.run_with(&args, env)
    };
    let whole = tmp.path().join("whole");
    let res = scan(whole.to_str().unwrap(), &[], &[]);
    assert_eq!(
        res.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&res.stderr)
    );
    let published = format!("s3://{evidence}/org");
    for k in 0..3 {
        let res = scan(
            &published,
            &["--shards", "3"],
            &[("JOB_COMPLETION_INDEX", Path::new(&k.to_string()))],
        );
        let text = String::from_utf8_lossy(&res.stdout);
        assert!(
            res.status.code().unwrap() <= 1,
            "{}",
            String::from_utf8_lossy(&res.stderr)
        );
        assert!(
            text.contains(&format!(
                "org/run=20260101T000000Z_20260101T020000Z/shard={k}"
            )),
            "{text}"
        );
    }
    // Shard 1's first task died before its manifest; its retry published under rerun=.
    let folder = "org/run=20260101T000000Z_20260101T020000Z";
    s3.delete_object()
        .bucket(&evidence)
        .key(format!("{folder}/shard=1/manifest.json"))
        .send()
        .await
        .unwrap();
    let res = scan(
        &published,
        &["--shards", "3"],
        &[("JOB_COMPLETION_INDEX", Path::new("1"))],
    );
    let text = String::from_utf8_lossy(&res.stdout);
    assert!(text.contains(&format!("{folder}/shard=1/rerun=")), "{text}");
    let merged = tmp.path().join("merged");
    let res = a.run(&[
        "merge",
        &format!("{published}/run=20260101T000000Z_20260101T020000Z"),
        "--dataset",
        &format!("s3://{evidence}/dataset"),
        "--endpoint-url",
        endpoint(),
        "--out",
        merged.to_str().unwrap(),
        "--format",
        "json",
    ]);
    assert_eq!(
        res.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&res.stderr)
    );
    let m: serde_json::Value = serde_json::from_slice(&res.stdout).unwrap();
    let sources: Vec<&str> = m["parameters"]["merged_from"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["source"].as_str().unwrap())
        .collect();
    assert_eq!(sources.len(), 3, "{m:#}");
    assert!(
        sources.iter().any(|s| s.contains("/shard=1/rerun=")),
        "{sources:?}"
    );
    assert!(sources.iter().all(|s| s.contains("/shard=")), "{sources:?}");
    assert_eq!(coverage(&merged), coverage(&whole));
    assert_eq!(gaps(&merged), gaps(&whole));
    assert!(
        gaps(&merged)
            .iter()
            .any(|g| g.1 == "ap-south-1" && g.2 == "no_events")
    );
    assert!(
        gaps(&merged)
            .iter()
            .any(|g| g.0 == "444455556666" && g.1 == "sa-east-1" && g.2 == "no_events"),
        "the cell without a folder is judged by its shard"
    );
    assert_eq!(files(&merged), files(&whole));
    // The dataset on S3: one object per table, run, account and shard that had rows.
    let listed = s3
        .list_objects_v2()
        .bucket(&evidence)
        .prefix("dataset/")
        .send()
        .await
        .unwrap();
    let dataset: Vec<&str> = listed.contents().iter().map(|o| o.key().unwrap()).collect();
    let run = "run=20260101T000000Z_20260101T020000Z";
    for table in ["coverage", "gaps", "files"] {
        for account in ["111122223333", "444455556666"] {
            let under = format!("dataset/{table}/{run}/account_id={account}/part-");
            assert!(
                dataset.iter().any(|k| k.starts_with(&under)),
                "{under}: {dataset:#?}"
            );
        }
    }
    assert!(
        dataset.iter().all(|k| k.ends_with(".parquet")),
        "{dataset:#?}"
    );

    // With --check the configuration is checked once, here: the result is verify's.
    a.trail(crate::util::TrailSpec::mr(
        "org-trail",
        crate::util::all_mgmt(),
    ))
    .await;
    let checked = tmp.path().join("checked");
    let res = a.run(&[
        "merge",
        &format!("{published}/run=20260101T000000Z_20260101T020000Z"),
        "--check",
        "--endpoint-url",
        endpoint(),
        "--out",
        checked.to_str().unwrap(),
        "--format",
        "json",
    ]);
    let c: serde_json::Value = serde_json::from_slice(&res.stdout).unwrap_or_default();
    assert_eq!(
        res.status.code(),
        Some(1),
        "{}\n{c:#}",
        String::from_utf8_lossy(&res.stderr)
    );
    assert_eq!(c["command"], "verify");
    // WARN on the emulator: it has no account:ListRegions (REGIONS_UNVERIFIED).
    assert!(
        matches!(c["config"]["verdict"].as_str(), Some("PASS" | "WARN")),
        "{c:#}"
    );
    assert_eq!(c["verdict"], "GAPS");
    assert_eq!(coverage(&checked), coverage(&whole));
}

#[test]
fn shards_of_a_local_copy_merge_to_the_whole_and_mismatches_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let logs = tmp.path().join("logs");
    let keys = tmp.path().join("keys.json");
    let run = crate::util::offline;
    let generate = |accounts: &str, extra: &[&str]| {
        let mut args = vec![
            "generate",
            "--out",
            logs.to_str().unwrap(),
            "--accounts",
            accounts,
            "--regions",
            "us-east-1,eu-west-1,ap-south-1",
            "--hours",
            "3",
            "--start",
            "2026-01-01T00:00:00Z",
        ];
        args.extend_from_slice(extra);
        run(&args)
    };
    // With the non-CloudTrail objects (folder marker, Config probe, insight) a walk meets.
    let (code, err) = generate(
        "111122223333,444455556666",
        &[
            "--fault",
            "no-writes:ap-south-1",
            "--public-keys-out",
            keys.to_str().unwrap(),
        ],
    );
    assert_eq!(code, 0, "{err}");
    let scan = |out: &Path, extra: &[&str]| {
        let mut args = vec![
            "scan",
            logs.to_str().unwrap(),
            "--since",
            "2026-01-01T00:00:00Z",
            "--until",
            "2026-01-01T03:00:00Z",
            "--public-keys",
            keys.to_str().unwrap(),
            "--max-silence",
            "2h",
            "--out",
            out.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        run(&args)
    };
    let whole = tmp.path().join("whole");
    let (code, err) = scan(&whole, &[]);
    assert!(code <= 1, "{err}");
    let shard = |k: u32| tmp.path().join(format!("k{k}"));
    for k in 0..2 {
        let (code, err) = scan(&shard(k), &["--shard", &format!("{k}/2")]);
        assert!(code <= 1, "{err}");
    }
    let merged = tmp.path().join("merged");
    let dataset = tmp.path().join("dataset");
    let merge = |out: &Path| {
        run(&[
            "merge",
            shard(0).to_str().unwrap(),
            shard(1).to_str().unwrap(),
            "--dataset",
            dataset.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ])
    };
    let (code, err) = merge(&merged);
    assert!(code <= 1, "{err}");
    // The dataset, read by DuckDB as Hive-partitioned tables, is the unsharded run's.
    let py = std::env::var("TRAILPROOF_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
    let q = std::process::Command::new(py)
        .arg("-c")
        .arg(format!(
            r#"
import duckdb
def q(sql): print(duckdb.sql(sql).fetchall())
d, w = "{dataset}", "{whole}"
hive = "hive_partitioning = true"
q(f"SELECT count(*), sum(mgmt_read), sum(mgmt_write), count(DISTINCT account_id), min(run) FROM read_parquet('{{d}}/coverage/*/*/*.parquet', {{hive}})")
q(f"SELECT count(*), sum(mgmt_read), sum(mgmt_write), count(DISTINCT account_id), '20260101T000000Z_20260101T030000Z' FROM read_parquet('{{w}}/coverage.parquet')")
q(f"SELECT count(*) FROM read_parquet('{{d}}/gaps/*/*/*.parquet', {{hive}})")
q(f"SELECT count(*) FROM read_parquet('{{w}}/gaps.parquet')")
q(f"SELECT count(*), count(DISTINCT key) FROM read_parquet('{{d}}/files/*/*/*.parquet', {{hive}})")
q(f"SELECT count(*), count(DISTINCT key) FROM read_parquet('{{w}}/files.parquet')")
"#,
            dataset = dataset.display(),
            whole = whole.display()
        ))
        .output()
        .unwrap();
    let printed = String::from_utf8_lossy(&q.stdout).into_owned();
    let lines: Vec<&str> = printed.lines().collect();
    assert!(
        lines.len() == 6 && lines[0] == lines[1] && lines[2] == lines[3] && lines[4] == lines[5],
        "{printed}{}",
        String::from_utf8_lossy(&q.stderr)
    );
    assert!(
        lines[0].contains("'20260101T000000Z_20260101T030000Z'"),
        "{printed}"
    );
    // The same run into the same dataset is refused; the dataset is left as it was.
    let (code, err) = merge(&tmp.path().join("merged-again"));
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("already holds run=20260101T000000Z_20260101T030000Z"),
        "{err}"
    );
    let mut whole_files = files(&whole);
    let mut merged_files = files(&merged);
    whole_files.sort();
    merged_files.sort();
    assert!(
        whole_files.iter().any(|k| !k.contains("/CloudTrail/")),
        "skipped objects"
    );
    assert_eq!(
        merged_files, whole_files,
        "every object once, skipped ones too"
    );
    assert_eq!(coverage(&merged), coverage(&whole));
    assert_eq!(gaps(&merged), gaps(&whole));
    // A shard run with another --late-after is refused, naming what differs.
    let other = tmp.path().join("other");
    let (code, err) = scan(&other, &["--shard", "1/2", "--late-after", "2h"]);
    assert!(code <= 1, "{err}");
    let (code, err) = run(&[
        "merge",
        shard(0).to_str().unwrap(),
        other.to_str().unwrap(),
        "--out",
        tmp.path().join("refused").to_str().unwrap(),
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("late-after"), "{err}");
    // A shard that found another layout (an account added between the shards' runs), with
    // the same parameters: refused, as no shard judged the new account's cells it owns.
    let (code, err) = generate("999988887777", &["--no-extras", "--no-digests"]);
    assert_eq!(code, 0, "{err}");
    let later = tmp.path().join("later");
    let (code, err) = scan(&later, &["--shard", "1/2"]);
    assert!(code <= 1, "{err}");
    let (code, err) = run(&[
        "merge",
        shard(0).to_str().unwrap(),
        later.to_str().unwrap(),
        "--out",
        tmp.path().join("refused-layout").to_str().unwrap(),
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("(expected_accounts differ)"), "{err}");
    // A shard without a window is refused at once.
    let (code, err) = run(&["scan", logs.to_str().unwrap(), "--shard", "0/2"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("needs a window"), "{err}");
}

#[tokio::test]
async fn verify_shards_check_the_configuration_once_and_merge_to_one_verify() {
    let a = Account::new().await;
    a.trail(crate::util::TrailSpec {
        organization: true,
        prefix: Some("audit"),
        ..crate::util::TrailSpec::mr("org-trail", crate::util::all_mgmt())
    })
    .await;
    let bucket = format!("tp-{}-org-trail", a.id);
    let tmp = tempfile::tempdir().unwrap();
    let keys = tmp.path().join("keys.json");
    let mut accounts = vec![a.id.clone()];
    accounts.extend((0..9).map(|i| format!("{:012}", 310_000_000_000u64 + i)));
    let list = accounts.join(",");
    let regions = "us-east-1,eu-west-1,ap-south-1,sa-east-1";
    let out = a.run(&[
        "generate",
        "--out",
        &format!("s3://{bucket}/audit"),
        "--endpoint-url",
        endpoint(),
        "--org-id",
        ORG,
        "--accounts",
        &list,
        "--regions",
        regions,
        "--hours",
        "2",
        "--events-per-hour",
        "3",
        "--start",
        "2026-01-01T00:00:00Z",
        "--fault",
        "no-writes:ap-south-1",
        "--public-keys-out",
        keys.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let verify = |dir: &Path, extra: &[&str], env: &[(&str, &Path)]| {
        let mut args = vec![
            "verify",
            "--endpoint-url",
            endpoint(),
            "--regions",
            regions,
            "--accounts",
            list.as_str(),
            "--since",
            "2026-01-01T00:00:00Z",
            "--until",
            "2026-01-01T02:00:00Z",
            "--public-keys",
            keys.to_str().unwrap(),
            // moto answers ListPublicKeys with HTTP 500: do not wait on retries.
            "--max-attempts",
            "2",
            "--no-progress",
            "--format",
            "json",
            "--out",
            dir.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        run_json(&a, &args, env)
    };
    let whole = tmp.path().join("whole");
    let (code, w, err) = verify(&whole, &[], &[]);
    assert_eq!(code, 1, "{err}\n{w:#}");
    assert_eq!(w["verdict"], "GAPS", "{w:#}");
    assert_eq!(w["outcome"]["source"], format!("s3://{bucket}/audit"));
    let config_verdict = w["config"]["verdict"].clone();
    assert!(
        matches!(config_verdict.as_str(), Some("PASS" | "WARN")),
        "{w:#}"
    );

    // Every shard gets the same command line (as on an array-job engine) but its index;
    // shard 0 alone checks the configuration.
    let shard = |k: u32| tmp.path().join(format!("v{k}"));
    let sharded = [
        "--shards",
        "3",
        "--bucket",
        bucket.as_str(),
        "--prefix",
        "audit",
    ];
    for k in 0..3u32 {
        let index = k.to_string();
        let (code, s, err) = verify(
            &shard(k),
            &sharded,
            &[("AWS_BATCH_JOB_ARRAY_INDEX", Path::new(&index))],
        );
        assert!(code <= 1, "{err}\n{s:#}");
        assert_eq!(s["command"], "verify");
        assert_eq!(s["parameters"]["shard"], format!("{k}/3"));
        assert_eq!(
            s["outcome"]["expected_accounts"],
            w["outcome"]["expected_accounts"]
        );
        if k == 0 {
            assert_eq!(s["config"]["verdict"], config_verdict, "{s:#}");
        } else {
            assert!(s["config"].is_null(), "shard {k} checked: {s:#}");
            let html = std::fs::read_to_string(shard(k).join("report.html")).unwrap();
            assert!(html.contains("Not checked by this shard ("), "{k}");
        }
    }
    let dirs: Vec<String> = (0..3).map(|k| shard(k).display().to_string()).collect();
    let merge = |out: &Path, extra: &[&str]| {
        let mut args = vec!["merge", "--out", out.to_str().unwrap()];
        args.extend(dirs.iter().map(String::as_str));
        args.extend_from_slice(extra);
        a.run(&args)
    };
    let merged = tmp.path().join("merged");
    let res = merge(&merged, &["--format", "json"]);
    assert_eq!(
        res.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&res.stderr)
    );
    let m: serde_json::Value = serde_json::from_slice(&res.stdout).unwrap();
    assert_eq!(m["command"], "verify");
    assert_eq!(m["config"]["verdict"], config_verdict);
    assert_eq!(m["verdict"], w["verdict"]);
    assert_eq!(m["exit_code"], w["exit_code"]);
    assert_eq!(coverage(&merged), coverage(&whole));
    assert_eq!(gaps(&merged), gaps(&whole));
    assert!(
        gaps(&merged)
            .iter()
            .any(|g| g.1 == "ap-south-1" && g.2 == "no_events"),
        "{:#?}",
        gaps(&merged)
    );
    assert_eq!(files(&merged), files(&whole));
    for key in ["regions_by_status", "totals", "expected_regions"] {
        assert_eq!(m["outcome"][key], w["outcome"][key], "{key}");
    }
    // What the evidence states, control by control, as the unsharded verify states it.
    assert_eq!(m["controls"], w["controls"]);
    let check = a.run(&["verify-evidence", merged.to_str().unwrap()]);
    assert_eq!(check.status.code(), Some(0));
    let text = merge(&tmp.path().join("merged-text"), &[]);
    let printed = String::from_utf8_lossy(&text.stdout);
    assert!(
        printed.contains(&format!(
            "CloudTrail configuration: {}",
            config_verdict.as_str().unwrap()
        )) && printed.contains("checked once, by shard 0"),
        "{printed}"
    );

    // Refused: a shard without --bucket (it could not know the trail's), --check over verify
    // shards, and a shard that expected other accounts (a cell no shard would judge).
    let (code, _, err) = verify(&tmp.path().join("nb"), &["--shard", "1/3"], &[]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("needs --bucket"), "{err}");
    // The trail's own bucket without its prefix: refused by shard 0, which sees the trail.
    let (code, _, err) = verify(
        &tmp.path().join("np"),
        &["--shard", "0/3", "--bucket", bucket.as_str()],
        &[],
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("give every shard --prefix 'audit'"), "{err}");
    assert!(!tmp.path().join("np").exists());
    // A default window (each shard would resolve it at its own start), and one state for all
    // the shards of one command line, are refused before anything runs.
    for (extra, what) in [
        (vec!["--bucket", "b"], "needs --since"),
        (
            vec![
                "--bucket",
                "b",
                "--since",
                "2026-01-01",
                "--state",
                "s.json",
            ],
            "--state needs {shard}",
        ),
    ] {
        let mut args = vec!["verify", "--shards", "3"];
        args.extend(extra);
        let res = a.run_with(&args, &[("AWS_BATCH_JOB_ARRAY_INDEX", Path::new("1"))]);
        let err = String::from_utf8_lossy(&res.stderr);
        assert_eq!(res.status.code(), Some(2), "{err}");
        assert!(err.contains(what), "{what}: {err}");
    }
    let res = merge(
        &tmp.path().join("checked"),
        &["--check", "--endpoint-url", endpoint()],
    );
    assert_eq!(res.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&res.stderr).contains("--check is for `scan` shards"),
        "{}",
        String::from_utf8_lossy(&res.stderr)
    );
    let fewer = accounts[..9].join(",");
    let other = tmp.path().join("other");
    let mut args: Vec<&str> = vec![
        "verify",
        "--endpoint-url",
        endpoint(),
        "--regions",
        regions,
        "--accounts",
        &fewer,
        "--since",
        "2026-01-01T00:00:00Z",
        "--until",
        "2026-01-01T02:00:00Z",
        "--public-keys",
        keys.to_str().unwrap(),
        "--max-attempts",
        "2",
        "--no-progress",
        "--shard",
        "2/3",
        "--out",
        other.to_str().unwrap(),
    ];
    args.extend_from_slice(&sharded[2..]);
    let res = a.run(&args);
    assert!(res.status.code().unwrap() <= 1);
    let res = a.run(&[
        "merge",
        "--out",
        tmp.path().join("refused").to_str().unwrap(),
        &dirs[0],
        &dirs[1],
        other.to_str().unwrap(),
    ]);
    let err = String::from_utf8_lossy(&res.stderr);
    assert_eq!(res.status.code(), Some(2), "{err}");
    assert!(err.contains("expected_accounts"), "{err}");
}
