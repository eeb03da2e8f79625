//! Integrity: digest chains read through [`crate::source`], the public keys, and the checked
//! chains turned into coverage evidence: gap rows, attested hours and the index the scan
//! workers check each log file against. The digest document, its signature and the chain
//! checks are in [`digest`]; the algorithm is described in `docs/digests.md`.
//!
//! One chain per (account, source region), read in parallel with bounded concurrency; a
//! chain's objects are dropped once it is checked, so memory holds one chain's digests per
//! task plus about 200 bytes per listed log file.

pub mod digest;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use serde::Serialize;

use crate::aws::{ApiFailure, CheckClients};
use crate::coverage::{Gap, GapKind};
use crate::decode::Decoder;
use crate::decode::budget::Budget;
use crate::error::{Error, ErrorKind, Result};
use crate::source::layout::{ObjectKind, parse_key};
use crate::source::{Layout, Planned, Scope, Source, Store};
use crate::time::{Window, rfc3339};
use digest::{
    Chain, ChainContext, ChainTip, DigestContent, DigestIndex, KeyRing, PublicKey, ReadDigest,
    ReadFailure, Status, check_chain, hour_statuses,
};

/// How `scan` and `verify` use digests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DigestMode {
    /// Logs only.
    Off,
    /// Use the digests when the trail has them and their keys can be had; otherwise say so
    /// and judge from the logs alone.
    #[default]
    On,
    /// Coverage is proven only where verified digests vouch for it.
    Require,
}

/// What to read.
#[derive(Debug, Clone)]
pub struct IntegrityOptions {
    pub mode: DigestMode,
    /// The window judged (an unbounded one reads every digest) and its delivery grace.
    pub window: Window,
    pub scope: Scope,
    /// Only this trail's digests (the name in digest file names).
    pub trail: Option<String>,
    /// Keys given offline (`--public-keys FILE`), for every region.
    pub public_keys: Option<KeyRing>,
    /// Current time: digests not due by now are pending, not missing.
    pub now: i64,
    /// Cap on a digest's stored size.
    pub max_object_bytes: u64,
    /// Cap on a digest's decompressed size.
    pub max_decompressed: usize,
    /// Per (account, region), the chain's tip as the previous run left it (`--state`): this
    /// run's chain must continue from it.
    pub tips: Arc<BTreeMap<(String, String), ChainTip>>,
}

impl Default for IntegrityOptions {
    fn default() -> Self {
        IntegrityOptions {
            mode: DigestMode::default(),
            window: Window::unbounded(
                crate::time::parse_duration(crate::time::DEFAULT_DELIVERY_GRACE)
                    .expect("a valid default")
                    .as_secs() as i64,
            ),
            scope: Scope::default(),
            trail: None,
            public_keys: None,
            now: crate::time::now_secs(),
            max_object_bytes: crate::source::DEFAULT_MAX_OBJECT_MIB << 20,
            max_decompressed: MAX_DIGEST_DECOMPRESSED,
            tips: Arc::default(),
        }
    }
}

/// One public key used, for the report.
#[derive(Debug, Clone, Serialize)]
pub struct KeyInfo {
    /// The region whose `ListPublicKeys` returned it, or `file`.
    pub source: String,
    pub fingerprint: String,
    pub encoding: crate::integrity::digest::KeyEncoding,
    pub valid_from: Option<String>,
    pub valid_until: Option<String>,
}

/// The digest evidence of one run.
#[derive(Debug)]
pub struct Integrity {
    pub mode: DigestMode,
    /// Whether digests take part in the coverage verdict.
    pub in_use: bool,
    pub window: (i64, i64),
    pub chains: Vec<Chain>,
    pub keys: Vec<KeyInfo>,
    pub notes: Vec<String>,
    pub index: Arc<DigestIndex>,
    /// Chain tips the previous run verified (`--state`) that are gone: findings whether or not
    /// digests take part in this run's verdict (the state knows they existed).
    pub broken_links: Vec<Gap>,
}

const DUE_AFTER_S: i64 = 75 * 60;

/// A digest inflates to a few kilobytes per listed log file; more than this is not a digest.
pub const MAX_DIGEST_DECOMPRESSED: usize = 64 << 20;

