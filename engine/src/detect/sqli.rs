//! SQL injection with libinjection (rule 100100), like CRS 942100: argument values and names,
//! cookie values and names (without `__utm*`), `User-Agent`, `Referer`, XML text and attribute
//! values and the request basename, after `t:utf8toUnicode,t:urlDecodeUni,t:removeNulls`.
//!
//! A password field is judged a little differently: random passwords with quotes and
//! punctuation read to libinjection like SQL about one time in a hundred, so a password's value
//! must also hold a blank or an SQL word (`or`, `union`, `sleep` …) to count — which every
//! injection through a password field (`' or '1'='1`, `'or''='`) does.
//!
//! libinjection lets the shortest login bypasses through (`admin' #`, `admin';--`, `admin' -- `:
//! a quote that closes the string, then a comment that drops the rest of the query). Rule 100101
//! covers them: the value's first quote is followed, after optional `)`, `;` and spaces, by a
//! SQL comment (`#`, `--`, `/*`). `it's -- great` or `5'10"` pass. Rule 100102 covers stacked
//! queries, which libinjection also reads as harmless (`1;SELECT * FROM users`): a `;` right
//! after a number, a quote or `)`, then a statement only SQL writes (`select *`, `drop table`,
//! `insert into`, `exec xp_…`, `waitfor delay`). `Step 1; select a size` passes.

use std::borrow::Cow;

use super::classes::ByteClasses;
use super::memo::{self, Classifier};
use super::targets::Classified;
use super::targets::{injection_targets, push_once, Target, TargetKind};
use super::transform::{apply, fold_fullwidth, remove_nulls, url_decode_uni};
use super::{excerpt, Deadline, Detector, Finding, OutOfTime, Severity};
use crate::decode::percent_decode;

use crate::request::Request;

/// Rule id: libinjection classified a value as SQL injection.
pub const SQLI_LIBINJECTION: u32 = 100100;

/// Rule id: a quote closing a string, then a comment dropping the rest of the query.
pub const SQLI_QUOTE_COMMENT: u32 = 100101;

/// Rule id: a second statement stacked after the injected value.
pub const SQLI_STACKED: u32 = 100102;

const MSG: &str = "SQL Injection Attack Detected via libinjection";
const MSG_STACKED: &str = "SQL injection: stacked query";
const MSG_QUOTE_COMMENT: &str =
    "SQL injection: string closed and the rest of the query commented out";

/// The libinjection SQL injection detector.
#[derive(Debug, Default)]
pub struct Sqli;

impl Sqli {
    /// Builds the detector.
    pub fn new() -> Sqli {
        Sqli
    }
}

impl Detector for Sqli {
    fn inspect(
        &self,
        req: &Request<'_>,
        inputs: &Classified<'_, '_>,
        deadline: &Deadline,
        out: &mut Vec<Finding>,
    ) -> Result<(), OutOfTime> {
        let from = out.len();
        for target in injection_targets(inputs) {
            if !target.classes.any(ByteClasses::SQL) {
                continue;
            }
            deadline.check()?;
            if let Some(f) = check(target.value, is_password(&target), || target.variable()) {
                push_once(out, from, f);
            }
        }
        deadline.check()?;
        let basename = percent_decode(basename(req.path()), false);
        if let Some(f) = check(&basename, false, || "REQUEST_BASENAME".into()) {
            out.push(f);
        }
        Ok(())
    }
}

/// True for the value of an argument whose name says it is a password (`password`, `passwd`,
/// `new_pass`, `user[pwd]`, `passphrase`).
fn is_password(target: &Target<'_>) -> bool {
    target.kind == TargetKind::Arg
        && target.name.len() <= 64
        && ["pass", "pwd"].iter().any(|word| {
            target
                .name
                .windows(word.len())
                .any(|w| w.eq_ignore_ascii_case(word.as_bytes()))
        })
}

/// SQL words a password-borne injection needs, lower case: a condition or a statement.
const SQL_WORDS: &[&str] = &[
    "and",
    "benchmark",
    "delete",
    "drop",
    "exec",
    "from",
    "having",
    "insert",
    "like",
    "limit",
    "not",
    "null",
    "or",
    "order",
    "select",
    "sleep",
    "union",
    "update",
    "waitfor",
    "where",
    "xor",
];

