//! Hits per rule id in a fixed number of slots, so the number of Prometheus series stays
//! bounded whatever rules are loaded. A slot is claimed for a rule id by compare-and-swap on
//! first hit and keeps it for the block's life; hits of rules that find no free slot within
//! [`MAX_PROBE`] steps are counted in [`RuleTable::other`].

use std::sync::atomic::{AtomicU64, Ordering};

/// Number of rule ids tracked one by one.
pub const RULE_SLOTS: usize = 256;

/// Slots examined for one rule id before its hits go to [`RuleTable::other`].
pub const MAX_PROBE: usize = 32;

/// One tracked rule: `key` is the rule id plus one (0: free), `hits` its hit count.
#[repr(C)]
#[derive(Debug)]
pub struct RuleSlot {
    /// Rule id + 1, or 0 while the slot is free.
    pub key: AtomicU64,
    /// Hits of that rule.
    pub hits: AtomicU64,
}

/// The bounded table of rule hits.
#[repr(C)]
#[derive(Debug)]
pub struct RuleTable {
    /// Open-addressed slots (linear probing from a hash of the id).
    pub slots: [RuleSlot; RULE_SLOTS],
    /// Hits of rules that found no slot.
    pub other: AtomicU64,
}

impl RuleTable {
    /// An empty table.
    pub const fn new() -> RuleTable {
        RuleTable {
            slots: [const {
                RuleSlot {
                    key: AtomicU64::new(0),
                    hits: AtomicU64::new(0),
                }
            }; RULE_SLOTS],
            other: AtomicU64::new(0),
        }
    }

    /// Counts one hit of `rule_id`: a few loads and one add once the rule has its slot, one
    /// compare-and-swap the first time.
    #[inline]
    pub fn hit(&self, rule_id: u32) {
        let key = u64::from(rule_id) + 1;
        let start = (rule_id.wrapping_mul(0x9E37_79B1) >> 24) as usize % RULE_SLOTS;
        for step in 0..MAX_PROBE {
            let slot = &self.slots[(start + step) % RULE_SLOTS];
            let mut current = slot.key.load(Ordering::Acquire);
            if current == 0 {
                current =
                    match slot
                        .key
                        .compare_exchange(0, key, Ordering::AcqRel, Ordering::Acquire)
                    {
                        Ok(_) => key,
                        Err(taken) => taken,
                    };
            }
            if current == key {
                slot.hits.fetch_add(1, Ordering::Relaxed);
                return;
            }
        }
        self.other.fetch_add(1, Ordering::Relaxed);
    }

    /// Tracked rules and their hits, by rule id.
    pub fn entries(&self) -> Vec<(u32, u64)> {
        let mut out: Vec<(u32, u64)> = self
            .slots
            .iter()
            .filter_map(|s| {
                let key = s.key.load(Ordering::Acquire);
                let id = u32::try_from(key.checked_sub(1)?).ok()?;
                Some((id, s.hits.load(Ordering::Relaxed)))
            })
            .collect();
        out.sort_unstable();
        out
    }

    /// Hits of rules without a slot.
    pub fn other(&self) -> u64 {
        self.other.load(Ordering::Relaxed)
    }
}

impl Default for RuleTable {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn counts_each_rule_in_its_own_slot() {
        let t = RuleTable::new();
        for id in [942100, 941100, 942100, 0, u32::MAX] {
            t.hit(id);
        }
        assert_eq!(
            t.entries(),
            vec![(0, 1), (941100, 1), (942100, 2), (u32::MAX, 1)]
        );
        assert_eq!(t.other(), 0);
    }

    #[test]
    fn cardinality_stays_bounded_and_no_hit_is_lost() {
        let t = RuleTable::new();
        let ids = 10_000u32;
        for id in 0..ids {
            t.hit(100_000 + id);
            t.hit(100_000 + id);
        }
        let entries = t.entries();
        assert!(entries.len() <= RULE_SLOTS);
        assert!(
            entries.len() > RULE_SLOTS / 2,
            "{} slots used",
            entries.len()
        );
        let tracked: u64 = entries.iter().map(|(_, n)| n).sum();
        assert_eq!(tracked + t.other(), 2 * u64::from(ids));
    }

    #[test]
    fn concurrent_first_hits_of_one_rule_share_one_slot() {
        let t = Arc::new(RuleTable::new());
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let t = Arc::clone(&t);
                std::thread::spawn(move || {
                    for i in 0..1000u32 {
                        t.hit(920_000 + i % 50);
                    }
                })
            })
            .collect();
        for th in threads {
            th.join().unwrap();
        }
        let entries = t.entries();
        assert_eq!(entries.len(), 50);
        assert!(entries.iter().all(|&(_, n)| n == 80), "{entries:?}");
    }
}
