//! Command-line arguments (pure parsing) and their validation into [`Config`] values.
//!
//! Parsing does no I/O; `Config::try_from(Args)`-style validation happens in the `TryFrom`
//! implementations below, and clients are only built in [`crate::run`].

use std::time::Duration;

use clap::{Args as ClapArgs, Parser, Subcommand, ValueEnum};

use crate::error::{Error, ErrorKind, Result};

/// Prove that CloudTrail really records every enabled region.
#[derive(Debug, Parser)]
#[command(name = "trailproof", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,

    /// Log verbosity: -v info, -vv debug, -vvv trace (logs go to stderr; RUST_LOG overrides).
    #[arg(short, long, action = clap::ArgAction::Count, global = true, help_heading = "Output")]
    pub verbose: u8,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Configuration verdict: is there a multi-region, logging trail that records all read and
    /// write management events? (CIS AWS 3.1 / Security Hub CloudTrail.1)
    Check(CheckArgs),
    /// The main job: `check`, then stream the compliant trail's logs for the window from S3
    /// and prove that every enabled region delivered read and write management events (and
    /// the global region global-service events). Writes the evidence directory.
    Verify(VerifyArgs),
    /// Bulk analysis of delivered logs without CloudTrail API calls: SOURCE is
    /// `s3://bucket[/prefix]` or a local directory laid out like the bucket.
    Scan(ScanArgs),
    /// Digest-chain validation, as `aws cloudtrail validate-logs` plus the checks it skips:
    /// every region's chain in one run, each log file's SHA-256, logs no digest lists.
    Validate(ValidateArgs),
    /// Development tool: write a deterministic, realistic CloudTrail bucket (with injected
    /// faults) to a directory or an S3 bucket, and print its ground truth.
    Generate(GenerateArgs),
}

/// The time window of the log phase.
#[derive(Debug, Clone, ClapArgs)]
pub struct WindowArgs {
    /// Start of the window: a duration before now (24h, 7d), an RFC 3339 time
    /// (2026-01-01T00:00:00Z) or a date (2026-01-01). Rounded down to the hour.
    #[arg(long, value_name = "WHEN", help_heading = "Window")]
    pub since: Option<String>,

    /// End of the window (exclusive), same forms plus `now` (the default). A time is rounded up
    /// to the hour; `now` is rounded down, so only complete hours are judged.
    #[arg(long, value_name = "WHEN", help_heading = "Window")]
    pub until: Option<String>,
}

/// Settings of the log pipeline shared by `scan` and `verify`.
#[derive(Debug, Clone, ClapArgs)]
pub struct PipelineArgs {
    /// The evidence directory (created if needed).
    #[arg(
        long,
        value_name = "DIR",
        default_value = "trailproof-out",
        help_heading = "Output"
    )]
    pub out: std::path::PathBuf,

    /// Also write events.parquet (the projected fields of every event).
    #[arg(long, help_heading = "Output")]
    pub events: bool,

    /// A region silent (no events at all) for at least this long is a `no_log_files` gap
    /// (whole hours, e.g. 6h). Off by default: silence alone proves nothing.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, help_heading = "Rules")]
    pub max_silence: Option<Duration>,

    /// Events delivered later than this after their eventTime are `late_delivery` gaps.
    #[arg(long, value_name = "DURATION", default_value = "1h", value_parser = parse_duration, help_heading = "Rules")]
    pub late_after: Duration,

    /// Read logs delivered up to this long after the window's end (delivery lag).
    #[arg(long, value_name = "DURATION", default_value = "1h", value_parser = parse_duration, help_heading = "Window")]
    pub delivery_grace: Duration,

    /// The partition's global region, where global-service events must appear.
    #[arg(long, value_name = "REGION", help_heading = "Scope")]
    pub global_region: Option<String>,

    /// Decode threads (default: the number of CPUs).
    #[arg(long, value_name = "N", help_heading = "Performance")]
    pub workers: Option<usize>,

    /// S3 GETs in flight at once.
    #[arg(
        long,
        value_name = "N",
        default_value_t = 32,
        help_heading = "Performance"
    )]
    pub fetch_concurrency: usize,

    /// Bytes of fetched objects held in memory at once, in MiB.
    #[arg(
        long,
        value_name = "MIB",
        default_value_t = 128,
        help_heading = "Performance"
    )]
    pub max_in_flight_mib: u64,

    /// Objects larger than this (compressed, MiB) are not read: `too_large`.
    #[arg(
        long,
        value_name = "MIB",
        default_value_t = 256,
        help_heading = "Limits"
    )]
    pub max_object_mib: u64,

    /// Objects that inflate beyond this (MiB) are rejected: `too_large`.
    #[arg(
        long,
        value_name = "MIB",
        default_value_t = 1024,
        help_heading = "Limits"
    )]
    pub max_decompressed_mib: u64,

    /// Never draw a progress bar (it is drawn on stderr only when stderr is a terminal).
    #[arg(long, help_heading = "Output")]
    pub no_progress: bool,

    /// Leave files.parquet's sha256 empty when no digest needs it (bulk analysis with
    /// `--digests off`: hashing every decompressed byte is a third of a worker's time). When
    /// digests are in use every log file is hashed regardless.
    #[arg(long, help_heading = "Output")]
    pub no_file_hashes: bool,

    #[command(flatten)]
    pub integrity: IntegrityArgs,
}

