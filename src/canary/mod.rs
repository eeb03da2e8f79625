//! Canary probes: calls trailproof makes itself, so that a quiet region has events to find.
//!
//! `canary send` ([`send`]) makes, in every region in scope, one harmless read management call
//! (`cloudtrail:DescribeTrails`) and one write that changes nothing (`ec2:DeleteKeyPair` with
//! `DryRun`: CloudTrail records it as a write with errorCode `Client.DryRunOperation`), and in
//! the partition's global region one global-service read (`iam:ListAccountAliases`). Every
//! call carries the run's marker as the SDK's app name, so it appears in the `userAgent` of
//! the events CloudTrail delivers; each call's request id is kept. The file ([`CanaryFile`],
//! `canary.json`) lists the probes.
//!
//! `verify --canary` / `scan --canary` look for exactly those events in the delivered logs
//! (the workers pick out records whose `userAgent` holds the marker: [`Matcher`]) and judge each
//! probe ([`judge`]): delivered in its region's folder within the timeout, late, delivered in
//! another region's folder, not delivered (past the timeout), or pending (not yet). A probe
//! that is not delivered is a gap of category `canary`; a pending or unsent probe makes its
//! cell unknown. Delivered canaries are events like any other: they prove a quiet region's
//! reads, writes and global events.

pub mod send;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::coverage::{Gap, GapKind};
use crate::error::{Error, ErrorKind, Result};
use crate::time::{HOUR, human_duration, parse_event_time, rfc3339};

/// The `schema` of a canary file.
pub const SCHEMA: &str = "trailproof.canary/1";

/// How long after sending a canary must be delivered (CloudTrail's stated delivery is about
/// 5 minutes on average, typically within 15).
pub const DEFAULT_TIMEOUT: &str = "30m";

/// Sightings kept per run: only trailproof's own calls carry the marker, so more means a
/// flood (a replayed marker), which must not grow memory.
const MAX_SIGHTINGS: usize = 10_000;

/// What a probe stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProbeKind {
    /// A read management event (`readOnly` true) in the region.
    Read,
    /// A write management event (`readOnly` false) in the region.
    Write,
    /// A global-service event, recorded in the partition's global region.
    Global,
}

impl ProbeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ProbeKind::Read => "read",
            ProbeKind::Write => "write",
            ProbeKind::Global => "global",
        }
    }
}

/// How the call was answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Sent {
    /// Answered as expected (success; `DryRunOperation` for the write).
    Answered,
    /// Not answered as expected (denied, unreachable, another error): the call may never
    /// have reached CloudTrail, so its absence proves nothing.
    Failed,
}

/// One call made by `canary send`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Probe {
    pub kind: ProbeKind,
    /// The region called (the global region for the global probe).
    pub region: String,
    pub event_source: String,
    pub event_name: String,
    /// When the call was made (RFC 3339, seconds).
    pub sent_at: String,
    /// The service's request id (CloudTrail records it as `requestID`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    pub outcome: Sent,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl Probe {
    /// The send time in epoch seconds (checked when the file is read).
    pub fn sent_secs(&self) -> i64 {
        parse_event_time(&self.sent_at).unwrap_or(0)
    }
}

/// `canary.json`: the probes of one `canary send`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CanaryFile {
    pub schema: String,
    /// In every call's user agent (`app/MARKER`): `trailproof-canary-` and 16 hex digits.
    pub marker: String,
    pub account_id: String,
    pub partition: String,
    pub global_region: String,
    /// When the first call was made.
    pub sent_at: String,
    pub probes: Vec<Probe>,
}

impl CanaryFile {
    /// Reads and checks a canary file.
    pub fn read(path: &std::path::Path) -> Result<CanaryFile> {
        let text = std::fs::read(path).map_err(|e| {
            Error::with_source(
                ErrorKind::Usage,
                format!("cannot read the canary file {}", path.display()),
                e,
            )
        })?;
        let file: CanaryFile = serde_json::from_slice(&text).map_err(|e| {
            Error::with_source(
                ErrorKind::Usage,
                format!("{} is not a canary file", path.display()),
                e,
            )
        })?;
        file.check()
            .map_err(|m| Error::usage(format!("{}: {m}", path.display())))?;
        Ok(file)
    }

