//! `validate.json` (schema `trailproof.validate/v1`) and `validate`'s human report.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use serde::Serialize;

use super::{Render, RunOutcome};
use crate::error::Result;
use crate::integrity::{DigestSummary, Integrity};
use crate::time::rfc3339;

pub const VALIDATE_SCHEMA: &str = "trailproof.validate/v1";

/// `validate.json` and `validate --format json`.
#[derive(Serialize)]
pub struct ValidateReport<'a> {
    schema: &'static str,
    tool: serde_json::Value,
    command: &'static str,
    generated_at: String,
    source: &'a str,
    window_start: &'a str,
    window_end: &'a str,
    /// `VALID`: every hour of every chain valid or empty (or not due yet), every listed log
    /// present with its hash, no unlisted log. `INVALID` otherwise.
    pub result: &'static str,
    pub exit_code: u8,
    pub digests: DigestSummary,
    /// Log files read, by digest status.
    pub log_files: &'a BTreeMap<&'static str, u64>,
    pub log_files_unreadable: u64,
    pub findings_by_kind: BTreeMap<&'static str, usize>,
    findings: Vec<super::summary::GapJson<'a>>,
    outputs: &'a [super::OutputFile],
    /// The integrity statement's result and the controls it evidences.
    controls: Vec<super::controls::Assessment>,
    control_mapping: Vec<super::controls::MappingRow>,
    command_line: Vec<String>,
    #[serde(skip)]
    dir: &'a Path,
}

impl<'a> ValidateReport<'a> {
    pub fn new(o: &'a RunOutcome, i: &Integrity, dir: &'a Path) -> Self {
        let mut by_kind = BTreeMap::new();
        for g in &o.gaps {
            *by_kind.entry(g.kind.as_str()).or_default() += 1;
        }
        let valid = o.gaps.is_empty();
        ValidateReport {
            schema: VALIDATE_SCHEMA,
            tool: serde_json::json!({"name": "trailproof", "version": env!("CARGO_PKG_VERSION")}),
            command: "validate",
            generated_at: rfc3339(crate::time::generated_at()),
            source: &o.source,
            window_start: &o.window_start,
            window_end: &o.window_end,
            result: if valid { "VALID" } else { "INVALID" },
            exit_code: if valid { 0 } else { 1 },
            digests: i.summary(),
            log_files: &o.stats.log_files_by_digest_status,
            log_files_unreadable: o.stats.log_files_unreadable,
            findings_by_kind: by_kind,
            findings: o.gaps.iter().map(super::summary::gap_json).collect(),
            outputs: &o.outputs,
            controls: super::controls::assess_log_phase(&super::controls::LogPhaseFacts {
                digests_in_use: true,
                ..o.facts()
            })
            .into_iter()
            .filter(|a| a.statement == super::controls::Statement::Integrity)
            .collect(),
            control_mapping: super::controls::mapping(),
            command_line: super::summary::command_line(),
            dir,
        }
    }

    /// The same report, naming `dir` as where the evidence is (after it was published).
    pub fn with_dir(self, dir: &'a Path) -> Self {
        ValidateReport { dir, ..self }
    }

    /// Writes `validate.json` into `dir` (the run's staging directory).
    pub fn write(&self, dir: &Path) -> Result<()> {
        super::write_json(dir, "validate.json", self)
    }
}

/// The human report of `validate`.
fn write_text(out: &mut dyn Write, r: &ValidateReport<'_>) -> std::io::Result<()> {
    let dir = r.dir;
    writeln!(
        out,
        "Digest validation: {}  ({} finding{})\n",
        r.result,
        r.findings.len(),
        if r.findings.len() == 1 { "" } else { "s" }
    )?;
    writeln!(out, "Source    {}", r.source)?;
    writeln!(out, "Window    {} .. {}", r.window_start, r.window_end)?;
    super::text::write_digests(out, &r.digests)?;
    let hashed: u64 = r.log_files.values().sum();
    writeln!(
        out,
        "Log files {hashed} hashed ({}); {} unreadable",
        r.log_files
            .iter()
            .map(|(k, v)| format!("{v} {k}"))
            .collect::<Vec<_>>()
            .join(", "),
        r.log_files_unreadable
    )?;
    for k in &r.digests.keys {
        writeln!(
            out,
            "Key       {} ({:?}, from {}, valid {} .. {})",
            k.fingerprint,
            k.encoding,
            k.source,
            k.valid_from.as_deref().unwrap_or("?"),
            k.valid_until.as_deref().unwrap_or("?")
        )?;
    }
    writeln!(out)?;
    writeln!(
        out,
        "  {:<12}  {:<15}  {:>7}  HOURS",
        "ACCOUNT", "REGION", "DIGESTS"
    )?;
    for reg in &r.digests.regions {
        let mut by = BTreeMap::new();
        for run in &reg.hours {
            let n = (crate::time::parse_event_time(&run.end).unwrap_or(0)
                - crate::time::parse_event_time(&run.start).unwrap_or(0))
                / 3_600;
            *by.entry(run.status.as_str()).or_insert(0usize) += n as usize;
        }
        writeln!(
            out,
            "  {:<12}  {:<15}  {:>7}  {}",
            reg.account_id,
            reg.region,
            reg.digests,
            super::text::counts(&by)
        )?;
    }
    if !r.findings.is_empty() {
        super::text::heading(out, "Findings", r.findings.len(), 30)?;
        for g in r.findings.iter().take(30) {
            writeln!(
                out,
                "  {} {} {} {} .. {}  {}",
                g.account_id, g.region, g.kind, g.start, g.end, g.detail
            )?;
        }
    }
    super::text::write_outputs(out, dir, r.outputs, "validate.json")
}

impl Render for ValidateReport<'_> {
    fn text(&self, out: &mut dyn Write) -> std::io::Result<()> {
        write_text(out, self)
    }

    fn json(&self, out: &mut dyn Write) -> std::io::Result<()> {
        super::json(out, self)
    }
}
