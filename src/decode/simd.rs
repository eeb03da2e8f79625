//! The CPU-specific part of the structural index ([`super::structural`]): classifying a
//! 64-byte block with AVX-512 (BW) or AVX2 compares, chosen at run time, else the portable
//! table. This and `inflate.rs` are the crate's only `unsafe` code.
//!
//! Audit: every `unsafe` block below either calls a `#[target_feature]` function for a
//! [`Level`] naming that feature, which only [`Level::available`] makes, after
//! `is_x86_feature_detected!` confirmed it (the type is opaque), loads 32/64 bytes from a
//! `&[u8; 64]` (in bounds by its type; unaligned loads), or compress-stores token positions
//! into a `&mut [u32; 64]` (at most 64 in all, counted; `flatten_avx512`).
#![allow(unsafe_code)]

use super::structural::{BLOCK, Carry, Classify, Found, Masks, Portable, Unsupported, index_with};

/// Which classifier a run uses. Opaque: only [`Level::detect`], [`Level::available`] (which
/// check the CPU) and [`Level::portable`] make one, so safe code cannot ask for an instruction
/// set the CPU lacks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Level(Kind);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Portable,
    #[cfg(target_arch = "x86_64")]
    Avx2,
    #[cfg(target_arch = "x86_64")]
    Avx512,
}

impl Level {
    /// The fastest this CPU supports (the last of [`Level::available`]).
    pub fn detect() -> Level {
        static BEST: std::sync::OnceLock<Level> = std::sync::OnceLock::new();
        *BEST.get_or_init(|| Level::available().pop().unwrap_or(Level::portable()))
    }

    /// The portable table: every CPU.
    pub fn portable() -> Level {
        Level(Kind::Portable)
    }

    /// Every level this CPU supports, slowest first (the tests compare them).
    pub fn available() -> Vec<Level> {
        let mut out = vec![Level::portable()];
        #[cfg(target_arch = "x86_64")]
        {
            let base =
                std::is_x86_feature_detected!("bmi1") && std::is_x86_feature_detected!("popcnt");
            if base && std::is_x86_feature_detected!("avx2") {
                out.push(Level(Kind::Avx2));
            }
            if base
                && std::is_x86_feature_detected!("avx512f")
                && std::is_x86_feature_detected!("avx512bw")
            {
                out.push(Level(Kind::Avx512));
            }
        }
        out
    }

    /// Its name: `portable`, `avx2` or `avx512`.
    pub fn name(self) -> &'static str {
        match self.0 {
            Kind::Portable => "portable",
            #[cfg(target_arch = "x86_64")]
            Kind::Avx2 => "avx2",
            #[cfg(target_arch = "x86_64")]
            Kind::Avx512 => "avx512",
        }
    }
}

