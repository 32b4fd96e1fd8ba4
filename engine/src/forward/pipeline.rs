//! The forwarder's thread: queue → batch → insert with retries → spool while ClickHouse is
//! unreachable → replay in order when it is back.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::clickhouse::{ClickHouse, SendError};
use super::config::PipelineConfig;
use super::queue::Queue;
use super::spool::{Spool, Written};
use super::stats::ForwarderStats;
use super::{LogFn, LogLevel};
use crate::events::encode;
use crate::events::event::Event;
use crate::events::session;
use crate::events::siphash::Key;
use crate::metrics::ForwarderCounter;

/// First wait after an insert failed; doubled per failed probe up to [`BACKOFF_MAX`].
const BACKOFF_START: Duration = Duration::from_millis(250);
/// Longest wait between probes of an unreachable ClickHouse.
const BACKOFF_MAX: Duration = Duration::from_secs(5);
/// While more than a batch waits in the queue, a batch grows up to this many times `batch`
/// rows: fewer, larger inserts are what lets ClickHouse keep up.
const BACKLOG_GROWTH: usize = 10;
/// Longest time one round of replay keeps the queue waiting.
const REPLAY_ROUND: Duration = Duration::from_secs(1);

/// ClickHouse has been failing since `since`; the next probe is due at `next_probe`.
struct Outage {
    since: Instant,
    next_probe: Instant,
    backoff: Duration,
    spool_full_logged: bool,
}

/// The state owned by the forwarder's thread.
pub struct Pipeline {
    /// Events from the request path.
    pub queue: Arc<Queue<Event>>,
    /// Shared counters.
    pub stats: Arc<ForwarderStats>,
    /// Set when the forwarder must flush and stop.
    pub stop: Arc<AtomicBool>,
    /// Where rows go.
    pub clickhouse: ClickHouse,
    /// Batching and retry settings.
    pub config: PipelineConfig,
    /// Session hash key.
    pub key: Key,
    /// Disk spool, when configured and usable.
    pub spool: Option<Spool>,
    /// Log sink.
    pub log: LogFn,
}

/// A batch being filled.
struct Batch {
    body: Vec<u8>,
    rows: u64,
    started: Option<Instant>,
}

impl Pipeline {
    /// Runs until stopped: every queued event is sent, spooled, or counted as dropped.
    pub fn run(mut self) {
        let mut outage: Option<Outage> = None;
        let mut events = Vec::with_capacity(self.config.batch_rows);
        let mut batch = Batch {
            body: Vec::with_capacity(self.config.batch_rows * 300),
            rows: 0,
            started: None,
        };
        self.replay(&mut outage);
        loop {
            let stopping = self.queue.is_closed();
            let now = Instant::now();
            let flush_at = batch
                .started
                .map_or(now + self.config.interval, |t| t + self.config.interval);
            let wake_at = match &outage {
                _ if stopping => now,
                Some(o) => flush_at.min(o.next_probe),
                None => flush_at,
            };
            let limit = self.config.batch_rows * BACKLOG_GROWTH;
            let room = limit - batch.rows as usize;
            let taken = self.queue.pop_batch(room, &mut events, wake_at);
            self.stats.dequeued(taken as u64);
            for event in events.drain(..) {
                let derived = session::derive(&event.credentials(), &self.key);
                encode::encode(&event, &derived, self.config.format, &mut batch.body);
                batch.rows += 1;
                batch.started.get_or_insert_with(Instant::now);
            }
            let due = batch
                .started
                .is_some_and(|t| t.elapsed() >= self.config.interval);
            let rows = batch.rows as usize;
            let backlog = self.queue.len() >= self.config.batch_rows;
            if rows >= limit
                || (rows >= self.config.batch_rows && !backlog)
                || (rows > 0 && (due || stopping))
            {
                self.deliver(&batch.body, batch.rows, stopping, &mut outage);
                batch.body.clear();
                batch.rows = 0;
                batch.started = None;
            }
            if stopping {
                if self.queue.is_empty() && batch.rows == 0 {
                    return;
                }
            } else {
                self.replay(&mut outage);
            }
        }
    }

    /// Sends a batch, retrying; spools it when ClickHouse stays unreachable or when older
    /// batches wait in the spool (order is kept).
    fn deliver(&mut self, body: &[u8], rows: u64, stopping: bool, outage: &mut Option<Outage>) {
        let backlog = self.spool.is_some()
            && (outage.is_some() || self.spool.as_ref().is_some_and(Spool::has_batches));
        if backlog || (stopping && outage.is_some()) {
            self.store(body, rows, outage);
            return;
        }
        let attempts = if stopping { 1 } else { self.config.retries + 1 };
        let mut last_error = None;
        for attempt in 0..attempts {
            match self.clickhouse.insert(self.config.format, body) {
                Ok(()) => {
                    self.stats.count(ForwarderCounter::Sent, rows);
                    return;
                }
                Err(e) => last_error = Some(e),
            }
            if attempt + 1 < attempts {
                self.stats.count(ForwarderCounter::Retried, 1);
                if !self.pause(BACKOFF_START * 2u32.pow(attempt)) {
                    break;
                }
            }
        }
        if let Some(e) = last_error {
            self.fail(&e, outage);
        }
        self.store(body, rows, outage);
    }

