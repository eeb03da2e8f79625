//! A deterministic generator of CloudTrail buckets, laid out exactly as CloudTrail writes
//! them (`docs/log-format.md` §1), with faults injected on request ([`faults`]), realistic
//! records ([`records`]), signed digests ([`digests`]) and the ground truth it used.
//!
//! Generation streams one (account, region) at a time, hour by hour: events are assigned to
//! 5-minute delivery slots with a realistic lag (so they land in later files and, near
//! midnight, later date folders) and a slot is written as soon as no later event can reach
//! it, so memory stays bounded by about one hour of one region's events.

use std::collections::BTreeMap;
use std::io::Write;

use flate2::Compression;
use flate2::write::GzEncoder;
use serde::Serialize;

mod digests;
mod faults;
mod records;

pub use digests::test_public_keys_json;
use digests::write_digests;
pub use faults::{CorruptKind, Fault, Tamper};
use records::*;

use crate::integrity::digest::{DigestFile, LogFileEntry, sha256_hex, string_to_sign};
use crate::regions::global_region;
use crate::source::layout::{ObjectKind, aws_logs_root, object_key};
use crate::time::rfc3339;

/// splitmix64: small, fast, deterministic.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed ^ 0x9E37_79B9_7F4A_7C15)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    fn alnum(&mut self, n: usize) -> String {
        const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
        (0..n)
            .map(|_| A[self.below(A.len() as u64) as usize] as char)
            .collect()
    }

    fn uuid(&mut self) -> String {
        let a = self.next_u64();
        let b = self.next_u64();
        format!(
            "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
            a >> 32,
            (a >> 16) & 0xffff,
            a & 0xffff,
            b >> 48,
            b & 0xffff_ffff_ffff
        )
    }
}

/// What to generate.
#[derive(Debug, Clone)]
pub struct GenConfig {
    pub seed: u64,
    pub accounts: Vec<String>,
    pub regions: Vec<String>,
    /// First hour (epoch seconds, a multiple of 3600).
    pub start: i64,
    pub hours: u32,
    /// Average events per (account, region, hour); the global region gets more.
    pub events_per_hour: u32,
    pub prefix: Option<String>,
    pub org_id: Option<String>,
    /// At most this many files per delivery slot.
    pub max_files_per_slot: u32,
    /// Also write objects that are not CloudTrail logs (digest, insight, Config probe, folder).
    pub extras: bool,
    pub faults: Vec<Fault>,
    /// Write signed hourly digest files (log file validation on).
    pub digests: bool,
    /// The trail's name, in digest file names.
    pub trail_name: String,
    /// The bucket name digests state (`digestS3Bucket`, `logFiles[].s3Bucket`).
    pub bucket: String,
    /// `--canary FILE`: also deliver the events CloudTrail records for these probes.
    pub canary: Option<crate::canary::CanaryFile>,
}

/// The defaults of `generate`, in one place (the command line shows them).
pub mod defaults {
    pub const SEED: u64 = 1;
    pub const ACCOUNT: &str = "111122223333";
    pub const HOURS: u32 = 24;
    pub const EVENTS_PER_HOUR: u32 = 40;
    pub const MAX_FILES_PER_SLOT: u32 = 3;
    pub const TRAIL_NAME: &str = "main-trail";
}

impl Default for GenConfig {
    fn default() -> Self {
        GenConfig {
            seed: defaults::SEED,
            accounts: vec![defaults::ACCOUNT.into()],
            regions: crate::regions::default_enabled_regions("aws")
                .iter()
                .map(|s| s.to_string())
                .collect(),
            start: 1_767_225_600, // 2026-01-01T00:00:00Z
            hours: defaults::HOURS,
            events_per_hour: defaults::EVENTS_PER_HOUR,
            prefix: None,
            org_id: None,
            max_files_per_slot: defaults::MAX_FILES_PER_SLOT,
            extras: true,
            faults: Vec::new(),
            digests: true,
            trail_name: defaults::TRAIL_NAME.into(),
            bucket: "trailproof-demo".into(),
            canary: None,
        }
    }
}

