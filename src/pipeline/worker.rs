//! The worker pool: decode threads that never touch the async reactor. Each takes an object,
//! reads it (a local file, capped) or takes its fetched bytes, checks its hash against the
//! digest index, inflates and parses it, and counts its events into its own aggregate; the
//! aggregates are merged once at the end. Per-object state only, never per-event locks.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use sha2::{Digest, Sha256};
use tokio::sync::{OwnedSemaphorePermit, mpsc};

use super::{Options, Stats};
use crate::coverage::changes::is_trail_change;
use crate::coverage::{
    Aggregate, FileContext, FileCounter, Gap, GapKind, TrailChange, TrailChanges,
};
use crate::decode::budget::Budget;
use crate::decode::{DecodeErrorCode, Decoder};
use crate::integrity::digest::LogStatus;
use crate::report::parquet::{BATCH_ROWS, EventColumns, EventsBuilder, FileRow};
use crate::source::layout::{NotCloudTrail, ObjectKind, parse_key};
use crate::source::{ReadError, read_capped};

/// An object on its way to a worker.
pub(super) struct Job {
    pub(super) key: String,
    pub(super) size: u64,
    pub(super) body: Body,
    /// The bytes-in-flight budget this object holds until a worker is done with it.
    pub(super) _permit: Option<OwnedSemaphorePermit>,
}

pub(super) enum Body {
    /// A file of a local copy: the worker reads it.
    Path(std::path::PathBuf),
    /// Fetched bytes, with the object's ETag.
    Bytes(bytes::Bytes, Option<String>),
    Failed(ReadError),
}

/// State the workers share (all per-object, never per-event).
pub(super) struct Shared {
    pub(super) opts: Options,
    /// The window used for counting (the requested one, or everything).
    pub(super) count_window: (i64, i64),
    /// File rows, a batch at a time (one wake-up of the writer per batch).
    pub(super) files: Mutex<std::sync::mpsc::SyncSender<Vec<FileRow>>>,
    pub(super) events: Option<Mutex<std::sync::mpsc::SyncSender<EventColumns>>>,
    pub(super) progress: indicatif::ProgressBar,
    pub(super) read_bytes: Arc<AtomicU64>,
    /// Decompressed bytes in use across the workers (`--max-decompressed-mib`).
    pub(super) decompressed: Arc<Budget>,
    /// Bytes of local files read into memory across the workers (`--max-in-flight-mib`; S3
    /// objects hold a permit of the fetcher's instead).
    pub(super) compressed: Arc<Budget>,
    /// The trail's bucket (S3 sources): bucket changes on other buckets are not trail changes.
    pub(super) bucket: Option<String>,
}

pub(super) struct WorkerOut {
    pub(super) agg: Aggregate,
    pub(super) failures: Vec<Gap>,
    pub(super) stats: Stats,
    pub(super) trail_changes: TrailChanges,
    pub(super) canary: crate::canary::Sightings,
}

/// File rows per message to the files writer.
const ROWS_BATCH: usize = 64;

/// Sends the rows gathered so far to the files writer; false when it is gone.
fn send_rows(shared: &Shared, rows: &mut Vec<FileRow>) -> bool {
    if rows.is_empty() {
        return true;
    }
    let batch = std::mem::replace(rows, Vec::with_capacity(ROWS_BATCH));
    shared
        .files
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .send(batch)
        .is_ok()
}

pub(super) fn worker(rx: Arc<Mutex<mpsc::Receiver<Vec<Job>>>>, shared: Arc<Shared>) -> WorkerOut {
    let mut decoder =
        Decoder::new(shared.opts.max_decompressed).with_budget(shared.decompressed.clone());
    let mut counter = FileCounter::new(shared.count_window, shared.opts.late_threshold_s);
    let mut out = WorkerOut {
        agg: Aggregate::default(),
        failures: Vec::new(),
        stats: Stats::default(),
        trail_changes: TrailChanges::default(),
        canary: crate::canary::Sightings::default(),
    };
    let mut raw = Vec::new();
    let mut events = shared.opts.events.then(EventsBuilder::default);
    let mut rows: Vec<FileRow> = Vec::with_capacity(ROWS_BATCH);
    'jobs: loop {
        let batch = {
            let mut guard = rx.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            guard.blocking_recv()
        };
        let Some(batch) = batch else { break };
        for job in batch {
            let row = process(
                &job,
                &shared,
                &mut decoder,
                &mut counter,
                &mut raw,
                &mut out,
                events.as_mut(),
            );
            // The object's buffers (and its bytes permit, with the job) go back to the
            // budgets before the next one is taken.
            drop(job);
            decoder.release();
            if raw.capacity() > 8 << 20 {
                raw = Vec::new();
            }
            if let Some(st) = row.digest_status {
                *out.stats.log_files_by_digest_status.entry(st).or_default() += 1;
            }
            shared.progress.inc(1);
            if let Some(eb) = events.as_mut()
                && eb.len >= BATCH_ROWS
            {
                send_events(&shared, eb);
            }
            rows.push(row);
            if rows.len() >= ROWS_BATCH && !send_rows(&shared, &mut rows) {
                // The files writer failed; its error is reported when it is joined.
                break 'jobs;
            }
        }
    }
    send_rows(&shared, &mut rows);
    if let Some(eb) = events.as_mut()
        && eb.len > 0
    {
        send_events(&shared, eb);
    }
    out.stats.events_outside_window = out.agg.outside_window;
    out.stats.events_bad_time = out.agg.bad_time;
    out.stats.events_after_delivery = out.agg.after_delivery;
    out
}

