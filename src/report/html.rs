//! `report.html`: the evidence an auditor reads, made from the evidence directory alone. One
//! self-contained file (no network, fonts, external styles or frameworks; one small inline
//! script that opens the drill-downs for printing), print CSS with a page per section.
//!
//! Sections in order: verdict and scope; configuration findings; a coverage heat map per
//! account (region x hour, or region x day with per-day hourly drill-downs past 7 days); the
//! gaps; trail changes and the timeline they share with the gaps; integrity; the control
//! mapping; the method and the SHA-256 of every output. Cell states carry a glyph as well as
//! a colour, so they survive greyscale printing and colour-blindness.

use std::collections::BTreeMap;

use super::evidence::{self, ChangeRow, Columns, GapRow, Run};
use crate::error::Result;
use crate::time::{HOUR, rfc3339};

/// Appends formatted text to the page being built (a `String`: nothing can fail).
macro_rules! put {
    ($h:expr, $($t:tt)*) => {
        $h.push_str(&format!($($t)*))
    };
}

/// Heat maps are drawn for this many accounts; the rest are summarized.
pub const MAX_HEATMAP_ACCOUNTS: usize = 50;
/// Windows up to this many days get an hourly heat map; longer ones a daily one.
pub const HOURLY_UP_TO_DAYS: i64 = 7;
/// Windows up to this many days get hourly drill-downs under the daily map.
pub const DRILL_DOWN_UP_TO_DAYS: i64 = 31;
/// Heat-map cells per report, about (whole accounts are left out past it; the first is always
/// drawn): about 2.5 MB of HTML.
pub const MAX_CELLS: usize = 60_000;
/// Columns of a heat map at most (longer windows get cells of several days).
const MAX_COLUMNS: i64 = 366;
/// Gap and trail-change rows listed (all of them are in the Parquet tables).
pub const MAX_ROWS: usize = 500;

/// The state of one cell of the heat map, in order of precedence (worst first).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum State {
    Gap,
    Unknown,
    Proven,
    Heartbeat,
    Silent,
    NotExpected,
}

impl State {
    fn class(self) -> &'static str {
        match self {
            State::Gap => "g",
            State::Unknown => "u",
            State::Proven => "p",
            State::Heartbeat => "h",
            State::Silent => "s",
            State::NotExpected => "n",
        }
    }

    fn glyph(self) -> &'static str {
        match self {
            State::Gap => "X",
            State::Unknown => "?",
            State::Proven => "+",
            State::Heartbeat => "~",
            State::Silent => ".",
            State::NotExpected => "-",
        }
    }

    fn name(self) -> &'static str {
        match self {
            State::Gap => "gap",
            State::Unknown => "unknown",
            State::Proven => "proven",
            State::Heartbeat => "silent but logging",
            State::Silent => "silent",
            State::NotExpected => "not expected",
        }
    }

    fn meaning(self) -> &'static str {
        match self {
            State::Gap => {
                "a definite finding covers this time (a silence past the limit, a missing, altered or unlisted log file, a broken digest)"
            }
            State::Unknown => {
                "some evidence could not be read (an unreadable object, a failed listing, an unverifiable digest): never proven"
            }
            State::Proven => "management or global-service events were delivered for this time",
            State::Heartbeat => {
                "no management event, but a valid digest (or other delivered events) shows CloudTrail was logging"
            }
            State::Silent => {
                "nothing delivered and no digest heartbeat: quiet, and nothing shows logging was on"
            }
            State::NotExpected => {
                "the region is not in the expected set (events found there are counted, not judged)"
            }
        }
    }

    const ALL: [State; 6] = [
        State::Proven,
        State::Heartbeat,
        State::Silent,
        State::Gap,
        State::Unknown,
        State::NotExpected,
    ];
}

/// Counts of one hour of one (account, region).
#[derive(Debug, Clone, Copy, Default)]
struct Hour {
    read: u64,
    write: u64,
    global: u64,
    other: u64,
    unreadable: u64,
    attested: bool,
    /// Set from the gap rows.
    gap: bool,
    unknown: bool,
    change: bool,
}

impl Hour {
    fn state(&self, expected: bool) -> State {
        if !expected {
            State::NotExpected
        } else if self.gap {
            State::Gap
        } else if self.unknown || self.unreadable > 0 {
            State::Unknown
        } else if self.read + self.write + self.global > 0 {
            State::Proven
        } else if self.attested || self.other > 0 {
            State::Heartbeat
        } else {
            State::Silent
        }
    }

    fn add(&mut self, o: &Hour) {
        self.read += o.read;
        self.write += o.write;
        self.global += o.global;
        self.other += o.other;
        self.unreadable += o.unreadable;
    }
}

/// The grid of one account: region -> hour index -> counts.
type Grid = BTreeMap<String, Vec<Hour>>;

fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

