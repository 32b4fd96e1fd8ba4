//! What the rules compute about each request value, computed once per request: its transformed
//! forms (per transformation chain), the bytes it holds, and its prefilter scans. CRS applies
//! the same few chains to the same arguments in dozens of rules.
//!
//! Values are known by their slot: a parsed field's value is `2 × index`, its name
//! `2 × index + 1`, and the request's fixed scalars (`REQUEST_URI`, `REQUEST_BODY` …) follow
//! the fields (see [`super::variables`]). Values that rules rewrite (`TX`, `MATCHED_VAR` …)
//! have no slot and are never cached. Fields are grouped by source and role (`ARGS` values,
//! `REQUEST_HEADERS` names …) so that a link can be ruled out for a whole group at once.

use std::borrow::Cow;
use std::cell::RefCell;
use std::rc::Rc;

use super::chains::{Chain, Chains};
use super::fast_hash::FastMap;
use super::prefilter::{self, Bits, Computed, Prefilter, Presence, Trigger};
use super::ruleset::Link;
use super::spare;
use super::transformations;
use crate::parse::{Field, Source};
use crate::seclang::transformations::Transformation;
use crate::seclang::variables::Collection;

/// Number of field sources (see [`Source`]).
pub const SOURCES: usize = Source::ALL.len();

/// Number of field groups: each source's values and its names.
const GROUPS: usize = SOURCES * 2;

/// The index among the cache's groups of `source`'s values, or of its names: `source × 2 +
/// names`.
pub fn group_index(source: Source, names: bool) -> usize {
    source as usize * 2 + usize::from(names)
}

/// A value after a link's transformations: the original bytes, or shared transformed bytes.
pub enum Transformed<'v> {
    /// Unchanged.
    Same(&'v [u8]),
    /// Changed (shared with the cache).
    Changed(Rc<[u8]>),
}

impl std::ops::Deref for Transformed<'_> {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        match self {
            Transformed::Same(v) => v,
            Transformed::Changed(v) => v,
        }
    }
}

/// The per-request memo.
#[derive(Default)]
pub struct ValueCache {
    inner: RefCell<Inner>,
}

#[derive(Default)]
struct Inner {
    /// `(slot, chain)` → transformed bytes (`None`: unchanged).
    transformed: FastMap<u64, Option<Rc<[u8]>>>,
    /// `(slot, chain)` → offset in `arena` of the scan of the transformed value, for chains
    /// the value triggers.
    scans: FastMap<u64, u32>,
    /// Per slot: what the untransformed value holds.
    presences: Vec<Option<Presence>>,
    /// Per slot: the offset in `arena` of the untransformed value's scan, the start of its
    /// block (scan, presence, then its records at [`Record::offset`]).
    slot_scans: Vec<Option<u32>>,
    /// Per slot: the value's hash for the per-thread memo (0: not computed yet).
    hashes: Vec<u64>,
    /// Per slot: an earlier slot of its group holding the same bytes, whose block and
    /// transformed forms it shares ([`NO_TWIN`]: none).
    twins: Vec<u32>,
    /// Scratch room for [`Twins`], kept for its capacity.
    twin_table: Vec<u32>,
    /// Per group (`source × 2 + names`): what its fields hold together and their scans OR-ed.
    groups: [Option<Scanned>; GROUPS],
    /// Per group: its untransformed values' scans.
    group_own: [Option<Rc<GroupScans>>; GROUPS],
    /// Per group: the offset in `arena` of what its values' records all hold (see
    /// [`ValueCache::group_known_missed`]).
    group_records: [Option<u32>; GROUPS],
    /// `(group, chain)` → the group's values' scans after the chain.
    group_scans: FastMap<u64, Rc<GroupScans>>,
    /// At `chain × GROUPS + group`: a superset of the OR of the group's scans after the chain
    /// (see [`ValueCache::group_or`]), `u32::MAX` when not computed yet.
    group_ors: Vec<u32>,
    /// Per gate scope (see [`super::gate`]): what this request computed of it.
    scopes: Vec<ScopeMemo>,
    /// Scan results, `words` words each.
    arena: Vec<u64>,
    /// The slot of `REQUEST_BODY`, scanned with [`Prefilter::for_body`].
    body_slot: Option<u32>,
}

impl Drop for ValueCache {
    fn drop(&mut self) {
        let inner = std::mem::take(self.inner.get_mut());
        if !inner.worth_keeping() {
            return;
        }
        spare::keep(&SPARE, inner);
    }
}

thread_local! {
    /// The buffers of the thread's last cache: the next request reuses their capacity instead
    /// of allocating and freeing its maps and arena again.
    static SPARE: spare::Spare<Inner> = const { RefCell::new(None) };
}

