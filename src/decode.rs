//! Decoding one CloudTrail log object: multi-member gzip with a decompressed-size cap into a
//! reused buffer, then simd-json into a borrowed projection of the fields coverage needs.
//!
//! A CloudTrail object is one JSON document (`{"Records":[…]}`), not NDJSON. Unknown fields
//! are ignored; a missing optional field stays `None` and is counted as unknown downstream,
//! never guessed.

use std::io::Read;

use flate2::read::MultiGzDecoder;
use serde::{Deserialize, Deserializer};

/// The fixed set of reasons an object cannot be read (the `status` column of `files.parquet`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecodeErrorCode {
    InvalidGzip,
    InvalidJson,
    TooLarge,
}

impl DecodeErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            DecodeErrorCode::InvalidGzip => "invalid_gzip",
            DecodeErrorCode::InvalidJson => "invalid_json",
            DecodeErrorCode::TooLarge => "too_large",
        }
    }
}

/// Why an object could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}: {message}", code.as_str())]
pub struct DecodeError {
    pub code: DecodeErrorCode,
    pub message: String,
}

impl DecodeError {
    fn new(code: DecodeErrorCode, message: impl Into<String>) -> Self {
        DecodeError {
            code,
            message: message.into(),
        }
    }
}

/// `readOnly` and `managementEvent` are booleans, but some producers write `"true"`.
fn flag<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Flag<'a> {
        Bool(bool),
        Str(&'a str),
    }
    Ok(match Option::<Flag<'de>>::deserialize(d)? {
        Some(Flag::Bool(b)) => Some(b),
        Some(Flag::Str(s)) if s.eq_ignore_ascii_case("true") => Some(true),
        Some(Flag::Str(s)) if s.eq_ignore_ascii_case("false") => Some(false),
        _ => None,
    })
}

/// `userIdentity`, projected.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct UserIdentity<'a> {
    #[serde(rename = "type", borrow)]
    pub kind: Option<&'a str>,
}

/// One record, projected to the fields coverage needs; strings borrow from the buffer.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Record<'a> {
    #[serde(borrow)]
    pub event_time: Option<&'a str>,
    #[serde(borrow)]
    pub aws_region: Option<&'a str>,
    #[serde(borrow)]
    pub event_source: Option<&'a str>,
    #[serde(borrow)]
    pub event_name: Option<&'a str>,
    #[serde(deserialize_with = "flag")]
    pub read_only: Option<bool>,
    #[serde(deserialize_with = "flag")]
    pub management_event: Option<bool>,
    #[serde(borrow)]
    pub event_category: Option<&'a str>,
    #[serde(borrow)]
    pub event_type: Option<&'a str>,
    #[serde(borrow)]
    pub recipient_account_id: Option<&'a str>,
    #[serde(borrow)]
    pub user_agent: Option<&'a str>,
    #[serde(borrow)]
    pub error_code: Option<&'a str>,
    #[serde(borrow)]
    pub user_identity: Option<UserIdentity<'a>>,
}

#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(rename = "Records", borrow)]
    records: Vec<Record<'a>>,
}

/// What an event counts as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventClass {
    ManagementRead,
    ManagementWrite,
    /// A management event whose `readOnly` is absent.
    ManagementUnknown,
    Data,
    /// Insight, network activity, or no category information at all.
    Other,
}

impl Record<'_> {
    /// Classifies by `eventCategory`, else `managementEvent`; never guesses.
    pub fn class(&self) -> EventClass {
        let management = match self.event_category {
            Some("Management") => true,
            Some("Data") => return EventClass::Data,
            Some(_) => return EventClass::Other,
            None => self.management_event == Some(true),
        };
        if !management {
            return EventClass::Other;
        }
        match self.read_only {
            Some(true) => EventClass::ManagementRead,
            Some(false) => EventClass::ManagementWrite,
            None => EventClass::ManagementUnknown,
        }
    }
}

