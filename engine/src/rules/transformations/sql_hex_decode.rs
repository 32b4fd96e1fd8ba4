//! `t:sqlHexDecode`: decodes SQL hex literals: `0x` (or `0X`) followed by at least two hex
//! digits becomes the bytes those digit pairs encode; an odd last digit is kept as text.

use super::util::{is_hex, x2c, Output};

/// Decodes `0xHHHH…` literals.
pub(super) fn sql_hex_decode(input: &[u8]) -> Option<Vec<u8>> {
    let n = input.len();
    let mut out = Output::new(input);
    let mut i = 0;
    while i < n {
        if i + 3 < n
            && input[i] == b'0'
            && matches!(input[i + 1], b'x' | b'X')
            && is_hex(input[i + 2])
            && is_hex(input[i + 3])
        {
            i += 2;
            while i + 1 < n && is_hex(input[i]) && is_hex(input[i + 1]) {
                out.push(x2c(input[i], input[i + 1]));
                i += 2;
            }
        } else {
            out.push(input[i]);
            i += 1;
        }
    }
    out.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dec(s: &[u8]) -> Vec<u8> {
        sql_hex_decode(s).unwrap_or_else(|| s.to_vec())
    }

    #[test]
    fn decodes_literals() {
        assert_eq!(dec(b"SELECT 0x414243"), b"SELECT ABC");
        assert_eq!(dec(b"0X41,0x4a4B"), b"A,JK");
        assert_eq!(dec(b"0x41424"), b"AB4");
        assert_eq!(dec(b"00x41"), b"0A");
    }

    #[test]
    fn unchanged() {
        assert_eq!(sql_hex_decode(b"0x4"), None);
        assert_eq!(sql_hex_decode(b"0x"), None);
        assert_eq!(sql_hex_decode(b"0xg1 x41"), None);
        assert_eq!(sql_hex_decode(b"\xff\0"), None);
        assert_eq!(sql_hex_decode(b""), None);
    }
}
