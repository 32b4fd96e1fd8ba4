//! One MaxMind DB file, memory-mapped once: the mapping is shared by every request (and, when
//! opened before nginx forks, by every worker). Replace the file by renaming a new one over it
//! (as `geoipupdate` and `moat-mmdb` do) and reload; never rewrite it in place while mapped.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use maxminddb::{Mmap, Reader};
use serde::Deserialize;

use super::info::GeoInfo;

/// An open `.mmdb` file.
pub struct GeoDatabase {
    reader: Reader<Mmap>,
    path: PathBuf,
}

impl std::fmt::Debug for GeoDatabase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GeoDatabase")
            .field("path", &self.path)
            .field("type", &self.database_type())
            .finish()
    }
}

/// The fields Moat reads, in the GeoIP2 City / Country / ASN layout; anything else in a
/// record is skipped.
#[derive(Deserialize, Default)]
struct Record<'a> {
    #[serde(borrow)]
    country: Option<Country<'a>>,
    #[serde(borrow)]
    registered_country: Option<Country<'a>>,
    #[serde(borrow)]
    continent: Option<Continent<'a>>,
    #[serde(borrow)]
    subdivisions: Option<Vec<Named<'a>>>,
    #[serde(borrow)]
    city: Option<Named<'a>>,
    #[serde(borrow)]
    postal: Option<Postal<'a>>,
    location: Option<Location>,
    autonomous_system_number: Option<u32>,
    #[serde(borrow)]
    autonomous_system_organization: Option<&'a str>,
}

#[derive(Deserialize, Default)]
struct Names<'a> {
    #[serde(borrow)]
    en: Option<&'a str>,
}

#[derive(Deserialize, Default)]
struct Named<'a> {
    #[serde(borrow)]
    names: Option<Names<'a>>,
}

#[derive(Deserialize, Default)]
struct Country<'a> {
    #[serde(borrow)]
    iso_code: Option<&'a str>,
    #[serde(borrow)]
    names: Option<Names<'a>>,
}

#[derive(Deserialize, Default)]
struct Continent<'a> {
    #[serde(borrow)]
    code: Option<&'a str>,
    #[serde(borrow)]
    names: Option<Names<'a>>,
}

#[derive(Deserialize, Default)]
struct Postal<'a> {
    #[serde(borrow)]
    code: Option<&'a str>,
}

#[derive(Deserialize, Default)]
struct Location {
    latitude: Option<f64>,
    longitude: Option<f64>,
}

fn english<'a>(names: &Option<Names<'a>>) -> Option<&'a str> {
    names.as_ref().and_then(|n| n.en)
}

/// Sets `slot` from `value` unless an earlier database already set it.
fn fill(slot: &mut Option<String>, value: Option<&str>) {
    if slot.is_none() {
        *slot = value.filter(|v| !v.is_empty()).map(str::to_string);
    }
}

impl GeoDatabase {
    /// Maps the file and verifies all of it (metadata, search tree, data section), so that a
    /// damaged file is refused when nginx loads its configuration rather than on requests;
    /// the error names the file and the reason (missing, unreadable, not a MaxMind DB,
    /// corrupt). Verification reads the whole file: about 10 ms per MB.
    pub fn open(path: &Path) -> Result<GeoDatabase, String> {
        let describe = |reason: String| format!("GeoIP database \"{}\": {reason}", path.display());
        let file = std::fs::File::open(path).map_err(|e| describe(e.to_string()))?;
        if file.metadata().map_err(|e| describe(e.to_string()))?.len() == 0 {
            return Err(describe("the file is empty".into()));
        }
        // SAFETY: the mapping stays valid while the file is replaced by a rename (the old inode
        // lives on); rewriting the file in place is documented as unsupported. This is the
        // operating-system edge the crate's `open_mmap` wraps.
        let reader = unsafe { Reader::open_mmap(path) }
            .map_err(|e| describe(format!("not a valid MaxMind DB file: {e}")))?;
        let db = GeoDatabase {
            reader,
            path: path.to_path_buf(),
        };
        db.verify()?;
        Ok(db)
    }

    /// Checks the whole file (search tree, data section, metadata) with the `maxminddb` crate's
    /// verifier.
    pub fn verify(&self) -> Result<(), String> {
        self.reader
            .verify()
            .map_err(|e| format!("GeoIP database \"{}\": corrupt: {e}", self.path.display()))
    }

    /// The file this was opened from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The metadata's `database_type`, e.g. `GeoLite2-City`.
    pub fn database_type(&self) -> &str {
        &self.reader.metadata().database_type
    }

    /// Number of search tree nodes (a measure of its size).
    pub fn node_count(&self) -> u32 {
        self.reader.metadata().node_count
    }

    /// Fills the fields of `info` that are still empty with what this database holds for
    /// `ip`. An address the database does not hold, an IPv6 address in an IPv4-only database
    /// and a damaged record all leave `info` unchanged: a lookup never fails a request.
    pub fn read_into(&self, ip: IpAddr, info: &mut GeoInfo) {
        let Ok(result) = self.reader.lookup(ip) else {
            return;
        };
        let Ok(Some(rec)) = result.decode::<Record<'_>>() else {
            return;
        };
        let country = rec.country.or(rec.registered_country).unwrap_or_default();
        fill(&mut info.country_code, country.iso_code);
        fill(&mut info.country_name, english(&country.names));
        let continent = rec.continent.unwrap_or_default();
        fill(&mut info.continent_code, continent.code);
        fill(&mut info.continent_name, english(&continent.names));
        let region = rec.subdivisions.and_then(|s| s.into_iter().next());
        fill(
            &mut info.region_name,
            region.and_then(|r| english(&r.names)),
        );
        fill(&mut info.city, rec.city.and_then(|c| english(&c.names)));
        fill(&mut info.postal_code, rec.postal.and_then(|p| p.code));
        if info.latitude.is_none() && info.longitude.is_none() {
            if let Some(loc) = rec.location {
                info.latitude = loc.latitude;
                info.longitude = loc.longitude;
            }
        }
        if info.asn.is_none() {
            info.asn = rec.autonomous_system_number;
        }
        fill(&mut info.asn_org, rec.autonomous_system_organization);
    }
}
