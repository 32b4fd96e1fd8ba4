//! `multipart/form-data` bodies: text parts become body arguments, file parts give their file
//! name, and every part header is kept for inspection.
//!
//! Parsing is strict in the ModSecurity sense: anything a lenient backend could read differently
//! (data before the first boundary, bare LF line endings, a missing final boundary, a line that
//! almost matches the boundary, bad part headers) sets `MULTIPART_STRICT_ERROR`, and parsing goes
//! on where that is still meaningful.

use std::borrow::Cow;

use memchr::memmem;

use super::{Field, Inputs, Limits, ParseFlags, Source, Upload};
use crate::decode::percent_decode;

/// Longest boundary allowed by RFC 2046.
const MAX_BOUNDARY_LEN: usize = 70;

/// Largest header section of one part.
const MAX_PART_HEADER_BYTES: usize = 8 * 1024;

/// The boundary parameter of a multipart content type.
///
/// The parameter name is matched case-insensitively and its value may be quoted. `None` when
/// the parameter is missing, given twice, empty, longer than 70 bytes or not made of RFC 2046
/// boundary characters.
pub fn boundary(content_type: &[u8]) -> Option<&[u8]> {
    let params_start = memchr::memchr(b';', content_type)? + 1;
    let mut found = None;
    for (name, value) in content_type_params(&content_type[params_start..])? {
        if name.eq_ignore_ascii_case(b"boundary") {
            if found.is_some() {
                return None;
            }
            found = Some(value);
        }
    }
    found.filter(|b| is_valid_boundary(b))
}

/// Splits `name=value` parameters separated by `;`; `None` on an unterminated quote.
fn content_type_params(mut rest: &[u8]) -> Option<Vec<(&[u8], &[u8])>> {
    let mut params = Vec::new();
    loop {
        rest = rest.trim_ascii_start();
        if rest.is_empty() {
            return Some(params);
        }
        let name_end = rest
            .iter()
            .position(|&b| b == b'=' || b == b';')
            .unwrap_or(rest.len());
        let name = rest[..name_end].trim_ascii();
        rest = &rest[name_end..];
        let value = match rest.first() {
            Some(b'=') => {
                let (value, after) = param_value(rest[1..].trim_ascii_start())?;
                rest = after;
                value
            }
            _ => &b""[..],
        };
        params.push((name, value));
        let next = memchr::memchr(b';', rest).map_or(rest.len(), |i| i + 1);
        rest = &rest[next..];
    }
}

/// A quoted or bare parameter value and the bytes after it.
fn param_value(input: &[u8]) -> Option<(&[u8], &[u8])> {
    if let Some(quoted) = input.strip_prefix(b"\"") {
        let end = memchr::memchr(b'"', quoted)?;
        return Some((&quoted[..end], &quoted[end + 1..]));
    }
    let end = memchr::memchr(b';', input).unwrap_or(input.len());
    Some((input[..end].trim_ascii(), &input[end..]))
}

/// RFC 2046: 1 to 70 of `bchars`, not ending in a space.
fn is_valid_boundary(boundary: &[u8]) -> bool {
    let allowed = |b: u8| b.is_ascii_alphanumeric() || b"'()+_,-./:=? ".contains(&b);
    !boundary.is_empty()
        && boundary.len() <= MAX_BOUNDARY_LEN
        && boundary.iter().all(|&b| allowed(b))
        && boundary.last() != Some(&b' ')
}

