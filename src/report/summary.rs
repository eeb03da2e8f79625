//! `summary.json` (schema `trailproof.evidence/v1`) in the evidence directory, and the
//! results of `scan` and `verify` as printed in either format.

use std::io::Write;
use std::path::Path;

use serde::Serialize;

use super::controls::{Assessment, Statement};
use super::{Render, RunOutcome};
use crate::coverage::{Evidence, Gap, RegionStatus};
use crate::error::Result;
use crate::time::rfc3339;

pub const EVIDENCE_SCHEMA: &str = "trailproof.evidence/v1";

/// Gaps listed in `summary.json` (all of them are in `gaps.parquet`).
const SUMMARY_GAPS: usize = 1_000;

/// Per-region results listed in `summary.json` (their counts are in `coverage.parquet`).
const SUMMARY_REGIONS: usize = 1_000;

/// The outcome as `summary.json` holds it: bounded whatever the run's size (the first
/// [`SUMMARY_REGIONS`] per-region results and [`SUMMARY_GAPS`] gaps, with counts of all).
#[derive(Serialize)]
struct OutcomeJson<'a> {
    evidence: Evidence,
    source: &'a str,
    window_start: &'a str,
    window_end: &'a str,
    expected_accounts: &'a [String],
    expected_regions: &'a [String],
    global_region: &'a str,
    stats: &'a super::Stats,
    totals: &'a super::Totals,
    dense: bool,
    regions_by_status: std::collections::BTreeMap<RegionStatus, usize>,
    regions: &'a [crate::coverage::RegionResult],
    regions_truncated: bool,
    gaps: &'a [Gap],
    outputs: &'a [super::OutputFile],
    digests: Option<&'a crate::integrity::DigestSummary>,
    account_mismatches: &'a [super::AccountMismatch],
}

impl<'a> OutcomeJson<'a> {
    fn new(o: &'a RunOutcome) -> Self {
        let mut by_status = std::collections::BTreeMap::new();
        for r in &o.regions {
            *by_status.entry(r.status).or_default() += 1;
        }
        OutcomeJson {
            evidence: o.evidence,
            source: &o.source,
            window_start: &o.window_start,
            window_end: &o.window_end,
            expected_accounts: &o.expected_accounts,
            expected_regions: &o.expected_regions,
            global_region: &o.global_region,
            stats: &o.stats,
            totals: &o.totals,
            dense: o.dense,
            regions_by_status: by_status,
            regions: &o.regions[..o.regions.len().min(SUMMARY_REGIONS)],
            regions_truncated: o.regions.len() > SUMMARY_REGIONS,
            gaps: &o.gaps[..o.gaps.len().min(SUMMARY_GAPS)],
            outputs: &o.outputs,
            digests: o.digests.as_ref(),
            account_mismatches: &o.account_mismatches
                [..o.account_mismatches.len().min(SUMMARY_REGIONS)],
        }
    }
}

#[derive(Serialize)]
pub(crate) struct GapJson<'a> {
    pub(crate) account_id: &'a str,
    pub(crate) region: &'a str,
    pub(crate) category: &'a str,
    pub(crate) kind: &'a str,
    pub(crate) start: String,
    pub(crate) end: String,
    pub(crate) detail: &'a str,
    /// The statement it breaks and the controls that statement evidences.
    pub(crate) statement: Statement,
    pub(crate) controls: Vec<String>,
}

pub(crate) fn gap_json(g: &Gap) -> GapJson<'_> {
    let statement = Statement::of_gap(g);
    GapJson {
        account_id: &g.account_id,
        region: &g.region,
        category: g.category.as_str(),
        kind: g.kind.as_str(),
        start: rfc3339(g.start),
        end: rfc3339(g.end),
        detail: &g.detail,
        statement,
        controls: super::controls::references(statement),
    }
}

/// Trail changes listed in `summary.json` (all of them are in `trail_changes.parquet`).
const SUMMARY_TRAIL_CHANGES: usize = 1_000;

/// The command line as given, program name first (`trailproof …`).
pub fn command_line() -> Vec<String> {
    let mut args: Vec<String> = std::env::args().collect();
    if let Some(first) = args.first_mut() {
        *first = "trailproof".into();
    }
    args
}

