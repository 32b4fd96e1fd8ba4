//! `t:lowercase` and `t:uppercase`: ASCII case mapping (C `tolower`/`toupper` in the "C"
//! locale); bytes outside ASCII are left alone.

/// Maps ASCII letters to lowercase.
pub(super) fn lowercase(input: &[u8]) -> Option<Vec<u8>> {
    input
        .iter()
        .any(u8::is_ascii_uppercase)
        .then(|| input.to_ascii_lowercase())
}

/// Maps ASCII letters to uppercase.
pub(super) fn uppercase(input: &[u8]) -> Option<Vec<u8>> {
    input
        .iter()
        .any(u8::is_ascii_lowercase)
        .then(|| input.to_ascii_uppercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lowercase_ascii_only() {
        assert_eq!(
            lowercase(b"SeLeCT \xC3\x89"),
            Some(b"select \xC3\x89".to_vec())
        );
        assert_eq!(lowercase(b"abc 1\0\xff"), None);
        assert_eq!(lowercase(b""), None);
    }

    #[test]
    fn uppercase_ascii_only() {
        assert_eq!(uppercase(b"SeLeCT\xe9"), Some(b"SELECT\xe9".to_vec()));
        assert_eq!(uppercase(b"ABC 1\0\xff"), None);
        assert_eq!(uppercase(b""), None);
    }
}