/// Buffers larger than this (entries, or arena words) are freed rather than kept for the next
/// request, so one huge request does not hold its memory for the thread's lifetime.
const KEEP_AT_MOST: usize = 1 << 16;

impl Inner {
    /// True when the buffers are small enough to keep for the next request.
    fn worth_keeping(&self) -> bool {
        self.arena.capacity() <= KEEP_AT_MOST
            && self.transformed.capacity() <= KEEP_AT_MOST
            && self.scans.capacity() <= KEEP_AT_MOST
            && self.presences.capacity() <= KEEP_AT_MOST
    }

    /// The untransformed value's presence and the offset of its block in the arena (its scan,
    /// presence and records), from the per-thread memo or scanned, on first use.
    fn own(&mut self, filter: &Prefilter, slot: u32, value: &[u8], hash: u64) -> Scanned {
        let s = slot as usize;
        if let (Some(Some(presence)), Some(Some(scan))) =
            (self.presences.get(s), self.slot_scans.get(s))
        {
            return Scanned {
                presence: *presence,
                scan: *scan,
            };
        }
        let words = filter.words();
        let block = Record::block_words(filter);
        let filter = self.filter_for(filter, slot);
        let at = self.arena.len();
        self.arena.resize(at + block, 0);
        filter.scan_own(value, hash, &mut self.arena[at..]);
        let presence = Presence::from_words(&self.arena[at + words..]);
        let scan = at as u32;
        if let Some(entry) = self.presences.get_mut(s) {
            // A presence computed before is the same.
            *entry = Some(presence);
        }
        if let Some(entry) = self.slot_scans.get_mut(s) {
            *entry = Some(scan);
        }
        Scanned { presence, scan }
    }

    /// Makes the value in `slot`, not looked at yet, share the block of the value in `first`
    /// (already looked at), which holds the same bytes; returns it. `None` when `slot` was
    /// looked at before (it keeps its own block).
    fn share(&mut self, slot: u32, first: u32) -> Option<Scanned> {
        let (s, f) = (slot as usize, first as usize);
        if !matches!(self.slot_scans.get(s), Some(None)) {
            return None;
        }
        let presence = (*self.presences.get(f)?)?;
        let scan = (*self.slot_scans.get(f)?)?;
        self.presences[s] = Some(presence);
        self.slot_scans[s] = Some(scan);
        self.twins[s] = first;
        Some(Scanned { presence, scan })
    }

    /// The prefilter that scans the value in `slot`: `REQUEST_BODY`'s own (see
    /// [`Prefilter::for_body`]), else `filter`.
    fn filter_for<'f>(&self, filter: &'f Prefilter, slot: u32) -> &'f Prefilter {
        if self.body_slot == Some(slot) {
            filter.for_body()
        } else {
            filter
        }
    }

    /// Empties every map and table, keeping their capacity, for a request with `slots` slots.
    fn reset(&mut self, slots: usize) {
        self.transformed.clear();
        self.scans.clear();
        self.presences.clear();
        self.presences.resize(slots, None);
        self.slot_scans.clear();
        self.slot_scans.resize(slots, None);
        self.hashes.clear();
        self.hashes.resize(slots, 0);
        self.twins.clear();
        self.twins.resize(slots, NO_TWIN);
        self.groups = Default::default();
        self.group_own = Default::default();
        self.group_records = Default::default();
        self.group_scans.clear();
        self.group_ors.clear();
        self.scopes.clear();
        self.arena.clear();
    }

    /// The group OR stored at `at` (`chain × GROUPS + group`), if computed.
    fn group_or_at(&self, at: usize) -> Option<u32> {
        self.group_ors
            .get(at)
            .copied()
            .filter(|&known| known != u32::MAX)
    }

    /// ORs the scan at `scan` (`bits.len()` words) into `bits`.
    fn or_scan_into(&self, bits: &mut [u64], scan: u32) {
        let (at, words) = (scan as usize, bits.len());
        for (b, w) in bits.iter_mut().zip(&self.arena[at..at + words]) {
            *b |= w;
        }
    }
}

/// What one request computed of a gate scope (see [`super::gate`]), each part on first use.
#[derive(Debug, Default, Clone, Copy)]
pub struct ScopeMemo {
    /// Whether the request has any of the scope's values.
    pub present: Option<bool>,
    /// The offset in the arena of the scope's values' scans OR-ed.
    pub scan: Option<u32>,
}

/// The scans of a group's values (after one chain): each value's and their OR.
struct GroupScans {
    /// Offset in `arena` of the OR of the members' scans.
    or: u32,
    /// `(slot, offset in arena of its scan)` per value, in field order.
    members: Vec<(u32, u32)>,
}

