//! Listing and fetching: the prefix plan of the scope × window over the [`Store`], every
//! listed key filtered by scope and delivery time, and GETs with bounded concurrency and
//! bytes in flight (a budget taken before the GET, released when a worker is done with the
//! object). A local copy is walked whole (its non-CloudTrail objects are recorded as skipped)
//! and read by the workers themselves.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::{Semaphore, mpsc};

use super::Options;
use super::worker::{Body, Job};
use crate::coverage::{Gap, GapKind};
use crate::error::{Error, ErrorKind, Result};
use crate::source::layout::{ObjectKind, parse_key};
use crate::source::{Entry, Layout, ReadError, Source, Store};

/// Prefix listings in flight at once.
const LIST_CONCURRENCY: usize = 8;

/// Local files per message to the workers (an S3 object goes alone, with its bytes).
const LOCAL_BATCH: usize = 16;

/// (account, region) pairs seen in the layout.
pub(super) type Seen = BTreeSet<(String, String)>;

/// Whether a listed key is worth reading for this window and scope. Non-CloudTrail keys are
/// passed on (recorded as skipped); logs outside the window or the scope are dropped unread.
/// With `--shard`, `seen` still records every pair of the layout (what the run expects is the
/// same in every shard), and a non-CloudTrail key is recorded by shard 0 alone.
fn wanted(key: &str, opts: &Options, seen: &mut Seen) -> bool {
    match parse_key(key) {
        Ok(k) => {
            if !opts.scope.lists(k.account, k.region) {
                return false;
            }
            if k.kind == ObjectKind::Log {
                seen.insert((k.account.to_owned(), k.region.to_owned()));
            }
            if !opts.scope.contains(k.account, k.region) {
                return false;
            }
            k.kind != ObjectKind::Log || opts.window.delivered_in(k.delivered_at)
        }
        Err(_) => opts.scope.shard.is_none_or(|s| s.index == 0),
    }
}

/// Lists `source` and sends a job per wanted object; listing failures of a planned prefix
/// become `list_failed` gap rows. Returns the (account, region) pairs of the layout.
pub(super) async fn list_and_fetch(
    store: &Store,
    source: &Source,
    opts: &Options,
    tx: mpsc::Sender<Vec<Job>>,
    listed: &AtomicU64,
    failures: &mut Vec<Gap>,
) -> Result<Seen> {
    match store {
        Store::Local(root) => {
            let mut seen = Seen::new();
            let (etx, mut erx) = mpsc::channel::<Entry>(1_024);
            let walk = store.list("", etx);
            let feed = async {
                // Paths go to the workers in batches: one wake-up per batch, not per file.
                let mut batch = Vec::with_capacity(LOCAL_BATCH);
                while let Some(e) = erx.recv().await {
                    if !wanted(&e.key, opts, &mut seen) {
                        continue;
                    }
                    listed.fetch_add(1, Ordering::Relaxed);
                    let path = root.join(&e.key);
                    let body = if e.regular {
                        Body::Path(path)
                    } else {
                        Body::Failed(ReadError::not_a_file(&path))
                    };
                    batch.push(Job {
                        key: e.key,
                        size: e.size,
                        body,
                        _permit: None,
                    });
                    if batch.len() == LOCAL_BATCH
                        && tx
                            .send(std::mem::replace(
                                &mut batch,
                                Vec::with_capacity(LOCAL_BATCH),
                            ))
                            .await
                            .is_err()
                    {
                        return;
                    }
                }
                if !batch.is_empty() {
                    tx.send(batch).await.ok();
                }
            };
            let (walked, ()) = tokio::join!(walk, feed);
            walked.map_err(|e| Error::new(ErrorKind::Io, e))?;
            Ok(seen)
        }
        Store::S3 { .. } => list_s3(store, source, opts, tx, listed, failures).await,
    }
}

