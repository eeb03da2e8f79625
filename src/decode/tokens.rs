//! The structural index as a cursor: token positions of a document, indexed a 64 KiB chunk at
//! a time as the extractor asks for them ([`super::structural`] finds them, with the
//! classifier [`super::simd`] picks for this CPU), so memory stays flat whatever the document.

use super::simd::Level;
use super::structural::{BLOCK, Carry, Found, Unsupported};

/// Visits the position of every token of `doc` as the extractor indexes it with `level`, in
/// order; `Err` where the index declines the document (for benches and fuzzing: the index
/// alone).
pub fn each_token(
    doc: &[u8],
    level: Level,
    mut visit: impl FnMut(usize),
) -> Result<(), Unsupported> {
    let mut t = Tokens::new(doc, level)?;
    while let Some(p) = t.get(0)? {
        visit(p);
        t.advance(1);
    }
    Ok(())
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
    level: Level,
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
    pub(crate) fn new(b: &'a [u8], level: Level) -> Result<Self, Unsupported> {
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

    fn tokens(doc: &[u8], level: Level) -> Result<Vec<usize>, Unsupported> {
        let mut out = Vec::new();
        each_token(doc, level, |p| out.push(p)).map(|()| out)
    }

    #[test]
    fn tokens_are_structure_quotes_and_scalar_starts() {
        let doc = br#" {"a\"b" : [1, true,"x\\"],"c":null}"#;
        let got = tokens(doc, Level::portable()).unwrap();
        let chars: String = got.iter().map(|&p| doc[p] as char).collect();
        assert_eq!(chars, r#"{"":[1,t,""],"":n}"#);
        for bad in [
            &b"{\"a\x01\":1}"[..],
            b"{\"a\\x\":1}",
            b"{\"a\\ud800\":1}",
            b"{\"a\":1}\x00",
            b"{\"unterminated}",
        ] {
            assert_eq!(
                tokens(bad, Level::portable()),
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
        let mut t = Tokens::new(&doc, Level::portable()).unwrap();
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
        let mut t = Tokens::new(&doc, Level::portable()).unwrap();
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
        let levels = Level::available();
        assert!(levels.contains(&Level::portable()));
        for len in 0..400 {
            let doc: Vec<u8> = (0..len)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    alphabet[(state % alphabet.len() as u64) as usize]
                })
                .collect();
            let want = tokens(&doc, Level::portable());
            for &level in &levels {
                assert_eq!(tokens(&doc, level), want, "{level:?} on {doc:?}");
            }
        }
    }
}
