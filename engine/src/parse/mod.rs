//! Parsing: turns a request view and its body bytes into named fields for the detectors.
//!
//! Every parser is bounded and total: malformed input sets a [`ParseFlags`] bit, never panics,
//! and runs in time linear in its input. Values borrow the request bytes unless decoding
//! changed them.

use std::borrow::Cow;

use crate::request::Request;

pub mod cookies;
#[cfg(test)]
mod fuzz_smoke;
pub mod graphql;
pub mod json;
pub mod multipart;
pub mod recycle;
pub mod urlencoded;
pub mod xml;

/// Where a field came from; decides its ModSecurity-style variable name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Source {
    /// A query-string argument (`ARGS_GET`, shown as `ARGS:name`).
    QueryArg,
    /// A body argument: urlencoded, JSON or a multipart text field (`ARGS_POST`, shown as `ARGS:name`).
    BodyArg,
    /// A cookie (`REQUEST_COOKIES:name`).
    Cookie,
    /// A request header (`REQUEST_HEADERS:Name`).
    Header,
    /// A multipart upload's file name (`FILES:field`).
    Filename,
    /// A multipart part header (`MULTIPART_PART_HEADERS:field`).
    PartHeader,
    /// The text content of an XML body (`XML:/*`).
    XmlText,
    /// An attribute value of an XML body (`XML://@*`).
    XmlAttr,
    /// One text node of an XML body, named by its element. The rule engine reads the
    /// concatenated [`Source::XmlText`] as ModSecurity does; the built-in detectors also read
    /// each node alone, so a value is not glued to the one before it.
    XmlNode,
    /// A string argument written into a GraphQL query (`user(id: "…")`) of a JSON body's
    /// `query` member, named like the member (`ARGS:query`); read by the built-in detectors
    /// only (see [`graphql`]).
    GraphqlArg,
}

impl Source {
    /// Every source, in declaration order (a source's index is `source as usize`).
    pub const ALL: [Source; 10] = [
        Source::QueryArg,
        Source::BodyArg,
        Source::Cookie,
        Source::Header,
        Source::Filename,
        Source::PartHeader,
        Source::XmlText,
        Source::XmlAttr,
        Source::XmlNode,
        Source::GraphqlArg,
    ];

    /// The ModSecurity collection name used in logs.
    pub fn collection(self) -> &'static str {
        match self {
            Source::QueryArg | Source::BodyArg | Source::GraphqlArg => "ARGS",
            Source::Cookie => "REQUEST_COOKIES",
            Source::Header => "REQUEST_HEADERS",
            Source::Filename => "FILES",
            Source::PartHeader => "MULTIPART_PART_HEADERS",
            Source::XmlText | Source::XmlAttr | Source::XmlNode => "XML",
        }
    }
}

/// One named value taken from the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field<'a> {
    /// Where it came from.
    pub source: Source,
    /// Decoded name (e.g. `q`, `user.roles[0]`, `User-Agent`).
    pub name: Cow<'a, [u8]>,
    /// Decoded value.
    pub value: Cow<'a, [u8]>,
}

impl Field<'_> {
    /// The variable as shown in verdicts and logs, e.g. `ARGS:q`.
    pub fn variable(&self) -> String {
        format!(
            "{}:{}",
            self.source.collection(),
            String::from_utf8_lossy(&self.name)
        )
    }
}

/// Anomalies found while parsing, as bits.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ParseFlags(pub u32);

impl ParseFlags {
    /// The body could not be parsed as its declared content type.
    pub const BODY_PARSE_ERROR: u32 = 1 << 0;
    /// A multipart body broke the strict boundary rules (unmatched boundary, missing final
    /// boundary, bad part headers, data before the first boundary, …).
    pub const MULTIPART_STRICT_ERROR: u32 = 1 << 1;
    /// JSON nesting went past the depth limit.
    pub const JSON_TOO_DEEP: u32 = 1 << 2;
    /// More arguments than the argument limit; the rest were not collected.
    pub const TOO_MANY_ARGS: u32 = 1 << 3;
    /// The body was larger than the inspection limit and only its first part was inspected.
    pub const BODY_TRUNCATED: u32 = 1 << 4;
    /// An XML body declares an external entity (`<!ENTITY x SYSTEM "…">`), the start of an XML
    /// external entity (XXE) attack; benign documents, SOAP included, declare none.
    pub const XML_EXTERNAL_ENTITY: u32 = 1 << 5;

