//! The CloudTrail S3 key layout (`docs/log-format.md` §1.1), parsed from the right, and the
//! (account × region × day) prefixes a time window needs.
//!
//! ```text
//! [P/]AWSLogs/[o-ORG/]ACCT/CloudTrail/REGION/YYYY/MM/DD/ACCT_CloudTrail_REGION_YYYYMMDDTHHmmZ_UNIQ16.json.gz
//! [P/]AWSLogs/[o-ORG/]ACCT/CloudTrail-Digest/REGION/YYYY/MM/DD/ACCT_CloudTrail-Digest_REGION_TRAIL_HOME_YYYYMMDDTHHMMSSZ[_backfill].json.gz
//! [P/]AWSLogs/[o-ORG/]ACCT/CloudTrail-Insight/REGION/YYYY/MM/DD/ACCT_CloudTrail-Insight_REGION_YYYYMMDDTHHmmZ_UNIQ16.json.gz
//! ```
//!
//! The prefix `P` may itself contain `/` (and even `AWSLogs`), so parsing anchors on the fixed
//! segments counted from the end. The date folders and the file-name stamp are *delivery*
//! time, not event time.

use crate::time::days_from_civil;

/// What kind of CloudTrail object a key names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ObjectKind {
    Log,
    Digest,
    Insight,
}

/// A parsed CloudTrail key, borrowing from the key string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloudTrailKey<'a> {
    pub kind: ObjectKind,
    /// The trail's key prefix, without the trailing `/`.
    pub prefix: Option<&'a str>,
    /// `o-…` for organization trails.
    pub org_id: Option<&'a str>,
    pub account: &'a str,
    /// The region that delivered the object.
    pub region: &'a str,
    /// Day of the date folders, as days since 1970-01-01.
    pub day: i64,
    /// Delivery time from the file-name stamp, epoch seconds.
    pub delivered_at: i64,
    /// The object is gzip (`.json.gz`) rather than plain JSON (`.json`).
    pub gzip: bool,
    /// Digest only: a backfill digest (`_backfill.json.gz`).
    pub backfill: bool,
    /// Digest only: the trail name and home region from the file name.
    pub trail_name: Option<&'a str>,
    pub home_region: Option<&'a str>,
}

/// Why a key is not a CloudTrail object (these are skipped and counted, never read).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotCloudTrail {
    /// A 0-byte "folder" key ending in `/`.
    Folder,
    /// No `AWSLogs/ACCT/SERVICE/…` structure.
    NotAwsLogs,
    /// Another service's object under `AWSLogs/ACCT/` (`Config`, `elasticloadbalancing`, …).
    OtherService(String),
    /// Under a CloudTrail folder, but the name does not follow the grammar.
    BadName(&'static str),
}

fn is_digits(s: &str, n: usize) -> bool {
    s.len() == n && s.bytes().all(|b| b.is_ascii_digit())
}

fn is_region(s: &str) -> bool {
    crate::regions::is_region_name(s)
}

fn num(s: &str) -> i64 {
    s.bytes().fold(0, |acc, b| acc * 10 + (b - b'0') as i64)
}

/// Parses `YYYYMMDDTHHmmZ` (logs and Insight files, `with_seconds` false) or
/// `YYYYMMDDTHHMMSSZ` (digests) into epoch seconds; nothing else.
fn parse_stamp(s: &str, with_seconds: bool) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() != if with_seconds { 16 } else { 14 } {
        return None;
    }
    if b[8] != b'T' || *b.last()? != b'Z' {
        return None;
    }
    let date = &s[..8];
    let time = &s[9..s.len() - 1];
    if !is_digits(date, 8) || !is_digits(time, if with_seconds { 6 } else { 4 }) {
        return None;
    }
    let (y, m, d) = (num(&date[..4]), num(&date[4..6]), num(&date[6..8]));
    let (hh, mm) = (num(&time[..2]), num(&time[2..4]));
    let ss = if with_seconds { num(&time[4..6]) } else { 0 };
    if !(1..=12).contains(&m)
        || d < 1
        || d > crate::time::days_in_month(y, m as u32)
        || hh > 23
        || mm > 59
        || ss > 60
    {
        return None;
    }
    Some(days_from_civil(y, m as u32, d as u32) * 86_400 + hh * 3_600 + mm * 60 + ss)
}