/// Parses a multipart body into `inputs`.
///
/// At most `limits.max_args` parts are read; beyond that `TOO_MANY_ARGS` is set and parsing
/// stops. A body truncated inside a part still yields that part, with the missing final
/// boundary flagged.
pub fn parse<'a>(body: &'a [u8], boundary: &'a [u8], inputs: &mut Inputs<'a>, limits: &Limits) {
    let mut scanner = Scanner::new(body, boundary);
    let mut parts = 0;
    let Some(mut delimiter) = scanner.first_delimiter() else {
        inputs.flags.set(ParseFlags::MULTIPART_STRICT_ERROR);
        return;
    };
    if !body[..delimiter.data_end].trim_ascii().is_empty() {
        scanner.strict_error = true;
    }
    loop {
        if delimiter.is_final {
            if !body[delimiter.next..].trim_ascii().is_empty() {
                scanner.strict_error = true;
            }
            break;
        }
        let part_start = delimiter.next;
        let next = scanner.next_delimiter(part_start);
        let part_end = next.as_ref().map_or(body.len(), |d| d.data_end);
        parts += 1;
        if parts > limits.max_args {
            inputs.flags.set(ParseFlags::TOO_MANY_ARGS);
            break;
        }
        let part = &body[part_start..part_end.max(part_start)];
        scanner.strict_error |= !read_part(part, inputs, limits);
        if inputs.flags.has(ParseFlags::TOO_MANY_ARGS) {
            break;
        }
        match next {
            Some(d) => delimiter = d,
            None => {
                scanner.strict_error = true;
                break;
            }
        }
    }
    if scanner.strict_error {
        inputs.flags.set(ParseFlags::MULTIPART_STRICT_ERROR);
    }
}

/// A boundary line found in the body.
#[derive(Debug)]
struct Delimiter {
    /// End of the data before it (the line break before `--boundary` excluded).
    data_end: usize,
    /// Start of what follows the boundary line.
    next: usize,
    /// `--boundary--`: the end of the multipart body.
    is_final: bool,
}

/// What follows `--boundary` on its line.
enum BoundaryEnd {
    /// `--`: the final boundary.
    Final,
    /// Optional padding, then a line break ending at the given index (or the end of the body).
    Line(usize),
    /// Other text: not this boundary.
    Mismatch,
}

/// Finds boundary lines, recording strict-mode anomalies on the way.
struct Scanner<'a> {
    body: &'a [u8],
    boundary: &'a [u8],
    /// Finds `\n--boundary`.
    finder: memmem::Finder<'static>,
    strict_error: bool,
}

impl<'a> Scanner<'a> {
    fn new(body: &'a [u8], boundary: &'a [u8]) -> Self {
        let mut needle = b"\n--".to_vec();
        needle.extend_from_slice(boundary);
        Scanner {
            body,
            boundary,
            finder: memmem::Finder::new(&needle).into_owned(),
            strict_error: false,
        }
    }

    /// Length of `--boundary`.
    fn dash_boundary_len(&self) -> usize {
        self.boundary.len() + 2
    }

    /// The first boundary line: at the very start of the body or after a line break.
    fn first_delimiter(&mut self) -> Option<Delimiter> {
        let starts_with_boundary =
            self.body.starts_with(b"--") && self.body[2..].starts_with(self.boundary);
        if starts_with_boundary {
            if let Some(delimiter) = self.delimiter_at(0, 0) {
                return Some(delimiter);
            }
        }
        self.next_delimiter(0)
    }

    /// The next boundary line preceded by a line break, searching from `from`; lines that
    /// start with `--boundary` followed by other text are flagged and skipped.
    fn next_delimiter(&mut self, from: usize) -> Option<Delimiter> {
        let mut search = from.saturating_sub(1);
        loop {
            let newline = search + self.finder.find(self.body.get(search..)?)?;
            let data_end = self.line_content_end(from, newline);
            if let Some(delimiter) = self.delimiter_at(newline + 1, data_end) {
                return Some(delimiter);
            }
            search = newline + 1;
        }
    }

    /// End of a line's content given its `\n`; flags a bare LF. Never before `floor`.
    fn line_content_end(&mut self, floor: usize, newline: usize) -> usize {
        if newline > floor && self.body[newline - 1] == b'\r' {
            newline - 1
        } else {
            if newline >= floor {
                self.strict_error = true;
            }
            newline.max(floor)
        }
    }