/// A stored digest is at most this large (an hour of one region's log files, gzipped, is a
/// few megabytes); a larger object under a digest key is `too_large`, never downloaded.
pub const MAX_DIGEST_OBJECT: u64 = 16 << 20;

/// How far before a run's range the previous run's chain tip is still listed and read.
const TIP_LOOKBACK_S: i64 = 2 * crate::time::DAY;

/// Digests read at once per chain.
const DIGEST_READS: usize = 4;

impl Integrity {
    /// Digests are off.
    pub fn off() -> Self {
        Integrity {
            mode: DigestMode::Off,
            in_use: false,
            window: (0, 0),
            chains: Vec::new(),
            keys: Vec::new(),
            notes: Vec::new(),
            index: Arc::default(),
            broken_links: Vec::new(),
        }
    }

    /// Digest objects found.
    pub fn found(&self) -> usize {
        self.chains.iter().map(|c| c.digests.len()).sum()
    }

    /// Gap rows for the digests and holes overlapping the window.
    pub fn gaps(&self) -> Vec<Gap> {
        let mut out = Vec::new();
        if !self.in_use {
            return self.broken_links.clone();
        }
        let (ws, we) = self.window;
        for c in &self.chains {
            let row = |kind, start: i64, end: i64, detail: String| {
                Gap::new(
                    &c.account_id,
                    &c.region,
                    kind,
                    (start.max(ws), end.min(we)),
                    detail,
                )
            };
            for d in &c.digests {
                if d.start >= we || d.end <= ws {
                    continue;
                }
                let kind = match d.status {
                    Status::Invalid => GapKind::DigestInvalid,
                    Status::Unreadable | Status::Unverified => GapKind::DigestUnverified,
                    _ => continue,
                };
                let backfill = if d.backfill { "(backfill) " } else { "" };
                out.push(row(
                    kind,
                    d.start,
                    d.end,
                    format!("{backfill}{}: {}", d.key, d.problems.join("; ")),
                ));
            }
            for h in &c.holes {
                if matches!(h.status, Status::Missing | Status::Gap) && h.start < we && h.end > ws {
                    out.push(row(GapKind::NoDigest, h.start, h.end, h.detail.clone()));
                }
            }
        }
        out
    }

    /// Hours a valid digest vouches for, per (account, region): logging was on, even when
    /// nothing was delivered.
    pub fn attested(&self) -> BTreeMap<(String, String), BTreeSet<i64>> {
        let mut out = BTreeMap::new();
        if !self.in_use {
            return out;
        }
        for c in &self.chains {
            let hours: BTreeSet<i64> = hour_statuses(c, self.window)
                .into_iter()
                .filter(|(_, s)| s.is_good())
                .map(|(h, _)| h)
                .collect();
            out.insert((c.account_id.clone(), c.region.clone()), hours);
        }
        out
    }

    /// After the scan: logs a valid digest lists, delivered in the range the scan listed,
    /// that the scan never saw.
    pub fn missing_logs(&self, listed_range: (i64, i64)) -> Vec<Gap> {
        let mut out = Vec::new();
        if !self.in_use {
            return out;
        }
        let scope: BTreeSet<(&str, &str)> = self
            .chains
            .iter()
            .map(|c| (c.account_id.as_str(), c.region.as_str()))
            .collect();
        for (key, l) in &self.index.logs {
            if l.seen.load(std::sync::atomic::Ordering::Relaxed) || !l.digest_status.is_good() {
                continue;
            }
            let Ok(k) = parse_key(key) else { continue };
            if k.kind != ObjectKind::Log
                || !scope.contains(&(k.account, k.region))
                || k.delivered_at < listed_range.0
                || k.delivered_at > listed_range.1
            {
                continue;
            }
            out.push(Gap::of_object(
                k.account,
                k.region,
                k.delivered_at,
                GapKind::LogMissing,
                format!("{key}: listed in {}, not in the bucket", l.digest_key),
            ));
        }
        out.sort_by(|a, b| (&a.region, a.end, &a.detail).cmp(&(&b.region, b.end, &b.detail)));
        out
    }
}

