//! Reads a raw HTTP/1.x request (as captured from the wire or written by hand) into a
//! [`Request`], for `moat check`. Lines may end in CRLF or LF; a chunked body is de-chunked the
//! way nginx would before the engine sees it.

use crate::request::{BodyPart, Header, Request};

/// A request file's parts, owning the de-chunked body when there was one.
#[derive(Debug)]
pub struct HttpFile<'a> {
    /// Method, URI and version from the request line.
    pub method: &'a [u8],
    /// Request target.
    pub uri: &'a [u8],
    /// Protocol version.
    pub version: &'a [u8],
    /// Headers in order.
    pub headers: Vec<Header<'a>>,
    /// Body bytes (borrowed, or de-chunked).
    pub body: std::borrow::Cow<'a, [u8]>,
}

impl<'a> HttpFile<'a> {
    /// Parses the text of a request file; the error says what is malformed.
    pub fn parse(raw: &'a [u8]) -> Result<HttpFile<'a>, String> {
        let mut lines = Lines { rest: raw };
        let request_line = lines.next().ok_or("empty request file")?;
        let mut parts = request_line.split(|&b| b == b' ').filter(|p| !p.is_empty());
        let method = parts.next().ok_or("request line has no method")?;
        let uri = parts.next().ok_or("request line has no URI")?;
        let version = parts.next().unwrap_or(b"HTTP/1.1");
        let mut headers = Vec::new();
        loop {
            let line = lines
                .next()
                .ok_or("headers are not ended by an empty line")?;
            if line.is_empty() {
                break;
            }
            let colon = memchr::memchr(b':', line).ok_or_else(|| {
                format!(
                    "header line without colon: {}",
                    String::from_utf8_lossy(line)
                )
            })?;
            headers.push(Header {
                name: &line[..colon],
                value: line[colon + 1..].trim_ascii(),
            });
        }
        let rest = lines.rest;
        let chunked = headers.iter().any(|h| {
            h.name.eq_ignore_ascii_case(b"transfer-encoding")
                && h.value.eq_ignore_ascii_case(b"chunked")
        });
        let body = if chunked {
            std::borrow::Cow::Owned(dechunk(rest)?)
        } else {
            std::borrow::Cow::Borrowed(rest)
        };
        Ok(HttpFile {
            method,
            uri,
            version,
            headers,
            body,
        })
    }

    /// The engine's view of this request.
    pub fn request(&self) -> Request<'_> {
        Request {
            method: self.method,
            uri: self.uri,
            version: self.version,
            headers: self.headers.clone(),
            body: if self.body.is_empty() {
                Vec::new()
            } else {
                vec![BodyPart::Memory(&self.body)]
            },
            client_addr: b"127.0.0.1",
            request_id: b"moat-check",
            id_source: None,
        }
    }
}

struct Lines<'a> {
    rest: &'a [u8],
}

impl<'a> Lines<'a> {
    fn next(&mut self) -> Option<&'a [u8]> {
        if self.rest.is_empty() {
            return None;
        }
        let (line, rest) = match memchr::memchr(b'\n', self.rest) {
            Some(i) => (&self.rest[..i], &self.rest[i + 1..]),
            None => (self.rest, &b""[..]),
        };
        self.rest = rest;
        Some(line.strip_suffix(b"\r").unwrap_or(line))
    }
}

fn dechunk(mut raw: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    loop {
        let nl = memchr::memchr(b'\n', raw).ok_or("chunk size line not terminated")?;
        let size_line = raw[..nl].strip_suffix(b"\r").unwrap_or(&raw[..nl]);
        let hex = size_line
            .split(|&b| b == b';')
            .next()
            .unwrap_or(b"")
            .trim_ascii();
        let size = std::str::from_utf8(hex)
            .ok()
            .and_then(|h| usize::from_str_radix(h, 16).ok())
            .ok_or("invalid chunk size")?;
        raw = &raw[nl + 1..];
        if size == 0 {
            return Ok(out);
        }
        if raw.len() < size {
            return Err("chunk shorter than its size".into());
        }
        out.extend_from_slice(&raw[..size]);
        raw = &raw[size..];
        raw = raw
            .strip_prefix(b"\r\n")
            .or_else(|| raw.strip_prefix(b"\n"))
            .unwrap_or(raw);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_request_line_headers_and_body() {
        let f = HttpFile::parse(b"POST /login?x=1 HTTP/1.1\r\nHost: a\r\nContent-Type: application/x-www-form-urlencoded\r\n\r\nuser=bob").unwrap();
        assert_eq!(f.method, b"POST");
        assert_eq!(f.uri, b"/login?x=1");
        assert_eq!(f.headers.len(), 2);
        assert_eq!(&*f.body, b"user=bob");
    }

    #[test]
    fn dechunks_chunked_bodies_and_accepts_bare_lf() {
        let f = HttpFile::parse(
            b"POST / HTTP/1.1\nTransfer-Encoding: chunked\n\n3\nabc\n2;ext=1\nde\n0\n\n",
        )
        .unwrap();
        assert_eq!(&*f.body, b"abcde");
    }

    #[test]
    fn malformed_files_are_errors() {
        assert!(HttpFile::parse(b"").is_err());
        assert!(HttpFile::parse(b"GET / HTTP/1.1\r\nBadHeader\r\n\r\n").is_err());
        assert!(HttpFile::parse(b"GET / HTTP/1.1\r\nHost: a\r\n").is_err());
    }
}
