//! Where a [`MetricsBlock`] lives: [`Metrics`] is a handle to one block on the heap, in an
//! anonymous shared mapping (inherited by processes forked afterwards), or in memory someone
//! else owns (an nginx shared memory zone).

use std::ptr::NonNull;

use super::block::MetricsBlock;

/// Who frees the block.
#[derive(Debug)]
enum Backing {
    /// A `Box` leaked into the handle.
    Heap,
    /// An anonymous `MAP_SHARED` mapping of this many bytes.
    Mapped(usize),
    /// Memory owned elsewhere, outliving the handle.
    Borrowed,
}

/// A handle to one metrics block. Every clone of an `Arc<Metrics>`, and every process that
/// inherited a shared block through `fork`, adds to the same counters.
#[derive(Debug)]
pub struct Metrics {
    block: NonNull<MetricsBlock>,
    backing: Backing,
}

// SAFETY: the block is made of atomics only; the handle never hands out `&mut` access.
unsafe impl Send for Metrics {}
// SAFETY: as above.
unsafe impl Sync for Metrics {}

impl Metrics {
    /// A block private to this process.
    pub fn heap() -> Metrics {
        let block = NonNull::from(Box::leak(Box::new(MetricsBlock::new())));
        Metrics {
            block,
            backing: Backing::Heap,
        }
    }

    /// A block in an anonymous shared mapping: processes forked after this call share it (the
    /// OpenResty master creates it in `init_by_lua`, before the workers are forked).
    pub fn shared_anonymous() -> std::io::Result<Metrics> {
        let len = MetricsBlock::SIZE;
        // SAFETY: an anonymous mapping with no address hint; the result is checked below.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(std::io::Error::last_os_error());
        }
        let block = NonNull::new(p.cast::<MetricsBlock>()).ok_or(std::io::ErrorKind::Other)?;
        let metrics = Metrics {
            block,
            backing: Backing::Mapped(len),
        };
        // Fresh anonymous mappings are zero-filled: a valid block waiting for its init.
        metrics.block().init();
        Ok(metrics)
    }

    /// A handle to a block in memory owned by someone else (an nginx shared memory zone).
    /// The block is initialised if the memory is still zero; `None` when it holds a block of
    /// another layout.
    ///
    /// # Safety
    /// `p` must point to [`MetricsBlock::SIZE`] bytes, 8-byte aligned, either all zero or a
    /// block, that stay mapped for as long as the handle and its clones live.
    pub unsafe fn borrowed(p: NonNull<MetricsBlock>) -> Option<Metrics> {
        let metrics = Metrics {
            block: p,
            backing: Backing::Borrowed,
        };
        metrics.block().init().then_some(metrics)
    }

    /// The block.
    #[inline]
    pub fn block(&self) -> &MetricsBlock {
        // SAFETY: the pointer is valid for the handle's life (see the constructors), and the
        // block holds only atomics, so shared references are sound across processes.
        unsafe { self.block.as_ref() }
    }

    /// The block's address (for adapters that hand it to another configuration cycle).
    pub fn as_ptr(&self) -> NonNull<MetricsBlock> {
        self.block
    }
}

impl Drop for Metrics {
    fn drop(&mut self) {
        match self.backing {
            // SAFETY: the pointer came from Box::leak in `heap` and is freed once, here.
            Backing::Heap => drop(unsafe { Box::from_raw(self.block.as_ptr()) }),
            // SAFETY: the mapping of `len` bytes was created in `shared_anonymous`; other
            // processes keep their own mappings.
            Backing::Mapped(len) => unsafe {
                libc::munmap(self.block.as_ptr().cast(), len);
            },
            Backing::Borrowed => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::Ordering;

    #[test]
    fn a_shared_block_aggregates_across_fork() {
        let m = Metrics::shared_anonymous().unwrap();
        // SAFETY: the child only touches atomics and exits with _exit, running no destructors.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0);
        if pid == 0 {
            m.block().body_bytes.fetch_add(40, Ordering::Relaxed);
            // SAFETY: ends the child without unwinding into the test harness.
            unsafe { libc::_exit(0) };
        }
        m.block().body_bytes.fetch_add(2, Ordering::Relaxed);
        let mut status = 0;
        // SAFETY: waits for the child forked above.
        unsafe { libc::waitpid(pid, &mut status, 0) };
        assert_eq!(m.block().body_bytes.load(Ordering::Relaxed), 42);
    }

    #[test]
    fn borrowed_memory_is_initialised_in_place() {
        let mut mem = vec![0u64; MetricsBlock::SIZE / 8 + 1];
        let p = NonNull::new(mem.as_mut_ptr().cast::<MetricsBlock>()).unwrap();
        // SAFETY: `mem` is zeroed, aligned and outlives the handles.
        let a = unsafe { Metrics::borrowed(p) }.unwrap();
        a.block().geo_lookups.fetch_add(1, Ordering::Relaxed);
        drop(a);
        // SAFETY: as above.
        let b = unsafe { Metrics::borrowed(p) }.unwrap();
        assert_eq!(b.block().geo_lookups.load(Ordering::Relaxed), 1);
    }
}
