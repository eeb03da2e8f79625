//! Hostile inputs, generated here: what must never read PROVEN or VALID, hang, exhaust memory
//! or corrupt the evidence (README, "Failure behaviour").

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::real_corpus::run_measured;

const ACCOUNT: &str = "111122223333";
const START: &str = "2026-01-01T00:00:00Z";
const UNTIL: &str = "2026-01-01T06:00:00Z";

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_trailproof"))
}

fn gz(data: &[u8]) -> Vec<u8> {
    #[allow(clippy::disallowed_types)]
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// A clean 6-hour corpus of two regions, without digests.
fn corpus(dir: &Path, extra: &[&str]) {
    let out = bin()
        .args([
            "generate",
            "--out",
            dir.to_str().unwrap(),
            "--regions",
            "us-east-1,eu-west-1",
            "--hours",
            "6",
            "--start",
            START,
            "--no-digests",
        ])
        .args(extra)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The key of a log file of `region` delivered at `stamp` (`YYYYMMDDTHHMMZ`).
fn log_key(region: &str, stamp: &str, tail: &str) -> String {
    let (y, m, d) = (&stamp[0..4], &stamp[4..6], &stamp[6..8]);
    format!(
        "AWSLogs/{ACCOUNT}/CloudTrail/{region}/{y}/{m}/{d}/{ACCOUNT}_CloudTrail_{region}_{stamp}_{tail}.json.gz"
    )
}

fn put(root: &Path, key: &str, body: &[u8]) -> PathBuf {
    let p = root.join(key);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(&p, body).unwrap();
    p
}

/// Writes a gzip object from chunks, never holding the whole document.
fn put_gz(root: &Path, key: &str, chunks: impl Iterator<Item = Vec<u8>>) {
    let p = root.join(key);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    #[allow(clippy::disallowed_types)]
    let mut e = flate2::write::GzEncoder::new(
        std::fs::File::create(&p).unwrap(),
        flate2::Compression::fast(),
    );
    for c in chunks {
        e.write_all(&c).unwrap();
    }
    e.finish().unwrap();
}

/// A global-service read and write at 00:05 and 00:06: what proves us-east-1 in a test bucket.
fn global_read_and_write() -> String {
    format!(
        "{},{}",
        record(
            "2026-01-01T00:05:00Z",
            "us-east-1",
            "iam.amazonaws.com",
            true
        ),
        record(
            "2026-01-01T00:06:00Z",
            "us-east-1",
            "iam.amazonaws.com",
            false
        )
    )
}

fn record(time: &str, region: &str, source: &str, read_only: bool) -> String {
    format!(
        r#"{{"eventVersion":"1.09","eventTime":"{time}","awsRegion":"{region}","eventSource":"{source}","eventName":"X","readOnly":{read_only},"managementEvent":true,"eventCategory":"Management","eventType":"AwsApiCall","recipientAccountId":"{ACCOUNT}"}}"#
    )
}

/// Runs a scan with a deadline: a hang fails the test instead of hanging it.
fn scan_within(
    root: &Path,
    out: &Path,
    extra: &[&str],
    limit: Duration,
) -> (i32, serde_json::Value) {
    let mut child = bin()
        .args([
            "scan",
            root.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ])
        .args(["--format", "json", "--no-progress"])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let mut stdout = String::new();
            std::io::Read::read_to_string(child.stdout.as_mut().unwrap(), &mut stdout).unwrap();
            let summary = serde_json::from_str(&stdout).unwrap_or(serde_json::Value::Null);
            return (status.code().unwrap_or(-1), summary);
        }
        if started.elapsed() > limit {
            child.kill().ok();
            child.wait().ok();
            panic!("trailproof scan did not finish within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn windowed() -> [&'static str; 4] {
    ["--since", START, "--until", UNTIL]
}

fn kinds(summary: &serde_json::Value) -> Vec<String> {
    summary["gaps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            format!(
                "{}/{}/{}",
                g["region"].as_str().unwrap(),
                g["category"].as_str().unwrap(),
                g["kind"].as_str().unwrap()
            )
        })
        .collect()
}

/// Decompression bombs under the cap but together over it, and a document that made the
/// old fallback parser allocate seventeen times its size: peak RSS stays within the
/// in-flight budget plus a fixed margin.
#[test]
fn bombs_stay_within_the_in_flight_budget() {
    let t = tempfile::tempdir().unwrap();
    let root = t.path().join("bucket");
    const MIB: usize = 1 << 20;
    // Three objects inflating to 100 MiB each: valid JSON, one record, the rest spaces.
    // Written streaming, so this test process stays small (see `run_measured`).
    for (i, stamp) in ["20260101T0010Z", "20260101T0015Z", "20260101T0020Z"]
        .iter()
        .enumerate()
    {
        let head = format!(
            r#"{{"Records":[{}"#,
            record(
                "2026-01-01T00:05:00Z",
                "us-east-1",
                "iam.amazonaws.com",
                true
            )
        );
        let spaces = vec![b' '; MIB];
        let chunks = std::iter::once(head.into_bytes())
            .chain(std::iter::repeat_n(spaces, 100))
            .chain(std::iter::once(b"]}".to_vec()));
        put_gz(
            &root,
            &log_key("us-east-1", stamp, &format!("bomb{i}aaaaaaaaaaa")),
            chunks,
        );
    }
    // 60 MiB of numbers behind an escaped wanted field: the extractor declines, the fallback
    // parses it (simd-json's tape would have needed about a gigabyte).
    let head = br#"{"Records":[{"eventTime":"2026-01-01T00:06:00Z","eventSource":"iam.amazonaws.com","eventName":"\u0058","readOnly":false,"eventCategory":"Management","x":["#.to_vec();
    let numbers = b"1,".repeat(MIB / 2);
    let chunks = std::iter::once(head)
        .chain(std::iter::repeat_n(numbers, 60))
        .chain(std::iter::once(b"1]}]}".to_vec()));
    put_gz(
        &root,
        &log_key("us-east-1", "20260101T0025Z", "numbersaaaaaaaaa"),
        chunks,
    );
    // 12 MiB of empty records: gathered as records, that list would be ~80 times the
    // document (a gigabyte); past half the document the streaming fallback takes over.
    const TINY: usize = 4 << 20;
    let chunks = std::iter::once(b"{\"Records\":[{}".to_vec())
        .chain(std::iter::repeat_n(b",{}".repeat(TINY / 16), 16))
        .chain(std::iter::once(b"]}".to_vec()));
    put_gz(
        &root,
        &log_key("us-east-1", "20260101T0030Z", "tinyrecordsaaaaa"),
        chunks,
    );
    let out = t.path().join("out");
    let (code, peak) = run_measured(&[
        "scan",
        root.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--digests",
        "off",
        "--no-progress",
        "--workers",
        "3",
        "--max-decompressed-mib",
        "128",
        "--max-in-flight-mib",
        "16",
        "--since",
        START,
        "--until",
        "2026-01-01T01:00:00Z",
    ]);
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("summary.json")).unwrap()).unwrap();
    let stats = &summary["outcome"]["stats"];
    assert_eq!(stats["log_files_read"], 5, "{stats}");
    assert_eq!(stats["events"], 4 + 1 + TINY as u64, "{stats}");
    assert_eq!(
        stats["events_bad_time"],
        1 + TINY as u64,
        "records without a time"
    );
    // Budget 128 MiB decompressed + 16 MiB compressed + a fixed margin of 96 MiB (runtime,
    // Parquet writers, buffers each worker keeps). Without the budget three workers held
    // 300 MiB of bombs at once, and the fallback another gigabyte.
    let bound = (128 + 16 + 96) << 20;
    eprintln!("bombs: peak RSS {} MiB", peak >> 20);
    assert!(
        peak < bound,
        "peak RSS {} MiB, bound {} MiB",
        peak >> 20,
        bound >> 20
    );
    assert_eq!(code, 0);
}

