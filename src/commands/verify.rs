//! `trailproof verify`: `check`, then the compliant trail's logs for the window from S3.

use crate::aws::CheckClients;
use crate::check::Verdict;
use crate::error::{Error, ErrorKind, Result};
use crate::pipeline::Options;
use crate::report::check::CheckView;
use crate::report::staging::Staging;
use crate::report::summary::{ScanView, Summary, VerifyView};
use crate::source::Source;

use super::{Digests, Outcome};

/// Validated settings of `verify`.
#[derive(Debug, Clone)]
pub struct Config {
    pub check: super::check::Config,
    pub pipeline: Options,
    pub digests: Digests,
    /// `--global-region`; default: the compliant trail's partition's.
    pub global_region: Option<String>,
    /// Overrides of what the compliant trail names.
    pub bucket: Option<String>,
    pub prefix: Option<String>,
    pub org_id: Option<String>,
    pub accounts: Option<Vec<String>>,
    /// What was asked, as recorded in `summary.json`.
    pub parameters: serde_json::Value,
    /// `--state`: run incrementally.
    pub state: Option<crate::state::Settings>,
    /// `--canary-send-and-wait`.
    pub canary_send: Option<SendAndWait>,
}

/// `--canary-send-and-wait`: send canaries, wait for them, then verify with them.
#[derive(Debug, Clone, Copy)]
pub struct SendAndWait {
    pub timeout_s: i64,
    pub poll: std::time::Duration,
}

