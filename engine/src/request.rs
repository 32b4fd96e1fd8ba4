//! The borrowed view of one HTTP request that the engine judges.
//!
//! Nothing here copies request bytes: every field borrows from the adapter (nginx, Lua, the CLI)
//! for the duration of one check.

use std::os::fd::BorrowedFd;
use std::path::Path;

/// One request header, in the order and with the repeats the client sent.
#[derive(Debug, Clone, Copy)]
pub struct Header<'a> {
    /// Header name as received (case preserved).
    pub name: &'a [u8],
    /// Header value as received.
    pub value: &'a [u8],
}

/// Where one piece of the request body lives.
#[derive(Debug, Clone, Copy)]
pub enum BodyPart<'a> {
    /// Bytes already in memory.
    Memory(&'a [u8]),
    /// A byte range of an open file (nginx's spooled body buffers).
    Fd {
        /// The open file.
        fd: BorrowedFd<'a>,
        /// First byte of the range.
        offset: u64,
        /// Length of the range in bytes.
        len: u64,
    },
    /// A byte range of a file named by path (OpenResty's `ngx.req.get_body_file()`).
    Path {
        /// The file's path.
        path: &'a Path,
        /// First byte of the range.
        offset: u64,
        /// Length of the range in bytes; `u64::MAX` reads to the end of the file.
        len: u64,
    },
}

/// Gives a request's id when something first reads it (see [`Request::id_source`]).
pub trait IdSource {
    /// The id (empty when there is none).
    fn id(&self) -> &[u8];
}

impl std::fmt::Debug for dyn IdSource + '_ {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("IdSource")
    }
}

/// The request as the engine sees it.
#[derive(Debug, Clone, Default)]
pub struct Request<'a> {
    /// Request method, e.g. `GET`.
    pub method: &'a [u8],
    /// The raw request target as sent: path, optional `?` and query.
    pub uri: &'a [u8],
    /// Protocol, e.g. `HTTP/1.1` or `HTTP/2.0`.
    pub version: &'a [u8],
    /// Headers in the order received.
    pub headers: Vec<Header<'a>>,
    /// Body pieces in order; empty for a request without body.
    pub body: Vec<BodyPart<'a>>,
    /// Client address as text.
    pub client_addr: &'a [u8],
    /// Unique request id (nginx's `$request_id`), used in logs; see [`id`](Self::id).
    pub request_id: &'a [u8],
    /// Where the id comes from when `request_id` is empty, asked only when something reads
    /// it (a log line, an event, a rule reading `UNIQUE_ID`): nginx makes `$request_id` from
    /// random bytes, about a microsecond that a request nobody logs need not pay.
    pub id_source: Option<&'a dyn IdSource>,
}

impl<'a> Request<'a> {
    /// The request's unique id: `request_id`, or what `id_source` gives when that is empty.
    pub fn id(&self) -> &'a [u8] {
        match (self.request_id, self.id_source) {
            ([], Some(source)) => source.id(),
            (id, _) => id,
        }
    }

    /// The path part of the raw URI (everything before `?`).
    pub fn path(&self) -> &'a [u8] {
        match memchr::memchr(b'?', self.uri) {
            Some(i) => &self.uri[..i],
            None => self.uri,
        }
    }

    /// The raw query string (after the first `?`), if there is one.
    pub fn query(&self) -> Option<&'a [u8]> {
        memchr::memchr(b'?', self.uri).map(|i| &self.uri[i + 1..])
    }

    /// All values of a header, matched case-insensitively.
    pub fn header_values<'s>(&'s self, name: &'s [u8]) -> impl Iterator<Item = &'a [u8]> + 's {
        self.headers
            .iter()
            .filter(move |h| h.name.eq_ignore_ascii_case(name))
            .map(|h| h.value)
    }

    /// The first value of a header, matched case-insensitively.
    pub fn header(&self, name: &[u8]) -> Option<&'a [u8]> {
        self.headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .map(|h| h.value)
    }

    /// True when the request came over HTTP/2 or HTTP/3.
    pub fn is_http2_or_later(&self) -> bool {
        self.version.starts_with(b"HTTP/2") || self.version.starts_with(b"HTTP/3")
    }

    /// Total body length in bytes, summed over all parts (a `Path` part read to the end counts
    /// the file's current size).
    pub fn body_len(&self) -> u64 {
        self.body
            .iter()
            .map(|p| match p {
                BodyPart::Memory(b) => b.len() as u64,
                BodyPart::Fd { len, .. } => *len,
                BodyPart::Path { path, offset, len } => {
                    if *len == u64::MAX {
                        std::fs::metadata(path)
                            .map(|m| m.len().saturating_sub(*offset))
                            .unwrap_or(0)
                    } else {
                        *len
                    }
                }
            })
            .fold(0u64, |a, b| a.saturating_add(b))
    }
}

/// A response, for the response phases (3 and 4) of SecLang rules.
#[derive(Debug, Clone, Default)]
pub struct Response<'a> {
    /// Status code.
    pub status: u16,
    /// Protocol, e.g. `HTTP/1.1`.
    pub protocol: &'a [u8],
    /// Headers in order.
    pub headers: Vec<Header<'a>>,
    /// Body (as much as is inspected).
    pub body: &'a [u8],
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_path_and_query_at_first_question_mark() {
        let r = Request {
            uri: b"/a/b?x=1?y",
            ..Default::default()
        };
        assert_eq!(r.path(), b"/a/b");
        assert_eq!(r.query(), Some(&b"x=1?y"[..]));
        let r = Request {
            uri: b"/plain",
            ..Default::default()
        };
        assert_eq!(r.query(), None);
    }

    #[test]
    fn header_lookup_ignores_case_and_keeps_repeats() {
        let r = Request {
            headers: vec![
                Header {
                    name: b"Cookie",
                    value: b"a=1",
                },
                Header {
                    name: b"cookie",
                    value: b"b=2",
                },
            ],
            ..Default::default()
        };
        assert_eq!(r.header(b"COOKIE"), Some(&b"a=1"[..]));
        assert_eq!(r.header_values(b"cookie").count(), 2);
    }
}
