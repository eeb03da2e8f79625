//! `scan s3://` through `scripts/fault_proxy.py`, a reverse proxy in front of the moto server
//! that answers a fraction of requests with HTTP 500 / 503 (S3 error bodies), resets the
//! connection, stalls, or sends half a body: with retries the counts must be exactly those of
//! the fault-free run, and the proxy must really have injected faults of several kinds.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use crate::scan_local::{file_rows, truth_log_files};
use crate::util::*;

const START: &str = "2026-01-01T00:00:00Z";
const UNTIL: &str = "2026-01-01T03:00:00Z";
const R3: &str = "us-east-1,eu-west-1,ap-south-1";
const KINDS: [&str; 5] = ["http500", "http503", "reset", "stall", "truncate"];

/// The venv python of `scripts/moto.sh` (stdlib is all the proxy needs).
fn python() -> String {
    match std::env::var("TRAILPROOF_TEST_PYTHON") {
        Ok(p) if !p.is_empty() => p,
        _ => {
            let out = Command::new("bash")
                .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/moto.sh"))
                .arg("python")
                .output()
                .expect("run scripts/moto.sh python");
            String::from_utf8(out.stdout).unwrap().trim().to_owned()
        }
    }
}

/// A running fault proxy; killed (and reaped) when dropped, also on a failed assertion.
struct Proxy {
    child: Child,
    port: u16,
    stderr: PathBuf,
}

