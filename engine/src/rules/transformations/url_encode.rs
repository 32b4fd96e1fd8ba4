//! `t:urlEncode`: space becomes `+`; ASCII letters, digits and `*` are kept; every other byte
//! becomes `%xx` (lowercase hex), as in ModSecurity.

use super::util::{Output, HEX_LOWER};

/// URL-encodes the input.
pub(super) fn url_encode(input: &[u8]) -> Option<Vec<u8>> {
    let mut out = Output::new(input);
    for &b in input {
        if b == b' ' {
            out.push(b'+');
        } else if b == b'*' || b.is_ascii_alphanumeric() {
            out.push(b);
        } else {
            out.extend(&[
                b'%',
                HEX_LOWER[usize::from(b >> 4)],
                HEX_LOWER[usize::from(b & 0xf)],
            ]);
        }
    }
    out.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes() {
        assert_eq!(
            url_encode(b"a b/c=\xff\0*"),
            Some(b"a+b%2fc%3d%ff%00*".to_vec())
        );
        assert_eq!(url_encode(b"-._~"), Some(b"%2d%2e%5f%7e".to_vec()));
        assert_eq!(url_encode(b"abcXYZ019*"), None);
        assert_eq!(url_encode(b""), None);
    }
}
