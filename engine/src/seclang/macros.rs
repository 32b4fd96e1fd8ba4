//! Macro strings: text with `%{collection.key}` expansions, split once at load time (the
//! collection named too) so the evaluator only looks values up and concatenates.

use super::variables::Collection;

/// One piece of a macro string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MacroPart {
    /// Text copied as is.
    Literal(String),
    /// `%{collection}` or `%{collection.key}`; `key` is lower-cased.
    Macro {
        /// The collection or variable named, e.g. `TX`, `MATCHED_VAR`, `REQUEST_HEADERS`;
        /// `None` for a name that is none (the macro expands to nothing).
        collection: Option<Collection>,
        /// The key after the first `.`, if any.
        key: Option<String>,
    },
}

/// A string as written plus its parsed parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MacroString {
    /// The text as written (quotes removed).
    pub raw: String,
    /// The text split into literals and macros.
    pub parts: Vec<MacroPart>,
}

impl MacroString {
    /// The text when it is one literal (or empty): no macro to expand.
    pub fn literal(&self) -> Option<&str> {
        match &self.parts[..] {
            [] => Some(""),
            [MacroPart::Literal(l)] => Some(l),
            _ => None,
        }
    }

    /// Lower-cases the literal parts (for names compared without regard to ASCII case, whose
    /// expansions are lower-cased too).
    pub fn lowercase_literals(&mut self) {
        for part in &mut self.parts {
            if let MacroPart::Literal(l) = part {
                l.make_ascii_lowercase();
            }
        }
    }

    /// Splits `raw` into parts. `%{` without a closing `}` or with an invalid name stays literal,
    /// as in ModSecurity.
    pub fn parse(raw: &str) -> Self {
        let mut parts = Vec::new();
        let mut literal = String::new();
        let mut rest = raw;
        while let Some(start) = rest.find("%{") {
            let after = &rest[start + 2..];
            let parsed = after.find('}').and_then(|end| {
                let inner = &after[..end];
                parse_macro(inner).map(|m| (m, end))
            });
            match parsed {
                Some((m, end)) => {
                    literal.push_str(&rest[..start]);
                    if !literal.is_empty() {
                        parts.push(MacroPart::Literal(std::mem::take(&mut literal)));
                    }
                    parts.push(m);
                    rest = &after[end + 1..];
                }
                None => {
                    literal.push_str(&rest[..start + 2]);
                    rest = after;
                }
            }
        }
        literal.push_str(rest);
        if !literal.is_empty() {
            parts.push(MacroPart::Literal(literal));
        }
        MacroString {
            raw: raw.to_string(),
            parts,
        }
    }

    /// True when the string contains at least one macro.
    pub fn has_macros(&self) -> bool {
        self.parts
            .iter()
            .any(|p| matches!(p, MacroPart::Macro { .. }))
    }

    /// True when the string is exactly one macro and nothing else.
    pub fn is_single_macro(&self) -> bool {
        self.parts.len() == 1 && self.has_macros()
    }
}

/// Parses the inside of `%{...}`: a name of letters, digits, `_`, optionally `.key`.
fn parse_macro(inner: &str) -> Option<MacroPart> {
    let (name, key) = match inner.split_once('.') {
        Some((n, k)) => (n, Some(k)),
        None => (inner, None),
    };
    let name_ok = !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    let key_ok = key.map_or(true, |k| !k.is_empty() && !k.contains(['%', '{']));
    if !(name_ok && key_ok) {
        return None;
    }
    Some(MacroPart::Macro {
        collection: Collection::from_name(name),
        key: key.map(|k| k.to_ascii_lowercase()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(c: &str, k: Option<&str>) -> MacroPart {
        MacroPart::Macro {
            collection: Collection::from_name(c),
            key: k.map(Into::into),
        }
    }

    #[test]
    fn splits_literals_and_macros() {
        let s = MacroString::parse("+%{tx.critical_anomaly_score} at %{MATCHED_VAR_NAME}.");
        assert_eq!(
            s.parts,
            vec![
                MacroPart::Literal("+".into()),
                m("TX", Some("critical_anomaly_score")),
                MacroPart::Literal(" at ".into()),
                m("MATCHED_VAR_NAME", None),
                MacroPart::Literal(".".into()),
            ]
        );
        assert!(s.has_macros());
    }

    #[test]
    fn key_may_contain_dashes_and_dots() {
        let s = MacroString::parse("%{REQUEST_HEADERS.User-Agent}");
        assert_eq!(s.parts, vec![m("REQUEST_HEADERS", Some("user-agent"))]);
        assert!(s.is_single_macro());
    }

    #[test]
    fn broken_macros_stay_literal() {
        for text in ["%{tx.a", "%{}", "a %{ b} c", "%{tx.}", "%%{x"] {
            let s = MacroString::parse(text);
            let joined: String = s
                .parts
                .iter()
                .map(|p| match p {
                    MacroPart::Literal(l) => l.clone(),
                    MacroPart::Macro { .. } => "<m>".into(),
                })
                .collect();
            assert_eq!(joined, text, "{text}");
        }
        assert!(!MacroString::parse("plain").has_macros());
        assert_eq!(MacroString::parse("").parts, vec![]);
    }
}