pub async fn run(config: Config) -> Result<Outcome> {
    let Config {
        check,
        mut pipeline,
        digests,
        global_region,
        bucket,
        prefix,
        org_id,
        accounts,
        mut parameters,
        state,
        canary_send,
    } = config;
    let prefix = prefix.filter(|p| !p.is_empty());
    // Before anything is judged: a state in use by another run stops this one here.
    let mut incremental = super::incremental::Incremental::open(state, &check.aws).await?;
    let dir = pipeline.out_dir.clone();
    let publish = pipeline.publish.clone();
    let summary_line = pipeline.summary_line;
    let check_format = check.format;
    let shard = pipeline.scope.shard;
    // The window asked for: what a run without a log phase is filed under.
    let asked = pipeline.window.bounds().unwrap_or((0, 0));
    let staging = Staging::begin(&dir)?;
    pipeline.out_dir = staging.path().to_owned();
    let sdk = crate::aws::sdk_config(&check.aws).await;
    let clients = CheckClients::from_sdk_config(&sdk);
    // The configuration check: once, in shard 0 of a sharded run.
    let checked = match shard {
        Some(s) if s.index > 0 => None,
        _ => Some(crate::check::run(&clients, &check.options).await),
    };
    let view = checked.as_ref().map(|(facts, eval)| CheckView {
        facts,
        eval,
        opts: &check.options,
    });
    let report = match &view {
        Some(v) => Some(serde_json::to_value(v.report()).map_err(|e| {
            Error::with_source(ErrorKind::Output, "cannot encode the check report", e)
        })?),
        None => None,
    };
    let config_verdict = checked.as_ref().map(|(_, eval)| eval.verdict);
    let mut integrity = None;
    let given = Given {
        bucket: bucket.clone(),
        prefix,
        org_id,
        accounts,
        global_region,
    };
    let read = match &checked {
        Some((facts, eval)) => LogScope::from_check(facts, eval, given, shard)?,
        // Shards but 0: the scope shard 0's check resolves, from the same two calls.
        None => Some(LogScope::from_caller(&clients, &check.options, given).await?),
    };
    let outcome = match read {
        // No log phase: the configuration alone decides (FAIL/INCONCLUSIVE 1, ERROR 2).
        None => None,
        Some(scope) => {
            pipeline.scope.accounts = scope.accounts;
            pipeline.scope.regions = Some(scope.regions);
            pipeline.scope.org_id = scope.org_id;
            if let Some(g) = scope.global_region {
                pipeline.global_region = g;
            }
            let src = scope.source;
            let Source::S3 { bucket, .. } = &src else {
                unreachable!("verify reads a bucket");
            };
            let s3 = crate::aws::s3_client_for_bucket(&sdk, bucket).await;
            if let Some(wait) = canary_send {
                let file = send_and_wait(
                    &sdk,
                    &check.options,
                    &src,
                    &s3,
                    &pipeline,
                    wait,
                    staging.path(),
                )
                .await?;
                pipeline.window =
                    crate::canary::window_for(&file, pipeline.window, false, wait.timeout_s)
                        .map_err(|m| Error::usage(format!("--canary-send-and-wait: {m}")))?;
                parameters["canary_marker"] = file.marker.clone().into();
                pipeline.canary = Some(std::sync::Arc::new(crate::canary::Watch::new(
                    file,
                    wait.timeout_s,
                )));
            }
            if let Some(inc) = &mut incremental {
                inc.plan(&mut pipeline, &src, &mut parameters)?;
            }
            let found = digests
                .collect(&src, Some(&s3), Some(&clients), &pipeline)
                .await?;
            integrity = Some(found.clone());
            pipeline.integrity = Some(found);
            Some(crate::pipeline::run(&src, Some(s3), pipeline).await?)
        }
    };
    let (verdict, code) = match (config_verdict, &outcome) {
        (Some(c), o) => combine(c, o.as_ref()),
        (None, Some(o)) => (o.evidence.as_str().to_owned(), o.evidence.exit_code()),
        (None, None) => unreachable!("a shard without the check always reads"),
    };
    let code = match &incremental {
        Some(inc) => inc.exit_code(code),
        None => code,
    };
    let summary_verdict = verdict.clone();
    let summary = Summary::new(
        "verify",
        outcome.as_ref(),
        verdict,
        code,
        parameters,
        report,
    );
    summary.write(staging.path())?;
    crate::report::pack::write(staging.path())?;
    // Nothing could be evaluated (a transient failure, denied credentials): the previous
    // evidence is not replaced by a directory that holds only this error.
    let nothing = outcome.is_none() && config_verdict == Some(Verdict::Error);
    if nothing {
        drop(staging);
    } else {
        staging.commit()?;
    }
    let (dir, mut line) = if nothing {
        // Nothing committed: the line still says what happened.
        let line = summary_line
            .then(|| super::summary_line_without_evidence(Verdict::Error.to_string(), code, asked));
        (dir, line)
    } else {
        super::finish(
            &dir,
            publish.as_ref(),
            &check.aws,
            summary_line,
            "verify",
            asked,
        )
        .await?
    };
    // The state advances only past a run whose log phase ran and whose evidence is complete.
    let advanced = match (incremental, &outcome) {
        (Some(inc), Some(o)) => {
            let ran = super::incremental::Ran {
                command: "verify",
                outcome: o,
                integrity: integrity.as_deref(),
                verdict: &summary_verdict,
                exit_code: code,
                shown: &dir,
            };
            inc.advance(ran, &mut line).await
        }
        (Some(inc), None) => inc.advance_nothing(&mut line),
        (None, _) => Ok(()),
    };
    match (view, &outcome) {
        (Some(check), outcome) => {
            let result = VerifyView {
                check,
                outcome: outcome.as_ref(),
                summary: &summary,
                dir: &dir,
            };
            super::print(check_format, &result, line)?;
        }
        (None, Some(outcome)) => {
            let result = ScanView {
                outcome,
                summary: &summary,
                dir: &dir,
            };
            super::print(check_format, &result, line)?;
        }
        (None, None) => unreachable!("a shard without the check always reads"),
    }
    Ok(Outcome {
        exit_code: super::incremental::exit_code(code, advanced),
    })
}

