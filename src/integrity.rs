//! Reading digest chains from a bucket or a local copy, getting the public keys, and turning
//! the checked chains into coverage evidence: gap rows, attested hours and the index the scan
//! workers check each log file against.
//!
//! One chain per (account, source region), read in parallel with bounded concurrency; a
//! chain's objects are dropped once it is checked, so memory holds one chain's digests per
//! task plus about 200 bytes per listed log file.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Serialize;

use crate::aws::{ApiFailure, CheckClients};
use crate::coverage::{Category, Gap, GapKind};
use crate::decode::Decoder;
use crate::digest::{
    Chain, ChainContext, DigestContent, DigestIndex, KeyRing, PublicKey, ReadDigest, ReadFailure,
    Status, check_chain, hour_statuses,
};
use crate::error::{Error, ErrorKind, Result};
use crate::layout::{ObjectKind, aws_logs_root, day_prefix, parse_key};
use crate::scan::Source;
use crate::time::rfc3339;

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
#[derive(Debug, Clone, Default)]
pub struct IntegrityOptions {
    pub mode: DigestMode,
    /// `[since, until)`; `None` reads every digest.
    pub window: Option<(i64, i64)>,
    pub accounts: Option<Vec<String>>,
    pub regions: Option<Vec<String>>,
    pub org_id: Option<String>,
    /// Only this trail's digests (the name in digest file names).
    pub trail: Option<String>,
    /// Keys given offline (`--public-keys FILE`), for every region.
    pub public_keys: Option<KeyRing>,
    /// How much later than `until` log files of the window may be delivered.
    pub delivery_grace_s: i64,
    /// Current time: digests not due by now are pending, not missing.
    pub now: i64,
    /// Cap on a digest's decompressed size.
    pub max_decompressed: usize,
}

/// One public key used, for the report.
#[derive(Debug, Clone, Serialize)]
pub struct KeyInfo {
    /// The region whose `ListPublicKeys` returned it, or `file`.
    pub source: String,
    pub fingerprint: String,
    pub encoding: crate::digest::KeyEncoding,
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
}

const DUE_AFTER_S: i64 = 75 * 60;

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
            return out;
        }
        let (ws, we) = self.window;
        for c in &self.chains {
            let row = |kind, start: i64, end: i64, detail: String| Gap {
                account_id: c.account_id.clone(),
                region: c.region.clone(),
                category: Category::Integrity,
                kind,
                start: start.max(ws),
                end: end.min(we),
                detail,
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
            out.push(Gap {
                account_id: k.account.to_owned(),
                region: k.region.to_owned(),
                category: Category::Integrity,
                kind: GapKind::LogMissing,
                start: k.delivered_at - 3_600,
                end: k.delivered_at,
                detail: format!("{key}: listed in {}, not in the bucket", l.digest_key),
            });
        }
        out.sort_by(|a, b| (&a.region, a.end, &a.detail).cmp(&(&b.region, b.end, &b.detail)));
        out
    }
}

/// Where digests are read from.
enum Store<'a> {
    S3 {
        s3: &'a aws_sdk_s3::Client,
        bucket: &'a str,
    },
    Local(&'a Path),
}

