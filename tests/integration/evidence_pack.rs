//! The evidence pack: report.html in headless Chromium (through the DOM), OSCAL and OCSF
//! against real validators from PyPI, `verify-evidence` against a changed byte in every file,
//! byte-identical reruns, and trail changes beside the gaps they explain.
//!
//! Needs what `scripts/test.sh` installs (`scripts/evidence_tools.sh`): the validators'
//! pythons in `TRAILPROOF_OSCAL11_PYTHON` / `TRAILPROOF_OSCAL12_PYTHON` and the browser in
//! `TRAILPROOF_CHROMIUM`.

use std::path::{Path, PathBuf};
use std::process::Command;

const REGIONS: &str = "us-east-1,eu-west-1,ap-south-1";

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_trailproof"))
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn tool(var: &str) -> String {
    std::env::var(var).unwrap_or_else(|_| {
        panic!(
            "{var} is not set: run the tests with scripts/test.sh (it installs the evidence tools)"
        )
    })
}

/// A corpus of `hours` hours over three regions, logging stopped in eu-west-1 for 5 hours
/// from hour 10, signed digests; returns (corpus dir, keys file).
fn corpus(t: &Path, hours: u32) -> (PathBuf, PathBuf) {
    let dir = t.join("corpus");
    let keys = t.join("keys.json");
    let out = bin()
        .args([
            "generate",
            "--out",
            dir.to_str().unwrap(),
            "--regions",
            REGIONS,
        ])
        .args(["--hours", &hours.to_string(), "--events-per-hour", "12"])
        .args(["--fault", "stop-logging:eu-west-1:10:5"])
        .args(["--public-keys-out", keys.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (dir, keys)
}

/// Scans the corpus into `out` over `days` days; returns the exit code.
fn scan(corpus: &Path, keys: &Path, out: &Path, days: u32, env: &[(&str, &str)]) -> i32 {
    let until = format!("2026-01-{:02}", 1 + days);
    let res = bin()
        .args([
            "scan",
            corpus.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ])
        .args([
            "--since",
            "2026-01-01",
            "--until",
            &until,
            "--max-silence",
            "3h",
        ])
        .args(["--public-keys", keys.to_str().unwrap(), "--no-progress"])
        .envs(env.iter().copied())
        .output()
        .unwrap();
    let code = res.status.code().unwrap();
    assert!(
        code <= 1,
        "scan failed: {}",
        String::from_utf8_lossy(&res.stderr)
    );
    code
}

fn summary(dir: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(dir.join("summary.json")).unwrap()).unwrap()
}

/// Opens `html` in headless Chromium; returns the browser check's JSON report.
pub(crate) fn browse(html: &Path, out: &Path) -> serde_json::Value {
    let res = Command::new("python3")
        .arg(root().join("scripts/browser_check.py"))
        .arg(html)
        .arg(out)
        .arg("300")
        .env("CHROMIUM", tool("TRAILPROOF_CHROMIUM"))
        .output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&res.stdout).unwrap_or_else(|e| {
        panic!(
            "browser check printed no report ({e}): {}",
            String::from_utf8_lossy(&res.stderr)
        )
    });
    assert!(res.status.success(), "the page logged errors: {report:#}");
    report
}