/// Reads one digest: capped, inflated on a blocking thread under the shared budget, with its
/// signature metadata.
async fn read_digest(
    store: &Store,
    key: &str,
    opts: &IntegrityOptions,
    budget: &Arc<Budget>,
) -> std::result::Result<DigestContent, ReadFailure> {
    let object = store
        .get(key, opts.max_object_bytes.min(MAX_DIGEST_OBJECT))
        .await
        .map_err(|e| ReadFailure {
            status: e.status.into(),
            error: e.error,
        })?;
    let (max, budget, bytes) = (opts.max_decompressed, budget.clone(), object.bytes.clone());
    let inflated = tokio::task::spawn_blocking(move || {
        let mut d = Decoder::new(max).with_budget(budget);
        d.inflate(&bytes, true)
            .map(|_| d.decompressed().to_vec())
            .map_err(|e| ReadFailure {
                status: e.code.as_str().into(),
                error: e.message,
            })
    })
    .await
    .expect("digest inflater panicked")?;
    let meta = &object.metadata;
    Ok(DigestContent {
        inflated,
        signature: meta.get("signature").cloned(),
        signature_algorithm: meta.get("signature-algorithm").cloned(),
        backfill_generated: meta.get("backfill-generation-timestamp").cloned(),
        has_metadata: store.has_metadata(),
    })
}

