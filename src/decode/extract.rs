//! A depth-aware field extractor for CloudTrail log documents: walks `{"Records":[…]}` once,
//! reads the dozen fields coverage needs from each record (and `userIdentity.type`) and skips
//! everything else without building any value.
//!
//! It walks tokens, not bytes: the structural index ([`super::structural`], SIMD where the
//! CPU has it) gives the position of every structural character, quote and scalar start, a
//! 64 KiB chunk at a time, so whitespace and string contents are never stepped through here; a
//! nested value is skipped by bracket depth over its tokens, its grammar checked on the way.
//!
//! It is strict where it reads and conservative everywhere else: the whole buffer must be valid
//! UTF-8, the structure (braces, brackets, colons, commas, string quoting) is checked, and any
//! surprise — an escape inside a wanted string, a duplicate wanted key, a malformed value — makes
//! it give up ([`Unsupported`]) so that the caller parses the document with the full parser,
//! which then either succeeds identically or names the error. It never guesses.

use std::borrow::Cow;

use super::simd::Level;
use super::tokens::Tokens;
use crate::decode::{Record, UserIdentity};

pub use super::structural::Unsupported;

type R<T> = Result<T, Unsupported>;

/// Nesting deeper than this is left to the full parser (and keeps the recursion bounded).
const MAX_DEPTH: u32 = 64;

struct Cursor<'a> {
    b: &'a [u8],
    /// The same buffer, validated as UTF-8 once: strings are sliced from it, not re-checked.
    s: &'a str,
    /// The document's tokens ([`super::structural`]): structure, quotes, scalar starts.
    t: Tokens<'a>,
}

/// A byte that may continue a scalar (`true`, `-1.5e3`): the scan stops at anything else.
#[inline]
fn scalar_byte(c: u8) -> bool {
    matches!(c, b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E' | b'a'..=b'z')
}

/// Where the grammar of a skipped container stands between two tokens.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Expect {
    /// After `{`: a key or `}`.
    KeyOrEnd,
    /// After `,` in an object.
    Key,
    /// After a key.
    Colon,
    /// After `:`, or `,` in an array.
    Value,
    /// After `[`: a value or `]`.
    ValueOrEnd,
    /// After a value: `,` or the container's end.
    Next,
}

impl<'a> Cursor<'a> {
    /// The position of the next token.
    #[inline]
    fn at(&mut self) -> R<usize> {
        self.t.get(0)?.ok_or(Unsupported)
    }

    /// The byte of the next token.
    #[inline]
    fn peek(&mut self) -> R<u8> {
        let p = self.at()?;
        Ok(self.b[p])
    }

    #[inline]
    fn expect(&mut self, c: u8) -> R<()> {
        if self.peek()? == c {
            self.t.advance(1);
            Ok(())
        } else {
            Err(Unsupported)
        }
    }