/// How digests take part.
#[derive(Debug, Clone, ClapArgs)]
pub struct IntegrityArgs {
    /// Digest files as the hourly heartbeat: `on` uses them when the trail has them and their
    /// keys can be had (else says so and judges from the logs alone); `require` proves
    /// coverage only where verified digests vouch for it; `off` reads logs only.
    #[arg(long, value_enum, default_value_t = crate::integrity::DigestMode::On, help_heading = "Integrity")]
    pub digests: crate::integrity::DigestMode,

    /// Public keys for digest signatures, as `aws cloudtrail list-public-keys` prints them
    /// (offline and air-gapped use). Default: cloudtrail:ListPublicKeys in each region.
    #[arg(long, value_name = "FILE", help_heading = "Integrity")]
    pub public_keys: Option<std::path::PathBuf>,

    /// Only digests of this trail (its name in digest file names).
    #[arg(long, value_name = "NAME", help_heading = "Integrity")]
    pub trail: Option<String>,
}

impl IntegrityArgs {
    /// Reads the keys file, if any.
    pub fn keys(&self) -> Result<Option<crate::digest::KeyRing>> {
        let Some(path) = &self.public_keys else {
            return Ok(None);
        };
        let text = std::fs::read_to_string(path).map_err(|e| {
            Error::with_source(
                ErrorKind::Usage,
                format!("cannot read {}", path.display()),
                e,
            )
        })?;
        crate::digest::KeyRing::from_list_json(&text)
            .map(Some)
            .map_err(|e| Error::usage(format!("{}: {e}", path.display())))
    }
}

#[derive(Debug, Clone, ClapArgs)]
pub struct ValidateArgs {
    /// `s3://bucket[/prefix]` or a local copy of the bucket (then --public-keys is needed).
    #[arg(value_name = "SOURCE")]
    pub source: String,

    #[command(flatten)]
    pub window: WindowArgs,

    /// Regions whose chains to validate (comma-separated); default: every region with digests.
    #[arg(long, value_delimiter = ',', help_heading = "Scope")]
    pub regions: Option<Vec<String>>,

    /// Accounts (comma-separated); default: every account in the layout.
    #[arg(long, value_delimiter = ',', help_heading = "Scope")]
    pub accounts: Option<Vec<String>>,

    /// Organization id of the key layout; default: read from the bucket layout.
    #[arg(long, value_name = "ORG_ID", help_heading = "Scope")]
    pub org_id: Option<String>,

    /// Public keys (`aws cloudtrail list-public-keys` output); default: ListPublicKeys.
    #[arg(long, value_name = "FILE", help_heading = "Integrity")]
    pub public_keys: Option<std::path::PathBuf>,

    /// Only digests of this trail (its name in digest file names).
    #[arg(long, value_name = "NAME", help_heading = "Integrity")]
    pub trail: Option<String>,

    /// Read logs delivered up to this long after the window's end.
    #[arg(long, value_name = "DURATION", default_value = "1h", value_parser = parse_duration, help_heading = "Window")]
    pub delivery_grace: Duration,

    /// Hashing threads (default: the number of CPUs).
    #[arg(long, value_name = "N", help_heading = "Performance")]
    pub workers: Option<usize>,

