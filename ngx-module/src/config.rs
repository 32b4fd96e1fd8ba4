//! Configuration: the `moat*` directives, per-location settings and their merge, and the engine
//! created once per configuration cycle.

use std::ffi::{c_char, c_void};
use std::mem::size_of;
use std::ptr::{self, null_mut};

use moat::forward::config::LogConfig;
use moat::{Engine, Mode, Settings, SettingsPatch};
use ngx::ffi::{
    ngx_array_push, ngx_command_t, ngx_conf_t, ngx_http_conf_ctx_t, ngx_http_core_main_conf_t,
    ngx_http_core_module, ngx_http_get_variable_index, ngx_http_handler_pt,
    ngx_http_phases_NGX_HTTP_PREACCESS_PHASE, ngx_int_t, ngx_palloc, ngx_pool_cleanup_add,
    ngx_pool_t, ngx_str_t, ngx_uint_t, NGX_CONF_1MORE, NGX_CONF_TAKE1, NGX_ERROR,
    NGX_HTTP_LOC_CONF, NGX_HTTP_LOC_CONF_OFFSET, NGX_HTTP_MAIN_CONF, NGX_HTTP_SRV_CONF,
    NGX_LOG_EMERG, NGX_OK,
};
use ngx::ngx_string;

use crate::clickhouse;
use crate::geo::{self, GeoConf, GeoRegistry};
use crate::guard::no_unwind;
use crate::metrics;
use crate::rules::{self, Registry, RulesConf};
use crate::{ctx_index, handler};

/// `NGX_CONF_OK`: a configuration hook succeeded.
pub const CONF_OK: *mut c_char = null_mut();
/// `NGX_CONF_ERROR`: a configuration hook failed (the error is already logged).
pub const CONF_ERROR: *mut c_char = usize::MAX as *mut c_char;

/// State of one `http` block (one per configuration cycle).
#[derive(Clone, Copy)]
pub struct MainConf {
    /// The engine, created in postconfiguration when some `moat*` directive is used.
    pub engine: *const Engine,
    /// Index of nginx's `$request_id` variable, or `NGX_ERROR`.
    pub request_id_index: ngx_int_t,
    /// True once any `moat*` directive appeared in this `http` block.
    pub used: bool,
    /// Rule sets and removal lists of this cycle, freed by a pool cleanup.
    pub registry: *mut Registry,
    /// GeoIP databases and geo policies of this cycle, freed by a pool cleanup.
    pub geo: *mut GeoRegistry,
    /// `moat_log_clickhouse` settings (null when events are off), freed by a pool cleanup.
    pub events: *mut LogConfig,
}

/// Settings of one `http`, `server` or `location` level.
#[derive(Clone, Copy, Default)]
pub struct LocConf {
    /// The directives as written at this level, then merged with the levels above.
    pub patch: SettingsPatch,
    /// `patch` with defaults filled in, valid after merge.
    pub settings: Settings,
    /// True where `moat on` or `moat detect` applies (set here or inherited).
    pub active: bool,
    /// Rule set and removed rule ids (indices into the [`Registry`]).
    pub rules: RulesConf,
    /// Client address and geo access policy (indices into the [`GeoRegistry`]).
    pub geo: GeoConf,
}

/// Number of entries in [`COMMANDS`], including the terminator.
pub const COMMAND_COUNT: usize = 18;

/// The directive table: the settings directives (names as in [`moat::settings::DIRECTIVES`]),
/// the rules directives, `moat_log_clickhouse` and `moat_metrics`.
pub const COMMANDS: [ngx_command_t; COMMAND_COUNT] = [
    directive(ngx_string!("moat"), set_directive),
    directive(ngx_string!("moat_threshold"), set_directive),
    directive(ngx_string!("moat_block_status"), set_directive),
    directive(ngx_string!("moat_body_limit"), set_directive),
    directive(ngx_string!("moat_body_limit_action"), set_directive),
    directive(ngx_string!("moat_time_budget"), set_directive),
    directive(ngx_string!("moat_detectors"), set_directive),
    directive(ngx_string!("moat_rules_file"), rules::set_rules_directive),
    directive(
        ngx_string!("moat_rules_remove_by_id"),
        rules::set_rules_directive,
    ),
    main_directive(ngx_string!("moat_geoip"), geo::set_geo_directive),
    main_directive(ngx_string!("moat_geoip_asn"), geo::set_geo_directive),
    directive(ngx_string!("moat_trusted_proxies"), geo::set_geo_directive),
    directive(ngx_string!("moat_client_ip_header"), geo::set_geo_directive),
    directive(ngx_string!("moat_geo_deny"), geo::set_geo_directive),
    directive(ngx_string!("moat_geo_allow"), geo::set_geo_directive),
    clickhouse::DIRECTIVE,
    metrics::DIRECTIVE,
    ngx_command_t::empty(),
];