/// Hands a worker's built event rows to the events writer.
fn send_events(shared: &Shared, eb: &mut EventsBuilder) {
    send_columns(shared, eb.finish());
}

fn send_columns(shared: &Shared, columns: EventColumns) {
    if let Some(tx) = &shared.events
        && tx
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .send(columns)
            .is_err()
    {
        tracing::error!("The events writer stopped; its error is reported at the end.");
    }
}

fn process(
    job: &Job,
    shared: &Shared,
    decoder: &mut Decoder,
    counter: &mut FileCounter,
    raw: &mut Vec<u8>,
    out: &mut WorkerOut,
    events: Option<&mut EventsBuilder>,
) -> FileRow {
    // Held while the local file's bytes are in `raw`.
    let mut compressed_grant = None;
    let compressed_grant = &mut compressed_grant;
    let mut row = FileRow {
        key: job.key.clone(),
        account_id: None,
        region: None,
        delivered_at: None,
        size: job.size,
        sha256: None,
        events: None,
        status: "ok".into(),
        error: None,
        digest_status: None,
        digest_key: None,
        etag: None,
        stored_sha256: None,
    };
    let index = shared
        .opts
        .integrity
        .as_ref()
        .filter(|i| i.in_use)
        .map(|i| &i.index);
    let key = match parse_key(&job.key) {
        Ok(k) if k.kind == ObjectKind::Log => k,
        Ok(k) => {
            out.stats.objects_skipped += 1;
            row.status = "skipped".into();
            row.error = Some(format!("{:?} object: not a log file", k.kind).to_lowercase());
            return row;
        }
        Err(reason) => {
            out.stats.objects_skipped += 1;
            row.status = "skipped".into();
            row.error = Some(match reason {
                NotCloudTrail::Folder => "folder marker".into(),
                NotCloudTrail::NotAwsLogs => "not under AWSLogs/ACCOUNT/".into(),
                NotCloudTrail::OtherService(s) => format!("not a CloudTrail object ({s})"),
                NotCloudTrail::BadName(why) => format!("not a CloudTrail log name: {why}"),
            });
            return row;
        }
    };
    row.account_id = Some(key.account.to_owned());
    row.region = Some(key.region.to_owned());
    row.delivered_at = Some(key.delivered_at);
    let ctx = FileContext {
        account: key.account,
        region: key.region,
        delivered_at: key.delivered_at,
        compressed_bytes: job.size,
    };
    let finding = |kind, detail: String| {
        Gap::of_object(key.account, key.region, key.delivered_at, kind, detail)
    };
    let fail = |row: &mut FileRow, out: &mut WorkerOut, status: &'static str, error: String| {
        row.status = status.into();
        row.error = Some(error.clone());
        out.stats.log_files_unreadable += 1;
        out.agg.unreadable(
            key.account,
            key.region,
            key.delivered_at,
            shared.count_window,
        );
        // A file a valid digest lists whose content is not what was listed was altered.
        let altered = row.digest_status == Some("hash_mismatch");
        let (kind, detail) = if altered {
            (
                GapKind::HashMismatch,
                format!(
                    "{}: not the file {} lists ({status}: {error})",
                    job.key,
                    row.digest_key.as_deref().unwrap_or("a digest")
                ),
            )
        } else {
            (
                GapKind::ObjectUnreadable,
                format!("{}: {status}: {error}", job.key),
            )
        };
        out.failures.push(finding(kind, detail));
        tracing::warn!(key = %job.key, status, error = %error, "Unreadable log object; its events are unknown.");
    };
    // Unread objects: the digest listing is noted, nothing about the content is known.
    let unread = |row: &mut FileRow| {
        if let Some(l) = index.and_then(|i| i.logs.get(&job.key)) {
            l.seen.store(true, Ordering::Relaxed);
            row.digest_status = Some("unverified");
            row.digest_key = Some(l.digest_key.clone());
        }
    };
    let bytes: &[u8] = match &job.body {
        Body::Failed(e) => {
            unread(&mut row);
            fail(&mut row, out, e.status, e.error.clone());
            return row;
        }
        Body::Bytes(b, etag) => {
            row.etag = etag.clone();
            b
        }
        Body::Path(p) => match shared
            .compressed
            .acquire(
                job.size
                    .min(shared.opts.max_object_bytes)
                    .min(shared.compressed.total()),
            )
            .ok_or_else(|| ReadError::too_large(job.size, shared.compressed.total()))
            .and_then(|grant| {
                read_capped(p, shared.opts.max_object_bytes, raw)?;
                Ok(grant)
            }) {
            Ok(grant) => {
                *compressed_grant = Some(grant);
                raw
            }
            Err(e) => {
                unread(&mut row);
                fail(&mut row, out, e.status, e.error);
                return row;
            }
        },
    };
    shared
        .read_bytes
        .fetch_add(bytes.len() as u64, Ordering::Relaxed);
    out.stats.compressed_bytes += bytes.len() as u64;
    // The stored bytes' hash: what the manifest records of every input object read (skipped,
    // like the content hash, with `--no-file-hashes` when no digest needs them).
    if index.is_some() || shared.opts.file_hashes {
        row.stored_sha256 = Some(hex::encode(Sha256::digest(bytes)));
    }
    let decoded = decoder.inflate(bytes, key.gzip);
    // The hash of what was inflated: the whole file, or the first member when data follows.
    if (index.is_some() || shared.opts.file_hashes)
        && (decoded.is_ok()
            || decoded
                .as_ref()
                .is_err_and(|e| e.code == DecodeErrorCode::TrailingData))
    {
        row.sha256 = Some(hex::encode(Sha256::digest(decoder.decompressed())));
    }
    if let Some(index) = index {
        let (status, listed) = index.classify(
            &job.key,
            key.account,
            key.region,
            key.delivered_at,
            row.sha256.as_deref(),
        );
        row.digest_status = Some(status.as_str());
        row.digest_key = listed.map(|l| l.digest_key.clone());
        let digest = row.digest_key.as_deref().unwrap_or("");
        match (status, &decoded) {
            (LogStatus::HashMismatch, Ok(_)) => out.failures.push(finding(
                GapKind::HashMismatch,
                format!(
                    "{}: SHA-256 {} is not the {} listed in {digest}",
                    job.key,
                    row.sha256.as_deref().unwrap_or("?"),
                    listed.map(|l| l.hash.as_str()).unwrap_or("?")
                ),
            )),
            (LogStatus::Unlisted, _) => out.failures.push(finding(
                GapKind::LogUnlisted,
                format!(
                    "{}: delivered in a window valid digests cover, listed by none",
                    job.key
                ),
            )),
            (LogStatus::Valid, Err(e)) if e.code == DecodeErrorCode::TrailingData => {
                // The first member is the file CloudTrail delivered; something was appended.
                row.digest_status = Some("hash_mismatch");
                out.failures.push(finding(
                    GapKind::HashMismatch,
                    format!(
                        "{}: {}; the first member matches {digest}",
                        job.key, e.message
                    ),
                ));
                row.status = e.code.as_str().into();
                row.error = Some(e.message.clone());
            }
            _ => {}
        }
    }
    let inflated = match decoded {
        Ok(n) => n,
        // Counted: the digest vouches for the first member (recorded above).
        Err(e) if e.code == DecodeErrorCode::TrailingData && row.status != "ok" => {
            decoder.decompressed().len()
        }
        Err(e) => {
            fail(&mut row, out, e.code.as_str(), e.message);
            return row;
        }
    };
    if !shared.opts.parse {
        out.stats.log_files_read += 1;
        out.stats.decompressed_bytes += inflated as u64;
        return row;
    }
    let agg = &mut out.agg;
    // Rows of `events.parquet` before this file: a parse that fails midway keeps none of its own.
    let mark = events.as_ref().map(|eb| eb.len);
    // Records read whole after the parse (trail changes; with `--canary`, the canaries): by
    // their bytes when the extractor gave them, else by index (one more pass, only for files
    // that hold one).
    let mut rare = Rare::default();
    let watch = shared.opts.canary.as_deref();
    let mut index = 0usize;
    let mut note = |r: &crate::decode::Record<'_>| {
        let wanted = Wanted {
            change: is_trail_change(r.event_source.as_deref(), r.event_name.as_deref()),
            canary: watch.is_some_and(|w| w.matcher.carries(r.user_agent.as_deref())),
        };
        if wanted.change || wanted.canary {
            rare.at(r.span, index, wanted);
        }
        index += 1;
    };
    let parsed = match events {
        Some(eb) => {
            let parsed = decoder.parse(|r| {
                note(r);
                counter.event(&ctx, agg, r);
                eb.push(key.account, key.region, r);
            });
            if parsed.is_err()
                && let Some(kept) = eb.rollback_to(mark.unwrap_or(0))
            {
                send_columns(shared, kept);
            }
            parsed
        }
        None => decoder.parse(|r| {
            note(r);
            counter.event(&ctx, agg, r)
        }),
    };
    match parsed {
        Ok(n) => {
            if !rare.is_empty() {
                read_rare(shared, decoder.decompressed(), &rare, &key, &job.key, out);
            }
            counter.finish(&ctx, &mut out.agg);
            out.stats.log_files_read += 1;
            out.stats.decompressed_bytes += inflated as u64;
            out.stats.events += n as u64;
            row.events = Some(n as u64);
        }
        Err(e) => {
            counter.abandon();
            fail(&mut row, out, e.code.as_str(), e.message);
        }
    }
    row
}

