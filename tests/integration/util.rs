//! Test harness: the emulator endpoint, per-test isolated accounts, trail setup through the
//! real SDK, and running the built binary with a clean environment.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

use aws_config::{BehaviorVersion, Region};
use aws_sdk_cloudtrail::types::{
    AdvancedEventSelector, AdvancedFieldSelector, DataResource, EventSelector, ReadWriteType,
};
use aws_sdk_sts::config::Credentials;

pub const TWO_REGIONS: &str = "us-east-1,eu-west-1";

/// The emulator's endpoint: `TRAILPROOF_TEST_ENDPOINT`, or one this test run starts with
/// `scripts/moto.sh start target/moto-tests` (left running for the next run; stop it with
/// `scripts/moto.sh stop target/moto-tests`).
pub fn endpoint() -> &'static str {
    static ENDPOINT: OnceLock<String> = OnceLock::new();
    ENDPOINT.get_or_init(|| {
        if let Ok(e) = std::env::var("TRAILPROOF_TEST_ENDPOINT")
            && !e.is_empty()
        {
            return e;
        }
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let dir = root.join("target").join("moto-tests");
        let out = Command::new("bash")
            .arg(root.join("scripts/moto.sh"))
            .arg("start")
            .arg(&dir)
            .output()
            .expect("run scripts/moto.sh");
        assert!(
            out.status.success(),
            "TRAILPROOF_TEST_ENDPOINT is unset and starting the emulator failed.\n\
             Start it yourself with `eval \"$(scripts/moto.sh start)\"` and run the tests again.\n\
             scripts/moto.sh said:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        std::fs::read_to_string(dir.join("moto.endpoint"))
            .expect("moto.endpoint")
            .trim()
            .to_owned()
    })
}

/// A 12-digit account id unique to this test process and call.
fn unique_account_id() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let mixed = (nanos / 1000)
        .wrapping_mul(6364136223846793005)
        .wrapping_add(std::process::id() as u64 * 1_000_003 + n * 7919);
    format!("{:012}", 100_000_000_000 + mixed % 899_999_999_999)
}

/// An isolated emulator account: moto keys its state by the account that STS AssumeRole
/// credentials belong to, so every test gets a clean account through the real STS API.
pub struct Account {
    pub id: String,
    creds: Credentials,
}

/// How a test trail is configured.
pub enum Sel {
    Classic(Vec<EventSelector>),
    Advanced(Vec<AdvancedEventSelector>),
}

pub struct TrailSpec {
    pub name: &'static str,
    pub home: &'static str,
    pub multi_region: bool,
    pub organization: bool,
    pub logging: bool,
    pub selectors: Sel,
    pub prefix: Option<&'static str>,
}

impl TrailSpec {
    /// A multi-region, logging trail in us-east-1 with the given selectors.
    pub fn mr(name: &'static str, selectors: Sel) -> Self {
        TrailSpec {
            name,
            home: "us-east-1",
            multi_region: true,
            organization: false,
            logging: true,
            selectors,
            prefix: None,
        }
    }
}

pub fn classic(rw: &str, mgmt: bool, exclude: &[&str], data: bool) -> EventSelector {
    let mut b = EventSelector::builder()
        .read_write_type(ReadWriteType::from(rw))
        .include_management_events(mgmt);
    for e in exclude {
        b = b.exclude_management_event_sources(*e);
    }
    if data {
        b = b.data_resources(
            DataResource::builder()
                .r#type("AWS::S3::Object")
                .values("arn:aws:s3")
                .build(),
        );
    }
    b.build()
}

pub fn all_mgmt() -> Sel {
    Sel::Classic(vec![classic("All", true, &[], false)])
}

pub fn field(name: &str, op: &str, values: &[&str]) -> AdvancedFieldSelector {
    let mut b = AdvancedFieldSelector::builder().field(name);
    for v in values {
        b = match op {
            "Equals" => b.equals(*v),
            "NotEquals" => b.not_equals(*v),
            "StartsWith" => b.starts_with(*v),
            other => panic!("operator {other}"),
        };
    }
    b.build().expect("field selector")
}

pub fn advanced(name: Option<&str>, fields: Vec<AdvancedFieldSelector>) -> AdvancedEventSelector {
    let mut b = AdvancedEventSelector::builder().set_field_selectors(Some(fields));
    if let Some(n) = name {
        b = b.name(n);
    }
    b.build().expect("advanced selector")
}

pub fn mgmt_field() -> AdvancedFieldSelector {
    field("eventCategory", "Equals", &["Management"])
}

impl Account {
    pub async fn new() -> Self {
        let id = unique_account_id();
        let base = aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .endpoint_url(endpoint())
            .credentials_provider(Credentials::new(
                "AKIATRAILPROOFTEST00",
                "secret",
                None,
                None,
                "test",
            ))
            .load()
            .await;
        let sts = aws_sdk_sts::Client::new(&base);
        let out = sts
            .assume_role()
            .role_arn(format!("arn:aws:iam::{id}:role/trailproof-test"))
            .role_session_name("trailproof-test")
            .send()
            .await
            .expect("sts:AssumeRole on the emulator");
        let c = out.credentials().expect("credentials");
        let creds = Credentials::new(
            c.access_key_id(),
            c.secret_access_key(),
            Some(c.session_token().to_owned()),
            None,
            "assumed",
        );
        let account = Account { id, creds };
        let who = aws_sdk_sts::Client::new(&account.sdk("us-east-1").await)
            .get_caller_identity()
            .send()
            .await
            .unwrap();
        assert_eq!(
            who.account(),
            Some(account.id.as_str()),
            "assumed-role credentials map to the new account"
        );
        account
    }

