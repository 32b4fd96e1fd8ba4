//! Events to ClickHouse: the `moat_log_clickhouse` directive, one forwarder per worker process
//! (started in `init_process`, after the fork; flushed in `exit_process`, so a reload or a
//! worker exit loses nothing), the LOG phase handler that completes each inspected request's
//! event with its status and queues it, and the `$moat_clickhouse` variable (this worker's
//! counters).
//!
//! The engine does the work ([`moat::forward`]); this module only wires it to nginx.

use std::ffi::{c_char, c_void, OsStr};
use std::mem::size_of;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::ptr::{addr_of, null_mut};
use std::sync::OnceLock;

use moat::events::Event;
use moat::forward::config::LogConfig;
use moat::forward::{stderr_logger, Forwarder};
use moat::{Request, Verdict};
use ngx::ffi::{
    ngx_array_push, ngx_command_t, ngx_conf_t, ngx_core_conf_t, ngx_core_module, ngx_cycle_t,
    ngx_http_add_variable, ngx_http_conf_ctx_t, ngx_http_core_main_conf_t, ngx_http_core_module,
    ngx_http_handler_pt, ngx_http_module, ngx_http_phases_NGX_HTTP_LOG_PHASE, ngx_http_request_t,
    ngx_http_variable_value_t, ngx_int_t, ngx_pnalloc, ngx_pool_cleanup_add, ngx_process,
    ngx_str_t, ngx_uint_t, NGX_CONF_1MORE, NGX_ERROR, NGX_HTTP_MAIN_CONF,
    NGX_HTTP_MAIN_CONF_OFFSET, NGX_HTTP_VAR_NOCACHEABLE, NGX_LOG_ERR, NGX_OK, NGX_PROCESS_SINGLE,
    NGX_PROCESS_WORKER,
};
use ngx::ngx_string;

use crate::config::{pool_box, run_directive, MainConf};
use crate::ctx::{self, RequestCtx};
use crate::ctx_index;
use crate::guard::{no_unwind, write_log};

/// This worker process's forwarder (a worker serves one configuration cycle for its life).
static FORWARDER: OnceLock<Forwarder> = OnceLock::new();

/// The `moat_log_clickhouse URL [name=value …]` directive (`http` level).
pub const DIRECTIVE: ngx_command_t = ngx_command_t {
    name: ngx_string!("moat_log_clickhouse"),
    type_: (NGX_HTTP_MAIN_CONF | NGX_CONF_1MORE) as ngx_uint_t,
    set: Some(set_log_clickhouse),
    conf: NGX_HTTP_MAIN_CONF_OFFSET,
    offset: 0,
    post: null_mut(),
};

unsafe extern "C" fn set_log_clickhouse(
    cf: *mut ngx_conf_t,
    _cmd: *mut ngx_command_t,
    conf: *mut c_void,
) -> *mut c_char {
    let work = || {
        // SAFETY: conf is this module's main configuration (NGX_HTTP_MAIN_CONF_OFFSET) and cf is
        // live while the directive is parsed.
        unsafe { parse(cf, &mut *conf.cast::<MainConf>()) }
    };
    // SAFETY: cf is nginx's live configuration context.
    unsafe { run_directive(cf, work) }
}

unsafe fn parse(cf: *mut ngx_conf_t, main: &mut MainConf) -> Result<(), String> {
    if !main.events.is_null() {
        return Err("\"moat_log_clickhouse\" directive is duplicate".into());
    }
    // SAFETY: during a directive handler cf->args holds the directive's words.
    let words = unsafe { (*(*cf).args).as_slice::<ngx_str_t>() };
    let args = words
        .iter()
        .skip(1)
        .map(|w| std::str::from_utf8(w.as_bytes()).map_err(|_| "argument is not UTF-8".to_string()))
        .collect::<Result<Vec<&str>, String>>()?;
    // SAFETY: cf->cycle is the cycle being configured; conf_prefix is nginx.conf's directory.
    let prefix = unsafe { (*(*cf).cycle).conf_prefix.as_bytes() };
    let config = LogConfig::parse(&args, Path::new(OsStr::from_bytes(prefix)))?;
    // SAFETY: cf->pool is the configuration pool; the config is dropped with the cycle.
    main.events = unsafe { pool_box((*cf).pool, config) }.ok_or("out of memory")?;
    main.used = true;
    Ok(())
}

/// Registers the LOG phase handler (from postconfiguration, when events are configured).
///
/// # Safety
/// `cf` must be the configuration context inside `http` during postconfiguration.
pub unsafe fn register_log_handler(cf: *mut ngx_conf_t) -> Result<(), ()> {
    // SAFETY: inside `http` the core module's main conf exists; its LOG handler array is an
    // ngx_array_t of ngx_http_handler_pt.
    unsafe {
        let ctx = (*cf).ctx.cast::<ngx_http_conf_ctx_t>();
        let cmcf = (*(*ctx).main_conf.add(ngx_http_core_module.ctx_index))
            .cast::<ngx_http_core_main_conf_t>();
        let phase = &mut (*cmcf).phases[ngx_http_phases_NGX_HTTP_LOG_PHASE as usize];
        let slot = ngx_array_push(&mut phase.handlers).cast::<ngx_http_handler_pt>();
        if slot.is_null() {
            return Err(());
        }
        slot.write(Some(log_handler));
    }
    Ok(())
}