#[test]
fn the_report_shows_the_verdict_heat_map_gaps_and_the_trail_changes_beside_them() {
    let t = tempfile::tempdir().unwrap();
    let (corpus, keys) = corpus(t.path(), 48);
    let ev = t.path().join("ev");
    assert_eq!(scan(&corpus, &keys, &ev, 2, &[]), 1);
    let s = summary(&ev);
    assert_eq!(s["verdict"], "GAPS");
    let gaps = s["gaps"].as_array().unwrap().len();
    assert!(
        gaps >= 2,
        "the stop leaves a silence and a broken chain: {gaps}"
    );
    // The trail changes are in the JSON and the table.
    let changes: Vec<&str> = s["trail_changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["event_name"].as_str().unwrap())
        .collect();
    assert_eq!(changes, ["StopLogging", "StartLogging"]);
    assert_eq!(s["trail_changes"][0]["region"], "eu-west-1");
    assert!(
        s["trail_changes"][0]["actor"]
            .as_str()
            .unwrap()
            .starts_with("arn:aws:")
    );

    let shot = t.path().join("shot");
    let r = browse(&ev.join("report.html"), &shot);
    let f = &r["facts"];
    assert_eq!(r["errors"], serde_json::json!([]));
    // Self-contained: the file itself is the only request the page made.
    let requests: Vec<&str> = r["requests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u.as_str().unwrap())
        .collect();
    assert_eq!(requests.len(), 1, "{requests:?}");
    assert!(requests[0].ends_with("/ev/report.html"));
    assert_eq!(f["verdict"], "GAPS");
    assert_eq!(f["heatmap_unit"], "hour");
    // One account x three regions x 48 hours.
    assert_eq!(f["heatmap_cells"], 3 * 48);
    assert_eq!(f["heatmap_rows"], 3);
    assert!(f["gap_cells"].as_u64().unwrap() >= 4, "{f}");
    assert_eq!(f["gap_rows"].as_u64().unwrap() as usize, gaps);
    assert_eq!(f["change_rows"], 2);
    assert_eq!(
        f["change_events"],
        serde_json::json!(["StopLogging", "StartLogging"])
    );
    assert_eq!(f["change_cells"], 2);
    // The timeline puts the StopLogging before the silence it explains.
    let kinds: Vec<&str> = f["timeline_kinds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k.as_str().unwrap())
        .collect();
    let stop = kinds.iter().position(|k| *k == "tl-change").unwrap();
    assert!(kinds[stop + 1..].contains(&"tl-gap"), "{kinds:?}");
    assert_eq!(
        f["sections"],
        serde_json::json!([
            "verdict",
            "config",
            "coverage",
            "gaps",
            "changes",
            "integrity",
            "controls",
            "method"
        ])
    );
    let png = std::fs::read(shot.join("screenshot.png")).unwrap();
    assert_eq!(&png[1..4], b"PNG");
    let pdf = std::fs::read(shot.join("page.pdf")).unwrap();
    assert!(pdf.starts_with(b"%PDF"), "print to PDF");
    assert!(pdf.len() > 10_000);
}

#[test]
fn windows_over_a_week_get_a_daily_map_with_hourly_drill_downs() {
    let t = tempfile::tempdir().unwrap();
    let (corpus, keys) = corpus(t.path(), 24 * 9);
    let ev = t.path().join("ev");
    scan(&corpus, &keys, &ev, 9, &[]);
    let r = browse(&ev.join("report.html"), &t.path().join("shot"));
    let f = &r["facts"];
    assert_eq!(f["heatmap_unit"], "day");
    assert_eq!(f["heatmap_cells"], 3 * 9);
    assert_eq!(f["drill_cells"], 3 * 9 * 24);
    assert!(f["gap_cells"].as_u64().unwrap() >= 1);
}

fn validate(python_var: &str, script: &str, file: &Path) -> (bool, String) {
    let res = Command::new(tool(python_var))
        .arg(root().join("scripts").join(script))
        .arg(file)
        .output()
        .unwrap();
    (
        res.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&res.stdout),
            String::from_utf8_lossy(&res.stderr)
        ),
    )
}

#[test]
fn oscal_and_ocsf_outputs_pass_the_real_validators_and_broken_copies_do_not() {
    let t = tempfile::tempdir().unwrap();
    let (corpus, keys) = corpus(t.path(), 24);
    let ev = t.path().join("ev");
    scan(&corpus, &keys, &ev, 1, &[]);
    let oscal = ev.join("oscal-assessment-results.json");
    let ocsf = ev.join("findings.ocsf.json");
    for var in ["TRAILPROOF_OSCAL11_PYTHON", "TRAILPROOF_OSCAL12_PYTHON"] {
        let (ok, out) = validate(var, "validate_oscal.py", &oscal);
        assert!(ok, "{var}: {out}");
    }
    let (ok, out) = validate("TRAILPROOF_OSCAL11_PYTHON", "validate_ocsf.py", &ocsf);
    assert!(ok, "{out}");

    // What they hold: findings per control, evidence with hashes, the gaps' controls failing.
    let doc: serde_json::Value = serde_json::from_slice(&std::fs::read(&oscal).unwrap()).unwrap();
    let result = &doc["assessment-results"]["results"][0];
    let state = |id: &str| {
        result["findings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["target"]["target-id"] == format!("{id}_smt"))
            .map(|f| f["target"]["status"]["state"].as_str().unwrap().to_owned())
    };
    // A silence (regional coverage) and a broken digest chain (integrity).
    assert_eq!(state("au-12").as_deref(), Some("not-satisfied"));
    assert_eq!(state("au-9").as_deref(), Some("not-satisfied"));
    let resources = doc["assessment-results"]["back-matter"]["resources"]
        .as_array()
        .unwrap();
    let gaps_res = resources
        .iter()
        .find(|r| r["title"] == "gaps.parquet")
        .unwrap();
    let sha = gaps_res["rlinks"][0]["hashes"][0]["value"]
        .as_str()
        .unwrap();
    let actual = {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(
            std::fs::read(ev.join("gaps.parquet")).unwrap(),
        ))
    };
    assert_eq!(sha, actual);
    let records: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&ocsf).unwrap()).unwrap();
    let fail = records
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["metadata"]["event_code"] == "cis-aws:3.1")
        .unwrap();
    assert_eq!(fail["compliance"]["status_id"], 3);
    assert_eq!(fail["class_uid"], 2003);

    // The validators are real: a wrong state and a wrong class are caught.
    let bad = t.path().join("bad-oscal.json");
    std::fs::write(
        &bad,
        std::fs::read_to_string(&oscal)
            .unwrap()
            .replacen("\"not-satisfied\"", "\"bogus\"", 1),
    )
    .unwrap();
    assert!(!validate("TRAILPROOF_OSCAL11_PYTHON", "validate_oscal.py", &bad).0);
    let bad = t.path().join("bad-ocsf.json");
    std::fs::write(
        &bad,
        std::fs::read_to_string(&ocsf).unwrap().replacen(
            "\"class_uid\": 2003",
            "\"class_uid\": 2004",
            1,
        ),
    )
    .unwrap();
    assert!(!validate("TRAILPROOF_OSCAL11_PYTHON", "validate_ocsf.py", &bad).0);
}

