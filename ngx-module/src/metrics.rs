//! Prometheus metrics in nginx: the engine's [`moat::metrics`] block lives in a shared memory
//! zone (`moat_metrics`, registered in postconfiguration, initialised in the master before the
//! workers fork), so every worker adds to the same counters and one scrape answers for the
//! whole instance. On reload nginx hands the zone of the previous cycle to the new one (same
//! name, size and tag): counters keep counting, as Prometheus expects of counters.
//!
//! `moat_metrics;` in a `location` serves the Prometheus text format there, as `stub_status`
//! serves its page: restrict it with `allow`/`deny` (the ACCESS phase runs before it).

use std::ffi::{c_char, c_void};
use std::ptr::{addr_of, addr_of_mut, null_mut, NonNull};
use std::sync::Arc;

use moat::metrics::{self, Metrics, MetricsBlock};
use moat::Engine;
use ngx::ffi::{
    ngx_buf_t, ngx_chain_t, ngx_command_t, ngx_conf_t, ngx_create_temp_buf, ngx_cycle_t,
    ngx_http_conf_ctx_t, ngx_http_core_loc_conf_t, ngx_http_core_module,
    ngx_http_discard_request_body, ngx_http_module, ngx_http_output_filter, ngx_http_request_t,
    ngx_http_send_header, ngx_int_t, ngx_shared_memory_add, ngx_shm_zone_t, ngx_slab_calloc,
    ngx_slab_pool_t, ngx_uint_t, NGX_CONF_NOARGS, NGX_ERROR, NGX_HTTP_GET, NGX_HTTP_HEAD,
    NGX_HTTP_INTERNAL_SERVER_ERROR, NGX_HTTP_LOC_CONF, NGX_HTTP_LOC_CONF_OFFSET,
    NGX_HTTP_NOT_ALLOWED, NGX_LOG_EMERG, NGX_OK,
};
use ngx::ngx_string;

use crate::config::{main_conf_of, run_directive, MainConf};
use crate::ctx_index;
use crate::guard::{no_unwind, write_log};
use crate::handler::confs;

/// The `moat_metrics` directive (`location` only, no arguments).
pub const DIRECTIVE: ngx_command_t = ngx_command_t {
    name: ngx_string!("moat_metrics"),
    type_: (NGX_HTTP_LOC_CONF | NGX_CONF_NOARGS) as ngx_uint_t,
    set: Some(set_metrics),
    conf: NGX_HTTP_LOC_CONF_OFFSET,
    offset: 0,
    post: null_mut(),
};

/// Bytes of the shared zone: the block, rounded up to pages, plus room for the slab
/// allocator's own pages.
const ZONE_SIZE: usize = MetricsBlock::SIZE.div_ceil(4096) * 4096 + 8 * 4096;

unsafe extern "C" fn set_metrics(
    cf: *mut ngx_conf_t,
    _cmd: *mut ngx_command_t,
    _conf: *mut c_void,
) -> *mut c_char {
    let work = || {
        // SAFETY: inside a `location` block cf->ctx is an ngx_http_conf_ctx_t whose loc_conf
        // array holds the core module's location configuration.
        let clcf = unsafe {
            let ctx = (*cf).ctx.cast::<ngx_http_conf_ctx_t>();
            (*(*ctx).loc_conf.add(ngx_http_core_module.ctx_index))
                .cast::<ngx_http_core_loc_conf_t>()
                .as_mut()
        }
        .ok_or("no location configuration")?;
        clcf.handler = Some(content_handler);
        // SAFETY: the directive is only accepted inside `http`.
        let main = unsafe { main_conf_of(cf) }.ok_or("no http configuration")?;
        main.used = true;
        Ok(())
    };
    // SAFETY: cf is nginx's live configuration context.
    unsafe { run_directive(cf, work) }
}

