//! Country and autonomous-system access lists (`moat_geo_deny`, `moat_geo_allow`). An item is a
//! two-letter country code (`CN`), an AS number (`AS64496`), or `unknown` (an address whose
//! country the databases do not know). A client matching the deny list is refused (rule
//! 100700); where an allow list applies, a client matching none of its items is refused (rule
//! 100701). Both findings are critical and block in `on` mode whatever the anomaly threshold.

use crate::detect::{Finding, Severity};

use super::info::ClientGeo;

/// Rule id of a client on the deny list.
pub const GEO_DENIED: u32 = 100_700;
/// Rule id of a client not on the allow list.
pub const GEO_NOT_ALLOWED: u32 = 100_701;

/// One list of countries and autonomous systems.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GeoList {
    countries: Vec<[u8; 2]>,
    asns: Vec<u32>,
    unknown: bool,
}

impl GeoList {
    /// Adds items (`DE`, `AS3320`, `unknown`).
    pub fn add(&mut self, items: &[&str]) -> Result<(), String> {
        for item in items {
            if item.eq_ignore_ascii_case("unknown") {
                self.unknown = true;
            } else if let Some(n) = item.strip_prefix("AS").or_else(|| item.strip_prefix("as")) {
                let n = n
                    .parse()
                    .map_err(|_| format!("invalid AS number \"{item}\": expected e.g. AS64496"))?;
                self.asns.push(n);
            } else if item.len() == 2 && item.bytes().all(|b| b.is_ascii_alphabetic()) {
                let b = item.as_bytes();
                self.countries
                    .push([b[0].to_ascii_uppercase(), b[1].to_ascii_uppercase()]);
            } else {
                return Err(format!(
                    "invalid item \"{item}\": expected a two-letter country code (DE), an AS number (AS64496) or \"unknown\""
                ));
            }
        }
        Ok(())
    }

    /// True when the client matches an item.
    pub fn matches(&self, client: &ClientGeo) -> bool {
        let info = &client.info;
        match &info.country_code {
            Some(cc) => {
                let cc = cc.as_bytes();
                if self
                    .countries
                    .iter()
                    .any(|c| cc.len() == 2 && c.eq_ignore_ascii_case(cc))
                {
                    return true;
                }
            }
            None if self.unknown => return true,
            None => {}
        }
        info.asn.is_some_and(|a| self.asns.contains(&a))
    }
}

/// The lists in force at one location.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GeoAccess {
    /// Clients matching this list are refused.
    pub deny: Option<GeoList>,
    /// Where set, only clients matching this list are let in.
    pub allow: Option<GeoList>,
}

impl GeoAccess {
    /// True when no list applies.
    pub fn is_empty(&self) -> bool {
        self.deny.is_none() && self.allow.is_none()
    }

    /// The finding that refuses `client`, if a list does.
    pub fn judge(&self, client: &ClientGeo) -> Option<Finding> {
        if self.deny.as_ref().is_some_and(|l| l.matches(client)) {
            return Some(finding(
                GEO_DENIED,
                "Client location is on the geo deny list",
                client,
            ));
        }
        if self.allow.as_ref().is_some_and(|l| !l.matches(client)) {
            return Some(finding(
                GEO_NOT_ALLOWED,
                "Client location is not on the geo allow list",
                client,
            ));
        }
        None
    }
}

fn finding(id: u32, msg: &'static str, client: &ClientGeo) -> Finding {
    let info = &client.info;
    let mut data = format!(
        "{} country={}",
        client.ip,
        info.country_code.as_deref().unwrap_or("unknown")
    );
    if let Some(asn) = info.asn {
        data.push_str(&format!(" asn=AS{asn}"));
    }
    Finding::new(id, msg, Severity::Critical, "GEO".into(), data.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::geo::GeoInfo;
    use std::sync::Arc;

    fn client(cc: Option<&str>, asn: Option<u32>) -> ClientGeo {
        ClientGeo {
            ip: "192.0.2.1".parse().unwrap(),
            info: Arc::new(GeoInfo {
                country_code: cc.map(str::to_string),
                asn,
                ..Default::default()
            }),
        }
    }

    fn list(items: &[&str]) -> Option<GeoList> {
        let mut l = GeoList::default();
        l.add(items).unwrap();
        Some(l)
    }

    #[test]
    fn deny_by_country_asn_or_unknown() {
        let a = GeoAccess {
            deny: list(&["ru", "AS64500", "unknown"]),
            allow: None,
        };
        assert_eq!(
            a.judge(&client(Some("RU"), None)).unwrap().rule_id,
            GEO_DENIED
        );
        assert!(a.judge(&client(Some("AU"), Some(64500))).is_some());
        assert!(a.judge(&client(None, None)).is_some());
        assert!(a.judge(&client(Some("NL"), Some(64501))).is_none());
        let f = a.judge(&client(Some("RU"), Some(64505))).unwrap();
        assert_eq!(f.data, "192.0.2.1 country=RU asn=AS64505");
    }

    #[test]
    fn allow_list_refuses_everyone_else() {
        let a = GeoAccess {
            deny: list(&["AS64666"]),
            allow: list(&["NL", "DE"]),
        };
        assert!(a.judge(&client(Some("NL"), None)).is_none());
        assert_eq!(
            a.judge(&client(Some("US"), None)).unwrap().rule_id,
            GEO_NOT_ALLOWED
        );
        assert_eq!(
            a.judge(&client(None, None)).unwrap().rule_id,
            GEO_NOT_ALLOWED
        );
        assert_eq!(
            a.judge(&client(Some("DE"), Some(64666))).unwrap().rule_id,
            GEO_DENIED
        );
    }

    #[test]
    fn bad_items_are_refused() {
        let mut l = GeoList::default();
        assert!(l.add(&["DEU"]).unwrap_err().contains("two-letter"));
        assert!(l.add(&["ASx"]).is_err());
    }
}