/// A per-worker decoder that owns and reuses its buffers.
pub struct Decoder {
    buf: Vec<u8>,
    buffers: simd_json::Buffers,
    max_decompressed: usize,
}

impl Decoder {
    /// `max_decompressed`: objects that inflate beyond this many bytes are rejected
    /// (`too_large`) rather than read into memory.
    pub fn new(max_decompressed: usize) -> Self {
        Decoder {
            buf: Vec::new(),
            buffers: simd_json::Buffers::default(),
            max_decompressed,
        }
    }

    /// The decompressed bytes of the last successful [`Decoder::inflate`] (before parsing,
    /// which rewrites them in place).
    pub fn decompressed(&self) -> &[u8] {
        &self.buf
    }

    /// Inflates `raw` (all gzip members) into the reused buffer, or copies it if `gzip` is
    /// false. Returns the decompressed length.
    pub fn inflate(&mut self, raw: &[u8], gzip: bool) -> Result<usize, DecodeError> {
        self.buf.clear();
        if !gzip {
            if raw.len() > self.max_decompressed {
                return Err(DecodeError::new(
                    DecodeErrorCode::TooLarge,
                    format!(
                        "{} bytes exceed the {}-byte cap",
                        raw.len(),
                        self.max_decompressed
                    ),
                ));
            }
            self.buf.extend_from_slice(raw);
            return Ok(self.buf.len());
        }
        if raw.len() < 2 || raw[0] != 0x1f || raw[1] != 0x8b {
            return Err(DecodeError::new(
                DecodeErrorCode::InvalidGzip,
                "not gzip (no 1f 8b magic)",
            ));
        }
        let limit = self.max_decompressed as u64 + 1;
        let mut reader = MultiGzDecoder::new(raw).take(limit);
        match reader.read_to_end(&mut self.buf) {
            Ok(_) if self.buf.len() as u64 >= limit => Err(DecodeError::new(
                DecodeErrorCode::TooLarge,
                format!("inflates beyond the {}-byte cap", self.max_decompressed),
            )),
            Ok(n) => Ok(n),
            Err(e) => Err(DecodeError::new(
                DecodeErrorCode::InvalidGzip,
                e.to_string(),
            )),
        }
    }

