//! Evaluation: the expected set against the aggregate, one function per rule, into gap rows
//! and per-(account, region) results; then the evidence verdict and the coverage rows.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::aggregate::{Aggregate, Counters, GLOBAL_SOURCES, Hours};
use super::gaps::{Gap, GapKind};
use crate::time::{HOUR, human_duration};

/// The verdict of one (account, region).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
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
    /// Carried from the previous run (`--state`): per (account, region), the start of the
    /// silence that ran to that run's end. A stretch of this window that starts at the
    /// window's start continues it, so a silence across the runs' boundary is one silence.
    pub silent_since: BTreeMap<(String, String), i64>,
    /// `--shard K/N`: only the cells this shard owns are expected.
    pub shard: Option<crate::shard::Shard>,
    /// Where the next run (`--state`) starts: the window's end minus the delivery grace. A
    /// silence reaching it is carried to that run.
    pub next_start: i64,
}

impl Expectation {
    /// Whether the cell is expected of this run: in the lists, and this shard's.
    pub fn expects(&self, account: &str, region: &str) -> bool {
        self.shard.is_none_or(|s| s.owns(account, region))
    }
}

/// Per-(account, region) result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RegionResult {
    pub account_id: String,
    pub region: String,
    pub status: RegionStatus,
    pub totals: Counters,
    pub gaps: usize,
    /// The start of the silence that reaches where the next run starts (carried over from the
    /// previous run when it spans the whole window), for the next run (`--state`).
    #[serde(skip)]
    pub silent_since: Option<i64>,
}

/// One expected (account, region) as the rules see it.
struct Cell<'a> {
    account: &'a str,
    region: &'a str,
    hours: &'a Hours,
    totals: &'a Counters,
    exp: &'a Expectation,
    agg: &'a Aggregate,
    /// Spans whose evidence is unknown (a failed listing, an unverified digest): absence
    /// there proves nothing, so no absence rule may call it a gap.
    unknown: &'a [(i64, i64)],
}

impl Cell<'_> {
    /// Whether anything about this cell is unknown: then the absence of an event class is
    /// unknown too, never a gap.
    fn any_unknown(&self) -> bool {
        self.totals.unreadable_files > 0 || !self.unknown.is_empty()
    }
}

impl Cell<'_> {
    fn gap(&self, kind: GapKind, span: (i64, i64), detail: impl Into<String>) -> Gap {
        Gap::new(self.account, self.region, kind, span, detail)
    }
}