    /// The evidence directory (files.parquet, gaps.parquet, validate.json).
    #[arg(
        long,
        value_name = "DIR",
        default_value = "trailproof-out",
        help_heading = "Output"
    )]
    pub out: std::path::PathBuf,

    #[arg(long, value_enum, default_value_t = Format::Text, help_heading = "Output")]
    pub format: Format,

    #[command(flatten)]
    pub aws: AwsArgs,
}

#[derive(Debug, Clone, ClapArgs)]
pub struct ScanArgs {
    /// `s3://bucket[/prefix]` or a local directory laid out like the bucket.
    #[arg(value_name = "SOURCE")]
    pub source: String,

    /// Summary on stdout: text, or the summary.json document.
    #[arg(
        long,
        value_enum,
        value_name = "FORMAT",
        default_value = "text",
        help_heading = "Output"
    )]
    pub format: Format,

    #[command(flatten)]
    pub window: WindowArgs,

    #[command(flatten)]
    pub pipeline: PipelineArgs,

    /// Expected regions (comma-separated); default: those present in the layout.
    #[arg(
        long,
        value_name = "REGIONS",
        value_delimiter = ',',
        help_heading = "Scope"
    )]
    pub regions: Option<Vec<String>>,

    /// Expected accounts (comma-separated); default: those present in the layout.
    #[arg(
        long,
        value_name = "ACCOUNTS",
        value_delimiter = ',',
        help_heading = "Scope"
    )]
    pub accounts: Option<Vec<String>>,

    /// Organization id in the key layout (`AWSLogs/o-…/`); default: read from the layout.
    #[arg(long, value_name = "ORG_ID", help_heading = "Scope")]
    pub org_id: Option<String>,

    #[command(flatten)]
    pub aws: AwsArgs,
}

#[derive(Debug, Clone, ClapArgs)]
pub struct VerifyArgs {
    #[command(flatten)]
    pub check: CheckArgs,

    #[command(flatten)]
    pub window: WindowArgs,

    #[command(flatten)]
    pub pipeline: PipelineArgs,

    /// Read this bucket instead of the compliant trail's.
    #[arg(long, value_name = "BUCKET", help_heading = "Log source")]
    pub bucket: Option<String>,

    /// Key prefix instead of the trail's.
    #[arg(long, value_name = "PREFIX", help_heading = "Log source")]
    pub prefix: Option<String>,

    /// Organization id of the key layout; default: read from the bucket layout.
    #[arg(long, value_name = "ORG_ID", help_heading = "Log source")]
    pub org_id: Option<String>,

    /// Accounts whose logs must be present (default: the caller's account).
    #[arg(
        long,
        value_name = "ACCOUNTS",
        value_delimiter = ',',
        help_heading = "Log source"
    )]
    pub accounts: Option<Vec<String>>,
}

#[derive(Debug, Clone, ClapArgs)]
pub struct GenerateArgs {
    /// Where to write: a directory, or `s3://bucket[/prefix]` (with --prefix taken from the URL).
    #[arg(long, value_name = "DEST")]
    pub out: String,

    /// Random seed: the same seed gives the same bytes.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,

    /// Accounts (comma-separated).
    #[arg(long, value_delimiter = ',', default_value = "111122223333")]
    pub accounts: Vec<String>,

    /// Regions (comma-separated); default: the 17 default-enabled commercial regions.
    #[arg(long, value_delimiter = ',')]
    pub regions: Option<Vec<String>>,

    /// First hour (RFC 3339 or date); default 2026-01-01T00:00:00Z.
    #[arg(long, value_name = "WHEN")]
    pub start: Option<String>,

    /// Hours of activity.
    #[arg(long, default_value_t = 24)]
    pub hours: u32,

    /// Average events per account, region and hour.
    #[arg(long, default_value_t = 40)]
    pub events_per_hour: u32,

    /// Key prefix of the trail (for a local directory; for S3 put it in the URL).
    #[arg(long)]
    pub prefix: Option<String>,

    /// Organization id (organization-trail layout).
    #[arg(long)]
    pub org_id: Option<String>,

    /// At most this many files per 5-minute delivery slot.
    #[arg(long, default_value_t = 3)]
    pub max_files_per_slot: u32,

