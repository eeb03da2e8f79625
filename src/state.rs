//! Incremental runs (`--state LOCATION`): where the previous run stopped, so a periodic job
//! never skips or double-counts an hour.
//!
//! The state records, for one source, the end of the last window judged, per (account,
//! region) the start of a silence still running at that end, and the tip of each digest
//! chain (the last valid digest's key, end and signature). The next run judges from that end
//! minus the delivery grace (so files delivered late are counted and their hours judged
//! again; the later run's rows for those hours supersede the earlier run's), continues each
//! silence and checks that each chain continues from its tip. See `docs/periodic.md`.
//!
//! The state is written only after the run's evidence is complete, atomically: a local file
//! is locked for the whole run (`FILE.lock`) and replaced by rename; an S3 object is replaced
//! by a conditional PUT (`If-Match` its ETag as read, `If-None-Match: *` when new), so of two
//! concurrent runs exactly one advances it and the other fails with exit code 2.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::error::{Error, ErrorKind, Result};
use crate::integrity::digest::ChainTip;
use crate::pipeline::Carried;
use crate::time::{HOUR, Window, rfc3339};

/// The `format` of a state document.
pub const FORMAT: &str = "trailproof.state/v1";

/// A state larger than this is not one (a state grows with accounts x regions, about 400 bytes
/// each).
const MAX_STATE_BYTES: u64 = 64 << 20;

/// The default of `--max-catch-up`.
pub const DEFAULT_MAX_CATCH_UP: &str = "7d";

/// Where the state lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    File(PathBuf),
    S3 { bucket: String, key: String },
}

impl Location {
    /// `s3://bucket/key` or a local path.
    pub fn parse(s: &str) -> Result<Self> {
        if let Some(rest) = s.strip_prefix("s3://") {
            return match rest.split_once('/') {
                Some((bucket, key))
                    if !bucket.is_empty() && !key.is_empty() && !key.ends_with('/') =>
                {
                    Ok(Location::S3 {
                        bucket: bucket.to_owned(),
                        key: key.to_owned(),
                    })
                }
                _ => Err(Error::usage(format!(
                    "--state {s}: give an object, s3://bucket/key"
                ))),
            };
        }
        if s.is_empty() || s.ends_with('/') {
            return Err(Error::usage(format!("--state {s:?}: give a file")));
        }
        Ok(Location::File(PathBuf::from(s)))
    }
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Location::File(p) => write!(f, "{}", p.display()),
            Location::S3 { bucket, key } => write!(f, "s3://{bucket}/{key}"),
        }
    }
}

/// `--state` and `--max-catch-up`, validated, with the window flags they are read with.
#[derive(Debug, Clone)]
pub struct Settings {
    pub location: Location,
    /// The longest span one run judges after the state's end; the rest waits for the next run.
    pub max_catch_up_s: i64,
    /// The window of a first run (no state yet): `--since`/`--until` as without a state, or
    /// why they do not make one (said only when it is needed).
    pub first: std::result::Result<Window, String>,
    /// `--until` resolved (default: now, rounded down to the hour).
    pub until: i64,
    pub delivery_grace_s: i64,
}

/// The state document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct State {
    /// [`FORMAT`].
    pub format: String,
    /// The source judged (`s3://bucket/prefix` or a directory): a state belongs to one.
    pub source: String,
    /// `--shard K/N` of the runs that write it: each shard has its own state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<String>,
    /// Every hour before this was judged by some run (RFC 3339, a whole hour).
    pub judged_until: String,
    /// Runs that advanced this state.
    pub runs: u64,
    pub updated_at: String,
    pub last_run: LastRun,
    /// Per (account, region), a silence that ran to `judged_until`, in key order.
    pub cells: Vec<CellState>,
    /// Per (account, region), the last valid digest, in key order.
    pub chain_tips: Vec<TipState>,
}

/// The run that wrote the state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LastRun {
    pub command: String,
    pub window_start: String,
    pub window_end: String,
    pub verdict: String,
    pub exit_code: u8,
    /// Where its evidence is (a directory or `s3://bucket/prefix/run=…`).
    pub evidence: String,
}

/// A silence still running at `judged_until`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CellState {
    pub account_id: String,
    pub region: String,
    pub silent_since: String,
}

