//! Every output: the Parquet tables ([`parquet`]), `summary.json` ([`summary`]), the text
//! summaries ([`text`]), `validate.json` ([`validate`]) and the check report ([`check`]);
//! the outcome of a log-phase run they are made from ([`RunOutcome`]); the evidence directory,
//! all or nothing ([`staging`]); and the one place an output format is chosen ([`print`]).

pub mod check;
pub mod controls;
pub mod evidence;
pub mod html;
pub mod manifest;
pub mod ocsf;
pub mod oscal;
pub mod pack;
pub mod parquet;
pub mod staging;
pub mod summary;
pub mod text;
pub mod validate;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use serde::Serialize;

use crate::coverage::{Evidence, Gap, RegionResult};
use crate::error::{Error, ErrorKind, Result};
use crate::integrity::DigestSummary;

/// Output format of a command's result on stdout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// A human summary.
    Text,
    /// One JSON document with a stable schema (see README, "JSON output").
    Json,
}

/// A command's result, printable in every [`Format`].
pub trait Render {
    /// The human summary.
    fn text(&self, out: &mut dyn Write) -> std::io::Result<()>;
    /// The JSON document (see [`json`]).
    fn json(&self, out: &mut dyn Write) -> std::io::Result<()>;
}

/// Writes one pretty JSON document, newline-terminated, fields in declaration order.
pub fn json(out: &mut dyn Write, doc: &impl Serialize) -> std::io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, doc)?;
    writeln!(out)
}

/// Prints `result` on stdout in `format`: the one place a format is chosen.
pub fn print(format: Format, result: &dyn Render) -> Result<()> {
    stdout(|out| match format {
        Format::Text => result.text(out),
        Format::Json => result.json(out),
    })
}

/// Writes to stdout; a closed pipe (`| head`) is not an error of ours.
fn stdout(f: impl FnOnce(&mut dyn Write) -> std::io::Result<()>) -> Result<()> {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match f(&mut out).and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(Error::with_source(
            ErrorKind::Output,
            "cannot write to stdout",
            e,
        )),
    }
}

/// Counts of one run.
#[derive(Debug, Default, Clone, Serialize)]
pub struct Stats {
    pub objects_listed: u64,
    /// S3 LIST requests sent by the process (pages of every listing, digests' too; 0 for a
    /// local copy).
    pub list_requests: u64,
    pub log_files_read: u64,
    pub log_files_unreadable: u64,
    pub objects_skipped: u64,
    pub compressed_bytes: u64,
    pub decompressed_bytes: u64,
    pub events: u64,
    pub events_outside_window: u64,
    pub events_bad_time: u64,
    /// Events dated after their file's delivery stamp (not counted as coverage).
    pub events_after_delivery: u64,
    /// Log files by digest status (`files.parquet` `digest_status`).
    pub log_files_by_digest_status: BTreeMap<&'static str, u64>,
}

impl Stats {
    /// Adds a worker's counts (not `objects_listed`, which the lister counts).
    pub fn merge(&mut self, b: &Stats) {
        self.log_files_read += b.log_files_read;
        self.log_files_unreadable += b.log_files_unreadable;
        self.objects_skipped += b.objects_skipped;
        self.compressed_bytes += b.compressed_bytes;
        self.decompressed_bytes += b.decompressed_bytes;
        self.events += b.events;
        self.events_outside_window += b.events_outside_window;
        self.events_bad_time += b.events_bad_time;
        self.events_after_delivery += b.events_after_delivery;
        for (k, v) in &b.log_files_by_digest_status {
            *self.log_files_by_digest_status.entry(k).or_default() += v;
        }
    }
}

/// Events counted in the window, by class.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct Totals {
    pub events: u64,
    pub mgmt_read: u64,
    pub mgmt_write: u64,
    pub mgmt_unknown: u64,
    pub global_read: u64,
    pub global_write: u64,
    pub data_events: u64,
    pub other_events: u64,
}

impl Totals {
    /// The sums over every cell of the aggregate.
    pub fn of(agg: &crate::coverage::Aggregate) -> Self {
        let mut t = Totals::default();
        for c in agg
            .cells
            .values()
            .flat_map(|r| r.values())
            .flat_map(|h| h.values())
        {
            t.events += c.events();
            t.mgmt_read += c.mgmt_read;
            t.mgmt_write += c.mgmt_write;
            t.mgmt_unknown += c.mgmt_unknown;
            t.global_read += c.global_read;
            t.global_write += c.global_write;
            t.data_events += c.data_events;
            t.other_events += c.other_events;
        }
        t
    }
}

/// One file of the evidence directory, with its row count and SHA-256.
#[derive(Debug, Clone, Serialize)]
pub struct OutputFile {
    pub name: String,
    pub rows: Option<u64>,
    pub sha256: String,
}