    /// The delimiter whose `--boundary` starts at `start`, unless other text follows it.
    fn delimiter_at(&mut self, start: usize, data_end: usize) -> Option<Delimiter> {
        let after = start + self.dash_boundary_len();
        match self.boundary_end(after) {
            BoundaryEnd::Final => Some(Delimiter {
                data_end,
                next: after + 2,
                is_final: true,
            }),
            BoundaryEnd::Line(next) => Some(Delimiter {
                data_end,
                next,
                is_final: false,
            }),
            BoundaryEnd::Mismatch => {
                self.strict_error = true;
                None
            }
        }
    }

    fn boundary_end(&mut self, after: usize) -> BoundaryEnd {
        let rest = self.body.get(after..).unwrap_or_default();
        if rest.starts_with(b"--") {
            return BoundaryEnd::Final;
        }
        let padding = rest
            .iter()
            .take_while(|&&b| b == b' ' || b == b'\t')
            .count();
        match &rest[padding..] {
            [] => BoundaryEnd::Line(self.body.len()),
            [b'\r', b'\n', ..] => BoundaryEnd::Line(after + padding + 2),
            [b'\n', ..] => {
                self.strict_error = true;
                BoundaryEnd::Line(after + padding + 1)
            }
            _ => BoundaryEnd::Mismatch,
        }
    }
}

/// Reads one part (headers, blank line, data) into `inputs`; false when it broke strict rules.
fn read_part<'a>(part: &'a [u8], inputs: &mut Inputs<'a>, limits: &Limits) -> bool {
    if part.is_empty() {
        return false;
    }
    let Some(layout) = split_part(part) else {
        return false;
    };
    let headers = read_headers(&layout.header_lines);
    let disposition = headers.disposition.unwrap_or_default();
    let name = disposition.name.clone().unwrap_or_default();
    for line in &layout.header_lines {
        inputs.fields.push(Field {
            source: Source::PartHeader,
            name: name.clone(),
            value: Cow::Borrowed(line),
        });
    }
    let file_names = [&disposition.filename, &disposition.filename_ext];
    if file_names.iter().any(|f| f.is_some()) {
        inputs.files.push(Upload {
            part: name.clone(),
            file_name: file_names[1]
                .as_ref()
                .or(file_names[0].as_ref())
                .cloned()
                .unwrap_or_default(),
            content: layout.data,
        });
        for file_name in file_names.into_iter().flatten() {
            inputs.fields.push(Field {
                source: Source::Filename,
                name: name.clone(),
                value: file_name.clone(),
            });
        }
    } else {
        let field = Field {
            source: Source::BodyArg,
            name,
            value: Cow::Borrowed(layout.data),
        };
        inputs.push_arg(field, limits);
    }
    let well_formed = layout.well_formed && headers.well_formed && disposition.well_formed;
    well_formed && disposition.name.is_some()
}

/// A part split into header lines and data.
struct PartLayout<'a> {
    /// Header lines without their line breaks.
    header_lines: Vec<&'a [u8]>,
    data: &'a [u8],
    /// False on bare LF line breaks or a missing blank line.
    well_formed: bool,
}

/// Splits a part at its first blank line; `None` when the header section is too large.
fn split_part(part: &[u8]) -> Option<PartLayout<'_>> {
    let mut layout = PartLayout {
        header_lines: Vec::new(),
        data: &[],
        well_formed: true,
    };
    let header_limit = part.len().min(MAX_PART_HEADER_BYTES);
    let mut pos = 0;
    while pos < part.len() {
        let Some(newline) = part
            .get(pos..header_limit)
            .and_then(|window| memchr::memchr(b'\n', window))
            .map(|i| pos + i)
        else {
            if header_limit < part.len() {
                return None;
            }
            layout.header_lines.push(&part[pos..]);
            layout.well_formed = false;
            return Some(layout);
        };
        let line = match part[pos..newline].strip_suffix(b"\r") {
            Some(line) => line,
            None => {
                layout.well_formed = false;
                &part[pos..newline]
            }
        };
        pos = newline + 1;
        if line.is_empty() {
            layout.data = &part[pos..];
            return Some(layout);
        }
        layout.header_lines.push(line);
    }
    layout.well_formed = false;
    Some(layout)
}

