//! GeoIP in nginx: the `moat_geoip` / `moat_geoip_asn` databases (opened while nginx parses its
//! configuration, in the master, so every worker shares the mapping), the per-location client
//! address and access-list directives, and the client of each request, located once and kept
//! in the request pool for the handler and the `$moat_geo_*` variables.
//!
//! [`LocConf`] is plain pool memory that is never dropped, so it keeps only indices
//! ([`GeoConf`]); the policies live in one [`GeoRegistry`] per `http` block, freed with the
//! configuration pool.

use std::ffi::{c_char, c_void};
use std::mem::size_of;
use std::sync::Arc;

use moat::geo::{ClientGeo, Geo, GeoDatabase, GeoPolicy, GeoPolicyPatch};
use moat::Engine;
use ngx::ffi::{
    ngx_command_t, ngx_conf_t, ngx_http_request_t, ngx_pool_cleanup_add, ngx_pool_cleanup_t,
    ngx_str_t,
};

use crate::config::{main_conf_of, run_directive, LocConf, MainConf};
use crate::request_view;
use crate::rules::full_paths;

/// The geo directives of one configuration level, as indices into the [`GeoRegistry`].
#[derive(Clone, Copy, Default)]
pub struct GeoConf {
    /// The directives written at this level.
    own: Option<u32>,
    /// The merged policy in force here.
    merged: Option<u32>,
}

/// Owned geo data of one configuration cycle.
#[derive(Default)]
pub struct GeoRegistry {
    /// `moat_geoip` (City or Country database), until the engine takes it.
    location: Option<GeoDatabase>,
    /// `moat_geoip_asn`, until the engine takes it.
    asn: Option<GeoDatabase>,
    /// True once a database directive was seen (so a second one is a duplicate).
    location_set: bool,
    asn_set: bool,
    /// Patches as written at one level.
    patches: Vec<GeoPolicyPatch>,
    /// Merged patches and their resolved policies (same indices).
    merged: Vec<(GeoPolicyPatch, GeoPolicy)>,
}

impl GeoRegistry {
    /// The GeoIP databases, moved out into the engine's [`Geo`] (`None` without any).
    pub fn take_databases(&mut self) -> Option<Arc<Geo>> {
        if self.location.is_none() && self.asn.is_none() {
            return None;
        }
        Some(Arc::new(Geo::new(self.location.take(), self.asn.take())))
    }

    /// The policy in force at a level (`None`: the defaults, nothing trusted, no lists).
    pub fn policy(&self, conf: &GeoConf) -> Option<&GeoPolicy> {
        conf.merged
            .and_then(|i| self.merged.get(i as usize))
            .map(|(_, p)| p)
    }

    /// The merged patch of a level: its own merged one, or its own as written (`http`).
    fn effective(&self, conf: &GeoConf) -> Option<&GeoPolicyPatch> {
        match conf.merged {
            Some(i) => self.merged.get(i as usize).map(|(p, _)| p),
            None => conf.own.and_then(|i| self.patches.get(i as usize)),
        }
    }
}

/// Completes a level's policy from its parent's.
pub fn merge(
    registry: &mut GeoRegistry,
    parent: &GeoConf,
    child: &mut GeoConf,
) -> Result<(), String> {
    let inherited = registry.effective(parent).cloned();
    let own = child
        .own
        .and_then(|i| registry.patches.get(i as usize))
        .cloned();
    let patch = match (own, inherited) {
        (None, None) => return Ok(()),
        (Some(mut own), Some(parent)) => {
            own.inherit(&parent);
            own
        }
        (Some(p), None) | (None, Some(p)) => p,
    };
    let resolved = patch.resolve();
    let index = u32::try_from(registry.merged.len()).map_err(|_| "too many geo policies")?;
    registry.merged.push((patch, resolved));
    child.merged = Some(index);
    Ok(())
}

/// The handler of the geo directives.
pub unsafe extern "C" fn set_geo_directive(
    cf: *mut ngx_conf_t,
    cmd: *mut ngx_command_t,
    conf: *mut c_void,
) -> *mut c_char {
    let work = || {
        // SAFETY: nginx passes its own command entry and this module's location configuration
        // (conf offset NGX_HTTP_LOC_CONF_OFFSET) while parsing inside `http`.
        unsafe { apply(cf, &*cmd, &mut *conf.cast::<LocConf>()) }
    };
    // SAFETY: cf is nginx's live configuration context.
    unsafe { run_directive(cf, work) }
}