/// A FIFO named like a log file, and a digest key linked to /dev/zero: never opened, the run
/// finishes and says what they are.
#[test]
fn non_regular_files_are_never_opened() {
    let t = tempfile::tempdir().unwrap();
    let root = t.path().join("bucket");
    corpus(&root, &[]);
    let fifo = root.join(log_key("eu-west-1", "20260101T0310Z", "fifofifofifofifo"));
    std::fs::create_dir_all(fifo.parent().unwrap()).unwrap();
    let made = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(made.success());
    let out = t.path().join("out");
    let (code, summary) = scan_within(&root, &out, &windowed(), Duration::from_secs(60));
    assert_eq!(code, 1, "{summary:#}");
    assert_eq!(summary["verdict"], "UNKNOWN", "{summary:#}");
    let files = crate::scan_local::file_rows(&out, &["key", "status"]);
    let fifo_row = files
        .iter()
        .find(|r| r[0].as_deref().is_some_and(|k| k.contains("fifofifo")))
        .expect("the FIFO is listed");
    assert_eq!(fifo_row[1].as_deref(), Some("not_a_file"));

    // A digest key linked to /dev/zero, validated offline: refused, not read forever.
    let signed = t.path().join("signed");
    let keys = t.path().join("keys.json");
    let res = bin()
        .args([
            "generate",
            "--out",
            signed.to_str().unwrap(),
            "--regions",
            "eu-west-1",
        ])
        .args([
            "--hours",
            "4",
            "--start",
            START,
            "--public-keys-out",
            keys.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(res.status.success());
    let day = signed.join(format!(
        "AWSLogs/{ACCOUNT}/CloudTrail-Digest/eu-west-1/2026/01/01"
    ));
    let mut digests: Vec<PathBuf> = std::fs::read_dir(&day)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    digests.sort();
    let victim = &digests[2];
    std::fs::remove_file(victim).unwrap();
    std::os::unix::fs::symlink("/dev/zero", victim).unwrap();
    let started = Instant::now();
    let res = bin()
        .args(["validate", signed.to_str().unwrap(), "--since", START])
        .args([
            "--until",
            "2026-01-01T04:00:00Z",
            "--format",
            "json",
            "--public-keys",
        ])
        .arg(&keys)
        .arg("--out")
        .arg(t.path().join("validated"))
        .output()
        .unwrap();
    assert!(started.elapsed() < Duration::from_secs(60));
    assert_eq!(
        res.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&res.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&res.stdout).unwrap();
    assert_eq!(report["result"], "INVALID");
    let problems = report["digests"]["regions"][0]["problems"].to_string();
    assert!(problems.contains("not_a_file"), "{problems}");
}

/// A file whose JSON breaks after some records: none of them reach `events.parquet` or the
/// counts; a dangling link named like a log is listed as unreadable, and the walk goes on.
#[test]
fn a_file_failing_midway_leaves_nothing_behind() {
    let t = tempfile::tempdir().unwrap();
    let root = t.path().join("bucket");
    let good = format!(r#"{{"Records":[{}]}}"#, global_read_and_write(),);
    put(
        &root,
        &log_key("us-east-1", "20260101T0010Z", "goodgoodgoodgood"),
        &gz(good.as_bytes()),
    );
    // An escape sends it to the streaming fallback, which visits two records, then fails.
    let broken = format!(
        r#"{{"Records":[{},{},{{"eventName":"X","eventTime":"not a time"}},{{"eventTi"#,
        record(
            "2026-01-01T00:07:00Z",
            "us-east-1",
            "ec2.amazonaws.com",
            true
        ),
        record(
            "2026-01-01T00:08:00Z",
            "us-east-1",
            "ec2.amazonaws.com",
            false
        ),
    );
    put(
        &root,
        &log_key("us-east-1", "20260101T0015Z", "brokenbrokenbrok"),
        &gz(broken.as_bytes()),
    );
    let dangling = root.join(log_key("us-east-1", "20260101T0020Z", "danglingdangling"));
    std::os::unix::fs::symlink(t.path().join("nowhere"), &dangling).unwrap();
    let out = t.path().join("out");
    let (code, summary) = scan_within(
        &root,
        &out,
        &[
            "--digests",
            "off",
            "--events",
            "--since",
            START,
            "--until",
            "2026-01-01T01:00:00Z",
        ],
        Duration::from_secs(60),
    );
    assert_eq!(code, 1, "{summary:#}");
    let stats = &summary["outcome"]["stats"];
    assert_eq!(stats["events"], 2, "{stats}");
    assert_eq!(stats["events_bad_time"], 0, "{stats}");
    assert_eq!(stats["log_files_unreadable"], 2, "{stats}");
    let events = crate::scan_local::batches(&out.join("events.parquet"));
    assert_eq!(events.iter().map(|b| b.num_rows()).sum::<usize>(), 2);
    let rows = crate::scan_local::file_rows(&out, &["key", "status"]);
    let status = |k: &str| {
        rows.iter()
            .find(|r| r[0].as_deref().is_some_and(|x| x.contains(k)))
            .and_then(|r| r[1].clone())
    };
    assert_eq!(status("brokenbroken").as_deref(), Some("invalid_json"));
    assert_eq!(status("danglingdangling").as_deref(), Some("not_a_file"));
}

/// Far-off dates in a window-less scan: no grid across millennia, events counted apart.
#[test]
fn far_off_event_times_are_counted_apart() {
    let t = tempfile::tempdir().unwrap();
    let root = t.path().join("bucket");
    let doc = format!(
        r#"{{"Records":[{},{},{}]}}"#,
        record(
            "9999-12-31T23:00:00Z",
            "us-east-1",
            "ec2.amazonaws.com",
            true
        ),
        record(
            "0001-01-01T00:00:00Z",
            "us-east-1",
            "ec2.amazonaws.com",
            false
        ),
        global_read_and_write(),
    );
    put(
        &root,
        &log_key("us-east-1", "20260101T0010Z", "farfarfarfarfarf"),
        &gz(doc.as_bytes()),
    );
    let out = t.path().join("out");
    let (code, peak) = run_measured(&[
        "scan",
        root.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--digests",
        "off",
        "--no-progress",
    ]);
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("summary.json")).unwrap()).unwrap();
    let stats = &summary["outcome"]["stats"];
    assert_eq!(stats["events_after_delivery"], 1, "{stats}");
    assert_eq!(stats["events_bad_time"], 1, "{stats}");
    assert_eq!(summary["outcome"]["window_start"], "2026-01-01T00:00:00Z");
    assert_eq!(summary["outcome"]["window_end"], "2026-01-01T01:00:00Z");
    assert!(peak < 128 << 20, "peak RSS {} MiB", peak >> 20);
    assert!(kinds(&summary).contains(&"us-east-1/integrity/event_after_delivery".to_owned()));
    assert_eq!(code, 1);
    // A window before CloudTrail existed is refused, not planned.
    let res = bin()
        .args([
            "scan",
            root.to_str().unwrap(),
            "--since",
            "0001-01-01",
            "--out",
        ])
        .arg(t.path().join("out2"))
        .output()
        .unwrap();
    assert_eq!(res.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&res.stderr).contains("before CloudTrail existed"));
}

