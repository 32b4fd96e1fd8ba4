//! Request smuggling and protocol anomalies that get past nginx's own checks
//! (rule ids 100500–100599).
//!
//! nginx 1.22 already rejects `Content-Length` together with `Transfer-Encoding`, repeated
//! `Content-Length`/`Transfer-Encoding`/`Host`, a `Transfer-Encoding` other than `chunked` or
//! on HTTP/1.0, invalid header names, obsolete line folding, invalid `Content-Length` values,
//! bad chunk sizes, `CONNECT` with a body and `TRACE`; those rules are not repeated here.
//!
//! Not visible at this layer: bare-LF chunk-size or header-line terminators and other framing
//! tricks inside the chunked body or header block, because nginx has parsed and normalised
//! them before the engine runs (only the decoded body and the header list reach it); the
//! framing an upstream would apply to the same bytes can only be checked in nginx itself.
//!
//! NUL bytes (rule 100508) are Critical, as in CRS 920270 at paranoia level 1: no browser or
//! API client sends them in the URI or in header values, and they truncate strings in C
//! backends.

use super::targets::Classified;
use super::{strip_prefix_ci, Deadline, Detector, Finding, OutOfTime, Severity};
use crate::parse::{Field, Source};
use crate::request::{Header, Request};

/// Rule id: `Upgrade: h2c` (cleartext HTTP/2 upgrade used to smuggle past proxies).
pub const H2C_UPGRADE: u32 = 100500;
/// Rule id: `HTTP2-Settings` header (part of the h2c upgrade).
pub const HTTP2_SETTINGS: u32 = 100501;
/// Rule id: connection-specific header on HTTP/2 or HTTP/3.
pub const H2_CONNECTION_HEADER: u32 = 100502;
/// Rule id: `Transfer-Encoding` on a GET or HEAD request.
pub const TE_ON_BODYLESS_METHOD: u32 = 100503;
/// Rule id: a body (`Content-Length` > 0 or body bytes) on a GET or HEAD request.
pub const BODY_ON_BODYLESS_METHOD: u32 = 100504;
/// Rule id: CR or LF in an argument name.
pub const NEWLINE_IN_ARG_NAME: u32 = 100505;
/// Rule id: HTTP header injection in a query argument.
pub const HEADER_INJECTION: u32 = 100506;
/// Rule id: HTTP request or response line inside a value (smuggling or splitting).
pub const EMBEDDED_HTTP_MESSAGE: u32 = 100507;
/// Rule id: NUL byte in the raw URI or a header value.
pub const NUL_BYTE: u32 = 100508;
/// Rule id: `Expect` header other than `100-continue`.
pub const UNEXPECTED_EXPECT: u32 = 100509;
/// Rule id: CR or LF in the request path, literal or percent-encoded (HTTP splitting, PHP-FPM
/// `PATH_INFO` injection), as CRS 921190.
pub const NEWLINE_IN_PATH: u32 = 100510;

const MSG_BODY: &str = "Request body on a GET or HEAD request";
const MSG_EMBEDDED: &str =
    "HTTP request smuggling or response splitting: HTTP message inside a value";

/// Methods recognised at the start of an embedded request line (lower case).
const METHODS: &[&[u8]] = &[
    b"get",
    b"post",
    b"head",
    b"options",
    b"connect",
    b"put",
    b"delete",
    b"trace",
    b"patch",
    b"propfind",
    b"mkcol",
    b"copy",
    b"move",
    b"lock",
    b"unlock",
];

/// Header names that, after a CR/LF, show header injection (CRS 921160, plus the response
/// headers of CRS 921120), lower case.
const INJECTED_HEADERS: &[&[u8]] = &[
    b"location",
    b"refresh",
    b"set-cookie",
    b"cookie",
    b"x-forwarded-for",
    b"x-forwarded-host",
    b"x-forwarded-server",
    b"forwarded-for",
    b"forwarded-host",
    b"forwarded-server",
    b"x-host",
    b"host",
    b"x-via",
    b"via",
    b"x-remote-ip",
    b"remote-ip",
    b"x-remote-addr",
    b"remote-addr",
    b"x-originating-ip",
    b"originating-ip",
    b"content-type",
    b"content-length",
];

/// Headers that only make sense on one HTTP/1 connection and are forbidden in HTTP/2 and 3.
const CONNECTION_HEADERS: &[&[u8]] = &[
    b"connection",
    b"proxy-connection",
    b"keep-alive",
    b"transfer-encoding",
    b"upgrade",
];

