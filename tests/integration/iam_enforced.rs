//! Least privilege, proven: a moto server of its own (enforcing IAM is global to a server,
//! so never the shared one) holds a trail, its bucket filled by `trailproof generate`, and
//! IAM users holding exactly the README's policy, or that policy with one action removed.
//! Everything is set up before enforcement is switched on (`/moto-api/reset-auth`); then
//! `check`, `verify`, `scan` and `validate` run as those users.
//!
//! Where moto does not enforce an action, the test says so: `sts:GetCallerIdentity` is always
//! allowed (as on AWS, where it needs no permission); `account:ListRegions` is not served
//! (HTTP 404 before any authorization); `cloudtrail:ListPublicKeys` is not implemented, so
//! with the permission it answers HTTP 500 (its denial, HTTP 403, is tested); and moto asks
//! for `s3:HeadBucket` (no such IAM action; AWS asks for `s3:ListBucket`) on `HeadBucket`, which
//! trailproof only uses to find the bucket's region, so the README's policy warns about that
//! and goes on in the configured region.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;

use crate::errors::{assert_one_line, closed_port};
use crate::util::*;

const BUCKET: &str = "tp-iam-logs";
const TRAIL: &str = "main-trail";
/// moto's default account: the IAM users' keys belong to it.
const ACCOUNT: &str = "123456789012";
const R2: &str = "us-east-1,eu-west-1";
const START: &str = "2026-01-01T00:00:00Z";
const UNTIL: &str = "2026-01-01T06:00:00Z";

/// moto's server, exiting when its stdin closes (when this test process ends).
const LAUNCH: &str = r#"
import os, sys, threading
from moto.server import main
def watch():
    sys.stdin.read()
    os._exit(0)
threading.Thread(target=watch, daemon=True).start()
main(["-H", "127.0.0.1", "-p", sys.argv[1]])
"#;

/// `setup`: users (name -> policy, on stdin with the bucket and trail) with access keys,
/// printed as JSON; the bucket; a compliant trail. `enforce N`: `reset-auth` with N.
const SETUP: &str = r#"
import json, sys, urllib.request, boto3
ep, mode = sys.argv[1], sys.argv[2]
kw = dict(endpoint_url=ep, region_name="us-east-1",
          aws_access_key_id="testing", aws_secret_access_key="testing")
if mode == "setup":
    spec = json.load(sys.stdin)
    iam = boto3.client("iam", **kw)
    keys = {}
    for name, policy in spec["users"].items():
        iam.create_user(UserName=name)
        iam.put_user_policy(UserName=name, PolicyName="trailproof",
                            PolicyDocument=json.dumps(policy))
        k = iam.create_access_key(UserName=name)["AccessKey"]
        keys[name] = [k["AccessKeyId"], k["SecretAccessKey"]]
    boto3.client("s3", **kw).create_bucket(Bucket=spec["bucket"])
    ct = boto3.client("cloudtrail", **kw)
    ct.create_trail(Name=spec["trail"], S3BucketName=spec["bucket"],
                    IsMultiRegionTrail=True, EnableLogFileValidation=True)
    ct.put_event_selectors(TrailName=spec["trail"], EventSelectors=[
        {"ReadWriteType": "All", "IncludeManagementEvents": True, "DataResources": []}])
    ct.start_logging(Name=spec["trail"])
    json.dump(keys, sys.stdout)
elif mode == "enforce":
    req = urllib.request.Request(ep + "/moto-api/reset-auth", data=sys.argv[3].encode(),
                                 headers={"Content-Type": "text/plain"}, method="POST")
    urllib.request.urlopen(req).read()
"#;

/// The policy of the README's "IAM permissions" section, as written there.
pub fn readme_policy() -> String {
    let readme =
        std::fs::read_to_string(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("README.md"))
            .unwrap();
    let section = &readme[readme.find("\n## IAM permissions").expect("the section")..];
    let start = section.find("```json\n").expect("a json block") + "```json\n".len();
    let end = start + section[start..].find("```").unwrap();
    section[start..end].to_owned()
}

