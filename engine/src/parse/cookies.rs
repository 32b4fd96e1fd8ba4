//! `Cookie` header values: `name=value` pairs separated by `;`, surrounding spaces trimmed.

use std::borrow::Cow;

use super::{Field, Inputs, Source};

/// Adds each cookie of one `Cookie` header to `inputs` (cookies do not count as arguments).
pub fn parse<'a>(header: &'a [u8], inputs: &mut Inputs<'a>) {
    for pair in header.split(|&b| b == b';') {
        let pair = pair.trim_ascii();
        if pair.is_empty() {
            continue;
        }
        let (name, value) = match memchr::memchr(b'=', pair) {
            Some(i) => (pair[..i].trim_ascii(), pair[i + 1..].trim_ascii()),
            None => (pair, &b""[..]),
        };
        inputs.fields.push(Field {
            source: Source::Cookie,
            name: Cow::Borrowed(name),
            value: Cow::Borrowed(value),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_and_trims_cookie_pairs() {
        let mut inputs = Inputs::default();
        parse(b"sid=abc; theme = dark ;flag", &mut inputs);
        let got: Vec<_> = inputs
            .fields
            .iter()
            .map(|f| (&*f.name, &*f.value))
            .collect();
        assert_eq!(
            got,
            vec![
                (&b"sid"[..], &b"abc"[..]),
                (&b"theme"[..], &b"dark"[..]),
                (&b"flag"[..], &b""[..])
            ]
        );
        assert_eq!(inputs.fields[0].variable(), "REQUEST_COOKIES:sid");
    }
}
