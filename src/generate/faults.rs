//! The faults `generate` injects (`--fault`), parsed from their command-line form.

use serde::Serialize;

/// A fault to inject.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "fault", rename_all = "snake_case")]
pub enum Fault {
    /// No activity at all in `region` for `hours` hours from hour offset `from_hour`.
    Silent {
        region: String,
        from_hour: u32,
        hours: u32,
    },
    /// Events happen, but the log files that would carry them are never delivered.
    MissingFiles {
        region: String,
        from_hour: u32,
        hours: u32,
    },
    /// `region` records reads but never writes.
    NoWrites { region: String },
    /// No global-service events anywhere.
    NoGlobal,
    /// The first `count` log files of `region` are corrupted.
    Corrupt {
        region: String,
        kind: CorruptKind,
        count: u32,
    },
    /// `count` events in `region`'s files claim another region.
    RegionMismatch { region: String, count: u32 },
    /// Events of hour offset `hour` in `region` are delivered `lag_hours` hours late.
    LateDelivery {
        region: String,
        hour: u32,
        lag_hours: u32,
    },
    /// Digest evidence tampered with after delivery (or, for `backfill`, a backfill chain).
    Tamper { region: String, kind: Tamper },
    /// `--canary`: none of `region`'s canary events are ever delivered.
    CanaryLost { region: String },
    /// `--canary`: `region`'s canary events are delivered `minutes` after they were sent.
    CanaryLate { region: String, minutes: u32 },
    /// `--canary`: `region`'s canary events are delivered in another region's log files.
    CanaryMisplaced { region: String },
    /// Logging stopped in `region` for `hours` hours from hour offset `from_hour`: a
    /// `StopLogging` event just before the silence and a `StartLogging` just after it.
    StopLogging {
        region: String,
        from_hour: u32,
        hours: u32,
    },
}

/// Ways to tamper with the evidence. Log tampers hit the first log file delivered at or
/// after the middle hour; digest tampers hit the digest ending just after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Tamper {
    /// One record of a log file edited (valid JSON, same counts).
    ModifyLog,
    /// A listed log file deleted.
    DeleteLog,
    /// Bytes appended after a log file's gzip stream.
    TrailingBytes,
    /// An extra log file that no digest lists.
    UnlistedLog,
    /// A digest deleted (its successor still names it).
    DeleteDigest,
    /// A digest stored under another key than the one it states.
    MoveDigest,
    /// A digest signed with a key other than its fingerprint's.
    WrongKey,
    /// A digest edited and re-signed with the right key: its successor's
    /// previousDigestSignature and previousDigestHashValue no longer match.
    ResignDigest,
    /// Not an attack: a log file is left out of its digest and listed by a backfill digest.
    Backfill,
    /// Not an attack: log file validation was off for an hour and turned on again. The hour
    /// has no digest (its logs are still delivered) and the next digest starts a new chain,
    /// naming no predecessor.
    Restart,
}

impl Tamper {
    pub const ALL: [(&'static str, Tamper); 10] = [
        ("modify-log", Tamper::ModifyLog),
        ("delete-log", Tamper::DeleteLog),
        ("trailing-bytes", Tamper::TrailingBytes),
        ("unlisted-log", Tamper::UnlistedLog),
        ("delete-digest", Tamper::DeleteDigest),
        ("move-digest", Tamper::MoveDigest),
        ("wrong-key", Tamper::WrongKey),
        ("resign-digest", Tamper::ResignDigest),
        ("backfill", Tamper::Backfill),
        ("restart", Tamper::Restart),
    ];
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CorruptKind {
    /// The gzip stream is cut in half.
    TruncatedGzip,
    /// Valid gzip of broken JSON.
    InvalidJson,
    /// Plain JSON under a `.json.gz` name.
    NotGzip,
}

impl std::str::FromStr for Fault {
    type Err = String;

    /// `silent:REGION:FROM_HOUR:HOURS`, `missing-files:REGION:FROM_HOUR:HOURS`,
    /// `no-writes:REGION`, `no-global`, `corrupt:REGION:truncated-gzip|invalid-json|not-gzip:COUNT`,
    /// `region-mismatch:REGION:COUNT`, `late:REGION:HOUR:LAG_HOURS`, `tamper:KIND:REGION`,
    /// `stop-logging:REGION:FROM_HOUR:HOURS`, `canary-lost:REGION`,
    /// `canary-late:REGION:MINUTES`, `canary-misplaced:REGION`.
    fn from_str(s: &str) -> Result<Self, String> {
        let p: Vec<&str> = s.split(':').collect();
        let n = |i: usize| -> Result<u32, String> {
            p.get(i)
                .ok_or(format!("'{s}': missing field {i}"))?
                .parse()
                .map_err(|_| format!("'{s}': field {i} is not a number"))
        };
        let r = |i: usize| -> Result<String, String> {
            Ok(p.get(i)
                .ok_or(format!("'{s}': missing region"))?
                .to_string())
        };
        Ok(match p[0] {
            "silent" if p.len() == 4 => Fault::Silent {
                region: r(1)?,
                from_hour: n(2)?,
                hours: n(3)?,
            },
            "missing-files" if p.len() == 4 => Fault::MissingFiles {
                region: r(1)?,
                from_hour: n(2)?,
                hours: n(3)?,
            },
            "stop-logging" if p.len() == 4 => Fault::StopLogging {
                region: r(1)?,
                from_hour: n(2)?,
                hours: n(3)?,
            },
            "no-writes" if p.len() == 2 => Fault::NoWrites { region: r(1)? },
            "no-global" if p.len() == 1 => Fault::NoGlobal,
            "canary-lost" if p.len() == 2 => Fault::CanaryLost { region: r(1)? },
            "canary-late" if p.len() == 3 => Fault::CanaryLate {
                region: r(1)?,
                minutes: n(2)?,
            },
            "canary-misplaced" if p.len() == 2 => Fault::CanaryMisplaced { region: r(1)? },
            "corrupt" if p.len() == 4 => Fault::Corrupt {
                region: r(1)?,
                kind: match p[2] {
                    "truncated-gzip" => CorruptKind::TruncatedGzip,
                    "invalid-json" => CorruptKind::InvalidJson,
                    "not-gzip" => CorruptKind::NotGzip,
                    k => return Err(format!("'{s}': unknown corruption '{k}'")),
                },
                count: n(3)?,
            },
            "region-mismatch" if p.len() == 3 => Fault::RegionMismatch {
                region: r(1)?,
                count: n(2)?,
            },
            "late" if p.len() == 4 => Fault::LateDelivery {
                region: r(1)?,
                hour: n(2)?,
                lag_hours: n(3)?,
            },
            "tamper" if p.len() == 3 => Fault::Tamper {
                kind: Tamper::ALL
                    .iter()
                    .find(|(name, _)| *name == p[1])
                    .map(|(_, t)| *t)
                    .ok_or_else(|| {
                        let names: Vec<&str> = Tamper::ALL.iter().map(|(n, _)| *n).collect();
                        format!(
                            "'{s}': unknown tamper '{}' (one of {})",
                            p[1],
                            names.join(", ")
                        )
                    })?,
                region: r(2)?,
            },
            _ => {
                return Err(format!(
                    "'{s}' is not a fault (see `trailproof generate --help`)"
                ));
            }
        })
    }
}
