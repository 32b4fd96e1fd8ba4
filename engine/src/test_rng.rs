//! A tiny xorshift64 generator for randomized tests, so they need no dependency.

/// xorshift64 (13, 7, 17) from a non-zero seed.
pub struct XorShift(pub u64);

impl XorShift {
    /// The next number of the sequence.
    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
}
