//! The real-world bucket in `fixtures/real-corpus/` (1,582 records from ten public sources,
//! 598 files, 79 accounts, 47 regions, 2014-2026): one scan of the whole bucket with no window
//! stays within a memory bound read from the child process, and its totals equal a count made
//! here, independently (serde_json, not trailproof's parsers), from the documented rules.

use std::path::{Path, PathBuf};
use std::process::Command;

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/real-corpus")
}

/// Runs the binary and returns (exit code, peak RSS in bytes) from `wait4`, which also reaps
/// the child.
///
/// The child is spawned with `posix_spawn` (a vfork), and at its exec the kernel records the
/// parent's peak RSS in the child's `ru_maxrss`: the figure is the larger of this test
/// process's peak and the child's. As a bound it is sound (the child's peak is at most it);
/// tests that measure keep their own allocations small (they write large inputs streaming).
#[allow(unsafe_code, clippy::zombie_processes)]
pub fn run_measured(args: &[&str]) -> (i32, u64) {
    let child = Command::new(env!("CARGO_BIN_EXE_trailproof"))
        .args(args)
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("start trailproof");
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: an all-zero `rusage` is a valid value; `wait4` fills it for our own child.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `pid` is our child, not yet waited for; the pointers are to live locals.
    let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(r, pid, "wait4 failed");
    assert!(libc::WIFEXITED(status), "trailproof did not exit normally");
    // Linux reports ru_maxrss in KiB.
    (libc::WEXITSTATUS(status), usage.ru_maxrss as u64 * 1024)
}

const GLOBAL_SOURCES: [&str; 6] = [
    "iam.amazonaws.com",
    "sts.amazonaws.com",
    "signin.amazonaws.com",
    "cloudfront.amazonaws.com",
    "route53.amazonaws.com",
    "organizations.amazonaws.com",
];

/// S3 object-level operations, Lambda invocations and DynamoDB item calls: data events
/// (`docs/log-format.md` §2.3).
fn data_operation(source: &str, name: &str) -> bool {
    const S3: [&str; 26] = [
        "AbortMultipartUpload",
        "CompleteMultipartUpload",
        "CopyObject",
        "CreateMultipartUpload",
        "DeleteObject",
        "DeleteObjectTagging",
        "DeleteObjects",
        "GetObject",
        "GetObjectAcl",
        "GetObjectAttributes",
        "GetObjectLegalHold",
        "GetObjectRetention",
        "GetObjectTagging",
        "GetObjectTorrent",
        "HeadObject",
        "ListParts",
        "PostObject",
        "PutObject",
        "PutObjectAcl",
        "PutObjectLegalHold",
        "PutObjectRetention",
        "PutObjectTagging",
        "RestoreObject",
        "SelectObjectContent",
        "UploadPart",
        "UploadPartCopy",
    ];
    const DYNAMODB: [&str; 13] = [
        "BatchExecuteStatement",
        "BatchGetItem",
        "BatchWriteItem",
        "DeleteItem",
        "ExecuteStatement",
        "ExecuteTransaction",
        "GetItem",
        "PutItem",
        "Query",
        "Scan",
        "TransactGetItems",
        "TransactWriteItems",
        "UpdateItem",
    ];
    match source {
        "s3.amazonaws.com" => S3.contains(&name),
        "lambda.amazonaws.com" => name.starts_with("Invoke"),
        "dynamodb.amazonaws.com" => DYNAMODB.contains(&name),
        _ => false,
    }
}

/// The region folder of `AWSLogs/ACCOUNT/CloudTrail/REGION/YYYY/MM/DD/file`.
fn region_of(file: &Path) -> Option<&str> {
    file.ancestors().nth(4)?.file_name()?.to_str()
}