/// A digest chain's tip.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TipState {
    pub account_id: String,
    pub region: String,
    pub digest_key: String,
    pub digest_end: String,
    pub signature: String,
}

fn time_of(what: &str, s: &str, at: &Location) -> Result<i64> {
    crate::time::parse_event_time(s).ok_or_else(|| {
        Error::new(
            ErrorKind::State,
            format!("the state {at} is damaged: {what} {s:?} is not a time"),
        )
    })
}

impl State {
    /// Parses and checks a state document read from `at`.
    pub fn parse(bytes: &[u8], at: &Location) -> Result<State> {
        let state: State = serde_json::from_slice(bytes).map_err(|e| {
            Error::new(
                ErrorKind::State,
                format!("the state {at} is not a trailproof state: {e}"),
            )
        })?;
        if state.format != FORMAT {
            return Err(Error::new(
                ErrorKind::State,
                format!(
                    "the state {at} has format {:?}; this trailproof reads {FORMAT}",
                    state.format
                ),
            ));
        }
        let until = time_of("judged_until", &state.judged_until, at)?;
        if until % HOUR != 0 {
            return Err(Error::new(
                ErrorKind::State,
                format!("the state {at} is damaged: judged_until is not a whole hour"),
            ));
        }
        for c in &state.cells {
            time_of("silent_since", &c.silent_since, at)?;
        }
        for t in &state.chain_tips {
            time_of("digest_end", &t.digest_end, at)?;
        }
        Ok(state)
    }

    fn judged_until_secs(&self) -> i64 {
        crate::time::parse_event_time(&self.judged_until).unwrap_or(0)
    }

    /// What the next run carries over: silences and chain tips.
    pub fn carried(&self) -> Carried {
        let key = |a: &str, r: &str| (a.to_owned(), r.to_owned());
        Carried {
            silent_since: self
                .cells
                .iter()
                .filter_map(|c| {
                    Some((
                        key(&c.account_id, &c.region),
                        crate::time::parse_event_time(&c.silent_since)?,
                    ))
                })
                .collect(),
            tips: Arc::new(
                self.chain_tips
                    .iter()
                    .filter_map(|t| {
                        Some((
                            key(&t.account_id, &t.region),
                            ChainTip {
                                key: t.digest_key.clone(),
                                end: crate::time::parse_event_time(&t.digest_end)?,
                                signature: t.signature.clone(),
                            },
                        ))
                    })
                    .collect(),
            ),
        }
    }
}

/// The window a run with `--state` judges.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub window: Window,
    /// Where the previous run ended (`None`: the state is new).
    pub previous_until: Option<i64>,
    /// How much of the asked window is left for the next run (`--max-catch-up`), seconds.
    pub behind_s: i64,
}

impl Plan {
    /// The window and the state as `summary.json` records them (`parameters.state`).
    pub fn describe(&self, at: &Location) -> serde_json::Value {
        let (start, end) = self.window.bounds().unwrap_or((0, 0));
        serde_json::json!({
            "location": at.to_string(),
            "previous_judged_until": self.previous_until.map(rfc3339),
            "window_start": rfc3339(start),
            "window_end": rfc3339(end),
            "rejudged_until": self.previous_until.filter(|p| *p > start).map(rfc3339),
            "behind_s": self.behind_s,
        })
    }

    /// The message when the run did not reach the asked end.
    pub fn behind_message(&self) -> Option<String> {
        let (_, end) = self.window.bounds()?;
        (self.behind_s > 0).then(|| {
            format!(
                "caught up only to {} (--max-catch-up): {} remain for the next run",
                rfc3339(end),
                crate::time::human_duration(self.behind_s)
            )
        })
    }
}

