//! The `TX` collection of a transaction: a map from lower-cased keys to values that knows which
//! entries the request changed. A request starts from the `TX` the prologue left (about a
//! hundred CRS settings); the thread keeps the previous request's map, and putting it back in
//! that state touches only the entries the previous request changed instead of comparing and
//! copying every one.

use super::fast_hash::FastMap;

/// One `TX` value and whether it changed since the map was last put back in its start state.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Entry {
    value: Vec<u8>,
    changed: bool,
}

/// A `TX` map (keys lower-cased by the callers; captures live at `0`–`9`).
#[derive(Debug, Clone, Default)]
pub struct TxMap {
    entries: FastMap<String, Entry>,
    /// The identity of the start state the unchanged entries hold (0: none known).
    origin: u64,
    /// Set when a key was removed: the unchanged entries no longer hold the whole start state.
    removed: bool,
}

impl PartialEq for TxMap {
    fn eq(&self, other: &TxMap) -> bool {
        self.entries.len() == other.entries.len()
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
            removed: false,
        }
    }

    /// The value of `key`.
    pub fn get(&self, key: &str) -> Option<&Vec<u8>> {
        self.entries.get(key).map(|e| &e.value)
    }

    /// The stored key and value of `key`.
    pub fn get_key_value(&self, key: &str) -> Option<(&String, &Vec<u8>)> {
        self.entries.get_key_value(key).map(|(k, e)| (k, &e.value))
    }

    /// Every key and value, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (&String, &Vec<u8>)> {
        self.entries.iter().map(|(k, e)| (k, &e.value))
    }

    /// The value of `key` to change in place.
    pub fn get_mut(&mut self, key: &str) -> Option<&mut Vec<u8>> {
        self.entries.get_mut(key).map(|e| {
            e.changed = true;
            &mut e.value
        })
    }

    /// The value of `key` to change in place, inserted empty when it is not set.
    pub fn value_mut(&mut self, key: &str) -> &mut Vec<u8> {
        let e = if self.entries.contains_key(key) {
            self.entries.get_mut(key).expect("the key is there")
        } else {
            self.entries.entry(key.to_string()).or_default()
        };
        e.changed = true;
        &mut e.value
    }

    /// Sets `key` to `value`.
    pub fn insert(&mut self, key: String, value: Vec<u8>) {
        self.entries.insert(
            key,
            Entry {
                value,
                changed: true,
            },
        );
    }

    /// Removes `key`.
    pub fn remove(&mut self, key: &str) {
        if self.entries.remove(key).is_some() {
            self.removed = true;
        }
    }

    /// Number of keys the map has room for without growing.
    pub fn capacity(&self) -> usize {
        self.entries.capacity()
    }

    /// Puts the map in the state of `start` (whose identity is `origin`, never 0), reusing the
    /// buffers of the entries it has. When the map was last put in that same state, only the
    /// entries changed since are compared and copied.
    pub fn reset_to(&mut self, start: &TxMap, origin: u64) {
        if self.origin == origin && !self.removed {
            self.entries.retain(|k, e| {
                if !e.changed {
                    return true;
                }
                match start.entries.get(k) {
                    Some(s) => {
                        e.value.clone_from(&s.value);
                        e.changed = false;
                        true
                    }
                    None => false,
                }
            });
            return;
        }
        self.entries.retain(|k, _| start.entries.contains_key(k));
        for (k, s) in &start.entries {
            match self.entries.get_mut(k) {
                Some(e) => {
                    e.value.clone_from(&s.value);
                    e.changed = false;
                }
                None => {
                    self.entries.insert(
                        k.clone(),
                        Entry {
                            value: s.value.clone(),
                            changed: false,
                        },
                    );
                }
            }
        }
        self.origin = origin;
        self.removed = false;
    }

    /// Empties the map.
    pub fn clear(&mut self) {
        self.entries.clear();
        self.origin = 0;
        self.removed = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> TxMap {
        let mut m = TxMap::default();
        for (k, v) in pairs {
            m.insert(k.to_string(), v.as_bytes().to_vec());
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
            m.get_mut("methods").unwrap().extend_from_slice(b" POST");
            m.insert("header_name_920450_x".into(), b"/x/".to_vec());
            if round == 2 {
                m.remove("paranoia_level");
            }
            assert!(m != start);
        }
        m.reset_to(&start, 7);
        assert!(m == start, "{m:?}");
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
