//! ModSecurity-style transformations used by the detectors before matching.
//!
//! Each function returns its input borrowed when it has nothing to change, so a clean value
//! passes through a whole chain ([`apply`]) without allocating.
//!
//! Deviations from ModSecurity, chosen for precision: code points decoded from `%uXXXX`,
//! `\uXXXX`, `&#...;` and CSS escapes are kept as UTF-8 (ModSecurity keeps only their low
//! byte, which turns e.g. Cyrillic `Ч` U+0427 into a quote); full-width ASCII (U+FF01–U+FF5E)
//! is folded to ASCII like ModSecurity does. `utf8toUnicode` is reduced to that folding, the
//! only part of it that changes what the matchers see.

use std::borrow::Cow;

use crate::decode::hex_val;

/// Runs one transformation on a value, keeping the value (borrowed or owned) when nothing
/// changed.
pub fn apply<'a>(value: Cow<'a, [u8]>, f: fn(&[u8]) -> Cow<'_, [u8]>) -> Cow<'a, [u8]> {
    let changed = match f(&value) {
        Cow::Owned(v) => Some(v),
        Cow::Borrowed(_) => None,
    };
    match changed {
        Some(v) => Cow::Owned(v),
        None => value,
    }
}

/// Full-width ASCII forms (U+FF01–U+FF5E, UTF-8 `EF BC 81`–`EF BD 9E`) become plain ASCII
/// (the part of ModSecurity's `utf8toUnicode` + `urlDecodeUni` that matters to matchers).
pub fn fold_fullwidth(input: &[u8]) -> Cow<'_, [u8]> {
    // Every full-width form starts with 0xEF: most values are ruled out by one search.
    if memchr::memchr(0xEF, input).is_none() || !input.windows(3).any(|w| fullwidth_at(w).is_some())
    {
        return Cow::Borrowed(input);
    }
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        match input.get(i..i + 3).and_then(fullwidth_at) {
            Some(b) => {
                out.push(b);
                i += 3;
            }
            None => {
                out.push(input[i]);
                i += 1;
            }
        }
    }
    Cow::Owned(out)
}

/// The ASCII byte for a full-width form encoded in the three bytes `w`.
fn fullwidth_at(w: &[u8]) -> Option<u8> {
    match *w {
        [0xEF, 0xBC, b2 @ 0x81..=0xBF] => Some(b2 - 0x60),
        [0xEF, 0xBD, b2 @ 0x80..=0x9E] => Some(b2 - 0x20),
        _ => None,
    }
}

/// ModSecurity's `urlDecodeUni`: `%XX`, `%uXXXX` and `+` as space. Invalid escapes are kept.
pub fn url_decode_uni(input: &[u8]) -> Cow<'_, [u8]> {
    if memchr::memchr2(b'%', b'+', input).is_none() {
        return Cow::Borrowed(input);
    }
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        let b = input[i];
        if b == b'%' {
            if let Some(cp) = input.get(i + 1..i + 6).and_then(percent_u) {
                push_code_point(&mut out, cp);
                i += 6;
                continue;
            }
            if let Some(v) = input.get(i + 1..i + 3).and_then(hex_byte) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(if b == b'+' { b' ' } else { b });
        i += 1;
    }
    Cow::Owned(out)
}

/// The code point of `uXXXX` (the part of a `%uXXXX` escape after the percent sign).
fn percent_u(s: &[u8]) -> Option<u32> {
    match s {
        [b'u' | b'U', hex @ ..] => hex_number(hex),
        _ => None,
    }
}

/// The byte written as two hex digits.
fn hex_byte(s: &[u8]) -> Option<u8> {
    match *s {
        [h, l] => Some(hex_val(h)? << 4 | hex_val(l)?),
        _ => None,
    }
}