/// The protocol and smuggling detector.
#[derive(Debug, Default)]
pub struct Protocol;

impl Protocol {
    /// Builds the detector.
    pub fn new() -> Protocol {
        Protocol
    }
}

impl Detector for Protocol {
    fn inspect(
        &self,
        req: &Request<'_>,
        inputs: &Classified<'_, '_>,
        deadline: &Deadline,
        out: &mut Vec<Finding>,
    ) -> Result<(), OutOfTime> {
        check_uri(req, out);
        let bodyless = matches!(req.method, b"GET" | b"HEAD");
        let mut content_length_seen = false;
        for h in &req.headers {
            deadline.check()?;
            check_header(req, h, bodyless, out);
            content_length_seen |= h.name.eq_ignore_ascii_case(b"content-length");
        }
        if bodyless && !content_length_seen && req.body_len() > 0 {
            out.push(Finding::new(
                BODY_ON_BODYLESS_METHOD,
                MSG_BODY,
                Severity::Warning,
                "REQUEST_BODY_LENGTH".into(),
                req.body_len().to_string().as_bytes(),
            ));
        }
        for field in &inputs.fields {
            deadline.check()?;
            check_field(field, out);
        }
        Ok(())
    }
}

/// A finding on header `h`.
fn header_finding(id: u32, msg: &'static str, severity: Severity, h: &Header<'_>) -> Finding {
    let variable = format!("REQUEST_HEADERS:{}", String::from_utf8_lossy(h.name));
    Finding::new(id, msg, severity, variable, h.value)
}

/// NUL bytes in the raw URI, literal or as `%00`; CR or LF in its path.
fn check_uri(req: &Request<'_>, out: &mut Vec<Finding>) {
    if has_newline(req.path()) {
        out.push(Finding::new(
            NEWLINE_IN_PATH,
            "HTTP splitting: CR or LF in the request path",
            Severity::Critical,
            "REQUEST_FILENAME".into(),
            req.path(),
        ));
    }
    let encoded_nul = memchr::memmem::find(req.uri, b"%00").is_some();
    if encoded_nul || memchr::memchr(0, req.uri).is_some() {
        out.push(Finding::new(
            NUL_BYTE,
            "NUL byte in the request URI",
            Severity::Critical,
            "REQUEST_URI_RAW".into(),
            req.uri,
        ));
    }
}

/// True when `path` holds a CR or LF, literal or percent-encoded (`%0a`, `%0D`).
fn has_newline(path: &[u8]) -> bool {
    memchr::memchr2(b'\r', b'\n', path).is_some()
        || memchr::memchr_iter(b'%', path).any(|i| {
            matches!(
                path.get(i + 1..i + 3),
                Some([b'0', b'a' | b'A' | b'd' | b'D'])
            )
        })
}

/// The rules about one request header.
fn check_header(req: &Request<'_>, h: &Header<'_>, bodyless: bool, out: &mut Vec<Finding>) {
    let name = h.name;
    let value = h.value.trim_ascii();
    let is = |n: &[u8]| name.eq_ignore_ascii_case(n);
    if is(b"upgrade") && has_token(value, b"h2c") {
        out.push(header_finding(
            H2C_UPGRADE,
            "HTTP/2 cleartext upgrade (h2c smuggling)",
            Severity::Critical,
            h,
        ));
    }
    if is(b"http2-settings") {
        out.push(header_finding(
            HTTP2_SETTINGS,
            "HTTP2-Settings header (h2c upgrade)",
            Severity::Critical,
            h,
        ));
    }
    if req.is_http2_or_later() && is_connection_specific(name, value) {
        out.push(header_finding(
            H2_CONNECTION_HEADER,
            "Connection-specific header on HTTP/2 or HTTP/3",
            Severity::Critical,
            h,
        ));
    }
    if bodyless && is(b"transfer-encoding") {
        out.push(header_finding(
            TE_ON_BODYLESS_METHOD,
            "Transfer-Encoding on a GET or HEAD request",
            Severity::Critical,
            h,
        ));
    }
    if bodyless && is(b"content-length") && !value.iter().all(|&b| b == b'0') {
        out.push(header_finding(
            BODY_ON_BODYLESS_METHOD,
            MSG_BODY,
            Severity::Warning,
            h,
        ));
    }
    if is(b"expect") && !value.eq_ignore_ascii_case(b"100-continue") {
        out.push(header_finding(
            UNEXPECTED_EXPECT,
            "Expect header other than 100-continue",
            Severity::Warning,
            h,
        ));
    }
    if memchr::memchr(0, h.value).is_some() {
        out.push(header_finding(
            NUL_BYTE,
            "NUL byte in a request header",
            Severity::Critical,
            h,
        ));
    }
    if has_embedded_http_message(h.value) {
        out.push(header_finding(
            EMBEDDED_HTTP_MESSAGE,
            MSG_EMBEDDED,
            Severity::Critical,
            h,
        ));
    }
}