/// `summary.json`.
#[derive(Serialize)]
pub struct Summary<'a> {
    schema: &'static str,
    tool: serde_json::Value,
    command: &'a str,
    generated_at: String,
    /// `PROVEN`, `GAPS`, `UNKNOWN` (log phase), or the config verdict when there was no log phase.
    verdict: String,
    exit_code: u8,
    evidence: Option<Evidence>,
    outcome: Option<OutcomeJson<'a>>,
    gaps_by_kind: std::collections::BTreeMap<String, usize>,
    gaps: Vec<GapJson<'a>>,
    gaps_truncated: bool,
    parameters: serde_json::Value,
    /// `verify` only: the configuration check report.
    config: Option<serde_json::Value>,
    /// What the run states, each with its result and the controls it evidences.
    controls: Vec<Assessment>,
    /// The statement-to-control table (`docs/evidence-pack.md`).
    control_mapping: Vec<super::controls::MappingRow>,
    trail_changes: &'a [crate::coverage::TrailChange],
    trail_changes_total: u64,
    trail_changes_truncated: bool,
    /// `--canary`: every probe, where it was found and how long its delivery took.
    canary: Option<&'a crate::canary::CanaryReport>,
    /// The exact command line.
    command_line: Vec<String>,
}

impl<'a> Summary<'a> {
    pub fn new(
        command: &'a str,
        outcome: Option<&'a RunOutcome>,
        verdict: String,
        exit_code: u8,
        parameters: serde_json::Value,
        config: Option<serde_json::Value>,
    ) -> Self {
        let mut by_kind = std::collections::BTreeMap::new();
        let gaps: &[Gap] = outcome.map(|o| o.gaps.as_slice()).unwrap_or(&[]);
        for g in gaps {
            *by_kind.entry(g.kind.as_str().to_owned()).or_default() += 1;
        }
        let mut controls = Vec::new();
        if let Some(c) = &config {
            controls.push(super::controls::assess_configuration(
                c.get("verdict").and_then(|v| v.as_str()).unwrap_or("ERROR"),
                c.get("findings")
                    .and_then(|f| f.as_array())
                    .map_or(0, Vec::len),
            ));
        }
        if let Some(o) = outcome {
            controls.extend(super::controls::assess_log_phase(&o.facts()));
        }
        let changes: &[crate::coverage::TrailChange] =
            outcome.map(|o| o.trail_changes.as_slice()).unwrap_or(&[]);
        let changes_total = changes.len() as u64 + outcome.map_or(0, |o| o.trail_changes_dropped);
        Summary {
            controls,
            control_mapping: super::controls::mapping(),
            trail_changes: &changes[..changes.len().min(SUMMARY_TRAIL_CHANGES)],
            trail_changes_total: changes_total,
            trail_changes_truncated: changes_total > SUMMARY_TRAIL_CHANGES as u64,
            canary: outcome.and_then(|o| o.canary.as_ref()),
            command_line: command_line(),
            schema: EVIDENCE_SCHEMA,
            tool: serde_json::json!({"name": "trailproof", "version": env!("CARGO_PKG_VERSION")}),
            command,
            generated_at: rfc3339(crate::time::generated_at()),
            verdict,
            exit_code,
            evidence: outcome.map(|o| o.evidence),
            outcome: outcome.map(OutcomeJson::new),
            gaps_by_kind: by_kind,
            gaps: gaps.iter().take(SUMMARY_GAPS).map(gap_json).collect(),
            gaps_truncated: gaps.len() > SUMMARY_GAPS,
            parameters,
            config,
        }
    }

    pub fn write(&self, dir: &Path) -> Result<()> {
        super::write_json(dir, "summary.json", self)
    }
}

/// The result of `scan`: the text summary, or `summary.json`.
pub struct ScanView<'a> {
    pub outcome: &'a RunOutcome,
    pub summary: &'a Summary<'a>,
    pub dir: &'a Path,
}

impl Render for ScanView<'_> {
    fn text(&self, out: &mut dyn Write) -> std::io::Result<()> {
        super::text::write_evidence(out, self.outcome, self.dir)
    }

    fn json(&self, out: &mut dyn Write) -> std::io::Result<()> {
        super::json(out, self.summary)
    }
}

/// The result of `verify`: the configuration report, then the delivery evidence when there
/// was a log phase; or `summary.json`.
pub struct VerifyView<'a> {
    pub check: super::check::CheckView<'a>,
    pub outcome: Option<&'a RunOutcome>,
    pub summary: &'a Summary<'a>,
    pub dir: &'a Path,
}

impl Render for VerifyView<'_> {
    fn text(&self, out: &mut dyn Write) -> std::io::Result<()> {
        self.check.text(out)?;
        match self.outcome {
            Some(o) => {
                writeln!(
                    out,
                    "\n----------------------------------------------------------------\n"
                )?;
                super::text::write_evidence(out, o, self.dir)
            }
            None => writeln!(
                out,
                "\nNo log phase: no compliant trail names a bucket (pass --bucket to read one anyway)."
            ),
        }
    }

    fn json(&self, out: &mut dyn Write) -> std::io::Result<()> {
        super::json(out, self.summary)
    }
}
