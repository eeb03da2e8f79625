//! Stage 1 of a simdjson-style structural index: per 64-byte block, bitmasks of quotes,
//! backslashes, structural characters (`{}[]:,`), whitespace and control bytes, the in-string
//! state carried from block to block, and from them the positions of every token the
//! extractor needs: each structural character outside strings, each unescaped quote (a
//! string's opening and closing quote, in pairs), and the first byte of each scalar
//! (`true`, `-1.5e3`, …). Whitespace and string contents produce no token, so the extractor
//! steps from token to token instead of walking bytes, and skips a nested value by bracket
//! depth over the tokens.
//!
//! What only the bytes can show is checked here, so the token stream is as strict as the
//! byte walk it replaces: a raw control byte inside a string, or outside one anything but
//! whitespace, is declined; every backslash inside a string must start a valid JSON escape (a
//! `\u` escape of a surrogate is declined, as before); any other byte outside strings starts or
//! continues a scalar, which the extractor checks whole (so `tru`, `1x` or a stray backslash are
//! declined). The classification of a block is the only part that differs by CPU
//! ([`super::simd`]: AVX-512, AVX2, or this module's portable table); the rest is safe code,
//! shared, and tested equal on every path.

/// The extractor declined (here: the bytes alone show the document is not one it reads);
/// parse the document with the full parser instead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unsupported;

/// Bytes per block: one bit per byte in a `u64`.
pub(crate) const BLOCK: usize = 64;

/// The classes of one block's bytes, one bit per byte (bit `i` is byte `i`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Masks {
    pub quote: u64,
    pub backslash: u64,
    /// `{`, `}`, `[`, `]`, `:`, `,`.
    pub op: u64,
    /// Space, tab, line feed, carriage return.
    pub ws: u64,
    /// Bytes below 0x20.
    pub ctl: u64,
}

/// What carries from one block to the next.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Carry {
    /// All ones when the previous block ended inside a string.
    in_string: u64,
    /// Bit 0 set when the first byte of this block is escaped by an odd backslash run.
    escaped: u64,
    /// Bit 0 set when the previous block ended in the middle of a scalar.
    scalar: u64,
}

impl Carry {
    /// The document ended inside a string.
    pub(crate) fn in_string(&self) -> bool {
        self.in_string != 0
    }
}

const ODD_BITS: u64 = 0xAAAA_AAAA_AAAA_AAAA;

/// The bytes escaped by a backslash, and the backslashes that escape (simdjson's escape
/// scanner: runs of backslashes pair up from their start, carried across blocks).
#[inline(always)]
fn escapes(backslash: u64, next_is_escaped: &mut u64) -> u64 {
    if backslash == 0 {
        let escaped = *next_is_escaped;
        *next_is_escaped = 0;
        return escaped;
    }
    let potential_escape = backslash & !*next_is_escaped;
    let maybe_escaped = potential_escape << 1;
    let maybe_escaped_and_odd_bits = maybe_escaped | ODD_BITS;
    let even_series_codes_and_odd_bits = maybe_escaped_and_odd_bits.wrapping_sub(potential_escape);
    let escape_and_terminal_code = even_series_codes_and_odd_bits ^ ODD_BITS;
    let escaped = escape_and_terminal_code ^ (backslash | *next_is_escaped);
    let escape = escape_and_terminal_code & backslash;
    *next_is_escaped = escape >> 63;
    escaped
}

/// Bit `i` of the result is the XOR of bits `0..=i`: inside a string after an odd number of
/// quotes.
#[inline(always)]
fn prefix_xor(mut x: u64) -> u64 {
    x ^= x << 1;
    x ^= x << 2;
    x ^= x << 4;
    x ^= x << 8;
    x ^= x << 16;
    x ^= x << 32;
    x
}

/// Classifies a block's bytes, and writes a block's token positions.
pub(crate) trait Classify {
    fn classify(block: &[u8; BLOCK]) -> Masks;

    /// Writes `base + i` for every bit `i` of `tokens`, in order, to the start of `window`;
    /// returns how many.
    #[inline(always)]
    fn flatten(mut tokens: u64, base: u32, window: &mut [u32; BLOCK]) -> usize {
        let mut n = 0;
        while tokens != 0 {
            window[n & (BLOCK - 1)] = base + tokens.trailing_zeros();
            tokens &= tokens - 1;
            n += 1;
        }
        n
    }
}

/// The portable classifier: a 256-entry table.
pub(crate) struct Portable;

const Q: u8 = 1;
const BS: u8 = 2;
const OP: u8 = 4;
const WS: u8 = 8;
const CTL: u8 = 16;

static CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 0x20 {
        t[i] = CTL;
        i += 1;
    }
    t[b'"' as usize] = Q;
    t[b'\\' as usize] = BS;
    t[b'{' as usize] = OP;
    t[b'}' as usize] = OP;
    t[b'[' as usize] = OP;
    t[b']' as usize] = OP;
    t[b':' as usize] = OP;
    t[b',' as usize] = OP;
    t[b' ' as usize] = WS;
    t[b'\t' as usize] = WS | CTL;
    t[b'\n' as usize] = WS | CTL;
    t[b'\r' as usize] = WS | CTL;
    t
};

