//! `t:urlDecode`: decodes `%XX` escapes and `+` (as a space). Invalid or truncated escapes are
//! kept as they are (ModSecurity's non-strict URL decoding).

use super::util::{is_hex, x2c, Output};

/// URL-decodes `%XX` and `+`.
pub(super) fn url_decode(input: &[u8]) -> Option<Vec<u8>> {
    memchr::memchr2(b'%', b'+', input)?;
    let mut out = Output::new(input);
    let mut i = 0;
    while i < input.len() {
        match input[i] {
            b'%' if i + 2 < input.len() && is_hex(input[i + 1]) && is_hex(input[i + 2]) => {
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
    fn decodes_escapes_and_plus() {
        assert_eq!(url_decode(b"a%20b+c%3d%3D"), Some(b"a b c==".to_vec()));
        assert_eq!(url_decode(b"%00%ff%FF"), Some(vec![0, 0xff, 0xff]));
        assert_eq!(url_decode(b"%41"), Some(b"A".to_vec()));
    }

    #[test]
    fn keeps_invalid_escapes() {
        assert_eq!(url_decode(b"%"), None);
        assert_eq!(url_decode(b"%4"), None);
        assert_eq!(url_decode(b"a%zz%4g%"), None);
        assert_eq!(url_decode(b"%%41"), Some(b"%A".to_vec()));
        assert_eq!(url_decode(b"%u0041"), None);
        assert_eq!(url_decode(b"plain\xff\0"), None);
        assert_eq!(url_decode(b""), None);
    }

    #[test]
    fn decodes_once() {
        assert_eq!(url_decode(b"%2541"), Some(b"%41".to_vec()));
    }
}