/// Counts per (account, region) that a correct reader must find, plus what was injected.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct RegionTruth {
    pub account: String,
    pub region: String,
    pub mgmt_read: u64,
    pub mgmt_write: u64,
    pub mgmt_unknown: u64,
    pub global_read: u64,
    pub global_write: u64,
    pub data_events: u64,
    pub other_events: u64,
    pub log_files: u64,
    /// Events whose `awsRegion` is not this region (region-mismatch fault).
    pub mismatched: u64,
    /// Events in corrupted files (unreadable, so not counted above).
    pub in_corrupt_files: u64,
    /// Events never delivered (missing-files fault; not counted above).
    pub undelivered: u64,
    /// Events in log files deleted by the delete-log tamper (not counted above).
    pub deleted: u64,
    /// Canary events delivered here (`--canary`; counted above as well).
    pub canary_events: u64,
}

/// The ground truth of a generated corpus.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Truth {
    pub seed: u64,
    pub start: String,
    pub end: String,
    pub faults: Vec<Fault>,
    pub regions: Vec<RegionTruth>,
    pub corrupt_keys: Vec<(String, CorruptKind)>,
    pub extra_keys: Vec<String>,
    /// Each tamper and the key it hit (the digest's own key for digest tampers; the extra
    /// file for unlisted-log; the late file's backfill digest for backfill).
    pub tampered: Vec<(Tamper, String)>,
    pub digests: u64,
    pub objects: u64,
    pub bytes: u64,
    pub json_bytes: u64,
}

/// A generated event waiting for its delivery slot.
struct Pending {
    json: String,
    time: i64,
}

/// A delivered log file, as its digest lists it.
struct LogMeta {
    key: String,
    slot: i64,
    sha256: String,
    oldest: i64,
    newest: i64,
}

/// One object to store: key, body and S3 user metadata (digest signatures).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Object {
    pub key: String,
    pub body: Vec<u8>,
    pub metadata: Vec<(&'static str, String)>,
}

impl Object {
    fn plain(key: String, body: Vec<u8>) -> Self {
        Object {
            key,
            body,
            metadata: Vec::new(),
        }
    }
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::with_capacity(data.len() / 6), Compression::new(6));
    e.write_all(data).expect("write to Vec");
    e.finish().expect("finish gzip to Vec")
}

