//! The structural index on every classifier this CPU has (AVX-512, AVX2, the portable table):
//! for any input, the same token positions, or the same decline (`src/decode/structural.rs`,
//! `src/decode/simd.rs`). Tokens are in increasing order and each names a byte the index
//! defines as one (a structural character, a quote, or the first byte of a scalar).
#![no_main]

use libfuzzer_sys::fuzz_target;
use trailproof::decode::simd::Level;
use trailproof::decode::tokens::each_token;

fuzz_target!(|doc: &[u8]| {
    let collect = |level| {
        let mut out = Vec::new();
        each_token(doc, level, |p| out.push(p)).map(|()| out)
    };
    let want = collect(Level::portable());
    if let Ok(tokens) = &want {
        assert!(tokens.windows(2).all(|w| w[0] < w[1]), "tokens out of order");
        for &p in tokens {
            let c = doc[p];
            assert!(
                !matches!(c, b' ' | b'\t' | b'\n' | b'\r'),
                "whitespace at {p} is a token"
            );
        }
    }
    for level in Level::available() {
        assert_eq!(collect(level), want, "{level:?} differs from the portable path");
    }
});
