//! `t:removeComments`: removes `/* … */` and `<!-- … -->` comments (an unterminated one runs
//! to the end and leaves a single space), and truncates the input at `--` or `#`, each of
//! which becomes a space.
//!
//! As in libmodsecurity v3, the byte right after a comment's end marker is copied without
//! being examined, and when the marker ends the input a NUL byte is copied instead (v3 reads
//! the string's terminator): `/*a*/#x` gives `#x` and `/*a*/` gives `"\0"`, as the
//! ModSecurity test suite expects.

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
        } else if rest.starts_with(b"*/") || rest.starts_with(b"-->") {
            in_comment = false;
            i += if rest[0] == b'*' { 2 } else { 3 };
            out.push(input.get(i).copied().unwrap_or(0));
            i += 1;
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
        // ModSecurity's test suite: the terminator is copied after a final end marker.
        assert_eq!(rem(b"/* TestCase */"), b"\0");
        assert_eq!(rem(b"a<!--x-->"), b"a\0");
        // The byte after an end marker is copied unexamined.
        assert_eq!(rem(b"/*a*/#x"), b"#x");
        assert_eq!(rem(b"/*a*//*b*/c"), b"/*b*/c");
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
