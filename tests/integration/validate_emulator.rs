//! Digest-chain validation against the moto server: `trailproof generate` uploads signed
//! digests with their signature in S3 object metadata, then `trailproof validate` (keys from
//! `--public-keys`, since moto has no ListPublicKeys) must find each tamper as exactly the
//! expected finding and nothing else.

use crate::util::*;

const START: &str = "2026-01-01T00:00:00Z";

/// Generates into a new bucket of `a`; returns (truth, bucket, keys file).
async fn corpus(
    a: &Account,
    regions: &str,
    hours: &str,
    extra: &[&str],
    dir: &std::path::Path,
) -> (serde_json::Value, String, std::path::PathBuf) {
    let bucket = a.bucket("trail").await;
    let keys = dir.join("keys.json");
    let dest = format!("s3://{bucket}");
    let mut args = vec![
        "generate",
        "--out",
        &dest,
        "--endpoint-url",
        endpoint(),
        "--regions",
        regions,
        "--hours",
        hours,
        "--start",
        START,
        "--accounts",
        &a.id,
        "--events-per-hour",
        "6",
        "--max-files-per-slot",
        "1",
        "--no-extras",
        "--public-keys-out",
        keys.to_str().unwrap(),
        "--truth",
    ];
    args.extend_from_slice(extra);
    let out = a.run(&args);
    assert!(
        out.status.success(),
        "generate: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (serde_json::from_slice(&out.stdout).unwrap(), bucket, keys)
}

fn validate(
    a: &Account,
    bucket: &str,
    until: &str,
    keys: &std::path::Path,
    out: &std::path::Path,
) -> (i32, serde_json::Value) {
    let src = format!("s3://{bucket}");
    let res = a.run(&[
        "validate",
        &src,
        "--endpoint-url",
        endpoint(),
        "--since",
        START,
        "--until",
        until,
        "--public-keys",
        keys.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--format",
        "json",
    ]);
    let stderr = String::from_utf8_lossy(&res.stderr).into_owned();
    let report: serde_json::Value = serde_json::from_slice(&res.stdout)
        .unwrap_or_else(|e| panic!("validate printed no JSON ({e}): {stderr}"));
    (res.status.code().unwrap(), report)
}

#[tokio::test]
async fn a_clean_chain_of_three_days_in_four_regions_validates_fully() {
    let a = Account::new().await;
    let dir = tempfile::tempdir().unwrap();
    let regions = "us-east-1,eu-west-1,ap-south-1,sa-east-1";
    let (truth, bucket, keys) = corpus(&a, regions, "72", &[], dir.path()).await;
    let (code, r) = validate(
        &a,
        &bucket,
        "2026-01-04T00:00:00Z",
        &keys,
        &dir.path().join("out"),
    );
    assert_eq!(code, 0, "{r:#}");
    assert_eq!(r["result"], "VALID");
    assert_eq!(r["findings_by_kind"], serde_json::json!({}));
    let d = &r["digests"];
    assert_eq!(d["in_use"], true);
    // Every stored digest was found and is valid or empty; every hour of every region too.
    assert_eq!(d["digests_found"], truth["digests"]);
    let by: u64 = ["valid", "empty"]
        .iter()
        .map(|s| d["digests_by_status"][s].as_u64().unwrap_or(0))
        .sum();
    assert_eq!(
        by,
        truth["digests"].as_u64().unwrap(),
        "{:#}",
        d["digests_by_status"]
    );
    let hours: u64 = d["hours_by_status"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(k, _)| *k == "valid" || *k == "empty")
        .map(|(_, v)| v.as_u64().unwrap())
        .sum();
    assert_eq!(hours, 72 * 4, "{:#}", d["hours_by_status"]);
    assert_eq!(d["regions"].as_array().unwrap().len(), 4);
    // Every log file was hashed and matched its digest.
    let logs: u64 = truth["regions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["log_files"].as_u64().unwrap())
        .sum();
    assert_eq!(r["log_files"], serde_json::json!({"valid": logs}));
    assert_eq!(d["keys"][0]["source"], "file");
}

/// Generates 6 hours in two regions with one tamper in eu-west-1 and validates.
async fn tampered(kind: &str) -> (serde_json::Value, serde_json::Value, i32) {
    let a = Account::new().await;
    let dir = tempfile::tempdir().unwrap();
    let fault = format!("tamper:{kind}:eu-west-1");
    let (truth, bucket, keys) = corpus(
        &a,
        "us-east-1,eu-west-1",
        "6",
        &["--fault", &fault],
        dir.path(),
    )
    .await;
    let (code, r) = validate(
        &a,
        &bucket,
        "2026-01-01T06:00:00Z",
        &keys,
        &dir.path().join("out"),
    );
    (truth, r, code)
}

/// Exactly one finding, of `kind`, in eu-west-1, naming the tampered object.
async fn detected_as(tamper: &str, kind: &str) -> serde_json::Value {
    let (truth, r, code) = tampered(tamper).await;
    assert_eq!(code, 1, "{r:#}");
    assert_eq!(r["result"], "INVALID");
    let findings = r["findings"].as_array().unwrap();
    assert_eq!(
        findings.len(),
        1,
        "exactly one finding: {:#}",
        r["findings"]
    );
    let f = &findings[0];
    assert_eq!(f["kind"], kind, "{f:#}");
    assert_eq!(f["region"], "eu-west-1");
    let hit = truth["tampered"][0][1].as_str().unwrap();
    assert!(
        f["detail"].as_str().unwrap().contains(hit),
        "the finding names {hit}: {f:#}"
    );
    r
}

#[tokio::test]
async fn a_modified_log_is_a_hash_mismatch() {
    let r = detected_as("modify-log", "hash_mismatch").await;
    assert_eq!(r["log_files"]["hash_mismatch"], 1);
}

#[tokio::test]
async fn a_deleted_log_is_missing() {
    let r = detected_as("delete-log", "log_missing").await;
    assert!(r["log_files"].get("hash_mismatch").is_none());
}

#[tokio::test]
async fn bytes_after_the_gzip_stream_are_a_hash_mismatch() {
    let r = detected_as("trailing-bytes", "hash_mismatch").await;
    let detail = r["findings"][0]["detail"].as_str().unwrap();
    assert!(
        detail.contains("unexpected bytes after the end of the gzip stream")
            && detail.contains("the first member matches"),
        "{detail}"
    );
}

#[tokio::test]
async fn an_unlisted_log_is_found() {
    detected_as("unlisted-log", "log_unlisted").await;
}

#[tokio::test]
async fn a_deleted_digest_is_a_no_digest_gap() {
    let r = detected_as("delete-digest", "no_digest").await;
    // The logs of that hour are accounted to the hole, not reported as unlisted.
    assert!(r["log_files"]["no_digest"].as_u64().unwrap() > 0, "{r:#}");
    let hours = hour_statuses(&r, "eu-west-1");
    assert!(hours.contains(&"missing"), "{hours:?}");
}

/// The hour statuses validate.json gives one region (runs of equal hours, in order).
fn hour_statuses<'a>(r: &'a serde_json::Value, region: &str) -> Vec<&'a str> {
    let one = r["digests"]["regions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["region"] == region)
        .unwrap();
    one["hours"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["status"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn a_restarted_chain_is_a_gap_not_a_missing_digest() {
    let (truth, r, code) = tampered("restart").await;
    assert_eq!(code, 1, "{r:#}");
    let findings = r["findings"].as_array().unwrap();
    assert_eq!(findings.len(), 1, "exactly one finding: {findings:#?}");
    let f = &findings[0];
    assert_eq!(
        (&f["kind"], &f["region"]),
        (&"no_digest".into(), &"eu-west-1".into())
    );
    let detail = f["detail"].as_str().unwrap();
    assert!(detail.contains("starts a new chain"), "{detail}");
    // The digest that was never written is not named: nothing says it existed.
    let never = truth["tampered"][0][1].as_str().unwrap();
    assert!(!detail.contains(never), "{detail}");
    let hours = hour_statuses(&r, "eu-west-1");
    assert!(hours.contains(&"gap"), "{hours:?}");
    assert!(
        !hours.iter().any(|h| matches!(*h, "missing" | "invalid")),
        "{hours:?}"
    );
    // The hour's logs are accounted to the gap, and the starting digest is valid.
    assert!(r["log_files"]["no_digest"].as_u64().unwrap() > 0, "{r:#}");
    assert!(r["log_files"].get("unlisted").is_none(), "{r:#}");
    assert!(
        r["digests"]["digests_by_status"].get("invalid").is_none(),
        "{r:#}"
    );
}

#[tokio::test]
async fn a_moved_digest_is_invalid() {
    let r = detected_as("move-digest", "digest_invalid").await;
    assert!(
        r["findings"][0]["detail"]
            .as_str()
            .unwrap()
            .contains("moved"),
        "{:#}",
        r["findings"]
    );
}

#[tokio::test]
async fn a_digest_signed_with_another_key_is_invalid() {
    let r = detected_as("wrong-key", "digest_invalid").await;
    assert!(
        r["findings"][0]["detail"]
            .as_str()
            .unwrap()
            .contains("signature verification failed"),
        "{:#}",
        r["findings"]
    );
}

#[tokio::test]
async fn a_resigned_digest_breaks_the_links_its_successor_holds() {
    let r = detected_as("resign-digest", "digest_invalid").await;
    let detail = r["findings"][0]["detail"].as_str().unwrap();
    // Its own signature verifies: only the successor's records expose it.
    assert!(
        !detail.contains("signature verification failed"),
        "{detail}"
    );
    assert!(detail.contains("previousDigestSignature"), "{detail}");
    assert!(detail.contains("previousDigestHashValue"), "{detail}");
}

#[tokio::test]
async fn a_backfill_chain_validates() {
    let (truth, r, code) = tampered("backfill").await;
    assert_eq!(code, 0, "{r:#}");
    assert_eq!(r["result"], "VALID");
    assert_eq!(r["digests"]["backfill_digests"], 1);
    let logs: u64 = truth["regions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["log_files"].as_u64().unwrap())
        .sum();
    // The late file is listed only by the backfill digest, and it is valid.
    assert_eq!(r["log_files"], serde_json::json!({"valid": logs}));
}
