//! Every occurrence of a DFA's literals in a value, overlapping ones included. Each step of the
//! automaton waits for the table read of the step before it, so one walk over a long value is
//! bound by memory latency (4–5 cycles a byte here); a long value (a request body) is walked as
//! several stretches at once, whose independent steps overlap in the CPU.

use aho_corasick::automaton::{Automaton, StateID};
use aho_corasick::dfa::DFA;
use aho_corasick::Anchored;

/// Values shorter than this are walked as one stretch.
const SPLIT_FROM: usize = 2048;
/// Stretches walked at once.
const STREAMS: usize = 8;

/// Calls `found(pattern, end)` for every occurrence in `hay` of a pattern of `dfa` (built with
/// standard match semantics, for unanchored searches), `end` being the offset just past it. An
/// occurrence within a literal's length of a stretch's start may be reported twice.
pub fn for_each_match(dfa: &DFA, hay: &[u8], mut found: impl FnMut(usize, usize)) {
    let Ok(start) = dfa.start_state(Anchored::No) else {
        return;
    };
    let mut report = |sid, end| {
        for k in 0..dfa.match_len(sid) {
            found(dfa.match_pattern(sid, k).as_usize(), end);
        }
    };
    // Each stretch but the first starts this many bytes before its own, so that an occurrence
    // ending in it is walked whole.
    let overlap = dfa.max_pattern_len().saturating_sub(1);
    let chunk = hay.len().div_ceil(STREAMS);
    if hay.len() < SPLIT_FROM || overlap >= chunk {
        walk(dfa, start, hay, 0, &mut report);
        return;
    }
    let from: [usize; STREAMS] = std::array::from_fn(|j| (j * chunk).saturating_sub(overlap));
    let end: [usize; STREAMS] = std::array::from_fn(|j| ((j + 1) * chunk).min(hay.len()));
    let steps = from.iter().zip(&end).map(|(f, e)| e - f).min().unwrap_or(0);
    // The stretches in step: eight states in registers, eight independent table reads a step.
    let [a, b, c, d, e, f, g, h] = from.map(|f| &hay[f..f + steps]);
    let mut sid = [start; STREAMS];
    let steps_of = a.iter().zip(b).zip(c).zip(d).zip(e).zip(f).zip(g).zip(h);
    for (i, (((((((&x0, &x1), &x2), &x3), &x4), &x5), &x6), &x7)) in steps_of.enumerate() {
        sid = [
            dfa.next_state(Anchored::No, sid[0], x0),
            dfa.next_state(Anchored::No, sid[1], x1),
            dfa.next_state(Anchored::No, sid[2], x2),
            dfa.next_state(Anchored::No, sid[3], x3),
            dfa.next_state(Anchored::No, sid[4], x4),
            dfa.next_state(Anchored::No, sid[5], x5),
            dfa.next_state(Anchored::No, sid[6], x6),
            dfa.next_state(Anchored::No, sid[7], x7),
        ];
        if sid.iter().any(|&s| dfa.is_special(s)) {
            for (j, &s) in sid.iter().enumerate() {
                if dfa.is_special(s) && dfa.is_match(s) {
                    report(s, from[j] + i + 1);
                }
            }
        }
    }
    for j in 0..STREAMS {
        walk(dfa, sid[j], &hay[..end[j]], from[j] + steps, &mut report);
    }
}

/// Walks `hay[from..]` from state `sid`, reporting each match state with its end offset.
fn walk(
    dfa: &DFA,
    mut sid: StateID,
    hay: &[u8],
    from: usize,
    report: &mut impl FnMut(StateID, usize),
) {
    for (i, &b) in hay[from..].iter().enumerate() {
        sid = dfa.next_state(Anchored::No, sid, b);
        if dfa.is_special(sid) && dfa.is_match(sid) {
            report(sid, from + i + 1);
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
            let mut walked = BTreeSet::new();
            for_each_match(&dfa, &hay, |p, end| {
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
