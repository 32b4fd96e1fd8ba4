//! `@validateUrlEncoding`: matches when the input holds an invalid `%` encoding — a `%` not
//! followed by two hexadecimal digits, including one too close to the end. An empty input
//! never matches (libmodsecurity v3).

/// True when `input` holds an invalid `%xx` sequence.
pub fn is_invalid(input: &[u8]) -> bool {
    let mut i = 0;
    while let Some(off) = memchr::memchr(b'%', &input[i..]) {
        let p = i + off;
        match input.get(p + 1..p + 3) {
            Some([a, b]) if a.is_ascii_hexdigit() && b.is_ascii_hexdigit() => i = p + 3,
            _ => return true,
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_encodings() {
        for ok in [
            &b""[..],
            b"abc",
            b"%41%4a%4F",
            b"a%20b",
            b"%ff\xff",
            b"100%25",
        ] {
            assert!(!is_invalid(ok), "{ok:?}");
        }
        for bad in [
            &b"%"[..],
            b"%4",
            b"a%zz",
            b"%4g",
            b"abc%",
            b"%41%",
            b"%%41",
            b"% 41",
        ] {
            assert!(is_invalid(bad), "{bad:?}");
        }
    }
}
