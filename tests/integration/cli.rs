//! The binary's command-line contract: help, version, usage errors exit 2.

use std::process::Command;

fn trailproof(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_trailproof"))
        .args(args)
        .output()
        .expect("run trailproof")
}

#[test]
fn help_lists_check() {
    let out = trailproof(&["--help"]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("check"), "{text}");
}

#[test]
fn version_prints_crate_version() {
    let out = trailproof(&["--version"]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("trailproof {}", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn bad_region_is_a_usage_error_with_exit_2() {
    let out = trailproof(&["check", "--regions", "us-east1"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("'us-east1' is not a region name"), "{err}");
}

#[test]
fn unknown_flag_exits_2() {
    let out = trailproof(&["check", "--no-such-flag"]);
    assert_eq!(out.status.code(), Some(2));
}