impl Store<'_> {
    async fn list_dirs(&self, prefix: &str) -> std::result::Result<Vec<String>, String> {
        match self {
            Store::S3 { s3, bucket } => crate::scan::list_dirs(s3, bucket, prefix)
                .await
                .map_err(|f| f.summary()),
            Store::Local(root) => match std::fs::read_dir(root.join(prefix)) {
                Ok(rd) => Ok(rd
                    .filter_map(|e| e.ok())
                    .filter(|e| e.path().is_dir())
                    .filter_map(|e| e.file_name().into_string().ok())
                    .collect()),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
                Err(e) => Err(format!("{}: {e}", root.join(prefix).display())),
            },
        }
    }

    /// Every key under `prefix`.
    async fn list(&self, prefix: &str) -> std::result::Result<Vec<String>, String> {
        match self {
            Store::S3 { s3, bucket } => {
                let mut out = Vec::new();
                let mut pages = s3
                    .list_objects_v2()
                    .bucket(*bucket)
                    .prefix(prefix)
                    .into_paginator()
                    .send();
                while let Some(page) = pages.next().await {
                    let page = page
                        .map_err(|e| ApiFailure::from_sdk("s3:ListBucket", None, &e).summary())?;
                    out.extend(
                        page.contents()
                            .iter()
                            .filter_map(|o| o.key().map(str::to_owned)),
                    );
                }
                Ok(out)
            }
            Store::Local(root) => {
                let mut out = Vec::new();
                walk(root, &root.join(prefix), 0, &mut out)?;
                out.sort();
                Ok(out)
            }
        }
    }

    fn bucket(&self) -> &str {
        match self {
            Store::S3 { bucket, .. } => bucket,
            // A local copy: where the digest says it was is all there is to go by.
            Store::Local(_) => "",
        }
    }

    async fn read(&self, key: &str, max: usize) -> std::result::Result<DigestContent, ReadFailure> {
        let has_metadata = matches!(self, Store::S3 { .. });
        let (raw, meta) = match self {
            Store::S3 { s3, bucket } => crate::scan::fetch_object(s3, bucket, key)
                .await
                .map(|(b, m)| (b.to_vec(), m))
                .map_err(|(status, error)| ReadFailure {
                    status: status.into(),
                    error,
                })?,
            Store::Local(root) => {
                let path = root.join(key);
                let raw = std::fs::read(&path).map_err(|e| ReadFailure {
                    status: if e.kind() == std::io::ErrorKind::PermissionDenied {
                        "access_denied".into()
                    } else {
                        "not_found".into()
                    },
                    error: format!("{}: {e}", path.display()),
                })?;
                (raw, Default::default())
            }
        };
        let mut d = Decoder::new(max);
        d.inflate(&raw, true).map_err(|e| ReadFailure {
            status: e.code.as_str().into(),
            error: e.message,
        })?;
        Ok(DigestContent {
            inflated: d.decompressed().to_vec(),
            signature: meta.get("signature").cloned(),
            signature_algorithm: meta.get("signature-algorithm").cloned(),
            backfill_generated: meta.get("backfill-generation-timestamp").cloned(),
            has_metadata,
        })
    }
}