/// Sends canaries to the log phase's regions (the caller's account), writes them to
/// `canary.json` in the evidence directory, and waits (a progress line on a terminal, a log
/// line per look otherwise) until every answered probe is found in the logs or the timeout
/// has passed since the last was sent.
async fn send_and_wait(
    sdk: &aws_config::SdkConfig,
    check: &crate::check::CheckOptions,
    src: &Source,
    s3: &aws_sdk_s3::Client,
    pipeline: &Options,
    wait: SendAndWait,
    dir: &std::path::Path,
) -> Result<crate::canary::CanaryFile> {
    use std::io::IsTerminal;
    let mut options = check.clone();
    options.regions = pipeline.scope.regions.clone();
    let file = super::canary::send(sdk, &options, Some(pipeline.global_region.clone())).await?;
    file.write(&dir.join("canary.json"))?;
    let answered = file
        .probes
        .iter()
        .filter(|p| p.outcome == crate::canary::Sent::Answered)
        .count();
    let (first, last) = file.sent_span();
    // Past every timeout, and long enough after it that a listing then has seen what was
    // delivered before it: the verification that follows judges every probe.
    let deadline = last + wait.timeout_s + crate::canary::SETTLE_S + 1;
    let bar = if pipeline.progress && std::io::stderr().is_terminal() {
        indicatif::ProgressBar::new_spinner()
    } else {
        indicatif::ProgressBar::hidden()
    };
    bar.enable_steady_tick(std::time::Duration::from_millis(250));
    let mut seen = 0;
    loop {
        let now = crate::time::now_secs();
        bar.set_message(format!(
            "canary {}: {seen} of {answered} probes delivered; waited {} of {}",
            file.marker,
            crate::time::human_duration(now - first),
            crate::time::human_duration(deadline - first)
        ));
        if seen >= answered || now >= deadline {
            break;
        }
        let nap = wait
            .poll
            .min(std::time::Duration::from_secs((deadline - now) as u64));
        tokio::time::sleep(nap).await;
        match look(&file, src, s3, pipeline, wait.timeout_s).await {
            Ok(n) => seen = n,
            // The canaries are sent: a failed look is retried, the verification still runs.
            Err(e) => tracing::warn!(error = %e, "Cannot look for the canaries; trying again."),
        }
        tracing::info!(marker = %file.marker, seen, answered, "Looked for the canaries.");
    }
    bar.finish_and_clear();
    Ok(file)
}

/// How many answered probes the delivered logs hold so far (anywhere: a misplaced one is
/// found too).
async fn look(
    file: &crate::canary::CanaryFile,
    src: &Source,
    s3: &aws_sdk_s3::Client,
    pipeline: &Options,
    timeout_s: i64,
) -> Result<usize> {
    use crate::time::HOUR;
    let (first, last) = file.sent_span();
    let area = super::scratch(&std::env::temp_dir(), "trailproof-canary");
    super::new_private_dir(&area, "a scratch directory")?;
    let _guard = super::AreaGuard(Some(area.clone()));
    let mut scope = pipeline.scope.clone();
    scope.accounts = Some(vec![file.account_id.clone()]);
    let hours = crate::time::Window::new(
        first - first.rem_euclid(HOUR),
        last - last.rem_euclid(HOUR) + HOUR,
        pipeline.window.delivery_grace_s,
    );
    let window = crate::canary::window_for(file, hours, false, timeout_s).map_err(Error::usage)?;
    let opts = Options {
        window,
        scope,
        global_region: pipeline.global_region.clone(),
        out_dir: area.join("look"),
        workers: pipeline.workers,
        fetch_concurrency: pipeline.fetch_concurrency,
        max_in_flight_bytes: pipeline.max_in_flight_bytes,
        max_object_bytes: pipeline.max_object_bytes,
        max_decompressed: pipeline.max_decompressed,
        progress: false,
        file_hashes: false,
        canary: Some(std::sync::Arc::new(crate::canary::Watch::new(
            file.clone(),
            timeout_s,
        ))),
        ..Options::default()
    };
    let outcome = crate::pipeline::run(src, Some(s3.clone()), opts).await?;
    // The report lists the probes in the file's order.
    Ok(outcome
        .canary
        .map(|c| {
            c.probes
                .iter()
                .zip(&file.probes)
                .filter(|(r, p)| r.key.is_some() && p.outcome == crate::canary::Sent::Answered)
                .count()
        })
        .unwrap_or(0))
}

/// What the log phase of `verify` reads: from the check's compliant trail and the flags, or
/// (shards but 0) from the flags and the caller's identity and regions.
struct LogScope {
    source: Source,
    accounts: Option<Vec<String>>,
    regions: Vec<String>,
    org_id: Option<String>,
    global_region: Option<String>,
}

/// What the command line says of the log source (each overrides what the check finds).
struct Given {
    bucket: Option<String>,
    prefix: Option<String>,
    org_id: Option<String>,
    accounts: Option<Vec<String>>,
    global_region: Option<String>,
}

impl Given {
    /// The caller's defaults, alike in every shard: its own account, its partition's global
    /// region.
    fn or_caller(&mut self, identity: &crate::check::model::Identity) {
        self.accounts
            .get_or_insert_with(|| vec![identity.account_id.clone()]);
        self.global_region
            .get_or_insert_with(|| crate::regions::global_region(&identity.partition).to_owned());
    }
}

