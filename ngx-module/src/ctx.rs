//! Per-request state, kept findable across internal redirects.
//!
//! nginx clears every module's request context on an internal redirect. The context is therefore
//! allocated as the data of a cleanup entry on the request pool (as ModSecurity-nginx does): the
//! cleanup handler identifies the entry, so the context is found again after a redirect and the
//! request is inspected only once.

use std::ffi::c_void;
use std::mem::size_of;
use std::ptr;

use moat::events::Event;
use moat::Action;
use ngx::ffi::{ngx_http_request_t, ngx_pool_cleanup_add, ngx_pool_cleanup_t, ngx_str_t};

use crate::ctx_index;

/// Marker distinguishing a Moat context from other data of the same size.
const MAGIC: u32 = 0x4d4f_4154;

/// Where the inspection of a request stands.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// The body is being read; the handler waits for the post handler.
    ReadingBody,
    /// Everything needed is there; the next handler call judges the request.
    Ready,
    /// The request was judged (or inspection was abandoned); nothing more to do.
    Done,
}

/// Inspection state and verdict summary of one request; plain data in the request pool.
#[derive(Clone, Copy)]
pub struct RequestCtx {
    magic: u32,
    /// Progress of the inspection.
    pub state: State,
    /// True when the phase handler returned `NGX_DONE` and waits for the body.
    pub waiting: bool,
    /// The verdict's action, `None` until judged.
    pub action: Option<Action>,
    /// The verdict's anomaly score.
    pub score: u32,
    /// Matched rule ids, comma-separated, in request pool memory.
    pub rule_ids: ngx_str_t,
    /// The request's event, waiting for the LOG phase (null when none is recorded).
    pub event: *mut Option<Event>,
}

/// Cleanup handler that marks a cleanup entry as a Moat context. The context owns no resources;
/// on pool destruction it only loses its magic, so stale memory is never taken for a context.
unsafe extern "C" fn ctx_marker(data: *mut c_void) {
    // SAFETY: entries with this handler carry a RequestCtx written by `create`, alive until the
    // pool is destroyed, which is what runs this handler.
    if let Some(ctx) = unsafe { data.cast::<RequestCtx>().as_mut() } {
        ctx.magic = 0;
    }
}

fn is_marker(cln: &ngx_pool_cleanup_t) -> bool {
    let marker: unsafe extern "C" fn(*mut c_void) = ctx_marker;
    cln.handler.is_some_and(|h| h as usize == marker as usize)
}

/// The request's context, restoring the module ctx slot after an internal redirect.
///
/// # Safety
/// `r` must be a live request.
pub unsafe fn find(r: *mut ngx_http_request_t) -> Option<*mut RequestCtx> {
    // SAFETY: r is live; r->ctx has a slot per HTTP module.
    let slot = unsafe { (*r).ctx.add(ctx_index()) };
    // SAFETY: the slot is within r->ctx.
    let current = unsafe { *slot }.cast::<RequestCtx>();
    if !current.is_null() {
        return Some(current);
    }
    // SAFETY: r->pool is live; its cleanup list is a null-terminated linked list.
    let mut cln = unsafe { (*(*r).pool).cleanup };
    while !cln.is_null() {
        // SAFETY: `cln` is a valid entry of the list.
        let entry = unsafe { &*cln };
        if is_marker(entry) && !entry.data.is_null() {
            let ctx = entry.data.cast::<RequestCtx>();
            // SAFETY: entries with our marker hold a RequestCtx written by `create`.
            if unsafe { (*ctx).magic } == MAGIC {
                // SAFETY: see above, the slot is within r->ctx.
                unsafe { *slot = ctx.cast() };
                return Some(ctx);
            }
        }
        cln = entry.next;
    }
    None
}

/// Creates the request's context in its pool; `None` when out of memory.
///
/// # Safety
/// `r` must be a live main request without a context.
pub unsafe fn create(r: *mut ngx_http_request_t) -> Option<*mut RequestCtx> {
    // SAFETY: r->pool is live; the entry's data is allocated with the requested size, aligned
    // to a machine word, which suffices for RequestCtx.
    let cln = unsafe { ngx_pool_cleanup_add((*r).pool, size_of::<RequestCtx>()) };
    if cln.is_null() {
        return None;
    }
    let ctx = RequestCtx {
        magic: MAGIC,
        state: State::Ready,
        waiting: false,
        action: None,
        score: 0,
        rule_ids: ngx_str_t {
            len: 0,
            data: ptr::null_mut(),
        },
        event: ptr::null_mut(),
    };
    // SAFETY: the cleanup entry and its data are fresh; the slot is within r->ctx.
    unsafe {
        let data = (*cln).data.cast::<RequestCtx>();
        data.write(ctx);
        (*cln).handler = Some(ctx_marker);
        *(*r).ctx.add(ctx_index()) = data.cast();
        Some(data)
    }
}