/// The window to judge: without a state, the asked one; with one, from where it ended minus
/// the delivery grace to `--until`, at most `--max-catch-up` past where it ended.
pub fn plan(
    previous: Option<&State>,
    settings: &Settings,
    source: &str,
    shard: Option<&str>,
    at: &Location,
) -> Result<Plan> {
    let Some(prev) = previous else {
        let window = settings.first.clone().map_err(Error::usage)?;
        if window.bounds().is_none() {
            return Err(Error::usage(
                "--state needs a window: give --since for the first run",
            ));
        }
        return Ok(Plan {
            window,
            previous_until: None,
            behind_s: 0,
        });
    };
    if prev.source != source {
        return Err(Error::new(
            ErrorKind::State,
            format!(
                "the state {at} belongs to {}, not {source}: give each source its own state",
                prev.source
            ),
        ));
    }
    if prev.shard.as_deref() != shard {
        return Err(Error::new(
            ErrorKind::State,
            format!(
                "the state {at} is shard {}'s, not {}'s: give each shard its own state",
                prev.shard.as_deref().unwrap_or("(none)"),
                shard.unwrap_or("(none)")
            ),
        ));
    }
    let judged = prev.judged_until_secs();
    let asked_until = settings.until;
    if asked_until < judged {
        return Err(Error::usage(format!(
            "--until {} is before where the state {at} stands ({}): nothing to judge",
            rfc3339(asked_until),
            prev.judged_until
        )));
    }
    let grace = settings.delivery_grace_s;
    let start = (judged - grace).div_euclid(HOUR) * HOUR;
    let cap = judged + (settings.max_catch_up_s.div_euclid(HOUR) * HOUR).max(HOUR);
    let until = asked_until.min(cap);
    if until <= start {
        return Err(Error::usage(format!(
            "nothing to judge: the state {at} stands at {} and the window ends there",
            prev.judged_until
        )));
    }
    Ok(Plan {
        window: Window::new(start, until, grace),
        previous_until: Some(judged),
        behind_s: asked_until - until,
    })
}

/// What a run leaves for the next one.
pub struct Next<'a> {
    pub source: String,
    pub shard: Option<String>,
    pub window: (i64, i64),
    pub results: &'a [crate::coverage::RegionResult],
    pub chains: &'a [crate::integrity::digest::Chain],
    pub last_run: LastRun,
}

/// The state after a run: `previous` advanced by what the run judged.
pub fn advance(previous: Option<&State>, next: Next<'_>) -> State {
    let mut tips: BTreeMap<(String, String), TipState> = previous
        .map(|p| {
            p.chain_tips
                .iter()
                .map(|t| ((t.account_id.clone(), t.region.clone()), t.clone()))
                .collect()
        })
        .unwrap_or_default();
    for c in next.chains {
        if let Some(t) = c.tip() {
            let key = (c.account_id.clone(), c.region.clone());
            // Only forward: a run that re-judged older hours never moves a tip back.
            let newer = tips
                .get(&key)
                .and_then(|old| crate::time::parse_event_time(&old.digest_end))
                .is_none_or(|old_end| t.end >= old_end);
            if newer {
                tips.insert(
                    key,
                    TipState {
                        account_id: c.account_id.clone(),
                        region: c.region.clone(),
                        digest_key: t.key,
                        digest_end: rfc3339(t.end),
                        signature: t.signature,
                    },
                );
            }
        }
    }
    let mut cells: Vec<CellState> = next
        .results
        .iter()
        .filter_map(|r| {
            Some(CellState {
                account_id: r.account_id.clone(),
                region: r.region.clone(),
                silent_since: rfc3339(r.silent_since?),
            })
        })
        .collect();
    cells.sort_by(|a, b| (&a.account_id, &a.region).cmp(&(&b.account_id, &b.region)));
    let judged = previous
        .map(|p| p.judged_until_secs())
        .unwrap_or(i64::MIN)
        .max(next.window.1);
    State {
        format: FORMAT.to_owned(),
        source: next.source,
        shard: next.shard,
        judged_until: rfc3339(judged),
        runs: previous.map_or(0, |p| p.runs) + 1,
        updated_at: rfc3339(crate::time::now_secs()),
        last_run: next.last_run,
        cells,
        chain_tips: tips.into_values().collect(),
    }
}

/// A state opened for one run: read, and (a local file) locked until the run ends.
pub struct Held {
    pub location: Location,
    pub previous: Option<State>,
    version: Version,
}

enum Version {
    /// The lock, held until dropped; the bytes read (None: no file yet).
    File {
        _lock: std::fs::File,
        read: Option<Vec<u8>>,
    },
    /// The ETag read (None: no object yet), and the client to write with.
    S3 {
        etag: Option<String>,
        client: aws_sdk_s3::Client,
    },
}

impl std::fmt::Debug for Held {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Held({})", self.location)
    }
}

