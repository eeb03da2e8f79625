//! Output of `check`: a human summary, or one JSON document with a stable schema.

use std::io::Write;

use serde::Serialize;

use super::Render;
use crate::aws::ApiFailure;
use crate::check::model::{Facts, Identity};
use crate::check::verdict::{
    Evaluation, Finding, LogSource, RegionRow, Severity, TrailAssessment, Verdict,
};
use crate::check::{CheckOptions, Ruleset};
use crate::regions::RegionSource;
use crate::time::rfc3339;

/// Schema id of the JSON document; bumped on any incompatible change.
pub const CHECK_SCHEMA: &str = "trailproof.check/v1";

#[derive(Serialize)]
struct Tool {
    name: &'static str,
    version: &'static str,
}

#[derive(Serialize)]
struct RegionsJson<'a> {
    source: RegionSource,
    in_scope: &'a [RegionRow],
    not_enabled: &'a [String],
    excluded: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    discovery_failure: Option<&'a ApiFailure>,
}

/// The JSON document of `check --format json` (documented in the README).
#[derive(Serialize)]
pub struct CheckReport<'a> {
    schema: &'static str,
    tool: Tool,
    generated_at: String,
    /// When the configuration was read (`generated_at` may be fixed by `SOURCE_DATE_EPOCH`).
    observed_at: String,
    verdict: Verdict,
    exit_code: u8,
    reasons: &'a [String],
    ruleset: Ruleset,
    semantic: bool,
    account: Option<&'a Identity>,
    regions: RegionsJson<'a>,
    trails: &'a [TrailAssessment],
    compliant_trails: &'a [String],
    log_sources: &'a [LogSource],
    findings: &'a [Finding],
    remediation: &'a [String],
    /// The configuration statement's result and the controls it evidences.
    controls: Vec<super::controls::Assessment>,
    /// The statement-to-control table (`docs/evidence-pack.md`).
    control_mapping: Vec<super::controls::MappingRow>,
}

impl<'a> CheckReport<'a> {
    pub fn new(facts: &'a Facts, eval: &'a Evaluation, opts: &CheckOptions) -> Self {
        CheckReport {
            schema: CHECK_SCHEMA,
            tool: Tool {
                name: "trailproof",
                version: env!("CARGO_PKG_VERSION"),
            },
            generated_at: rfc3339(crate::time::generated_at()),
            observed_at: rfc3339(facts.observed_at),
            verdict: eval.verdict,
            exit_code: eval.verdict.exit_code(),
            reasons: &eval.reasons,
            ruleset: opts.ruleset,
            semantic: opts.semantic,
            account: facts.identity.as_ref().ok(),
            regions: RegionsJson {
                source: facts.regions.source,
                in_scope: &eval.regions,
                not_enabled: &facts.regions.not_enabled,
                excluded: &facts.regions.excluded,
                discovery_failure: facts.regions.discovery_failure.as_ref(),
            },
            trails: &eval.trails,
            compliant_trails: &eval.compliant_trails,
            log_sources: &eval.log_sources,
            findings: &eval.findings,
            remediation: &eval.remediation,
            controls: vec![super::controls::assess_configuration(
                &eval.verdict.to_string(),
                eval.findings.len(),
            )],
            control_mapping: super::controls::mapping(),
        }
    }
}

/// The result of `check`, printable in either format.
pub struct CheckView<'a> {
    pub facts: &'a Facts,
    pub eval: &'a Evaluation,
    pub opts: &'a CheckOptions,
}

impl CheckView<'_> {
    /// The JSON document.
    pub fn report(&self) -> CheckReport<'_> {
        CheckReport::new(self.facts, self.eval, self.opts)
    }
}

impl Render for CheckView<'_> {
    fn text(&self, out: &mut dyn Write) -> std::io::Result<()> {
        write_text(out, self.facts, self.eval, self.opts)
    }

    fn json(&self, out: &mut dyn Write) -> std::io::Result<()> {
        super::json(out, &self.report())
    }
}

fn table(out: &mut dyn Write, header: &[&str], rows: &[Vec<String>]) -> std::io::Result<()> {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let mut s = String::from("  ");
        for (i, (cell, w)) in cells.iter().zip(&widths).enumerate() {
            if i + 1 == cells.len() {
                s.push_str(cell);
            } else {
                s.push_str(&format!("{cell:<w$}  ", w = *w));
            }
        }
        s.trim_end().to_owned()
    };
    writeln!(out, "{}", line(header.to_vec()))?;
    for row in rows {
        writeln!(out, "{}", line(row.iter().map(String::as_str).collect()))?;
    }
    Ok(())
}

fn yes_no(b: Option<bool>) -> String {
    match b {
        Some(true) => "yes".into(),
        Some(false) => "no".into(),
        None => "unknown".into(),
    }
}

