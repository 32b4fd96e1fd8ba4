//! Helpers shared by the transformations: C-locale character classes, hex digits, and
//! [`Output`], a writer that only allocates once the output departs from the input.

/// C `isspace` in the "C" locale: space, `\t`, `\n`, `\v`, `\f`, `\r`.
pub(super) fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

/// ModSecurity's `VALID_HEX`: an ASCII hex digit.
pub(super) fn is_hex(b: u8) -> bool {
    b.is_ascii_hexdigit()
}

/// ModSecurity's `ISODIGIT`: an octal digit.
pub(super) fn is_octal(b: u8) -> bool {
    (b'0'..=b'7').contains(&b)
}

/// ModSecurity's `xsingle2c`: the value of one hex digit. Like the C code it does not
/// validate (bytes that are not hex digits give deterministic, meaningless values).
pub(super) fn xsingle2c(b: u8) -> u8 {
    if b >= b'A' {
        ((b & 0xdf).wrapping_sub(b'A')).wrapping_add(10)
    } else {
        b.wrapping_sub(b'0')
    }
}

/// ModSecurity's `x2c`: the byte written by two hex digits (unvalidated, see [`xsingle2c`]).
pub(super) fn x2c(hi: u8, lo: u8) -> u8 {
    xsingle2c(hi).wrapping_mul(16).wrapping_add(xsingle2c(lo))
}

/// Lowercase hex digits, for encoders.
pub(super) const HEX_LOWER: &[u8; 16] = b"0123456789abcdef";

/// An output that stays a borrowed prefix of the input while the bytes written equal the
/// input's, and allocates only when they first differ.
pub(super) struct Output<'a> {
    input: &'a [u8],
    same: usize,
    buf: Option<Vec<u8>>,
}

impl<'a> Output<'a> {
    /// An empty output for a transformation of `input`.
    pub(super) fn new(input: &'a [u8]) -> Self {
        Output {
            input,
            same: 0,
            buf: None,
        }
    }

    /// Appends one byte.
    pub(super) fn push(&mut self, b: u8) {
        match &mut self.buf {
            Some(v) => v.push(b),
            None => {
                if self.input.get(self.same) == Some(&b) {
                    self.same += 1;
                } else {
                    let mut v = Vec::with_capacity(self.input.len().max(self.same + 8));
                    v.extend_from_slice(&self.input[..self.same]);
                    v.push(b);
                    self.buf = Some(v);
                }
            }
        }
    }

    /// Appends bytes.
    pub(super) fn extend(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.push(b);
        }
    }

    /// The result: `None` when the output equals the input.
    pub(super) fn finish(self) -> Option<Vec<u8>> {
        match self.buf {
            Some(v) => Some(v),
            None if self.same == self.input.len() => None,
            None => Some(self.input[..self.same].to_vec()),
        }
    }
}

/// Wraps a transformation that always builds its output: `None` when it equals the input.
pub(super) fn changed(input: &[u8], output: Vec<u8>) -> Option<Vec<u8>> {
    (output != input).then_some(output)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_borrows_while_equal() {
        let mut o = Output::new(b"abc");
        o.extend(b"abc");
        assert_eq!(o.finish(), None);
        let mut o = Output::new(b"abc");
        o.extend(b"ab");
        assert_eq!(o.finish(), Some(b"ab".to_vec()));
        let mut o = Output::new(b"abc");
        o.extend(b"abcd");
        assert_eq!(o.finish(), Some(b"abcd".to_vec()));
        let mut o = Output::new(b"abc");
        o.extend(b"aXc");
        assert_eq!(o.finish(), Some(b"aXc".to_vec()));
    }

    #[test]
    fn x2c_matches_modsecurity() {
        assert_eq!(x2c(b'4', b'1'), 0x41);
        assert_eq!(x2c(b'f', b'F'), 0xff);
        assert_eq!(x2c(b'a', b'0'), 0xa0);
        // Unvalidated digits wrap like the C code.
        assert_eq!(xsingle2c(b'g'), 16);
        assert_eq!(xsingle2c(b'!'), b'!'.wrapping_sub(b'0'));
    }
}