/// A record of bits the per-thread memo keeps per value, for every link at once, after the
/// value's own scan and presence in one [`Computed::Own`] entry:
/// `[scan | presence | misses | multiMatch answers]`.
#[derive(Clone, Copy)]
enum Record {
    /// The links known not to match the value, one bit per
    /// [`Link::memo_id`](super::ruleset::Link::memo_id).
    Misses,
    /// For the `multiMatch` links (by their index among the links checked alone): which were
    /// computed for the value, then which may hold on it.
    MultiMatches,
}

impl Record {
    /// The record's length in words under `filter`.
    fn words(self, filter: &Prefilter) -> usize {
        match self {
            Record::Misses => filter.miss_words(),
            Record::MultiMatches => 2 * filter.multi_words(),
        }
    }

    /// Where the record starts in its value's [`Computed::Own`] block.
    fn offset(self, filter: &Prefilter) -> usize {
        let records = filter.words() + Presence::WORDS;
        match self {
            Record::Misses => records,
            Record::MultiMatches => records + filter.miss_words(),
        }
    }

    /// What a value's [`MultiMatches`](Record::MultiMatches) record (`words`, from its start)
    /// says of the `multiMatch` link with bit `bit`: whether it may hold, once computed.
    fn multi_answer(filter: &Prefilter, words: &[u64], bit: usize) -> Option<bool> {
        let held = filter.multi_words() * 64 + bit;
        prefilter::has(words, bit as u32).then(|| prefilter::has(words, held as u32))
    }

    /// The length in words of a value's [`Computed::Own`] block under `filter`.
    fn block_words(filter: &Prefilter) -> usize {
        Record::MultiMatches.offset(filter) + Record::MultiMatches.words(filter)
    }
}

/// What a value (or a group of values) holds, and where its scan is.
#[derive(Clone, Copy)]
struct Scanned {
    presence: Presence,
    scan: u32,
}

fn key(slot: u32, chain: u32) -> u64 {
    u64::from(slot) << 32 | u64::from(chain)
}

impl ValueCache {
    /// A cache for a request with `fields` parsed fields, on the buffers the thread's last
    /// cache left (emptied; see [`SPARE`]).
    pub fn new(fields: usize) -> ValueCache {
        let mut inner = spare::take(&SPARE).unwrap_or_default();
        inner.reset(2 * fields + SCALAR_SLOTS);
        inner.body_slot = super::variables::scalar_slot(Collection::RequestBody, fields);
        ValueCache {
            inner: RefCell::new(inner),
        }
    }

