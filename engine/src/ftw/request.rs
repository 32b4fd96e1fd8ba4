//! Builds a stage's raw request bytes the way go-ftw (`ftwhttp/request.go`, `runner/run.go`)
//! puts them on the wire.
//!
//! - `encoded_request` wins: its base64 is decoded and sent as is.
//! - Otherwise: `METHOD URI VERSION\r\n` (defaults `GET`, `/`, `HTTP/1.1`), headers
//!   (`Name: value\r\n`; a map is sent sorted by name, a list as given), `\r\n`, body.
//! - The body is `data` (after expanding `{{ "x" | repeat N }}`) or the decoded `encoded_data`.
//! - With `autocomplete_headers` and a body: `Content-Type: application/x-www-form-urlencoded`
//!   is added when missing, and a form body that is not already escaped (no `%`, no `+`) has its
//!   keys and values query-escaped.
//! - With a multipart `Content-Type`, every LF of the body becomes CRLF (always).
//! - With `autocomplete_headers`: `Connection: close` when missing, and `Content-Length` when
//!   missing and there is a body or the method looks like one with a body.

use super::model::{HeaderOrder, Input};

/// The raw request for a stage; the error says why it cannot be built (bad base64).
pub fn build(input: &Input) -> Result<Vec<u8>, String> {
    if let Some(enc) = input.encoded_request.as_deref().filter(|s| !s.is_empty()) {
        return base64_decode(enc).map_err(|e| format!("encoded_request: {e}"));
    }
    let method = input.method.as_deref().unwrap_or("GET");
    let uri = input.uri.as_deref().unwrap_or("/");
    let version = input.version.as_deref().unwrap_or("HTTP/1.1");

    let mut headers = input.headers.clone();
    if input.header_order == HeaderOrder::Sorted {
        headers.sort_by(|a, b| a.0.cmp(&b.0));
    }
    let mut data = match (&input.data, &input.encoded_data) {
        (Some(d), _) => expand_template(d).into_bytes(),
        (None, Some(e)) => base64_decode(e).map_err(|e| format!("encoded_data: {e}"))?,
        (None, None) => Vec::new(),
    };

    if !data.is_empty() && input.autocomplete_headers {
        if !has_header(&headers, "Content-Type") {
            headers.push((
                "Content-Type".into(),
                "application/x-www-form-urlencoded".into(),
            ));
        }
        let form = headers.iter().any(|(n, v)| {
            n.eq_ignore_ascii_case("Content-Type")
                && v.eq_ignore_ascii_case("application/x-www-form-urlencoded")
        });
        if form && !data.contains(&b'%') && !data.contains(&b'+') {
            data = encode_form(&data);
        }
    }
    let multipart = headers.iter().any(|(n, v)| {
        n.eq_ignore_ascii_case("Content-Type")
            && v.to_ascii_lowercase().contains("multipart/form-data;")
    });
    if multipart {
        data = lf_to_crlf(&data);
    }
    if input.autocomplete_headers {
        if !has_header(&headers, "Connection") {
            headers.push(("Connection".into(), "close".into()));
        }
        if !has_header(&headers, "Content-Length")
            && (!data.is_empty() || method_may_have_body(method))
        {
            headers.push(("Content-Length".into(), data.len().to_string()));
        }
    }

    let mut out = Vec::with_capacity(64 + data.len());
    out.extend_from_slice(format!("{method} {uri} {version}\r\n").as_bytes());
    for (name, value) in &headers {
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(&data);
    Ok(out)
}

fn has_header(headers: &[(String, String)], name: &str) -> bool {
    headers.iter().any(|(n, _)| n.eq_ignore_ascii_case(name))
}

/// go-ftw's `^POST|PUT|PATCH|DELETE$`: the alternation binds looser than the anchors.
fn method_may_have_body(method: &str) -> bool {
    method.starts_with("POST")
        || method.contains("PUT")
        || method.contains("PATCH")
        || method.ends_with("DELETE")
}

fn lf_to_crlf(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + data.len() / 16);
    for &b in data {
        if b == b'\n' {
            out.push(b'\r');
        }
        out.push(b);
    }
    out
}

/// Query-escapes the keys and values of `k=v&k=v` (Go's `url.QueryEscape` on each part).
fn encode_form(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() * 2);
    for (i, token) in data.split(|&b| b == b'&').enumerate() {
        if i > 0 {
            out.push(b'&');
        }
        match token.iter().position(|&b| b == b'=') {
            Some(eq) => {
                query_escape(&token[..eq], &mut out);
                out.push(b'=');
                query_escape(&token[eq + 1..], &mut out);
            }
            None => query_escape(token, &mut out),
        }
    }
    out
}

fn query_escape(s: &[u8], out: &mut Vec<u8>) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &b in s {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => out.push(b),
            b' ' => out.push(b'+'),
            _ => out.extend_from_slice(&[b'%', HEX[usize::from(b >> 4)], HEX[usize::from(b & 15)]]),
        }
    }
}

/// Expands the one Go-template form the CRS suite uses, `{{ "text" | repeat N }}`; any other
/// `{{ … }}` is left as written.
pub fn expand_template(data: &str) -> String {
    let mut out = String::with_capacity(data.len());
    let mut rest = data;
    while let Some(start) = rest.find("{{") {
        let Some(len) = rest[start..].find("}}") else {
            break;
        };
        let inner = &rest[start + 2..start + len];
        out.push_str(&rest[..start]);
        match repeat_action(inner) {
            Some(expanded) => out.push_str(&expanded),
            None => out.push_str(&rest[start..start + len + 2]),
        }
        rest = &rest[start + len + 2..];
    }
    out.push_str(rest);
    out
}

/// Longest expansion accepted from a template (guards against absurd repeat counts).
const TEMPLATE_MAX: usize = 64 << 20;

fn repeat_action(inner: &str) -> Option<String> {
    let (text, call) = inner.trim().split_once('|')?;
    let text = text.trim().strip_prefix('"')?.strip_suffix('"')?;
    let count: usize = call.trim().strip_prefix("repeat")?.trim().parse().ok()?;
    if text.contains(['"', '\\']) || text.len().saturating_mul(count) > TEMPLATE_MAX {
        return None;
    }
    Some(text.repeat(count))
}

/// Decodes standard base64 like Go's `base64.StdEncoding` (CR and LF are skipped; padding is
/// required when the length is not a multiple of 4).
pub fn base64_decode(s: &str) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(s.len() / 4 * 3);
    let mut quad = [0u8; 4];
    let mut n = 0;
    let mut pad = 0;
    for (i, c) in s.bytes().enumerate() {
        let v = match c {
            b'\r' | b'\n' => continue,
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            b'=' => {
                pad += 1;
                0
            }
            _ => return Err(format!("illegal base64 byte at offset {i}")),
        };
        if pad > 0 && c != b'=' {
            return Err(format!("data after padding at offset {i}"));
        }
        quad[n] = v;
        n += 1;
        if n == 4 {
            let word = (u32::from(quad[0]) << 18)
                | (u32::from(quad[1]) << 12)
                | (u32::from(quad[2]) << 6)
                | u32::from(quad[3]);
            let bytes = word.to_be_bytes();
            match pad {
                0 => out.extend_from_slice(&bytes[1..4]),
                1 => out.extend_from_slice(&bytes[1..3]),
                2 => out.push(bytes[1]),
                _ => return Err("too much padding".into()),
            }
            n = 0;
        }
    }
    if n != 0 {
        return Err("truncated base64 (length is not a multiple of 4)".into());
    }
    Ok(out)
}