    /// The bytes of a string without escapes, borrowed; the next token is its opening quote
    /// (and the one after it, by construction, its closing quote). Object keys are matched as
    /// bytes: no UTF-8 check per key.
    #[inline]
    fn plain_bytes(&mut self) -> R<&'a [u8]> {
        let open = self.at()?;
        if self.b[open] != b'"' {
            return Err(Unsupported);
        }
        let close = self.t.get(1)?.ok_or(Unsupported)?;
        if self.t.escaped_within(open, close) {
            return Err(Unsupported);
        }
        let text = &self.b[open + 1..close];
        self.t.advance(2);
        Ok(text)
    }

    /// A string without escapes, borrowed; the next token is its opening quote.
    #[inline]
    fn plain_str(&mut self) -> R<&'a str> {
        let open = self.at()?;
        let len = self.plain_bytes()?.len();
        // Both ends sit next to an ASCII quote, so they are char boundaries.
        self.s.get(open + 1..open + 1 + len).ok_or(Unsupported)
    }

    /// Skips a string (its escapes were checked by the index); the next token is its opening
    /// quote.
    #[inline]
    fn skip_str(&mut self) -> R<()> {
        if self.peek()? != b'"' {
            return Err(Unsupported);
        }
        self.t.advance(2);
        Ok(())
    }

    /// Skips a scalar (number, true, false, null).
    #[inline]
    fn skip_scalar(&mut self) -> R<()> {
        let start = self.at()?;
        self.scalar_at(start)?;
        self.t.advance(1);
        Ok(())
    }

    /// The scalar starting at `start`: exactly `true`, `false`, `null` or a number, ended by
    /// whitespace, structure, a quote or the end of the buffer.
    #[inline]
    fn scalar_at(&self, start: usize) -> R<&'a [u8]> {
        let mut end = start;
        while self.b.get(end).is_some_and(|&c| scalar_byte(c)) {
            end += 1;
        }
        // Any other byte continues the scalar (`1x`, a stray backslash): not one of them.
        if let Some(&c) = self.b.get(end)
            && !matches!(
                c,
                b' ' | b'\t' | b'\n' | b'\r' | b'{' | b'}' | b'[' | b']' | b':' | b',' | b'"'
            )
        {
            return Err(Unsupported);
        }
        let tok = &self.b[start..end];
        let ok = match tok.first() {
            Some(b't') => tok == b"true",
            Some(b'f') => tok == b"false",
            Some(b'n') => tok == b"null",
            Some(b'-' | b'0'..=b'9') => is_number(tok),
            _ => false,
        };
        if ok { Ok(tok) } else { Err(Unsupported) }
    }

    /// Skips any value.
    #[inline]
    fn skip_value(&mut self) -> R<()> {
        match self.peek()? {
            b'"' => self.skip_str(),
            b'{' | b'[' => self.skip_container(),
            _ => self.skip_scalar(),
        }
    }

    /// Skips an object or array by bracket depth over its tokens, checking the grammar on the
    /// way: a stack of container kinds, one bit per level (nesting beyond [`MAX_DEPTH`] is
    /// left to the full parser).
    fn skip_container(&mut self) -> R<()> {
        // Bit `d` of `objects`: the container at depth `d + 1` is an object.
        let mut objects = 0u64;
        let mut depth = 0u32;
        let mut want = Expect::Value;
        loop {
            let p = self.at()?;
            let c = self.b[p];
            self.t.advance(1);
            want = match (want, c) {
                (Expect::Value | Expect::ValueOrEnd, b'{' | b'[') => {
                    depth += 1;
                    if depth > MAX_DEPTH {
                        return Err(Unsupported);
                    }
                    let bit = 1u64 << (depth - 1);
                    if c == b'{' {
                        objects |= bit;
                        Expect::KeyOrEnd
                    } else {
                        objects &= !bit;
                        Expect::ValueOrEnd
                    }
                }
                (Expect::Value | Expect::ValueOrEnd, b'"') => {
                    // Its closing quote.
                    self.t.advance(1);
                    Expect::Next
                }
                (Expect::KeyOrEnd | Expect::Key, b'"') => {
                    self.t.advance(1);
                    Expect::Colon
                }
                (Expect::Colon, b':') => Expect::Value,
                (Expect::Next, b',') => {
                    if objects >> (depth - 1) & 1 == 1 {
                        Expect::Key
                    } else {
                        Expect::Value
                    }
                }
                (Expect::Next | Expect::KeyOrEnd, b'}')
                | (Expect::Next | Expect::ValueOrEnd, b']') => {
                    let object = objects >> (depth - 1) & 1 == 1;
                    if object != (c == b'}') {
                        return Err(Unsupported);
                    }
                    depth -= 1;
                    if depth == 0 {
                        return Ok(());
                    }
                    Expect::Next
                }
                (Expect::Value | Expect::ValueOrEnd, _)
                    if !matches!(c, b'}' | b']' | b':' | b',') =>
                {
                    self.scalar_at(p)?;
                    Expect::Next
                }
                _ => return Err(Unsupported),
            };
        }
    }

    /// A wanted string field: a plain string, or null.
    #[inline]
    fn opt_str(&mut self) -> R<Option<Cow<'a, str>>> {
        if self.peek()? == b'n' {
            self.skip_scalar()?;
            return Ok(None);
        }
        Ok(Some(Cow::Borrowed(self.plain_str()?)))
    }

    /// A flag: true/false/null, or the strings "true"/"false" (any case), as the decoder reads it.
    #[inline]
    fn opt_flag(&mut self) -> R<Option<bool>> {
        match self.peek()? {
            b't' | b'f' | b'n' => {
                let start = self.at()?;
                let tok = self.scalar_at(start)?;
                self.t.advance(1);
                Ok(match tok {
                    b"true" => Some(true),
                    b"false" => Some(false),
                    _ => None,
                })
            }
            b'"' => {
                let s = self.plain_str()?;
                Ok(if s.eq_ignore_ascii_case("true") {
                    Some(true)
                } else if s.eq_ignore_ascii_case("false") {
                    Some(false)
                } else {
                    None
                })
            }
            _ => Err(Unsupported),
        }
    }

    fn user_identity(&mut self) -> R<Option<UserIdentity<'a>>> {
        match self.peek()? {
            b'n' => {
                self.skip_scalar()?;
                return Ok(None);
            }
            b'{' => self.t.advance(1),
            _ => return Err(Unsupported),
        }
        let mut ui = UserIdentity::default();
        let mut seen = false;
        if self.peek()? == b'}' {
            self.t.advance(1);
            return Ok(Some(ui));
        }
        loop {
            let key = self.plain_bytes()?;
            self.expect(b':')?;
            if key == b"type" {
                if seen {
                    return Err(Unsupported);
                }
                seen = true;
                ui.kind = self.opt_str()?;
            } else {
                self.skip_value()?;
            }
            match self.peek()? {
                b',' => self.t.advance(1),
                b'}' => {
                    self.t.advance(1);
                    return Ok(Some(ui));
                }
                _ => return Err(Unsupported),
            }
        }
    }

    fn record(&mut self) -> R<Record<'a>> {
        let start = self.at()?;
        self.expect(b'{')?;
        let mut r = Record::default();
        let mut seen = 0u16;
        if self.peek()? == b'}' {
            let end = self.at()? + 1;
            self.t.advance(1);
            r.span = Some((start, end));
            return Ok(r);
        }
        loop {
            let key = self.plain_bytes()?;
            self.expect(b':')?;
            let bit = match key {
                b"eventTime" => 0,
                b"awsRegion" => 1,
                b"eventSource" => 2,
                b"eventName" => 3,
                b"readOnly" => 4,
                b"managementEvent" => 5,
                b"eventCategory" => 6,
                b"eventType" => 7,
                b"recipientAccountId" => 8,
                b"userAgent" => 9,
                b"errorCode" => 10,
                b"userIdentity" => 11,
                _ => 16,
            };
            if bit < 16 {
                if seen & (1 << bit) != 0 {
                    return Err(Unsupported);
                }
                seen |= 1 << bit;
            }
            match bit {
                0 => r.event_time = self.opt_str()?,
                1 => r.aws_region = self.opt_str()?,
                2 => r.event_source = self.opt_str()?,
                3 => r.event_name = self.opt_str()?,
                4 => r.read_only = self.opt_flag()?,
                5 => r.management_event = self.opt_flag()?,
                6 => r.event_category = self.opt_str()?,
                7 => r.event_type = self.opt_str()?,
                8 => r.recipient_account_id = self.opt_str()?,
                9 => r.user_agent = self.opt_str()?,
                10 => r.error_code = self.opt_str()?,
                11 => r.user_identity = self.user_identity()?,
                _ => self.skip_value()?,
            }
            match self.peek()? {
                b',' => self.t.advance(1),
                b'}' => {
                    let end = self.at()? + 1;
                    self.t.advance(1);
                    r.span = Some((start, end));
                    return Ok(r);
                }
                _ => return Err(Unsupported),
            }
        }
    }
}