/// True when `value` holds a blank or one of [`SQL_WORDS`] as a whole run of letters. A
/// generated password with a quote and punctuation (`c_j|E'3&33@HY7`) reads to libinjection like
/// a string and an operator about one time in a hundred; an injection through a password field
/// needs a condition (`' or '1'='1`, `'or''='`) or a statement. Used only for password fields.
fn reads_as_sql(value: &[u8]) -> bool {
    value.iter().any(u8::is_ascii_whitespace)
        || value.split(|b| !b.is_ascii_alphabetic()).any(|word| {
            SQL_WORDS
                .iter()
                .any(|w| w.as_bytes().eq_ignore_ascii_case(word))
        })
}

/// The last segment of a raw path (after the last `/`).
fn basename(path: &[u8]) -> &[u8] {
    match memchr::memrchr(b'/', path) {
        Some(i) => &path[i + 1..],
        None => path,
    }
}

/// False for values libinjection can never call SQL injection: empty, or one run of ASCII
/// letters, digits and `_` (a single word or number token, which the transformations leave
/// unchanged). Most argument and cookie values are such runs, and skipping them saves the
/// tokenizer's cost; a test checks every SQL keyword and 200,000 random runs.
fn may_hold_sqli(value: &[u8]) -> bool {
    value.iter().any(|&b| breaks_sqli_word(b))
}

/// True for the bytes a value needs one of before libinjection can call it SQL injection
/// (see [`may_hold_sqli`]); the rule engine's prefilter uses them for `@detectSQLi`.
pub(crate) fn breaks_sqli_word(b: u8) -> bool {
    !(b.is_ascii_alphanumeric() || b == b'_')
}

/// libinjection's fingerprint (NUL-padded) when it calls `value` (used as is, no
/// transformation) SQL injection; memoized per thread. Shared with the `@detectSQLi` operator.
pub(crate) fn fingerprint(value: &[u8]) -> memo::Answer {
    if !may_hold_sqli(value) {
        return None;
    }
    memo::classify(Classifier::Sqli, value, |v| {
        let result = libinjectionrs::detect_sqli(v);
        if !result.is_injection() {
            return None;
        }
        let mut bytes = [0u8; 8];
        if let Some(f) = &result.fingerprint {
            let s = f.as_str().as_bytes();
            let n = s.len().min(8);
            bytes[..n].copy_from_slice(&s[..n]);
        }
        Some(bytes)
    })
}

/// CRS's transformations for the SQL injection rules.
fn transformed(value: &[u8]) -> Cow<'_, [u8]> {
    let v = apply(Cow::Borrowed(value), fold_fullwidth);
    let v = apply(v, url_decode_uni);
    apply(v, remove_nulls)
}

/// A finding when libinjection (or rule 100101 or 100102) calls the transformed `value` SQL
/// injection; a `password` field's value must also [read as SQL](reads_as_sql).
fn check(value: &[u8], password: bool, variable: impl FnOnce() -> String) -> Option<Finding> {
    if !may_hold_sqli(value) {
        return None;
    }
    let value = transformed(value);
    if is_digits_and_arithmetic(&value) || (password && !reads_as_sql(&value)) {
        return None;
    }
    let Some(fingerprint) = fingerprint(&value) else {
        let (rule_id, msg) = if closes_then_comments(&value) {
            (SQLI_QUOTE_COMMENT, MSG_QUOTE_COMMENT)
        } else if has_stacked_query(&value) || has_bare_waitfor(&value) {
            (SQLI_STACKED, MSG_STACKED)
        } else {
            return None;
        };
        return Some(Finding {
            rule_id,
            msg: msg.into(),
            severity: Severity::Critical,
            variable: variable(),
            data: excerpt(&value),
        });
    };
    let len = fingerprint.iter().position(|&b| b == 0).unwrap_or(8);
    let fingerprint = String::from_utf8_lossy(&fingerprint[..len]);
    Some(Finding {
        rule_id: SQLI_LIBINJECTION,
        msg: MSG.into(),
        severity: Severity::Critical,
        variable: variable(),
        data: format!("fingerprint {fingerprint}: {}", excerpt(&value)),
    })
}

/// True for a value of digits, blanks, parentheses, `+`, `-` and `.` alone: phone numbers
/// (`(555)-123-4567`, which libinjection reads as `1)o1`), ranges and sums. Without a letter,
/// quote, comparison or comment such a value can change a number in a query but not the query,
/// so the built-in rule lets it through (the `@detectSQLi` operator keeps libinjection's answer).
fn is_digits_and_arithmetic(value: &[u8]) -> bool {
    value
        .iter()
        .all(|&b| b.is_ascii_digit() || matches!(b, b' ' | b'(' | b')' | b'+' | b'-' | b'.'))
}

