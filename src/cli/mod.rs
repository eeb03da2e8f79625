//! The command line: clap types only. Flag groups (window, scope, pipeline, integrity, AWS,
//! output) are declared once and flattened where used; [`convert`] validates them into the
//! typed configs of [`crate::commands`]. Nothing below the command layer imports this module.

mod convert;

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::aws::{DEFAULT_CONNECT_TIMEOUT, DEFAULT_MAX_ATTEMPTS, DEFAULT_OPERATION_TIMEOUT};
use crate::check::{DEFAULT_CONCURRENCY, DEFAULT_MAX_DELIVERY_AGE, Ruleset};
use crate::generate::defaults as gen_defaults;
use crate::integrity::DigestMode;
use crate::pipeline::defaults;
use crate::report::Format;
use crate::time::parse_duration;

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
    /// Re-render report.html from an evidence directory alone (written into DIR, or --output).
    Report(ReportArgs),
    /// Re-check an evidence directory against its manifest.json: exit 1 on any changed,
    /// missing or added file, naming it.
    VerifyEvidence(VerifyEvidenceArgs),
    /// Combine the evidence directories of N shards (`scan --shard K/N` or `verify --shard
    /// K/N`) into the evidence of one run: the same tables, gaps, verdict and report an
    /// unsharded run writes. Refused (exit 2) when a shard is missing, twice, changed since its
    /// manifest, or ran with other parameters, another window or other expected cells.
    Merge(MergeArgs),
    /// Canary probes: calls trailproof makes itself so that every region, even a quiet one,
    /// has events to find (`canary send`; then `verify --canary FILE`).
    Canary(CanaryArgs),
    /// Development tool: write a deterministic, realistic CloudTrail bucket (with injected
    /// faults) to a directory or an S3 bucket, and print its ground truth.
    Generate(GenerateArgs),
    /// Print the least-privilege IAM policy for a command (or all of them), from the one table
    /// of the actions trailproof calls.
    Permissions(PermissionsArgs),
}

#[derive(Debug, Clone, Args)]
pub struct PermissionsArgs {
    /// The commands whose calls the policy allows (several: `permissions verify canary` for
    /// `verify --canary-send-and-wait`).
    #[arg(value_enum, value_name = "COMMAND", num_args = 1.., default_value = "all")]
    pub commands: Vec<PermissionsFor>,
}

/// The commands `trailproof permissions` prints a policy for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum PermissionsFor {
    Check,
    Verify,
    Scan,
    Validate,
    /// `canary send`: its dry-run write and global read (not in `all`).
    Canary,
    /// Every read-only command: check, verify, scan and validate.
    All,
}

#[derive(Debug, Clone, Args)]
pub struct CanaryArgs {
    #[command(subcommand)]
    pub command: CanaryCommand,
}

#[derive(Debug, Clone, Subcommand)]
pub enum CanaryCommand {
    /// In every region in scope, one harmless read management call (cloudtrail:DescribeTrails)
    /// and one write that changes nothing (ec2:DeleteKeyPair with DryRun), and in the global
    /// region one global-service read (iam:ListAccountAliases), each marked in its user agent;
    /// the calls, regions, times and request ids go to the canary file. Exit 0 when every
    /// call was answered as expected, 1 when some failed (listed), 2 on error.
    Send(CanarySendArgs),
}

#[derive(Debug, Clone, Args)]
pub struct CanarySendArgs {
    /// The canary file to write (whole or not at all).
    #[arg(long, value_name = "FILE", default_value = "canary.json")]
    pub out: PathBuf,

    /// Probe exactly these regions (comma-separated) instead of the enabled ones
    /// (account:ListRegions).
    #[arg(long, value_name = "REGIONS", value_delimiter = ',')]
    pub regions: Option<Vec<String>>,

    /// Leave these regions out (comma-separated).
    #[arg(long, value_name = "REGIONS", value_delimiter = ',')]
    pub exclude_regions: Vec<String>,

    /// The partition's global region, where the global probe goes (default: the caller's
    /// partition's, us-east-1 in aws).
    #[arg(long, value_name = "REGION")]
    pub global_region: Option<String>,

    #[command(flatten)]
    pub format: FormatArgs,

