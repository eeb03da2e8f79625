//! Canary probes against the moto server: `canary send` makes its calls with the real SDK
//! clients (moto answers the EC2 DryRun as AWS does, `DryRunOperation`, HTTP 412), the
//! generator delivers the events CloudTrail would (moto keeps no CloudTrail logs), with
//! faults, and `verify --canary` finds exactly those; `verify --canary-send-and-wait` waits
//! for canaries delivered while it runs.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};

use crate::util::*;

const R4: &str = "us-east-1,eu-west-1,ap-south-1,us-west-2";
const HOUR: i64 = 3_600;

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn rfc3339(t: i64) -> String {
    trailproof::time::rfc3339(t)
}

/// `canary send` for `regions` into `path`: (exit code, the file, stderr).
fn send(
    a: &Account,
    endpoint: &str,
    regions: &str,
    path: &Path,
    extra: &[&str],
) -> (i32, serde_json::Value, String) {
    let mut args = vec![
        "canary",
        "send",
        "--endpoint-url",
        endpoint,
        "--regions",
        regions,
        "--out",
        path.to_str().unwrap(),
        "--format",
        "json",
    ];
    args.extend_from_slice(extra);
    let out = a.run(&args);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let file = serde_json::from_slice(&std::fs::read(path).unwrap_or_default())
        .unwrap_or(serde_json::Value::Null);
    (out.status.code().unwrap(), file, stderr)
}

/// (region, kind) -> field of each probe.
fn by_probe<'a>(
    probes: &'a serde_json::Value,
    field: &str,
) -> BTreeMap<(String, String), &'a serde_json::Value> {
    probes
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                (
                    p["region"].as_str().unwrap().to_owned(),
                    p["kind"].as_str().unwrap().to_owned(),
                ),
                &p[field],
            )
        })
        .collect()
}

#[tokio::test]
async fn canary_send_makes_every_call_and_records_its_request_id() {
    let a = Account::new().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("canary.json");
    let before = now();
    let (code, file, stderr) = send(&a, endpoint(), "us-east-1,eu-west-1,ap-south-1", &path, &[]);
    assert_eq!(code, 0, "{stderr}\n{file:#}");
    assert_eq!(file["schema"], "trailproof.canary/1");
    assert_eq!(file["account_id"], a.id.as_str());
    assert_eq!(file["global_region"], "us-east-1");
    let marker = file["marker"].as_str().unwrap();
    assert!(trailproof::canary::is_marker(marker), "{marker}");
    let probes = file["probes"].as_array().unwrap();
    // Two per region, and the global probe once, in the global region.
    let events: Vec<(&str, &str, &str)> = probes
        .iter()
        .map(|p| {
            (
                p["region"].as_str().unwrap(),
                p["kind"].as_str().unwrap(),
                p["event_name"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        events,
        [
            ("ap-south-1", "read", "DescribeTrails"),
            ("ap-south-1", "write", "DeleteKeyPair"),
            ("eu-west-1", "read", "DescribeTrails"),
            ("eu-west-1", "write", "DeleteKeyPair"),
            ("us-east-1", "read", "DescribeTrails"),
            ("us-east-1", "write", "DeleteKeyPair"),
            ("us-east-1", "global", "ListAccountAliases"),
        ]
    );
    // Every call answered as expected (the write: DryRunOperation), each with its own
    // request id, sent during this run.
    let mut ids = std::collections::BTreeSet::new();
    for p in probes {
        assert_eq!(p["outcome"], "answered", "{p:#}");
        let id = p["request_id"].as_str().unwrap_or_default();
        assert!(!id.is_empty(), "{p:#}");
        ids.insert(id.to_owned());
        let sent = trailproof::time::parse_event_time(p["sent_at"].as_str().unwrap()).unwrap();
        assert!(sent >= before - 1 && sent <= now() + 1, "{p:#}");
    }
    assert_eq!(ids.len(), probes.len(), "request ids are distinct");
    // A second run is another canary.
    let (code, again, _) = send(&a, endpoint(), "eu-west-1", &dir.path().join("b.json"), &[]);
    assert_eq!(code, 0);
    assert_ne!(again["marker"], file["marker"]);
}

/// A server that answers every request with an AccessDenied error and records each request's
/// head: what the SDK sent.
fn denying_server() -> (String, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let heads = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = heads.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let seen = seen.clone();
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                loop {
                    let mut head = String::new();
                    let mut line = String::new();
                    let mut length = 0usize;
                    while reader.read_line(&mut line).unwrap_or(0) > 0 {
                        if line == "\r\n" {
                            break;
                        }
                        if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                            length = v.trim().parse().unwrap_or(0);
                        }
                        head.push_str(&line);
                        line.clear();
                    }
                    if head.is_empty() {
                        return;
                    }
                    let mut body = vec![0; length];
                    reader.read_exact(&mut body).ok();
                    seen.lock().unwrap().push(head.clone());
                    // Each protocol's error shape: EC2's, the query protocol's (IAM, STS), and
                    // the JSON protocol's header (CloudTrail).
                    let json = head.to_ascii_lowercase().contains("x-amz-target:");
                    let reply = if json {
                        r#"{"__type":"AccessDeniedException","message":"denied by the test"}"#
                    } else if String::from_utf8_lossy(&body).contains("Action=DeleteKeyPair") {
                        "<Response><Errors><Error><Code>UnauthorizedOperation</Code><Message>denied by the test</Message></Error></Errors><RequestID>req-denied</RequestID></Response>"
                    } else {
                        "<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>denied by the test</Message></Error><RequestId>req-denied</RequestId></ErrorResponse>"
                    };
                    let answer = format!(
                        "HTTP/1.1 403 Forbidden\r\nContent-Type: {}\r\nx-amzn-RequestId: req-denied\r\nContent-Length: {}\r\n\r\n{reply}",
                        if json {
                            "application/x-amz-json-1.1"
                        } else {
                            "text/xml"
                        },
                        reply.len()
                    );
                    if stream.write_all(answer.as_bytes()).is_err() {
                        return;
                    }
                }
            });
        }
    });
    (url, heads)
}

