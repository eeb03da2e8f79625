//! The coverage model (`ARCHITECTURE.md`): counters per (account, region, hour of eventTime),
//! aggregated per worker without locks or per-event allocation, merged once, then evaluated
//! against the expected set into gap rows.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::Serialize;

use crate::decode::{EventClass, Record, parse_event_time};

/// Event sources whose events are global-service events (recorded in the partition's global
/// region): IAM, STS (global endpoint), console sign-in, CloudFront, Route 53, Organizations.
pub const GLOBAL_SOURCES: &[&str] = &[
    "iam.amazonaws.com",
    "sts.amazonaws.com",
    "signin.amazonaws.com",
    "cloudfront.amazonaws.com",
    "route53.amazonaws.com",
    "organizations.amazonaws.com",
];

pub fn is_global_source(source: &str) -> bool {
    GLOBAL_SOURCES.contains(&source)
}

/// Counters of one cell.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Counters {
    pub mgmt_read: u64,
    pub mgmt_write: u64,
    /// Management events whose `readOnly` is absent.
    pub mgmt_unknown: u64,
    /// Subsets of the management counters: events from global services.
    pub global_read: u64,
    pub global_write: u64,
    pub data_events: u64,
    pub other_events: u64,
    /// Log files holding at least one event of this hour.
    pub log_files: u64,
    /// Compressed bytes of those files (a file spanning two hours counts in both).
    pub bytes: u64,
    /// Epoch seconds; `i64::MAX`/`i64::MIN` while empty.
    pub first_event: i64,
    pub last_event: i64,
    /// Largest (delivery time − eventTime) in seconds.
    pub max_delivery_lag_s: i64,
    /// Events delivered later than the late-delivery threshold.
    pub late_events: u64,
    /// Non-global events whose `awsRegion` differs from the delivering region.
    pub mismatched_events: u64,
    /// Unreadable objects delivered in or just after this hour: the cell's coverage is unknown.
    pub unreadable_files: u64,
}

impl Default for Counters {
    fn default() -> Self {
        Counters {
            mgmt_read: 0,
            mgmt_write: 0,
            mgmt_unknown: 0,
            global_read: 0,
            global_write: 0,
            data_events: 0,
            other_events: 0,
            log_files: 0,
            bytes: 0,
            first_event: i64::MAX,
            last_event: i64::MIN,
            max_delivery_lag_s: 0,
            late_events: 0,
            mismatched_events: 0,
            unreadable_files: 0,
        }
    }
}

impl Counters {
    pub fn events(&self) -> u64 {
        self.mgmt_read + self.mgmt_write + self.mgmt_unknown + self.data_events + self.other_events
    }

    pub fn merge(&mut self, o: &Counters) {
        self.mgmt_read += o.mgmt_read;
        self.mgmt_write += o.mgmt_write;
        self.mgmt_unknown += o.mgmt_unknown;
        self.global_read += o.global_read;
        self.global_write += o.global_write;
        self.data_events += o.data_events;
        self.other_events += o.other_events;
        self.log_files += o.log_files;
        self.bytes += o.bytes;
        self.first_event = self.first_event.min(o.first_event);
        self.last_event = self.last_event.max(o.last_event);
        self.max_delivery_lag_s = self.max_delivery_lag_s.max(o.max_delivery_lag_s);
        self.late_events += o.late_events;
        self.mismatched_events += o.mismatched_events;
        self.unreadable_files += o.unreadable_files;
    }
}

/// Cells of one (account, region): hour (epoch seconds) → counters.
pub type Hours = BTreeMap<i64, Counters>;

/// Per-worker aggregate: account → region → hours. Lookups borrow, so the hot path does not
/// allocate; merged once at the end.
#[derive(Debug, Default, Clone)]
pub struct Aggregate {
    pub cells: HashMap<String, HashMap<String, Hours>>,
    /// Events outside the window (counted, not evaluated).
    pub outside_window: u64,
    /// Events without a parseable `eventTime`.
    pub bad_time: u64,
    /// Per (account, delivering region, claimed region): mismatched event counts.
    pub mismatch_regions: BTreeMap<(String, String), BTreeSet<String>>,
}

