//! `t:cssDecode`: decodes CSS 2 escapes. A backslash followed by 1–6 hex digits is one byte:
//! the last two digits (one digit: its value); with 4 digits, or 5–6 digits starting with
//! `0`/`00`, full-width ASCII (`FF01`–`FF5E`) is mapped to ASCII. One whitespace byte after a
//! hex escape is consumed. `\` + newline is removed, `\` + another byte is that byte, and a
//! trailing backslash is dropped. This is ModSecurity's byte-oriented behaviour (Coraza now
//! emits the full code point as UTF-8 instead).

use super::util::{is_hex, is_space, x2c, xsingle2c, Output};

/// Decodes CSS escape sequences the way ModSecurity does.
pub(super) fn css_decode(input: &[u8]) -> Option<Vec<u8>> {
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
        if i + 1 >= n {
            // A trailing backslash is a continuation to nothing.
            i += 1;
            continue;
        }
        i += 1;
        let mut j = 0;
        while j < 6 && i + j < n && is_hex(input[i + j]) {
            j += 1;
        }
        if j == 0 {
            if input[i] != b'\n' {
                out.push(input[i]);
            }
            i += 1;
            continue;
        }
        let full_check = match j {
            1 => {
                out.push(xsingle2c(input[i]));
                None
            }
            2 | 3 => {
                out.push(x2c(input[i + j - 2], input[i + j - 1]));
                None
            }
            4 => Some(()),
            5 if input[i] == b'0' => Some(()),
            6 if input[i] == b'0' && input[i + 1] == b'0' => Some(()),
            _ => {
                out.push(x2c(input[i + j - 2], input[i + j - 1]));
                None
            }
        };
        if full_check.is_some() {
            let mut b = x2c(input[i + j - 2], input[i + j - 1]);
            let full_width =
                matches!(input[i + j - 3], b'f' | b'F') && matches!(input[i + j - 4], b'f' | b'F');
            if full_width && b > 0x00 && b < 0x5f {
                b += 0x20;
            }
            out.push(b);
        }
        if i + j < n && is_space(input[i + j]) {
            j += 1;
        }
        i += j;
    }
    out.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dec(s: &[u8]) -> Vec<u8> {
        css_decode(s).unwrap_or_else(|| s.to_vec())
    }

    #[test]
    fn hex_escapes() {
        assert_eq!(dec(b"\\41\\042\\0043"), b"ABC");
        assert_eq!(dec(b"\\a"), vec![0x0a]);
        assert_eq!(dec(b"\\00003c\\3e"), b"<>");
        // Only the last two digits count.
        assert_eq!(dec(b"\\1234"), vec![0x34]);
        assert_eq!(dec(b"\\12345"), vec![0x45]);
        // Six digits at most.
        assert_eq!(dec(b"\\0000411"), b"A1");
    }

    #[test]
    fn full_width() {
        assert_eq!(dec(b"\\ff1c\\0ff1e\\00ff01"), b"<>!");
        // Not full-width: 5 digits not starting with 0.
        assert_eq!(dec(b"\\1ff1c"), vec![0x1c]);
        assert_eq!(dec(b"\\ff00\\ff5f"), vec![0x00, 0x5f]);
    }

    #[test]
    fn whitespace_after_escape() {
        assert_eq!(dec(b"\\41 B"), b"AB");
        assert_eq!(dec(b"\\41\tB"), b"AB");
        assert_eq!(dec(b"\\41  B"), b"A B");
        assert_eq!(dec(b"\\zB"), b"zB");
    }

    #[test]
    fn other_escapes() {
        assert_eq!(dec(b"a\\\nb"), b"ab");
        assert_eq!(dec(b"\\\\\\'\\g"), b"\\'g");
        assert_eq!(dec(b"abc\\"), b"abc");
        assert_eq!(dec(b"\\"), b"");
        assert_eq!(dec(b"\\\xff"), vec![0xff]);
        assert_eq!(css_decode(b"plain \xff\0"), None);
        assert_eq!(css_decode(b""), None);
    }
}
