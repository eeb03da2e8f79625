//! Decoding one CloudTrail log object: one gzip member with a decompressed-size cap into a
//! reused buffer, then simd-json into a borrowed projection of the fields coverage needs.
//!
//! A CloudTrail object is one JSON document (`{"Records":[…]}`), not NDJSON. Unknown fields
//! are ignored; a missing optional field stays `None` and is counted as unknown downstream,
//! never guessed.

pub mod budget;
pub mod detail;
pub mod extract;
mod fallback;
pub mod inflate;
mod record;
pub mod simd;
mod structural;
pub mod tokens;

use std::io::Read;

use serde::Deserialize;

pub use record::{EventClass, Record, UserIdentity};

/// Objects that inflate beyond this (MiB) are rejected: `too_large`.
pub const DEFAULT_MAX_DECOMPRESSED_MIB: u64 = 1024;

/// The fixed set of reasons an object cannot be read (the `status` column of `files.parquet`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecodeErrorCode {
    InvalidGzip,
    InvalidJson,
    TooLarge,
    /// Bytes follow the gzip member (CloudTrail writes exactly one): appended data no digest
    /// covers. The first member stays available in [`Decoder::decompressed`].
    TrailingData,
}

impl DecodeErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            DecodeErrorCode::InvalidGzip => "invalid_gzip",
            DecodeErrorCode::InvalidJson => "invalid_json",
            DecodeErrorCode::TooLarge => "too_large",
            DecodeErrorCode::TrailingData => "trailing_data",
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

#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(rename = "Records", borrow)]
    records: Vec<Record<'a>>,
}

/// The JSON parser behind [`Decoder::parse`]; all fill the same borrowed projection.
///
/// Measured here (`cargo bench --bench pipeline`, one thread, real invictus records): the
/// extractor 1.23 GiB/s, simd-json 922-945 MiB/s, sonic-rs 875 MiB/s (measured, then removed
/// to keep the tree lean), serde_json 674-727 MiB/s. The extractor is the default; its
/// fallback is serde_json streaming the records (no tape: simd-json's needed about seventeen
/// times the input for a document of numbers, which no memory budget can hold). simd-json
/// stays as a reference for the benchmarks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Parser {
    /// [`extract`]: reads only the wanted fields, skipping the rest; falls back to
    /// [`Parser::SerdeJson`] for any document it declines (escaped wanted strings, malformed
    /// input).
    Extract,
    /// simd-json's serde front end (rewrites the buffer in place to unescape); a reference.
    SimdJson,
    /// serde_json, records streamed to the visitor one at a time.
    SerdeJson,
}

/// A worker keeps a buffer this large between objects; a larger one is freed when its object
/// is done, so only the budget, not the largest object ever met, bounds what stays allocated.
const KEEP_BYTES: usize = 8 << 20;

/// A per-worker decoder that owns and reuses its buffers.
pub struct Decoder {
    buf: Vec<u8>,
    len: usize,
    buffers: simd_json::Buffers,
    inflater: inflate::GzipInflater,
    max_decompressed: usize,
    parser: Parser,
    /// Shared by the workers: the decompressed bytes of the object at hand are taken from it.
    budget: Option<std::sync::Arc<budget::Budget>>,
    grant: Option<budget::Grant>,
    /// Whether the grant also covers the extractor's list of records (at most half the
    /// document): else the document goes straight to the streaming fallback.
    extract_ok: bool,
}

impl Decoder {
    /// `max_decompressed`: objects that inflate beyond this many bytes are rejected
    /// (`too_large`) rather than read into memory.
    pub fn new(max_decompressed: usize) -> Self {
        Self::with_parser(max_decompressed, Parser::Extract)
    }

    pub fn with_parser(max_decompressed: usize, parser: Parser) -> Self {
        Decoder {
            buf: Vec::new(),
            len: 0,
            buffers: simd_json::Buffers::default(),
            inflater: inflate::GzipInflater::new(),
            max_decompressed,
            parser,
            budget: None,
            grant: None,
            extract_ok: true,
        }
    }

