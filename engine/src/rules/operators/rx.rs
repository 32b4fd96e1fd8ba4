//! `@rx pattern`: regular expression search, as libmodsecurity v3 (PCRE with
//! `DOTALL|MULTILINE`, no UTF mode) and Coraza (`(?sm)`).
//!
//! Patterns are compiled with `regex::bytes` in byte mode (`(?sm-u)`): `.` matches any byte,
//! `^`/`$` also match at line starts/ends, `\w \d \s \b` and `(?i)` are ASCII-only, and a
//! non-ASCII literal matches its UTF-8 bytes — what PCRE does without `PCRE_UTF`. PCRE's
//! `\x{hh}` (≤ 2 hex digits) is rewritten to `\xhh`, which byte mode accepts. A pattern byte
//! mode rejects (a non-ASCII literal inside a class, `\p{…}`) is compiled in Unicode mode
//! (`(?sm)`) instead, where classes match whole UTF-8 characters; CRS v4 needs none.
//!
//! PCRE-only syntax (lookaround, backreferences, possessive quantifiers, atomic groups,
//! `\Z`) is rejected at load time; CRS v4 bans it. Matching is linear-time, so there is no
//! PCRE match limit to hit. An empty pattern matches everything, as in libmodsecurity.

use std::borrow::Cow;

use regex::bytes::{Regex, RegexBuilder};

use super::{set_captures, Captures};

/// Most capture groups stored (`TX:0`–`TX:9`).
const MAX_CAPTURES: usize = 10;
/// Compiled-program size limit: CRS's largest patterns (the 932 command lists) need several
/// MiB; the regex default of 10 MiB is too tight for some after case folding.
const SIZE_LIMIT: usize = 64 << 20;
/// Lazy-DFA cache capacity per thread and pattern (grows only as needed).
const DFA_SIZE_LIMIT: usize = 8 << 20;

/// A compiled `@rx`.
#[derive(Debug)]
pub struct Rx {
    regex: Regex,
    pattern: String,
    /// The pattern matches every input, whole (`^.*$`, CRS 920450's way of capturing each
    /// header name): no need to run it.
    matches_whole: bool,
}

impl Rx {
    /// Compiles `pattern` (see [`compile_regex`]).
    pub fn new(pattern: &str) -> Result<Rx, String> {
        Ok(Rx {
            regex: compile_regex(pattern)?,
            pattern: pattern.to_string(),
            // With `.` matching newlines, these match any input from its start to its end.
            matches_whole: matches!(pattern, "^.*$" | "^.*" | "^(?:.*)$"),
        })
    }

    /// True when the pattern matches every input, whole (see [`Rx::matches`]).
    pub fn matches_whole(&self) -> bool {
        self.matches_whole
    }

    /// Literals one of which every match contains (see [`crate::rules::prefilter`]).
    pub fn required_literals(&self) -> Option<Vec<Vec<u8>>> {
        crate::rules::prefilter::required_literals(&rewrite_hex_braces(&self.pattern))
    }

    /// Other literal sets every match holds one of, besides `literals` (see
    /// [`crate::rules::prefilter::further_literal_sets`]).
    pub fn further_literal_sets(&self, literals: &[Vec<u8>]) -> Vec<Vec<Vec<u8>>> {
        crate::rules::prefilter::further_literal_sets(&rewrite_hex_braces(&self.pattern), literals)
    }

    /// The shell-evasion condition of the pattern (see [`crate::rules::prefilter::Evasion`]).
    pub fn evasion_condition(&self) -> Option<crate::rules::prefilter::Evasion> {
        crate::rules::prefilter::evasion_condition(&rewrite_hex_braces(&self.pattern))
    }

    /// True when the pattern matches somewhere in `input`; with `captures`, stores the match
    /// and groups 1–9 (groups that did not take part are empty).
    pub fn matches(&self, input: &[u8], captures: Option<&mut Captures>) -> bool {
        if self.matches_whole {
            if let Some(captures) = captures {
                set_captures(captures, std::iter::once(input));
            }
            return true;
        }
        search(&self.regex, input, captures)
    }
}

