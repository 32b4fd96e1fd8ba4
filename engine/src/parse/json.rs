//! JSON bodies: every scalar becomes a body argument named by its path (`user.roles[0]`).
//!
//! The parser is iterative: open containers live on an explicit stack bounded by
//! [`Limits::json_max_depth`], so hostile nesting cannot exhaust the call stack. Strings without
//! escapes are borrowed from the body; names are built, so they are always owned.

use std::borrow::Cow;
use std::io::Write;

use super::{Field, Inputs, Limits, ParseFlags, Source};
use crate::decode::hex_val;

/// Name bytes allowed per argument on top of the body length. Names repeat their parents' keys,
/// so without a budget a long key over many scalars would cost `max_args` times the body size.
const NAME_BYTES_PER_ARG: usize = 256;

/// The UTF-8 byte order mark, skipped at the start of the body.
const BOM: &[u8] = b"\xEF\xBB\xBF";

/// Parses a JSON body into `inputs`.
///
/// Malformed JSON sets `BODY_PARSE_ERROR`, nesting past the limit sets `JSON_TOO_DEEP`, and both
/// stop parsing; the fields collected before that point are kept.
pub fn parse<'a>(body: &'a [u8], inputs: &mut Inputs<'a>, limits: &Limits) {
    let mut parser = Parser::new(body, limits);
    if let Err(stop) = parser.run(inputs) {
        inputs.flags.set(stop.flag());
    }
}

/// Why parsing stopped early.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stop {
    Malformed,
    TooDeep,
    TooManyArgs,
}

impl Stop {
    fn flag(self) -> u32 {
        match self {
            Stop::Malformed => ParseFlags::BODY_PARSE_ERROR,
            Stop::TooDeep => ParseFlags::JSON_TOO_DEEP,
            Stop::TooManyArgs => ParseFlags::TOO_MANY_ARGS,
        }
    }
}

/// What the parser expects next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// A value, whose name is the current path.
    Value,
    /// A `,`, the end of the enclosing container, or the end of the body.
    AfterValue,
    /// Nothing: the whole body was read.
    Done,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Container {
    Object,
    Array,
}

impl Container {
    fn closing_byte(self) -> u8 {
        match self {
            Container::Object => b'}',
            Container::Array => b']',
        }
    }
}

/// One open container.
#[derive(Debug)]
struct Frame {
    container: Container,
    /// Length of the path naming the container itself.
    path_len: usize,
    /// Position of the current member.
    index: usize,
}

struct Parser<'a, 'l> {
    body: &'a [u8],
    pos: usize,
    /// Name of the value being read.
    path: Vec<u8>,
    stack: Vec<Frame>,
    limits: &'l Limits,
    /// Name bytes still allowed.
    name_budget: usize,
}

type Step = Result<State, Stop>;

impl<'a, 'l> Parser<'a, 'l> {
    fn new(body: &'a [u8], limits: &'l Limits) -> Self {
        let extra = limits.max_args.saturating_mul(NAME_BYTES_PER_ARG);
        Parser {
            body,
            pos: 0,
            path: Vec::new(),
            stack: Vec::new(),
            limits,
            name_budget: body.len().saturating_add(extra),
        }
    }

    fn run(&mut self, inputs: &mut Inputs<'a>) -> Result<(), Stop> {
        if self.body.starts_with(BOM) {
            self.pos = BOM.len();
        }
        self.skip_whitespace();
        if self.pos >= self.body.len() {
            return Ok(());
        }
        let mut state = State::Value;
        loop {
            state = match state {
                State::Value => self.value(inputs)?,
                State::AfterValue => self.after_value()?,
                State::Done => return Ok(()),
            };
        }
    }

    fn peek(&self) -> Option<u8> {
        self.body.get(self.pos).copied()
    }