    #[command(flatten)]
    pub aws: AwsArgs,
}

/// Canary probes to look for in the delivered logs (`scan`, `verify`).
#[derive(Debug, Clone, Args)]
pub struct CanaryWatchArgs {
    /// Look for the probes of this canary file (`trailproof canary send`) in the delivered
    /// logs: each is delivered, late, in another region's log files, not delivered (a
    /// `canary` gap) or, before the timeout, pending (unknown). Not with `--state` (the state
    /// plans the window; the canaries' hour may not be in it).
    #[arg(
        long,
        value_name = "FILE",
        conflicts_with = "state",
        help_heading = "Canary"
    )]
    pub canary: Option<PathBuf>,

    /// A canary not delivered this long after it was sent is `not_delivered`; delivered later,
    /// `late`. (CloudTrail delivers in about 5 minutes on average.)
    #[arg(long, value_name = "DURATION", default_value = crate::canary::DEFAULT_TIMEOUT, value_parser = parse_duration, help_heading = "Canary")]
    pub canary_timeout: Duration,
}

#[derive(Debug, Clone, Args)]
pub struct MergeArgs {
    /// The shards' evidence: local directories, published shard folders
    /// (`s3://bucket/prefix/run=…/shard=K`), or a published run folder whose `shard=K/`
    /// folders are the shards (`s3://bucket/prefix/run=…`).
    #[arg(value_name = "SHARD", required = true)]
    pub shards: Vec<String>,

    /// Run the configuration check here, once for all `scan` shards (as `verify` does): the
    /// merged result is then `verify`'s, the configuration verdict beside the shards' evidence.
    /// (`verify` shards carry shard 0's check.)
    #[arg(long)]
    pub check: bool,

    /// Also write the shards' coverage, gaps and files tables as a Hive-partitioned dataset
    /// under ROOT (a directory or `s3://bucket/prefix`):
    /// `TABLE/run=START_END/account_id=A/part-K.parquet`, for DuckDB and Athena.
    #[arg(long, value_name = "ROOT")]
    pub dataset: Option<String>,

    #[command(flatten)]
    pub out: OutArgs,

    #[command(flatten)]
    pub check_args: CheckArgs,
}

/// The time window of the log phase.
#[derive(Debug, Clone, Args)]
pub struct WindowArgs {
    /// Start of the window: a duration before now (24h, 7d), an RFC 3339 time
    /// (2026-01-01T00:00:00Z) or a date (2026-01-01). Rounded down to the hour.
    #[arg(long, value_name = "WHEN", help_heading = "Window")]
    pub since: Option<String>,

    /// End of the window (exclusive), same forms plus `now` (the default). A time is rounded up
    /// to the hour; `now` is rounded down, so only complete hours are judged.
    #[arg(long, value_name = "WHEN", help_heading = "Window")]
    pub until: Option<String>,

    /// Read logs delivered up to this long after the window's end (delivery lag).
    #[arg(long, value_name = "DURATION", default_value = defaults::DELIVERY_GRACE, value_parser = parse_duration, help_heading = "Window")]
    pub delivery_grace: Duration,
}

/// Which accounts, regions and organization of the key layout are read.
#[derive(Debug, Clone, Args)]
pub struct ScopeArgs {
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
    pub shard: ShardArgs,
}

/// Which shard of the (account, region) cells a process reads (`trailproof merge` combines
/// them).
#[derive(Debug, Clone, Args)]
pub struct ShardArgs {
    /// Read and judge only shard K of N (0-based): a stable split of the (account, region)
    /// cells by rendezvous hashing, so N processes together cover every cell once.
    #[arg(
        long,
        value_name = "K/N",
        conflicts_with = "shards",
        help_heading = "Scope"
    )]
    pub shard: Option<String>,

    /// Like `--shard K/N`, with K from the array-job engine: `AWS_BATCH_JOB_ARRAY_INDEX` (AWS
    /// Batch) or `JOB_COMPLETION_INDEX` (a Kubernetes Indexed Job).
    #[arg(long, value_name = "N", help_heading = "Scope")]
    pub shards: Option<u32>,
}