/// Runs `regex` on `input`, filling `captures` on a match.
fn search(regex: &Regex, input: &[u8], captures: Option<&mut Captures>) -> bool {
    let Some(captures) = captures else {
        return regex.is_match(input);
    };
    let Some(found) = regex.find(input) else {
        return false;
    };
    if regex.captures_len() == 1 {
        // No groups: the match is all `TX:0` needs.
        set_captures(captures, std::iter::once(&input[found.range()]));
        return true;
    }
    // Group positions need the slower engines: run them from the match start only.
    let mut locs = regex.capture_locations();
    if regex
        .captures_read_at(&mut locs, input, found.start())
        .is_none()
    {
        return false;
    }
    let groups = (0..locs.len().min(MAX_CAPTURES)).map(|i| match locs.get(i) {
        Some((s, e)) => &input[s..e],
        None => &input[..0],
    });
    set_captures(captures, groups);
    true
}

/// `@rx` with an argument expanded from macros: compiled on each call, nothing cached. A
/// pattern that does not compile never matches. Invalid UTF-8 in the expansion is replaced
/// by U+FFFD (the pattern must be text).
pub fn matches_dynamic(pattern: &[u8], input: &[u8], captures: Option<&mut Captures>) -> bool {
    let pattern = String::from_utf8_lossy(pattern);
    match compile_regex(&pattern) {
        Ok(regex) => search(&regex, input, captures),
        Err(_) => false,
    }
}

/// Compiles a ModSecurity pattern: byte mode when possible, else Unicode mode (see the
/// module documentation).
pub fn compile_regex(pattern: &str) -> Result<Regex, String> {
    let pattern = rewrite_hex_braces(pattern);
    match build(&pattern, false) {
        Ok(r) => Ok(r),
        Err(byte_err) => {
            build(&pattern, true).map_err(|_| format!("invalid regular expression: {byte_err}"))
        }
    }
}

/// True when `pattern` compiles in byte mode (no Unicode fallback needed).
#[cfg(test)]
pub(super) fn compiles_in_byte_mode(pattern: &str) -> bool {
    build(&rewrite_hex_braces(pattern), false).is_ok()
}

/// Compiles with ModSecurity's flags, in Unicode or byte mode.
fn build(pattern: &str, unicode: bool) -> Result<Regex, regex::Error> {
    RegexBuilder::new(pattern)
        .unicode(unicode)
        .dot_matches_new_line(true)
        .multi_line(true)
        .size_limit(SIZE_LIMIT)
        .dfa_size_limit(DFA_SIZE_LIMIT)
        .build()
}

