//! `t:replaceComments`: each C-style comment `/* … */` becomes one space; an unterminated
//! comment runs to the end of the input and also becomes a space. A lone `*/` is kept.

use super::util::Output;

/// Replaces C-style comments by a space.
pub(super) fn replace_comments(input: &[u8]) -> Option<Vec<u8>> {
    memchr::memmem::find(input, b"/*")?;
    let n = input.len();
    let mut out = Output::new(input);
    let mut in_comment = false;
    let mut i = 0;
    while i < n {
        if !in_comment {
            if input[i] == b'/' && input.get(i + 1) == Some(&b'*') {
                in_comment = true;
                i += 2;
            } else {
                out.push(input[i]);
                i += 1;
            }
        } else if input[i] == b'*' && input.get(i + 1) == Some(&b'/') {
            in_comment = false;
            out.push(b' ');
            i += 2;
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

    fn rep(s: &[u8]) -> Vec<u8> {
        replace_comments(s).unwrap_or_else(|| s.to_vec())
    }

    #[test]
    fn replaces_comments() {
        assert_eq!(rep(b"UNION/**/SELECT"), b"UNION SELECT");
        assert_eq!(rep(b"a/* x */b/*y*/c"), b"a b c");
        assert_eq!(rep(b"a/*/b"), b"a ");
        assert_eq!(rep(b"a/*"), b"a ");
        assert_eq!(rep(b"/**/"), b" ");
        assert_eq!(rep(b"/*/*/ */"), b"  */");
    }

    #[test]
    fn unchanged() {
        assert_eq!(replace_comments(b"a */ b / * -- #"), None);
        assert_eq!(replace_comments(b"a/"), None);
        assert_eq!(replace_comments(b"\xff\0"), None);
        assert_eq!(replace_comments(b""), None);
    }
}