    /// Do not write the non-CloudTrail objects (digest, insight, Config probe, folder marker).
    #[arg(long)]
    pub no_extras: bool,

    /// Inject a fault (repeatable): silent:REGION:FROM_HOUR:HOURS,
    /// missing-files:REGION:FROM_HOUR:HOURS, no-writes:REGION, no-global,
    /// corrupt:REGION:truncated-gzip|invalid-json|not-gzip:COUNT, region-mismatch:REGION:COUNT,
    /// late:REGION:HOUR:LAG_HOURS, tamper:KIND:REGION with KIND one of modify-log, delete-log,
    /// trailing-bytes, unlisted-log, delete-digest, move-digest, wrong-key, resign-digest,
    /// backfill, restart.
    #[arg(long = "fault", value_name = "FAULT")]
    pub faults: Vec<crate::generate::Fault>,

    /// Print the ground truth as JSON on stdout.
    #[arg(long)]
    pub truth: bool,

    /// Do not write digest files (log file validation off).
    #[arg(long)]
    pub no_digests: bool,

    /// Write the public key the digests are signed with (a test key, `aws cloudtrail
    /// list-public-keys` format) to FILE, for `--public-keys`.
    #[arg(long, value_name = "FILE")]
    pub public_keys_out: Option<std::path::PathBuf>,

    /// The trail name in digest file names.
    #[arg(long, default_value = "main-trail")]
    pub trail_name: String,

    #[command(flatten)]
    pub aws: AwsArgs,
}

/// Parses a point in time: `now`, a duration before `now`, RFC 3339 with `Z`, or a date.
pub fn parse_time(s: &str, now: i64) -> Result<i64> {
    let s = s.trim();
    if s == "now" {
        return Ok(now);
    }
    if let Ok(d) = parse_duration(s) {
        return Ok(now - d.as_secs() as i64);
    }
    if let Some(t) = crate::decode::parse_event_time(s) {
        return Ok(t);
    }
    let p: Vec<&str> = s.split('-').collect();
    if let [y, m, d] = p.as_slice()
        && let (Ok(y), Ok(m), Ok(d)) = (y.parse::<i64>(), m.parse::<u32>(), d.parse::<u32>())
        && (1..=12).contains(&m)
        && (1..=31).contains(&d)
    {
        return Ok(crate::time::days_from_civil(y, m, d) * 86_400);
    }
    Err(Error::usage(format!(
        "'{s}' is not a time (use 24h, 2026-01-01T00:00:00Z, 2026-01-01 or now)"
    )))
}

impl WindowArgs {
    /// The window in whole hours; `None` when neither end is given and `default_since` is None.
    pub fn resolve(&self, now: i64, default_since: Option<&str>) -> Result<Option<(i64, i64)>> {
        let since = match (&self.since, default_since) {
            (Some(s), _) => Some(parse_time(s, now)?),
            (None, Some(d)) => Some(parse_time(d, now)?),
            (None, None) => None,
        };
        let until = self
            .until
            .as_deref()
            .map(|u| parse_time(u, now))
            .transpose()?;
        let Some(since) = since else {
            return match until {
                Some(_) => Err(Error::usage("--until needs --since")),
                None => Ok(None),
            };
        };
        // An explicit end is rounded up to the hour; `now` (or no --until) is rounded down, so
        // the window holds only complete hours and deliveries still in flight are not gaps.
        let explicit = self.until.as_deref().is_some_and(|u| u.trim() != "now");
        let until = until.unwrap_or(now);
        let until = if explicit {
            until + (3_600 - until.rem_euclid(3_600)) % 3_600
        } else {
            until - until.rem_euclid(3_600)
        };
        let since = since - since.rem_euclid(3_600);
        if until <= since {
            return Err(Error::usage(
                "the window is empty (--until is not after --since)",
            ));
        }
        Ok(Some((since, until)))
    }
}