/// Reads and checks the digest chains of `source` for the window.
pub async fn collect(
    source: &Source,
    s3: Option<&aws_sdk_s3::Client>,
    clients: Option<&CheckClients>,
    opts: &IntegrityOptions,
) -> Result<Integrity> {
    if opts.mode == DigestMode::Off {
        return Ok(Integrity::off());
    }
    let store = Store::open(source, s3.cloned())?;
    let fail = |e: String| Error::new(ErrorKind::Aws, format!("digests in {source}: {e}"));
    let layout = Layout::discover(&store, source.prefix(), &opts.scope)
        .await
        .map_err(fail)?;
    let mut pairs = layout
        .pairs(&store, ObjectKind::Digest.service(), &opts.scope)
        .await
        .map_err(fail)?;
    pairs.retain(|(a, r)| opts.scope.contains(a, r));
    let range = opts.window.digest_stamps();
    // Keys: the file's for every region, else ListPublicKeys per region, else none.
    let mut keys_info = Vec::new();
    let mut rings: BTreeMap<String, std::result::Result<KeyRing, String>> = BTreeMap::new();
    let regions: BTreeSet<&String> = pairs.iter().map(|(_, r)| r).collect();
    // Every region's ListPublicKeys at once (each may retry for seconds when throttled).
    let fetched = join_all(regions.iter().map(|region| async move {
        match (&opts.public_keys, clients) {
            (Some(ring), _) => Ok(ring.clone()),
            (None, Some(c)) => list_public_keys(c, region, range).await,
            (None, None) => Err(
                "a local copy has no API to ask: pass --public-keys FILE (the output of `aws cloudtrail list-public-keys`)"
                    .to_owned(),
            ),
        }
    }))
    .await;
    for (region, ring) in regions.iter().zip(fetched) {
        if let (Ok(r), None) = (&ring, &opts.public_keys) {
            keys_info.extend(r.keys.values().map(|k| key_info(region, k)));
        }
        rings.insert((*region).clone(), ring);
    }
    if let Some(r) = &opts.public_keys {
        keys_info.extend(r.keys.values().map(|k| key_info("file", k)));
    }
    let mut tasks = tokio::task::JoinSet::new();
    let chains_limit = Arc::new(tokio::sync::Semaphore::new(4));
    // Digests being inflated at once, across the chains (what is kept after inflation is one
    // chain's window of digests per chain task, four at a time).
    let budget = Budget::new(opts.max_decompressed as u64);
    for (account, region) in pairs {
        let (store, budget) = (store.clone(), budget.clone());
        let ring = rings.get(&region).cloned().unwrap_or(Err("no keys".into()));
        // The previous run's tip is read again (listing back to it when it lies shortly
        // before this run's range) so the link between the runs is checked.
        let tip = opts.tips.get(&(account.clone(), region.clone())).cloned();
        let own_range = range;
        let range = match (range, &tip) {
            (Some((from, to)), Some(t)) if t.end < from && t.end >= from - TIP_LOOKBACK_S => {
                Some((t.end, to))
            }
            _ => range,
        };
        let plan: Vec<Planned> = layout
            .plan(
                std::slice::from_ref(&(account.clone(), region.clone())),
                ObjectKind::Digest.service(),
                range.map(|(from, to)| {
                    from.div_euclid(crate::time::DAY)..=to.div_euclid(crate::time::DAY)
                }),
            )
            .collect();
        let opts = opts.clone();
        let limit = chains_limit.clone();
        tasks.spawn(async move {
            let _permit = limit.acquire_owned().await;
            let read = read_chain(&store, &plan, &account, &region, range, &opts, &budget).await?;
            let window = opts.window.or_observed(|| {
                let s = read.iter().map(|r| r.stamp - 3_600).min().unwrap_or(0);
                let e = read.iter().map(|r| r.stamp).max().unwrap_or(0);
                (s, e)
            });
            let keys = ring.as_ref().map_err(String::as_str);
            let ctx = ChainContext {
                account: &account,
                region: &region,
                window,
                keys,
                due_until: opts.now - DUE_AFTER_S,
            };
            // A few RSA verifications per hour of digests: cheap enough to run inline.
            // Digests of the run's own range (the tip read again before it is not one).
            let own = read
                .iter()
                .filter(|r| own_range.is_none_or(|(from, to)| r.stamp >= from && r.stamp <= to))
                .count();
            let mut chain = check_chain(&ctx, read);
            let broken = tip
                .as_ref()
                .and_then(|t| chain.link_to_tip(t, range.unwrap_or((i64::MIN, i64::MAX)), window));
            let broken = broken.map(|h| {
                Gap::new(
                    &account,
                    &region,
                    GapKind::NoDigest,
                    (h.start, h.end),
                    h.detail,
                )
            });
            Ok::<_, Error>((chain, window, own, broken))
        });
    }
    let mut chains = Vec::new();
    let mut window = opts.window.bounds();
    let mut found = 0;
    let mut broken_links = Vec::new();
    while let Some(done) = tasks.join_next().await {
        let (chain, w, own, broken) = done.expect("digest task panicked")?;
        window.get_or_insert(w);
        chains.push(chain);
        found += own;
        broken_links.extend(broken);
    }
    chains.sort_by(|a, b| (&a.account_id, &a.region).cmp(&(&b.account_id, &b.region)));
    let mut notes = Vec::new();
    let unverifiable: Vec<String> = rings
        .iter()
        .filter_map(|(r, k)| k.as_ref().err().map(|e| format!("{r}: {e}")))
        .collect();
    let in_use = match opts.mode {
        DigestMode::Off => false,
        DigestMode::Require => true,
        DigestMode::On if found == 0 => {
            notes.push("no digest files found: log file validation looks off; judged from the log files alone (--digests require makes this a gap)".into());
            false
        }
        DigestMode::On if !unverifiable.is_empty() => {
            notes.push(format!(
                "digests found but not verifiable ({}); judged from the log files alone (--digests require makes this unknown)",
                unverifiable.join("; ")
            ));
            false
        }
        DigestMode::On => true,
    };
    if in_use && !unverifiable.is_empty() {
        notes.push(format!("no public keys for: {}", unverifiable.join("; ")));
    }
    let index = if in_use {
        DigestIndex::build(store.bucket(), &chains)
    } else {
        DigestIndex::default()
    };
    if !in_use && !broken_links.is_empty() {
        notes.push(format!(
            "{} chain tip(s) the previous run verified are gone: reported as no_digest",
            broken_links.len()
        ));
    }
    Ok(Integrity {
        mode: opts.mode,
        in_use,
        broken_links,
        window: window.unwrap_or((0, 0)),
        chains,
        keys: keys_info,
        notes,
        index: Arc::new(index),
    })
}

fn key_info(source: &str, k: &PublicKey) -> KeyInfo {
    KeyInfo {
        source: source.to_owned(),
        fingerprint: k.fingerprint.clone(),
        encoding: k.encoding,
        valid_from: k.valid_from.map(rfc3339),
        valid_until: k.valid_until.map(rfc3339),
    }
}