/// The events configuration of a cycle's `http` block, if any.
unsafe fn config_of<'a>(cycle: *mut ngx_cycle_t) -> Option<&'a LogConfig> {
    // SAFETY: cycle->conf_ctx has an entry per core module; ngx_http_module's entry is null
    // without an `http` block, else an ngx_http_conf_ctx_t whose main_conf array holds ours.
    unsafe {
        let index = (*addr_of!(ngx_http_module)).index;
        let ctx = (*(*cycle).conf_ctx.add(index)).cast::<ngx_http_conf_ctx_t>();
        if ctx.is_null() {
            return None;
        }
        let main = (*(*ctx).main_conf.add(ctx_index())).cast::<MainConf>();
        main.as_ref()?.events.as_ref()
    }
}

/// `init_module` part (master, as root when nginx starts as root): creates the spool directory
/// and hands it to the worker user, who writes the spool.
///
/// # Safety
/// `cycle` must be the cycle being initialised.
pub unsafe fn init_module(cycle: *mut ngx_cycle_t) {
    // SAFETY: as above.
    let Some(config) = (unsafe { config_of(cycle) }) else {
        return;
    };
    let Some(dir) = &config.pipeline.spool_dir else {
        return;
    };
    // SAFETY: as above.
    let log = unsafe { (*cycle).log };
    if let Err(e) = std::fs::create_dir_all(dir) {
        let msg = format!(
            "moat: cannot create spool directory \"{}\": {e}",
            dir.display()
        );
        write_log(log, NGX_LOG_ERR, &msg);
        return;
    }
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return;
    }
    // SAFETY: the core module's configuration exists in every cycle once it is parsed.
    let ccf = unsafe {
        (*(*cycle).conf_ctx.add((*addr_of!(ngx_core_module)).index)).cast::<ngx_core_conf_t>()
    };
    // SAFETY: ccf is null or the core configuration.
    let Some(ccf) = (unsafe { ccf.as_ref() }) else {
        return;
    };
    if ccf.user == u32::MAX || ccf.user == 0 {
        return;
    }
    if let Err(e) = std::os::unix::fs::chown(dir, Some(ccf.user), Some(ccf.group)) {
        let msg = format!(
            "moat: cannot give spool directory \"{}\" to the worker user: {e}",
            dir.display()
        );
        write_log(log, NGX_LOG_ERR, &msg);
    }
}

/// `init_process` hook: starts this worker's forwarder (workers and single-process mode only;
/// never in the master or the cache processes).
pub unsafe extern "C" fn init_process(cycle: *mut ngx_cycle_t) -> ngx_int_t {
    // SAFETY: nginx passes the worker's cycle.
    let log = unsafe { (*cycle).log };
    no_unwind(log, "init_process", NGX_OK as ngx_int_t, || {
        // SAFETY: ngx_process is set before init_process runs and only read here.
        let process = unsafe { *addr_of!(ngx_process) } as u32;
        if process != NGX_PROCESS_WORKER && process != NGX_PROCESS_SINGLE {
            return NGX_OK as ngx_int_t;
        }
        // SAFETY: as above.
        let Some(config) = (unsafe { config_of(cycle) }) else {
            return NGX_OK as ngx_int_t;
        };
        let started = Forwarder::start_with_metrics(
            config.clickhouse.clone(),
            config.pipeline.clone(),
            config.recorder.sessions.key,
            stderr_logger(),
            // SAFETY: as above.
            unsafe { crate::metrics::of_cycle(cycle) },
        );
        match started {
            Ok(forwarder) => {
                let _ = FORWARDER.set(forwarder);
            }
            Err(e) => write_log(
                log,
                NGX_LOG_ERR,
                &format!(
                    "moat: cannot start the ClickHouse forwarder: {e}; events are not recorded"
                ),
            ),
        }
        NGX_OK as ngx_int_t
    })
}

/// `exit_process` hook: sends what is queued, spooling what ClickHouse does not take in time.
pub unsafe extern "C" fn exit_process(cycle: *mut ngx_cycle_t) {
    // SAFETY: nginx passes the exiting worker's cycle.
    let log = unsafe { (*cycle).log };
    no_unwind(log, "exit_process", (), || {
        if let Some(forwarder) = FORWARDER.get() {
            forwarder.shutdown();
        }
    });
}

