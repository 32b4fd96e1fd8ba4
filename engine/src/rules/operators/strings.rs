//! The string family, all case-sensitive byte comparisons as in libmodsecurity v3:
//!
//! - `@streq s`: the input equals `s`.
//! - `@contains s` / `@strmatch s`: `s` occurs in the input (an empty `s` always does).
//! - `@containsWord s`: `s` occurs in the input with no ASCII letter right before or after
//!   it (libmodsecurity counts only `A-Za-z` as word characters); an empty `s` always
//!   matches, an empty input never does (unless `s` is empty).
//! - `@beginsWith s` / `@endsWith s`: the input starts / ends with `s`.
//! - `@within list`: the INPUT occurs somewhere inside the argument (a plain substring
//!   search, so `@within GET POST` also accepts `ET P`); an empty input always matches, as
//!   in libmodsecurity v3 and Coraza.

use memchr::memmem;

use crate::seclang::operators::OperatorName;

/// Which string comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StringOp {
    /// `@streq`.
    Streq,
    /// `@contains`.
    Contains,
    /// `@containsWord`.
    ContainsWord,
    /// `@beginsWith`.
    BeginsWith,
    /// `@endsWith`.
    EndsWith,
    /// `@within`.
    Within,
    /// `@strmatch` (same answer as `@contains`).
    Strmatch,
}

impl StringOp {
    /// The string operator a name stands for.
    pub fn of(name: OperatorName) -> Option<StringOp> {
        Some(match name {
            OperatorName::Streq => StringOp::Streq,
            OperatorName::Contains => StringOp::Contains,
            OperatorName::ContainsWord => StringOp::ContainsWord,
            OperatorName::BeginsWith => StringOp::BeginsWith,
            OperatorName::EndsWith => StringOp::EndsWith,
            OperatorName::Within => StringOp::Within,
            OperatorName::Strmatch => StringOp::Strmatch,
            _ => return None,
        })
    }

    /// True when `input` satisfies the operator with argument `arg` (no precomputation; used
    /// for arguments expanded from macros).
    pub fn matches(self, arg: &[u8], input: &[u8]) -> bool {
        match self {
            StringOp::Streq => input == arg,
            StringOp::Contains | StringOp::Strmatch => occurs(arg, input),
            StringOp::ContainsWord => contains_word(input, arg, memmem::find_iter(input, arg)),
            StringOp::BeginsWith => input.starts_with(arg),
            StringOp::EndsWith => input.ends_with(arg),
            StringOp::Within => input.is_empty() || occurs(input, arg),
        }
    }
}

/// True when `needle` occurs in `haystack`. A searcher costs more to build than a short search
/// costs (`@within` looks for each value in a list expanded per request): a needle of up to
/// [`SHORT_NEEDLE`] bytes in a haystack of up to [`SHORT_HAYSTACK`] is compared at each
/// occurrence of one of its bytes, its first letter or digit: the punctuation that opens a
/// list entry (`.bak/ .cfg/ …`, `/proxy/ /if/ …`) occurs at every entry, a letter at few.
/// Anything longer gets a searcher.
fn occurs(needle: &[u8], haystack: &[u8]) -> bool {
    if needle.is_empty() {
        return true;
    }
    if needle.len() > SHORT_NEEDLE || haystack.len() > SHORT_HAYSTACK {
        return memmem::find(haystack, needle).is_some();
    }
    let pivot = needle
        .iter()
        .position(u8::is_ascii_alphanumeric)
        .unwrap_or(0);
    let last = needle[needle.len() - 1];
    memchr::memchr_iter(needle[pivot], haystack).any(|i| {
        let Some(start) = i.checked_sub(pivot) else {
            return false;
        };
        // The last byte first: most occurrences of the pivot end elsewhere.
        haystack.get(start + needle.len() - 1) == Some(&last)
            && haystack[start..].starts_with(needle)
    })
}

/// The longest needle [`occurs`] looks for without building a searcher.
const SHORT_NEEDLE: usize = 32;
/// The longest haystack [`occurs`] searches without building a searcher.
const SHORT_HAYSTACK: usize = 4096;

/// A string operator with a static argument and its precomputed searcher.
#[derive(Debug)]
pub struct Str {
    op: StringOp,
    arg: Vec<u8>,
    finder: memmem::Finder<'static>,
}

impl Str {
    /// Precomputes the operator for `arg`.
    pub fn new(op: StringOp, arg: &[u8]) -> Str {
        Str {
            op,
            arg: arg.to_vec(),
            finder: memmem::Finder::new(arg).into_owned(),
        }
    }

    /// True when `input` satisfies the operator.
    pub fn matches(&self, input: &[u8]) -> bool {
        match self.op {
            StringOp::Contains | StringOp::Strmatch => self.finder.find(input).is_some(),
            StringOp::ContainsWord => contains_word(input, &self.arg, self.finder.find_iter(input)),
            op => op.matches(&self.arg, input),
        }
    }
}