/// The value of a run of hex digits (at most 8, so it cannot overflow).
fn hex_number(s: &[u8]) -> Option<u32> {
    if s.is_empty() || s.len() > 8 {
        return None;
    }
    s.iter()
        .try_fold(0u32, |acc, &b| Some(acc << 4 | u32::from(hex_val(b)?)))
}

/// Appends a decoded code point: ASCII as is, full-width ASCII folded, the rest as UTF-8
/// (invalid code points become U+FFFD).
fn push_code_point(out: &mut Vec<u8>, cp: u32) {
    if (0xFF01..=0xFF5E).contains(&cp) {
        out.push((cp - 0xFF00 + 0x20) as u8);
        return;
    }
    let c = char::from_u32(cp).unwrap_or(char::REPLACEMENT_CHARACTER);
    let mut buf = [0u8; 4];
    out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
}

/// Overlong UTF-8 encodings of ASCII (`C0 AE` for `.`, `C0 AF` for `/`, `E0 80 AE`, …) become
/// the ASCII byte they spell; used against `%c0%ae%c0%ae%c0%af` traversal.
pub fn fold_overlong_utf8(input: &[u8]) -> Cow<'_, [u8]> {
    if memchr::memchr3(0xC0, 0xC1, 0xE0, input).is_none() {
        return Cow::Borrowed(input);
    }
    let mut out = Vec::with_capacity(input.len());
    let mut changed = false;
    let mut i = 0;
    while i < input.len() {
        match overlong_at(&input[i..]) {
            Some((b, len)) => {
                out.push(b);
                i += len;
                changed = true;
            }
            None => {
                out.push(input[i]);
                i += 1;
            }
        }
    }
    if changed {
        Cow::Owned(out)
    } else {
        Cow::Borrowed(input)
    }
}

/// The ASCII byte and sequence length of an overlong encoding at the start of `s`.
fn overlong_at(s: &[u8]) -> Option<(u8, usize)> {
    match *s {
        [b0 @ (0xC0 | 0xC1), b1 @ 0x80..=0xBF, ..] => Some(((b0 & 1) << 6 | (b1 & 0x3F), 2)),
        [0xE0, b1 @ (0x80 | 0x81), b2 @ 0x80..=0xBF, ..] => Some(((b1 & 1) << 6 | (b2 & 0x3F), 3)),
        _ => None,
    }
}

/// Named entities decoded by [`html_entity_decode`] (ModSecurity's set plus `apos`).
const NAMED_ENTITIES: &[(&[u8], u8)] = &[
    (b"lt", b'<'),
    (b"gt", b'>'),
    (b"quot", b'"'),
    (b"amp", b'&'),
    (b"apos", b'\''),
    (b"nbsp", b' '),
];

/// ModSecurity's `htmlEntityDecode`: `&#DDD;`, `&#xHH;` and the named entities `&lt;`,
/// `&gt;`, `&quot;`, `&amp;`, `&apos;`, `&nbsp;` (the `;` is optional, as browsers allow).
pub fn html_entity_decode(input: &[u8]) -> Cow<'_, [u8]> {
    if memchr::memchr(b'&', input).is_none() {
        return Cow::Borrowed(input);
    }
    let mut out = Vec::with_capacity(input.len());
    let mut changed = false;
    let mut i = 0;
    while i < input.len() {
        if input[i] == b'&' {
            if let Some(len) = entity_at(&input[i + 1..], &mut out) {
                i += 1 + len;
                changed = true;
                continue;
            }
        }
        out.push(input[i]);
        i += 1;
    }
    if changed {
        Cow::Owned(out)
    } else {
        Cow::Borrowed(input)
    }
}

