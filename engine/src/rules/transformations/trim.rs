//! `t:trim`, `t:trimLeft`, `t:trimRight`: remove leading and/or trailing whitespace (C
//! `isspace`: space, `\t`, `\n`, `\v`, `\f`, `\r`; not NBSP).

use super::util::is_space;

/// Removes whitespace at both ends.
pub(super) fn trim(input: &[u8]) -> Option<Vec<u8>> {
    slice(input, trim_start(input), trim_end(input))
}

/// Removes leading whitespace.
pub(super) fn trim_left(input: &[u8]) -> Option<Vec<u8>> {
    slice(input, trim_start(input), input.len())
}

/// Removes trailing whitespace.
pub(super) fn trim_right(input: &[u8]) -> Option<Vec<u8>> {
    slice(input, 0, trim_end(input))
}

fn trim_start(input: &[u8]) -> usize {
    input
        .iter()
        .position(|&b| !is_space(b))
        .unwrap_or(input.len())
}

fn trim_end(input: &[u8]) -> usize {
    input
        .iter()
        .rposition(|&b| !is_space(b))
        .map_or(0, |i| i + 1)
}

fn slice(input: &[u8], start: usize, end: usize) -> Option<Vec<u8>> {
    let end = end.max(start);
    (start != 0 || end != input.len()).then(|| input[start..end].to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_ends() {
        assert_eq!(trim(b" \t a b \r\n\x0b\x0c"), Some(b"a b".to_vec()));
        assert_eq!(trim(b"   "), Some(Vec::new()));
        assert_eq!(trim(b"a b"), None);
        assert_eq!(trim(b"\xa0a\0"), None);
        assert_eq!(trim(b""), None);
    }

    #[test]
    fn left() {
        assert_eq!(trim_left(b"  a "), Some(b"a ".to_vec()));
        assert_eq!(trim_left(b" "), Some(Vec::new()));
        assert_eq!(trim_left(b"a "), None);
    }

    #[test]
    fn right() {
        assert_eq!(trim_right(b"  a \n"), Some(b"  a".to_vec()));
        assert_eq!(trim_right(b"\t"), Some(Vec::new()));
        assert_eq!(trim_right(b" a"), None);
    }
}
