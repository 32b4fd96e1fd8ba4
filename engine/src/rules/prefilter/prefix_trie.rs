//! Which links' prefixes a value starts with: a trie of lower-cased strings, each node holding
//! the prefilter ids of the strings that end there. A value is walked from its first byte until
//! the trie has no edge for the next byte, which for ordinary values is after a byte or two.

/// A node while the trie is built: `(byte, child)` edges sorted by byte, and the ids of the
/// strings that end there.
type TreeNode = (Vec<(u8, u32)>, Vec<u32>);

/// A trie of lower-cased strings with the ids that own them, in flat arrays: node `n`'s edges
/// are `bytes[edges[n]..edges[n + 1]]` (sorted) leading to `targets[…]`, its ids
/// `ids[owners[n]..owners[n + 1]]`. The root is node 0.
#[derive(Debug)]
pub struct PrefixTrie {
    edges: Vec<u32>,
    bytes: Vec<u8>,
    targets: Vec<u32>,
    owners: Vec<u32>,
    ids: Vec<u32>,
}

impl PrefixTrie {
    /// The trie of `strings` (ASCII case ignored), each with the id that owns it.
    pub fn new(strings: &[(Vec<u8>, u32)]) -> PrefixTrie {
        // Built as a tree of sorted edge lists, then laid out flat.
        let mut tree: Vec<TreeNode> = vec![Default::default()];
        for (string, id) in strings {
            let mut at = 0usize;
            for &b in string {
                let b = b.to_ascii_lowercase();
                at = match tree[at].0.binary_search_by_key(&b, |e| e.0) {
                    Ok(i) => tree[at].0[i].1 as usize,
                    Err(i) => {
                        let next = tree.len();
                        tree.push(Default::default());
                        tree[at].0.insert(i, (b, next as u32));
                        next
                    }
                };
            }
            if !tree[at].1.contains(id) {
                tree[at].1.push(*id);
            }
        }
        let mut trie = PrefixTrie {
            edges: vec![0],
            bytes: Vec::new(),
            targets: Vec::new(),
            owners: vec![0],
            ids: Vec::new(),
        };
        for (edges, ids) in tree {
            trie.bytes.extend(edges.iter().map(|e| e.0));
            trie.targets.extend(edges.iter().map(|e| e.1));
            trie.edges.push(trie.bytes.len() as u32);
            trie.ids.extend(ids);
            trie.owners.push(trie.ids.len() as u32);
        }
        trie
    }

    /// Calls `found` with the id of every string `value` starts with (ASCII case ignored).
    pub fn starts_of(&self, value: &[u8], mut found: impl FnMut(u32)) {
        let mut node = 0usize;
        for &b in value {
            let (from, to) = (self.edges[node] as usize, self.edges[node + 1] as usize);
            match self.bytes[from..to].binary_search(&b.to_ascii_lowercase()) {
                Ok(i) => node = self.targets[from + i] as usize,
                Err(_) => return,
            }
            let (from, to) = (self.owners[node] as usize, self.owners[node + 1] as usize);
            self.ids[from..to].iter().for_each(|&id| found(id));
        }
    }

    /// Heap bytes the trie holds.
    pub fn memory_usage(&self) -> usize {
        (self.edges.capacity() + self.targets.capacity() + self.owners.capacity()) * 4
            + self.bytes.capacity()
            + self.ids.capacity() * 4
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn starts(t: &PrefixTrie, v: &[u8]) -> Vec<u32> {
        let mut ids = Vec::new();
        t.starts_of(v, |id| ids.push(id));
        ids
    }

    #[test]
    fn finds_the_strings_a_value_starts_with() {
        let t = PrefixTrie::new(&[
            (b"ls".to_vec(), 0),
            (b"Cat".to_vec(), 1),
            (b"json.cat".to_vec(), 1),
            (b"json.".to_vec(), 2),
        ]);
        assert_eq!(starts(&t, b"LS -l"), [0]);
        assert_eq!(starts(&t, b"cat /etc/passwd"), [1]);
        assert_eq!(starts(&t, b"json.CAT x"), [2, 1]);
        assert_eq!(starts(&t, b"x cat"), Vec::<u32>::new());
        assert_eq!(starts(&t, b"ca"), Vec::<u32>::new());
        assert_eq!(starts(&PrefixTrie::new(&[]), b"ls"), Vec::<u32>::new());
    }
}