/// Lists and reads one (account, region)'s digests with stamps in `range`.
#[allow(clippy::too_many_arguments)]
async fn read_chain(
    store: &Store,
    plan: &[Planned],
    account: &str,
    region: &str,
    range: Option<(i64, i64)>,
    opts: &IntegrityOptions,
    budget: &Arc<Budget>,
) -> Result<Vec<ReadDigest>> {
    let mut keys = Vec::new();
    for p in plan {
        let listed = store.list_keys(&p.prefix).await.map_err(|e| {
            Error::new(
                ErrorKind::Aws,
                format!("cannot list digests under {}: {e}", p.prefix),
            )
        })?;
        for key in listed {
            let Ok(k) = parse_key(&key) else { continue };
            if k.kind != ObjectKind::Digest || k.account != account || k.region != region {
                continue;
            }
            if opts
                .trail
                .as_deref()
                .is_some_and(|t| k.trail_name != Some(t))
            {
                continue;
            }
            if range.is_some_and(|(from, to)| k.delivered_at < from || k.delivered_at > to) {
                continue;
            }
            keys.push((key.clone(), k.delivered_at, k.backfill));
        }
    }
    Ok(read_all(store, keys, opts, budget).await)
}

/// Reads the digests, a few at a time.
async fn read_all(
    store: &Store,
    keys: Vec<(String, i64, bool)>,
    opts: &IntegrityOptions,
    budget: &Arc<Budget>,
) -> Vec<ReadDigest> {
    let bucket = store.bucket().to_owned();
    let mut out = Vec::with_capacity(keys.len());
    for batch in keys.chunks(DIGEST_READS) {
        let reads = batch
            .iter()
            .map(|(key, _, _)| read_digest(store, key, opts, budget));
        let results = join_all(reads).await;
        for ((key, stamp, backfill), content) in batch.iter().zip(results) {
            out.push(ReadDigest {
                bucket: bucket.clone(),
                key: key.clone(),
                stamp: *stamp,
                backfill: *backfill,
                content,
            });
        }
    }
    out
}

/// Polls futures concurrently on the current task (no spawning, so they may borrow).
async fn join_all<F: std::future::Future>(futures: impl Iterator<Item = F>) -> Vec<F::Output> {
    let mut futs: Vec<std::pin::Pin<Box<F>>> = futures.map(Box::pin).collect();
    let mut out: Vec<Option<F::Output>> = futs.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut all = true;
        for (f, slot) in futs.iter_mut().zip(out.iter_mut()) {
            if slot.is_none() {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => *slot = Some(v),
                    std::task::Poll::Pending => all = false,
                }
            }
        }
        if all {
            std::task::Poll::Ready(())
        } else {
            std::task::Poll::Pending
        }
    })
    .await;
    out.into_iter()
        .map(|o| o.expect("polled to completion"))
        .collect()
}

/// `ListPublicKeys` in `region` for the keys that may have signed digests in `range`.
async fn list_public_keys(
    clients: &CheckClients,
    region: &str,
    range: Option<(i64, i64)>,
) -> std::result::Result<KeyRing, String> {
    let ct = clients.cloudtrail(region);
    let mut ring = KeyRing::default();
    let mut token: Option<String> = None;
    loop {
        let mut req = ct.list_public_keys();
        if let Some((from, to)) = range {
            req = req
                .start_time(aws_smithy_types::DateTime::from_secs(from))
                .end_time(aws_smithy_types::DateTime::from_secs(to + 3_600));
        }
        if let Some(t) = &token {
            req = req.next_token(t);
        }
        let out = req.send().await.map_err(|e| {
            ApiFailure::from_sdk("cloudtrail:ListPublicKeys", Some(region), &e).summary()
        })?;
        for k in out.public_key_list() {
            let Some(der) = k.value() else { continue };
            match PublicKey::from_der(
                der.as_ref(),
                k.fingerprint(),
                k.validity_start_time().map(|t| t.secs()),
                k.validity_end_time().map(|t| t.secs()),
            ) {
                Ok(key) => ring.insert(key),
                Err(e) => {
                    tracing::warn!(region, error = %e, "Rejected a public key from ListPublicKeys.")
                }
            }
        }
        token = out.next_token().map(str::to_owned);
        if token.is_none() {
            break;
        }
    }
    if ring.keys.is_empty() {
        return Err(format!(
            "cloudtrail:ListPublicKeys in {region} returned no usable key"
        ));
    }
    Ok(ring)
}

