//! `@validateUtf8Encoding`: matches when the input is not valid UTF-8 by libmodsecurity's
//! rules: a truncated sequence, a lead or continuation byte out of place, a lead byte
//! `0xF5`–`0xFF`, an overlong form, or a surrogate (`U+D800`–`U+DFFF`).
//!
//! libmodsecurity accepts `F4 90..BF xx xx` (code points above `U+10FFFF`), which Rust's
//! validator rejects; so valid Rust UTF-8 (the fast, common case) never matches, and other
//! inputs are checked with libmodsecurity's rules.

/// True when `input` is invalid UTF-8 for libmodsecurity.
pub fn is_invalid(input: &[u8]) -> bool {
    if std::str::from_utf8(input).is_ok() {
        return false;
    }
    let mut i = 0;
    while i < input.len() {
        match char_len(&input[i..]) {
            Some(n) => i += n,
            None => return true,
        }
    }
    false
}

/// The length of the valid character starting `s` (non-empty), or `None` when invalid.
fn char_len(s: &[u8]) -> Option<usize> {
    let c = s[0];
    let (len, lead_bits, min) = match c {
        0x00..=0x7f => return Some(1),
        0xc0..=0xdf => (2, u32::from(c & 0x1f), 0x80),
        0xe0..=0xef => (3, u32::from(c & 0x0f), 0x800),
        0xf0..=0xf4 => (4, u32::from(c & 0x07), 0x1_0000),
        _ => return None,
    };
    let tail = s.get(1..len)?;
    let mut d = lead_bits;
    for &b in tail {
        if b & 0xc0 != 0x80 {
            return None;
        }
        d = d << 6 | u32::from(b & 0x3f);
    }
    if (0xd800..=0xdfff).contains(&d) || d < min {
        return None;
    }
    Some(len)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_inputs() {
        for ok in [
            &b""[..],
            b"plain ascii",
            "caf\u{e9} \u{20ac} \u{1f600}".as_bytes(),
            b"\xf4\x8f\xbf\xbf",
            b"\xf4\x90\x80\x80",
        ] {
            assert!(!is_invalid(ok), "{ok:?}");
        }
    }

    #[test]
    fn invalid_inputs() {
        for bad in [
            &b"\xc3"[..],
            b"a\xe2\x82",
            b"\xf0\x9f\x98",
            b"\x80",
            b"\xbf",
            b"\xc3\x28",
            b"\xc0\xaf",
            b"\xc1\xbf",
            b"\xe0\x80\xaf",
            b"\xf0\x80\x80\xaf",
            b"\xed\xa0\x80",
            b"\xf5\x80\x80\x80",
            b"\xf8\x88\x80\x80\x80",
            b"\xff",
            b"ok\xfe",
        ] {
            assert!(is_invalid(bad), "{bad:?}");
        }
    }
}