/// The per-file context an event is counted in.
pub struct FileContext<'a> {
    pub account: &'a str,
    pub region: &'a str,
    pub delivered_at: i64,
    pub compressed_bytes: u64,
}

/// Counts one file's events; reuses `scratch` (hour → counters of this file) across files.
pub struct FileCounter {
    scratch: BTreeMap<i64, Counters>,
    window: (i64, i64),
    late_threshold_s: i64,
    mismatched_claims: BTreeSet<String>,
}

impl FileCounter {
    pub fn new(window: (i64, i64), late_threshold_s: i64) -> Self {
        FileCounter {
            scratch: BTreeMap::new(),
            window,
            late_threshold_s,
            mismatched_claims: BTreeSet::new(),
        }
    }

    /// Counts one record of the current file.
    pub fn event(&mut self, ctx: &FileContext<'_>, agg: &mut Aggregate, r: &Record<'_>) {
        let Some(t) = r.event_time.as_deref().and_then(parse_event_time) else {
            agg.bad_time += 1;
            return;
        };
        if t < self.window.0 || t >= self.window.1 {
            agg.outside_window += 1;
            return;
        }
        let hour = t - t.rem_euclid(3_600);
        let c = self.scratch.entry(hour).or_default();
        let global = r.event_source.as_deref().is_some_and(is_global_source);
        match r.class() {
            EventClass::ManagementRead => {
                c.mgmt_read += 1;
                c.global_read += global as u64;
            }
            EventClass::ManagementWrite => {
                c.mgmt_write += 1;
                c.global_write += global as u64;
            }
            EventClass::ManagementUnknown => c.mgmt_unknown += 1,
            EventClass::Data => c.data_events += 1,
            EventClass::Other => c.other_events += 1,
        }
        c.first_event = c.first_event.min(t);
        c.last_event = c.last_event.max(t);
        let lag = ctx.delivered_at - t;
        c.max_delivery_lag_s = c.max_delivery_lag_s.max(lag);
        if lag > self.late_threshold_s {
            c.late_events += 1;
        }
        if let Some(claimed) = r.aws_region.as_deref()
            && claimed != ctx.region
            && !global
        {
            c.mismatched_events += 1;
            if !self.mismatched_claims.contains(claimed) {
                self.mismatched_claims.insert(claimed.to_owned());
            }
        }
    }

    /// Ends the current file: folds its cells into the worker aggregate.
    pub fn finish(&mut self, ctx: &FileContext<'_>, agg: &mut Aggregate) {
        let hours = cells_of(agg, ctx.account, ctx.region);
        for (hour, mut c) in std::mem::take(&mut self.scratch) {
            c.log_files = 1;
            c.bytes = ctx.compressed_bytes;
            hours.entry(hour).or_default().merge(&c);
        }
        if !self.mismatched_claims.is_empty() {
            agg.mismatch_regions
                .entry((ctx.account.to_owned(), ctx.region.to_owned()))
                .or_default()
                .extend(std::mem::take(&mut self.mismatched_claims));
        }
    }

    /// Drops a file's partial counts (it failed to parse midway).
    pub fn abandon(&mut self) {
        self.scratch.clear();
        self.mismatched_claims.clear();
    }
}

fn cells_of<'a>(agg: &'a mut Aggregate, account: &str, region: &str) -> &'a mut Hours {
    if !agg.cells.contains_key(account) {
        agg.cells.insert(account.to_owned(), HashMap::new());
    }
    let regions = agg.cells.get_mut(account).expect("inserted");
    if !regions.contains_key(region) {
        regions.insert(region.to_owned(), Hours::new());
    }
    regions.get_mut(region).expect("inserted")
}

