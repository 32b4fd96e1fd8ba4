//! A per-thread memo of what was computed for values that repeat, within a request and from
//! request to request (`User-Agent`, `Accept`, cookie values, the field names and the recurring
//! values of an API's JSON bodies):
//!
//! - for the rules' prefilter: a value's scan with what the value holds and what the rule
//!   engine learned of it (the links whose operator did not match it, whether the `multiMatch`
//!   links may hold on it) in one entry, or its scan after a transformation chain;
//! - for the built-in detectors: libinjection's answers, in a table of their own.
//!
//! Computing those costs from a hundred nanoseconds (a scan) to a microsecond (a chain with
//! `t:base64Decode`, libinjection on a long value); finding them here costs a hash and a
//! comparison. The key is the computation's owner (a prefilter's identity), what was computed
//! and the whole value, compared byte for byte, so a hash collision can only cost a
//! recomputation, never change a result.

use std::cell::RefCell;
use std::hash::Hasher;

use crate::rules::fast_hash::FastHasher;

/// Number of scan entries per thread, in sets of [`WAYS`] (the oldest replaced first): room
/// for most of the values of a 10 KB JSON body through CRS's chains.
const SLOTS: usize = 8192;
/// Number of detector entries per thread: room for the names and common values of a few
/// hundred JSON fields.
const DETECTOR_SLOTS: usize = 4096;
/// Entries per set.
const WAYS: usize = 4;
const _: () = assert!(SLOTS.is_power_of_two() && DETECTOR_SLOTS.is_power_of_two());
/// Longer values rarely repeat and are not memoized. Entries take 168 bytes in place (1.3 MiB
/// for the scan table, 0.7 MiB for the detector table, per thread); a long value with a dense
/// result spills up to about 0.5 KiB more.
const MAX_LEN: usize = 256;

/// What a memo entry holds for its value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Computed {
    /// The value's own scan.
    Scan,
    /// The value's own scan, what it holds (a
    /// [`Presence`](crate::rules::prefilter::Presence)), then the records the rule engine keeps
    /// per value (see [`ValueCache`](crate::rules::value_cache::ValueCache)): one lookup per
    /// value and request finds them all. The records grow ([`store`] over the entry).
    Own,
    /// The scan of the value after the transformation chain with this id.
    Chain(u32),
    /// The answer of the built-in detector's classifier with this number.
    Detector(u32),
}

impl Computed {
    fn code(self) -> u64 {
        match self {
            Computed::Scan => 0,
            Computed::Chain(c) => 1 << 32 | u64::from(c),
            Computed::Detector(id) => 4 << 32 | u64::from(id),
            Computed::Own => 5 << 32,
        }
    }

    /// Values shorter than this are computed again rather than looked up. A scan costs a few
    /// hundred cycles even on a short value (the automaton, the evasion squeeze, the prefix
    /// trie), more than a lookup, from 4 bytes up (a short query value, a header name). An
    /// [`Own`](Computed::Own) entry also keeps what rules learned of the value, worth a lookup
    /// from the first byte.
    fn min_len(self) -> usize {
        match self {
            Computed::Scan => 4,
            Computed::Chain(_) | Computed::Own => 1,
            // Even a 5-byte value costs libinjection about 0.5 µs.
            Computed::Detector(_) => 4,
        }
    }

    /// The table the entry lives in.
    fn table(self) -> &'static std::thread::LocalKey<Table> {
        match self {
            Computed::Detector(_) => &DETECTIONS,
            _ => &MEMO,
        }
    }
}

/// A memo key: the computation's owner, what was computed, and the value with its [`value_hash`].
pub struct Key<'v> {
    /// The owner's identity: a [`Prefilter`](crate::rules::prefilter::Prefilter)'s (results
    /// under different rule sets differ); 0 for the built-in detectors.
    pub filter: u64,
    /// What was computed.
    pub computed: Computed,
    /// The value.
    pub value: &'v [u8],
    /// [`value_hash`] of `value`.
    pub hash: u64,
}

/// Words an entry keeps in place: the nonzero words of most results and a short value. A
/// lookup then reads one stretch of memory, where a separate buffer cost a second wait.
const INLINE: usize = 14;

/// A result, compressed: most of a scan's or a record's words are zero, and only the others are
/// kept, after a mask of which they are.
struct Entry {
    filter: u64,
    computed: u64,
    /// Bit `i` (below 63): word `i` of the result is nonzero and kept. Bit 63 ([`TAIL`]): the
    /// words from 63 on are kept whole.
    nonzero: u64,
    /// The value's length in bytes.
    len: u32,
    /// The result's length in words.
    words: u32,
    /// The kept words of the result, then the value's bytes packed into words: in `inline` when
    /// they fit, else in `spill`.
    inline: [u64; INLINE],
    spill: Vec<u64>,
}