fn walk(
    root: &Path,
    dir: &Path,
    depth: u32,
    out: &mut Vec<String>,
) -> std::result::Result<(), String> {
    let rd = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(format!("{}: {e}", dir.display())),
    };
    for e in rd {
        let path = e.map_err(|e| format!("{}: {e}", dir.display()))?.path();
        if path.is_dir() {
            if depth < 8 {
                walk(root, &path, depth + 1, out)?;
            }
        } else if let Ok(rel) = path.strip_prefix(root) {
            out.push(
                rel.components()
                    .map(|c| c.as_os_str().to_string_lossy())
                    .collect::<Vec<_>>()
                    .join("/"),
            );
        }
    }
    Ok(())
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
    let (store, prefix) = match source {
        Source::S3 { bucket, prefix } => (
            Store::S3 {
                s3: s3.ok_or_else(|| Error::usage("an S3 source needs AWS settings"))?,
                bucket,
            },
            prefix.clone(),
        ),
        Source::Local(root) => (Store::Local(root), None),
    };
    let fail = |what: &str, e: String| {
        Error::new(
            ErrorKind::Aws,
            format!("cannot list digests in {source} (under {what}): {e}"),
        )
    };
    let base = aws_logs_root(prefix.as_deref(), None);
    let org = match &opts.org_id {
        Some(o) => Some(o.clone()),
        None => store
            .list_dirs(&base)
            .await
            .map_err(|e| fail(&base, e))?
            .into_iter()
            .find(|d| d.starts_with("o-")),
    };
    let root = aws_logs_root(prefix.as_deref(), org.as_deref());
    let accounts = match &opts.accounts {
        Some(a) => a.clone(),
        None => store
            .list_dirs(&root)
            .await
            .map_err(|e| fail(&root, e))?
            .into_iter()
            .filter(|d| d.len() == 12 && d.bytes().all(|b| b.is_ascii_digit()))
            .collect(),
    };
    let mut pairs = Vec::new();
    for a in &accounts {
        let regions = match &opts.regions {
            Some(r) => r.clone(),
            None => {
                let p = format!("{root}{a}/CloudTrail-Digest/");
                store.list_dirs(&p).await.map_err(|e| fail(&p, e))?
            }
        };
        pairs.extend(regions.into_iter().map(|r| (a.clone(), r)));
    }
    // Digest stamps to read: from an hour before the window (the first digest's predecessor)
    // to an hour after the last log file the scan reads.
    let range = opts
        .window
        .map(|(s, u)| (s - 2 * 3_600, u + opts.delivery_grace_s + 3_600 + 600));
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
    let store = Arc::new(store_owned(source, s3));
    let mut tasks = tokio::task::JoinSet::new();
    let chains_limit = Arc::new(tokio::sync::Semaphore::new(4));
    for (account, region) in pairs {
        let store = store.clone();
        let ring = rings.get(&region).cloned().unwrap_or(Err("no keys".into()));
        let (prefix, org) = (prefix.clone(), org.clone());
        let opts = opts.clone();
        let limit = chains_limit.clone();
        tasks.spawn(async move {
            let _permit = limit.acquire_owned().await;
            let store = store.as_store();
            let read = read_chain(
                &store,
                prefix.as_deref(),
                org.as_deref(),
                &account,
                &region,
                range,
                &opts,
            )
            .await?;
            let window = opts.window.unwrap_or_else(|| {
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
            let chain = check_chain(&ctx, read);
            Ok::<_, Error>((chain, window))
        });
    }
    let mut chains = Vec::new();
    let mut window = opts.window;
    while let Some(done) = tasks.join_next().await {
        let (chain, w) = done.expect("digest task panicked")?;
        window.get_or_insert(w);
        chains.push(chain);
    }
    chains.sort_by(|a, b| (&a.account_id, &a.region).cmp(&(&b.account_id, &b.region)));
    let mut notes = Vec::new();
    let found: usize = chains.iter().map(|c| c.digests.len()).sum();
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
    let bucket = match source {
        Source::S3 { bucket, .. } => bucket.clone(),
        Source::Local(_) => String::new(),
    };
    let index = if in_use {
        DigestIndex::build(&bucket, &chains)
    } else {
        DigestIndex::default()
    };
    Ok(Integrity {
        mode: opts.mode,
        in_use,
        window: window.unwrap_or((0, 0)),
        chains,
        keys: keys_info,
        notes,
        index: Arc::new(index),
    })
}

/// An owned handle the chain tasks share.
enum OwnedStore {
    S3 {
        s3: aws_sdk_s3::Client,
        bucket: String,
    },
    Local(PathBuf),
}

impl OwnedStore {
    fn as_store(&self) -> Store<'_> {
        match self {
            OwnedStore::S3 { s3, bucket } => Store::S3 { s3, bucket },
            OwnedStore::Local(p) => Store::Local(p),
        }
    }
}