    /// `value` (in `slot`, when it has one) after the link's transformations, whose trigger is
    /// `trigger`.
    pub fn transformed<'v>(
        &self,
        link: &Link,
        trigger: &Trigger,
        slot: Option<u32>,
        value: &'v [u8],
    ) -> Transformed<'v> {
        self.transformed_by(chain_of(link, trigger), slot, value)
    }

    /// `value` (in `slot`, when it has one) after `chain`.
    fn transformed_by<'v>(
        &self,
        chain: Chain<'_>,
        slot: Option<u32>,
        value: &'v [u8],
    ) -> Transformed<'v> {
        let Some(slot) = slot else {
            return transform(chain.transformations, value);
        };
        if chain.trigger.leaves_unchanged(&self.presence(slot, value)) {
            return Transformed::Same(value);
        }
        let k = key(self.first_twin(slot), chain.id);
        if let Some(known) = self.inner.borrow().transformed.get(&k) {
            return known
                .clone()
                .map_or(Transformed::Same(value), Transformed::Changed);
        }
        let result = transform(chain.transformations, value);
        let stored = match &result {
            Transformed::Same(_) => None,
            Transformed::Changed(v) => Some(Rc::clone(v)),
        };
        self.inner.borrow_mut().transformed.insert(k, stored);
        result
    }

    /// False when the value in `slot` cannot match the link's operator (prefilter id `id`)
    /// after the link's transformations, whose trigger is `trigger` (with `multiMatch`, nor
    /// before or between them).
    pub fn may_match(
        &self,
        filter: &Prefilter,
        link: &Link,
        id: u32,
        trigger: &Trigger,
        slot: u32,
        value: &[u8],
    ) -> bool {
        let own = self.scanned(filter, slot, value);
        if !own.presence.meets(trigger) {
            // The chain leaves the value as it is (up to case): its own scan answers.
            return self.has(own.scan, id);
        }
        if link.multi_match {
            return self.multi_match_may_hold(filter, link, id, slot, value);
        }
        let scan = self.transformed_scan(filter, chain_of(link, trigger), slot, value);
        self.has(scan, id)
    }

    /// Whether the `multiMatch` link (prefilter id `id`) may hold on the value in `slot`. The
    /// answers of all such links for one value share a memo record, looked up once per request.
    fn multi_match_may_hold(
        &self,
        filter: &Prefilter,
        link: &Link,
        id: u32,
        slot: u32,
        value: &[u8],
    ) -> bool {
        let compute = || prefilter::multi_match_may_hold(filter, &link.transformations, id, value);
        let Some(bit) = filter.multi_bit(id) else {
            return compute();
        };
        let record = Record::MultiMatches;
        let at = self.record_at(filter, record, slot, value) as usize;
        let known = Record::multi_answer(filter, &self.inner.borrow().arena[at..], bit);
        if let Some(holds) = known {
            return holds;
        }
        let holds = compute();
        let held = filter.multi_words() * 64 + bit;
        let learned = [Some(bit), holds.then_some(held)];
        self.add_to_record(filter, record, slot, value, learned.into_iter().flatten());
        holds
    }

    /// What [`may_match`](Self::may_match) would answer for `slot`, when the value there was
    /// already scanned (no need to compute the value again).
    pub fn known_may_match(
        &self,
        link: &Link,
        id: u32,
        trigger: &Trigger,
        slot: u32,
    ) -> Option<bool> {
        let (presence, _) = self.known_own(slot)?;
        if link.multi_match && presence.meets(trigger) {
            // The operator also sees every intermediate value, which no scan covers.
            return Some(true);
        }
        self.known_scan(link, trigger, slot)
            .map(|scan| self.has(scan, id))
    }

    /// False when no value of `fields` can match the link's operator (prefilter id `id`) after
    /// its transformations, whose trigger is `trigger`.
    pub fn group_may_match(
        &self,
        filter: &Prefilter,
        fields: &FieldGroup<'_, '_>,
        chains: &Chains,
        link: &Link,
        id: u32,
    ) -> bool {
        let trigger = chains.trigger(link.chain_id);
        if link.multi_match && self.group(filter, fields).presence.meets(trigger) {
            return true;
        }
        let scans = self.group_scans(filter, fields, chains, link.chain_id);
        self.has(scans.or, id)
    }

    /// A scan holding every id that a value of the group holds after chain `chain` (an
    /// offset in the arena): the group's untransformed values' scans OR-ed, plus the
    /// transformed scans of the values the chain may change. It may hold more than the exact
    /// OR (a changed value's untransformed literals), never less; it touches only the values
    /// the chain changes, where the exact per-value scans need every member. Chains that come
    /// down to the same tail for the group's values (see [`Chains::effective`]) share it.
    pub fn group_or(
        &self,
        filter: &Prefilter,
        fields: &FieldGroup<'_, '_>,
        chains: &Chains,
        chain: u32,
    ) -> u32 {
        let asked = chain as usize * GROUPS + fields.id();
        if let Some(known) = self.group_or_known(asked) {
            return known;
        }
        let group = self.group(filter, fields);
        let or = if group.presence.meets(chains.trigger(chain)) {
            let chain = chains.effective(chain, &group.presence);
            let at = chain.id as usize * GROUPS + fields.id();
            match self.group_or_known(at) {
                Some(known) => known,
                None => {
                    let mut bits = Bits::zeroed(filter.words());
                    self.or_into(&mut bits, group.scan);
                    for (slot, value) in fields.values() {
                        if self.presence(slot, value).meets(chain.trigger) {
                            let scan = self.transformed_scan(filter, chain, slot, value);
                            self.or_into(&mut bits, scan);
                        }
                    }
                    let or = self.store(&bits);
                    self.remember_group_or(at, or);
                    or
                }
            }
        } else {
            group.scan
        };
        // Under the chain asked for too: the next scope reading the group through it finds
        // the answer without working out the effective chain again.
        self.remember_group_or(asked, or);
        or
    }

    /// ORs into `bits` the group ORs (see [`ValueCache::group_or`]) this request already
    /// computed of the groups in `groups` (bit `source × 2 + names`) after chain `chain`, in
    /// one look; returns the groups whose OR is still to compute.
    pub fn or_known_groups(&self, groups: u32, chain: u32, bits: &mut [u64]) -> u32 {
        let inner = self.inner.borrow();
        let base = chain as usize * GROUPS;
        let mut missing = 0;
        let mut rest = groups;
        while rest != 0 {
            let g = rest.trailing_zeros();
            rest &= rest - 1;
            match inner.group_or_at(base + g as usize) {
                Some(or) => inner.or_scan_into(bits, or),
                None => missing |= 1 << g,
            }
        }
        missing
    }

    /// The group OR stored at `at` (`chain × GROUPS + group`), if computed.
    fn group_or_known(&self, at: usize) -> Option<u32> {
        self.inner.borrow().group_or_at(at)
    }

    /// Stores a group OR at `at` (`chain × GROUPS + group`).
    fn remember_group_or(&self, at: usize, or: u32) {
        let mut inner = self.inner.borrow_mut();
        if inner.group_ors.len() <= at {
            inner.group_ors.resize((at / GROUPS + 1) * GROUPS, u32::MAX);
        }
        inner.group_ors[at] = or;
    }

    /// The scan of the value in `slot` after the link's chain (an offset in the arena). Not for
    /// `multiMatch` links.
    pub fn value_scan(
        &self,
        filter: &Prefilter,
        link: &Link,
        trigger: &Trigger,
        slot: u32,
        value: &[u8],
    ) -> u32 {
        let own = self.scanned(filter, slot, value);
        if own.presence.meets(trigger) {
            self.transformed_scan(filter, chain_of(link, trigger), slot, value)
        } else {
            own.scan
        }
    }

    /// The scan of the value in `slot` after the link's chain, when this request already
    /// computed it (no need for the value).
    pub fn known_scan(&self, link: &Link, trigger: &Trigger, slot: u32) -> Option<u32> {
        let (presence, own) = self.known_own(slot)?;
        if !presence.meets(trigger) {
            return Some(own);
        }
        let k = key(self.first_twin(slot), link.chain_id);
        self.inner.borrow().scans.get(&k).copied()
    }

    /// What the untransformed value in `slot` holds and where its scan is, when this request
    /// already scanned it.
    fn known_own(&self, slot: u32) -> Option<(Presence, u32)> {
        let inner = self.inner.borrow();
        let at = slot as usize;
        Some(((*inner.presences.get(at)?)?, (*inner.slot_scans.get(at)?)?))
    }

    /// True when this request has looked at the value in `slot` (so it has one).
    pub fn seen(&self, slot: u32) -> bool {
        matches!(
            self.inner.borrow().presences.get(slot as usize),
            Some(Some(_))
        )
    }

    /// What this request has computed of gate scope `scope` so far.
    pub fn scope(&self, scope: u32) -> ScopeMemo {
        self.inner
            .borrow()
            .scopes
            .get(scope as usize)
            .copied()
            .unwrap_or_default()
    }

    /// Remembers what this request computed of gate scope `scope`.
    pub fn set_scope(&self, scope: u32, memo: ScopeMemo) {
        let mut inner = self.inner.borrow_mut();
        let at = scope as usize;
        if inner.scopes.len() <= at {
            inner.scopes.resize(at + 1, ScopeMemo::default());
        }
        inner.scopes[at] = memo;
    }

    /// Appends to `out` the slots of the group's values that may match the link's operator
    /// (prefilter id `id`) after its transformations, in field order. Not for `multiMatch`
    /// links.
    pub fn candidates(
        &self,
        filter: &Prefilter,
        fields: &FieldGroup<'_, '_>,
        chains: &Chains,
        link: &Link,
        id: u32,
        out: &mut Vec<u32>,
    ) {
        let scans = self.group_scans(filter, fields, chains, link.chain_id);
        let inner = self.inner.borrow();
        out.extend(
            scans
                .members
                .iter()
                .filter(|(_, scan)| prefilter::has(&inner.arena[*scan as usize..], id))
                .map(|(slot, _)| *slot),
        );
    }

    /// The scans of the group's values after chain `chain`, computed on first use (once for
    /// the chains that come down to the same tail for them).
    fn group_scans(
        &self,
        filter: &Prefilter,
        fields: &FieldGroup<'_, '_>,
        chains: &Chains,
        chain: u32,
    ) -> Rc<GroupScans> {
        let group = self.group(filter, fields);
        let g = fields.id();
        if !group.presence.meets(chains.trigger(chain)) {
            // The chain changes none of the group's values: their own scans stand.
            if let Some(own) = &self.inner.borrow().group_own[g] {
                return Rc::clone(own);
            }
        }
        let chain = chains.effective(chain, &group.presence);
        let k = key(g as u32, chain.id);
        if let Some(known) = self.inner.borrow().group_scans.get(&k) {
            return Rc::clone(known);
        }
        let mut bits = Bits::zeroed(filter.words());
        let mut members = Vec::with_capacity(fields.indices.len());
        for (slot, value) in fields.values() {
            let own = self.scanned(filter, slot, value);
            let scan = if own.presence.meets(chain.trigger) {
                self.transformed_scan(filter, chain, slot, value)
            } else {
                own.scan
            };
            self.or_into(&mut bits, scan);
            members.push((slot, scan));
        }
        let scans = Rc::new(GroupScans {
            or: self.store(&bits),
            members,
        });
        self.inner
            .borrow_mut()
            .group_scans
            .insert(k, Rc::clone(&scans));
        scans
    }

    /// What a group's untransformed values hold together, computed on first use.
    fn group(&self, filter: &Prefilter, fields: &FieldGroup<'_, '_>) -> Scanned {
        let g = fields.id();
        if let Some(group) = self.inner.borrow().groups[g] {
            return group;
        }
        let mut presence = Presence::default();
        let mut bits = Bits::zeroed(filter.words());
        let mut members = Vec::with_capacity(fields.indices.len());
        let mut common = Bits::zeroed(filter.miss_words() + filter.multi_words());
        common.fill(u64::MAX);
        // The values' memo sets are read together first (see [`memo::warm`]), from their hashes
        // gathered beforehand: reading them back from the cache between the table reads, or
        // computing them there, measured slower (10 KB JSON 250-255 against 273-281 us).
        let values: Vec<(u32, &[u8])> = fields.values().collect();
        let hashes: Vec<u64> = values
            .iter()
            .map(|&(slot, value)| self.hash(slot, value))
            .collect();
        filter.warm(Computed::Own, &hashes);
        let words = filter.words();
        {
            // One borrow for the whole group: its values' blocks are at hand in turn.
            let mut inner = self.inner.borrow_mut();
            let mut twins = Twins::new(std::mem::take(&mut inner.twin_table), values.len());
            for (i, (&(slot, value), &hash)) in values.iter().zip(&hashes).enumerate() {
                if let Some(first) = twins.first_of(&values, &hashes, i) {
                    // The same bytes as an earlier value: the same block, nothing to add.
                    if let Some(s) = inner.share(slot, values[first].0) {
                        members.push((slot, s.scan));
                        continue;
                    }
                }
                let s = inner.own(filter, slot, value, hash);
                presence.add(&s.presence);
                let block = &inner.arena[s.scan as usize..];
                for (b, w) in bits.iter_mut().zip(&block[..words]) {
                    *b |= w;
                }
                fold_records(filter, block, &mut common);
                members.push((slot, s.scan));
            }
            inner.twin_table = twins.into_table();
        }
        let or = self.store(&bits);
        let records = self.store(&common);
        let group = Scanned { presence, scan: or };
        let mut inner = self.inner.borrow_mut();
        inner.groups[g] = Some(group);
        inner.group_records[g] = Some(records);
        inner.group_own[g] = Some(Rc::new(GroupScans { or, members }));
        group
    }

    /// The scan of the value in `slot` after `chain`, computed once.
    fn transformed_scan(
        &self,
        filter: &Prefilter,
        chain: Chain<'_>,
        slot: u32,
        value: &[u8],
    ) -> u32 {
        let k = key(self.first_twin(slot), chain.id);
        if let Some(scan) = self.inner.borrow().scans.get(&k) {
            return *scan;
        }
        let hash = self.hash(slot, value);
        let mut bits = Bits::zeroed(filter.words());
        let computed = Computed::Chain(chain.id);
        // Remembered under the identity of the prefilter that scans (`REQUEST_BODY` has its
        // own): the same bytes in another slot need every link's literals.
        let scanning = self.inner.borrow().filter_for(filter, slot);
        scanning.remembered(computed, value, hash, &mut bits, |out| {
            let transformed = self.transformed_by(chain, Some(slot), value);
            // The scan ignores ASCII case: a value the chain only re-cased has the original's.
            if transformed.eq_ignore_ascii_case(value) {
                let own = self.scanned(filter, slot, value).scan;
                self.or_into(out, own);
            } else {
                scanning.scan_uncached(&transformed, out);
            }
        });
        let scan = self.store(&bits);
        self.inner.borrow_mut().scans.insert(k, scan);
        scan
    }

    /// ORs the scan at `scan` into `bits`.
    pub fn or_into(&self, bits: &mut [u64], scan: u32) {
        self.inner.borrow().or_scan_into(bits, scan);
    }

    /// Stores a scan in the arena; returns its offset.
    pub fn store(&self, bits: &[u64]) -> u32 {
        let mut inner = self.inner.borrow_mut();
        let at = inner.arena.len() as u32;
        inner.arena.extend_from_slice(bits);
        at
    }

    /// What the untransformed value in `slot` holds, computed on first use.
    fn presence(&self, slot: u32, value: &[u8]) -> Presence {
        if let Some(Some(p)) = self.inner.borrow().presences.get(slot as usize) {
            return *p;
        }
        let p = Presence::of(value);
        if let Some(entry) = self.inner.borrow_mut().presences.get_mut(slot as usize) {
            *entry = Some(p);
        }
        p
    }

    /// The untransformed value's presence and scan, computed on first use (both from one
    /// lookup in the per-thread memo for a value the thread saw before).
    fn scanned(&self, filter: &Prefilter, slot: u32, value: &[u8]) -> Scanned {
        if let Some((presence, scan)) = self.known_own(slot) {
            return Scanned { presence, scan };
        }
        let hash = self.hash(slot, value);
        self.inner.borrow_mut().own(filter, slot, value, hash)
    }

    /// True when this thread remembers that the link with memo id `link` did not match the value
    /// in `slot`.
    pub fn known_miss(&self, filter: &Prefilter, link: u32, slot: u32, value: &[u8]) -> bool {
        self.record_bit(filter, Record::Misses, slot, value, link as usize)
    }

    /// Removes from `slots` (parsed fields' slots) the values this request already knows the
    /// link cannot match, from the records their own scans brought: those the link with memo id
    /// `link` missed before, and, for a `multiMatch` link with record bit `multi`, those its
    /// prefilter ruled out before. One pass over the slots, without building their values: an
    /// API's recurring body is known from request to request.
    pub fn drop_known_misses(
        &self,
        filter: &Prefilter,
        link: Option<u32>,
        multi: Option<usize>,
        slots: &mut Vec<u32>,
    ) {
        let inner = self.inner.borrow();
        let misses = Record::Misses.offset(filter);
        let multis = Record::MultiMatches.offset(filter);
        slots.retain(|&slot| {
            let Some(&Some(block)) = inner.slot_scans.get(slot as usize) else {
                return true;
            };
            let block = &inner.arena[block as usize..];
            let missed = link.is_some_and(|l| prefilter::has(&block[misses..], l));
            let ruled_out = multi
                .is_some_and(|m| Record::multi_answer(filter, &block[multis..], m) == Some(false));
            !missed && !ruled_out
        });
    }

    /// True when every value of the group is known not to match a link, from the records their
    /// own scans brought: the link with memo id `link` missed them all, or, for a `multiMatch`
    /// link with record bit `multi`, its prefilter ruled them all out. What the records hold in
    /// common is gathered as the group's values are scanned (each block is at hand then); the
    /// links that test it then skip the group whole, where a pass over the values' records
    /// would reach for each (an API's recurring body, request after request).
    pub fn group_known_missed(
        &self,
        filter: &Prefilter,
        fields: &FieldGroup<'_, '_>,
        link: Option<u32>,
        multi: Option<usize>,
    ) -> bool {
        self.group(filter, fields);
        let inner = self.inner.borrow();
        let Some(at) = inner.group_records[fields.id()] else {
            return false;
        };
        let common = &inner.arena[at as usize..];
        link.is_some_and(|l| prefilter::has(common, l))
            || multi.is_some_and(|m| prefilter::has(&common[filter.miss_words()..], m as u32))
    }

    /// Remembers that the link with memo id `link` did not match the value in `slot`.
    pub fn remember_miss(&self, filter: &Prefilter, link: u32, slot: u32, value: &[u8]) {
        self.add_to_record(filter, Record::Misses, slot, value, [link as usize]);
    }

    /// Bit `bit` of the value's record of kind `record`.
    fn record_bit(
        &self,
        filter: &Prefilter,
        record: Record,
        slot: u32,
        value: &[u8],
        bit: usize,
    ) -> bool {
        let at = self.record_at(filter, record, slot, value) as usize;
        let words = record.words(filter);
        prefilter::has(&self.inner.borrow().arena[at..at + words], bit as u32)
    }

    /// Sets `bits` in the value's record of kind `record` and remembers its block (scan,
    /// presence and records) in the per-thread memo.
    fn add_to_record(
        &self,
        filter: &Prefilter,
        record: Record,
        slot: u32,
        value: &[u8],
        bits: impl IntoIterator<Item = usize>,
    ) {
        let own = self.scanned(filter, slot, value).scan as usize;
        let hash = self.hash(slot, value);
        let scanning = self.inner.borrow().filter_for(filter, slot);
        let mut inner = self.inner.borrow_mut();
        let at = own + record.offset(filter);
        let words = &mut inner.arena[at..at + record.words(filter)];
        for bit in bits {
            if let Some(w) = words.get_mut(bit / 64) {
                *w |= 1 << (bit % 64);
            }
        }
        let block = &inner.arena[own..own + Record::block_words(filter)];
        scanning.store(Computed::Own, value, hash, block);
    }

    /// The offset in the arena of the value's record of kind `record`: part of the block the
    /// value's own scan brought from the per-thread memo.
    fn record_at(&self, filter: &Prefilter, record: Record, slot: u32, value: &[u8]) -> u32 {
        self.scanned(filter, slot, value).scan + record.offset(filter) as u32
    }

    /// The first slot of the value's group that holds the same bytes as `slot` (`slot` itself
    /// when it is the first): its transformed forms and scans are the ones `slot` has.
    fn first_twin(&self, slot: u32) -> u32 {
        match self.inner.borrow().twins.get(slot as usize) {
            Some(&first) if first != NO_TWIN => first,
            _ => slot,
        }
    }

    /// The memo hash of the untransformed value in `slot`, computed on first use.
    fn hash(&self, slot: u32, value: &[u8]) -> u64 {
        let known = self.inner.borrow().hashes.get(slot as usize).copied();
        match known {
            Some(h) if h != 0 => h,
            _ => {
                let h = prefilter::value_hash(value);
                if let Some(entry) = self.inner.borrow_mut().hashes.get_mut(slot as usize) {
                    *entry = h;
                }
                h
            }
        }
    }

    /// True when prefilter id `id` is set in the scan at `scan`.
    pub fn has(&self, scan: u32, id: u32) -> bool {
        prefilter::has(&self.inner.borrow().arena[scan as usize..], id)
    }
}