/// Generates the corpus, handing each object (key, bytes) to `put` in a deterministic order.
pub fn generate(
    cfg: &GenConfig,
    put: &mut dyn FnMut(Object) -> std::io::Result<()>,
) -> std::io::Result<Truth> {
    let end = cfg.start + cfg.hours as i64 * 3_600;
    let mut truth = Truth {
        seed: cfg.seed,
        start: rfc3339(cfg.start),
        end: rfc3339(end),
        faults: cfg.faults.clone(),
        ..Default::default()
    };
    let global = global_region(crate::regions::partition_of_region(
        cfg.regions
            .first()
            .map(String::as_str)
            .unwrap_or("us-east-1"),
    ));
    let no_global = cfg.faults.contains(&Fault::NoGlobal);
    for account in &cfg.accounts {
        for region in &cfg.regions {
            let seed = cfg.seed ^ fxhash(account) ^ fxhash(region).rotate_left(17);
            let mut rng = Rng::new(seed);
            let mut rt = RegionTruth {
                account: account.clone(),
                region: region.clone(),
                ..Default::default()
            };
            let faults: Vec<&Fault> = cfg
                .faults
                .iter()
                .filter(|f| fault_region(f) == Some(region.as_str()))
                .collect();
            let mut corrupt_left: Vec<(CorruptKind, u32)> = faults
                .iter()
                .filter_map(|f| match f {
                    Fault::Corrupt { kind, count, .. } => Some((*kind, *count)),
                    _ => None,
                })
                .collect();
            let mut mismatch_left: u32 = faults
                .iter()
                .map(|f| {
                    if let Fault::RegionMismatch { count, .. } = f {
                        *count
                    } else {
                        0
                    }
                })
                .sum();
            let other_region = cfg
                .regions
                .iter()
                .find(|r| *r != region)
                .cloned()
                .unwrap_or_else(|| "us-west-2".into());
            let mut slots: BTreeMap<i64, Vec<Pending>> = BTreeMap::new();
            let mut logs: Vec<LogMeta> = Vec::new();
            let tampers: Vec<Tamper> = faults
                .iter()
                .filter_map(|f| match f {
                    Fault::Tamper { kind, .. } => Some(*kind),
                    _ => None,
                })
                .collect();
            let mid = cfg.start + (cfg.hours / 2) as i64 * 3_600;
            let mut log_tampers: Vec<Tamper> = tampers
                .iter()
                .copied()
                .filter(|t| {
                    matches!(
                        t,
                        Tamper::ModifyLog
                            | Tamper::DeleteLog
                            | Tamper::TrailingBytes
                            | Tamper::UnlistedLog
                    )
                })
                .collect();
            // The canary probes' events (`--canary`), delivered as CloudTrail would (within
            // minutes; later, elsewhere or never under the canary faults).
            for (slot, event, kind) in canary_events(cfg, account, region, &faults, false) {
                count_canary(&mut rt, kind, false);
                slots.entry(slot).or_default().push(event);
            }
            // Canaries of another region delivered here (`canary-misplaced`: into the first
            // other region of the list), the source region's other faults still applying.
            for f in &cfg.faults {
                let Fault::CanaryMisplaced { region: from } = f else {
                    continue;
                };
                if cfg.regions.iter().find(|r| *r != from) != Some(region) {
                    continue;
                }
                let faults: Vec<&Fault> = cfg
                    .faults
                    .iter()
                    .filter(|x| fault_region(x) == Some(from.as_str()))
                    .collect();
                for (slot, event, kind) in canary_events(cfg, account, from, &faults, true) {
                    count_canary(&mut rt, kind, true);
                    slots.entry(slot).or_default().push(event);
                }
            }
            // One pass per hour, plus a last one (h == hours) that generates nothing and
            // delivers every slot still open.
            for h in 0..=cfg.hours {
                let hour_start = cfg.start + h as i64 * 3_600;
                let last = h == cfg.hours;
                let silent = faults.iter().any(|f| matches!(f, Fault::Silent { from_hour, hours, .. } | Fault::StopLogging { from_hour, hours, .. } if h >= *from_hour && h < from_hour + hours));
                let missing = faults.iter().any(|f| matches!(f, Fault::MissingFiles { from_hour, hours, .. } if h >= *from_hour && h < from_hour + hours));
                let late = faults.iter().find_map(|f| match f {
                    Fault::LateDelivery {
                        hour, lag_hours, ..
                    } if *hour == h => Some(*lag_hours as i64 * 3_600),
                    _ => None,
                });
                let no_writes = faults.iter().any(|f| matches!(f, Fault::NoWrites { .. }));
                let is_global = region == global && !no_global;
                let base = cfg.events_per_hour as u64 * if is_global { 2 } else { 1 };
                let n = if silent || last {
                    0
                } else {
                    base / 2 + rng.below(base + 1)
                };
                let mut times: Vec<i64> = (0..n)
                    .map(|_| hour_start + rng.below(3_600) as i64)
                    .collect();
                times.sort_unstable();
                // The trail's own StopLogging / StartLogging calls around a stop-logging silence.
                let mut changes: Vec<(i64, &Template)> = faults
                    .iter()
                    .filter_map(|f| match f {
                        Fault::StopLogging {
                            from_hour, hours, ..
                        } => Some((*from_hour, *hours)),
                        _ => None,
                    })
                    .flat_map(|(from, n)| {
                        let stop = cfg.start + from as i64 * 3_600;
                        [
                            (if from > 0 { stop - 60 } else { stop + 10 }, &STOP_LOGGING),
                            (stop + n as i64 * 3_600 + 30, &START_LOGGING),
                        ]
                    })
                    .filter(|(t, _)| {
                        !last && *t >= hour_start && *t < hour_start + 3_600 && *t < end
                    })
                    .collect();
                changes.sort_by_key(|(t, _)| *t);
                for &(time, tpl) in &changes {
                    let json = trail_record(&mut rng, tpl, account, region, time, cfg);
                    let slot = (time + 180).div_euclid(300) * 300 + 300;
                    count(&mut rt, tpl);
                    slots.entry(slot).or_default().push(Pending { json, time });
                }
                for time in times {
                    let tpl = loop {
                        let set = if is_global && rng.below(3) == 0 {
                            GLOBAL
                        } else {
                            REGIONAL
                        };
                        let tpl = choose(&mut rng, set);
                        if no_writes && tpl.read_only == Some(false) {
                            continue;
                        }
                        break tpl;
                    };
                    let claimed = if mismatch_left > 0 && !tpl.global && rng.below(4) == 0 {
                        mismatch_left -= 1;
                        rt.mismatched += 1;
                        other_region.as_str()
                    } else {
                        region.as_str()
                    };
                    let json = record(&mut rng, tpl, account, claimed, time);
                    // Delivery lag: mostly 2-9 minutes, sometimes up to 14.
                    let spread = if rng.below(50) == 0 { 720 } else { 420 };
                    let lag = late.unwrap_or(0) + 120 + rng.below(spread) as i64;
                    let slot = (time + lag).div_euclid(300) * 300 + 300;
                    if missing {
                        rt.undelivered += 1;
                        continue;
                    }
                    count(&mut rt, tpl);
                    slots.entry(slot).or_default().push(Pending { json, time });
                }
                // Slots before the next hour can receive no more events (lag >= 0).
                let open_until = if last { i64::MAX } else { hour_start + 3_600 };
                let ready: Vec<i64> = slots.range(..open_until).map(|(k, _)| *k).collect();
                for slot in ready {
                    let events = slots.remove(&slot).unwrap_or_default();
                    let tamper = if slot >= mid {
                        std::mem::take(&mut log_tampers)
                    } else {
                        Vec::new()
                    };
                    write_slot(
                        cfg,
                        &mut rng,
                        (account, region),
                        slot,
                        events,
                        &mut corrupt_left,
                        &tamper,
                        &mut rt,
                        &mut truth,
                        &mut logs,
                        put,
                    )?;
                }
            }
            if cfg.digests {
                write_digests(cfg, account, region, &logs, &tampers, &mut truth, put)?;
            }
            truth.regions.push(rt);
        }
        if cfg.extras {
            let region = cfg
                .regions
                .first()
                .map(String::as_str)
                .unwrap_or("us-east-1");
            let (prefix, org) = (cfg.prefix.as_deref(), cfg.org_id.as_deref());
            let at = cfg.start.div_euclid(86_400) * 86_400 + 3_600;
            let insight_key = object_key(
                prefix,
                org,
                account,
                ObjectKind::Insight,
                region,
                at,
                &Rng::new(cfg.seed).alnum(16),
            );
            let aws_logs = aws_logs_root(prefix, org);
            let extras = [
                (insight_key, gzip(b"{\"Records\":[]}")),
                (
                    format!("{aws_logs}{account}/Config/ConfigWritabilityCheckFile"),
                    Vec::new(),
                ),
                (format!("{aws_logs}{account}/CloudTrail/"), Vec::new()),
            ];
            for (key, body) in extras {
                truth.objects += 1;
                truth.bytes += body.len() as u64;
                truth.extra_keys.push(key.clone());
                put(Object::plain(key, body))?;
            }
        }
    }
    Ok(truth)
}

