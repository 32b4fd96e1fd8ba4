//! Transformations (`t:…`) with ModSecurity's byte-oriented semantics. One file per
//! transformation (or tight family); [`apply`] dispatches by name. A transformation returns
//! `None` when it leaves its input unchanged, so the evaluator can keep borrowing the original
//! bytes; none of them allocates in that case.
//!
//! The reference is libmodsecurity v3 (`src/actions/transformations/*.cc`); each module's doc
//! comment notes where it deliberately differs.

use crate::seclang::transformations::Transformation;

mod base64;
mod case;
mod cmd_line;
mod compress_whitespace;
mod css_decode;
mod escape_seq_decode;
mod hex;
mod html_entity_decode;
mod js_decode;
mod length;
mod md5;
mod normalize_path;
mod nulls;
mod parity;
mod remove_comments;
mod remove_comments_char;
mod remove_whitespace;
mod replace_comments;
mod sha1;
mod sql_hex_decode;
mod trim;
mod url_decode;
mod url_decode_uni;
mod url_encode;
mod utf8_to_unicode;
mod util;

/// Applies one transformation; `None` means the input is unchanged.
///
/// `t:none` returns `None` here: resetting the chain is the evaluator's job.
pub fn apply(t: Transformation, input: &[u8]) -> Option<Vec<u8>> {
    use Transformation as T;
    match t {
        T::None => None,
        T::Base64Decode => base64::decode(input),
        T::Base64DecodeExt => base64::decode_ext(input),
        T::Base64Encode => base64::encode(input),
        T::CmdLine => cmd_line::cmd_line(input),
        T::CompressWhitespace => compress_whitespace::compress_whitespace(input),
        T::CssDecode => css_decode::css_decode(input),
        T::EscapeSeqDecode => escape_seq_decode::escape_seq_decode(input),
        T::HexDecode => hex::decode(input),
        T::HexEncode => hex::encode(input),
        T::HtmlEntityDecode => html_entity_decode::html_entity_decode(input),
        T::JsDecode => js_decode::js_decode(input),
        T::Length => length::length(input),
        T::Lowercase => case::lowercase(input),
        T::Md5 => md5::md5(input),
        T::NormalisePath | T::NormalizePath => normalize_path::normalize_path(input),
        T::NormalisePathWin | T::NormalizePathWin => normalize_path::normalize_path_win(input),
        T::ParityEven7bit => parity::even(input),
        T::ParityOdd7bit => parity::odd(input),
        T::ParityZero7bit => parity::zero(input),
        T::RemoveComments => remove_comments::remove_comments(input),
        T::RemoveCommentsChar => remove_comments_char::remove_comments_char(input),
        T::RemoveNulls => nulls::remove_nulls(input),
        T::RemoveWhitespace => remove_whitespace::remove_whitespace(input),
        T::ReplaceComments => replace_comments::replace_comments(input),
        T::ReplaceNulls => nulls::replace_nulls(input),
        T::Sha1 => sha1::sha1(input),
        T::SqlHexDecode => sql_hex_decode::sql_hex_decode(input),
        T::Trim => trim::trim(input),
        T::TrimLeft => trim::trim_left(input),
        T::TrimRight => trim::trim_right(input),
        T::Uppercase => case::uppercase(input),
        T::UrlDecode => url_decode::url_decode(input),
        T::UrlDecodeUni => url_decode_uni::url_decode_uni(input),
        T::UrlEncode => url_encode::url_encode(input),
        T::Utf8ToUnicode => utf8_to_unicode::utf8_to_unicode(input),
    }
}

/// `value` after every transformation of `chain` in turn (for tests that compare chains).
#[cfg(test)]
pub fn apply_chain(chain: &[Transformation], value: &[u8]) -> Vec<u8> {
    let mut v = value.to_vec();
    for t in chain {
        if let Some(next) = apply(*t, &v) {
            v = next;
        }
    }
    v
}

/// True when `t` never makes a value longer: every decoding, removal and case change (each
/// output byte stands for at least one input byte); false for encodings, hashes, `t:length` and
/// `t:utf8toUnicode`. A value shorter than a literal stays too short for it after such a chain.
pub fn never_lengthens(t: Transformation) -> bool {
    use Transformation as T;
    !matches!(
        t,
        T::Base64Encode
            | T::HexEncode
            | T::Length
            | T::Md5
            | T::Sha1
            | T::UrlEncode
            | T::Utf8ToUnicode
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::test_rng::XorShift;

    /// Bytes the transformations react to, so random inputs hit their interesting paths.
    const ALPHABET: &[u8] = b"%uU+&#xX;\\/.*-<!>'\"^ ,()\t\n\r\x0b\x0c\x00\xa0\xc2\xe2\xf0\x80\xbf\xff0123456789abcdefABCDEFgqtlmpnsobvr=_";

    fn random_input(rng: &mut XorShift) -> Vec<u8> {
        let len = (rng.next() % 40) as usize;
        (0..len)
            .map(|_| {
                let r = rng.next();
                if r % 4 == 0 {
                    (r >> 8) as u8
                } else {
                    ALPHABET[(r >> 8) as usize % ALPHABET.len()]
                }
            })
            .collect()
    }

    #[test]
    fn every_transformation_is_total_and_deterministic() {
        let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
        for _ in 0..3000 {
            let input = random_input(&mut rng);
            for &t in Transformation::ALL {
                let first = apply(t, &input);
                assert_eq!(first, apply(t, &input), "{t:?} on {input:?}");
                if let Some(out) = &first {
                    assert_ne!(out, &input, "{t:?} returned Some(unchanged) on {input:?}");
                }
            }
        }
    }

    #[test]
    fn transformations_said_never_to_lengthen_do_not() {
        let mut rng = XorShift(0x2545_F491_4F6C_DD1D);
        let crafted: [&[u8]; 8] = [
            b"%u0041%uFF21%u%41%",
            b"&#x10FFFF;&#1114111;&amp;&nbsp&lt",
            b"\\u0041\\x41\\101\\",
            b"/* x */--#;, ^\\\"'",
            b"../a/./b\\..\\c",
            b"QUFBQUFB=QUFB\r\nQUFB",
            b"0x414243 0X41 x'41'",
            b"\xc2\xa0 \x00\t\x0b",
        ];
        let inputs = crafted
            .iter()
            .map(|c| c.to_vec())
            .chain((0..5000).map(|_| random_input(&mut rng)));
        for input in inputs {
            for &t in Transformation::ALL.iter().filter(|&&t| never_lengthens(t)) {
                if let Some(out) = apply(t, &input) {
                    assert!(out.len() <= input.len(), "{t:?} lengthened {input:?}");
                }
            }
        }
    }

    #[test]
    fn none_never_changes() {
        assert_eq!(apply(Transformation::None, b"ABC %41"), None);
    }

    #[test]
    fn aliases_agree() {
        for input in [&b"/a/./b/../c//d"[..], b"\\a\\..\\b", b"x"] {
            assert_eq!(
                apply(Transformation::NormalisePath, input),
                apply(Transformation::NormalizePath, input)
            );
            assert_eq!(
                apply(Transformation::NormalisePathWin, input),
                apply(Transformation::NormalizePathWin, input)
            );
        }
    }

    #[test]
    fn empty_input() {
        for &t in Transformation::ALL {
            let out = apply(t, b"");
            match t {
                Transformation::Length => assert_eq!(out, Some(b"0".to_vec())),
                Transformation::Md5 | Transformation::Sha1 => assert!(out.is_some()),
                _ => assert_eq!(out, None, "{t:?}"),
            }
        }
    }
}
