//! `t:length`: the input's length in bytes, as decimal text.

/// Replaces the input with the decimal text of its length.
pub(super) fn length(input: &[u8]) -> Option<Vec<u8>> {
    super::util::changed(input, input.len().to_string().into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_length() {
        assert_eq!(length(b""), Some(b"0".to_vec()));
        assert_eq!(length(b"hello\0\xff"), Some(b"7".to_vec()));
        assert_eq!(length(&[b'x'; 1234]), Some(b"1234".to_vec()));
        // "1" has length 1: the output equals the input.
        assert_eq!(length(b"1"), None);
    }
}
