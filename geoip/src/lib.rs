//! Writes MaxMind DB files (the `.mmdb` format of GeoIP2 and GeoLite2) from a list of networks
//! and the places they belong to, following the MaxMind DB format specification 2.0: a binary
//! search tree over IPv6 addresses (IPv4 networks live under `::/96`, with the usual
//! `::ffff:0:0/96` alias), a data section holding one record per distinct place, and the
//! metadata map after the `\xAB\xCD\xEFMaxMind.com` marker.
//!
//! Data flows one way: [`input`] reads CSV or JSON into [`Entry`]s (a network and a
//! [`place::Place`]), [`place`] turns a place into a GeoIP2-shaped record, [`tree`] builds the
//! search tree, [`encode`] serializes data values, and [`writer`] lays the file out.

pub mod encode;
pub mod input;
pub mod network;
pub mod place;
pub mod tree;
pub mod writer;

pub use encode::Value;
pub use input::{read_entries, Entry, Format};
pub use network::Network;
pub use place::Place;
pub use writer::{Database, Options};
