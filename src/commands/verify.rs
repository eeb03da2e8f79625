//! `trailproof verify`: `check`, then the compliant trail's logs for the window from S3.

use crate::aws::CheckClients;
use crate::check::Verdict;
use crate::error::{Error, ErrorKind, Result};
use crate::pipeline::Options;
use crate::report::check::CheckView;
use crate::report::staging::Staging;
use crate::report::summary::{Summary, VerifyView};
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
    } = config;
    // Before anything is judged: a state in use by another run stops this one here.
    let mut incremental = super::incremental::Incremental::open(state, &check.aws).await?;
    let dir = pipeline.out_dir.clone();
    let publish = pipeline.publish.clone();
    let summary_line = pipeline.summary_line;
    // The window asked for: what a run without a log phase is filed under.
    let asked = pipeline.window.bounds().unwrap_or((0, 0));
    let staging = Staging::begin(&dir)?;
    pipeline.out_dir = staging.path().to_owned();
    let sdk = crate::aws::sdk_config(&check.aws).await;
    let clients = CheckClients::from_sdk_config(&sdk);
    let (facts, eval) = crate::check::run(&clients, &check.options).await;
    let view = CheckView {
        facts: &facts,
        eval: &eval,
        opts: &check.options,
    };
    let report = serde_json::to_value(view.report())
        .map_err(|e| Error::with_source(ErrorKind::Output, "cannot encode the check report", e))?;
    let source = eval.log_sources.first();
    let bucket = bucket.or_else(|| source.and_then(|s| s.bucket.clone()));
    let mut integrity = None;
    let outcome = match bucket.filter(|_| eval.verdict != Verdict::Error) {
        // No log phase: the configuration alone decides (FAIL/INCONCLUSIVE 1, ERROR 2).
        None => None,
        Some(bucket) => {
            pipeline.scope.accounts = accounts
                .or_else(|| source.map(|s| s.accounts.clone()))
                .or_else(|| {
                    facts
                        .identity
                        .as_ref()
                        .ok()
                        .map(|i| vec![i.account_id.clone()])
                });
            pipeline.scope.regions = Some(facts.regions.names().map(str::to_owned).collect());
            pipeline.scope.org_id =
                org_id.or_else(|| source.and_then(|s| s.organization_id.clone()));
            if let Some(s) = source {
                pipeline.global_region = global_region.unwrap_or_else(|| s.global_region.clone());
            }
            let prefix = prefix.or_else(|| source.and_then(|s| s.key_prefix.clone()));
            let s3 = crate::aws::s3_client_for_bucket(&sdk, &bucket).await;
            let src = Source::S3 { bucket, prefix };
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
    let (verdict, code) = combine(eval.verdict, outcome.as_ref());
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
        Some(report),
    );
    summary.write(staging.path())?;
    crate::report::pack::write(staging.path())?;
    if outcome.is_none() && eval.verdict == Verdict::Error {
        // Nothing could be evaluated (a transient failure, denied credentials): the previous
        // evidence is not replaced by a directory that holds only this error.
        drop(staging);
    } else {
        staging.commit()?;
    }
    let (dir, mut line) = if outcome.is_none() && eval.verdict == Verdict::Error {
        // Nothing committed: the line still says what happened.
        let line = summary_line
            .then(|| super::summary_line_without_evidence(eval.verdict.to_string(), code, asked));
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
    let result = VerifyView {
        check: view,
        outcome: outcome.as_ref(),
        summary: &summary,
        dir: &dir,
    };
    super::print(check.format, &result, line)?;
    Ok(Outcome {
        exit_code: super::incremental::exit_code(code, advanced),
    })
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
