//! Output of the log phase: the text summary on stdout and `summary.json` in the evidence
//! directory.

use std::io::Write;
use std::path::Path;

use serde::Serialize;

use crate::coverage::{Gap, RegionStatus};
use crate::error::{Error, ErrorKind, Result};
use crate::scan::{Evidence, ScanOutcome};
use crate::time::rfc3339;

pub const EVIDENCE_SCHEMA: &str = "trailproof.evidence/v1";

/// Gaps listed in `summary.json` (all of them are in `gaps.parquet`).
const SUMMARY_GAPS: usize = 1_000;

#[derive(Serialize)]
pub(crate) struct GapJson<'a> {
    pub(crate) account_id: &'a str,
    pub(crate) region: &'a str,
    pub(crate) category: &'a str,
    pub(crate) kind: &'a str,
    pub(crate) start: String,
    pub(crate) end: String,
    pub(crate) detail: &'a str,
}

pub(crate) fn gap_json(g: &Gap) -> GapJson<'_> {
    GapJson {
        account_id: &g.account_id,
        region: &g.region,
        category: g.category.as_str(),
        kind: g.kind.as_str(),
        start: rfc3339(g.start),
        end: rfc3339(g.end),
        detail: &g.detail,
    }
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
    outcome: Option<&'a ScanOutcome>,
    gaps_by_kind: std::collections::BTreeMap<String, usize>,
    gaps: Vec<GapJson<'a>>,
    gaps_truncated: bool,
    parameters: serde_json::Value,
    /// `verify` only: the configuration check report.
    config: Option<serde_json::Value>,
}

impl<'a> Summary<'a> {
    pub fn new(
        command: &'a str,
        outcome: Option<&'a ScanOutcome>,
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
        Summary {
            schema: EVIDENCE_SCHEMA,
            tool: serde_json::json!({"name": "trailproof", "version": env!("CARGO_PKG_VERSION")}),
            command,
            generated_at: rfc3339(crate::time::now_secs()),
            verdict,
            exit_code,
            evidence: outcome.map(|o| o.evidence),
            outcome,
            gaps_by_kind: by_kind,
            gaps: gaps.iter().take(SUMMARY_GAPS).map(gap_json).collect(),
            gaps_truncated: gaps.len() > SUMMARY_GAPS,
            parameters,
            config,
        }
    }

    pub fn write(&self, dir: &Path) -> Result<()> {
        let path = dir.join("summary.json");
        let mut body = serde_json::to_vec_pretty(self)
            .map_err(|e| Error::with_source(ErrorKind::Output, "cannot encode summary.json", e))?;
        body.push(b'\n');
        std::fs::write(&path, body).map_err(|e| {
            Error::with_source(ErrorKind::Io, format!("cannot write {}", path.display()), e)
        })
    }
}

fn status_str(s: RegionStatus) -> &'static str {
    match s {
        RegionStatus::Proven => "proven",
        RegionStatus::Gap => "GAP",
        RegionStatus::Unknown => "UNKNOWN",
    }
}

/// The human summary of a log-phase run.
pub fn write_text(out: &mut dyn Write, o: &ScanOutcome, dir: &Path) -> std::io::Result<()> {
    let verdict = match o.evidence {
        Evidence::Proven => "PROVEN",
        Evidence::Gaps => "GAPS",
        Evidence::Unknown => "UNKNOWN (unreadable evidence; not proven)",
    };
    writeln!(
        out,
        "Delivery evidence: {verdict}  ({} gap rows)",
        o.gaps.len()
    )?;
    writeln!(out)?;
    writeln!(out, "Source    {}", o.source)?;
    writeln!(out, "Window    {} .. {}", o.window_start, o.window_end)?;
    let s = &o.stats;
    writeln!(
        out,
        "Read      {} log files ({:.1} MB gzip, {:.1} MB JSON), {} events; {} unreadable, {} skipped",
        s.log_files_read,
        s.compressed_bytes as f64 / 1e6,
        s.decompressed_bytes as f64 / 1e6,
        s.events,
        s.log_files_unreadable,
        s.objects_skipped
    )?;
    writeln!(
        out,
        "Expected  {} account(s) x {} region(s); global-service events in {}",
        o.expected_accounts.len(),
        o.expected_regions.len(),
        o.global_region
    )?;
    if let Some(d) = &o.digests {
        crate::integrity::write_digest_text(out, d)?;
    }
    writeln!(out)?;
    writeln!(
        out,
        "  {:<12}  {:<15}  {:<8}  {:>9}  {:>10}  {:>7}  {:>6}  {:>7}",
        "ACCOUNT", "REGION", "STATUS", "MGMT READ", "MGMT WRITE", "GLOBAL", "FILES", "MAX LAG"
    )?;
    for r in &o.regions {
        let t = &r.totals;
        writeln!(
            out,
            "  {:<12}  {:<15}  {:<8}  {:>9}  {:>10}  {:>7}  {:>6}  {:>7}",
            r.account_id,
            r.region,
            status_str(r.status),
            t.mgmt_read,
            t.mgmt_write,
            t.global_read + t.global_write,
            t.log_files,
            crate::time::human_duration(t.max_delivery_lag_s)
        )?;
    }
    if !o.gaps.is_empty() {
        writeln!(
            out,
            "\nGaps{}",
            if o.gaps.len() > 20 {
                format!(" (first 20 of {}; all in gaps.parquet)", o.gaps.len())
            } else {
                String::new()
            }
        )?;
        for g in o.gaps.iter().take(20) {
            writeln!(
                out,
                "  {} {} {}/{} {} .. {}  {}",
                g.account_id,
                g.region,
                g.category.as_str(),
                g.kind.as_str(),
                rfc3339(g.start),
                rfc3339(g.end),
                g.detail
            )?;
        }
    }
    writeln!(out, "\nEvidence in {}:", dir.display())?;
    for f in &o.outputs {
        writeln!(
            out,
            "  {:<17} {:>9} rows  sha256 {}",
            f.name,
            f.rows.unwrap_or(0),
            f.sha256
        )?;
    }
    writeln!(out, "  summary.json")
}