impl PipelineArgs {
    /// The pipeline options (window and scope are filled in by the command).
    pub fn options(&self) -> Result<crate::scan::ScanOptions> {
        if self.workers == Some(0) || self.fetch_concurrency == 0 || self.max_in_flight_mib == 0 {
            return Err(Error::usage(
                "--workers, --fetch-concurrency and --max-in-flight-mib must be at least 1",
            ));
        }
        let silence = self.max_silence.map(|d| d.as_secs().div_ceil(3_600) as i64);
        if silence == Some(0) {
            return Err(Error::usage("--max-silence must be at least 1h"));
        }
        if let Some(r) = &self.global_region {
            validate_region(r)?;
        }
        let defaults = crate::scan::ScanOptions::default();
        Ok(crate::scan::ScanOptions {
            out_dir: self.out.clone(),
            events: self.events,
            workers: self.workers.unwrap_or(defaults.workers),
            fetch_concurrency: self.fetch_concurrency,
            max_in_flight_bytes: self.max_in_flight_mib << 20,
            max_object_bytes: self.max_object_mib << 20,
            max_decompressed: (self.max_decompressed_mib << 20) as usize,
            max_silence_hours: silence,
            late_threshold_s: self.late_after.as_secs() as i64,
            delivery_grace_s: self.delivery_grace.as_secs() as i64,
            progress: !self.no_progress,
            file_hashes: !self.no_file_hashes,
            global_region: self.global_region.clone().unwrap_or(defaults.global_region),
            ..defaults
        })
    }
}

/// Validates a comma-separated region list.
pub fn validate_regions(list: &Option<Vec<String>>) -> Result<()> {
    for r in list.iter().flatten() {
        validate_region(r)?;
    }
    Ok(())
}

/// Standard AWS settings, shared by every command that talks to AWS.
#[derive(Debug, Clone, Default, ClapArgs)]
pub struct AwsArgs {
    /// Named profile from the shared AWS config files (default: AWS_PROFILE or "default").
    #[arg(long, value_name = "NAME", env = "AWS_PROFILE", help_heading = "AWS")]
    pub profile: Option<String>,

    /// Region for global calls (STS, account); default: the standard region chain, else the
    /// partition's default region.
    #[arg(long, value_name = "REGION", help_heading = "AWS")]
    pub region: Option<String>,

    /// Send every AWS call to this endpoint (an emulator, a VPC endpoint); AWS_ENDPOINT_URL is
    /// also honoured. S3 then uses path-style addressing.
    #[arg(long, value_name = "URL", help_heading = "AWS")]
    pub endpoint_url: Option<String>,

    /// Attempts per AWS call, including the first (standard retry mode, with backoff on
    /// throttling).
    #[arg(long, value_name = "N", default_value_t = 5, help_heading = "AWS")]
    pub max_attempts: u32,

    /// Connect timeout per AWS call (e.g. 5s).
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = parse_duration, help_heading = "AWS")]
    pub connect_timeout: Duration,

    /// Timeout for a whole AWS call including retries (e.g. 60s).
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = parse_duration, help_heading = "AWS")]
    pub operation_timeout: Duration,
}

/// Output format of a command's result on stdout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// A human summary.
    Text,
    /// One JSON document with a stable schema (see README, "JSON output").
    Json,
}

/// Which benchmark's reading of the rules decides the verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Ruleset {
    /// AWS Config `multi-region-cloudtrail-enabled` / Security Hub CloudTrail.1 parity:
    /// excluding KMS or RDS Data API events fails.
    Aws,
    /// The CIS text as written: excluded event sources only warn.
    CisLiteral,
}

#[derive(Debug, Clone, ClapArgs)]
pub struct CheckArgs {
    #[command(flatten)]
    pub aws: AwsArgs,

    /// Output format.
    #[arg(
        long,
        value_enum,
        value_name = "FORMAT",
        default_value = "text",
        help_heading = "Output"
    )]
    pub format: Format,

    /// Rule reading: `aws` (Security Hub parity, default) or `cis-literal`.
    #[arg(
        long,
        value_enum,
        value_name = "RULESET",
        default_value = "aws",
        help_heading = "Rules"
    )]
    pub ruleset: Ruleset,

    /// Count split read/write selectors (in one trail or across trails) as compliant when
    /// together they record every management event. Off by default: CIS and Security Hub fail
    /// them.
    #[arg(long, help_heading = "Rules")]
    pub semantic: bool,

    /// A compliant trail whose last delivery is older than this warns (STALE_DELIVERY).
    #[arg(long, value_name = "DURATION", default_value = "24h", value_parser = parse_duration, help_heading = "Rules")]
    pub max_delivery_age: Duration,

    /// Check exactly these regions (comma-separated) instead of discovering the enabled ones
    /// with account:ListRegions.
    #[arg(
        long,
        value_name = "REGIONS",
        value_delimiter = ',',
        help_heading = "Scope"
    )]
    pub regions: Option<Vec<String>>,

    /// Leave these regions out of scope (comma-separated); they are listed as excluded.
    #[arg(
        long,
        value_name = "REGIONS",
        value_delimiter = ',',
        help_heading = "Scope"
    )]
    pub exclude_regions: Vec<String>,

    /// At most this many AWS calls in flight at once.
    #[arg(long, value_name = "N", default_value_t = 16, help_heading = "AWS")]
    pub concurrency: usize,
}

