//! The C ABI of events to ClickHouse (part of `libmoat.so` and `include/moat.h`), used by the
//! Lua binding: parse the `clickhouse` options once (`moat_events_new`, in nginx's master, so
//! secret files are read with its rights), start one forwarder per worker after the fork
//! (`moat_events_start`), record each judged request's event (`moat_event_new`), queue it once
//! its status is known (`moat_event_submit`), and flush on worker exit (`moat_events_stop`).
//! Every entry point catches panics.

use std::ffi::{c_char, CStr};
use std::path::Path;
use std::ptr;
use std::sync::{Arc, OnceLock};

use crate::events::Event;
use crate::ffi::{guard, request_from_c, status, write_err, MoatRequest, MoatVerdict};
use crate::forward::config::LogConfig;
use crate::forward::{stderr_logger, Forwarder};
use crate::metrics::Metrics;

/// Events configuration and, once started in a worker, its forwarder (opaque).
pub struct MoatEvents {
    config: LogConfig,
    forwarder: OnceLock<Forwarder>,
    /// Shared metrics the forwarder also counts into (`moat_events_set_metrics`).
    pub(crate) metrics: Option<Arc<Metrics>>,
}

/// One request's event waiting for its response status (opaque).
pub struct MoatEvent {
    event: Event,
}

/// Forwarder counters of this process.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct MoatForwarderStats {
    /// Rows ClickHouse accepted.
    pub sent: u64,
    /// Insert attempts retried.
    pub retried: u64,
    /// Rows written to the spool.
    pub spooled: u64,
    /// Rows replayed from the spool.
    pub replayed: u64,
    /// Events dropped (queue full, or neither sendable nor spoolable).
    pub dropped: u64,
    /// Events waiting in the queue.
    pub queued: u64,
}

/// Parses `moat_log_clickhouse` options (`"http://127.0.0.1:8123 database=moat spool=/dir"`;
/// relative paths against the current directory). NULL with the reason in `err` on error.
///
/// # Safety
/// `config` must be a NUL-terminated string; `err` NULL or `err_len` writable bytes.
#[no_mangle]
pub unsafe extern "C" fn moat_events_new(
    config: *const c_char,
    err: *mut c_char,
    err_len: usize,
) -> *mut MoatEvents {
    let result = guard(Err("internal error".to_string()), || {
        if config.is_null() {
            return Err("NULL configuration".to_string());
        }
        // SAFETY: a NUL-terminated string per the contract above.
        let text = unsafe { CStr::from_ptr(config) }
            .to_str()
            .map_err(|_| "configuration is not UTF-8".to_string())?;
        let words: Vec<&str> = text.split_whitespace().collect();
        let base = std::env::current_dir().unwrap_or_else(|_| Path::new("/").into());
        let config = LogConfig::parse(&words, &base)?;
        Ok(Box::into_raw(Box::new(MoatEvents {
            config,
            forwarder: OnceLock::new(),
            metrics: None,
        })))
    });
    match result {
        Ok(events) => events,
        Err(msg) => {
            write_err(err, err_len, &msg);
            ptr::null_mut()
        }
    }
}

/// Starts this process's forwarder (call in each worker, after the fork). Returns 0, or -1 with
/// the reason in `err`. Starting twice is a no-op.
///
/// # Safety
/// `events` must come from `moat_events_new`; `err` NULL or `err_len` writable bytes.
#[no_mangle]
pub unsafe extern "C" fn moat_events_start(
    events: *mut MoatEvents,
    err: *mut c_char,
    err_len: usize,
) -> i32 {
    status(err, err_len, || {
        // SAFETY: NULL or live per the contract above.
        let events = unsafe { events.as_ref() }.ok_or("NULL events")?;
        if events.forwarder.get().is_some() {
            return Ok(());
        }
        let c = &events.config;
        let forwarder = Forwarder::start_with_metrics(
            c.clickhouse.clone(),
            c.pipeline.clone(),
            c.recorder.sessions.key,
            stderr_logger(),
            events.metrics.clone(),
        )
        .map_err(|e| e.to_string())?;
        let _ = events.forwarder.set(forwarder);
        Ok(())
    })
}

