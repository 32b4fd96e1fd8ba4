//! `t:removeNulls` (drops NUL bytes) and `t:replaceNulls` (NUL becomes a space).

/// Removes every NUL byte.
pub(super) fn remove_nulls(input: &[u8]) -> Option<Vec<u8>> {
    memchr::memchr(0, input)?;
    Some(input.iter().copied().filter(|&b| b != 0).collect())
}

/// Replaces every NUL byte with a space.
pub(super) fn replace_nulls(input: &[u8]) -> Option<Vec<u8>> {
    memchr::memchr(0, input)?;
    Some(
        input
            .iter()
            .map(|&b| if b == 0 { b' ' } else { b })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remove() {
        assert_eq!(remove_nulls(b"\0a\0\0b\0"), Some(b"ab".to_vec()));
        assert_eq!(remove_nulls(b"\0"), Some(Vec::new()));
        assert_eq!(remove_nulls(b"ab \xff"), None);
        assert_eq!(remove_nulls(b""), None);
    }

    #[test]
    fn replace() {
        assert_eq!(replace_nulls(b"\0a\0\0b"), Some(b" a  b".to_vec()));
        assert_eq!(replace_nulls(b"ab \xff"), None);
        assert_eq!(replace_nulls(b""), None);
    }
}