    fn skip_whitespace(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.pos += 1;
        }
    }

    fn expect(&mut self, byte: u8) -> Result<(), Stop> {
        self.skip_whitespace();
        if self.peek() != Some(byte) {
            return Err(Stop::Malformed);
        }
        self.pos += 1;
        Ok(())
    }

    fn value(&mut self, inputs: &mut Inputs<'a>) -> Step {
        self.skip_whitespace();
        match self.peek() {
            Some(b'{') => self.open(Container::Object),
            Some(b'[') => self.open(Container::Array),
            Some(b'"') => {
                let text = self.string()?;
                self.emit(text, inputs)
            }
            Some(b't') => self.literal(b"true", inputs),
            Some(b'f') => self.literal(b"false", inputs),
            Some(b'n') => self.literal(b"null", inputs),
            Some(b'-' | b'0'..=b'9') => {
                let number = self.number()?;
                self.emit(Cow::Borrowed(number), inputs)
            }
            _ => Err(Stop::Malformed),
        }
    }

    fn after_value(&mut self) -> Step {
        self.skip_whitespace();
        let Some(container) = self.stack.last().map(|frame| frame.container) else {
            return if self.pos >= self.body.len() {
                Ok(State::Done)
            } else {
                Err(Stop::Malformed)
            };
        };
        match self.peek() {
            Some(b',') => {
                self.pos += 1;
                if let Some(frame) = self.stack.last_mut() {
                    frame.index += 1;
                }
                self.enter_member()
            }
            Some(byte) if byte == container.closing_byte() => {
                self.pos += 1;
                self.close();
                Ok(State::AfterValue)
            }
            _ => Err(Stop::Malformed),
        }
    }

    /// Opens the container at the current position; refuses nesting past the depth limit.
    fn open(&mut self, container: Container) -> Step {
        if self.stack.len() >= self.limits.json_max_depth {
            return Err(Stop::TooDeep);
        }
        self.pos += 1;
        self.stack.push(Frame {
            container,
            path_len: self.path.len(),
            index: 0,
        });
        self.skip_whitespace();
        if self.peek() == Some(container.closing_byte()) {
            self.pos += 1;
            self.close();
            return Ok(State::AfterValue);
        }
        self.enter_member()
    }

    fn close(&mut self) {
        if let Some(frame) = self.stack.pop() {
            self.path.truncate(frame.path_len);
        }
    }

    /// Sets the path for the current member of the innermost container; reads an object key.
    fn enter_member(&mut self) -> Step {
        let Some(frame) = self.stack.last() else {
            return Err(Stop::Malformed);
        };
        let (container, base, index) = (frame.container, frame.path_len, frame.index);
        self.path.truncate(base);
        match container {
            Container::Array => {
                // Writing into a Vec cannot fail.
                let _ = write!(self.path, "[{index}]");
            }
            Container::Object => {
                self.skip_whitespace();
                if self.peek() != Some(b'"') {
                    return Err(Stop::Malformed);
                }
                let key = self.string()?;
                self.expect(b':')?;
                if base > 0 {
                    self.path.push(b'.');
                }
                self.path.extend_from_slice(&key);
            }
        }
        Ok(State::Value)
    }

    /// Adds a scalar named by the current path.
    fn emit(&mut self, value: Cow<'a, [u8]>, inputs: &mut Inputs<'a>) -> Step {
        let cost = self.path.len();
        if cost > self.name_budget {
            return Err(Stop::TooManyArgs);
        }
        self.name_budget -= cost;
        let field = Field {
            source: Source::BodyArg,
            name: super::recycle::owned_name(&self.path),
            value,
        };
        inputs.push_arg(field, self.limits);
        if inputs.flags.has(ParseFlags::TOO_MANY_ARGS) {
            return Err(Stop::TooManyArgs);
        }
        Ok(State::AfterValue)
    }

    fn literal(&mut self, word: &'static [u8], inputs: &mut Inputs<'a>) -> Step {
        let body = self.body;
        let start = self.pos;
        let end = start + word.len();
        match body.get(start..end) {
            Some(text) if text == word => {
                self.pos = end;
                self.emit(Cow::Borrowed(text), inputs)
            }
            _ => Err(Stop::Malformed),
        }
    }

    /// Reads a number per the JSON grammar and returns its text.
    fn number(&mut self) -> Result<&'a [u8], Stop> {
        let body = self.body;
        let start = self.pos;
        let mut i = start;
        if body.get(i) == Some(&b'-') {
            i += 1;
        }
        match body.get(i) {
            Some(b'0') => i += 1,
            Some(b'1'..=b'9') => i = skip_digits(body, i),
            _ => return Err(Stop::Malformed),
        }
        if body.get(i) == Some(&b'.') {
            i = required_digits(body, i + 1)?;
        }
        if matches!(body.get(i), Some(b'e' | b'E')) {
            i += 1;
            if matches!(body.get(i), Some(b'+' | b'-')) {
                i += 1;
            }
            i = required_digits(body, i)?;
        }
        self.pos = i;
        Ok(&body[start..i])
    }

    /// Reads the string starting at the current `"`; borrows it unless it has escapes.
    fn string(&mut self) -> Result<Cow<'a, [u8]>, Stop> {
        let body = self.body;
        let start = self.pos + 1;
        let mut i = start;
        loop {
            match body.get(i) {
                Some(b'"') => {
                    self.pos = i + 1;
                    return Ok(Cow::Borrowed(&body[start..i]));
                }
                Some(b'\\') => return self.escaped_string(start, i).map(Cow::Owned),
                Some(&byte) if byte >= 0x20 => i += 1,
                _ => return Err(Stop::Malformed),
            }
        }
    }

    /// Decodes the rest of a string whose first escape is at `escape`.
    fn escaped_string(&mut self, start: usize, escape: usize) -> Result<Vec<u8>, Stop> {
        let body = self.body;
        let mut out = body[start..escape].to_vec();
        let mut i = escape;
        loop {
            match body.get(i) {
                Some(b'"') => {
                    self.pos = i + 1;
                    return Ok(out);
                }
                Some(b'\\') => i = unescape(body, i + 1, &mut out)?,
                Some(&byte) if byte >= 0x20 => {
                    out.push(byte);
                    i += 1;
                }
                _ => return Err(Stop::Malformed),
            }
        }
    }
}

