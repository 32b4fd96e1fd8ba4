//! `t:htmlEntityDecode`: decodes `&#xHH;`, `&#DDD;` (the `;` is optional) and the named
//! entities `&quot;` `&amp;` `&lt;` `&gt;` `&nbsp;` (case-insensitive, `;` optional). A numeric
//! entity produces one byte, the low byte of its value (values past `i64::MAX` saturate like C
//! `strtol`, giving 0xFF); `&nbsp;` produces 0xA0. Anything else is copied unchanged.
//!
//! This follows ModSecurity v2 and libmodsecurity up to v3.0.12. v3.0.13 limits numeric
//! entities to 2 hex / 3 decimal digits and matches names by prefix (`&ltfoo` → `<`); we keep
//! the older, documented behaviour, under which `&#x0003c;` still decodes to `<`.

use super::util::Output;

/// Decodes HTML entities the way ModSecurity does.
pub(super) fn html_entity_decode(input: &[u8]) -> Option<Vec<u8>> {
    memchr::memchr(b'&', input)?;
    let n = input.len();
    let mut out = Output::new(input);
    let mut i = 0;
    while i < n {
        let mut copy = 1;
        if input[i] == b'&' && i + 1 < n {
            let mut j = i + 1;
            if input[j] == b'#' {
                copy = 2;
                if j + 1 < n {
                    j += 1;
                    let (radix, start) = if matches!(input[j], b'x' | b'X') {
                        copy = 3;
                        (16, j + 1)
                    } else {
                        (10, j)
                    };
                    if start < n {
                        let end = start
                            + input[start..]
                                .iter()
                                .take_while(|&&b| {
                                    if radix == 16 {
                                        b.is_ascii_hexdigit()
                                    } else {
                                        b.is_ascii_digit()
                                    }
                                })
                                .count();
                        if end > start {
                            out.push(strtol_low_byte(&input[start..end], radix));
                            i = skip_semicolon(input, end);
                            continue;
                        }
                    }
                }
            } else {
                let start = j;
                while j < n && input[j].is_ascii_alphanumeric() {
                    j += 1;
                }
                if j > start {
                    if let Some(b) = named(&input[start..j]) {
                        out.push(b);
                        i = skip_semicolon(input, j);
                        continue;
                    }
                    copy = j - start + 1;
                }
            }
        }
        let end = (i + copy).min(n);
        out.extend(&input[i..end]);
        i = end;
    }
    out.finish()
}

/// The byte for one of the five entity names ModSecurity knows.
fn named(name: &[u8]) -> Option<u8> {
    [
        (&b"quot"[..], b'"'),
        (b"amp", b'&'),
        (b"lt", b'<'),
        (b"gt", b'>'),
        (b"nbsp", 0xa0),
    ]
    .iter()
    .find(|(n, _)| n.eq_ignore_ascii_case(name))
    .map(|&(_, b)| b)
}

/// The position after `pos`, skipping one `;` if present.
fn skip_semicolon(input: &[u8], pos: usize) -> usize {
    if input.get(pos) == Some(&b';') {
        pos + 1
    } else {
        pos
    }
}

/// `(unsigned char) strtol(digits, NULL, radix)`: saturates at `i64::MAX`.
fn strtol_low_byte(digits: &[u8], radix: u32) -> u8 {
    let max = i64::MAX as u64;
    let value = digits.iter().fold(0u64, |acc, &d| {
        let d = u64::from(char::from(d).to_digit(radix).unwrap_or(0));
        acc.saturating_mul(u64::from(radix))
            .saturating_add(d)
            .min(max)
    });
    value as u8
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dec(s: &[u8]) -> Vec<u8> {
        html_entity_decode(s).unwrap_or_else(|| s.to_vec())
    }

    #[test]
    fn numeric_entities() {
        assert_eq!(dec(b"&#x41;&#X42&#67;&#68"), b"ABCD");
        assert_eq!(dec(b"&#x3c;script&#x3E;"), b"<script>");
        assert_eq!(dec(b"&#x0003c;"), b"<");
        assert_eq!(dec(b"&#0000060;"), b"<");
        // Low byte of the code point.
        assert_eq!(dec(b"&#x427;"), vec![0x27]);
        assert_eq!(dec(b"&#321;"), vec![0x41]);
        // strtol saturates at LONG_MAX, whose low byte is 0xFF.
        assert_eq!(dec(b"&#99999999999999999999999;"), vec![0xff]);
        assert_eq!(dec(b"&#xfffffffffffffffffff;"), vec![0xff]);
        assert_eq!(dec(b"&#0;"), vec![0]);
    }

    #[test]
    fn named_entities() {
        assert_eq!(dec(b"&quot;&amp;&lt;&gt;&nbsp;"), b"\"&<>\xa0");
        assert_eq!(dec(b"&LT&Gt;x"), b"<>x");
        assert_eq!(dec(b"&amp;lt;"), b"&lt;");
        assert_eq!(html_entity_decode(b"&apos;&copy;&ltx;"), None);
        assert_eq!(html_entity_decode(b"&ltscript"), None);
    }

    #[test]
    fn incomplete_entities_are_kept() {
        for s in [
            &b"&"[..],
            b"&#",
            b"&#x",
            b"&#;",
            b"&#x;",
            b"&#xg;",
            b"& amp;",
            b"&;",
            b"a&",
            b"\xff\0&\xe9",
        ] {
            assert_eq!(html_entity_decode(s), None, "{s:?}");
        }
        assert_eq!(dec(b"&#&#65;"), b"&#A");
        assert_eq!(dec(b"&#x&#x41"), b"&#xA");
        assert_eq!(dec(b"&foo&lt"), b"&foo<");
        assert_eq!(html_entity_decode(b""), None);
    }
}