/// [`Entry::nonzero`]'s bit for the words from 63 on.
const TAIL: u64 = 1 << 63;

impl Entry {
    fn empty() -> Entry {
        Entry {
            filter: 0,
            computed: 0,
            nonzero: 0,
            len: 0,
            words: 0,
            inline: [0; INLINE],
            spill: Vec::new(),
        }
    }

    /// The number of kept words of the result.
    fn kept(&self) -> usize {
        let tail = if self.nonzero & TAIL != 0 {
            self.words as usize - 63
        } else {
            0
        };
        (self.nonzero & !TAIL).count_ones() as usize + tail
    }

    /// The kept words (result and value).
    fn data(&self) -> &[u64] {
        let n = self.kept() + (self.len as usize).div_ceil(8);
        if n <= INLINE {
            &self.inline[..n]
        } else {
            &self.spill
        }
    }

    fn holds(&self, key: &Key<'_>, words: usize) -> bool {
        self.filter == key.filter
            && self.computed == key.computed.code()
            && self.len as usize == key.value.len()
            && self.words as usize == words
            && packed_eq(&self.data()[self.kept()..], key.value)
    }

    fn fill(&mut self, key: &Key<'_>, bits: &[u64]) {
        self.filter = key.filter;
        self.computed = key.computed.code();
        self.len = key.value.len() as u32;
        self.words = bits.len() as u32;
        let (head, tail) = bits.split_at(bits.len().min(63));
        let tail_kept = tail.iter().any(|w| *w != 0);
        self.nonzero = head
            .iter()
            .enumerate()
            .filter(|(_, w)| **w != 0)
            .fold(if tail_kept { TAIL } else { 0 }, |m, (i, _)| m | 1 << i);
        let words = head
            .iter()
            .filter(|w| **w != 0)
            .chain(tail.iter().filter(|_| tail_kept))
            .copied()
            .chain(key.value.chunks(8).map(pack));
        if self.kept() + key.value.len().div_ceil(8) <= INLINE {
            self.spill = Vec::new();
            for (slot, w) in self.inline.iter_mut().zip(words) {
                *slot = w;
            }
        } else {
            self.spill.clear();
            self.spill.extend(words);
        }
    }

    /// ORs the result into `out` (of the result's length).
    fn or_result_into(&self, out: &mut [u64]) {
        let data = self.data();
        let mut mask = self.nonzero & !TAIL;
        let mut k = 0;
        while mask != 0 {
            out[mask.trailing_zeros() as usize] |= data[k];
            k += 1;
            mask &= mask - 1;
        }
        if self.nonzero & TAIL != 0 {
            or_into(&mut out[63..], &data[k..self.kept()]);
        }
    }
}

/// Up to 8 bytes as a little-endian word (zero-padded).
fn pack(chunk: &[u8]) -> u64 {
    match <[u8; 8]>::try_from(chunk) {
        Ok(eight) => u64::from_le_bytes(eight),
        // The last, short chunk of a value: byte by byte (a copy of a variable length would
        // call memmove).
        Err(_) => chunk
            .iter()
            .rev()
            .fold(0, |word, &b| word << 8 | u64::from(b)),
    }
}

fn packed_eq(words: &[u64], value: &[u8]) -> bool {
    words
        .iter()
        .zip(value.chunks(8))
        .all(|(w, c)| *w == pack(c))
}

/// A set-associative table of entries. Each entry has a tag (bits of its key's hash, never 0;
/// 0 marks an empty way) in a compact array of its own: most lookups read only their set's
/// tags, and touch an entry (and its value's bytes) only when its tag is the key's.
struct Slots {
    tags: Vec<u32>,
    entries: Vec<Option<Entry>>,
    /// Per set: the way the next insertion takes, the oldest one (ways are filled in turn).
    next: Vec<u8>,
}

impl Slots {
    fn new(len: usize) -> Slots {
        Slots {
            tags: vec![0; len],
            entries: (0..len).map(|_| None).collect(),
            next: vec![0; len / WAYS],
        }
    }
}

type Table = RefCell<Slots>;

thread_local! {
    static MEMO: Table = RefCell::new(Slots::new(SLOTS));
    static DETECTIONS: Table = RefCell::new(Slots::new(DETECTOR_SLOTS));
}

