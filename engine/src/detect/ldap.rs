//! LDAP filter injection (rule 100120), as CRS 921200: a value that closes the application's
//! filter and opens a new clause, in arguments and their names, cookies and XML. The value
//! starts with plain text (no filter syntax), then `)` and one of: `(attr=` (`admin)(uid=*`),
//! an operator clause (`x)(|`, `x)(&(`), a doubled close (`x))(&`), or an operator and an
//! assertion (`val)|(uid=*`). Text with parentheses (`Rock (live)`, `a) first, b) second`)
//! passes: it either opens a parenthesis before the first `)` or never follows it with a clause.

use regex::bytes::Regex;

use super::classes::ByteClasses;
use super::targets::Classified;
use super::targets::{report_critical, TargetKind};
use super::{Deadline, Detector, Finding, OutOfTime};

use crate::request::Request;

/// Rule id: LDAP filter injection.
pub const LDAP_INJECTION: u32 = 100120;

const MSG: &str = "LDAP injection: a value that closes the filter and opens a new clause";

/// CRS 921200's expression (crs-toolchain output, v4.28).
const PATTERN: &str = r"^[^!&():<>|~]*\)[\s\x0b]*(?:\((?:[^!&(),<->|~]+[<>~]?=|[\s\x0b]*[!&|][\s\x0b]*[()]?[\s\x0b]*)|\)[\s\x0b]*\([\s\x0b]*[!&|][\s\x0b]*|[!&|][\s\x0b]*\([^!&(),<->|~]+[<>~]?=[^!&():<>|~]*)";

/// The LDAP injection detector.
pub struct LdapInjection {
    filter: Regex,
}

impl LdapInjection {
    /// Builds the detector and its expression.
    pub fn new() -> LdapInjection {
        let filter = Regex::new(PATTERN).expect("CRS 921200's expression compiles");
        LdapInjection { filter }
    }
}

impl Default for LdapInjection {
    fn default() -> Self {
        LdapInjection::new()
    }
}

impl Detector for LdapInjection {
    fn inspect(
        &self,
        _req: &Request<'_>,
        inputs: &Classified<'_, '_>,
        deadline: &Deadline,
        out: &mut Vec<Finding>,
    ) -> Result<(), OutOfTime> {
        report_critical(
            inputs,
            deadline,
            out,
            |kind| kind != TargetKind::Header,
            |target| {
                let value = target.value;
                (target.classes.any(ByteClasses::CLOSE_PAREN) && self.filter.is_match(value))
                    .then_some((LDAP_INJECTION, MSG))
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::testing::{benign_values, inspect_get, inspect_query_value};

    fn fires(value: &str) -> bool {
        inspect_query_value(&LdapInjection::new(), value.as_bytes())
            .iter()
            .any(|f| f.rule_id == LDAP_INJECTION)
    }

    #[test]
    fn filter_breakouts_fire() {
        for v in [
            "*)(uid=*))(|(uid=*",
            "admin)(|(password=*)",
            "john)(sn~=smith",
            "value)(gidNumber<=100",
            "test))(&(objectClass=*",
            "val)&(cn=admin",
            "val)|(uid=*",
            "admin)(|",
            "test)\t(\t|",
        ] {
            assert!(fires(v), "{v}");
        }
        let found = inspect_get(&LdapInjection::new(), b"/?user=admin%29%28%7C", &[]);
        assert_eq!(found.len(), 1);
    }

    #[test]
    fn text_with_parentheses_passes() {
        for v in [
            "Rock (live)",
            "(555) 123-4567",
            "a) first, b) second",
            "Smile :) (really)",
            "f(x) = 2x",
            "Tom & Jerry (1940)",
            "see note 3) above",
            "x)",
        ] {
            assert!(!fires(v), "{v}");
        }
        for v in benign_values() {
            assert!(!fires(v), "{v}");
        }
    }
}
