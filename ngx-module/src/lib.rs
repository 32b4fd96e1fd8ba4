//! nginx dynamic module `ngx_http_moat_module`: runs the Moat engine in the PREACCESS phase.
//!
//! # Directives
//!
//! All directives are allowed in `http`, `server` and `location` blocks; a level inherits every
//! value it does not set from the level above. Settings values are parsed and checked by
//! [`moat::SettingsPatch::apply`], so nginx, the Lua binding and the CLI accept the same syntax.
//!
//! | directive | value |
//! |---|---|
//! | `moat` | `on` (inspect and block), `detect` (inspect and log only), `off` |
//! | `moat_threshold` | anomaly score that blocks, 1..=10000 (default 5) |
//! | `moat_block_status` | status sent for a block, 400..=599 (default 403) |
//! | `moat_body_limit` | body bytes inspected, e.g. `512k`, `8m` (default 8m) |
//! | `moat_body_limit_action` | `reject` (413) or `inspect` the first bytes (default) |
//! | `moat_time_budget` | inspection time before failing open, e.g. `5ms` (default 5ms) |
//! | `moat_detectors` | `off`: the built-in detectors do not run, the rules judge alone (default `on`) |
//! | `moat_rules_file` | SecLang files loaded in order as one rule set (OWASP CRS) |
//! | `moat_rules_remove_by_id` | rule ids and ranges removed at this level (rules files and built-in detectors) |
//! | `moat_geoip`, `moat_geoip_asn` | MaxMind City/Country and ASN databases (`http` only) |
//! | `moat_trusted_proxies` | proxies whose forwarding header gives the client's address |
//! | `moat_client_ip_header` | that header: `X-Forwarded-For` (default), `X-Real-IP`, a name |
//! | `moat_geo_deny`, `moat_geo_allow` | country codes, `AS` numbers, `unknown`; or `off` |
//! | `moat_log_clickhouse` | `http` only: stream every decision to ClickHouse (see `clickhouse`) |
//! | `moat_metrics` | `location` only: serve Prometheus metrics of all workers (see `metrics`) |
//!
//! **Rules.** A level naming its own `moat_rules_file` uses only those files, not the inherited
//! ones; `moat_rules_remove_by_id` accumulates from `http` to `server` to `location`. Rule files
//! are loaded while nginx parses its configuration (errors fail `nginx -t`), once per distinct
//! list of files, and freed with the configuration cycle (see the `rules` module).
//!
//! **Activation.** Loading the module changes nothing by itself: requests are inspected only in
//! locations where `moat on` or `moat detect` applies, set at that level or inherited from
//! `server` or `http`. Where no level sets `moat`, the module stays out of the way, even if other
//! `moat_*` directives are present.
//!
//! # Variables
//!
//! `$moat_action` (`allow`, `log` or `block`; empty when the request was not inspected),
//! `$moat_score` (anomaly score) and `$moat_rule_ids` (matched rule ids, comma-separated), for
//! `log_format`, `proxy_set_header` and the like; with GeoIP, `$moat_client_ip` and
//! `$moat_geo_*` (see the `geo_variables` module). `$moat_clickhouse` shows this worker's event
//! forwarder counters.
//!
//! # Behaviour
//!
//! The request (including its complete body, read before judging) is inspected once, even across
//! internal redirects; subrequests are not inspected. A block is logged at `error` level and
//! answered with the verdict's status; a detection that passes is logged at `warn`; an incomplete
//! inspection (engine panic, time budget, body read error) is logged at `error` and the request
//! passes. No Rust panic ever unwinds into nginx.

mod clickhouse;
mod config;
mod ctx;
mod geo;
mod geo_variables;
mod guard;
mod handler;
mod metrics;
mod request_view;
mod rules;
mod variables;

use std::ffi::c_void;
use std::ptr::{addr_of, addr_of_mut};

use ngx::ffi::{ngx_command_t, ngx_http_module_t, ngx_module_t, ngx_uint_t, NGX_HTTP_MODULE};

/// The HTTP module context: configuration hooks.
static MODULE_CTX: ngx_http_module_t = ngx_http_module_t {
    preconfiguration: Some(variables::preconfiguration),
    postconfiguration: Some(config::postconfiguration),
    create_main_conf: Some(config::create_main_conf),
    init_main_conf: None,
    create_srv_conf: None,
    merge_srv_conf: None,
    create_loc_conf: Some(config::create_loc_conf),
    merge_loc_conf: Some(config::merge_loc_conf),
};

/// The directive table; nginx wants a mutable pointer to it.
static mut COMMANDS: [ngx_command_t; config::COMMAND_COUNT] = config::COMMANDS;

/// The module descriptor that nginx loads (`load_module .../libngx_http_moat_module.so;`).
#[no_mangle]
#[allow(non_upper_case_globals)]
pub static mut ngx_http_moat_module: ngx_module_t = ngx_module_t {
    ctx: addr_of!(MODULE_CTX) as *mut c_void,
    commands: addr_of_mut!(COMMANDS) as *mut ngx_command_t,
    type_: NGX_HTTP_MODULE as ngx_uint_t,
    init_module: Some(init_module),
    init_process: Some(clickhouse::init_process),
    exit_process: Some(clickhouse::exit_process),
    ..ngx_module_t::default()
};

ngx::ngx_modules!(ngx_http_moat_module);

/// `init_module` hook (master, once the configuration is read): logs the rule set loads and
/// prepares the ClickHouse spool directory.
unsafe extern "C" fn init_module(cycle: *mut ngx::ffi::ngx_cycle_t) -> ngx::ffi::ngx_int_t {
    // SAFETY: nginx passes the cycle being initialised.
    let rc = unsafe { rules::init_module(cycle) };
    // SAFETY: as above.
    let log = unsafe { (*cycle).log };
    // SAFETY: as above.
    guard::no_unwind(log, "init_module", (), || unsafe {
        clickhouse::init_module(cycle)
    });
    rc
}

/// The module's index into the per-module configuration and context arrays.
fn ctx_index() -> usize {
    // SAFETY: nginx writes `ctx_index` once while loading modules, before any hook of this
    // module runs; afterwards it is only read.
    unsafe { (*addr_of!(ngx_http_moat_module)).ctx_index }
}
