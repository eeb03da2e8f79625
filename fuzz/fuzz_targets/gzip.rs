//! `Decoder::inflate` on arbitrary bytes, and a flate2 round trip of arbitrary plaintext.
//!
//! - Arbitrary input, gzip or not: never panics; `Ok(n)` is at most the cap and equals
//!   `decompressed().len()`; whatever the outcome, `decompressed()` never exceeds the cap.
//! - `gz(plaintext)` inflates back to the plaintext when it fits the cap, else `TooLarge`.
//! - `gz(plaintext) + suffix` (any non-empty suffix, a second member included) is
//!   `TrailingData` with the plaintext still in `decompressed()`, or `TooLarge`.
//!
//! Input: byte 0 picks the compression level, byte 1 the suffix length (1..=32, taken from
//! the end of the input), the rest is the plaintext. The whole input is also inflated as is.
//! Each input runs through a 1 MiB decoder and a 64-byte one (cheap `TooLarge` paths), each
//! reused across the steps as the pipeline's workers reuse theirs.
#![no_main]

use std::io::Write;

use flate2::Compression;
use flate2::write::GzEncoder;
use libfuzzer_sys::fuzz_target;
use trailproof::decode::{DecodeErrorCode, Decoder};

const CAPS: [usize; 2] = [1 << 20, 64];

fn gz(data: &[u8], level: u32) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), Compression::new(level));
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn arbitrary(d: &mut Decoder, cap: usize, data: &[u8], gzip: bool) {
    match d.inflate(data, gzip) {
        Ok(n) => {
            assert!(n <= cap, "Ok({n}) beyond the {cap}-byte cap");
            assert_eq!(d.decompressed().len(), n);
            if !gzip {
                assert_eq!(d.decompressed(), data);
            }
        }
        Err(e) => {
            assert!(d.decompressed().len() <= cap, "{e}");
            if !gzip {
                assert_eq!(e.code, DecodeErrorCode::TooLarge);
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let (level, suffix_len, body) = match data {
        [l, s, rest @ ..] => (u32::from(*l % 10), 1 + usize::from(*s % 32), rest),
        _ => (6, 1, data),
    };
    let split = body.len().saturating_sub(suffix_len);
    let (plain, suffix) = body.split_at(split);
    let suffix = if suffix.is_empty() {
        &b"\0"[..]
    } else {
        suffix
    };
    let member = gz(plain, level);
    let mut appended = member.clone();
    appended.extend_from_slice(suffix);

    for cap in CAPS {
        let mut d = Decoder::new(cap);
        arbitrary(&mut d, cap, data, true);
        arbitrary(&mut d, cap, data, false);

        let fits = plain.len() <= cap;
        match d.inflate(&member, true) {
            Ok(n) => {
                assert!(
                    fits,
                    "Ok({n}) for {} bytes over a {cap}-byte cap",
                    plain.len()
                );
                assert_eq!(d.decompressed(), plain, "round trip");
            }
            Err(e) => {
                assert!(!fits, "round trip of {} bytes failed: {e}", plain.len());
                assert_eq!(e.code, DecodeErrorCode::TooLarge, "{e}");
            }
        }

        let err = d
            .inflate(&appended, true)
            .expect_err("appended bytes were accepted");
        if fits {
            assert_eq!(err.code, DecodeErrorCode::TrailingData, "{err}");
            assert_eq!(d.decompressed(), plain, "the first member stays available");
        } else {
            assert_eq!(err.code, DecodeErrorCode::TooLarge, "{err}");
        }

        // A member with one bit flipped: whatever the outcome, within the cap.
        if let Some(&flip) = data.first() {
            let mut bad = member.clone();
            let at = usize::from(flip) % bad.len();
            bad[at] ^= 1 << (flip % 8);
            if let Ok(n) = d.inflate(&bad, true) {
                assert!(n <= cap);
                assert_eq!(d.decompressed().len(), n);
            }
        }
    }
});
