//! Validation of the parsed flags into the typed configs the commands run with: every range
//! and name is checked here, before any client is built.

use super::*;
use crate::aws::AwsSettings;
use crate::check::CheckOptions;
use crate::commands::{self, Digests, Invocation};
use crate::error::{Error, Result};
use crate::pipeline::Options;
use crate::source::{Scope, Source};
use crate::time::{Window, now_secs};

impl TryFrom<Command> for Invocation {
    type Error = Error;

    fn try_from(command: Command) -> Result<Self> {
        Ok(match command {
            Command::Check(a) => Invocation::Check(a.try_into()?),
            Command::Scan(a) => Invocation::Scan(a.try_into()?),
            Command::Verify(a) => Invocation::Verify(a.try_into()?),
            Command::Validate(a) => Invocation::Validate(a.try_into()?),
            Command::Merge(a) => {
                let (out_dir, publish) = out_dir(&a.out.out)?;
                let check: commands::check::Config = a.check_args.try_into()?;
                Invocation::Merge(commands::merge::Config {
                    shards: a.shards,
                    out_dir,
                    publish,
                    summary_line: a.out.summary_line,
                    format: check.format,
                    aws: check.aws.clone(),
                    check: a.check.then_some(check),
                    dataset: a.dataset,
                })
            }
            Command::Report(a) => Invocation::Report(commands::report::Config {
                dir: a.dir,
                output: a.output,
            }),
            Command::VerifyEvidence(a) => {
                if let Some(h) = &a.manifest_sha256
                    && (h.len() != 64 || !h.bytes().all(|b| b.is_ascii_hexdigit()))
                {
                    return Err(Error::usage(
                        "--manifest-sha256 takes 64 hex digits (the SHA-256 the run printed)",
                    ));
                }
                Invocation::VerifyEvidence(commands::report::VerifyConfig {
                    dir: a.dir,
                    manifest_sha256: a.manifest_sha256,
                    format: a.format.format,
                })
            }
            Command::Generate(a) => Invocation::Generate(a.try_into()?),
            Command::Canary(CanaryArgs {
                command: CanaryCommand::Send(a),
            }) => {
                let options = CheckOptions {
                    regions: regions_flag(a.regions)?,
                    exclude_regions: a.exclude_regions,
                    ..CheckOptions::default()
                };
                crate::regions::validate_all(Some(&options.exclude_regions))?;
                if let Some(r) = &a.global_region {
                    crate::regions::validate(r)?;
                }
                Invocation::Canary(commands::canary::Config {
                    out: a.out,
                    options,
                    global_region: a.global_region,
                    format: a.format.format,
                    aws: a.aws.try_into()?,
                })
            }
            Command::Permissions(a) => {
                use crate::permissions::Cmd;
                let mut cmds: Vec<Cmd> = a
                    .commands
                    .iter()
                    .flat_map(|c| match c {
                        PermissionsFor::Check => vec![Cmd::Check],
                        PermissionsFor::Verify => vec![Cmd::Verify],
                        PermissionsFor::Scan => vec![Cmd::Scan],
                        PermissionsFor::Validate => vec![Cmd::Validate],
                        PermissionsFor::Canary => vec![Cmd::Canary],
                        PermissionsFor::All => Cmd::CLI.to_vec(),
                    })
                    .collect();
                cmds.sort();
                cmds.dedup();
                Invocation::Permissions(cmds)
            }
        })
    }
}

impl TryFrom<AwsArgs> for AwsSettings {
    type Error = Error;

    fn try_from(a: AwsArgs) -> Result<Self> {
        if a.max_attempts == 0 || a.max_attempts > 100 {
            return Err(Error::usage(
                "--max-attempts must be at least 1 and at most 100",
            ));
        }
        Ok(AwsSettings {
            profile: a.profile,
            region: a.region,
            endpoint_url: a.endpoint_url,
            max_attempts: a.max_attempts,
            connect_timeout: a.connect_timeout,
            operation_timeout: a.operation_timeout,
        })
    }
}