impl Aggregate {
    /// Marks the cells an unreadable object could have held (delivery hour and the hour
    /// before) as unknown.
    pub fn unreadable(
        &mut self,
        account: &str,
        region: &str,
        delivered_at: i64,
        window: (i64, i64),
    ) {
        let hours = cells_of(self, account, region);
        for t in [delivered_at - 900, delivered_at] {
            let hour = t - t.rem_euclid(3_600);
            if hour >= window.0 && hour < window.1 {
                hours.entry(hour).or_default().unreadable_files += 1;
            }
        }
    }

    pub fn merge(&mut self, other: Aggregate) {
        for (account, regions) in other.cells {
            let mine = self.cells.entry(account).or_default();
            for (region, hours) in regions {
                let h = mine.entry(region).or_default();
                for (hour, c) in hours {
                    h.entry(hour).or_default().merge(&c);
                }
            }
        }
        self.outside_window += other.outside_window;
        self.bad_time += other.bad_time;
        for (k, v) in other.mismatch_regions {
            self.mismatch_regions.entry(k).or_default().extend(v);
        }
    }
}

/// Gap categories (the `category` column).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    MgmtRead,
    MgmtWrite,
    Global,
    Delivery,
    Integrity,
}

impl Category {
    pub fn as_str(self) -> &'static str {
        match self {
            Category::MgmtRead => "mgmt_read",
            Category::MgmtWrite => "mgmt_write",
            Category::Global => "global",
            Category::Delivery => "delivery",
            Category::Integrity => "integrity",
        }
    }
}

/// Gap kinds (the `kind` column). Open for the integrity issue's digest kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum GapKind {
    NoEvents,
    NoLogFiles,
    ObjectUnreadable,
    RegionMismatch,
    LateDelivery,
    /// Listing a prefix failed: what it holds is unknown.
    ListFailed,
    /// No digest vouches for this time (log file validation off, or a digest deleted).
    NoDigest,
    /// A log file a valid digest lists is not in the bucket.
    LogMissing,
    /// A log file delivered in a digest's window that no digest lists.
    LogUnlisted,
    /// A log file's content differs from what its digest lists.
    HashMismatch,
    /// A digest failed its checks (signature, location, links, algorithms, format).
    DigestInvalid,
    /// A digest could not be read or verified: what it vouches for is unknown.
    DigestUnverified,
}

impl GapKind {
    /// Kinds that make coverage unknown rather than a gap.
    pub fn is_unknown(self) -> bool {
        matches!(
            self,
            GapKind::ObjectUnreadable | GapKind::ListFailed | GapKind::DigestUnverified
        )
    }

    pub fn as_str(self) -> &'static str {
        match self {
            GapKind::NoEvents => "no_events",
            GapKind::NoLogFiles => "no_log_files",
            GapKind::ObjectUnreadable => "object_unreadable",
            GapKind::RegionMismatch => "region_mismatch",
            GapKind::LateDelivery => "late_delivery",
            GapKind::ListFailed => "list_failed",
            GapKind::NoDigest => "no_digest",
            GapKind::LogMissing => "log_missing",
            GapKind::LogUnlisted => "log_unlisted",
            GapKind::HashMismatch => "hash_mismatch",
            GapKind::DigestInvalid => "digest_invalid",
            GapKind::DigestUnverified => "digest_unverified",
        }
    }
}

/// One row of `gaps.parquet`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Gap {
    pub account_id: String,
    pub region: String,
    pub category: Category,
    pub kind: GapKind,
    /// Epoch seconds, inclusive.
    pub start: i64,
    /// Epoch seconds, exclusive.
    pub end: i64,
    pub detail: String,
}

/// The verdict of one (account, region).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RegionStatus {
    /// Management reads and writes (and global events where expected) observed, no gaps.
    Proven,
    /// A gap was found.
    Gap,
    /// Some evidence could not be read; coverage is unknown, never proven.
    Unknown,
}

