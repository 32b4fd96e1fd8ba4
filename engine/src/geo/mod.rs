//! Where the client is: GeoIP enrichment from MaxMind databases (GeoIP2/GeoLite2 City, Country
//! and ASN, in any combination, IPv4 and IPv6), the real client address behind trusted proxies,
//! and country/ASN allow and deny lists.
//!
//! - [`database`]: one memory-mapped `.mmdb` file, read into [`GeoInfo`].
//! - [`Geo`]: the databases of one configuration plus a bounded lookup [`cache`]; shared by
//!   every request of a worker.
//! - [`client_ip`]: which address is the client's (`X-Forwarded-For` from trusted proxies).
//! - [`access`]: `moat_geo_deny` / `moat_geo_allow` and their findings.
//! - [`policy`]: the per-location directives of the above, parsed once for every adapter.

pub mod access;
pub mod cache;
pub mod client_ip;
pub mod database;
pub mod info;
pub mod policy;

use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;

pub use access::GeoAccess;
pub use cache::LookupCache;
pub use client_ip::ClientIpPolicy;
pub use database::GeoDatabase;
pub use info::{ClientGeo, GeoInfo};
pub use policy::{GeoPolicy, GeoPolicyPatch};

/// Default number of addresses kept by the lookup cache.
pub const DEFAULT_CACHE_ENTRIES: usize = 8192;

/// The GeoIP databases of one configuration and their lookup cache. Immutable but for the
/// cache; share one per process (each nginx worker, after fork, has its own cache).
#[derive(Debug)]
pub struct Geo {
    /// The location database (City or Country), if configured.
    location: Option<GeoDatabase>,
    /// The ASN database, if configured.
    asn: Option<GeoDatabase>,
    cache: LookupCache,
}

impl Geo {
    /// Opens the configured databases; the error names the file and why it cannot be used.
    pub fn open(location: Option<&Path>, asn: Option<&Path>) -> Result<Geo, String> {
        Ok(Geo::new(
            location.map(GeoDatabase::open).transpose()?,
            asn.map(GeoDatabase::open).transpose()?,
        ))
    }

    /// Combines opened databases, with a cache of [`DEFAULT_CACHE_ENTRIES`].
    pub fn new(location: Option<GeoDatabase>, asn: Option<GeoDatabase>) -> Geo {
        Geo {
            location,
            asn,
            cache: LookupCache::new(DEFAULT_CACHE_ENTRIES),
        }
    }

    /// The same databases with a cache of `entries` addresses (0 disables caching).
    pub fn with_cache_entries(mut self, entries: usize) -> Geo {
        self.cache = LookupCache::new(entries);
        self
    }

    /// The location database, if any.
    pub fn location_database(&self) -> Option<&GeoDatabase> {
        self.location.as_ref()
    }

    /// The ASN database, if any.
    pub fn asn_database(&self) -> Option<&GeoDatabase> {
        self.asn.as_ref()
    }

    /// What the databases know about `ip` (empty fields for an address they do not hold),
    /// from the cache when it was looked up recently.
    pub fn lookup(&self, ip: IpAddr) -> Arc<GeoInfo> {
        let ip = ip.to_canonical();
        if let Some(hit) = self.cache.get(&ip) {
            return hit;
        }
        let info = Arc::new(self.lookup_uncached(ip));
        self.cache.put(ip, Arc::clone(&info));
        info
    }

    /// A lookup in the databases, bypassing the cache.
    pub fn lookup_uncached(&self, ip: IpAddr) -> GeoInfo {
        let ip = ip.to_canonical();
        let mut info = GeoInfo::default();
        for db in [&self.location, &self.asn].into_iter().flatten() {
            db.read_into(ip, &mut info);
        }
        info
    }

    /// Cache hits and misses so far.
    pub fn cache_stats(&self) -> (u64, u64) {
        self.cache.stats()
    }
}

#[cfg(test)]
mod tests;
