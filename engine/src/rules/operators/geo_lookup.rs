//! `@geoLookup`: the input is an IP address found in the database named by `SecGeoLookupDb`.
//! As in ModSecurity, a successful lookup fills the `GEO` collection, which later links and
//! rules read: `COUNTRY_CODE`, `COUNTRY_NAME`, `COUNTRY_CONTINENT` (continent code), `REGION`,
//! `CITY`, `POSTAL_CODE`, `LATITUDE` and `LONGITUDE` (six decimals, as ModSecurity prints
//! them); fields the database does not hold are absent. An address that is not in the
//! database (or is not an address) does not match and leaves `GEO` unchanged.

use crate::rules::fast_hash::FastMap;
use std::sync::Arc;

use crate::geo::client_ip::parse_addr;
use crate::geo::{Geo, GeoInfo};

/// The compiled operator: the shared database (with its lookup cache).
#[derive(Debug)]
pub struct GeoLookup {
    geo: Arc<Geo>,
}

impl GeoLookup {
    /// The operator over an opened database.
    pub fn new(geo: Arc<Geo>) -> GeoLookup {
        GeoLookup { geo }
    }

    /// What the database holds for `input`, if it is an address the database knows.
    fn find(&self, input: &[u8]) -> Option<Arc<GeoInfo>> {
        let info = self.geo.lookup(parse_addr(input)?);
        (!info.is_empty()).then_some(info)
    }

    /// True when `input` is an address in the database.
    pub fn matches(&self, input: &[u8]) -> bool {
        self.find(input).is_some()
    }

    /// The `GEO` collection for `input`, when it matches.
    pub fn collection(&self, input: &[u8]) -> Option<FastMap<String, Vec<u8>>> {
        let info = self.find(input)?;
        let mut geo = FastMap::default();
        let mut put = |key: &str, value: Option<String>| {
            if let Some(v) = value {
                geo.insert(key.to_string(), v.into_bytes());
            }
        };
        put("country_code", info.country_code.clone());
        put("country_name", info.country_name.clone());
        put(
            "country_continent",
            info.continent_code.clone().or(info.continent_name.clone()),
        );
        put("region", info.region_name.clone());
        put("city", info.city.clone());
        put("postal_code", info.postal_code.clone());
        put("latitude", info.latitude.map(|v| format!("{v:.6}")));
        put("longitude", info.longitude.map(|v| format!("{v:.6}")));
        Some(geo)
    }
}

/// After a link's operator matched `value`: when it is `@geoLookup`, replaces the
/// transaction's `GEO` collection with the lookup's fields.
pub fn fill_collection(
    operator: Option<&super::Operator>,
    collections: &mut FastMap<String, FastMap<String, Vec<u8>>>,
    value: &[u8],
) {
    if let Some(geo) = operator.and_then(|op| op.geo_collection(value)) {
        collections.insert("GEO".to_string(), geo);
    }
}