    /// Takes every object's decompressed bytes from `budget` (shared by the workers) before
    /// they are allocated, and gives them back in [`Decoder::release`].
    pub fn with_budget(mut self, budget: std::sync::Arc<budget::Budget>) -> Self {
        self.budget = Some(budget);
        self
    }

    /// Done with the object: its grant goes back to the budget, and a buffer larger than
    /// [`KEEP_BYTES`] is freed.
    pub fn release(&mut self) {
        self.grant = None;
        self.len = 0;
        if self.buf.capacity() > KEEP_BYTES {
            self.buf = Vec::new();
        }
        if self.parser == Parser::SimdJson {
            self.buffers = simd_json::Buffers::default();
        }
    }

    /// Takes `bytes` from the budget (blocking until they fit), and half as much again for the
    /// extractor's records when that fits too; too large when `bytes` never can.
    fn reserve(&mut self, bytes: usize) -> Result<(), DecodeError> {
        self.extract_ok = true;
        let Some(b) = &self.budget else {
            return Ok(());
        };
        // What this worker keeps between objects is part of the fixed margin.
        let need = bytes.saturating_sub(KEEP_BYTES) as u64;
        let with_records = need + bytes as u64 / 2;
        let need = if self.parser == Parser::Extract && with_records <= b.total() {
            with_records
        } else {
            self.extract_ok = false;
            need
        };
        match b.acquire(need) {
            Some(g) => {
                self.grant = Some(g);
                Ok(())
            }
            None => Err(DecodeError::new(
                DecodeErrorCode::TooLarge,
                format!(
                    "inflates to {bytes} bytes, more than the {}-byte in-flight budget",
                    b.total()
                ),
            )),
        }
    }

