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

use super::extract::Unsupported;

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
    /// `len` positions are valid; room for [`CHUNK`] more plus a block's window.
    pub(crate) pos: Vec<u32>,
    pub(crate) len: usize,
    pub(crate) escapes: Vec<u32>,
}

/// Indexes `b[from..to]` (`from` a multiple of [`BLOCK`], at most [`CHUNK`] bytes), appending
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

/// Token positions of a document, indexed a chunk at a time as the extractor asks for them
/// (bounded memory whatever the document's size).
pub(crate) struct Tokens<'a> {
    b: &'a [u8],
    /// Indexed up to here (a multiple of [`BLOCK`], or the end).
    done: usize,
    carry: Carry,
    found: Found,
    /// The cursor: the next token is `found.pos[head]` (past `found.len` when a string's
    /// closing quote was skipped before it was indexed).
    head: usize,
    /// The next escape at or after the cursor is `found.escapes[esc_head]` or later.
    esc_head: usize,
    level: super::simd::Level,
}

thread_local! {
    /// A token buffer kept between documents (at most [`CHUNK`] + a little positions).
    static SPARE: std::cell::Cell<Vec<u32>> = const { std::cell::Cell::new(Vec::new()) };
}

impl Drop for Tokens<'_> {
    fn drop(&mut self) {
        let pos = std::mem::take(&mut self.found.pos);
        SPARE.with(|s| s.set(pos));
    }
}

/// Bytes indexed per refill: the token buffer stays within a few hundred KiB.
pub(crate) const CHUNK: usize = 64 * 1024;

/// Tokens the cursor may still need when it asks for more (it looks at most two ahead).
const KEEP: usize = 16;

impl<'a> Tokens<'a> {
    pub(crate) fn new(b: &'a [u8], level: super::simd::Level) -> Result<Self, Unsupported> {
        if b.len() >= u32::MAX as usize {
            return Err(Unsupported);
        }
        let room = CHUNK.min(b.len().next_multiple_of(BLOCK)) + KEEP + BLOCK;
        // The thread's buffer from the previous document, zeroed only when it grows.
        let mut pos = SPARE.with(|s| s.take());
        if pos.len() < room {
            pos = vec![0; room];
        }
        Ok(Tokens {
            b,
            done: 0,
            carry: Carry::default(),
            found: Found {
                pos,
                len: 0,
                escapes: Vec::new(),
            },
            head: 0,
            esc_head: 0,
            level,
        })
    }

    /// The position of the `k`-th token from the cursor (`k` at most 1), indexing more of the
    /// document when needed; `Ok(None)` after the last token.
    #[inline]
    pub(crate) fn get(&mut self, k: usize) -> Result<Option<usize>, Unsupported> {
        let i = self.head + k;
        if i < self.found.len {
            return Ok(Some(self.found.pos[i] as usize));
        }
        self.get_slow(k)
    }

    #[cold]
    fn get_slow(&mut self, k: usize) -> Result<Option<usize>, Unsupported> {
        while self.head + k >= self.found.len {
            if !self.refill()? {
                return Ok(None);
            }
        }
        Ok(Some(self.found.pos[self.head + k] as usize))
    }

    /// Moves the cursor `n` tokens on.
    #[inline]
    pub(crate) fn advance(&mut self, n: usize) {
        self.head += n;
    }

    /// Whether a backslash escape lies inside `open..close` (a string's quotes; the cursor
    /// reads strings in document order).
    #[inline]
    pub(crate) fn escaped_within(&mut self, open: usize, close: usize) -> bool {
        let e = &self.found.escapes;
        while self.esc_head < e.len() && (e[self.esc_head] as usize) < open {
            self.esc_head += 1;
        }
        self.esc_head < e.len() && (e[self.esc_head] as usize) < close
    }

