//! The log phase: plan → list → fetch → decode on the worker pool → aggregate → coverage,
//! integrity and the evidence tables.
//!
//! Listing and fetching are async (tokio, S3) in [`list`]; decoding runs on a fixed pool of
//! CPU threads that never touch the reactor ([`worker`]). In-flight objects and bytes are
//! bounded by semaphores taken before a fetch and released when a worker is done with the
//! object, so memory stays flat whatever the bucket's size. Progress is drawn here
//! ([`progress`]), on stderr, only when it is a terminal.

mod list;
mod progress;
mod worker;

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::mpsc;

use crate::coverage::{Aggregate, Evidence, Expectation};
use crate::error::Result;
use crate::integrity::{DigestMode, Integrity};
use crate::report::parquet::{EventColumns, FileRow, FilesWriter, Table, TableWriter};
use crate::report::{OutputFile, RunOutcome, Stats};
use crate::source::{Scope, Source, Store};
use crate::time::{Window, rfc3339};

/// The defaults of every pipeline setting, in one place (the command line shows them).
pub mod defaults {
    /// The evidence directory.
    pub const OUT_DIR: &str = "trailproof-out";
    /// `verify` and `validate` judge the last day unless told otherwise.
    pub const SINCE: &str = "24h";
    /// Events delivered later than this after their eventTime are `late_delivery`.
    pub const LATE_AFTER: &str = "1h";
    /// Logs delivered up to this long after the window's end are read.
    pub const DELIVERY_GRACE: &str = crate::time::DEFAULT_DELIVERY_GRACE;
    /// The commercial partition's global region.
    pub const GLOBAL_REGION: &str = "us-east-1";
    /// S3 GETs in flight at once.
    pub const FETCH_CONCURRENCY: usize = 32;
    /// Bytes of fetched objects held at once, MiB.
    pub const MAX_IN_FLIGHT_MIB: u64 = 128;
    /// Larger objects (compressed, MiB) are not read.
    pub const MAX_OBJECT_MIB: u64 = crate::source::DEFAULT_MAX_OBJECT_MIB;
    /// `coverage.parquet` is dense (a row of zeros for every silent hour of an expected cell)
    /// for windows up to this long; longer windows get observed rows and `silences.parquet`.
    pub const DENSE_UP_TO: &str = "31d";
    /// Objects that inflate beyond this (MiB) are rejected.
    pub const MAX_DECOMPRESSED_MIB: u64 = crate::decode::DEFAULT_MAX_DECOMPRESSED_MIB;

    /// Decode threads: one per CPU.
    pub fn workers() -> usize {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2)
    }

    /// A duration default in seconds.
    pub fn secs(d: &str) -> i64 {
        crate::time::parse_duration(d)
            .expect("a valid default")
            .as_secs() as i64
    }
}

/// Where a run's evidence is published, and the private local area it is staged in (created
/// and removed by the command; `Options::out_dir` lies inside it).
#[derive(Debug, Clone)]
pub struct Publish {
    pub dest: Source,
    pub area: PathBuf,
}

/// What a run carries over from the previous one (`--state`).
#[derive(Debug, Clone, Default)]
pub struct Carried {
    /// Per (account, region), the start of a silence that ran to the previous run's end.
    pub silent_since: std::collections::BTreeMap<(String, String), i64>,
    /// Per (account, region), the previous run's digest chain tip.
    pub tips: Arc<std::collections::BTreeMap<(String, String), crate::integrity::digest::ChainTip>>,
}

