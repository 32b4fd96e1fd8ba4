//! `application/x-www-form-urlencoded` and query strings: `&`-separated `name=value` pairs,
//! `+` as space, names without `=`, repeated names kept in order.

use std::borrow::Cow;

use super::{Field, Inputs, Limits, ParseFlags, Source};
use crate::decode::percent_decode;

/// Splits `input` into arguments of the given source and adds them to `inputs`.
pub fn parse<'a>(input: &'a [u8], source: Source, inputs: &mut Inputs<'a>, limits: &Limits) {
    for pair in input.split(|&b| b == b'&') {
        if pair.is_empty() {
            continue;
        }
        let (name, value) = match memchr::memchr(b'=', pair) {
            Some(i) => (&pair[..i], &pair[i + 1..]),
            None => (pair, &b""[..]),
        };
        inputs.push_arg(
            Field {
                source,
                name: percent_decode(name, true),
                value: percent_decode(value, true),
            },
            limits,
        );
        if inputs.flags.has(ParseFlags::TOO_MANY_ARGS) {
            return;
        }
    }
}

/// Decodes one urlencoded component (exposed for callers that split themselves).
pub fn decode_component(input: &[u8]) -> Cow<'_, [u8]> {
    percent_decode(input, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(q: &[u8]) -> Vec<(Vec<u8>, Vec<u8>)> {
        let mut inputs = Inputs::default();
        parse(q, Source::QueryArg, &mut inputs, &Limits::default());
        std::mem::take(&mut inputs.fields)
            .into_iter()
            .map(|f| (f.name.into_owned(), f.value.into_owned()))
            .collect()
    }

    #[test]
    fn splits_pairs_decodes_and_keeps_repeats() {
        let a = args(b"q=a+b%21&flag&q=2&&e=");
        assert_eq!(
            a,
            vec![
                (b"q".to_vec(), b"a b!".to_vec()),
                (b"flag".to_vec(), b"".to_vec()),
                (b"q".to_vec(), b"2".to_vec()),
                (b"e".to_vec(), b"".to_vec()),
            ]
        );
    }

    #[test]
    fn stops_at_the_argument_limit_and_flags_it() {
        let mut inputs = Inputs::default();
        let limits = Limits {
            max_args: 2,
            ..Limits::default()
        };
        parse(b"a=1&b=2&c=3&d=4", Source::QueryArg, &mut inputs, &limits);
        assert_eq!(inputs.fields.len(), 2);
        assert!(inputs.flags.has(ParseFlags::TOO_MANY_ARGS));
    }
}
