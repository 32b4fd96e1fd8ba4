//! `@ipMatch list` and `@ipMatchFromFile file` (alias `@ipMatchF`): the input is an IPv4 or
//! IPv6 address inside one of the listed addresses or CIDR networks. `@ipMatch` takes a
//! comma-separated list; the file has one entry per line (blank lines and `#` comments
//! skipped). An input that is not an address never matches; an IPv4 input only matches
//! IPv4 entries (no mapping to `::ffff:a.b.c.d`).

use std::net::IpAddr;
use std::path::Path;

use crate::seclang::operators::parse_cidr;

use super::pm::{list_lines, read_list};

/// A set of IPv4 and IPv6 networks.
#[derive(Debug, Default)]
pub struct IpSet {
    /// `(network, mask)` pairs.
    v4: Vec<(u32, u32)>,
    v6: Vec<(u128, u128)>,
}

impl IpSet {
    /// Parses `@ipMatch`'s comma-separated list.
    pub fn from_list(arg: &str) -> Result<IpSet, String> {
        let mut set = IpSet::default();
        for item in arg.split(',').map(str::trim) {
            set.add(item)?;
        }
        Ok(set)
    }

    /// Reads `@ipMatchFromFile`'s files (whitespace-separated, relative to `base_dir`).
    pub fn from_files(arg: &str, base_dir: &Path) -> Result<IpSet, String> {
        let mut set = IpSet::default();
        for name in arg.split_ascii_whitespace() {
            let text = read_list(name, base_dir)?;
            for line in list_lines(&text) {
                let item = std::str::from_utf8(line)
                    .map_err(|_| format!("{name}: invalid address {line:?}"))?;
                set.add(item).map_err(|e| format!("{name}: {e}"))?;
            }
        }
        Ok(set)
    }

    fn add(&mut self, item: &str) -> Result<(), String> {
        let (addr, prefix) = parse_cidr(item).ok_or_else(|| format!("invalid address {item:?}"))?;
        match addr {
            IpAddr::V4(a) => {
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

    /// True when `input` is an address inside one of the networks.
    pub fn matches(&self, input: &[u8]) -> bool {
        let Some(addr) = std::str::from_utf8(input)
            .ok()
            .and_then(|s| s.parse::<IpAddr>().ok())
        else {
            return false;
        };
        match addr {
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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_and_networks() {
        let set =
            IpSet::from_list("127.0.0.1, ::1,10.0.0.0/8,192.168.1.77/24,2001:db8::/32,0.0.0.0/0")
                .unwrap();
        assert!(set.matches(b"127.0.0.1"));
        assert!(set.matches(b"::1"));
        assert!(set.matches(b"10.255.1.2"));
        assert!(
            set.matches(b"192.168.1.3"),
            "host bits of the entry ignored"
        );
        assert!(set.matches(b"2001:db8:1::5"));
        assert!(set.matches(b"8.8.8.8"), "0.0.0.0/0");
        assert!(!set.matches(b"2001:db9::1"));
        assert!(!set.matches(b"not an ip"));
        assert!(!set.matches(b""));
        assert!(!set.matches(b" 127.0.0.1"));
        let set = IpSet::from_list("127.0.0.1,::1").unwrap();
        assert!(!set.matches(b"127.0.0.2"));
        assert!(!set.matches(b"::2"));
        assert!(!set.matches(b"::ffff:127.0.0.1"));
        assert!(IpSet::from_list("1.2.3.4/40").is_err());
        assert!(IpSet::from_list("x").is_err());
    }

    #[test]
    fn from_file() {
        let dir = std::env::temp_dir().join(format!("moat-ip-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("ips.txt"),
            "# blocked\n203.0.113.0/24\n\n2001:db8::1\n",
        )
        .unwrap();
        let set = IpSet::from_files("ips.txt", &dir).unwrap();
        assert!(set.matches(b"203.0.113.9"));
        assert!(set.matches(b"2001:db8::1"));
        assert!(!set.matches(b"203.0.114.9"));
        std::fs::write(dir.join("bad.txt"), "1.2.3.4\nnope\n").unwrap();
        assert!(IpSet::from_files("bad.txt", &dir)
            .unwrap_err()
            .contains("nope"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