/// The moto venv's python (with boto3).
fn python() -> String {
    if let Ok(p) = std::env::var("TRAILPROOF_TEST_PYTHON")
        && !p.is_empty()
    {
        return p;
    }
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scripts/moto.sh");
    let install = Command::new("bash").arg(&script).arg("install").status();
    assert!(
        install.is_ok_and(|s| s.success()),
        "scripts/moto.sh install"
    );
    let out = Command::new("bash")
        .arg(&script)
        .arg("python")
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// The enforcing server and what was set up in it.
struct Server {
    endpoint: String,
    /// User name -> (access key id, secret).
    keys: BTreeMap<String, (String, String)>,
    /// The digests' public key (`generate --public-keys-out`).
    public_keys: PathBuf,
    _moto: Child,
    _dir: tempfile::TempDir,
}

/// The user holding the README's policy without `action`.
fn without(action: &str) -> String {
    format!("no-{}", action.replace(':', "-"))
}

fn server() -> &'static Server {
    static SERVER: OnceLock<Server> = OnceLock::new();
    SERVER.get_or_init(start)
}

/// Whether `GET /moto-api/` on the port answers as moto does.
fn moto_answers(port: u16) -> bool {
    use std::io::Read;
    let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let request = "GET /moto-api/ HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
    let mut answer = String::new();
    s.write_all(request.as_bytes()).is_ok()
        && s.read_to_string(&mut answer).is_ok()
        && answer.starts_with("HTTP/1.1 200")
}

/// A moto server of this test process's own, on a free port: another process taking the port
/// between its pick and moto's bind makes this moto exit, and another port is tried.
fn launch(py: &str, dir: &std::path::Path) -> (Child, String) {
    for attempt in 0..5 {
        let port = closed_port();
        let log_path = dir.join(format!("moto-{attempt}.log"));
        let log = std::fs::File::create(&log_path).unwrap();
        let mut moto = Command::new(py)
            .args(["-c", LAUNCH, &port.to_string()])
            .stdin(Stdio::piped())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("start moto");
        for _ in 0..300 {
            std::thread::sleep(std::time::Duration::from_millis(100));
            if moto.try_wait().unwrap().is_some() {
                break;
            }
            if moto_answers(port) {
                // Ours: had the bind failed, our process would have exited.
                if moto.try_wait().unwrap().is_none() {
                    return (moto, format!("http://127.0.0.1:{port}"));
                }
                break;
            }
        }
        moto.kill().ok();
        moto.wait().ok();
        eprintln!(
            "moto on port {port} did not start:\n{}",
            std::fs::read_to_string(&log_path).unwrap_or_default()
        );
    }
    panic!("moto did not start (5 attempts)");
}

