//! The human summaries of a log-phase run and of its digest evidence.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use super::RunOutcome;
use crate::coverage::{Evidence, RegionStatus};
use crate::integrity::{DigestMode, DigestSummary};
use crate::time::rfc3339;

/// Per-region lines printed (every one is in `summary.json`, up to its own bound).
const TEXT_REGIONS: usize = 60;

fn status_str(s: RegionStatus) -> &'static str {
    match s {
        RegionStatus::Proven => "proven",
        RegionStatus::Gap => "GAP",
        RegionStatus::Unknown => "UNKNOWN",
    }
}

/// The human summary of a log-phase run.
pub fn write_evidence(out: &mut dyn Write, o: &RunOutcome, dir: &Path) -> std::io::Result<()> {
    let verdict = match o.evidence {
        Evidence::Unknown => "UNKNOWN (unreadable evidence; not proven)",
        e => e.as_str(),
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
        write_digests(out, d)?;
    }
    writeln!(out)?;
    writeln!(
        out,
        "  {:<12}  {:<15}  {:<8}  {:>9}  {:>10}  {:>7}  {:>6}  {:>7}",
        "ACCOUNT", "REGION", "STATUS", "MGMT READ", "MGMT WRITE", "GLOBAL", "FILES", "MAX LAG"
    )?;
    for r in o.regions.iter().take(TEXT_REGIONS) {
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
    for m in o.account_mismatches.iter().take(20) {
        writeln!(
            out,
            "  note: {} events in {} {}'s logs name recipientAccountId {}",
            m.events,
            m.account_id,
            m.region,
            m.recipient_accounts.join(", ")
        )?;
    }
    if let Some(c) = &o.canary {
        canary(out, c)?;
    }
    if o.regions.len() > TEXT_REGIONS {
        writeln!(
            out,
            "  (first {TEXT_REGIONS} of {}; every one in summary.json and coverage.parquet)",
            o.regions.len()
        )?;
    }
    if !o.gaps.is_empty() {
        heading(out, "Gaps", o.gaps.len(), 20)?;
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
    write_outputs(out, dir, &o.outputs, "summary.json")
}

pub(super) fn counts<K: std::fmt::Display>(m: &BTreeMap<K, usize>) -> String {
    m.iter()
        .map(|(k, v)| format!("{v} {k}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The digest lines of the text summaries.
pub fn write_digests(out: &mut dyn Write, d: &DigestSummary) -> std::io::Result<()> {
    let mode = match (d.mode, d.in_use) {
        (DigestMode::Off, _) => "off",
        (_, true) => "in use",
        (_, false) => "not used",
    };
    writeln!(
        out,
        "Digests   {mode}: {} found ({}); hours: {}",
        d.digests_found,
        counts(&d.digests_by_status),
        counts(&d.hours_by_status)
    )?;
    if d.verified_via_successor > 0 {
        writeln!(
            out,
            "          offline: {} digest(s) verified through their successor's copy of the signature (no object metadata)",
            d.verified_via_successor
        )?;
    }
    for n in &d.notes {
        writeln!(out, "          note: {n}")?;
    }
    Ok(())
}

/// A list's heading, saying when only the first `shown` of `n` rows are printed.
pub(super) fn heading(
    out: &mut dyn Write,
    what: &str,
    n: usize,
    shown: usize,
) -> std::io::Result<()> {
    if n > shown {
        writeln!(out, "\n{what} (first {shown} of {n}; all in gaps.parquet)")
    } else {
        writeln!(out, "\n{what}")
    }
}

/// The files of the evidence directory with their rows and hashes, then the JSON document.
pub(super) fn write_outputs(
    out: &mut dyn Write,
    dir: &Path,
    outputs: &[super::OutputFile],
    document: &str,
) -> std::io::Result<()> {
    writeln!(out, "\nEvidence in {}:", dir.display())?;
    for f in outputs {
        writeln!(
            out,
            "  {:<17} {:>9} rows  sha256 {}",
            f.name,
            f.rows.unwrap_or(0),
            f.sha256
        )?;
    }
    writeln!(out, "  {document}")?;
    writeln!(
        out,
        "  {}, {}",
        super::evidence::OSCAL,
        super::evidence::OCSF
    )?;
    writeln!(
        out,
        "  {}  {}",
        super::evidence::REPORT,
        dir.join(super::evidence::REPORT).display()
    )?;
    let manifest = dir.join(super::evidence::MANIFEST);
    if let Ok((_, sha)) = super::evidence::hash_file(&manifest) {
        writeln!(
            out,
            "  {}     sha256 {sha} (keep it: `trailproof verify-evidence {} --manifest-sha256 {sha}`)",
            super::evidence::MANIFEST,
            dir.display()
        )?;
    }
    Ok(())
}

/// The canary probes: one line each, with where each was found and its delivery time.
fn canary(out: &mut dyn Write, c: &crate::canary::CanaryReport) -> std::io::Result<()> {
    let counts: Vec<String> = c.counts().iter().map(|(k, n)| format!("{n} {k}")).collect();
    writeln!(
        out,
        "Canary {} (sent {}, timeout {}): {}",
        c.marker,
        c.sent_at,
        crate::time::human_duration(c.timeout_s),
        counts.join(", ")
    )?;
    writeln!(
        out,
        "  {:<15}  {:<6}  {:<15}  {:<18}  {:>8}  FOUND IN",
        "REGION", "PROBE", "STATUS", "EVENT", "DELIVERY"
    )?;
    for p in c.probes.iter().take(TEXT_REGIONS * 3) {
        writeln!(
            out,
            "  {:<15}  {:<6}  {:<15}  {:<18}  {:>8}  {}",
            p.region,
            p.kind.as_str(),
            p.status.as_str(),
            p.event.rsplit(':').next().unwrap_or(""),
            p.delivery_s
                .map(crate::time::human_duration)
                .unwrap_or_else(|| "-".into()),
            p.found_in_region.as_deref().unwrap_or("-")
        )?;
    }
    Ok(())
}