/// Settings of one run of the pipeline.
#[derive(Debug, Clone)]
pub struct Options {
    /// The period judged, and how late its logs may be delivered.
    pub window: Window,
    /// Accounts, regions and organization read; `None` fields come from the layout.
    pub scope: Scope,
    /// The partition's global region (global-service events are expected there).
    pub global_region: String,
    pub out_dir: PathBuf,
    /// `--out s3://bucket/prefix`: where the committed evidence directory is published (by
    /// the command, after the run); `out_dir` is then inside a private local staging area.
    pub publish: Option<Publish>,
    /// `--summary-line`: the command ends with its result as one JSON line on stderr.
    pub summary_line: bool,
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
    /// Windows up to this many hours get a dense `coverage.parquet`.
    pub dense_max_hours: i64,
    pub progress: bool,
    /// Parse the records (off for `validate`, which only hashes).
    pub parse: bool,
    /// SHA-256 every log file's decompressed content into files.parquet even when no digest
    /// needs it (digests in use always hash).
    pub file_hashes: bool,
    /// Digest evidence to check each log file against and to merge into the verdict.
    pub integrity: Option<Arc<Integrity>>,
    /// What the previous run left (`--state`).
    pub carried: Option<Arc<Carried>>,
    /// `--canary FILE`: the probes to look for and judge.
    pub canary: Option<Arc<crate::canary::Watch>>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            window: Window::unbounded(defaults::secs(defaults::DELIVERY_GRACE)),
            scope: Scope::default(),
            global_region: defaults::GLOBAL_REGION.into(),
            out_dir: PathBuf::from(defaults::OUT_DIR),
            publish: None,
            summary_line: false,
            events: false,
            workers: defaults::workers(),
            fetch_concurrency: defaults::FETCH_CONCURRENCY,
            max_in_flight_bytes: defaults::MAX_IN_FLIGHT_MIB << 20,
            max_object_bytes: defaults::MAX_OBJECT_MIB << 20,
            max_decompressed: (defaults::MAX_DECOMPRESSED_MIB << 20) as usize,
            max_silence_hours: None,
            late_threshold_s: defaults::secs(defaults::LATE_AFTER),
            dense_max_hours: defaults::secs(defaults::DENSE_UP_TO) / crate::time::HOUR,
            progress: false,
            parse: true,
            file_hashes: true,
            integrity: None,
            carried: None,
            canary: None,
        }
    }
}

