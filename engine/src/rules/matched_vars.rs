//! `MATCHED_VARS`: the names and values a link matched. Links match on almost every request
//! (CRS's paranoia-level checks, initialisation rules), so the buffers of earlier matches are
//! kept and written over instead of allocated anew.

/// The variables one link matched, in order, with spare buffers from earlier links.
#[derive(Debug, Default)]
pub struct MatchedVars {
    entries: Vec<Matched>,
    len: usize,
}

/// One matched variable.
#[derive(Debug, Default)]
pub struct Matched {
    /// `COLLECTION:key` or `COLLECTION`.
    pub name: String,
    /// The value the operator saw (after transformations).
    pub value: Vec<u8>,
    /// The operator's captures (`TX:0`–`TX:9`), when the link captures.
    pub captures: Option<Vec<Vec<u8>>>,
}

impl MatchedVars {
    /// Forgets the entries, keeping their buffers.
    pub fn clear(&mut self) {
        self.len = 0;
    }

    /// The largest buffer an entry holds, or the number of entries if larger (to decide whether
    /// the buffers are worth keeping).
    pub fn capacity(&self) -> usize {
        self.entries
            .iter()
            .map(|e| e.name.capacity().max(e.value.capacity()))
            .max()
            .unwrap_or(0)
            .max(self.entries.len())
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when nothing matched.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Appends an entry, reusing a spare one's buffers; returns it to be filled (its name and
    /// value are empty, its captures `None`).
    pub fn push(&mut self) -> &mut Matched {
        if self.len == self.entries.len() {
            self.entries.push(Matched::default());
        }
        let m = &mut self.entries[self.len];
        self.len += 1;
        m.name.clear();
        m.value.clear();
        m.captures = None;
        m
    }

    /// The entries.
    pub fn iter(&self) -> impl Iterator<Item = &Matched> {
        self.entries[..self.len].iter()
    }

    /// Entry `i`.
    pub fn get(&self, i: usize) -> Option<&Matched> {
        self.entries[..self.len].get(i)
    }

    /// Entry `i`, to take its captures.
    pub fn get_mut(&mut self, i: usize) -> Option<&mut Matched> {
        self.entries[..self.len].get_mut(i)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cleared_entries_are_gone_and_new_ones_start_empty() {
        let mut m = MatchedVars::default();
        let e = m.push();
        e.name.push_str("ARGS:q");
        e.value.extend_from_slice(b"long value");
        e.captures = Some(vec![b"x".to_vec()]);
        m.push().name.push_str("ARGS:r");
        assert_eq!(m.len(), 2);
        m.clear();
        assert!(m.is_empty() && m.iter().next().is_none());
        let e = m.push();
        assert!(e.name.is_empty() && e.value.is_empty() && e.captures.is_none());
        e.name.push_str("TX:a");
        let names: Vec<&str> = m.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(names, ["TX:a"]);
        assert!(m.get(1).is_none());
    }
}
