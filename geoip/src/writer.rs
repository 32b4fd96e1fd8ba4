//! Lays out a MaxMind DB file: the search tree (node records of 24, 28 or 32 bits, the smallest
//! that holds every pointer), 16 zero bytes, the data section (each distinct record once), and
//! the metadata map after the `\xAB\xCD\xEFMaxMind.com` marker.

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::encode::Value;
use crate::input::Entry;
use crate::tree::{Record, Tree};

/// The marker that starts the metadata section.
pub const METADATA_MARKER: &[u8] = b"\xAB\xCD\xEFMaxMind.com";

/// Zero bytes between the search tree and the data section.
const SEPARATOR: usize = 16;

/// Metadata written into the file.
#[derive(Debug, Clone)]
pub struct Options {
    /// `database_type`, e.g. `GeoLite2-City` (readers use it only for display).
    pub database_type: String,
    /// English description.
    pub description: String,
    /// `build_epoch` (seconds since 1970); `None` uses the current time.
    pub build_epoch: Option<u64>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            database_type: "Moat-GeoIP".to_string(),
            description: "Networks and places written by moat-mmdb".to_string(),
            build_epoch: None,
        }
    }
}

/// A database to write: networks mapped to records.
#[derive(Debug, Default)]
pub struct Database {
    tree: Tree,
    records: Vec<Vec<u8>>,
    known: HashMap<Vec<u8>, usize>,
    /// Number of networks inserted.
    pub networks: usize,
}

impl Database {
    /// Builds a database from entries; more specific networks win over wider ones they
    /// overlap, and of two equal networks the later entry wins.
    pub fn from_entries(entries: &[Entry]) -> Result<Database, String> {
        let mut order: Vec<&Entry> = entries.iter().collect();
        order.sort_by_key(|e| e.network.tree_prefix());
        let mut db = Database::default();
        for e in order {
            db.insert(e, e.place.to_record())?;
        }
        Ok(db)
    }

    /// Maps a network to a record (inserting wider networks after narrower ones hides them).
    pub fn insert(&mut self, entry: &Entry, record: Value) -> Result<(), String> {
        let bytes = record
            .to_bytes()
            .map_err(|e| format!("{}: {e}", entry.network))?;
        let next = self.records.len();
        let index = *self.known.entry(bytes.clone()).or_insert(next);
        if index == next {
            self.records.push(bytes);
        }
        self.tree.insert(&entry.network, index);
        self.networks += 1;
        Ok(())
    }

    /// The complete file.
    pub fn to_bytes(mut self, options: &Options) -> Result<Vec<u8>, String> {
        self.tree.alias_ipv4_mapped();
        let mut offsets = Vec::with_capacity(self.records.len());
        let mut data = Vec::new();
        for r in &self.records {
            offsets.push(data.len());
            data.extend_from_slice(r);
        }
        let node_count = self.tree.nodes.len();
        let largest = node_count + SEPARATOR + data.len();
        let record_size: u16 = match largest {
            n if n < 1 << 24 => 24,
            n if n < 1 << 28 => 28,
            n if n < 1 << 32 => 32,
            _ => return Err("database too large for the format".into()),
        };
        let value = |r: Record| -> u32 {
            (match r {
                Record::Empty => node_count,
                Record::Node(n) => n,
                Record::Data(d) => node_count + SEPARATOR + offsets[d],
            }) as u32
        };
        let mut out = Vec::with_capacity(node_count * usize::from(record_size) / 4 + largest);
        for [left, right] in &self.tree.nodes {
            write_node(&mut out, record_size, value(*left), value(*right));
        }
        out.extend_from_slice(&[0; SEPARATOR]);
        out.extend_from_slice(&data);
        out.extend_from_slice(METADATA_MARKER);
        metadata(options, node_count, record_size)?.encode(&mut out)?;
        Ok(out)
    }

    /// Writes the file to `path` atomically: a temporary file in the same directory renamed
    /// over the target, so a server that maps the old file keeps reading it undisturbed.
    pub fn write_to(self, path: &Path, options: &Options) -> Result<(), String> {
        let bytes = self.to_bytes(options)?;
        let dir = path.parent().filter(|d| !d.as_os_str().is_empty());
        let dir = dir.unwrap_or(Path::new("."));
        let name = path.file_name().ok_or("output path has no file name")?;
        let tmp = dir.join(format!(
            ".{}.tmp{}",
            name.to_string_lossy(),
            std::process::id()
        ));
        let write = || -> std::io::Result<()> {
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(&bytes)?;
            f.sync_all()?;
            std::fs::rename(&tmp, path)
        };
        write().map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            format!("cannot write {}: {e}", path.display())
        })
    }
}

/// One node: two records of `size` bits, big-endian; with 28 bits the middle byte holds the
/// high nibbles of both records (left in the upper half).
fn write_node(out: &mut Vec<u8>, size: u16, left: u32, right: u32) {
    match size {
        24 => {
            out.extend_from_slice(&left.to_be_bytes()[1..]);
            out.extend_from_slice(&right.to_be_bytes()[1..]);
        }
        28 => {
            out.extend_from_slice(&left.to_be_bytes()[1..]);
            out.push((((left >> 24) & 0x0f) << 4) as u8 | ((right >> 24) & 0x0f) as u8);
            out.extend_from_slice(&right.to_be_bytes()[1..]);
        }
        _ => {
            out.extend_from_slice(&left.to_be_bytes());
            out.extend_from_slice(&right.to_be_bytes());
        }
    }
}

fn metadata(options: &Options, node_count: usize, record_size: u16) -> Result<Value, String> {
    let epoch = options.build_epoch.unwrap_or_else(|| {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
    });
    let node_count = u32::try_from(node_count).map_err(|_| "too many tree nodes")?;
    Ok(Value::Map(vec![
        ("binary_format_major_version".into(), Value::Uint16(2)),
        ("binary_format_minor_version".into(), Value::Uint16(0)),
        ("build_epoch".into(), Value::Uint64(epoch)),
        ("database_type".into(), Value::str(&options.database_type)),
        (
            "description".into(),
            Value::Map(vec![("en".into(), Value::str(&options.description))]),
        ),
        ("ip_version".into(), Value::Uint16(6)),
        ("languages".into(), Value::Array(vec![Value::str("en")])),
        ("node_count".into(), Value::Uint32(node_count)),
        ("record_size".into(), Value::Uint16(record_size)),
    ]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_layouts_match_the_specification() {
        let mut out = Vec::new();
        write_node(&mut out, 24, 0x0a0b0c, 0x010203);
        assert_eq!(out, [0x0a, 0x0b, 0x0c, 0x01, 0x02, 0x03]);
        out.clear();
        write_node(&mut out, 28, 0x0a0b0c0d, 0x01020304);
        assert_eq!(out, [0x0b, 0x0c, 0x0d, 0xa1, 0x02, 0x03, 0x04]);
        out.clear();
        write_node(&mut out, 32, 1, 2);
        assert_eq!(out, [0, 0, 0, 1, 0, 0, 0, 2]);
    }
}
