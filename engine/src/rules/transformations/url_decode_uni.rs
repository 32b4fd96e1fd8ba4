//! `t:urlDecodeUni`: like `t:urlDecode`, plus IIS-style `%uXXXX` escapes. Without a
//! `SecUnicodeMapFile` (which Moat does not support), ModSecurity keeps only the low byte of
//! the code unit, except that full-width ASCII (`%uFF01`–`%uFF5E`) is mapped to ASCII by adding
//! 0x20 to the low byte. An invalid or truncated `%u` escape is kept as `%u` and decoding
//! resumes after the `u`.

use super::util::{is_hex, x2c, Output};

/// URL-decodes `%XX`, `%uXXXX` and `+`.
pub(super) fn url_decode_uni(input: &[u8]) -> Option<Vec<u8>> {
    memchr::memchr2(b'%', b'+', input)?;
    let mut out = Output::new(input);
    let mut i = 0;
    let n = input.len();
    while i < n {
        match input[i] {
            b'%' if i + 1 < n && matches!(input[i + 1], b'u' | b'U') => {
                if i + 5 < n && input[i + 2..i + 6].iter().all(|&b| is_hex(b)) {
                    let mut b = x2c(input[i + 4], input[i + 5]);
                    let full_width =
                        matches!(input[i + 2], b'f' | b'F') && matches!(input[i + 3], b'f' | b'F');
                    if full_width && b > 0x00 && b < 0x5f {
                        b += 0x20;
                    }
                    out.push(b);
                    i += 6;
                } else {
                    out.push(input[i]);
                    out.push(input[i + 1]);
                    i += 2;
                }
            }
            b'%' if i + 2 < n && is_hex(input[i + 1]) && is_hex(input[i + 2]) => {
                out.push(x2c(input[i + 1], input[i + 2]));
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    out.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_u_keeps_low_byte() {
        assert_eq!(url_decode_uni(b"%u0041%U0042"), Some(b"AB".to_vec()));
        // Cyrillic U+0427: the low byte only.
        assert_eq!(url_decode_uni(b"%u0427"), Some(vec![0x27]));
        assert_eq!(url_decode_uni(b"%u1234"), Some(vec![0x34]));
    }

    #[test]
    fn full_width_ascii() {
        // U+FF1C FULLWIDTH LESS-THAN SIGN, U+FF01 '!', U+FF5E '~'.
        assert_eq!(url_decode_uni(b"%uff1c%uFF01%uFf5e"), Some(b"<!~".to_vec()));
        // Outside FF01-FF5E: plain low byte.
        assert_eq!(
            url_decode_uni(b"%uff5f%uff00%ufe3c"),
            Some(vec![0x5f, 0x00, 0x3c])
        );
    }

    #[test]
    fn standard_escapes_and_plus() {
        assert_eq!(url_decode_uni(b"a+b%20c%2b"), Some(b"a b c+".to_vec()));
    }

    #[test]
    fn invalid_escapes_are_kept() {
        assert_eq!(url_decode_uni(b"%u004"), None);
        assert_eq!(url_decode_uni(b"%u00zz"), None);
        assert_eq!(url_decode_uni(b"%u"), None);
        assert_eq!(url_decode_uni(b"%"), None);
        assert_eq!(url_decode_uni(b"%4"), None);
        assert_eq!(url_decode_uni(b"%zz"), None);
        // After an invalid %u, decoding resumes after the 'u'.
        assert_eq!(url_decode_uni(b"%u%41"), Some(b"%uA".to_vec()));
        assert_eq!(url_decode_uni(b"x\xff\0"), None);
        assert_eq!(url_decode_uni(b""), None);
    }
}