/// Sends or spools whatever is queued and stops the forwarder (call on worker exit).
///
/// # Safety
/// `events` must be NULL or come from `moat_events_new`.
#[no_mangle]
pub unsafe extern "C" fn moat_events_stop(events: *const MoatEvents) {
    guard((), || {
        // SAFETY: NULL or live per the contract above.
        if let Some(f) = unsafe { events.as_ref() }.and_then(|e| e.forwarder.get()) {
            f.shutdown();
        }
    })
}

/// The event of a judged request, or NULL when the events policy leaves it out (or no
/// forwarder runs). Free it with `moat_event_submit` or `moat_event_free`.
///
/// # Safety
/// `events` NULL or from `moat_events_new`; `req` a valid request (as for `moat_check`); `v` a
/// live verdict.
#[no_mangle]
pub unsafe extern "C" fn moat_event_new(
    events: *const MoatEvents,
    req: *const MoatRequest,
    v: *const MoatVerdict,
) -> *mut MoatEvent {
    guard(ptr::null_mut(), || {
        // SAFETY: NULL or valid per the contract above.
        let (Some(events), Some(req), Some(v)) = (
            unsafe { events.as_ref() },
            unsafe { req.as_ref() },
            unsafe { v.as_ref() },
        ) else {
            return ptr::null_mut();
        };
        events.forwarder.get().map_or(ptr::null_mut(), |_| {
            // SAFETY: every pointer in req is readable for this call.
            let request = unsafe { request_from_c(req) };
            match events.config.recorder.event(&request, &v.verdict) {
                Some(event) => Box::into_raw(Box::new(MoatEvent { event })),
                None => ptr::null_mut(),
            }
        })
    })
}

/// Completes an event with the response status and request size (0: keep the engine's count)
/// and queues it without waiting; takes ownership of `event`.
///
/// # Safety
/// `events` NULL or from `moat_events_new`; `event` NULL or from `moat_event_new`, not used
/// afterwards.
#[no_mangle]
pub unsafe extern "C" fn moat_event_submit(
    events: *const MoatEvents,
    event: *mut MoatEvent,
    status: u16,
    bytes_in: u64,
) {
    guard((), || {
        if event.is_null() {
            return;
        }
        // SAFETY: from moat_event_new, owned by this call from now on.
        let mut event = unsafe { Box::from_raw(event) }.event;
        event.finish(status, bytes_in);
        // SAFETY: NULL or live per the contract above.
        if let Some(f) = unsafe { events.as_ref() }.and_then(|e| e.forwarder.get()) {
            f.submit(event);
        }
    })
}

/// Frees an event that will not be submitted.
///
/// # Safety
/// `event` NULL or from `moat_event_new`, not used afterwards.
#[no_mangle]
pub unsafe extern "C" fn moat_event_free(event: *mut MoatEvent) {
    guard((), || {
        if !event.is_null() {
            // SAFETY: from moat_event_new, freed once here.
            drop(unsafe { Box::from_raw(event) });
        }
    })
}

/// This process's forwarder counters (zeros before `moat_events_start`).
///
/// # Safety
/// `events` NULL or from `moat_events_new`; `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn moat_events_stats(
    events: *const MoatEvents,
    out: *mut MoatForwarderStats,
) {
    guard((), || {
        if out.is_null() {
            return;
        }
        // SAFETY: NULL or live per the contract above.
        let s = unsafe { events.as_ref() }
            .and_then(|e| e.forwarder.get())
            .map(Forwarder::stats)
            .unwrap_or_default();
        // SAFETY: non-null and writable per the contract above.
        unsafe {
            out.write(MoatForwarderStats {
                sent: s.sent,
                retried: s.retried,
                spooled: s.spooled,
                replayed: s.replayed,
                dropped: s.dropped(),
                queued: s.queued,
            })
        };
    })
}
