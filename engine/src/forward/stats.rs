//! The forwarder's counters.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::metrics::{ForwarderCounter, WorkerSlot};

/// Counters of one forwarder (one nginx worker), all relaxed atomics; with a metrics slot, every
/// count also goes to the shared Prometheus block and the queue depth to the worker's gauge.
#[derive(Default)]
pub struct ForwarderStats {
    /// Rows ClickHouse accepted (sent directly or replayed from the spool).
    pub sent: AtomicU64,
    /// Failed insert attempts that were retried.
    pub retried: AtomicU64,
    /// Rows written to the spool.
    pub spooled: AtomicU64,
    /// Rows replayed from the spool (also counted in `sent`).
    pub replayed: AtomicU64,
    /// Events dropped because the queue was full.
    pub dropped_queue_full: AtomicU64,
    /// Rows dropped because they could neither be sent nor spooled (no spool, spool full).
    pub dropped_unsent: AtomicU64,
    /// This process's slot in the shared metrics block, if any.
    shared: Option<WorkerSlot>,
}

/// A copy of the counters.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ForwarderSnapshot {
    /// See [`ForwarderStats::sent`].
    pub sent: u64,
    /// See [`ForwarderStats::retried`].
    pub retried: u64,
    /// See [`ForwarderStats::spooled`].
    pub spooled: u64,
    /// See [`ForwarderStats::replayed`].
    pub replayed: u64,
    /// See [`ForwarderStats::dropped_queue_full`].
    pub dropped_queue_full: u64,
    /// See [`ForwarderStats::dropped_unsent`].
    pub dropped_unsent: u64,
    /// Events waiting in the queue.
    pub queued: u64,
}

impl ForwarderSnapshot {
    /// All dropped events.
    pub fn dropped(&self) -> u64 {
        self.dropped_queue_full + self.dropped_unsent
    }
}

impl fmt::Display for ForwarderSnapshot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "sent={} retried={} spooled={} replayed={} dropped={} dropped_queue_full={} queued={}",
            self.sent,
            self.retried,
            self.spooled,
            self.replayed,
            self.dropped(),
            self.dropped_queue_full,
            self.queued
        )
    }
}

impl ForwarderStats {
    /// Counters that also feed a shared metrics block through this process's slot.
    pub fn with_metrics(slot: Option<WorkerSlot>) -> ForwarderStats {
        ForwarderStats {
            shared: slot,
            ..ForwarderStats::default()
        }
    }

    /// Adds `n` to a counter.
    pub fn count(&self, counter: ForwarderCounter, n: u64) {
        let local = match counter {
            ForwarderCounter::Sent => &self.sent,
            ForwarderCounter::Retried => &self.retried,
            ForwarderCounter::Spooled => &self.spooled,
            ForwarderCounter::Replayed => &self.replayed,
            ForwarderCounter::DroppedQueueFull => &self.dropped_queue_full,
            ForwarderCounter::DroppedUnsent => &self.dropped_unsent,
        };
        local.fetch_add(n, Ordering::Relaxed);
        if let Some(slot) = &self.shared {
            slot.metrics().block().forwarder_add(counter, n);
        }
    }

    /// `n` events entered the queue (counted before they are pushed, so the gauge never goes
    /// below zero).
    pub fn queued(&self, n: u64) {
        if let Some(slot) = &self.shared {
            slot.queued_add(n);
        }
    }

    /// `n` events left the queue (taken by the pipeline, or refused by a full queue).
    pub fn dequeued(&self, n: u64) {
        if let Some(slot) = &self.shared {
            slot.queued_sub(n);
        }
    }

    /// Reads the counters; `queued` is the queue's current length.
    pub fn snapshot(&self, queued: usize) -> ForwarderSnapshot {
        let r = |c: &AtomicU64| c.load(Ordering::Relaxed);
        ForwarderSnapshot {
            sent: r(&self.sent),
            retried: r(&self.retried),
            spooled: r(&self.spooled),
            replayed: r(&self.replayed),
            dropped_queue_full: r(&self.dropped_queue_full),
            dropped_unsent: r(&self.dropped_unsent),
            queued: queued as u64,
        }
    }
}

impl fmt::Debug for ForwarderStats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ForwarderStats({})", self.snapshot(0))
    }
}