fn verify_evidence(dir: &Path, extra: &[&str]) -> (i32, String) {
    let res = bin()
        .args(["verify-evidence", dir.to_str().unwrap()])
        .args(extra)
        .output()
        .unwrap();
    (
        res.status.code().unwrap(),
        String::from_utf8_lossy(&res.stdout).into_owned(),
    )
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
    }
}

#[test]
fn verify_evidence_names_any_changed_byte_added_or_missing_file() {
    let t = tempfile::tempdir().unwrap();
    let (corpus, keys) = corpus(t.path(), 12);
    let ev = t.path().join("ev");
    scan(&corpus, &keys, &ev, 1, &[]);
    let (code, out) = verify_evidence(&ev, &[]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("INTACT"));
    let manifest_sha = out
        .lines()
        .find_map(|l| l.strip_prefix("manifest.json SHA-256 "))
        .unwrap()
        .to_owned();
    assert_eq!(
        verify_evidence(&ev, &["--manifest-sha256", &manifest_sha]).0,
        0
    );

    let mut names: Vec<String> = std::fs::read_dir(&ev)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert!(names.len() >= 9, "{names:?}");
    for (i, name) in names.iter().enumerate() {
        let copy = t.path().join(format!("copy-{i}"));
        copy_dir(&ev, &copy);
        let path = copy.join(name);
        let mut bytes = std::fs::read(&path).unwrap();
        // One byte in the middle, changed.
        let at = bytes.len() / 2;
        bytes[at] ^= 0x01;
        std::fs::write(&path, bytes).unwrap();
        let (code, out) = verify_evidence(&copy, &[]);
        assert_eq!(code, 1, "{name}: {out}");
        assert!(out.contains("CHANGED"), "{name}: {out}");
        assert!(
            out.contains(&format!("  {name}:")),
            "{name} is not named: {out}"
        );
    }
    let copy = t.path().join("added");
    copy_dir(&ev, &copy);
    std::fs::write(copy.join("notes.txt"), "later").unwrap();
    let (code, out) = verify_evidence(&copy, &[]);
    assert_eq!(code, 1);
    assert!(out.contains("notes.txt: not in the manifest"), "{out}");
    let copy = t.path().join("missing");
    copy_dir(&ev, &copy);
    std::fs::remove_file(copy.join("gaps.parquet")).unwrap();
    let (code, out) = verify_evidence(&copy, &[]);
    assert_eq!(code, 1);
    assert!(out.contains("gaps.parquet: missing"), "{out}");
    // Hidden files, directories and links are no run's output either.
    let copy = t.path().join("hidden");
    copy_dir(&ev, &copy);
    std::fs::write(copy.join(".x"), "later").unwrap();
    std::fs::create_dir(copy.join("sub")).unwrap();
    std::os::unix::fs::symlink("/dev/zero", copy.join("zero")).unwrap();
    let (code, out) = verify_evidence(&copy, &[]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains(".x: not in the manifest"), "{out}");
    assert!(out.contains("sub: not a regular file"), "{out}");
    assert!(out.contains("zero: not a regular file"), "{out}");
    let copy = t.path().join("no-manifest");
    copy_dir(&ev, &copy);
    std::fs::remove_file(copy.join("manifest.json")).unwrap();
    let (code, out) = verify_evidence(&copy, &[]);
    assert_eq!(code, 1);
    assert!(out.contains("manifest.json: missing"), "{out}");
    // A consistent rewrite passes the manifest alone, not the anchored hash.
    let (code, out) = verify_evidence(&ev, &["--manifest-sha256", &"0".repeat(64)]);
    assert_eq!(code, 1);
    assert!(out.contains("not the"), "{out}");
}