    /// Sets a bit.
    pub fn set(&mut self, bit: u32) {
        self.0 |= bit;
    }

    /// True when the bit is set.
    pub fn has(self, bit: u32) -> bool {
        self.0 & bit != 0
    }
}

/// Which body parser ran (or, for a request without a body, the one its content type selects).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BodyProcessor {
    /// No body, or a content type Moat does not parse.
    #[default]
    None,
    /// `application/x-www-form-urlencoded` (also used when a body has no content type).
    UrlEncoded,
    /// `application/json` and `+json` types.
    Json,
    /// `multipart/form-data`.
    Multipart,
    /// `text/xml`, `application/xml` and `+xml` types.
    Xml,
}

/// Bounds on what parsing collects.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Most arguments collected (query + body); beyond it `TOO_MANY_ARGS` is set.
    pub max_args: usize,
    /// Deepest JSON nesting accepted; beyond it `JSON_TOO_DEEP` is set.
    pub json_max_depth: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_args: 1000,
            json_max_depth: 64,
        }
    }
}

/// Everything parsing produced for one request. Dropping it hands its buffers back to the
/// thread (see [`recycle`]).
#[derive(Debug, Default)]
pub struct Inputs<'a> {
    /// Fields in request order: query arguments, headers, cookies, then body fields.
    pub fields: Vec<Field<'a>>,
    /// Anomalies met on the way.
    pub flags: ParseFlags,
    /// The body parser used.
    pub body_processor: BodyProcessor,
    /// Arguments collected so far (query and body).
    pub arg_count: usize,
    /// Uploaded files, in body order.
    pub files: Vec<Upload<'a>>,
}

/// One uploaded file of a multipart body.
#[derive(Debug, Clone)]
pub struct Upload<'a> {
    /// The name of the part that carried it (the key of `FILES_SIZES`).
    pub part: Cow<'a, [u8]>,
    /// Its file name: `filename*` when the part gives one, else `filename`.
    pub file_name: Cow<'a, [u8]>,
    /// Its content, borrowed from the body (its length is `FILES_SIZES`).
    pub content: &'a [u8],
}

impl Drop for Inputs<'_> {
    fn drop(&mut self) {
        recycle::give_back(std::mem::take(&mut self.fields));
    }
}

impl<'a> Inputs<'a> {
    /// Adds an argument unless the argument limit is reached (then flags `TOO_MANY_ARGS`).
    pub fn push_arg(&mut self, field: Field<'a>, limits: &Limits) {
        if self.arg_count >= limits.max_args {
            self.flags.set(ParseFlags::TOO_MANY_ARGS);
        } else {
            self.arg_count += 1;
            self.fields.push(field);
        }
    }
}

/// Parses the request line, headers, cookies and (already loaded, possibly truncated) body.
pub fn parse_request<'a>(req: &Request<'a>, body: &'a [u8], limits: &Limits) -> Inputs<'a> {
    let mut inputs = Inputs::default();
    inputs.fields = recycle::fields();
    if let Some(q) = req.query() {
        urlencoded::parse(q, Source::QueryArg, &mut inputs, limits);
    }
    for h in &req.headers {
        inputs.fields.push(Field {
            source: Source::Header,
            name: Cow::Borrowed(h.name),
            value: Cow::Borrowed(h.value),
        });
        if h.name.eq_ignore_ascii_case(b"cookie") {
            cookies::parse(h.value, &mut inputs);
        }
    }
    let ctype = req.header(b"content-type").unwrap_or(b"");
    if !body.is_empty() {
        parse_body_as(processor_for(ctype), ctype, body, &mut inputs, limits);
    } else if !mime_of(ctype).is_empty() {
        // No body to parse, but `REQBODY_PROCESSOR` names the processor the content type
        // selects, as in ModSecurity (CRS 920539 tells JSON requests by it).
        inputs.body_processor = processor_for(ctype);
    }
    inputs
}

/// The media type of a `Content-Type` value (before its parameters), trimmed.
fn mime_of(ctype: &[u8]) -> &[u8] {
    let mime_end = memchr::memchr(b';', ctype).unwrap_or(ctype.len());
    ctype[..mime_end].trim_ascii()
}

