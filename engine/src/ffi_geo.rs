//! The C ABI of GeoIP (part of `libmoat.so` and `include/moat.h`): open the databases once,
//! describe a location's client-address and access-list policy with the nginx directive names,
//! judge with `moat_check_located`, and read where the client is with `moat_verdict_geo`.
//!
//! Every entry point catches panics; none crosses this boundary.

use std::ffi::{c_char, CStr};
use std::path::Path;
use std::ptr;
use std::sync::Arc;

use crate::ffi::{
    bytes_of, check_from_c, guard, name_value, status, with_verdict, MoatBytes, MoatEngine,
    MoatRequest, MoatSettings, MoatVerdict,
};
use crate::geo::{Geo, GeoPolicy, GeoPolicyPatch};

/// Where the client of a verdict is. Strings stay valid until the verdict is freed; an empty
/// string, `has_location == false` or `asn == 0` means unknown.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct MoatGeo {
    /// The client's address (after trusted proxies).
    pub client_ip: MoatBytes,
    /// ISO 3166-1 alpha-2 country code.
    pub country_code: MoatBytes,
    /// Country name in English.
    pub country_name: MoatBytes,
    /// Continent code.
    pub continent_code: MoatBytes,
    /// First subdivision name.
    pub region: MoatBytes,
    /// City name.
    pub city: MoatBytes,
    /// Postal code.
    pub postal_code: MoatBytes,
    /// Autonomous system organisation.
    pub asn_org: MoatBytes,
    /// Latitude in degrees (valid when `has_location`).
    pub latitude: f64,
    /// Longitude in degrees (valid when `has_location`).
    pub longitude: f64,
    /// True when latitude and longitude are known.
    pub has_location: bool,
    /// Autonomous system number (0: unknown).
    pub asn: u32,
}

/// A location's geo policy (opaque): trusted proxies, client address header, deny and allow
/// lists.
pub struct MoatGeoPolicy {
    patch: GeoPolicyPatch,
    policy: GeoPolicy,
}

/// # Safety
/// `s` must be NULL or a NUL-terminated string.
unsafe fn opt_path<'a>(s: *const c_char) -> Result<Option<&'a Path>, String> {
    if s.is_null() {
        return Ok(None);
    }
    // SAFETY: non-null NUL-terminated string per the contract above.
    let text = unsafe { CStr::from_ptr(s) }
        .to_str()
        .map_err(|_| "path is not UTF-8".to_string())?;
    Ok((!text.is_empty()).then(|| Path::new(text)))
}

/// Opens GeoIP databases for `engine`: `location_db` a City or Country database, `asn_db` an
/// ASN database (either may be NULL or ""). Call before the engine is shared. Returns 0, or -1
/// with the file and the reason in `err`.
///
/// # Safety
/// `engine` must be a live engine not used by another thread; the paths NULL or
/// NUL-terminated; `err` NULL or `err_len` writable bytes.
#[no_mangle]
pub unsafe extern "C" fn moat_engine_open_geoip(
    engine: *mut MoatEngine,
    location_db: *const c_char,
    asn_db: *const c_char,
    err: *mut c_char,
    err_len: usize,
) -> i32 {
    status(err, err_len, || {
        // SAFETY: engine is NULL or live and unshared per the contract above.
        let engine = unsafe { engine.as_mut() }.ok_or("NULL engine")?;
        // SAFETY: per the contract above.
        let (location, asn) = unsafe { (opt_path(location_db)?, opt_path(asn_db)?) };
        if location.is_none() && asn.is_none() {
            return Err("no database given".to_string());
        }
        let geo = Geo::open(location, asn)?;
        engine.engine.set_geo(Arc::new(geo));
        Ok(())
    })
}

/// A new policy: no trusted proxies (the peer address is the client), no lists.
#[no_mangle]
pub extern "C" fn moat_geo_policy_new() -> *mut MoatGeoPolicy {
    guard(ptr::null_mut(), || {
        Box::into_raw(Box::new(MoatGeoPolicy {
            patch: GeoPolicyPatch::default(),
            policy: GeoPolicy::default(),
        }))
    })
}

