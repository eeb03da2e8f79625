//! The S3 key grammar (`src/source/layout.rs`): `parse_key` and its inverse `object_key`.
//!
//! - `parse_key` never panics on any string (the input, lossily UTF-8).
//! - On `Ok(k)`: the fields the grammar checks hold (12-digit account, `o-` org folder, a
//!   digest has its trail and home region, a log or Insight key has neither).
//! - Round trip: `object_key` rebuilt from the parsed parts (the unique suffix of a log or
//!   Insight file from the name, `TRAIL_HOME` for a digest) parses back to the same kind,
//!   org, account, region, delivery time (to the minute for a log or Insight file, which is
//!   all `object_key` writes), trail and home region, gzip and not backfill
//!   (`object_key` writes neither `.json` nor `_backfill`), with the prefix as `object_key`
//!   writes it (`aws_logs_root` drops trailing `/` and an empty prefix); its date folders are
//!   the delivery day; and formatting that key again gives the same string.
//! - `object_key` for any delivery time of years 0000-9999 (minutes for logs) parses back.
//!
//! Not checked, because the grammar does not enforce it: that the date folders agree with the
//! file-name stamp (`parse_key` reads `day` and `delivered_at` independently and accepts
//! folders and stamps of unrelated days, and days 29-31 of any month), and that a log stamp
//! has no seconds (`parse_stamp` accepts `YYYYMMDDTHHMMSSZ` in log and Insight names, and
//! `YYYYMMDDTHHmmZ` in digest names).
#![no_main]

use libfuzzer_sys::fuzz_target;
use trailproof::source::layout::{CloudTrailKey, ObjectKind, object_key, parse_key};
use trailproof::time::days_from_civil;

/// The prefix as `object_key` writes it (`aws_logs_root`).
fn canonical(prefix: Option<&str>) -> Option<&str> {
    prefix
        .map(|p| p.trim_end_matches('/'))
        .filter(|p| !p.is_empty())
}

/// `object_key`'s `tail` for a parsed key.
fn tail(key: &str, k: &CloudTrailKey<'_>) -> String {
    match k.kind {
        ObjectKind::Digest => format!(
            "{}_{}",
            k.trail_name.expect("a digest has a trail name"),
            k.home_region.expect("a digest has a home region")
        ),
        ObjectKind::Log | ObjectKind::Insight => {
            let name = key.rsplit('/').next().unwrap_or(key);
            let stem = name
                .strip_suffix(".json.gz")
                .or_else(|| name.strip_suffix(".json"))
                .expect("parse_key checked the extension");
            stem.rsplit_once('_')
                .expect("parse_key checked _UNIQUE")
                .1
                .to_owned()
        }
    }
}

type Fields<'a> = (
    ObjectKind,
    Option<&'a str>,
    &'a str,
    &'a str,
    i64,
    Option<&'a str>,
    Option<&'a str>,
);

/// What must survive a round trip (besides the prefix, compared canonically).
fn fields<'a>(k: &CloudTrailKey<'a>) -> Fields<'a> {
    (
        k.kind,
        k.org_id,
        k.account,
        k.region,
        k.delivered_at,
        k.trail_name,
        k.home_region,
    )
}

fn rebuild(key: &str, k: &CloudTrailKey<'_>) -> String {
    object_key(
        k.prefix,
        k.org_id,
        k.account,
        k.kind,
        k.region,
        k.delivered_at,
        &tail(key, k),
    )
}

fn round_trip(key: &str) {
    let Ok(k) = parse_key(key) else { return };
    assert!(k.account.len() == 12 && k.account.bytes().all(|b| b.is_ascii_digit()));
    assert!(k.org_id.is_none_or(|o| o.starts_with("o-")));
    match k.kind {
        ObjectKind::Log | ObjectKind::Insight => {
            assert!(k.trail_name.is_none() && k.home_region.is_none() && !k.backfill);
        }
        ObjectKind::Digest => assert!(k.trail_name.is_some() && k.home_region.is_some()),
    }

    let rebuilt = rebuild(key, &k);
    let k2 = parse_key(&rebuilt)
        .unwrap_or_else(|e| panic!("{key:?} parsed, its rebuilt {rebuilt:?} does not: {e:?}"));
    // `object_key` writes a log or Insight stamp to the minute; `parse_key` also accepts one
    // with seconds (`parse_stamp` takes both lengths for every kind), which it cannot repeat.
    let mut want = fields(&k);
    if k.kind != ObjectKind::Digest {
        want.4 -= k.delivered_at.rem_euclid(60);
    }
    assert_eq!(fields(&k2), want, "{key:?} -> {rebuilt:?}");
    assert_eq!(k2.prefix, canonical(k.prefix), "{key:?} -> {rebuilt:?}");
    assert!(k2.gzip && !k2.backfill, "{rebuilt:?}");
    assert_eq!(k2.day, k2.delivered_at.div_euclid(86_400), "{rebuilt:?}");
    assert_eq!(
        rebuild(&rebuilt, &k2),
        rebuilt,
        "object_key is not a fixed point"
    );
}

/// Delivery times whose year has four digits.
const FIRST: i64 = -62_167_219_200; // 0000-01-01T00:00:00Z
const LAST: i64 = 253_402_300_799; // 9999-12-31T23:59:59Z

fn formatted(seed: [u8; 9]) {
    let raw = i64::from_le_bytes(seed[..8].try_into().unwrap());
    let mut t = FIRST + raw.rem_euclid(LAST - FIRST + 1);
    let (kind, tail) = match seed[8] % 3 {
        0 => (ObjectKind::Log, "abcdefABCDEF0123"),
        1 => (ObjectKind::Insight, "abcdefABCDEF0123"),
        _ => (ObjectKind::Digest, "my_trail_us-west-2"),
    };
    if kind != ObjectKind::Digest {
        t -= t.rem_euclid(60);
    }
    let org = (seed[8] & 4 != 0).then_some("o-aa111bb222");
    let prefix = (seed[8] & 8 != 0).then_some("audit/AWSLogs/x");
    let key = object_key(prefix, org, "111122223333", kind, "eu-west-1", t, tail);
    let k = parse_key(&key).unwrap_or_else(|e| panic!("{t}: {key:?}: {e:?}"));
    assert_eq!(
        (k.kind, k.prefix, k.org_id, k.region, k.delivered_at, k.day),
        (kind, prefix, org, "eu-west-1", t, t.div_euclid(86_400)),
        "{key:?}"
    );
    assert_eq!(days_from_civil(0, 1, 1) * 86_400, FIRST);
}

fuzz_target!(|data: &[u8]| {
    round_trip(&String::from_utf8_lossy(data));
    if let Some(seed) = data.get(..9) {
        formatted(seed.try_into().unwrap());
    }
});
