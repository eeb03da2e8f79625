//! `trailproof verify` and `scan s3://` against the moto server: the trail's bucket is
//! filled by `trailproof generate` over the S3 API, then the log phase proves it or finds the
//! injected gaps.

use crate::scan_local::{gaps, kinds, truth_log_files};
use crate::util::*;

const START: &str = "2026-01-01T00:00:00Z";
const UNTIL: &str = "2026-01-01T06:00:00Z";
const R3: &str = "us-east-1,eu-west-1,ap-south-1";

fn generate(a: &Account, dest: &str, extra: &[&str]) -> serde_json::Value {
    let mut args = vec![
        "generate",
        "--out",
        dest,
        "--endpoint-url",
        endpoint(),
        "--regions",
        R3,
        "--hours",
        "6",
        "--start",
        START,
        "--accounts",
        &a.id,
        "--truth",
    ];
    args.extend_from_slice(extra);
    let out = a.run(&args);
    assert!(
        out.status.success(),
        "generate: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn verify(a: &Account, out: &std::path::Path, extra: &[&str]) -> (i32, serde_json::Value, String) {
    let mut args = vec![
        "verify",
        "--endpoint-url",
        endpoint(),
        "--regions",
        R3,
        "--since",
        START,
        "--until",
        UNTIL,
        "--out",
        out.to_str().unwrap(),
        "--format",
        "json",
        // moto answers ListPublicKeys with HTTP 500, which the SDK retries with backoff.
        "--max-attempts",
        "2",
    ];
    args.extend_from_slice(extra);
    let res = a.run(&args);
    let stderr = String::from_utf8_lossy(&res.stderr).into_owned();
    let summary = summary_of(out);
    (res.status.code().unwrap(), summary, stderr)
}

/// A compliant trail whose bucket holds generated logs with `fault` and signed digests; the
/// digests' key is written to `dir/keys.json`. Returns the ground truth and the keys file.
async fn with_digests(
    a: &Account,
    dir: &std::path::Path,
    fault: &str,
) -> (serde_json::Value, String) {
    a.trail(TrailSpec::mr("main-trail", all_mgmt())).await;
    let keys = dir.join("keys.json").to_str().unwrap().to_owned();
    let truth = generate(
        a,
        &format!("s3://tp-{}-main-trail", a.id),
        &["--fault", fault, "--public-keys-out", &keys],
    );
    (truth, keys)
}

#[tokio::test]
async fn verify_proves_a_clean_bucket() {
    let a = Account::new().await;
    a.trail(TrailSpec {
        prefix: Some("audit"),
        ..TrailSpec::mr("main-trail", all_mgmt())
    })
    .await;
    let truth = generate(&a, &format!("s3://tp-{}-main-trail/audit", a.id), &[]);
    let out = tempfile::tempdir().unwrap();
    let (code, summary, stderr) = verify(&a, out.path(), &["--max-silence", "2h"]);
    assert_eq!(code, 0, "{stderr}\n{summary:#}");
    assert_eq!(summary["verdict"], "PROVEN");
    assert_eq!(summary["config"]["verdict"], "PASS");
    let logs = truth_log_files(&truth);
    assert_eq!(
        summary["outcome"]["stats"]["log_files_read"]
            .as_u64()
            .unwrap(),
        logs
    );
    assert!(gaps(out.path()).is_empty());
    // The digests are there but moto has no ListPublicKeys: not used, and said so.
    let d = &summary["outcome"]["digests"];
    assert_eq!(d["in_use"], false, "{d:#}");
    assert!(
        d["notes"][0]
            .as_str()
            .unwrap()
            .contains("cloudtrail:ListPublicKeys"),
        "{d:#}"
    );
    assert_eq!(
        summary["outcome"]["source"],
        format!("s3://tp-{}-main-trail/audit", a.id)
    );
}

#[tokio::test]
async fn verify_finds_exactly_the_injected_gap() {
    let a = Account::new().await;
    a.trail(TrailSpec::mr("main-trail", all_mgmt())).await;
    generate(
        &a,
        &format!("s3://tp-{}-main-trail", a.id),
        &["--fault", "silent:eu-west-1:2:3"],
    );
    let out = tempfile::tempdir().unwrap();
    let (code, summary, stderr) = verify(&a, out.path(), &["--max-silence", "2h"]);
    assert_eq!(code, 1, "{stderr}\n{summary:#}");
    assert_eq!(summary["verdict"], "GAPS");
    assert_eq!(
        kinds(&gaps(out.path())),
        [("eu-west-1", "delivery", "no_log_files", 2, 5)]
    );
}

#[tokio::test]
async fn verify_reads_an_organization_layout() {
    let a = Account::new().await;
    a.trail(TrailSpec {
        organization: true,
        ..TrailSpec::mr("org-trail", all_mgmt())
    })
    .await;
    generate(
        &a,
        &format!("s3://tp-{}-org-trail", a.id),
        &["--org-id", "o-abcd123456"],
    );
    let out = tempfile::tempdir().unwrap();
    let (code, summary, stderr) = verify(&a, out.path(), &[]);
    assert_eq!(code, 0, "{stderr}\n{summary:#}");
    assert!(
        summary["outcome"]["stats"]["log_files_read"]
            .as_u64()
            .unwrap()
            > 0
    );
}

#[tokio::test]
async fn verify_without_a_compliant_trail_fails_on_configuration() {
    let a = Account::new().await;
    a.trail(TrailSpec::mr(
        "main-trail",
        Sel::Classic(vec![classic("WriteOnly", true, &[], false)]),
    ))
    .await;
    let out = tempfile::tempdir().unwrap();
    let (code, summary, _) = verify(&a, out.path(), &[]);
    assert_eq!(code, 1);
    assert_eq!(summary["verdict"], "FAIL");
    assert!(
        summary["outcome"].is_null(),
        "no log phase without a compliant trail"
    );
}

#[tokio::test]
async fn unreadable_objects_over_s3_are_unknown() {
    let a = Account::new().await;
    a.trail(TrailSpec::mr("main-trail", all_mgmt())).await;
    let truth = generate(
        &a,
        &format!("s3://tp-{}-main-trail", a.id),
        &["--fault", "corrupt:ap-south-1:truncated-gzip:2"],
    );
    let out = tempfile::tempdir().unwrap();
    let (code, summary, _) = verify(&a, out.path(), &[]);
    assert_eq!(code, 1);
    assert_eq!(summary["verdict"], "UNKNOWN");
    let rows = gaps(out.path());
    assert_eq!(rows.len(), 2, "{rows:?}");
    for key in truth["corrupt_keys"].as_array().unwrap() {
        let key = key[0].as_str().unwrap();
        assert!(
            rows.iter()
                .any(|r| r.2 == "object_unreadable" && r.5.starts_with(key)),
            "{key} not in {rows:?}"
        );
    }
}

#[tokio::test]
async fn scan_s3_needs_no_cloudtrail_calls() {
    let a = Account::new().await;
    let bucket = a.bucket("plain").await;
    generate(
        &a,
        &format!("s3://{bucket}/p/q"),
        &["--fault", "no-writes:eu-west-1"],
    );
    let out = tempfile::tempdir().unwrap();
    let res = a.run(&[
        "scan",
        &format!("s3://{bucket}/p/q"),
        "--endpoint-url",
        endpoint(),
        "--since",
        START,
        "--until",
        UNTIL,
        "--out",
        out.path().to_str().unwrap(),
    ]);
    let text = String::from_utf8_lossy(&res.stdout);
    assert_eq!(
        res.status.code(),
        Some(1),
        "{text}\n{}",
        String::from_utf8_lossy(&res.stderr)
    );
    assert!(text.starts_with("Delivery evidence: GAPS"), "{text}");
    assert_eq!(
        kinds(&gaps(out.path())),
        [("eu-west-1", "mgmt_write", "no_events", 0, 6)]
    );
}

#[tokio::test]
async fn missing_bucket_is_an_error_naming_it() {
    let a = Account::new().await;
    let out = tempfile::tempdir().unwrap();
    let res = a.run(&[
        "scan",
        "s3://tp-no-such-bucket-anywhere",
        "--endpoint-url",
        endpoint(),
        "--since",
        START,
        "--until",
        UNTIL,
        "--out",
        out.path().to_str().unwrap(),
    ]);
    assert_eq!(res.status.code(), Some(2));
    let err = String::from_utf8_lossy(&res.stderr);
    assert!(
        err.contains("tp-no-such-bucket-anywhere") && err.contains("NoSuchBucket"),
        "{err}"
    );
}

/// `digest_status` of every row of files.parquet that is a log file.
fn digest_statuses(out: &std::path::Path) -> std::collections::BTreeMap<String, usize> {
    let mut by = std::collections::BTreeMap::new();
    for r in crate::scan_local::file_rows(out, &["status", "digest_status"]) {
        if r[0].as_deref() != Some("skipped") {
            let v = r[1].clone().unwrap_or_else(|| "null".into());
            *by.entry(v).or_default() += 1;
        }
    }
    by
}

#[tokio::test]
async fn valid_empty_digests_prove_a_silent_region_was_logging() {
    let a = Account::new().await;
    let dir = tempfile::tempdir().unwrap();
    // Digest windows end at HH:07:32 and a log may be delivered up to 14 minutes after its
    // events, so whether a digest beside the silence lists a late file depends on the
    // account-seeded lags. Silent from 01:00 to 05:00, the hour 03:00-04:00 is overlapped only
    // by the digests [02:07:32, 03:07:32) and [03:07:32, 04:07:32), which are empty for every
    // seed: at least one hour is `empty` whatever account the emulator hands out.
    let (truth, keys) = with_digests(&a, dir.path(), "silent:eu-west-1:1:4").await;
    let out = dir.path().join("out");
    let (code, summary, stderr) =
        verify(&a, &out, &["--max-silence", "2h", "--public-keys", &keys]);
    assert_eq!(code, 0, "{stderr}\n{summary:#}");
    assert_eq!(summary["verdict"], "PROVEN");
    assert!(gaps(&out).is_empty(), "{:?}", gaps(&out));
    let d = &summary["outcome"]["digests"];
    assert_eq!(d["in_use"], true, "{d:#}");
    assert!(
        d["hours_by_status"]["empty"].as_u64().unwrap() >= 1,
        "{d:#}"
    );
    let logs = truth_log_files(&truth) as usize;
    let by = digest_statuses(&out);
    assert_eq!(by.get("valid"), Some(&logs), "{by:?}");

    // From the log files alone the same bucket is exactly the silence.
    let off = dir.path().join("off");
    let (code, summary, stderr) = verify(&a, &off, &["--max-silence", "2h", "--digests", "off"]);
    assert_eq!(code, 1, "{stderr}\n{summary:#}");
    assert_eq!(
        kinds(&gaps(&off)),
        [("eu-west-1", "delivery", "no_log_files", 1, 5)]
    );
}

#[tokio::test]
async fn digests_required_but_absent_are_no_digest_gaps() {
    let a = Account::new().await;
    a.trail(TrailSpec::mr("main-trail", all_mgmt())).await;
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().join("keys.json");
    generate(
        &a,
        &format!("s3://tp-{}-main-trail", a.id),
        &["--no-digests", "--public-keys-out", keys.to_str().unwrap()],
    );
    let out = dir.path().join("out");
    let (code, summary, stderr) = verify(
        &a,
        &out,
        &[
            "--digests",
            "require",
            "--public-keys",
            keys.to_str().unwrap(),
        ],
    );
    assert_eq!(code, 1, "{stderr}\n{summary:#}");
    assert_eq!(summary["verdict"], "GAPS");
    let mut rows = kinds(&gaps(&out))
        .into_iter()
        .map(|(r, c, k, s, e)| (r.to_owned(), c.to_owned(), k.to_owned(), s, e))
        .collect::<Vec<_>>();
    rows.sort();
    let want: Vec<_> = ["ap-south-1", "eu-west-1", "us-east-1"]
        .iter()
        .map(|r| (r.to_string(), "integrity".into(), "no_digest".into(), 0, 6))
        .collect();
    assert_eq!(rows, want);
    // The same bucket with --digests on: no digests found, judged from the logs, PROVEN.
    let out2 = dir.path().join("out2");
    let (code, summary, _) = verify(&a, &out2, &["--public-keys", keys.to_str().unwrap()]);
    assert_eq!(code, 0, "{summary:#}");
    let notes = summary["outcome"]["digests"]["notes"].to_string();
    assert!(notes.contains("no digest files found"), "{notes}");
}

#[tokio::test]
async fn a_tampered_log_is_a_gap_row_of_verify() {
    let a = Account::new().await;
    let dir = tempfile::tempdir().unwrap();
    let (truth, keys) = with_digests(&a, dir.path(), "tamper:modify-log:ap-south-1").await;
    let out = dir.path().join("out");
    let (code, summary, stderr) = verify(&a, &out, &["--public-keys", &keys]);
    assert_eq!(code, 1, "{stderr}\n{summary:#}");
    assert_eq!(summary["verdict"], "GAPS");
    let rows = gaps(&out);
    assert_eq!(kinds(&rows).len(), 1, "{rows:?}");
    assert_eq!(
        (rows[0].0.as_str(), rows[0].2.as_str()),
        ("ap-south-1", "hash_mismatch")
    );
    assert!(
        rows[0]
            .5
            .starts_with(truth["tampered"][0][1].as_str().unwrap())
    );
    assert_eq!(digest_statuses(&out).get("hash_mismatch"), Some(&1));
}

#[tokio::test]
async fn verify_over_s3_leaves_an_evidence_pack_a_browser_opens() {
    let a = Account::new().await;
    let t = tempfile::tempdir().unwrap();
    let (_, keys) = with_digests(&a, t.path(), "stop-logging:eu-west-1:2:3").await;
    let out = t.path().join("ev");
    let (code, summary, stderr) =
        verify(&a, &out, &["--max-silence", "2h", "--public-keys", &keys]);
    assert_eq!(code, 1, "{stderr}\n{summary:#}");
    assert_eq!(summary["config"]["verdict"], "PASS");
    let configuration = summary["controls"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["statement"] == "configuration")
        .unwrap();
    assert_eq!(configuration["result"], "satisfied");
    // The manifest records every object read over S3 with its ETag and stored hash.
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("manifest.json")).unwrap()).unwrap();
    let inputs = manifest["inputs"].as_array().unwrap();
    assert_eq!(
        inputs.len() as u64,
        summary["outcome"]["stats"]["log_files_read"]
            .as_u64()
            .unwrap()
    );
    assert!(
        inputs
            .iter()
            .all(|i| i["etag"].as_str().is_some_and(|e| e.len() > 2))
    );
    assert!(
        inputs
            .iter()
            .all(|i| i["sha256"].as_str().unwrap().len() == 64)
    );

    let r = crate::evidence_pack::browse(&out.join("report.html"), &t.path().join("shot"));
    let f = &r["facts"];
    assert_eq!(f["verdict"], "GAPS");
    assert_eq!(f["heatmap_cells"], 3 * 6);
    assert_eq!(
        f["change_events"],
        serde_json::json!(["StopLogging", "StartLogging"])
    );
    assert!(f["gap_cells"].as_u64().unwrap() >= 2, "{f}");
    let dom = std::fs::read_to_string(t.path().join("shot/dom.html")).unwrap();
    assert!(dom.contains("Configuration verdict: <span class=\"verdict v-PASS\">PASS</span>"));
}

