//! The per-location geo directives, parsed once for every adapter (nginx, Lua, CLI):
//!
//! | directive | value |
//! |---|---|
//! | `moat_trusted_proxies` | addresses and networks whose forwarding header is believed |
//! | `moat_client_ip_header` | `X-Forwarded-For` (default), `X-Real-IP` or another header name |
//! | `moat_geo_deny` | country codes, `AS` numbers, `unknown`; or `off` |
//! | `moat_geo_allow` | the same; or `off` |
//!
//! Repeating a list directive at one level adds to it; a level that names a list replaces the
//! inherited one; `off` removes the inherited list.

use super::access::{GeoAccess, GeoList};
use super::client_ip::{ClientIpHeader, ClientIpPolicy, Networks};

/// The geo directives of one configuration level; unset fields inherit.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GeoPolicyPatch {
    trusted: Option<Networks>,
    header: Option<ClientIpHeader>,
    deny: Option<Option<GeoList>>,
    allow: Option<Option<GeoList>>,
}

/// The directives [`GeoPolicyPatch::apply`] accepts.
pub const DIRECTIVES: &[&str] = &[
    "moat_trusted_proxies",
    "moat_client_ip_header",
    "moat_geo_deny",
    "moat_geo_allow",
];

/// A location's resolved geo policy.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GeoPolicy {
    /// How the client's address is found.
    pub client_ip: ClientIpPolicy,
    /// The access lists.
    pub access: GeoAccess,
}

impl GeoPolicyPatch {
    /// Applies one directive; the error says what is wrong with the value.
    pub fn apply(&mut self, name: &str, args: &[&str]) -> Result<(), String> {
        if args.is_empty() {
            return Err(format!("\"{name}\" needs at least one argument"));
        }
        match name {
            "moat_trusted_proxies" => {
                let set = self.trusted.get_or_insert_with(Networks::default);
                for a in args {
                    set.add(a)?;
                }
            }
            "moat_client_ip_header" => {
                let [header] = args else {
                    return Err(format!("\"{name}\" takes exactly one header name"));
                };
                if self.header.is_some() {
                    return Err(format!("\"{name}\" directive is duplicate"));
                }
                self.header = Some(ClientIpHeader::parse(header)?);
            }
            "moat_geo_deny" | "moat_geo_allow" => {
                let slot = if name == "moat_geo_deny" {
                    &mut self.deny
                } else {
                    &mut self.allow
                };
                if args == ["off"] {
                    if slot.as_ref().is_some_and(Option::is_some) {
                        return Err(format!(
                            "\"{name} off\" cannot follow a list at the same level"
                        ));
                    }
                    *slot = Some(None);
                    return Ok(());
                }
                if matches!(slot, Some(None)) {
                    return Err(format!(
                        "\"{name}\" list cannot follow \"{name} off\" at the same level"
                    ));
                }
                slot.get_or_insert_with(|| Some(GeoList::default()))
                    .get_or_insert_with(GeoList::default)
                    .add(args)?;
            }
            _ => return Err(format!("unknown directive \"{name}\"")),
        }
        Ok(())
    }

    /// Fills every unset field from `parent`.
    pub fn inherit(&mut self, parent: &GeoPolicyPatch) {
        if self.trusted.is_none() {
            self.trusted.clone_from(&parent.trusted);
        }
        if self.header.is_none() {
            self.header.clone_from(&parent.header);
        }
        if self.deny.is_none() {
            self.deny.clone_from(&parent.deny);
        }
        if self.allow.is_none() {
            self.allow.clone_from(&parent.allow);
        }
    }

    /// The policy, with defaults where no level set a value.
    pub fn resolve(&self) -> GeoPolicy {
        GeoPolicy {
            client_ip: ClientIpPolicy {
                trusted: self.trusted.clone().unwrap_or_default(),
                header: self.header.clone().unwrap_or_default(),
            },
            access: GeoAccess {
                deny: self.deny.clone().flatten(),
                allow: self.allow.clone().flatten(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn location_lists_replace_or_cancel_inherited_ones() {
        let mut server = GeoPolicyPatch::default();
        server.apply("moat_geo_deny", &["RU", "CN"]).unwrap();
        server
            .apply("moat_trusted_proxies", &["10.0.0.0/8"])
            .unwrap();
        let mut loc = GeoPolicyPatch::default();
        loc.apply("moat_geo_allow", &["NL"]).unwrap();
        loc.inherit(&server);
        let p = loc.resolve();
        assert!(p.access.deny.is_some() && p.access.allow.is_some());
        assert!(p.client_ip.trusted.contains("10.1.2.3".parse().unwrap()));
        let mut open = GeoPolicyPatch::default();
        open.apply("moat_geo_deny", &["off"]).unwrap();
        open.inherit(&server);
        assert!(open.resolve().access.is_empty());
    }

    #[test]
    fn bad_values_are_explained() {
        let mut p = GeoPolicyPatch::default();
        assert!(p.apply("moat_trusted_proxies", &["10.0.0.0/40"]).is_err());
        assert!(p.apply("moat_geo_deny", &[]).is_err());
        p.apply("moat_client_ip_header", &["X-Real-IP"]).unwrap();
        assert!(p
            .apply("moat_client_ip_header", &["X-Real-IP"])
            .unwrap_err()
            .contains("duplicate"));
        p.apply("moat_geo_allow", &["DE"]).unwrap();
        assert!(p.apply("moat_geo_allow", &["off"]).is_err());
    }
}
