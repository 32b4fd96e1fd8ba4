//! `t:removeComments`: removes `/* … */` and `<!-- … -->` comments (an unterminated one runs
//! to the end and leaves a single space), and truncates the input at `--` or `#`, each of
//! which becomes a space.
//!
//! Deviation: libmodsecurity v3 copies the byte right after a comment's end marker without
//! examining it (and appends a NUL read past the end when the marker ends the input), so
//! `/*a*/#x` keeps `#x` and `/*a*/` gives `"\0"`. Here that byte is handled like any other:
//! `/*a*/#x` gives a space and `/*a*/` gives an empty string.

use super::util::Output;

/// Removes SQL, C and HTML comments.
pub(super) fn remove_comments(input: &[u8]) -> Option<Vec<u8>> {
    let n = input.len();
    let mut out = Output::new(input);
    let mut in_comment = false;
    let mut i = 0;
    while i < n {
        let rest = &input[i..];
        if !in_comment {
            if rest.starts_with(b"/*") {
                in_comment = true;
                i += 2;
            } else if rest.starts_with(b"<!--") {
                in_comment = true;
                i += 4;
            } else if rest.starts_with(b"--") || rest[0] == b'#' {
                out.push(b' ');
                return out.finish();
            } else {
                out.push(rest[0]);
                i += 1;
            }
        } else if rest.starts_with(b"*/") {
            in_comment = false;
            i += 2;
        } else if rest.starts_with(b"-->") {
            in_comment = false;
            i += 3;
        } else {
            i += 1;
        }
    }
    if in_comment {
        out.push(b' ');
    }
    out.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rem(s: &[u8]) -> Vec<u8> {
        remove_comments(s).unwrap_or_else(|| s.to_vec())
    }

    #[test]
    fn block_comments() {
        assert_eq!(rem(b"UNION/**/SELECT"), b"UNIONSELECT");
        assert_eq!(rem(b"a<!-- x -->b"), b"ab");
        assert_eq!(rem(b"a/* x"), b"a ");
        assert_eq!(rem(b"a<!--"), b"a ");
        assert_eq!(rem(b"/*a*/"), b"");
    }

    #[test]
    fn line_comments_truncate() {
        assert_eq!(rem(b"1 OR 1=1-- x"), b"1 OR 1=1 ");
        assert_eq!(rem(b"1 # x"), b"1  ");
        assert_eq!(rem(b"#"), b" ");
        assert_eq!(rem(b"a-b"), b"a-b");
    }

    #[test]
    fn unchanged() {
        assert_eq!(remove_comments(b"a - b / c */"), None);
        assert_eq!(remove_comments(b"\xff\0"), None);
        assert_eq!(remove_comments(b""), None);
    }
}
