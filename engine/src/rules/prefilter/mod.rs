//! Ruling out operators without running them. Most CRS rules are `@rx` patterns that cannot
//! match unless the (transformed) value contains one of a few literals (`select`, `<script`,
//! `/etc/`). At load time every such link gets a prefilter id and its literals go into one
//! Aho-Corasick automaton; per request, one scan of a value gives the set of ids whose literals
//! it contains, and a link whose id is absent is skipped for that value.
//!
//! Transformations mostly leave ordinary values alone: a value with no `%`, `&`, `\`, … is the
//! same after `t:urlDecodeUni,t:htmlEntityDecode,t:lowercase` up to ASCII case, which the scan
//! ignores. [`Presence`] records which bytes a value holds and [`Trigger`] which bytes a chain
//! of transformations reacts to; when they do not meet, the untransformed value's scan stands
//! for the transformed one, and a whole collection can be ruled out for a link at once.

mod literals;
mod triggers;

use aho_corasick::{AhoCorasick, AhoCorasickKind, MatchKind};

pub use literals::{required_literals, selective};
pub use triggers::{chain_trigger, Presence, Trigger};

/// The literals of every prefiltered link, in one automaton.
#[derive(Debug)]
pub struct Prefilter {
    automaton: AhoCorasick,
    /// For each literal, the prefilter ids of the links that listed it.
    owners: Vec<Vec<u32>>,
    /// Number of prefilter ids.
    ids: usize,
}

impl Prefilter {
    /// Builds the automaton from each link's literal set (the index is the link's prefilter
    /// id). `None` when there is nothing to prefilter.
    pub fn build(sets: &[Vec<Vec<u8>>]) -> Option<Prefilter> {
        let mut literals: Vec<&[u8]> = Vec::new();
        let mut owners: Vec<Vec<u32>> = Vec::new();
        let mut index = std::collections::HashMap::new();
        for (id, set) in sets.iter().enumerate() {
            for lit in set {
                let at = *index.entry(lit.as_slice()).or_insert_with(|| {
                    literals.push(lit);
                    owners.push(Vec::new());
                    owners.len() - 1
                });
                owners[at].push(id as u32);
            }
        }
        if literals.is_empty() {
            return None;
        }
        // The contiguous NFA: about 1 MiB for CRS's 3,800 literals; a DFA over them takes
        // 37 MiB and scanned no faster in the CRS benchmark.
        let automaton = AhoCorasick::builder()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::Standard)
            .kind(Some(AhoCorasickKind::ContiguousNFA))
            .build(&literals)
            .ok()?;
        Some(Prefilter {
            automaton,
            owners,
            ids: sets.len(),
        })
    }

    /// Number of 64-bit words in a scan result.
    pub fn words(&self) -> usize {
        self.ids.div_ceil(64)
    }

    /// Sets in `out` (of [`words`](Self::words) words) the id of every link one of whose
    /// literals occurs in `value`.
    pub fn scan(&self, value: &[u8], out: &mut [u64]) {
        for m in self.automaton.find_overlapping_iter(value) {
            for &id in &self.owners[m.pattern().as_usize()] {
                out[id as usize / 64] |= 1 << (id % 64);
            }
        }
    }
}

/// True when bit `id` is set in `bits`.
pub fn has(bits: &[u64], id: u32) -> bool {
    bits.get(id as usize / 64)
        .is_some_and(|w| w & (1 << (id % 64)) != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scan_sets_the_ids_whose_literals_occur() {
        let sets = vec![
            vec![b"select".to_vec(), b"union".to_vec()],
            vec![b"<script".to_vec()],
            vec![b"union".to_vec()],
        ];
        let p = Prefilter::build(&sets).unwrap();
        let mut bits = vec![0; p.words()];
        p.scan(b"1 UNION all", &mut bits);
        assert!(has(&bits, 0) && !has(&bits, 1) && has(&bits, 2));
        let mut bits = vec![0; p.words()];
        p.scan(b"a <SCRIPT>", &mut bits);
        assert!(!has(&bits, 0) && has(&bits, 1));
        let mut bits = vec![0; p.words()];
        p.scan(b"blue cotton shirt", &mut bits);
        assert!(bits.iter().all(|w| *w == 0));
    }
}