/// The rules, in the order their rows are made.
const RULES: [fn(&Cell<'_>) -> Vec<Gap>; 7] = [
    no_read_events,
    no_write_events,
    no_global_events,
    silences,
    late_deliveries,
    region_mismatches,
    events_after_delivery,
];

fn no_read_events(c: &Cell<'_>) -> Vec<Gap> {
    (!c.any_unknown() && c.totals.mgmt_read == 0)
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
    (!c.any_unknown() && c.totals.mgmt_write == 0)
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
    (!c.any_unknown()
        && c.region == c.exp.global_region
        && c.totals.global_read + c.totals.global_write == 0)
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

/// With `--max-silence`: the silent stretches at least that long.
fn silences(c: &Cell<'_>) -> Vec<Gap> {
    let Some(max) = c.exp.max_silence_hours else {
        return Vec::new();
    };
    c.silent_stretches()
        .into_iter()
        .filter(|(s, e)| (e - s) / HOUR >= max)
        .map(|(s, e)| {
            let len = (e - s) / HOUR;
            c.gap(
                GapKind::NoLogFiles,
                (s, e),
                format!("no log file holds an event from these {len} hours"),
            )
        })
        .collect()
}

impl Cell<'_> {
    /// Runs of hours in which no log file holds an event of the region, nothing unknown was
    /// delivered and no valid digest vouches for logging; the first starts at the carried
    /// `silent_since` when it starts at the window's start. Walks the non-silent hours only,
    /// so its cost grows with what was observed, not with the length of the window.
    fn silent_stretches(&self) -> Vec<(i64, i64)> {
        let key = (self.account.to_owned(), self.region.to_owned());
        let attested = self.exp.attested.get(&key);
        let observed = self
            .hours
            .iter()
            .filter(|(_, c)| c.events() > 0 || c.unreadable_files > 0)
            .map(|(h, _)| *h);
        // Hours of unknown evidence are not silent: what they hold is not known.
        let unknown = self
            .unknown
            .iter()
            .flat_map(|(s, e)| (s - s.rem_euclid(HOUR)..*e).step_by(HOUR as usize));
        let mut stretches: Vec<(i64, i64)> = silent_stretches(
            self.exp.window,
            observed.chain(unknown),
            attested.into_iter().flatten().copied(),
        )
        .collect();
        if let (Some(first), Some(since)) = (stretches.first_mut(), self.exp.silent_since.get(&key))
            && first.0 == self.exp.window.0
        {
            first.0 = first.0.min(*since);
        }
        stretches
    }
}

/// The maximal runs `[start, end)` of whole hours in `window` that are in neither of the
/// sorted sequences of busy hours.
pub fn silent_stretches(
    window: (i64, i64),
    busy: impl Iterator<Item = i64>,
    also_busy: impl Iterator<Item = i64>,
) -> impl Iterator<Item = (i64, i64)> {
    let mut busy: Vec<i64> = busy
        .chain(also_busy)
        .filter(|h| *h >= window.0 && *h < window.1)
        .collect();
    busy.sort_unstable();
    busy.dedup();
    let mut from = window.0;
    let mut out = Vec::new();
    for h in busy.into_iter().chain(std::iter::once(window.1)) {
        if h > from {
            out.push((from, h));
        }
        from = h + HOUR;
    }
    out.into_iter()
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

/// Events dated after their own file's delivery: never coverage, always a finding.
fn events_after_delivery(c: &Cell<'_>) -> Vec<Gap> {
    let Some((n, first, last)) = c
        .agg
        .after_delivery_cells
        .get(&(c.account.to_owned(), c.region.to_owned()))
    else {
        return Vec::new();
    };
    let start = first - first.rem_euclid(HOUR);
    let end = last - last.rem_euclid(HOUR) + HOUR;
    vec![c.gap(
        GapKind::EventAfterDelivery,
        (start, end),
        format!(
            "{n} events dated more than {} after the delivery of the file that holds them (files delivered {} .. {}): not counted",
            human_duration(super::aggregate::FUTURE_ALLOWANCE_S),
            crate::time::rfc3339(*first),
            crate::time::rfc3339(*last)
        ),
    )]
}

/// Findings already made for one cell.
#[derive(Default)]
struct Found {
    /// Definite findings (gaps).
    definite: usize,
    /// Findings that leave something unknown.
    unknown: usize,
    /// The spans whose log evidence is unknown (unreadable objects, failed listings, digests):
    /// absence there proves nothing. A canary's unknown (`pending`, `not_sent`) leaves the
    /// probe unknown, not the logs, so it adds no span: the absence rules still judge.
    spans: Vec<(i64, i64)>,
}

/// Evaluates the aggregate: gap rows (sorted) and per-(account, region) results.
/// `failures` are per-object or per-prefix failures already turned into gap rows.
pub fn evaluate(
    agg: &Aggregate,
    exp: &Expectation,
    failures: Vec<Gap>,
) -> (Vec<Gap>, Vec<RegionResult>) {
    // Per-cell findings already made (unreadable objects, failed listings, digests).
    let mut found: BTreeMap<(&str, &str), Found> = BTreeMap::new();
    for g in &failures {
        let e = found
            .entry((g.account_id.as_str(), g.region.as_str()))
            .or_default();
        if !g.kind.is_unknown() {
            e.definite += 1;
        } else {
            e.unknown += 1;
            if g.category != super::gaps::Category::Canary {
                e.spans
                    .push((g.start.max(exp.window.0), g.end.min(exp.window.1)));
            }
        }
    }
    let none = Found::default();
    let mut mine_all = Vec::new();
    let mut results = Vec::new();
    let empty = Hours::new();
    for account in &exp.accounts {
        for region in exp.regions.iter().filter(|r| exp.expects(account, r)) {
            let hours = agg
                .cells
                .get(account)
                .and_then(|r| r.get(region))
                .unwrap_or(&empty);
            let mut totals = Counters::default();
            for c in hours.values() {
                totals.merge(c);
            }
            let earlier = found
                .get(&(account.as_str(), region.as_str()))
                .unwrap_or(&none);
            let cell = Cell {
                account,
                region,
                hours,
                totals: &totals,
                exp,
                agg,
                unknown: &earlier.spans,
            };
            let mine: Vec<Gap> = RULES.iter().flat_map(|rule| rule(&cell)).collect();
            let silent_since = cell
                .silent_stretches()
                .into_iter()
                .find(|(s, e)| *s < exp.next_start && *e >= exp.next_start)
                .map(|(s, _)| s);
            let unknown = cell.any_unknown() || earlier.unknown > 0;
            let count = mine.len() + earlier.definite + earlier.unknown;
            // A definite gap stays a gap beside something unknown; unknown alone is unknown.
            let definite = !mine.is_empty() || earlier.definite > 0;
            let status = if definite {
                RegionStatus::Gap
            } else if unknown {
                RegionStatus::Unknown
            } else {
                RegionStatus::Proven
            };
            mine_all.extend(mine);
            results.push(RegionResult {
                account_id: account.clone(),
                region: region.clone(),
                status,
                totals,
                gaps: count,
                silent_since,
            });
        }
    }
    drop(found);
    let mut gaps = failures;
    gaps.extend(mine_all);
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

/// The rows of `coverage.parquet`, streamed in key order (account, region, hour) without
/// materializing the grid: every observed cell in `window`, and when `dense`, a row of zeros
/// for every silent hour of an expected (account, region).
pub fn coverage_rows<'a>(
    agg: &'a Aggregate,
    accounts: &'a [String],
    regions: &'a [String],
    window: (i64, i64),
    dense: bool,
    shard: Option<crate::shard::Shard>,
) -> impl Iterator<Item = (&'a str, &'a str, i64, &'a Counters)> + 'a {
    static ZERO: std::sync::LazyLock<Counters> = std::sync::LazyLock::new(Counters::default);
    static EMPTY: std::sync::LazyLock<Hours> = std::sync::LazyLock::new(Hours::new);
    let mut cells: BTreeMap<(&'a str, &'a str), bool> = BTreeMap::new();
    for (a, regs) in &agg.cells {
        for r in regs.keys() {
            cells.insert((a.as_str(), r.as_str()), false);
        }
    }
    for a in accounts {
        for r in regions {
            if shard.is_none_or(|s| s.owns(a, r)) {
                cells.insert((a.as_str(), r.as_str()), true);
            }
        }
    }
    cells.into_iter().flat_map(move |((a, r), expected)| {
        let hours: &'a Hours = agg
            .cells
            .get(a)
            .and_then(|regs| regs.get(r))
            .unwrap_or(&EMPTY);
        let observed = hours
            .range(window.0..window.1)
            .map(move |(h, c)| (a, r, *h, c));
        let grid: Box<dyn Iterator<Item = (&'a str, &'a str, i64, &'a Counters)> + 'a> =
            if dense && expected {
                Box::new(
                    (window.0..window.1)
                        .step_by(HOUR as usize)
                        .map(move |h| (a, r, h, hours.get(&h).unwrap_or(&ZERO))),
                )
            } else {
                Box::new(observed)
            };
        grid
    })
}

/// One silent stretch of an expected (account, region): `[start, end)`, whole hours in which
/// no log file holds an event and nothing unreadable was delivered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Silence<'a> {
    pub account_id: &'a str,
    pub region: &'a str,
    pub start: i64,
    pub end: i64,
}

/// The silent stretches of every expected (account, region) in `window`, in key order: what
/// the zero rows of a dense `coverage.parquet` would say, in a row per stretch. Their number
/// grows with the observed hours, not with the length of the window.
pub fn silent_stretches_of<'a>(
    agg: &'a Aggregate,
    accounts: &'a [String],
    regions: &'a [String],
    window: (i64, i64),
    shard: Option<crate::shard::Shard>,
) -> impl Iterator<Item = Silence<'a>> + 'a {
    let mut cells: Vec<(&'a str, &'a str)> = accounts
        .iter()
        .flat_map(|a| regions.iter().map(move |r| (a.as_str(), r.as_str())))
        .filter(|(a, r)| shard.is_none_or(|s| s.owns(a, r)))
        .collect();
    cells.sort_unstable();
    cells.into_iter().flat_map(move |(a, r)| {
        let hours = agg.cells.get(a).and_then(|regs| regs.get(r));
        let busy = hours
            .into_iter()
            .flatten()
            .filter(|(_, c)| c.events() > 0 || c.unreadable_files > 0)
            .map(|(h, _)| *h);
        silent_stretches(window, busy, std::iter::empty()).map(move |(start, end)| Silence {
            account_id: a,
            region: r,
            start,
            end,
        })
    })
}