/// A directive handler as nginx calls it.
type SetFn = unsafe extern "C" fn(*mut ngx_conf_t, *mut ngx_command_t, *mut c_void) -> *mut c_char;

const fn directive(name: ngx_str_t, set: SetFn) -> ngx_command_t {
    ngx_command_t {
        name,
        type_: (NGX_HTTP_MAIN_CONF | NGX_HTTP_SRV_CONF | NGX_HTTP_LOC_CONF | NGX_CONF_1MORE)
            as ngx_uint_t,
        set: Some(set),
        conf: NGX_HTTP_LOC_CONF_OFFSET,
        offset: 0,
        post: null_mut(),
    }
}

/// A directive allowed only in `http`, with one argument.
const fn main_directive(name: ngx_str_t, set: SetFn) -> ngx_command_t {
    ngx_command_t {
        type_: (NGX_HTTP_MAIN_CONF | NGX_CONF_TAKE1) as ngx_uint_t,
        ..directive(name, set)
    }
}

/// Moves `value` into memory from `pool`; null when the pool is out of memory. The value is never
/// dropped, so `T` must not own resources.
unsafe fn pool_alloc<T: Copy>(pool: *mut ngx_pool_t, value: T) -> *mut T {
    // SAFETY: the caller passes a live pool; ngx_palloc aligns to NGX_ALIGNMENT (a word), which
    // covers every type stored here.
    let p = unsafe { ngx_palloc(pool, size_of::<T>()) }.cast::<T>();
    if !p.is_null() {
        // SAFETY: `p` is freshly allocated, large enough and aligned for `T`.
        unsafe { p.write(value) };
    }
    p
}

/// `create_main_conf` hook.
pub unsafe extern "C" fn create_main_conf(cf: *mut ngx_conf_t) -> *mut c_void {
    // SAFETY: nginx passes a valid configuration context.
    let (pool, log) = unsafe { ((*cf).pool, (*cf).log) };
    no_unwind(log, "create_main_conf", null_mut(), || {
        // SAFETY: `pool` is the live configuration pool.
        let Some(registry) = (unsafe { pool_box(pool, Registry::default()) }) else {
            return null_mut();
        };
        // SAFETY: as above.
        let Some(geo) = (unsafe { pool_box(pool, GeoRegistry::default()) }) else {
            return null_mut();
        };
        let conf = MainConf {
            engine: ptr::null(),
            request_id_index: NGX_ERROR as ngx_int_t,
            used: false,
            registry,
            geo,
            events: ptr::null_mut(),
        };
        // SAFETY: `pool` is the configuration pool; MainConf's engine and registry are freed by
        // separate pool cleanups, so the struct itself needs no drop.
        unsafe { pool_alloc(pool, conf) }.cast()
    })
}

/// `create_loc_conf` hook.
pub unsafe extern "C" fn create_loc_conf(cf: *mut ngx_conf_t) -> *mut c_void {
    // SAFETY: nginx passes a valid configuration context.
    let (pool, log) = unsafe { ((*cf).pool, (*cf).log) };
    no_unwind(log, "create_loc_conf", null_mut(), || {
        // SAFETY: `pool` is the live configuration pool.
        unsafe { pool_alloc(pool, LocConf::default()) }.cast()
    })
}