#[test]
fn two_runs_on_the_same_input_write_the_same_bytes() {
    let t = tempfile::tempdir().unwrap();
    let (corpus, keys) = corpus(t.path(), 24);
    let env = [("SOURCE_DATE_EPOCH", "1767312000")];
    // The same command line each time (the evidence directory is one of its parameters).
    let ev = t.path().join("ev");
    let (a, b, c) = (t.path().join("a"), t.path().join("b"), t.path().join("c"));
    scan(&corpus, &keys, &ev, 1, &env);
    std::fs::rename(&ev, &a).unwrap();
    scan(&corpus, &keys, &ev, 1, &env);
    std::fs::rename(&ev, &b).unwrap();
    // A third run at another time: only generated_at (and what carries it) differs.
    scan(
        &corpus,
        &keys,
        &ev,
        1,
        &[("SOURCE_DATE_EPOCH", "1767398400")],
    );
    std::fs::rename(&ev, &c).unwrap();
    let mut names: Vec<String> = std::fs::read_dir(&a)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    for name in &names {
        let (x, y) = (
            std::fs::read(a.join(name)).unwrap(),
            std::fs::read(b.join(name)).unwrap(),
        );
        assert!(x == y, "{name} differs between two runs on the same input");
        if name.ends_with(".parquet") {
            assert_eq!(x, std::fs::read(c.join(name)).unwrap(), "{name}");
        }
    }
    let strip = |d: &Path| {
        let mut s = summary(d);
        s.as_object_mut().unwrap().remove("generated_at");
        s
    };
    assert_eq!(strip(&a), strip(&c));
    assert_ne!(summary(&a)["generated_at"], summary(&c)["generated_at"]);
    assert_eq!(summary(&a)["generated_at"], "2026-01-02T00:00:00Z");
}

