//! The detectors' answers (libinjection's, the command checks') for values that repeat from
//! request to request (`User-Agent`, `Referer`, session cookies, the field names of an API's JSON
//! bodies), kept in the per-thread [`crate::memo`].

use crate::memo::{self, Computed, Key};

/// Which classifier a memo entry belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Classifier {
    /// libinjection SQL injection; the result is the fingerprint when it is an injection.
    Sqli,
    /// libinjection XSS; the result is `Some` when it is an injection.
    Xss,
    /// The command and code injection checks; the result is which rules fired and the command.
    Command,
    /// All the XSS checks (libinjection, script URIs, script calls); the result is the rule that
    /// fired. A `User-Agent` holds parentheses and dots, and would otherwise be searched for
    /// script calls on every request.
    XssChecks,
}

/// A classifier's answer: `Some(bytes)` for an injection (libinjection's fingerprint, zeros for
/// XSS, the command checks' hits), `None` otherwise.
pub type Answer = Option<[u8; 8]>;

/// The classifier's answer for `value`, from the memo or computed by `classify` and remembered.
pub fn classify(
    classifier: Classifier,
    value: &[u8],
    classify: impl FnOnce(&[u8]) -> Answer,
) -> Answer {
    let key = Key {
        filter: 0,
        computed: Computed::Detector(classifier as u32),
        value,
        hash: memo::value_hash(value),
    };
    // Word 0: 1 for an injection; word 1: its fingerprint.
    let mut answer = [0u64; 2];
    memo::remembered(&key, &mut answer, |out| {
        if let Some(fingerprint) = classify(value) {
            out[0] = 1;
            out[1] = u64::from_le_bytes(fingerprint);
        }
    });
    (answer[0] == 1).then(|| answer[1].to_le_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_repeated_value_is_classified_once() {
        let value = b"Mozilla/5.0 (X11; Linux x86_64) Firefox/126.0 memo-test";
        let mut calls = 0;
        for _ in 0..3 {
            let a = classify(Classifier::Sqli, value, |_| {
                calls += 1;
                None
            });
            assert_eq!(a, None);
        }
        assert_eq!(calls, 1);
    }

    /// Answers are kept per classifier and value, fingerprints included, and an XSS answer (a
    /// fingerprint of zeros) is still an injection.
    #[test]
    fn classifiers_and_values_do_not_share_answers() {
        let x = b"<script>alert(1)</script> memo";
        assert_eq!(classify(Classifier::Xss, x, |_| Some([0; 8])), Some([0; 8]));
        assert_eq!(classify(Classifier::Xss, x, |_| None), Some([0; 8]));
        let v = b"1' UNION SELECT password FROM users -- memo";
        assert_eq!(
            classify(Classifier::Sqli, v, |_| Some(*b"sUEok\0\0\0")),
            Some(*b"sUEok\0\0\0")
        );
        assert_eq!(classify(Classifier::Xss, v, |_| None), None);
        let mut w = v.to_vec();
        w[0] = b'2';
        assert_eq!(classify(Classifier::Sqli, &w, |_| None), None);
    }
}