/// Forged evidence in a silent or write-less region proves nothing: a file delivered before
/// its events happened, and a write with a time that is not a time.
#[test]
fn forged_times_never_prove_coverage() {
    let t = tempfile::tempdir().unwrap();
    let root = t.path().join("bucket");
    corpus(
        &root,
        &[
            "--fault",
            "silent:eu-west-1:2:3",
            "--fault",
            "no-writes:us-east-1",
        ],
    );
    let out = t.path().join("out");
    let flags = [
        "--since",
        START,
        "--until",
        UNTIL,
        "--max-silence",
        "2h",
        "--digests",
        "off",
    ];
    let (code, before) = scan_within(&root, &out, &flags, Duration::from_secs(60));
    assert_eq!(code, 1);
    let gaps_before = kinds(&before);
    assert!(
        gaps_before.contains(&"eu-west-1/delivery/no_log_files".to_owned()),
        "{gaps_before:?}"
    );
    assert!(
        gaps_before.contains(&"us-east-1/mgmt_write/no_events".to_owned()),
        "{gaps_before:?}"
    );
    // Delivered at 00:35, holding events of 02:00-05:00 (the silent hours).
    let forged: Vec<String> = (2..5)
        .flat_map(|h| {
            let ts = format!("2026-01-01T{h:02}:30:00Z");
            [
                record(&ts, "eu-west-1", "ec2.amazonaws.com", true),
                record(&ts, "eu-west-1", "ec2.amazonaws.com", false),
            ]
        })
        .collect();
    put(
        &root,
        &log_key("eu-west-1", "20260101T0035Z", "forgedforgedforg"),
        &gz(format!(r#"{{"Records":[{}]}}"#, forged.join(",")).as_bytes()),
    );
    // A write whose time is not a time.
    let lenient = record(
        "2026-01-01T00:30:00 not a time Z",
        "us-east-1",
        "ec2.amazonaws.com",
        false,
    );
    put(
        &root,
        &log_key("us-east-1", "20260101T0040Z", "lenientlenientle"),
        &gz(format!(r#"{{"Records":[{lenient}]}}"#).as_bytes()),
    );
    let (code, after) = scan_within(
        &root,
        &t.path().join("out2"),
        &flags,
        Duration::from_secs(60),
    );
    assert_eq!(code, 1);
    assert_ne!(after["verdict"], "PROVEN");
    let gaps_after = kinds(&after);
    for g in &gaps_before {
        assert!(gaps_after.contains(g), "{g} disappeared: {gaps_after:?}");
    }
    assert!(
        gaps_after.contains(&"eu-west-1/integrity/event_after_delivery".to_owned()),
        "{gaps_after:?}"
    );
    let stats = &after["outcome"]["stats"];
    assert_eq!(stats["events_after_delivery"], 6, "{stats}");
    assert_eq!(stats["events_bad_time"], 1, "{stats}");
}

/// A valid document the full parser rejects is unreadable whether or not an escape elsewhere
/// sends it to the fallback: the two parsers never disagree.
#[test]
fn a_number_the_parsers_could_disagree_on_is_read_alike() {
    let t = tempfile::tempdir().unwrap();
    let root = t.path().join("bucket");
    let plain = r#"{"Records":[{"eventTime":"2026-01-01T00:05:00Z","eventName":"X","readOnly":true,"eventCategory":"Management","n":1e400}]}"#;
    let escaped = r#"{"Records":[{"eventTime":"2026-01-01T00:05:00Z","eventName":"\u0058","readOnly":true,"eventCategory":"Management","n":1e400}]}"#;
    let big = r#"{"Records":[{"eventTime":"2026-01-01T00:05:00Z","eventName":"X","readOnly":true,"eventCategory":"Management","n":18446744073709551616}]}"#;
    put(
        &root,
        &log_key("us-east-1", "20260101T0010Z", "plainplainplainp"),
        &gz(plain.as_bytes()),
    );
    put(
        &root,
        &log_key("us-east-1", "20260101T0015Z", "escapedescapedes"),
        &gz(escaped.as_bytes()),
    );
    put(
        &root,
        &log_key("us-east-1", "20260101T0020Z", "bigbigbigbigbigb"),
        &gz(big.as_bytes()),
    );
    let out = t.path().join("out");
    scan_within(
        &root,
        &out,
        &[
            "--digests",
            "off",
            "--since",
            START,
            "--until",
            "2026-01-01T01:00:00Z",
        ],
        Duration::from_secs(60),
    );
    let rows = crate::scan_local::file_rows(&out, &["key", "status"]);
    let statuses: Vec<(String, Option<String>)> = rows
        .iter()
        .map(|r| (r[0].clone().unwrap(), r[1].clone()))
        .collect();
    let first = &statuses[0].1;
    assert!(statuses.iter().all(|(_, s)| s == first), "{statuses:?}");
}

/// Folders that are not regions are not expected regions; events naming another recipient
/// account are counted, and reported.
#[test]
fn odd_folders_and_accounts_are_reported() {
    let t = tempfile::tempdir().unwrap();
    let root = t.path().join("bucket");
    corpus(&root, &[]);
    let other = record(
        "2026-01-01T00:05:00Z",
        "us-east-1",
        "ec2.amazonaws.com",
        true,
    )
    .replace(ACCOUNT, "999988887777");
    put(
        &root,
        &log_key("us-east-1", "20260101T0010Z", "otheraccountaaaa"),
        &gz(format!(r#"{{"Records":[{other}]}}"#).as_bytes()),
    );
    let fake = record(
        "2026-01-01T00:05:00Z",
        "xx-fake-9",
        "ec2.amazonaws.com",
        true,
    );
    put(
        &root,
        &log_key("xx-fake-9", "20260101T0010Z", "fakeregionaaaaaa"),
        &gz(format!(r#"{{"Records":[{fake}]}}"#).as_bytes()),
    );
    let (code, summary) = scan_within(
        &root,
        &t.path().join("out"),
        &["--since", START, "--until", UNTIL, "--digests", "off"],
        Duration::from_secs(60),
    );
    assert_eq!(code, 0, "{summary:#}");
    let o = &summary["outcome"];
    assert_eq!(
        o["expected_regions"],
        serde_json::json!(["eu-west-1", "us-east-1"])
    );
    let m = &o["account_mismatches"][0];
    assert_eq!(
        m["recipient_accounts"],
        serde_json::json!(["999988887777"]),
        "{o:#}"
    );
    assert_eq!(m["events"], 1);
    let rows = crate::scan_local::file_rows(&t.path().join("out"), &["key", "status", "error"]);
    let fake_row = rows
        .iter()
        .find(|r| r[0].as_deref().is_some_and(|k| k.contains("xx-fake-9")))
        .unwrap();
    assert_eq!(fake_row[1].as_deref(), Some("skipped"));
    assert!(
        fake_row[2].as_deref().unwrap().contains("not a region"),
        "{fake_row:?}"
    );
}

/// The evidence directory is all or nothing: a failing run leaves a PROVEN directory as it
/// was, a concurrent run is refused, a directory that is not evidence is never replaced.
#[test]
fn the_evidence_directory_is_all_or_nothing() {
    let t = tempfile::tempdir().unwrap();
    let root = t.path().join("bucket");
    corpus(&root, &[]);
    let out = t.path().join("out");
    let flags = [
        "--since",
        START,
        "--until",
        UNTIL,
        "--digests",
        "off",
        "--events",
    ];
    let (code, first) = scan_within(&root, &out, &flags, Duration::from_secs(60));
    assert_eq!((code, first["verdict"].as_str()), (0, Some("PROVEN")));
    let summary_before = std::fs::read(out.join("summary.json")).unwrap();
    let files_before = std::fs::read(out.join("files.parquet")).unwrap();
    // A run that fails (its source vanished) into the same directory.
    let res = bin()
        .args([
            "scan",
            t.path().join("gone").to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ])
        .args(["--digests", "off"])
        .output()
        .unwrap();
    assert_eq!(res.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&res.stderr).contains("was left as it was"));
    assert_eq!(
        std::fs::read(out.join("summary.json")).unwrap(),
        summary_before
    );
    assert_eq!(
        std::fs::read(out.join("files.parquet")).unwrap(),
        files_before
    );
    assert!(out.join("events.parquet").exists());
    // A run without --events replaces the directory whole: no events.parquet of the first.
    let (code, _) = scan_within(
        &root,
        &out,
        &["--since", START, "--until", UNTIL, "--digests", "off"],
        Duration::from_secs(60),
    );
    assert_eq!(code, 0);
    assert!(!out.join("events.parquet").exists());
    // A run while another holds the directory's lock is refused.
    let lock = std::fs::File::options()
        .write(true)
        .open(t.path().join(".out.lock"))
        .unwrap();
    lock.try_lock().unwrap();
    let scan_into = |dir: &Path| {
        bin()
            .args(["scan", root.to_str().unwrap(), "--digests", "off", "--out"])
            .arg(dir)
            .output()
            .unwrap()
    };
    let res = scan_into(&out);
    assert_eq!(res.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&res.stderr).contains("another run"));
    drop(lock);
    // A directory that is not evidence.
    let mine = t.path().join("mine");
    std::fs::create_dir(&mine).unwrap();
    std::fs::write(mine.join("notes.txt"), "keep").unwrap();
    let res = scan_into(&mine);
    assert_eq!(res.status.code(), Some(2));
    assert_eq!(
        std::fs::read_to_string(mine.join("notes.txt")).unwrap(),
        "keep"
    );
}