unsafe fn apply(
    cf: *mut ngx_conf_t,
    cmd: &ngx_command_t,
    conf: &mut LocConf,
) -> Result<(), String> {
    // SAFETY: directives of this module are only accepted inside `http`.
    let main = unsafe { main_conf_of(cf) }.ok_or("no http configuration")?;
    // SAFETY: the registry lives as long as the configuration pool; configuration parsing is
    // single-threaded and nothing else borrows it now.
    let registry = unsafe { main.geo.as_mut() }.ok_or("no geo registry")?;
    // SAFETY: during a directive handler cf->args is an array of ngx_str_t whose first element
    // is the directive name.
    let args = unsafe { &(*(*cf).args).as_slice::<ngx_str_t>()[1..] };
    let name = std::str::from_utf8(cmd.name.as_bytes()).map_err(|e| e.to_string())?;
    match name {
        "moat_geoip" | "moat_geoip_asn" => {
            // SAFETY: cf is the live configuration context.
            let paths = unsafe { full_paths(cf, args) }?;
            let set = if name == "moat_geoip" {
                &mut registry.location_set
            } else {
                &mut registry.asn_set
            };
            if std::mem::replace(set, true) {
                return Err(format!("\"{name}\" directive is duplicate"));
            }
            let db = GeoDatabase::open(&paths[0])?;
            if name == "moat_geoip" {
                registry.location = Some(db);
            } else {
                registry.asn = Some(db);
            }
        }
        _ => {
            let words = args
                .iter()
                .map(|a| {
                    std::str::from_utf8(a.as_bytes()).map_err(|_| {
                        format!(
                            "invalid value \"{}\": not UTF-8",
                            String::from_utf8_lossy(a.as_bytes())
                        )
                    })
                })
                .collect::<Result<Vec<&str>, String>>()?;
            let index = match conf.geo.own {
                Some(i) => i,
                None => {
                    let i = u32::try_from(registry.patches.len())
                        .map_err(|_| "too many geo policies")?;
                    registry.patches.push(GeoPolicyPatch::default());
                    conf.geo.own = Some(i);
                    i
                }
            };
            registry.patches[index as usize].apply(name, &words)?;
        }
    }
    main.used = true;
    Ok(())
}

/// The request's located client, kept in a cleanup entry of the request pool (found again
/// after internal redirects; its cleanup handler releases the shared lookup result).
struct GeoCtx {
    located: bool,
    client: Option<ClientGeo>,
}

/// Pool cleanup that drops a [`GeoCtx`]; also marks its cleanup entry.
unsafe extern "C" fn drop_geo_ctx(data: *mut c_void) {
    // SAFETY: entries with this handler carry a GeoCtx written by `geo_ctx`, dropped once here
    // when the pool is destroyed.
    let _ = std::panic::catch_unwind(|| unsafe { std::ptr::drop_in_place(data.cast::<GeoCtx>()) });
}

fn is_geo_ctx(cln: &ngx_pool_cleanup_t) -> bool {
    let marker: unsafe extern "C" fn(*mut c_void) = drop_geo_ctx;
    cln.handler.is_some_and(|h| h as usize == marker as usize)
}

/// The main request's geo context, created on first use; `None` when out of memory.
unsafe fn geo_ctx(r: *mut ngx_http_request_t) -> Option<*mut GeoCtx> {
    // SAFETY: r is live; its main request shares its pool; the cleanup list is null-terminated.
    let pool = unsafe { (*(*r).main).pool };
    // SAFETY: as above.
    let mut cln = unsafe { (*pool).cleanup };
    while !cln.is_null() {
        // SAFETY: `cln` is a valid entry of the list.
        let entry = unsafe { &*cln };
        if is_geo_ctx(entry) && !entry.data.is_null() {
            return Some(entry.data.cast());
        }
        cln = entry.next;
    }
    // SAFETY: the pool is live; the data is word-aligned, enough for GeoCtx.
    let cln = unsafe { ngx_pool_cleanup_add(pool, size_of::<GeoCtx>()) };
    if cln.is_null() {
        return None;
    }
    // SAFETY: the entry and its data are fresh.
    unsafe {
        let data = (*cln).data.cast::<GeoCtx>();
        data.write(GeoCtx {
            located: false,
            client: None,
        });
        (*cln).handler = Some(drop_geo_ctx);
        Some(data)
    }
}

/// The request's client (address after trusted proxies, and its location), located once per
/// request with the policy of the location that first asks.
///
/// # Safety
/// `r` must be a live request of the cycle that owns `main`, `loc` and `engine`.
pub unsafe fn client_of(
    r: *mut ngx_http_request_t,
    main: &MainConf,
    loc: &LocConf,
    engine: &Engine,
) -> Option<ClientGeo> {
    // SAFETY: the registry lives as long as the cycle; requests only read it.
    let policy = unsafe { main.geo.as_ref() }.and_then(|g| g.policy(&loc.geo));
    let proxies = policy.is_some_and(|p| !p.client_ip.trusted.is_empty());
    if engine.geo().is_none() && !proxies {
        return None;
    }
    // SAFETY: r is live.
    let ctx = unsafe { geo_ctx(r) }?;
    // SAFETY: ctx lives in the request pool; requests are handled on one thread.
    let ctx = unsafe { &mut *ctx };
    if !ctx.located {
        ctx.located = true;
        // SAFETY: r is live and unchanged while the view is used. Locating the client reads
        // no request id.
        let req = unsafe { request_view::build(r, None) };
        ctx.client = engine.locate(&req, policy.map(|p| &p.client_ip));
    }
    ctx.client.clone()
}
