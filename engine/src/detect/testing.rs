//! Test helpers shared by the detectors' unit tests.

use std::borrow::Cow;
use std::time::{Duration, Instant};

use super::{Deadline, Detector, Finding};
use crate::parse::{self, Field, Inputs, Limits, Source};
use crate::request::{Header, Request};

/// A deadline far enough away never to expire in a test.
pub fn no_deadline() -> Deadline {
    Deadline::new(Instant::now(), Duration::from_secs(3600))
}

/// Runs `detector` on a request with the given method, URI, version and headers.
pub fn inspect_request(
    detector: &dyn Detector,
    method: &[u8],
    uri: &[u8],
    version: &[u8],
    headers: &[(&[u8], &[u8])],
) -> Vec<Finding> {
    let req = Request {
        method,
        uri,
        version,
        headers: headers
            .iter()
            .map(|&(name, value)| Header { name, value })
            .collect(),
        ..Default::default()
    };
    let inputs = parse::parse_request(&req, b"", &Limits::default());
    run(detector, &req, &inputs)
}

/// The rule ids `detector` reports for a GET of `uri` without headers, in report order.
pub fn rule_ids_for_get(detector: &dyn Detector, uri: &str) -> Vec<u32> {
    inspect_get(detector, uri.as_bytes(), &[])
        .iter()
        .map(|f| f.rule_id)
        .collect()
}

/// Runs `detector` on an HTTP/1.1 POST with the given content type and body.
pub fn inspect_post(detector: &dyn Detector, content_type: &[u8], body: &[u8]) -> Vec<Finding> {
    let req = Request {
        method: b"POST",
        uri: b"/api",
        version: b"HTTP/1.1",
        headers: vec![Header {
            name: b"Content-Type",
            value: content_type,
        }],
        ..Default::default()
    };
    let inputs = parse::parse_request(&req, body, &Limits::default());
    run(detector, &req, &inputs)
}

/// Runs `detector` on an HTTP/1.1 GET request.
pub fn inspect_get(
    detector: &dyn Detector,
    uri: &[u8],
    headers: &[(&[u8], &[u8])],
) -> Vec<Finding> {
    inspect_request(detector, b"GET", uri, b"HTTP/1.1", headers)
}

/// Runs `detector` on a request whose only input is the given (already decoded) field.
pub fn inspect_field(
    detector: &dyn Detector,
    source: Source,
    name: &[u8],
    value: &[u8],
) -> Vec<Finding> {
    let req = Request {
        method: b"GET",
        uri: b"/",
        version: b"HTTP/1.1",
        ..Default::default()
    };
    let mut inputs = Inputs::default();
    inputs.fields = vec![Field {
        source,
        name: Cow::Borrowed(name),
        value: Cow::Borrowed(value),
    }];
    run(detector, &req, &inputs)
}

/// Runs `detector` on one decoded query argument `q` with the given value.
pub fn inspect_query_value(detector: &dyn Detector, value: &[u8]) -> Vec<Finding> {
    inspect_field(detector, Source::QueryArg, b"q", value)
}

fn run(detector: &dyn Detector, req: &Request<'_>, inputs: &Inputs<'_>) -> Vec<Finding> {
    let mut out = Vec::new();
    detector
        .inspect(
            req,
            &super::targets::Classified::new(inputs),
            &no_deadline(),
            &mut out,
        )
        .expect("deadline far away");
    out
}

/// Realistic benign argument values that no injection detector may flag.
pub fn benign_values() -> &'static [&'static str] {
    &[
        "O'Brien",
        "rock 'n' roll",
        "Don't stop me now",
        "it's 5 o'clock",
        "$19.99",
        "1,299.00 EUR",
        "2024-03-15",
        "15/03/2024 14:30",
        "2024-03-15T14:30:00Z",
        "550e8400-e29b-41d4-a716-446655440000",
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
        "SGVsbG8gV29ybGQh+/=",
        "https://example.com/?a=1&b=2",
        "https://www.example.org/path/to/page.html#section-2",
        "john.doe+news@example.com",
        "a < b",
        "3<4",
        "x > 5 and y < 10",
        "{\"name\":\"Alice\",\"age\":30}",
        "[1, 2, 3]",
        "how to cook pasta",
        "best laptop under $1000",
        "c++ tutorial",
        "what is 2+2?",
        "Q&A session",
        "Tom & Jerry",
        "50% off",
        "New York, NY 10001",
        "+1 (555) 123-4567",
        "Hello, world!",
        "I'd like to order 2 pizzas -- extra cheese",
        "select a plan",
        "drop-down menu",
        "user_name",
        "en-US,en;q=0.9",
        "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8",
        "application/json, text/plain, */*",
        "gzip, deflate, br",
        "max-age=0",
        "width=device-width, initial-scale=1",
        "#ff0000",
        "Wait... what?",
        "report..pdf",
        "C:\\Users\\Public\\Documents",
        "/images/logo.png",
        "sort=price&order=desc",
        "Ünïcödé text — naïve café",
        "Привет, как дела?",
        "東京タワー",
        "isGpcEnabled=0&datestamp=Mon Mar 18 2024 10:00:00 GMT+0100 (Central European Standard Time)&groups=C0001:1,C0002:0",
        "jQuery112304_1710755555555",
        "created_at desc, id desc",
        "6'2\"",
        "He said \"hello\" -- then left",
        "<b>bold</b> and <i>italic</i>",
        "x < y && y > z",
    ]
}

/// Realistic benign `User-Agent` and `Referer` values.
pub fn benign_headers() -> &'static [(&'static str, &'static str)] {
    &[
        ("User-Agent", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36"),
        ("User-Agent", "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0"),
        ("User-Agent", "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15"),
        ("User-Agent", "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1"),
        ("User-Agent", "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.6367.82 Mobile Safari/537.36"),
        ("User-Agent", "curl/8.5.0"),
        ("User-Agent", "Wget/1.21.4"),
        ("User-Agent", "python-requests/2.31.0"),
        ("User-Agent", "Go-http-client/2.0"),
        ("User-Agent", "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"),
        ("User-Agent", "PostmanRuntime/7.37.0"),
        ("Referer", "https://www.google.com/"),
        ("Referer", "https://www.google.com/search?q=o%27brien+pub&hl=en"),
        ("Referer", "https://example.com/products?id=42&sort=price&page=2"),
        ("Referer", "https://www.bing.com/search?q=a+%3C+b&form=QBLH"),
        ("Referer", "http://localhost:3000/dashboard#/settings"),
        ("X-Forwarded-For", "203.0.113.7"),
        ("X-Forwarded-For", "203.0.113.7, 198.51.100.23, 10.0.0.1"),
        ("X-Forwarded-For", "2001:db8::1, 192.0.2.44"),
        ("X-Forwarded-For", "unknown, 10.0.0.1"),
        ("X-Real-IP", "198.51.100.23"),
        ("Content-Type", "multipart/form-data; boundary=----WebKitFormBoundary7MA4YWxkTrZu0gW"),
        ("Accept", "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,*/*;q=0.8"),
        ("If-None-Match", "W/\"5e-1a2b3c\""),
        ("X-Requested-With", "XMLHttpRequest"),
    ]
}
