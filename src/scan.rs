//! The log phase: plan → list → fetch → decode → aggregate → evaluate → sinks.
//!
//! Listing and fetching are async (tokio, S3); decoding runs on a fixed pool of CPU threads
//! that never touch the reactor. In-flight objects and bytes are bounded by semaphores taken
//! before a fetch and released when a worker is done with the object, so memory stays flat
//! whatever the bucket's size. A local directory source replaces list + fetch with a walk.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use serde::Serialize;
use sha2::{Digest, Sha256};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};

use crate::aws::{ApiFailure, FailureKind};
use crate::coverage::{
    Aggregate, Category, Counters, Expectation, FileContext, FileCounter, Gap, GapKind,
    RegionResult, RegionStatus,
};
use crate::decode::{DecodeErrorCode, Decoder};
use crate::digest::LogStatus;
use crate::error::{Error, ErrorKind, Result};
use crate::layout::{NotCloudTrail, ObjectKind, day_prefix, parse_key};
use crate::sink::{EventsBuilder, FileRow, FilesWriter, TableWriter};
use crate::time::rfc3339;

/// Where the logs are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A directory laid out like the bucket (what `aws s3 sync` leaves).
    Local(PathBuf),
    /// `s3://bucket[/prefix]`: the prefix is the trail's key prefix (before `AWSLogs/`).
    S3 {
        bucket: String,
        prefix: Option<String>,
    },
}

impl std::str::FromStr for Source {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, String> {
        if let Some(rest) = s.strip_prefix("s3://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            if bucket.is_empty() {
                return Err(format!("'{s}': no bucket name"));
            }
            let prefix = prefix.trim_matches('/');
            Ok(Source::S3 {
                bucket: bucket.to_owned(),
                prefix: (!prefix.is_empty()).then(|| prefix.to_owned()),
            })
        } else {
            Ok(Source::Local(PathBuf::from(s)))
        }
    }
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::Local(p) => write!(f, "{}", p.display()),
            Source::S3 {
                bucket,
                prefix: Some(p),
            } => write!(f, "s3://{bucket}/{p}"),
            Source::S3 {
                bucket,
                prefix: None,
            } => write!(f, "s3://{bucket}"),
        }
    }
}

/// Settings of one run of the pipeline.
#[derive(Debug, Clone)]
pub struct ScanOptions {
    /// [since, until) in epoch seconds (whole hours); `None`: every event found.
    pub window: Option<(i64, i64)>,
    pub accounts: Option<Vec<String>>,
    pub regions: Option<Vec<String>>,
    pub org_id: Option<String>,
    /// The partition's global region (global-service events are expected there).
    pub global_region: String,
    pub out_dir: PathBuf,
    pub events: bool,
    pub workers: usize,
    pub fetch_concurrency: usize,
    pub max_in_flight_bytes: u64,
    /// Objects larger than this (compressed) are not fetched: `too_large`.
    pub max_object_bytes: u64,
    /// Objects that inflate beyond this are rejected: `too_large`.
    pub max_decompressed: usize,
    pub max_silence_hours: Option<i64>,
    pub late_threshold_s: i64,
    /// Logs delivered up to this long after the window's end are read (delivery lag).
    pub delivery_grace_s: i64,
    pub progress: bool,
    /// Parse the records (off for `validate`, which only hashes).
    pub parse: bool,
    /// SHA-256 every log file's decompressed content into files.parquet even when no digest
    /// needs it (digests in use always hash).
    pub file_hashes: bool,
    /// Digest evidence to check each log file against and to merge into the verdict.
    pub integrity: Option<Arc<crate::integrity::Integrity>>,
}

impl Default for ScanOptions {
    fn default() -> Self {
        ScanOptions {
            window: None,
            accounts: None,
            regions: None,
            org_id: None,
            global_region: "us-east-1".into(),
            out_dir: PathBuf::from("trailproof-out"),
            events: false,
            workers: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(2),
            fetch_concurrency: 32,
            max_in_flight_bytes: 128 << 20,
            max_object_bytes: 256 << 20,
            max_decompressed: 1 << 30,
            max_silence_hours: None,
            late_threshold_s: 3_600,
            delivery_grace_s: 3_600,
            progress: false,
            parse: true,
            file_hashes: true,
            integrity: None,
        }
    }
}