/// Applies one directive to `policy` with its arguments separated by blanks, e.g.
/// `"moat_trusted_proxies"` + `"10.0.0.0/8 ::1"`, `"moat_geo_deny"` + `"RU AS64496"`; the
/// same names, values and validation as the nginx directives. Returns 0, or -1 with the
/// reason in `err` (the policy is then unchanged).
///
/// # Safety
/// `policy` must be a live policy; `name` and `value` NUL-terminated; `err` NULL or `err_len`
/// writable bytes.
#[no_mangle]
pub unsafe extern "C" fn moat_geo_policy_set(
    policy: *mut MoatGeoPolicy,
    name: *const c_char,
    value: *const c_char,
    err: *mut c_char,
    err_len: usize,
) -> i32 {
    status(err, err_len, || {
        // SAFETY: NUL-terminated strings per the contract above.
        let (name, value) = unsafe { name_value(name, value) }?;
        // SAFETY: policy is NULL or live per the contract above.
        let policy = unsafe { policy.as_mut() }.ok_or("NULL policy")?;
        let args: Vec<&str> = value.split_ascii_whitespace().collect();
        let mut patch = policy.patch.clone();
        patch.apply(name, &args)?;
        policy.policy = patch.resolve();
        policy.patch = patch;
        Ok(())
    })
}

/// Frees a policy. NULL is ignored.
///
/// # Safety
/// `policy` must come from `moat_geo_policy_new` and not be used afterwards.
#[no_mangle]
pub unsafe extern "C" fn moat_geo_policy_free(policy: *mut MoatGeoPolicy) {
    guard((), || {
        if !policy.is_null() {
            // SAFETY: policy came from Box::into_raw in moat_geo_policy_new, freed once.
            drop(unsafe { Box::from_raw(policy) });
        }
    })
}

/// Like `moat_check`, and also locates the client with `policy` (NULL: the peer address,
/// no lists): its geo lists refuse the client first, and the verdict says where the client is
/// (`moat_verdict_geo`).
///
/// # Safety
/// As `moat_check`; `policy` must be NULL or a live policy.
#[no_mangle]
pub unsafe extern "C" fn moat_check_located(
    engine: *const MoatEngine,
    settings: *const MoatSettings,
    policy: *const MoatGeoPolicy,
    req: *const MoatRequest,
) -> *mut MoatVerdict {
    // SAFETY: policy is NULL or live per the contract above.
    let policy = unsafe { policy.as_ref() }.map(|p| &p.policy);
    // SAFETY: the other pointers are valid per the contract above.
    unsafe {
        check_from_c(
            engine,
            settings,
            req,
            "moat_check_located",
            |engine, request, settings| {
                let client = engine.locate(request, policy.map(|p| &p.client_ip));
                let rules = engine.default_rules();
                let access = policy.map(|p| &p.access);
                engine.check_located(request, settings, rules, client, access)
            },
        )
    }
}

/// Writes where the verdict's client is into `out`; false when the verdict has no client
/// (no GeoIP database and no trusted proxies configured).
///
/// # Safety
/// `v` must be NULL or a live verdict; `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn moat_verdict_geo(v: *const MoatVerdict, out: *mut MoatGeo) -> bool {
    // SAFETY: v is NULL or live per this function's contract.
    let geo = unsafe {
        with_verdict(v, None, |v| {
            let client = v.verdict.client.as_ref()?;
            let info = &client.info;
            let text = |s: &Option<String>| bytes_of(s.as_deref().unwrap_or(""));
            Some(MoatGeo {
                client_ip: bytes_of(&v.client_ip),
                country_code: text(&info.country_code),
                country_name: text(&info.country_name),
                continent_code: text(&info.continent_code),
                region: text(&info.region_name),
                city: text(&info.city),
                postal_code: text(&info.postal_code),
                asn_org: text(&info.asn_org),
                latitude: info.latitude.unwrap_or(0.0),
                longitude: info.longitude.unwrap_or(0.0),
                has_location: info.latitude.is_some() && info.longitude.is_some(),
                asn: info.asn.unwrap_or(0),
            })
        })
    };
    match geo {
        Some(g) if !out.is_null() => {
            // SAFETY: out is non-null and writable per the contract above.
            unsafe { out.write(g) };
            true
        }
        _ => false,
    }
}