/// `@containsWord`: some occurrence (positions from `hits`) of `word` in `input` is bounded
/// by the ends of the input or by bytes that are not ASCII letters.
fn contains_word(input: &[u8], word: &[u8], mut hits: impl Iterator<Item = usize>) -> bool {
    if word.is_empty() {
        return true;
    }
    let boundary = |b: Option<&u8>| !matches!(b, Some(b) if b.is_ascii_alphabetic());
    hits.any(|pos| {
        let before = pos.checked_sub(1).and_then(|p| input.get(p));
        boundary(before) && boundary(input.get(pos + word.len()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(op: StringOp, arg: &str, input: &[u8]) -> bool {
        let a = op.matches(arg.as_bytes(), input);
        let b = Str::new(op, arg.as_bytes()).matches(input);
        assert_eq!(a, b, "{op:?} {arg:?} {input:?}");
        a
    }

    #[test]
    fn streq() {
        assert!(check(StringOp::Streq, "POST", b"POST"));
        assert!(!check(StringOp::Streq, "POST", b"post"));
        assert!(!check(StringOp::Streq, "POST", b"POST "));
        assert!(check(StringOp::Streq, "", b""));
        assert!(!check(StringOp::Streq, "", b"x"));
    }

    #[test]
    fn contains_and_strmatch() {
        for op in [StringOp::Contains, StringOp::Strmatch] {
            assert!(check(op, "-->", b"a --> b"));
            assert!(!check(op, "-->", b"a -- > b"));
            assert!(!check(op, "abc", b"ABC"));
            assert!(check(op, "", b"anything"));
            assert!(check(op, "", b""));
            assert!(check(op, "\u{e9}", "caf\u{e9}".as_bytes()));
            assert!(!check(op, "x", b""));
        }
    }

    #[test]
    fn contains_word() {
        let op = StringOp::ContainsWord;
        assert!(check(op, "select", b"select"));
        assert!(check(op, "select", b"1 select 2"));
        assert!(check(op, "select", b"(select)"));
        assert!(check(op, "select", b"select*"));
        assert!(
            check(op, "select", b"1select2"),
            "digits are boundaries in ModSecurity"
        );
        assert!(!check(op, "select", b"selection"));
        assert!(!check(op, "select", b"preselect"));
        assert!(
            check(op, "select", b"selection select"),
            "a later hit counts"
        );
        assert!(!check(op, "select", b""));
        assert!(check(op, "", b""));
        assert!(!check(op, "select", b"SELECT"));
    }

    #[test]
    fn begins_and_ends_with() {
        assert!(check(StringOp::BeginsWith, "GET", b"GET /"));
        assert!(!check(StringOp::BeginsWith, "GET", b"GE"));
        assert!(check(StringOp::BeginsWith, "", b""));
        assert!(check(StringOp::EndsWith, ".pdf", b"/a/b.pdf"));
        assert!(!check(StringOp::EndsWith, ".pdf", b"/a/b.PDF"));
        assert!(!check(StringOp::EndsWith, ".pdf", b"pdf"));
        assert!(check(StringOp::EndsWith, "", b"x"));
    }

    #[test]
    fn within() {
        let op = StringOp::Within;
        let list = "GET HEAD POST OPTIONS";
        assert!(check(op, list, b"GET"));
        assert!(check(op, list, b"POST"));
        assert!(!check(op, list, b"PUT"));
        assert!(!check(op, list, b"get"), "case-sensitive");
        assert!(check(op, list, b"T HE"), "plain substring search");
        assert!(check(op, list, b""), "empty input is within anything");
        assert!(check(op, "", b""));
        assert!(!check(op, "", b"x"));
        assert!(!check(op, list, b"GET HEAD POST OPTIONS PUT"));
        // Lists whose entries open and close with punctuation, as CRS writes them.
        let headers = "/content-encoding/ /proxy/ /if/ /x-http-method/";
        assert!(check(op, headers, b"/if/"));
        assert!(check(op, headers, b"/proxy/"));
        assert!(!check(op, headers, b"/host/"));
        assert!(!check(op, headers, b"/x-http/"));
        assert!(check(op, headers, b"/ /"), "punctuation only");
        let extensions = ".bak/ .cfg/ .sh/ .shs/";
        assert!(check(op, extensions, b".sh/"));
        assert!(!check(op, extensions, b".html/"));
    }

    /// The searcher-free path answers as a searcher does, for needles and haystacks on both
    /// sides of its limits.
    #[test]
    fn short_searches_answer_as_a_searcher_does() {
        let mut rng = crate::test_rng::XorShift(0x9e37_79b9_7f4a_7c15);
        let mut next = || rng.next();
        for _ in 0..3000 {
            let hay_len = [0, 5, 40, 300, 5000][next() as usize % 5];
            let needle_len = [0, 1, 2, 7, 32, 33][next() as usize % 6];
            let byte = |r: u64| b"ab/"[r as usize % 3];
            let haystack: Vec<u8> = (0..hay_len).map(|_| byte(next())).collect();
            let needle: Vec<u8> = (0..needle_len).map(|_| byte(next())).collect();
            assert_eq!(
                occurs(&needle, &haystack),
                memmem::find(&haystack, &needle).is_some(),
                "{needle:?} in {haystack:?}"
            );
        }
    }

    #[test]
    fn names() {
        assert_eq!(StringOp::of(OperatorName::Within), Some(StringOp::Within));
        assert_eq!(StringOp::of(OperatorName::Pm), None);
    }
}