/// ANDs into `common` what the records of a value's block (its own scan, presence and records,
/// from its start) say of every link: the links that missed the value, then the `multiMatch`
/// links ruled out for it.
fn fold_records(filter: &Prefilter, block: &[u64], common: &mut [u64]) {
    let (miss_words, multi_words) = (filter.miss_words(), filter.multi_words());
    let misses = &block[Record::Misses.offset(filter)..][..miss_words];
    let (missed, ruled_out) = common.split_at_mut(miss_words);
    for (c, m) in missed.iter_mut().zip(misses) {
        *c &= m;
    }
    let record = &block[Record::MultiMatches.offset(filter)..][..2 * multi_words];
    let (computed, held) = record.split_at(multi_words);
    for ((c, done), held) in ruled_out.iter_mut().zip(computed).zip(held) {
        *c &= done & !held;
    }
}

/// [`Inner::twins`] for a slot with no earlier twin.
const NO_TWIN: u32 = u32::MAX;

/// Finds, among a group's values, the first one holding the same bytes as each: JSON bodies
/// repeat values (`true`, a currency, a status, a product name in every line of an order),
/// and a value seen earlier in the request needs no lookup of its own in the per-thread memo.
/// An open-addressing table of value indices (plus one; 0 is an empty place) by memo hash.
struct Twins {
    table: Vec<u32>,
}