fn io_error(at: &Location, what: &str, e: std::io::Error) -> Error {
    Error::with_source(ErrorKind::State, format!("the state {at}: {what}"), e)
}

/// Opens the state: locks a local file (failing at once when another run holds it) and reads
/// it; reads an S3 object and its ETag.
pub async fn open(location: Location, aws: &crate::aws::AwsSettings) -> Result<Held> {
    match &location {
        Location::File(path) => {
            let (lock, read) = open_file(path, &location)?;
            let previous = read
                .as_deref()
                .map(|b| State::parse(b, &location))
                .transpose()?;
            Ok(Held {
                previous,
                version: Version::File { _lock: lock, read },
                location,
            })
        }
        Location::S3 { bucket, key } => {
            let sdk = crate::aws::sdk_config(aws).await;
            let client = crate::aws::s3_client_for_bucket(&sdk, bucket).await;
            let (bytes, etag) = read_s3(&client, bucket, key, &location).await?;
            let previous = bytes
                .as_deref()
                .map(|b| State::parse(b, &location))
                .transpose()?;
            Ok(Held {
                previous,
                version: Version::S3 { etag, client },
                location,
            })
        }
    }
}

fn lock_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".lock");
    path.with_file_name(name)
}

fn open_file(path: &Path, at: &Location) -> Result<(std::fs::File, Option<Vec<u8>>)> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|e| io_error(at, "cannot create its folder", e))?;
    }
    let lock_at = lock_path(path);
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_at)
        .map_err(|e| io_error(at, &format!("cannot open {}", lock_at.display()), e))?;
    match lock.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            return Err(Error::new(
                ErrorKind::State,
                format!(
                    "the state {at} is in use by another run (it holds {}): this run stops without judging anything",
                    lock_at.display()
                ),
            ));
        }
        Err(std::fs::TryLockError::Error(e)) => {
            return Err(io_error(
                at,
                &format!("cannot lock {}", lock_at.display()),
                e,
            ));
        }
    }
    // Under the lock: a temporary file a killed run left beside the state is removed.
    if let (Some(dir), Some(name)) = (lock_at.parent(), path.file_name()) {
        let mut stale = std::ffi::OsString::from(".");
        stale.push(name);
        stale.push(".tmp-");
        let stale = stale.to_string_lossy().into_owned();
        let dir = if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir
        };
        if let Ok(entries) = std::fs::read_dir(dir) {
            for e in entries.flatten() {
                if e.file_name().to_string_lossy().starts_with(&stale) {
                    std::fs::remove_file(e.path()).ok();
                }
            }
        }
    }
    let read = match std::fs::metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(io_error(at, "cannot read it", e)),
        Ok(m) if m.len() > MAX_STATE_BYTES => {
            return Err(Error::new(
                ErrorKind::State,
                format!(
                    "the state {at} is {} bytes: not a trailproof state",
                    m.len()
                ),
            ));
        }
        Ok(_) => Some(std::fs::read(path).map_err(|e| io_error(at, "cannot read it", e))?),
    };
    Ok((lock, read))
}

async fn read_s3(
    client: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
    at: &Location,
) -> Result<(Option<Vec<u8>>, Option<String>)> {
    let got = client.get_object().bucket(bucket).key(key).send().await;
    let out = match got {
        Ok(o) => o,
        Err(e) => {
            let failure = crate::aws::ApiFailure::from_sdk("s3:GetObject", None, &e);
            if failure.code.as_deref() == Some("NoSuchKey") {
                return Ok((None, None));
            }
            return Err(Error::new(
                ErrorKind::State,
                format!("cannot read the state {at}: {}", failure.summary()),
            ));
        }
    };
    if out.content_length().unwrap_or(0) as u64 > MAX_STATE_BYTES {
        return Err(Error::new(
            ErrorKind::State,
            format!("the state {at} is larger than a trailproof state"),
        ));
    }
    let etag = out.e_tag().map(str::to_owned);
    let bytes = out
        .body
        .collect()
        .await
        .map_err(|e| {
            Error::with_source(ErrorKind::State, format!("cannot read the state {at}"), e)
        })?
        .into_bytes()
        .to_vec();
    Ok((Some(bytes), etag))
}