/// What must be observed.
#[derive(Debug, Clone)]
pub struct Expectation {
    pub accounts: Vec<String>,
    pub regions: Vec<String>,
    pub global_region: String,
    /// [start, end) in epoch seconds, whole hours.
    pub window: (i64, i64),
    /// Runs of at least this many silent hours are `no_log_files` gaps; `None`: never.
    pub max_silence_hours: Option<i64>,
    pub late_threshold_s: i64,
    /// Hours valid digests vouch for, per (account, region): silent but logging, so never a
    /// `no_log_files` gap.
    pub attested: BTreeMap<(String, String), BTreeSet<i64>>,
}

/// Per-(account, region) result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RegionResult {
    pub account_id: String,
    pub region: String,
    pub status: RegionStatus,
    pub totals: Counters,
    pub gaps: usize,
}

/// Evaluates the aggregate: gap rows (sorted) and per-(account, region) results.
/// `failures` are per-object or per-prefix failures already turned into gap rows.
pub fn evaluate(
    agg: &Aggregate,
    exp: &Expectation,
    failures: Vec<Gap>,
) -> (Vec<Gap>, Vec<RegionResult>) {
    let mut gaps = failures;
    let mut results = Vec::new();
    let empty = Hours::new();
    let (ws, we) = exp.window;
    for account in &exp.accounts {
        for region in &exp.regions {
            let hours = agg
                .cells
                .get(account)
                .and_then(|r| r.get(region))
                .unwrap_or(&empty);
            let mut totals = Counters::default();
            for c in hours.values() {
                totals.merge(c);
            }
            let mut mine = Vec::new();
            let gap = |category, kind, start, end, detail: String| Gap {
                account_id: account.clone(),
                region: region.clone(),
                category,
                kind,
                start,
                end,
                detail,
            };
            if totals.mgmt_read == 0 {
                mine.push(gap(
                    Category::MgmtRead,
                    GapKind::NoEvents,
                    ws,
                    we,
                    "no read management event (readOnly=true) in the window".into(),
                ));
            }
            if totals.mgmt_write == 0 {
                mine.push(gap(
                    Category::MgmtWrite,
                    GapKind::NoEvents,
                    ws,
                    we,
                    "no write management event (readOnly=false) in the window".into(),
                ));
            }
            if *region == exp.global_region && totals.global_read + totals.global_write == 0 {
                mine.push(gap(
                    Category::Global,
                    GapKind::NoEvents,
                    ws,
                    we,
                    format!(
                        "no global-service event ({}) in the global region",
                        GLOBAL_SOURCES.join(", ")
                    ),
                ));
            }
            let attested = exp.attested.get(&(account.clone(), region.clone()));
            if let Some(max) = exp.max_silence_hours {
                let mut run_start: Option<i64> = None;
                let mut hour = ws;
                while hour <= we {
                    let silent = hour < we
                        && hours
                            .get(&hour)
                            .is_none_or(|c| c.events() == 0 && c.unreadable_files == 0)
                        && !attested.is_some_and(|a| a.contains(&hour));
                    match (silent, run_start) {
                        (true, None) => run_start = Some(hour),
                        (false, Some(s)) => {
                            let len = (hour - s) / 3_600;
                            if len >= max {
                                mine.push(gap(
                                    Category::Delivery,
                                    GapKind::NoLogFiles,
                                    s,
                                    hour,
                                    format!("no log file holds an event from these {len} hours"),
                                ));
                            }
                            run_start = None;
                        }
                        _ => {}
                    }
                    hour += 3_600;
                }
            }
            let late: Vec<(&i64, &Counters)> =
                hours.iter().filter(|(_, c)| c.late_events > 0).collect();
            if let (Some(first), Some(last)) = (late.first(), late.last()) {
                let n: u64 = late.iter().map(|(_, c)| c.late_events).sum();
                let max_lag = late
                    .iter()
                    .map(|(_, c)| c.max_delivery_lag_s)
                    .max()
                    .unwrap_or(0);
                mine.push(gap(
                    Category::Delivery,
                    GapKind::LateDelivery,
                    *first.0,
                    last.0 + 3_600,
                    format!(
                        "{n} events delivered more than {} late (max {})",
                        crate::time::human_duration(exp.late_threshold_s),
                        crate::time::human_duration(max_lag)
                    ),
                ));
            }
            let mis: Vec<(&i64, &Counters)> = hours
                .iter()
                .filter(|(_, c)| c.mismatched_events > 0)
                .collect();
            if let (Some(first), Some(last)) = (mis.first(), mis.last()) {
                let n: u64 = mis.iter().map(|(_, c)| c.mismatched_events).sum();
                let claimed: Vec<String> = agg
                    .mismatch_regions
                    .get(&(account.clone(), region.clone()))
                    .map(|s| s.iter().cloned().collect())
                    .unwrap_or_default();
                mine.push(gap(
                    Category::Integrity,
                    GapKind::RegionMismatch,
                    *first.0,
                    last.0 + 3_600,
                    format!(
                        "{n} non-global events in {region}'s log files claim awsRegion {}",
                        claimed.join(", ")
                    ),
                ));
            }
            let unknown = totals.unreadable_files > 0
                || gaps.iter().any(|g| {
                    g.account_id == *account && g.region == *region && g.kind.is_unknown()
                });
            let has_gaps = !mine.is_empty()
                || gaps
                    .iter()
                    .any(|g| g.account_id == *account && g.region == *region);
            let status = if unknown {
                RegionStatus::Unknown
            } else if has_gaps {
                RegionStatus::Gap
            } else {
                RegionStatus::Proven
            };
            let count = mine.len()
                + gaps
                    .iter()
                    .filter(|g| g.account_id == *account && g.region == *region)
                    .count();
            gaps.extend(mine);
            results.push(RegionResult {
                account_id: account.clone(),
                region: region.clone(),
                status,
                totals,
                gaps: count,
            });
        }
    }
    gaps.sort_by(|a, b| {
        (&a.account_id, &a.region, a.start, a.category, a.kind).cmp(&(
            &b.account_id,
            &b.region,
            b.start,
            b.category,
            b.kind,
        ))
    });
    (gaps, results)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec<'a>(time: &'a str, region: &'a str, source: &'a str, ro: Option<bool>) -> Record<'a> {
        Record {
            event_time: Some(time.into()),
            aws_region: Some(region.into()),
            event_source: Some(source.into()),
            read_only: ro,
            management_event: Some(true),
            event_category: Some("Management".into()),
            ..Default::default()
        }
    }

    const H0: i64 = 1_767_225_600; // 2026-01-01T00:00:00Z

    fn exp(regions: &[&str], hours: i64) -> Expectation {
        Expectation {
            accounts: vec!["111122223333".into()],
            regions: regions.iter().map(|s| s.to_string()).collect(),
            global_region: "us-east-1".into(),
            window: (H0, H0 + hours * 3_600),
            max_silence_hours: Some(2),
            late_threshold_s: 3_600,
            attested: Default::default(),
        }
    }

    fn count(agg: &mut Aggregate, region: &str, delivered: i64, records: &[Record<'_>]) {
        let mut fc = FileCounter::new((H0, H0 + 6 * 3_600), 3_600);
        let ctx = FileContext {
            account: "111122223333",
            region,
            delivered_at: delivered,
            compressed_bytes: 100,
        };
        for r in records {
            fc.event(&ctx, agg, r);
        }
        fc.finish(&ctx, agg);
    }

    #[test]
    fn counts_cells_by_event_hour() {
        let mut agg = Aggregate::default();
        count(
            &mut agg,
            "us-east-1",
            H0 + 3_900,
            &[
                rec(
                    "2026-01-01T00:59:00Z",
                    "us-east-1",
                    "iam.amazonaws.com",
                    Some(true),
                ),
                rec(
                    "2026-01-01T01:01:00Z",
                    "us-east-1",
                    "ec2.amazonaws.com",
                    Some(false),
                ),
                rec(
                    "2026-01-01T01:02:00Z",
                    "eu-west-1",
                    "ec2.amazonaws.com",
                    Some(true),
                ),
                rec(
                    "2026-01-01T01:03:00Z",
                    "us-east-2",
                    "signin.amazonaws.com",
                    Some(false),
                ),
                rec(
                    "2025-12-31T23:00:00Z",
                    "us-east-1",
                    "ec2.amazonaws.com",
                    Some(true),
                ),
                rec("garbage", "us-east-1", "ec2.amazonaws.com", Some(true)),
            ],
        );
        let hours = &agg.cells["111122223333"]["us-east-1"];
        let h0 = &hours[&H0];
        assert_eq!(
            (
                h0.mgmt_read,
                h0.global_read,
                h0.log_files,
                h0.max_delivery_lag_s
            ),
            (1, 1, 1, 3_900 - 3_540)
        );
        let h1 = &hours[&(H0 + 3_600)];
        assert_eq!(
            (h1.mgmt_read, h1.mgmt_write, h1.global_write, h1.log_files),
            (1, 2, 1, 1)
        );
        assert_eq!(
            h1.mismatched_events, 1,
            "eu-west-1 claim counts; the global sign-in in us-east-2 does not"
        );
        assert_eq!((agg.outside_window, agg.bad_time), (1, 1));
    }

    #[test]
    fn evaluation_finds_each_gap_kind_once() {
        let mut agg = Aggregate::default();
        // us-east-1: reads, writes, global in hours 0-1 and 4-5; silent 2-3.
        for h in [0, 1, 4, 5] {
            let t = crate::time::rfc3339(H0 + h * 3_600 + 60);
            count(
                &mut agg,
                "us-east-1",
                H0 + h * 3_600 + 600,
                &[
                    rec(&t, "us-east-1", "iam.amazonaws.com", Some(true)),
                    rec(&t, "us-east-1", "ec2.amazonaws.com", Some(false)),
                ],
            );
        }
        // eu-west-1: reads only, every hour, one late in hour 3.
        for h in 0..6 {
            let t = crate::time::rfc3339(H0 + h * 3_600 + 60);
            let delivered = H0 + h * 3_600 + if h == 3 { 3 * 3_600 } else { 600 };
            count(
                &mut agg,
                "eu-west-1",
                delivered,
                &[rec(&t, "eu-west-1", "ec2.amazonaws.com", Some(true))],
            );
        }
        let (gaps, results) = evaluate(&agg, &exp(&["eu-west-1", "us-east-1"], 6), Vec::new());
        let got: Vec<(&str, &str, &str, i64, i64)> = gaps
            .iter()
            .map(|g| {
                (
                    g.region.as_str(),
                    g.category.as_str(),
                    g.kind.as_str(),
                    (g.start - H0) / 3_600,
                    (g.end - H0) / 3_600,
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                ("eu-west-1", "mgmt_write", "no_events", 0, 6),
                ("eu-west-1", "delivery", "late_delivery", 3, 4),
                ("us-east-1", "delivery", "no_log_files", 2, 4),
            ],
            "{gaps:#?}"
        );
        assert!(
            results.iter().all(|r| r.status == RegionStatus::Gap),
            "{results:#?}"
        );
    }

    #[test]
    fn unreadable_objects_make_coverage_unknown_never_proven() {
        let mut agg = Aggregate::default();
        let t = crate::time::rfc3339(H0 + 60);
        count(
            &mut agg,
            "us-east-1",
            H0 + 600,
            &[
                rec(&t, "us-east-1", "iam.amazonaws.com", Some(true)),
                rec(&t, "us-east-1", "iam.amazonaws.com", Some(false)),
            ],
        );
        let e = Expectation {
            max_silence_hours: None,
            ..exp(&["us-east-1"], 1)
        };
        let (_, ok) = evaluate(&agg, &e, Vec::new());
        assert_eq!(ok[0].status, RegionStatus::Proven);
        agg.unreadable("111122223333", "us-east-1", H0 + 1_200, e.window);
        let (_, results) = evaluate(&agg, &e, Vec::new());
        assert_eq!(results[0].status, RegionStatus::Unknown);
    }
}
