//! The aggregate: counters per (account, region, hour of eventTime), counted per worker
//! without locks or per-event allocation, and merged once.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::Serialize;

use crate::decode::{EventClass, Record};
use crate::time::parse_event_time;

/// How far past its file's delivery stamp an event may be dated: the stamp has minute
/// resolution, plus five minutes of clock skew. CloudTrail cannot deliver an event before it
/// happens; anything later proves nothing.
pub const FUTURE_ALLOWANCE_S: i64 = 6 * 60;

pub use crate::time::CLOUDTRAIL_EPOCH;

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
    /// Events without a parseable `eventTime`, or dated before CloudTrail existed.
    pub bad_time: u64,
    /// Events dated after their file's delivery stamp (beyond [`FUTURE_ALLOWANCE_S`]): not
    /// counted as coverage.
    pub after_delivery: u64,
    /// Per (account, delivering region): such events, and the first and last delivery stamp
    /// of the files that held them.
    pub after_delivery_cells: BTreeMap<(String, String), (u64, i64, i64)>,
    /// Per (account of the key, delivering region): events whose `recipientAccountId` names
    /// another account (counted, and reported), and the accounts they name.
    pub account_mismatches: BTreeMap<(String, String), (u64, BTreeSet<String>)>,
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
    /// Events of the current file dated after its delivery.
    after_delivery: u64,
    /// Events of the current file without a valid time, or outside the window.
    bad_time: u64,
    outside_window: u64,
    /// Events of the current file naming another recipient account, and the accounts named.
    other_recipients: (u64, BTreeSet<String>),
}

impl FileCounter {
    pub fn new(window: (i64, i64), late_threshold_s: i64) -> Self {
        FileCounter {
            scratch: BTreeMap::new(),
            window,
            late_threshold_s,
            mismatched_claims: BTreeSet::new(),
            after_delivery: 0,
            bad_time: 0,
            outside_window: 0,
            other_recipients: (0, BTreeSet::new()),
        }
    }

    /// Counts one record of the current file (into the file's own counts: the aggregate gets
    /// them at [`FileCounter::finish`], never from a file that fails midway).
    pub fn event(&mut self, ctx: &FileContext<'_>, _agg: &mut Aggregate, r: &Record<'_>) {
        let Some(t) = r
            .event_time
            .as_deref()
            .and_then(parse_event_time)
            .filter(|t| *t >= CLOUDTRAIL_EPOCH)
        else {
            self.bad_time += 1;
            return;
        };
        if t > ctx.delivered_at + FUTURE_ALLOWANCE_S {
            self.after_delivery += 1;
            return;
        }
        if t < self.window.0 || t >= self.window.1 {
            self.outside_window += 1;
            return;
        }
        if let Some(recipient) = r.recipient_account_id.as_deref()
            && recipient != ctx.account
        {
            self.other_recipients.0 += 1;
            if !self.other_recipients.1.contains(recipient) {
                self.other_recipients.1.insert(recipient.to_owned());
            }
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
        agg.bad_time += std::mem::take(&mut self.bad_time);
        agg.outside_window += std::mem::take(&mut self.outside_window);
        if self.other_recipients.0 > 0 {
            let (n, names) = std::mem::take(&mut self.other_recipients);
            let e = agg
                .account_mismatches
                .entry((ctx.account.to_owned(), ctx.region.to_owned()))
                .or_default();
            e.0 += n;
            e.1.extend(names);
        }
        if self.after_delivery > 0 {
            let n = std::mem::take(&mut self.after_delivery);
            agg.after_delivery += n;
            let e = agg
                .after_delivery_cells
                .entry((ctx.account.to_owned(), ctx.region.to_owned()))
                .or_insert((0, i64::MAX, i64::MIN));
            e.0 += n;
            e.1 = e.1.min(ctx.delivered_at);
            e.2 = e.2.max(ctx.delivered_at);
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
        self.after_delivery = 0;
        self.bad_time = 0;
        self.outside_window = 0;
        self.other_recipients = (0, BTreeSet::new());
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
        self.after_delivery += other.after_delivery;
        for (k, (n, names)) in other.account_mismatches {
            let e = self.account_mismatches.entry(k).or_default();
            e.0 += n;
            e.1.extend(names);
        }
        for (k, (n, first, last)) in other.after_delivery_cells {
            let e = self
                .after_delivery_cells
                .entry(k)
                .or_insert((0, i64::MAX, i64::MIN));
            e.0 += n;
            e.1 = e.1.min(first);
            e.2 = e.2.max(last);
        }
        for (k, v) in other.mismatch_regions {
            self.mismatch_regions.entry(k).or_default().extend(v);
        }
    }
}