/// `scan s3://LOGS --digests off --out OUT` over the test window, with `TMPDIR` (where the
/// staging area goes) set to `tmp`.
fn scan_out(
    a: &Account,
    logs: &str,
    out: &str,
    extra: &[&str],
    tmp: &std::path::Path,
) -> std::process::Output {
    let source = format!("s3://{logs}");
    let mut args = vec![
        "scan",
        &source,
        "--endpoint-url",
        endpoint(),
        "--since",
        START,
        "--until",
        UNTIL,
        "--digests",
        "off",
        "--out",
        out,
    ];
    args.extend_from_slice(extra);
    a.run_with(&args, &[("TMPDIR", tmp)])
}

#[tokio::test]
async fn out_s3_publishes_a_complete_run_folder_that_round_trips() {
    let a = Account::new().await;
    let logs = a.bucket("logs").await;
    let evidence = a.bucket("evidence").await;
    generate(
        &a,
        &format!("s3://{logs}"),
        &["--fault", "silent:eu-west-1:1:3"],
    );
    let tmp = tempfile::tempdir().unwrap();
    let out = format!("s3://{evidence}/daily/");
    let res = scan_out(
        &a,
        &logs,
        &out,
        &["--max-silence", "2h", "--summary-line"],
        tmp.path(),
    );
    // Published: the private staging area is gone.
    assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 0);
    let text = String::from_utf8_lossy(&res.stdout);
    assert_eq!(
        res.status.code(),
        Some(1),
        "{text}\n{}",
        String::from_utf8_lossy(&res.stderr)
    );
    let folder = "daily/run=20260101T000000Z_20260101T060000Z";
    assert!(
        text.contains(&format!("Evidence in s3://{evidence}/{folder}")),
        "{text}"
    );
    // Everything the run wrote is there, and nothing else; downloaded, it is intact.
    let s3 = a.s3().await;
    let listed = s3
        .list_objects_v2()
        .bucket(&evidence)
        .prefix("daily/")
        .send()
        .await
        .unwrap();
    let keys: Vec<String> = listed
        .contents()
        .iter()
        .map(|o| o.key().unwrap().to_owned())
        .collect();
    assert!(keys.iter().all(|k| k.starts_with(folder)), "{keys:?}");
    assert!(
        keys.contains(&format!("{folder}/manifest.json")),
        "{keys:?}"
    );
    let down = tempfile::tempdir().unwrap();
    for k in &keys {
        let body = s3
            .get_object()
            .bucket(&evidence)
            .key(k)
            .send()
            .await
            .unwrap();
        let bytes = body.body.collect().await.unwrap().into_bytes();
        std::fs::write(down.path().join(k.rsplit('/').next().unwrap()), bytes).unwrap();
    }
    // The scheduler's line: the last line on stderr, one JSON object.
    let stderr = String::from_utf8_lossy(&res.stderr);
    let line: serde_json::Value = serde_json::from_str(stderr.lines().last().unwrap()).unwrap();
    assert_eq!(line["verdict"], "GAPS");
    assert_eq!(line["exit_code"], 1);
    assert_eq!(line["gaps"], 1);
    assert_eq!(line["published"], true);
    assert_eq!(line["window_start"], START);
    assert_eq!(line["evidence"], format!("s3://{evidence}/{folder}"));
    let manifest = std::fs::read(down.path().join("manifest.json")).unwrap();
    assert_eq!(
        line["manifest_sha256"],
        {
            use sha2::Digest;
            hex::encode(sha2::Sha256::digest(&manifest))
        }
        .as_str()
    );
    let check = a.run(&["verify-evidence", down.path().to_str().unwrap()]);
    assert_eq!(
        check.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&check.stdout)
    );
    assert_eq!(
        kinds(&gaps(down.path())),
        [("eu-west-1", "delivery", "no_log_files", 1, 4)]
    );
    // The same window published again: a folder of its own; the first run's is untouched.
    let again = scan_out(&a, &logs, &out, &["--max-silence", "2h"], tmp.path());
    let text = String::from_utf8_lossy(&again.stdout);
    assert!(
        text.contains(&format!("Evidence in s3://{evidence}/{folder}/rerun=")),
        "{text}"
    );
    let first = s3
        .get_object()
        .bucket(&evidence)
        .key(format!("{folder}/manifest.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        first.body.collect().await.unwrap().into_bytes().to_vec(),
        manifest
    );
    // DuckDB reads the tables back.
    let py = std::env::var("TRAILPROOF_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
    let q = std::process::Command::new(py)
        .arg("-c")
        .arg(format!(
            "import duckdb; print(duckdb.sql(\"select count(*) from '{}/coverage.parquet'\").fetchall()[0][0])",
            down.path().display()
        ))
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&q.stdout).trim(), "18", "{q:?}");
}