/// Runs the pipeline over `source` and writes the evidence tables into `opts.out_dir`.
pub async fn run(
    source: &Source,
    s3: Option<aws_sdk_s3::Client>,
    opts: Options,
) -> Result<RunOutcome> {
    let store = Store::open(source, s3)?;
    let out = &opts.out_dir;
    crate::report::create_dir(out)?;
    let count_window = opts.window.counting();
    let (files_tx, files_rx) = std::sync::mpsc::sync_channel::<Vec<FileRow>>(64);
    let files_writer = FilesWriter::create(out)?;
    let files_thread = std::thread::spawn(move || -> Result<u64> {
        let mut w = files_writer;
        for rows in files_rx {
            for row in rows {
                w.push(row)?;
            }
        }
        w.close()
    });
    let (events_tx, events_thread) = if opts.events {
        let (tx, rx) = std::sync::mpsc::sync_channel::<EventColumns>(4);
        let mut w = TableWriter::create(out, Table::Events)?;
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
    let read_bytes = Arc::new(AtomicU64::new(0));
    let progress = progress::Progress::start(opts.progress, read_bytes.clone());
    let shared = Arc::new(worker::Shared {
        opts: opts.clone(),
        count_window,
        files: Mutex::new(files_tx),
        events: events_tx,
        progress: progress.bar(),
        read_bytes,
        decompressed: crate::decode::budget::Budget::new(opts.max_decompressed as u64),
        compressed: crate::decode::budget::Budget::new(opts.max_in_flight_bytes),
        bucket: match source {
            Source::S3 { bucket, .. } => Some(bucket.clone()),
            Source::Local(_) => None,
        },
    });
    let workers = opts.workers.max(1);
    let (tx, rx) = mpsc::channel::<Vec<worker::Job>>(workers * 2);
    let rx = Arc::new(Mutex::new(rx));
    let handles: Vec<_> = (0..workers)
        .map(|i| {
            let (rx, shared) = (rx.clone(), shared.clone());
            std::thread::Builder::new()
                .name(format!("trailproof-decode-{i}"))
                .spawn(move || worker::worker(rx, shared))
                .expect("spawn decode worker")
        })
        .collect();
    // Only the workers hold the receiver: if they all stop early, senders see the channel
    // closed instead of blocking forever.
    drop(rx);
    let listed = AtomicU64::new(0);

    let integrity = opts.integrity.as_deref().filter(|i| i.in_use);
    // Digest findings; when digests take no part, only a broken link to the previous run.
    let mut failures = opts
        .integrity
        .as_deref()
        .map(|i| i.gaps())
        .unwrap_or_default();
    // When listing began: a file delivered later may not have been listed (the canaries'
    // judge), and the list requests this run makes are counted from here.
    let began = crate::time::now_secs();
    let lists_before = crate::source::s3::LIST_REQUESTS.load(Ordering::Relaxed);
    let listing = list::list_and_fetch(&store, source, &opts, tx, &listed, &mut failures).await;
    // Always drain the workers, even when listing failed, so no thread is left behind.
    let mut agg = Aggregate::default();
    let mut stats = Stats::default();
    let mut changes = crate::coverage::TrailChanges::default();
    let mut sightings = crate::canary::Sightings::default();
    for h in handles {
        let out = tokio::task::spawn_blocking(move || h.join())
            .await
            .expect("join")
            .expect("decode worker panicked");
        agg.merge(out.agg);
        failures.extend(out.failures);
        stats.merge(&out.stats);
        changes.merge(out.trail_changes);
        sightings.merge(out.canary);
    }
    changes.settle();
    progress.finish();
    drop(shared);
    let files_rows = files_thread.join().expect("files writer panicked")?;
    let events_rows = match events_thread {
        Some(h) => Some(h.join().expect("events writer panicked")?),
        None => None,
    };
    let seen = listing?;
    stats.objects_listed = listed.load(Ordering::Relaxed);
    stats.list_requests = crate::source::s3::LIST_REQUESTS.load(Ordering::Relaxed) - lists_before;
    if let Some(i) = integrity {
        // Listed by a valid digest, delivered in the range the scan listed, never seen.
        failures.extend(i.missing_logs(opts.window.deliveries()));
    }

    // Expected set: given, else what the layout shows (and where canaries were sent: a
    // region without a folder is exactly what they are for).
    let probed = opts.canary.as_deref().map(|w| &w.file);
    let accounts = opts.scope.accounts.clone().unwrap_or_else(|| {
        seen.iter()
            .map(|(a, _)| a.clone())
            .chain(probed.map(|f| f.account_id.clone()))
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect()
    });
    let regions = opts.scope.regions.clone().unwrap_or_else(|| {
        seen.iter()
            .map(|(_, r)| r.clone())
            .chain(
                probed
                    .into_iter()
                    .flat_map(|f| f.probes.iter().map(|p| p.region.clone())),
            )
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect()
    });
    let window = opts
        .window
        .or_observed(|| crate::coverage::observed_window(&agg));
    // An expected region with no digest at all (its chain never read: no digest folder) is
    // a no_digest row for the window, like a chain with holes: its logs were never verified.
    if let Some(i) = integrity {
        for a in &accounts {
            for r in regions.iter().filter(|r| opts.scope.contains(a, r)) {
                if !i
                    .chains
                    .iter()
                    .any(|c| c.account_id == *a && c.region == *r)
                {
                    failures.push(crate::coverage::Gap::new(
                        a,
                        r,
                        crate::coverage::GapKind::NoDigest,
                        window,
                        "no digest file for this region in the window: log file validation was off, or its digests were removed",
                    ));
                }
            }
        }
    }
    // The canaries: judged against what the workers found, their findings beside the others.
    let canary = match &opts.canary {
        Some(w) => {
            let expects = |a: &str, r: &str| {
                accounts.iter().any(|x| x == a)
                    && regions.iter().any(|x| x == r)
                    && opts.scope.shard.is_none_or(|s| s.owns(a, r))
            };
            // Only what was delivered, and stored, before the listing began was surely seen.
            let seen_until = began - crate::canary::SETTLE_S;
            let (from, to) = opts.window.deliveries();
            let unread: Vec<crate::coverage::Gap> = failures
                .iter()
                .filter(|g| g.kind.is_unknown())
                .cloned()
                .collect();
            let scope = crate::canary::Scope {
                expects: &expects,
                now: seen_until,
                timeout_s: w.timeout_s,
                listed: (from, to.min(seen_until)),
                unread: &unread,
            };
            // Each object holding a canary once (S3 HEAD for its LastModified).
            let keys: BTreeSet<&str> = sightings.found.iter().map(|s| s.key.as_str()).collect();
            let mut times = std::collections::HashMap::new();
            for k in keys {
                times.insert(k.to_owned(), store.last_modified(k).await);
            }
            let (report, found) =
                crate::canary::judge(&w.file, &sightings, &scope, &mut |k: &str| {
                    times.get(k).copied().flatten()
                });
            failures.extend(found);
            Some(report)
        }
        None => None,
    };
    let exp = Expectation {
        accounts: accounts.clone(),
        regions: regions.clone(),
        global_region: opts.global_region.clone(),
        window,
        max_silence_hours: opts.max_silence_hours,
        late_threshold_s: opts.late_threshold_s,
        attested: integrity.map(|i| i.attested()).unwrap_or_default(),
        silent_since: opts
            .carried
            .as_ref()
            .map(|c| c.silent_since.clone())
            .unwrap_or_default(),
        shard: opts.scope.shard,
        next_start: (window.1 - opts.window.delivery_grace_s).div_euclid(crate::time::HOUR)
            * crate::time::HOUR,
    };
    // Without parsing (`validate`) there are no counts to judge: the findings are the result.
    let (gaps, results) = if opts.parse {
        crate::coverage::evaluate(&agg, &exp, failures)
    } else {
        crate::coverage::gaps::sort(&mut failures);
        (failures, Vec::new())
    };
    let evidence = Evidence::of(&results, &gaps);

    // Dense rows only up to the limit: beyond it the grid (accounts x regions x hours) would
    // cost more than the data read, so silent stretches get a row each instead.
    let dense = (window.1 - window.0) / crate::time::HOUR <= opts.dense_max_hours;
    let attested: std::collections::HashMap<(&str, &str), &BTreeSet<i64>> = exp
        .attested
        .iter()
        .map(|((a, r), hours)| ((a.as_str(), r.as_str()), hours))
        .collect();
    let coverage_rows = if opts.parse {
        let rows = crate::coverage::coverage_rows(
            &agg,
            &accounts,
            &regions,
            window,
            dense,
            opts.scope.shard,
        )
        .map(|(a, r, h, c)| {
            let at = attested.get(&(a, r)).is_some_and(|s| s.contains(&h));
            (a, r, h, c, at)
        });
        Some(crate::report::parquet::write_coverage(
            &out.join(Table::Coverage.file_name()),
            rows,
        )?)
    } else {
        None
    };
    let silence_rows = if opts.parse && !dense {
        let rows = crate::coverage::evaluate::silent_stretches_of(
            &agg,
            &accounts,
            &regions,
            window,
            opts.scope.shard,
        );
        Some(crate::report::parquet::write_silences(
            &out.join(Table::Silences.file_name()),
            rows,
        )?)
    } else {
        None
    };
    let gaps_rows = crate::report::parquet::write_gaps(&out.join(Table::Gaps.file_name()), &gaps)?;
    let changes_rows = if opts.parse {
        Some(crate::report::parquet::write_trail_changes(
            &out.join(Table::TrailChanges.file_name()),
            &changes.rows,
        )?)
    } else {
        None
    };
    let mut outputs = Vec::new();
    for (name, rows) in coverage_rows
        .map(|n| ("coverage.parquet", Some(n)))
        .into_iter()
        .chain([
            ("gaps.parquet", Some(gaps_rows)),
            ("files.parquet", Some(files_rows)),
        ])
        .chain(events_rows.map(|n| ("events.parquet", Some(n))))
        .chain(silence_rows.map(|n| ("silences.parquet", Some(n))))
        .chain(changes_rows.map(|n| ("trail_changes.parquet", Some(n))))
    {
        outputs.push(OutputFile::hashed(out, name, rows)?);
    }
    Ok(RunOutcome {
        evidence,
        source: source.to_string(),
        window_start: rfc3339(window.0),
        window_end: rfc3339(window.1),
        expected_accounts: accounts,
        expected_regions: regions,
        global_region: opts.global_region.clone(),
        stats,
        totals: crate::report::Totals::of(&agg),
        dense: dense || !opts.parse,
        regions: results,
        gaps,
        outputs,
        account_mismatches: crate::report::AccountMismatch::of(&agg),
        trail_changes: changes.rows,
        trail_changes_dropped: changes.dropped,
        regions_given: opts.scope.regions.is_some(),
        silence_checked: opts.max_silence_hours.is_some(),
        canary,
        digests: opts
            .integrity
            .as_ref()
            .filter(|i| i.mode != DigestMode::Off)
            .map(|i| i.summary()),
    })
}