#[test]
fn report_re_renders_the_same_page_from_the_directory_alone() {
    let t = tempfile::tempdir().unwrap();
    let (corpus, keys) = corpus(t.path(), 12);
    let ev = t.path().join("ev");
    scan(&corpus, &keys, &ev, 1, &[]);
    let other = t.path().join("again.html");
    let res = bin()
        .args([
            "report",
            ev.to_str().unwrap(),
            "--output",
            other.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(
        res.status.success(),
        "{}",
        String::from_utf8_lossy(&res.stderr)
    );
    assert!(String::from_utf8_lossy(&res.stdout).contains("identical"));
    assert_eq!(
        std::fs::read(&other).unwrap(),
        std::fs::read(ev.join("report.html")).unwrap()
    );
    // Into the directory itself: still the recorded bytes, so the manifest holds.
    let res = bin()
        .args(["report", ev.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(res.status.success());
    assert_eq!(verify_evidence(&ev, &[]).0, 0);
    // Other bytes are never written into the evidence: the report of a changed directory
    // (here a summary edited after the run) is refused there, and allowed elsewhere.
    let copy = t.path().join("edited");
    copy_dir(&ev, &copy);
    let text = std::fs::read_to_string(copy.join("summary.json")).unwrap();
    std::fs::write(
        copy.join("summary.json"),
        text.replacen("GAPS", "PROVEN", 1),
    )
    .unwrap();
    let res = bin()
        .args(["report", copy.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(res.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&res.stderr).contains("--output"));
    assert_eq!(
        std::fs::read(copy.join("report.html")).unwrap(),
        std::fs::read(ev.join("report.html")).unwrap()
    );
}

#[test]
fn statements_the_run_could_not_judge_are_unknown_not_satisfied() {
    let t = tempfile::tempdir().unwrap();
    let (corpus, keys) = corpus(t.path(), 12);
    let ev = t.path().join("ev");
    // Without the global region among the expected regions.
    let res = bin()
        .args([
            "scan",
            corpus.to_str().unwrap(),
            "--out",
            ev.to_str().unwrap(),
        ])
        .args(["--since", "2026-01-01", "--until", "2026-01-01T06:00:00Z"])
        .args([
            "--regions",
            "ap-south-1",
            "--public-keys",
            keys.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(
        res.status.code().unwrap() <= 1,
        "{}",
        String::from_utf8_lossy(&res.stderr)
    );
    let s = summary(&ev);
    let result = |statement: &str| {
        s["controls"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["statement"] == statement)
            .unwrap()["result"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    assert_eq!(result("global_coverage"), "unknown");
    assert_eq!(
        result("regional_coverage"),
        "satisfied",
        "{:#}",
        s["controls"]
    );
    let records: serde_json::Value =
        serde_json::from_slice(&std::fs::read(ev.join("findings.ocsf.json")).unwrap()).unwrap();
    // CIS 3.1 rests on global coverage too: not a pass.
    let cis = records
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["metadata"]["event_code"] == "cis-aws:3.1")
        .unwrap();
    assert_eq!(cis["compliance"]["status_id"], 0);
}

#[test]
fn a_report_over_years_and_dozens_of_accounts_stays_printable() {
    // The real corpus: 56 accounts, 23 regions, 2014-2026 without a window.
    let t = tempfile::tempdir().unwrap();
    let ev = t.path().join("ev");
    let res = bin()
        .args([
            "scan",
            root().join("fixtures/real-corpus").to_str().unwrap(),
        ])
        .args([
            "--digests",
            "off",
            "--no-progress",
            "--out",
            ev.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_eq!(
        res.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&res.stderr)
    );
    let html = std::fs::read_to_string(ev.join("report.html")).unwrap();
    assert!(html.len() < 3 << 20, "report.html is {} bytes", html.len());
    let maps = html
        .matches("<table class=\"heatmap\" data-account=")
        .count();
    let accounts = summary(&ev)["outcome"]["expected_accounts"]
        .as_array()
        .unwrap()
        .len();
    assert!(
        maps >= 1 && maps < accounts,
        "{maps} maps for {accounts} accounts"
    );
    assert!(html.contains(&format!(
        "Heat maps for the first {maps} of {accounts} accounts"
    )));
    // Multi-day cells: at most a year of columns.
    assert!(html.contains("data-unit=\"10 days\""));
    assert!(html.matches("<tr class=\"gap-row").count() <= 500);
}

#[test]
fn a_bucket_without_any_digest_is_never_valid() {
    let t = tempfile::tempdir().unwrap();
    let (dir, keys) = (t.path().join("corpus"), t.path().join("keys.json"));
    let out = bin()
        .args([
            "generate",
            "--out",
            dir.to_str().unwrap(),
            "--regions",
            REGIONS,
        ])
        .args([
            "--hours",
            "6",
            "--no-digests",
            "--public-keys-out",
            keys.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    let ev = t.path().join("ev");
    let res = bin()
        .args([
            "validate",
            dir.to_str().unwrap(),
            "--out",
            ev.to_str().unwrap(),
        ])
        .args(["--since", "2026-01-01", "--until", "2026-01-01T06:00:00Z"])
        .args(["--public-keys", keys.to_str().unwrap(), "--format", "json"])
        .output()
        .unwrap();
    assert_eq!(
        res.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&res.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&res.stdout).unwrap();
    assert_eq!(v["result"], "INVALID");
    assert_eq!(
        v["findings_by_kind"]["no_digest"], 3,
        "one per region: {v:#}"
    );
    assert_eq!(v["controls"][0]["result"], "not_satisfied");
}