fn start() -> Server {
    let py = python();
    let dir = tempfile::tempdir().unwrap();
    let (moto, endpoint) = launch(&py, dir.path());

    let policy: serde_json::Value = serde_json::from_str(&readme_policy()).unwrap();
    let actions: Vec<String> = policy["Statement"][0]["Action"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap().to_owned())
        .collect();
    let mut users = serde_json::Map::new();
    users.insert("full".into(), policy.clone());
    for action in &actions {
        let mut p = policy.clone();
        p["Statement"][0]["Action"] = actions.iter().filter(|a| *a != action).cloned().collect();
        users.insert(without(action), p);
    }
    let spec = serde_json::json!({"users": users, "bucket": BUCKET, "trail": TRAIL});
    let mut setup = Command::new(&py)
        .args(["-c", SETUP, &endpoint, "setup"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    setup
        .stdin
        .take()
        .unwrap()
        .write_all(spec.to_string().as_bytes())
        .unwrap();
    let out = setup.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "setup: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let keys: BTreeMap<String, (String, String)> = serde_json::from_slice(&out.stdout).unwrap();

    let public_keys = dir.path().join("keys.json");
    let generated = command_as("testing", "testing", None)
        .args([
            "generate",
            "--out",
            &format!("s3://{BUCKET}"),
            "--endpoint-url",
            &endpoint,
            "--regions",
            R2,
            "--hours",
            "6",
            "--start",
            START,
            "--accounts",
            ACCOUNT,
            "--events-per-hour",
            "6",
            "--max-files-per-slot",
            "1",
            "--public-keys-out",
            public_keys.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(
        generated.status.success(),
        "generate: {}",
        String::from_utf8_lossy(&generated.stderr)
    );

    let enforce = Command::new(&py)
        .args(["-c", SETUP, &endpoint, "enforce", "0"])
        .output()
        .unwrap();
    assert!(enforce.status.success(), "{enforce:?}");
    Server {
        endpoint,
        keys,
        public_keys,
        _moto: moto,
        _dir: dir,
    }
}

/// Runs trailproof as `user` against the enforcing server.
fn run(user: &str, args: &[&str]) -> Output {
    let s = server();
    let (key, secret) = &s.keys[user];
    command_as(key, secret, None)
        .args(args)
        .args(["--endpoint-url", &s.endpoint])
        .output()
        .unwrap()
}

fn json(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}): {}\nstderr:\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// `--summary-line`'s JSON (the last line on stderr).
fn summary_line(out: &Output) -> serde_json::Value {
    let err = stderr(out);
    serde_json::from_str(err.lines().last().unwrap_or_default())
        .unwrap_or_else(|e| panic!("no summary line ({e}):\n{err}"))
}

fn check(user: &str, extra: &[&str]) -> Output {
    let mut args = vec!["check", "--format", "json"];
    args.extend_from_slice(extra);
    run(user, &args)
}

/// `verify`, `scan s3://` or `validate s3://` over the window, into a new directory.
fn log_phase(user: &str, command: &str, extra: &[&str]) -> (Output, tempfile::TempDir) {
    let out = tempfile::tempdir().unwrap();
    let src = format!("s3://{BUCKET}");
    let mut args = vec![command];
    if command != "verify" {
        args.push(&src);
    }
    args.extend_from_slice(&[
        "--regions",
        R2,
        "--since",
        START,
        "--until",
        UNTIL,
        "--format",
        "json",
        "--summary-line",
        // moto answers an allowed ListPublicKeys with HTTP 500, which the SDK retries.
        "--max-attempts",
        "2",
        "--out",
    ]);
    let dir = out.path().join("evidence");
    let dir = dir.to_str().unwrap().to_owned();
    args.push(&dir);
    args.extend_from_slice(extra);
    (run(user, &args), out)
}

/// The keys file for `validate --public-keys`.
fn keys_file() -> String {
    server().public_keys.to_str().unwrap().to_owned()
}

#[test]
fn the_readme_policy_is_the_permissions_output() {
    let out = Command::new(env!("CARGO_BIN_EXE_trailproof"))
        .args(["permissions", "all"])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        readme_policy(),
        "README.md's IAM policy must be `trailproof permissions all`"
    );
    for (command, has, lacks) in [
        ("check", "cloudtrail:GetEventSelectors", "s3:GetObject"),
        ("scan", "s3:GetObject", "sts:GetCallerIdentity"),
        (
            "validate",
            "cloudtrail:ListPublicKeys",
            "cloudtrail:DescribeTrails",
        ),
        ("verify", "s3:ListBucket", "ec2:DeleteKeyPair"),
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_trailproof"))
            .args(["permissions", command])
            .output()
            .unwrap();
        let policy: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let actions = policy["Statement"][0]["Action"].to_string();
        assert!(
            actions.contains(has) && !actions.contains(lacks),
            "{command}: {actions}"
        );
    }
}

#[test]
fn the_readme_policy_runs_check_verify_scan_and_validate() {
    let out = check("full", &["--regions", R2]);
    let r = json(&out);
    assert_eq!(r["verdict"], "PASS", "{r:#}");
    assert_eq!(out.status.code(), Some(0));
    // Discovery: moto does not serve account:ListRegions (HTTP 404, never authorized).
    let out = check("full", &[]);
    assert_eq!(reasons(&json(&out)), ["REGIONS_UNVERIFIED"]);
    assert_eq!(out.status.code(), Some(0));

    let (out, _dir) = log_phase("full", "verify", &[]);
    let r = json(&out);
    assert_eq!(
        (r["verdict"].as_str(), r["config"]["verdict"].as_str()),
        (Some("PROVEN"), Some("PASS")),
        "{}",
        stderr(&out)
    );
    assert_eq!(out.status.code(), Some(0));
    // Allowed, moto's ListPublicKeys is HTTP 500 (not implemented): digests unverifiable.
    let notes = r["outcome"]["digests"]["notes"].to_string();
    assert!(
        notes.contains("cloudtrail:ListPublicKeys") && !notes.contains("PERMISSION_DENIED"),
        "{notes}"
    );

    let (out, _dir) = log_phase("full", "scan", &[]);
    assert_eq!(json(&out)["verdict"], "PROVEN", "{}", stderr(&out));
    assert_eq!(out.status.code(), Some(0));

    let keys = keys_file();
    let (out, _dir) = log_phase("full", "validate", &["--public-keys", &keys]);
    assert_eq!(json(&out)["result"], "VALID", "{}", stderr(&out));
    assert_eq!(out.status.code(), Some(0));
    assert!(!stderr(&out).contains("PERMISSION_DENIED(s3:GetObject)"));
}

#[test]
fn without_describe_trails_nothing_is_evaluated() {
    let user = without("cloudtrail:DescribeTrails");
    let out = check(&user, &["--regions", R2]);
    let message = assert_one_line(&out, "PERMISSION_DENIED(cloudtrail:DescribeTrails)", 2);
    assert!(message.contains("all 2 regions"), "{message}");
    let r = json(&out);
    assert_eq!(r["verdict"], "ERROR");
    assert!(r["compliant_trails"].as_array().unwrap().is_empty());

    let (out, _dir) = log_phase(&user, "verify", &[]);
    let r = json(&out);
    assert_eq!(r["verdict"], "ERROR");
    assert_eq!(
        reasons(&r["config"]),
        ["PERMISSION_DENIED(cloudtrail:DescribeTrails)"]
    );
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(summary_line(&out)["gaps"], serde_json::Value::Null);
}

#[test]
fn without_trail_status_or_selectors_the_trail_is_inconclusive() {
    for action in ["cloudtrail:GetTrailStatus", "cloudtrail:GetEventSelectors"] {
        let user = without(action);
        let out = check(&user, &["--regions", R2]);
        let message = assert_one_line(&out, &format!("PERMISSION_DENIED({action})"), 1);
        assert!(
            message.contains(&format!(
                "arn:aws:cloudtrail:us-east-1:{ACCOUNT}:trail/{TRAIL}"
            )),
            "the resource is named: {message}"
        );
        assert_eq!(json(&out)["verdict"], "INCONCLUSIVE");

        let (out, _dir) = log_phase(&user, "verify", &[]);
        let r = json(&out);
        assert_eq!(r["verdict"], "INCONCLUSIVE", "{action}: {}", stderr(&out));
        assert_eq!(
            reasons(&r["config"])[0],
            format!("PERMISSION_DENIED({action})")
        );
        assert_eq!(out.status.code(), Some(1));
    }
}

#[test]
fn without_list_public_keys_digests_are_unverified_and_said_so() {
    let user = without("cloudtrail:ListPublicKeys");
    let denied = "PERMISSION_DENIED(cloudtrail:ListPublicKeys)";
    // `--digests on`: judged from the logs alone, and the note says why.
    let (out, _dir) = log_phase(&user, "verify", &[]);
    let r = json(&out);
    assert_eq!(r["verdict"], "PROVEN", "{}", stderr(&out));
    let notes = r["outcome"]["digests"]["notes"].to_string();
    assert!(notes.contains(denied), "{notes}");
    assert_eq!(r["outcome"]["digests"]["in_use"], false);
    assert_eq!(out.status.code(), Some(0));
    // `--digests require`: every cell unknown, none a gap.
    let (out, _dir) = log_phase(&user, "scan", &["--digests", "require"]);
    assert_eq!(json(&out)["verdict"], "UNKNOWN", "{}", stderr(&out));
    let line = summary_line(&out);
    assert_eq!(line["gaps"], 0, "{line}");
    assert!(line["unknown"].as_u64().unwrap() > 0, "{line}");
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains(denied));
    // `validate` without --public-keys: every digest unverified, never valid.
    let (out, _dir) = log_phase(&user, "validate", &[]);
    let r = json(&out);
    assert_eq!(r["result"], "INVALID", "{}", stderr(&out));
    assert!(
        r["digests"]["digests_by_status"]["valid"].is_null(),
        "{r:#}"
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains(denied));
}

#[test]
fn without_list_bucket_the_log_phase_is_an_error_naming_the_bucket() {
    let user = without("s3:ListBucket");
    let keys = keys_file();
    for (command, extra) in [
        ("verify", &[][..]),
        ("scan", &[]),
        ("validate", &["--public-keys", &keys]),
    ] {
        let (out, dir) = log_phase(&user, command, extra);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{command}: {err}");
        // No evidence: nothing was read, so no directory claims anything.
        assert!(
            !dir.path().join("evidence").exists(),
            "{command}: evidence written"
        );
        assert!(
            !String::from_utf8_lossy(&out.stdout).contains("PASS"),
            "{command}"
        );
        let line = err
            .lines()
            .find(|l| {
                l.contains("PERMISSION_DENIED(s3:ListBucket)") && l.starts_with("trailproof:")
            })
            .unwrap_or_else(|| panic!("{command}: {err}"));
        assert!(line.contains(BUCKET), "{line}");
        assert!(line.chars().count() < 200, "{line}");
    }
}

#[test]
fn without_get_object_every_cell_is_unknown_never_a_gap() {
    let user = without("s3:GetObject");
    for command in ["verify", "scan"] {
        let (out, _dir) = log_phase(&user, command, &[]);
        let r = json(&out);
        assert_eq!(r["verdict"], "UNKNOWN", "{command}: {}", stderr(&out));
        let line = summary_line(&out);
        assert_eq!(line["gaps"], 0, "{command}: {line}");
        assert!(line["unknown"].as_u64().unwrap() > 0, "{line}");
        assert_eq!(out.status.code(), Some(1));
        assert!(stderr(&out).contains("PERMISSION_DENIED(s3:GetObject)"));
    }
    let keys = keys_file();
    let (out, _dir) = log_phase(&user, "validate", &["--public-keys", &keys]);
    let r = json(&out);
    assert_eq!(r["result"], "INVALID", "{}", stderr(&out));
    assert!(
        r["findings_by_kind"]["object_unreadable"].as_u64().unwrap() > 0,
        "{r:#}"
    );
    assert!(
        stderr(&out).contains("PERMISSION_DENIED(s3:GetObject)")
            || r.to_string().contains("PERMISSION_DENIED(s3:GetObject)"),
        "the denied action is named: {}\n{r:#}",
        stderr(&out)
    );
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn moto_never_denies_get_caller_identity() {
    // moto allows sts:GetCallerIdentity whatever the policy (as AWS does: it needs no
    // permission), so its removal cannot be observed: the check passes.
    let out = check(&without("sts:GetCallerIdentity"), &["--regions", R2]);
    assert_eq!(json(&out)["verdict"], "PASS");
}

#[test]
fn moto_does_not_serve_list_regions() {
    // account:ListRegions is HTTP 404 on moto before any authorization: with or without the
    // action, discovery falls back to the partition's defaults and says so.
    let out = check(&without("account:ListRegions"), &[]);
    assert_eq!(reasons(&json(&out)), ["REGIONS_UNVERIFIED"]);
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn rejected_keys_are_invalid_credentials() {
    let s = server();
    let (key, _) = &s.keys["full"];
    for (key, secret) in [("AKIAUNKNOWN000000000", "secret"), (key.as_str(), "wrong")] {
        let out = command_as(key, secret, None)
            .args(["check", "--format", "json", "--endpoint-url", &s.endpoint])
            .output()
            .unwrap();
        let message = assert_one_line(&out, "INVALID_CREDENTIALS", 2);
        assert!(message.contains("invalid or expired"), "{message}");
    }
}