impl Twins {
    /// A table for `len` values, on the room of `table`.
    fn new(mut table: Vec<u32>, len: usize) -> Twins {
        table.clear();
        table.resize((2 * len).next_power_of_two().max(2), 0);
        Twins { table }
    }

    /// The index of the first of `values` (with their memo hashes) equal to value `i`, when it
    /// is an earlier one; else remembers `i` as the first of its bytes. Values too long for the
    /// memo (hash 0) are never compared.
    fn first_of(&mut self, values: &[(u32, &[u8])], hashes: &[u64], i: usize) -> Option<usize> {
        let hash = hashes[i];
        if hash == 0 {
            return None;
        }
        let mask = self.table.len() - 1;
        let mut at = (hash ^ hash >> 32) as usize & mask;
        loop {
            match self.table[at] {
                0 => {
                    self.table[at] = i as u32 + 1;
                    return None;
                }
                j => {
                    let j = j as usize - 1;
                    if hashes[j] == hash && values[j].1 == values[i].1 {
                        return Some(j);
                    }
                }
            }
            at = (at + 1) & mask;
        }
    }

    /// The table's room, for the next group.
    fn into_table(self) -> Vec<u32> {
        self.table
    }
}

/// The values (or names) of the fields of one source.
pub struct FieldGroup<'f, 'a> {
    /// All the request's fields.
    pub fields: &'f [Field<'a>],
    /// The indices of the fields of `source` (the transaction's `by_source` entry).
    pub indices: &'f [u32],
    /// Their source.
    pub source: Source,
    /// Names instead of values.
    pub names: bool,
}

