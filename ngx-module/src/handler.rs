//! The PREACCESS phase handler: reads the whole body, judges the request once, acts on the
//! verdict.

use moat::{Action, Verdict};
use ngx::ffi::{
    ngx_http_core_run_phases, ngx_http_read_client_request_body, ngx_http_request_t, ngx_int_t,
    ngx_log_t, ngx_pnalloc, ngx_str_t, NGX_AGAIN, NGX_DECLINED, NGX_DONE, NGX_ERROR,
    NGX_HTTP_SPECIAL_RESPONSE, NGX_LOG_ERR, NGX_LOG_WARN,
};

use crate::config::{LocConf, MainConf};
use crate::ctx::{self, RequestCtx, State};
use crate::guard::{no_unwind, write_log};
use crate::{ctx_index, geo, request_view};

const DECLINED: ngx_int_t = NGX_DECLINED as ngx_int_t;
const DONE: ngx_int_t = NGX_DONE as ngx_int_t;
const ERROR: ngx_int_t = NGX_ERROR as ngx_int_t;
/// Status sent for a block whose verdict carries no usable error status.
const FALLBACK_BLOCK_STATUS: ngx_int_t = 403;

/// PREACCESS phase handler (PREACCESS, not ACCESS, so `satisfy any` cannot bypass a block).
pub unsafe extern "C" fn preaccess_handler(r: *mut ngx_http_request_t) -> ngx_int_t {
    // SAFETY: nginx calls phase handlers with a live request and connection.
    let log = unsafe { (*(*r).connection).log };
    // SAFETY: as above.
    no_unwind(log, "phase handler", DECLINED, || unsafe { handle(r) })
}

/// The handler's logic; every path returns what the phase engine expects.
unsafe fn handle(r: *mut ngx_http_request_t) -> ngx_int_t {
    // SAFETY: r is live (phase handler).
    if unsafe { (*r).main } != r {
        return DECLINED;
    }
    // SAFETY: r is live and its configuration arrays hold this module's confs.
    let (main, loc) = unsafe { confs(r) };
    if !loc.active || main.engine.is_null() {
        return DECLINED;
    }
    // SAFETY: r is a live main request.
    let ctx = match unsafe { ctx::find(r) } {
        Some(ctx) => ctx,
        // SAFETY: as above, and it has no context yet.
        None => match unsafe { start(r) } {
            Ok(ctx) => ctx,
            Err(rc) => return rc,
        },
    };
    // SAFETY: ctx lives in the request pool.
    match unsafe { (*ctx).state } {
        State::Done => DECLINED,
        State::ReadingBody => {
            // SAFETY: as above.
            unsafe { (*ctx).waiting = true };
            DONE
        }
        // SAFETY: r is live; ctx belongs to it; the engine lives as long as the cycle.
        State::Ready => unsafe { judge(r, ctx, main, loc) },
    }
}

/// This module's main and location configuration for the request.
pub(crate) unsafe fn confs<'a>(r: *mut ngx_http_request_t) -> (&'a MainConf, &'a LocConf) {
    let i = ctx_index();
    // SAFETY: main_conf/loc_conf have an entry per HTTP module, ours created by this module and
    // living as long as the configuration cycle.
    unsafe {
        (
            &*(*(*r).main_conf.add(i)).cast::<MainConf>(),
            &*(*(*r).loc_conf.add(i)).cast::<LocConf>(),
        )
    }
}

/// True when the request announces a body (HTTP/2 without content-length counts as chunked).
unsafe fn has_body(r: *mut ngx_http_request_t) -> bool {
    // SAFETY: r is live.
    let h = unsafe { &(*r).headers_in };
    h.content_length_n > 0 || h.chunked() != 0
}

/// Creates the context and starts reading the body when there is one. `Err` carries the
/// handler's return code when it must stop here.
unsafe fn start(r: *mut ngx_http_request_t) -> Result<*mut RequestCtx, ngx_int_t> {
    // SAFETY: r is a live main request without a context.
    let ctx = unsafe { ctx::create(r) }.ok_or(ERROR)?;
    // SAFETY: r is live.
    if !unsafe { has_body(r) } {
        return Ok(ctx);
    }
    // SAFETY: ctx lives in the request pool.
    unsafe { (*ctx).state = State::ReadingBody };
    // SAFETY: r is live; the post handler matches the expected signature.
    let rc = unsafe { ngx_http_read_client_request_body(r, Some(body_read)) };
    if rc == ERROR || rc >= NGX_HTTP_SPECIAL_RESPONSE as ngx_int_t {
        // SAFETY: as above. The request is finalised with `rc`; never inspect it later.
        unsafe { (*ctx).state = State::Done };
        return Err(rc);
    }
    // SAFETY: as above. The post handler has run already unless the body is still arriving.
    if rc == NGX_AGAIN as ngx_int_t || unsafe { (*ctx).state } == State::ReadingBody {
        // SAFETY: as above.
        unsafe { (*ctx).waiting = true };
        return Err(DONE);
    }
    Ok(ctx)
}

