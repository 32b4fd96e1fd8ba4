//! Histograms with fixed bucket bounds: one relaxed add for the bucket, one for the sum.

use std::sync::atomic::{AtomicU64, Ordering};

/// One bucket bound: the observed value's upper limit in the recorded unit, and how the bound
/// is written in the exposition format's `le` label (in the metric's base unit).
#[derive(Debug, Clone, Copy)]
pub struct Bound {
    /// Upper limit (inclusive), in the recorded unit (nanoseconds, score points).
    pub limit: u64,
    /// The `le` label value, in the metric's base unit (seconds, score points).
    pub label: &'static str,
}

/// Inspection time bounds: 50 µs to 1 s (recorded in nanoseconds, exposed in seconds).
pub const INSPECTION_BOUNDS: [Bound; 13] = [
    Bound {
        limit: 50_000,
        label: "5e-05",
    },
    Bound {
        limit: 100_000,
        label: "0.0001",
    },
    Bound {
        limit: 250_000,
        label: "0.00025",
    },
    Bound {
        limit: 500_000,
        label: "0.0005",
    },
    Bound {
        limit: 1_000_000,
        label: "0.001",
    },
    Bound {
        limit: 2_500_000,
        label: "0.0025",
    },
    Bound {
        limit: 5_000_000,
        label: "0.005",
    },
    Bound {
        limit: 10_000_000,
        label: "0.01",
    },
    Bound {
        limit: 25_000_000,
        label: "0.025",
    },
    Bound {
        limit: 50_000_000,
        label: "0.05",
    },
    Bound {
        limit: 100_000_000,
        label: "0.1",
    },
    Bound {
        limit: 250_000_000,
        label: "0.25",
    },
    Bound {
        limit: 1_000_000_000,
        label: "1",
    },
];

/// Anomaly score bounds (CRS scores: critical 5, error 4, warning 3, notice 2).
pub const SCORE_BOUNDS: [Bound; 12] = [
    Bound {
        limit: 0,
        label: "0",
    },
    Bound {
        limit: 2,
        label: "2",
    },
    Bound {
        limit: 3,
        label: "3",
    },
    Bound {
        limit: 4,
        label: "4",
    },
    Bound {
        limit: 5,
        label: "5",
    },
    Bound {
        limit: 8,
        label: "8",
    },
    Bound {
        limit: 10,
        label: "10",
    },
    Bound {
        limit: 15,
        label: "15",
    },
    Bound {
        limit: 20,
        label: "20",
    },
    Bound {
        limit: 25,
        label: "25",
    },
    Bound {
        limit: 50,
        label: "50",
    },
    Bound {
        limit: 100,
        label: "100",
    },
];

/// Bucket counts (not cumulative; the last one is `+Inf`) and the sum of observed values.
/// `N` is the number of bounds plus one.
#[repr(C)]
#[derive(Debug)]
pub struct Histogram<const N: usize> {
    /// Observations per bucket; `buckets[i]` holds values above bound `i-1` up to bound `i`.
    pub buckets: [AtomicU64; N],
    /// Sum of observed values, in the recorded unit.
    pub sum: AtomicU64,
}

impl<const N: usize> Histogram<N> {
    /// An empty histogram.
    pub const fn new() -> Self {
        Histogram {
            buckets: [const { AtomicU64::new(0) }; N],
            sum: AtomicU64::new(0),
        }
    }

    /// Records one value against `bounds` (which must hold `N - 1` bounds).
    #[inline]
    pub fn observe(&self, bounds: &[Bound], value: u64) {
        let i = bounds
            .iter()
            .position(|b| value <= b.limit)
            .unwrap_or(bounds.len());
        self.buckets[i.min(N - 1)].fetch_add(1, Ordering::Relaxed);
        self.sum.fetch_add(value, Ordering::Relaxed);
    }

    /// Cumulative counts per bound, then the `+Inf` count (= the total), and the sum.
    pub fn cumulative(&self) -> ([u64; N], u64) {
        let mut out = [0; N];
        let mut total = 0u64;
        for (o, b) in out.iter_mut().zip(&self.buckets) {
            total = total.wrapping_add(b.load(Ordering::Relaxed));
            *o = total;
        }
        (out, self.sum.load(Ordering::Relaxed))
    }
}

impl<const N: usize> Default for Histogram<N> {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_land_in_the_first_bucket_whose_bound_holds_them() {
        let h = Histogram::<13>::new();
        for v in [0, 0, 2, 3, 5, 6, 100, 101, 9999] {
            h.observe(&SCORE_BOUNDS, v);
        }
        let (cum, sum) = h.cumulative();
        assert_eq!(cum[0], 2, "le=0");
        assert_eq!(cum[1], 3, "le=2");
        assert_eq!(cum[4], 5, "le=5");
        assert_eq!(cum[5], 6, "le=8");
        assert_eq!(cum[11], 7, "le=100");
        assert_eq!(cum[12], 9, "+Inf");
        assert_eq!(sum, 2 + 3 + 5 + 6 + 100 + 101 + 9999);
    }

    #[test]
    fn bounds_increase_and_labels_parse_as_their_limits() {
        for (bounds, scale) in [(&INSPECTION_BOUNDS[..], 1e9), (&SCORE_BOUNDS[..], 1.0)] {
            for w in bounds.windows(2) {
                assert!(w[0].limit < w[1].limit);
            }
            for b in bounds {
                let v: f64 = b.label.parse().unwrap();
                assert!((v * scale - b.limit as f64).abs() < 1e-6, "{}", b.label);
            }
        }
    }
}
