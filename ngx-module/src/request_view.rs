//! Builds the engine's borrowed [`moat::Request`] from an `ngx_http_request_t`.

use std::os::fd::BorrowedFd;

use moat::{BodyPart, Header, IdSource, Request};
use ngx::ffi::{
    ngx_buf_t, ngx_http_get_indexed_variable, ngx_http_request_t, ngx_int_t, ngx_list_part_t,
    ngx_str_t, ngx_table_elt_t, ngx_uint_t,
};

/// The request as the engine sees it: method, raw URI, protocol, headers in order with repeats,
/// client address and the body buffers (memory or temp file ranges); `id`, when given, gives
/// `$request_id` when something reads it.
///
/// # Safety
/// `r` must be a live request; the result borrows from it and must not outlive it, nor may the
/// request's headers or body buffers change while it is in use.
pub unsafe fn build<'a>(r: *mut ngx_http_request_t, id: Option<&'a RequestId>) -> Request<'a> {
    // SAFETY: the caller guarantees r is live; only shared references are taken from here on.
    let req = unsafe { &*r };
    Request {
        method: str_bytes(&req.method_name),
        uri: str_bytes(&req.unparsed_uri),
        version: str_bytes(&req.http_protocol),
        // SAFETY: r->headers_in.headers is nginx's list of ngx_table_elt_t.
        headers: unsafe { headers(&req.headers_in.headers.part) },
        // SAFETY: every request has a live connection.
        client_addr: str_bytes(unsafe { &(*req.connection).addr_text }),
        request_id: &[],
        id_source: id.map(|id| id as &dyn IdSource),
        // SAFETY: the request body, when present, is nginx's request body structure.
        body: unsafe { body(req) },
    }
}

/// The bytes of an nginx string, empty for a null or empty string.
fn str_bytes<'a>(s: &ngx_str_t) -> &'a [u8] {
    if s.len == 0 || s.data.is_null() {
        return &[];
    }
    // SAFETY: a non-empty ngx_str_t points at `len` readable bytes that live as long as the
    // request (the callers only pass request fields).
    unsafe { std::slice::from_raw_parts(s.data, s.len) }
}

/// A request's `$request_id`, computed by nginx (from random bytes) on first use.
pub struct RequestId {
    r: *mut ngx_http_request_t,
    index: ngx_int_t,
}

impl RequestId {
    /// The id of `r`; `index` is `$request_id`'s variable index in its configuration
    /// (negative when there is none).
    ///
    /// # Safety
    /// `r` must be a live request that outlives the returned value.
    pub unsafe fn new(r: *mut ngx_http_request_t, index: ngx_int_t) -> RequestId {
        RequestId { r, index }
    }
}

impl IdSource for RequestId {
    fn id(&self) -> &[u8] {
        // SAFETY: `new`'s caller guarantees the request is live while this value is.
        unsafe { request_id(self.r, self.index) }
    }
}

/// The value of `$request_id`, empty when unavailable.
unsafe fn request_id<'a>(r: *mut ngx_http_request_t, index: ngx_int_t) -> &'a [u8] {
    if index < 0 {
        return &[];
    }
    // SAFETY: `index` came from ngx_http_get_variable_index for this configuration.
    let v = unsafe { ngx_http_get_indexed_variable(r, index as ngx_uint_t) };
    // SAFETY: a non-null result is a variable value allocated in the request pool.
    match unsafe { v.as_ref() } {
        Some(v) if v.not_found() == 0 && v.valid() != 0 && !v.data.is_null() => {
            // SAFETY: a valid value points at `len` bytes in the request pool.
            unsafe { std::slice::from_raw_parts(v.data, v.len() as usize) }
        }
        _ => &[],
    }
}

/// All header lines of nginx's header list, in order.
unsafe fn headers<'a>(first: &ngx_list_part_t) -> Vec<Header<'a>> {
    let mut out = Vec::with_capacity(first.nelts);
    let mut part = first;
    loop {
        let elts = part.elts.cast::<ngx_table_elt_t>();
        for i in 0..part.nelts {
            // SAFETY: each part holds `nelts` initialised ngx_table_elt_t.
            let h = unsafe { &*elts.add(i) };
            out.push(Header {
                name: str_bytes(&h.key),
                value: str_bytes(&h.value),
            });
        }
        // SAFETY: `next` is null or the next part of the same list.
        match unsafe { part.next.as_ref() } {
            Some(next) => part = next,
            None => break,
        }
    }
    out
}

/// The read body's buffers: memory ranges and temp file ranges, in order.
unsafe fn body<'a>(r: &ngx_http_request_t) -> Vec<BodyPart<'a>> {
    let mut out = Vec::new();
    // SAFETY: request_body is null or nginx's request body structure.
    let Some(rb) = (unsafe { r.request_body.as_ref() }) else {
        return out;
    };
    let mut cl = rb.bufs;
    // SAFETY: `bufs` is a null-terminated chain whose links and buffers live in the request pool.
    while let Some(link) = unsafe { cl.as_ref() } {
        // SAFETY: every link of the body chain carries a buffer.
        if let Some(buf) = unsafe { link.buf.as_ref() } {
            // SAFETY: `buf` is a body buffer of this request.
            if let Some(part) = unsafe { body_part(buf) } {
                out.push(part);
            }
        }
        cl = link.next;
    }
    out
}

/// One body buffer as a [`BodyPart`]; `None` for an empty buffer.
unsafe fn body_part<'a>(b: &ngx_buf_t) -> Option<BodyPart<'a>> {
    if b.in_file() != 0 {
        // SAFETY: a buffer marked in_file has a file, the request body's temp file.
        let file = unsafe { b.file.as_ref() }?;
        let len = b.file_last.checked_sub(b.file_pos)?;
        if file.fd < 0 || len <= 0 {
            return None;
        }
        return Some(BodyPart::Fd {
            // SAFETY: the temp file stays open until the request pool is destroyed, which is
            // after the check that uses this borrow.
            fd: unsafe { BorrowedFd::borrow_raw(file.fd) },
            offset: b.file_pos as u64,
            len: len as u64,
        });
    }
    if b.pos.is_null() || b.last <= b.pos {
        return None;
    }
    // SAFETY: a memory buffer's bytes lie between pos and last.
    let len = unsafe { b.last.offset_from(b.pos) } as usize;
    // SAFETY: as above; the buffer lives in the request pool.
    Some(BodyPart::Memory(unsafe {
        std::slice::from_raw_parts(b.pos, len)
    }))
}