    fn check(&self) -> std::result::Result<(), String> {
        if self.schema != SCHEMA {
            return Err(format!("schema {:?}, expected {SCHEMA:?}", self.schema));
        }
        if !is_marker(&self.marker) {
            return Err(format!("{:?} is not a canary marker", self.marker));
        }
        if parse_event_time(&self.sent_at).is_none() {
            return Err(format!("sent_at {:?} is not a time", self.sent_at));
        }
        for p in &self.probes {
            if parse_event_time(&p.sent_at).is_none() {
                return Err(format!(
                    "the {} probe of {} has no valid sent_at",
                    p.kind.as_str(),
                    p.region
                ));
            }
        }
        Ok(())
    }

    /// The earliest and latest send times.
    pub fn sent_span(&self) -> (i64, i64) {
        let times = self.probes.iter().map(Probe::sent_secs);
        let first = parse_event_time(&self.sent_at).unwrap_or(0);
        (
            times.clone().min().unwrap_or(first),
            times.max().unwrap_or(first),
        )
    }

    /// Writes the file aside, then moves it into place: it is whole or absent.
    pub fn write(&self, path: &std::path::Path) -> Result<()> {
        let text = serde_json::to_vec_pretty(self)
            .map_err(|e| Error::with_source(ErrorKind::Output, "cannot encode canary.json", e))?;
        crate::atomic::write(path, &text).map_err(|e| {
            Error::with_source(ErrorKind::Io, format!("cannot write {}", path.display()), e)
        })
    }
}

/// A marker: `trailproof-canary-` and 16 lower-case hex digits (an SDK app name may hold
/// letters, digits and `-`, at most 50 characters).
pub fn is_marker(s: &str) -> bool {
    s.strip_prefix("trailproof-canary-")
        .is_some_and(|h| h.len() == 16 && h.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// A new marker, unique per run: the time and process mixed through SHA-256.
pub fn new_marker() -> String {
    use sha2::{Digest, Sha256};
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let mut h = Sha256::new();
    h.update(now.as_nanos().to_le_bytes());
    h.update(std::process::id().to_le_bytes());
    h.update(format!("{:p}", &now).as_bytes());
    format!("trailproof-canary-{}", &hex::encode(h.finalize())[..16])
}

/// The window a run with these canaries judges: one that ends at the current hour (no
/// `--until`) is extended to the end of the hour the last probe's event is dated in, and its
/// delivery grace to the last probe's timeout; a probe sent outside an explicit window is
/// refused (the run could not find it).
pub fn window_for(
    file: &CanaryFile,
    window: crate::time::Window,
    until_given: bool,
    timeout_s: i64,
) -> std::result::Result<crate::time::Window, String> {
    let (first, last) = file.sent_span();
    let Some((since, until)) = window.bounds() else {
        return Ok(window);
    };
    // The events are dated a little after the calls (and clocks differ): the hour that holds
    // the last call plus that allowance, so the canaries are counted in the window.
    let latest = last + crate::coverage::aggregate::FUTURE_ALLOWANCE_S;
    let end = if until_given {
        until
    } else {
        until.max(latest - latest.rem_euclid(HOUR) + HOUR)
    };
    // Files delivered until every timeout has passed are read.
    let grace = if until_given {
        window.delivery_grace_s
    } else {
        window
            .delivery_grace_s
            .max(last + timeout_s + SETTLE_S - end)
    };
    if first < since || last >= end {
        return Err(format!(
            "its probes were sent {} .. {}, outside the window {} .. {}: widen --since/--until",
            rfc3339(first),
            rfc3339(last),
            rfc3339(since),
            rfc3339(end)
        ));
    }
    Ok(crate::time::Window::new(since, end, grace))
}

/// A run's canary settings (`--canary FILE`, `--canary-timeout`).
#[derive(Debug)]
pub struct Watch {
    pub file: CanaryFile,
    pub timeout_s: i64,
    pub matcher: Matcher,
}

impl Watch {
    pub fn new(file: CanaryFile, timeout_s: i64) -> Watch {
        let matcher = Matcher::new(&file);
        Watch {
            file,
            timeout_s,
            matcher,
        }
    }
}

/// A stable event id for a generated canary record (`trailproof generate --canary`).
pub fn event_id(request_id: &Option<String>, name: &str) -> String {
    use sha2::{Digest, Sha256};
    let h = Sha256::digest(format!("{}/{name}", request_id.as_deref().unwrap_or("")));
    let x = hex::encode(h);
    format!(
        "{}-{}-{}-{}-{}",
        &x[..8],
        &x[8..12],
        &x[12..16],
        &x[16..20],
        &x[20..32]
    )
}

/// Picks out, in the workers, the records that carry the marker.
#[derive(Debug)]
pub struct Matcher {
    marker: memchr::memmem::Finder<'static>,
}

impl Matcher {
    pub fn new(file: &CanaryFile) -> Matcher {
        Matcher {
            marker: memchr::memmem::Finder::new(file.marker.as_bytes()).into_owned(),
        }
    }

    /// Whether a record with this user agent is one of the canaries.
    pub fn carries(&self, user_agent: Option<&str>) -> bool {
        user_agent.is_some_and(|ua| self.marker.find(ua.as_bytes()).is_some())
    }
}

/// A canary record found in a delivered log file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sighting {
    /// The object that holds it, and the account, region folder and delivery stamp of its key.
    pub key: String,
    pub key_account: String,
    pub key_region: String,
    pub delivered_at: i64,
    pub request_id: Option<String>,
    pub event_source: Option<String>,
    pub event_name: Option<String>,
    pub aws_region: Option<String>,
    pub event_time: Option<i64>,
    pub read_only: Option<bool>,
    pub error_code: Option<String>,
}

impl Sighting {
    /// From a canary record read whole.
    pub fn of_record(
        v: &serde_json::Value,
        key: &str,
        key_account: &str,
        key_region: &str,
        delivered_at: i64,
    ) -> Sighting {
        let s = |p: &str| v.pointer(p).and_then(|x| x.as_str()).map(str::to_owned);
        Sighting {
            key: key.to_owned(),
            key_account: key_account.to_owned(),
            key_region: key_region.to_owned(),
            delivered_at,
            request_id: s("/requestID"),
            event_source: s("/eventSource"),
            event_name: s("/eventName"),
            aws_region: s("/awsRegion"),
            event_time: s("/eventTime").and_then(|t| parse_event_time(&t)),
            read_only: match v.pointer("/readOnly") {
                Some(serde_json::Value::Bool(b)) => Some(*b),
                Some(serde_json::Value::String(s)) => s.parse().ok(),
                _ => None,
            },
            error_code: s("/errorCode"),
        }
    }
}

/// The sightings of a run, bounded.
#[derive(Debug, Default)]
pub struct Sightings {
    pub found: Vec<Sighting>,
    pub dropped: u64,
}

impl Sightings {
    pub fn push(&mut self, s: Sighting) {
        if self.found.len() < MAX_SIGHTINGS {
            self.found.push(s);
        } else {
            self.dropped += 1;
        }
    }

    pub fn merge(&mut self, other: Sightings) {
        self.dropped += other.dropped;
        for s in other.found {
            self.push(s);
        }
    }
}

/// What became of one probe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProbeStatus {
    /// In its region's folder, within the timeout.
    Delivered,
    /// In its region's folder, later than the timeout.
    Late,
    /// Only in another region's folder.
    RegionMismatch,
    /// Not found, and the timeout has passed.
    NotDelivered,
    /// Not found yet; the timeout has not passed.
    Pending,
    /// The call was not answered as expected: nothing is known of it.
    NotSent,
    /// Not judged by this run: its (account, region) is not expected (or another shard's), or
    /// it was sent before the deliveries this run read.
    OutOfScope,
}

