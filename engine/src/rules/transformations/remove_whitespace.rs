//! `t:removeWhitespace`: removes C-locale whitespace and, like libmodsecurity v3, the bytes
//! `0xA0` (Latin-1 NBSP) and `0xC2` (lead byte of UTF-8 NBSP `C2 A0`), wherever they occur.

use super::util::is_space;

fn removed(b: u8) -> bool {
    is_space(b) || b == 0xa0 || b == 0xc2
}

/// Removes whitespace and NBSP bytes.
pub(super) fn remove_whitespace(input: &[u8]) -> Option<Vec<u8>> {
    let first = input.iter().position(|&b| removed(b))?;
    let mut out = input[..first].to_vec();
    out.extend(input[first..].iter().copied().filter(|&b| !removed(b)));
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn removes_all_whitespace() {
        assert_eq!(
            remove_whitespace(b" a\tb\nc\rd\x0be\x0cf "),
            Some(b"abcdef".to_vec())
        );
        assert_eq!(remove_whitespace(b"a\xc2\xa0b"), Some(b"ab".to_vec()));
        assert_eq!(remove_whitespace(b"a\xa0b"), Some(b"ab".to_vec()));
        assert_eq!(remove_whitespace(b"   "), Some(Vec::new()));
        assert_eq!(remove_whitespace(b"ab\0\xff"), None);
        assert_eq!(remove_whitespace(b""), None);
    }
}
