//! Networks in CIDR notation, as positions in the IPv6 search tree.

use std::fmt;
use std::net::{IpAddr, Ipv6Addr};

/// An IPv4 or IPv6 network (host bits cleared).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Network {
    /// The first address.
    pub addr: IpAddr,
    /// Prefix length: 1..=32 for IPv4, 1..=128 for IPv6.
    pub prefix: u8,
}

impl Network {
    /// Parses `203.0.113.0/24`, `2001:db8::/32` or a single address (`/32`, `/128`). Host bits
    /// must be zero, so a typo cannot silently widen or move a network.
    pub fn parse(text: &str) -> Result<Network, String> {
        let text = text.trim();
        let (addr, prefix) = match text.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (text, None),
        };
        let addr: IpAddr = addr
            .parse()
            .map_err(|_| format!("invalid network \"{text}\": not an IP address"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => p
                .parse::<u8>()
                .ok()
                .filter(|p| (1..=max).contains(p))
                .ok_or_else(|| format!("invalid network \"{text}\": prefix must be 1 to {max}"))?,
        };
        let net = Network { addr, prefix };
        if net.tree_bits() & !mask(net.tree_prefix()) != 0 {
            return Err(format!(
                "invalid network \"{text}\": host bits are set (did you mean {}?)",
                Network {
                    addr: net.masked_addr(),
                    prefix
                }
            ));
        }
        Ok(net)
    }

    /// The address as the 128 bits followed in the IPv6 search tree (IPv4 under `::/96`).
    pub fn tree_bits(&self) -> u128 {
        match self.addr {
            IpAddr::V4(a) => u128::from(u32::from(a)),
            IpAddr::V6(a) => u128::from(a),
        }
    }

    /// The prefix length in the IPv6 search tree (IPv4 prefixes plus 96).
    pub fn tree_prefix(&self) -> u8 {
        match self.addr {
            IpAddr::V4(_) => self.prefix + 96,
            IpAddr::V6(_) => self.prefix,
        }
    }

    fn masked_addr(&self) -> IpAddr {
        let bits = self.tree_bits() & mask(self.tree_prefix());
        match self.addr {
            IpAddr::V4(_) => IpAddr::V4((bits as u32).into()),
            IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::from(bits)),
        }
    }
}

/// The netmask of a prefix length over 128 bits.
fn mask(prefix: u8) -> u128 {
    u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0)
}

impl fmt::Display for Network {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_networks_and_single_addresses() {
        let n = Network::parse("203.0.113.0/24").unwrap();
        assert_eq!((n.tree_prefix(), n.tree_bits()), (120, 0xcb00_7100));
        assert_eq!(Network::parse("::1").unwrap().prefix, 128);
        assert_eq!(Network::parse("192.0.2.7").unwrap().prefix, 32);
        assert_eq!(Network::parse("2001:db8::/32").unwrap().tree_prefix(), 32);
    }

    #[test]
    fn rejects_bad_networks_with_a_reason() {
        let e = Network::parse("203.0.113.5/24").unwrap_err();
        assert!(e.contains("did you mean 203.0.113.0/24"), "{e}");
        assert!(Network::parse("10.0.0.0/33").is_err());
        assert!(Network::parse("10.0.0.0/0").is_err());
        assert!(Network::parse("example.com").is_err());
    }
}
