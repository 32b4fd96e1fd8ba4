//! A small per-thread memo of libinjection results for values that repeat from request to
//! request (`User-Agent`, `Referer`, session cookies, the field names of an API's JSON bodies). The key is the whole value, compared
//! byte for byte, so a hash collision can only cost a recomputation, never change a result.

use std::cell::RefCell;

/// Which classifier a memo entry belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Classifier {
    /// libinjection SQL injection; the result is the fingerprint when it is an injection.
    Sqli,
    /// libinjection XSS; the result is `Some` when it is an injection.
    Xss,
}

/// A classifier's answer: `Some(fingerprint)` for an injection (zeros for XSS), `None` otherwise.
pub type Answer = Option<[u8; 8]>;

/// Number of entries per thread: room for the names and common values of a few hundred JSON
/// fields, which repeat from request to request of the same API. Entries go in sets of
/// [`WAYS`] per hash (newest first), so values that share a hash do not keep evicting each other.
const SLOTS: usize = 4096;
/// Entries per set.
const WAYS: usize = 4;
/// Shorter values are not memoized (even a 5-byte value costs libinjection ~0.5 µs, a lookup
/// here ~0.05 µs).
const MIN_LEN: usize = 4;
/// Longer values rarely repeat and are not memoized (bounds the memo at 1 MiB per thread).
const MAX_LEN: usize = 256;

struct Entry {
    classifier: Classifier,
    value: Vec<u8>,
    answer: Answer,
}

thread_local! {
    static MEMO: RefCell<Vec<Option<Entry>>> = RefCell::new((0..SLOTS).map(|_| None).collect());
}

/// The classifier's answer for `value`, from the memo or computed by `classify` and remembered.
pub fn classify(
    classifier: Classifier,
    value: &[u8],
    classify: impl FnOnce(&[u8]) -> Answer,
) -> Answer {
    if !(MIN_LEN..=MAX_LEN).contains(&value.len()) {
        return classify(value);
    }
    let set = slot_of(classifier, value) / WAYS * WAYS;
    let known = MEMO.with(|m| {
        m.borrow()[set..set + WAYS]
            .iter()
            .flatten()
            .find(|e| e.classifier == classifier && e.value == value)
            .map(|e| e.answer)
    });
    if let Some(answer) = known {
        return answer;
    }
    let answer = classify(value);
    MEMO.with(|m| {
        let mut m = m.borrow_mut();
        // The oldest entry makes room: it moves out, its buffer is reused for the new one.
        m[set..set + WAYS].rotate_right(1);
        match &mut m[set] {
            Some(e) => {
                e.classifier = classifier;
                e.value.clear();
                e.value.extend_from_slice(value);
                e.answer = answer;
            }
            empty => {
                *empty = Some(Entry {
                    classifier,
                    value: value.to_vec(),
                    answer,
                })
            }
        }
    });
    answer
}

/// FNV-1a over the value, folded to a slot index.
fn slot_of(classifier: Classifier, value: &[u8]) -> usize {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ classifier as u64;
    for &b in value {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    (h ^ (h >> 32)) as usize % SLOTS
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

    #[test]
    fn values_sharing_a_hash_stay_memoized() {
        let mut seen = std::collections::HashMap::new();
        let (a, b) = (0..)
            .map(|i| format!("memo-pair-{i}").into_bytes())
            .find_map(|v| {
                let set = slot_of(Classifier::Sqli, &v) / WAYS;
                seen.insert(set, v.clone()).map(|earlier| (earlier, v))
            })
            .unwrap();
        let mut calls = 0;
        for _ in 0..3 {
            for v in [&a, &b] {
                classify(Classifier::Sqli, v, |_| {
                    calls += 1;
                    None
                });
            }
        }
        assert_eq!(calls, 2, "each value classified once");
    }

    #[test]
    fn classifiers_and_values_do_not_share_answers() {
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
