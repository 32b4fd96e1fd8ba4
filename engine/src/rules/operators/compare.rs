//! `@eq`, `@ge`, `@gt`, `@le`, `@lt`: integer comparison of the input with the argument.
//!
//! Both sides are read like C's `atoll`/`std::stoi` in libmodsecurity: leading whitespace,
//! an optional sign, then decimal digits up to the first other byte; no digits gives 0
//! (`"abc"`, `""`), `"12abc"` gives 12. Values beyond `i64` saturate instead of wrapping.

use crate::seclang::operators::OperatorName;

/// Which comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Comparison {
    /// `@eq`: input == argument.
    Eq,
    /// `@ge`: input >= argument.
    Ge,
    /// `@gt`: input > argument.
    Gt,
    /// `@le`: input <= argument.
    Le,
    /// `@lt`: input < argument.
    Lt,
}

impl Comparison {
    /// The comparison an operator name stands for.
    pub fn of(name: OperatorName) -> Option<Comparison> {
        Some(match name {
            OperatorName::Eq => Comparison::Eq,
            OperatorName::Ge => Comparison::Ge,
            OperatorName::Gt => Comparison::Gt,
            OperatorName::Le => Comparison::Le,
            OperatorName::Lt => Comparison::Lt,
            _ => return None,
        })
    }

    /// True when `input <op> argument`.
    pub fn holds(self, input: i64, argument: i64) -> bool {
        match self {
            Comparison::Eq => input == argument,
            Comparison::Ge => input >= argument,
            Comparison::Gt => input > argument,
            Comparison::Le => input <= argument,
            Comparison::Lt => input < argument,
        }
    }
}

/// Reads an integer as ModSecurity does (see the module documentation).
pub fn parse_int(text: &[u8]) -> i64 {
    let mut i = text
        .iter()
        .take_while(|&&b| matches!(b, b' ' | b'\t' | b'\n' | b'\x0b' | b'\x0c' | b'\r'))
        .count();
    let negative = match text.get(i) {
        Some(b'-') => {
            i += 1;
            true
        }
        Some(b'+') => {
            i += 1;
            false
        }
        _ => false,
    };
    let mut value: i64 = 0;
    for &b in text[i..].iter().take_while(|b| b.is_ascii_digit()) {
        let d = i64::from(b - b'0');
        value = if negative {
            value.saturating_mul(10).saturating_sub(d)
        } else {
            value.saturating_mul(10).saturating_add(d)
        };
    }
    value
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_like_atoll() {
        for (text, n) in [
            (&b"15"[..], 15),
            (b"  -7", -7),
            (b"+3", 3),
            (b"12abc", 12),
            (b"abc", 0),
            (b"", 0),
            (b"-", 0),
            (b"\t\n42 ", 42),
            (b"1 2", 1),
            (b"0x10", 0),
            (b"99999999999999999999999", i64::MAX),
            (b"-99999999999999999999999", i64::MIN),
            (b"\xff5", 0),
        ] {
            assert_eq!(parse_int(text), n, "{:?}", String::from_utf8_lossy(text));
        }
    }

    #[test]
    fn comparisons() {
        assert!(Comparison::Eq.holds(0, 0));
        assert!(Comparison::Ge.holds(5, 5) && !Comparison::Ge.holds(4, 5));
        assert!(Comparison::Gt.holds(6, 5) && !Comparison::Gt.holds(5, 5));
        assert!(Comparison::Le.holds(5, 5) && !Comparison::Le.holds(6, 5));
        assert!(Comparison::Lt.holds(-1, 0) && !Comparison::Lt.holds(0, 0));
        assert_eq!(Comparison::of(OperatorName::Rx), None);
    }
}