/// A trail-change record (`StopLogging`, `StartLogging`) naming the trail it changes.
fn trail_record(
    rng: &mut Rng,
    tpl: &Template,
    account: &str,
    region: &str,
    time: i64,
    cfg: &GenConfig,
) -> String {
    let json = record(rng, tpl, account, region, time);
    let params = format!(
        "{{\"name\":\"arn:aws:cloudtrail:{region}:{account}:trail/{}\"}}",
        cfg.trail_name
    );
    match (
        json.find("\"requestParameters\":"),
        json.find(",\"responseElements\":"),
    ) {
        (Some(a), Some(b)) if a < b => {
            format!("{}\"requestParameters\":{params}{}", &json[..a], &json[b..])
        }
        _ => json,
    }
}

/// The events CloudTrail records for the canary probes of `region` (the global probe in the
/// global region), as (delivery slot, event, probe) to deliver in `region`'s folder (another's
/// when `misplaced`); none when the faults say they are lost or misplaced elsewhere, and none
/// for the write probe when the region records no writes, or at all in an hour it records
/// nothing.
fn canary_events(
    cfg: &GenConfig,
    account: &str,
    region: &str,
    faults: &[&Fault],
    misplaced: bool,
) -> Vec<(i64, Pending, crate::canary::ProbeKind)> {
    let Some(file) = cfg.canary.as_ref().filter(|f| f.account_id == account) else {
        return Vec::new();
    };
    let lost = faults
        .iter()
        .any(|f| matches!(f, Fault::CanaryLost { .. } | Fault::CanaryMisplaced { .. }));
    if lost && !misplaced {
        return Vec::new();
    }
    let no_writes = faults.iter().any(|f| matches!(f, Fault::NoWrites { .. }));
    let no_global = cfg.faults.contains(&Fault::NoGlobal);
    let lag = faults
        .iter()
        .find_map(|f| match f {
            Fault::CanaryLate { minutes, .. } => Some(*minutes as i64 * 60),
            _ => None,
        })
        .unwrap_or(300);
    let mut out = Vec::new();
    for p in file.probes.iter().filter(|p| p.region == region) {
        if (p.kind == crate::canary::ProbeKind::Write && no_writes)
            || (p.kind == crate::canary::ProbeKind::Global && no_global)
        {
            continue;
        }
        let sent = p.sent_secs();
        let hour = (sent - cfg.start).div_euclid(3_600);
        let quiet = faults.iter().any(|f| match f {
            Fault::Silent {
                from_hour, hours, ..
            }
            | Fault::StopLogging {
                from_hour, hours, ..
            }
            | Fault::MissingFiles {
                from_hour, hours, ..
            } => hour >= *from_hour as i64 && hour < (*from_hour + *hours) as i64,
            _ => false,
        });
        if quiet {
            continue;
        }
        let time = sent + 1;
        let json = records::canary_record(p, &file.marker, account, time);
        // The delivery slot: the first 5-minute stamp at or after `lag`.
        let slot = (time + lag + 299).div_euclid(300) * 300;
        out.push((slot, Pending { json, time }, p.kind));
    }
    out
}

