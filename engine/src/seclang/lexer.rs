//! Splits configuration text into directive statements.
//!
//! Rules (Apache/ModSecurity style): a line whose first non-blank character is `#` is a comment
//! (comments never continue); a backslash as the last character of a line joins the next line;
//! arguments are separated by blanks; an argument starting with `"` or `'` runs to the matching
//! unescaped quote, where a backslash before the quote character escapes it and every other
//! backslash is kept as written (regexes need them).

use std::sync::Arc;

use super::error::{Location, SecLangError};

/// One directive: its name, its arguments (quotes removed) and where it starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    /// Where the statement starts.
    pub location: Location,
    /// The directive name as written.
    pub name: String,
    /// The arguments after the name, unquoted.
    pub args: Vec<String>,
}

/// Splits `text` (from `file`) into statements, or returns the first syntax error.
pub fn lex(text: &str, file: &Arc<str>) -> Result<Vec<Statement>, SecLangError> {
    let mut out = Vec::new();
    let mut lines = text.split('\n').enumerate();
    while let Some((index, first)) = lines.next() {
        let first = first.strip_suffix('\r').unwrap_or(first);
        let trimmed = first.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let location = Location::new(file, index + 1);
        let mut logical = String::new();
        let mut current = trimmed;
        loop {
            match current.strip_suffix('\\') {
                Some(head) => {
                    logical.push_str(head);
                    match lines.next() {
                        Some((_, next)) => current = next.strip_suffix('\r').unwrap_or(next),
                        None => break,
                    }
                }
                None => {
                    logical.push_str(current);
                    break;
                }
            }
        }
        let mut words = split_words(&logical).map_err(|r| SecLangError::at(&location, r))?;
        if words.is_empty() {
            continue;
        }
        let name = words.remove(0);
        out.push(Statement {
            location,
            name,
            args: words,
        });
    }
    Ok(out)
}

/// Splits one logical line into words, removing quotes.
fn split_words(line: &str) -> Result<Vec<String>, String> {
    let bytes = line.as_bytes();
    let mut words = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i].is_ascii_whitespace() {
            i += 1;
            continue;
        }
        let quote = bytes[i];
        if quote == b'"' || quote == b'\'' {
            let start = i + 1;
            let mut word = String::new();
            let mut seg = start;
            let mut j = start;
            let mut closed = false;
            while j < bytes.len() {
                if bytes[j] == b'\\' && bytes.get(j + 1) == Some(&quote) {
                    word.push_str(&line[seg..j]);
                    seg = j + 1;
                    j += 2;
                } else if bytes[j] == quote {
                    closed = true;
                    break;
                } else {
                    j += 1;
                }
            }
            if !closed {
                return Err(format!(
                    "unterminated {} quote in argument {}",
                    if quote == b'"' { "double" } else { "single" },
                    words.len()
                ));
            }
            word.push_str(&line[seg..j]);
            i = j + 1;
            if i < bytes.len() && !bytes[i].is_ascii_whitespace() {
                return Err(format!(
                    "expected whitespace after the closing quote of argument {}",
                    words.len()
                ));
            }
            words.push(word);
        } else {
            let start = i;
            while i < bytes.len() && !bytes[i].is_ascii_whitespace() {
                i += 1;
            }
            words.push(line[start..i].to_string());
        }
    }
    Ok(words)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lx(text: &str) -> Vec<Statement> {
        lex(text, &Arc::from("t.conf")).expect("lexes")
    }

    #[test]
    fn comments_and_blank_lines_are_skipped() {
        let s = lx("# c\n\n   # indented comment \\\nSecMarker A\n");
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].name, "SecMarker");
        assert_eq!(s[0].args, vec!["A"]);
        assert_eq!(s[0].location.line, 4);
    }

    #[test]
    fn hash_inside_arguments_is_not_a_comment() {
        let s = lx("SecRule ARGS \"@rx a#b\" \"id:1\" # not a comment either\n");
        assert_eq!(s[0].args[1], "@rx a#b");
        assert_eq!(s[0].args.len(), 8);
    }

    #[test]
    fn continuation_joins_lines_and_keeps_start_line() {
        let s = lx("\n\nSecRule ARGS \"@rx x\" \\\n    \"id:1,\\\n    pass\"\nSecMarker B\r\n");
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].location.line, 3);
        assert_eq!(s[0].args, vec!["ARGS", "@rx x", "id:1,    pass"]);
        assert_eq!(s[1].location.line, 6);
        assert_eq!(s[1].args, vec!["B"]);
    }

    #[test]
    fn escaped_quotes_and_other_backslashes() {
        let s = lx(r#"SecRule ARGS "@rx [\"'\w]\\d\"" 'a\'b'"#);
        assert_eq!(s[0].args[1], r#"@rx ["'\w]\\d""#);
        assert_eq!(s[0].args[2], "a'b");
    }

    #[test]
    fn continuation_at_end_of_file() {
        let s = lx("SecMarker A \\");
        assert_eq!(s[0].args, vec!["A"]);
    }

    #[test]
    fn empty_quoted_argument() {
        let s = lx("SecRule ARGS \"\" \"id:1\"");
        assert_eq!(s[0].args, vec!["ARGS", "", "id:1"]);
    }

    #[test]
    fn unterminated_quote_is_an_error_with_location() {
        let e = lex("\nSecRule ARGS \"@rx x", &Arc::from("f.conf")).unwrap_err();
        assert_eq!(e.line, 2);
        assert!(e
            .to_string()
            .starts_with("f.conf:2: unterminated double quote"));
    }

    #[test]
    fn text_after_closing_quote_is_an_error() {
        let e = lex("SecRule \"ARGS\"x", &Arc::from("f.conf")).unwrap_err();
        assert!(e.reason.contains("whitespace after the closing quote"));
    }
}