/// Good digests whose signature was their successor's copy (offline).
fn via_successor(digests: &[digest::CheckedDigest]) -> usize {
    digests
        .iter()
        .filter(|d| d.status.is_good() && d.signature_source == Some("successor"))
        .count()
}

/// A run of consecutive hours with one status.
#[derive(Debug, Clone, Serialize)]
pub struct HourRun {
    pub start: String,
    pub end: String,
    pub status: Status,
}

/// A digest that is not valid, and why.
#[derive(Debug, Clone, Serialize)]
pub struct DigestProblem {
    pub key: String,
    pub backfill: bool,
    pub status: Status,
    pub problems: Vec<String>,
}

/// One chain in the summary.
#[derive(Debug, Clone, Serialize)]
pub struct RegionDigests {
    pub account_id: String,
    pub region: String,
    pub digests: usize,
    /// Digests whose signature came from their successor's `previousDigestSignature`: an
    /// offline copy without object metadata, verified one link removed.
    pub verified_via_successor: usize,
    /// Per-hour status of the window, run-length encoded.
    pub hours: Vec<HourRun>,
    pub problems: Vec<DigestProblem>,
}

/// The digest part of `summary.json` and of `validate`'s report.
#[derive(Debug, Clone, Serialize)]
pub struct DigestSummary {
    pub mode: DigestMode,
    /// Whether digests took part in the verdict.
    pub in_use: bool,
    pub digests_found: usize,
    pub backfill_digests: usize,
    pub digests_by_status: BTreeMap<&'static str, usize>,
    /// Digests verified through their successor's copy of the signature (offline copies).
    pub verified_via_successor: usize,
    pub hours_by_status: BTreeMap<&'static str, usize>,
    pub keys: Vec<KeyInfo>,
    pub notes: Vec<String>,
    pub regions: Vec<RegionDigests>,
}

impl Integrity {
    pub fn summary(&self) -> DigestSummary {
        let mut digests_by_status = BTreeMap::new();
        let mut hours_by_status = BTreeMap::new();
        let mut regions = Vec::new();
        for c in &self.chains {
            for d in &c.digests {
                *digests_by_status.entry(d.status.as_str()).or_default() += 1;
            }
            let mut hours: Vec<HourRun> = Vec::new();
            for (h, s) in hour_statuses(c, self.window) {
                *hours_by_status.entry(s.as_str()).or_default() += 1;
                match hours.last_mut() {
                    Some(run) if run.status == s => run.end = rfc3339(h + 3_600),
                    _ => hours.push(HourRun {
                        start: rfc3339(h),
                        end: rfc3339(h + 3_600),
                        status: s,
                    }),
                }
            }
            regions.push(RegionDigests {
                account_id: c.account_id.clone(),
                region: c.region.clone(),
                digests: c.digests.len(),
                verified_via_successor: via_successor(&c.digests),
                hours,
                problems: c
                    .digests
                    .iter()
                    .filter(|d| !d.status.is_good())
                    .map(|d| DigestProblem {
                        key: d.key.clone(),
                        backfill: d.backfill,
                        status: d.status,
                        problems: d.problems.clone(),
                    })
                    .collect(),
            });
        }
        DigestSummary {
            mode: self.mode,
            in_use: self.in_use,
            digests_found: self.found(),
            verified_via_successor: self.chains.iter().map(|c| via_successor(&c.digests)).sum(),
            backfill_digests: self
                .chains
                .iter()
                .flat_map(|c| &c.digests)
                .filter(|d| d.backfill)
                .count(),
            digests_by_status,
            hours_by_status,
            keys: self.keys.clone(),
            notes: self.notes.clone(),
            regions,
        }
    }
}