/// Statements that only SQL starts this way, lower case: the keyword, then what must follow it
/// after blanks.
const STACKED_STATEMENTS: &[(&str, &[&str])] = &[
    (
        "select",
        &[
            "*",
            "null",
            "@@",
            "sleep(",
            "pg_sleep(",
            "benchmark(",
            "version(",
            "user(",
            "database(",
            "load_file(",
            "char(",
            "concat(",
        ],
    ),
    ("drop", &["table", "database"]),
    ("insert", &["into"]),
    ("delete", &["from"]),
    ("truncate", &["table"]),
    ("exec", &["xp_", "sp_", "master."]),
    ("execute", &["xp_", "sp_", "master."]),
    ("declare", &["@"]),
    ("waitfor", &["delay", "time"]),
    ("shutdown", &[""]),
];

/// True when a `;` right after a digit, a quote or `)` (blanks between allowed) starts one of
/// [`STACKED_STATEMENTS`]; `select` also takes a digit (`;select 1`).
fn has_stacked_query(value: &[u8]) -> bool {
    memchr::memchr_iter(b';', value).any(|at| {
        if !ends_operand(&value[..at]) {
            return false;
        }
        let rest = value[at + 1..].trim_ascii_start();
        STACKED_STATEMENTS.iter().any(|(keyword, next)| {
            let Some(after) = super::strip_prefix_ci(rest, keyword.as_bytes()) else {
                return false;
            };
            let blanks = after.len() - after.trim_ascii_start().len();
            let after = &after[blanks..];
            if next == &[""] {
                return after.is_empty() || matches!(after[0], b';' | b'-' | b'#' | b'/');
            }
            blanks > 0
                && (next
                    .iter()
                    .any(|n| super::strip_prefix_ci(after, n.as_bytes()).is_some())
                    || (*keyword == "select" && after.first().is_some_and(u8::is_ascii_digit)))
        })
    })
}

/// True when `head` (blanks at its end aside) ends in what ends an SQL operand: a digit, a
/// quote or `)`.
fn ends_operand(head: &[u8]) -> bool {
    head.trim_ascii_end()
        .last()
        .is_some_and(|&b| b.is_ascii_digit() || matches!(b, b'\'' | b'"' | b')'))
}

/// True when SQL Server's `WAITFOR DELAY '…'` (or `TIME`) follows an operand after blanks,
/// without a `;` (`1 WAITFOR DELAY '0:0:5'`): SQL Server runs it as a statement of its own.
fn has_bare_waitfor(value: &[u8]) -> bool {
    const WAITFOR: &[u8] = b"waitfor";
    memchr::memchr2_iter(b'w', b'W', value).any(|at| {
        if super::strip_prefix_ci(&value[at..], WAITFOR).is_none() {
            return false;
        }
        let head = &value[..at];
        if !head.last().is_some_and(u8::is_ascii_whitespace) || !ends_operand(head) {
            return false;
        }
        let rest = &value[at + WAITFOR.len()..];
        let after = rest.trim_ascii_start();
        let timing = super::strip_prefix_ci(after, b"delay")
            .or_else(|| super::strip_prefix_ci(after, b"time"));
        after.len() < rest.len()
            && timing.is_some_and(|t| {
                let t2 = t.trim_ascii_start();
                t2.len() < t.len() && matches!(t2.first(), Some(b'\'' | b'"'))
            })
    })
}