/// What the header lines of one part said.
struct PartHeaders<'a> {
    disposition: Option<Disposition<'a>>,
    /// False on folded lines, lines without a colon, or a missing or repeated
    /// `Content-Disposition`.
    well_formed: bool,
}

fn read_headers<'a>(lines: &[&'a [u8]]) -> PartHeaders<'a> {
    let mut headers = PartHeaders {
        disposition: None,
        well_formed: true,
    };
    for line in lines {
        let Some(colon) = memchr::memchr(b':', line) else {
            headers.well_formed = false;
            continue;
        };
        let (name, value) = (&line[..colon], line[colon + 1..].trim_ascii());
        let is_folded = line.first().is_some_and(|b| b.is_ascii_whitespace());
        if is_folded || name.is_empty() {
            headers.well_formed = false;
        } else if name
            .trim_ascii()
            .eq_ignore_ascii_case(b"content-disposition")
        {
            if headers.disposition.is_some() {
                headers.well_formed = false;
            } else {
                headers.disposition = Some(parse_disposition(value));
            }
        }
    }
    if headers.disposition.is_none() {
        headers.well_formed = false;
    }
    headers
}

/// A parsed `Content-Disposition: form-data; name="…"; filename="…"` value.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Disposition<'a> {
    name: Option<Cow<'a, [u8]>>,
    filename: Option<Cow<'a, [u8]>>,
    /// `filename*=charset'lang'percent-encoded` (RFC 5987), decoded.
    filename_ext: Option<Cow<'a, [u8]>>,
    /// False on a type other than `form-data`, a missing `;`, an unterminated quote, or an
    /// unknown, repeated or empty parameter.
    well_formed: bool,
}

/// Parses a `Content-Disposition` value; the first of repeated parameters wins.
fn parse_disposition(value: &[u8]) -> Disposition<'_> {
    let type_end = memchr::memchr(b';', value).unwrap_or(value.len());
    let mut disposition = Disposition {
        well_formed: value[..type_end]
            .trim_ascii()
            .eq_ignore_ascii_case(b"form-data"),
        ..Disposition::default()
    };
    let mut rest = &value[type_end..];
    loop {
        rest = rest.trim_ascii_start();
        let Some(after_semicolon) = rest.strip_prefix(b";") else {
            disposition.well_formed &= rest.is_empty();
            return disposition;
        };
        let Some(param) = disposition_param(after_semicolon.trim_ascii_start()) else {
            disposition.well_formed = false;
            return disposition;
        };
        rest = param.rest;
        if !param.name.is_empty() || !param.value.is_empty() {
            disposition.set(param.name, param.value);
        }
    }
}

/// One `name=value` parameter of `Content-Disposition`.
struct Param<'a> {
    name: &'a [u8],
    /// The value, unquoted.
    value: Cow<'a, [u8]>,
    /// The bytes after the value.
    rest: &'a [u8],
}

/// Reads one parameter (an empty one before `;` or the end); `None` when there is no `=` or a
/// quote is not closed.
fn disposition_param(input: &[u8]) -> Option<Param<'_>> {
    if input.is_empty() || input.starts_with(b";") {
        return Some(Param {
            name: &[],
            value: Cow::Borrowed(&[]),
            rest: input,
        });
    }
    let eq = input.iter().position(|&b| b == b'=' || b == b';')?;
    if input[eq] != b'=' {
        return None;
    }
    let name = input[..eq].trim_ascii();
    let value_start = input[eq + 1..].trim_ascii_start();
    if value_start.starts_with(b"\"") {
        let (value, rest) = quoted_string(value_start)?;
        return Some(Param { name, value, rest });
    }
    let end = value_start
        .iter()
        .position(|&b| b == b';' || b.is_ascii_whitespace())
        .unwrap_or(value_start.len());
    Some(Param {
        name,
        value: Cow::Borrowed(&value_start[..end]),
        rest: &value_start[end..],
    })
}