/// Decodes the entity after a `&` into `out`; returns the bytes it used.
fn entity_at(s: &[u8], out: &mut Vec<u8>) -> Option<usize> {
    if let Some(rest) = s.strip_prefix(b"#") {
        let (radix, digits_at) = match rest.first() {
            Some(b'x' | b'X') => (16, 2),
            _ => (10, 1),
        };
        let digits = s
            .get(digits_at..)?
            .iter()
            .take_while(|b| is_radix_digit(**b, radix))
            .count();
        if digits == 0 || digits > 8 {
            return None;
        }
        let text = std::str::from_utf8(s.get(digits_at..digits_at + digits)?).ok()?;
        let cp = u32::from_str_radix(text, radix).ok()?;
        push_code_point(out, cp);
        return Some(digits_at + digits + usize::from(s.get(digits_at + digits) == Some(&b';')));
    }
    let &(name, byte) = NAMED_ENTITIES.iter().find(|(name, _)| {
        s.get(..name.len())
            .is_some_and(|p| p.eq_ignore_ascii_case(name))
    })?;
    out.push(byte);
    Some(name.len() + usize::from(s.get(name.len()) == Some(&b';')))
}

fn is_radix_digit(b: u8, radix: u32) -> bool {
    if radix == 16 {
        b.is_ascii_hexdigit()
    } else {
        b.is_ascii_digit()
    }
}

/// ModSecurity's `jsDecode`, reduced to the escapes that can hide markup: `\xHH`, `\uHHHH`
/// and `\"`, `\'`, `\\`, `\/`. Other backslashes are left for [`css_decode`].
pub fn js_decode(input: &[u8]) -> Cow<'_, [u8]> {
    if memchr::memchr(b'\\', input).is_none() {
        return Cow::Borrowed(input);
    }
    let mut out = Vec::with_capacity(input.len());
    let mut changed = false;
    let mut i = 0;
    while i < input.len() {
        if input[i] == b'\\' {
            if let Some(len) = js_escape_at(&input[i + 1..], &mut out) {
                i += 1 + len;
                changed = true;
                continue;
            }
        }
        out.push(input[i]);
        i += 1;
    }
    if changed {
        Cow::Owned(out)
    } else {
        Cow::Borrowed(input)
    }
}

/// Decodes the JavaScript escape after a backslash into `out`; returns the bytes it used.
fn js_escape_at(s: &[u8], out: &mut Vec<u8>) -> Option<usize> {
    match s.first()? {
        b'x' | b'X' => {
            out.push(hex_byte(s.get(1..3)?)?);
            Some(3)
        }
        b'u' | b'U' => {
            push_code_point(out, hex_number(s.get(1..5)?)?);
            Some(5)
        }
        &b @ (b'"' | b'\'' | b'\\' | b'/') => {
            out.push(b);
            Some(1)
        }
        _ => None,
    }
}

/// ModSecurity's `cssDecode`: `\` followed by 1–6 hex digits (and one optional space) is a
/// code point, `\` before a newline is dropped, `\` before any other byte escapes it.
pub fn css_decode(input: &[u8]) -> Cow<'_, [u8]> {
    if memchr::memchr(b'\\', input).is_none() {
        return Cow::Borrowed(input);
    }
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        if input[i] != b'\\' {
            out.push(input[i]);
            i += 1;
            continue;
        }
        let rest = &input[i + 1..];
        let digits = rest
            .iter()
            .take(6)
            .take_while(|b| b.is_ascii_hexdigit())
            .count();
        if digits > 0 {
            push_code_point(&mut out, hex_number(&rest[..digits]).unwrap_or(0xFFFD));
            let space = usize::from(rest.get(digits).is_some_and(|b| b.is_ascii_whitespace()));
            i += 1 + digits + space;
        } else {
            match rest.first() {
                Some(b'\n') => {}
                Some(&b) => out.push(b),
                None => out.push(b'\\'),
            }
            i += 2;
        }
    }
    Cow::Owned(out)
}

/// ModSecurity's `removeNulls`: drops every NUL byte.
pub fn remove_nulls(input: &[u8]) -> Cow<'_, [u8]> {
    if memchr::memchr(0, input).is_none() {
        return Cow::Borrowed(input);
    }
    Cow::Owned(input.iter().copied().filter(|&b| b != 0).collect())
}