/// True when the first quote of `value` ends a word (closes a string) and is followed, after
/// optional `)`, `;` and spaces, by a SQL comment: `#`, `/*`, or `--` at the end or before a
/// space.
fn closes_then_comments(value: &[u8]) -> bool {
    let Some(quote) = memchr::memchr2(b'\'', b'"', value) else {
        return false;
    };
    if quote == 0 || value[quote - 1].is_ascii_whitespace() {
        return false;
    }
    let rest = &value[quote + 1..];
    let skip = rest
        .iter()
        .take_while(|b| matches!(b, b')' | b';' | b' ' | b'\t' | b'\n' | b'\r'))
        .count();
    match &rest[skip..] {
        [b'#', ..] | [b'/', b'*', ..] | [b'-', b'-'] => true,
        [b'-', b'-', next, ..] => next.is_ascii_whitespace() || *next == b'-',
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_word_runs_are_never_sql_injection() {
        for k in libinjectionrs::sqli::sqli_data::SQL_KEYWORDS {
            let w = k.word.as_bytes();
            if w.iter().all(|&b| b.is_ascii_alphanumeric() || b == b'_') {
                for v in [
                    w.to_vec(),
                    w.to_ascii_lowercase(),
                    [b"1", w].concat(),
                    [w, b"1"].concat(),
                ] {
                    assert!(!libinjectionrs::detect_sqli(&v).is_injection(), "{v:?}");
                }
            }
        }
        let alphabet = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_";
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        for _ in 0..200_000 {
            let mut v = Vec::new();
            for _ in 0..x % 12 + 1 {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                v.push(alphabet[(x % alphabet.len() as u64) as usize]);
            }
            assert!(!may_hold_sqli(&v));
            assert!(!libinjectionrs::detect_sqli(&v).is_injection(), "{v:?}");
        }
    }
    use crate::detect::testing::{
        benign_headers, benign_values, inspect_get, inspect_post, inspect_query_value,
    };

    /// Classic SQL injection vectors (libinjection README and test data, OWASP cheat sheets).
    const ATTACKS: &[&str] = &[
        "1' OR '1'='1",
        "1 UNION SELECT username,password FROM users--",
        "'; DROP TABLE users; --",
        "1 AND SLEEP(5)",
        "admin'--",
        "' OR 1=1--",
        "\" OR \"\"=\"",
        "1' AND 1=1#",
        "1) OR (1=1",
        "-1 UNION ALL SELECT NULL,NULL,NULL--",
        "1' UNION SELECT 1,@@version,3-- -",
        "1; EXEC xp_cmdshell('dir')--",
        "1' WAITFOR DELAY '0:0:5'--",
        "1 AND 1=CONVERT(int,@@version)",
        "' AND extractvalue(1,concat(0x7e,version()))--",
        "1' AND (SELECT 1 FROM (SELECT SLEEP(5))a)--",
        "1 OR BENCHMARK(1000000,MD5(1))",
        "' OR 'x'='x",
        "admin' or '1'='1'#",
        "') OR ('a'='a",
        "1' ORDER BY 3--",
        "1 OR 1=1",
        "' UNION SELECT table_name FROM information_schema.tables--",
        "1'; SELECT pg_sleep(5)--",
        "1 AND ASCII(SUBSTRING((SELECT password FROM users LIMIT 1),1,1))>64",
        "' HAVING 1=1--",
        "' GROUP BY columnnames HAVING 1=1--",
        "1' AND updatexml(1,concat(0x7e,user()),1)--",
        "%27%20OR%20%271%27%3D%271",
        "1%u0027 or 1=1--",
    ];

    #[test]
    fn classic_vectors_fire() {
        let missed: Vec<&str> = ATTACKS
            .iter()
            .copied()
            .filter(|a| inspect_query_value(&Sqli::new(), a.as_bytes()).is_empty())
            .collect();
        assert!(missed.is_empty(), "missed: {missed:?}");
    }

    /// SQL in a string argument of a GraphQL query is read on its own; the query around it
    /// and ordinary arguments pass.
    #[test]
    fn sql_in_a_graphql_argument_fires() {
        let post = |body: &[u8]| inspect_post(&Sqli::new(), b"application/json", body);
        let found = post(br#"{"query":"query { user(id: \"1 OR 1=1\") { name email } }"}"#);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].variable, "ARGS:query");
        let benign = post(
            br#"{"query":"query($id: ID!) { user(id: $id, locale: \"en-US\") { name orders(first: 10, status: \"O'Brien's\") { total } } }","variables":{"id":"42"}}"#,
        );
        assert!(benign.is_empty(), "{benign:?}");
    }

    /// Generated passwords with quotes pass; injections through a password field do not.
    #[test]
    fn password_fields_need_a_blank_or_an_sql_word() {
        let login = |pw: &str| {
            let body = format!("email=a%40example.com&password={}", urlencode(pw));
            inspect_post(
                &Sqli::new(),
                b"application/x-www-form-urlencoded",
                body.as_bytes(),
            )
        };
        for pw in ["c_j|E'3&33@HY7", "x'#Tq9&kL2", "Zr'--8pQ"] {
            assert!(login(pw).is_empty(), "{pw}: {:?}", login(pw));
        }
        for pw in [
            "' or '1'='1",
            "'or''='",
            "1'OR'1'='1",
            "x' union select 1-- ",
        ] {
            assert!(!login(pw).is_empty(), "missed {pw}");
        }
        // Elsewhere the same value still counts.
        assert!(!inspect_query_value(&Sqli::new(), b"x'#Tq9&kL2").is_empty());
    }

    fn urlencode(s: &str) -> String {
        s.bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() {
                    (b as char).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect()
    }

    #[test]
    fn stacked_queries_fire() {
        for v in [
            "1;SELECT * FROM users",
            "1; select 1",
            "5'; DROP TABLE users",
            "1); insert into admins values (1)",
            "1;exec xp_cmdshell 'dir'",
            "1; WAITFOR DELAY '0:0:5'",
            "1;declare @x int",
            "1;shutdown",
            "1;select sleep(5)",
            "1 WAITFOR DELAY '0:0:5'",
            "1' waitfor time '23:59'--",
        ] {
            let found = inspect_query_value(&Sqli::new(), v.as_bytes());
            assert_eq!(found.len(), 1, "{v}");
            assert!(
                matches!(found[0].rule_id, SQLI_STACKED | SQLI_LIBINJECTION),
                "{v}"
            );
        }
        let found = inspect_query_value(&Sqli::new(), b"1;SELECT * FROM users");
        assert_eq!(found[0].rule_id, SQLI_STACKED);
        for v in [
            "Step 1; select a size",
            "flour; select the best apples from the garden",
            "Size 10; drop-down menu",
            "Room 12; insert card to open",
            "2 cups; shutdown the oven after 20 min",
            "\"Hi\"; insert coin",
            "Order 66 waitfor delay notice",
            "waitfor delay '0:0:5'",
        ] {
            let found = inspect_query_value(&Sqli::new(), v.as_bytes());
            assert!(found.is_empty(), "{v}: {found:?}");
        }
    }

    #[test]
    fn quote_then_comment_fires() {
        for v in [
            "admin' #",
            "admin'#",
            "admin' -- ",
            "admin';--",
            "admin'--",
            "42') #",
            "bob@example.com\" -- x",
        ] {
            let found = inspect_query_value(&Sqli::new(), v.as_bytes());
            assert_eq!(found.len(), 1, "{v}");
        }
        let found = inspect_query_value(&Sqli::new(), b"admin' #");
        assert_eq!(found[0].rule_id, SQLI_QUOTE_COMMENT);
        for v in [
            "it's -- great",
            "5'10\" tall",
            "\"#1 best seller\"",
            "I love '#hashtags'",
            "O'Reilly -- 2nd edition",
            "Rock 'n' roll #1",
            "rock'n'roll",
            "x'-1",
        ] {
            let found = inspect_query_value(&Sqli::new(), v.as_bytes());
            assert!(found.is_empty(), "{v}: {found:?}");
        }
    }

    #[test]
    fn phone_numbers_do_not_fire() {
        for v in [
            "(555)-123-4567",
            "(053)-0485507",
            "+1 (555)-123-4567",
            "(5)-5",
        ] {
            assert!(check(v.as_bytes(), false, String::new).is_none(), "{v}");
        }
        assert!(check(b"(5)-5 or 1=1", false, String::new).is_some());
    }

    #[test]
    fn benign_values_do_not_fire() {
        let fired: Vec<Finding> = benign_values()
            .iter()
            .flat_map(|v| inspect_query_value(&Sqli::new(), v.as_bytes()))
            .collect();
        assert!(fired.is_empty(), "false positives: {fired:#?}");
    }

    #[test]
    fn benign_headers_and_paths_do_not_fire() {
        for (name, value) in benign_headers() {
            let found = inspect_get(&Sqli::new(), b"/", &[(name.as_bytes(), value.as_bytes())]);
            assert!(found.is_empty(), "false positive on {value:?}: {found:?}");
        }
        for path in [
            &b"/blog/o'brien-pub-review"[..],
            b"/files/report%20(1).pdf",
            b"/api/v1/users/42",
        ] {
            assert!(inspect_get(&Sqli::new(), path, &[]).is_empty());
        }
    }

    #[test]
    fn reports_fingerprint_and_each_variable_once() {
        let found = inspect_get(&Sqli::new(), b"/a?q=1'+or+'1'='1&q=admin'--", &[]);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].variable, "ARGS:q");
        assert!(
            found[0].data.starts_with("fingerprint s&sos: "),
            "{}",
            found[0].data
        );
    }

    #[test]
    fn inspects_names_cookies_headers_and_basename() {
        let found = inspect_get(
            &Sqli::new(),
            b"/shop/1'%20or%201=1--?1'+or+sleep(5)--=x",
            &[
                (b"Cookie", b"id=1' or 1=1--; __utmz=1' or 1=1--"),
                (b"User-Agent", b"' or 1=1--"),
                (b"X-Forwarded-For", b"127.0.0.1' OR 1=1--"),
            ],
        );
        let vars: Vec<&str> = found.iter().map(|f| f.variable.as_str()).collect();
        assert_eq!(
            vars,
            [
                "ARGS_NAMES:1' or sleep(5)--",
                "REQUEST_COOKIES:id",
                "REQUEST_HEADERS:User-Agent",
                "REQUEST_HEADERS:X-Forwarded-For",
                "REQUEST_BASENAME"
            ]
        );
    }
}