/// Post handler of `ngx_http_read_client_request_body`: the whole body is there.
unsafe extern "C" fn body_read(r: *mut ngx_http_request_t) {
    // SAFETY: nginx calls the post handler with a live request; undo the reference that
    // ngx_http_read_client_request_body took on the main request.
    unsafe {
        let main = (*r).main;
        (*main).set_count((*main).count() - 1);
    }
    // SAFETY: as above.
    let log = unsafe { (*(*r).connection).log };
    // SAFETY: as above.
    no_unwind(log, "body post handler", (), || unsafe { resume(r) });
}

/// Marks the body as read and, if the phase handler returned `NGX_DONE`, re-runs the phases.
unsafe fn resume(r: *mut ngx_http_request_t) {
    // SAFETY: r is live.
    let Some(ctx) = (unsafe { ctx::find(r) }) else {
        return;
    };
    // SAFETY: ctx lives in the request pool.
    let waiting = unsafe {
        (*ctx).state = State::Ready;
        std::mem::replace(&mut (*ctx).waiting, false)
    };
    if waiting {
        // SAFETY: r is live; run_phases continues at our handler, which now judges.
        unsafe {
            (*r).write_event_handler = Some(ngx_http_core_run_phases);
            ngx_http_core_run_phases(r);
        }
    }
}

/// Runs the engine, records the summary for the variables, logs, and decides.
unsafe fn judge(
    r: *mut ngx_http_request_t,
    ctx: *mut RequestCtx,
    main: &MainConf,
    loc: &LocConf,
) -> ngx_int_t {
    // SAFETY: ctx lives in the request pool. Done first: whatever happens below, a request is
    // judged at most once.
    unsafe { (*ctx).state = State::Done };
    // SAFETY: r is live for the whole judgement, which `id` does not outlive.
    let id = unsafe { request_view::RequestId::new(r, main.request_id_index) };
    // SAFETY: r is live and unchanged during the check.
    let req = unsafe { request_view::build(r, Some(&id)) };
    // SAFETY: the engine and the registry live as long as the configuration cycle this request
    // uses; requests only read the registry.
    let (engine, registry) = unsafe { (&*main.engine, main.registry.as_ref()) };
    let rules = registry.and_then(|reg| reg.location_rules(&loc.rules));
    // SAFETY: r belongs to the cycle of main, loc and the engine.
    let client = unsafe { geo::client_of(r, main, loc, engine) };
    // SAFETY: as for the rules registry above.
    let policy = unsafe { main.geo.as_ref() }.and_then(|g| g.policy(&loc.geo));
    let access = policy.map(|p| &p.access);
    let verdict = engine.check_located(&req, Some(&loc.settings), rules, client, access);
    // SAFETY: r is live; ctx belongs to it.
    unsafe { record(r, ctx, &verdict) };
    // SAFETY: as above.
    unsafe { crate::clickhouse::prepare(r, ctx, main, &req, &verdict) };
    // SAFETY: r is live.
    let log = unsafe { (*(*r).connection).log };
    respond(log, &verdict)
}

/// Stores the verdict summary that `$moat_*` variables serve.
unsafe fn record(r: *mut ngx_http_request_t, ctx: *mut RequestCtx, verdict: &Verdict) {
    let ids = verdict.rule_ids();
    // SAFETY: r is live; the copy lives in the request pool as long as the context.
    let rule_ids = unsafe { pool_str(r, ids.as_bytes()) };
    // SAFETY: ctx lives in the request pool.
    unsafe {
        (*ctx).action = Some(verdict.action);
        (*ctx).score = verdict.score;
        (*ctx).rule_ids = rule_ids;
    }
}

/// Copies bytes into the request pool (an empty string when out of memory).
unsafe fn pool_str(r: *mut ngx_http_request_t, bytes: &[u8]) -> ngx_str_t {
    let empty = ngx_str_t {
        len: 0,
        data: std::ptr::null_mut(),
    };
    if bytes.is_empty() {
        return empty;
    }
    // SAFETY: r->pool is live.
    let p = unsafe { ngx_pnalloc((*r).pool, bytes.len()) }.cast::<u8>();
    if p.is_null() {
        return empty;
    }
    // SAFETY: `p` has room for `bytes.len()` bytes and does not overlap `bytes`.
    unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), p, bytes.len()) };
    ngx_str_t {
        len: bytes.len(),
        data: p,
    }
}

/// Logs the verdict and returns the phase handler's result: the status for a block, otherwise
/// `NGX_DECLINED` so the request continues.
fn respond(log: *mut ngx_log_t, verdict: &Verdict) -> ngx_int_t {
    let blocked = verdict.action == Action::Block && verdict.fail_open.is_none();
    if let Some(line) = verdict.log_line() {
        let level = if blocked || verdict.fail_open.is_some() {
            NGX_LOG_ERR
        } else {
            NGX_LOG_WARN
        };
        write_log(log, level, &line);
    }
    match verdict.status {
        status @ 400..=599 if blocked => ngx_int_t::from(status as i16),
        _ if blocked => FALLBACK_BLOCK_STATUS,
        _ => DECLINED,
    }
}
