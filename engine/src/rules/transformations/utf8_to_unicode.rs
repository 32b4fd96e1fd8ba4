//! `t:utf8toUnicode`: each well-formed UTF-8 multi-byte sequence becomes `%uHHHH` text
//! (lowercase hex, at least four digits: code points above U+FFFF give five or six). ASCII is
//! copied. Following libmodsecurity v3 byte for byte, a sequence that is overlong or encodes a
//! surrogate is followed by its lead byte; a lead byte `F5`–`F7` is also written before the
//! sequence; a lead byte (`C0`–`F7`) without enough continuation bytes is dropped; stray
//! continuation bytes and `F8`–`FF` are copied.
//!
//! Deviation: v3 drops a NUL byte unless it is the last byte (an artefact of its buffer
//! handling, not a documented behaviour); NUL bytes are copied here like other ASCII.

use super::util::{Output, HEX_LOWER};

/// Converts UTF-8 sequences to `%uHHHH` escapes.
pub(super) fn utf8_to_unicode(input: &[u8]) -> Option<Vec<u8>> {
    let first = input.iter().position(|&b| b >= 0x80)?;
    let mut out = Output::new(input);
    out.extend(&input[..first]);
    let n = input.len();
    let mut i = first;
    while i < n {
        let c = input[i];
        let cont = |k: usize| input.get(i + k).is_some_and(|&b| b & 0xc0 == 0x80);
        let (len, min) = match c {
            0x00..=0x7f => {
                out.push(c);
                i += 1;
                continue;
            }
            0xc0..=0xdf => (2, 0x80),
            0xe0..=0xef => (3, 0x800),
            0xf0..=0xf7 => {
                if c >= 0xf5 {
                    out.push(c);
                }
                (4, 0x10000)
            }
            _ => {
                out.push(c);
                i += 1;
                continue;
            }
        };
        if i + len > n || !(1..len).all(cont) {
            i += 1;
            continue;
        }
        let lead_bits = u32::from(c) & (0x7f >> len);
        let code = input[i + 1..i + len]
            .iter()
            .fold(lead_bits, |acc, &b| (acc << 6) | u32::from(b & 0x3f));
        push_percent_u(&mut out, code);
        if (0xd800..=0xdfff).contains(&code) {
            out.push(c);
        }
        if code < min {
            out.push(c);
        }
        i += len;
    }
    out.finish()
}

/// Writes `%u` and the code point in lowercase hex, zero-padded to four digits.
fn push_percent_u(out: &mut Output<'_>, code: u32) {
    out.extend(b"%u");
    let digits = (8 - code.leading_zeros() / 4).max(4);
    for k in (0..digits).rev() {
        out.push(HEX_LOWER[((code >> (4 * k)) & 0xf) as usize]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc(s: &[u8]) -> Vec<u8> {
        utf8_to_unicode(s).unwrap_or_else(|| s.to_vec())
    }

    #[test]
    fn multibyte_sequences() {
        assert_eq!(enc("aé".as_bytes()), b"a%u00e9");
        assert_eq!(enc("Ч".as_bytes()), b"%u0427");
        assert_eq!(enc("＜".as_bytes()), b"%uff1c");
        assert_eq!(enc("€x".as_bytes()), b"%u20acx");
        assert_eq!(enc("😀".as_bytes()), b"%u1f600");
        assert_eq!(enc(&[0xf4, 0x8f, 0xbf, 0xbf]), b"%u10ffff");
    }

    #[test]
    fn ascii_is_unchanged() {
        assert_eq!(utf8_to_unicode(b"plain %u0041 \0"), None);
        assert_eq!(utf8_to_unicode(b""), None);
    }

    #[test]
    fn malformed_sequences() {
        // Truncated or invalid continuation: the lead byte is dropped.
        assert_eq!(enc(&[b'a', 0xc3]), b"a");
        assert_eq!(enc(&[0xe2, 0x82, b'x']), b"\x82x");
        // Stray continuation bytes and F8-FF are copied.
        assert_eq!(utf8_to_unicode(&[0x80, 0xbf, 0xff]), None);
        // Overlong: lead byte appended.
        assert_eq!(enc(&[0xc0, 0xaf]), b"%u002f\xc0");
        assert_eq!(enc(&[0xe0, 0x80, 0xaf]), b"%u002f\xe0");
        // Surrogate: lead byte appended.
        assert_eq!(enc(&[0xed, 0xa0, 0x80]), b"%ud800\xed");
        // F5-F7: lead byte written first.
        assert_eq!(enc(&[0xf5, 0x80, 0x80, 0x80]), b"\xf5%u140000");
        assert_eq!(enc(&[0xf7]), b"\xf7");
    }
}