/// The quoted string starting at `input[0]`, unescaping `\"` and `\\` (other backslashes stay,
/// as in Windows paths), and the bytes after it.
fn quoted_string(input: &[u8]) -> Option<(Cow<'_, [u8]>, &[u8])> {
    let mut i = 1;
    let mut has_escapes = false;
    loop {
        match input.get(i)? {
            b'"' => break,
            b'\\' if matches!(input.get(i + 1), Some(b'"' | b'\\')) => {
                has_escapes = true;
                i += 2;
            }
            _ => i += 1,
        }
    }
    let raw = &input[1..i];
    let value = if has_escapes {
        Cow::Owned(unescape_quoted(raw))
    } else {
        Cow::Borrowed(raw)
    };
    Some((value, &input[i + 1..]))
}

fn unescape_quoted(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while let Some(&b) = raw.get(i) {
        let escaped = b == b'\\' && matches!(raw.get(i + 1), Some(b'"' | b'\\'));
        if escaped {
            i += 1;
        }
        if let Some(&kept) = raw.get(i) {
            out.push(kept);
        }
        i += 1;
    }
    out
}

impl<'a> Disposition<'a> {
    /// Records one parameter; unknown, repeated or invalid ones mark it malformed.
    fn set(&mut self, param: &[u8], value: Cow<'a, [u8]>) {
        if param.eq_ignore_ascii_case(b"name") {
            self.well_formed &= !value.is_empty();
            set_once(&mut self.name, value, &mut self.well_formed);
        } else if param.eq_ignore_ascii_case(b"filename") {
            set_once(&mut self.filename, value, &mut self.well_formed);
        } else if param.eq_ignore_ascii_case(b"filename*") {
            let (decoded, ok) = decode_ext_value(value);
            self.well_formed &= ok;
            set_once(&mut self.filename_ext, decoded, &mut self.well_formed);
        } else {
            self.well_formed = false;
        }
    }
}

/// Fills an empty slot; a filled one keeps its value and clears `well_formed`.
fn set_once<'a>(slot: &mut Option<Cow<'a, [u8]>>, value: Cow<'a, [u8]>, well_formed: &mut bool) {
    if slot.is_some() {
        *well_formed = false;
    } else {
        *slot = Some(value);
    }
}

