//! Time: the one [`Window`] a run judges, the one parser for times on the command line and in
//! records, and small UTC helpers (no calendar crate needed for what we do).

use std::time::Duration;

use aws_smithy_types::date_time::{DateTime, Format};

use crate::error::{Error, Result};

/// Seconds in an hour: coverage is judged in whole hours.
pub const HOUR: i64 = 3_600;

/// Seconds in a day: log keys are laid out by delivery day.
pub const DAY: i64 = 86_400;

/// CloudTrail began recording in November 2013: no window starts earlier, and an earlier
/// `eventTime` is not a time.
pub const CLOUDTRAIL_EPOCH: i64 = 1_383_264_000; // 2013-11-01T00:00:00Z

/// Logs delivered up to this long after a window's end may hold its events.
pub const DEFAULT_DELIVERY_GRACE: &str = "1h";

/// The period a run judges and how late its logs may be delivered.
///
/// `bounds` are whole hours `[since, until)`; without bounds every event found is counted and
/// the judged span is what was observed. Every "no window" fallback and every use of the
/// delivery grace lives in the methods below.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    bounds: Option<(i64, i64)>,
    /// Logs delivered up to this long after `until` may hold events of the window.
    pub delivery_grace_s: i64,
}

impl Window {
    /// A window of whole hours `[since, until)`.
    pub fn new(since: i64, until: i64, delivery_grace_s: i64) -> Self {
        debug_assert!(since % HOUR == 0 && until % HOUR == 0 && since < until);
        Window {
            bounds: Some((since, until)),
            delivery_grace_s,
        }
    }

    /// No bounds: every event found is counted.
    pub fn unbounded(delivery_grace_s: i64) -> Self {
        Window {
            bounds: None,
            delivery_grace_s,
        }
    }

    /// Resolves `--since`/`--until` (see [`parse_time`]) at `now` into whole hours. An
    /// explicit end is rounded up to the hour; `now` (or no `--until`) is rounded down, so the
    /// window holds only complete hours and deliveries still in flight are not gaps. With
    /// neither end and no `default_since`, the window is unbounded.
    pub fn resolve(
        since: Option<&str>,
        until: Option<&str>,
        default_since: Option<&str>,
        now: i64,
        delivery_grace_s: i64,
    ) -> Result<Self> {
        let since = since
            .or(default_since)
            .map(|s| parse_time(s, now))
            .transpose()?;
        let until_t = until.map(|u| parse_time(u, now)).transpose()?;
        let Some(since) = since else {
            return match until_t {
                Some(_) => Err(Error::usage("--until needs --since")),
                None => Ok(Window::unbounded(delivery_grace_s)),
            };
        };
        let until = Self::end(until, now)?;
        let since = since - since.rem_euclid(HOUR);
        if since < CLOUDTRAIL_EPOCH {
            return Err(Error::usage(format!(
                "--since {} is before CloudTrail existed (it began recording in November 2013)",
                rfc3339(since)
            )));
        }
        if until <= since {
            return Err(Error::usage(
                "the window is empty (--until is not after --since)",
            ));
        }
        Ok(Window::new(since, until, delivery_grace_s))
    }

    /// Resolves `--until` (default `now`) at `now` into a whole hour: an explicit time is
    /// rounded up, `now` down, so only complete hours are judged.
    pub fn end(until: Option<&str>, now: i64) -> Result<i64> {
        let t = until
            .map(|u| parse_time(u, now))
            .transpose()?
            .unwrap_or(now);
        let explicit = until.is_some_and(|u| u.trim() != "now");
        let end = if explicit {
            t + (HOUR - t.rem_euclid(HOUR)) % HOUR
        } else {
            t - t.rem_euclid(HOUR)
        };
        if end > now + DAY {
            return Err(Error::usage(format!(
                "--until {} is in the future: only delivered hours can be judged",
                rfc3339(end)
            )));
        }
        Ok(end)
    }

    /// `[since, until)`, or `None` when unbounded.
    pub fn bounds(&self) -> Option<(i64, i64)> {
        self.bounds
    }

    /// The range events are counted in: the bounds, or (nearly) all of time.
    pub fn counting(&self) -> (i64, i64) {
        self.bounds.unwrap_or((i64::MIN / 2, i64::MAX / 2))
    }

    /// The judged span: the bounds, else `observed` (the hours the evidence showed).
    pub fn or_observed(&self, observed: impl FnOnce() -> (i64, i64)) -> (i64, i64) {
        self.bounds.unwrap_or_else(observed)
    }

    /// Delivery stamps whose logs may hold events of the window, `[since, until + grace]`;
    /// all of time when unbounded.
    pub fn deliveries(&self) -> (i64, i64) {
        self.bounds
            .map(|(s, u)| (s, u + self.delivery_grace_s))
            .unwrap_or((i64::MIN, i64::MAX))
    }

    /// Whether a log delivered at `t` is read.
    pub fn delivered_in(&self, t: i64) -> bool {
        let (from, to) = self.deliveries();
        t >= from && t <= to
    }