/// Validated settings of `check`.
#[derive(Debug, Clone)]
pub struct CheckConfig {
    pub aws: AwsArgs,
    pub format: Format,
    pub options: crate::check::CheckOptions,
}

impl TryFrom<CheckArgs> for CheckConfig {
    type Error = Error;

    fn try_from(args: CheckArgs) -> Result<Self> {
        let regions = match args.regions {
            Some(list) => {
                let list: Vec<String> = list
                    .into_iter()
                    .map(|r| r.trim().to_owned())
                    .filter(|r| !r.is_empty())
                    .collect();
                if list.is_empty() {
                    return Err(Error::usage("--regions needs at least one region"));
                }
                for r in &list {
                    validate_region(r)?;
                }
                Some(list)
            }
            None => None,
        };
        for r in &args.exclude_regions {
            validate_region(r)?;
        }
        if args.concurrency == 0 {
            return Err(Error::usage("--concurrency must be at least 1"));
        }
        if args.aws.max_attempts == 0 {
            return Err(Error::usage("--max-attempts must be at least 1"));
        }
        Ok(CheckConfig {
            aws: args.aws,
            format: args.format,
            options: crate::check::CheckOptions {
                ruleset: args.ruleset,
                semantic: args.semantic,
                max_delivery_age: args.max_delivery_age,
                regions,
                exclude_regions: args.exclude_regions,
                concurrency: args.concurrency,
            },
        })
    }
}

/// A region name must look like one (`us-east-1`, `us-gov-west-1`, `cn-north-1`): lower-case
/// letters, digits and dashes, ending in a digit. This catches typos such as `us-east1` early.
pub fn validate_region(r: &str) -> Result<()> {
    let ok = r.len() >= 9
        && r.split('-').count() >= 3
        && r.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && r.as_bytes().last().is_some_and(u8::is_ascii_digit);
    if ok {
        Ok(())
    } else {
        Err(Error::usage(format!("'{r}' is not a region name")))
    }
}

