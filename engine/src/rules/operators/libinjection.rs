//! `@detectSQLi` and `@detectXSS`: libinjection (the `libinjectionrs` port) on the input as
//! given, the same implementation and per-thread memo as Moat's built-in detectors
//! ([`crate::detect::sqli`], [`crate::detect::xss`]). With `capture`, `@detectSQLi` stores
//! the fingerprint (e.g. `s&sos`) as `TX:0`, as libmodsecurity does.

use super::{set_captures, Captures};
use crate::detect::{sqli, xss};

/// True when libinjection calls `input` SQL injection.
pub fn detect_sqli(input: &[u8], captures: Option<&mut Captures>) -> bool {
    let Some(fingerprint) = sqli::fingerprint(input) else {
        return false;
    };
    if let Some(c) = captures {
        let len = fingerprint.iter().position(|&b| b == 0).unwrap_or(8);
        set_captures(c, [&fingerprint[..len]]);
    }
    true
}

/// True when libinjection calls `input` cross-site scripting.
pub fn detect_xss(input: &[u8]) -> bool {
    xss::is_xss(input)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqli() {
        let mut caps = Vec::new();
        assert!(detect_sqli(b"1' or '1'='1", Some(&mut caps)));
        assert_eq!(caps, vec![b"s&sos".to_vec()]);
        assert!(detect_sqli(
            b"1 UNION SELECT username,password FROM users--",
            None
        ));
        for benign in [
            &b""[..],
            b"hello",
            b"john.doe@example.com",
            b"O'Brien",
            b"\xff\xfe",
        ] {
            assert!(!detect_sqli(benign, None), "{benign:?}");
        }
    }

    #[test]
    fn xss() {
        assert!(detect_xss(b"<script>alert(1)</script>"));
        assert!(detect_xss(b"<img src=x onerror=alert(1)>"));
        for benign in [&b""[..], b"hello world", b"a < b", b"\xff<"] {
            assert!(!detect_xss(benign), "{benign:?}");
        }
    }
}
