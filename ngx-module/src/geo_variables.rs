//! The `$moat_geo_*` and `$moat_client_ip` variables: where the request's client is, for
//! `log_format`, `proxy_set_header` and the like. They work in every location of an `http`
//! block that configures `moat_geoip` (or `moat_trusted_proxies`), inspected or not; an
//! unknown value is "not found" (`-` in access logs).

use ngx::ffi::{
    ngx_conf_t, ngx_http_add_variable, ngx_http_request_t, ngx_http_variable_value_t, ngx_int_t,
    ngx_pnalloc, ngx_uint_t, NGX_ERROR, NGX_HTTP_VAR_NOCACHEABLE, NGX_OK,
};

use moat::geo::ClientGeo;

use crate::guard::no_unwind;
use crate::{geo, handler};

/// Reads one field of the located client as text.
type Field = fn(&ClientGeo) -> Option<String>;

/// The variables and the field each serves (its index is the variable's `data`).
const VARIABLES: [(&str, Field); 10] = [
    ("moat_client_ip", |c| Some(c.ip.to_string())),
    ("moat_geo_country", |c| c.info.country_code.clone()),
    ("moat_geo_country_name", |c| c.info.country_name.clone()),
    ("moat_geo_continent", |c| c.info.continent_code.clone()),
    ("moat_geo_region", |c| c.info.region_name.clone()),
    ("moat_geo_city", |c| c.info.city.clone()),
    ("moat_geo_lat", |c| c.info.latitude.map(|v| v.to_string())),
    ("moat_geo_lon", |c| c.info.longitude.map(|v| v.to_string())),
    ("moat_geo_asn", |c| c.info.asn.map(|v| v.to_string())),
    ("moat_geo_asn_org", |c| c.info.asn_org.clone()),
];

/// Declares the variables (called from the module's preconfiguration).
///
/// # Safety
/// `cf` must be the configuration context of preconfiguration.
pub unsafe fn add(cf: *mut ngx_conf_t) -> Result<(), ()> {
    for (index, (name, _)) in VARIABLES.iter().enumerate() {
        let mut name = ngx::ffi::ngx_str_t {
            len: name.len(),
            data: name.as_ptr() as *mut u8,
        };
        // SAFETY: valid cf; nginx copies the name.
        let v =
            unsafe { ngx_http_add_variable(cf, &mut name, NGX_HTTP_VAR_NOCACHEABLE as ngx_uint_t) };
        // SAFETY: a non-null result is the new variable's descriptor.
        let v = unsafe { v.as_mut() }.ok_or(())?;
        v.get_handler = Some(get_geo_variable);
        v.data = index;
    }
    Ok(())
}

/// Variable getter: locates the client on first use.
unsafe extern "C" fn get_geo_variable(
    r: *mut ngx_http_request_t,
    v: *mut ngx_http_variable_value_t,
    data: usize,
) -> ngx_int_t {
    // SAFETY: nginx calls getters with a live request and connection.
    let log = unsafe { (*(*r).connection).log };
    no_unwind(log, "variable", NGX_ERROR as ngx_int_t, || {
        // SAFETY: r is live; this module's configuration lives as long as its cycle.
        let (main, loc) = unsafe { handler::confs(r) };
        // SAFETY: the engine lives as long as the cycle.
        let text = unsafe { main.engine.as_ref() }
            // SAFETY: r belongs to the cycle of main, loc and the engine.
            .and_then(|engine| unsafe { geo::client_of(r, main, loc, engine) })
            .and_then(|client| VARIABLES.get(data).and_then(|(_, field)| field(&client)))
            .filter(|t| !t.is_empty());
        // SAFETY: nginx passes a writable value slot.
        let v = unsafe { &mut *v };
        v.set_no_cacheable(0);
        let Some(text) = text else {
            v.set_not_found(1);
            v.set_valid(0);
            return NGX_OK as ngx_int_t;
        };
        // SAFETY: r->pool is live.
        let p = unsafe { ngx_pnalloc((*r).pool, text.len()) }.cast::<u8>();
        if p.is_null() {
            return NGX_ERROR as ngx_int_t;
        }
        // SAFETY: `p` has room for the text and does not overlap it.
        unsafe { std::ptr::copy_nonoverlapping(text.as_ptr(), p, text.len()) };
        v.set_len(text.len() as u32);
        v.data = p;
        v.set_valid(1);
        v.set_not_found(0);
        NGX_OK as ngx_int_t
    })
}