impl Held {
    /// Replaces the state with `next`, only if it is still what this run read.
    pub async fn advance(self, next: &State) -> Result<()> {
        let at = &self.location;
        let mut body = serde_json::to_vec_pretty(next)
            .map_err(|e| Error::with_source(ErrorKind::State, "cannot encode the state", e))?;
        body.push(b'\n');
        match (self.version, at) {
            (Version::File { _lock, read }, Location::File(path)) => {
                let now = match std::fs::read(path) {
                    Ok(b) => Some(b),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
                    Err(e) => return Err(io_error(at, "cannot read it again", e)),
                };
                if now != read {
                    return Err(changed(at));
                }
                write_file(path, &body, at)
                // The lock is released here, after the rename.
            }
            (Version::S3 { etag, client }, Location::S3 { bucket, key }) => {
                let mut put = client
                    .put_object()
                    .bucket(bucket)
                    .key(key)
                    .content_type("application/json")
                    .checksum_algorithm(aws_sdk_s3::types::ChecksumAlgorithm::Sha256)
                    .body(body.clone().into());
                put = match etag {
                    Some(e) => put.if_match(e),
                    None => put.if_none_match("*"),
                };
                match put.send().await {
                    Ok(_) => Ok(()),
                    Err(e) => {
                        let status = e.raw_response().map(|r| r.status().as_u16());
                        let failure = crate::aws::ApiFailure::from_sdk("s3:PutObject", None, &e);
                        if matches!(status, Some(412) | Some(409))
                            || matches!(
                                failure.code.as_deref(),
                                Some("PreconditionFailed") | Some("ConditionalRequestConflict")
                            )
                        {
                            // A retried PUT that had in fact succeeded meets its own write:
                            // the object then holds exactly this run's state.
                            match read_s3(&client, bucket, key, at).await {
                                Ok((Some(now), _)) if now == body => Ok(()),
                                _ => Err(changed(at)),
                            }
                        } else {
                            Err(Error::new(
                                ErrorKind::State,
                                format!("cannot write the state {at}: {}", failure.summary()),
                            ))
                        }
                    }
                }
            }
            _ => unreachable!("a state's version matches its location"),
        }
    }
}

fn changed(at: &Location) -> Error {
    Error::new(
        ErrorKind::State,
        format!(
            "the state {at} was advanced by another run while this one ran: this run's evidence is complete, but the state stays where the other run left it"
        ),
    )
}

/// Writes `body` beside `path`, syncs it and renames it into place.
fn write_file(path: &Path, body: &[u8], at: &Location) -> Result<()> {
    crate::atomic::write(path, body).map_err(|e| io_error(at, "cannot write it", e))
}

#[cfg(test)]
mod tests {
    use super::*;

    const H0: i64 = 1_767_225_600; // 2026-01-01T00:00:00Z
    const DAY: i64 = 86_400;

    fn at() -> Location {
        Location::File("state.json".into())
    }

    fn state(judged: i64) -> State {
        State {
            format: FORMAT.into(),
            source: "s3://b".into(),
            shard: None,
            judged_until: rfc3339(judged),
            runs: 1,
            updated_at: rfc3339(judged),
            last_run: LastRun {
                command: "scan".into(),
                window_start: rfc3339(judged - DAY),
                window_end: rfc3339(judged),
                verdict: "PROVEN".into(),
                exit_code: 0,
                evidence: "out".into(),
            },
            cells: Vec::new(),
            chain_tips: Vec::new(),
        }
    }

    fn settings(first: Window, grace: i64) -> Settings {
        Settings {
            location: at(),
            max_catch_up_s: 7 * DAY,
            first: Ok(first),
            until: first.bounds().map_or(0, |b| b.1),
            delivery_grace_s: grace,
        }
    }

    #[test]
    fn the_next_window_starts_a_grace_before_the_last_end() {
        let asked = Window::new(H0, H0 + 2 * DAY, 3_600);
        let first = plan(None, &settings(asked, 3_600), "s3://b", None, &at()).unwrap();
        assert_eq!(first.window, asked);
        let s = state(H0 + DAY);
        let p = plan(Some(&s), &settings(asked, 3_600), "s3://b", None, &at()).unwrap();
        assert_eq!(p.window.bounds(), Some((H0 + DAY - 3_600, H0 + 2 * DAY)));
        assert_eq!(p.behind_s, 0);
        // A grace of 90 minutes re-judges two whole hours.
        let p = plan(Some(&s), &settings(asked, 5_400), "s3://b", None, &at()).unwrap();
        assert_eq!(p.window.bounds().unwrap().0, H0 + DAY - 2 * 3_600);
        // With a state, a --since that makes no window does not matter.
        let mut later = settings(asked, 3_600);
        later.first = Err("the window is empty".into());
        assert!(plan(Some(&s), &later, "s3://b", None, &at()).is_ok());
        let e = plan(None, &later, "s3://b", None, &at()).unwrap_err();
        assert!(e.to_string().contains("empty"), "{e}");
    }

