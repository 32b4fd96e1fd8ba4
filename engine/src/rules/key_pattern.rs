//! Matching collection keys against a `/regex/` selector (`TX:/^header_name_920450_/`,
//! `ARGS:/^id_/`). Keys match case-insensitively, as in ModSecurity. A selector that is only an
//! anchored literal prefix, the common case, is compared directly instead of running a regex.
//! `TX` keys are stored lower-cased, so for them the literals (kept lower-cased) are compared
//! byte for byte, the contained ones found by `memchr`'s substring search.

use regex::bytes::Regex;

/// A compiled `/regex/` key selector.
#[derive(Debug, Clone)]
pub enum KeyPattern {
    /// `^literal`: keys starting with the literal (ASCII case ignored; kept lower-cased).
    Prefix(Vec<u8>),
    /// Any other pattern, with the literals one of which every key it matches contains (ASCII
    /// case ignored; kept lower-cased), when it has such a set: keys holding none are passed
    /// over without running the regex (CRS 922110 tests every `TX` key with
    /// `/MULTIPART_HEADERS_CONTENT_TYPES_*/`).
    Regex(Regex, Option<Vec<memchr::memmem::Finder<'static>>>),
}

impl KeyPattern {
    /// Compiles a selector regex (case-insensitive).
    pub fn new(re: &str) -> Result<KeyPattern, String> {
        if let Some(prefix) = literal_prefix(re) {
            return Ok(KeyPattern::Prefix(prefix.as_bytes().to_ascii_lowercase()));
        }
        let finders = |literals: Vec<Vec<u8>>| {
            literals
                .into_iter()
                .map(|l| memchr::memmem::Finder::new(&l.to_ascii_lowercase()).into_owned())
                .collect()
        };
        regex::bytes::RegexBuilder::new(re)
            .case_insensitive(true)
            .unicode(false)
            .build()
            .or_else(|_| Regex::new(&format!("(?i){re}")))
            .map(|regex| {
                let literals = crate::rules::prefilter::required_literals(re).map(finders);
                KeyPattern::Regex(regex, literals)
            })
            .map_err(|e| format!("invalid selector regex /{re}/: {e}"))
    }

    /// True when `key` matches.
    pub fn is_match(&self, key: &[u8]) -> bool {
        match self {
            KeyPattern::Prefix(p) => key.len() >= p.len() && key[..p.len()].eq_ignore_ascii_case(p),
            KeyPattern::Regex(re, None) => re.is_match(key),
            KeyPattern::Regex(re, Some(literals)) => {
                (key.len() > MAX_FILTERED_KEY
                    || literals
                        .iter()
                        .any(|l| contains_ignoring_case(key, l.needle())))
                    && re.is_match(key)
            }
        }
    }

    /// [`is_match`](Self::is_match) for a key with no ASCII capitals (a `TX` key): the literals
    /// are compared without folding case.
    pub fn is_match_lowercase(&self, key: &[u8]) -> bool {
        debug_assert!(!key.iter().any(u8::is_ascii_uppercase));
        match self {
            KeyPattern::Prefix(p) => key.starts_with(p),
            KeyPattern::Regex(re, None) => re.is_match(key),
            KeyPattern::Regex(re, Some(literals)) => {
                literals.iter().any(|l| l.find(key).is_some()) && re.is_match(key)
            }
        }
    }
}

/// Keys longer than this go straight to the regex (the literal check is quadratic).
const MAX_FILTERED_KEY: usize = 256;

/// True when `literal` occurs in `key`, ASCII case ignored.
fn contains_ignoring_case(key: &[u8], literal: &[u8]) -> bool {
    literal.is_empty()
        || key
            .windows(literal.len())
            .any(|w| w.eq_ignore_ascii_case(literal))
}

/// The literal of `^literal` when the rest has no regex syntax at all.
fn literal_prefix(re: &str) -> Option<&str> {
    let rest = re.strip_prefix('^')?;
    (!rest.is_empty()
        && rest
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b':' | b'/' | b'@')))
    .then_some(rest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anchored_literal_selectors_match_key_prefixes_ignoring_case() {
        let p = KeyPattern::new("^header_name_920450_").unwrap();
        assert!(matches!(p, KeyPattern::Prefix(_)));
        assert!(p.is_match(b"header_name_920450_x-forwarded"));
        assert!(p.is_match(b"HEADER_NAME_920450_"));
        assert!(!p.is_match(b"xheader_name_920450_"));
        assert!(!p.is_match(b"header_name_920450"));
        let upper = KeyPattern::new("^Header_Name_").unwrap();
        assert!(upper.is_match_lowercase(b"header_name_x"));
        assert!(!upper.is_match_lowercase(b"xheader_name_"));
    }

    #[test]
    fn other_selectors_run_as_case_insensitive_regexes() {
        let p = KeyPattern::new("^(id|x)_").unwrap();
        assert!(matches!(p, KeyPattern::Regex(..)));
        assert!(p.is_match(b"ID_1"));
        assert!(!p.is_match(b"y_1"));
        let multipart = KeyPattern::new("MULTIPART_HEADERS_CONTENT_TYPES_*").unwrap();
        assert!(matches!(multipart, KeyPattern::Regex(_, Some(_))));
        assert!(multipart.is_match(b"multipart_headers_content_types_x-file"));
        assert!(multipart.is_match(b"X_Multipart_Headers_Content_Types"));
        assert!(!multipart.is_match(b"multipart_headers_content_type"));
        assert!(!multipart.is_match(b"paranoia_level"));
        assert!(multipart.is_match_lowercase(b"multipart_headers_content_types_1"));
        assert!(multipart.is_match_lowercase(b"x_multipart_headers_content_types"));
        assert!(!multipart.is_match_lowercase(b"multipart_headers_content_type"));
        assert!(!multipart.is_match_lowercase(b"paranoia_level"));
        let dot = KeyPattern::new("^a.b").unwrap();
        assert!(dot.is_match(b"aXb"), "a dot stays a regex wildcard");
        assert!(KeyPattern::new("(").is_err());
    }
}