/// Decodes the escape whose letter is at `i` into `out`; returns the index after it.
fn unescape(body: &[u8], i: usize, out: &mut Vec<u8>) -> Result<usize, Stop> {
    let decoded = match body.get(i) {
        Some(b'"') => b'"',
        Some(b'\\') => b'\\',
        Some(b'/') => b'/',
        Some(b'b') => 0x08,
        Some(b'f') => 0x0c,
        Some(b'n') => b'\n',
        Some(b'r') => b'\r',
        Some(b't') => b'\t',
        Some(b'u') => return unicode_escape(body, i + 1, out),
        _ => return Err(Stop::Malformed),
    };
    out.push(decoded);
    Ok(i + 1)
}

/// Decodes `XXXX` (and a following low surrogate escape) at `i` as UTF-8 into `out`.
fn unicode_escape(body: &[u8], i: usize, out: &mut Vec<u8>) -> Result<usize, Stop> {
    let high = hex4(body, i)?;
    let (code, next) = match high {
        0xD800..=0xDBFF => {
            if body.get(i + 4..i + 6) != Some(b"\\u") {
                return Err(Stop::Malformed);
            }
            let low = hex4(body, i + 6)?;
            if !(0xDC00..=0xDFFF).contains(&low) {
                return Err(Stop::Malformed);
            }
            (0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00), i + 10)
        }
        _ => (high, i + 4),
    };
    let ch = char::from_u32(code).ok_or(Stop::Malformed)?;
    out.extend_from_slice(ch.encode_utf8(&mut [0; 4]).as_bytes());
    Ok(next)
}

/// The four hex digits at `i` as a number.
fn hex4(body: &[u8], i: usize) -> Result<u32, Stop> {
    let digits = body.get(i..i + 4).ok_or(Stop::Malformed)?;
    digits.iter().try_fold(0u32, |acc, &b| {
        hex_val(b)
            .map(|v| acc << 4 | u32::from(v))
            .ok_or(Stop::Malformed)
    })
}

fn skip_digits(body: &[u8], mut i: usize) -> usize {
    while matches!(body.get(i), Some(b'0'..=b'9')) {
        i += 1;
    }
    i
}

