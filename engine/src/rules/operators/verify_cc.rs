//! `@verifyCC pattern`: matches when some match of the regular expression (compiled like
//! `@rx`), tried from every start offset as libmodsecurity does, passes the Luhn check over
//! its digits (other bytes ignored; no digits fails). With `capture`, the match is `TX:0`.

use regex::bytes::Regex;

use super::rx::compile_regex;
use super::{set_captures, Captures};

/// A compiled `@verifyCC`.
#[derive(Debug)]
pub struct VerifyCc {
    regex: Regex,
}

impl VerifyCc {
    /// Compiles the card-number pattern.
    pub fn new(pattern: &str) -> Result<VerifyCc, String> {
        Ok(VerifyCc {
            regex: compile_regex(pattern)?,
        })
    }

    /// True when a match passes the Luhn check.
    pub fn matches(&self, input: &[u8], captures: Option<&mut Captures>) -> bool {
        let mut offset = 0;
        while offset <= input.len() {
            let Some(m) = self.regex.find_at(input, offset) else {
                return false;
            };
            if luhn(m.as_bytes()) {
                if let Some(c) = captures {
                    set_captures(c, [m.as_bytes()]);
                }
                return true;
            }
            // Searches from offsets up to the match start find this same match.
            offset = m.start() + 1;
        }
        false
    }
}

/// The Luhn (mod 10) check over the ASCII digits of `text`.
fn luhn(text: &[u8]) -> bool {
    let mut sum = 0u32;
    let mut digits = 0usize;
    for &b in text.iter().rev().filter(|b| b.is_ascii_digit()) {
        let d = u32::from(b - b'0');
        sum += if digits % 2 == 1 {
            if d * 2 > 9 {
                d * 2 - 9
            } else {
                d * 2
            }
        } else {
            d
        };
        digits += 1;
    }
    digits > 0 && sum % 10 == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn luhn_check() {
        assert!(luhn(b"4111111111111111"));
        assert!(luhn(b"4111-1111-1111-1111"));
        assert!(luhn(b"79927398713"));
        assert!(!luhn(b"4111111111111112"));
        assert!(!luhn(b"abc"));
        assert!(!luhn(b""));
    }

    #[test]
    fn finds_valid_numbers() {
        let v = VerifyCc::new(r"\d{16}").unwrap();
        let mut caps = Vec::new();
        assert!(v.matches(b"card 4111111111111111 exp", Some(&mut caps)));
        assert_eq!(caps, vec![b"4111111111111111".to_vec()]);
        assert!(!v.matches(b"card 4111111111111112", None));
        // The first match fails Luhn; a later start offset finds a valid number.
        assert!(!luhn(b"9411111111111111"));
        assert!(v.matches(b"94111111111111111", None));
        assert!(!v.matches(b"", None));
        assert!(VerifyCc::new("(").is_err());
    }
}
