//! Errors a person can act on: each credential and connection failure of `check` is one
//! reason code and one line under 200 characters, the SDK's chain only under `-v`, and no
//! IMDS warnings when the credential chain simply found nothing. (Denials and rejected keys
//! run against the IAM-enforcing emulator, `iam_enforced.rs`.)

use std::process::{Command, Output};

use crate::util::*;

/// The built binary with no AWS settings at all: `HOME` an empty directory, no `AWS_*`.
pub fn bare(home: &std::path::Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_trailproof"));
    for (k, _) in std::env::vars() {
        if k.starts_with("AWS_") {
            cmd.env_remove(k);
        }
    }
    // The tests read stderr as a user sees it: a RUST_LOG of the caller's would change it.
    cmd.env_remove("RUST_LOG");
    cmd.env("HOME", home);
    cmd
}

/// A loopback port nothing listens on.
pub fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// Asserts `check --format json` failed with exactly `reason` and a one-line message under
/// 200 characters; returns the message.
#[track_caller]
pub fn assert_one_line(out: &Output, reason: &str, exit: i32) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let report: serde_json::Value = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}):\n{stdout}\nstderr:\n{stderr}"));
    assert_eq!(reasons(&report), [reason], "{report:#}\nstderr:\n{stderr}");
    assert_eq!(out.status.code(), Some(exit), "{report:#}");
    let finding = &report["findings"][0];
    assert_eq!(finding["reason"], reason);
    let message = finding["message"].as_str().unwrap().to_owned();
    assert!(!message.contains('\n'), "one line: {message:?}");
    let line = format!("{reason}: {message}");
    assert!(line.chars().count() < 200, "{} chars: {line}", line.len());
    message
}

/// `check` text output: the finding's line is one line under 200 characters too.
#[track_caller]
fn assert_text_line(out: &Output, reason: &str) {
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout
        .lines()
        .find(|l| l.trim_start().starts_with("ERROR") && l.contains(&format!("{reason}:")))
        .unwrap_or_else(|| panic!("no {reason} finding line:\n{stdout}"));
    assert!(line.chars().count() < 200, "{line}");
}

#[test]
fn no_credentials_at_all_is_one_line_and_no_imds_warnings() {
    let home = tempfile::tempdir().unwrap();
    // IMDS unreachable (a closed port), and IMDS disabled: both are "nothing found".
    let imds = format!("http://127.0.0.1:{}", closed_port());
    for imds_env in [
        ("AWS_EC2_METADATA_SERVICE_ENDPOINT", imds.as_str()),
        ("AWS_EC2_METADATA_DISABLED", "true"),
    ] {
        let run = |format: &str| {
            bare(home.path())
                .env(imds_env.0, imds_env.1)
                .args(["check", "--format", format, "--max-attempts", "1"])
                .output()
                .unwrap()
        };
        let out = run("json");
        let message = assert_one_line(&out, "NO_CREDENTIALS", 2);
        for source in [
            "env vars",
            "profile files",
            "SSO",
            "web identity",
            "ECS",
            "IMDS",
        ] {
            assert!(message.contains(source), "{source}: {message}");
        }
        assert!(message.contains("set AWS_PROFILE or run aws configure / aws sso login"));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("IMDS"), "{imds_env:?}: {stderr}");
        assert!(!stderr.contains("DispatchFailure"), "{stderr}");
        let text = run("text");
        assert_text_line(&text, "NO_CREDENTIALS");
        assert!(String::from_utf8_lossy(&text.stderr).is_empty());
        // The SDK's chain is there under -v.
        let verbose = bare(home.path())
            .env(imds_env.0, imds_env.1)
            .args(["check", "-v", "--max-attempts", "1"])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&verbose.stderr);
        assert!(stderr.contains("no credentials found in chain"), "{stderr}");
    }
}

#[test]
fn a_profile_that_is_not_defined_is_named() {
    let home = tempfile::tempdir().unwrap();
    let out = bare(home.path())
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .args(["check", "--format", "json", "--profile", "audit"])
        .output()
        .unwrap();
    let message = assert_one_line(&out, "NO_CREDENTIALS", 2);
    assert!(
        message.contains("profile audit is not defined"),
        "{message}"
    );
}

#[test]
fn an_expired_sso_token_asks_for_sso_login_with_the_profile() {
    let home = tempfile::tempdir().unwrap();
    let aws = home.path().join(".aws");
    std::fs::create_dir_all(aws.join("sso/cache")).unwrap();
    std::fs::write(
        aws.join("config"),
        "[profile audit]\nsso_session = corp\nsso_account_id = 123456789012\n\
         sso_role_name = Reader\nregion = us-east-1\n\n\
         [sso-session corp]\nsso_start_url = https://example.awsapps.com/start\n\
         sso_region = us-east-1\n",
    )
    .unwrap();
    // The SDK's token cache, named by the SHA-1 of the session name ("corp"): expired, with
    // no refresh token.
    std::fs::write(
        aws.join("sso/cache/ee0bfd2552fbd840c02cc48b6e823320543c450f.json"),
        r#"{"accessToken":"expired","expiresAt":"2020-01-01T00:00:00Z","region":"us-east-1","startUrl":"https://example.awsapps.com/start"}"#,
    )
    .unwrap();
    for profile in [&["--profile", "audit"][..], &[]] {
        let mut cmd = bare(home.path());
        cmd.env("AWS_EC2_METADATA_DISABLED", "true")
            .args(["check", "--format", "json", "--max-attempts", "1"])
            .args(profile);
        if profile.is_empty() {
            cmd.env("AWS_PROFILE", "audit");
        }
        let out = cmd.output().unwrap();
        let message = assert_one_line(&out, "SSO_TOKEN_EXPIRED", 2);
        assert!(
            message.contains("aws sso login --profile audit"),
            "{message}"
        );
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.is_empty(), "{stderr}");
    }
}