    /// Notes a failed insert: starts an outage (logged once) or backs off further.
    fn fail(&self, error: &SendError, outage: &mut Option<Outage>) {
        let now = Instant::now();
        match outage {
            Some(o) => {
                o.backoff = (o.backoff * 2).min(BACKOFF_MAX);
                o.next_probe = now + o.backoff;
            }
            None => {
                let what = match &self.spool {
                    Some(_) => "spooling events to disk",
                    None => "dropping events (no spool configured)",
                };
                (self.log)(
                    LogLevel::Warn,
                    &format!("ClickHouse insert failed ({error}); {what} until it answers"),
                );
                *outage = Some(Outage {
                    since: now,
                    next_probe: now + BACKOFF_START,
                    backoff: BACKOFF_START,
                    spool_full_logged: false,
                });
            }
        }
    }

    /// Writes a batch to the spool, or counts it as dropped.
    fn store(&mut self, body: &[u8], rows: u64, outage: &mut Option<Outage>) {
        let Some(spool) = self.spool.as_mut() else {
            self.stats.count(ForwarderCounter::DroppedUnsent, rows);
            return;
        };
        match spool.write(self.config.format, rows, body) {
            Ok(Written::Stored) => self.stats.count(ForwarderCounter::Spooled, rows),
            Ok(Written::Full) => {
                self.stats.count(ForwarderCounter::DroppedUnsent, rows);
                if let Some(o) = outage.as_mut().filter(|o| !o.spool_full_logged) {
                    o.spool_full_logged = true;
                    (self.log)(
                        LogLevel::Error,
                        &format!(
                            "spool is full ({} bytes); dropping events",
                            self.config.spool_max
                        ),
                    );
                }
            }
            Err(e) => {
                self.stats.count(ForwarderCounter::DroppedUnsent, rows);
                (self.log)(LogLevel::Error, &format!("cannot write to the spool: {e}"));
            }
        }
    }

    /// Replays spooled batches, oldest first, when no outage is on or a probe is due.
    fn replay(&mut self, outage: &mut Option<Outage>) {
        let Some(spool) = self.spool.as_ref() else {
            if outage
                .as_ref()
                .is_some_and(|o| Instant::now() >= o.next_probe)
            {
                *outage = None;
            }
            return;
        };
        if outage
            .as_ref()
            .is_some_and(|o| Instant::now() < o.next_probe)
        {
            return;
        }
        let round = Instant::now();
        let mut replayed = 0u64;
        while round.elapsed() < REPLAY_ROUND && !self.stop.load(Ordering::Acquire) {
            let claimed = match spool.claim_oldest() {
                Ok(Some(c)) => c,
                Ok(None) => break,
                Err(e) => {
                    (self.log)(LogLevel::Error, &format!("cannot read the spool: {e}"));
                    break;
                }
            };
            match self.clickhouse.insert(claimed.format, &claimed.body) {
                Ok(()) => {
                    self.stats.count(ForwarderCounter::Sent, claimed.rows);
                    self.stats.count(ForwarderCounter::Replayed, claimed.rows);
                    replayed += claimed.rows;
                    if let Err(e) = claimed.remove() {
                        (self.log)(LogLevel::Error, &format!("cannot remove a spool file: {e}"));
                    }
                }
                Err(SendError::Status(400, message)) => {
                    (self.log)(
                        LogLevel::Error,
                        &format!("ClickHouse rejected a spooled batch ({message}); moved aside"),
                    );
                    let _ = claimed.reject();
                }
                Err(e) => {
                    self.fail(&e, outage);
                    return;
                }
            }
        }
        if let Some(o) = outage.take() {
            (self.log)(
                LogLevel::Info,
                &format!(
                    "ClickHouse answers again after {:.1}s; replayed {replayed} spooled rows",
                    o.since.elapsed().as_secs_f64()
                ),
            );
        }
    }

    /// Sleeps up to `d`, waking early when stopped; false when stopped.
    fn pause(&self, d: Duration) -> bool {
        let until = Instant::now() + d;
        while Instant::now() < until {
            if self.stop.load(Ordering::Acquire) {
                return false;
            }
            std::thread::sleep(Duration::from_millis(10).min(until - Instant::now()));
        }
        !self.stop.load(Ordering::Acquire)
    }
}
