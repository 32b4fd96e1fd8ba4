//! `@verifySSN pattern` (US social security numbers) and `@verifyCPF pattern` (Brazilian
//! taxpayer ids): the regular expression (compiled like `@rx`) finds candidates and a
//! checksum or plausibility test confirms one. As in libmodsecurity, the pattern is run on
//! every suffix of the input (each suffix searched afresh, so `^` matches at every
//! offset), and with `capture` the confirmed candidate becomes `TX:0`.
//!
//! - SSN: exactly 9 digits (other bytes ignored); not all ascending by one, not all equal;
//!   area (first 3), group (next 2) and serial (last 4) non-zero; area below 740 and not 666.
//! - CPF: exactly 11 digits, not one of the repeated-digit or `01234567890` ids, and both
//!   mod-11 check digits right.

use regex::bytes::Regex;

use super::rx::compile_regex;
use super::{set_captures, Captures};

/// Which id a [`NationalId`] checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdKind {
    /// `@verifySSN`.
    Ssn,
    /// `@verifyCPF`.
    Cpf,
}

/// A compiled `@verifySSN` or `@verifyCPF`.
#[derive(Debug)]
pub struct NationalId {
    kind: IdKind,
    regex: Regex,
}

impl NationalId {
    /// Compiles the candidate pattern.
    pub fn new(kind: IdKind, pattern: &str) -> Result<NationalId, String> {
        Ok(NationalId {
            kind,
            regex: compile_regex(pattern)?,
        })
    }

    /// True when a candidate passes the test.
    pub fn matches(&self, input: &[u8], captures: Option<&mut Captures>) -> bool {
        let verify = match self.kind {
            IdKind::Ssn => valid_ssn,
            IdKind::Cpf => valid_cpf,
        };
        for start in 0..input.len() {
            let suffix = &input[start..];
            if let Some(m) = self.regex.find_iter(suffix).find(|m| verify(m.as_bytes())) {
                if let Some(c) = captures {
                    set_captures(c, [m.as_bytes()]);
                }
                return true;
            }
        }
        false
    }
}

/// The first `N` ASCII digits of `text` as numbers, when it holds exactly `N`.
fn digits<const N: usize>(text: &[u8]) -> Option<[u32; N]> {
    let mut out = [0u32; N];
    let mut n = 0;
    for &b in text.iter().filter(|b| b.is_ascii_digit()) {
        *out.get_mut(n)? = u32::from(b - b'0');
        n += 1;
    }
    (n == N).then_some(out)
}

/// libmodsecurity's SSN plausibility test.
fn valid_ssn(text: &[u8]) -> bool {
    let Some(d) = digits::<9>(text) else {
        return false;
    };
    let ascending = d.windows(2).all(|w| w[0] + 1 == w[1]);
    let repeated = d.windows(2).all(|w| w[0] == w[1]);
    let area = d[0] * 100 + d[1] * 10 + d[2];
    let group = d[3] * 10 + d[4];
    let serial = d[5] * 1000 + d[6] * 100 + d[7] * 10 + d[8];
    !ascending && !repeated && area != 0 && group != 0 && serial != 0 && area < 740 && area != 666
}

/// The CPF check digits test.
fn valid_cpf(text: &[u8]) -> bool {
    let Some(d) = digits::<11>(text) else {
        return false;
    };
    if d.windows(2).all(|w| w[0] == w[1]) || d == [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0] {
        return false;
    }
    let check = |n: usize| {
        let sum: u32 = (0..n).map(|i| d[i] * (n as u32 + 1 - i as u32)).sum();
        match sum % 11 {
            0 | 1 => 0,
            r => 11 - r,
        }
    };
    check(9) == d[9] && check(10) == d[10]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ssn() {
        assert!(valid_ssn(b"078-05-1120"));
        assert!(valid_ssn(b"219099999"));
        assert!(!valid_ssn(b"123456789"), "ascending");
        assert!(!valid_ssn(b"111111111"), "repeated");
        assert!(!valid_ssn(b"000-12-3456"));
        assert!(!valid_ssn(b"123-00-4567"));
        assert!(!valid_ssn(b"123-45-0000"));
        assert!(!valid_ssn(b"666-12-3456"));
        assert!(!valid_ssn(b"740-12-3456"));
        assert!(!valid_ssn(b"12345678"));
        let op = NationalId::new(IdKind::Ssn, r"\d{3}-?\d{2}-?\d{4}").unwrap();
        let mut caps = Vec::new();
        assert!(op.matches(b"ssn: 078-05-1120.", Some(&mut caps)));
        assert_eq!(caps, vec![b"078-05-1120".to_vec()]);
        assert!(!op.matches(b"666-12-3456", None));
        assert!(!op.matches(b"", None));
    }

    #[test]
    fn cpf() {
        assert!(valid_cpf(b"529.982.247-25"));
        assert!(valid_cpf(b"11144477735"));
        assert!(!valid_cpf(b"529.982.247-26"));
        assert!(!valid_cpf(b"111.111.111-11"));
        assert!(!valid_cpf(b"01234567890"));
        assert!(!valid_cpf(b"5299822472"));
        let op = NationalId::new(IdKind::Cpf, r"^\d{3}\.?\d{3}\.?\d{3}-?\d{2}").unwrap();
        assert!(
            op.matches(b"cpf 529.982.247-25", None),
            "^ matches at every suffix"
        );
        assert!(!op.matches(b"cpf 529.982.247-26", None));
    }
}