impl OutputFile {
    /// Hashes `dir/name` as written.
    pub fn hashed(dir: &Path, name: &str, rows: Option<u64>) -> Result<Self> {
        Ok(OutputFile {
            name: name.into(),
            rows,
            sha256: sha256_file(&dir.join(name))?,
        })
    }
}

/// What a log-phase run produced.
#[derive(Debug, Clone, Serialize)]
pub struct RunOutcome {
    pub evidence: Evidence,
    pub source: String,
    pub window_start: String,
    pub window_end: String,
    pub expected_accounts: Vec<String>,
    pub expected_regions: Vec<String>,
    pub global_region: String,
    pub stats: Stats,
    /// Events counted in the window, by class (every cell, expected or not).
    pub totals: Totals,
    /// Whether `coverage.parquet` has a row of zeros for every silent hour of the expected
    /// cells (windows up to the dense limit); otherwise silent stretches are in
    /// `silences.parquet`.
    pub dense: bool,
    pub regions: Vec<RegionResult>,
    pub gaps: Vec<Gap>,
    pub outputs: Vec<OutputFile>,
    /// Digest evidence (absent with `--digests off`).
    pub digests: Option<DigestSummary>,
    /// Cells whose events name another `recipientAccountId` than the account of their key
    /// (counted as the key's account, and reported here).
    pub account_mismatches: Vec<AccountMismatch>,
    /// CloudTrail's own management events in the window (and bucket policy / lifecycle
    /// changes), in time order: the earliest `MAX_TRAIL_CHANGES`.
    pub trail_changes: Vec<crate::coverage::TrailChange>,
    /// Trail changes beyond that limit (counted, not kept).
    pub trail_changes_dropped: u64,
    /// The expected regions were given, not taken from the layout.
    pub regions_given: bool,
    /// Silent stretches were judged (`--max-silence`).
    pub silence_checked: bool,
    /// The canary probes judged (`--canary`).
    pub canary: Option<crate::canary::CanaryReport>,
}

impl RunOutcome {
    /// The facts the log phase's statements are assessed from.
    pub fn facts(&self) -> controls::LogPhaseFacts<'_> {
        controls::LogPhaseFacts {
            evidence: self.evidence,
            gaps: &self.gaps,
            digests_in_use: self.digests.as_ref().is_some_and(|d| d.in_use),
            regions_given: self.regions_given,
            global_expected: self.expected_regions.contains(&self.global_region),
            global_region: &self.global_region,
            silence_checked: self.silence_checked,
            files_by_digest_status: &self.stats.log_files_by_digest_status,
            stops: self
                .trail_changes
                .iter()
                .filter(|c| c.stops_logging())
                .map(|c| {
                    format!(
                        "{} of {} by {} at {}",
                        c.event_name,
                        c.target.as_deref().unwrap_or("a trail"),
                        c.actor.as_deref().unwrap_or("an unknown principal"),
                        crate::time::rfc3339(c.event_time)
                    )
                })
                .collect(),
        }
    }
}

/// Events filed under one account whose records name another recipient account.
#[derive(Debug, Clone, Serialize)]
pub struct AccountMismatch {
    pub account_id: String,
    pub region: String,
    pub events: u64,
    pub recipient_accounts: Vec<String>,
}

impl AccountMismatch {
    /// Every mismatched cell of the aggregate, in key order.
    pub fn of(agg: &crate::coverage::Aggregate) -> Vec<Self> {
        agg.account_mismatches
            .iter()
            .map(|((a, r), (n, names))| AccountMismatch {
                account_id: a.clone(),
                region: r.clone(),
                events: *n,
                recipient_accounts: names.iter().cloned().collect(),
            })
            .collect()
    }
}

/// Hex SHA-256 of a file, streamed.
pub fn sha256_file(path: &Path) -> Result<String> {
    evidence::hash_file(path).map(|(_, sha)| sha)
}

/// Creates the evidence directory (and its parents).
pub fn create_dir(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| {
        Error::with_source(ErrorKind::Io, format!("cannot create {}", dir.display()), e)
    })
}

/// Writes a JSON document into the evidence directory.
pub(crate) fn write_json(dir: &Path, name: &str, doc: &impl Serialize) -> Result<()> {
    let path = dir.join(name);
    let mut body = serde_json::to_vec_pretty(doc)
        .map_err(|e| Error::with_source(ErrorKind::Output, format!("cannot encode {name}"), e))?;
    body.push(b'\n');
    std::fs::write(&path, body).map_err(|e| {
        Error::with_source(ErrorKind::Io, format!("cannot write {}", path.display()), e)
    })
}