/// The hash of a value for [`Key::hash`]; computed once per value and reused for every lookup.
/// 0, without reading it, for a value too long for the memo to keep (never looked up): a request
/// body is not hashed for nothing.
pub fn value_hash(value: &[u8]) -> u64 {
    if value.len() > MAX_LEN {
        return 0;
    }
    let mut h = FastHasher::default();
    h.write(value);
    h.finish()
}

/// ORs into `out` the result for `key`, from the memo or by calling `compute` on a zeroed buffer
/// of `out.len()` words and remembering what it set.
pub fn remembered(key: &Key<'_>, out: &mut [u64], compute: impl FnOnce(&mut [u64])) {
    let memoize = memoized(key);
    if memoize && lookup(key, out) {
        return;
    }
    // Bits set before the call are not part of the value's result: compute on a clean buffer.
    let mut bits = crate::rules::prefilter::Bits::zeroed(out.len());
    compute(&mut bits);
    or_into(out, &bits);
    if memoize {
        insert(key, &bits);
    }
}

/// Remembers `bits` as the result for `key`, over the entry it has, if any (a result that
/// grows: [`Computed::Own`]).
pub fn store(key: &Key<'_>, bits: &[u64]) {
    if !memoized(key) {
        return;
    }
    let updated = key.computed.table().with(|m| {
        let m = &mut *m.borrow_mut();
        let found = find(m, key, bits.len());
        if let Some(e) = found.and_then(|i| m.entries[i].as_mut()) {
            e.fill(key, bits);
        }
        found.is_some()
    });
    if !updated {
        insert(key, bits);
    }
}

/// Reads the tags of the sets where `computed` results for values with these hashes (under
/// owner `filter`) would be, so that the lookups that follow find them in the CPU cache: these
/// reads are independent of each other, where each lookup waits for its own.
pub fn warm(filter: u64, computed: Computed, hashes: &[u64]) {
    computed.table().with(|m| {
        // Only a hint: nothing to do while the table is in use.
        let Ok(m) = m.try_borrow() else {
            return;
        };
        let mut sum = 0u32;
        for &hash in hashes {
            let key = Key {
                filter,
                computed,
                value: &[],
                hash,
            };
            let (set, _) = place_of(&key, m.tags.len());
            sum = sum.wrapping_add(m.tags[set]);
        }
        std::hint::black_box(sum);
    });
}

/// False for values too short to be worth a lookup or too long to keep.
fn memoized(key: &Key<'_>) -> bool {
    (key.computed.min_len()..=MAX_LEN).contains(&key.value.len())
}

/// ORs the remembered result for `key` into `out` (its length is the result's) when there is one.
fn lookup(key: &Key<'_>, out: &mut [u64]) -> bool {
    let words = out.len();
    key.computed.table().with(|m| {
        let m = m.borrow();
        let hit = find(&m, key, words).and_then(|i| m.entries[i].as_ref());
        if let Some(e) = hit {
            e.or_result_into(out);
        }
        hit.is_some()
    })
}

/// The index of the entry holding `key`'s result (of `words` words), if the table has one.
fn find(m: &Slots, key: &Key<'_>, words: usize) -> Option<usize> {
    let (set, tag) = place_of(key, m.tags.len());
    (set..set + WAYS)
        .find(|&i| m.tags[i] == tag && m.entries[i].as_ref().is_some_and(|e| e.holds(key, words)))
}

/// Remembers `bits` as the result for `key`, in place of the oldest entry of its set.
fn insert(key: &Key<'_>, bits: &[u64]) {
    key.computed.table().with(|m| {
        let m = &mut *m.borrow_mut();
        let (set, tag) = place_of(key, m.tags.len());
        // The oldest entry makes room, in place: its buffer is reused for the new one.
        let turn = &mut m.next[set / WAYS];
        let at = set + usize::from(*turn);
        *turn = (*turn + 1) % WAYS as u8;
        m.tags[at] = tag;
        match &mut m.entries[at] {
            Some(e) => e.fill(key, bits),
            empty => {
                let mut e = Entry::empty();
                e.fill(key, bits);
                *empty = Some(e);
            }
        }
    });
}

fn or_into(out: &mut [u64], bits: &[u64]) {
    for (o, b) in out.iter_mut().zip(bits) {
        *o |= b;
    }
}