/// Parses `90s`, `15m`, `24h`, `3d`, `2w` or a plain number of seconds.
pub fn parse_duration(s: &str) -> std::result::Result<Duration, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: u64 = num
        .parse()
        .map_err(|_| format!("'{s}' is not a duration (e.g. 90s, 15m, 24h, 3d)"))?;
    let mult = match unit {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3_600,
        "d" => 86_400,
        "w" => 604_800,
        _ => {
            return Err(format!(
                "'{s}': unknown unit '{unit}' (use s, m, h, d or w)"
            ));
        }
    };
    n.checked_mul(mult)
        .map(Duration::from_secs)
        .ok_or_else(|| format!("'{s}' is too long"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(args: &[&str]) -> CheckConfig {
        let mut full = vec!["trailproof", "check"];
        full.extend_from_slice(args);
        let cli = Cli::try_parse_from(&full).unwrap_or_else(|e| panic!("{full:?}: {e}"));
        let Command::Check(a) = cli.command else {
            panic!("not check")
        };
        CheckConfig::try_from(a).unwrap_or_else(|e| panic!("{full:?}: {e}"))
    }

    fn check_err(args: &[&str]) -> String {
        let mut full = vec!["trailproof", "check"];
        full.extend_from_slice(args);
        match Cli::try_parse_from(&full) {
            Err(e) => e.to_string(),
            Ok(cli) => {
                let Command::Check(a) = cli.command else {
                    panic!("not check")
                };
                CheckConfig::try_from(a)
                    .expect_err(&format!("{full:?} should fail"))
                    .to_string()
            }
        }
    }

    #[test]
    fn command_definition_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }

    #[test]
    fn windows_resolve_to_whole_hours() {
        let now = 1_767_229_260; // 2026-01-01T01:01:00Z
        let w = |since: Option<&str>, until: Option<&str>| {
            WindowArgs {
                since: since.map(str::to_owned),
                until: until.map(str::to_owned),
            }
            .resolve(now, None)
        };
        assert_eq!(
            w(Some("2026-01-01"), Some("2026-01-01T00:30:00Z")).unwrap(),
            Some((1_767_225_600, 1_767_229_200))
        );
        // `now` rounds down: only complete hours.
        assert_eq!(
            w(Some("1h"), None).unwrap(),
            Some((1_767_225_600, 1_767_229_200))
        );
        assert_eq!(
            w(Some("2h"), Some("now")).unwrap(),
            Some((1_767_222_000, 1_767_229_200))
        );
        assert_eq!(w(None, None).unwrap(), None);
        assert!(w(None, Some("now")).is_err());
        assert!(w(Some("2026-01-02"), Some("2026-01-01")).is_err());
        assert!(w(Some("yesterday"), None).is_err());
    }

    #[test]
    fn durations() {
        for (input, secs) in [
            ("90", 90),
            ("90s", 90),
            ("15m", 900),
            ("24h", 86_400),
            ("3d", 259_200),
            ("1w", 604_800),
        ] {
            assert_eq!(
                parse_duration(input),
                Ok(Duration::from_secs(secs)),
                "{input}"
            );
        }
        for bad in ["", "h", "3x", "-1h", "1.5h", "99999999999999999999w"] {
            assert!(parse_duration(bad).is_err(), "{bad:?} should not parse");
        }
    }

    #[test]
    fn defaults() {
        let c = check(&[]);
        assert_eq!(c.format, Format::Text);
        assert_eq!(c.options.ruleset, Ruleset::Aws);
        assert!(!c.options.semantic);
        assert_eq!(c.options.max_delivery_age, Duration::from_secs(86_400));
        assert_eq!(c.options.regions, None);
        assert_eq!(c.aws.max_attempts, 5);
    }

    #[test]
    fn regions_flag() {
        let c = check(&["--regions", "us-east-1, eu-west-1"]);
        assert_eq!(
            c.options.regions,
            Some(vec!["us-east-1".into(), "eu-west-1".into()])
        );
        assert!(check_err(&["--regions", "us-east1"]).contains("not a region"));
        assert!(check_err(&["--regions", ","]).contains("at least one"));
        assert!(check_err(&["--exclude-regions", "EU-WEST-1"]).contains("not a region"));
    }

    #[test]
    fn ruleset_format_semantic() {
        let c = check(&["--ruleset", "cis-literal", "--format", "json", "--semantic"]);
        assert_eq!(c.options.ruleset, Ruleset::CisLiteral);
        assert_eq!(c.format, Format::Json);
        assert!(c.options.semantic);
        assert!(check_err(&["--ruleset", "nist"]).contains("invalid value"));
    }

    #[test]
    fn aws_flags() {
        let c = check(&[
            "--profile",
            "audit",
            "--region",
            "eu-west-1",
            "--endpoint-url",
            "http://127.0.0.1:5000",
            "--max-attempts",
            "3",
            "--connect-timeout",
            "2s",
            "--operation-timeout",
            "1m",
        ]);
        assert_eq!(c.aws.profile.as_deref(), Some("audit"));
        assert_eq!(c.aws.region.as_deref(), Some("eu-west-1"));
        assert_eq!(c.aws.endpoint_url.as_deref(), Some("http://127.0.0.1:5000"));
        assert_eq!(c.aws.max_attempts, 3);
        assert_eq!(c.aws.connect_timeout, Duration::from_secs(2));
        assert_eq!(c.aws.operation_timeout, Duration::from_secs(60));
        assert!(check_err(&["--max-attempts", "0"]).contains("at least 1"));
        assert!(check_err(&["--concurrency", "0"]).contains("at least 1"));
    }

    #[test]
    fn max_delivery_age() {
        assert_eq!(
            check(&["--max-delivery-age", "3d"])
                .options
                .max_delivery_age,
            Duration::from_secs(259_200)
        );
        assert!(check_err(&["--max-delivery-age", "soon"]).contains("not a duration"));
    }
}