    #[test]
    fn catching_up_is_bounded_and_says_how_far_behind() {
        let s = state(H0);
        let asked = Window::new(H0, H0 + 10 * DAY, 3_600);
        let p = plan(Some(&s), &settings(asked, 3_600), "s3://b", None, &at()).unwrap();
        assert_eq!(p.window.bounds(), Some((H0 - 3_600, H0 + 7 * DAY)));
        assert_eq!(p.behind_s, 3 * DAY);
        assert!(p.behind_message().unwrap().contains("3d"), "{p:?}");
    }

    #[test]
    fn a_state_of_another_source_or_an_earlier_end_is_refused() {
        let s = state(H0 + DAY);
        let asked = settings(Window::new(H0, H0 + 2 * DAY, 3_600), 3_600);
        let e = plan(Some(&s), &asked, "s3://other", None, &at()).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::State);
        let e = plan(Some(&s), &asked, "s3://b", Some("1/3"), &at()).unwrap_err();
        assert!(e.to_string().contains("each shard its own state"), "{e}");
        let early = settings(Window::new(H0, H0 + 3_600, 3_600), 3_600);
        let e = plan(Some(&s), &early, "s3://b", None, &at()).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Usage);
        let unbounded = settings(Window::unbounded(3_600), 3_600);
        let e = plan(None, &unbounded, "s3://b", None, &at()).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Usage);
    }

    #[test]
    fn a_damaged_state_is_refused_naming_it() {
        let bad = br#"{"format":"trailproof.state/v0"}"#;
        let e = State::parse(bad, &at()).unwrap_err();
        assert!(e.to_string().contains("state.json"), "{e}");
        let mut s = state(H0);
        s.judged_until = rfc3339(H0 + 60);
        let e = State::parse(&serde_json::to_vec(&s).unwrap(), &at()).unwrap_err();
        assert!(e.to_string().contains("whole hour"), "{e}");
        let s = state(H0);
        assert_eq!(
            State::parse(&serde_json::to_vec(&s).unwrap(), &at()).unwrap(),
            s
        );
    }

    #[test]
    fn a_local_state_is_locked_for_the_run_and_replaced_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s/state.json");
        let loc = Location::File(path.clone());
        let (lock, read) = open_file(&path, &loc).unwrap();
        assert!(read.is_none());
        let e = open_file(&path, &loc).unwrap_err();
        assert!(e.to_string().contains("in use by another run"), "{e}");
        drop(lock);
        let (lock, read) = open_file(&path, &loc).unwrap();
        let held = Held {
            location: loc.clone(),
            previous: None,
            version: Version::File { _lock: lock, read },
        };
        let s = state(H0);
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(held.advance(&s))
            .unwrap();
        let back = State::parse(&std::fs::read(&path).unwrap(), &loc).unwrap();
        assert_eq!(back, s);
        let names: Vec<String> = std::fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert!(!names.iter().any(|n| n.contains(".tmp-")), "{names:?}");
        // A temporary file a killed run left is removed by the next one to take the lock.
        let stale = path.with_file_name(".state.json.tmp-999");
        std::fs::write(&stale, b"partial").unwrap();
        drop(open_file(&path, &loc).unwrap());
        assert!(!stale.exists());
        // Changed behind the lock's back: refused, left as it is.
        let (lock, read) = open_file(&path, &loc).unwrap();
        std::fs::write(&path, b"{}").unwrap();
        let held = Held {
            location: loc.clone(),
            previous: None,
            version: Version::File { _lock: lock, read },
        };
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let e = rt.block_on(held.advance(&s)).unwrap_err();
        assert!(e.to_string().contains("advanced by another run"), "{e}");
        assert_eq!(std::fs::read(&path).unwrap(), b"{}");
    }
}