#[test]
fn a_legacy_sso_profile_never_logged_in_asks_for_sso_login() {
    let home = tempfile::tempdir().unwrap();
    let aws = home.path().join(".aws");
    std::fs::create_dir_all(&aws).unwrap();
    std::fs::write(
        aws.join("config"),
        "[profile legacy]\nsso_start_url = https://example.awsapps.com/start\n\
         sso_region = us-east-1\nsso_account_id = 123456789012\nsso_role_name = Reader\n",
    )
    .unwrap();
    let out = bare(home.path())
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .args(["check", "--format", "json", "--profile", "legacy"])
        .output()
        .unwrap();
    let message = assert_one_line(&out, "SSO_TOKEN_EXPIRED", 2);
    assert!(
        message.contains("aws sso login --profile legacy"),
        "{message}"
    );
}

#[test]
fn an_unreachable_endpoint_is_one_line() {
    let home = tempfile::tempdir().unwrap();
    let endpoint = format!("http://127.0.0.1:{}", closed_port());
    let out = bare(home.path())
        .env("AWS_ACCESS_KEY_ID", "AKIAEXAMPLE")
        .env("AWS_SECRET_ACCESS_KEY", "secret")
        .env("AWS_REGION", "us-east-1")
        .args([
            "check",
            "--format",
            "json",
            "--endpoint-url",
            &endpoint,
            "--max-attempts",
            "1",
            "--connect-timeout",
            "2s",
        ])
        .output()
        .unwrap();
    let message = assert_one_line(&out, "ENDPOINT_UNREACHABLE", 2);
    assert!(message.contains("--endpoint-url"), "{message}");
    assert!(
        message.to_lowercase().contains("refused"),
        "the cause is named: {message}"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.is_empty(), "{stderr}");
}

#[test]
fn a_profile_named_like_sso_that_is_not_defined_is_not_an_sso_login() {
    let home = tempfile::tempdir().unwrap();
    let out = bare(home.path())
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .args(["check", "--format", "json", "--profile", "SSO-Audit"])
        .output()
        .unwrap();
    let message = assert_one_line(&out, "NO_CREDENTIALS", 2);
    assert!(
        message.contains("profile SSO-Audit is not defined"),
        "{message}"
    );
}

#[test]
fn the_log_phase_without_credentials_is_one_line_with_its_reason() {
    let home = tempfile::tempdir().unwrap();
    for args in [
        &["scan", "s3://some-trail-bucket", "--since", "2h"][..],
        &["validate", "s3://some-trail-bucket", "--since", "2h"][..],
    ] {
        let out_dir = home.path().join(format!("out-{}", args[0]));
        let out = bare(home.path())
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .args(args)
            .args(["--max-attempts", "1", "--region", "us-east-1"])
            .args(["--out", out_dir.to_str().unwrap()])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{}: {stderr}", args[0]);
        let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
        let error = lines
            .iter()
            .find(|l| l.contains("NO_CREDENTIALS"))
            .unwrap_or_else(|| panic!("{}: no NO_CREDENTIALS line:\n{stderr}", args[0]));
        assert!(
            error.chars().count() < 200,
            "{} chars: {error}",
            error.len()
        );
        // That line alone, beside the note that the evidence directory was left as it was:
        // no warnings (IMDS, the bucket's region).
        let others: Vec<&&str> = lines
            .iter()
            .filter(|l| !l.contains("NO_CREDENTIALS") && !l.contains("was left as it was"))
            .collect();
        assert!(others.is_empty(), "{}: {stderr}", args[0]);
        assert!(!stderr.contains("DispatchFailure"), "{stderr}");
    }
}

#[test]
fn an_endpoint_that_does_not_resolve_or_never_answers_is_one_line() {
    let home = tempfile::tempdir().unwrap();
    // A listener that accepts and never answers: the operation times out.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let silent_url = format!("http://{}", silent.local_addr().unwrap());
    let held = std::thread::spawn(move || {
        let mut open = Vec::new();
        for s in silent.incoming().take(8).flatten() {
            open.push(s);
        }
        open
    });
    for (endpoint, cause) in [
        // `.invalid` never resolves (RFC 6761).
        ("http://trailproof-test.invalid", "dns"),
        (silent_url.as_str(), "timed out"),
    ] {
        let out = bare(home.path())
            .env("AWS_ACCESS_KEY_ID", "AKIAEXAMPLE")
            .env("AWS_SECRET_ACCESS_KEY", "secret")
            .env("AWS_REGION", "us-east-1")
            .args(["check", "--format", "json", "--endpoint-url", endpoint])
            .args(["--max-attempts", "1", "--connect-timeout", "2s"])
            .args(["--operation-timeout", "3s"])
            .output()
            .unwrap();
        let message = assert_one_line(&out, "ENDPOINT_UNREACHABLE", 2);
        assert!(message.contains("--endpoint-url"), "{message}");
        if cause == "timed out" {
            assert!(message.contains("timed out"), "{endpoint}: {message}");
        }
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.is_empty(), "{endpoint}: {stderr}");
    }
    drop(held);
}