/// `merge_loc_conf` hook: unset values come from the enclosing level.
pub unsafe extern "C" fn merge_loc_conf(
    cf: *mut ngx_conf_t,
    parent: *mut c_void,
    child: *mut c_void,
) -> *mut c_char {
    // SAFETY: nginx passes a valid configuration context.
    let log = unsafe { (*cf).log };
    no_unwind(log, "merge_loc_conf", CONF_ERROR, || {
        // SAFETY: both pointers come from create_loc_conf of this module and are distinct.
        let (parent, child) =
            unsafe { (&*parent.cast::<LocConf>(), &mut *child.cast::<LocConf>()) };
        child.patch.inherit(&parent.patch);
        child.settings = child.patch.resolve();
        child.active = matches!(child.patch.mode, Some(Mode::On | Mode::Detect));
        // SAFETY: merging happens inside `http`; the registry lives as long as the
        // configuration pool and nothing else borrows it during the single-threaded merge.
        let registry = unsafe { main_conf_of(cf).and_then(|m| m.registry.as_mut()) };
        let merged = registry
            .ok_or_else(|| "no rules registry".to_string())
            .and_then(|reg| rules::merge(reg, &parent.rules, &mut child.rules))
            .and_then(|()| {
                // SAFETY: as for the rules registry above.
                let geo = unsafe { main_conf_of(cf).and_then(|m| m.geo.as_mut()) };
                let geo = geo.ok_or_else(|| "no geo registry".to_string())?;
                geo::merge(geo, &parent.geo, &mut child.geo)
            });
        match merged {
            Ok(()) => CONF_OK,
            Err(msg) => {
                ngx::ngx_conf_log_error!(NGX_LOG_EMERG, cf, "{msg}");
                CONF_ERROR
            }
        }
    })
}

/// The handler of every `moat*` directive: applies it to the level's [`LocConf`].
unsafe extern "C" fn set_directive(
    cf: *mut ngx_conf_t,
    cmd: *mut ngx_command_t,
    conf: *mut c_void,
) -> *mut c_char {
    let work = || {
        // SAFETY: nginx passes its own command entry, the current arguments and this
        // module's location configuration (conf offset NGX_HTTP_LOC_CONF_OFFSET).
        unsafe { apply_directive(cf, &*cmd, &mut *conf.cast::<LocConf>()) }?;
        // SAFETY: directives of this module are only accepted inside `http`.
        if let Some(main) = unsafe { main_conf_of(cf) } {
            main.used = true;
        }
        Ok(())
    };
    // SAFETY: cf is nginx's live configuration context.
    unsafe { run_directive(cf, work) }
}

/// Runs the work of a directive handler: a panic cannot unwind into nginx, and an error is
/// logged at `emerg` with nginx's `in FILE:LINE`, failing the configuration.
///
/// # Safety
/// `cf` is the live configuration context nginx passed to the handler.
pub unsafe fn run_directive(
    cf: *mut ngx_conf_t,
    apply: impl FnOnce() -> Result<(), String>,
) -> *mut c_char {
    // SAFETY: the caller passes nginx's valid configuration context.
    let log = unsafe { (*cf).log };
    no_unwind(log, "directive handler", CONF_ERROR, || match apply() {
        Ok(()) => CONF_OK,
        Err(msg) => {
            ngx::ngx_conf_log_error!(NGX_LOG_EMERG, cf, "{msg}");
            CONF_ERROR
        }
    })
}

unsafe fn apply_directive(
    cf: *mut ngx_conf_t,
    cmd: &ngx_command_t,
    conf: &mut LocConf,
) -> Result<(), String> {
    let name = std::str::from_utf8(cmd.name.as_bytes()).map_err(|e| e.to_string())?;
    // SAFETY: during a directive handler cf->args is an array of ngx_str_t whose first element
    // is the directive name.
    let words = unsafe { (*(*cf).args).as_slice::<ngx_str_t>() };
    let mut args = Vec::with_capacity(words.len().saturating_sub(1));
    for word in words.iter().skip(1) {
        let bytes = word.as_bytes();
        let arg = std::str::from_utf8(bytes).map_err(|_| {
            format!(
                "invalid value \"{}\": not UTF-8",
                String::from_utf8_lossy(bytes)
            )
        })?;
        args.push(arg);
    }
    conf.patch.apply(name, &args)
}

/// The module's main configuration while parsing inside `http`.
pub unsafe fn main_conf_of<'a>(cf: *mut ngx_conf_t) -> Option<&'a mut MainConf> {
    // SAFETY: inside `http` cf->ctx is an ngx_http_conf_ctx_t whose main_conf array has an entry
    // for every HTTP module, ours created by create_main_conf.
    unsafe {
        let ctx = (*cf).ctx.cast::<ngx_http_conf_ctx_t>();
        let main = *(*ctx).main_conf.add(ctx_index());
        main.cast::<MainConf>().as_mut()
    }
}