/// Registers the shared zone (postconfiguration, once the engine exists). Its init hook gives
/// the engine the shared block.
///
/// # Safety
/// `cf` must be the configuration context inside `http` during postconfiguration, and `main`
/// this module's main configuration in the configuration pool.
pub unsafe fn add_zone(cf: *mut ngx_conf_t, main: &mut MainConf) -> Result<(), ()> {
    let mut name = ngx_string!("moat_metrics");
    // SAFETY: cf is live; the tag is this module's descriptor, as nginx modules do.
    let zone = unsafe {
        ngx_shared_memory_add(
            cf,
            &mut name,
            ZONE_SIZE,
            addr_of_mut!(crate::ngx_http_moat_module).cast(),
        )
    };
    // SAFETY: a non-null result is the zone's descriptor in the cycle being configured.
    let zone = unsafe { zone.as_mut() }.ok_or(())?;
    zone.init = Some(init_zone);
    zone.data = (main as *mut MainConf).cast();
    Ok(())
}

/// Zone init (master, in ngx_init_cycle, before workers fork): reuses the previous cycle's
/// block (`old` is that zone's `data`) or allocates a fresh one, and hands it to the engine.
unsafe extern "C" fn init_zone(zone: *mut ngx_shm_zone_t, old: *mut c_void) -> ngx_int_t {
    // SAFETY: nginx passes the zone being initialised; its shm is mapped.
    let log = unsafe { (*zone).shm.log };
    no_unwind(log, "metrics zone init", NGX_ERROR as ngx_int_t, || {
        // SAFETY: as above; `data` was set by add_zone to the cycle's MainConf.
        match unsafe { attach(zone, old) } {
            Ok(()) => NGX_OK as ngx_int_t,
            Err(msg) => {
                write_log(log, NGX_LOG_EMERG, &format!("moat: metrics zone: {msg}"));
                NGX_ERROR as ngx_int_t
            }
        }
    })
}

unsafe fn attach(zone: *mut ngx_shm_zone_t, old: *mut c_void) -> Result<(), &'static str> {
    // SAFETY: see init_zone.
    let zone = unsafe { &mut *zone };
    let main = zone.data.cast::<MainConf>();
    let block = if old.is_null() {
        // SAFETY: a new zone starts with nginx's slab pool header.
        let p =
            unsafe { ngx_slab_calloc(zone.shm.addr.cast::<ngx_slab_pool_t>(), MetricsBlock::SIZE) };
        NonNull::new(p.cast::<MetricsBlock>()).ok_or("zone too small")?
    } else {
        NonNull::new(old.cast::<MetricsBlock>()).ok_or("no previous block")?
    };
    zone.data = block.as_ptr().cast();
    // SAFETY: the block is zeroed slab memory or the previous cycle's block, page-aligned, in
    // a zone mapped until the process exits.
    let metrics = unsafe { Metrics::borrowed(block) }.ok_or("block of another layout")?;
    // SAFETY: main is this cycle's MainConf; its engine (when the http block uses Moat) was
    // boxed in postconfiguration and no request uses it yet: the master is single-threaded
    // and the workers are not forked.
    if let Some(engine) = unsafe { (*main).engine.cast_mut().as_mut() } {
        engine.set_metrics(Arc::new(metrics));
    }
    Ok(())
}

/// Content handler of `moat_metrics` locations.
unsafe extern "C" fn content_handler(r: *mut ngx_http_request_t) -> ngx_int_t {
    // SAFETY: nginx calls content handlers with a live request and connection.
    let log = unsafe { (*(*r).connection).log };
    // SAFETY: as above.
    no_unwind(
        log,
        "metrics handler",
        NGX_HTTP_INTERNAL_SERVER_ERROR as ngx_int_t,
        || unsafe { serve(r) },
    )
}

