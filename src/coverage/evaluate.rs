//! Evaluation: the expected set against the aggregate, one function per rule, into gap rows
//! and per-(account, region) results; then the evidence verdict and the coverage rows.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::aggregate::{Aggregate, Counters, GLOBAL_SOURCES, Hours};
use super::gaps::{Gap, GapKind};
use crate::time::{HOUR, human_duration};

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

    /// `PROVEN`, `GAPS` or `UNKNOWN`.
    pub fn as_str(self) -> &'static str {
        match self {
            Evidence::Proven => "PROVEN",
            Evidence::Gaps => "GAPS",
            Evidence::Unknown => "UNKNOWN",
        }
    }

    /// The verdict of a run: any gap (a region's or a finding that is not merely unknown)
    /// is `GAPS`; else anything unknown, or nothing judged at all, is `UNKNOWN`.
    pub fn of(results: &[RegionResult], gaps: &[Gap]) -> Evidence {
        if results.iter().any(|r| r.status == RegionStatus::Gap)
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
        }
    }
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

/// One expected (account, region) as the rules see it.
struct Cell<'a> {
    account: &'a str,
    region: &'a str,
    hours: &'a Hours,
    totals: &'a Counters,
    exp: &'a Expectation,
    agg: &'a Aggregate,
}

impl Cell<'_> {
    fn gap(&self, kind: GapKind, span: (i64, i64), detail: impl Into<String>) -> Gap {
        Gap::new(self.account, self.region, kind, span, detail)
    }
}