/// Counts a delivered canary event in the truth of the folder that holds it.
fn count_canary(rt: &mut RegionTruth, kind: crate::canary::ProbeKind, misplaced: bool) {
    use crate::canary::ProbeKind;
    rt.canary_events += 1;
    match kind {
        ProbeKind::Read => rt.mgmt_read += 1,
        ProbeKind::Write => rt.mgmt_write += 1,
        ProbeKind::Global => {
            rt.mgmt_read += 1;
            rt.global_read += 1;
        }
    }
    if misplaced && kind != ProbeKind::Global {
        rt.mismatched += 1;
    }
}

fn fault_region(f: &Fault) -> Option<&str> {
    match f {
        Fault::Silent { region, .. }
        | Fault::MissingFiles { region, .. }
        | Fault::NoWrites { region }
        | Fault::Corrupt { region, .. }
        | Fault::RegionMismatch { region, .. }
        | Fault::LateDelivery { region, .. }
        | Fault::Tamper { region, .. }
        | Fault::StopLogging { region, .. }
        | Fault::CanaryLost { region }
        | Fault::CanaryLate { region, .. }
        | Fault::CanaryMisplaced { region } => Some(region),
        Fault::NoGlobal => None,
    }
}

fn fxhash(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ b as u64).wrapping_mul(0x100_0000_01b3)
    })
}

