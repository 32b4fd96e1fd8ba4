//! The ClickHouse forwarder: takes events from the request path without ever blocking it and
//! delivers them in batches, surviving ClickHouse outages through a disk spool.
//!
//! Stages, each in its own module: [`queue`] (bounded, drop-and-count when full) →
//! [`pipeline`] (the thread: batches of `batch` rows or every `interval`, inserts with
//! retries, [`spool`] while ClickHouse is unreachable, replay in order) → [`clickhouse`] (the
//! insert) → [`http`] (a small std-only HTTP/1.1 client). [`stats`] counts what happened;
//! [`config`] parses the options every adapter shares.
//!
//! One forwarder runs per process — in nginx, per worker, started after the fork — and
//! [`Forwarder::shutdown`] delivers or spools whatever is still queued.

pub mod clickhouse;
pub mod config;
pub mod http;
pub mod pipeline;
pub mod queue;
pub mod schema;
pub mod spool;
pub mod stats;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::events::event::Event;
use crate::events::siphash::Key;
use crate::metrics::{ForwarderCounter, Metrics, WorkerSlot};
use clickhouse::ClickHouse;
use config::PipelineConfig;
use pipeline::Pipeline;
use queue::Queue;
use spool::Spool;
use stats::{ForwarderSnapshot, ForwarderStats};

/// Severity of a forwarder log message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogLevel {
    /// Something is lost or cannot work.
    Error,
    /// Something degraded (ClickHouse unreachable, events spooled).
    Warn,
    /// Recovery and lifecycle notes.
    Info,
}

impl LogLevel {
    /// nginx's name of the level.
    pub fn as_str(self) -> &'static str {
        match self {
            LogLevel::Error => "error",
            LogLevel::Warn => "warn",
            LogLevel::Info => "notice",
        }
    }
}

/// Where the forwarder's thread writes log messages.
pub type LogFn = Arc<dyn Fn(LogLevel, &str) + Send + Sync>;

/// A logger writing nginx-style lines (`2024/01/02 03:04:05 [warn] PID#0: moat: …`, UTC) to
/// standard error, which nginx points at its error log.
pub fn stderr_logger() -> LogFn {
    Arc::new(|level, msg| {
        let secs = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        eprintln!(
            "{} [{}] {}#0: moat clickhouse: {msg}",
            utc_timestamp(secs),
            level.as_str(),
            std::process::id()
        );
    })
}

/// `YYYY/MM/DD HH:MM:SS` for a Unix time, in UTC.
pub fn utc_timestamp(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Howard Hinnant's civil-from-days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}/{month:02}/{day:02} {:02}:{:02}:{:02}",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

/// A running forwarder: a queue and the thread that drains it.
pub struct Forwarder {
    queue: Arc<Queue<Event>>,
    stats: Arc<ForwarderStats>,
    stop: Arc<AtomicBool>,
    thread: Mutex<Option<JoinHandle<()>>>,
    log: LogFn,
}

impl Forwarder {
    /// Starts the thread. The spool directory is created if needed; when it cannot be used the
    /// forwarder runs without one (and says so). A ClickHouse that does not answer yet is not an
    /// error: events wait in the queue and the spool.
    pub fn start(
        clickhouse: ClickHouse,
        config: PipelineConfig,
        key: Key,
        log: LogFn,
    ) -> std::io::Result<Forwarder> {
        Forwarder::start_with_metrics(clickhouse, config, key, log, None)
    }

    /// Like [`Forwarder::start`], also counting into a shared metrics block (counters, and
    /// this process's queue depth in a gauge slot it claims; without a free slot only the
    /// gauge is missing, and that is logged).
    pub fn start_with_metrics(
        clickhouse: ClickHouse,
        config: PipelineConfig,
        key: Key,
        log: LogFn,
        metrics: Option<Arc<Metrics>>,
    ) -> std::io::Result<Forwarder> {
        let wake_at = config.batch_rows.min(config.queue.div_ceil(2));
        let queue = Arc::new(Queue::new(config.queue, wake_at));
        let slot = metrics.and_then(|m| {
            let slot = WorkerSlot::claim(m);
            if slot.is_none() {
                log(
                    LogLevel::Error,
                    "no free metrics slot: forwarder not counted in metrics",
                );
            }
            slot
        });
        let stats = Arc::new(ForwarderStats::with_metrics(slot));
        let stop = Arc::new(AtomicBool::new(false));
        let spool = config.spool_dir.as_ref().and_then(|dir| {
            Spool::open(dir, config.spool_max)
                .map_err(|e| {
                    log(
                        LogLevel::Error,
                        &format!("cannot use spool directory \"{}\": {e}", dir.display()),
                    )
                })
                .ok()
        });
        let pipeline = Pipeline {
            queue: Arc::clone(&queue),
            stats: Arc::clone(&stats),
            stop: Arc::clone(&stop),
            clickhouse,
            config,
            key,
            spool,
            log: Arc::clone(&log),
        };
        let thread = spawn_without_signals(move || pipeline.run())?;
        Ok(Forwarder {
            queue,
            stats,
            stop,
            thread: Mutex::new(Some(thread)),
            log,
        })
    }

    /// Queues an event without waiting; false (and counted as dropped) when the queue is full
    /// or the forwarder is stopping.
    pub fn submit(&self, event: Event) -> bool {
        self.stats.queued(1);
        if self.stop.load(Ordering::Relaxed) || self.queue.push(event).is_err() {
            self.stats.dequeued(1);
            self.stats.count(ForwarderCounter::DroppedQueueFull, 1);
            return false;
        }
        true
    }

    /// The counters now.
    pub fn stats(&self) -> ForwarderSnapshot {
        self.stats.snapshot(self.queue.len())
    }

    /// Delivers or spools everything queued, then stops the thread (idempotent). Takes at most
    /// about one insert timeout per batch while ClickHouse answers slowly; with ClickHouse
    /// unreachable the rest goes straight to the spool.
    pub fn shutdown(&self) {
        self.stop.store(true, Ordering::Release);
        self.queue.close();
        let thread = self.thread.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(thread) = thread {
            if thread.join().is_err() {
                (self.log)(LogLevel::Error, "forwarder thread panicked");
            }
            (self.log)(LogLevel::Info, &format!("stopped: {}", self.stats()));
        }
    }
}

impl Drop for Forwarder {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Spawns a thread with every signal blocked, so that signals meant for the host process
/// (nginx's HUP, QUIT, USR1 …) are always delivered to its own threads.
fn spawn_without_signals(f: impl FnOnce() + Send + 'static) -> std::io::Result<JoinHandle<()>> {
    // SAFETY: sigset_t is plain data; sigfillset and pthread_sigmask only read and write the
    // sets passed. The previous mask is restored before returning.
    unsafe {
        let mut all: libc::sigset_t = std::mem::zeroed();
        let mut old: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut all);
        libc::pthread_sigmask(libc::SIG_SETMASK, &all, &mut old);
        let spawned = std::thread::Builder::new()
            .name("moat-clickhouse".into())
            .spawn(f);
        libc::pthread_sigmask(libc::SIG_SETMASK, &old, std::ptr::null_mut());
        spawned
    }
}

#[cfg(test)]
mod tests;