/// Writes the human summary.
pub fn write_text(
    out: &mut dyn Write,
    facts: &Facts,
    eval: &Evaluation,
    opts: &CheckOptions,
) -> std::io::Result<()> {
    let reasons = if eval.reasons.is_empty() {
        String::new()
    } else {
        format!("  [{}]", eval.reasons.join(", "))
    };
    writeln!(out, "CloudTrail configuration: {}{reasons}", eval.verdict)?;
    writeln!(out)?;
    match &facts.identity {
        Ok(id) => writeln!(
            out,
            "Account     {} (partition {}), as {}",
            id.account_id, id.partition, id.arn
        )?,
        Err(f) => writeln!(out, "Account     unknown: {}", f.summary())?,
    }
    let source = match facts.regions.source {
        RegionSource::ListRegions => "account:ListRegions",
        RegionSource::Flag => "--regions",
        RegionSource::BuiltinUnverified => "built-in default list, UNVERIFIED",
    };
    writeln!(
        out,
        "Regions     {} in scope (from {source})",
        facts.regions.in_scope.len()
    )?;
    if !facts.regions.not_enabled.is_empty() {
        writeln!(
            out,
            "            not enabled (out of scope): {}",
            facts.regions.not_enabled.join(", ")
        )?;
    }
    if !facts.regions.excluded.is_empty() {
        writeln!(
            out,
            "            excluded by --exclude-regions: {}",
            facts.regions.excluded.join(", ")
        )?;
    }
    let ruleset = match opts.ruleset {
        Ruleset::Aws => "aws (Security Hub CloudTrail.1 parity)",
        Ruleset::CisLiteral => "cis-literal",
    };
    writeln!(
        out,
        "Ruleset     {ruleset}{}",
        if opts.semantic { ", semantic" } else { "" }
    )?;
    writeln!(out, "Checked at  {}", rfc3339(facts.observed_at))?;

    if !eval.findings.is_empty() {
        writeln!(out, "\nFindings")?;
        for f in &eval.findings {
            let level = match f.severity {
                Severity::Info => "note",
                Severity::Warn => "WARN",
                Severity::Fail => "FAIL",
                Severity::Inconclusive => "INCONCLUSIVE",
                Severity::Error => "ERROR",
            };
            writeln!(out, "  {level:<12} {}: {}", f.reason, f.message)?;
        }
    }

    writeln!(out, "\nCompliant trail")?;
    if eval.log_sources.is_empty() {
        writeln!(out, "  none")?;
    }
    for s in &eval.log_sources {
        let bucket = s.bucket.as_deref().unwrap_or("?");
        let prefix = s
            .key_prefix
            .as_deref()
            .map(|p| format!("{p}/"))
            .unwrap_or_default();
        writeln!(out, "  {}", s.trail_arn)?;
        writeln!(
            out,
            "    logs: s3://{bucket}/{prefix}AWSLogs/{}{}/CloudTrail/<region>/  ({} regions, global events in {}, log file validation {})",
            if s.organization_trail {
                "<org-id>/"
            } else {
                ""
            },
            s.accounts.join(","),
            s.regions.len(),
            s.global_region,
            if s.log_file_validation { "on" } else { "OFF" },
        )?;
    }

    if !eval.trails.is_empty() {
        writeln!(out, "\nTrails")?;
        let rows: Vec<Vec<String>> = eval
            .trails
            .iter()
            .map(|t| {
                vec![
                    t.name.clone(),
                    t.home_region.clone(),
                    if t.multi_region { "yes" } else { "no" }.into(),
                    if t.organization { "yes" } else { "no" }.into(),
                    yes_no(t.is_logging),
                    t.selector_type.unwrap_or("unknown").into(),
                    if t.compliant {
                        "compliant".into()
                    } else {
                        t.issue.clone().unwrap_or_default()
                    },
                ]
            })
            .collect();
        table(
            out,
            &[
                "TRAIL",
                "HOME",
                "MULTI-REGION",
                "ORG",
                "LOGGING",
                "SELECTORS",
                "RESULT",
            ],
            &rows,
        )?;
    }

    if !eval.regions.is_empty() {
        writeln!(out, "\nRegions")?;
        let rows: Vec<Vec<String>> = eval
            .regions
            .iter()
            .map(|r| {
                let covered: Vec<&str> = r
                    .covered_by
                    .iter()
                    .map(|a| a.rsplit('/').next().unwrap_or(a))
                    .collect();
                vec![
                    r.region.clone(),
                    r.opt_status.as_str().to_owned(),
                    r.visible_trails
                        .map(|n| n.to_string())
                        .unwrap_or_else(|| "-".into()),
                    r.state.as_str().to_owned(),
                    if covered.is_empty() {
                        r.detail.clone().unwrap_or_default()
                    } else {
                        covered.join(", ")
                    },
                ]
            })
            .collect();
        table(
            out,
            &["REGION", "OPT-IN", "TRAILS", "STATE", "COVERED BY / DETAIL"],
            &rows,
        )?;
    }

    if !eval.remediation.is_empty() {
        writeln!(out, "\nRemediation")?;
        for r in &eval.remediation {
            writeln!(out, "  {r}")?;
        }
    }
    Ok(())
}
