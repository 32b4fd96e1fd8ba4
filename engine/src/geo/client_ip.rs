//! The client's real address. Without trusted proxies it is the connection's peer address
//! (which is already the forwarded address when nginx's realip module rewrote it). With
//! `moat_trusted_proxies`, a request whose peer is trusted is followed back through the chosen
//! header (`X-Forwarded-For` by default, `X-Real-IP`, or any named one): addresses are taken
//! from the right, skipping trusted ones, and the first untrusted address is the client — the
//! part a client can write itself (the left) is never believed. A request from an untrusted
//! peer keeps the peer's address whatever its headers say.

use std::net::IpAddr;

use crate::request::Header;

/// Which header carries the forwarded address.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum ClientIpHeader {
    /// `X-Forwarded-For` (every occurrence, comma-separated lists).
    #[default]
    XForwardedFor,
    /// `X-Real-IP`.
    XRealIp,
    /// A header with this name (compared without regard to case).
    Named(String),
}

impl ClientIpHeader {
    /// Parses the `moat_client_ip_header` value.
    pub fn parse(name: &str) -> Result<ClientIpHeader, String> {
        if name.is_empty()
            || !name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(format!("invalid header name \"{name}\""));
        }
        Ok(match name.to_ascii_lowercase().as_str() {
            "x-forwarded-for" => ClientIpHeader::XForwardedFor,
            "x-real-ip" => ClientIpHeader::XRealIp,
            _ => ClientIpHeader::Named(name.to_string()),
        })
    }

    fn name(&self) -> &[u8] {
        match self {
            ClientIpHeader::XForwardedFor => b"x-forwarded-for",
            ClientIpHeader::XRealIp => b"x-real-ip",
            ClientIpHeader::Named(n) => n.as_bytes(),
        }
    }
}

/// A set of networks (`moat_trusted_proxies`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Networks {
    v4: Vec<(u32, u32)>,
    v6: Vec<(u128, u128)>,
}

impl Networks {
    /// Adds `10.0.0.0/8`, `2001:db8::/32` or a single address.
    pub fn add(&mut self, item: &str) -> Result<(), String> {
        let (addr, prefix) = crate::seclang::operators::parse_cidr(item)
            .ok_or_else(|| format!("invalid address or network \"{item}\""))?;
        match addr.to_canonical() {
            IpAddr::V4(a) => {
                let prefix = if addr.is_ipv6() {
                    prefix.saturating_sub(96)
                } else {
                    prefix
                };
                let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
                self.v4.push((u32::from(a) & mask, mask));
            }
            IpAddr::V6(a) => {
                let mask = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
                self.v6.push((u128::from(a) & mask, mask));
            }
        }
        Ok(())
    }

    /// True when `ip` is inside one of the networks.
    pub fn contains(&self, ip: IpAddr) -> bool {
        match ip.to_canonical() {
            IpAddr::V4(a) => {
                let a = u32::from(a);
                self.v4.iter().any(|&(net, mask)| a & mask == net)
            }
            IpAddr::V6(a) => {
                let a = u128::from(a);
                self.v6.iter().any(|&(net, mask)| a & mask == net)
            }
        }
    }

    /// True when no network was added.
    pub fn is_empty(&self) -> bool {
        self.v4.is_empty() && self.v6.is_empty()
    }
}

/// How a location finds the client's address.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientIpPolicy {
    /// Proxies whose forwarding header is believed.
    pub trusted: Networks,
    /// The header they set.
    pub header: ClientIpHeader,
}

/// Parses one forwarded entry: `a.b.c.d`, `a.b.c.d:port`, an IPv6 address, `[v6]` or
/// `[v6]:port`; IPv4-mapped IPv6 addresses become IPv4.
pub fn parse_addr(text: &[u8]) -> Option<IpAddr> {
    let text = std::str::from_utf8(text).ok()?.trim();
    let ip = if let Ok(ip) = text.parse::<IpAddr>() {
        ip
    } else if let Some(rest) = text.strip_prefix('[') {
        rest.split_once(']')?.0.parse().ok()?
    } else {
        let (host, port) = text.rsplit_once(':')?;
        port.parse::<u16>().ok()?;
        host.parse::<std::net::Ipv4Addr>().ok()?.into()
    };
    Some(ip.to_canonical())
}