impl FieldGroup<'_, '_> {
    /// The group's index among the cache's groups.
    fn id(&self) -> usize {
        group_index(self.source, self.names)
    }

    /// The slots and values of the group.
    fn values(&self) -> impl Iterator<Item = (u32, &[u8])> + '_ {
        self.indices.iter().map(|&i| {
            let f = &self.fields[i as usize];
            if self.names {
                (2 * i + 1, &f.name[..])
            } else {
                (2 * i, &f.value[..])
            }
        })
    }
}

/// Slots after the fields' for the request's fixed scalars.
pub const SCALAR_SLOTS: usize = 16;

/// The link's chain, whose trigger is `trigger`.
fn chain_of<'l>(link: &'l Link, trigger: &'l Trigger) -> Chain<'l> {
    Chain {
        id: link.chain_id,
        transformations: &link.transformations,
        trigger,
    }
}

/// Runs `transformations` over `value`.
fn transform<'v>(transformations: &[Transformation], value: &'v [u8]) -> Transformed<'v> {
    let mut current: Cow<'_, [u8]> = Cow::Borrowed(value);
    for t in transformations {
        if let Some(next) = transformations::apply(*t, &current) {
            current = Cow::Owned(next);
        }
    }
    match current {
        Cow::Borrowed(v) => Transformed::Same(v),
        Cow::Owned(v) => Transformed::Changed(Rc::from(v)),
    }
}
