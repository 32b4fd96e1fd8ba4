//! NoSQL (MongoDB) operator injection (rule 100110), like CRS 942290: an argument whose name
//! holds a query operator as one of its segments — `user[$ne]=x` in a query string or a form,
//! `{"password": {"$gt": ""}}` in JSON (named `password.$gt`) — or whose value is an object
//! with an operator key (`pass={"$gt": ""}`, for an application that parses a parameter as
//! JSON). An application that hands such an object to MongoDB turns a password check into "not
//! equal to x". Only whole name segments and object keys count, so OData's `$filter` or `$top`
//! and prices such as `$5` pass.

use super::targets::push_once;
use super::targets::Classified;
use super::{Deadline, Detector, Finding, OutOfTime, Severity};
use crate::parse::Source;
use crate::request::Request;

/// Rule id: a MongoDB query operator in an argument name.
pub const NOSQL_OPERATOR: u32 = 100110;

const MSG: &str = "NoSQL injection: MongoDB query operator in an argument name";
const MSG_VALUE: &str = "NoSQL injection: MongoDB query operator as an object key in an argument";

/// MongoDB query and evaluation operators (without the `$`), as CRS 942290 lists them, plus
/// the comparison operators it leaves out (`gt`, `gte`) and `expr`.
const OPERATORS: &[&str] = &[
    "all",
    "and",
    "between",
    "div",
    "elemMatch",
    "eq",
    "exists",
    "expr",
    "gt",
    "gte",
    "in",
    "jsonSchema",
    "like",
    "lt",
    "lte",
    "mod",
    "ne",
    "nin",
    "nor",
    "not",
    "or",
    "regex",
    "size",
    "slice",
    "text",
    "type",
    "where",
    "xor",
];

/// The NoSQL operator detector.
#[derive(Debug, Default)]
pub struct NoSql;

impl NoSql {
    /// Builds the detector.
    pub fn new() -> NoSql {
        NoSql
    }
}

impl Detector for NoSql {
    fn inspect(
        &self,
        _req: &Request<'_>,
        inputs: &Classified<'_, '_>,
        deadline: &Deadline,
        out: &mut Vec<Finding>,
    ) -> Result<(), OutOfTime> {
        let from = out.len();
        for field in &inputs.fields {
            if !matches!(field.source, Source::QueryArg | Source::BodyArg) {
                continue;
            }
            deadline.check()?;
            if let Some(op) = operator_in(&field.name) {
                let mut f = Finding::new(
                    NOSQL_OPERATOR,
                    MSG,
                    Severity::Critical,
                    format!("ARGS_NAMES:{}", String::from_utf8_lossy(&field.name)),
                    &field.name,
                );
                f.data = format!("${op}: {}", f.data);
                push_once(out, from, f);
            }
            if let Some(op) = operator_key_in(&field.value) {
                let f = Finding::new(
                    NOSQL_OPERATOR,
                    MSG_VALUE,
                    Severity::Critical,
                    field.variable(),
                    &field.value,
                );
                push_once(out, from, f.labelled(&format!("${op}")));
            }
        }
        Ok(())
    }
}

/// The operator of an object key in `value`, as `$operator`: `{"$gt": ""}` or `{$ne: 1}` in a
/// parameter the application parses as JSON before it queries. The key must open an object or
/// follow a `,` and be followed by `:`, so `$5`, `US$ne` and `{"price": "$12"}` pass.
fn operator_key_in(value: &[u8]) -> Option<&'static str> {
    let unquote_end = |s: &[u8]| -> usize {
        let s = s.trim_ascii_end();
        match s.last() {
            Some(b'"' | b'\'') => s.len() - 1,
            _ => s.len(),
        }
    };
    memchr::memchr_iter(b'$', value).find_map(|at| {
        let before = value[..unquote_end(&value[..at])].trim_ascii_end();
        if !matches!(before.last(), Some(b'{' | b',')) {
            return None;
        }
        let rest = &value[at + 1..];
        let name_len = rest.iter().take_while(|b| b.is_ascii_alphabetic()).count();
        let op = OPERATORS
            .iter()
            .copied()
            .find(|o| o.as_bytes() == &rest[..name_len])?;
        let after = &rest[name_len..];
        let after = match after.first() {
            Some(b'"' | b'\'') => &after[1..],
            _ => after,
        };
        (after.trim_ascii_start().first() == Some(&b':')).then_some(op)
    })
}

/// The operator a segment of `name` (split at `[`, `]` and `.`) is, as `$operator`.
fn operator_in(name: &[u8]) -> Option<&'static str> {
    memchr::memchr(b'$', name)?;
    name.split(|&b| matches!(b, b'[' | b']' | b'.'))
        .filter_map(|segment| segment.strip_prefix(b"$"))
        .find_map(|op| OPERATORS.iter().copied().find(|o| o.as_bytes() == op))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::testing::{inspect_get, inspect_post};

    fn rules(found: &[Finding]) -> Vec<u32> {
        found.iter().map(|f| f.rule_id).collect()
    }

    #[test]
    fn operators_in_query_and_json_names_fire() {
        let found = inspect_get(&NoSql::new(), b"/login?user[$ne]=x&pass[$ne]=y", &[]);
        assert_eq!(rules(&found), [NOSQL_OPERATOR, NOSQL_OPERATOR]);
        assert_eq!(found[0].variable, "ARGS_NAMES:user[$ne]");
        for uri in [
            &b"/login?user=admin&pass=%7B%22%24gt%22%3A%20%22%22%7D"[..],
            b"/search?filter={$where:%20'sleep(100)'}",
            b"/api?q={%22a%22:1,%20%22$or%22:[{},{}]}",
        ] {
            let found = inspect_get(&NoSql::new(), uri, &[]);
            assert_eq!(
                rules(&found),
                [NOSQL_OPERATOR],
                "{}",
                String::from_utf8_lossy(uri)
            );
            assert!(found[0].variable.starts_with("ARGS:"));
        }
        for body in [
            &br#"{"username": {"$ne": null}, "password": {"$ne": null}}"#[..],
            br#"{"username": "admin", "password": {"$gt": ""}}"#,
            br#"{"$where": "sleep(100)"}"#,
            br#"{"tags": {"$elemMatch": {"$regex": "^a"}}}"#,
        ] {
            let found = inspect_post(&NoSql::new(), b"application/json", body);
            assert!(!found.is_empty(), "{}", String::from_utf8_lossy(body));
        }
    }

    #[test]
    fn odata_options_prices_and_values_pass() {
        for uri in [
            &b"/api/People?$filter=LastName%20eq%20%27x%27&$top=5&$orderby=Name&$select=Id"[..],
            b"/shop?price=$5&q=$ne",
            b"/shop?note=%7B%22price%22%3A%20%22%2412%22%7D&m=US$ne:1&t={$total}",
            b"/api?a.$nextPage=2&b[$neq]=1",
        ] {
            assert!(inspect_get(&NoSql::new(), uri, &[]).is_empty());
        }
        let json = br#"{"currency": "$", "total": "$12.50", "price": {"$usd": 5, "eq": 1}}"#;
        assert!(inspect_post(&NoSql::new(), b"application/json", json).is_empty());
    }
}
