//! NoSQL (MongoDB) operator injection (rule 100110), like CRS 942290: an argument whose name
//! holds a query operator as one of its segments — `user[$ne]=x` in a query string or a form,
//! `{"password": {"$gt": ""}}` in JSON (named `password.$gt`). An application that hands such an
//! object to MongoDB turns a password check into "not equal to x". Only the names are looked at,
//! and only whole segments, so OData's `$filter` or `$top` and prices such as `$5` pass.

use super::targets::push_once;
use super::targets::Classified;
use super::{Deadline, Detector, Finding, OutOfTime, Severity};
use crate::parse::Source;
use crate::request::Request;

/// Rule id: a MongoDB query operator in an argument name.
pub const NOSQL_OPERATOR: u32 = 100110;

const MSG: &str = "NoSQL injection: MongoDB query operator in an argument name";

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
        }
        Ok(())
    }
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
            b"/api?a.$nextPage=2&b[$neq]=1",
        ] {
            assert!(inspect_get(&NoSql::new(), uri, &[]).is_empty());
        }
        let json = br#"{"currency": "$", "total": "$12.50", "price": {"$usd": 5, "eq": 1}}"#;
        assert!(inspect_post(&NoSql::new(), b"application/json", json).is_empty());
    }
}
