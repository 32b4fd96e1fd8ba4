//! Per-process gauge slots. A gauge such as the forwarder's queue depth belongs to one process
//! (each nginx worker has its own queue); each process claims a slot by its pid, moves its own
//! value up and down there, and a scrape sums the slots of processes that are still alive, so
//! a crashed worker's last value does not linger.

use std::sync::atomic::{AtomicU64, Ordering};

/// Number of processes that can hold a slot at once (workers of the current and of previous
/// configurations that are still draining).
pub const WORKER_SLOTS: usize = 128;

/// One process's gauges.
#[repr(C)]
#[derive(Debug)]
pub struct WorkerGauges {
    /// Owner's pid, 0 while free.
    pub pid: AtomicU64,
    /// Events waiting in the owner's forwarder queue.
    pub queued: AtomicU64,
}

/// The slots.
#[repr(C)]
#[derive(Debug)]
pub struct WorkerTable {
    /// One per process.
    pub slots: [WorkerGauges; WORKER_SLOTS],
}

impl WorkerTable {
    /// All slots free.
    pub const fn new() -> WorkerTable {
        WorkerTable {
            slots: [const {
                WorkerGauges {
                    pid: AtomicU64::new(0),
                    queued: AtomicU64::new(0),
                }
            }; WORKER_SLOTS],
        }
    }

    /// Claims a slot for `pid`: a free one, or one whose owner `is_alive` says is gone.
    /// `None` when every slot belongs to a live process.
    pub fn claim(&self, pid: u32, is_alive: impl Fn(u32) -> bool) -> Option<&WorkerGauges> {
        let pid = u64::from(pid);
        for slot in &self.slots {
            let owner = slot.pid.load(Ordering::Acquire);
            let reclaimable = owner == 0 || (owner != pid && !is_alive(owner as u32));
            if reclaimable
                && slot
                    .pid
                    .compare_exchange(owner, pid, Ordering::AcqRel, Ordering::Acquire)
                    .is_ok()
            {
                slot.queued.store(0, Ordering::Relaxed);
                return Some(slot);
            }
        }
        None
    }

    /// Sum of the queue depths of live processes.
    pub fn queued(&self, is_alive: impl Fn(u32) -> bool) -> u64 {
        self.slots
            .iter()
            .filter(|s| {
                let pid = s.pid.load(Ordering::Acquire);
                pid != 0 && is_alive(pid as u32)
            })
            .map(|s| s.queued.load(Ordering::Relaxed))
            .sum()
    }
}

impl Default for WorkerTable {
    fn default() -> Self {
        Self::new()
    }
}

/// A claimed slot, released when dropped. Holds its [`super::Metrics`] alive.
pub struct WorkerSlot {
    metrics: std::sync::Arc<super::Metrics>,
    index: usize,
}

impl WorkerSlot {
    /// Claims a slot for the calling process in `metrics`; `None` when all are taken.
    pub fn claim(metrics: std::sync::Arc<super::Metrics>) -> Option<WorkerSlot> {
        let pid = std::process::id();
        let table = &metrics.block().workers;
        let slot = table.claim(pid, process_alive)?;
        let index = table
            .slots
            .iter()
            .position(|s| std::ptr::eq(s, slot))
            .unwrap_or(0);
        Some(WorkerSlot { metrics, index })
    }

    fn gauges(&self) -> &WorkerGauges {
        &self.metrics.block().workers.slots[self.index]
    }

    /// `n` more events queued.
    #[inline]
    pub fn queued_add(&self, n: u64) {
        self.gauges().queued.fetch_add(n, Ordering::Relaxed);
    }

    /// `n` events left the queue.
    #[inline]
    pub fn queued_sub(&self, n: u64) {
        self.gauges().queued.fetch_sub(n, Ordering::Relaxed);
    }

    /// The metrics this slot belongs to.
    pub fn metrics(&self) -> &super::Metrics {
        &self.metrics
    }
}

impl Drop for WorkerSlot {
    fn drop(&mut self) {
        let g = self.gauges();
        g.queued.store(0, Ordering::Relaxed);
        g.pid.store(0, Ordering::Release);
    }
}

/// True when a process with this pid exists (signal 0 probes without sending anything).
pub fn process_alive(pid: u32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return false;
    };
    // SAFETY: kill with signal 0 sends nothing; it only checks that the process exists.
    let rc = unsafe { libc::kill(pid, 0) };
    rc == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_of_dead_processes_are_reused_and_not_summed() {
        let t = WorkerTable::new();
        let a = t.claim(100, |_| true).unwrap();
        let b = t.claim(200, |_| true).unwrap();
        a.queued.fetch_add(3, Ordering::Relaxed);
        b.queued.fetch_add(4, Ordering::Relaxed);
        assert_eq!(t.queued(|_| true), 7);
        assert_eq!(t.queued(|pid| pid != 100), 4);
        let c = t.claim(300, |pid| pid != 100).unwrap();
        assert!(std::ptr::eq(a, c), "the dead owner's slot is taken over");
        assert_eq!(c.queued.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn full_table_refuses() {
        let t = WorkerTable::new();
        for pid in 1..=WORKER_SLOTS as u32 {
            assert!(t.claim(pid, |_| true).is_some());
        }
        assert!(t.claim(9999, |_| true).is_none());
    }

    #[test]
    fn this_process_is_alive() {
        assert!(process_alive(std::process::id()));
        assert!(!process_alive(u32::MAX));
    }
}
