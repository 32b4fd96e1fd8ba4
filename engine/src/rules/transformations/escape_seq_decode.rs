//! `t:escapeSeqDecode`: decodes ANSI C escapes: `\a \b \f \n \r \t \v \\ \? \' \"`, `\xHH`
//! (`x` or `X`) and octal `\O` to `\OOO` (truncated to a byte, so `\777` is 0xFF). An escape
//! that is not recognised (`\z`, `\xZZ`) loses its backslash; a trailing backslash is kept.

use super::util::{is_octal, x2c, Output};

/// Decodes ANSI C escape sequences the way ModSecurity does.
pub(super) fn escape_seq_decode(input: &[u8]) -> Option<Vec<u8>> {
    memchr::memchr(b'\\', input)?;
    let n = input.len();
    let mut out = Output::new(input);
    let mut i = 0;
    while i < n {
        if input[i] != b'\\' || i + 1 >= n {
            out.push(input[i]);
            i += 1;
            continue;
        }
        let next = input[i + 1];
        let simple = match next {
            b'a' => Some(0x07),
            b'b' => Some(0x08),
            b'f' => Some(0x0c),
            b'n' => Some(b'\n'),
            b'r' => Some(b'\r'),
            b't' => Some(b'\t'),
            b'v' => Some(0x0b),
            b'\\' | b'?' | b'\'' | b'"' => Some(next),
            _ => None,
        };
        if let Some(c) = simple {
            out.push(c);
            i += 2;
        } else if matches!(next, b'x' | b'X')
            && i + 3 < n
            && input[i + 2].is_ascii_hexdigit()
            && input[i + 3].is_ascii_hexdigit()
        {
            out.push(x2c(input[i + 2], input[i + 3]));
            i += 4;
        } else if is_octal(next) {
            let mut j = 1;
            while j < 3 && input.get(i + 1 + j).is_some_and(|&b| is_octal(b)) {
                j += 1;
            }
            let value = input[i + 1..i + 1 + j]
                .iter()
                .fold(0u32, |acc, &d| acc * 8 + u32::from(d - b'0'));
            out.push(value as u8);
            i += 1 + j;
        } else {
            out.push(next);
            i += 2;
        }
    }
    out.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dec(s: &[u8]) -> Vec<u8> {
        escape_seq_decode(s).unwrap_or_else(|| s.to_vec())
    }

    #[test]
    fn simple_escapes() {
        assert_eq!(
            dec(b"\\a\\b\\f\\n\\r\\t\\v\\\\\\?\\'\\\""),
            b"\x07\x08\x0c\n\r\t\x0b\\?'\""
        );
    }

    #[test]
    fn hex_and_octal() {
        assert_eq!(dec(b"\\x41\\X42"), b"AB");
        assert_eq!(dec(b"\\101\\60\\0"), vec![b'A', b'0', 0]);
        assert_eq!(dec(b"\\777"), vec![0xff]);
        assert_eq!(dec(b"\\1014"), vec![b'A', b'4']);
    }

    #[test]
    fn unrecognised_and_truncated() {
        assert_eq!(dec(b"\\z\\8"), b"z8");
        assert_eq!(dec(b"\\xZZ"), b"xZZ");
        assert_eq!(dec(b"\\x4"), b"x4");
        assert_eq!(dec(b"\\u0041"), b"u0041");
        assert_eq!(escape_seq_decode(b"ab\\"), None);
        assert_eq!(escape_seq_decode(b"\\"), None);
        assert_eq!(escape_seq_decode(b"plain\xff\0"), None);
        assert_eq!(escape_seq_decode(b""), None);
    }
}