    /// The delivery days (days since 1970-01-01) whose key prefixes are listed; `None` when
    /// unbounded (list whole region folders).
    pub fn delivery_days(&self) -> Option<std::ops::RangeInclusive<i64>> {
        self.bounds.map(|_| {
            let (from, to) = self.deliveries();
            from.div_euclid(DAY)..=to.div_euclid(DAY)
        })
    }

    /// Digest stamps to read: from two hours before the window (the first digest's
    /// predecessor) to an hour and ten minutes after the last log file the scan reads.
    pub fn digest_stamps(&self) -> Option<(i64, i64)> {
        self.bounds
            .map(|(s, u)| (s - 2 * HOUR, u + self.delivery_grace_s + HOUR + 600))
    }
}

/// Parses a point in time from the command line: `now`, a duration before `now` (`24h`), RFC
/// 3339 in UTC (as [`parse_event_time`]), or a date (`2026-01-01`).
pub fn parse_time(s: &str, now: i64) -> Result<i64> {
    let s = s.trim();
    if s == "now" {
        return Ok(now);
    }
    if let Ok(d) = parse_duration(s) {
        return Ok(now - d.as_secs() as i64);
    }
    if let Some(t) = parse_event_time(s) {
        return Ok(t);
    }
    let p: Vec<&str> = s.split('-').collect();
    if let [y, m, d] = p.as_slice()
        && let (Ok(y), Ok(m), Ok(d)) = (y.parse::<i64>(), m.parse::<u32>(), d.parse::<u32>())
        && (1..=12).contains(&m)
        && (1..=31).contains(&d)
    {
        return Ok(days_from_civil(y, m, d) * DAY);
    }
    Err(Error::usage(format!(
        "'{s}' is not a time (use 24h, 2026-01-01T00:00:00Z, 2026-01-01 or now)"
    )))
}

/// Parses `90s`, `15m`, `24h`, `3d`, `2w` or a plain number of seconds.
pub fn parse_duration(s: &str) -> std::result::Result<Duration, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: u64 = num
        .parse()
        .map_err(|_| format!("'{s}' is not a duration (e.g. 90s, 15m, 24h, 3d)"))?;
    let mult = match unit {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3_600,
        "d" => 86_400,
        "w" => 604_800,
        _ => {
            return Err(format!(
                "'{s}': unknown unit '{unit}' (use s, m, h, d or w)"
            ));
        }
    };
    n.checked_mul(mult)
        .map(Duration::from_secs)
        .ok_or_else(|| format!("'{s}' is too long"))
}

/// Parses an `eventTime` exactly as CloudTrail writes it, `YYYY-MM-DDTHH:MM:SSZ`, or with a
/// fraction of a second (`.f` to `.fffffffff`, as RFC 3339 allows), to epoch seconds. Anything
/// else (another offset, a space, text before the `Z`, a day the month does not have) is not
/// a time: an event without a valid time proves nothing.
pub fn parse_event_time(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b'T'
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    match &b[19..] {
        [b'Z'] => {}
        [b'.', frac @ .., b'Z'] if (1..=9).contains(&frac.len()) => {
            if !frac.iter().all(u8::is_ascii_digit) {
                return None;
            }
        }
        _ => return None,
    }
    let n = |r: std::ops::Range<usize>| -> Option<i64> {
        b[r].iter().try_fold(0i64, |acc, c| {
            c.is_ascii_digit().then(|| acc * 10 + (c - b'0') as i64)
        })
    };
    let (y, mo, d, h, mi, se) = (
        n(0..4)?,
        n(5..7)?,
        n(8..10)?,
        n(11..13)?,
        n(14..16)?,
        n(17..19)?,
    );
    if !(1..=12).contains(&mo) || d < 1 || d > days_in_month(y, mo as u32) {
        return None;
    }
    if h > 23 || mi > 59 || se > 60 {
        return None;
    }
    Some(days_from_civil(y, mo as u32, d as u32) * DAY + h * HOUR + mi * 60 + se)
}

/// Days in a month of the proleptic Gregorian calendar.
pub fn days_in_month(y: i64, m: u32) -> i64 {
    match m {
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Formats epoch seconds as RFC 3339 UTC (`2026-11-22T05:09:50Z`).
pub fn rfc3339(secs: i64) -> String {
    DateTime::from_secs(secs)
        .fmt(Format::DateTime)
        .unwrap_or_else(|_| secs.to_string())
}

/// Current time in epoch seconds.
pub fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// The time an evidence directory declares it was made (`generated_at`): `SOURCE_DATE_EPOCH`
/// (epoch seconds, the reproducible-builds convention) when set, else now. The one field that
/// differs between two runs on the same inputs; with it set, they are byte-identical.
pub fn generated_at() -> i64 {
    match std::env::var("SOURCE_DATE_EPOCH") {
        Ok(v) => match v.trim().parse::<i64>() {
            Ok(t) if t >= 0 => t,
            _ => {
                tracing::warn!(value = %v, "SOURCE_DATE_EPOCH is not epoch seconds; using the current time");
                now_secs()
            }
        },
        Err(_) => now_secs(),
    }
}

/// Serializes epoch seconds as RFC 3339 (`#[serde(serialize_with)]`).
pub fn serialize_rfc3339<S: serde::Serializer>(secs: &i64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&rfc3339(*secs))
}

/// Reads RFC 3339 back into epoch seconds (`#[serde(deserialize_with)]`).
pub fn deserialize_rfc3339<'de, D: serde::Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    let s = <String as serde::Deserialize>::deserialize(d)?;
    parse_event_time(&s).ok_or_else(|| serde::de::Error::custom(format!("{s:?} is not a time")))
}

