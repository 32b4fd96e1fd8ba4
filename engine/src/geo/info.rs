//! What is known about a client address.

use std::fmt::Write as _;
use std::net::IpAddr;
use std::sync::Arc;

/// The place and network of an address; every field is empty when the databases do not say.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GeoInfo {
    /// ISO 3166-1 alpha-2 country code, e.g. `DE`.
    pub country_code: Option<String>,
    /// Country name in English.
    pub country_name: Option<String>,
    /// Continent code, e.g. `EU`.
    pub continent_code: Option<String>,
    /// Continent name in English.
    pub continent_name: Option<String>,
    /// First subdivision (state, region) name in English.
    pub region_name: Option<String>,
    /// City name in English.
    pub city: Option<String>,
    /// Postal code.
    pub postal_code: Option<String>,
    /// Latitude in degrees.
    pub latitude: Option<f64>,
    /// Longitude in degrees.
    pub longitude: Option<f64>,
    /// Autonomous system number.
    pub asn: Option<u32>,
    /// Autonomous system organisation.
    pub asn_org: Option<String>,
}

impl GeoInfo {
    /// True when no database knew anything about the address.
    pub fn is_empty(&self) -> bool {
        *self == GeoInfo::default()
    }

    /// `lat` as text (shortest form that reads back the same), empty when unknown.
    pub fn latitude_text(&self) -> String {
        self.latitude.map(|v| v.to_string()).unwrap_or_default()
    }

    /// `lon` as text, empty when unknown.
    pub fn longitude_text(&self) -> String {
        self.longitude.map(|v| v.to_string()).unwrap_or_default()
    }

    /// The ASN as digits, empty when unknown.
    pub fn asn_text(&self) -> String {
        self.asn.map(|v| v.to_string()).unwrap_or_default()
    }
}

/// The client of one request: its address (after trusted proxies) and what is known about it.
#[derive(Debug, Clone)]
pub struct ClientGeo {
    /// The client's address.
    pub ip: IpAddr,
    /// Its place and network (shared with the lookup cache).
    pub info: Arc<GeoInfo>,
}

impl ClientGeo {
    /// The log-line tags: `[client "…"]`, then `[country "…"]`, `[city "…"]` and `[asn "…"]`
    /// for what is known.
    pub fn log_tags(&self) -> String {
        let mut s = String::new();
        let _ = write!(s, " [client \"{}\"]", self.ip);
        let info = &self.info;
        let tag = |s: &mut String, name: &str, v: &Option<String>| {
            if let Some(v) = v {
                let _ = write!(s, " [{name} \"{}\"]", crate::detect::excerpt(v.as_bytes()));
            }
        };
        tag(&mut s, "country", &info.country_code);
        tag(&mut s, "city", &info.city);
        if let Some(asn) = info.asn {
            let _ = write!(s, " [asn \"{asn}\"]");
        }
        s
    }
}
