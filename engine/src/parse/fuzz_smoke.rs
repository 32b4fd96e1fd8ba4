//! Deterministic fuzz smoke test: mutated and random inputs must never panic the body parsers
//! and must respect the argument limit.

use super::{graphql, json, multipart, xml, Inputs, Limits, Source};

/// xorshift64: small, deterministic, good enough to shake the parsers.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    fn pick<'t>(&mut self, items: &[&'t [u8]]) -> &'t [u8] {
        items[self.below(items.len())]
    }
}

const JSON_SEEDS: &[&[u8]] = &[
    br#"{"user":{"roles":["a","b"],"id":-1.5e3},"ok":true,"n":null}"#,
    br#"[1,[2,[3,{"k\u00e9y":"v\ud83d\ude00\n"}]],false]"#,
    b"\xEF\xBB\xBF  \"top\"  ",
    br#"{"query":"query { a(b: \"c\\\"d\", e: \"\"\"f\"\"\") { g } } # \"h\""}"#,
];

const JSON_TOKENS: &[&[u8]] = &[
    b"{", b"}", b"[", b"]", b":", b",", b"\"", b"\\", b"\\u", b"\\ud800", b"\\udc00", b"0", b"-",
    b"e+", b".", b"true", b"nul", b" ", b"\n", b"\xff", b"\x00",
];

const MULTIPART_SEEDS: &[&[u8]] = &[
    b"--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1\r\n--XyZ\r\n\
      Content-Disposition: form-data; name=\"f\"; filename=\"x.txt\"; filename*=UTF-8''y%20z\r\n\
      Content-Type: text/plain\r\n\r\nfile\r\n--XyZ--\r\n",
    b"pre\n--XyZ\nContent-Disposition: form-data; name=a\\\"b\n\nv\n--XyZevil\n--XyZ--",
];

const MULTIPART_TOKENS: &[&[u8]] = &[
    b"--XyZ",
    b"--XyZ--",
    b"\r\n",
    b"\n",
    b"\r",
    b"--",
    b";",
    b"=",
    b"\"",
    b"\\",
    b":",
    b" ",
    b"name=",
    b"filename*=",
    b"Content-Disposition: form-data",
    b"\xff",
];

const XML_SEEDS: &[&[u8]] = &[
    b"<?xml version=\"1.0\"?><call><m>ping</m><p a=\"x&amp;y\"><s>t &lt;u&gt;</s><![CDATA[<raw>]]></p></call>",
    b"<!DOCTYPE d [<!ENTITY e SYSTEM \"file:///x\">]><d><!-- c -->&e;<e/></d>",
];

const XML_TOKENS: &[&[u8]] = &[
    b"<",
    b">",
    b"</",
    b"/>",
    b"<a>",
    b"</a>",
    b"&",
    b"&amp;",
    b"&#x",
    b";",
    b"\"",
    b"'",
    b"=",
    b"<![CDATA[",
    b"]]>",
    b"<!--",
    b"-->",
    b"<?",
    b"?>",
    b"<!",
    b" ",
    b"\xff",
];

/// One random edit: overwrite, insert a token, delete or duplicate a range, or truncate.
fn mutate(rng: &mut Rng, input: &mut Vec<u8>, tokens: &[&[u8]]) {
    let at = rng.below(input.len() + 1);
    let len = rng.below(16).min(input.len() - at);
    match rng.below(5) {
        0 if at < input.len() => input[at] = rng.next() as u8,
        1 => {
            let token = rng.pick(tokens);
            input.splice(at..at, token.iter().copied());
        }
        2 => {
            input.drain(at..at + len);
        }
        3 => {
            let copy = input[at..at + len].to_vec();
            input.splice(at..at, copy);
        }
        _ => input.truncate(at),
    }
}

/// A seed with a few edits, or a string of tokens and random bytes.
fn generate(rng: &mut Rng, seeds: &[&[u8]], tokens: &[&[u8]]) -> Vec<u8> {
    if rng.below(4) == 0 {
        let mut input = Vec::new();
        for _ in 0..rng.below(40) {
            if rng.below(3) == 0 {
                input.push(rng.next() as u8);
            } else {
                input.extend_from_slice(rng.pick(tokens));
            }
        }
        return input;
    }
    let mut input = rng.pick(seeds).to_vec();
    for _ in 0..1 + rng.below(6) {
        mutate(rng, &mut input, tokens);
    }
    input
}

#[test]
fn body_parsers_survive_random_and_mutated_inputs() {
    let limits = Limits {
        max_args: 8,
        json_max_depth: 4,
    };
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    for _ in 0..4000 {
        let input = generate(&mut rng, JSON_SEEDS, JSON_TOKENS);
        let mut inputs = Inputs::default();
        json::parse(&input, &mut inputs, &limits);
        assert!(inputs.arg_count <= limits.max_args);
        graphql::add_string_arguments(&mut inputs, &limits);
        let literals = inputs
            .fields
            .iter()
            .filter(|f| f.source == Source::GraphqlArg);
        assert!(literals.count() <= limits.max_args);

        let input = generate(&mut rng, MULTIPART_SEEDS, MULTIPART_TOKENS);
        let mut inputs = Inputs::default();
        multipart::parse(&input, b"XyZ", &mut inputs, &limits);
        assert!(inputs.arg_count <= limits.max_args);
        assert!(inputs.files.iter().all(|f| f.content.len() <= input.len()));
        let _ = multipart::boundary(&input);

        let input = generate(&mut rng, XML_SEEDS, XML_TOKENS);
        let mut inputs = Inputs::default();
        xml::parse(&input, &mut inputs, &limits);
        let nodes = inputs.fields.iter().filter(|f| f.source == Source::XmlNode);
        assert!(nodes.count() <= limits.max_args);
    }
}
