//! `t:cmdLine`: normalises command lines the way ModSecurity does: deletes `\ " ' ^`,
//! replaces each run of space, tab, CR, LF, `,` and `;` by one space, deletes a space right
//! before `/` or `(`, and lowercases ASCII letters.

use super::util::Output;

/// Normalises a command line.
pub(super) fn cmd_line(input: &[u8]) -> Option<Vec<u8>> {
    // The output is built in a buffer because a space may be taken back; it is compared with
    // the input only when a byte that can cause a change is present.
    let candidate = input.iter().any(|&b| {
        b.is_ascii_uppercase()
            || matches!(
                b,
                b'"' | b'\'' | b'\\' | b'^' | b',' | b';' | b'\t' | b'\r' | b'\n' | b' '
            )
    });
    if !candidate {
        return None;
    }
    let mut out = Vec::with_capacity(input.len());
    let mut space = false;
    for &b in input {
        match b {
            b'"' | b'\'' | b'\\' | b'^' => {}
            b' ' | b',' | b';' | b'\t' | b'\r' | b'\n' => {
                if !space {
                    out.push(b' ');
                    space = true;
                }
            }
            b'/' | b'(' => {
                if space {
                    out.pop();
                }
                space = false;
                out.push(b);
            }
            _ => {
                out.push(b.to_ascii_lowercase());
                space = false;
            }
        }
    }
    let mut unchanged = Output::new(input);
    unchanged.extend(&out);
    unchanged.finish().map(|_| out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmd(s: &[u8]) -> Vec<u8> {
        cmd_line(s).unwrap_or_else(|| s.to_vec())
    }

    #[test]
    fn modsecurity_examples() {
        assert_eq!(cmd(b"C:\\Windows\\System32"), b"c:windowssystem32");
        assert_eq!(cmd(b"\"c\"a't'\\^ /bin"), b"cat/bin");
        assert_eq!(cmd(b"cat  ,;\t/etc/passwd"), b"cat/etc/passwd");
        assert_eq!(cmd(b"echo ( x"), b"echo( x");
        assert_eq!(cmd(b"a,b;c\r\nd"), b"a b c d");
        assert_eq!(cmd(b"   ls"), b" ls");
        assert_eq!(cmd(b"ls   "), b"ls ");
        assert_eq!(cmd(b"\xC9\x00"), b"\xC9\x00");
    }

    #[test]
    fn unchanged() {
        assert_eq!(cmd_line(b"cat a/b(c)"), None);
        assert_eq!(cmd_line(b"a b"), None);
        assert_eq!(cmd_line(b"ls\x0b\x0c\xff"), None);
        assert_eq!(cmd_line(b""), None);
    }
}