/// Indexes `b[from..to]` with the given level's classifier (see
/// [`super::structural::index_with`]).
pub(crate) fn index(
    level: Level,
    b: &[u8],
    from: usize,
    to: usize,
    carry: &mut Carry,
    out: &mut Found,
) -> Result<(), Unsupported> {
    match level.0 {
        Kind::Portable => index_with::<Portable>(b, from, to, carry, out),
        // SAFETY: a `Level` names a feature only when `Level::available` made it, after
        // `is_x86_feature_detected!` confirmed the feature (its field is private).
        #[cfg(target_arch = "x86_64")]
        Kind::Avx2 => unsafe { x86::index_avx2(b, from, to, carry, out) },
        // SAFETY: as above.
        #[cfg(target_arch = "x86_64")]
        Kind::Avx512 => unsafe { x86::index_avx512(b, from, to, carry, out) },
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::*;

    use super::*;

    pub(super) struct Avx2;
    pub(super) struct Avx512;

    impl Classify for Avx2 {
        #[inline(always)]
        fn classify(block: &[u8; BLOCK]) -> Masks {
            // SAFETY: only reached from `index_avx2`, which runs with AVX2 enabled (checked
            // by the caller); the loads read the block's 64 bytes.
            unsafe { classify_avx2(block) }
        }
    }

    impl Classify for Avx512 {
        #[inline(always)]
        fn classify(block: &[u8; BLOCK]) -> Masks {
            // SAFETY: only reached from `index_avx512`, which runs with AVX-512 F and BW
            // enabled (checked by the caller); the load reads the block's 64 bytes.
            unsafe { classify_avx512(block) }
        }

        #[inline(always)]
        fn flatten(tokens: u64, base: u32, window: &mut [u32; BLOCK]) -> usize {
            // SAFETY: as above; the stores stay inside `window` (see `flatten_avx512`).
            unsafe { flatten_avx512(tokens, base, window) }
        }
    }

    #[target_feature(enable = "avx2,bmi1,popcnt")]
    pub(super) unsafe fn index_avx2(
        b: &[u8],
        from: usize,
        to: usize,
        carry: &mut Carry,
        out: &mut Found,
    ) -> Result<(), Unsupported> {
        index_with::<Avx2>(b, from, to, carry, out)
    }

    #[target_feature(enable = "avx512f,avx512bw,bmi1,popcnt")]
    pub(super) unsafe fn index_avx512(
        b: &[u8],
        from: usize,
        to: usize,
        carry: &mut Carry,
        out: &mut Found,
    ) -> Result<(), Unsupported> {
        index_with::<Avx512>(b, from, to, carry, out)
    }

    /// Bit `i` set where byte `i` of the 64 bytes `lo`, `hi` equals `c`.
    #[target_feature(enable = "avx2")]
    #[inline]
    fn eq_avx2(lo: __m256i, hi: __m256i, c: u8) -> u64 {
        let c = _mm256_set1_epi8(c as i8);
        let l = _mm256_movemask_epi8(_mm256_cmpeq_epi8(lo, c)) as u32 as u64;
        let h = _mm256_movemask_epi8(_mm256_cmpeq_epi8(hi, c)) as u32 as u64;
        l | (h << 32)
    }

    #[target_feature(enable = "avx2")]
    #[inline]
    unsafe fn classify_avx2(block: &[u8; BLOCK]) -> Masks {
        // SAFETY: two unaligned 32-byte loads inside the 64-byte array.
        let (lo, hi) = unsafe {
            (
                _mm256_loadu_si256(block.as_ptr().cast()),
                _mm256_loadu_si256(block.as_ptr().add(32).cast()),
            )
        };
        // `[` and `]` are `{` and `}` with bit 0x20 clear: one compare each after setting it.
        let set20 = _mm256_set1_epi8(0x20);
        let (lo20, hi20) = (_mm256_or_si256(lo, set20), _mm256_or_si256(hi, set20));
        // Bytes below 0x20: max(x, 0x1f) == 0x1f.
        let low = _mm256_set1_epi8(0x1f);
        let ctl = eq_avx2(_mm256_max_epu8(lo, low), _mm256_max_epu8(hi, low), 0x1f);
        // Opaque to the optimizer: seen through, the movemask results become 64-lane bit
        // vectors that AVX2 (no mask registers) takes apart one bit at a time, ten times the
        // instructions of the whole block (valgrind's count).
        std::hint::black_box(Masks {
            quote: eq_avx2(lo, hi, b'"'),
            backslash: eq_avx2(lo, hi, b'\\'),
            op: eq_avx2(lo20, hi20, b'{')
                | eq_avx2(lo20, hi20, b'}')
                | eq_avx2(lo, hi, b':')
                | eq_avx2(lo, hi, b','),
            ws: eq_avx2(lo, hi, b' ')
                | eq_avx2(lo, hi, b'\t')
                | eq_avx2(lo, hi, b'\n')
                | eq_avx2(lo, hi, b'\r'),
            ctl,
        })
    }

    /// Each 16-bit quarter of `tokens` selects from 16 consecutive positions; the selected
    /// ones are stored packed (`vpcompressd`) after those of the previous quarters: no branch
    /// per token.
    #[target_feature(enable = "avx512f,popcnt")]
    #[inline]
    unsafe fn flatten_avx512(tokens: u64, base: u32, window: &mut [u32; BLOCK]) -> usize {
        let step = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
        let mut n = 0usize;
        for q in 0..4 {
            let mask = (tokens >> (16 * q)) as u16;
            let pos = _mm512_add_epi32(step, _mm512_set1_epi32((base + 16 * q as u32) as i32));
            // SAFETY: `n` counts the positions stored so far, at most 48 before the last
            // quarter, which stores at most 16 more: `n + popcount(mask) <= 64`, the window's
            // length; a masked compress-store writes only `popcount(mask)` elements.
            unsafe {
                _mm512_mask_compressstoreu_epi32(window.as_mut_ptr().add(n).cast(), mask, pos);
            }
            n += mask.count_ones() as usize;
        }
        n
    }

    /// Bit `i` set where byte `i` of `v` equals `c`.
    #[target_feature(enable = "avx512f,avx512bw")]
    #[inline]
    fn eq_avx512(v: __m512i, c: u8) -> u64 {
        _mm512_cmpeq_epi8_mask(v, _mm512_set1_epi8(c as i8))
    }

    #[target_feature(enable = "avx512f,avx512bw")]
    #[inline]
    unsafe fn classify_avx512(block: &[u8; BLOCK]) -> Masks {
        // SAFETY: one unaligned 64-byte load of the 64-byte array.
        let v = unsafe { _mm512_loadu_si512(block.as_ptr().cast()) };
        let v20 = _mm512_or_si512(v, _mm512_set1_epi8(0x20));
        Masks {
            quote: eq_avx512(v, b'"'),
            backslash: eq_avx512(v, b'\\'),
            op: eq_avx512(v20, b'{')
                | eq_avx512(v20, b'}')
                | eq_avx512(v, b':')
                | eq_avx512(v, b','),
            ws: eq_avx512(v, b' ')
                | eq_avx512(v, b'\t')
                | eq_avx512(v, b'\n')
                | eq_avx512(v, b'\r'),
            ctl: _mm512_cmplt_epu8_mask(v, _mm512_set1_epi8(0x20)),
        }
    }
}