/// Rewrites PCRE's `\x{h}`/`\x{hh}` to `\xhh`, leaving escaped backslashes and longer
/// `\x{…}` alone.
fn rewrite_hex_braces(pattern: &str) -> Cow<'_, str> {
    if !pattern.contains("\\x{") {
        return Cow::Borrowed(pattern);
    }
    let bytes = pattern.as_bytes();
    let mut out = String::with_capacity(pattern.len());
    let mut i = 0;
    let mut copied = 0;
    while i < bytes.len() {
        if bytes[i] != b'\\' {
            i += 1;
            continue;
        }
        if bytes.get(i + 1) == Some(&b'x') && bytes.get(i + 2) == Some(&b'{') {
            let digits = bytes[i + 3..]
                .iter()
                .take_while(|b| b.is_ascii_hexdigit())
                .count();
            if (1..=2).contains(&digits) && bytes.get(i + 3 + digits) == Some(&b'}') {
                out.push_str(&pattern[copied..i]);
                out.push_str("\\x");
                if digits == 1 {
                    out.push('0');
                }
                out.push_str(&pattern[i + 3..i + 3 + digits]);
                i += 4 + digits;
                copied = i;
                continue;
            }
        }
        // Skip the escaped character (an escaped backslash must not start an escape).
        i += 2;
    }
    out.push_str(&pattern[copied.min(pattern.len())..]);
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rx(p: &str) -> Rx {
        Rx::new(p).unwrap()
    }

    #[test]
    fn byte_semantics() {
        assert!(rx("a.b").matches(b"a\nb", None), "dot matches newline");
        assert!(rx("^b").matches(b"a\nb", None), "multi-line ^");
        assert!(rx("a$").matches(b"a\nb", None), "multi-line $");
        assert!(rx(r"\xff").matches(b"x\xffy", None));
        assert!(rx(r"\x{ff}").matches(b"x\xffy", None));
        assert!(rx(r"\x{9}").matches(b"\t", None));
        assert!(
            rx("a.c").matches(b"a\xffc", None),
            "dot matches invalid UTF-8"
        );
        assert!(rx(r"(?i)select").matches(b"SeLeCt", None));
        assert!(!rx(r"\w").matches("é".as_bytes(), None), "ASCII \\w");
        assert!(
            rx("é").matches("café".as_bytes(), None),
            "non-ASCII literal as bytes"
        );
        assert!(rx("").matches(b"", None), "empty pattern matches");
        assert!(!rx("abc").matches(b"", None));
    }

    /// `^.*$` is answered without running the regex: the same match and captures as running it.
    #[test]
    fn match_everything_patterns_answer_as_the_regex_does() {
        for pattern in ["^.*$", "^.*", "^(?:.*)$"] {
            let fast = rx(pattern);
            assert!(fast.matches_whole);
            for input in [&b""[..], b"User-Agent", b"a\nb\r\n", b"\xff\x00x"] {
                let (mut got, mut want) = (Vec::new(), Vec::new());
                assert!(fast.matches(input, Some(&mut got)));
                assert!(search(&fast.regex, input, Some(&mut want)));
                assert_eq!(got, want, "{pattern} on {input:?}");
            }
        }
        assert!(!rx("^.+$").matches_whole);
    }

    #[test]
    fn unicode_fallback() {
        let r = rx("[éè]");
        assert!(r.matches("caè".as_bytes(), None));
        assert!(!r.matches(b"cae", None));
        assert!(rx(r"\p{Greek}").matches("α".as_bytes(), None));
        assert!(!compiles_in_byte_mode("[éè]"));
        assert!(compiles_in_byte_mode(r"[\x{00}-\x{1f}]"));
    }

    #[test]
    fn hex_brace_rewrite() {
        assert_eq!(rewrite_hex_braces(r"a\x{5c}b"), r"a\x5cb");
        assert_eq!(rewrite_hex_braces(r"\x{a}"), r"\x0a");
        assert_eq!(rewrite_hex_braces(r"\\x{5c}"), r"\\x{5c}");
        assert_eq!(rewrite_hex_braces(r"\x{1F600}"), r"\x{1F600}");
        assert_eq!(rewrite_hex_braces(r"[\x{00}-\x{1f}]"), r"[\x00-\x1f]");
        assert_eq!(rewrite_hex_braces("tail\\"), "tail\\");
    }

    #[test]
    fn captures() {
        let mut caps = vec![b"stale".to_vec(); 12];
        assert!(rx(r"(a+)(x)?(b)").matches(b"zzaab", Some(&mut caps)));
        assert_eq!(
            caps,
            vec![b"aab".to_vec(), b"aa".to_vec(), vec![], b"b".to_vec()]
        );
        let many = "(a)(b)(c)(d)(e)(f)(g)(h)(i)(j)(k)";
        assert!(rx(many).matches(b"abcdefghijk", Some(&mut caps)));
        assert_eq!(caps.len(), 10);
        assert_eq!(caps[9], b"i");
        let mut caps = Vec::new();
        assert!(!rx("q").matches(b"abc", Some(&mut caps)));
        assert!(caps.is_empty());
    }

    #[test]
    fn dynamic_and_invalid() {
        assert!(matches_dynamic(b"^ab+$", b"abbb", None));
        assert!(
            !matches_dynamic(b"(", b"(", None),
            "invalid pattern never matches"
        );
        assert!(Rx::new("(").is_err());
        assert!(Rx::new("(?=a)").is_err(), "lookahead is rejected");
    }
}