/// The category a template's records count in (`docs/log-format.md` §2.3): their own, or, for a
/// legacy record with neither `eventCategory` nor `managementEvent`, management when it is an
/// API call (the generator's legacy templates call no data-event operation).
fn truth_category(tpl: &Template) -> Option<&'static str> {
    match tpl.category {
        None if tpl.event_type == "AwsApiCall" => Some("Management"),
        c => c,
    }
}

fn count(rt: &mut RegionTruth, tpl: &Template) {
    match (truth_category(tpl), tpl.read_only) {
        (Some("Management"), Some(true)) => rt.mgmt_read += 1,
        (Some("Management"), Some(false)) => rt.mgmt_write += 1,
        (Some("Management"), None) => rt.mgmt_unknown += 1,
        (Some("Data"), _) => rt.data_events += 1,
        _ => rt.other_events += 1,
    }
    if tpl.global && truth_category(tpl) == Some("Management") {
        match tpl.read_only {
            Some(true) => rt.global_read += 1,
            Some(false) => rt.global_write += 1,
            None => {}
        }
    }
}

fn uncount(rt: &mut RegionTruth, json: &str) {
    // Undo the counts of events that ended up in a corrupted file.
    let legacy_call = !json.contains("\"eventCategory\"")
        && !json.contains("\"managementEvent\"")
        && json.contains("\"eventType\":\"AwsApiCall\"");
    let mgmt = json.contains("\"eventCategory\":\"Management\"") || legacy_call;
    let data = json.contains("\"eventCategory\":\"Data\"");
    let ro = if json.contains("\"readOnly\":true") {
        Some(true)
    } else if json.contains("\"readOnly\":false") {
        Some(false)
    } else {
        None
    };
    let global = GLOBAL
        .iter()
        .any(|g| json.contains(&format!("\"eventSource\":\"{}\"", g.source)));
    match (mgmt, data, ro) {
        (true, _, Some(true)) => rt.mgmt_read -= 1,
        (true, _, Some(false)) => rt.mgmt_write -= 1,
        (true, _, None) => rt.mgmt_unknown -= 1,
        (false, true, _) => rt.data_events -= 1,
        _ => rt.other_events -= 1,
    }
    if global && mgmt {
        match ro {
            Some(true) => rt.global_read -= 1,
            Some(false) => rt.global_write -= 1,
            None => {}
        }
    }
    rt.in_corrupt_files += 1;
}