    fn refill(&mut self) -> Result<bool, Unsupported> {
        if self.done >= self.b.len() {
            if self.carry.in_string() {
                // An unterminated string.
                return Err(Unsupported);
            }
            return Ok(false);
        }
        // Keep what the cursor has not consumed yet at the front.
        let from = self.head.min(self.found.len);
        let keep = self.found.len - from;
        if keep > KEEP {
            return Err(Unsupported);
        }
        // Escapes the cursor can still ask about: at or after the first kept token (a string
        // it may read); with none kept, none (a string it stepped past is never checked). The
        // list then holds one chunk's escapes at most, whatever the document.
        let floor = match keep {
            0 => self.done,
            _ => self.found.pos[from] as usize,
        };
        let stale = self
            .found
            .escapes
            .partition_point(|&e| (e as usize) < floor);
        self.found.escapes.drain(..stale);
        self.esc_head = 0;
        self.found.pos.copy_within(from..self.found.len, 0);
        self.found.len = keep;
        self.head -= from;
        let to = (self.done + CHUNK).min(self.b.len());
        super::simd::index(
            self.level,
            self.b,
            self.done,
            to,
            &mut self.carry,
            &mut self.found,
        )?;
        self.done = to;
        Ok(true)
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

    fn tokens(doc: &[u8], level: super::super::simd::Level) -> Result<Vec<u32>, Unsupported> {
        let mut t = Tokens::new(doc, level)?;
        let mut out = Vec::new();
        while let Some(p) = t.get(0)? {
            out.push(p as u32);
            t.advance(1);
        }
        Ok(out)
    }

    #[test]
    fn tokens_are_structure_quotes_and_scalar_starts() {
        let doc = br#" {"a\"b" : [1, true,"x\\"],"c":null}"#;
        let got = tokens(doc, super::super::simd::Level::portable()).unwrap();
        let chars: String = got.iter().map(|&p| doc[p as usize] as char).collect();
        assert_eq!(chars, r#"{"":[1,t,""],"":n}"#);
        for bad in [
            &b"{\"a\x01\":1}"[..],
            b"{\"a\\x\":1}",
            b"{\"a\\ud800\":1}",
            b"{\"a\":1}\x00",
            b"{\"unterminated}",
        ] {
            assert_eq!(
                tokens(bad, super::super::simd::Level::portable()),
                Err(Unsupported),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn a_cursor_may_skip_past_what_is_indexed() {
        // Strings across the chunk boundary, skipped two tokens at a time.
        let mut doc = Vec::new();
        while doc.len() < 3 * CHUNK {
            doc.extend_from_slice(br#""ab","#);
        }
        let want = (doc.len() / 5) * 2;
        let mut t = Tokens::new(&doc, super::super::simd::Level::portable()).unwrap();
        let mut n = 0;
        while let Some(p) = t.get(0).unwrap() {
            assert_eq!(doc[p], if n % 3 == 2 { b',' } else { b'"' }, "token {n}");
            // A string: its quotes at once, then the comma.
            if doc[p] == b'"' {
                t.advance(2);
                n += 2;
            } else {
                t.advance(1);
                n += 1;
            }
        }
        assert_eq!(n, want + doc.len() / 5);
    }

    #[test]
    fn escapes_of_a_skipped_value_do_not_pile_up() {
        // One string of 4 MiB of escapes, stepped past as the extractor skips a value.
        let mut doc = b"[\"".to_vec();
        doc.extend(std::iter::repeat_n(b"\\n".as_slice(), 2 << 20).flatten());
        doc.extend_from_slice(b"\",1]");
        let mut t = Tokens::new(&doc, super::super::simd::Level::portable()).unwrap();
        let mut most = 0;
        while let Some(p) = t.get(0).unwrap() {
            t.advance(if doc[p] == b'"' { 2 } else { 1 });
            most = most.max(t.found.escapes.len());
        }
        assert!(most <= CHUNK / 2, "{most} escapes held");
    }

    #[test]
    fn every_cpu_path_gives_the_same_tokens() {
        let mut state = 0x2545_F491_4F6C_DD1Du64;
        let alphabet = b"{}[]:,\"\\ \t\n\ra0-e.tu\x01\xc3\xa9";
        let levels = super::super::simd::Level::available();
        assert!(levels.contains(&super::super::simd::Level::portable()));
        for len in 0..400 {
            let doc: Vec<u8> = (0..len)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    alphabet[(state % alphabet.len() as u64) as usize]
                })
                .collect();
            let want = tokens(&doc, super::super::simd::Level::portable());
            for &level in &levels {
                assert_eq!(tokens(&doc, level), want, "{level:?} on {doc:?}");
            }
        }
    }
}