/// The result on stdout.
#[derive(Debug, Clone, Args)]
pub struct FormatArgs {
    /// Output format: a human summary, or one JSON document.
    #[arg(
        long,
        value_enum,
        value_name = "FORMAT",
        default_value = "text",
        help_heading = "Output"
    )]
    pub format: Format,
}

/// The evidence directory.
#[derive(Debug, Clone, Args)]
pub struct OutArgs {
    /// The evidence directory (created if needed), or `s3://bucket/prefix`: the directory is
    /// then made in a private local staging area and uploaded under
    /// `prefix/run=START_END/`, `manifest.json` last.
    #[arg(
        long,
        value_name = "DIR",
        default_value = defaults::OUT_DIR,
        help_heading = "Output"
    )]
    pub out: PathBuf,

    /// At the end, print the result as one line of JSON on stderr (for schedulers' logs:
    /// command, verdict, exit code, window, gap counts, where the evidence is, the manifest's
    /// SHA-256). The exit code stays the contract.
    #[arg(long, help_heading = "Output")]
    pub summary_line: bool,
}

/// Incremental runs (`verify`, `scan`).
#[derive(Debug, Clone, Args)]
pub struct StateArgs {
    /// Run incrementally: a state file or `s3://bucket/key` recording where the last run
    /// ended. The run judges from there (minus the delivery grace, so late files are counted)
    /// to `--until`, continues silences and digest chains, and advances the state only after
    /// its evidence is complete. `--since` applies only while there is no state yet. With
    /// shards, `{shard}` in it is replaced by the shard's index (each keeps its own state).
    #[arg(long, value_name = "LOCATION", help_heading = "Incremental")]
    pub state: Option<String>,

    /// With `--state`: judge at most this far past where the state ended; a run further
    /// behind judges that much, says so and exits 1 (the next run continues).
    #[arg(long, value_name = "DURATION", default_value = crate::state::DEFAULT_MAX_CATCH_UP, value_parser = parse_duration, help_heading = "Incremental")]
    pub max_catch_up: Duration,
}

/// Decode threads.
#[derive(Debug, Clone, Args)]
pub struct WorkersArgs {
    /// Decode and hashing threads (default: the number of CPUs).
    #[arg(long, value_name = "N", help_heading = "Performance")]
    pub workers: Option<usize>,
}

/// Settings of the log pipeline shared by `scan` and `verify`.
#[derive(Debug, Clone, Args)]
pub struct PipelineArgs {
    #[command(flatten)]
    pub out: OutArgs,

    /// Also write events.parquet (the projected fields of every event).
    #[arg(long, help_heading = "Output")]
    pub events: bool,

    /// A region silent (no events at all) for at least this long is a `no_log_files` gap
    /// (whole hours, e.g. 6h). Off by default: silence alone proves nothing.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, help_heading = "Rules")]
    pub max_silence: Option<Duration>,

    /// Events delivered later than this after their eventTime are `late_delivery` gaps.
    #[arg(long, value_name = "DURATION", default_value = defaults::LATE_AFTER, value_parser = parse_duration, help_heading = "Rules")]
    pub late_after: Duration,

    /// coverage.parquet has a row of zeros for every silent hour of an expected account and
    /// region when the window is at most this long; a longer window (a bulk run over years)
    /// gets the observed rows only, and its silent stretches a row each in silences.parquet.
    #[arg(long, value_name = "DURATION", default_value = defaults::DENSE_UP_TO, value_parser = parse_duration, help_heading = "Output")]
    pub dense_up_to: Duration,

    /// The partition's global region, where global-service events must appear.
    #[arg(long, value_name = "REGION", help_heading = "Scope")]
    pub global_region: Option<String>,

    #[command(flatten)]
    pub workers: WorkersArgs,