/// The first entry of the key's set in a table of `len` entries (a power of two), and the key's
/// tag.
fn place_of(key: &Key<'_>, len: usize) -> (usize, u32) {
    let mut h = FastHasher::default();
    h.write_u64(key.hash ^ key.filter.rotate_left(17));
    h.write_u64(key.computed.code());
    let h = h.finish();
    let set = (h as usize & (len / WAYS - 1)) * WAYS;
    (set, (h >> 32) as u32 | 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(filter: u64, computed: Computed, value: &[u8]) -> Key<'_> {
        Key {
            filter,
            computed,
            value,
            hash: value_hash(value),
        }
    }

    /// The remembered result for `key` (of `out`'s length) written into `out`; false when there
    /// is none.
    fn fetch(key: &Key<'_>, out: &mut [u64]) -> bool {
        out.fill(0);
        memoized(key) && lookup(key, out)
    }

    /// Looks `value` up as a scan under `filter`, counting the computations in `calls`.
    fn scan(filter: u64, value: &[u8], out: &mut [u64], calls: &mut u32) {
        remembered(&key(filter, Computed::Scan, value), out, |o| {
            *calls += 1;
            o[0] |= value.len() as u64;
        });
    }

    #[test]
    fn a_repeated_value_is_scanned_once_with_the_same_bits() {
        let value = b"Mozilla/5.0 (X11; Linux x86_64) Firefox/126.0 scan-memo-test";
        let mut calls = 0;
        for _ in 0..3 {
            let mut out = [0u64; 2];
            scan(7, value, &mut out, &mut calls);
            assert_eq!(out, [value.len() as u64, 0]);
        }
        assert_eq!(calls, 1);
    }

    #[test]
    fn a_stored_result_grows_in_place() {
        let value = b"own record value";
        let k = key(31, Computed::Own, value);
        let mut out = [7u64; 2];
        assert!(!fetch(&k, &mut out));
        assert_eq!(out, [0, 0]);
        store(&k, &[0b1, 0b0]);
        store(&k, &[0b11, 0b10]);
        assert!(fetch(&k, &mut out));
        assert_eq!(out, [0b11, 0b10]);
        // The second store overwrote the first entry: three other keys of the set still fit.
        let (set, _) = place_of(&k, SLOTS);
        let others: Vec<Vec<u8>> = (0..100_000u32)
            .map(|n| format!("other value {n}").into_bytes())
            .filter(|v| place_of(&key(31, Computed::Own, v), SLOTS).0 == set)
            .take(WAYS - 1)
            .collect();
        for v in &others {
            store(&key(31, Computed::Own, v), &[1, 1]);
        }
        assert!(
            fetch(&k, &mut out),
            "the record was not pushed out by a duplicate"
        );
        assert!(!fetch(&key(32, Computed::Own, value), &mut out));
    }

    /// Results come back word for word whatever their length, how many of their words are zero
    /// and whether they and their value fit in the entry.
    #[test]
    fn results_come_back_whole_from_their_compressed_entries() {
        let mut rng = crate::test_rng::XorShift(0x5EED_0FC0_FFEE);
        for words in [0usize, 1, 9, 27, 62, 63, 64, 70, 130] {
            for density in [0u64, 1, 4, 64] {
                for value_len in [1usize, 8, 20, 100] {
                    let value: Vec<u8> = (0..value_len).map(|_| rng.next() as u8).collect();
                    let bits: Vec<u64> = (0..words)
                        .map(|_| {
                            let r = rng.next();
                            if r % 64 < density {
                                r
                            } else {
                                0
                            }
                        })
                        .collect();
                    let k = key(41, Computed::Own, &value);
                    store(&k, &bits);
                    let mut out = vec![0u64; words];
                    assert!(fetch(&k, &mut out), "{words} words, {value_len} bytes");
                    assert_eq!(
                        out, bits,
                        "{words} words, density {density}, {value_len} bytes"
                    );
                }
            }
        }
    }

    #[test]
    fn a_short_chunk_packs_as_its_bytes_zero_padded() {
        let bytes = *b"\x01\x82\x03\xf4\x05\x06\x07\xff";
        for len in 0..=8 {
            let mut padded = [0u8; 8];
            padded[..len].copy_from_slice(&bytes[..len]);
            assert_eq!(
                pack(&bytes[..len]),
                u64::from_le_bytes(padded),
                "{len} bytes"
            );
        }
    }

    #[test]
    fn other_filters_values_and_short_values_are_scanned() {
        let value = b"text/html,application/xhtml+xml scan-memo";
        let mut calls = 0;
        let mut out = [0u64; 1];
        scan(1, value, &mut out, &mut calls);
        scan(2, value, &mut out, &mut calls);
        scan(
            1,
            b"text/html,application/xhtml+xml scan-memO",
            &mut out,
            &mut calls,
        );
        scan(1, b"abc", &mut out, &mut calls);
        scan(1, b"abc", &mut out, &mut calls);
        assert_eq!(calls, 5);
    }

    #[test]
    fn bits_already_set_are_not_remembered_as_the_values() {
        let value = b"bits-already-set scan-memo value";
        let mut calls = 0;
        let mut out = [0b100u64];
        scan(3, value, &mut out, &mut calls);
        let mut fresh = [0u64];
        scan(3, value, &mut fresh, &mut calls);
        assert_eq!(calls, 1);
        assert_eq!(fresh, [value.len() as u64]);
    }

    #[test]
    fn results_of_different_computations_on_one_value_are_kept_apart() {
        let value = b"19.99";
        let kinds = [Computed::Chain(4), Computed::Chain(5), Computed::Own];
        for round in 0..2 {
            for (i, &computed) in kinds.iter().enumerate() {
                let mut out = [0u64];
                let mut called = false;
                remembered(&key(11, computed, value), &mut out, |o| {
                    called = true;
                    o[0] = 1 << i;
                });
                assert_eq!(out, [1 << i], "{computed:?}");
                assert_eq!(called, round == 0, "short values are remembered for chains");
            }
        }
    }

    #[test]
    fn records_are_known_only_for_the_owner_and_value_they_were_stored_for() {
        let value = b"Mozilla/5.0 miss-memo-test";
        let misses = |filter, v| key(filter, Computed::Own, v);
        let mut out = [0u64; 2];
        store(&misses(21, value), &[0b1000, 1]);
        assert!(fetch(&misses(21, value), &mut out));
        assert_eq!(out, [0b1000, 1]);
        assert!(!fetch(&misses(22, value), &mut out));
        assert!(!fetch(&misses(21, b"Mozilla/5.0 miss-memo-tesT"), &mut out));
        let long = vec![b'a'; MAX_LEN + 1];
        store(&misses(21, &long), &[1, 1]);
        assert!(
            !fetch(&misses(21, &long), &mut out),
            "long values are not kept"
        );
    }

    /// A value beyond a set's ways replaces the set's oldest entry; the newer ones stay.
    #[test]
    fn a_full_set_gives_up_its_oldest_entry_first() {
        let value = |i: u32| format!("memo-evict-value-{i}").into_bytes();
        let set = |v: &[u8]| place_of(&key(6, Computed::Scan, v), SLOTS).0;
        let first = value(0);
        let same: Vec<Vec<u8>> = (1..)
            .map(value)
            .filter(|v| set(v) == set(&first))
            .take(WAYS)
            .collect();
        let mut calls = 0;
        scan(6, &first, &mut [0u64], &mut calls);
        for v in &same {
            scan(6, v, &mut [0u64], &mut calls);
        }
        assert_eq!(calls, 1 + WAYS as u32);
        // The newest WAYS values are still there; the first was replaced by the last.
        for v in &same {
            scan(6, v, &mut [0u64], &mut calls);
        }
        assert_eq!(calls, 1 + WAYS as u32, "the newest values stay memoized");
        scan(6, &first, &mut [0u64], &mut calls);
        assert_eq!(calls, 2 + WAYS as u32, "the oldest value was given up");
    }

    /// Values whose keys fall in the same set do not evict each other (up to the set's ways).
    #[test]
    fn values_sharing_a_set_stay_memoized() {
        let value = |i: u32| format!("memo-pair-value-{i}").into_bytes();
        let set = |v: &[u8]| place_of(&key(5, Computed::Scan, v), SLOTS).0;
        let first = value(0);
        let second = (1..).map(value).find(|v| set(v) == set(&first)).unwrap();
        let pair = [first, second];
        let mut calls = 0;
        for _ in 0..3 {
            for v in &pair {
                scan(5, v, &mut [0u64], &mut calls);
            }
        }
        assert_eq!(calls, 2, "each value scanned once");
    }

    #[test]
    fn values_differing_past_the_first_word_do_not_share_an_entry() {
        let mut calls = 0;
        let mut out = [0u64];
        scan(9, b"abcdefgh-ijklmnop-1", &mut out, &mut calls);
        scan(9, b"abcdefgh-ijklmnop-2", &mut out, &mut calls);
        scan(9, b"abcdefgh-ijklmnop-1", &mut out, &mut calls);
        assert_eq!(calls, 2);
    }
}
