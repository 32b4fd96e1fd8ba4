//! Every occurrence of a DFA's literals in a value, overlapping ones included, for values as
//! long as request bodies. The crate's DFA is copied at load into a [`WalkTable`]: 16-bit
//! states, so that a step is a class lookup, an add and one read of a table no index can run
//! past, and match states marked by their top bit, so that one OR checks several states for a
//! match. Each step waits for the table read of the step before it, so one walk over a long
//! value is bound by memory latency; a long value is walked as four stretches at once, whose
//! independent steps overlap in the CPU (four keep every state and stretch in a register; eight
//! spilled to the stack and walked 1 MiB in 1.05 ms against four's 0.78 ms).

use std::collections::HashMap;

use aho_corasick::automaton::Automaton;
use aho_corasick::dfa::DFA;
use aho_corasick::Anchored;

/// Values shorter than this are walked as one stretch.
const SPLIT_FROM: usize = 2048;
/// Stretches walked at once.
const STREAMS: usize = 4;
/// Entries in the transition table: every 16-bit index is in it.
const TABLE: usize = 1 << 16;
/// Match states' rows start here, the others' at 0: a state is a match state when its top bit
/// is set, so one OR tells whether any of several is.
const MATCHING: u16 = 1 << 15;

/// A DFA's transitions for walking. A state is the offset of its row in `next`: its number
/// times the number of byte classes, for match states from [`MATCHING`] on.
#[derive(Debug)]
pub struct WalkTable {
    /// Each byte's class: bytes every state treats alike share one.
    classes: [u8; 256],
    /// `next[state + class]` is the state after a byte of that class; the unused rest is 0.
    next: Box<[u16; TABLE]>,
    /// The state a walk starts in.
    start: u16,
    /// Number of byte classes (the length of a row).
    row: u16,
    /// Match state `k`'s patterns are `patterns[pattern_start[k]..pattern_start[k + 1]]`.
    pattern_start: Vec<u32>,
    /// See `pattern_start`.
    patterns: Vec<u32>,
    /// The longest pattern's length.
    max_pattern_len: usize,
    /// Entries of `next` in use (in both halves).
    used: usize,
}

impl WalkTable {
    /// Copies the states `dfa` reaches from its unanchored start; `None` when they do not fit
    /// 16-bit row offsets. `dfa` must use standard match semantics.
    pub fn new(dfa: &DFA) -> Option<WalkTable> {
        let start = dfa.start_state(Anchored::No).ok()?;
        // Every state reached from the start (numbered as found, the start 0), each with the
        // numbers of its 256 successors: the DFA is asked once per state and byte.
        let mut states = vec![start];
        let mut number = HashMap::from([(start, 0usize)]);
        let mut successors: Vec<[usize; 256]> = Vec::new();
        while let Some(&state) = states.get(successors.len()) {
            successors.push(std::array::from_fn(|b| {
                let next = dfa.next_state(Anchored::No, state, b as u8);
                *number.entry(next).or_insert_with(|| {
                    states.push(next);
                    states.len() - 1
                })
            }));
        }
        // Bytes every state treats alike share a class; `bytes_of[c]` is one byte of class `c`.
        let mut classes = [0u8; 256];
        let mut bytes_of: Vec<usize> = Vec::new();
        for b in 0..256 {
            let alike = |&c: &usize| successors.iter().all(|to| to[c] == to[b]);
            classes[b] = match bytes_of.iter().position(alike) {
                Some(c) => c as u8,
                None => {
                    bytes_of.push(b);
                    (bytes_of.len() - 1) as u8
                }
            };
        }
        let row = bytes_of.len();
        let is_match: Vec<bool> = states.iter().map(|&s| dfa.is_match(s)).collect();
        let matching = is_match.iter().filter(|&&m| m).count();
        let half = usize::from(MATCHING);
        if matching * row > half || (states.len() - matching) * row > half {
            return None;
        }
        // Each state's row offset: match states from `MATCHING` on, the others from 0, each
        // kind in the order found (the start state first of the others).
        let mut counts = [0, 0];
        let offset: Vec<usize> = is_match
            .iter()
            .map(|&m| {
                let k = counts[usize::from(m)];
                counts[usize::from(m)] += 1;
                usize::from(m) * half + k * row
            })
            .collect();
        let mut next = vec![0u16; TABLE];
        for (k, to) in successors.iter().enumerate() {
            for (c, &b) in bytes_of.iter().enumerate() {
                next[offset[k] + c] = offset[to[b]] as u16;
            }
        }
        let mut pattern_start = vec![0u32];
        let mut patterns = Vec::new();
        for (&state, _) in states.iter().zip(&is_match).filter(|(_, &m)| m) {
            patterns
                .extend((0..dfa.match_len(state)).map(|j| dfa.match_pattern(state, j).as_u32()));
            pattern_start.push(patterns.len() as u32);
        }
        Some(WalkTable {
            classes,
            next: next.into_boxed_slice().try_into().ok()?,
            start: offset[0] as u16,
            row: row as u16,
            pattern_start,
            patterns,
            max_pattern_len: dfa.max_pattern_len(),
            used: states.len() * row,
        })
    }