const CSS: &str = r#"
:root{--p:#2166ac;--h:#92c5de;--s:#f7f7f7;--g:#b2182b;--u:#f4a582;--n:#bdbdbd;font-family:system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;color:#111}
body{margin:1.5rem auto;max-width:1200px;padding:0 1rem;line-height:1.4}
h1{font-size:1.6rem;margin:.2rem 0}h2{font-size:1.25rem;border-bottom:2px solid #333;padding-bottom:.2rem;margin-top:2rem}h3{font-size:1.05rem}
table{border-collapse:collapse;margin:.5rem 0;font-size:.85rem}th,td{border:1px solid #ccc;padding:.15rem .35rem;text-align:left;vertical-align:top}
th{background:#eee}code,pre{font-family:ui-monospace,"DejaVu Sans Mono",monospace;font-size:.8rem}pre{background:#f4f4f4;padding:.5rem;white-space:pre-wrap;word-break:break-all}
.verdict{display:inline-block;padding:.3rem .8rem;border:3px solid #111;font-weight:700;font-size:1.3rem;letter-spacing:.05em}
.v-PROVEN,.v-PASS,.v-VALID{background:#d1e5f0}.v-GAPS,.v-FAIL,.v-INVALID{background:#fddbc7;border-style:double}.v-UNKNOWN,.v-INCONCLUSIVE,.v-ERROR{background:#fff3c4;border-style:dashed}
.scroll{overflow-x:auto}caption{caption-side:bottom;text-align:left}
table.heatmap{font-size:.72rem;table-layout:fixed}table.heatmap td{width:1.25em;height:1.25em;padding:0;text-align:center;border:1px solid #fff;font-family:ui-monospace,"DejaVu Sans Mono",monospace;font-weight:700}
table.heatmap th{font-weight:400;white-space:nowrap;padding:0 .3rem}table.heatmap thead th{writing-mode:vertical-rl;transform:rotate(180deg);height:4.6em;font-size:.6rem;padding:0}
td.p{background:var(--p);color:#fff}td.h{background:var(--h);color:#000}td.s{background:var(--s);color:#777}
td.g{background:var(--g);color:#fff}td.u{background:repeating-linear-gradient(45deg,var(--u),var(--u) 2px,#fff 2px,#fff 4px);color:#000}td.n{background:var(--n);color:#333}
td.t{outline:2px solid #000;outline-offset:-2px}
.legend td.cell{width:1.4em;text-align:center;font-weight:700}
.rw{color:#b2182b;font-weight:700}
.muted{color:#555}.small{font-size:.8rem}
details{margin:.2rem 0}summary{cursor:pointer}
*{-webkit-print-color-adjust:exact;print-color-adjust:exact}
@media print{body{max-width:none;margin:0}section{break-before:page}section:first-of-type{break-before:auto}.scroll{overflow:visible}table{break-inside:auto}tr{break-inside:avoid}a{color:inherit;text-decoration:none}}
"#;

/// Renders the report.
pub fn render(run: &Run) -> Result<String> {
    // Gap rows are read a bounded number at a time (the heat map streams them); trail
    // changes whole (at most MAX_TRAIL_CHANGES), so every gap is set beside the right one.
    let (gaps, gaps_total) = evidence::read_gaps(&run.dir, MAX_ROWS, |_| true)?;
    let (changes, changes_total) =
        evidence::read_changes(&run.dir, crate::coverage::changes::MAX_TRAIL_CHANGES)?;
    let mut h = String::with_capacity(256 * 1024);
    let verdict = if run.verdict.is_empty() {
        "UNKNOWN"
    } else {
        &run.verdict
    };
    put!(
        h,
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width,initial-scale=1\"><title>trailproof evidence: {} ({})</title><style>{CSS}</style></head>\n<body data-verdict=\"{}\">\n",
        esc(verdict),
        esc(&run.source),
        esc(verdict)
    );
    section_verdict(&mut h, run, verdict);
    section_config(&mut h, run);
    section_coverage(&mut h, run, &changes)?;
    section_canary(&mut h, run);
    section_gaps(&mut h, &gaps, gaps_total, &changes);
    let (timed, _) = evidence::read_gaps(&run.dir, MAX_ROWS, |g| !g.is_region_wide())?;
    section_changes(&mut h, &changes, changes_total, &timed);
    let integrity = evidence::read_gaps(&run.dir, MAX_ROWS, |g| g.category == "integrity")?;
    section_integrity(&mut h, run, integrity);
    section_controls(&mut h, run);
    section_method(&mut h, run)?;
    h.push_str("<script>addEventListener(\"beforeprint\",function(){document.querySelectorAll(\"details\").forEach(function(d){d.open=true})});</script>\n</body></html>\n");
    Ok(h)
}

fn meaning(verdict: &str) -> &'static str {
    match verdict {
        "PROVEN" => {
            "Every expected region delivered read and write management events (and global-service events in the global region) for the whole window, and no finding stands against the evidence."
        }
        "GAPS" => {
            "At least one definite gap: a region, an event class or a stretch of time was not recorded, or the evidence fails its integrity checks. See the gaps and the timeline."
        }
        "UNKNOWN" => {
            "No definite gap, but some evidence could not be read or checked: coverage is not proven."
        }
        "VALID" => {
            "Every digest chain of the window is valid and every log file is the one its digest lists."
        }
        "INVALID" => {
            "The digest chains or the log files fail validation: see the integrity findings."
        }
        "PASS" => "The configuration records read and write management events in every region.",
        "FAIL" => {
            "The configuration does not record every region's read and write management events."
        }
        "INCONCLUSIVE" => "The configuration could not be fully read: not shown either way.",
        _ => "The run could not be completed; nothing is proven.",
    }
}

fn section_verdict(h: &mut String, run: &Run, verdict: &str) {
    put!(
        h,
        "<section id=\"verdict\"><h1>trailproof evidence report</h1>\n<p><span class=\"verdict v-{v}\" id=\"verdict-value\">{v}</span> <span class=\"muted\">exit code {}</span></p>\n<p>{}</p>\n<table><tbody>",
        run.exit_code,
        meaning(verdict),
        v = esc(verdict),
    );
    let rows = [
        ("Command", format!("trailproof {}", run.command)),
        (
            "Window",
            format!(
                "{} .. {} ({} hours)",
                rfc3339(run.window.0),
                rfc3339(run.window.1),
                (run.window.1 - run.window.0).max(0) / HOUR
            ),
        ),
        ("Source", run.source.clone()),
        ("Accounts", join_or(&run.accounts, "as found in the source")),
        (
            "Regions",
            format!(
                "{} ({})",
                join_or(&run.regions, "as found in the source"),
                run.regions.len()
            ),
        ),
        ("Global region", run.global_region.clone()),
        ("Generated at", run.generated_at.clone()),
    ];
    for (k, v) in rows {
        put!(h, "<tr><th scope=\"row\">{k}</th><td>{}</td></tr>", esc(&v));
    }
    h.push_str("</tbody></table></section>\n");
}

fn join_or(v: &[String], none: &str) -> String {
    if v.is_empty() {
        none.into()
    } else {
        v.join(", ")
    }
}

fn section_config(h: &mut String, run: &Run) {
    h.push_str("<section id=\"config\"><h2>Configuration</h2>\n");
    let Some(cfg) = run.doc.get("config").filter(|c| !c.is_null()) else {
        if let Some(shard) = run.doc["parameters"]["shard"]
            .as_str()
            .filter(|_| run.command == "verify")
        {
            put!(
                h,
                "<p class=\"muted\">Not checked by this shard ({}): shard 0 checks the configuration once for all shards, and <code>trailproof merge</code> carries its result.</p></section>\n",
                esc(shard)
            );
            return;
        }
        put!(
            h,
            "<p class=\"muted\">Not checked by this command (<code>trailproof {}</code> reads the delivered logs only; <code>trailproof verify</code> checks the configuration too).</p></section>\n",
            esc(&run.command)
        );
        return;
    };
    let s = |p: &str| {
        cfg.pointer(p)
            .and_then(|v| v.as_str())
            .unwrap_or("")
            .to_owned()
    };
    let verdict = s("/verdict");
    put!(
        h,
        "<p>Configuration verdict: <span class=\"verdict v-{v}\">{v}</span> <span class=\"muted\">({} ruleset)</span></p>",
        esc(&s("/ruleset")),
        v = esc(&verdict)
    );
    if let Some(reasons) = cfg.get("reasons").and_then(|r| r.as_array())
        && !reasons.is_empty()
    {
        let list: Vec<String> = reasons
            .iter()
            .filter_map(|r| r.as_str())
            .map(|r| format!("<code>{}</code>", esc(r)))
            .collect();
        put!(h, "<p>Reason codes: {}</p>", list.join(", "));
    }
    let findings = cfg
        .get("findings")
        .and_then(|f| f.as_array())
        .cloned()
        .unwrap_or_default();
    if findings.is_empty() {
        h.push_str("<p>No configuration finding.</p>");
    } else {
        h.push_str("<table id=\"config-findings\"><thead><tr><th>Reason</th><th>Severity</th><th>Trail</th><th>Region</th><th>Finding</th><th>Controls</th></tr></thead><tbody>");
        let short = crate::report::controls::Statement::Configuration.core_references();
        for f in &findings {
            let g = |k: &str| f.get(k).and_then(|v| v.as_str()).unwrap_or("");
            put!(
                h,
                "<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"small\">{}</td></tr>",
                esc(g("reason")),
                esc(g("severity")),
                esc(g("trail_arn")),
                esc(g("region")),
                esc(g("message")),
                esc(&short)
            );
        }
        h.push_str("</tbody></table>");
    }
    if let Some(rem) = cfg.get("remediation").and_then(|r| r.as_array())
        && !rem.is_empty()
    {
        h.push_str("<h3>Remediation</h3><pre id=\"remediation\">");
        for r in rem.iter().filter_map(|r| r.as_str()) {
            put!(h, "{}\n", esc(r));
        }
        h.push_str("</pre>");
    }
    h.push_str("</section>\n");
}

/// Reads `coverage.parquet` into a grid per account (at most [`MAX_HEATMAP_ACCOUNTS`]).
/// `columns` cells of `step` hours each per (account, region).
fn read_grids(run: &Run, columns: usize, step: i64) -> Result<BTreeMap<String, Grid>> {
    let mut grids: BTreeMap<String, Grid> = BTreeMap::new();
    let allowed: std::collections::BTreeSet<&str> = run
        .accounts
        .iter()
        .take(MAX_HEATMAP_ACCOUNTS)
        .map(String::as_str)
        .collect();
    evidence::read_table(&run.dir, "coverage.parquet", |b| {
        let c = Columns { batch: b };
        let (acc, reg) = (c.strings("account_id")?, c.strings("region")?);
        let hour = c.times("hour")?;
        let (r, w, mu, gr, gw, de, oe, un) = (
            c.u64s("mgmt_read")?,
            c.u64s("mgmt_write")?,
            c.u64s("mgmt_unknown")?,
            c.u64s("global_read")?,
            c.u64s("global_write")?,
            c.u64s("data_events")?,
            c.u64s("other_events")?,
            c.u64s("unreadable_files")?,
        );
        let attested = c.bools("digest_attested").ok();
        for (i, t) in hour.iter().enumerate() {
            let a = acc.value(i);
            if !allowed.is_empty() && !allowed.contains(a) {
                continue;
            }
            if allowed.is_empty() && grids.len() >= MAX_HEATMAP_ACCOUNTS && !grids.contains_key(a) {
                continue;
            }
            let Some(t) = *t else { continue };
            let idx = (t - run.window.0).div_euclid(step * HOUR);
            if idx < 0 || idx as usize >= columns {
                continue;
            }
            let cells = grids
                .entry(a.to_owned())
                .or_default()
                .entry(reg.value(i).to_owned())
                .or_insert_with(|| vec![Hour::default(); columns]);
            let cell = &mut cells[idx as usize];
            cell.read += r.value(i) + mu.value(i);
            cell.write += w.value(i);
            cell.global += gr.value(i) + gw.value(i);
            cell.other += de.value(i) + oe.value(i);
            cell.unreadable += un.value(i);
            cell.attested |= attested.as_ref().is_some_and(|a| a.value(i));
        }
        Ok(())
    })?;
    // Expected cells with no row (long windows keep only observed rows): silent.
    for a in &allowed {
        let g = grids.entry((*a).to_owned()).or_default();
        for r in &run.regions {
            g.entry(r.clone())
                .or_insert_with(|| vec![Hour::default(); columns]);
        }
    }
    Ok(grids)
}

fn section_coverage(h: &mut String, run: &Run, changes: &[ChangeRow]) -> Result<()> {
    h.push_str("<section id=\"coverage\"><h2>Coverage heat map</h2>\n");
    let hours = ((run.window.1 - run.window.0) / HOUR).clamp(0, 24 * 3_660) as usize;
    let has_coverage = run.dir.join("coverage.parquet").is_file();
    if !has_coverage || hours == 0 {
        h.push_str(if run.command == "validate" {
            "<p class=\"muted\">No coverage table: digest validation hashes the log files without counting their events.</p></section>\n"
        } else {
            "<p class=\"muted\">No log phase in this run (the configuration alone decided, or nothing was read): no coverage to show.</p></section>\n"
        });
        return Ok(());
    }
    let days = hours.div_ceil(24);
    // Cells of one hour up to the drill-down limit; beyond it, of a day (or of several days, so
    // that a map never has more than a year of columns): memory and size stay bounded.
    let step: i64 = if days as i64 <= DRILL_DOWN_UP_TO_DAYS {
        1
    } else {
        24 * (days as u64).div_ceil(MAX_COLUMNS as u64) as i64
    };
    let columns = hours.div_ceil(step as usize);
    let mut grids = read_grids(run, columns, step)?;
    // Gaps and trail changes onto the cells they cover.
    // Whole-window findings (no reads, writes or global events) badge their region's row;
    // every other gap marks the cells it covers. Streamed: the table can be large.
    let mut wide: BTreeMap<(String, String), Vec<GapRow>> = BTreeMap::new();
    evidence::for_each_gap(&run.dir, |g| {
        let Some(cells) = grids
            .get_mut(&g.account_id)
            .and_then(|r| r.get_mut(&g.region))
        else {
            return;
        };
        if g.is_region_wide() {
            wide.entry((g.account_id.clone(), g.region.clone()))
                .or_default()
                .push(g);
            return;
        }
        let span = step * HOUR;
        let from = ((g.start - run.window.0).div_euclid(span)).max(0) as usize;
        let to =
            ((g.end - run.window.0 + span - 1).div_euclid(span)).clamp(0, columns as i64) as usize;
        for c in cells.iter_mut().take(to).skip(from) {
            if g.is_unknown() {
                c.unknown = true;
            } else {
                c.gap = true;
            }
        }
    })?;
    for ch in changes {
        if let Some(cells) = grids
            .get_mut(&ch.account_id)
            .and_then(|r| r.get_mut(&ch.region))
        {
            let i = (ch.event_time - run.window.0).div_euclid(step * HOUR);
            if i >= 0 && (i as usize) < columns {
                cells[i as usize].change = true;
            }
        }
    }
    let hourly = days as i64 <= HOURLY_UP_TO_DAYS;
    h.push_str("<table class=\"legend\"><caption class=\"small\">Legend: each cell's glyph names its state; a cell's title gives its counts of read (r), write (w) and global-service (g) management events. A black frame marks a cell with a trail change.</caption><tbody>");
    for s in State::ALL {
        put!(
            h,
            "<tr><td class=\"cell {c}\">{g}</td><th scope=\"row\">{n}</th><td>{m}</td></tr>",
            c = s.class(),
            g = s.glyph(),
            n = s.name(),
            m = s.meaning()
        );
    }
    h.push_str("</tbody></table>\n");
    // Cells per region row: the map's columns, plus the hourly drill-downs.
    let per_row = if hourly || step > 1 {
        columns
    } else {
        days + hours
    };
    let mut budget = MAX_CELLS;
    let shown = grids
        .values()
        .enumerate()
        .take_while(|(i, g)| {
            let cells = g.len() * per_row;
            let fits = *i == 0 || cells <= budget;
            budget = budget.saturating_sub(cells);
            fits
        })
        .count();
    let total = run.accounts.len().max(grids.len());
    if shown < total {
        put!(
            h,
            "<p class=\"muted\">Heat maps for the first {shown} of {total} accounts (at most {MAX_HEATMAP_ACCOUNTS} accounts and about {MAX_CELLS} cells keep the page printable); every account's counts are in coverage.parquet and every gap is in gaps.parquet.</p>"
        );
    }
    let (unit, caption) = if hourly {
        ("hour".to_owned(), "Hour".to_owned())
    } else if step <= 24 {
        ("day".to_owned(), "Day".to_owned())
    } else {
        (
            format!("{} days", step / 24),
            format!("{}-day span", step / 24),
        )
    };
    for (account, grid) in grids.iter().take(shown) {
        put!(
            h,
            "<h3>Account {}</h3>\n<div class=\"scroll\"><table class=\"heatmap\" data-account=\"{a}\" data-unit=\"{}\"><caption class=\"small\">{} x region, {} .. {}</caption><thead><tr><th scope=\"col\">region</th>",
            esc(account),
            unit,
            caption,
            rfc3339(run.window.0),
            rfc3339(run.window.1),
            a = esc(account),
        );
        let shown = if hourly || step > 1 { columns } else { days };
        let width = if hourly { HOUR } else { step.max(24) * HOUR };
        for i in 0..shown {
            let t = run.window.0 + i as i64 * width;
            let label = if hourly {
                let s = rfc3339(t);
                if (t / HOUR) % 24 == 0 || i == 0 {
                    s[5..13].replace('T', " ")
                } else {
                    s[11..13].to_owned()
                }
            } else {
                rfc3339(t)[if step > 24 { 0 } else { 5 }..10].to_owned()
            };
            put!(h, "<th scope=\"col\">{label}</th>");
        }
        h.push_str("</tr></thead><tbody>\n");
        for (region, cells) in grid {
            let expected = run.regions.is_empty() || run.regions.contains(region);
            let badges: String = wide
                .get(&(account.clone(), region.clone()))
                .map(|gs| {
                    gs.iter()
                        .map(|g| {
                            format!(
                                " <span class=\"rw\" title=\"{}\">[{} missing]</span>",
                                esc(&g.detail),
                                esc(&g.category)
                            )
                        })
                        .collect()
                })
                .unwrap_or_default();
            put!(h, "<tr><th scope=\"row\">{}{badges}</th>", esc(region));
            if hourly || step > 1 {
                for c in cells {
                    cell(h, c, c.state(expected));
                }
            } else {
                for d in 0..days {
                    let day = &cells[d * 24..((d + 1) * 24).min(cells.len())];
                    let (sum, state) = day_of(day, expected);
                    cell(h, &sum, state);
                }
            }
            h.push_str("</tr>\n");
        }
        h.push_str("</tbody></table></div>\n");
        if !hourly && step == 1 {
            h.push_str("<h4 class=\"small\">Hourly drill-down per day</h4>\n");
            for d in 0..days {
                let t0 = run.window.0 + d as i64 * 24 * HOUR;
                let n = 24.min(hours - d * 24);
                let worst = grid
                    .iter()
                    .map(|(r, cells)| {
                        day_of(
                            &cells[d * 24..d * 24 + n],
                            run.regions.is_empty() || run.regions.contains(r),
                        )
                        .1
                    })
                    .min()
                    .unwrap_or(State::Silent);
                put!(
                    h,
                    "<details><summary>{} &mdash; {}</summary><table class=\"heatmap drill\" data-day=\"{}\"><thead><tr><th scope=\"col\">region</th>",
                    &rfc3339(t0)[..10],
                    worst.name(),
                    &rfc3339(t0)[..10]
                );
                for i in 0..n {
                    put!(h, "<th scope=\"col\">{i:02}</th>");
                }
                h.push_str("</tr></thead><tbody>");
                for (region, cells) in grid {
                    let expected = run.regions.is_empty() || run.regions.contains(region);
                    put!(h, "<tr><th scope=\"row\">{}</th>", esc(region));
                    for c in &cells[d * 24..d * 24 + n] {
                        cell(h, c, c.state(expected));
                    }
                    h.push_str("</tr>");
                }
                h.push_str("</tbody></table></details>\n");
            }
        }
    }
    h.push_str("</section>\n");
    Ok(())
}

/// The sum and the state of a day: its worst hour, else proven if any hour is.
fn day_of(hours: &[Hour], expected: bool) -> (Hour, State) {
    let mut sum = Hour::default();
    let mut state = State::Silent;
    let mut any = |s: State| state = state.min(s);
    for c in hours {
        sum.add(c);
        sum.change |= c.change;
        any(c.state(expected));
    }
    if !expected {
        state = State::NotExpected;
    }
    (sum, state)
}

fn cell(h: &mut String, c: &Hour, s: State) {
    // Compact on purpose (a 30-day, 17-region, 3-account report has ~75,000 cells): the row
    // and column headers give region and time, the class and glyph the state, the title the
    // counts.
    put!(
        h,
        "<td class={} title=\"r{} w{} g{}{}\">{}</td>",
        if c.change {
            format!("\"{} t\"", s.class())
        } else {
            s.class().to_owned()
        },
        c.read,
        c.write,
        c.global,
        if c.change { " trail change" } else { "" },
        s.glyph()
    );
}

/// The latest trail change in `account` at or before `t` (any region): what was done to the
/// trail before a gap began.
fn change_before<'a>(changes: &'a [ChangeRow], account: &str, t: i64) -> Option<&'a ChangeRow> {
    changes
        .iter()
        .filter(|c| c.account_id == account && c.event_time <= t)
        .max_by_key(|c| c.event_time)
}

fn change_text(c: &ChangeRow) -> String {
    format!(
        "{} {} by {} at {} ({})",
        c.event_name,
        c.target.as_deref().unwrap_or(""),
        c.actor.as_deref().unwrap_or("unknown principal"),
        rfc3339(c.event_time),
        c.result
    )
}

fn section_gaps(h: &mut String, gaps: &[GapRow], total: u64, changes: &[ChangeRow]) {
    put!(h, "<section id=\"gaps\"><h2>Gaps ({total})</h2>\n");
    if gaps.is_empty() {
        h.push_str("<p>No gap and no finding.</p></section>\n");
        return;
    }
    h.push_str("<div class=\"scroll\"><table id=\"gap-table\"><thead><tr><th>Account</th><th>Region</th><th>Category</th><th>Kind</th><th>Start</th><th>End</th><th>Detail</th><th>Last trail change before it</th><th>Controls</th></tr></thead><tbody>\n");
    for g in gaps.iter().take(MAX_ROWS) {
        let before = change_before(changes, &g.account_id, g.start)
            .map(change_text)
            .unwrap_or_else(|| "none in the window".into());
        let controls = g.statement().core_references();
        put!(
            h,
            "<tr class=\"gap-row {}\"><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"small\">{}</td><td class=\"small\">{}</td><td class=\"small\">{}</td></tr>\n",
            if g.is_unknown() {
                "unknown"
            } else {
                "definite"
            },
            esc(&g.account_id),
            esc(&g.region),
            esc(&g.category),
            esc(&g.kind),
            rfc3339(g.start),
            rfc3339(g.end),
            esc(&g.detail),
            esc(&before),
            esc(&controls)
        );
    }
    h.push_str("</tbody></table></div>");
    if total as usize > MAX_ROWS {
        put!(
            h,
            "<p class=\"muted\">The first {MAX_ROWS} of {total}; all are in gaps.parquet.</p>"
        );
    }
    h.push_str("</section>\n");
}

/// The canary probes (`--canary`), from summary.json.
fn section_canary(h: &mut String, run: &Run) {
    let c = &run.doc["canary"];
    let Some(probes) = c["probes"].as_array() else {
        return;
    };
    let str_of = |v: &serde_json::Value| v.as_str().unwrap_or("").to_owned();
    put!(
        h,
        "<section id=\"canary\"><h2>Canary probes ({})</h2>\n<p class=\"small\">Calls trailproof made itself (<code>trailproof canary send</code>, marker <code>{}</code>, sent {}): in each region a read (<code>cloudtrail:DescribeTrails</code>) and a write that changes nothing (<code>ec2:DeleteKeyPair</code> with DryRun), and a global-service read (<code>iam:ListAccountAliases</code>) in the global region. A delivered canary proves its region records that class of event even without organic traffic; one not delivered within {} is a gap.</p>\n<div class=\"scroll\"><table><thead><tr><th>Region</th><th>Probe</th><th>Status</th><th>Event</th><th>Request id</th><th>eventTime</th><th>Key time</th><th>LastModified</th><th>Delivery (call to key stamp)</th><th>Found in</th></tr></thead><tbody>\n",
        probes.len(),
        esc(&str_of(&c["marker"])),
        esc(&str_of(&c["sent_at"])),
        esc(&crate::time::human_duration(
            c["timeout_s"].as_i64().unwrap_or(0)
        ))
    );
    let time = |v: &serde_json::Value| v.as_i64().map(rfc3339).unwrap_or_else(|| "-".into());
    for p in probes {
        let status = str_of(&p["status"]);
        let class = match status.as_str() {
            "delivered" => "",
            "pending" | "not_sent" | "out_of_scope" => " class=\"muted\"",
            _ => " class=\"rw\"",
        };
        put!(
            h,
            "<tr><td>{}</td><td>{}</td><td{class}>{}</td><td><code>{}</code></td><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
            esc(&str_of(&p["region"])),
            esc(&str_of(&p["kind"])),
            esc(&status),
            esc(&str_of(&p["event"])),
            esc(&str_of(&p["request_id"])),
            time(&p["event_time"]),
            time(&p["key_time"]),
            time(&p["last_modified"]),
            p["delivery_s"]
                .as_i64()
                .map(crate::time::human_duration)
                .unwrap_or_else(|| "-".into()),
            esc(&str_of(&p["found_in_region"]))
        );
    }
    h.push_str("</tbody></table></div></section>\n");
}

fn section_changes(h: &mut String, changes: &[ChangeRow], total: u64, gaps: &[GapRow]) {
    put!(
        h,
        "<section id=\"changes\"><h2>Trail changes seen in the logs ({total})</h2>\n<p class=\"small\">CloudTrail's own management events in the window (<code>StopLogging</code>, <code>StartLogging</code>, <code>UpdateTrail</code>, <code>PutEventSelectors</code>, <code>PutInsightSelectors</code>, <code>DeleteTrail</code>, <code>CreateTrail</code>) and policy or lifecycle changes on the trail's bucket, with who, when, where and the result. All are in trail_changes.parquet.</p>\n"
    );
    if changes.is_empty() {
        h.push_str("<p>None found in the window.</p>");
    } else {
        h.push_str("<table id=\"change-table\"><thead><tr><th>Time</th><th>Event</th><th>Target</th><th>Who</th><th>Source IP</th><th>Account</th><th>Region</th><th>Result</th></tr></thead><tbody>\n");
        for c in changes.iter().take(MAX_ROWS) {
            put!(
                h,
                "<tr class=\"change-row\"><td>{}</td><td><code>{}</code></td><td>{}</td><td class=\"small\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
                rfc3339(c.event_time),
                esc(&c.event_name),
                esc(c.target.as_deref().unwrap_or("")),
                esc(c.actor.as_deref().unwrap_or("")),
                esc(c.source_ip.as_deref().unwrap_or("")),
                esc(&c.account_id),
                esc(c.aws_region.as_deref().unwrap_or(&c.region)),
                esc(&c.result)
            );
        }
        h.push_str("</tbody></table>\n");
        if changes.len() > MAX_ROWS || total as usize > changes.len() {
            put!(
                h,
                "<p class=\"muted\">The first {} of {total}; all kept are in trail_changes.parquet (the earliest {} of a run).</p>",
                MAX_ROWS.min(changes.len()),
                crate::coverage::changes::MAX_TRAIL_CHANGES
            );
        }
    }
    // One timeline: gaps with a time span, and trail changes.
    let mut events: Vec<(i64, u8, String)> = Vec::new();
    for g in gaps.iter().filter(|g| !g.is_region_wide()).take(MAX_ROWS) {
        events.push((
            g.start,
            1,
            format!(
                "<tr class=\"tl-gap\"><td>{}</td><td>gap</td><td>{} {}</td><td>{} {}</td><td class=\"small\">until {}; {}</td></tr>",
                rfc3339(g.start),
                esc(&g.category),
                esc(&g.kind),
                esc(&g.account_id),
                esc(&g.region),
                rfc3339(g.end),
                esc(&g.detail)
            ),
        ));
    }
    for c in changes.iter().take(MAX_ROWS) {
        events.push((
            c.event_time,
            0,
            format!(
                "<tr class=\"tl-change\"><td>{}</td><td>trail change</td><td><code>{}</code> {}</td><td>{} {}</td><td class=\"small\">by {} ({})</td></tr>",
                rfc3339(c.event_time),
                esc(&c.event_name),
                esc(c.target.as_deref().unwrap_or("")),
                esc(&c.account_id),
                esc(c.aws_region.as_deref().unwrap_or(&c.region)),
                esc(c.actor.as_deref().unwrap_or("unknown principal")),
                esc(&c.result)
            ),
        ));
    }
    if !events.is_empty() {
        events.sort();
        h.push_str("<h3>Timeline: gaps and trail changes</h3><table id=\"timeline\"><thead><tr><th>Time</th><th>Type</th><th>What</th><th>Where</th><th>Detail</th></tr></thead><tbody>\n");
        for (.., row) in &events {
            h.push_str(row);
            h.push('\n');
        }
        h.push_str("</tbody></table>\n");
    }
    h.push_str("</section>\n");
}

fn section_integrity(h: &mut String, run: &Run, (findings, total): (Vec<GapRow>, u64)) {
    h.push_str("<section id=\"integrity\"><h2>Integrity</h2>\n");
    let digests = run
        .doc
        .pointer("/outcome/digests")
        .or_else(|| run.doc.get("digests"))
        .filter(|d| !d.is_null());
    match digests {
        None => h.push_str("<p class=\"muted\">Digests were not used in this run (<code>--digests off</code>): the log files' integrity was not checked.</p>"),
        Some(d) => {
            let s = |p: &str| d.pointer(p).map(|v| v.to_string()).unwrap_or_default();
            put!(
                h,
                "<p>Digest mode <code>{}</code>; {} digest files read; digests by status {}; hours by status {}.</p>",
                esc(s("/mode").trim_matches('"')),
                esc(&s("/digests_found")),
                esc(&s("/digests_by_status")),
                esc(&s("/hours_by_status"))
            );
            if let Some(regions) = d.get("regions").and_then(|r| r.as_array())
                && !regions.is_empty()
            {
                h.push_str("<table id=\"chains\"><thead><tr><th>Account</th><th>Region</th><th>Digests</th><th>Chain, by hours</th></tr></thead><tbody>");
                for r in regions {
                    let g = |k: &str| r.get(k).map(|v| v.to_string().trim_matches('"').to_owned()).unwrap_or_default();
                    let mut by: BTreeMap<String, i64> = BTreeMap::new();
                    for run in r.get("hours").and_then(|x| x.as_array()).into_iter().flatten() {
                        let t = |k: &str| run.get(k).and_then(|v| v.as_str()).and_then(crate::time::parse_event_time).unwrap_or(0);
                        *by.entry(run.get("status").and_then(|v| v.as_str()).unwrap_or("?").to_owned()).or_default() += (t("end") - t("start")) / HOUR;
                    }
                    let chain: Vec<String> = by.iter().map(|(k, v)| format!("{v} {k}")).collect();
                    put!(
                        h,
                        "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                        esc(&g("account_id")),
                        esc(&g("region")),
                        esc(&g("digests")),
                        esc(&chain.join(", "))
                    );
                }
                h.push_str("</tbody></table>");
            }
        }
    }
    put!(h, "<h3>Integrity findings ({total})</h3>");
    if findings.is_empty() {
        h.push_str("<p>None.</p>");
    } else {
        h.push_str("<table><thead><tr><th>Account</th><th>Region</th><th>Kind</th><th>Start</th><th>Detail</th></tr></thead><tbody>");
        for g in findings.iter().take(MAX_ROWS) {
            put!(
                h,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"small\">{}</td></tr>",
                esc(&g.account_id),
                esc(&g.region),
                esc(&g.kind),
                rfc3339(g.start),
                esc(&g.detail)
            );
        }
        h.push_str("</tbody></table>");
    }
    h.push_str("</section>\n");
}

fn section_controls(h: &mut String, run: &Run) {
    h.push_str("<section id=\"controls\"><h2>Controls evidenced</h2>\n<table id=\"control-results\"><thead><tr><th>Statement</th><th>Result</th><th>Why</th><th>Controls</th></tr></thead><tbody>");
    for a in &run.controls {
        put!(
            h,
            "<tr><td>{}</td><td><strong>{}</strong></td><td>{}</td><td class=\"small\">{}</td></tr>",
            esc(&a.text),
            esc(&a.result.replace('_', " ")),
            esc(&a.reason),
            esc(&a.controls.join(", "))
        );
    }
    h.push_str("</tbody></table>\n<h3>Control mapping</h3><table id=\"control-mapping\"><thead><tr><th>Statement</th><th>Framework</th><th>Control</th><th>Title</th></tr></thead><tbody>");
    for m in &run.mapping {
        for c in &m.controls {
            put!(
                h,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(&m.statement),
                esc(&c.framework),
                esc(&c.id),
                esc(&c.title)
            );
        }
    }
    h.push_str("</tbody></table></section>\n");
}

fn section_method(h: &mut String, run: &Run) -> Result<()> {
    let params = run
        .doc
        .get("parameters")
        .map(|p| serde_json::to_string_pretty(p).unwrap_or_default())
        .unwrap_or_default();
    put!(
        h,
        "<section id=\"method\"><h2>Method</h2>\n<p>trailproof {} listed the source's CloudTrail objects for the window (plus the delivery grace), read every log file with bounded memory, counted each event by account, region and hour of its <code>eventTime</code> (read, write and global-service management events), and judged every expected region against the rules documented with the tool (docs/log-format.md, docs/digests.md). Digest files, when used, were verified (RSA signature with CloudTrail's public key, chain links, the SHA-256 of every listed log file). Unreadable evidence makes coverage unknown, never proven. This report is rendered from the evidence directory alone (<code>trailproof report DIR</code>); <code>trailproof verify-evidence DIR</code> re-checks every file against manifest.json.</p>\n",
        env!("CARGO_PKG_VERSION")
    );
    put!(
        h,
        "<table><tbody><tr><th scope=\"row\">Tool</th><td>trailproof {}</td></tr><tr><th scope=\"row\">Command line</th><td><code id=\"command-line\">{}</code></td></tr></tbody></table>\n<h3>Parameters</h3><pre>{}</pre>\n",
        env!("CARGO_PKG_VERSION"),
        esc(&run.command_line.join(" ")),
        esc(&params)
    );
    h.push_str("<h3>Outputs (SHA-256)</h3><p class=\"small\">report.html and manifest.json are hashed in manifest.json.</p><table id=\"outputs\"><thead><tr><th>File</th><th>Bytes</th><th>SHA-256</th></tr></thead><tbody>");
    for (name, size, sha) in
        evidence::hash_files(&run.dir, &[evidence::REPORT, evidence::MANIFEST])?.into_iter()
    {
        put!(
            h,
            "<tr><td>{}</td><td>{size}</td><td><code>{sha}</code></td></tr>",
            esc(&name)
        );
    }
    h.push_str("</tbody></table></section>\n");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_take_precedence_in_order() {
        let mut c = Hour {
            read: 3,
            attested: true,
            ..Default::default()
        };
        assert_eq!(c.state(true), State::Proven);
        c.unreadable = 1;
        assert_eq!(c.state(true), State::Unknown);
        c.gap = true;
        assert_eq!(c.state(true), State::Gap);
        assert_eq!(c.state(false), State::NotExpected);
        let quiet = Hour {
            attested: true,
            ..Default::default()
        };
        assert_eq!(quiet.state(true), State::Heartbeat);
        assert_eq!(Hour::default().state(true), State::Silent);
        let (_, day) = day_of(&[Hour::default(), c], true);
        assert_eq!(day, State::Gap);
    }

    #[test]
    fn text_is_escaped() {
        assert_eq!(
            esc("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }
}
