//! `t:jsDecode`: decodes JavaScript escapes. `\uHHHH` keeps the low byte (full-width ASCII
//! `\uFF01`–`\uFF5E` is mapped to ASCII), `\xHH` is a byte, `\OOO` is an octal byte (at most
//! three digits, two if the first is above 3), `\a \b \f \n \r \t \v` are control characters,
//! and any other escaped byte stands for itself. A lone trailing backslash is kept.

use super::util::{is_hex, is_octal, x2c, Output};

/// Decodes JavaScript escape sequences the way ModSecurity does.
pub(super) fn js_decode(input: &[u8]) -> Option<Vec<u8>> {
    memchr::memchr(b'\\', input)?;
    let n = input.len();
    let mut out = Output::new(input);
    let mut i = 0;
    while i < n {
        if input[i] != b'\\' {
            out.push(input[i]);
            i += 1;
            continue;
        }
        if i + 5 < n && input[i + 1] == b'u' && input[i + 2..i + 6].iter().all(|&b| is_hex(b)) {
            let mut b = x2c(input[i + 4], input[i + 5]);
            let full_width =
                matches!(input[i + 2], b'f' | b'F') && matches!(input[i + 3], b'f' | b'F');
            if full_width && b > 0x00 && b < 0x5f {
                b += 0x20;
            }
            out.push(b);
            i += 6;
        } else if i + 3 < n && input[i + 1] == b'x' && is_hex(input[i + 2]) && is_hex(input[i + 3])
        {
            out.push(x2c(input[i + 2], input[i + 3]));
            i += 4;
        } else if i + 1 < n && is_octal(input[i + 1]) {
            let mut j = 1;
            while j < 3 && input.get(i + 1 + j).is_some_and(|&b| is_octal(b)) {
                j += 1;
            }
            if j == 3 && input[i + 1] > b'3' {
                j = 2;
            }
            let value = input[i + 1..i + 1 + j]
                .iter()
                .fold(0u32, |acc, &d| acc * 8 + u32::from(d - b'0'));
            out.push(value as u8);
            i += 1 + j;
        } else if i + 1 < n {
            out.push(match input[i + 1] {
                b'a' => 0x07,
                b'b' => 0x08,
                b'f' => 0x0c,
                b'n' => b'\n',
                b'r' => b'\r',
                b't' => b'\t',
                b'v' => 0x0b,
                c => c,
            });
            i += 2;
        } else {
            out.push(b'\\');
            i += 1;
        }
    }
    out.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dec(s: &[u8]) -> Vec<u8> {
        js_decode(s).unwrap_or_else(|| s.to_vec())
    }

    #[test]
    fn unicode_escapes() {
        assert_eq!(dec(b"\\u0041\\u0427"), vec![b'A', 0x27]);
        assert_eq!(dec(b"\\uff1cscript\\uFF1E"), b"<script>");
        assert_eq!(dec(b"\\uff00\\uff5f"), vec![0x00, 0x5f]);
        // Only lowercase 'u' and 'x' introduce escapes.
        assert_eq!(dec(b"\\U0041\\X41"), b"U0041X41");
    }

    #[test]
    fn hex_and_octal() {
        assert_eq!(dec(b"\\x41\\x3c"), b"A<");
        assert_eq!(dec(b"\\101\\0\\7a"), vec![b'A', 0, 7, b'a']);
        assert_eq!(dec(b"\\377"), vec![0xff]);
        // Three digits would not fit a byte: only two are used.
        assert_eq!(dec(b"\\477"), vec![0o47, b'7']);
        assert_eq!(dec(b"\\1234"), vec![0o123, b'4']);
        assert_eq!(dec(b"\\18"), vec![1, b'8']);
    }

    #[test]
    fn simple_escapes() {
        assert_eq!(dec(b"\\a\\b\\f\\n\\r\\t\\v"), b"\x07\x08\x0c\n\r\t\x0b");
        assert_eq!(dec(b"\\\\\\'\\\"\\?\\z"), b"\\'\"?z");
    }

    #[test]
    fn invalid_or_truncated() {
        assert_eq!(dec(b"\\u004"), b"u004");
        assert_eq!(dec(b"\\x4"), b"x4");
        assert_eq!(dec(b"\\xzz"), b"xzz");
        assert_eq!(js_decode(b"abc\\"), None);
        assert_eq!(js_decode(b"\\"), None);
        assert_eq!(js_decode(b"no escapes \xff\0"), None);
        assert_eq!(js_decode(b""), None);
        assert_eq!(dec(b"\\\xff"), vec![0xff]);
    }
}