    /// Parses the inflated buffer and calls `visit` for every record.
    pub fn parse(&mut self, mut visit: impl FnMut(&Record<'_>)) -> Result<usize, DecodeError> {
        let envelope: Envelope<'_> =
            simd_json::serde::from_slice_with_buffers(&mut self.buf, &mut self.buffers)
                .map_err(|e| DecodeError::new(DecodeErrorCode::InvalidJson, e.to_string()))?;
        for r in &envelope.records {
            visit(r);
        }
        Ok(envelope.records.len())
    }
}

/// Parses CloudTrail's `eventTime` (`2023-07-10T12:15:57Z`, optional fraction) to epoch seconds.
pub fn parse_event_time(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b'T'
        || b[13] != b':'
        || b[16] != b':'
        || *b.last()? != b'Z'
    {
        return None;
    }
    let n = |r: std::ops::Range<usize>| -> Option<i64> {
        s.get(r)?.bytes().try_fold(0i64, |acc, c| {
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
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || se > 60 {
        return None;
    }
    Some(crate::time::days_from_civil(y, mo as u32, d as u32) * 86_400 + h * 3_600 + mi * 60 + se)
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use flate2::Compression;
    use flate2::write::GzEncoder;

    use super::*;

    fn gz(data: &[u8]) -> Vec<u8> {
        let mut e = GzEncoder::new(Vec::new(), Compression::new(6));
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    const DOC: &str = r#"{"Records":[
        {"eventVersion":"1.09","eventTime":"2023-07-10T12:15:57Z","awsRegion":"us-east-1","eventSource":"iam.amazonaws.com","eventName":"ListUsers","readOnly":true,"managementEvent":true,"eventCategory":"Management","eventType":"AwsApiCall","recipientAccountId":"123837392027","userIdentity":{"type":"IAMUser","arn":"x"},"requestParameters":{"a":[1,2,{"b":"c"}]}},
        {"eventTime":"2023-07-10T12:16:00Z","awsRegion":"eu-west-1","eventSource":"ec2.amazonaws.com","eventName":"RunInstances","readOnly":"false","managementEvent":true,"eventCategory":"Management","errorCode":"Client.UnauthorizedOperation","userAgent":"aws-cli/2 \"quoted\""},
        {"eventTime":"2023-07-10T12:16:01Z","awsRegion":"us-east-1","eventSource":"s3.amazonaws.com","eventName":"GetObject","readOnly":true,"managementEvent":false,"eventCategory":"Data"},
        {"eventTime":"2023-07-10T12:16:02Z","awsRegion":"us-east-1","eventSource":"kms.amazonaws.com","managementEvent":true},
        {"eventTime":"2023-07-10T12:16:03Z","eventSource":"cloudtrail.amazonaws.com","eventCategory":"Insight"},
        {"eventTime":"2023-07-10T12:16:04Z","eventSource":"old.amazonaws.com","readOnly":true}
    ]}"#;

    #[test]
    fn classifies_records_without_guessing() {
        let mut d = Decoder::new(1 << 20);
        d.inflate(&gz(DOC.as_bytes()), true).unwrap();
        let mut classes = Vec::new();
        let mut first = None;
        let n = d
            .parse(|r| {
                classes.push(r.class());
                if first.is_none() {
                    first = Some((
                        r.event_source.map(str::to_owned),
                        r.user_identity
                            .as_ref()
                            .and_then(|u| u.kind)
                            .map(str::to_owned),
                    ));
                }
            })
            .unwrap();
        assert_eq!(n, 6);
        use EventClass::*;
        assert_eq!(
            classes,
            [
                ManagementRead,
                ManagementWrite,
                Data,
                ManagementUnknown,
                Other,
                Other
            ]
        );
        assert_eq!(
            first,
            Some((Some("iam.amazonaws.com".into()), Some("IAMUser".into())))
        );
    }

    #[test]
    fn multi_member_gzip_is_read_whole() {
        let half = DOC.len() / 2;
        let mut two = gz(&DOC.as_bytes()[..half]);
        two.extend(gz(&DOC.as_bytes()[half..]));
        let mut d = Decoder::new(1 << 20);
        assert_eq!(d.inflate(&two, true).unwrap(), DOC.len());
        assert_eq!(d.parse(|_| {}).unwrap(), 6);
    }

    #[test]
    fn bad_inputs_get_their_codes() {
        let mut d = Decoder::new(1 << 20);
        let full = gz(DOC.as_bytes());
        assert_eq!(
            d.inflate(&full[..full.len() / 2], true).unwrap_err().code,
            DecodeErrorCode::InvalidGzip,
            "truncated"
        );
        assert_eq!(
            d.inflate(b"{\"Records\":[]}", true).unwrap_err().code,
            DecodeErrorCode::InvalidGzip,
            "plain text named .gz"
        );
        let mut small = Decoder::new(100);
        assert_eq!(
            small.inflate(&full, true).unwrap_err().code,
            DecodeErrorCode::TooLarge
        );
        d.inflate(&gz(b"{\"Records\":[{\"eventTime\":"), true)
            .unwrap();
        assert_eq!(
            d.parse(|_| {}).unwrap_err().code,
            DecodeErrorCode::InvalidJson
        );
        d.inflate(&gz(b"{\"logFiles\":[]}"), true).unwrap();
        assert_eq!(
            d.parse(|_| {}).unwrap_err().code,
            DecodeErrorCode::InvalidJson,
            "a digest has no Records"
        );
        d.inflate(&gz(b"{\"Records\":[]}"), true).unwrap();
        assert_eq!(d.parse(|_| {}).unwrap(), 0, "empty Records is valid");
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
}