impl ProbeStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ProbeStatus::Delivered => "delivered",
            ProbeStatus::Late => "late",
            ProbeStatus::RegionMismatch => "region_mismatch",
            ProbeStatus::NotDelivered => "not_delivered",
            ProbeStatus::Pending => "pending",
            ProbeStatus::NotSent => "not_sent",
            ProbeStatus::OutOfScope => "out_of_scope",
        }
    }

    /// The gap row this status makes, if any.
    fn gap_kind(self) -> Option<GapKind> {
        match self {
            ProbeStatus::Late => Some(GapKind::CanaryLate),
            ProbeStatus::RegionMismatch => Some(GapKind::CanaryRegionMismatch),
            ProbeStatus::NotDelivered => Some(GapKind::CanaryNotDelivered),
            ProbeStatus::Pending => Some(GapKind::CanaryPending),
            ProbeStatus::NotSent => Some(GapKind::CanaryNotSent),
            ProbeStatus::Delivered | ProbeStatus::OutOfScope => None,
        }
    }
}

/// One probe's result: where its event was found and how long each step of delivery took.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProbeResult {
    pub kind: ProbeKind,
    pub region: String,
    /// `source:EventName`, e.g. `ec2.amazonaws.com:DeleteKeyPair`.
    pub event: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    pub status: ProbeStatus,
    #[serde(
        serialize_with = "crate::time::serialize_rfc3339",
        deserialize_with = "crate::time::deserialize_rfc3339"
    )]
    pub sent_at: i64,
    /// The log file that holds it, and its region folder.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub found_in_region: Option<String>,
    /// eventTime, the key's delivery stamp, and the object's LastModified (epoch seconds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_time: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_time: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_modified: Option<i64>,
    /// Seconds from sending to delivery: the delivery stamp CloudTrail put in the key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivery_s: Option<i64>,
    /// Seconds from the event's eventTime to the key's stamp.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_to_key_s: Option<i64>,
    /// Seconds from the key's stamp to the object's LastModified (S3 only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stored_after_s: Option<i64>,
}

