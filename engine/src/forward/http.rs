//! A tiny HTTP/1.1 client over `std::net`, enough to talk to ClickHouse's HTTP interface.
//!
//! One request per connection (`Connection: close`), bounded connect/read/write times, no TLS:
//! Moat sends to a ClickHouse on the same host or private network; put a TLS-terminating proxy
//! on 127.0.0.1 in front of a remote one.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

/// Most response body bytes kept (error messages, query results of tests and tools).
const BODY_MAX: usize = 16 * 1024 * 1024;

/// Where requests go: `http://host:port/path`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// Host name or address.
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// Base path, `/` by default.
    pub path: String,
}

impl Endpoint {
    /// Parses `http://host[:port][/path]` (port 8123 by default).
    pub fn parse(url: &str) -> Result<Endpoint, String> {
        let bad = |why: &str| format!("invalid ClickHouse URL \"{url}\": {why}");
        if url.starts_with("https://") {
            return Err(bad(
                "https is not supported; use http to a local ClickHouse or a TLS proxy on 127.0.0.1",
            ));
        }
        let rest = url
            .strip_prefix("http://")
            .ok_or_else(|| bad("expected http://host:port"))?;
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        let (host, port) = match authority.rsplit_once(':') {
            Some((h, p)) if !h.ends_with(']') || h.starts_with('[') => (
                h,
                p.parse::<u16>()
                    .ok()
                    .filter(|&p| p > 0)
                    .ok_or_else(|| bad("bad port"))?,
            ),
            _ => (authority, 8123),
        };
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if host.is_empty() || authority.contains('@') {
            return Err(bad(
                "expected http://host:port (credentials go in user= and password_file=)",
            ));
        }
        Ok(Endpoint {
            host: host.to_string(),
            port,
            path: path.to_string(),
        })
    }
}

/// A response: status and body.
#[derive(Debug, Clone)]
pub struct HttpResponse {
    /// Status code.
    pub status: u16,
    /// Body (de-chunked).
    pub body: Vec<u8>,
}

/// Sends `POST {endpoint.path}?{query}` with `body` and reads the whole response; every step is
/// bounded by `timeout`.
pub fn post(
    endpoint: &Endpoint,
    query: &str,
    headers: &[(&str, &str)],
    body: &[u8],
    timeout: Duration,
) -> io::Result<HttpResponse> {
    let addrs = (endpoint.host.as_str(), endpoint.port).to_socket_addrs()?;
    let mut last = io::Error::new(io::ErrorKind::NotFound, "host has no address");
    let mut stream = None;
    for addr in addrs {
        match TcpStream::connect_timeout(&addr, timeout) {
            Ok(s) => {
                stream = Some(s);
                break;
            }
            Err(e) => last = e,
        }
    }
    let mut stream = stream.ok_or(last)?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    stream.set_nodelay(true)?;
    let mut head = format!(
        "POST {}?{} HTTP/1.1\r\nHost: {}:{}\r\nContent-Length: {}\r\nConnection: close\r\n",
        endpoint.path,
        query,
        endpoint.host,
        endpoint.port,
        body.len()
    );
    for (name, value) in headers {
        head.push_str(name);
        head.push_str(": ");
        head.push_str(value);
        head.push_str("\r\n");
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes())?;
    stream.write_all(body)?;
    stream.flush()?;
    read_response(BufReader::new(stream))
}

fn invalid(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.to_string())
}

fn read_response(mut r: impl BufRead) -> io::Result<HttpResponse> {
    let mut line = String::new();
    r.read_line(&mut line)?;
    let status = line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| invalid("malformed status line"))?;
    let mut length = None;
    let mut chunked = false;
    loop {
        line.clear();
        if r.read_line(&mut line)? == 0 {
            return Err(invalid("connection closed in headers"));
        }
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        if let Some((name, value)) = l.split_once(':') {
            let value = value.trim();
            if name.eq_ignore_ascii_case("content-length") {
                length = value.parse::<usize>().ok();
            } else if name.eq_ignore_ascii_case("transfer-encoding") {
                chunked = value.eq_ignore_ascii_case("chunked");
            }
        }
    }
    let body = if chunked {
        read_chunked(&mut r)?
    } else if let Some(n) = length {
        let mut body = vec![0; n.min(BODY_MAX)];
        r.read_exact(&mut body)?;
        body
    } else {
        let mut body = Vec::new();
        r.take(BODY_MAX as u64).read_to_end(&mut body)?;
        body
    };
    Ok(HttpResponse { status, body })
}

