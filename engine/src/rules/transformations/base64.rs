//! `t:base64Decode`, `t:base64DecodeExt`, `t:base64Encode`.
//!
//! `base64Decode` is lenient the way ModSecurity v2 and Coraza are: it decodes the longest
//! prefix made of base64 characters (CR and LF are skipped), stopping at `=` or any other
//! byte, and drops a final incomplete group's leftover bits. (libmodsecurity v3 uses mbedtls and
//! returns an empty string for any invalid input, which would blind rules to a payload
//! followed by one stray byte.)
//!
//! `base64DecodeExt` is libmodsecurity v3's forgiving decoder: bytes outside the alphabet are
//! skipped anywhere, and the result is empty when `=` comes right after the first character of
//! a group (unless another `=` follows it) or when the input ends with `=` at that position.
//! (v3 also empties the result when the last byte is `9`, because it compares the decoded value
//! 61 with `'='`; that accident is not reproduced.)

/// The 6-bit value of a base64 character (standard alphabet).
fn sextet(b: u8) -> Option<u8> {
    match b {
        b'A'..=b'Z' => Some(b - b'A'),
        b'a'..=b'z' => Some(b - b'a' + 26),
        b'0'..=b'9' => Some(b - b'0' + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    }
}

/// Accumulates sextets into bytes.
#[derive(Default)]
struct Decoder {
    out: Vec<u8>,
    acc: u32,
    count: usize,
}

impl Decoder {
    fn push(&mut self, v: u8) {
        self.acc = (self.acc << 6) | u32::from(v);
        self.count += 1;
        if self.count % 4 == 0 {
            self.out.extend_from_slice(&[
                (self.acc >> 16) as u8,
                (self.acc >> 8) as u8,
                self.acc as u8,
            ]);
            self.acc = 0;
        }
    }

    /// The decoded bytes, including the complete bytes of a final partial group.
    fn finish(mut self) -> Vec<u8> {
        match self.count % 4 {
            2 => self.out.push((self.acc >> 4) as u8),
            3 => self
                .out
                .extend_from_slice(&[(self.acc >> 10) as u8, (self.acc >> 2) as u8]),
            _ => {}
        }
        self.out
    }
}

/// Decodes base64 up to the first byte outside the alphabet.
pub(super) fn decode(input: &[u8]) -> Option<Vec<u8>> {
    if input.is_empty() {
        return None;
    }
    let mut d = Decoder::default();
    for &b in input {
        if b == b'\r' || b == b'\n' {
            continue;
        }
        match sextet(b) {
            Some(v) => d.push(v),
            None => break,
        }
    }
    super::util::changed(input, d.finish())
}

/// Decodes base64, skipping bytes outside the alphabet (ModSecurity's forgiving decoder).
pub(super) fn decode_ext(input: &[u8]) -> Option<Vec<u8>> {
    if input.is_empty() {
        return None;
    }
    let mut d = Decoder::default();
    for (i, &b) in input.iter().enumerate() {
        if b == b'=' {
            if input.get(i + 1) != Some(&b'=') && d.count % 4 == 1 {
                return Some(Vec::new());
            }
            continue;
        }
        if let Some(v) = sextet(b) {
            d.push(v);
        }
    }
    let count = d.count;
    let mut out = d.finish();
    if count % 4 == 1 && input.last() == Some(&b'=') {
        out.clear();
    }
    super::util::changed(input, out)
}

/// Encodes as base64 with padding.
pub(super) fn encode(input: &[u8]) -> Option<Vec<u8>> {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    if input.is_empty() {
        return None;
    }
    let mut out = Vec::with_capacity(input.len().div_ceil(3) * 4);
    for chunk in input.chunks(3) {
        let n = chunk.len();
        let v = (u32::from(chunk[0]) << 16)
            | (u32::from(*chunk.get(1).unwrap_or(&0)) << 8)
            | u32::from(*chunk.get(2).unwrap_or(&0));
        for k in 0..4 {
            if k <= n {
                out.push(ALPHABET[((v >> (18 - 6 * k)) & 0x3f) as usize]);
            } else {
                out.push(b'=');
            }
        }
    }
    super::util::changed(input, out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decode_valid() {
        assert_eq!(decode(b"VGVzdENhc2U="), Some(b"TestCase".to_vec()));
        assert_eq!(decode(b"Zm9vYmFy"), Some(b"foobar".to_vec()));
        assert_eq!(decode(b"Zm9vYg"), Some(b"foob".to_vec()));
        assert_eq!(decode(b"Zm9vYmE"), Some(b"fooba".to_vec()));
        assert_eq!(decode(b"Zm9v\r\nYmFy"), Some(b"foobar".to_vec()));
        assert_eq!(decode(b"//8="), Some(vec![0xff, 0xff]));
    }

    #[test]
    fn decode_stops_at_invalid() {
        assert_eq!(decode(b"Zm9v$YmFy"), Some(b"foo".to_vec()));
        assert_eq!(decode(b"Zm9vY"), Some(b"foo".to_vec()));
        assert_eq!(decode(b"Zm9v YmFy"), Some(b"foo".to_vec()));
        assert_eq!(decode(b"Zm9v\0YmFy"), Some(b"foo".to_vec()));
        assert_eq!(decode(b"=Zm9v"), Some(Vec::new()));
        assert_eq!(decode(b"\xff"), Some(Vec::new()));
        assert_eq!(decode(b"Z"), Some(Vec::new()));
        assert_eq!(decode(b""), None);
    }

    #[test]
    fn decode_ext_skips_invalid() {
        assert_eq!(decode_ext(b"Zm9v$YmFy"), Some(b"foobar".to_vec()));
        assert_eq!(decode_ext(b"Zm 9v.Ym\tFy"), Some(b"foobar".to_vec()));
        assert_eq!(decode_ext(b"VGVzdENhc2U="), Some(b"TestCase".to_vec()));
        assert_eq!(decode_ext(b"Zg=="), Some(b"f".to_vec()));
        assert_eq!(decode_ext(b"Zm9vY"), Some(b"foo".to_vec()));
        assert_eq!(decode_ext(b"QUJD9"), Some(b"ABC".to_vec()));
        assert_eq!(decode_ext(b""), None);
    }

    #[test]
    fn decode_ext_misplaced_padding() {
        assert_eq!(decode_ext(b"Zm9vY="), Some(Vec::new()));
        assert_eq!(decode_ext(b"Zm9vY=x"), Some(Vec::new()));
        assert_eq!(decode_ext(b"Z=="), Some(Vec::new()));
        assert_eq!(decode_ext(b"Zm=9v"), Some(b"foo".to_vec()));
    }

    #[test]
    fn encode_pads() {
        assert_eq!(encode(b"TestCase"), Some(b"VGVzdENhc2U=".to_vec()));
        assert_eq!(encode(b"f"), Some(b"Zg==".to_vec()));
        assert_eq!(encode(b"fo"), Some(b"Zm8=".to_vec()));
        assert_eq!(encode(b"foo"), Some(b"Zm9v".to_vec()));
        assert_eq!(encode(&[0xff, 0, 0xfe]), Some(b"/wD+".to_vec()));
        assert_eq!(encode(b""), None);
    }
}
