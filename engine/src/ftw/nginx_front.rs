//! What nginx 1.22 does to a raw request before any module sees it, for the in-process runner:
//! requests nginx refuses get its status (400, 501, 505) and never reach the rules, and headers
//! nginx silently ignores (invalid names, underscores) are dropped. This mirrors the behaviour
//! that `nginx-overrides.yaml` documents, so the suite judges Moat as it runs inside nginx.

/// The request as nginx would pass it on, or the status nginx answers with.
pub fn front(raw: &[u8]) -> Result<Vec<u8>, u16> {
    let head_end = find_head_end(raw).ok_or(400u16)?;
    let (head, body) = (&raw[..head_end.0], &raw[head_end.1..]);
    let mut lines = head
        .split(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l));
    let request_line = lines.next().ok_or(400u16)?;
    check_request_line(request_line)?;
    let http11 = request_line.ends_with(b"HTTP/1.1");
    let mut out = Vec::with_capacity(raw.len());
    out.extend_from_slice(request_line);
    out.extend_from_slice(b"\r\n");
    let mut hosts = 0;
    let mut content_lengths = 0;
    let mut transfer_encoding = None;
    for line in lines {
        if line.contains(&b'\r') {
            return Err(400);
        }
        let colon = memchr::memchr(b':', line).ok_or(400u16)?;
        let name = &line[..colon];
        let value = line[colon + 1..].trim_ascii();
        if name.is_empty() || name.iter().any(|&b| b == b' ' || b == b'\t') {
            return Err(400);
        }
        if !name.iter().all(|&b| b.is_ascii_alphanumeric() || b == b'-') {
            continue;
        }
        if name.eq_ignore_ascii_case(b"host") {
            hosts += 1;
            if hosts > 1 || !valid_host(value) {
                return Err(400);
            }
        } else if name.eq_ignore_ascii_case(b"content-length") {
            content_lengths += 1;
            if content_lengths > 1 || value.is_empty() || !value.iter().all(u8::is_ascii_digit) {
                return Err(400);
            }
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            if transfer_encoding.is_some() {
                return Err(400);
            }
            transfer_encoding = Some(value.to_vec());
        }
        out.extend_from_slice(line);
        out.extend_from_slice(b"\r\n");
    }
    if http11 && hosts == 0 {
        return Err(400);
    }
    let framed = content_lengths > 0 || transfer_encoding.is_some();
    if let Some(te) = transfer_encoding {
        if !request_line.ends_with(b"HTTP/1.1") || content_lengths > 0 {
            return Err(400);
        }
        if !te.eq_ignore_ascii_case(b"chunked") {
            return Err(501);
        }
    }
    out.extend_from_slice(b"\r\n");
    // Without `Content-Length` or `Transfer-Encoding` the request has no body: nginx takes
    // what follows the header as the next request on the connection.
    if framed {
        out.extend_from_slice(body);
    }
    Ok(out)
}

/// The end of the header block: (end of the last header line, start of the body).
fn find_head_end(raw: &[u8]) -> Option<(usize, usize)> {
    let crlf = memchr::memmem::find(raw, b"\r\n\r\n").map(|i| (i, i + 4));
    let lf = memchr::memmem::find(raw, b"\n\n").map(|i| (i, i + 2));
    match (crlf, lf) {
        (Some(a), Some(b)) => Some(if a.0 <= b.0 { a } else { b }),
        (a, b) => a.or(b),
    }
}