    pub async fn sdk(&self, region: &str) -> aws_config::SdkConfig {
        aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new(region.to_owned()))
            .endpoint_url(endpoint())
            .credentials_provider(self.creds.clone())
            .load()
            .await
    }

    pub async fn cloudtrail(&self, region: &str) -> aws_sdk_cloudtrail::Client {
        aws_sdk_cloudtrail::Client::new(&self.sdk(region).await)
    }

    pub async fn s3(&self) -> aws_sdk_s3::Client {
        let sdk = self.sdk("us-east-1").await;
        aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::config::Builder::from(&sdk)
                .force_path_style(true)
                .build(),
        )
    }

    /// Creates a bucket unique to this account.
    pub async fn bucket(&self, suffix: &str) -> String {
        let name = format!("tp-{}-{suffix}", self.id);
        self.s3()
            .await
            .create_bucket()
            .bucket(&name)
            .send()
            .await
            .expect("create bucket");
        name
    }

    /// Creates a trail as specified (selectors set explicitly: moto gives new trails none),
    /// and returns its ARN.
    pub async fn trail(&self, spec: TrailSpec) -> String {
        let bucket = self.bucket(&spec.name.to_lowercase()).await;
        let ct = self.cloudtrail(spec.home).await;
        let mut create = ct
            .create_trail()
            .name(spec.name)
            .s3_bucket_name(&bucket)
            .is_multi_region_trail(spec.multi_region)
            .is_organization_trail(spec.organization)
            .enable_log_file_validation(true);
        if let Some(p) = spec.prefix {
            create = create.s3_key_prefix(p);
        }
        let arn = create
            .send()
            .await
            .expect("create trail")
            .trail_arn()
            .unwrap()
            .to_owned();
        let put = ct.put_event_selectors().trail_name(spec.name);
        match spec.selectors {
            Sel::Classic(v) => put.set_event_selectors(Some(v)),
            Sel::Advanced(v) => put.set_advanced_event_selectors(Some(v)),
        }
        .send()
        .await
        .expect("put event selectors");
        if spec.logging {
            ct.start_logging()
                .name(spec.name)
                .send()
                .await
                .expect("start logging");
        }
        arn
    }

    /// Runs the built binary as this account with a clean AWS environment.
    pub fn run(&self, args: &[&str]) -> Output {
        self.run_with(args, &[])
    }

    /// [`Account::run`] with extra environment variables.
    pub fn run_with(&self, args: &[&str], env: &[(&str, &std::path::Path)]) -> Output {
        self.command(args, env).output().expect("run trailproof")
    }

    /// The command [`Account::run_with`] runs, to spawn.
    pub fn command(&self, args: &[&str], env: &[(&str, &std::path::Path)]) -> Command {
        let mut cmd = command_as(
            self.creds.access_key_id(),
            self.creds.secret_access_key(),
            self.creds.session_token(),
        );
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.args(args);
        cmd
    }

    /// `trailproof check --format json` against the emulator; returns (exit code, report).
    pub fn check(&self, extra: &[&str]) -> (i32, serde_json::Value) {
        let mut args = vec!["check", "--format", "json", "--endpoint-url", endpoint()];
        args.extend_from_slice(extra);
        let out = self.run(&args);
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "check {extra:?}: stdout is not JSON ({e}):\n{}\nstderr:\n{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            )
        });
        (out.status.code().expect("exit code"), report)
    }
}

/// The built binary with a clean AWS environment: these keys, us-east-1, no config files,
/// no IMDS.
pub fn command_as(key: &str, secret: &str, token: Option<&str>) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_trailproof"));
    for (k, _) in std::env::vars() {
        if k.starts_with("AWS_") {
            cmd.env_remove(k);
        }
    }
    // The tests read stderr as a user sees it: a RUST_LOG of the caller's would change it.
    cmd.env_remove("RUST_LOG");
    let nowhere = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("target")
        .join("no-aws-config");
    cmd.env("AWS_CONFIG_FILE", &nowhere)
        .env("AWS_SHARED_CREDENTIALS_FILE", &nowhere)
        .env("AWS_ACCESS_KEY_ID", key)
        .env("AWS_SECRET_ACCESS_KEY", secret)
        .env("AWS_SESSION_TOKEN", token.unwrap_or_default())
        .env("AWS_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true");
    cmd
}

/// The reasons array of a report, as strings.
pub fn reasons(report: &serde_json::Value) -> Vec<String> {
    report["reasons"]
        .as_array()
        .expect("reasons array")
        .iter()
        .map(|r| r.as_str().unwrap().to_owned())
        .collect()
}

/// Asserts verdict, the decisive (first) reason and the exit code, printing the report if not.
#[track_caller]
pub fn assert_verdict(
    got: &(i32, serde_json::Value),
    verdict: &str,
    first_reason: Option<&str>,
    exit: i32,
) {
    let (code, report) = got;
    let pretty = serde_json::to_string_pretty(report).unwrap();
    assert_eq!(report["verdict"], verdict, "verdict; report:\n{pretty}");
    let reasons = reasons(report);
    assert_eq!(
        reasons.first().map(String::as_str),
        first_reason,
        "first reason; report:\n{pretty}"
    );
    assert_eq!(*code, exit, "exit code; report:\n{pretty}");
}

/// Runs the built binary with no AWS at all (a local copy, `generate` into a directory):
/// (exit code, stderr).
pub fn offline(args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_trailproof"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// An evidence directory's summary.json, or null when the run left none.
pub fn summary_of(dir: &std::path::Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(dir.join("summary.json")).unwrap_or_default())
        .unwrap_or(serde_json::Value::Null)
}
