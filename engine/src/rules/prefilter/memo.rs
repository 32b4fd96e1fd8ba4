//! A small per-thread memo of prefilter scans for values that repeat from request to request
//! (`User-Agent`, `Accept`, `Accept-Language`, cookie values, the field names of an API's JSON
//! bodies). Scanning a 100-byte header costs about a microsecond; finding it here costs a hash
//! and a comparison. The key is the prefilter's identity and the whole value, compared byte for
//! byte, so a hash collision can only cost a rescan, never change a result.

use std::cell::RefCell;

use crate::rules::fast_hash::FastHasher;
use std::hash::Hasher;

/// Number of entries per thread, in sets of [`WAYS`] (newest first).
const SLOTS: usize = 1024;
/// Entries per set.
const WAYS: usize = 4;
/// Shorter values scan about as fast as they are looked up, and are not memoized.
const MIN_LEN: usize = 16;
/// Longer values rarely repeat and are not memoized (bounds the memo near 400 KiB per thread).
const MAX_LEN: usize = 256;

struct Entry {
    /// [`super::Prefilter`]'s identity: scans of different rule sets differ.
    filter: u64,
    value: Vec<u8>,
    bits: Vec<u64>,
}

thread_local! {
    static MEMO: RefCell<Vec<Option<Entry>>> = RefCell::new((0..SLOTS).map(|_| None).collect());
}

/// Sets in `out` the bits `scan` sets for `value` under prefilter `filter`, from the memo or by
/// calling `scan` and remembering its result.
pub fn scan(filter: u64, value: &[u8], out: &mut [u64], scan: impl FnOnce(&[u8], &mut [u64])) {
    if !(MIN_LEN..=MAX_LEN).contains(&value.len()) {
        return scan(value, out);
    }
    let set = set_of(filter, value);
    let known = MEMO.with(|m| {
        let m = m.borrow();
        let hit = m[set..set + WAYS]
            .iter()
            .flatten()
            .find(|e| e.filter == filter && e.value == value && e.bits.len() == out.len());
        if let Some(e) = hit {
            for (o, b) in out.iter_mut().zip(&e.bits) {
                *o |= b;
            }
        }
        hit.is_some()
    });
    if known {
        return;
    }
    let mut bits = vec![0u64; out.len()];
    scan(value, &mut bits);
    for (o, b) in out.iter_mut().zip(&bits) {
        *o |= b;
    }
    MEMO.with(|m| {
        let mut m = m.borrow_mut();
        // The oldest entry makes room: it moves out, its buffers are reused for the new one.
        m[set..set + WAYS].rotate_right(1);
        match &mut m[set] {
            Some(e) => {
                e.filter = filter;
                e.value.clear();
                e.value.extend_from_slice(value);
                e.bits.clone_from(&bits);
            }
            empty => {
                *empty = Some(Entry {
                    filter,
                    value: value.to_vec(),
                    bits,
                })
            }
        }
    });
}

/// The first entry of the value's set.
fn set_of(filter: u64, value: &[u8]) -> usize {
    let mut h = FastHasher::default();
    h.write_u64(filter);
    h.write(value);
    let h = h.finish();
    (h ^ (h >> 32)) as usize % (SLOTS / WAYS) * WAYS
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fake_scan(calls: &mut u32) -> impl FnOnce(&[u8], &mut [u64]) + '_ {
        |v, out| {
            *calls += 1;
            out[0] |= v.len() as u64;
        }
    }

    #[test]
    fn a_repeated_value_is_scanned_once_with_the_same_bits() {
        let value = b"Mozilla/5.0 (X11; Linux x86_64) Firefox/126.0 scan-memo-test";
        let mut calls = 0;
        for _ in 0..3 {
            let mut out = [0u64; 2];
            scan(7, value, &mut out, fake_scan(&mut calls));
            assert_eq!(out, [value.len() as u64, 0]);
        }
        assert_eq!(calls, 1);
    }

    #[test]
    fn other_filters_values_and_short_values_are_scanned() {
        let value = b"text/html,application/xhtml+xml scan-memo";
        let mut calls = 0;
        let mut out = [0u64; 1];
        scan(1, value, &mut out, fake_scan(&mut calls));
        scan(2, value, &mut out, fake_scan(&mut calls));
        scan(
            1,
            b"text/html,application/xhtml+xml scan-memO",
            &mut out,
            fake_scan(&mut calls),
        );
        scan(1, b"short", &mut out, fake_scan(&mut calls));
        scan(1, b"short", &mut out, fake_scan(&mut calls));
        assert_eq!(calls, 5);
    }

    #[test]
    fn bits_already_set_are_not_remembered_as_the_values() {
        let value = b"bits-already-set scan-memo value";
        let mut calls = 0;
        let mut out = [0b100u64];
        scan(3, value, &mut out, fake_scan(&mut calls));
        let mut fresh = [0u64];
        scan(3, value, &mut fresh, fake_scan(&mut calls));
        assert_eq!(calls, 1);
        assert_eq!(fresh, [value.len() as u64]);
    }
}