    /// S3 GETs in flight at once.
    #[arg(
        long,
        value_name = "N",
        default_value_t = defaults::FETCH_CONCURRENCY,
        help_heading = "Performance"
    )]
    pub fetch_concurrency: usize,

    /// Bytes of fetched (S3) or read (local) objects held in memory at once, in MiB.
    #[arg(
        long,
        value_name = "MIB",
        default_value_t = defaults::MAX_IN_FLIGHT_MIB,
        help_heading = "Performance"
    )]
    pub max_in_flight_mib: u64,

    /// Objects larger than this (compressed, MiB) are not read: `too_large`.
    #[arg(
        long,
        value_name = "MIB",
        default_value_t = defaults::MAX_OBJECT_MIB,
        help_heading = "Limits"
    )]
    pub max_object_mib: u64,

    /// Objects that inflate beyond this (MiB) are rejected (`too_large`); it is also the budget
    /// of decompressed bytes all workers hold at once, so peak memory does not grow with them.
    #[arg(
        long,
        value_name = "MIB",
        default_value_t = defaults::MAX_DECOMPRESSED_MIB,
        help_heading = "Limits"
    )]
    pub max_decompressed_mib: u64,

    /// Never draw a progress bar (it is drawn on stderr only when stderr is a terminal).
    #[arg(long, help_heading = "Output")]
    pub no_progress: bool,

    #[command(flatten)]
    pub canary: CanaryWatchArgs,

    /// Leave files.parquet's sha256 empty when no digest needs it (bulk analysis with
    /// `--digests off`: hashing every decompressed byte is a third of a worker's time). When
    /// digests are in use every log file is hashed regardless.
    #[arg(long, help_heading = "Output")]
    pub no_file_hashes: bool,

    #[command(flatten)]
    pub integrity: IntegrityArgs,
}

/// Where digest signatures are checked against, and which trail's digests are read.
#[derive(Debug, Clone, Args)]
pub struct KeysArgs {
    /// Public keys for digest signatures, as `aws cloudtrail list-public-keys` prints them
    /// (offline and air-gapped use). Default: cloudtrail:ListPublicKeys in each region.
    #[arg(long, value_name = "FILE", help_heading = "Integrity")]
    pub public_keys: Option<PathBuf>,

    /// Only digests of this trail (its name in digest file names).
    #[arg(long, value_name = "NAME", help_heading = "Integrity")]
    pub trail: Option<String>,
}

/// How digests take part.
#[derive(Debug, Clone, Args)]
pub struct IntegrityArgs {
    /// Digest files as the hourly heartbeat: `on` uses them when the trail has them and their
    /// keys can be had (else says so and judges from the logs alone); `require` proves
    /// coverage only where verified digests vouch for it; `off` reads logs only.
    #[arg(long, value_enum, default_value_t = DigestMode::On, help_heading = "Integrity")]
    pub digests: DigestMode,

    #[command(flatten)]
    pub keys: KeysArgs,
}

#[derive(Debug, Clone, Args)]
pub struct ReportArgs {
    /// The evidence directory of a `verify`, `scan` or `validate` run.
    #[arg(value_name = "DIR")]
    pub dir: std::path::PathBuf,

    /// Write the report here instead of DIR/report.html.
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<std::path::PathBuf>,
}

#[derive(Debug, Clone, Args)]
pub struct VerifyEvidenceArgs {
    /// The evidence directory.
    #[arg(value_name = "DIR")]
    pub dir: std::path::PathBuf,

    /// The manifest.json SHA-256 the run printed, kept where the directory's writer cannot
    /// change it: checked too (without it, a consistent rewrite of the whole directory passes).
    #[arg(long, value_name = "HEX")]
    pub manifest_sha256: Option<String>,

    #[command(flatten)]
    pub format: FormatArgs,
}

#[derive(Debug, Clone, Args)]
pub struct ValidateArgs {
    /// `s3://bucket[/prefix]` or a local copy of the bucket (then --public-keys is needed).
    #[arg(value_name = "SOURCE")]
    pub source: String,

    #[command(flatten)]
    pub window: WindowArgs,

    #[command(flatten)]
    pub scope: ScopeArgs,

    #[command(flatten)]
    pub keys: KeysArgs,

    #[command(flatten)]
    pub workers: WorkersArgs,

    #[command(flatten)]
    pub out: OutArgs,

    #[command(flatten)]
    pub format: FormatArgs,

    #[command(flatten)]
    pub aws: AwsArgs,
}

#[derive(Debug, Clone, Args)]
pub struct ScanArgs {
    /// `s3://bucket[/prefix]` or a local directory laid out like the bucket.
    #[arg(value_name = "SOURCE")]
    pub source: String,

    #[command(flatten)]
    pub format: FormatArgs,

    #[command(flatten)]
    pub window: WindowArgs,

