//! The prefilter for `multiMatch` links. Such a link's operator sees the value before and after
//! each transformation that changes it, so it may match when any of those values holds one of
//! its literals. CRS uses `multiMatch` with `t:base64Decode` (934100, 934160), which changes
//! every value; the transformed value alone does not stand for the others.

use super::Prefilter;
use crate::rules::transformations;
use crate::seclang::transformations::Transformation;

/// False when none of the values the operator of a `multiMatch` link with prefilter id `id` and
/// transformations `chain` sees for `value` holds one of its literals: `value` itself and the
/// result of every transformation that changes it, in order. Once a value is shorter than the
/// link's shortest literal and no transformation left can lengthen it, the rest of the chain is
/// not computed.
pub fn multi_match_may_hold(
    filter: &Prefilter,
    chain: &[Transformation],
    id: u32,
    value: &[u8],
) -> bool {
    let shortest = filter.shortest_alone_literal(id);
    // From this step on, no transformation lengthens the value.
    let shrinking_from = chain
        .iter()
        .rposition(|t| !transformations::never_lengthens(*t))
        .map_or(0, |i| i + 1);
    if value.len() < shortest && shrinking_from == 0 {
        return false;
    }
    if filter.holds(value, id) {
        return true;
    }
    let mut current = std::borrow::Cow::Borrowed(value);
    for (step, t) in chain.iter().enumerate() {
        if current.len() < shortest && step >= shrinking_from {
            return false;
        }
        if let Some(next) = transformations::apply(*t, &current) {
            // The scan ignores ASCII case: a re-cased value holds what the last one held.
            if !next.eq_ignore_ascii_case(&current) && filter.holds(&next, id) {
                return true;
            }
            current = std::borrow::Cow::Owned(next);
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use Transformation as T;

    /// 934100's chain: URL-, JS- and base64-decoding with whitespace removal.
    const CHAIN: &[Transformation] = &[
        T::UrlDecodeUni,
        T::JsDecode,
        T::RemoveWhitespace,
        T::Base64Decode,
        T::UrlDecodeUni,
        T::JsDecode,
        T::RemoveWhitespace,
    ];

    fn filter() -> Prefilter {
        Prefilter::build(&[super::super::Condition::literals(vec![
            b"child_process".to_vec(),
            b"eval(".to_vec(),
        ])])
        .unwrap()
    }

    #[test]
    fn every_intermediate_value_counts() {
        let f = filter();
        assert!(
            multi_match_may_hold(&f, CHAIN, 0, b"eval(1)"),
            "the raw value"
        );
        assert!(
            multi_match_may_hold(&f, CHAIN, 0, b"ev%61l(1)"),
            "after the first decoding"
        );
        assert!(
            multi_match_may_hold(&f, CHAIN, 0, b"ZXZhbCgxKQ=="),
            "base64 of eval(1)"
        );
        assert!(
            multi_match_may_hold(&f, CHAIN, 0, b"Y2hpbGRfcHJvY2Vzcw%3d%3d"),
            "URL-encoded base64 of child_process"
        );
    }

    fn alone(literals: &[&[u8]]) -> Prefilter {
        let mut cond =
            super::super::Condition::literals(literals.iter().map(|l| l.to_vec()).collect());
        cond.checked_alone = true;
        Prefilter::build(&[cond]).unwrap()
    }

    #[test]
    fn values_too_short_for_any_literal_are_ruled_out_early() {
        let f = alone(&[b"child_process", b"eval("]);
        assert_eq!(f.shortest_alone_literal(0), 5, "eval(");
        assert!(
            !multi_match_may_hold(&f, CHAIN, 0, b"ZXZh"),
            "base64 of eva"
        );
        assert!(
            multi_match_may_hold(&f, CHAIN, 0, b"ZXZhbCg="),
            "base64 of eval("
        );
        assert!(multi_match_may_hold(&f, CHAIN, 0, b"eval(1)"));
        // A chain that may lengthen the value is followed: `é` becomes `%u00e9`.
        let f = alone(&[b"u00e9"]);
        assert!(multi_match_may_hold(
            &f,
            &[T::Utf8ToUnicode],
            0,
            "é".as_bytes()
        ));
        assert!(!multi_match_may_hold(
            &f,
            &[T::UrlDecodeUni],
            0,
            "é".as_bytes()
        ));
    }

    #[test]
    fn ordinary_values_are_ruled_out() {
        let f = filter();
        for v in [
            &b"Blue cotton shirt size M"[..],
            b"gift wrap please",
            b"19.99",
            b"SKU-00001",
            b"order.items[0].name",
        ] {
            assert!(!multi_match_may_hold(&f, CHAIN, 0, v), "{v:?}");
        }
    }
}
