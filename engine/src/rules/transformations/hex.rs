//! `t:hexEncode` (each byte as two lowercase hex digits) and `t:hexDecode` (each pair of
//! characters as one byte). Like ModSecurity, `hexDecode` does not validate: a trailing odd
//! character is dropped and a non-hex character gives the same arbitrary but deterministic
//! value as ModSecurity's `x2c`.

use super::util::{x2c, HEX_LOWER};

/// Encodes every byte as two lowercase hex digits.
pub(super) fn encode(input: &[u8]) -> Option<Vec<u8>> {
    if input.is_empty() {
        return None;
    }
    let mut out = Vec::with_capacity(input.len() * 2);
    for &b in input {
        out.push(HEX_LOWER[usize::from(b >> 4)]);
        out.push(HEX_LOWER[usize::from(b & 0xf)]);
    }
    Some(out)
}

/// Decodes pairs of hex digits.
pub(super) fn decode(input: &[u8]) -> Option<Vec<u8>> {
    if input.is_empty() {
        return None;
    }
    let out = input.chunks_exact(2).map(|p| x2c(p[0], p[1])).collect();
    super::util::changed(input, out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_lowercase() {
        assert_eq!(encode(b"Az\0\xff"), Some(b"417a00ff".to_vec()));
        assert_eq!(encode(b""), None);
    }

    #[test]
    fn decodes_pairs() {
        assert_eq!(decode(b"417a00FF"), Some(b"Az\0\xff".to_vec()));
        assert_eq!(decode(b"414"), Some(b"A".to_vec()));
        assert_eq!(decode(b"4"), Some(Vec::new()));
        // Not validated: 'g' counts as 16, like ModSecurity's x2c.
        assert_eq!(decode(b"1g"), Some(vec![0x20]));
        assert_eq!(decode(b""), None);
    }

    #[test]
    fn round_trip() {
        let data: Vec<u8> = (0..=255).collect();
        assert_eq!(decode(&encode(&data).unwrap()), Some(data));
    }
}