    /// The state after `byte` in state `state`.
    #[inline(always)]
    fn step(&self, state: u16, byte: u8) -> u16 {
        self.next[usize::from(state.wrapping_add(u16::from(self.classes[usize::from(byte)])))]
    }

    /// Calls `found(pattern, end)` for each pattern of match state `state`.
    fn report(&self, state: u16, end: usize, found: &mut impl FnMut(usize, usize)) {
        let k = usize::from((state - MATCHING) / self.row);
        let (from, to) = (self.pattern_start[k], self.pattern_start[k + 1]);
        for &p in &self.patterns[from as usize..to as usize] {
            found(p as usize, end);
        }
    }

    /// Heap bytes the table holds (its unused rest never touched, so never resident).
    pub fn memory_usage(&self) -> usize {
        self.used * 2 + (self.pattern_start.capacity() + self.patterns.capacity()) * 4
    }

    /// Calls `found(pattern, end)` for every occurrence in `hay` of a pattern, `end` being the
    /// offset just past it. An occurrence within a pattern's length of a stretch's start may be
    /// reported twice.
    pub fn for_each_match(&self, hay: &[u8], found: impl FnMut(usize, usize)) {
        self.walk_all::<false>(hay, &mut [0; 256], found);
    }

    /// [`for_each_match`](Self::for_each_match), also setting `seen[b]` to 1 for each byte `b`
    /// of `hay` (the walk reads every byte anyway; a pass of its own would read them again).
    pub fn for_each_match_noting(
        &self,
        hay: &[u8],
        seen: &mut [u8; 256],
        found: impl FnMut(usize, usize),
    ) {
        self.walk_all::<true>(hay, seen, found);
    }

    /// [`for_each_match`](Self::for_each_match), noting each byte in `seen` when `NOTE`.
    fn walk_all<const NOTE: bool>(
        &self,
        hay: &[u8],
        seen: &mut [u8; 256],
        mut found: impl FnMut(usize, usize),
    ) {
        // Each stretch but the first starts this many bytes before its own, so that an
        // occurrence ending in it is walked whole.
        let overlap = self.max_pattern_len.saturating_sub(1);
        let chunk = hay.len().div_ceil(STREAMS);
        if hay.len() < SPLIT_FROM || overlap >= chunk {
            self.walk::<NOTE>(self.start, hay, 0, seen, &mut found);
            return;
        }
        let from: [usize; STREAMS] = std::array::from_fn(|j| (j * chunk).saturating_sub(overlap));
        let end: [usize; STREAMS] = std::array::from_fn(|j| ((j + 1) * chunk).min(hay.len()));
        let steps = from.iter().zip(&end).map(|(f, e)| e - f).min().unwrap_or(0);
        let lanes = from.map(|f| &hay[f..f + steps]);
        let mut sid = [self.start; STREAMS];
        let mut i = 0;
        while let Some(at) = self.steps_until_match::<NOTE>(lanes, i, &mut sid, seen) {
            for (j, &s) in sid.iter().enumerate() {
                if s >= MATCHING {
                    self.report(s, from[j] + at + 1, &mut found);
                }
            }
            i = at + 1;
        }
        for j in 0..STREAMS {
            self.walk::<NOTE>(sid[j], &hay[..end[j]], from[j] + steps, seen, &mut found);
        }
    }