fn store_owned(source: &Source, s3: Option<&aws_sdk_s3::Client>) -> OwnedStore {
    match (source, s3) {
        (Source::S3 { bucket, .. }, Some(s3)) => OwnedStore::S3 {
            s3: s3.clone(),
            bucket: bucket.clone(),
        },
        (Source::Local(p), _) => OwnedStore::Local(p.clone()),
        (Source::S3 { .. }, None) => unreachable!("checked in collect"),
    }
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
async fn read_chain(
    store: &Store<'_>,
    prefix: Option<&str>,
    org: Option<&str>,
    account: &str,
    region: &str,
    range: Option<(i64, i64)>,
    opts: &IntegrityOptions,
) -> Result<Vec<ReadDigest>> {
    let prefixes: Vec<String> = match range {
        Some((from, to)) => (from.div_euclid(86_400)..=to.div_euclid(86_400))
            .map(|day| day_prefix(prefix, org, account, "CloudTrail-Digest", region, day))
            .collect(),
        None => vec![format!(
            "{}{account}/CloudTrail-Digest/{region}/",
            aws_logs_root(prefix, org)
        )],
    };
    let mut keys = Vec::new();
    for p in &prefixes {
        let listed = store.list(p).await.map_err(|e| {
            Error::new(
                ErrorKind::Aws,
                format!("cannot list digests under {p}: {e}"),
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
    Ok(read_all(store, keys, opts.max_decompressed).await)
}

/// Reads the digests, eight at a time.
async fn read_all(
    store: &Store<'_>,
    keys: Vec<(String, i64, bool)>,
    max: usize,
) -> Vec<ReadDigest> {
    let bucket = store.bucket().to_owned();
    let mut out = Vec::with_capacity(keys.len());
    for batch in keys.chunks(8) {
        let reads = batch.iter().map(|(key, _, _)| store.read(key, max));
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

fn counts<K: std::fmt::Display>(m: &BTreeMap<K, usize>) -> String {
    m.iter()
        .map(|(k, v)| format!("{v} {k}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The digest lines of the text summaries.
pub fn write_digest_text(out: &mut dyn std::io::Write, d: &DigestSummary) -> std::io::Result<()> {
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
    for n in &d.notes {
        writeln!(out, "          note: {n}")?;
    }
    Ok(())
}

pub const VALIDATE_SCHEMA: &str = "trailproof.validate/v1";

/// `validate.json` and `validate --format json`.
#[derive(Serialize)]
pub struct ValidateReport<'a> {
    schema: &'static str,
    tool: serde_json::Value,
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
    findings: Vec<crate::evidence::GapJson<'a>>,
    outputs: &'a [crate::scan::OutputFile],
}

impl<'a> ValidateReport<'a> {
    pub fn new(o: &'a crate::scan::ScanOutcome, i: &Integrity) -> Self {
        let mut by_kind = BTreeMap::new();
        for g in &o.gaps {
            *by_kind.entry(g.kind.as_str()).or_default() += 1;
        }
        let valid = o.gaps.is_empty();
        ValidateReport {
            schema: VALIDATE_SCHEMA,
            tool: serde_json::json!({"name": "trailproof", "version": env!("CARGO_PKG_VERSION")}),
            generated_at: rfc3339(crate::time::now_secs()),
            source: &o.source,
            window_start: &o.window_start,
            window_end: &o.window_end,
            result: if valid { "VALID" } else { "INVALID" },
            exit_code: if valid { 0 } else { 1 },
            digests: i.summary(),
            log_files: &o.stats.log_files_by_digest_status,
            log_files_unreadable: o.stats.log_files_unreadable,
            findings_by_kind: by_kind,
            findings: o.gaps.iter().map(crate::evidence::gap_json).collect(),
            outputs: &o.outputs,
        }
    }

    pub fn write(&self, dir: &Path) -> Result<()> {
        let path = dir.join("validate.json");
        let mut body = serde_json::to_vec_pretty(self)
            .map_err(|e| Error::with_source(ErrorKind::Output, "cannot encode validate.json", e))?;
        body.push(b'\n');
        std::fs::write(&path, body).map_err(|e| {
            Error::with_source(ErrorKind::Io, format!("cannot write {}", path.display()), e)
        })
    }
}

/// The human report of `validate`.
pub fn write_validate_text(
    out: &mut dyn std::io::Write,
    r: &ValidateReport<'_>,
    dir: &Path,
) -> std::io::Result<()> {
    writeln!(
        out,
        "Digest validation: {}  ({} finding{})\n",
        r.result,
        r.findings.len(),
        if r.findings.len() == 1 { "" } else { "s" }
    )?;
    writeln!(out, "Source    {}", r.source)?;
    writeln!(out, "Window    {} .. {}", r.window_start, r.window_end)?;
    write_digest_text(out, &r.digests)?;
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
            let n = (crate::decode::parse_event_time(&run.end).unwrap_or(0)
                - crate::decode::parse_event_time(&run.start).unwrap_or(0))
                / 3_600;
            *by.entry(run.status.as_str()).or_insert(0usize) += n as usize;
        }
        writeln!(
            out,
            "  {:<12}  {:<15}  {:>7}  {}",
            reg.account_id,
            reg.region,
            reg.digests,
            counts(&by)
        )?;
    }
    if !r.findings.is_empty() {
        writeln!(
            out,
            "\nFindings{}",
            if r.findings.len() > 30 {
                format!(" (first 30 of {}; all in gaps.parquet)", r.findings.len())
            } else {
                String::new()
            }
        )?;
        for g in r.findings.iter().take(30) {
            writeln!(
                out,
                "  {} {} {} {} .. {}  {}",
                g.account_id, g.region, g.kind, g.start, g.end, g.detail
            )?;
        }
    }
    writeln!(out, "\nEvidence in {}:", dir.display())?;
    for f in r.outputs {
        writeln!(
            out,
            "  {:<17} {:>9} rows  sha256 {}",
            f.name,
            f.rows.unwrap_or(0),
            f.sha256
        )?;
    }
    writeln!(out, "  validate.json")
}
