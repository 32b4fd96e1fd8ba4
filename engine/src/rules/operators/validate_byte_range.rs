//! `@validateByteRange 10,13,32-126`: matches when the input holds a byte OUTSIDE the listed
//! values and ranges (an empty input never matches).

use crate::seclang::operators::parse_byte_ranges;

/// The allowed bytes.
#[derive(Debug)]
pub struct ByteRange {
    /// One bit per byte value (32 bytes, where a `[bool; 256]` made every rule link 256 bytes
    /// larger).
    allowed: [u64; 4],
}

impl ByteRange {
    /// Parses the list (see [`parse_byte_ranges`]).
    pub fn new(arg: &str) -> Result<ByteRange, String> {
        let mut allowed = [0u64; 4];
        for (lo, hi) in parse_byte_ranges(arg.trim())? {
            for b in lo..=hi {
                allowed[usize::from(b >> 6)] |= 1 << (b & 63);
            }
        }
        Ok(ByteRange { allowed })
    }

    /// True when `b` is allowed.
    pub fn allows(&self, b: u8) -> bool {
        self.allowed[usize::from(b >> 6)] & (1 << (b & 63)) != 0
    }

    /// True when some byte of `input` is not allowed.
    pub fn matches(&self, input: &[u8]) -> bool {
        input.iter().any(|&b| !self.allows(b))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outside_bytes_match() {
        let r = ByteRange::new("9,10,13,32-126,128-255").unwrap();
        assert!(!r.matches(b"hello world\r\n"));
        assert!(!r.matches("caf\u{e9}".as_bytes()));
        assert!(r.matches(b"a\x00b"));
        assert!(r.matches(b"\x7f"));
        assert!(!r.matches(b""));
        let r = ByteRange::new("1-255").unwrap();
        assert!(r.matches(b"\x00"));
        assert!(!r.matches(b"\xff"));
        let r = ByteRange::new("0-255").unwrap();
        assert!(!r.matches(b"\x00\xff"));
        assert!(ByteRange::new("300").is_err());
    }
}