/// Backslashes become slashes (the separator part of ModSecurity's `normalizePathWin`).
pub fn backslash_to_slash(input: &[u8]) -> Cow<'_, [u8]> {
    if memchr::memchr(b'\\', input).is_none() {
        return Cow::Borrowed(input);
    }
    Cow::Owned(
        input
            .iter()
            .map(|&b| if b == b'\\' { b'/' } else { b })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn is_borrowed(c: Cow<'_, [u8]>) -> bool {
        matches!(c, Cow::Borrowed(_))
    }

    #[test]
    fn url_decode_uni_handles_percent_u_and_plus() {
        assert_eq!(&*url_decode_uni(b"%27+or%u0020%U0031"), b"' or 1");
        assert_eq!(&*url_decode_uni(b"%uff1cscript"), b"<script");
        assert_eq!(&*url_decode_uni(b"%u00e9"), "é".as_bytes());
        assert_eq!(&*url_decode_uni(b"%zz%u12%4"), b"%zz%u12%4");
        assert!(is_borrowed(url_decode_uni(b"plain text")));
    }

    #[test]
    fn fullwidth_forms_fold_to_ascii() {
        assert_eq!(&*fold_fullwidth("＜script＞ｘ".as_bytes()), b"<script>x");
        assert!(is_borrowed(fold_fullwidth("Ärger über €".as_bytes())));
    }

    #[test]
    fn overlong_utf8_folds_to_ascii() {
        assert_eq!(
            &*fold_overlong_utf8(b"\xc0\xae\xc0\xae\xc0\xaf\xe0\x80\xae"),
            b"../."
        );
        assert!(is_borrowed(fold_overlong_utf8("àé".as_bytes())));
        assert!(is_borrowed(fold_overlong_utf8(b"\xc0")));
    }

    #[test]
    fn html_entities_decode() {
        assert_eq!(
            &*html_entity_decode(b"&lt;img&#x20;src&#61;x&gt;&quot&AMP;"),
            b"<img src=x>\"&"
        );
        assert_eq!(&*html_entity_decode(b"&#1095;&#xff1c;"), "ч<".as_bytes());
        assert_eq!(
            &*html_entity_decode(b"a & b &#; &#x; &foo;"),
            b"a & b &#; &#x; &foo;"
        );
        assert!(is_borrowed(html_entity_decode(b"fish & chips")));
        assert_eq!(&*html_entity_decode(b"&#99999999999;"), b"&#99999999999;");
    }

    #[test]
    fn js_escapes_decode() {
        assert_eq!(&*js_decode(br"\x3cscript\u003e\'\/"), b"<script>'/");
        assert_eq!(&*js_decode(br"C:\temp\x"), br"C:\temp\x");
        assert!(is_borrowed(js_decode(br"a\b")));
    }

    #[test]
    fn css_escapes_decode() {
        assert_eq!(&*css_decode(br"java\73 cript:\(x\"), b"javascript:(x\\");
        assert_eq!(&*css_decode(b"a\\\nb"), b"ab");
        assert_eq!(&*css_decode(br"\0003c"), b"<");
    }

    #[test]
    fn nulls_are_removed_and_slashes_normalised() {
        assert_eq!(&*remove_nulls(b"a\0b\0"), b"ab");
        assert!(is_borrowed(remove_nulls(b"ab")));
        assert_eq!(&*backslash_to_slash(br"..\win.ini"), b"../win.ini");
    }

    #[test]
    fn apply_keeps_borrow_when_unchanged() {
        let v = apply(Cow::Borrowed(&b"abc"[..]), url_decode_uni);
        assert!(is_borrowed(v));
        let v = apply(
            apply(Cow::Borrowed(&b"%2500"[..]), url_decode_uni),
            url_decode_uni,
        );
        assert_eq!(&*v, b"\0");
    }
}
