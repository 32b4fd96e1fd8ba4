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

mod bits;
mod evasion;
mod literals;
mod multi_match;
mod prefix_trie;
mod streams;
mod triggers;

use std::borrow::Cow;

use aho_corasick::{AhoCorasick, AhoCorasickKind, MatchKind};

use crate::memo;
pub use crate::memo::{value_hash, Computed};
pub use bits::Bits;
pub use evasion::{evasion_condition, Evasion};
pub use literals::{further_literal_sets, required_literals, selective, selective_phrases};
pub use multi_match::multi_match_may_hold;
use prefix_trie::PrefixTrie;
use streams::WalkTable;
pub use triggers::{chain_trigger, Presence, Trigger};

/// Values longer than this skip the squeezed pass (see [`Prefilter::scan`]): every
/// shell-evasion link is taken to be possible on them.
const LONG_VALUE: usize = 4096;

/// Literals are cut to this many bytes before they go into the automaton; the rest of a longer
/// literal is compared after the automaton matched its start, so cutting costs no precision. It
/// keeps the automaton a small DFA (about 1.5 MiB for CRS, against 34 MiB for
/// whole literals) that scans a value several times faster than the NFA the whole literals need.
const MAX_LITERAL: usize = 4;

/// What a value must show before a link's operator can match it: one of `literals`, or what
/// `evasion` asks for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Condition {
    /// Literals one of which the value holds (ASCII case ignored).
    pub literals: Vec<Vec<u8>>,
    /// Further literal sets the value must also hold one of each (ASCII case ignored): other
    /// parts of a pattern every match goes through (`(` after a function name).
    pub also: Vec<Vec<Vec<u8>>>,
    /// For shell-evasion patterns: literals of the squeezed value and prefixes.
    pub evasion: Option<Evasion>,
    /// Checked on many values one link at a time (`multiMatch`, see [`multi_match_may_hold`]):
    /// the literals also get an automaton of their own, which [`Prefilter::holds`] runs.
    pub checked_alone: bool,
}

impl Condition {
    /// The condition "holds one of `literals`".
    pub fn literals(literals: Vec<Vec<u8>>) -> Condition {
        Condition {
            literals,
            also: Vec::new(),
            evasion: None,
            checked_alone: false,
        }
    }
}

/// The literals of every prefiltered link: single bytes in a table, longer literals (cut to
/// [`MAX_LITERAL`] bytes) in one Aho-Corasick DFA, the prefixes of shell-evasion conditions in a
/// trie. Matching ignores ASCII case.
#[derive(Debug)]
pub struct Prefilter {
    automaton: Option<Automaton>,
    /// The prefilter ids of the links whose literal is an automaton pattern (see `owner_start`).
    owners: Vec<u32>,
    /// Pattern `p`'s owners are `owners[owner_start[p]..owner_start[p + 1]]`.
    owner_start: Vec<u32>,
    /// For each automaton pattern `p`, `tails[tail_start[p]..tail_start[p + 1]]` are the links
    /// whose literal goes on beyond it: `(id, offset, length)` of the rest of the literal in
    /// `tail_bytes`, compared after the pattern matched, so that cutting costs no precision.
    tail_start: Vec<u32>,
    /// See `tail_start`.
    tails: Vec<(u32, u32, u32)>,
    /// The lower-cased rests of the literals longer than [`MAX_LITERAL`].
    tail_bytes: Vec<u8>,
    /// For each byte, the ids of the links that need that byte alone (a letter in both cases),
    /// as [`words`](Self::words) words of bits; empty when no link needs single bytes.
    single: Vec<u64>,
    /// Which bytes have a row in `single` with any bit set.
    single_used: [bool; 256],
    /// Number of prefilter ids.
    ids: usize,
    /// This prefilter's identity in the per-thread scan memo.
    uid: u64,
    /// Number of links whose misses are remembered (see
    /// [`Link::memo_id`](crate::rules::ruleset::Link::memo_id)).
    memo_links: u32,
    /// The prefilter for `REQUEST_BODY`'s value: the same ids, with the literals of only the
    /// links that read `REQUEST_BODY` (no other link looks at that value's scans). A body is
    /// long and rarely repeats; the smaller automaton scans it several times faster.
    body: Option<Box<Prefilter>>,
    /// The squeezed literals of more than one byte (whole) in an automaton of their own, run on
    /// squeezed values that differ from the value, and the ids owning each; single bytes are in
    /// `single`, which squeezing cannot change the answer of.
    squeezed: Option<(AhoCorasick, Vec<Vec<u32>>)>,
    /// Prefixes of the squeezed value, with their ids.
    prefixes: Option<PrefixTrie>,
    /// Every id the squeezed pass (`squeezed` and `prefixes`) can set, as bits: set at once for
    /// values longer than [`LONG_VALUE`].
    evasion_ids: Vec<u64>,
    /// `(id, automaton of its whole literals, its shortest literal's length)` for the links
    /// checked alone, sorted by id.
    alone: Vec<(u32, AhoCorasick, usize)>,
    /// The ids of the links checked alone (`multiMatch`), sorted: a link's index here is its
    /// bit in a value's record of `multiMatch` answers.
    multi: Vec<u32>,
    /// The links with [`Condition::also`] sets, as bits; empty when none.
    conjunctive: Vec<u64>,
    /// Link `id`'s parts (its `also` sets, scanned under ids after the links') are
    /// `parts[part_start[id]..part_start[id + 1]]`; its bit stands only with all of theirs.
    part_start: Vec<u32>,
    /// See `part_start`.
    parts: Vec<u32>,
}

