//! Small UTC time helpers (no calendar crate needed for what we do).

use aws_smithy_types::date_time::{DateTime, Format};

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
    fn formats() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_688_991_600), "2023-07-10T12:20:00Z");
        assert_eq!(human_duration(86_400), "1d");
        assert_eq!(human_duration(90_061), "1d 1h 1m 1s");
        assert_eq!(human_duration(0), "0s");
    }
}