    /// Walks the stretches in step from step `i` on (from states `sid`, left in it) until
    /// one of them is a match state; returns that step, `None` at the stretches' end. Apart
    /// from the reporting, so that the four states and stretches stay in registers (inlined
    /// into its caller, they were spilled to the stack: 1.3 ms a MiB against 0.8).
    #[inline(never)]
    fn steps_until_match<const NOTE: bool>(
        &self,
        lanes: [&[u8]; STREAMS],
        i: usize,
        sid: &mut [u16; STREAMS],
        seen: &mut [u8; 256],
    ) -> Option<usize> {
        let [a, b, c, d] = lanes.map(|lane| lane.get(i..).unwrap_or_default());
        let [mut s0, mut s1, mut s2, mut s3] = *sid;
        let steps_of = a.iter().zip(b).zip(c).zip(d);
        let mut found = None;
        for (k, (((&x0, &x1), &x2), &x3)) in steps_of.enumerate() {
            if NOTE {
                for x in [x0, x1, x2, x3] {
                    seen[usize::from(x)] = 1;
                }
            }
            s0 = self.step(s0, x0);
            s1 = self.step(s1, x1);
            s2 = self.step(s2, x2);
            s3 = self.step(s3, x3);
            if (s0 | s1) | (s2 | s3) >= MATCHING {
                found = Some(i + k);
                break;
            }
        }
        *sid = [s0, s1, s2, s3];
        found
    }

    /// Walks `hay[from..]` from `state`, reporting each match with its end offset and noting
    /// each byte in `seen` when `NOTE`.
    fn walk<const NOTE: bool>(
        &self,
        mut state: u16,
        hay: &[u8],
        from: usize,
        seen: &mut [u8; 256],
        found: &mut impl FnMut(usize, usize),
    ) {
        for (i, &b) in hay[from..].iter().enumerate() {
            if NOTE {
                seen[usize::from(b)] = 1;
            }
            state = self.step(state, b);
            if state >= MATCHING {
                self.report(state, from + i + 1, found);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aho_corasick::{AhoCorasick, MatchKind};
    use std::collections::BTreeSet;

    /// Over short and long haystacks, with literals across the stretches' borders, the walk
    /// finds exactly the occurrences the crate's overlapping search finds.
    #[test]
    fn finds_what_the_overlapping_search_finds() {
        let mut rng = crate::test_rng::XorShift(0xD1CE_5EED_0000_0001);
        let alphabet = b"abcAB -";
        for round in 0..60 {
            let patterns: Vec<Vec<u8>> = (0..1 + rng.next() % 12)
                .map(|_| {
                    let len = 1 + (rng.next() % 6) as usize;
                    (0..len)
                        .map(|_| alphabet[(rng.next() % alphabet.len() as u64) as usize])
                        .collect()
                })
                .collect();
            let len = [10usize, 2047, 2048, 5000, 70_001][round % 5];
            let hay: Vec<u8> = (0..len)
                .map(|_| alphabet[(rng.next() % alphabet.len() as u64) as usize])
                .collect();
            let dfa = DFA::builder()
                .ascii_case_insensitive(true)
                .match_kind(MatchKind::Standard)
                .prefilter(false)
                .build(&patterns)
                .unwrap();
            let table = WalkTable::new(&dfa).unwrap();
            let mut walked = BTreeSet::new();
            table.for_each_match(&hay, |p, end| {
                walked.insert((p, end));
            });
            let reference = AhoCorasick::builder()
                .ascii_case_insensitive(true)
                .build(&patterns)
                .unwrap();
            let expected: BTreeSet<(usize, usize)> = reference
                .find_overlapping_iter(&hay)
                .map(|m| (m.pattern().as_usize(), m.end()))
                .collect();
            assert_eq!(walked, expected, "round {round}, {len} bytes");
        }
    }
}
