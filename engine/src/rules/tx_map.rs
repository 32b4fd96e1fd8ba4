//! The `TX` collection of a transaction: a map from lower-cased keys to values that knows which
//! entries the request changed. A request starts from the `TX` the prologue left (about a
//! hundred CRS settings); the thread keeps the previous request's map, and putting it back in
//! that state touches only the entries the previous request changed instead of comparing and
//! copying every one. Keys the previous request added (CRS 920450 adds one per header name) stay
//! in the table, absent, with their buffers: the next request setting the same key reuses them.

use super::fast_hash::FastMap;

/// One `TX` value, whether it is set, and whether it changed since the map was last put back in
/// its start state.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Entry {
    value: Vec<u8>,
    present: bool,
    changed: bool,
}

/// Absent entries kept for reuse at most; beyond, a reset drops them.
const MAX_ABSENT: usize = 64;

/// A `TX` map (keys lower-cased by the callers; captures live at `0`–`9`).
#[derive(Debug, Clone, Default)]
pub struct TxMap {
    entries: FastMap<String, Entry>,
    /// The identity of the start state the unchanged entries hold (0: none known).
    origin: u64,
}

impl PartialEq for TxMap {
    fn eq(&self, other: &TxMap) -> bool {
        self.iter().count() == other.iter().count()
            && self
                .iter()
                .all(|(k, v)| other.get(k).is_some_and(|o| o == v))
    }
}

impl TxMap {
    /// An empty map with room for `capacity` keys.
    pub fn with_capacity(capacity: usize) -> TxMap {
        TxMap {
            entries: FastMap::with_capacity_and_hasher(capacity, Default::default()),
            origin: 0,
        }
    }

    /// The value of `key`.
    pub fn get(&self, key: &str) -> Option<&Vec<u8>> {
        self.entries
            .get(key)
            .filter(|e| e.present)
            .map(|e| &e.value)
    }

    /// The stored key and value of `key`.
    pub fn get_key_value(&self, key: &str) -> Option<(&String, &Vec<u8>)> {
        self.entries
            .get_key_value(key)
            .filter(|(_, e)| e.present)
            .map(|(k, e)| (k, &e.value))
    }

    /// Every key and value, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (&String, &Vec<u8>)> {
        self.entries
            .iter()
            .filter(|(_, e)| e.present)
            .map(|(k, e)| (k, &e.value))
    }

    /// The value of `key` to change in place, set empty when it is not set.
    pub fn value_mut(&mut self, key: &str) -> &mut Vec<u8> {
        let e = if self.entries.contains_key(key) {
            self.entries.get_mut(key).expect("the key is there")
        } else {
            self.entries.entry(key.to_string()).or_default()
        };
        if !e.present {
            e.present = true;
            e.value.clear();
        }
        e.changed = true;
        &mut e.value
    }

    /// Removes `key` (its entry stays, absent, until the next reset).
    pub fn remove(&mut self, key: &str) {
        if let Some(e) = self.entries.get_mut(key) {
            e.present = false;
            e.changed = true;
        }
    }

    /// Number of keys the map has room for without growing.
    pub fn capacity(&self) -> usize {
        self.entries.capacity()
    }

    /// Puts the map in the state of `start` (whose identity is `origin`, never 0), reusing the
    /// buffers of the entries it has. When the map was last put in that same state, only the
    /// entries changed since are compared and copied; keys `start` lacks stay absent for reuse
    /// (up to [`MAX_ABSENT`] of them).
    pub fn reset_to(&mut self, start: &TxMap, origin: u64) {
        if self.origin != origin {
            self.entries.retain(|k, _| start.entries.contains_key(k));
            for (k, s) in &start.entries {
                match self.entries.get_mut(k) {
                    Some(e) => {
                        e.clone_from(s);
                        e.changed = false;
                    }
                    None => {
                        let e = Entry {
                            changed: false,
                            ..s.clone()
                        };
                        self.entries.insert(k.clone(), e);
                    }
                }
            }
            self.origin = origin;
            return;
        }
        for (k, e) in self.entries.iter_mut().filter(|(_, e)| e.changed) {
            e.changed = false;
            match start.entries.get(k) {
                Some(s) => {
                    e.value.clone_from(&s.value);
                    e.present = s.present;
                }
                None => e.present = false,
            }
        }
        if self.entries.len() > start.entries.len() + MAX_ABSENT {
            self.entries.retain(|k, _| start.entries.contains_key(k));
        }
    }

    /// Empties the map.
    pub fn clear(&mut self) {
        self.entries.clear();
        self.origin = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> TxMap {
        let mut m = TxMap::default();
        for (k, v) in pairs {
            *m.value_mut(k) = v.as_bytes().to_vec();
        }
        m
    }

    /// Whatever a request did to the map (changed, added, removed keys), the next request
    /// starts from exactly the start state, in the fast and in the full reset.
    #[test]
    fn a_reset_map_holds_exactly_the_start_state_after_any_changes() {
        let start = map(&[("paranoia_level", "1"), ("score", "0"), ("methods", "GET")]);
        let mut m = TxMap::default();
        for round in 0..4 {
            m.reset_to(&start, 7);
            assert!(m == start, "round {round}: {m:?}");
            *m.value_mut("score") = b"5".to_vec();
            m.value_mut("methods").extend_from_slice(b" POST");
            *m.value_mut("header_name_920450_x") = b"/x/".to_vec();
            if round == 2 {
                m.remove("paranoia_level");
            }
            assert!(m != start);
        }
        m.reset_to(&start, 7);
        assert!(m == start, "{m:?}");
    }

    /// A key the last request added is absent after the reset (not read, not listed), and a
    /// request setting it again starts from an empty value; absent keys beyond the cap go.
    #[test]
    fn keys_of_the_last_request_are_absent_and_start_empty_when_set_again() {
        let start = map(&[("paranoia_level", "1")]);
        let mut m = TxMap::default();
        m.reset_to(&start, 3);
        m.value_mut("header_name_920450_host")
            .extend_from_slice(b"/host/");
        m.reset_to(&start, 3);
        assert_eq!(m.get("header_name_920450_host"), None);
        assert!(m.get_key_value("header_name_920450_host").is_none());
        assert_eq!(m.iter().count(), 1);
        assert_eq!(m.value_mut("header_name_920450_host"), &b""[..]);
        for i in 0..2 * MAX_ABSENT {
            m.value_mut(&format!("k{i}"));
        }
        m.reset_to(&start, 3);
        assert!(m.entries.len() <= 1 + MAX_ABSENT, "{}", m.entries.len());
        assert!(m == start);
    }

    /// A map last reset to another start state is fully reset, not only its changed entries.
    #[test]
    fn a_map_from_another_start_state_is_reset_in_full() {
        let first = map(&[("a", "1"), ("b", "2")]);
        let second = map(&[("a", "9"), ("c", "3")]);
        let mut m = TxMap::default();
        m.reset_to(&first, 1);
        m.reset_to(&second, 2);
        assert!(m == second, "{m:?}");
        m.reset_to(&first, 1);
        assert!(m == first, "{m:?}");
    }
}