/// The partitions' region grammar (`docs/log-format.md` §1.1), written again here.
fn region_name(r: &str) -> bool {
    let p: Vec<&str> = r.split('-').collect();
    let n = p.len();
    (3..=5).contains(&n)
        && [
            "us", "eu", "ap", "sa", "ca", "me", "af", "il", "mx", "cn", "eusc",
        ]
        .contains(&p[0])
        && p[1..n - 2].iter().all(|q| {
            ["gov", "iso", "isob", "isof", "isoe"].contains(q)
                || (q.len() == 2 && q.chars().all(|c| c.is_ascii_lowercase()))
        })
        && [
            "north",
            "south",
            "east",
            "west",
            "central",
            "northeast",
            "northwest",
            "southeast",
            "southwest",
        ]
        .contains(&p[n - 2])
        && matches!(p[n - 1].parse::<u32>(), Ok(1..=99))
        && !p[n - 1].starts_with('0')
}

#[derive(Debug, Default, PartialEq, Eq)]
struct Count {
    events: u64,
    read: u64,
    write: u64,
    unknown: u64,
    global_read: u64,
    global_write: u64,
    data: u64,
    other: u64,
}

/// The documented classification, written again from the rules: `eventCategory`, else
/// `managementEvent`, else API calls, console actions and sign-ins are management unless a
/// data operation; `readOnly` read or write, absent unknown.
fn count(r: &serde_json::Value, c: &mut Count) {
    let s = |k: &str| r.get(k).and_then(|v| v.as_str());
    c.events += 1;
    let management = match (
        s("eventCategory"),
        r.get("managementEvent").and_then(|v| v.as_bool()),
    ) {
        (Some("Management"), _) => true,
        (Some("Data"), _) => {
            c.data += 1;
            return;
        }
        (Some(_), _) => false,
        (None, Some(m)) => m,
        (None, None) => {
            let t = s("eventType").unwrap_or("");
            let call = t == "AwsApiCall"
                || t == "AwsConsoleAction"
                || t.eq_ignore_ascii_case("AwsConsoleSignIn");
            if call && data_operation(s("eventSource").unwrap_or(""), s("eventName").unwrap_or(""))
            {
                c.data += 1;
                return;
            }
            call
        }
    };
    if !management {
        c.other += 1;
        return;
    }
    let global = GLOBAL_SOURCES.contains(&s("eventSource").unwrap_or(""));
    match r.get("readOnly").and_then(|v| v.as_bool()) {
        Some(true) => {
            c.read += 1;
            c.global_read += global as u64;
        }
        Some(false) => {
            c.write += 1;
            c.global_write += global as u64;
        }
        None => c.unknown += 1,
    }
}

/// Reads every log file with flate2 and serde_json: not trailproof's decoder.
#[allow(clippy::disallowed_types)]
fn independent_count(dir: &Path, c: &mut Count, files: &mut u64, skipped: &mut u64) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            independent_count(&p, c, files, skipped);
        } else if !region_of(&p).is_some_and(region_name) {
            // A region folder outside the partitions' grammar: reported as skipped, not read.
            *skipped += 1;
        } else if p.to_string_lossy().ends_with(".json.gz") {
            let mut json = Vec::new();
            std::io::Read::read_to_end(
                &mut flate2::read::GzDecoder::new(std::fs::File::open(&p).unwrap()),
                &mut json,
            )
            .unwrap();
            let doc: serde_json::Value = serde_json::from_slice(&json).unwrap();
            for r in doc["Records"].as_array().unwrap() {
                count(r, c);
            }
            *files += 1;
        }
    }
}