/// The literals' automaton, and how it is run over a value.
#[derive(Debug)]
enum Automaton {
    /// The crate's overlapping search, which skips to where a literal may start when it can:
    /// for values of every size.
    Searched(AhoCorasick),
    /// Walked step by step, a long value as four stretches at once (see [`streams`]): for
    /// `REQUEST_BODY`, long and never skipped through (its automaton is small; the walk keeps
    /// several of its table reads in flight).
    Walked(Box<WalkTable>),
}

impl Prefilter {
    /// Builds the prefilter from each link's condition (the index is the link's prefilter id).
    /// `None` when there is nothing to prefilter.
    pub fn build(sets: &[Condition]) -> Option<Prefilter> {
        Prefilter::build_as(sets, false)
    }

    /// [`build`](Self::build), with the automaton walked (see [`Automaton::Walked`]) when
    /// `walked`.
    fn build_as(sets: &[Condition], walked: bool) -> Option<Prefilter> {
        let mut all: Vec<Condition> = sets.to_vec();
        let mut parts: Vec<Vec<u32>> = Vec::with_capacity(sets.len());
        let mut conjunctive = vec![0u64; sets.len().div_ceil(64)];
        for (id, cond) in sets.iter().enumerate() {
            let mut own = Vec::new();
            for also in &cond.also {
                own.push(all.len() as u32);
                all.push(Condition::literals(also.clone()));
            }
            if !own.is_empty() {
                set_all(&mut conjunctive, &[id as u32]);
            }
            parts.push(own);
        }
        let mut prefilter = Prefilter::build_each(&all, walked)?;
        if conjunctive.iter().any(|w| *w != 0) {
            prefilter.conjunctive = conjunctive;
            prefilter.part_start = offsets(&parts);
            prefilter.parts = parts.concat();
        }
        Some(prefilter)
    }

