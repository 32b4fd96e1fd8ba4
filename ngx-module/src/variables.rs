//! The `$moat_action`, `$moat_score` and `$moat_rule_ids` variables.

use ngx::ffi::{
    ngx_conf_t, ngx_http_add_variable, ngx_http_request_t, ngx_http_variable_value_t, ngx_int_t,
    ngx_pnalloc, ngx_str_t, ngx_uint_t, NGX_ERROR, NGX_HTTP_VAR_NOCACHEABLE, NGX_OK,
};
use ngx::ngx_string;

use crate::ctx::{self, RequestCtx};
use crate::guard::no_unwind;

/// Which value a variable serves (its `data`).
#[derive(Clone, Copy)]
enum Var {
    Action = 0,
    Score = 1,
    RuleIds = 2,
}

/// `preconfiguration` hook: declares the variables (not cached: they change once the request
/// is judged).
pub unsafe extern "C" fn preconfiguration(cf: *mut ngx_conf_t) -> ngx_int_t {
    // SAFETY: nginx passes a valid configuration context.
    let log = unsafe { (*cf).log };
    no_unwind(log, "preconfiguration", NGX_ERROR as ngx_int_t, || {
        let vars = [
            (ngx_string!("moat_action"), Var::Action),
            (ngx_string!("moat_score"), Var::Score),
            (ngx_string!("moat_rule_ids"), Var::RuleIds),
        ];
        for (mut name, which) in vars {
            // SAFETY: valid cf; nginx copies the name.
            let v = unsafe {
                ngx_http_add_variable(cf, &mut name, NGX_HTTP_VAR_NOCACHEABLE as ngx_uint_t)
            };
            // SAFETY: a non-null result is the new variable's descriptor.
            let Some(v) = (unsafe { v.as_mut() }) else {
                return NGX_ERROR as ngx_int_t;
            };
            v.get_handler = Some(get_variable);
            v.data = which as usize;
        }
        // SAFETY: valid cf during preconfiguration.
        let added = unsafe { crate::geo_variables::add(cf) }
            // SAFETY: valid cf.
            .and_then(|()| unsafe { crate::clickhouse::add_variable(cf) });
        match added {
            Ok(()) => NGX_OK as ngx_int_t,
            Err(()) => NGX_ERROR as ngx_int_t,
        }
    })
}

/// Variable getter: the verdict summary of the main request, empty before judgement.
unsafe extern "C" fn get_variable(
    r: *mut ngx_http_request_t,
    v: *mut ngx_http_variable_value_t,
    data: usize,
) -> ngx_int_t {
    // SAFETY: nginx calls getters with a live request and connection.
    let log = unsafe { (*(*r).connection).log };
    no_unwind(log, "variable", NGX_ERROR as ngx_int_t, || {
        // SAFETY: r is live; its main request shares its pool and lifetime.
        let value = unsafe { value_of(r, data) };
        // SAFETY: nginx passes a writable value slot.
        let v = unsafe { &mut *v };
        v.set_len(value.len as u32);
        v.data = value.data;
        v.set_valid(1);
        v.set_no_cacheable(0);
        v.set_not_found(0);
        NGX_OK as ngx_int_t
    })
}

/// The variable's value in request pool (or static) memory.
unsafe fn value_of(r: *mut ngx_http_request_t, data: usize) -> ngx_str_t {
    let empty = ngx_str_t {
        len: 0,
        data: c"".as_ptr() as *mut u8,
    };
    // SAFETY: r and its main request are live.
    let Some(ctx) = (unsafe { ctx::find((*r).main) }) else {
        return empty;
    };
    // SAFETY: ctx lives in the request pool.
    let ctx: RequestCtx = unsafe { *ctx };
    let Some(action) = ctx.action else {
        return empty;
    };
    match data {
        d if d == Var::Action as usize => static_str(action.as_str()),
        d if d == Var::Score as usize => {
            // SAFETY: r is live.
            unsafe { pool_number(r, ctx.score) }.unwrap_or(empty)
        }
        _ if ctx.rule_ids.len == 0 => empty,
        _ => ctx.rule_ids,
    }
}

fn static_str(s: &'static str) -> ngx_str_t {
    ngx_str_t {
        len: s.len(),
        data: s.as_ptr() as *mut u8,
    }
}

/// Formats a number into request pool memory.
unsafe fn pool_number(r: *mut ngx_http_request_t, n: u32) -> Option<ngx_str_t> {
    let text = n.to_string();
    // SAFETY: r->pool is live.
    let p = unsafe { ngx_pnalloc((*r).pool, text.len()) }.cast::<u8>();
    if p.is_null() {
        return None;
    }
    // SAFETY: `p` has room for the text and does not overlap it.
    unsafe { std::ptr::copy_nonoverlapping(text.as_ptr(), p, text.len()) };
    Some(ngx_str_t {
        len: text.len(),
        data: p,
    })
}