impl Classify for Portable {
    #[inline(always)]
    fn classify(block: &[u8; BLOCK]) -> Masks {
        let mut m = Masks::default();
        for (i, &c) in block.iter().enumerate() {
            let k = CLASS[c as usize] as u64;
            m.quote |= (k & 1) << i;
            m.backslash |= ((k >> 1) & 1) << i;
            m.op |= ((k >> 2) & 1) << i;
            m.ws |= ((k >> 3) & 1) << i;
            m.ctl |= ((k >> 4) & 1) << i;
        }
        m
    }
}

/// Where stage 1 writes: token positions into a fixed buffer, and the positions of escaped
/// bytes inside strings (rare), so that a wanted string's escapes are found without a scan.
pub(crate) struct Found {
    /// `len` positions are valid; room for a chunk's more plus a block's window.
    pub(crate) pos: Vec<u32>,
    pub(crate) len: usize,
    pub(crate) escapes: Vec<u32>,
}

/// Indexes `b[from..to]` (`from` a multiple of [`BLOCK`], at most a chunk), appending
/// token positions to `out`; declines what the bytes alone show to be invalid (see the
/// module's text).
#[inline(always)]
pub(crate) fn index_with<C: Classify>(
    b: &[u8],
    from: usize,
    to: usize,
    carry: &mut Carry,
    out: &mut Found,
) -> Result<(), Unsupported> {
    let mut at = from;
    while at < to {
        let (m, valid) = match b.get(at..at + BLOCK) {
            Some(block) => (C::classify(block.try_into().expect("a block")), u64::MAX),
            None => {
                // The last, partial block: padded with spaces (whitespace, no token).
                let mut pad = [b' '; BLOCK];
                let n = b.len() - at;
                pad[..n].copy_from_slice(&b[at..]);
                (C::classify(&pad), (1u64 << n) - 1)
            }
        };
        let escaped = escapes(m.backslash, &mut carry.escaped);
        let quotes = m.quote & !escaped;
        let in_string = prefix_xor(quotes) ^ carry.in_string;
        carry.in_string = ((in_string as i64) >> 63) as u64;
        // A control byte is whitespace outside strings (tab, LF, CR) or invalid.
        if m.ctl & (in_string | !m.ws) & valid != 0 {
            return Err(Unsupported);
        }
        // Every escape inside a string must be a JSON escape; outside strings a backslash is
        // a scalar byte and declined with its scalar.
        let mut esc = escaped & in_string & valid;
        while esc != 0 {
            let p = at + esc.trailing_zeros() as usize;
            check_escape(b, p)?;
            out.escapes.push(p as u32);
            esc &= esc - 1;
        }
        let structural = m.op & !in_string;
        let scalar = !(m.op | m.ws | m.quote | in_string);
        let scalar_start = scalar & !((scalar << 1) | carry.scalar);
        carry.scalar = scalar >> 63;
        let tokens = (structural | quotes | scalar_start) & valid;
        // Written into a block-sized window of the buffer (one bounds check per block).
        let window: &mut [u32; BLOCK] = (&mut out.pos[out.len..out.len + BLOCK])
            .try_into()
            .expect("a block's window");
        let n = C::flatten(tokens, at as u32, window);
        out.len += n;
        at += BLOCK;
    }
    Ok(())
}

/// The byte at `p` follows a backslash inside a string: a valid escape, or declined.
#[cold]
fn check_escape(b: &[u8], p: usize) -> Result<(), Unsupported> {
    match b.get(p) {
        Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => Ok(()),
        Some(b'u') => {
            let hex = b.get(p + 1..p + 5).ok_or(Unsupported)?;
            if !hex.iter().all(u8::is_ascii_hexdigit) {
                return Err(Unsupported);
            }
            let text = std::str::from_utf8(hex).map_err(|_| Unsupported)?;
            let code = u16::from_str_radix(text, 16).map_err(|_| Unsupported)?;
            if (0xD800..=0xDFFF).contains(&code) {
                return Err(Unsupported);
            }
            Ok(())
        }
        _ => Err(Unsupported),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The escaped bytes by definition: preceded by an odd run of backslashes.
    fn escaped_naive(b: &[u8]) -> Vec<bool> {
        let mut out = vec![false; b.len()];
        let mut run = 0usize;
        for (i, &c) in b.iter().enumerate() {
            out[i] = run % 2 == 1;
            run = if c == b'\\' { run + 1 } else { 0 };
        }
        out
    }

    #[test]
    fn escapes_pair_up_across_blocks() {
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        for _ in 0..2_000 {
            let len = 64 * 3;
            let b: Vec<u8> = (0..len)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    if state.is_multiple_of(3) { b'a' } else { b'\\' }
                })
                .collect();
            let want = escaped_naive(&b);
            let mut carry = 0u64;
            for (k, block) in b.chunks(64).enumerate() {
                let block: &[u8; 64] = block.try_into().unwrap();
                let got = escapes(Portable::classify(block).backslash, &mut carry);
                for i in 0..64 {
                    assert_eq!(
                        got >> i & 1 == 1,
                        want[k * 64 + i],
                        "byte {} of {:?}",
                        k * 64 + i,
                        String::from_utf8_lossy(&b)
                    );
                }
            }
        }
    }
}