/// Counts of one run.
#[derive(Debug, Default, Clone, Serialize)]
pub struct Stats {
    pub objects_listed: u64,
    pub log_files_read: u64,
    pub log_files_unreadable: u64,
    pub objects_skipped: u64,
    pub compressed_bytes: u64,
    pub decompressed_bytes: u64,
    pub events: u64,
    pub events_outside_window: u64,
    pub events_bad_time: u64,
    /// Log files by digest status (`files.parquet` `digest_status`).
    pub log_files_by_digest_status: BTreeMap<&'static str, u64>,
}

/// The overall result of the log phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Evidence {
    /// Every expected (account, region) proven.
    Proven,
    /// At least one gap.
    Gaps,
    /// No gap found, but some evidence was unreadable: not proven.
    Unknown,
}

impl Evidence {
    pub fn exit_code(self) -> u8 {
        match self {
            Evidence::Proven => 0,
            Evidence::Gaps | Evidence::Unknown => 1,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct OutputFile {
    pub name: String,
    pub rows: Option<u64>,
    pub sha256: String,
}

/// What the pipeline produced.
#[derive(Debug, Clone, Serialize)]
pub struct ScanOutcome {
    pub evidence: Evidence,
    pub source: String,
    pub window_start: String,
    pub window_end: String,
    pub expected_accounts: Vec<String>,
    pub expected_regions: Vec<String>,
    pub global_region: String,
    pub stats: Stats,
    pub regions: Vec<RegionResult>,
    pub gaps: Vec<Gap>,
    pub outputs: Vec<OutputFile>,
    /// Digest evidence (absent with `--digests off`).
    pub digests: Option<crate::integrity::DigestSummary>,
}

/// An object on its way to a worker.
struct Job {
    key: String,
    size: u64,
    body: Body,
    _permit: Option<OwnedSemaphorePermit>,
}

enum Body {
    Path(PathBuf),
    Bytes(bytes::Bytes),
    Failed { status: &'static str, error: String },
}

/// State the workers share (all per-object, never per-event).
struct Shared {
    opts: ScanOptions,
    /// The window used for counting (the requested one, or everything).
    count_window: (i64, i64),
    files: Mutex<std::sync::mpsc::SyncSender<FileRow>>,
    events: Option<Mutex<std::sync::mpsc::SyncSender<Vec<arrow_array::ArrayRef>>>>,
    progress: indicatif::ProgressBar,
    read_bytes: Arc<AtomicU64>,
}

struct WorkerOut {
    agg: Aggregate,
    failures: Vec<Gap>,
    stats: Stats,
}

fn worker(rx: Arc<Mutex<mpsc::Receiver<Job>>>, shared: Arc<Shared>) -> WorkerOut {
    let mut decoder = Decoder::new(shared.opts.max_decompressed);
    let mut counter = FileCounter::new(shared.count_window, shared.opts.late_threshold_s);
    let mut out = WorkerOut {
        agg: Aggregate::default(),
        failures: Vec::new(),
        stats: Stats::default(),
    };
    let mut raw = Vec::new();
    let mut events = shared.opts.events.then(EventsBuilder::default);
    loop {
        let job = {
            let mut guard = rx.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            guard.blocking_recv()
        };
        let Some(job) = job else { break };
        let row = process(
            &job,
            &shared,
            &mut decoder,
            &mut counter,
            &mut raw,
            &mut out,
            events.as_mut(),
        );
        if let Some(st) = row.digest_status {
            *out.stats.log_files_by_digest_status.entry(st).or_default() += 1;
        }
        shared.progress.inc(1);
        if let Some(eb) = events.as_mut()
            && eb.len >= crate::sink::BATCH_ROWS
        {
            send_events(&shared, eb);
        }
        if shared
            .files
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .send(row)
            .is_err()
        {
            // The files writer failed; its error is reported when it is joined.
            break;
        }
    }
    if let Some(eb) = events.as_mut()
        && eb.len > 0
    {
        send_events(&shared, eb);
    }
    out.stats.events_outside_window = out.agg.outside_window;
    out.stats.events_bad_time = out.agg.bad_time;
    out
}

/// Hands a worker's built event rows to the events writer.
fn send_events(shared: &Shared, eb: &mut EventsBuilder) {
    if let Some(tx) = &shared.events
        && tx
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .send(eb.finish())
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
    let finding = |category, kind, detail: String| Gap {
        account_id: key.account.to_owned(),
        region: key.region.to_owned(),
        category,
        kind,
        start: key.delivered_at - 3_600,
        end: key.delivered_at,
        detail,
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
        let (category, kind, detail) = if altered {
            (
                Category::Integrity,
                GapKind::HashMismatch,
                format!(
                    "{}: not the file {} lists ({status}: {error})",
                    job.key,
                    row.digest_key.as_deref().unwrap_or("a digest")
                ),
            )
        } else {
            (
                Category::Delivery,
                GapKind::ObjectUnreadable,
                format!("{}: {status}: {error}", job.key),
            )
        };
        out.failures.push(finding(category, kind, detail));
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
        Body::Failed { status, error } => {
            unread(&mut row);
            fail(&mut row, out, status, error.clone());
            return row;
        }
        Body::Bytes(b) => b,
        Body::Path(p) => {
            raw.clear();
            let read = std::fs::File::open(p)
                .and_then(|f| f.take(shared.opts.max_object_bytes + 1).read_to_end(raw));
            match read {
                Ok(n) if n as u64 > shared.opts.max_object_bytes => {
                    unread(&mut row);
                    fail(
                        &mut row,
                        out,
                        "too_large",
                        format!(
                            "larger than the {}-byte object cap",
                            shared.opts.max_object_bytes
                        ),
                    );
                    return row;
                }
                Ok(_) => raw,
                Err(e) => {
                    unread(&mut row);
                    let status = if e.kind() == std::io::ErrorKind::PermissionDenied {
                        "access_denied"
                    } else {
                        "not_found"
                    };
                    fail(&mut row, out, status, e.to_string());
                    return row;
                }
            }
        }
    };
    shared
        .read_bytes
        .fetch_add(bytes.len() as u64, Ordering::Relaxed);
    out.stats.compressed_bytes += bytes.len() as u64;
    let decoded = decoder.inflate(bytes, key.gzip);
    // The hash of what was inflated: the whole file, or the first member when data follows.
    if (index.is_some() || shared.opts.file_hashes)
        && (decoded.is_ok()
            || decoded
                .as_ref()
                .is_err_and(|e| e.code == DecodeErrorCode::TrailingData))
    {
        row.sha256 = Some(hex(&Sha256::digest(decoder.decompressed())));
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
                Category::Integrity,
                GapKind::HashMismatch,
                format!(
                    "{}: SHA-256 {} is not the {} listed in {digest}",
                    job.key,
                    row.sha256.as_deref().unwrap_or("?"),
                    listed.map(|l| l.hash.as_str()).unwrap_or("?")
                ),
            )),
            (LogStatus::Unlisted, _) => out.failures.push(finding(
                Category::Integrity,
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
                    Category::Integrity,
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
    let parsed = match events {
        Some(eb) => decoder.parse(|r| {
            counter.event(&ctx, agg, r);
            eb.push(key.account, key.region, r);
        }),
        None => decoder.parse(|r| counter.event(&ctx, agg, r)),
    };
    match parsed {
        Ok(n) => {
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

pub fn hex(bytes: &[u8]) -> String {
    const H: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(H[(b >> 4) as usize] as char);
        s.push(H[(b & 15) as usize] as char);
    }
    s
}

/// Whether a listed key is worth reading for this window and scope. Non-CloudTrail keys are
/// passed on (recorded as skipped); logs outside the window or the scope are dropped unread.
fn wanted(key: &str, opts: &ScanOptions, seen: &mut BTreeSet<(String, String)>) -> bool {
    match parse_key(key) {
        Ok(k) => {
            if opts
                .accounts
                .as_ref()
                .is_some_and(|a| !a.iter().any(|x| x == k.account))
                || opts
                    .regions
                    .as_ref()
                    .is_some_and(|r| !r.iter().any(|x| x == k.region))
            {
                return false;
            }
            if k.kind == ObjectKind::Log {
                seen.insert((k.account.to_owned(), k.region.to_owned()));
                if let Some((since, until)) = opts.window
                    && (k.delivered_at < since || k.delivered_at > until + opts.delivery_grace_s)
                {
                    return false;
                }
            }
            true
        }
        Err(_) => true,
    }
}

/// Walks a local directory in key order, sending jobs; returns the (account, region) pairs seen.
fn walk_local(
    root: &Path,
    opts: &ScanOptions,
    tx: &mpsc::Sender<Job>,
    listed: &AtomicU64,
) -> Result<BTreeSet<(String, String)>> {
    let mut seen = BTreeSet::new();
    let io = |what: &str, path: &Path, e: std::io::Error| {
        Error::with_source(
            ErrorKind::Io,
            format!("cannot read {what} {}", path.display()),
            e,
        )
    };
    // (directory, depth): symlinks are followed (a synced copy may be linked in), and the
    // depth bound stops a link cycle.
    let mut stack = vec![(root.to_path_buf(), 0u32)];
    while let Some((dir, depth)) = stack.pop() {
        if depth > 64 {
            return Err(Error::new(
                ErrorKind::Io,
                format!(
                    "{} is nested more than 64 levels deep (a symlink cycle?)",
                    dir.display()
                ),
            ));
        }
        let mut entries = Vec::new();
        for entry in std::fs::read_dir(&dir).map_err(|e| io("directory", &dir, e))? {
            entries.push(entry.map_err(|e| io("directory", &dir, e))?);
        }
        entries.sort_by_key(|e| std::cmp::Reverse(e.file_name()));
        for entry in entries {
            let path = entry.path();
            // Follows symlinks; an entry that cannot be inspected is an error, never skipped.
            let meta = std::fs::metadata(&path).map_err(|e| io("file", &path, e))?;
            if meta.is_dir() {
                stack.push((path, depth + 1));
                continue;
            }
            let Ok(rel) = path.strip_prefix(root) else {
                continue;
            };
            let key: String = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy())
                .collect::<Vec<_>>()
                .join("/");
            if !wanted(&key, opts, &mut seen) {
                continue;
            }
            listed.fetch_add(1, Ordering::Relaxed);
            if tx
                .blocking_send(Job {
                    key,
                    size: meta.len(),
                    body: Body::Path(path),
                    _permit: None,
                })
                .is_err()
            {
                return Ok(seen);
            }
        }
    }
    Ok(seen)
}

/// Runs the pipeline over `source` and writes the evidence directory.
pub async fn run(
    source: &Source,
    s3: Option<aws_sdk_s3::Client>,
    opts: ScanOptions,
) -> Result<ScanOutcome> {
    std::fs::create_dir_all(&opts.out_dir).map_err(|e| {
        Error::with_source(
            ErrorKind::Io,
            format!("cannot create {}", opts.out_dir.display()),
            e,
        )
    })?;
    let count_window = opts.window.unwrap_or((i64::MIN / 2, i64::MAX / 2));
    let (files_tx, files_rx) = std::sync::mpsc::sync_channel::<FileRow>(4_096);
    let files_path = opts.out_dir.join("files.parquet");
    let files_writer = FilesWriter::create(&files_path)?;
    let files_thread = std::thread::spawn(move || -> Result<u64> {
        let mut w = files_writer;
        for row in files_rx {
            w.push(row)?;
        }
        w.close()
    });
    let (events_tx, events_thread) = if opts.events {
        let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<arrow_array::ArrayRef>>(4);
        let mut w = TableWriter::create(
            &opts.out_dir.join("events.parquet"),
            crate::sink::events_schema(),
        )?;
        let handle = std::thread::spawn(move || -> Result<u64> {
            for cols in rx {
                w.write(cols)?;
            }
            w.close()
        });
        (Some(Mutex::new(tx)), Some(handle))
    } else {
        (None, None)
    };
    let progress = if opts.progress && std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        let pb = indicatif::ProgressBar::new_spinner();
        pb.set_style(
            indicatif::ProgressStyle::with_template("{spinner} {pos} objects, {msg} [{elapsed}]")
                .expect("template"),
        );
        pb.enable_steady_tick(std::time::Duration::from_millis(200));
        pb
    } else {
        indicatif::ProgressBar::hidden()
    };
    let read_bytes = Arc::new(AtomicU64::new(0));
    let shared = Arc::new(Shared {
        opts: opts.clone(),
        count_window,
        files: Mutex::new(files_tx),
        events: events_tx,
        progress: progress.clone(),
        read_bytes: read_bytes.clone(),
    });
    let workers = opts.workers.max(1);
    let (tx, rx) = mpsc::channel::<Job>(workers * 2);
    let rx = Arc::new(Mutex::new(rx));
    let handles: Vec<_> = (0..workers)
        .map(|i| {
            let (rx, shared) = (rx.clone(), shared.clone());
            std::thread::Builder::new()
                .name(format!("trailproof-decode-{i}"))
                .spawn(move || worker(rx, shared))
                .expect("spawn decode worker")
        })
        .collect();
    // Only the workers hold the receiver: if they all stop early, senders see the channel
    // closed instead of blocking forever.
    drop(rx);
    let listed = Arc::new(AtomicU64::new(0));
    let ticker = {
        // The ticker holds only its counter, never the writers' senders.
        let (read_bytes, progress) = (read_bytes.clone(), progress.clone());
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(std::time::Duration::from_millis(250)).await;
                progress.set_message(format!(
                    "{:.1} MB read",
                    read_bytes.load(Ordering::Relaxed) as f64 / 1e6
                ));
            }
        })
    };

    let integrity = opts.integrity.as_deref().filter(|i| i.in_use);
    let mut failures = integrity.map(|i| i.gaps()).unwrap_or_default();
    let listing = match source {
        Source::Local(root) => {
            if !root.is_dir() {
                drop(tx);
                for h in handles {
                    h.join().ok();
                }
                ticker.abort();
                return Err(Error::new(
                    ErrorKind::Io,
                    format!("{} is not a directory", root.display()),
                ));
            }
            let (root, opts2, listed2) = (root.clone(), opts.clone(), listed.clone());
            tokio::task::spawn_blocking(move || walk_local(&root, &opts2, &tx, &listed2))
                .await
                .expect("walker panicked")
        }
        Source::S3 { bucket, prefix } => {
            let s3 = s3.ok_or_else(|| Error::usage("an S3 source needs AWS settings"))?;
            list_s3(
                &s3,
                bucket,
                prefix.as_deref(),
                &opts,
                tx,
                &listed,
                &mut failures,
            )
            .await
        }
    };
    // Always drain the workers, even when listing failed, so no thread is left behind.
    let mut agg = Aggregate::default();
    let mut stats = Stats::default();
    for h in handles {
        let out = tokio::task::spawn_blocking(move || h.join())
            .await
            .expect("join")
            .expect("decode worker panicked");
        agg.merge(out.agg);
        failures.extend(out.failures);
        merge_stats(&mut stats, &out.stats);
    }
    ticker.abort();
    progress.finish_and_clear();
    drop(shared);
    let files_rows = files_thread.join().expect("files writer panicked")?;
    let events_rows = match events_thread {
        Some(h) => Some(h.join().expect("events writer panicked")?),
        None => None,
    };
    let seen = listing?;
    stats.objects_listed = listed.load(Ordering::Relaxed);
    if let Some(i) = integrity {
        // Listed by a valid digest, delivered in the range the scan listed, never seen.
        let range = opts
            .window
            .map(|(s, u)| (s, u + opts.delivery_grace_s))
            .unwrap_or((i64::MIN, i64::MAX));
        failures.extend(i.missing_logs(range));
    }

    // Expected set: given, else what the layout shows.
    let accounts = opts.accounts.clone().unwrap_or_else(|| {
        seen.iter()
            .map(|(a, _)| a.clone())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect()
    });
    let regions = opts.regions.clone().unwrap_or_else(|| {
        seen.iter()
            .map(|(_, r)| r.clone())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect()
    });
    let window = opts.window.unwrap_or_else(|| observed_window(&agg));
    let exp = Expectation {
        accounts: accounts.clone(),
        regions: regions.clone(),
        global_region: opts.global_region.clone(),
        window,
        max_silence_hours: opts.max_silence_hours,
        late_threshold_s: opts.late_threshold_s,
        attested: integrity.map(|i| i.attested()).unwrap_or_default(),
    };
    // Without parsing (`validate`) there are no counts to judge: the findings are the result.
    let (gaps, results) = if opts.parse {
        crate::coverage::evaluate(&agg, &exp, failures)
    } else {
        (failures, Vec::new())
    };
    let evidence = if results.iter().any(|r| r.status == RegionStatus::Gap)
        || gaps.iter().any(|g| !g.kind.is_unknown())
    {
        Evidence::Gaps
    } else if results.iter().any(|r| r.status == RegionStatus::Unknown)
        || !gaps.is_empty()
        || results.is_empty()
    {
        Evidence::Unknown
    } else {
        Evidence::Proven
    };

    // Dense coverage rows for the expected set, plus any other observed cells.
    let zero = Counters::default();
    let mut rows: BTreeMap<(String, String, i64), &Counters> = BTreeMap::new();
    for a in &accounts {
        for r in &regions {
            let mut h = window.0;
            while h < window.1 {
                rows.insert((a.clone(), r.clone(), h), &zero);
                h += 3_600;
            }
        }
    }
    for (a, regs) in &agg.cells {
        for (r, hours) in regs {
            for (h, c) in hours {
                if *h >= window.0 && *h < window.1 {
                    rows.insert((a.clone(), r.clone(), *h), c);
                }
            }
        }
    }
    let out = &opts.out_dir;
    let coverage_rows = if opts.parse {
        Some(crate::sink::write_coverage(
            &out.join("coverage.parquet"),
            rows.iter()
                .map(|((a, r, h), c)| (a.as_str(), r.as_str(), *h, *c)),
        )?)
    } else {
        None
    };
    let gaps_rows = crate::sink::write_gaps(&out.join("gaps.parquet"), &gaps)?;
    let mut outputs = Vec::new();
    for (name, rows) in coverage_rows
        .map(|n| ("coverage.parquet", Some(n)))
        .into_iter()
        .chain([
            ("gaps.parquet", Some(gaps_rows)),
            ("files.parquet", Some(files_rows)),
        ])
        .chain(events_rows.map(|n| ("events.parquet", Some(n))))
    {
        outputs.push(OutputFile {
            name: name.into(),
            rows,
            sha256: sha256_file(&out.join(name))?,
        });
    }
    Ok(ScanOutcome {
        evidence,
        source: source.to_string(),
        window_start: rfc3339(window.0),
        window_end: rfc3339(window.1),
        expected_accounts: accounts,
        expected_regions: regions,
        global_region: opts.global_region.clone(),
        stats,
        regions: results,
        gaps,
        outputs,
        digests: opts
            .integrity
            .as_ref()
            .filter(|i| i.mode != crate::integrity::DigestMode::Off)
            .map(|i| i.summary()),
    })
}

fn merge_stats(a: &mut Stats, b: &Stats) {
    a.log_files_read += b.log_files_read;
    a.log_files_unreadable += b.log_files_unreadable;
    a.objects_skipped += b.objects_skipped;
    a.compressed_bytes += b.compressed_bytes;
    a.decompressed_bytes += b.decompressed_bytes;
    a.events += b.events;
    a.events_outside_window += b.events_outside_window;
    a.events_bad_time += b.events_bad_time;
    for (k, v) in &b.log_files_by_digest_status {
        *a.log_files_by_digest_status.entry(k).or_default() += v;
    }
}

/// The whole hours spanned by the observed events.
fn observed_window(agg: &Aggregate) -> (i64, i64) {
    let mut lo = i64::MAX;
    let mut hi = i64::MIN;
    for regs in agg.cells.values() {
        for hours in regs.values() {
            if let (Some(first), Some(last)) = (hours.keys().next(), hours.keys().next_back()) {
                lo = lo.min(*first);
                hi = hi.max(*last + 3_600);
            }
        }
    }
    if lo > hi { (0, 0) } else { (lo, hi) }
}

pub fn sha256_file(path: &Path) -> Result<String> {
    let data = std::fs::read(path).map_err(|e| {
        Error::with_source(ErrorKind::Io, format!("cannot read {}", path.display()), e)
    })?;
    Ok(hex(&Sha256::digest(&data)))
}

/// Lists "folders" under a prefix (delimiter `/`).
pub(crate) async fn list_dirs(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    prefix: &str,
) -> std::result::Result<Vec<String>, ApiFailure> {
    let mut out = Vec::new();
    let mut pages = s3
        .list_objects_v2()
        .bucket(bucket)
        .prefix(prefix)
        .delimiter("/")
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| ApiFailure::from_sdk("s3:ListBucket", None, &e))?;
        for cp in page.common_prefixes() {
            if let Some(p) = cp.prefix() {
                out.push(p[prefix.len()..].trim_end_matches('/').to_owned());
            }
        }
    }
    Ok(out)
}