/// `--regions` of `check` and `canary send`: trimmed, at least one, each valid.
fn regions_flag(regions: Option<Vec<String>>) -> Result<Option<Vec<String>>> {
    let Some(list) = regions else {
        return Ok(None);
    };
    let list: Vec<String> = list
        .into_iter()
        .map(|r| r.trim().to_owned())
        .filter(|r| !r.is_empty())
        .collect();
    if list.is_empty() {
        return Err(Error::usage("--regions needs at least one region"));
    }
    crate::regions::validate_all(Some(&list))?;
    Ok(Some(list))
}

impl TryFrom<CheckArgs> for commands::check::Config {
    type Error = Error;

    fn try_from(args: CheckArgs) -> Result<Self> {
        let regions = regions_flag(args.regions)?;
        crate::regions::validate_all(Some(&args.exclude_regions))?;
        if args.concurrency == 0 || args.concurrency > MAX_COUNT {
            return Err(Error::usage(format!(
                "--concurrency must be at least 1 and at most {MAX_COUNT}"
            )));
        }
        Ok(commands::check::Config {
            aws: args.aws.try_into()?,
            format: args.format.format,
            options: CheckOptions {
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

impl WindowArgs {
    fn window(&self, default_since: Option<&str>) -> Result<Window> {
        Window::resolve(
            self.since.as_deref(),
            self.until.as_deref(),
            default_since,
            now_secs(),
            self.delivery_grace.as_secs() as i64,
        )
    }
}

impl TryFrom<ScopeArgs> for Scope {
    type Error = Error;

    fn try_from(a: ScopeArgs) -> Result<Self> {
        crate::regions::validate_all(a.regions.as_deref())?;
        Ok(Scope {
            accounts: a.accounts,
            regions: a.regions,
            org_id: a.org_id,
            shard: a.shard.shard()?,
        })
    }
}

impl ShardArgs {
    /// `--shard K/N`, or `--shards N` with K from the array-job engine's environment.
    fn shard(&self) -> Result<Option<crate::shard::Shard>> {
        Ok(match (&self.shard, self.shards) {
            (Some(s), _) => Some(crate::shard::Shard::parse(s)?),
            (None, Some(n)) => Some(crate::shard::Shard::from_env(n, |v| std::env::var(v).ok())?),
            (None, None) => None,
        })
    }
}

/// The largest size flag, in MiB (1 TiB): anything larger is a typo, and would overflow.
const MAX_MIB: u64 = 1 << 20;

/// The largest count flag (threads, requests in flight).
const MAX_COUNT: usize = 4_096;

/// A size flag in MiB as bytes, within 1 MiB ..= 1 TiB.
fn mib(flag: &str, v: u64) -> Result<u64> {
    if !(1..=MAX_MIB).contains(&v) {
        return Err(Error::usage(format!(
            "{flag} must be between 1 and {MAX_MIB} (MiB), not {v}"
        )));
    }
    Ok(v << 20)
}

impl WorkersArgs {
    fn workers(&self) -> Result<usize> {
        match self.workers {
            Some(0) => Err(Error::usage("--workers must be at least 1")),
            Some(n) if n > MAX_COUNT => Err(Error::usage(format!(
                "--workers must be at most {MAX_COUNT}"
            ))),
            Some(n) => Ok(n),
            None => Ok(defaults::workers()),
        }
    }
}

impl From<IntegrityArgs> for Digests {
    fn from(a: IntegrityArgs) -> Self {
        Digests {
            mode: a.digests,
            public_keys: a.keys.public_keys,
            trail: a.keys.trail,
        }
    }
}

impl PipelineArgs {
    /// The pipeline options; the window and scope are the command's.
    fn options(&self, window: Window, until_given: bool) -> Result<Options> {
        if self.fetch_concurrency == 0 || self.max_in_flight_mib == 0 {
            return Err(Error::usage(
                "--workers, --fetch-concurrency and --max-in-flight-mib must be at least 1",
            ));
        }
        let silence = self.max_silence.map(|d| d.as_secs().div_ceil(3_600) as i64);
        if silence == Some(0) {
            return Err(Error::usage("--max-silence must be at least 1h"));
        }
        if let Some(r) = &self.global_region {
            crate::regions::validate(r)?;
        }
        if self.fetch_concurrency > MAX_COUNT {
            return Err(Error::usage(format!(
                "--fetch-concurrency must be at most {MAX_COUNT}"
            )));
        }
        let (out_dir, publish) = out_dir(&self.out.out)?;
        let (canary, window) = self.canary.watch(window, until_given)?;
        Ok(Options {
            canary,
            window,
            out_dir,
            publish,
            summary_line: self.out.summary_line,
            events: self.events,
            workers: self.workers.workers()?,
            fetch_concurrency: self.fetch_concurrency,
            max_in_flight_bytes: mib("--max-in-flight-mib", self.max_in_flight_mib)?,
            max_object_bytes: mib("--max-object-mib", self.max_object_mib)?,
            max_decompressed: mib("--max-decompressed-mib", self.max_decompressed_mib)? as usize,
            max_silence_hours: silence,
            late_threshold_s: self.late_after.as_secs() as i64,
            dense_max_hours: (self.dense_up_to.as_secs() / 3_600) as i64,
            progress: !self.no_progress,
            file_hashes: !self.no_file_hashes,
            ..Options::default()
        })
    }
}

impl CanaryWatchArgs {
    /// `--canary FILE`: the probes, and the window: one that ends at the current hour (no
    /// `--until`) is extended to the end of the hour the last probe was sent in, so that the
    /// canaries are in it; a probe sent outside an explicit window is refused.
    fn watch(
        &self,
        window: Window,
        until_given: bool,
    ) -> Result<(Option<std::sync::Arc<crate::canary::Watch>>, Window)> {
        let timeout_s = self.canary_timeout.as_secs() as i64;
        if timeout_s < 60 {
            return Err(Error::usage("--canary-timeout must be at least 1m"));
        }
        let Some(path) = &self.canary else {
            return Ok((None, window));
        };
        let file = crate::canary::CanaryFile::read(path)?;
        let window = crate::canary::window_for(&file, window, until_given, timeout_s)
            .map_err(|m| Error::usage(format!("--canary {}: {m}", path.display())))?;
        Ok((
            Some(std::sync::Arc::new(crate::canary::Watch::new(
                file, timeout_s,
            ))),
            window,
        ))
    }
}

impl StateArgs {
    /// `--state` with the window flags: the settings, and the window the pipeline starts
    /// with (the state plans the real one when the run starts).
    fn settings(
        &self,
        window: &WindowArgs,
        default_since: Option<&str>,
        shard: &ShardArgs,
    ) -> Result<(Option<crate::state::Settings>, Window)> {
        let Some(at) = &self.state else {
            return Ok((None, window.window(default_since)?));
        };
        let at = &state_location(at, shard)?;
        let max_catch_up_s = self.max_catch_up.as_secs() as i64;
        if max_catch_up_s < crate::time::HOUR {
            return Err(Error::usage("--max-catch-up must be at least 1h"));
        }
        let delivery_grace_s = window.delivery_grace.as_secs() as i64;
        // A first run without --since judges the default span.
        let first = window
            .window(Some(defaults::SINCE))
            .map_err(|e| e.to_string());
        let now = now_secs();
        let until = Window::end(window.until.as_deref(), now)?;
        if until > now - now.rem_euclid(crate::time::HOUR) {
            // The state would stand past hours not delivered yet, never judged again.
            return Err(Error::usage(
                "with --state, --until cannot be after the current hour",
            ));
        }
        let settings = crate::state::Settings {
            location: crate::state::Location::parse(at)?,
            max_catch_up_s,
            first: first.clone(),
            until,
            delivery_grace_s,
        };
        Ok((
            Some(settings),
            first.unwrap_or(Window::unbounded(delivery_grace_s)),
        ))
    }
}

/// `--state` of a shard: `{shard}` replaced by its index. Shards started with one command line
/// (`--shards N`) must put `{shard}` in it: one state cannot serve N shards.
fn state_location(at: &str, shard: &ShardArgs) -> Result<String> {
    const MARK: &str = "{shard}";
    match shard.shard()? {
        Some(s) if at.contains(MARK) => Ok(at.replace(MARK, &s.index.to_string())),
        Some(s) if shard.shards.is_some() => Err(Error::usage(format!(
            "--shards {}: every shard runs this command line, so --state needs {MARK} in it (as in s3://bucket/state/daily-{MARK}.json): each shard keeps its own state",
            s.count
        ))),
        None if at.contains(MARK) => Err(Error::usage(format!(
            "--state {at}: {MARK} needs --shard or --shards"
        ))),
        _ => Ok(at.to_owned()),
    }
}

fn source(s: &str) -> Result<Source> {
    s.parse().map_err(Error::usage)
}

/// Records in `parameters` the shard and every other setting that changes what a run reads or
/// how it judges (`merge` compares them across shards); a shard needs a window.
fn record_reading(
    parameters: &mut serde_json::Value,
    integrity: &IntegrityArgs,
    pipeline: &Options,
    org_id: Option<&str>,
    global_region: Option<&str>,
) -> Result<()> {
    parameters["shard"] = pipeline.scope.shard.map(|s| s.to_string()).into();
    if let Some(shard) = pipeline.scope.shard
        && pipeline.window.bounds().is_none()
    {
        // Each shard would judge the span it happened to observe: not one run's window.
        return Err(Error::usage(format!(
            "--shard {shard} needs a window (--since): every shard must judge the same one"
        )));
    }
    let keys_sha256 = match &integrity.keys.public_keys {
        Some(p) => Some(
            crate::report::evidence::hash_file(p)
                .map_err(|e| Error::usage(format!("--public-keys {}: {e}", p.display())))?
                .1,
        ),
        None => None,
    };
    for (k, v) in [
        (
            "digests",
            serde_json::to_value(integrity.digests).unwrap_or_default(),
        ),
        ("public_keys_sha256", keys_sha256.into()),
        ("trail", integrity.keys.trail.clone().into()),
        ("org_id", org_id.into()),
        ("global_region", global_region.into()),
        ("delivery_grace_s", pipeline.window.delivery_grace_s.into()),
        ("dense_up_to_h", pipeline.dense_max_hours.into()),
        ("max_object_bytes", pipeline.max_object_bytes.into()),
        (
            "max_decompressed",
            (pipeline.max_decompressed as u64).into(),
        ),
        ("file_hashes", pipeline.file_hashes.into()),
    ] {
        parameters[k] = v;
    }
    Ok(())
}

impl TryFrom<ScanArgs> for commands::scan::Config {
    type Error = Error;

    fn try_from(args: ScanArgs) -> Result<Self> {
        let source = source(&args.source)?;
        let mut parameters = serde_json::json!({"source": args.source, "since": args.window.since, "until": args.window.until, "regions": args.scope.regions, "accounts": args.scope.accounts, "max_silence_s": args.pipeline.max_silence.map(|d| d.as_secs()), "late_after_s": args.pipeline.late_after.as_secs()});
        let (state, window) = args.state.settings(&args.window, None, &args.scope.shard)?;
        let mut pipeline = args.pipeline.options(window, args.window.until.is_some())?;
        pipeline.scope = args.scope.try_into()?;
        record_reading(
            &mut parameters,
            &args.pipeline.integrity,
            &pipeline,
            pipeline.scope.org_id.as_deref(),
            Some(&pipeline.global_region),
        )?;
        pipeline.global_region = match (&args.pipeline.global_region, &pipeline.scope.regions) {
            (Some(g), _) => g.clone(),
            (None, Some(r)) if !r.is_empty() => {
                crate::regions::global_region(crate::regions::partition_of_region(&r[0])).to_owned()
            }
            (None, _) => pipeline.global_region,
        };
        Ok(commands::scan::Config {
            run: commands::LogPhase {
                source,
                format: args.format.format,
                pipeline,
                digests: args.pipeline.integrity.into(),
                aws: args.aws.try_into()?,
            },
            parameters,
            state,
        })
    }
}

impl TryFrom<VerifyArgs> for commands::verify::Config {
    type Error = Error;

    fn try_from(args: VerifyArgs) -> Result<Self> {
        let parameters = serde_json::json!({"since": args.window.since.clone().unwrap_or_else(|| defaults::SINCE.into()), "until": args.window.until, "bucket": args.bucket, "prefix": args.prefix, "max_silence_s": args.pipeline.max_silence.map(|d| d.as_secs()), "late_after_s": args.pipeline.late_after.as_secs()});
        let mut parameters = parameters;
        let (state, window) =
            args.state
                .settings(&args.window, Some(defaults::SINCE), &args.shard)?;
        let mut pipeline = args.pipeline.options(window, args.window.until.is_some())?;
        pipeline.scope.shard = args.shard.shard()?;
        if let Some(shard) = pipeline.scope.shard {
            if args.window.since.is_none() && args.state.state.is_none() {
                // The default (24 h before now) is resolved by each shard at its own start:
                // shards on either side of an hour would judge different windows.
                return Err(Error::usage(format!(
                    "verify --shard {shard} needs --since (or --state): every shard must judge the same window"
                )));
            }
            if args.bucket.is_none() {
                // Shard 0 alone runs the check: the others cannot learn the trail's bucket.
                return Err(Error::usage(format!(
                    "verify --shard {shard} needs --bucket (and --prefix when the trail has one): every shard must read the same source, and only shard 0 runs the configuration check"
                )));
            }
            record_reading(
                &mut parameters,
                &args.pipeline.integrity,
                &pipeline,
                args.org_id.as_deref(),
                args.pipeline.global_region.as_deref(),
            )?;
            parameters["regions"] = args.check.regions.clone().into();
            parameters["exclude_regions"] = args.check.exclude_regions.clone().into();
            parameters["accounts"] = args.accounts.clone().into();
        }
        let canary_send = args
            .canary_send_and_wait
            .then(|| commands::verify::SendAndWait {
                timeout_s: args.pipeline.canary.canary_timeout.as_secs() as i64,
                poll: args.canary_poll.max(std::time::Duration::from_secs(1)),
            });
        if canary_send.is_some() {
            parameters["canary_send_and_wait"] = true.into();
        }
        if let Some(w) = &pipeline.canary {
            parameters["canary_marker"] = w.file.marker.clone().into();
        }
        Ok(commands::verify::Config {
            canary_send,
            check: args.check.try_into()?,
            pipeline,
            digests: args.pipeline.integrity.into(),
            global_region: args.pipeline.global_region,
            bucket: args.bucket,
            prefix: args.prefix,
            org_id: args.org_id,
            accounts: args.accounts,
            parameters,
            state,
        })
    }
}

impl TryFrom<ValidateArgs> for commands::validate::Config {
    type Error = Error;

    fn try_from(args: ValidateArgs) -> Result<Self> {
        let source = source(&args.source)?;
        let (out_dir, publish) = out_dir(&args.out.out)?;
        let pipeline = Options {
            window: args.window.window(Some(defaults::SINCE))?,
            scope: args.scope.try_into()?,
            out_dir,
            publish,
            summary_line: args.out.summary_line,
            workers: args.workers.workers()?,
            parse: false,
            ..Options::default()
        };
        Ok(commands::LogPhase {
            source,
            format: args.format.format,
            pipeline,
            digests: Digests {
                mode: DigestMode::Require,
                public_keys: args.keys.public_keys,
                trail: args.keys.trail,
            },
            aws: args.aws.try_into()?,
        })
    }
}

/// A key prefix: `/`-separated segments, none empty, `.` or `..`, no backslash or control
/// character (a prefix is joined to `--out` for a local bucket: it must stay inside).
fn validate_prefix(p: &str) -> Result<()> {
    let bad = p.starts_with('/')
        || p.chars().any(|c| c == '\\' || c.is_control())
        || p.trim_end_matches('/')
            .split('/')
            .any(|s| s.is_empty() || s == "." || s == "..");
    if bad {
        return Err(Error::usage(format!(
            "--prefix '{p}' is not a key prefix (relative, no empty, '.' or '..' segment)"
        )));
    }
    Ok(())
}

/// A trail name as CloudTrail allows it: 3-128 letters, digits, `.`, `_` and `-`, starting
/// with a letter or digit.
fn validate_trail_name(n: &str) -> Result<()> {
    let ok = (3..=128).contains(&n.len())
        && n.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
        && n.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if ok {
        Ok(())
    } else {
        Err(Error::usage(format!(
            "--trail-name '{n}' is not a trail name (3-128 letters, digits, '.', '_', '-')"
        )))
    }
}

/// An organization id: `o-` and 10 to 32 lower-case letters or digits.
fn validate_org_id(o: &str) -> Result<()> {
    let ok = o.strip_prefix("o-").is_some_and(|r| {
        (10..=32).contains(&r.len())
            && r.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    });
    if ok {
        Ok(())
    } else {
        Err(Error::usage(format!(
            "--org-id '{o}' is not an organization id (o- and 10-32 lower-case letters or digits)"
        )))
    }
}

/// An account id: 12 digits.
fn validate_account(a: &str) -> Result<()> {
    if a.len() == 12 && a.bytes().all(|b| b.is_ascii_digit()) {
        Ok(())
    } else {
        Err(Error::usage(format!(
            "'{a}' is not an account id (12 digits)"
        )))
    }
}

impl TryFrom<GenerateArgs> for commands::generate::Config {
    type Error = Error;

    fn try_from(args: GenerateArgs) -> Result<Self> {
        args.prefix.as_deref().map(validate_prefix).transpose()?;
        validate_trail_name(&args.trail_name)?;
        args.org_id.as_deref().map(validate_org_id).transpose()?;
        args.accounts.iter().try_for_each(|a| validate_account(a))?;
        if let Source::S3 {
            prefix: Some(p), ..
        } = source(&args.out)?
        {
            validate_prefix(&p)?;
        }
        let mut gen_config = crate::generate::GenConfig {
            seed: args.seed,
            accounts: args.accounts,
            hours: args.hours,
            events_per_hour: args.events_per_hour,
            org_id: args.org_id,
            max_files_per_slot: args.max_files_per_slot,
            extras: !args.no_extras,
            faults: args.faults,
            digests: !args.no_digests,
            trail_name: args.trail_name,
            prefix: args.prefix,
            canary: args
                .canary
                .as_deref()
                .map(crate::canary::CanaryFile::read)
                .transpose()?,
            ..Default::default()
        };
        if let Some(r) = args.regions {
            crate::regions::validate_all(Some(&r))?;
            gen_config.regions = r;
        }
        if let Some(s) = &args.start {
            let t = crate::time::parse_time(s, now_secs())?;
            gen_config.start = t - t.rem_euclid(crate::time::HOUR);
        }
        Ok(commands::generate::Config {
            gen_config,
            out: source(&args.out)?,
            out_text: args.out,
            truth: args.truth,
            public_keys_out: args.public_keys_out,
            aws: args.aws.try_into()?,
        })
    }
}

/// `--out`: a local directory, or `s3://bucket/prefix` with a private local staging area the
/// command creates, publishes from and removes.
fn out_dir(
    out: &std::path::Path,
) -> Result<(std::path::PathBuf, Option<crate::pipeline::Publish>)> {
    let text = out.to_string_lossy();
    if !text.starts_with("s3://") {
        return Ok((out.to_owned(), None));
    }
    let dest: Source = text.parse().map_err(Error::usage)?;
    let area = commands::scratch(&std::env::temp_dir(), "trailproof");
    Ok((
        area.join("evidence"),
        Some(crate::pipeline::Publish { dest, area }),
    ))
}