#[allow(clippy::too_many_arguments)]
fn write_slot(
    cfg: &GenConfig,
    rng: &mut Rng,
    (account, region): (&str, &str),
    slot: i64,
    events: Vec<Pending>,
    corrupt_left: &mut [(CorruptKind, u32)],
    tamper: &[Tamper],
    rt: &mut RegionTruth,
    truth: &mut Truth,
    logs: &mut Vec<LogMeta>,
    put: &mut dyn FnMut(Object) -> std::io::Result<()>,
) -> std::io::Result<()> {
    if events.is_empty() {
        return Ok(());
    }
    let files = (1 + rng.below(cfg.max_files_per_slot.max(1) as u64) as usize).min(events.len());
    let per = events.len().div_ceil(files);
    let new_key = |rng: &mut Rng| {
        object_key(
            cfg.prefix.as_deref(),
            cfg.org_id.as_deref(),
            account,
            ObjectKind::Log,
            region,
            slot,
            &rng.alnum(16),
        )
    };
    for (n, chunk) in events.chunks(per).enumerate() {
        let key = new_key(rng);
        let mut json =
            String::with_capacity(chunk.iter().map(|e| e.json.len() + 1).sum::<usize>() + 16);
        json.push_str("{\"Records\":[");
        for (i, e) in chunk.iter().enumerate() {
            if i > 0 {
                json.push(',');
            }
            json.push_str(&e.json);
        }
        json.push_str("]}");
        logs.push(LogMeta {
            key: key.clone(),
            slot,
            sha256: sha256_hex(json.as_bytes()),
            oldest: chunk.iter().map(|e| e.time).min().unwrap_or(slot),
            newest: chunk.iter().map(|e| e.time).max().unwrap_or(slot),
        });
        let mut body = match corrupt_left.iter_mut().find(|(_, n)| *n > 0) {
            Some((kind, n)) => {
                *n -= 1;
                for e in chunk {
                    uncount(rt, &e.json);
                }
                truth.corrupt_keys.push((key.clone(), *kind));
                match kind {
                    CorruptKind::TruncatedGzip => {
                        let mut g = gzip(json.as_bytes());
                        g.truncate(g.len() / 2);
                        g
                    }
                    CorruptKind::InvalidJson => gzip(&json.as_bytes()[..json.len() - 7]),
                    CorruptKind::NotGzip => json.clone().into_bytes(),
                }
            }
            None => {
                rt.log_files += 1;
                gzip(json.as_bytes())
            }
        };
        // Tampering happens after delivery: the digest lists the file as written above.
        if n == 0 {
            for t in tamper {
                if *t != Tamper::UnlistedLog {
                    truth.tampered.push((*t, key.clone()));
                }
                match t {
                    Tamper::ModifyLog => {
                        // Same length, same counts: only the hash can tell.
                        let edited =
                            json.replacen("\"sourceIPAddress\":\"", "\"sourceIPAddress\":\"1", 1);
                        body = gzip(edited.as_bytes());
                    }
                    Tamper::DeleteLog => {
                        for e in chunk {
                            uncount(rt, &e.json);
                        }
                        rt.in_corrupt_files -= chunk.len() as u64;
                        rt.log_files -= 1;
                        rt.deleted += chunk.len() as u64;
                        body.clear();
                    }
                    Tamper::TrailingBytes => {
                        body.extend_from_slice(&gzip(b"{\"Records\":[]}"));
                    }
                    Tamper::UnlistedLog => {
                        let extra = new_key(rng);
                        let b = gzip(b"{\"Records\":[]}");
                        truth.objects += 1;
                        truth.bytes += b.len() as u64;
                        truth.tampered.push((*t, extra.clone()));
                        put(Object::plain(extra, b))?;
                    }
                    _ => {}
                }
            }
        }
        if tamper.contains(&Tamper::DeleteLog) && n == 0 {
            continue;
        }
        truth.objects += 1;
        truth.bytes += body.len() as u64;
        truth.json_bytes += json.len() as u64;
        put(Object::plain(key, body))?;
    }
    Ok(())
}

