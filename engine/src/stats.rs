//! Per-process counters of what the engine decided, read by adapters for logs and metrics.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::verdict::{Action, FailOpen, Verdict};

/// Counters since the engine was created. All updates are relaxed atomic adds.
#[derive(Debug, Default)]
pub struct Stats {
    /// Requests checked (mode off excluded).
    pub requests: AtomicU64,
    /// Requests allowed with nothing matched.
    pub allowed: AtomicU64,
    /// Requests with matches that passed (detect mode or under threshold).
    pub logged: AtomicU64,
    /// Requests blocked.
    pub blocked: AtomicU64,
    /// Requests let through because the engine panicked.
    pub fail_open_panic: AtomicU64,
    /// Requests let through because the time budget ran out.
    pub fail_open_time_budget: AtomicU64,
    /// Requests let through because the body could not be read.
    pub fail_open_body_read: AtomicU64,
    /// Body bytes inspected.
    pub body_bytes: AtomicU64,
}

/// A copy of the counters at one moment.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct StatsSnapshot {
    /// See [`Stats::requests`].
    pub requests: u64,
    /// See [`Stats::allowed`].
    pub allowed: u64,
    /// See [`Stats::logged`].
    pub logged: u64,
    /// See [`Stats::blocked`].
    pub blocked: u64,
    /// See [`Stats::fail_open_panic`].
    pub fail_open_panic: u64,
    /// See [`Stats::fail_open_time_budget`].
    pub fail_open_time_budget: u64,
    /// See [`Stats::fail_open_body_read`].
    pub fail_open_body_read: u64,
    /// See [`Stats::body_bytes`].
    pub body_bytes: u64,
}

impl Stats {
    /// Counts one verdict.
    pub fn record(&self, v: &Verdict) {
        self.requests.fetch_add(1, Ordering::Relaxed);
        let counter = match (v.fail_open, v.action) {
            (Some(FailOpen::Panic), _) => &self.fail_open_panic,
            (Some(FailOpen::TimeBudget), _) => &self.fail_open_time_budget,
            (Some(FailOpen::BodyRead), _) => &self.fail_open_body_read,
            (None, Action::Allow) => &self.allowed,
            (None, Action::Log) => &self.logged,
            (None, Action::Block) => &self.blocked,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Adds inspected body bytes.
    pub fn add_body_bytes(&self, n: u64) {
        self.body_bytes.fetch_add(n, Ordering::Relaxed);
    }

    /// Reads all counters.
    pub fn snapshot(&self) -> StatsSnapshot {
        let r = |c: &AtomicU64| c.load(Ordering::Relaxed);
        StatsSnapshot {
            requests: r(&self.requests),
            allowed: r(&self.allowed),
            logged: r(&self.logged),
            blocked: r(&self.blocked),
            fail_open_panic: r(&self.fail_open_panic),
            fail_open_time_budget: r(&self.fail_open_time_budget),
            fail_open_body_read: r(&self.fail_open_body_read),
            body_bytes: r(&self.body_bytes),
        }
    }
}