/// `90061` → `1d 1h 1m 1s`; zero parts are left out.
pub fn human_duration(secs: i64) -> String {
    if secs <= 0 {
        return "0s".into();
    }
    let parts = [(86_400, "d"), (3_600, "h"), (60, "m"), (1, "s")];
    let mut rest = secs;
    let mut out = Vec::new();
    for (unit, name) in parts {
        if rest >= unit {
            out.push(format!("{}{name}", rest / unit));
            rest %= unit;
        }
    }
    out.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_times_are_exactly_cloudtrails_format() {
        for bad in [
            "2026-01-01T00:30:00 not a time Z",
            "2026-01-01T00:30:00.Z",
            "2026-01-01T00:30:00.1234567890Z",
            "2026-01-01T00:30:00.12aZ",
            "2026-01-01T00:30:00+00:00",
            "2026-01-01T00:30:00z",
            "2026-01-01 00:30:00Z",
            "2026-02-30T00:00:00Z",
            "2025-02-29T00:00:00Z",
            "2026-04-31T00:00:00Z",
            "2026-01-01T00:30:00ZZ",
        ] {
            assert_eq!(parse_event_time(bad), None, "{bad}");
        }
        assert_eq!(
            parse_event_time("2024-02-29T00:00:00.5Z"),
            Some(1_709_164_800)
        );
        assert_eq!(
            parse_event_time("2026-01-01T00:30:00.123456789Z"),
            Some(1_767_227_400)
        );
    }

    #[test]
    fn event_times() {
        assert_eq!(parse_event_time("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(
            parse_event_time("2023-07-10T12:15:57Z"),
            Some(19_548 * 86_400 + 12 * 3_600 + 15 * 60 + 57)
        );
        assert_eq!(
            parse_event_time("2023-07-10T12:15:57.123Z"),
            Some(19_548 * 86_400 + 12 * 3_600 + 15 * 60 + 57)
        );
        for bad in [
            "",
            "2023-07-10",
            "2023-07-10T25:00:00Z",
            "2023-07-10 12:15:57Z",
            "2023-07-10T12:15:57+01:00",
        ] {
            assert_eq!(parse_event_time(bad), None, "{bad}");
        }
    }

    #[test]
    fn windows_resolve_to_whole_hours() {
        let now = 1_767_229_260; // 2026-01-01T01:01:00Z
        let w = |since: Option<&str>, until: Option<&str>| {
            Window::resolve(since, until, None, now, 3_600).map(|w| w.bounds())
        };
        assert_eq!(
            w(Some("2026-01-01"), Some("2026-01-01T00:30:00Z")).unwrap(),
            Some((1_767_225_600, 1_767_229_200))
        );
        // `now` rounds down: only complete hours.
        assert_eq!(
            w(Some("1h"), None).unwrap(),
            Some((1_767_225_600, 1_767_229_200))
        );
        assert_eq!(
            w(Some("2h"), Some("now")).unwrap(),
            Some((1_767_222_000, 1_767_229_200))
        );
        assert_eq!(w(None, None).unwrap(), None);
        assert!(w(None, Some("now")).is_err());
        assert!(w(Some("2026-01-02"), Some("2026-01-01")).is_err());
        assert!(w(Some("yesterday"), None).is_err());
    }

    #[test]
    fn durations() {
        for (input, secs) in [
            ("90", 90),
            ("90s", 90),
            ("15m", 900),
            ("24h", 86_400),
            ("3d", 259_200),
            ("1w", 604_800),
        ] {
            assert_eq!(
                parse_duration(input),
                Ok(Duration::from_secs(secs)),
                "{input}"
            );
        }
        for bad in ["", "h", "3x", "-1h", "1.5h", "99999999999999999999w"] {
            assert!(parse_duration(bad).is_err(), "{bad:?} should not parse");
        }
    }

    #[test]
    fn formats() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_688_991_600), "2023-07-10T12:20:00Z");
        assert_eq!(human_duration(86_400), "1d");
        assert_eq!(human_duration(90_061), "1d 1h 1m 1s");
        assert_eq!(human_duration(0), "0s");
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's `days_from_civil`).
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = m as i64;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The (year, month, day) of a day number since 1970-01-01 (`civil_from_days`).
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod civil_tests {
    use super::*;

    #[test]
    fn civil_round_trip() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2023, 7, 10), 19_548);
        assert_eq!(days_from_civil(2000, 2, 29), 11_016);
        for day in [-1, 0, 59, 11_016, 19_548, 20_000, 40_000] {
            let (y, m, d) = civil_from_days(day);
            assert_eq!(days_from_civil(y, m, d), day, "{day} -> {y}-{m}-{d}");
        }
    }
}