/// `postconfiguration` hook: when the `http` block uses the module, creates the engine, finds
/// `$request_id` and registers the PREACCESS handler.
pub unsafe extern "C" fn postconfiguration(cf: *mut ngx_conf_t) -> ngx_int_t {
    // SAFETY: nginx passes a valid configuration context.
    let log = unsafe { (*cf).log };
    no_unwind(log, "postconfiguration", NGX_ERROR as ngx_int_t, || {
        // SAFETY: postconfiguration runs inside `http` with a valid cf.
        match unsafe { init_http(cf) } {
            Ok(()) => NGX_OK as ngx_int_t,
            Err(()) => NGX_ERROR as ngx_int_t,
        }
    })
}

unsafe fn init_http(cf: *mut ngx_conf_t) -> Result<(), ()> {
    // SAFETY: see main_conf_of; called from postconfiguration.
    let main = unsafe { main_conf_of(cf) }.ok_or(())?;
    if !main.used {
        return Ok(());
    }
    let mut name = ngx_string!("request_id");
    // SAFETY: valid cf and name; the index is resolved by nginx after postconfiguration.
    main.request_id_index = unsafe { ngx_http_get_variable_index(cf, &mut name) };
    // SAFETY: valid cf during postconfiguration.
    main.engine = unsafe { create_engine(cf) }?;
    // SAFETY: valid cf during postconfiguration; main lives in the configuration pool.
    unsafe { metrics::add_zone(cf, main) }?;
    // SAFETY: valid cf during postconfiguration.
    unsafe { register_handler(cf) }?;
    if main.events.is_null() {
        return Ok(());
    }
    // SAFETY: valid cf during postconfiguration.
    unsafe { clickhouse::register_log_handler(cf) }
}

/// Creates the engine and ties its lifetime to the configuration pool, so a reload frees the
/// previous cycle's engine.
unsafe fn create_engine(cf: *mut ngx_conf_t) -> Result<*const Engine, ()> {
    // SAFETY: postconfiguration runs inside `http`; the registry is only used by this thread.
    let geo = unsafe { main_conf_of(cf).and_then(|m| m.geo.as_mut()) }
        .and_then(GeoRegistry::take_databases);
    let mut engine = Engine::new(Settings::default());
    if let Some(geo) = geo {
        engine = engine.with_geo(geo);
    }
    // SAFETY: cf->pool is the live configuration pool.
    let engine = unsafe { pool_box((*cf).pool, engine) };
    engine.map(|e| e.cast_const()).ok_or(())
}

/// Boxes `value` and registers a cleanup on `pool` that drops it when the pool is destroyed
/// (for the configuration pool: when its cycle ends). `None` when the pool is out of memory.
pub unsafe fn pool_box<T>(pool: *mut ngx_pool_t, value: T) -> Option<*mut T> {
    // SAFETY: the caller passes a live pool.
    let cln = unsafe { ngx_pool_cleanup_add(pool, 0) };
    if cln.is_null() {
        return None;
    }
    let boxed = Box::into_raw(Box::new(value));
    // SAFETY: `cln` is a fresh cleanup entry owned by the pool.
    unsafe {
        (*cln).handler = Some(drop_boxed::<T>);
        (*cln).data = boxed.cast();
    }
    Some(boxed)
}

/// Pool cleanup that frees a value boxed by [`pool_box`].
unsafe extern "C" fn drop_boxed<T>(data: *mut c_void) {
    // SAFETY: `data` is the Box pointer stored by pool_box with the same `T`, freed exactly once
    // here.
    let value = unsafe { Box::from_raw(data.cast::<T>()) };
    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || drop(value)));
}

unsafe fn register_handler(cf: *mut ngx_conf_t) -> Result<(), ()> {
    // SAFETY: inside `http` the core module's main conf exists; its PREACCESS handler array is
    // an ngx_array_t of ngx_http_handler_pt.
    unsafe {
        let ctx = (*cf).ctx.cast::<ngx_http_conf_ctx_t>();
        let cmcf = (*(*ctx).main_conf.add(ngx_http_core_module.ctx_index))
            .cast::<ngx_http_core_main_conf_t>();
        let phase = &mut (*cmcf).phases[ngx_http_phases_NGX_HTTP_PREACCESS_PHASE as usize];
        let slot = ngx_array_push(&mut phase.handlers).cast::<ngx_http_handler_pt>();
        if slot.is_null() {
            return Err(());
        }
        slot.write(Some(handler::preaccess_handler));
    }
    Ok(())
}