unsafe fn serve(r: *mut ngx_http_request_t) -> ngx_int_t {
    // SAFETY: r is live.
    let method = unsafe { (*r).method } as u32;
    if method & (NGX_HTTP_GET | NGX_HTTP_HEAD) == 0 {
        return NGX_HTTP_NOT_ALLOWED as ngx_int_t;
    }
    // SAFETY: r is live.
    let rc = unsafe { ngx_http_discard_request_body(r) };
    if rc != NGX_OK as ngx_int_t {
        return rc;
    }
    // SAFETY: r is live; the engine lives as long as the configuration cycle.
    let engine: Option<&Engine> = unsafe { confs(r).0.engine.as_ref() };
    let Some(engine) = engine else {
        return NGX_HTTP_INTERNAL_SERVER_ERROR as ngx_int_t;
    };
    let text = metrics::render::render(engine.metrics().block());
    // SAFETY: r is live; the buffer comes from its pool.
    unsafe { send(r, text.as_bytes()) }
}

/// Sends a 200 with `body` in the exposition format's content type.
unsafe fn send(r: *mut ngx_http_request_t, body: &[u8]) -> ngx_int_t {
    static CONTENT_TYPE: &str = metrics::CONTENT_TYPE;
    // SAFETY: r is live; headers_out is ours to fill before send_header. The content type
    // points to static memory.
    unsafe {
        let h = &mut (*r).headers_out;
        h.status = 200;
        h.content_length_n = body.len() as i64;
        h.content_type.len = CONTENT_TYPE.len();
        h.content_type.data = CONTENT_TYPE.as_ptr().cast_mut();
        h.content_type_len = CONTENT_TYPE.len();
    }
    // SAFETY: r is live.
    let rc = unsafe { ngx_http_send_header(r) };
    // SAFETY: r is live.
    if rc == NGX_ERROR as ngx_int_t
        || rc > NGX_OK as ngx_int_t
        || unsafe { (*r).header_only() } != 0
    {
        return rc;
    }
    // SAFETY: r->pool is live.
    let b: *mut ngx_buf_t = unsafe { ngx_create_temp_buf((*r).pool, body.len().max(1)) };
    // SAFETY: a non-null buffer has room for the body.
    let Some(buf) = (unsafe { b.as_mut() }) else {
        return NGX_ERROR as ngx_int_t;
    };
    // SAFETY: buf.pos has room for body.len() bytes.
    unsafe {
        std::ptr::copy_nonoverlapping(body.as_ptr(), buf.pos, body.len());
        buf.last = buf.pos.add(body.len());
    }
    // SAFETY: r is live.
    let is_main = unsafe { (*r).main } == r;
    buf.set_last_buf(u32::from(is_main));
    buf.set_last_in_chain(1);
    let mut out = ngx_chain_t {
        buf: b,
        next: null_mut(),
    };
    // SAFETY: r is live; the chain is copied by the filters before this returns.
    unsafe { ngx_http_output_filter(r, &mut out) }
}

/// The metrics the engine of a cycle's `http` block records into (the shared block once the
/// zone is initialised), for the worker's ClickHouse forwarder.
///
/// # Safety
/// `cycle` must be a live, initialised cycle.
pub unsafe fn of_cycle(cycle: *mut ngx_cycle_t) -> Option<Arc<Metrics>> {
    // SAFETY: cycle->conf_ctx has an entry per core module; ngx_http_module's entry is null
    // without an `http` block, else an ngx_http_conf_ctx_t whose main_conf array holds ours,
    // whose engine (when set) lives as long as the cycle.
    unsafe {
        let index = (*addr_of!(ngx_http_module)).index;
        let ctx = (*(*cycle).conf_ctx.add(index)).cast::<ngx_http_conf_ctx_t>();
        let ctx = ctx.as_ref()?;
        let main = (*ctx.main_conf.add(ctx_index()))
            .cast::<MainConf>()
            .as_ref()?;
        let engine = main.engine.as_ref()?;
        Some(Arc::clone(engine.metrics()))
    }
}
