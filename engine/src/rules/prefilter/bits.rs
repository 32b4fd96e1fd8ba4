//! A zeroed scan buffer of a prefilter's width, on the stack when it is small (as it is for
//! CRS), so that computing a scan or an OR of scans allocates nothing.

/// Words kept on the stack: a CRS scan takes 9, a value's own block of scan, presence and
/// records 27; wider buffers go to the heap. Every buffer zeroes all of them, so no more than
/// CRS needs (48 cost a CRS GET 0.7 % more instructions).
const INLINE: usize = 32;

/// A zeroed buffer of scan words (see [`super::Prefilter::words`]): the first `len` words of
/// `inline`, or all of `heap` when more are needed.
pub struct Bits {
    inline: [u64; INLINE],
    heap: Vec<u64>,
    len: usize,
}

impl Bits {
    /// `words` zero words.
    pub fn zeroed(words: usize) -> Bits {
        Bits {
            inline: [0; INLINE],
            heap: if words > INLINE {
                vec![0; words]
            } else {
                Vec::new()
            },
            len: words,
        }
    }
}

impl std::ops::Deref for Bits {
    type Target = [u64];

    fn deref(&self) -> &[u64] {
        if self.len > INLINE {
            &self.heap
        } else {
            &self.inline[..self.len]
        }
    }
}

impl std::ops::DerefMut for Bits {
    fn deref_mut(&mut self) -> &mut [u64] {
        if self.len > INLINE {
            &mut self.heap
        } else {
            &mut self.inline[..self.len]
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Bits;

    #[test]
    fn small_and_large_buffers_are_zeroed_and_sized() {
        for words in [0, 1, 32, 33, 80] {
            let mut b = Bits::zeroed(words);
            assert_eq!(b.len(), words);
            assert!(b.iter().all(|w| *w == 0));
            if let Some(w) = b.last_mut() {
                *w = 7;
            }
            assert_eq!(b.iter().sum::<u64>(), if words > 0 { 7 } else { 0 });
        }
    }
}