#[tokio::test]
async fn a_failed_publish_keeps_the_complete_local_copy_and_says_where() {
    let a = Account::new().await;
    let logs = a.bucket("logs").await;
    generate(&a, &format!("s3://{logs}"), &[]);
    let tmp = tempfile::tempdir().unwrap();
    let missing = format!("tp-{}-no-such-bucket", a.id);
    let res = scan_out(&a, &logs, &format!("s3://{missing}/daily"), &[], tmp.path());
    let stderr = String::from_utf8_lossy(&res.stderr);
    assert_eq!(res.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains(&missing), "{stderr}");
    let kept = stderr
        .split("the complete evidence is kept in ")
        .nth(1)
        .and_then(|s| s.split(')').next())
        .unwrap_or_else(|| panic!("{stderr}"));
    let check = a.run(&["verify-evidence", kept]);
    assert_eq!(
        check.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&check.stdout)
    );
}

#[tokio::test]
async fn a_large_table_goes_up_in_checked_parts_and_a_taken_folder_is_never_overwritten() {
    use sha2::Digest;
    let a = Account::new().await;
    let bucket = a.bucket("parts").await;
    let dir = tempfile::tempdir().unwrap();
    // A table past the multipart threshold (and not a multiple of the part size), a small
    // first object and the manifest.
    let size = trailproof::source::s3::MULTIPART_FROM as usize + 3 * 1024 * 1024 + 17;
    let mut big = vec![0u8; size];
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    for b in big.iter_mut() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        *b = x as u8;
    }
    std::fs::write(dir.path().join("files.parquet"), &big).unwrap();
    std::fs::write(dir.path().join("summary.json"), b"{}").unwrap();
    std::fs::write(dir.path().join("manifest.json"), b"{\"m\":1}").unwrap();
    let s3 = a.s3().await;
    let keys = trailproof::source::upload_dir(
        &s3,
        &bucket,
        "run=x",
        dir.path(),
        "summary.json",
        "manifest.json",
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        keys,
        [
            "run=x/summary.json",
            "run=x/files.parquet",
            "run=x/manifest.json"
        ],
        "the first object first, the manifest last"
    );
    let got = s3
        .get_object()
        .bucket(&bucket)
        .key("run=x/files.parquet")
        .send()
        .await
        .unwrap();
    let body = got.body.collect().await.unwrap().into_bytes();
    assert_eq!(body.len(), size);
    assert_eq!(
        sha2::Sha256::digest(&body),
        sha2::Sha256::digest(&big),
        "the parts joined are the file"
    );
    // The folder is taken: a second upload writes nothing there.
    std::fs::write(dir.path().join("summary.json"), b"{\"other\":1}").unwrap();
    let again = trailproof::source::upload_dir(
        &s3,
        &bucket,
        "run=x",
        dir.path(),
        "summary.json",
        "manifest.json",
    )
    .await;
    assert!(
        matches!(again, Err(trailproof::source::UploadError::Taken)),
        "{again:?}"
    );
    let kept = s3
        .get_object()
        .bucket(&bucket)
        .key("run=x/summary.json")
        .send()
        .await
        .unwrap();
    assert_eq!(&kept.body.collect().await.unwrap().into_bytes()[..], b"{}");
}