/// Plans (account × region × day) prefixes, lists them in parallel and fetches with bounded
/// concurrency and bytes. Listing failures become `list_failed` gap rows.
async fn list_s3(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    prefix: Option<&str>,
    opts: &ScanOptions,
    tx: mpsc::Sender<Job>,
    listed: &AtomicU64,
    failures: &mut Vec<Gap>,
) -> Result<BTreeSet<(String, String)>> {
    let base = match prefix {
        Some(p) => format!("{}/AWSLogs/", p.trim_end_matches('/')),
        None => "AWSLogs/".to_owned(),
    };
    let fatal = |f: ApiFailure| {
        Error::new(
            ErrorKind::Aws,
            format!("cannot list s3://{bucket}/{base}: {}", f.summary()),
        )
    };
    // The organization id, if any: from options, else from the layout.
    let org_id = match &opts.org_id {
        Some(o) => Some(o.clone()),
        None => list_dirs(s3, bucket, &base)
            .await
            .map_err(fatal)?
            .into_iter()
            .find(|d| d.starts_with("o-")),
    };
    let acct_base = match &org_id {
        Some(o) => format!("{base}{o}/"),
        None => base.clone(),
    };
    let accounts = match &opts.accounts {
        Some(a) => a.clone(),
        None => list_dirs(s3, bucket, &acct_base)
            .await
            .map_err(fatal)?
            .into_iter()
            .filter(|d| d.len() == 12 && d.bytes().all(|b| b.is_ascii_digit()))
            .collect(),
    };
    let mut pairs = Vec::new();
    for account in &accounts {
        match &opts.regions {
            Some(r) => pairs.extend(r.iter().map(|r| (account.clone(), r.clone()))),
            None => {
                let regions = list_dirs(s3, bucket, &format!("{acct_base}{account}/CloudTrail/"))
                    .await
                    .map_err(fatal)?;
                pairs.extend(regions.into_iter().map(|r| (account.clone(), r)));
            }
        }
    }
    // The prefixes: one per delivery day in the window (plus the grace), else per region.
    let mut prefixes = Vec::new();
    for (account, region) in &pairs {
        match opts.window {
            Some((since, until)) => {
                let mut day = since.div_euclid(86_400);
                let last = (until + opts.delivery_grace_s).div_euclid(86_400);
                while day <= last {
                    prefixes.push((
                        account.clone(),
                        region.clone(),
                        day_prefix(
                            prefix,
                            org_id.as_deref(),
                            account,
                            "CloudTrail",
                            region,
                            day,
                        ),
                        day,
                    ));
                    day += 1;
                }
            }
            None => prefixes.push((
                account.clone(),
                region.clone(),
                format!("{acct_base}{account}/CloudTrail/{region}/"),
                i64::MIN,
            )),
        }
    }
    let objects = Arc::new(Semaphore::new(opts.fetch_concurrency.max(1)));
    let budget_kib = (opts.max_in_flight_bytes / 1024).clamp(1, u32::MAX as u64 / 2) as u32;
    let bytes_budget = Arc::new(Semaphore::new(budget_kib as usize));
    let seen: Arc<Mutex<BTreeSet<(String, String)>>> =
        Arc::new(Mutex::new(pairs.iter().cloned().collect()));
    let list_limit = Arc::new(Semaphore::new(8));
    let mut tasks = tokio::task::JoinSet::new();
    for (account, region, p, day) in prefixes {
        let (s3, bucket, tx, opts) = (s3.clone(), bucket.to_owned(), tx.clone(), opts.clone());
        let (objects, bytes_budget, list_limit, seen) = (
            objects.clone(),
            bytes_budget.clone(),
            list_limit.clone(),
            seen.clone(),
        );
        tasks.spawn(async move {
            let _l = list_limit.acquire_owned().await;
            let mut n = 0u64;
            let mut pages = s3
                .list_objects_v2()
                .bucket(&bucket)
                .prefix(&p)
                .into_paginator()
                .send();
            while let Some(page) = pages.next().await {
                let page = match page {
                    Ok(p) => p,
                    Err(e) => {
                        let f = ApiFailure::from_sdk("s3:ListBucket", None, &e);
                        let (start, end) = if day == i64::MIN {
                            opts.window.unwrap_or((0, 0))
                        } else {
                            (day * 86_400, day * 86_400 + 86_400)
                        };
                        return (
                            n,
                            Some(Gap {
                                account_id: account,
                                region,
                                category: Category::Delivery,
                                kind: GapKind::ListFailed,
                                start,
                                end,
                                detail: format!("s3://{bucket}/{p}: {}", f.summary()),
                            }),
                        );
                    }
                };
                for obj in page.contents() {
                    let Some(key) = obj.key() else { continue };
                    let size = obj.size().unwrap_or(0).max(0) as u64;
                    let keep = {
                        let mut s = seen
                            .lock()
                            .unwrap_or_else(std::sync::PoisonError::into_inner);
                        wanted(key, &opts, &mut s)
                    };
                    if !keep {
                        continue;
                    }
                    n += 1;
                    if size > opts.max_object_bytes {
                        let job = Job {
                            key: key.to_owned(),
                            size,
                            body: Body::Failed {
                                status: "too_large",
                                error: format!(
                                    "{size} bytes exceed the {}-byte object cap",
                                    opts.max_object_bytes
                                ),
                            },
                            _permit: None,
                        };
                        if tx.send(job).await.is_err() {
                            break;
                        }
                        continue;
                    }
                    let kib = ((size / 1024).max(1)).min(budget_kib as u64) as u32;
                    let bytes_permit = bytes_budget
                        .clone()
                        .acquire_many_owned(kib)
                        .await
                        .expect("semaphore open");
                    let object_permit = objects
                        .clone()
                        .acquire_owned()
                        .await
                        .expect("semaphore open");
                    let (s3, bucket, key, tx) =
                        (s3.clone(), bucket.clone(), key.to_owned(), tx.clone());
                    tokio::spawn(async move {
                        let body = fetch(&s3, &bucket, &key).await;
                        drop(object_permit);
                        // Fails only when the workers are gone, which ends the run anyway.
                        tx.send(Job {
                            key,
                            size,
                            body,
                            _permit: Some(bytes_permit),
                        })
                        .await
                        .ok();
                    });
                }
            }
            (n, None)
        });
    }
    drop(tx);
    while let Some(done) = tasks.join_next().await {
        let (n, failure) = done.expect("list task panicked");
        listed.fetch_add(n, Ordering::Relaxed);
        if let Some(f) = failure {
            tracing::warn!(detail = %f.detail, "Listing failed; what the prefix holds is unknown.");
            failures.push(f);
        }
    }
    let seen = seen
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone();
    Ok(seen)
}