#[test]
fn the_whole_real_corpus_scans_in_bounded_memory_and_counts_exactly() {
    let out = tempfile::tempdir().unwrap();
    let src = corpus();
    let (code, peak) = run_measured(&[
        "scan",
        src.to_str().unwrap(),
        "--digests",
        "off",
        "--no-progress",
        "--out",
        out.path().to_str().unwrap(),
    ]);
    // Every account x region of the layout expected, most of them without writes: GAPS.
    assert_eq!(code, 1, "exit code");
    assert!(
        peak < 256 << 20,
        "peak RSS {} MiB, bound 256 MiB",
        peak >> 20
    );
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.path().join("summary.json")).unwrap()).unwrap();
    let o = &summary["outcome"];
    let (mut want, mut files, mut skipped) = (Count::default(), 0, 0);
    independent_count(&src.join("AWSLogs"), &mut want, &mut files, &mut skipped);
    assert_eq!(files + skipped, 598, "the fixture as documented");
    assert!(skipped > 0, "the fixture has look-alike region folders");
    let t = &o["totals"];
    let n = |k: &str| t[k].as_u64().unwrap_or_else(|| panic!("totals.{k}"));
    let got = Count {
        events: n("events"),
        read: n("mgmt_read"),
        write: n("mgmt_write"),
        unknown: n("mgmt_unknown"),
        global_read: n("global_read"),
        global_write: n("global_write"),
        data: n("data_events"),
        other: n("other_events"),
    };
    assert_eq!(got, want);
    assert_eq!(o["stats"]["log_files_read"].as_u64(), Some(files));
    assert_eq!(o["stats"]["events"].as_u64(), Some(want.events));
    assert!(o["stats"]["objects_skipped"].as_u64().unwrap() >= skipped);
    // Twelve years of hours: the coverage is sparse, silent stretches have their own table,
    // and summary.json stays small however many cells there are.
    assert_eq!(o["dense"], false);
    assert!(out.path().join("silences.parquet").is_file());
    let regions: std::collections::BTreeSet<String> = std::fs::read_dir(src.join("AWSLogs"))
        .unwrap()
        .flat_map(|a| std::fs::read_dir(a.unwrap().path().join("CloudTrail")).unwrap())
        .map(|r| r.unwrap().file_name().into_string().unwrap())
        .filter(|r| region_name(r))
        .collect();
    let expected: Vec<&str> = o["expected_regions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap())
        .collect();
    assert_eq!(
        expected,
        regions.iter().map(String::as_str).collect::<Vec<_>>()
    );
    // Accounts with at least one log under a region folder of the grammar.
    let with_region = std::fs::read_dir(src.join("AWSLogs"))
        .unwrap()
        .filter(|a| {
            std::fs::read_dir(a.as_ref().unwrap().path().join("CloudTrail"))
                .unwrap()
                .any(|r| region_name(r.unwrap().file_name().to_str().unwrap()))
        })
        .count();
    let accounts = o["expected_accounts"].as_array().unwrap().len();
    assert_eq!(accounts, with_region);
    assert_eq!(
        o["regions_truncated"], true,
        "more than 1,000 cells, 1,000 listed"
    );
    let listed: u64 = o["regions_by_status"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_u64().unwrap())
        .sum();
    assert_eq!(listed as usize, accounts * expected.len());
    let size = std::fs::metadata(out.path().join("summary.json"))
        .unwrap()
        .len();
    assert!(size < 2 << 20, "summary.json is {size} bytes");
}

/// KMS calls of 2014 (eventVersion 1.02, neither eventCategory nor managementEvent) are
/// management reads and writes: the cell is proven, not a read and write gap.
#[test]
fn legacy_records_prove_their_cell() {
    let out = tempfile::tempdir().unwrap();
    let (code, _) = run_measured(&[
        "scan",
        corpus().to_str().unwrap(),
        "--digests",
        "off",
        "--no-progress",
        "--since",
        "2014-11-04T00:00:00Z",
        "--until",
        "2014-11-04T01:00:00Z",
        "--accounts",
        "111122223333",
        "--regions",
        "us-east-1",
        "--global-region",
        "us-west-2",
        "--out",
        out.path().to_str().unwrap(),
    ]);
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.path().join("summary.json")).unwrap()).unwrap();
    let r = &summary["outcome"]["regions"][0];
    assert_eq!(r["region"], "us-east-1");
    assert!(r["totals"]["mgmt_read"].as_u64().unwrap() > 0, "{r}");
    assert!(r["totals"]["mgmt_write"].as_u64().unwrap() > 0, "{r}");
    assert_eq!(r["status"], "proven", "{summary:#}");
    assert_eq!(code, 0);
}