    /// [`build`](Self::build) without the [`Condition::also`] sets.
    fn build_each(sets: &[Condition], walked: bool) -> Option<Prefilter> {
        let mut patterns: Vec<Vec<u8>> = Vec::new();
        let mut owners: Vec<Vec<u32>> = Vec::new();
        let mut tails: Vec<Vec<(u32, u32, u32)>> = Vec::new();
        let mut tail_bytes: Vec<u8> = Vec::new();
        let mut single: Vec<Vec<u32>> = vec![Vec::new(); 256];
        let mut index = std::collections::HashMap::new();
        let words = sets.len().div_ceil(64);
        let mut squeezed: Vec<(Vec<u8>, Vec<u32>)> = Vec::new();
        let mut prefixes: Vec<(Vec<u8>, u32)> = Vec::new();
        let mut alone = Vec::new();
        let multi: Vec<u32> = (0..sets.len() as u32)
            .filter(|&id| sets[id as usize].checked_alone)
            .collect();
        for (id, cond) in sets.iter().enumerate() {
            let id = id as u32;
            if cond.checked_alone && cond.evasion.is_none() && !cond.literals.is_empty() {
                // A contiguous NFA: a few KiB, where a DFA of the same literals takes 100s.
                let automaton = AhoCorasick::builder()
                    .ascii_case_insensitive(true)
                    .kind(Some(AhoCorasickKind::ContiguousNFA))
                    .build(&cond.literals)
                    .ok()?;
                let shortest = cond.literals.iter().map(Vec::len).min().unwrap_or(0);
                alone.push((id, automaton, shortest));
            }
            let absent: Vec<Vec<u8>> = cond
                .evasion
                .iter()
                .flat_map(|e| e.absent.iter().map(|&b| vec![b]))
                .collect();
            let mut literals: Vec<&[u8]> = cond.literals.iter().map(Vec::as_slice).collect();
            literals.extend(absent.iter().map(Vec::as_slice));
            if let Some(e) = &cond.evasion {
                literals.extend(e.squeezed.iter().map(Vec::as_slice));
                for lit in e.squeezed.iter().filter(|l| l.len() > 1) {
                    match squeezed.iter_mut().find(|(l, _)| l == lit) {
                        Some((_, ids)) => ids.push(id),
                        None => squeezed.push((lit.clone(), vec![id])),
                    }
                }
                prefixes.extend(e.prefixes.iter().map(|p| (p.clone(), id)));
            }
            for lit in literals {
                match lit {
                    [] => {}
                    [b] => {
                        for b in [b.to_ascii_lowercase(), b.to_ascii_uppercase()] {
                            let ids = &mut single[usize::from(b)];
                            if ids.last() != Some(&id) {
                                ids.push(id);
                            }
                        }
                    }
                    _ => {
                        let cut = lit[..lit.len().min(MAX_LITERAL)].to_ascii_lowercase();
                        let at = *index.entry(cut.clone()).or_insert_with(|| {
                            patterns.push(cut);
                            owners.push(Vec::new());
                            tails.push(Vec::new());
                            owners.len() - 1
                        });
                        if lit.len() > MAX_LITERAL {
                            let rest = &lit[MAX_LITERAL..];
                            tails[at].push((id, tail_bytes.len() as u32, rest.len() as u32));
                            tail_bytes.extend(rest.iter().map(u8::to_ascii_lowercase));
                        } else if owners[at].last() != Some(&id) {
                            owners[at].push(id);
                        }
                    }
                }
            }
        }
        if patterns.is_empty() && single.iter().all(Vec::is_empty) && prefixes.is_empty() {
            return None;
        }
        let automaton = if patterns.is_empty() {
            None
        } else if let Some(table) = walked.then(|| walk_table(&patterns)).flatten() {
            Some(Automaton::Walked(Box::new(table)))
        } else {
            Some(Automaton::Searched(
                AhoCorasick::builder()
                    .ascii_case_insensitive(true)
                    .match_kind(MatchKind::Standard)
                    .kind(Some(AhoCorasickKind::DFA))
                    .build(&patterns)
                    .ok()?,
            ))
        };
        let mut single_used = [false; 256];
        let mut rows = Vec::new();
        if single.iter().any(|ids| !ids.is_empty()) {
            rows = vec![0u64; 256 * words];
            for (b, ids) in single.iter().enumerate() {
                single_used[b] = !ids.is_empty();
                set_all(&mut rows[b * words..(b + 1) * words], ids);
            }
        }
        let mut evasion_ids = vec![0u64; words];
        for (_, ids) in &squeezed {
            set_all(&mut evasion_ids, ids);
        }
        for (_, id) in &prefixes {
            set_all(&mut evasion_ids, &[*id]);
        }
        Some(Prefilter {
            automaton,
            evasion_ids,
            owner_start: offsets(&owners),
            owners: owners.concat(),
            tail_start: offsets(&tails),
            tails: tails.concat(),
            tail_bytes,
            single: rows,
            single_used,
            ids: sets.len(),
            uid: NEXT_UID.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            memo_links: 0,
            body: None,
            squeezed: if squeezed.is_empty() {
                None
            } else {
                let automaton = AhoCorasick::builder()
                    .ascii_case_insensitive(true)
                    .build(squeezed.iter().map(|(l, _)| l))
                    .ok()?;
                Some((
                    automaton,
                    squeezed.into_iter().map(|(_, ids)| ids).collect(),
                ))
            },
            prefixes: (!prefixes.is_empty()).then(|| PrefixTrie::new(&prefixes)),
            alone,
            multi,
            conjunctive: Vec::new(),
            part_start: Vec::new(),
            parts: Vec::new(),
        })
    }