impl ClientIpPolicy {
    /// The client's address for a request whose connection comes from `peer`; `None` when the
    /// peer is not an IP address (a Unix socket).
    pub fn client_ip(&self, peer: &[u8], headers: &[Header<'_>]) -> Option<IpAddr> {
        let peer = parse_addr(peer)?;
        if self.trusted.is_empty() || !self.trusted.contains(peer) {
            return Some(peer);
        }
        let name = self.header.name();
        let entries = headers
            .iter()
            .filter(|h| h.name.eq_ignore_ascii_case(name))
            .flat_map(|h| h.value.split(|&b| b == b','))
            .filter(|e| !e.iter().all(u8::is_ascii_whitespace))
            .collect::<Vec<_>>();
        let mut client = peer;
        for entry in entries.iter().rev() {
            let Some(ip) = parse_addr(entry) else {
                break;
            };
            client = ip;
            if !self.trusted.contains(ip) {
                break;
            }
        }
        Some(client)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(trusted: &[&str], header: &str) -> ClientIpPolicy {
        let mut p = ClientIpPolicy {
            header: ClientIpHeader::parse(header).unwrap(),
            ..Default::default()
        };
        for t in trusted {
            p.trusted.add(t).unwrap();
        }
        p
    }

    fn h<'a>(name: &'a str, value: &'a str) -> Header<'a> {
        Header {
            name: name.as_bytes(),
            value: value.as_bytes(),
        }
    }

    fn ip(s: &str) -> Option<IpAddr> {
        Some(s.parse().unwrap())
    }

    #[test]
    fn right_most_untrusted_address_is_the_client() {
        let p = policy(&["10.0.0.0/8", "2001:db8:ffff::/48"], "X-Forwarded-For");
        let xff = [h("X-Forwarded-For", "198.51.100.9, 203.0.113.7, 10.1.1.1")];
        assert_eq!(p.client_ip(b"10.0.0.2", &xff), ip("203.0.113.7"));
        let two = [
            h("x-forwarded-for", "6.6.6.6"),
            h("X-Forwarded-For", "2001:db8:1::5"),
        ];
        assert_eq!(p.client_ip(b"2001:db8:ffff::1", &two), ip("2001:db8:1::5"));
        let ported = [h("X-Forwarded-For", "[2001:db8:2::1]:443, 192.0.2.4:5555")];
        assert_eq!(p.client_ip(b"10.0.0.2", &ported), ip("192.0.2.4"));
    }

    #[test]
    fn untrusted_peers_cannot_spoof() {
        let p = policy(&["10.0.0.0/8"], "X-Forwarded-For");
        let xff = [h("X-Forwarded-For", "203.0.113.7")];
        assert_eq!(p.client_ip(b"192.0.2.1", &xff), ip("192.0.2.1"));
        let none = policy(&[], "X-Forwarded-For");
        assert_eq!(none.client_ip(b"10.0.0.2", &xff), ip("10.0.0.2"));
    }

    #[test]
    fn chains_of_trusted_proxies_and_garbage() {
        let p = policy(&["10.0.0.0/8"], "X-Forwarded-For");
        let all_trusted = [h("X-Forwarded-For", "10.9.9.9, 10.8.8.8")];
        assert_eq!(p.client_ip(b"10.0.0.2", &all_trusted), ip("10.9.9.9"));
        let garbage = [h("X-Forwarded-For", "203.0.113.7, unknown, 10.8.8.8")];
        assert_eq!(p.client_ip(b"10.0.0.2", &garbage), ip("10.8.8.8"));
        assert_eq!(p.client_ip(b"10.0.0.2", &[]), ip("10.0.0.2"));
        assert_eq!(p.client_ip(b"unix:", &[]), None);
        assert_eq!(
            p.client_ip(b"::ffff:10.0.0.2", &[h("X-Forwarded-For", "192.0.2.1")]),
            ip("192.0.2.1")
        );
    }

    #[test]
    fn other_headers() {
        let p = policy(&["127.0.0.1"], "X-Real-IP");
        let hs = [
            h("X-Forwarded-For", "198.51.100.1"),
            h("X-Real-IP", "203.0.113.50"),
        ];
        assert_eq!(p.client_ip(b"127.0.0.1", &hs), ip("203.0.113.50"));
        let p = policy(&["127.0.0.1"], "CF-Connecting-IP");
        let hs = [h("cf-connecting-ip", "2001:db8::7")];
        assert_eq!(p.client_ip(b"127.0.0.1", &hs), ip("2001:db8::7"));
        assert!(ClientIpHeader::parse("bad header").is_err());
    }
}
