//! A bounded cache of lookups. Two generations: hits are served from either and promoted to the
//! current one; when the current generation is full it becomes the old one and the previous
//! old one is dropped. Addresses seen again within a generation stay, one-off addresses age
//! out, and memory never exceeds two generations — an approximation of LRU at O(1) per call.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use super::info::GeoInfo;

/// The cache (one per [`super::Geo`]; nginx workers each get their own copy at fork).
#[derive(Debug)]
pub struct LookupCache {
    generation: usize,
    maps: Mutex<Generations>,
    hits: AtomicU64,
    misses: AtomicU64,
}

#[derive(Debug, Default)]
struct Generations {
    current: HashMap<IpAddr, Arc<GeoInfo>>,
    old: HashMap<IpAddr, Arc<GeoInfo>>,
}

impl LookupCache {
    /// A cache holding at most `entries` addresses (0: nothing is cached).
    pub fn new(entries: usize) -> LookupCache {
        LookupCache {
            generation: entries / 2,
            maps: Mutex::new(Generations::default()),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        }
    }

    /// The cached lookup of `ip`.
    pub fn get(&self, ip: &IpAddr) -> Option<Arc<GeoInfo>> {
        if self.generation == 0 {
            return None;
        }
        let mut maps = self.maps.lock().unwrap_or_else(|p| p.into_inner());
        let found = match maps.current.get(ip) {
            Some(v) => Some(Arc::clone(v)),
            None => maps.old.remove(ip).inspect(|v| {
                let v = Arc::clone(v);
                Self::insert(&mut maps, self.generation, *ip, v);
            }),
        };
        let counter = if found.is_some() {
            &self.hits
        } else {
            &self.misses
        };
        counter.fetch_add(1, Ordering::Relaxed);
        found
    }

    /// Remembers a lookup.
    pub fn put(&self, ip: IpAddr, info: Arc<GeoInfo>) {
        if self.generation == 0 {
            return;
        }
        let mut maps = self.maps.lock().unwrap_or_else(|p| p.into_inner());
        Self::insert(&mut maps, self.generation, ip, info);
    }

    fn insert(maps: &mut Generations, generation: usize, ip: IpAddr, info: Arc<GeoInfo>) {
        if maps.current.len() >= generation {
            maps.old = std::mem::take(&mut maps.current);
        }
        maps.current.insert(ip, info);
    }

    /// Number of addresses held.
    pub fn len(&self) -> usize {
        let maps = self.maps.lock().unwrap_or_else(|p| p.into_inner());
        maps.current.len() + maps.old.len()
    }

    /// True when nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// `(hits, misses)` of [`LookupCache::get`] so far.
    pub fn stats(&self) -> (u64, u64) {
        (
            self.hits.load(Ordering::Relaxed),
            self.misses.load(Ordering::Relaxed),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(n: u32) -> IpAddr {
        IpAddr::V4(n.into())
    }

    #[test]
    fn stays_bounded_and_keeps_addresses_seen_again() {
        let cache = LookupCache::new(100);
        let info = Arc::new(GeoInfo::default());
        cache.put(ip(0), Arc::clone(&info));
        for n in 1..1000 {
            assert!(cache.get(&ip(0)).is_some(), "the hot address stays, at {n}");
            cache.put(ip(n), Arc::clone(&info));
            assert!(cache.len() <= 100, "{} entries", cache.len());
        }
        assert!(cache.get(&ip(5)).is_none(), "a one-off address aged out");
        let (hits, misses) = cache.stats();
        assert_eq!((hits, misses), (999, 1));
    }

    #[test]
    fn zero_entries_caches_nothing() {
        let cache = LookupCache::new(0);
        cache.put(ip(1), Arc::new(GeoInfo::default()));
        assert!(cache.get(&ip(1)).is_none());
        assert!(cache.is_empty());
    }
}