#[tokio::test]
async fn every_call_carries_the_marker_and_a_denied_call_is_recorded_as_failed() {
    let a = Account::new().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("canary.json");
    let (url, heads) = denying_server();
    // Everything denied, STS too: nothing is known of the caller, no file is written.
    let (code, file, stderr) = send(&a, &url, "eu-west-1", &path, &["--max-attempts", "1"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(file.is_null());
    assert!(stderr.contains("sts:GetCallerIdentity"), "{stderr}");
    drop(heads);

    // The probes alone through the denying server (the library's sender, the scope given).
    let (url, heads) = denying_server();
    let sdk = a.sdk("us-east-1").await;
    let sdk = sdk.into_builder().endpoint_url(&url).build();
    let sdk = sdk
        .into_builder()
        .retry_config(aws_config::retry::RetryConfig::standard().with_max_attempts(1))
        .build();
    let plan = trailproof::canary::send::Plan {
        account_id: a.id.clone(),
        partition: "aws".into(),
        global_region: "us-east-1".into(),
        regions: vec!["eu-west-1".into()],
        marker: trailproof::canary::new_marker(),
    };
    let marker = plan.marker.clone();
    let file = trailproof::canary::send::send(&sdk, plan).await.unwrap();
    assert_eq!(file.probes.len(), 3);
    for p in &file.probes {
        assert_eq!(p.outcome, trailproof::canary::Sent::Failed, "{p:?}");
        let error = p.error.as_deref().unwrap_or_default();
        assert!(
            error.contains("AccessDenied") || error.contains("UnauthorizedOperation"),
            "{error}"
        );
        assert_eq!(p.request_id.as_deref(), Some("req-denied"), "{p:?}");
    }
    let heads = heads.lock().unwrap().clone();
    assert_eq!(heads.len(), 3, "{heads:#?}");
    for head in &heads {
        let ua: Vec<&str> = head
            .lines()
            .filter(|l| {
                let l = l.to_ascii_lowercase();
                l.starts_with("user-agent:") || l.starts_with("x-amz-user-agent:")
            })
            .collect();
        assert_eq!(ua.len(), 2, "{head}");
        for l in ua {
            assert!(l.contains(&format!("app/{marker}")), "{l}");
        }
    }
    // One request per service: CloudTrail, EC2, IAM (the SDK's user agent names each).
    for api in ["api/cloudtrail", "api/ec2", "api/iam"] {
        assert!(
            heads.iter().any(|h| h.to_ascii_lowercase().contains(api)),
            "{api}: {heads:#?}"
        );
    }
}

/// Shifts every time in a canary file `by` seconds (a canary sent that long before).
fn shift(path: &Path, by: i64) {
    let mut file: serde_json::Value =
        serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    let at = |v: &serde_json::Value| {
        rfc3339(trailproof::time::parse_event_time(v.as_str().unwrap()).unwrap() + by)
    };
    file["sent_at"] = at(&file["sent_at"]).into();
    for p in file["probes"].as_array_mut().unwrap() {
        p["sent_at"] = at(&p["sent_at"]).into();
    }
    std::fs::write(path, serde_json::to_vec_pretty(&file).unwrap()).unwrap();
}

fn generate(a: &Account, bucket: &str, start: i64, hours: i64, extra: &[&str]) {
    let mut args = vec![
        "generate".to_owned(),
        "--out".into(),
        format!("s3://{bucket}"),
        "--endpoint-url".into(),
        endpoint().into(),
        "--regions".into(),
        R4.into(),
        "--start".into(),
        rfc3339(start),
        "--hours".into(),
        hours.to_string(),
        "--accounts".into(),
        a.id.clone(),
        "--no-digests".into(),
        "--no-extras".into(),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = a.run(&args);
    assert!(
        out.status.success(),
        "generate: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `verify` of the four regions from `since` into `out`, digests off, JSON out.
fn verify_args(out: &Path, since: i64, extra: &[&str]) -> Vec<String> {
    let mut args: Vec<String> = [
        "verify",
        "--endpoint-url",
        endpoint(),
        "--regions",
        R4,
        "--since",
        &rfc3339(since),
        "--digests",
        "off",
        "--out",
        out.to_str().unwrap(),
        "--format",
        "json",
        "--no-progress",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    args.extend(extra.iter().map(|s| s.to_string()));
    args
}

fn verify(a: &Account, out: &Path, since: i64, extra: &[&str]) -> (i32, serde_json::Value, String) {
    let args = verify_args(out, since, extra);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let res = a.run(&args);
    let stderr = String::from_utf8_lossy(&res.stderr).into_owned();
    let summary = summary_of(out);
    (res.status.code().unwrap(), summary, stderr)
}

/// An account with a compliant trail and canaries sent to its four regions, as if two hours
/// ago (every timeout has passed): (account, the trail's bucket, a directory holding
/// canary.json, when they were sent).
async fn sent_two_hours_ago() -> (Account, String, tempfile::TempDir, i64) {
    let a = Account::new().await;
    a.trail(TrailSpec::mr("main-trail", all_mgmt())).await;
    let bucket = format!("tp-{}-main-trail", a.id);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("canary.json");
    let (code, _, stderr) = send(&a, endpoint(), R4, &path, &[]);
    assert_eq!(code, 0, "{stderr}");
    shift(&path, -2 * HOUR);
    let sent = now() - 2 * HOUR;
    (a, bucket, dir, sent)
}

#[tokio::test]
async fn verify_finds_exactly_the_canaries_that_were_lost_late_or_not_recorded() {
    let (a, bucket, dir, sent) = sent_two_hours_ago().await;
    let path = dir.path().join("canary.json");
    let start = sent - sent.rem_euclid(HOUR) - 2 * HOUR;
    let canary = path.to_str().unwrap();
    generate(
        &a,
        &bucket,
        start,
        (now() - start) / HOUR + 1,
        &[
            "--canary",
            canary,
            // Selectors that record reads only: the write canary is not recorded.
            "--fault",
            "no-writes:eu-west-1",
            // The region's canaries never arrive.
            "--fault",
            "canary-lost:ap-south-1",
            // Delivered 50 minutes after the calls (timeout 30 minutes).
            "--fault",
            "canary-late:us-west-2:50",
        ],
    );
    let out = dir.path().join("out");
    let (code, summary, stderr) = verify(&a, &out, start, &["--canary", canary]);
    assert_eq!(code, 1, "{stderr}\n{summary:#}");
    assert_eq!(summary["verdict"], "GAPS");
    let c = &summary["canary"];
    let status = by_probe(&c["probes"], "status");
    let want: BTreeMap<(String, String), &str> = [
        ("ap-south-1", "read", "not_delivered"),
        ("ap-south-1", "write", "not_delivered"),
        ("eu-west-1", "read", "delivered"),
        ("eu-west-1", "write", "not_delivered"),
        ("us-east-1", "global", "delivered"),
        ("us-east-1", "read", "delivered"),
        ("us-east-1", "write", "delivered"),
        ("us-west-2", "read", "late"),
        ("us-west-2", "write", "late"),
    ]
    .into_iter()
    .map(|(r, k, s)| ((r.to_owned(), k.to_owned()), s))
    .collect();
    let got: BTreeMap<(String, String), &str> = status
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap()))
        .collect();
    assert_eq!(got, want, "{c:#}");
    // Delivery as the generator made it: 5 minutes (to the next 5-minute stamp), 50 late.
    let delivery = by_probe(&c["probes"], "delivery_s");
    let us = delivery[&("us-east-1".to_owned(), "read".to_owned())]
        .as_i64()
        .unwrap();
    assert!((300..=600).contains(&us), "{us}");
    let late = delivery[&("us-west-2".to_owned(), "read".to_owned())]
        .as_i64()
        .unwrap();
    assert!((3_000..=3_300).contains(&late), "{late}");
    // The canary rows of the gaps: exactly one per probe that failed.
    let mut rows: Vec<(String, String)> = summary["gaps"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|g| g["category"] == "canary")
        .map(|g| {
            (
                g["region"].as_str().unwrap().to_owned(),
                g["kind"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    rows.sort();
    assert_eq!(
        rows,
        [
            ("ap-south-1".to_owned(), "not_delivered".to_owned()),
            ("ap-south-1".to_owned(), "not_delivered".to_owned()),
            ("eu-west-1".to_owned(), "not_delivered".to_owned()),
            ("us-west-2".to_owned(), "late".to_owned()),
            ("us-west-2".to_owned(), "late".to_owned()),
        ]
    );
    // The regions: us-east-1 proven; the others gaps.
    let regions: BTreeMap<&str, &str> = summary["outcome"]["regions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["region"].as_str().unwrap(), r["status"].as_str().unwrap()))
        .collect();
    assert_eq!(regions["us-east-1"], "proven", "{regions:?}");
    for r in ["eu-west-1", "ap-south-1", "us-west-2"] {
        assert_eq!(regions[r], "gap", "{r}: {regions:?}");
    }
    // The report shows the table.
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(html.contains("Canary probes (9)"), "no canary section");
}

#[tokio::test]
async fn a_delivered_canary_proves_a_region_without_organic_traffic() {
    let (a, bucket, dir, sent) = sent_two_hours_ago().await;
    let path = dir.path().join("canary.json");
    let start = sent - sent.rem_euclid(HOUR) - HOUR;
    // No organic events at all: only the canaries.
    generate(
        &a,
        &bucket,
        start,
        (now() - start) / HOUR + 1,
        &["--events-per-hour", "0", "--canary", path.to_str().unwrap()],
    );
    let out = dir.path().join("out");
    let (code, summary, stderr) = verify(&a, &out, start, &["--canary", path.to_str().unwrap()]);
    assert_eq!(code, 0, "{stderr}\n{summary:#}");
    assert_eq!(summary["verdict"], "PROVEN");
    for r in summary["outcome"]["regions"].as_array().unwrap() {
        assert_eq!(r["status"], "proven", "{r:#}");
        assert!(r["totals"]["mgmt_read"].as_u64().unwrap() >= 1, "{r:#}");
        assert!(r["totals"]["mgmt_write"].as_u64().unwrap() >= 1, "{r:#}");
    }
    let c = &summary["canary"];
    assert!(
        c["probes"]
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["status"] == "delivered"),
        "{c:#}"
    );
}

/// The staging directory of a run writing `out`: `.NAME.tmp-PID-NANOS` beside it.
fn staged(out: &Path, file: &str) -> Option<PathBuf> {
    let name = out.file_name()?.to_str()?.to_owned();
    std::fs::read_dir(out.parent()?)
        .ok()?
        .filter_map(|e| e.ok())
        .find(|e| {
            e.file_name()
                .to_str()
                .is_some_and(|n| n.starts_with(&format!(".{name}.tmp-")))
                && e.path().join(file).is_file()
        })
        .map(|e| e.path().join(file))
}

#[tokio::test]
async fn send_and_wait_verifies_once_the_canaries_are_delivered() {
    let a = Account::new().await;
    a.trail(TrailSpec::mr("main-trail", all_mgmt())).await;
    let bucket = format!("tp-{}-main-trail", a.id);
    let t = now();
    let start = t - t.rem_euclid(HOUR) - 2 * HOUR;
    generate(&a, &bucket, start, 2, &["--events-per-hour", "20"]);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let args = verify_args(
        &out,
        start,
        &[
            "--canary-send-and-wait",
            "--canary-poll",
            "1s",
            "--canary-timeout",
            "15m",
        ],
    );
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let child = a
        .command(&args, &[])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Once the canaries are sent, CloudTrail (here: the generator) delivers them.
    let began = std::time::Instant::now();
    let canary = loop {
        if let Some(p) = staged(&out, "canary.json") {
            break p;
        }
        assert!(
            began.elapsed() < std::time::Duration::from_secs(60),
            "no canary.json in the staging directory"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    let copy = dir.path().join("sent.json");
    // Written whole (aside, then moved): readable as soon as it exists.
    std::fs::copy(&canary, &copy).unwrap();
    let sent: serde_json::Value = serde_json::from_slice(&std::fs::read(&copy).unwrap()).unwrap();
    let first = trailproof::time::parse_event_time(sent["sent_at"].as_str().unwrap()).unwrap();
    generate(
        &a,
        &bucket,
        first - first.rem_euclid(HOUR),
        1,
        &[
            "--events-per-hour",
            "0",
            "--seed",
            "2",
            "--canary",
            copy.to_str().unwrap(),
        ],
    );
    let res = child.wait_with_output().unwrap();
    let waited = began.elapsed();
    let stderr = String::from_utf8_lossy(&res.stderr);
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(res.status.code(), Some(0), "{stderr}\n{summary:#}");
    assert_eq!(summary["verdict"], "PROVEN");
    let c = &summary["canary"];
    assert_eq!(c["marker"], sent["marker"]);
    let probes = c["probes"].as_array().unwrap();
    assert_eq!(probes.len(), 9);
    assert!(probes.iter().all(|p| p["status"] == "delivered"), "{c:#}");
    // It stopped waiting when the canaries arrived, long before the timeout.
    assert!(waited < std::time::Duration::from_secs(600), "{waited:?}");
    // The canary file is part of the evidence, as sent.
    assert_eq!(
        std::fs::read(out.join("canary.json")).unwrap(),
        std::fs::read(&copy).unwrap()
    );
    let manifest = std::fs::read_to_string(out.join("manifest.json")).unwrap();
    assert!(manifest.contains("\"canary.json\""), "{manifest}");
}

/// A canary file as `canary send` writes it (account 111122223333, sent
/// 2026-01-01T01:30:00Z), a local bucket generated for it with `fault`, and `scan --canary`
/// of it over the first three hours of 2026: (exit code, summary.json, stderr).
fn local(probes: Vec<serde_json::Value>, fault: &str) -> (i32, serde_json::Value, String) {
    let dir = tempfile::tempdir().unwrap();
    let file = serde_json::json!({
        "schema": "trailproof.canary/1",
        "marker": "trailproof-canary-00112233aabbccdd",
        "account_id": "111122223333",
        "partition": "aws",
        "global_region": "us-east-1",
        "sent_at": "2026-01-01T01:30:00Z",
        "probes": probes,
    });
    let path = dir.path().join("canary.json");
    std::fs::write(&path, serde_json::to_vec(&file).unwrap()).unwrap();
    let bucket = dir.path().join("bucket");
    let (code, out) = offline(&[
        "generate",
        "--out",
        bucket.to_str().unwrap(),
        "--regions",
        "us-east-1,eu-west-1",
        "--hours",
        "3",
        "--no-digests",
        "--canary",
        path.to_str().unwrap(),
        "--fault",
        fault,
    ]);
    assert_eq!(code, 0, "{out}");
    let evidence = dir.path().join("out");
    let (code, out) = offline(&[
        "scan",
        bucket.to_str().unwrap(),
        "--since",
        "2026-01-01T00:00:00Z",
        "--until",
        "2026-01-01T03:00:00Z",
        "--digests",
        "off",
        "--canary",
        path.to_str().unwrap(),
        "--out",
        evidence.to_str().unwrap(),
    ]);
    let summary = summary_of(&evidence);
    if code == 1 {
        // A canary sent outside an explicit window is refused: this run could not find it.
        let (refused, out) = offline(&[
            "scan",
            bucket.to_str().unwrap(),
            "--since",
            "2026-01-01T02:00:00Z",
            "--until",
            "2026-01-01T03:00:00Z",
            "--canary",
            path.to_str().unwrap(),
            "--out",
            dir.path().join("refused").to_str().unwrap(),
        ]);
        assert_eq!(refused, 2, "{out}");
        assert!(out.contains("outside the window"), "{out}");
    }
    (code, summary, out)
}

/// One probe of a canary file sent 2026-01-01T01:30:00Z.
fn probe(kind: &str, region: &str, id: Option<&str>) -> serde_json::Value {
    let (source, name) = match kind {
        "read" => ("cloudtrail.amazonaws.com", "DescribeTrails"),
        "write" => ("ec2.amazonaws.com", "DeleteKeyPair"),
        _ => ("iam.amazonaws.com", "ListAccountAliases"),
    };
    let mut p = serde_json::json!({"kind": kind, "region": region, "event_source": source,
        "event_name": name, "sent_at": "2026-01-01T01:30:00Z", "outcome": "answered"});
    match id {
        Some(id) => p["request_id"] = id.into(),
        None => {
            p["outcome"] = "failed".into();
            p["error"] = format!("{name} in {region}: UnauthorizedOperation").into();
        }
    }
    p
}

#[test]
fn a_canary_in_another_regions_log_files_is_a_region_mismatch() {
    let (code, summary, out) = local(
        vec![
            probe("read", "eu-west-1", Some("r-eu")),
            probe("write", "eu-west-1", Some("w-eu")),
            probe("read", "us-east-1", Some("r-us")),
            probe("write", "us-east-1", Some("w-us")),
            probe("global", "us-east-1", Some("g-us")),
        ],
        "canary-misplaced:eu-west-1",
    );
    assert_eq!(code, 1, "{out}");
    let status = by_probe(&summary["canary"]["probes"], "status");
    let found = by_probe(&summary["canary"]["probes"], "found_in_region");
    let eu_read = ("eu-west-1".to_owned(), "read".to_owned());
    assert_eq!(status[&eu_read], "region_mismatch", "{summary:#}");
    assert_eq!(found[&eu_read], "us-east-1");
    assert_eq!(
        status[&("us-east-1".to_owned(), "write".to_owned())],
        "delivered"
    );
    // A local copy has no LastModified to report; the delivery is the key's stamp.
    let delivery = by_probe(&summary["canary"]["probes"], "delivery_s");
    assert_eq!(delivery[&("us-east-1".to_owned(), "read".to_owned())], 600);
    let rows: Vec<(&str, &str)> = summary["gaps"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|g| g["category"] == "canary")
        .map(|g| (g["region"].as_str().unwrap(), g["kind"].as_str().unwrap()))
        .collect();
    assert_eq!(
        rows,
        [
            ("eu-west-1", "region_mismatch"),
            ("eu-west-1", "region_mismatch")
        ]
    );
}

#[test]
fn an_unsent_canary_leaves_the_logs_judged() {
    // The write probe's call failed; the region records no writes at all: still a gap.
    let (code, summary, out) = local(
        vec![
            probe("read", "eu-west-1", Some("r-eu")),
            probe("write", "eu-west-1", None),
        ],
        "no-writes:eu-west-1",
    );
    assert_eq!(code, 1, "{out}");
    let status = by_probe(&summary["canary"]["probes"], "status");
    assert_eq!(
        status[&("eu-west-1".to_owned(), "read".to_owned())],
        "delivered"
    );
    assert_eq!(
        status[&("eu-west-1".to_owned(), "write".to_owned())],
        "not_sent"
    );
    let eu = summary["outcome"]["regions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["region"] == "eu-west-1")
        .unwrap();
    assert_eq!(eu["status"], "gap", "{eu:#}");
    let kinds: Vec<(&str, &str)> = summary["gaps"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|g| g["region"] == "eu-west-1")
        .map(|g| (g["category"].as_str().unwrap(), g["kind"].as_str().unwrap()))
        .collect();
    assert_eq!(
        kinds,
        [("mgmt_write", "no_events"), ("canary", "not_sent")],
        "{summary:#}"
    );
}

#[test]
fn the_canary_policy_in_the_docs_is_the_permissions_output() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_trailproof"))
        .args(["permissions", "canary"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let doc = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/canary.md"))
        .unwrap();
    let start = doc.find("```json\n").expect("a policy block") + "```json\n".len();
    let end = start + doc[start..].find("```").unwrap();
    assert_eq!(
        &doc[start..end],
        String::from_utf8(out.stdout).unwrap(),
        "docs/canary.md's policy must be `trailproof permissions canary`"
    );
}