/// Skips one or more digits at `i`; none is malformed.
fn required_digits(body: &[u8], i: usize) -> Result<usize, Stop> {
    let end = skip_digits(body, i);
    if end == i {
        Err(Stop::Malformed)
    } else {
        Ok(end)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run_with<'a>(body: &'a [u8], limits: &Limits) -> Inputs<'a> {
        let mut inputs = Inputs::default();
        parse(body, &mut inputs, limits);
        inputs
    }

    fn run(body: &[u8]) -> Inputs<'_> {
        run_with(body, &Limits::default())
    }

    fn pairs(inputs: &Inputs<'_>) -> Vec<(String, String)> {
        inputs
            .fields
            .iter()
            .map(|f| {
                (
                    String::from_utf8_lossy(&f.name).into_owned(),
                    String::from_utf8_lossy(&f.value).into_owned(),
                )
            })
            .collect()
    }

    fn pair(name: &str, value: &str) -> (String, String) {
        (name.to_string(), value.to_string())
    }

    #[test]
    fn flattens_nested_objects_and_arrays_into_paths() {
        let inputs =
            run(br#"{"user":{"roles":["a","b"],"id":7},"tags":[[1,true],{"k":null}],"x":false}"#);
        assert_eq!(
            pairs(&inputs),
            vec![
                pair("user.roles[0]", "a"),
                pair("user.roles[1]", "b"),
                pair("user.id", "7"),
                pair("tags[0][0]", "1"),
                pair("tags[0][1]", "true"),
                pair("tags[1].k", "null"),
                pair("x", "false"),
            ]
        );
        assert_eq!(inputs.flags, ParseFlags::default());
        assert!(inputs.fields.iter().all(|f| f.source == Source::BodyArg));
        assert_eq!(inputs.fields[0].variable(), "ARGS:user.roles[0]");
    }

    #[test]
    fn names_top_level_scalars_and_arrays() {
        assert_eq!(pairs(&run(b" \"hi\" ")), vec![pair("", "hi")]);
        assert_eq!(pairs(&run(b"-1.5e+3")), vec![pair("", "-1.5e+3")]);
        assert_eq!(
            pairs(&run(b"[\"a\", {\"b\": 2}]")),
            vec![pair("[0]", "a"), pair("[1].b", "2")]
        );
    }

    #[test]
    fn decodes_escapes_in_values_and_keys() {
        let inputs = run(br#"{"k\u0065y\"":"a\n\"\\\/\t\u0027 OR 1=1\u00e9\ud83d\ude00"}"#);
        assert_eq!(
            pairs(&inputs),
            vec![pair("key\"", "a\n\"\\/\t' OR 1=1\u{e9}\u{1F600}")]
        );
        assert!(!inputs.flags.has(ParseFlags::BODY_PARSE_ERROR));
    }

    #[test]
    fn borrows_plain_strings_and_owns_decoded_ones() {
        let inputs = run(br#"["plain", "esc\u0041ped", 12]"#);
        assert!(matches!(inputs.fields[0].value, Cow::Borrowed(b"plain")));
        assert!(matches!(&inputs.fields[1].value, Cow::Owned(v) if v == b"escAped"));
        assert!(matches!(inputs.fields[2].value, Cow::Borrowed(b"12")));
    }

    #[test]
    fn empty_containers_and_whitespace_bodies_give_no_fields() {
        for body in [
            &b""[..],
            b"  \r\n\t ",
            b"{}",
            b"[]",
            b"{\"a\":{},\"b\":[]}",
            b"\xEF\xBB\xBF",
        ] {
            let inputs = run(body);
            assert!(inputs.fields.is_empty(), "{body:?}");
            assert_eq!(inputs.flags, ParseFlags::default(), "{body:?}");
        }
    }

    #[test]
    fn skips_a_leading_byte_order_mark() {
        let inputs = run(b"\xEF\xBB\xBF{\"a\":1}");
        assert_eq!(pairs(&inputs), vec![pair("a", "1")]);
        assert_eq!(inputs.flags, ParseFlags::default());
    }

    #[test]
    fn flags_malformed_json_and_keeps_earlier_fields() {
        let bad: &[&[u8]] = &[
            b"{\"a\":1} x",
            b"{\"a\":1,}",
            b"[1 2]",
            b"{\"a\" 1}",
            b"{\"a\":\"unterminated}",
            b"{a:1}",
            b"[tru]",
            b"[01]",
            b"[1.]",
            b"[1e]",
            b"[-]",
            b"[\"bad \\x escape\"]",
            b"[\"\\u12\"]",
            b"[\"lone \\ud800 surrogate\"]",
            b"[\"\\udc00\"]",
            b"[\"raw\ncontrol\"]",
            b"{\"a\":1",
            b"[1]]",
            b"}",
            b"[,1]",
        ];
        for body in bad {
            let inputs = run(body);
            assert!(
                inputs.flags.has(ParseFlags::BODY_PARSE_ERROR),
                "{}",
                String::from_utf8_lossy(body)
            );
        }
        let inputs = run(b"{\"a\":\"kept\",\"b\":@}");
        assert_eq!(pairs(&inputs), vec![pair("a", "kept")]);
    }

    #[test]
    fn allows_invalid_utf8_inside_strings() {
        let inputs = run(b"[\"\xff\xfe\"]");
        assert_eq!(inputs.fields[0].value.as_ref(), b"\xff\xfe");
        assert_eq!(inputs.flags, ParseFlags::default());
    }

    #[test]
    fn accepts_nesting_up_to_the_depth_limit() {
        let limits = Limits {
            json_max_depth: 3,
            ..Limits::default()
        };
        let inputs = run_with(br#"{"a":{"b":["deep"]}}"#, &limits);
        assert_eq!(pairs(&inputs), vec![pair("a.b[0]", "deep")]);
        assert_eq!(inputs.flags, ParseFlags::default());

        let inputs = run_with(br#"{"x":1,"a":{"b":[["too deep"]]}}"#, &limits);
        assert!(inputs.flags.has(ParseFlags::JSON_TOO_DEEP));
        assert_eq!(pairs(&inputs), vec![pair("x", "1")]);
    }

    #[test]
    fn depth_bomb_is_flagged_without_overflowing_the_stack() {
        for opener in [b'[', b'{'] {
            let body = vec![opener; 1_000_000];
            let inputs = run(&body);
            let expected = if opener == b'[' {
                ParseFlags::JSON_TOO_DEEP
            } else {
                ParseFlags::BODY_PARSE_ERROR
            };
            assert!(inputs.flags.has(expected));
        }
        let mut body = b"{\"a\":".repeat(100_000);
        body.extend_from_slice(b"1");
        assert!(run(&body).flags.has(ParseFlags::JSON_TOO_DEEP));
    }

    #[test]
    fn big_flat_array_stops_at_the_argument_limit() {
        let mut body = b"[".to_vec();
        body.extend_from_slice(&b"\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\",".repeat(320_000));
        body.extend_from_slice(b"1]");
        assert!(body.len() > 10_000_000);
        let inputs = run(&body);
        assert_eq!(inputs.fields.len(), 1000);
        assert_eq!(inputs.fields[999].name.as_ref(), b"[999]");
        assert!(inputs.flags.has(ParseFlags::TOO_MANY_ARGS));
    }

    #[test]
    fn big_flat_array_parses_fully_without_an_argument_limit() {
        let mut body = b"[".to_vec();
        body.extend_from_slice(&b"1,".repeat(500_000));
        body.extend_from_slice(b"2]");
        let limits = Limits {
            max_args: usize::MAX,
            ..Limits::default()
        };
        let inputs = run_with(&body, &limits);
        assert_eq!(inputs.fields.len(), 500_001);
        assert_eq!(inputs.flags, ParseFlags::default());
    }

    #[test]
    fn long_key_repeated_in_names_is_bounded() {
        let mut body = b"{\"".to_vec();
        body.extend_from_slice(&b"k".repeat(1_000_000));
        body.extend_from_slice(b"\":[");
        body.extend_from_slice(&b"1,".repeat(999));
        body.extend_from_slice(b"1]}");
        let inputs = run(&body);
        let name_bytes: usize = inputs.fields.iter().map(|f| f.name.len()).sum();
        assert!(name_bytes <= body.len() + 1000 * NAME_BYTES_PER_ARG);
        assert!(!inputs.fields.is_empty());
        assert!(inputs.flags.has(ParseFlags::TOO_MANY_ARGS));
    }

    #[test]
    fn stops_when_the_argument_limit_is_reached() {
        let limits = Limits {
            max_args: 2,
            ..Limits::default()
        };
        let inputs = run_with(b"[1,2,3,oops", &limits);
        assert_eq!(inputs.fields.len(), 2);
        assert!(inputs.flags.has(ParseFlags::TOO_MANY_ARGS));
        assert!(!inputs.flags.has(ParseFlags::BODY_PARSE_ERROR));
    }
}