    #[command(flatten)]
    pub pipeline: PipelineArgs,

    #[command(flatten)]
    pub scope: ScopeArgs,

    #[command(flatten)]
    pub state: StateArgs,

    #[command(flatten)]
    pub aws: AwsArgs,
}

#[derive(Debug, Clone, Args)]
pub struct VerifyArgs {
    #[command(flatten)]
    pub check: CheckArgs,

    #[command(flatten)]
    pub window: WindowArgs,

    #[command(flatten)]
    pub state: StateArgs,

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

    /// With `--shard`/`--shards`: shard 0 runs the configuration check, every shard reads its
    /// cells of `--bucket` (required: all shards read one source).
    #[command(flatten)]
    pub shard: ShardArgs,

    /// Send canaries first (as `trailproof canary send`, into the evidence directory's
    /// canary.json), wait with a progress line until every probe is delivered or
    /// `--canary-timeout` has passed, then verify with them.
    #[arg(long, conflicts_with_all = ["canary", "shard", "shards", "state", "until"], help_heading = "Canary")]
    pub canary_send_and_wait: bool,

    /// While waiting, look for the canaries this often.
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = parse_duration, help_heading = "Canary")]
    pub canary_poll: Duration,
}

#[derive(Debug, Clone, Args)]
pub struct GenerateArgs {
    /// Where to write: a directory, or `s3://bucket[/prefix]` (with --prefix taken from the URL).
    #[arg(long, value_name = "DEST")]
    pub out: String,

    /// Random seed: the same seed gives the same bytes.
    #[arg(long, default_value_t = gen_defaults::SEED)]
    pub seed: u64,

    /// Accounts (comma-separated).
    #[arg(long, value_delimiter = ',', default_value = gen_defaults::ACCOUNT)]
    pub accounts: Vec<String>,

    /// Regions (comma-separated); default: the 17 default-enabled commercial regions.
    #[arg(long, value_delimiter = ',')]
    pub regions: Option<Vec<String>>,

    /// First hour (RFC 3339 or date); default 2026-01-01T00:00:00Z.
    #[arg(long, value_name = "WHEN")]
    pub start: Option<String>,

    /// Hours of activity.
    #[arg(long, default_value_t = gen_defaults::HOURS)]
    pub hours: u32,

    /// Average events per account, region and hour.
    #[arg(long, default_value_t = gen_defaults::EVENTS_PER_HOUR)]
    pub events_per_hour: u32,

    /// Key prefix of the trail (for a local directory; for S3 put it in the URL).
    #[arg(long)]
    pub prefix: Option<String>,

    /// Organization id (organization-trail layout).
    #[arg(long)]
    pub org_id: Option<String>,

    /// At most this many files per 5-minute delivery slot.
    #[arg(long, default_value_t = gen_defaults::MAX_FILES_PER_SLOT)]
    pub max_files_per_slot: u32,

    /// Do not write the non-CloudTrail objects (digest, insight, Config probe, folder marker).
    #[arg(long)]
    pub no_extras: bool,

    /// Inject a fault (repeatable): silent:REGION:FROM_HOUR:HOURS,
    /// missing-files:REGION:FROM_HOUR:HOURS, no-writes:REGION, no-global,
    /// corrupt:REGION:truncated-gzip|invalid-json|not-gzip:COUNT, region-mismatch:REGION:COUNT,
    /// late:REGION:HOUR:LAG_HOURS, tamper:KIND:REGION with KIND one of modify-log, delete-log,
    /// trailing-bytes, unlisted-log, delete-digest, move-digest, wrong-key, resign-digest,
    /// backfill, restart; with --canary: canary-lost:REGION, canary-late:REGION:MINUTES,
    /// canary-misplaced:REGION (no-writes:REGION drops the write canary too).
    #[arg(long = "fault", value_name = "FAULT")]
    pub faults: Vec<crate::generate::Fault>,

    /// Also deliver the events CloudTrail records for this canary file's probes
    /// (`trailproof canary send`), about 5 minutes after each was sent, in its region's log
    /// files (the account must be one of --accounts).
    #[arg(long, value_name = "FILE")]
    pub canary: Option<PathBuf>,

    /// Print the ground truth as JSON on stdout.
    #[arg(long)]
    pub truth: bool,