/// Writes every object under `dir` (as `aws s3 sync` would leave them).
pub fn write_dir(cfg: &GenConfig, dir: &std::path::Path) -> std::io::Result<Truth> {
    generate(cfg, &mut |Object { key, body, .. }| {
        let path = dir.join(&key);
        if key.ends_with('/') {
            return std::fs::create_dir_all(path);
        }
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(path, body)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small() -> GenConfig {
        GenConfig {
            regions: vec!["us-east-1".into(), "eu-west-1".into()],
            hours: 3,
            events_per_hour: 20,
            ..Default::default()
        }
    }

    #[test]
    fn deterministic_from_seed() {
        let mut a = Vec::new();
        let ta = generate(&small(), &mut |o| {
            a.push(o);
            Ok(())
        })
        .unwrap();
        let mut b = Vec::new();
        generate(&small(), &mut |o| {
            b.push(o);
            Ok(())
        })
        .unwrap();
        assert_eq!(a, b);
        let mut c = Vec::new();
        generate(&GenConfig { seed: 2, ..small() }, &mut |o| {
            c.push(o);
            Ok(())
        })
        .unwrap();
        assert_ne!(a, c);
        assert_eq!(ta.objects as usize, a.len());
    }

    #[test]
    fn keys_follow_the_layout_and_events_lag() {
        let mut keys = Vec::new();
        let truth = generate(
            &GenConfig {
                org_id: Some("o-abcd123456".into()),
                prefix: Some("audit".into()),
                ..small()
            },
            &mut |o| {
                keys.push(o.key);
                Ok(())
            },
        )
        .unwrap();
        let mut logs = 0;
        for k in &keys {
            match crate::source::layout::parse_key(k) {
                Ok(p) if p.kind == crate::source::layout::ObjectKind::Log => {
                    logs += 1;
                    assert_eq!(
                        (p.prefix, p.org_id),
                        (Some("audit"), Some("o-abcd123456")),
                        "{k}"
                    );
                    assert_eq!(p.delivered_at % 300, 0, "slots are 5 minutes: {k}");
                }
                Ok(p) if p.kind == crate::source::layout::ObjectKind::Digest => {
                    assert_eq!(p.trail_name, Some("main-trail"), "{k}");
                    assert_eq!(p.delivered_at % 3_600, 452, "windows end at HH:07:32: {k}");
                }
                _ => assert!(truth.extra_keys.contains(k), "unexpected key {k}"),
            }
        }
        assert_eq!(logs, truth.regions.iter().map(|r| r.log_files).sum::<u64>());
        assert!(
            truth
                .regions
                .iter()
                .all(|r| r.mgmt_read > 0 && r.mgmt_write > 0)
        );
        let east = truth
            .regions
            .iter()
            .find(|r| r.region == "us-east-1")
            .unwrap();
        assert!(east.global_read + east.global_write > 0);
    }

    #[test]
    fn no_event_is_generated_outside_the_hours() {
        let cfg = small();
        let end = cfg.start + cfg.hours as i64 * 3_600;
        let mut times = Vec::new();
        generate(
            &GenConfig {
                extras: false,
                ..cfg.clone()
            },
            &mut |o| {
                let json = crate::generate::tests::gunzip(&o.body);
                for part in json.split("\"eventTime\":\"").skip(1) {
                    times.push(crate::time::parse_event_time(&part[..20]).unwrap());
                }
                Ok(())
            },
        )
        .unwrap();
        assert!(!times.is_empty());
        assert!(
            times.iter().all(|t| *t >= cfg.start && *t < end),
            "an event outside [start, end)"
        );
    }

    fn gunzip(data: &[u8]) -> String {
        let mut d = crate::decode::Decoder::new(1 << 30);
        d.inflate(data, true).unwrap();
        String::from_utf8(d.decompressed().to_vec()).unwrap()
    }

    #[test]
    fn faults_parse() {
        assert_eq!(
            "silent:eu-west-1:2:3".parse(),
            Ok(Fault::Silent {
                region: "eu-west-1".into(),
                from_hour: 2,
                hours: 3
            })
        );
        assert_eq!("no-global".parse(), Ok(Fault::NoGlobal));
        assert_eq!(
            "corrupt:us-east-1:not-gzip:2".parse(),
            Ok(Fault::Corrupt {
                region: "us-east-1".into(),
                kind: CorruptKind::NotGzip,
                count: 2
            })
        );
        assert!("silent:eu-west-1".parse::<Fault>().is_err());
        assert!("corrupt:us-east-1:zip:1".parse::<Fault>().is_err());
    }
}