/// Classifies an object key.
pub fn parse_key(key: &str) -> Result<CloudTrailKey<'_>, NotCloudTrail> {
    if key.ends_with('/') {
        return Err(NotCloudTrail::Folder);
    }
    let parts: Vec<&str> = key.split('/').collect();
    // Find the `AWSLogs` segment that starts the fixed structure, from the right.
    let n = parts.len();
    let Some(aws_logs) = (0..n).rev().find(|&i| parts[i] == "AWSLogs") else {
        return Err(NotCloudTrail::NotAwsLogs);
    };
    let mut i = aws_logs + 1;
    let org_id = match parts.get(i) {
        Some(p) if p.starts_with("o-") => {
            i += 1;
            Some(*p)
        }
        _ => None,
    };
    let (Some(account), Some(service)) = (parts.get(i), parts.get(i + 1)) else {
        return Err(NotCloudTrail::NotAwsLogs);
    };
    if !is_digits(account, 12) {
        return Err(NotCloudTrail::NotAwsLogs);
    }
    let kind = match *service {
        "CloudTrail" => ObjectKind::Log,
        "CloudTrail-Digest" => ObjectKind::Digest,
        "CloudTrail-Insight" => ObjectKind::Insight,
        other => return Err(NotCloudTrail::OtherService(other.to_owned())),
    };
    // REGION/YYYY/MM/DD/NAME must follow exactly.
    if n != i + 7 {
        return Err(NotCloudTrail::BadName(
            "expected REGION/YYYY/MM/DD/NAME after the service folder",
        ));
    }
    let (region, yyyy, mm, dd, name) = (
        parts[i + 2],
        parts[i + 3],
        parts[i + 4],
        parts[i + 5],
        parts[i + 6],
    );
    if !is_region(region) {
        return Err(NotCloudTrail::BadName("region folder is not a region"));
    }
    if !(is_digits(yyyy, 4) && is_digits(mm, 2) && is_digits(dd, 2)) {
        return Err(NotCloudTrail::BadName("date folders are not YYYY/MM/DD"));
    }
    let (m, d) = (num(mm), num(dd));
    if !(1..=12).contains(&m) || d < 1 || d > crate::time::days_in_month(num(yyyy), m as u32) {
        return Err(NotCloudTrail::BadName("date folders are not a date"));
    }
    let day = days_from_civil(num(yyyy), m as u32, d as u32);
    let (stem, gzip) = if let Some(s) = name.strip_suffix(".json.gz") {
        (s, true)
    } else if let Some(s) = name.strip_suffix(".json") {
        (s, false)
    } else {
        return Err(NotCloudTrail::BadName(
            "name does not end in .json.gz or .json",
        ));
    };
    let prefix = (aws_logs > 0).then(|| {
        let len: usize = parts[..aws_logs].iter().map(|p| p.len() + 1).sum();
        &key[..len - 1]
    });
    let mut parsed = CloudTrailKey {
        kind,
        prefix,
        org_id,
        account,
        region,
        day,
        delivered_at: 0,
        gzip,
        backfill: false,
        trail_name: None,
        home_region: None,
    };
    let head = format!("{account}_{service}_{region}_");
    let Some(rest) = stem.strip_prefix(head.as_str()) else {
        return Err(NotCloudTrail::BadName(
            "name does not start with ACCOUNT_SERVICE_REGION_ of its folders",
        ));
    };
    match kind {
        ObjectKind::Log | ObjectKind::Insight => {
            // YYYYMMDDTHHmmZ_UNIQ16
            let (stamp, uniq) = rest
                .split_once('_')
                .ok_or(NotCloudTrail::BadName("no _UNIQUE suffix"))?;
            if uniq.is_empty() || !uniq.bytes().all(|b| b.is_ascii_alphanumeric()) {
                return Err(NotCloudTrail::BadName("unique suffix is not alphanumeric"));
            }
            parsed.delivered_at = parse_stamp(stamp, false)
                .ok_or(NotCloudTrail::BadName("bad YYYYMMDDTHHmmZ stamp"))?;
        }
        ObjectKind::Digest => {
            // TRAIL_HOME_YYYYMMDDTHHMMSSZ[_backfill]; the trail name may contain `_`.
            let rest = match rest.strip_suffix("_backfill") {
                Some(r) => {
                    parsed.backfill = true;
                    r
                }
                None => rest,
            };
            let (front, stamp) = rest
                .rsplit_once('_')
                .ok_or(NotCloudTrail::BadName("no digest stamp"))?;
            parsed.delivered_at = parse_stamp(stamp, true)
                .ok_or(NotCloudTrail::BadName("bad YYYYMMDDTHHMMSSZ stamp"))?;
            let (trail, home) = front
                .rsplit_once('_')
                .ok_or(NotCloudTrail::BadName("no home region"))?;
            if trail.is_empty() || !is_region(home) {
                return Err(NotCloudTrail::BadName("bad trail name or home region"));
            }
            parsed.trail_name = Some(trail);
            parsed.home_region = Some(home);
        }
    }
    // CloudTrail files an object under the day of its stamp; a neighbouring day is tolerated
    // (a name stamped around midnight). A name that says any other day was not written by
    // CloudTrail, or was moved.
    let stamp_day = parsed.delivered_at.div_euclid(86_400);
    if (day - stamp_day).abs() > 1 {
        return Err(NotCloudTrail::BadName(
            "the date folders are not the day of the name's stamp",
        ));
    }
    Ok(parsed)
}

