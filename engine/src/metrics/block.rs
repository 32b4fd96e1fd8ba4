//! The metrics block: every counter in one `#[repr(C)]` struct of atomics, valid when all
//! zero, so any zeroed shared memory of [`MetricsBlock::SIZE`] bytes is an empty block.

use std::sync::atomic::{AtomicU64, Ordering};

use super::histogram::{Histogram, INSPECTION_BOUNDS, SCORE_BOUNDS};
use super::rule_table::RuleTable;
use super::workers::WorkerTable;

/// Why a request got its action (the `reason` label of `moat_requests_total`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// Nothing matched.
    Clean,
    /// Rules or built-in detectors matched (anomaly score, or a rule that denies).
    Rules,
    /// A GeoIP allow or deny list refused the client.
    Geo,
    /// The body was larger than the inspection limit and `moat_body_limit_action reject`.
    BodyLimit,
    /// Inspection did not complete (see [`FailOpenCause`]); the request passed.
    FailOpen,
}

impl Reason {
    /// Every reason, in storage order.
    pub const ALL: [Reason; 5] = [
        Reason::Clean,
        Reason::Rules,
        Reason::Geo,
        Reason::BodyLimit,
        Reason::FailOpen,
    ];

    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Clean => "clean",
            Reason::Rules => "rules",
            Reason::Geo => "geo",
            Reason::BodyLimit => "body_limit",
            Reason::FailOpen => "fail_open",
        }
    }
}

/// Why inspection did not complete (the `cause` label of `moat_fail_open_total`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailOpenCause {
    /// The engine panicked.
    Panic,
    /// The time budget ran out.
    TimeBudget,
    /// The body could not be read (I/O error on a spooled body).
    BodyRead,
}

impl FailOpenCause {
    /// Every cause, in storage order.
    pub const ALL: [FailOpenCause; 3] = [
        FailOpenCause::Panic,
        FailOpenCause::TimeBudget,
        FailOpenCause::BodyRead,
    ];

    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            FailOpenCause::Panic => "panic",
            FailOpenCause::TimeBudget => "time_budget",
            FailOpenCause::BodyRead => "body_read",
        }
    }
}

/// The forwarder's counters (`moat_clickhouse_*_total`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ForwarderCounter {
    /// Rows ClickHouse accepted.
    Sent,
    /// Insert attempts retried.
    Retried,
    /// Rows written to the disk spool.
    Spooled,
    /// Rows replayed from the spool (also counted as sent).
    Replayed,
    /// Events dropped because the queue was full.
    DroppedQueueFull,
    /// Rows dropped because they could be neither sent nor spooled.
    DroppedUnsent,
}

impl ForwarderCounter {
    /// Every counter, in storage order.
    pub const ALL: [ForwarderCounter; 6] = [
        ForwarderCounter::Sent,
        ForwarderCounter::Retried,
        ForwarderCounter::Spooled,
        ForwarderCounter::Replayed,
        ForwarderCounter::DroppedQueueFull,
        ForwarderCounter::DroppedUnsent,
    ];
}

/// Number of actions (allow, log, block).
pub const ACTIONS: usize = 3;

/// `MetricsBlock::magic` of an initialised block ("MOATMTR" and a layout version).
pub const MAGIC: u64 = 0x4d4f_4154_4d54_5201;

/// All counters of one nginx instance (or one process, or one OpenResty master and its
/// workers). Only relaxed atomic adds touch it on the request path.
#[repr(C)]
#[derive(Debug)]
pub struct MetricsBlock {
    /// [`MAGIC`] once initialised (zero in fresh zeroed memory: [`MetricsBlock::init`]).
    pub magic: AtomicU64,
    /// `size_of::<MetricsBlock>()` of the code that initialised it.
    pub size: AtomicU64,
    /// Requests by action (allow, log, block) and [`Reason`].
    pub requests: [[AtomicU64; 5]; ACTIONS],
    /// Fail-open events by [`FailOpenCause`].
    pub fail_open: [AtomicU64; 3],
    /// Request body bytes inspected.
    pub body_bytes: AtomicU64,
    /// Inspection time in nanoseconds.
    pub inspection: Histogram<{ INSPECTION_BOUNDS.len() + 1 }>,
    /// Anomaly score of requests that matched something.
    pub score: Histogram<{ SCORE_BOUNDS.len() + 1 }>,
    /// Hits per rule id.
    pub rules: RuleTable,
    /// GeoIP lookups (requests whose client was located in a database).
    pub geo_lookups: AtomicU64,
    /// GeoIP lookups the databases knew nothing about.
    pub geo_misses: AtomicU64,
    /// Forwarder counters by [`ForwarderCounter`].
    pub forwarder: [AtomicU64; 6],
    /// Per-process gauges.
    pub workers: WorkerTable,
}

impl MetricsBlock {
    /// Bytes a block needs.
    pub const SIZE: usize = std::mem::size_of::<MetricsBlock>();

    /// An empty, initialised block.
    pub const fn new() -> MetricsBlock {
        MetricsBlock {
            magic: AtomicU64::new(MAGIC),
            size: AtomicU64::new(Self::SIZE as u64),
            requests: [const { [const { AtomicU64::new(0) }; 5] }; ACTIONS],
            fail_open: [const { AtomicU64::new(0) }; 3],
            body_bytes: AtomicU64::new(0),
            inspection: Histogram::new(),
            score: Histogram::new(),
            rules: RuleTable::new(),
            geo_lookups: AtomicU64::new(0),
            geo_misses: AtomicU64::new(0),
            forwarder: [const { AtomicU64::new(0) }; 6],
            workers: WorkerTable::new(),
        }
    }

    /// Marks a zeroed block (fresh shared memory) as initialised; true when it is usable: it
    /// was zero, or it was initialised by code with the same layout.
    pub fn init(&self) -> bool {
        match self
            .magic
            .compare_exchange(0, MAGIC, Ordering::AcqRel, Ordering::Acquire)
        {
            Ok(_) => {
                self.size.store(Self::SIZE as u64, Ordering::Release);
                true
            }
            Err(MAGIC) => self.size.load(Ordering::Acquire) == Self::SIZE as u64,
            Err(_) => false,
        }
    }

    /// Adds `n` to a forwarder counter.
    #[inline]
    pub fn forwarder_add(&self, counter: ForwarderCounter, n: u64) {
        self.forwarder[counter as usize].fetch_add(n, Ordering::Relaxed);
    }

    /// A forwarder counter's value.
    pub fn forwarder_get(&self, counter: ForwarderCounter) -> u64 {
        self.forwarder[counter as usize].load(Ordering::Relaxed)
    }

    /// Requests counted with `action` (0 allow, 1 log, 2 block) and `reason`.
    pub fn requests_get(&self, action: usize, reason: Reason) -> u64 {
        self.requests[action][reason as usize].load(Ordering::Relaxed)
    }
}

impl Default for MetricsBlock {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zeroed_memory_becomes_a_block_once() {
        let b = MetricsBlock::new();
        b.magic.store(0, Ordering::Relaxed);
        b.size.store(0, Ordering::Relaxed);
        assert!(b.init());
        assert!(
            b.init(),
            "a second init of the same layout keeps the counters"
        );
        b.size.store(8, Ordering::Relaxed);
        assert!(!b.init(), "a block of another layout is refused");
    }
}