/// Plans (account × region × day) prefixes, lists them in parallel and fetches with bounded
/// concurrency and bytes.
async fn list_s3(
    store: &Store,
    source: &Source,
    opts: &Options,
    tx: mpsc::Sender<Vec<Job>>,
    listed: &AtomicU64,
    failures: &mut Vec<Gap>,
) -> Result<Seen> {
    let fatal = |e: String| Error::new(ErrorKind::Aws, format!("{source}: {e}"));
    let layout = Layout::discover(store, source.prefix(), &opts.scope)
        .await
        .map_err(fatal)?;
    let all = layout
        .pairs(store, ObjectKind::Log.service(), &opts.scope)
        .await
        .map_err(fatal)?;
    // Every pair is expected; this shard lists its own.
    let pairs: Vec<(String, String)> = all
        .iter()
        .filter(|(a, r)| opts.scope.contains(a, r))
        .cloned()
        .collect();
    let plan = layout.plan(
        &pairs,
        ObjectKind::Log.service(),
        opts.window.delivery_days(),
    );
    let mut listed_n = 0u64;
    let mut failed = Vec::new();
    let objects = Arc::new(Semaphore::new(opts.fetch_concurrency.max(1)));
    let budget_kib = (opts.max_in_flight_bytes / 1024).clamp(1, u32::MAX as u64 / 2) as u32;
    let bytes_budget = Arc::new(Semaphore::new(budget_kib as usize));
    let seen: Arc<Mutex<Seen>> = Arc::new(Mutex::new(all.iter().cloned().collect()));
    let mut tasks = tokio::task::JoinSet::new();
    for planned in plan {
        // At most LIST_CONCURRENCY listings exist at once, however long the plan.
        while tasks.len() >= LIST_CONCURRENCY {
            if let Some(done) = tasks.join_next().await {
                let (n, failure) = done.expect("list task panicked");
                listed_n += n;
                failed.extend(failure);
            }
        }
        let (store, tx, opts) = (store.clone(), tx.clone(), opts.clone());
        let (objects, bytes_budget, seen) = (objects.clone(), bytes_budget.clone(), seen.clone());
        tasks.spawn(async move {
            let (etx, mut erx) = mpsc::channel::<Entry>(1_024);
            let listing = store.list(&planned.prefix, etx);
            let feed = async {
                let mut n = 0u64;
                while let Some(Entry { key, size, .. }) = erx.recv().await {
                    let keep = {
                        let mut s = seen
                            .lock()
                            .unwrap_or_else(std::sync::PoisonError::into_inner);
                        wanted(&key, &opts, &mut s)
                    };
                    if !keep {
                        continue;
                    }
                    n += 1;
                    if size > opts.max_object_bytes {
                        let body = Body::Failed(ReadError::too_large(size, opts.max_object_bytes));
                        let job = Job {
                            key,
                            size,
                            body,
                            _permit: None,
                        };
                        if tx.send(vec![job]).await.is_err() {
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
                    let (store, tx) = (store.clone(), tx.clone());
                    tokio::spawn(async move {
                        let body = match store.get(&key, opts.max_object_bytes).await {
                            Ok(o) => Body::Bytes(o.bytes, o.etag),
                            Err(e) => Body::Failed(e),
                        };
                        drop(object_permit);
                        // Fails only when the workers are gone, which ends the run anyway.
                        tx.send(vec![Job {
                            key,
                            size,
                            body,
                            _permit: Some(bytes_permit),
                        }])
                        .await
                        .ok();
                    });
                }
                n
            };
            let (listed, n) = tokio::join!(listing, feed);
            let failure = listed.err().map(|e| {
                Gap::new(
                    &planned.account,
                    &planned.region,
                    GapKind::ListFailed,
                    planned.span(&opts.window),
                    format!("s3://{}/{}: {e}", store.bucket(), planned.prefix),
                )
            });
            (n, failure)
        });
    }
    drop(tx);
    while let Some(done) = tasks.join_next().await {
        let (n, failure) = done.expect("list task panicked");
        listed_n += n;
        failed.extend(failure);
    }
    listed.fetch_add(listed_n, Ordering::Relaxed);
    for f in failed {
        tracing::warn!(detail = %f.detail, "Listing failed; what the prefix holds is unknown.");
        failures.push(f);
    }
    let seen = seen
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone();
    Ok(seen)
}