impl ObjectKind {
    /// The service folder (and name part) of this kind.
    pub fn service(self) -> &'static str {
        match self {
            ObjectKind::Log => "CloudTrail",
            ObjectKind::Digest => "CloudTrail-Digest",
            ObjectKind::Insight => "CloudTrail-Insight",
        }
    }
}

/// `[P/]AWSLogs/[o-ORG/]`: where every account folder of a trail's layout starts.
pub fn aws_logs_root(prefix: Option<&str>, org_id: Option<&str>) -> String {
    let mut s = String::with_capacity(64);
    if let Some(p) = prefix
        .map(|p| p.trim_end_matches('/'))
        .filter(|p| !p.is_empty())
    {
        s.push_str(p);
        s.push('/');
    }
    s.push_str("AWSLogs/");
    if let Some(o) = org_id {
        s.push_str(o);
        s.push('/');
    }
    s
}

/// The listing prefix of one (account, region, delivery day) for a service folder.
pub fn day_prefix(
    prefix: Option<&str>,
    org_id: Option<&str>,
    account: &str,
    service: &str,
    region: &str,
    day: i64,
) -> String {
    let (y, m, d) = crate::time::civil_from_days(day);
    format!(
        "{}{account}/{service}/{region}/{y:04}/{m:02}/{d:02}/",
        aws_logs_root(prefix, org_id)
    )
}