/// The canary part of a run's result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CanaryReport {
    pub marker: String,
    pub account_id: String,
    pub sent_at: String,
    pub timeout_s: i64,
    /// When the probes were judged (pending before `sent + timeout`).
    #[serde(
        serialize_with = "crate::time::serialize_rfc3339",
        deserialize_with = "crate::time::deserialize_rfc3339"
    )]
    pub judged_at: i64,
    pub probes: Vec<ProbeResult>,
    /// Marked records beyond the kept limit (a flood: should be 0).
    pub sightings_dropped: u64,
}

impl CanaryReport {
    /// The report of shards' runs: each probe as judged by the shard that owns its cell (the
    /// others have it `out_of_scope`). `None` when the shards judged different canaries.
    pub fn merge(shards: Vec<CanaryReport>) -> Option<CanaryReport> {
        let mut it = shards.into_iter();
        let mut merged = it.next()?;
        for other in it {
            if other.marker != merged.marker || other.probes.len() != merged.probes.len() {
                return None;
            }
            merged.judged_at = merged.judged_at.max(other.judged_at);
            merged.sightings_dropped += other.sightings_dropped;
            for (m, o) in merged.probes.iter_mut().zip(other.probes) {
                if m.status == ProbeStatus::OutOfScope {
                    *m = o;
                }
            }
        }
        Some(merged)
    }

    /// How many probes have each status.
    pub fn counts(&self) -> BTreeMap<&'static str, usize> {
        let mut m = BTreeMap::new();
        for p in &self.probes {
            *m.entry(p.status.as_str()).or_default() += 1;
        }
        m
    }
}

/// What a run expects, as far as the canaries go.
pub struct Scope<'a> {
    /// Whether this run judges the (account, region) cell.
    pub expects: &'a dyn Fn(&str, &str) -> bool,
    pub now: i64,
    pub timeout_s: i64,
    /// The delivery stamps whose log files this run read, `[from, to]`: a probe sent before
    /// `from` is not judged, and one whose timeout ends after `to` cannot be missing yet.
    pub listed: (i64, i64),
    /// Findings that left log files unread (unreadable objects, failed listings): a probe not
    /// found where they may lie is unknown, not missing.
    pub unread: &'a [Gap],
}

/// How long after a listing began a file delivered before it may still be missing from it (S3
/// stores an object a little after the stamp in its key): deliveries later than the listing's
/// start less this are not taken as read.
pub const SETTLE_S: i64 = 120;