/// nginx's request-line checks: method letters, a URI in origin or absolute form, a version
/// `HTTP/1.x` (a missing or malformed version is 400, a major version above 1 is 505).
fn check_request_line(line: &[u8]) -> Result<(), u16> {
    let mut parts = line.split(|&b| b == b' ').filter(|p| !p.is_empty());
    let method = parts.next().ok_or(400u16)?;
    let uri = parts.next().ok_or(400u16)?;
    let version = parts.next().ok_or(400u16)?;
    if parts.next().is_some()
        || line.first() == Some(&b' ')
        || !method
            .iter()
            .all(|&b| b.is_ascii_uppercase() || b == b'_' || b == b'-')
    {
        return Err(400);
    }
    if method == b"CONNECT" || !(uri.starts_with(b"/") || is_absolute(uri)) {
        return Err(400);
    }
    if uri.iter().any(|&b| b < 0x21 || b == 0x7f) || escapes_root(uri) {
        return Err(400);
    }
    let v = version.strip_prefix(b"HTTP/").ok_or(400u16)?;
    let dot = memchr::memchr(b'.', v).ok_or(400u16)?;
    let (major, minor) = (&v[..dot], &v[dot + 1..]);
    let digits = |d: &[u8]| !d.is_empty() && d.len() <= 3 && d.iter().all(u8::is_ascii_digit);
    if !digits(major) || !digits(minor) {
        return Err(400);
    }
    match major {
        b"1" => Ok(()),
        b"0" => Err(400),
        _ => Err(505),
    }
}

fn is_absolute(uri: &[u8]) -> bool {
    let Some(i) = memchr::memmem::find(uri, b"://") else {
        return false;
    };
    i > 0 && uri[..i].iter().all(u8::is_ascii_alphabetic)
}

/// True when the path's `..` segments climb above the root (nginx answers 400).
fn escapes_root(uri: &[u8]) -> bool {
    let path = uri.split(|&b| b == b'?').next().unwrap_or(uri);
    let decoded = crate::decode::percent_decode(path, false);
    let mut depth: i32 = 0;
    for seg in decoded.split(|&b| b == b'/').skip(1) {
        match seg {
            b".." => {
                depth -= 1;
                if depth < 0 {
                    return true;
                }
            }
            b"." | b"" => {}
            _ => depth += 1,
        }
    }
    false
}

/// nginx's Host validation: no slash, backslash, NUL or whitespace, not starting with a dot.
fn valid_host(host: &[u8]) -> bool {
    !host.is_empty()
        && host[0] != b'.'
        && !host
            .iter()
            .any(|&b| matches!(b, b'/' | b'\\' | 0 | b' ' | b'\t'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_requests_pass_and_invalid_header_names_are_dropped() {
        let out = front(b"GET / HTTP/1.1\r\nHost: a\r\nX_Filename: a.php\r\nAccept: */*\r\n\r\n")
            .unwrap();
        assert_eq!(out, b"GET / HTTP/1.1\r\nHost: a\r\nAccept: */*\r\n\r\n");
    }

    #[test]
    fn bytes_after_a_header_without_a_length_are_not_its_body() {
        let bare = front(b"POST / HTTP/1.1\r\nHost: a\r\n\r\n{\"a\":1}").unwrap();
        assert_eq!(bare, b"POST / HTTP/1.1\r\nHost: a\r\n\r\n");
        let sized =
            front(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 7\r\n\r\n{\"a\":1}").unwrap();
        assert!(sized.ends_with(b"\r\n\r\n{\"a\":1}"));
    }

    #[test]
    fn what_nginx_refuses_gets_its_status() {
        let cases: &[(&[u8], u16)] = &[
            (b"     GET / HTTP/1.1\r\nHost: a\r\n\r\n", 400),
            (b"GET / HTTP/1.1\r\n\r\n", 400),
            (b"GET / HTTP/0.9\r\nHost: a\r\n\r\n", 400),
            (b"GET / HTTP/4.0\r\nHost: a\r\n\r\n", 505),
            (b"GET / 1.1\r\nHost: a\r\n\r\n", 400),
            (b"GET \\ HTTP/1.1\r\nHost: a\r\n\r\n", 400),
            (b"GET /../x HTTP/1.1\r\nHost: a\r\n\r\n", 400),
            (b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: x\r\n\r\n", 400),
            (b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
            (b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n", 501),
            (b"GET / HTTP/1.1\r\nHost: a\r\nX: a\rB: c\r\n\r\n", 400),
        ];
        for (raw, status) in cases {
            assert_eq!(front(raw), Err(*status), "{}", String::from_utf8_lossy(raw));
        }
    }
}