    /// Builds [`for_body`](Self::for_body) from the conditions of the links that read
    /// `REQUEST_BODY` (`reads_body`, by id; `sets` as given to [`build`](Self::build)).
    pub fn set_body_conditions(&mut self, sets: &[Condition], reads_body: &[bool]) {
        let body_sets: Vec<Condition> = sets
            .iter()
            .zip(reads_body)
            .map(|(cond, &reads)| {
                if reads {
                    cond.clone()
                } else {
                    // Never set: the same number of parts keeps the ids (and words) the same.
                    Condition {
                        literals: Vec::new(),
                        also: cond.also.iter().map(|_| Vec::new()).collect(),
                        evasion: None,
                        checked_alone: false,
                    }
                }
            })
            .collect();
        self.body = Prefilter::build_as(&body_sets, true)
            .filter(|b| b.words() == self.words())
            .map(Box::new);
    }

    /// The prefilter to scan `REQUEST_BODY`'s value with (this one when it has no smaller one).
    pub fn for_body(&self) -> &Prefilter {
        self.body.as_deref().unwrap_or(self)
    }

    /// Sets the number of links whose misses are remembered (their memo ids are `0..n`).
    pub fn set_memo_links(&mut self, n: u32) {
        self.memo_links = n;
    }

    /// Number of 64-bit words in a value's record of the links that did not match it.
    pub fn miss_words(&self) -> usize {
        self.memo_links.div_ceil(64) as usize
    }

    /// Number of 64-bit words in a scan result.
    pub fn words(&self) -> usize {
        self.ids.div_ceil(64)
    }

    /// Sets in `out` (of [`words`](Self::words) words) the id of every link whose condition
    /// `value` meets: one of its literals occurs in it (and one of each of its `also` sets), or
    /// its evasion condition holds. Values that repeat from request to request are scanned once
    /// per thread (see [`memo`]).
    pub fn scan(&self, value: &[u8], out: &mut [u64]) {
        self.scan_hashed(value, memo::value_hash(value), out);
    }

    /// [`scan`](Self::scan) of a value whose [`value_hash`] is known.
    pub fn scan_hashed(&self, value: &[u8], hash: u64, out: &mut [u64]) {
        self.remembered(Computed::Scan, value, hash, out, |o| {
            self.scan_uncached(value, o)
        });
    }

    /// Writes into `out` (zeroed, at least [`words`](Self::words) + [`Presence::WORDS`] long)
    /// the scan of `value` (whose [`value_hash`] is `hash`), then what it holds (see
    /// [`Presence::to_words`]), then the records stored with them (zeros when computed here):
    /// all from one lookup in the per-thread memo when the thread computed them before.
    pub fn scan_own(&self, value: &[u8], hash: u64, out: &mut [u64]) {
        let words = self.words();
        self.remembered(Computed::Own, value, hash, out, |o| {
            let (scan, rest) = o.split_at_mut(words);
            let presence = match &self.automaton {
                // A body: its walk notes the bytes it holds, for one pass over it instead of two.
                Some(Automaton::Walked(table)) if value.len() >= triggers::BY_TABLE => {
                    let mut seen = [0u8; 256];
                    table.for_each_match_noting(value, &mut seen, |pattern, end| {
                        self.matched(value, pattern, end, scan);
                    });
                    let presence = Presence::of_seen(value, &seen);
                    self.scan_with(value, Some(presence.byte_set()), false, scan);
                    presence
                }
                _ => {
                    let presence = Presence::of(value);
                    self.scan_with(value, Some(presence.byte_set()), true, scan);
                    presence
                }
            };
            presence.to_words(rest);
        });
    }

    /// Brings the per-thread memo's sets for `computed` of these values into the CPU cache
    /// (see [`memo::warm`]).
    pub fn warm(&self, computed: Computed, hashes: &[u64]) {
        memo::warm(self.uid, computed, hashes);
    }