/// True for a header HTTP/2 and HTTP/3 forbid: the connection-specific ones, and `TE` with any
/// value but `trailers`.
fn is_connection_specific(name: &[u8], value: &[u8]) -> bool {
    CONNECTION_HEADERS
        .iter()
        .any(|n| name.eq_ignore_ascii_case(n))
        || (name.eq_ignore_ascii_case(b"te") && !value.eq_ignore_ascii_case(b"trailers"))
}

/// True when the comma-separated list `value` holds `token` (case-insensitive).
fn has_token(value: &[u8], token: &[u8]) -> bool {
    value
        .split(|&b| b == b',')
        .any(|t| t.trim_ascii().eq_ignore_ascii_case(token))
}

/// The rules about one parsed field: argument names and values.
fn check_field(field: &Field<'_>, out: &mut Vec<Finding>) {
    let is_arg = matches!(field.source, Source::QueryArg | Source::BodyArg);
    if is_arg && memchr::memchr2(b'\r', b'\n', &field.name).is_some() {
        let variable = format!("ARGS_NAMES:{}", String::from_utf8_lossy(&field.name));
        out.push(Finding::new(
            NEWLINE_IN_ARG_NAME,
            "CR or LF in an argument name",
            Severity::Critical,
            variable,
            &field.name,
        ));
    }
    if field.source == Source::QueryArg && has_header_injection(&field.value) {
        out.push(Finding::new(
            HEADER_INJECTION,
            "HTTP header injection via a query argument",
            Severity::Critical,
            field.variable(),
            &field.value,
        ));
    }
    let inspected = is_arg || field.source == Source::Cookie;
    if inspected
        && (has_embedded_http_message(&field.value) || has_embedded_http_message(&field.name))
    {
        out.push(Finding::new(
            EMBEDDED_HTTP_MESSAGE,
            MSG_EMBEDDED,
            Severity::Critical,
            field.variable(),
            &field.value,
        ));
    }
}

/// PCRE's `\s`: space, tab, LF, vertical tab, form feed, CR.
fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0B | 0x0C | b'\r')
}

/// For each run of CR/LF in `value`: the number of CR/LF bytes in the run and the bytes after it.
fn after_newlines(value: &[u8]) -> impl Iterator<Item = (usize, &[u8])> {
    let mut i = 0;
    std::iter::from_fn(move || {
        let start = i + memchr::memchr2(b'\r', b'\n', value.get(i..)?)?;
        let run = value[start..]
            .iter()
            .take_while(|&&b| b == b'\r' || b == b'\n')
            .count();
        i = start + run;
        Some((run, &value[i..]))
    })
}

/// `s` without its leading `\s` bytes, and how many there were.
fn skip_space(s: &[u8]) -> (usize, &[u8]) {
    let n = s.iter().take_while(|&&b| is_space(b)).count();
    (n, &s[n..])
}

/// CRS 921160: `[\n\r]+(?:\s|<header name>)\s*:`, case-insensitive.
fn has_header_injection(value: &[u8]) -> bool {
    after_newlines(value).any(|(run, rest)| {
        let (spaces, after_space) = skip_space(rest);
        let blank_name = (run >= 2 || spaces > 0) && after_space.first() == Some(&b':');
        blank_name
            || INJECTED_HEADERS.iter().any(|name| {
                strip_prefix_ci(rest, name).is_some_and(|r| skip_space(r).1.first() == Some(&b':'))
            })
    })
}

/// CRS 921110/921130: after a CR/LF, a request line `<method>\s+\S+\s+HTTP/` or a status line
/// `HTTP/\d(\.\d)?\s+\d{3}`, case-insensitive.
fn has_embedded_http_message(value: &[u8]) -> bool {
    after_newlines(value).any(|(_, rest)| is_request_line(rest) || is_status_line(rest))
}