/// What a record is read whole for.
#[derive(Debug, Clone, Copy)]
struct Wanted {
    /// It changes the trail (`trail_changes.parquet`).
    change: bool,
    /// It carries the canary marker (`--canary`).
    canary: bool,
}

/// The records of one file to read whole after the parse.
#[derive(Default)]
struct Rare {
    /// Byte spans in the document (from the extractor).
    spans: Vec<(usize, usize)>,
    /// Indices into `Records` (from the full parsers).
    indices: Vec<usize>,
    /// What each is read for, in the order noted.
    wanted: Vec<Wanted>,
}

impl Rare {
    /// Notes the record at `span` (from the extractor), else at `index`.
    fn at(&mut self, span: Option<(usize, usize)>, index: usize, wanted: Wanted) {
        match span {
            Some(span) => self.spans.push(span),
            None => self.indices.push(index),
        }
        self.wanted.push(wanted);
    }

    fn is_empty(&self) -> bool {
        self.wanted.is_empty()
    }

    /// The noted records, read whole, in the order noted.
    fn read(&self, doc: &[u8]) -> Result<Vec<serde_json::Value>, String> {
        if self.indices.is_empty() {
            self.spans
                .iter()
                .map(|(a, b)| {
                    doc.get(*a..*b)
                        .ok_or_else(|| "a record span outside the document".to_owned())
                        .and_then(|r| serde_json::from_slice(r).map_err(|e| e.to_string()))
                })
                .collect()
        } else {
            crate::decode::detail::records_at(doc, &self.indices)
        }
    }
}