/// The body processor a `Content-Type` value selects (URL-encoded when there is none).
fn processor_for(ctype: &[u8]) -> BodyProcessor {
    let mime = mime_of(ctype);
    if mime.is_empty() || mime.eq_ignore_ascii_case(b"application/x-www-form-urlencoded") {
        BodyProcessor::UrlEncoded
    } else if is_json(mime) {
        BodyProcessor::Json
    } else if mime.eq_ignore_ascii_case(b"multipart/form-data") {
        BodyProcessor::Multipart
    } else if is_xml(mime) {
        BodyProcessor::Xml
    } else {
        BodyProcessor::None
    }
}

/// Parses `body` with the given processor (as chosen by the content type, or forced by a rule's
/// `ctl:requestBodyProcessor`), adding its fields to `inputs`.
pub fn parse_body_as<'a>(
    processor: BodyProcessor,
    ctype: &'a [u8],
    body: &'a [u8],
    inputs: &mut Inputs<'a>,
    limits: &Limits,
) {
    inputs.body_processor = processor;
    match processor {
        BodyProcessor::None => {}
        BodyProcessor::UrlEncoded => urlencoded::parse(body, Source::BodyArg, inputs, limits),
        BodyProcessor::Json => {
            json::parse(body, inputs, limits);
            graphql::add_string_arguments(inputs, limits);
        }
        BodyProcessor::Xml => xml::parse(body, inputs, limits),
        BodyProcessor::Multipart => match multipart::boundary(ctype) {
            Some(b) => multipart::parse(body, b, inputs, limits),
            None => inputs.flags.set(ParseFlags::MULTIPART_STRICT_ERROR),
        },
    }
}

/// Drops the fields and flags a body parser produced, before parsing the body again.
pub fn clear_body_fields(inputs: &mut Inputs<'_>) {
    let body_args = inputs
        .fields
        .iter()
        .filter(|f| f.source == Source::BodyArg)
        .count();
    inputs.fields.retain(|f| {
        !matches!(
            f.source,
            Source::BodyArg
                | Source::Filename
                | Source::PartHeader
                | Source::XmlText
                | Source::XmlAttr
                | Source::XmlNode
                | Source::GraphqlArg
        )
    });
    inputs.arg_count = inputs.arg_count.saturating_sub(body_args);
    inputs.files.clear();
    inputs.flags.0 &= !(ParseFlags::BODY_PARSE_ERROR
        | ParseFlags::MULTIPART_STRICT_ERROR
        | ParseFlags::JSON_TOO_DEEP);
}

fn is_xml(mime: &[u8]) -> bool {
    mime.eq_ignore_ascii_case(b"text/xml")
        || mime.eq_ignore_ascii_case(b"application/xml")
        || (mime.len() > 4 && mime[mime.len() - 4..].eq_ignore_ascii_case(b"+xml"))
}

fn is_json(mime: &[u8]) -> bool {
    mime.eq_ignore_ascii_case(b"application/json")
        || (mime.len() > 5 && mime[mime.len() - 5..].eq_ignore_ascii_case(b"+json"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::Header;

    /// The rule engine indexes its per-source tables by `source as usize` and maps indices
    /// back through `Source::ALL`: the two must agree for every source.
    #[test]
    fn every_source_sits_at_its_own_index() {
        for (i, source) in Source::ALL.iter().enumerate() {
            assert_eq!(*source as usize, i, "{source:?}");
        }
    }

    fn processor(ctype: Option<&[u8]>, body: &[u8]) -> BodyProcessor {
        let headers = ctype
            .map(|value| Header {
                name: b"Content-Type",
                value,
            })
            .into_iter()
            .collect();
        let req = Request {
            method: b"POST",
            uri: b"/api",
            version: b"HTTP/1.1",
            headers,
            ..Default::default()
        };
        parse_request(&req, body, &Limits::default()).body_processor
    }

    /// `REQBODY_PROCESSOR` names what the content type selects even without a body, as in
    /// ModSecurity (CRS 920539 turns 920540 off for JSON requests by it).
    #[test]
    fn the_content_type_names_the_processor_with_or_without_a_body() {
        let json = Some(&b"application/json; charset=utf-8"[..]);
        assert_eq!(processor(json, b""), BodyProcessor::Json);
        assert_eq!(processor(json, b"{\"a\":1}"), BodyProcessor::Json);
        assert_eq!(processor(Some(b"text/xml"), b""), BodyProcessor::Xml);
        assert_eq!(processor(None, b""), BodyProcessor::None);
        assert_eq!(processor(Some(b" "), b""), BodyProcessor::None);
        assert_eq!(processor(None, b"a=1"), BodyProcessor::UrlEncoded);
    }
}
