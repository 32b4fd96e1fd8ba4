//! Byte-level decoders shared by the parsers and detectors. Each returns the input borrowed when
//! there is nothing to decode, so the common case allocates nothing.

use std::borrow::Cow;

/// Percent-decodes `input`; with `plus_as_space`, `+` becomes a space (form encoding).
/// Invalid escapes such as `%zz` or a trailing `%` are kept as they are.
pub fn percent_decode(input: &[u8], plus_as_space: bool) -> Cow<'_, [u8]> {
    let needs = input
        .iter()
        .any(|&b| b == b'%' || (plus_as_space && b == b'+'));
    if !needs {
        return Cow::Borrowed(input);
    }
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        let b = input[i];
        if b == b'%' && i + 2 < input.len() {
            if let (Some(h), Some(l)) = (hex_val(input[i + 1]), hex_val(input[i + 2])) {
                out.push(h << 4 | l);
                i += 3;
                continue;
            }
        }
        out.push(if plus_as_space && b == b'+' { b' ' } else { b });
        i += 1;
    }
    Cow::Owned(out)
}

/// The value of one hex digit.
pub fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_escapes_and_plus() {
        assert_eq!(&*percent_decode(b"a%20b+c", true), b"a b c");
        assert_eq!(&*percent_decode(b"a%20b+c", false), b"a b+c");
        assert_eq!(&*percent_decode(b"%zz%4", true), b"%zz%4");
        assert_eq!(&*percent_decode(b"%27", true), b"'");
    }

    #[test]
    fn borrows_when_nothing_to_decode() {
        assert!(matches!(percent_decode(b"plain", true), Cow::Borrowed(_)));
    }
}