/// The rare records of a parsed file, read once: trail changes dated in the window are kept;
/// canaries become sightings.
fn read_rare(
    shared: &Shared,
    doc: &[u8],
    rare: &Rare,
    key: &crate::source::layout::CloudTrailKey<'_>,
    object: &str,
    out: &mut WorkerOut,
) {
    let records = match rare.read(doc) {
        Ok(records) => records,
        // The file parsed once already; a second parse cannot fail on the same bytes. If it
        // does, canaries it held are counted as not kept: the judge then leaves a missing
        // probe unknown.
        Err(e) => {
            out.canary.dropped += rare.wanted.iter().filter(|w| w.canary).count() as u64;
            tracing::warn!(key = %object, error = %e, "Cannot re-read records whole.");
            return;
        }
    };
    for (v, wanted) in records.iter().zip(&rare.wanted) {
        if wanted.change
            && let Some(c) =
                TrailChange::of_record(v, key.account, key.region, object, shared.bucket.as_deref())
                    .filter(|c| {
                        c.event_time >= shared.count_window.0
                            && c.event_time < shared.count_window.1
                    })
        {
            out.trail_changes.push(c);
        }
        if wanted.canary {
            out.canary.push(crate::canary::Sighting::of_record(
                v,
                object,
                key.account,
                key.region,
                key.delivered_at,
            ));
        }
    }
}