    /// The decompressed bytes of the last successful [`Decoder::inflate`] (parse with
    /// [`Parser::SimdJson`] rewrites them in place).
    pub fn decompressed(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    /// Inflates `raw` (one gzip member) into the reused buffer, or copies it if `gzip` is
    /// false. Returns the decompressed length.
    ///
    /// Fast path: libdeflate on the whole buffer, sized by the gzip trailer's ISIZE when that
    /// is within the cap. Anything else (a lying or corrupt trailer, a stream beyond the cap,
    /// appended data) goes through the streaming decoder, which enforces the cap as it reads
    /// and names the error. Bytes after the member, a second member included, are
    /// [`DecodeErrorCode::TrailingData`]: CloudTrail writes one member, and `validate-logs`
    /// rejects anything appended (aws/aws-cli#10324).
    pub fn inflate(&mut self, raw: &[u8], gzip: bool) -> Result<usize, DecodeError> {
        self.release();
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
            self.reserve(raw.len())?;
            self.buf.clear();
            self.buf.reserve_exact(raw.len());
            self.buf.extend_from_slice(raw);
            self.len = raw.len();
            return Ok(self.len);
        }
        if raw.len() < 2 || raw[0] != 0x1f || raw[1] != 0x8b {
            return Err(DecodeError::new(
                DecodeErrorCode::InvalidGzip,
                "not gzip (no 1f 8b magic)",
            ));
        }
        if raw.len() >= 18 {
            let size =
                u32::from_le_bytes(raw[raw.len() - 4..].try_into().expect("4 bytes")) as usize;
            // Trust ISIZE only within the cap and within DEFLATE's maximum ratio (~1032:1), so a
            // forged trailer cannot make every worker allocate the whole cap.
            if size <= self.max_decompressed && size <= raw.len().saturating_mul(1032) {
                self.reserve(size)?;
                if self.buf.len() < size {
                    // Exactly: amortized growth could double past what was reserved.
                    self.buf.reserve_exact(size - self.buf.len());
                    self.buf.resize(size, 0);
                }
                // libdeflate checks the member's CRC32 and ISIZE and says where it ended.
                if let Ok((used, n)) = self.inflater.first_member(raw, &mut self.buf[..size])
                    && n == size
                {
                    self.len = n;
                    return self.whole(raw, used);
                }
            }
        }
        // The streaming decoder may inflate up to the cap: the budget is reserved whole (this
        // path is for damaged or unusual objects), and the buffer grows geometrically, never
        // past the cap, so a stream that stops early allocates little.
        // The fast path's buffer goes with its grant: nothing held is unaccounted.
        self.grant = None;
        self.buf = Vec::new();
        self.reserve(self.max_decompressed)?;
        let limit = self.max_decompressed + 1;
        // One member, as CloudTrail writes; what follows it is checked below.
        #[allow(clippy::disallowed_types)]
        let mut reader = flate2::bufread::GzDecoder::new(raw);
        let mut n = 0;
        loop {
            if n == self.buf.len() {
                let grow = self.buf.len().max(64 << 10).min(limit - n);
                if grow == 0 {
                    return Err(DecodeError::new(
                        DecodeErrorCode::TooLarge,
                        format!("inflates beyond the {}-byte cap", self.max_decompressed),
                    ));
                }
                self.buf.reserve_exact(grow);
                self.buf.resize(n + grow, 0);
            }
            match reader.read(&mut self.buf[n..]) {
                Ok(0) => break,
                Ok(k) => n += k,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    return Err(DecodeError::new(
                        DecodeErrorCode::InvalidGzip,
                        e.to_string(),
                    ));
                }
            }
        }
        self.buf.truncate(n);
        self.len = n;
        let rest = reader.into_inner().len();
        // Keep only what was inflated, and give the rest back.
        self.buf.shrink_to(n);
        let records = if self.extract_ok { n as u64 / 2 } else { 0 };
        if let Some(g) = &mut self.grant {
            g.shrink_to(n.saturating_sub(KEEP_BYTES) as u64 + records);
        }
        self.whole(raw, raw.len() - rest)
    }

    /// Ok when the member used all of `raw`.
    fn whole(&self, raw: &[u8], used: usize) -> Result<usize, DecodeError> {
        if used == raw.len() {
            return Ok(self.len);
        }
        let extra = raw.len() - used;
        let what = if raw[used..].starts_with(&[0x1f, 0x8b]) {
            ": a second gzip member"
        } else {
            ""
        };
        Err(DecodeError::new(
            DecodeErrorCode::TrailingData,
            format!("{extra} unexpected bytes after the end of the gzip stream{what}"),
        ))
    }

    /// Parses the inflated buffer and calls `visit` for every record.
    pub fn parse(&mut self, mut visit: impl FnMut(&Record<'_>)) -> Result<usize, DecodeError> {
        if self.parser == Parser::Extract
            && self.extract_ok
            && let Ok(n) = extract::extract(&self.buf[..self.len], &mut visit)
        {
            return Ok(n);
        }
        let data = &mut self.buf[..self.len];
        if self.parser != Parser::SimdJson {
            return fallback::parse(data, &mut visit)
                .map_err(|e| DecodeError::new(DecodeErrorCode::InvalidJson, e));
        }
        let envelope: Envelope<'_> =
            simd_json::serde::from_slice_with_buffers(data, &mut self.buffers)
                .map_err(|e| DecodeError::new(DecodeErrorCode::InvalidJson, e.to_string()))?;
        for r in &envelope.records {
            visit(r);
        }
        Ok(envelope.records.len())
    }
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

    const PARSERS: [Parser; 3] = [Parser::Extract, Parser::SimdJson, Parser::SerdeJson];

    #[test]
    fn every_parser_reads_escapes_and_flags_alike() {
        let doc = br#"{"Records":[{"eventTime":"2023-07-10T12:15:57Z","userAgent":"a \"b\" \u00e9","readOnly":"TRUE","managementEvent":null,"eventCategory":"Management"}]}"#;
        for p in PARSERS {
            let mut d = Decoder::with_parser(1 << 20, p);
            d.inflate(&gz(doc), true).unwrap();
            let mut got = None;
            d.parse(|r| {
                got = Some((
                    r.user_agent.as_deref().map(str::to_owned),
                    r.read_only,
                    r.management_event,
                    r.class(),
                ))
            })
            .unwrap();
            assert_eq!(
                got,
                Some((
                    Some("a \"b\" é".to_owned()),
                    Some(true),
                    None,
                    EventClass::ManagementRead
                )),
                "{p:?}"
            );
        }
    }

    #[test]
    fn classifies_records_without_guessing() {
        for p in PARSERS {
            classify_with(p);
        }
    }

    fn classify_with(p: Parser) {
        let mut d = Decoder::with_parser(1 << 20, p);
        d.inflate(&gz(DOC.as_bytes()), true).unwrap();
        let mut classes = Vec::new();
        let mut first = None;
        let n = d
            .parse(|r| {
                classes.push(r.class());
                if first.is_none() {
                    first = Some((
                        r.event_source.as_deref().map(str::to_owned),
                        r.user_identity
                            .as_ref()
                            .and_then(|u| u.kind.as_deref())
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
    fn a_second_member_is_trailing_data() {
        let half = DOC.len() / 2;
        let mut two = gz(&DOC.as_bytes()[..half]);
        two.extend(gz(&DOC.as_bytes()[half..]));
        let mut d = Decoder::new(1 << 20);
        let err = d.inflate(&two, true).unwrap_err();
        assert_eq!(err.code, DecodeErrorCode::TrailingData);
        assert!(err.message.ends_with("a second gzip member"), "{err}");
        // The first member is what it hashes.
        assert_eq!(d.decompressed(), &DOC.as_bytes()[..half]);
    }

    #[test]
    fn equal_members_are_trailing_data_on_both_paths() {
        // Two members of equal size: the last trailer's ISIZE equals the first's, so the fast
        // path runs and must still see the second member.
        let doc = r#"{"Records":[{"eventTime":"2026-01-01T00:00:00Z","awsRegion":"us-east-1"}]}"#;
        let (a, b) = (&doc[..36], &doc[36..72]);
        let mut two = gz(a.as_bytes());
        two.extend(gz(b.as_bytes()));
        let mut d = Decoder::new(1 << 20);
        assert_eq!(
            d.inflate(&two, true).unwrap_err().code,
            DecodeErrorCode::TrailingData
        );
        assert_eq!(d.decompressed(), a.as_bytes());
        // A forged tail that repeats the first trailer also reaches the fast path.
        let one = gz(a.as_bytes());
        let mut forged = one.clone();
        forged.extend_from_slice(b"padding");
        forged.extend_from_slice(&one[one.len() - 8..]);
        let err = d.inflate(&forged, true).unwrap_err();
        assert_eq!(err.code, DecodeErrorCode::TrailingData, "{err}");
        assert_eq!(
            err.message,
            "15 unexpected bytes after the end of the gzip stream"
        );
    }

    #[test]
    fn a_forged_size_does_not_allocate_the_cap() {
        let mut tiny = gz(b"{}");
        let n = tiny.len();
        tiny[n - 4..].copy_from_slice(&(1u32 << 30).to_le_bytes());
        let mut d = Decoder::new(1 << 30);
        assert!(d.inflate(&tiny, true).is_err());
        assert!(
            d.buf.capacity() < 1 << 20,
            "allocated {} bytes",
            d.buf.capacity()
        );
    }

    #[test]
    fn a_lying_trailer_cannot_bypass_the_cap() {
        // The trailer claims 10 bytes; the stream inflates to far more than the cap.
        let mut big = gz(&vec![b' '; 1 << 16]);
        let n = big.len();
        big[n - 4..].copy_from_slice(&10u32.to_le_bytes());
        let mut d = Decoder::new(1_000);
        let err = d.inflate(&big, true).unwrap_err();
        assert!(
            matches!(
                err.code,
                DecodeErrorCode::TooLarge | DecodeErrorCode::InvalidGzip
            ),
            "{err:?}"
        );
        assert!(d.decompressed().len() <= 1_001);
    }

    #[test]
    fn trailing_garbage_after_the_stream_is_invalid() {
        let mut data = gz(DOC.as_bytes());
        data.extend_from_slice(b"garbage!");
        let mut d = Decoder::new(1 << 20);
        assert_eq!(
            d.inflate(&data, true).unwrap_err().code,
            DecodeErrorCode::TrailingData
        );
        assert_eq!(d.decompressed(), DOC.as_bytes());
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
}