/// The key CloudTrail gives an object of `kind` delivered at `delivered_at` (the inverse of
/// [`parse_key`]). `tail` is the 16-character unique suffix of a log or Insight file, and
/// `TRAILNAME_HOMEREGION` for a digest.
pub fn object_key(
    prefix: Option<&str>,
    org_id: Option<&str>,
    account: &str,
    kind: ObjectKind,
    region: &str,
    delivered_at: i64,
    tail: &str,
) -> String {
    let day = delivered_at.div_euclid(86_400);
    let (y, m, d) = crate::time::civil_from_days(day);
    let secs = delivered_at.rem_euclid(86_400);
    let (hh, mm, ss) = (secs / 3_600, secs % 3_600 / 60, secs % 60);
    let service = kind.service();
    let folder = day_prefix(prefix, org_id, account, service, region, day);
    match kind {
        ObjectKind::Log | ObjectKind::Insight => {
            format!(
                "{folder}{account}_{service}_{region}_{y:04}{m:02}{d:02}T{hh:02}{mm:02}Z_{tail}.json.gz"
            )
        }
        ObjectKind::Digest => {
            format!(
                "{folder}{account}_{service}_{region}_{tail}_{y:04}{m:02}{d:02}T{hh:02}{mm:02}{ss:02}Z.json.gz"
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_that_cloudtrail_never_writes_are_not_its_keys() {
        let a = "111122223333";
        for (key, why) in [
            (
                format!(
                    "AWSLogs/{a}/CloudTrail/us-east-1/2026/01/01/{a}_CloudTrail_us-east-1_19990101T0000Z_abc.json.gz"
                ),
                "the date folders are not the day of the name's stamp",
            ),
            (
                format!(
                    "AWSLogs/{a}/CloudTrail/us-east-1/2026/02/31/{a}_CloudTrail_us-east-1_20260231T0000Z_abc.json.gz"
                ),
                "date folders are not a date",
            ),
            (
                format!(
                    "AWSLogs/{a}/CloudTrail/us-east-1/2020/08/28/{a}_CloudTrail_us-east-1_20200828T220732Z_abc.json.gz"
                ),
                "bad YYYYMMDDTHHmmZ stamp",
            ),
            (
                format!(
                    "AWSLogs/{a}/CloudTrail-Digest/us-east-1/2020/08/28/{a}_CloudTrail-Digest_us-east-1_t_us-east-1_20200828T2207Z.json.gz"
                ),
                "bad YYYYMMDDTHHMMSSZ stamp",
            ),
        ] {
            assert_eq!(parse_key(&key), Err(NotCloudTrail::BadName(why)), "{key}");
        }
        // Stamped in the last minute of a day, filed under the next: tolerated.
        let late = format!(
            "AWSLogs/{a}/CloudTrail/us-east-1/2026/01/02/{a}_CloudTrail_us-east-1_20260101T2359Z_abc.json.gz"
        );
        assert!(parse_key(&late).is_ok());
    }

    const DAY_2023_07_10: i64 = 19_548;

    #[test]
    fn real_log_keys_parse() {
        let k = parse_key(
            "AWSLogs/218007301253/CloudTrail/us-east-1/2023/07/10/218007301253_CloudTrail_us-east-1_20230710T1220Z_WMiHxZgr5Hdd6UDc.json.gz",
        )
        .unwrap();
        assert_eq!(k.kind, ObjectKind::Log);
        assert_eq!(
            (k.prefix, k.org_id, k.account, k.region),
            (None, None, "218007301253", "us-east-1")
        );
        assert_eq!(k.day, DAY_2023_07_10);
        assert_eq!(
            k.delivered_at,
            DAY_2023_07_10 * 86_400 + 12 * 3_600 + 20 * 60
        );
        assert!(k.gzip);
    }

    #[test]
    fn prefixes_and_org_ids() {
        let key = "o-aa111bb222/AWSLogs/o-aa111bb222/111122223333/CloudTrail/ca-central-1/2020/09/23/111122223333_CloudTrail_ca-central-1_20200923T0515Z_KL5e9VCV2SS7IqzB.json.gz";
        let k = parse_key(key).unwrap();
        assert_eq!(
            (k.prefix, k.org_id, k.account),
            (Some("o-aa111bb222"), Some("o-aa111bb222"), "111122223333")
        );
        let k = parse_key("a/b/AWSLogs/c/AWSLogs/111122223333/CloudTrail/eu-west-1/2026/11/22/111122223333_CloudTrail_eu-west-1_20261122T0000Z_abcdefABCDEF0123.json").unwrap();
        assert_eq!(k.prefix, Some("a/b/AWSLogs/c"));
        assert!(!k.gzip);
    }

    #[test]
    fn digest_names_parse_from_both_ends() {
        let k = parse_key("AWSLogs/111122223333/CloudTrail-Digest/eu-west-3/2020/08/28/111122223333_CloudTrail-Digest_eu-west-3_XXXX_Infosec_Audit_us-west-2_20200828T220732Z.json.gz").unwrap();
        assert_eq!(k.kind, ObjectKind::Digest);
        assert_eq!(
            (k.trail_name, k.home_region, k.backfill),
            (Some("XXXX_Infosec_Audit"), Some("us-west-2"), false)
        );
        let k = parse_key("AWSLogs/111122223333/CloudTrail-Digest/us-east-1/2020/08/28/111122223333_CloudTrail-Digest_us-east-1_main_us-east-1_20200828T220732Z_backfill.json.gz").unwrap();
        assert!(k.backfill);
        assert_eq!(k.delivered_at % 86_400, 22 * 3_600 + 7 * 60 + 32);
    }

    #[test]
    fn non_cloudtrail_keys_are_classified() {
        let table: Vec<(&str, NotCloudTrail)> = vec![
            ("AWSLogs/111122223333/CloudTrail/", NotCloudTrail::Folder),
            (
                "AWSLogs/111122223333/Config/ConfigWritabilityCheckFile",
                NotCloudTrail::OtherService("Config".into()),
            ),
            (
                "o-abc1234567/AWSLogs/111122223333/elasticloadbalancing/ELBAccessLogTestFile",
                NotCloudTrail::OtherService("elasticloadbalancing".into()),
            ),
            ("random/file.json.gz", NotCloudTrail::NotAwsLogs),
            (
                "AWSLogs/notanaccount/CloudTrail/us-east-1/2026/01/01/x.json.gz",
                NotCloudTrail::NotAwsLogs,
            ),
        ];
        for (key, want) in table {
            assert_eq!(parse_key(key), Err(want), "{key}");
        }
        for key in [
            "AWSLogs/111122223333/CloudTrail/us-east-1/2026/01/01/111122223333_CloudTrail_us-east-1_20260101T0000Z_abc.txt",
            "AWSLogs/111122223333/CloudTrail/us-east-1/2026/01/01/222222222222_CloudTrail_us-east-1_20260101T0000Z_abc.json.gz",
            "AWSLogs/111122223333/CloudTrail/us-east-1/2026/13/01/111122223333_CloudTrail_us-east-1_20261301T0000Z_abc.json.gz",
            "AWSLogs/111122223333/CloudTrail/us-east-1/2026/01/01/111122223333_CloudTrail_us-east-1_20260101T2560Z_abc.json.gz",
            "AWSLogs/111122223333/CloudTrail/us-east-1/2026/01/01/extra/111122223333_CloudTrail_us-east-1_20260101T0000Z_abc.json.gz",
        ] {
            assert!(
                matches!(parse_key(key), Err(NotCloudTrail::BadName(_))),
                "{key}: {:?}",
                parse_key(key)
            );
        }
    }

    #[test]
    fn formatted_keys_parse_back() {
        let at = DAY_2023_07_10 * 86_400 + 23 * 3_600 + 55 * 60;
        for (kind, tail) in [
            (ObjectKind::Log, "abcdefABCDEF0123"),
            (ObjectKind::Insight, "abcdefABCDEF0123"),
            (ObjectKind::Digest, "my_trail_us-west-2"),
        ] {
            let key = object_key(
                Some("audit/"),
                Some("o-aa111bb222"),
                "111122223333",
                kind,
                "eu-west-1",
                at,
                tail,
            );
            let k = parse_key(&key).unwrap_or_else(|e| panic!("{key}: {e:?}"));
            assert_eq!(
                (k.kind, k.prefix, k.org_id, k.region, k.delivered_at, k.day),
                (
                    kind,
                    Some("audit"),
                    Some("o-aa111bb222"),
                    "eu-west-1",
                    at,
                    DAY_2023_07_10
                ),
                "{key}"
            );
            if kind == ObjectKind::Digest {
                assert_eq!(
                    (k.trail_name, k.home_region),
                    (Some("my_trail"), Some("us-west-2")),
                    "{key}"
                );
            }
        }
        assert_eq!(aws_logs_root(None, None), "AWSLogs/");
    }

    #[test]
    fn day_prefixes() {
        assert_eq!(
            day_prefix(
                Some("logs/"),
                Some("o-aa111bb222"),
                "111122223333",
                "CloudTrail",
                "eu-west-1",
                DAY_2023_07_10
            ),
            "logs/AWSLogs/o-aa111bb222/111122223333/CloudTrail/eu-west-1/2023/07/10/"
        );
        assert_eq!(
            day_prefix(
                None,
                None,
                "111122223333",
                "CloudTrail-Digest",
                "us-east-1",
                0
            ),
            "AWSLogs/111122223333/CloudTrail-Digest/us-east-1/1970/01/01/"
        );
        // A planned prefix parses back.
        let key = format!(
            "{}111122223333_CloudTrail_us-east-1_20230710T0005Z_aaaaaaaaaaaaaaaa.json.gz",
            day_prefix(
                Some("p"),
                None,
                "111122223333",
                "CloudTrail",
                "us-east-1",
                DAY_2023_07_10
            )
        );
        assert_eq!(parse_key(&key).unwrap().prefix, Some("p"));
    }
}