/// The rules, in the order their rows are made.
const RULES: [fn(&Cell<'_>) -> Vec<Gap>; 6] = [
    no_read_events,
    no_write_events,
    no_global_events,
    silences,
    late_deliveries,
    region_mismatches,
];

fn no_read_events(c: &Cell<'_>) -> Vec<Gap> {
    (c.totals.mgmt_read == 0)
        .then(|| {
            c.gap(
                GapKind::NoReadEvents,
                c.exp.window,
                "no read management event (readOnly=true) in the window",
            )
        })
        .into_iter()
        .collect()
}

fn no_write_events(c: &Cell<'_>) -> Vec<Gap> {
    (c.totals.mgmt_write == 0)
        .then(|| {
            c.gap(
                GapKind::NoWriteEvents,
                c.exp.window,
                "no write management event (readOnly=false) in the window",
            )
        })
        .into_iter()
        .collect()
}

fn no_global_events(c: &Cell<'_>) -> Vec<Gap> {
    (c.region == c.exp.global_region && c.totals.global_read + c.totals.global_write == 0)
        .then(|| {
            c.gap(
                GapKind::NoGlobalEvents,
                c.exp.window,
                format!(
                    "no global-service event ({}) in the global region",
                    GLOBAL_SOURCES.join(", ")
                ),
            )
        })
        .into_iter()
        .collect()
}

/// With `--max-silence`: runs of hours in which no log file holds an event of the region and
/// no valid digest vouches for logging.
fn silences(c: &Cell<'_>) -> Vec<Gap> {
    let Some(max) = c.exp.max_silence_hours else {
        return Vec::new();
    };
    let (ws, we) = c.exp.window;
    let attested = c
        .exp
        .attested
        .get(&(c.account.to_owned(), c.region.to_owned()));
    let mut out = Vec::new();
    let mut run_start: Option<i64> = None;
    let mut hour = ws;
    while hour <= we {
        let silent = hour < we
            && c.hours
                .get(&hour)
                .is_none_or(|c| c.events() == 0 && c.unreadable_files == 0)
            && !attested.is_some_and(|a| a.contains(&hour));
        match (silent, run_start) {
            (true, None) => run_start = Some(hour),
            (false, Some(s)) => {
                let len = (hour - s) / HOUR;
                if len >= max {
                    out.push(c.gap(
                        GapKind::NoLogFiles,
                        (s, hour),
                        format!("no log file holds an event from these {len} hours"),
                    ));
                }
                run_start = None;
            }
            _ => {}
        }
        hour += HOUR;
    }
    out
}

fn late_deliveries(c: &Cell<'_>) -> Vec<Gap> {
    let late: Vec<(&i64, &Counters)> = c.hours.iter().filter(|(_, c)| c.late_events > 0).collect();
    let (Some(first), Some(last)) = (late.first(), late.last()) else {
        return Vec::new();
    };
    let n: u64 = late.iter().map(|(_, c)| c.late_events).sum();
    let max_lag = late
        .iter()
        .map(|(_, c)| c.max_delivery_lag_s)
        .max()
        .unwrap_or(0);
    vec![c.gap(
        GapKind::LateDelivery,
        (*first.0, last.0 + HOUR),
        format!(
            "{n} events delivered more than {} late (max {})",
            human_duration(c.exp.late_threshold_s),
            human_duration(max_lag)
        ),
    )]
}

fn region_mismatches(c: &Cell<'_>) -> Vec<Gap> {
    let mis: Vec<(&i64, &Counters)> = c
        .hours
        .iter()
        .filter(|(_, c)| c.mismatched_events > 0)
        .collect();
    let (Some(first), Some(last)) = (mis.first(), mis.last()) else {
        return Vec::new();
    };
    let n: u64 = mis.iter().map(|(_, c)| c.mismatched_events).sum();
    let claimed: Vec<String> = c
        .agg
        .mismatch_regions
        .get(&(c.account.to_owned(), c.region.to_owned()))
        .map(|s| s.iter().cloned().collect())
        .unwrap_or_default();
    vec![c.gap(
        GapKind::RegionMismatch,
        (*first.0, last.0 + HOUR),
        format!(
            "{n} non-global events in {}'s log files claim awsRegion {}",
            c.region,
            claimed.join(", ")
        ),
    )]
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
            let cell = Cell {
                account,
                region,
                hours,
                totals: &totals,
                exp,
                agg,
            };
            let mine: Vec<Gap> = RULES.iter().flat_map(|rule| rule(&cell)).collect();
            let found = || {
                gaps.iter()
                    .filter(|g| g.account_id == *account && g.region == *region)
            };
            let unknown = totals.unreadable_files > 0 || found().any(|g| g.kind.is_unknown());
            let count = mine.len() + found().count();
            let status = if unknown {
                RegionStatus::Unknown
            } else if count > 0 {
                RegionStatus::Gap
            } else {
                RegionStatus::Proven
            };
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
    super::gaps::sort(&mut gaps);
    (gaps, results)
}

/// The whole hours spanned by the observed events.
pub fn observed_window(agg: &Aggregate) -> (i64, i64) {
    let mut lo = i64::MAX;
    let mut hi = i64::MIN;
    for regs in agg.cells.values() {
        for hours in regs.values() {
            if let (Some(first), Some(last)) = (hours.keys().next(), hours.keys().next_back()) {
                lo = lo.min(*first);
                hi = hi.max(*last + HOUR);
            }
        }
    }
    if lo > hi { (0, 0) } else { (lo, hi) }
}

/// The rows of `coverage.parquet`: dense for the expected set over `window` (silent hours
/// have a row of zeros), plus any other observed cell in the window, in key order.
pub fn coverage_rows<'a>(
    agg: &'a Aggregate,
    accounts: &[String],
    regions: &[String],
    window: (i64, i64),
) -> BTreeMap<(String, String, i64), &'a Counters> {
    static ZERO: std::sync::LazyLock<Counters> = std::sync::LazyLock::new(Counters::default);
    let mut rows: BTreeMap<(String, String, i64), &Counters> = BTreeMap::new();
    for a in accounts {
        for r in regions {
            let mut h = window.0;
            while h < window.1 {
                rows.insert((a.clone(), r.clone(), h), &ZERO);
                h += HOUR;
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
    rows
}