impl LogScope {
    /// From the configuration check: the compliant trail's bucket and prefix unless given
    /// (with `--shard`, only what is given: the other shards cannot see the trail); `None`
    /// when there is nothing to read (no bucket, or the check could not run).
    fn from_check(
        facts: &crate::check::Facts,
        eval: &crate::check::Evaluation,
        mut given: Given,
        shard: Option<crate::shard::Shard>,
    ) -> Result<Option<LogScope>> {
        let source = eval.log_sources.first();
        let Some(bucket) = given
            .bucket
            .take()
            .or_else(|| source.and_then(|s| s.bucket.clone()))
            .filter(|_| eval.verdict != Verdict::Error)
        else {
            return Ok(None);
        };
        if let Some(s) = source {
            given.accounts.get_or_insert_with(|| s.accounts.clone());
            given
                .global_region
                .get_or_insert_with(|| s.global_region.clone());
            if given.org_id.is_none() {
                given.org_id = s.organization_id.clone();
            }
        }
        // Without a compliant trail, the caller's (as the other shards resolve them).
        if let Ok(identity) = &facts.identity {
            given.or_caller(identity);
        }
        let prefix = match (shard, source) {
            (None, _) => given
                .prefix
                .or_else(|| source.and_then(|s| s.key_prefix.clone())),
            (Some(s), Some(t)) if t.bucket.as_deref() == Some(bucket.as_str()) => {
                if t.key_prefix != given.prefix {
                    // The trail's own bucket under another prefix: a mistake that would show
                    // the trail's logs missing.
                    return Err(Error::usage(format!(
                        "shard {s}: the compliant trail {} delivers to s3://{bucket}/{}, not under --prefix '{}': give every shard --prefix '{}'",
                        t.trail_arn,
                        t.key_prefix.as_deref().unwrap_or(""),
                        given.prefix.as_deref().unwrap_or(""),
                        t.key_prefix.as_deref().unwrap_or("")
                    )));
                }
                given.prefix
            }
            (Some(s), Some(t)) => {
                tracing::warn!(
                    shard = %s,
                    trail = %t.trail_arn,
                    "The compliant trail delivers to bucket {}; the shards read {bucket} (a copy?).",
                    t.bucket.as_deref().unwrap_or("")
                );
                given.prefix
            }
            (Some(_), None) => given.prefix,
        };
        Ok(Some(LogScope {
            source: Source::S3 { bucket, prefix },
            accounts: given.accounts,
            regions: facts.regions.names().map(str::to_owned).collect(),
            org_id: given.org_id,
            global_region: given.global_region,
        }))
    }

    /// Without the check: the given bucket (required with `--shard`), the caller's account
    /// and enabled regions.
    async fn from_caller(
        clients: &CheckClients,
        options: &crate::check::CheckOptions,
        mut given: Given,
    ) -> Result<LogScope> {
        let (identity, regions) = crate::check::collect::scope(clients, options).await;
        let identity = identity.map_err(|f| {
            Error::new(
                ErrorKind::Aws,
                format!("cannot tell whose logs to expect: {}", f.summary()),
            )
        })?;
        given.or_caller(&identity);
        Ok(LogScope {
            source: Source::S3 {
                bucket: given.bucket.unwrap_or_default(),
                prefix: given.prefix,
            },
            accounts: given.accounts,
            regions: regions.names().map(str::to_owned).collect(),
            org_id: given.org_id,
            global_region: given.global_region,
        })
    }
}

/// The verdict of `verify` (and of `merge --check`): a configuration that is not PASS decides
/// (with at least the log phase's exit code); else the log phase's evidence does. Without a
/// log phase the configuration decides, at least 1.
pub(crate) fn combine(
    config: Verdict,
    outcome: Option<&crate::report::RunOutcome>,
) -> (String, u8) {
    match outcome {
        None => (config.to_string(), config.exit_code().max(1)),
        Some(o) if config.exit_code() > 0 => (
            config.to_string(),
            config.exit_code().max(o.evidence.exit_code()),
        ),
        Some(o) => (o.evidence.as_str().to_owned(), o.evidence.exit_code()),
    }
}