impl Proxy {
    fn start(dir: &Path, rate: &str, seed: &str) -> Proxy {
        let stderr = dir.join(format!("proxy-{rate}.stderr"));
        let mut child = Command::new(python())
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/fault_proxy.py"))
            .args(["--upstream", endpoint(), "--rate", rate, "--seed", seed])
            .args(["--stall-seconds", "2", "--max-seconds", "300"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&stderr).unwrap())
            .spawn()
            .expect("start scripts/fault_proxy.py");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = match line.trim().strip_prefix("PORT=").map(str::parse) {
            Some(Ok(p)) => p,
            _ => {
                child.kill().ok();
                child.wait().ok();
                panic!(
                    "fault_proxy.py printed {line:?}, not PORT=<n>; stderr:\n{}",
                    std::fs::read_to_string(&stderr).unwrap_or_default()
                );
            }
        };
        Proxy {
            child,
            port,
            stderr,
        }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// `GET /__faults`: counts by kind, requests forwarded, every fault injected.
    fn faults(&self) -> serde_json::Value {
        let mut s = std::net::TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        s.write_all(b"GET /__faults HTTP/1.1\r\nHost: proxy\r\nConnection: close\r\n\r\n")
            .unwrap();
        let mut raw = String::new();
        s.read_to_string(&mut raw).unwrap();
        let (_, body) = raw.split_once("\r\n\r\n").expect("HTTP response");
        serde_json::from_str(body).unwrap()
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.child.kill().ok();
        self.child.wait().ok();
    }
}

/// `scan` of the bucket through `endpoint`: (exit code, summary.json, stderr).
fn scan(a: &Account, bucket: &str, endpoint: &str, out: &Path) -> (i32, serde_json::Value, String) {
    let res = a.run(&[
        "scan",
        &format!("s3://{bucket}"),
        "--digests",
        "off",
        "--since",
        START,
        "--until",
        UNTIL,
        "--format",
        "json",
        "--out",
        out.to_str().unwrap(),
        "--endpoint-url",
        endpoint,
        "--max-attempts",
        "10",
        "--connect-timeout",
        "5s",
        "--operation-timeout",
        "20s",
    ]);
    let stderr = String::from_utf8_lossy(&res.stderr).into_owned();
    let summary = summary_of(out);
    (res.status.code().expect("exit code"), summary, stderr)
}

/// What must not change under faults: the exit code, the read statistics and every
/// per-region result.
fn counted(code: i32, summary: &serde_json::Value) -> serde_json::Value {
    let o = &summary["outcome"];
    serde_json::json!({
        "exit_code": code,
        "verdict": summary["verdict"],
        "log_files_read": o["stats"]["log_files_read"],
        "events": o["stats"]["events"],
        "log_files_unreadable": o["stats"]["log_files_unreadable"],
        "totals": o["totals"],
        "regions": o["regions"],
    })
}

/// Why a run under faults differs: its gaps, every object not read `ok`, and the faults the
/// proxy injected into the requests those name.
fn diagnosis(out: &Path, summary: &serde_json::Value, faults: &serde_json::Value) -> String {
    let bad: Vec<_> = if out.join("files.parquet").exists() {
        file_rows(out, &["key", "status", "error"])
            .into_iter()
            .filter(|r| !matches!(r[1].as_deref(), Some("ok" | "skipped")))
            .collect()
    } else {
        Vec::new()
    };
    let named: Vec<&serde_json::Value> = faults["faults"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| {
            let target = f["target"].as_str().unwrap();
            bad.iter()
                .any(|r| target.contains(r[0].as_deref().unwrap_or("\u{0}")))
                || !target.contains("/AWSLogs/")
        })
        .collect();
    format!(
        "gaps: {:#}\nobjects not read: {bad:#?}\nfaults on those objects and on listings: {:#}\n\
         fault counts: {}",
        summary["gaps"],
        serde_json::Value::from(named.into_iter().cloned().collect::<Vec<_>>()),
        faults["counts"],
    )
}

#[tokio::test]
async fn scan_through_faults_counts_exactly_what_a_clean_run_counts() {
    let began = std::time::Instant::now();
    let a = Account::new().await;
    let bucket = a.bucket("faults").await;
    let generated = a.run(&[
        "generate",
        "--out",
        &format!("s3://{bucket}"),
        "--endpoint-url",
        endpoint(),
        "--regions",
        R3,
        "--hours",
        "3",
        "--events-per-hour",
        "60",
        "--no-digests",
        "--start",
        START,
        "--accounts",
        &a.id,
        "--truth",
    ]);
    assert!(
        generated.status.success(),
        "generate: {}",
        String::from_utf8_lossy(&generated.stderr)
    );
    let truth: serde_json::Value = serde_json::from_slice(&generated.stdout).unwrap();
    let dir = tempfile::tempdir().unwrap();

    let clean_out = dir.path().join("clean");
    let (code, clean, stderr) = scan(&a, &bucket, endpoint(), &clean_out);
    assert_eq!(code, 0, "fault-free scan: {stderr}\n{clean:#}");
    assert_eq!(
        clean["outcome"]["stats"]["log_files_read"].as_u64(),
        Some(truth_log_files(&truth)),
        "{clean:#}"
    );
    let want = counted(code, &clean);

    let mut report = Vec::new();
    for (rate, seed) in [("0.05", "1"), ("0.20", "2")] {
        let proxy = Proxy::start(dir.path(), rate, seed);
        let out = dir.path().join(format!("rate-{rate}"));
        let t = std::time::Instant::now();
        let (code, summary, stderr) = scan(&a, &bucket, &proxy.url(), &out);
        let took = t.elapsed();
        let faults = proxy.faults();
        let counts = &faults["counts"];
        report.push(format!(
            "rate {rate}: {} requests, faults {counts}, scan {took:.1?}",
            faults["requests"]
        ));
        let got = counted(code, &summary);
        assert!(
            got == want,
            "rate {rate}: the run under faults differs from the fault-free run.\n\
             fault-free: {want:#}\nunder faults: {got:#}\n{}\ntrailproof stderr:\n{stderr}\n\
             proxy stderr:\n{}",
            diagnosis(&out, &summary, &faults),
            std::fs::read_to_string(&proxy.stderr).unwrap_or_default()
        );
        // A run that injected nothing proves nothing. The draw hashes the request path, which
        // holds this test's random account id: ~10 faults are expected at 5% and ~50 at 20%,
        // so by chance no fault at all at 5% is ~1 run in 20,000, under 4 kinds at 20% ~10^-9.
        let kinds = KINDS
            .iter()
            .filter(|k| counts[**k].as_u64().unwrap() > 0)
            .count();
        let least = if rate == "0.05" { 1 } else { 4 };
        assert!(
            kinds >= least,
            "rate {rate}: too few kinds of fault injected to prove anything ({} requests): \
             {counts}",
            faults["requests"]
        );
    }
    eprintln!(
        "fault proxy: {} (whole test {:.1?})",
        report.join("; "),
        began.elapsed()
    );
}