    /// Do not write digest files (log file validation off).
    #[arg(long)]
    pub no_digests: bool,

    /// Write the public key the digests are signed with (a test key, `aws cloudtrail
    /// list-public-keys` format) to FILE, for `--public-keys`.
    #[arg(long, value_name = "FILE")]
    pub public_keys_out: Option<PathBuf>,

    /// The trail name in digest file names.
    #[arg(long, default_value = gen_defaults::TRAIL_NAME)]
    pub trail_name: String,

    #[command(flatten)]
    pub aws: AwsArgs,
}

/// Standard AWS settings, shared by every command that talks to AWS.
#[derive(Debug, Clone, Args)]
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
    #[arg(long, value_name = "N", default_value_t = DEFAULT_MAX_ATTEMPTS, help_heading = "AWS")]
    pub max_attempts: u32,

    /// Connect timeout per AWS call (e.g. 5s).
    #[arg(long, value_name = "DURATION", default_value = DEFAULT_CONNECT_TIMEOUT, value_parser = parse_duration, help_heading = "AWS")]
    pub connect_timeout: Duration,

    /// Timeout for a whole AWS call including retries (e.g. 60s).
    #[arg(long, value_name = "DURATION", default_value = DEFAULT_OPERATION_TIMEOUT, value_parser = parse_duration, help_heading = "AWS")]
    pub operation_timeout: Duration,
}

#[derive(Debug, Clone, Args)]
pub struct CheckArgs {
    #[command(flatten)]
    pub aws: AwsArgs,

    #[command(flatten)]
    pub format: FormatArgs,

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
    #[arg(long, value_name = "DURATION", default_value = DEFAULT_MAX_DELIVERY_AGE, value_parser = parse_duration, help_heading = "Rules")]
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
    #[arg(long, value_name = "N", default_value_t = DEFAULT_CONCURRENCY, help_heading = "AWS")]
    pub concurrency: usize,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::check::Config as CheckConfig;

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
    fn numeric_flags_out_of_range_are_refused_not_wrapped() {
        let scan_err = |args: &[&str]| {
            let mut full = vec!["trailproof", "scan", "dir"];
            full.extend_from_slice(args);
            match Cli::try_parse_from(&full) {
                Err(e) => e.to_string(),
                Ok(cli) => crate::commands::Invocation::try_from(cli.command)
                    .expect_err(&format!("{full:?} should fail"))
                    .to_string(),
            }
        };
        for (flag, value) in [
            ("--max-decompressed-mib", "17592186044416"),
            ("--max-object-mib", "18446744073709551615"),
            ("--max-in-flight-mib", "0"),
            ("--workers", "100000"),
            ("--fetch-concurrency", "1000000"),
        ] {
            let e = scan_err(&[flag, value]);
            assert!(
                e.contains(flag) || e.contains("invalid value"),
                "{flag}: {e}"
            );
        }
        assert!(check_err(&["--max-attempts", "1000"]).contains("at most 100"));
    }

    #[test]
    fn generate_refuses_names_that_leave_its_output() {
        let err = |args: &[&str]| {
            let mut full = vec!["trailproof", "generate", "--out", "dir"];
            full.extend_from_slice(args);
            let cli = Cli::try_parse_from(&full).unwrap();
            crate::commands::Invocation::try_from(cli.command)
                .expect_err(&format!("{full:?} should fail"))
                .to_string()
        };
        for (flag, value) in [
            ("--prefix", "../x"),
            ("--prefix", "/abs"),
            ("--prefix", "a//b"),
            ("--prefix", "a/./b"),
            ("--trail-name", "a/../../x"),
            ("--org-id", "o-../x"),
            ("--accounts", "../../etc"),
        ] {
            let e = err(&[flag, value]);
            assert!(e.contains("is not"), "{flag} {value}: {e}");
        }
        let ok = Cli::try_parse_from([
            "trailproof",
            "generate",
            "--out",
            "dir",
            "--prefix",
            "audit/logs",
            "--org-id",
            "o-abcdef1234",
            "--trail-name",
            "org.trail_1",
        ])
        .unwrap();
        assert!(crate::commands::Invocation::try_from(ok.command).is_ok());
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