/// Pool cleanup dropping an event slot that was never submitted.
unsafe extern "C" fn drop_event_slot(data: *mut c_void) {
    let _ = std::panic::catch_unwind(|| {
        // SAFETY: `data` is the slot written by `prepare`, dropped exactly once, here.
        unsafe { std::ptr::drop_in_place(data.cast::<Option<Event>>()) };
    });
}

/// Builds the request's event right after judgement (when events are on and the recorder wants
/// it) and keeps it in the request pool until the LOG phase.
///
/// # Safety
/// `r` must be a live main request and `ctx` its context.
pub unsafe fn prepare(
    r: *mut ngx_http_request_t,
    ctx: *mut RequestCtx,
    main: &MainConf,
    req: &Request<'_>,
    verdict: &Verdict,
) {
    // SAFETY: `events` is null or the configuration boxed in the cycle's pool.
    let Some(config) = (unsafe { main.events.as_ref() }) else {
        return;
    };
    if FORWARDER.get().is_none() {
        return;
    }
    let Some(event) = config.recorder.event(req, verdict) else {
        return;
    };
    // SAFETY: r->pool is live; the entry's data is word-aligned, enough for Option<Event>.
    let cln = unsafe { ngx_pool_cleanup_add((*r).pool, size_of::<Option<Event>>()) };
    if cln.is_null() {
        return;
    }
    // SAFETY: the entry and its data are fresh; the cleanup drops the slot exactly once.
    unsafe {
        let slot = (*cln).data.cast::<Option<Event>>();
        slot.write(Some(event));
        (*cln).handler = Some(drop_event_slot);
        (*ctx).event = slot;
    }
}

/// LOG phase handler: completes the event with the response status and request size, and
/// queues it (never waiting).
unsafe extern "C" fn log_handler(r: *mut ngx_http_request_t) -> ngx_int_t {
    // SAFETY: nginx calls phase handlers with a live request and connection.
    let log = unsafe { (*(*r).connection).log };
    no_unwind(log, "log handler", NGX_OK as ngx_int_t, || {
        // SAFETY: r is live.
        unsafe { submit(r) };
        NGX_OK as ngx_int_t
    })
}

unsafe fn submit(r: *mut ngx_http_request_t) {
    // SAFETY: r is live.
    let Some(ctx) = (unsafe { ctx::find((*r).main) }) else {
        return;
    };
    // SAFETY: ctx lives in the request pool; the slot, when set, too.
    let Some(slot) = (unsafe { (*ctx).event.as_mut() }) else {
        return;
    };
    let Some(mut event) = slot.take() else {
        return;
    };
    // SAFETY: r is live.
    let (status, length) = unsafe {
        let r = &*r;
        let status = if r.err_status != 0 {
            r.err_status
        } else {
            r.headers_out.status
        };
        (status, r.request_length)
    };
    event.finish(
        u16::try_from(status).unwrap_or(0),
        u64::try_from(length).unwrap_or(0),
    );
    if let Some(forwarder) = FORWARDER.get() {
        forwarder.submit(event);
    }
}

/// Declares `$moat_clickhouse` (from preconfiguration).
///
/// # Safety
/// `cf` must be a valid configuration context.
pub unsafe fn add_variable(cf: *mut ngx_conf_t) -> Result<(), ()> {
    let mut name = ngx_string!("moat_clickhouse");
    // SAFETY: valid cf; nginx copies the name.
    let v = unsafe { ngx_http_add_variable(cf, &mut name, NGX_HTTP_VAR_NOCACHEABLE as ngx_uint_t) };
    // SAFETY: a non-null result is the new variable's descriptor.
    let v = unsafe { v.as_mut() }.ok_or(())?;
    v.get_handler = Some(get_stats);
    Ok(())
}

/// `$moat_clickhouse`: this worker's forwarder counters, e.g. `sent=10 retried=0 …`; empty
/// without a forwarder.
unsafe extern "C" fn get_stats(
    r: *mut ngx_http_request_t,
    v: *mut ngx_http_variable_value_t,
    _data: usize,
) -> ngx_int_t {
    // SAFETY: nginx calls getters with a live request and connection.
    let log = unsafe { (*(*r).connection).log };
    no_unwind(log, "variable", NGX_ERROR as ngx_int_t, || {
        let text = FORWARDER
            .get()
            .map(|f| f.stats().to_string())
            .unwrap_or_default();
        // SAFETY: r->pool is live.
        let p = unsafe { ngx_pnalloc((*r).pool, text.len().max(1)) }.cast::<u8>();
        if p.is_null() {
            return NGX_ERROR as ngx_int_t;
        }
        // SAFETY: `p` has room for the text; nginx passes a writable value slot.
        unsafe {
            std::ptr::copy_nonoverlapping(text.as_ptr(), p, text.len());
            let v = &mut *v;
            v.set_len(text.len() as u32);
            v.data = p;
            v.set_valid(1);
            v.set_no_cacheable(1);
            v.set_not_found(0);
        }
        NGX_OK as ngx_int_t
    })
}