    /// ORs into `out` what `compute` sets for `value` (whose [`value_hash`] is `hash`) under
    /// this prefilter, from the per-thread memo when the thread computed it before (see
    /// [`memo`]).
    pub fn remembered(
        &self,
        computed: Computed,
        value: &[u8],
        hash: u64,
        out: &mut [u64],
        compute: impl FnOnce(&mut [u64]),
    ) {
        memo::remembered(&self.key(computed, value, hash), out, compute);
    }

    fn key<'v>(&self, computed: Computed, value: &'v [u8], hash: u64) -> memo::Key<'v> {
        memo::Key {
            filter: self.uid,
            computed,
            value,
            hash,
        }
    }

    /// [`scan`](Self::scan) without the memo, into `out` all zeros.
    pub fn scan_uncached(&self, value: &[u8], out: &mut [u64]) {
        self.scan_with(value, None, true, out);
    }

    /// [`scan_uncached`](Self::scan_uncached), given the set of bytes `value` holds when
    /// known (one bit per byte value); without running the automaton unless `with_automaton`
    /// (its matches are in `out` already).
    fn scan_with(
        &self,
        value: &[u8],
        bytes: Option<&[u64; 4]>,
        with_automaton: bool,
        out: &mut [u64],
    ) {
        self.scan_each(value, bytes, with_automaton, out);
        // Only the conjunctive links whose own set matched need their parts checked.
        for (w, mask) in self.conjunctive.iter().enumerate() {
            let mut bits = out[w] & mask;
            while bits != 0 {
                let id = w * 64 + bits.trailing_zeros() as usize;
                bits &= bits - 1;
                let (from, to) = (
                    self.part_start[id] as usize,
                    self.part_start[id + 1] as usize,
                );
                if !self.parts[from..to].iter().all(|&part| has(out, part)) {
                    out[w] &= !(1 << (id % 64));
                }
            }
        }
    }

    /// [`scan`](Self::scan) with every set on its own, conjunctions not applied (the automaton
    /// run only when `with_automaton`).
    fn scan_each(
        &self,
        value: &[u8],
        bytes: Option<&[u64; 4]>,
        with_automaton: bool,
        out: &mut [u64],
    ) {
        if !self.single.is_empty() {
            let words = self.words();
            let mut add_row = |b: usize| {
                for (o, w) in out.iter_mut().zip(&self.single[b * words..(b + 1) * words]) {
                    *o |= w;
                }
            };
            match bytes {
                // The byte set is known: no second pass over a body-sized value.
                Some(bytes) => (0..256)
                    .filter(|&b| self.single_used[b] && bytes[b / 64] & (1 << (b % 64)) != 0)
                    .for_each(add_row),
                None => {
                    let mut seen = [false; 256];
                    for &b in value {
                        let b = usize::from(b);
                        if self.single_used[b] && !seen[b] {
                            seen[b] = true;
                            add_row(b);
                        }
                    }
                }
            }
        }
        match self.automaton.as_ref().filter(|_| with_automaton) {
            Some(Automaton::Searched(automaton)) => {
                for m in automaton.find_overlapping_iter(value) {
                    self.matched(value, m.pattern().as_usize(), m.end(), out);
                }
            }
            Some(Automaton::Walked(table)) => {
                table.for_each_match(value, |pattern, end| {
                    self.matched(value, pattern, end, out);
                });
            }
            None => {}
        }
        if self.squeezed.is_none() && self.prefixes.is_none() {
            return;
        }
        if value.len() > LONG_VALUE {
            // A body-sized value would be copied and scanned a second time; saying its
            // shell-evasion links may match lets them run their regex on it instead.
            for (o, e) in out.iter_mut().zip(&self.evasion_ids) {
                *o |= e;
            }
            return;
        }
        let squeezed = evasion::squeeze_value(value);
        if let (Cow::Owned(squeezed), Some((automaton, owners))) = (&squeezed, &self.squeezed) {
            for m in automaton.find_overlapping_iter(squeezed) {
                set_all(out, &owners[m.pattern().as_usize()]);
            }
        }
        if let Some(trie) = &self.prefixes {
            trie.starts_of(&squeezed, |id| set_all(out, &[id]));
        }
    }

    /// Sets in `out` the ids whose literal the automaton's pattern `p`, found in `value` up to
    /// offset `end`, is: the pattern itself, or the pattern followed by the rest of the literal.
    fn matched(&self, value: &[u8], p: usize, end: usize, out: &mut [u64]) {
        let (from, to) = (
            self.owner_start[p] as usize,
            self.owner_start[p + 1] as usize,
        );
        set_all(out, &self.owners[from..to]);
        let after = &value[end..];
        let (from, to) = (self.tail_start[p] as usize, self.tail_start[p + 1] as usize);
        for &(id, at, len) in &self.tails[from..to] {
            let (at, len) = (at as usize, len as usize);
            if !has(out, id)
                && after.len() >= len
                && after[..len].eq_ignore_ascii_case(&self.tail_bytes[at..at + len])
            {
                set_all(out, &[id]);
            }
        }
    }

    /// The length of the shortest literal of link `id` when it is checked alone (a value
    /// shorter than that cannot hold one); 0 otherwise.
    pub fn shortest_alone_literal(&self, id: u32) -> usize {
        self.alone_entry(id).map_or(0, |a| a.2)
    }

    /// Link `id`'s bit in the halves of a value's record of `multiMatch` answers (see
    /// [`multi_words`](Self::multi_words)): its index among the links checked alone.
    pub fn multi_bit(&self, id: u32) -> Option<usize> {
        self.multi.binary_search(&id).ok()
    }

    /// Number of 64-bit words in each half of a value's record of `multiMatch` answers: which
    /// links checked alone were computed for the value, then which may hold on it.
    pub fn multi_words(&self) -> usize {
        self.multi.len().div_ceil(64)
    }

    /// Remembers `bits` as the result for `value` in the per-thread memo, over what it held.
    pub fn store(&self, computed: Computed, value: &[u8], hash: u64, bits: &[u64]) {
        memo::store(&self.key(computed, value, hash), bits);
    }

    /// Link `id`'s entry in `alone`, when it is checked alone.
    fn alone_entry(&self, id: u32) -> Option<&(u32, AhoCorasick, usize)> {
        let i = self.alone.binary_search_by_key(&id, |a| a.0).ok()?;
        Some(&self.alone[i])
    }

    /// True when `value` may match the link with prefilter id `id`: it holds one of the link's
    /// whole literals when the link is checked alone, else the scan of `value` sets bit `id`
    /// (see [`scan`](Self::scan)).
    pub fn holds(&self, value: &[u8], id: u32) -> bool {
        if let Some((_, automaton, _)) = self.alone_entry(id) {
            return automaton.is_match(value);
        }
        let mut bits = Bits::zeroed(self.words());
        self.scan(value, &mut bits);
        has(&bits, id)
    }

    /// Heap bytes the prefilter holds (the automaton and the owner lists).
    pub fn memory_usage(&self) -> usize {
        self.automaton.as_ref().map_or(0, |a| match a {
            Automaton::Searched(a) => a.memory_usage(),
            Automaton::Walked(table) => table.memory_usage(),
        }) + (self.owners.capacity() + self.owner_start.capacity()) * 4
            + self.tail_start.capacity() * 4
            + self.tails.capacity() * 12
            + self.tail_bytes.capacity()
            + self.single.capacity() * 8
            + self.squeezed.as_ref().map_or(0, |(a, o)| {
                a.memory_usage() + o.iter().map(|ids| ids.capacity() * 4 + 24).sum::<usize>()
            })
            + self.prefixes.as_ref().map_or(0, PrefixTrie::memory_usage)
            + self.alone.iter().map(|a| a.1.memory_usage()).sum::<usize>()
            + (self.conjunctive.capacity() * 2 + self.part_start.capacity() + self.parts.capacity())
                * 4
            + self.body.as_ref().map_or(0, |b| b.memory_usage())
    }
}