/// Judges every probe against what the workers found: the report and the gap rows.
/// `last_modified` gives an object's LastModified (S3) or modification time (a local copy).
pub fn judge(
    file: &CanaryFile,
    sightings: &Sightings,
    scope: &Scope<'_>,
    last_modified: &mut dyn FnMut(&str) -> Option<i64>,
) -> (CanaryReport, Vec<Gap>) {
    let mut probes = Vec::new();
    let mut gaps = Vec::new();
    for p in &file.probes {
        let sent = p.sent_secs();
        let mut r = ProbeResult {
            kind: p.kind,
            region: p.region.clone(),
            event: format!("{}:{}", p.event_source, p.event_name),
            request_id: p.request_id.clone(),
            status: ProbeStatus::OutOfScope,
            sent_at: sent,
            key: None,
            found_in_region: None,
            event_time: None,
            key_time: None,
            last_modified: None,
            delivery_s: None,
            event_to_key_s: None,
            stored_after_s: None,
        };
        if !(scope.expects)(&file.account_id, &p.region) || sent < scope.listed.0 {
            probes.push(r);
            continue;
        }
        let mine: Vec<&Sighting> = sightings
            .found
            .iter()
            .filter(|s| s.key_account == file.account_id && is_of(p, s))
            .collect();
        // The earliest delivery in the probe's own folder, else the earliest anywhere.
        let home = mine
            .iter()
            .filter(|s| s.key_region == p.region)
            .min_by_key(|s| (s.delivered_at, &s.key));
        let away = mine.iter().min_by_key(|s| (s.delivered_at, &s.key));
        let deadline = sent + scope.timeout_s;
        let (status, seen) = match (home, away) {
            (Some(s), _) => {
                // Delivered when CloudTrail stamped the file: the object's LastModified is when
                // this copy was stored (a replica's, a restored copy's), so it is reported
                // beside it, not judged.
                let lm = last_modified(&s.key);
                r.last_modified = lm;
                r.delivery_s = Some(s.delivered_at - sent);
                r.stored_after_s = lm.map(|t| t - s.delivered_at);
                let st = if s.delivered_at <= deadline {
                    ProbeStatus::Delivered
                } else {
                    ProbeStatus::Late
                };
                (st, Some(*s))
            }
            (None, Some(s)) => {
                r.last_modified = last_modified(&s.key);
                (ProbeStatus::RegionMismatch, Some(*s))
            }
            (None, None) if p.outcome == Sent::Failed => (ProbeStatus::NotSent, None),
            // Not yet due, due after the last delivery this run read, or possibly in a log
            // file that could not be read.
            (None, None)
                if scope.now < deadline
                    || deadline > scope.listed.1
                    || unread(file, sent, deadline, sightings, scope) =>
            {
                (ProbeStatus::Pending, None)
            }
            (None, None) => (ProbeStatus::NotDelivered, None),
        };
        if let Some(s) = seen {
            r.key = Some(s.key.clone());
            r.found_in_region = Some(s.key_region.clone());
            r.event_time = s.event_time;
            r.key_time = Some(s.delivered_at);
            r.event_to_key_s = s.event_time.map(|t| s.delivered_at - t);
        }
        r.status = status;
        if let Some(kind) = status.gap_kind() {
            let what = format!(
                "{} canary {} (request id {}) sent {}",
                p.kind.as_str(),
                r.event,
                p.request_id.as_deref().unwrap_or("none"),
                rfc3339(sent)
            );
            let detail = match status {
                ProbeStatus::Late => format!(
                    "{what}: delivered after {} (timeout {})",
                    human_duration(r.delivery_s.unwrap_or(0)),
                    human_duration(scope.timeout_s)
                ),
                ProbeStatus::RegionMismatch => format!(
                    "{what}: delivered in {}'s log files ({}), not {}'s",
                    r.found_in_region.as_deref().unwrap_or("?"),
                    r.key.as_deref().unwrap_or("?"),
                    p.region
                ),
                ProbeStatus::NotDelivered => format!(
                    "{what}: not delivered within {}",
                    human_duration(scope.timeout_s)
                ),
                ProbeStatus::Pending if unread(file, sent, deadline, sightings, scope) => format!(
                    "{what}: not found, but log files that may hold it could not be read: unknown"
                ),
                ProbeStatus::Pending => format!(
                    "{what}: not found in the log files delivered up to {}; the timeout ends {}",
                    rfc3339(scope.listed.1.min(scope.now)),
                    rfc3339(deadline)
                ),
                _ => format!(
                    "{what}: the call failed ({}), so its absence proves nothing",
                    p.error.as_deref().unwrap_or("no answer")
                ),
            };
            let start = sent - sent.rem_euclid(HOUR);
            gaps.push(Gap::new(
                &file.account_id,
                &p.region,
                kind,
                (start, start + HOUR),
                detail,
            ));
        }
        probes.push(r);
    }
    let report = CanaryReport {
        marker: file.marker.clone(),
        account_id: file.account_id.clone(),
        sent_at: file.sent_at.clone(),
        timeout_s: scope.timeout_s,
        judged_at: scope.now,
        probes,
        sightings_dropped: sightings.dropped,
    };
    (report, gaps)
}

/// Whether log files that may hold a probe sent at `sent` went unread: an unreadable object
/// or failed listing of the account over its delivery span, or canary records not kept.
fn unread(
    file: &CanaryFile,
    sent: i64,
    deadline: i64,
    sightings: &Sightings,
    scope: &Scope<'_>,
) -> bool {
    sightings.dropped > 0
        || scope.unread.iter().any(|g| {
            g.account_id == file.account_id
                && g.kind.is_unknown()
                && g.end > sent
                && g.start <= deadline
        })
}

/// Whether a sighting is this probe's event: the same request id when the probe has one
/// (what CloudTrail records as `requestID`), else the same event in the same region.
fn is_of(p: &Probe, s: &Sighting) -> bool {
    match (&p.request_id, &s.request_id) {
        (Some(a), Some(b)) => a == b,
        _ => {
            s.event_source.as_deref() == Some(p.event_source.as_str())
                && s.event_name.as_deref() == Some(p.event_name.as_str())
                && s.aws_region.as_deref() == Some(p.region.as_str())
        }
    }
}

#[cfg(test)]
mod tests;