/// Decodes an RFC 5987 `charset'language'percent-encoded` value; false when it has no such
/// form (the raw value is returned then).
fn decode_ext_value(value: Cow<'_, [u8]>) -> (Cow<'_, [u8]>, bool) {
    let mut quotes = memchr::memchr_iter(b'\'', &value);
    let (Some(_), Some(second)) = (quotes.next(), quotes.next()) else {
        return (value, false);
    };
    let decoded = match value {
        Cow::Borrowed(raw) => percent_decode(&raw[second + 1..], false),
        Cow::Owned(raw) => Cow::Owned(percent_decode(&raw[second + 1..], false).into_owned()),
    };
    (decoded, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    const B: &[u8] = b"XyZ";

    fn run_with<'a>(body: &'a [u8], limits: &Limits) -> Inputs<'a> {
        let mut inputs = Inputs::default();
        parse(body, B, &mut inputs, limits);
        inputs
    }

    fn run(body: &[u8]) -> Inputs<'_> {
        run_with(body, &Limits::default())
    }

    fn crlf(text: &str) -> Vec<u8> {
        text.replace('\n', "\r\n").into_bytes()
    }

    fn strict(inputs: &Inputs<'_>) -> bool {
        inputs.flags.has(ParseFlags::MULTIPART_STRICT_ERROR)
    }

    fn of(inputs: &Inputs<'_>, source: Source) -> Vec<(String, String)> {
        inputs
            .fields
            .iter()
            .filter(|f| f.source == source)
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

    fn text_part(name: &str, value: &str) -> String {
        format!("--XyZ\nContent-Disposition: form-data; name=\"{name}\"\n\n{value}\n")
    }

    const FORM: &str = "--XyZ\n\
        Content-Disposition: form-data; name=\"title\"\n\
        \n\
        hello\nworld\n\
        --XyZ\n\
        Content-Disposition: form-data; name=\"upload\"; filename=\"a.php\"\n\
        Content-Type: application/x-php\n\
        \n\
        <?php system($_GET['c']); ?>\n\
        --XyZ--\n";

    #[test]
    fn extracts_the_boundary_parameter() {
        let ct = |s: &'static str| boundary(s.as_bytes());
        assert_eq!(ct("multipart/form-data; boundary=abc"), Some(&b"abc"[..]));
        assert_eq!(
            ct("multipart/form-data;BOUNDARY = abc ;charset=utf-8"),
            Some(&b"abc"[..])
        );
        assert_eq!(
            ct("multipart/form-data; boundary=\"a b:c\"; x=y"),
            Some(&b"a b:c"[..])
        );
        assert_eq!(
            ct("multipart/form-data; charset=\"x;y\"; boundary=q"),
            Some(&b"q"[..])
        );
        let longest = format!("multipart/form-data; boundary={}", "a".repeat(70));
        assert_eq!(boundary(longest.as_bytes()).map(<[u8]>::len), Some(70));
    }

    #[test]
    fn rejects_missing_or_invalid_boundaries() {
        let too_long = format!("multipart/form-data; boundary={}", "a".repeat(71));
        let rejected = [
            "multipart/form-data",
            "multipart/form-data; charset=utf-8",
            "multipart/form-data; boundary=",
            "multipart/form-data; boundary=\"\"",
            "multipart/form-data; boundary=\"unterminated",
            "multipart/form-data; boundary=a<b",
            "multipart/form-data; boundary=\"trailing \"",
            "multipart/form-data; boundary=a; boundary=b",
            &too_long,
        ];
        for ct in rejected {
            assert_eq!(boundary(ct.as_bytes()), None, "{ct}");
        }
    }

    #[test]
    fn parses_text_fields_files_and_part_headers() {
        let body = crlf(FORM);
        let inputs = run(&body);
        assert!(!strict(&inputs), "{:?}", inputs.flags);
        assert_eq!(
            of(&inputs, Source::BodyArg),
            vec![pair("title", "hello\r\nworld")]
        );
        assert_eq!(of(&inputs, Source::Filename), vec![pair("upload", "a.php")]);
        let sizes: Vec<(&[u8], usize)> = inputs
            .files
            .iter()
            .map(|f| (&f.part[..], f.content.len()))
            .collect();
        assert_eq!(
            sizes,
            vec![(&b"upload"[..], "<?php system($_GET['c']); ?>".len())]
        );
        assert_eq!(
            of(&inputs, Source::PartHeader),
            vec![
                pair("title", "Content-Disposition: form-data; name=\"title\""),
                pair(
                    "upload",
                    "Content-Disposition: form-data; name=\"upload\"; filename=\"a.php\""
                ),
                pair("upload", "Content-Type: application/x-php"),
            ]
        );
        assert_eq!(inputs.arg_count, 1);
        let text = inputs.fields.iter().find(|f| f.source == Source::BodyArg);
        assert!(matches!(text.map(|f| &f.value), Some(Cow::Borrowed(_))));
        assert!(!inputs.fields.iter().any(|f| f.value.starts_with(b"<?php")));
        assert_eq!(inputs.fields[1].variable(), "ARGS:title");
    }

    #[test]
    fn works_with_a_quoted_boundary_parameter() {
        let ct = b"multipart/form-data; boundary=\"XyZ\"";
        let body = crlf(&(text_part("q", "1") + "--XyZ--\n"));
        let mut inputs = Inputs::default();
        let b = boundary(ct).expect("boundary");
        parse(&body, b, &mut inputs, &Limits::default());
        assert_eq!(of(&inputs, Source::BodyArg), vec![pair("q", "1")]);
        assert!(!strict(&inputs));
    }

    #[test]
    fn allows_padding_whitespace_preamble_and_epilogue() {
        let body = crlf("\n--XyZ  \nContent-Disposition: form-data; name=a\n\n1\n--XyZ--\t\n\n");
        let inputs = run(&body);
        assert_eq!(of(&inputs, Source::BodyArg), vec![pair("a", "1")]);
        assert!(!strict(&inputs));
    }

    #[test]
    fn flags_a_missing_final_boundary_but_keeps_the_parts() {
        let body = crlf(&(text_part("a", "1") + &text_part("b", "truncat")));
        let body = &body[..body.len() - 2];
        let inputs = run(body);
        assert!(strict(&inputs));
        assert_eq!(
            of(&inputs, Source::BodyArg),
            vec![pair("a", "1"), pair("b", "truncat")]
        );
    }

    #[test]
    fn flags_bare_lf_line_endings_but_still_parses() {
        let inputs = run(FORM.as_bytes());
        assert!(strict(&inputs));
        assert_eq!(
            of(&inputs, Source::BodyArg),
            vec![pair("title", "hello\nworld")]
        );
        assert_eq!(of(&inputs, Source::Filename), vec![pair("upload", "a.php")]);
    }

    #[test]
    fn flags_data_before_the_first_boundary_or_after_the_last() {
        let body = crlf(&("preamble\n".to_string() + &text_part("a", "1") + "--XyZ--\n"));
        let inputs = run(&body);
        assert!(strict(&inputs));
        assert_eq!(of(&inputs, Source::BodyArg), vec![pair("a", "1")]);

        let body = crlf(&(text_part("a", "1") + "--XyZ--\nsmuggled=1"));
        assert!(strict(&run(&body)));
    }

    #[test]
    fn flags_bad_content_disposition() {
        let bad = [
            "Content-Disposition: form-data; name=\"a\"; name=\"b\"",
            "Content-Disposition: form-data; name=\"a",
            "Content-Disposition: form-data; name=\"a\"; size=3",
            "Content-Disposition: form-data; name=\"a\" filename=\"x\"",
            "Content-Disposition: form-data; name",
            "Content-Disposition: form-data; name=\"\"",
            "Content-Disposition: form-data; filename=\"x\"",
            "Content-Disposition: attachment; name=\"a\"",
            "Content-Type: text/plain",
            "Content-Disposition form-data; name=\"a\"",
            "Content-Disposition: form-data; name=a\nContent-Disposition: form-data; name=b",
            "Content-Disposition: form-data;\n name=a",
        ];
        for headers in bad {
            let body = crlf(&format!("--XyZ\n{headers}\n\nv\n--XyZ--\n"));
            assert!(strict(&run(&body)), "{headers}");
        }
    }

    #[test]
    fn keeps_the_first_of_duplicate_names() {
        let body = crlf("--XyZ\nContent-Disposition: form-data; name=a; name=b\n\nv\n--XyZ--\n");
        let inputs = run(&body);
        assert!(strict(&inputs));
        assert_eq!(of(&inputs, Source::BodyArg), vec![pair("a", "v")]);
    }

    #[test]
    fn decodes_quoted_escapes_and_extended_filenames() {
        let body = crlf(
            "--XyZ\n\
             Content-Disposition: form-data; name=\"a\\\"b\"; filename=\"C:\\dir\\x.txt\"; \
             filename*=UTF-8''%27%20or%201%3D1\n\
             \n\
             data\n\
             --XyZ--\n",
        );
        let inputs = run(&body);
        assert!(!strict(&inputs), "{:?}", inputs.flags);
        assert_eq!(
            of(&inputs, Source::Filename),
            vec![pair("a\"b", "C:\\dir\\x.txt"), pair("a\"b", "' or 1=1")]
        );
        assert!(of(&inputs, Source::BodyArg).is_empty());
    }

    #[test]
    fn flags_lines_that_almost_match_the_boundary() {
        let body = crlf(&(text_part("a", "x\n--XyZevil\ny") + "--XyZ--\n"));
        let inputs = run(&body);
        assert!(strict(&inputs));
        assert_eq!(
            of(&inputs, Source::BodyArg),
            vec![pair("a", "x\r\n--XyZevil\r\ny")]
        );
    }

    #[test]
    fn accepts_other_dash_lines_in_data() {
        let body = crlf(&(text_part("sql", "select 1\n-- comment\n--Xy") + "--XyZ--\n"));
        let inputs = run(&body);
        assert!(!strict(&inputs));
        assert_eq!(
            of(&inputs, Source::BodyArg),
            vec![pair("sql", "select 1\r\n-- comment\r\n--Xy")]
        );
    }

    #[test]
    fn flags_a_body_without_any_boundary() {
        let inputs = run(b"name=value");
        assert!(strict(&inputs));
        assert!(inputs.fields.is_empty());
    }

    #[test]
    fn flags_an_oversized_part_header_section() {
        let body = crlf(&format!(
            "--XyZ\nContent-Disposition: form-data; name=a\nX-Pad: {}\n\nv\n--XyZ--\n",
            "p".repeat(MAX_PART_HEADER_BYTES)
        ));
        let inputs = run(&body);
        assert!(strict(&inputs));
        assert!(inputs.fields.is_empty());
    }

    #[test]
    fn stops_after_max_args_parts() {
        let limits = Limits {
            max_args: 3,
            ..Limits::default()
        };
        let form: String = (0..10).map(|i| text_part(&format!("f{i}"), "v")).collect();
        let body = crlf(&(form + "--XyZ--\n"));
        let inputs = run_with(&body, &limits);
        assert_eq!(of(&inputs, Source::BodyArg).len(), 3);
        assert!(inputs.flags.has(ParseFlags::TOO_MANY_ARGS));

        let files: String = (0..10)
            .map(|i| {
                format!("--XyZ\nContent-Disposition: form-data; name=f; filename=\"{i}\"\n\nv\n")
            })
            .collect();
        let body = crlf(&(files + "--XyZ--\n"));
        let inputs = run_with(&body, &limits);
        assert_eq!(of(&inputs, Source::Filename).len(), 3);
        assert!(inputs.flags.has(ParseFlags::TOO_MANY_ARGS));
    }

    #[test]
    fn many_tiny_parts_parse_in_linear_time() {
        let body = crlf(&(text_part("a", "").repeat(200_000) + "--XyZ--\n"));
        let limits = Limits {
            max_args: usize::MAX,
            ..Limits::default()
        };
        let inputs = run_with(&body, &limits);
        assert_eq!(inputs.arg_count, 200_000);
        assert!(!strict(&inputs));
    }

    #[test]
    fn survives_garbage_and_truncations() {
        let body = crlf(FORM);
        for end in 0..body.len() {
            let _ = run(&body[..end]);
            let _ = run(&body[end..]);
        }
        for garbage in [
            &b"--"[..],
            b"--XyZ",
            b"--XyZ-",
            b"\n--XyZ\n\n",
            b"--XyZ\r\n\"",
            b"\r\n\r\n",
        ] {
            let _ = run(garbage);
        }
    }
}
