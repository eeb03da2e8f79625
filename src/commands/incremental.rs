//! `--state` in a command: open (and lock) the state before anything is judged, plan the
//! window from it, and advance it once the run's evidence is complete.

use std::path::Path;
use std::sync::Arc;

use crate::error::Result;
use crate::integrity::Integrity;
use crate::pipeline::Options;
use crate::report::RunOutcome;
use crate::source::Source;
use crate::state::{Held, LastRun, Next, Plan, Settings};

/// A run's state, opened.
pub(crate) struct Incremental {
    held: Held,
    settings: Settings,
    plan: Option<Plan>,
    shard: Option<String>,
}

impl Incremental {
    /// Opens the state when `--state` was given: a local file is locked for the whole run
    /// (another run holding it stops this one at once, exit 2).
    pub(crate) async fn open(
        settings: Option<Settings>,
        aws: &crate::aws::AwsSettings,
    ) -> Result<Option<Incremental>> {
        let Some(settings) = settings else {
            return Ok(None);
        };
        let held = crate::state::open(settings.location.clone(), aws).await?;
        Ok(Some(Incremental {
            held,
            settings,
            plan: None,
            shard: None,
        }))
    }

    /// Sets the run's window and what it carries over, and records both in `parameters`.
    pub(crate) fn plan(
        &mut self,
        pipeline: &mut Options,
        source: &Source,
        parameters: &mut serde_json::Value,
    ) -> Result<()> {
        let plan = crate::state::plan(
            self.held.previous.as_ref(),
            &self.settings,
            &source.to_string(),
            pipeline.scope.shard.map(|s| s.to_string()).as_deref(),
            &self.held.location,
        )?;
        self.shard = pipeline.scope.shard.map(|s| s.to_string());
        if self.held.previous.is_none() {
            tracing::warn!(
                "no state at {} yet: a first run, judging {} (from --since)",
                self.held.location,
                plan.window
                    .bounds()
                    .map(|(a, b)| format!(
                        "{} .. {}",
                        crate::time::rfc3339(a),
                        crate::time::rfc3339(b)
                    ))
                    .unwrap_or_default()
            );
        }
        pipeline.window = plan.window;
        pipeline.carried = self.held.previous.as_ref().map(|s| Arc::new(s.carried()));
        if let Some(message) = plan.behind_message() {
            tracing::warn!("{message}");
        }
        parameters["state"] = plan.describe(&self.held.location);
        self.plan = Some(plan);
        Ok(())
    }

    /// The exit code once catching up is accounted for: a run that did not reach the asked
    /// end says so with at least 1.
    pub(crate) fn exit_code(&self, code: u8) -> u8 {
        match &self.plan {
            Some(p) if p.behind_s > 0 => code.max(1),
            _ => code,
        }
    }

    /// Advances the state past the run (its evidence committed and published at `shown`),
    /// and records in the summary line whether it did. A run whose window was never planned
    /// (no log phase) leaves the state as it is.
    pub(crate) async fn advance(
        self,
        run: Ran<'_>,
        line: &mut Option<serde_json::Value>,
    ) -> Result<()> {
        if self.plan.is_none() {
            return self.advance_nothing(line);
        }
        let Incremental {
            held, plan, shard, ..
        } = self;
        let created = held.previous.is_none();
        let plan = plan.expect("checked above");
        let window = plan.window.bounds().unwrap_or((0, 0));
        let next = crate::state::advance(
            held.previous.as_ref(),
            Next {
                source: run.outcome.source.clone(),
                shard,
                window,
                results: &run.outcome.regions,
                chains: run.integrity.map(|i| i.chains.as_slice()).unwrap_or(&[]),
                last_run: LastRun {
                    command: run.command.to_owned(),
                    window_start: run.outcome.window_start.clone(),
                    window_end: run.outcome.window_end.clone(),
                    verdict: run.verdict.to_owned(),
                    exit_code: run.exit_code,
                    evidence: run.shown.display().to_string(),
                },
            },
        );
        match held.advance(&next).await {
            Ok(()) => {
                set(line, if created { "created" } else { "advanced" }, None);
                Ok(())
            }
            Err(e) => {
                // Said now, before the result: the summary line stays the last line.
                eprintln!("trailproof: {e}");
                set(line, "not_advanced", Some(2));
                Err(e)
            }
        }
    }
}

impl Incremental {
    /// A run that judged no logs (verify without a log phase): the state stays as it is, and
    /// its lock is released.
    pub(crate) fn advance_nothing(self, line: &mut Option<serde_json::Value>) -> Result<()> {
        tracing::warn!(
            "the state {} was not advanced: no log phase ran",
            self.held.location
        );
        set(line, "not_advanced", None);
        Ok(())
    }
}

/// What a run produced, for its state.
pub(crate) struct Ran<'a> {
    pub command: &'static str,
    pub outcome: &'a RunOutcome,
    pub integrity: Option<&'a Integrity>,
    pub verdict: &'a str,
    pub exit_code: u8,
    pub shown: &'a Path,
}

/// The exit code of a run whose state may not have advanced: 2 when it did not (the error
/// was already said).
pub(crate) fn exit_code(code: u8, advanced: Result<()>) -> u8 {
    if advanced.is_err() { 2 } else { code }
}

fn set(line: &mut Option<serde_json::Value>, state: &str, exit_code: Option<u8>) {
    if let Some(l) = line {
        l["state"] = state.into();
        if let Some(c) = exit_code {
            l["exit_code"] = c.into();
        }
    }
}
