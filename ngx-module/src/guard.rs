//! Keeps Rust panics from unwinding into nginx, and writes log lines.

use std::any::Any;
use std::panic::{catch_unwind, AssertUnwindSafe};

use ngx::ffi::{ngx_log_t, NGX_LOG_ERR};

/// Runs `f`; if it panics, logs the panic to `log` (when not null) and returns `fallback`.
pub fn no_unwind<T>(log: *mut ngx_log_t, what: &str, fallback: T, f: impl FnOnce() -> T) -> T {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(value) => value,
        Err(payload) => {
            let msg = format!(
                "moat: panic in {what}: {}; request let through",
                panic_message(payload.as_ref())
            );
            write_log(log, NGX_LOG_ERR, &msg);
            fallback
        }
    }
}

/// Writes `msg` to an nginx log at `level` (no-op for a null log or a filtered level).
pub fn write_log(log: *mut ngx_log_t, level: u32, msg: &str) {
    if log.is_null() {
        return;
    }
    ngx::ngx_log_error!(level, log, "{msg}");
}

fn panic_message(payload: &(dyn Any + Send)) -> &str {
    if let Some(s) = payload.downcast_ref::<&str>() {
        s
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s
    } else {
        "unknown panic"
    }
}