fn is_request_line(s: &[u8]) -> bool {
    let Some(rest) = METHODS.iter().find_map(|m| strip_prefix_ci(s, m)) else {
        return false;
    };
    let (spaces, rest) = skip_space(rest);
    let target = rest.iter().take_while(|&&b| !is_space(b)).count();
    let (spaces2, rest) = skip_space(&rest[target..]);
    spaces > 0 && target > 0 && spaces2 > 0 && strip_prefix_ci(rest, b"http/").is_some()
}

fn is_status_line(s: &[u8]) -> bool {
    let Some(rest) = strip_prefix_ci(s, b"http/") else {
        return false;
    };
    let rest = match rest {
        [d, b'.', m, rest @ ..] if d.is_ascii_digit() && m.is_ascii_digit() => rest,
        [d, rest @ ..] if d.is_ascii_digit() => rest,
        _ => return false,
    };
    let (spaces, rest) = skip_space(rest);
    spaces > 0 && rest.len() >= 3 && rest.iter().take(3).all(u8::is_ascii_digit)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::testing::{benign_headers, inspect_field, inspect_request};
    use crate::request::BodyPart;

    fn rules(found: &[Finding]) -> Vec<u32> {
        found.iter().map(|f| f.rule_id).collect()
    }

    fn h1(method: &str, uri: &str, headers: &[(&str, &str)]) -> Vec<u32> {
        request(method, uri, "HTTP/1.1", headers)
    }

    fn request(method: &str, uri: &str, version: &str, headers: &[(&str, &str)]) -> Vec<u32> {
        let headers: Vec<(&[u8], &[u8])> = headers
            .iter()
            .map(|(n, v)| (n.as_bytes(), v.as_bytes()))
            .collect();
        rules(&inspect_request(
            &Protocol::new(),
            method.as_bytes(),
            uri.as_bytes(),
            version.as_bytes(),
            &headers,
        ))
    }

    #[test]
    fn h2c_upgrade_is_flagged() {
        let got = h1(
            "GET",
            "/",
            &[
                ("Connection", "Upgrade, HTTP2-Settings"),
                ("Upgrade", "h2c"),
                ("HTTP2-Settings", "AAMAAABkAAQAoAAAAAIAAAAA"),
            ],
        );
        assert_eq!(got, [H2C_UPGRADE, HTTP2_SETTINGS]);
        assert!(h1(
            "GET",
            "/ws",
            &[("Connection", "Upgrade"), ("Upgrade", "websocket")]
        )
        .is_empty());
    }

    #[test]
    fn connection_headers_on_http2_are_flagged() {
        for (name, value) in [
            ("Connection", "keep-alive"),
            ("Keep-Alive", "timeout=5"),
            ("Transfer-Encoding", "chunked"),
            ("TE", "gzip"),
            ("Proxy-Connection", "close"),
            ("Upgrade", "websocket"),
        ] {
            let got = request("POST", "/", "HTTP/2.0", &[(name, value)]);
            assert!(got.contains(&H2_CONNECTION_HEADER), "{name}");
        }
        assert!(request("GET", "/", "HTTP/2.0", &[("te", "trailers")]).is_empty());
        assert!(request("GET", "/", "HTTP/3", &[("accept", "*/*")]).is_empty());
        assert!(h1(
            "GET",
            "/",
            &[("Connection", "keep-alive"), ("Keep-Alive", "timeout=5")]
        )
        .is_empty());
    }

    #[test]
    fn transfer_encoding_and_bodies_on_get_and_head() {
        assert_eq!(
            h1("GET", "/", &[("Transfer-Encoding", "chunked")]),
            [TE_ON_BODYLESS_METHOD]
        );
        assert!(h1("POST", "/", &[("Transfer-Encoding", "chunked")]).is_empty());
        assert_eq!(
            h1("HEAD", "/", &[("Content-Length", "5")]),
            [BODY_ON_BODYLESS_METHOD]
        );
        assert!(h1("GET", "/", &[("Content-Length", "0")]).is_empty());
        assert!(h1("POST", "/", &[("Content-Length", "5")]).is_empty());
    }

    #[test]
    fn body_without_content_length_on_get_is_a_warning() {
        let req = Request {
            method: b"GET",
            uri: b"/",
            version: b"HTTP/2.0",
            body: vec![BodyPart::Memory(b"{}")],
            ..Default::default()
        };
        let mut out = Vec::new();
        Protocol::new()
            .inspect(
                &req,
                &Classified::new(&crate::parse::Inputs::default()),
                &crate::detect::testing::no_deadline(),
                &mut out,
            )
            .unwrap();
        assert_eq!(rules(&out), [BODY_ON_BODYLESS_METHOD]);
        assert_eq!(out[0].severity, Severity::Warning);
    }

    #[test]
    fn newline_in_argument_name() {
        let got = rules(&inspect_field(
            &Protocol::new(),
            Source::BodyArg,
            b"a\r\nb",
            b"1",
        ));
        assert_eq!(got, [NEWLINE_IN_ARG_NAME]);
    }

    #[test]
    fn header_injection_in_query_arguments_only() {
        for v in [
            "x%0d%0aSet-Cookie:%20sid=evil",
            "x%0aLocation: http://evil",
            "x%0d%0aX-Forwarded-For : 127.0.0.1",
            "x%0d%0a%20: y",
            "x%0d%0a%0d%0a:",
        ] {
            assert_eq!(
                h1("GET", &format!("/r?u={v}"), &[]),
                [HEADER_INJECTION],
                "{v}"
            );
        }
        assert!(h1("GET", "/r?u=line1%0d%0aline2:%20text", &[]).is_empty());
        let textarea = inspect_field(
            &Protocol::new(),
            Source::BodyArg,
            b"msg",
            b"Hi\r\nLocation: Berlin",
        );
        assert!(textarea.is_empty());
    }

    #[test]
    fn embedded_requests_and_responses() {
        for v in [
            "x%0d%0a%0d%0aGET%20/admin%20HTTP/1.1",
            "x%0aPOST /x HTTP/1.0",
            "x%0d%0aHTTP/1.1%20200%20OK",
            "x%0d%0ahttp/2 302",
        ] {
            assert_eq!(
                h1("GET", &format!("/r?u={v}"), &[]),
                [EMBEDDED_HTTP_MESSAGE],
                "{v}"
            );
        }
        let found = inspect_field(
            &Protocol::new(),
            Source::BodyArg,
            b"m",
            b"a\nGET / HTTP/1.1",
        );
        assert_eq!(rules(&found), [EMBEDDED_HTTP_MESSAGE]);
        for v in [
            &b"Get well soon\r\nPOST office"[..],
            b"see\nHTTP/1.1 spec",
            b"GET / HTTP/1.1",
        ] {
            assert!(
                !has_embedded_http_message(v),
                "{}",
                crate::detect::excerpt(v)
            );
        }
    }

    #[test]
    fn nul_bytes_in_uri_and_headers() {
        assert_eq!(h1("GET", "/file.php%00.jpg", &[]), [NUL_BYTE]);
        assert_eq!(h1("GET", "/", &[("X-A", "a\0b")]), [NUL_BYTE]);
        assert!(h1("GET", "/a%2500", &[]).is_empty());
    }

    #[test]
    fn line_breaks_in_the_path_fire_and_in_the_query_do_not() {
        assert_eq!(h1("GET", "/foo%0Abar", &[]), [NEWLINE_IN_PATH]);
        assert_eq!(
            h1(
                "GET",
                "/index.php/PHP_VALUE%0asession.auto_start=1;;;?QQQ",
                &[]
            ),
            [NEWLINE_IN_PATH]
        );
        assert_eq!(h1("GET", "/a%0d", &[]), [NEWLINE_IN_PATH]);
        assert!(h1("GET", "/notes?text=line%0Aline", &[]).is_empty());
        assert!(h1("GET", "/files/%0b%0Fx%2a", &[]).is_empty());
    }

    #[test]
    fn expect_other_than_100_continue_is_a_warning() {
        assert!(h1("POST", "/", &[("Expect", "100-Continue")]).is_empty());
        assert_eq!(
            h1("POST", "/", &[("Expect", "200-ok")]),
            [UNEXPECTED_EXPECT]
        );
    }

    #[test]
    fn ordinary_browser_requests_do_not_fire() {
        let mut headers: Vec<(&str, &str)> = benign_headers().to_vec();
        headers.extend([
            ("Host", "example.com"),
            (
                "Accept",
                "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
            ),
            ("Accept-Encoding", "gzip, deflate, br"),
            ("Connection", "keep-alive"),
            ("Cookie", "sid=abc; theme=dark"),
        ]);
        assert!(h1("GET", "/search?q=a+b%0d%0ac&page=2", &headers).is_empty());
        let h2: Vec<(&str, &str)> = headers
            .into_iter()
            .filter(|(n, _)| *n != "Connection")
            .collect();
        assert!(request("GET", "/", "HTTP/2.0", &h2).is_empty());
    }
}
