//! The binary search tree over the 128 bits of an IPv6 address: each node has a left (bit 0)
//! and a right (bit 1) record, which is empty, another node, or a data record. IPv4 networks
//! are stored under `::/96`, and `::ffff:0:0/96` is made an alias of that subtree, as in
//! MaxMind's own databases, so IPv4-mapped IPv6 addresses find the same records.

use crate::network::Network;

/// What a node's record points at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Record {
    /// No data for the addresses below.
    Empty,
    /// Another node (index into [`Tree::nodes`]).
    Node(usize),
    /// A data record (index into the caller's list of records).
    Data(usize),
}

/// The search tree; node 0 is the root.
#[derive(Debug, Clone)]
pub struct Tree {
    /// Nodes as `[left, right]` records.
    pub nodes: Vec<[Record; 2]>,
}

impl Default for Tree {
    fn default() -> Self {
        Tree {
            nodes: vec![[Record::Empty; 2]],
        }
    }
}

/// The bit of `addr` at `depth` (0 = most significant).
fn bit(addr: u128, depth: u8) -> usize {
    ((addr >> (127 - u32::from(depth))) & 1) as usize
}

impl Tree {
    /// Maps every address of `net` to data record `data`. A network inserted later replaces
    /// what an earlier one mapped for the addresses they share; insert the widest networks
    /// first so that the most specific network wins.
    pub fn insert(&mut self, net: &Network, data: usize) {
        let addr = net.tree_bits();
        let prefix = net.tree_prefix();
        let mut node = 0;
        for depth in 0..prefix - 1 {
            let side = bit(addr, depth);
            node = match self.nodes[node][side] {
                Record::Node(next) => next,
                other => {
                    // Empty, or data of a wider network: a new node, both halves inheriting it.
                    let next = self.nodes.len();
                    self.nodes.push([other; 2]);
                    self.nodes[node][side] = Record::Node(next);
                    next
                }
            };
        }
        self.nodes[node][bit(addr, prefix - 1)] = Record::Data(data);
    }

    /// Points `::ffff:0:0/96` at the IPv4 subtree (`::/96`) when there is one and nothing else
    /// is stored under `::ffff:0:0/96`.
    pub fn alias_ipv4_mapped(&mut self) {
        let Some(ipv4_root) = self.node_at(0, 96) else {
            return;
        };
        let mapped: u128 = 0xffff << 32;
        let mut node = 0;
        for depth in 0..95 {
            let side = bit(mapped, depth);
            node = match self.nodes[node][side] {
                Record::Node(next) => next,
                Record::Empty => {
                    let next = self.nodes.len();
                    self.nodes.push([Record::Empty; 2]);
                    self.nodes[node][side] = Record::Node(next);
                    next
                }
                Record::Data(_) => return,
            };
        }
        let last = &mut self.nodes[node][bit(mapped, 95)];
        if *last == Record::Empty {
            *last = Record::Node(ipv4_root);
        }
    }

    /// The node reached by following the first `depth` bits of `addr`, if all are nodes.
    fn node_at(&self, addr: u128, depth: u8) -> Option<usize> {
        let mut node = 0;
        for d in 0..depth {
            match self.nodes[node][bit(addr, d)] {
                Record::Node(next) => node = next,
                _ => return None,
            }
        }
        Some(node)
    }

    /// The data record an address maps to (for tests and checks).
    pub fn find(&self, addr: u128) -> Option<usize> {
        let mut node = 0;
        for depth in 0..128 {
            match self.nodes[node][bit(addr, depth)] {
                Record::Node(next) => node = next,
                Record::Data(d) => return Some(d),
                Record::Empty => return None,
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v4(s: &str) -> u128 {
        u128::from(u32::from(s.parse::<std::net::Ipv4Addr>().unwrap()))
    }

    #[test]
    fn most_specific_network_wins_when_inserted_last() {
        let mut t = Tree::default();
        t.insert(&Network::parse("10.0.0.0/8").unwrap(), 0);
        t.insert(&Network::parse("10.1.0.0/16").unwrap(), 1);
        t.insert(&Network::parse("2001:db8::/32").unwrap(), 2);
        assert_eq!(t.find(v4("10.2.3.4")), Some(0));
        assert_eq!(t.find(v4("10.1.3.4")), Some(1));
        assert_eq!(t.find(v4("11.0.0.1")), None);
        let a: std::net::Ipv6Addr = "2001:db8:ffff::1".parse().unwrap();
        assert_eq!(t.find(a.into()), Some(2));
    }

    #[test]
    fn ipv4_mapped_addresses_share_the_ipv4_subtree() {
        let mut t = Tree::default();
        t.insert(&Network::parse("192.0.2.0/24").unwrap(), 7);
        t.alias_ipv4_mapped();
        let mapped: std::net::Ipv6Addr = "::ffff:192.0.2.9".parse().unwrap();
        assert_eq!(t.find(mapped.into()), Some(7));
    }
}