/// GETs one object; the body read is retried (the SDK's retries stop at the headers).
async fn fetch(s3: &aws_sdk_s3::Client, bucket: &str, key: &str) -> Body {
    match fetch_object(s3, bucket, key).await {
        Ok((data, _)) => Body::Bytes(data),
        Err((status, error)) => Body::Failed { status, error },
    }
}

/// GETs one object with its user metadata; failures as (`access_denied` | `not_found` |
/// `fetch_failed`, message).
pub(crate) async fn fetch_object(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
) -> std::result::Result<
    (bytes::Bytes, std::collections::HashMap<String, String>),
    (&'static str, String),
> {
    let mut last = String::new();
    for attempt in 0..3u32 {
        if attempt > 0 {
            tokio::time::sleep(std::time::Duration::from_millis(200 << attempt)).await;
        }
        match s3.get_object().bucket(bucket).key(key).send().await {
            Ok(mut out) => {
                let metadata = out.metadata.take().unwrap_or_default();
                match out.body.collect().await {
                    Ok(data) => return Ok((data.into_bytes(), metadata)),
                    Err(e) => last = format!("body read failed: {e}"),
                }
            }
            Err(e) => {
                let f = ApiFailure::from_sdk("s3:GetObject", None, &e);
                match f.kind {
                    FailureKind::AccessDenied => return Err(("access_denied", f.summary())),
                    FailureKind::NotFound => return Err(("not_found", f.summary())),
                    _ => last = f.summary(),
                }
            }
        }
    }
    Err(("fetch_failed", last))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_parse() {
        assert_eq!(
            "s3://b".parse(),
            Ok(Source::S3 {
                bucket: "b".into(),
                prefix: None
            })
        );
        assert_eq!(
            "s3://b/p/q/".parse(),
            Ok(Source::S3 {
                bucket: "b".into(),
                prefix: Some("p/q".into())
            })
        );
        assert_eq!("./logs".parse(), Ok(Source::Local(PathBuf::from("./logs"))));
        assert!("s3://".parse::<Source>().is_err());
    }

    #[test]
    fn hex_encodes() {
        assert_eq!(hex(&[0, 15, 255]), "000fff");
    }
}
