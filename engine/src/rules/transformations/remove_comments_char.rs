//! `t:removeCommentsChar`: removes comment markers `/*`, `*/`, `<!--`, `-->`, `--` and `#`,
//! keeping the text between them.

use super::util::Output;

/// Removes comment marker characters.
pub(super) fn remove_comments_char(input: &[u8]) -> Option<Vec<u8>> {
    let n = input.len();
    let mut out = Output::new(input);
    let mut i = 0;
    while i < n {
        let rest = &input[i..];
        if rest.starts_with(b"/*") || rest.starts_with(b"*/") {
            i += 2;
        } else if rest.starts_with(b"<!--") {
            i += 4;
        } else if rest.starts_with(b"-->") {
            i += 3;
        } else if rest.starts_with(b"--") {
            i += 2;
        } else if rest[0] == b'#' {
            i += 1;
        } else {
            out.push(rest[0]);
            i += 1;
        }
    }
    out.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rem(s: &[u8]) -> Vec<u8> {
        remove_comments_char(s).unwrap_or_else(|| s.to_vec())
    }

    #[test]
    fn removes_markers() {
        assert_eq!(rem(b"UNION/**/SELECT"), b"UNIONSELECT");
        assert_eq!(rem(b"a/*b*/c"), b"abc");
        assert_eq!(rem(b"1--x#y"), b"1xy");
        assert_eq!(rem(b"<!--x-->"), b"x");
        assert_eq!(rem(b"---"), b"-");
        assert_eq!(rem(b"*/*"), b"*");
    }

    #[test]
    fn unchanged() {
        assert_eq!(remove_comments_char(b"a-b/c*d<!-"), None);
        assert_eq!(remove_comments_char(b"\xff\0"), None);
        assert_eq!(remove_comments_char(b""), None);
    }
}