fn read_chunked(r: &mut impl BufRead) -> io::Result<Vec<u8>> {
    let mut body = Vec::new();
    let mut line = String::new();
    loop {
        line.clear();
        r.read_line(&mut line)?;
        let size = line.trim().split(';').next().unwrap_or("");
        let n = usize::from_str_radix(size, 16).map_err(|_| invalid("bad chunk size"))?;
        if n == 0 {
            return Ok(body);
        }
        if body.len() + n > BODY_MAX {
            return Err(invalid("response too large"));
        }
        let start = body.len();
        body.resize(start + n, 0);
        r.read_exact(&mut body[start..])?;
        let mut crlf = [0u8; 2];
        r.read_exact(&mut crlf)?;
    }
}

/// Percent-encodes a query string value.
pub fn url_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3 / 2);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    #[test]
    fn parses_endpoints() {
        let e = Endpoint::parse("http://127.0.0.1:8123").unwrap();
        assert_eq!(
            (e.host.as_str(), e.port, e.path.as_str()),
            ("127.0.0.1", 8123, "/")
        );
        assert_eq!(Endpoint::parse("http://ch.local").unwrap().port, 8123);
        assert_eq!(Endpoint::parse("http://[::1]:9000/x/").unwrap().host, "::1");
        assert!(Endpoint::parse("https://ch:8443")
            .unwrap_err()
            .contains("TLS proxy"));
        assert!(Endpoint::parse("ch:8123").is_err());
        assert!(Endpoint::parse("http://ch:0").is_err());
        assert!(Endpoint::parse("http://u:p@ch:8123").is_err());
    }

    #[test]
    fn posts_and_reads_chunked_and_sized_responses() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = std::thread::spawn(move || {
            let mut seen = Vec::new();
            for (i, stream) in listener.incoming().take(2).enumerate() {
                let mut stream = stream.unwrap();
                let mut r = BufReader::new(stream.try_clone().unwrap());
                let mut req = String::new();
                loop {
                    let mut l = String::new();
                    r.read_line(&mut l).unwrap();
                    if l == "\r\n" {
                        break;
                    }
                    req.push_str(&l);
                }
                let mut body = [0u8; 5];
                r.read_exact(&mut body).unwrap();
                seen.push((req, body));
                let reply: &[u8] = if i == 0 {
                    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nOk.\r\n0\r\n\r\n"
                } else {
                    b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 4\r\n\r\nboom"
                };
                stream.write_all(reply).unwrap();
            }
            seen
        });
        let e = Endpoint::parse(&format!("http://127.0.0.1:{port}")).unwrap();
        let t = Duration::from_secs(5);
        let r = post(&e, "query=x", &[("X-A", "b")], b"hello", t).unwrap();
        assert_eq!((r.status, r.body.as_slice()), (200, &b"Ok."[..]));
        let r = post(&e, "q", &[], b"again", t).unwrap();
        assert_eq!((r.status, r.body.as_slice()), (500, &b"boom"[..]));
        let seen = server.join().unwrap();
        assert!(seen[0].0.starts_with("POST /?query=x HTTP/1.1\r\n"));
        assert!(seen[0].0.contains("X-A: b\r\n"));
        assert_eq!(&seen[0].1, b"hello");
    }

    #[test]
    fn refused_connections_are_errors() {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let e = Endpoint::parse(&format!("http://127.0.0.1:{port}")).unwrap();
        assert!(post(&e, "", &[], b"", Duration::from_secs(1)).is_err());
    }

    #[test]
    fn encodes_queries() {
        assert_eq!(url_encode("INSERT INTO a.b"), "INSERT%20INTO%20a.b");
    }
}