/// RFC 8259: `-? (0 | [1-9][0-9]*) (\.[0-9]+)? ([eE][+-]?[0-9]+)?`.
/// A JSON number read alike by every full parser: the grammar, and a value each represents
/// (an integer within `i64::MIN..=u64::MAX`; a float well inside `f64`). Anything at or near
/// those limits is declined, so the full parser decides: the two never disagree.
fn is_number(t: &[u8]) -> bool {
    is_number_syntax(t) && number_in_range(t)
}

fn number_in_range(t: &[u8]) -> bool {
    // ASCII by the grammar.
    let s = std::str::from_utf8(t).unwrap_or("");
    if !s.contains(['.', 'e', 'E']) {
        return if s.starts_with('-') {
            s.parse::<i64>().is_ok()
        } else {
            s.parse::<u64>().is_ok()
        };
    }
    // Well inside f64's range: no rounding near the overflow boundary to disagree on.
    s.parse::<f64>()
        .is_ok_and(|v| v.is_finite() && v.abs() < 1e300)
}

fn is_number_syntax(t: &[u8]) -> bool {
    let mut i = 0;
    let digits = |i: &mut usize| {
        let start = *i;
        while t.get(*i).is_some_and(u8::is_ascii_digit) {
            *i += 1;
        }
        *i > start
    };
    if t.get(i) == Some(&b'-') {
        i += 1;
    }
    match t.get(i) {
        Some(b'0') => i += 1,
        Some(b'1'..=b'9') => {
            digits(&mut i);
        }
        _ => return false,
    }
    if t.get(i) == Some(&b'.') {
        i += 1;
        if !digits(&mut i) {
            return false;
        }
    }
    if matches!(t.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(t.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        if !digits(&mut i) {
            return false;
        }
    }
    i == t.len()
}

/// Extracts every record of a CloudTrail document, calling `visit` for each; returns the
/// number of records. On [`Unsupported`], no record has been visited.
pub fn extract(doc: &[u8], mut visit: impl FnMut(&Record<'_>)) -> Result<usize, Unsupported> {
    let Ok(text) = std::str::from_utf8(doc) else {
        return Err(Unsupported);
    };
    let mut c = Cursor {
        b: doc,
        s: text,
        t: Tokens::new(doc, Level::detect())?,
    };
    c.expect(b'{')?;
    let mut records: Vec<Record<'_>> = Vec::new();
    let mut found = false;
    if c.peek()? != b'}' {
        loop {
            let key = c.plain_bytes()?;
            c.expect(b':')?;
            if key == b"Records" {
                if found {
                    return Err(Unsupported);
                }
                found = true;
                c.expect(b'[')?;
                if c.peek()? == b']' {
                    c.t.advance(1);
                } else {
                    loop {
                        records.push(c.record()?);
                        // Records are gathered before the first visit (a decline then leaves
                        // nothing visited); tiny records would make that list many times the
                        // document, so past half its size the streaming fallback takes over.
                        if records.len() > 64
                            && records.len() * std::mem::size_of::<Record<'_>>() > doc.len() / 2
                        {
                            return Err(Unsupported);
                        }
                        match c.peek()? {
                            b',' => c.t.advance(1),
                            b']' => {
                                c.t.advance(1);
                                break;
                            }
                            _ => return Err(Unsupported),
                        }
                    }
                }
            } else {
                c.skip_value()?;
            }
            match c.peek()? {
                b',' => c.t.advance(1),
                b'}' => break,
                _ => return Err(Unsupported),
            }
        }
    }
    c.expect(b'}')?;
    // Nothing but whitespace after the document.
    if c.t.get(0)?.is_some() || !found {
        return Err(Unsupported);
    }
    for r in &records {
        visit(r);
    }
    Ok(records.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(doc: &str) -> Result<Vec<String>, Unsupported> {
        let mut out = Vec::new();
        extract(doc.as_bytes(), |r| {
            out.push(format!(
                "{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}",
                r.event_time,
                r.aws_region,
                r.event_source,
                r.read_only,
                r.management_event,
                r.event_category,
                r.user_identity.as_ref().map(|u| u.kind.clone())
            ))
        })?;
        Ok(out)
    }

    #[test]
    fn a_record_span_is_the_record_whole() {
        let doc = br#"{"Records":[ {"eventName":"A","x":{"y":[1,"}"]}} , {} ,{"eventName":"StopLogging"}]}"#;
        let mut spans = Vec::new();
        extract(doc, |r| spans.push(r.span.unwrap())).unwrap();
        let texts: Vec<&str> = spans
            .iter()
            .map(|(a, b)| std::str::from_utf8(&doc[*a..*b]).unwrap())
            .collect();
        assert_eq!(
            texts,
            [
                r#"{"eventName":"A","x":{"y":[1,"}"]}}"#,
                "{}",
                r#"{"eventName":"StopLogging"}"#
            ]
        );
    }

    #[test]
    fn reads_wanted_fields_at_the_right_depth() {
        let doc = r#"{"Records":[{"requestParameters":{"eventTime":"no","readOnly":false,"x":[1,{"awsRegion":"no"}]},
            "eventTime":"2026-01-01T00:00:00Z","awsRegion":"eu-west-1","userIdentity":{"sessionContext":{"type":"no"},"type":"AssumedRole"},
            "readOnly":"TRUE","managementEvent":null,"eventCategory":"Management","responseElements":null,"n":-1.5e3}], "extra": {"a":"b\"c"} }"#;
        let got = fields(doc).unwrap();
        assert_eq!(
            got,
            [
                r#"Some("2026-01-01T00:00:00Z")|Some("eu-west-1")|None|Some(true)|None|Some("Management")|Some(Some("AssumedRole"))"#
            ]
        );
    }

    #[test]
    fn declines_what_it_does_not_read_itself() {
        for doc in [
            r#"{"Records":[{"userAgent":"a \"quoted\" agent"}]}"#,
            r#"{"Records":[{"awsRegion":"a","awsRegion":"b"}]}"#,
            r#"{"Records":[{"awsRegion":"a"}]"#,
            r#"{"Records":[{"awsRegion":"a"},]}"#,
            r#"{"Records":[{"awsRegion" "a"}]}"#,
            r#"{"logFiles":[]}"#,
            r#"{"Records":[]} trailing"#,
            r#"{"Records":[{"x":tru}]}"#,
            r#"{"Records":[{"readOnly":1}]}"#,
            r#"{"Records":[{"n":1-2}]}"#,
            r#"{"Records":[{"n":01}]}"#,
            r#"{"Records":[{"n":1.}]}"#,
            r#"{"Records":[{"n":-}]}"#,
            r#"{"Records":[{"n":1e}]}"#,
            // Valid JSON the full parser rejects: declined, so the same document is never
            // evidence on one path and unreadable on the other.
            r#"{"Records":[{"n":1e400}]}"#,
            r#"{"Records":[{"n":-1e400}]}"#,
            r#"{"Records":[{"n":18446744073709551616}]}"#,
            r#"{"Records":[{"n":-9223372036854775809}]}"#,
            r#"{"Records":[{"n":1.7976931348623157e308}]}"#,
            r#"{"Records":[{"s":"bad \x escape"}]}"#,
            r#"{"Records":[{"s":"\u12"}]}"#,
            r#"{"Records":[{"s":"\ud800 lone surrogate"}]}"#,
            "{\"Records\":[{\"s\":\"raw\ttab\"}]}",
            "{\"Records\":[{\"userAgent\":\"raw\ttab\"}]}",
            // Whitespace elsewhere turns the buffer-wide control-byte shortcut off.
            "{\"Records\":[\n{\"s\":\"raw\u{1}byte\"}]}",
            "{\n\"Records\":[{\"userAgent\":\"raw\nnewline\"}]}",
            "",
        ] {
            assert_eq!(fields(doc), Err(Unsupported), "{doc}");
        }
        let deep = format!(
            r#"{{"Records":[{{"x":{}{}}}]}}"#,
            "[".repeat(100_000),
            "]".repeat(100_000)
        );
        assert_eq!(
            fields(&deep),
            Err(Unsupported),
            "deep nesting is left to the full parser"
        );
        assert_eq!(
            extract(&[b'{', 0xff, b'}'], |_| {}),
            Err(Unsupported),
            "invalid UTF-8"
        );
    }

    /// Every field but `span` (which only the extractor knows).
    fn show(r: &Record<'_>) -> String {
        let s = format!("{r:?}");
        s.split(", span:").next().unwrap_or_default().to_owned()
    }

    /// Every record as a full parser reads the document, or `None` when it rejects it.
    fn full(doc: &[u8], parser: crate::decode::Parser) -> Option<Vec<String>> {
        let mut out = Vec::new();
        let mut d = crate::decode::Decoder::with_parser(1 << 30, parser);
        d.inflate(doc, false).unwrap();
        d.parse(|r| out.push(show(r))).ok()?;
        Some(out)
    }

    /// Every field of every record, as the full parsers read it (the fallback, serde_json,
    /// and simd-json, which must agree on these documents) and as the extractor reads it.
    fn both(doc: &[u8]) -> (Vec<String>, Result<Vec<String>, Unsupported>) {
        let serde = full(doc, crate::decode::Parser::SerdeJson).expect("serde_json reads it");
        let simd = full(doc, crate::decode::Parser::SimdJson).expect("simd-json reads it");
        assert_eq!(serde, simd, "serde_json and simd-json disagree");
        let mut fast = Vec::new();
        let res = extract(doc, |r| fast.push(show(r))).map(|_| fast);
        (serde, res)
    }

    /// Real and generated documents, decompressed.
    fn corpus() -> Vec<Vec<u8>> {
        let cfg = crate::generate::GenConfig {
            regions: vec!["us-east-1".into(), "eu-west-1".into()],
            hours: 3,
            events_per_hour: 300,
            extras: false,
            digests: false,
            ..Default::default()
        };
        let mut docs = Vec::new();
        crate::generate::generate(&cfg, &mut |o| {
            let mut d = crate::decode::Decoder::new(1 << 30);
            d.inflate(&o.body, true).unwrap();
            docs.push(d.decompressed().to_vec());
            Ok(())
        })
        .unwrap();
        let real =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/invictus/CloudTrail");
        let dir = std::fs::read_dir(&real).expect("fixtures/invictus is part of the repository");
        docs.extend(dir.filter_map(|e| std::fs::read(e.ok()?.path()).ok()));
        docs
    }

    /// Mutated documents (bytes replaced by JSON's own punctuation, deleted, duplicated): the
    /// extractor may decline any of them, but what it accepts both full parsers accept and read
    /// the same; and mutations it accepts do occur (the test would prove nothing otherwise).
    #[test]
    fn accepts_only_what_both_full_parsers_read_alike_on_mutated_documents() {
        let docs = corpus();
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = move |n: usize| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % n as u64) as usize
        };
        let alphabet = b"{}[]:,\\\"\" 0-e.tfnu\n\x01\xc3";
        let (mut accepted, mut tried) = (0, 0);
        for doc in docs.iter().step_by(3) {
            for _ in 0..40 {
                let mut m = doc.clone();
                for _ in 0..1 + next(3) {
                    let at = next(m.len());
                    match next(3) {
                        0 => m[at] = alphabet[next(alphabet.len())],
                        1 => drop(m.remove(at)),
                        _ => m.insert(at, m[at]),
                    }
                }
                tried += 1;
                let mut fast = Vec::new();
                if extract(&m, |r| fast.push(show(r))).is_err() {
                    continue;
                }
                accepted += 1;
                let text = String::from_utf8_lossy(&m);
                let serde = full(&m, crate::decode::Parser::SerdeJson);
                assert_eq!(serde.as_ref(), Some(&fast), "serde_json differs on {text}");
                let simd = full(&m, crate::decode::Parser::SimdJson);
                assert_eq!(simd.as_ref(), Some(&fast), "simd-json differs on {text}");
            }
        }
        assert!(
            accepted * 20 > tried,
            "only {accepted} of {tried} mutated documents were accepted"
        );
    }

    #[test]
    fn agrees_with_the_full_parser_on_generated_and_real_documents() {
        let docs = corpus();
        let (mut accepted, mut records) = (0, 0);
        for doc in &docs {
            let (full, fast) = both(doc);
            if let Ok(fast) = fast {
                assert_eq!(fast, full, "extractor and the fallback parser disagree");
                accepted += 1;
                records += fast.len();
            }
        }
        assert!(
            accepted * 10 >= docs.len() * 9,
            "the fast path should take nearly every document: {accepted} of {}",
            docs.len()
        );
        assert!(records > 1_000);
    }

    #[test]
    fn numbers_follow_the_json_grammar() {
        for ok in ["0", "-0", "12", "-1.5e3", "1E+2", "0.25", "3e-7"] {
            assert!(is_number(ok.as_bytes()), "{ok}");
        }
        for bad in ["", "-", "01", "1.", ".5", "1e", "1-2", "1..2", "--1", "1e+"] {
            assert!(!is_number(bad.as_bytes()), "{bad}");
        }
    }

    #[test]
    fn pretty_printed_documents_are_read() {
        assert_eq!(
            fields("{\n  \"Records\": [\n    {\"awsRegion\": \"eu-west-1\"}\n  ]\n}\n")
                .unwrap()
                .len(),
            1
        );
    }

    #[test]
    fn empty_records_and_escapes_in_skipped_values_are_fine() {
        assert_eq!(fields(r#" {"Records":[]} "#).unwrap().len(), 0);
        assert_eq!(
            fields(r#"{"Records":[{"requestParameters":{"s":"\\ \" \u00e9 }"}}]}"#)
                .unwrap()
                .len(),
            1
        );
    }
}
