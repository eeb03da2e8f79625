//! The field extractor against the fallback parser (serde_json streaming records, through
//! `Decoder::parse`): the parser the decoder falls back to whenever the extractor declines;
//! and against simd-json, the other full parser.
//!
//! The extractor may decline anything (`Err(Unsupported)`), but whenever it accepts a document
//! the full parser must accept it too and read exactly the same records: the extractor never
//! accepts what the full parser rejects, nor reads different values (`src/decode/extract.rs`);
//! and the byte span it gives each record (used to read trail changes whole) parses alone to
//! the same record.
#![no_main]

use libfuzzer_sys::fuzz_target;
use trailproof::decode::{Decoder, Parser, Record, extract};

/// Every field but `span`, which only the extractor knows.
fn show(r: &Record<'_>) -> String {
    let s = format!("{r:?}");
    s.split(", span:").next().unwrap_or_default().to_owned()
}

fuzz_target!(|doc: &[u8]| {
    let mut fast = Vec::new();
    let accepted = extract::extract(doc, |r| {
        // A record's span is that record: read alone, it reads the same.
        let (a, b) = r.span.expect("the extractor gives every record its span");
        let alone: Record<'_> =
            serde_json::from_slice(&doc[a..b]).expect("a record's span parses alone");
        assert_eq!(show(&alone), show(r), "the span holds another record");
        fast.push(show(r))
    });

    let mut full = Vec::new();
    let mut d = Decoder::with_parser(1 << 30, Parser::SerdeJson);
    assert_eq!(d.inflate(doc, false).expect("no cap is hit"), doc.len());
    let parsed = d.parse(|r| full.push(show(r)));

    let Ok(n) = accepted else {
        // Declined: nothing may have been visited.
        assert!(
            fast.is_empty(),
            "the extractor visited records, then declined"
        );
        return;
    };
    assert_eq!(
        n,
        fast.len(),
        "the extractor's count differs from its visits"
    );
    let full_n = match parsed {
        Ok(n) => n,
        Err(e) => panic!("the extractor accepted ({n} records) what the fallback parser rejects: {e}"),
    };
    assert_eq!(full_n, full.len());
    assert_eq!(fast, full, "extractor and the fallback parser read different records");

    // simd-json, the other full parser, reads what the extractor accepted alike.
    let mut simd = Vec::new();
    let mut d = Decoder::with_parser(1 << 30, Parser::SimdJson);
    d.inflate(doc, false).expect("no cap is hit");
    match d.parse(|r| simd.push(show(r))) {
        Ok(_) => assert_eq!(fast, simd, "extractor and simd-json read different records"),
        Err(e) => panic!("the extractor accepted ({n} records) what simd-json rejects: {e}"),
    }

    // The default decoder (extractor first, the fallback parser second) reads the same.
    let mut default = Vec::new();
    let mut d = Decoder::new(1 << 30);
    d.inflate(doc, false).expect("no cap is hit");
    assert_eq!(d.parse(|r| default.push(show(r))).ok(), Some(n));
    assert_eq!(default, full);
});