/// The walked form of a DFA of `patterns` (standard semantics, ASCII case ignored); `None`
/// when it is too large to walk, and the crate's search is used instead.
fn walk_table(patterns: &[Vec<u8>]) -> Option<WalkTable> {
    let dfa = aho_corasick::dfa::DFA::builder()
        .ascii_case_insensitive(true)
        .match_kind(MatchKind::Standard)
        // A walk has no use for the skips; without them no start state is special.
        .prefilter(false)
        .build(patterns)
        .ok()?;
    WalkTable::new(&dfa)
}

/// The identity of the next prefilter built.
static NEXT_UID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
/// Where each list starts in the lists concatenated, and where the last ends.
fn offsets<T>(lists: &[Vec<T>]) -> Vec<u32> {
    std::iter::once(0)
        .chain(lists.iter().scan(0, |n, l| {
            *n += l.len() as u32;
            Some(*n)
        }))
        .collect()
}

fn set_all(out: &mut [u64], ids: &[u32]) {
    for &id in ids {
        out[id as usize / 64] |= 1 << (id % 64);
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

    fn conditions(sets: Vec<Vec<Vec<u8>>>) -> Vec<Condition> {
        sets.into_iter().map(Condition::literals).collect()
    }

    /// The scan of `value` under `p`.
    fn scanned(p: &Prefilter, value: &[u8]) -> Vec<u64> {
        let mut bits = vec![0; p.words()];
        p.scan(value, &mut bits);
        bits
    }

    #[test]
    fn scan_sets_the_ids_whose_literals_occur() {
        let sets = vec![
            vec![b"select".to_vec(), b"union".to_vec()],
            vec![b"<script".to_vec()],
            vec![b"union".to_vec()],
        ];
        let p = Prefilter::build(&conditions(sets)).unwrap();
        let bits = scanned(&p, b"1 UNION all");
        assert!(has(&bits, 0) && !has(&bits, 1) && has(&bits, 2));
        let bits = scanned(&p, b"a <SCRIPT>");
        assert!(!has(&bits, 0) && has(&bits, 1));
        let bits = scanned(&p, b"blue cotton shirt");
        assert!(bits.iter().all(|w| *w == 0));
    }

    /// A prefilter with a single byte (0), a byte or a cut literal (1) and a word (2).
    fn bytes_and_cut_literals() -> Prefilter {
        let sets = vec![
            vec![b"x".to_vec()],
            vec![b";".to_vec(), b"javascript:".to_vec()],
            vec![b"onerror".to_vec()],
        ];
        Prefilter::build(&conditions(sets)).unwrap()
    }

    #[test]
    fn single_bytes_and_cut_literals_are_found_in_any_case() {
        let p = bytes_and_cut_literals();
        let scan = |v: &[u8]| {
            let bits = scanned(&p, v);
            (has(&bits, 0), has(&bits, 1), has(&bits, 2))
        };
        assert_eq!(scan(b"X"), (true, false, false));
        assert_eq!(scan(b"a;b"), (false, true, false));
        assert_eq!(scan(b"JavaScript:alert(1)"), (false, true, false));
        assert_eq!(scan(b"<img OnError=alert(1)>"), (false, false, true));
        assert_eq!(scan(b"hello"), (false, false, false));
        assert_eq!(
            scan(b"JavaScript alert"),
            (false, false, false),
            "a cut literal matches only when the rest follows"
        );
        assert_eq!(scan(b"onerr"), (false, false, false));
    }

    /// A value's own scan (which reuses the byte set its presence found) sets what the plain
    /// scan sets, for short and body-sized values.
    #[test]
    fn own_scan_sets_what_the_scan_sets() {
        let p = bytes_and_cut_literals();
        let long = [&b"a"[..]; 400].concat();
        for value in [&b"X;"[..], b"plain", &[&long[..], b"X;"].concat(), &long] {
            let mut own = vec![0; p.words() + Presence::WORDS];
            p.scan_own(value, 0, &mut own);
            let mut plain = vec![0; p.words()];
            p.scan_uncached(value, &mut plain);
            assert_eq!(own[..p.words()], plain[..], "{} bytes", value.len());
        }
        let mut own = vec![0; p.words() + Presence::WORDS];
        p.scan_own(&[&long[..], b"X;"].concat(), 0, &mut own);
        assert!(has(&own, 0) && has(&own, 1) && !has(&own, 2));
    }

    /// The body's walked automaton notes the bytes it walks: a body's own scan and presence
    /// are what the plain scan and [`Presence::of`] find, for values walked in one stretch
    /// and in several.
    #[test]
    fn body_own_scan_notes_what_the_value_holds() {
        let sets = conditions(vec![
            vec![b"x".to_vec()],
            vec![b";".to_vec(), b"javascript:".to_vec()],
            vec![b"onerror".to_vec()],
        ]);
        let mut p = Prefilter::build(&sets).unwrap();
        p.set_body_conditions(&sets, &[true, true, true]);
        let body = p.for_body();
        let text = b"name=a%20b&note=  two  spaces /* c */ -- d\\e\tf ".repeat(200);
        let mut attack = text.clone();
        attack.extend_from_slice(b"<img OnError=alert(1)>;");
        for value in [&text[..], &attack, &text[..300], b"short;x"] {
            let mut own = vec![0; body.words() + Presence::WORDS];
            body.scan_own(value, 0, &mut own);
            let mut plain = vec![0; body.words()];
            body.scan_uncached(value, &mut plain);
            assert_eq!(own[..body.words()], plain[..], "{} bytes", value.len());
            let mut presence = vec![0; Presence::WORDS];
            Presence::of(value).to_words(&mut presence);
            assert_eq!(own[body.words()..], presence[..], "{} bytes", value.len());
        }
        let mut own = vec![0; body.words() + Presence::WORDS];
        body.scan_own(&attack, 0, &mut own);
        assert!(!has(&own, 0) && has(&own, 1) && has(&own, 2));
    }

    /// A body-sized value skips the squeezed pass, so its shell-evasion links must be taken
    /// as possible whatever it holds; a short value is still told apart.
    #[test]
    fn long_values_keep_every_shell_evasion_link() {
        let pattern = r#"(?i)(?:^|[;|])[\s\x0b]*["']*(?:c["'\x5c]*a["'\x5c]*t|l["'\x5c]*s)\b"#;
        let sets = vec![
            Condition {
                evasion: evasion::evasion_condition(pattern),
                ..Condition::literals(Vec::new())
            },
            Condition::literals(vec![b"select".to_vec()]),
        ];
        assert!(sets[0].evasion.is_some());
        let p = Prefilter::build(&sets).unwrap();
        let scan = |v: &[u8]| {
            let bits = scanned(&p, v);
            (has(&bits, 0), has(&bits, 1))
        };
        assert_eq!(scan(b"x;c'a't /etc/passwd"), (true, false));
        assert_eq!(scan(b"blue cotton shirt"), (false, false));
        let mut long = b"x".repeat(LONG_VALUE);
        long.extend_from_slice(b";c'a't /etc/passwd");
        assert_eq!(scan(&long), (true, false));
        assert_eq!(scan(&b"y".repeat(LONG_VALUE + 1)), (true, false));
    }

    #[test]
    fn links_checked_alone_use_their_whole_literals() {
        let mut sets = conditions(vec![vec![b"javascript:".to_vec()], vec![b"x".to_vec()]]);
        sets[0].checked_alone = true;
        let p = Prefilter::build(&sets).unwrap();
        assert!(p.holds(b"a JavaScript:alert(1)", 0));
        assert!(!p.holds(b"java", 0));
        assert!(!p.holds(b"javascript", 0));
        assert!(p.holds(b"X", 1) && !p.holds(b"y", 1));
    }

    #[test]
    fn also_sets_must_all_be_met() {
        let mut sets = conditions(vec![
            vec![b"concat".to_vec(), b"cot".to_vec()],
            vec![b"x".to_vec()],
        ]);
        sets[0].also = vec![vec![b"(".to_vec()], vec![b")".to_vec(), b"]".to_vec()]];
        let p = Prefilter::build(&sets).unwrap();
        let scan = |v: &[u8]| {
            let bits = scanned(&p, v);
            (has(&bits, 0), has(&bits, 1))
        };
        assert_eq!(scan(b"COT(1)"), (true, false));
        assert_eq!(scan(b"concat(a]"), (true, false));
        assert_eq!(scan(b"Blue cotton shirt"), (false, false), "no (");
        assert_eq!(scan(b"cotton (y"), (false, false), "no ) or ]");
        assert_eq!(scan(b"(x)"), (false, true), "parts alone set no link");
    }

    #[test]
    fn holds_answers_like_scan() {
        let sets = vec![
            vec![b"x".to_vec()],
            vec![b";".to_vec(), b"javascript:".to_vec()],
            vec![b"onerror".to_vec(), b"java".to_vec()],
        ];
        let p = Prefilter::build(&conditions(sets)).unwrap();
        for v in [&b"X"[..], b"a;b", b"JavaScript:", b"OnErRoR", b"hello", b""] {
            let bits = scanned(&p, v);
            for id in 0..3 {
                assert_eq!(p.holds(v, id), has(&bits, id), "{v:?} {id}");
            }
        }
    }
}
