//! `t:compressWhitespace`: each run of C-locale whitespace (space, `\t`, `\n`, `\v`, `\f`,
//! `\r`) becomes one space, as in libmodsecurity v3 (which, unlike v2, does not treat the
//! NBSP byte `0xA0` as whitespace).

use super::util::{is_space, Output};

/// Replaces each whitespace run by a single space.
pub(super) fn compress_whitespace(input: &[u8]) -> Option<Vec<u8>> {
    let mut out = Output::new(input);
    let mut in_space = false;
    for &b in input {
        if is_space(b) {
            if !in_space {
                out.push(b' ');
                in_space = true;
            }
        } else {
            out.push(b);
            in_space = false;
        }
    }
    out.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compresses_runs() {
        assert_eq!(
            compress_whitespace(b"a  b\t\n c\x0b"),
            Some(b"a b c ".to_vec())
        );
        assert_eq!(compress_whitespace(b"\t"), Some(b" ".to_vec()));
        assert_eq!(compress_whitespace(b"a b c "), None);
        assert_eq!(compress_whitespace(b"a\xa0\xa0b\0"), None);
        assert_eq!(compress_whitespace(b""), None);
    }
}
