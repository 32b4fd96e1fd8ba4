//! The string arguments written into a GraphQL query (`user(id: "1 OR 1=1")`). A JSON body's
//! `query` member holds the whole document as one string, which reads to the built-in
//! detectors as GraphQL, not as the SQL or script inside one argument. Each string literal of
//! the document becomes a [`Source::GraphqlArg`] field of its own, named like the member; the
//! rule engine's `ARGS` stay the JSON's own values, as ModSecurity's.

use std::borrow::Cow;

use super::{Field, Inputs, Limits, Source};

/// Adds the string literals of every GraphQL document among the JSON body's `query` members
/// (`query`, `[0].query` in a batch), up to [`Limits::max_args`] of them.
pub fn add_string_arguments<'a>(inputs: &mut Inputs<'a>, limits: &Limits) {
    let mut found: Vec<Field<'a>> = Vec::new();
    for field in &inputs.fields {
        if field.source != Source::BodyArg || !is_query_member(&field.name) {
            continue;
        }
        if !looks_like_graphql(&field.value) {
            continue;
        }
        for literal in string_literals(&field.value) {
            if found.len() >= limits.max_args {
                break;
            }
            found.push(Field {
                source: Source::GraphqlArg,
                // A name borrowed from the body stays borrowed.
                name: field.name.clone(),
                value: Cow::Owned(literal),
            });
        }
    }
    inputs.fields.extend(found);
}

/// True for a member named `query`, at the top or nested (a batch's `[0].query`).
fn is_query_member(name: &[u8]) -> bool {
    name == b"query" || name.ends_with(b".query")
}

/// True when `value` starts like a GraphQL document, an operation keyword or a selection set,
/// and holds a selection set.
fn looks_like_graphql(value: &[u8]) -> bool {
    let v = value.trim_ascii_start();
    if memchr::memchr(b'{', v).is_none() {
        return false;
    }
    if v.first() == Some(&b'{') {
        return true;
    }
    [&b"query"[..], b"mutation", b"subscription"]
        .iter()
        .any(|k| {
            v.strip_prefix(*k).is_some_and(|rest| {
                rest.first()
                    .is_some_and(|&b| b.is_ascii_whitespace() || b == b'{' || b == b'(')
            })
        })
}

/// The document's string literals (`"…"` with `\"` and `\\` escapes, and `"""…"""` blocks),
/// outside comments, in order.
fn string_literals(doc: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < doc.len() {
        match doc[i] {
            b'#' => {
                i += memchr::memchr(b'\n', &doc[i..]).unwrap_or(doc.len() - i);
            }
            b'"' if doc[i..].starts_with(b"\"\"\"") => {
                let start = i + 3;
                let end =
                    memchr::memmem::find(&doc[start..], b"\"\"\"").map_or(doc.len(), |n| start + n);
                out.push(doc[start..end].to_vec());
                i = end + 3;
            }
            b'"' => {
                let mut literal = Vec::new();
                i += 1;
                while i < doc.len() && doc[i] != b'"' {
                    if doc[i] == b'\\' && i + 1 < doc.len() {
                        i += 1;
                    }
                    literal.push(doc[i]);
                    i += 1;
                }
                out.push(literal);
                i += 1;
            }
            _ => i += 1,
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::json;

    fn arguments(body: &[u8]) -> Vec<(String, String)> {
        let mut inputs = Inputs::default();
        json::parse(body, &mut inputs, &Limits::default());
        add_string_arguments(&mut inputs, &Limits::default());
        inputs
            .fields
            .iter()
            .filter(|f| f.source == Source::GraphqlArg)
            .map(|f| {
                (
                    String::from_utf8_lossy(&f.name).into_owned(),
                    String::from_utf8_lossy(&f.value).into_owned(),
                )
            })
            .collect()
    }

    #[test]
    fn string_arguments_of_a_query_become_fields() {
        let found = arguments(
            br#"{"query":"query { user(id: \"1 OR 1=1\", note: \"say \\\"hi\\\"\") { name } } # \"not this\"\n{ a(b: \"\"\"x\ny\"\"\") }","variables":{}}"#,
        );
        let pairs = |v: &[(&str, &str)]| -> Vec<(String, String)> {
            v.iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect()
        };
        assert_eq!(
            found,
            pairs(&[
                ("query", "1 OR 1=1"),
                ("query", "say \"hi\""),
                ("query", "x\ny"),
            ])
        );
        assert_eq!(
            arguments(br#"[{"query":"mutation { login(user: \"admin'--\") { ok } }"}]"#),
            pairs(&[("[0].query", "admin'--")])
        );
    }

    #[test]
    fn other_members_and_plain_text_are_left_alone() {
        assert!(arguments(br#"{"q":"query { a(b: \"c\") }"}"#).is_empty());
        assert!(arguments(br#"{"query":"shoes \"red\" size 9"}"#).is_empty());
        assert!(arguments(br#"{"query":"query builder \"tips\""}"#).is_empty());
        assert!(arguments(br#"{"query":{"text":"x"}}"#).is_empty());
    }

    #[test]
    fn unterminated_strings_and_huge_documents_are_safe() {
        assert_eq!(arguments(br#"{"query":"{ a(b: \"open"}"#).len(), 1);
        assert_eq!(arguments(br#"{"query":"{ a(b: \"\"\"open"}"#).len(), 1);
        let mut doc = String::from("{ a(");
        for i in 0..2000 {
            doc.push_str(&format!("x{i}: \\\"v\\\", "));
        }
        doc.push_str(") }");
        let body = format!(r#"{{"query":"{doc}"}}"#);
        assert_eq!(arguments(body.as_bytes()).len(), Limits::default().max_args);
    }
}
