//! The C ABI of Prometheus metrics (part of `libmoat.so` and `include/moat.h`), used by the Lua
//! binding: move the engine's metrics into memory shared with processes forked later
//! (`moat_engine_share_metrics`, from OpenResty's `init_by_lua`, which runs in the master),
//! let the events forwarder count into them (`moat_events_set_metrics`), and render the
//! Prometheus text format (`moat_engine_metrics`). Every entry point catches panics.

use std::ffi::c_char;
use std::sync::Arc;

use crate::ffi::{guard, status, MoatEngine};
use crate::ffi_events::MoatEvents;
use crate::metrics::{render, Metrics};

/// Gives the engine a metrics block in an anonymous shared mapping: processes forked after
/// this call (nginx workers, when called from `init_by_lua`) all count into it, and any of
/// them renders the totals. Counters recorded before the call are not carried over. Returns
/// 0, or -1 with the reason in `err`.
///
/// # Safety
/// `engine` must be NULL or from `moat_engine_new*`, not used by another thread during the
/// call; `err` NULL or `err_len` writable bytes.
#[no_mangle]
pub unsafe extern "C" fn moat_engine_share_metrics(
    engine: *mut MoatEngine,
    err: *mut c_char,
    err_len: usize,
) -> i32 {
    status(err, err_len, || {
        // SAFETY: NULL or live and exclusively ours per the contract above.
        let engine = unsafe { engine.as_mut() }.ok_or("NULL engine")?;
        let metrics = Metrics::shared_anonymous().map_err(|e| format!("mmap: {e}"))?;
        engine.engine.set_metrics(Arc::new(metrics));
        Ok(())
    })
}

/// Makes the events forwarder (started later by `moat_events_start`) count into the engine's
/// metrics. Call after `moat_engine_share_metrics`.
///
/// # Safety
/// `events` NULL or from `moat_events_new`, not yet started; `engine` NULL or live.
#[no_mangle]
pub unsafe extern "C" fn moat_events_set_metrics(
    events: *mut MoatEvents,
    engine: *const MoatEngine,
) {
    guard((), || {
        // SAFETY: NULL or live per the contract above.
        let (Some(events), Some(engine)) = (unsafe { events.as_mut() }, unsafe { engine.as_ref() })
        else {
            return;
        };
        events.metrics = Some(Arc::clone(engine.engine.metrics()));
    })
}

/// Renders the engine's metrics in the Prometheus text format (content type
/// `text/plain; version=0.0.4; charset=utf-8`) into `buf`, up to `buf_len` bytes. Returns the
/// full length: when it exceeds `buf_len`, call again with a larger buffer. 0 for a NULL engine.
///
/// # Safety
/// `engine` NULL or live; `buf` NULL or `buf_len` writable bytes.
#[no_mangle]
pub unsafe extern "C" fn moat_engine_metrics(
    engine: *const MoatEngine,
    buf: *mut u8,
    buf_len: usize,
) -> usize {
    guard(0, || {
        // SAFETY: NULL or live per the contract above.
        let Some(engine) = (unsafe { engine.as_ref() }) else {
            return 0;
        };
        let text = render::render(engine.engine.metrics().block());
        if !buf.is_null() && text.len() <= buf_len {
            // SAFETY: buf has buf_len >= text.len() writable bytes per the contract above.
            unsafe { std::ptr::copy_nonoverlapping(text.as_ptr(), buf, text.len()) };
        }
        text.len()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ffi::{moat_check, moat_engine_free, moat_engine_new, moat_verdict_free};
    use crate::ffi::{MoatBytes, MoatRequest};

    #[test]
    fn forked_processes_share_the_engine_metrics() {
        // SAFETY: a NULL settings pointer means the defaults.
        let engine = unsafe { moat_engine_new(std::ptr::null()) };
        // SAFETY: engine is live and used by this thread only.
        assert_eq!(
            unsafe { moat_engine_share_metrics(engine, std::ptr::null_mut(), 0) },
            0
        );
        let empty = MoatBytes {
            ptr: std::ptr::null(),
            len: 0,
        };
        let uri = b"/?q=1' or '1'='1";
        let req = MoatRequest {
            method: empty,
            uri: MoatBytes {
                ptr: uri.as_ptr(),
                len: uri.len(),
            },
            version: empty,
            client_addr: empty,
            request_id: empty,
            headers: std::ptr::null(),
            headers_len: 0,
            body: std::ptr::null(),
            body_len: 0,
        };
        // SAFETY: the child only checks a request and exits with _exit.
        let pid = unsafe { libc::fork() };
        if pid == 0 {
            // SAFETY: engine and req are valid in the child's copy of memory.
            unsafe { moat_verdict_free(moat_check(engine, std::ptr::null(), &req)) };
            // SAFETY: ends the child without running the test harness's destructors.
            unsafe { libc::_exit(0) };
        }
        let mut status = 0;
        // SAFETY: waits for the child forked above.
        unsafe { libc::waitpid(pid, &mut status, 0) };
        // SAFETY: engine is live; a NULL buffer asks for the length.
        let len = unsafe { moat_engine_metrics(engine, std::ptr::null_mut(), 0) };
        let mut buf = vec![0u8; len];
        // SAFETY: buf has len writable bytes.
        assert_eq!(
            unsafe { moat_engine_metrics(engine, buf.as_mut_ptr(), len) },
            len
        );
        let text = String::from_utf8(buf).unwrap();
        assert!(
            text.contains("moat_requests_total{action=\"block\",reason=\"rules\"} 1\n"),
            "{text}"
        );
        // SAFETY: engine came from moat_engine_new and is freed once.
        unsafe { moat_engine_free(engine) };
    }
}
