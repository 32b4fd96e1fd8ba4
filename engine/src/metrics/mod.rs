//! Prometheus metrics aggregated across processes: what the engine decided, how long it took,
//! which rules hit, what the ClickHouse forwarder did and what GeoIP found.
//!
//! - [`block`]: the fixed-layout [`MetricsBlock`] of relaxed atomic counters and histogram
//!   buckets. All-zero memory is a valid, empty block, so it can live anywhere: on the heap
//!   (tests, CLI), in an nginx shared memory zone, or in an anonymous shared mapping created
//!   before OpenResty forks its workers. Every process that maps the block adds to the same
//!   counters; nothing is summed after the fact, and a worker that exits loses nothing.
//! - [`histogram`]: fixed-bound histograms (inspection time, anomaly score).
//! - [`rule_table`]: hits per rule id in a bounded table (lock-free insert), with an overflow
//!   counter so the number of series stays bounded.
//! - [`workers`]: per-process slots for gauges (forwarder queue depth), summed at scrape time
//!   over the processes still alive.
//! - [`record`]: a verdict turned into counter updates (a handful of atomic adds, no lock, no
//!   allocation).
//! - [`render`]: the Prometheus text exposition format.
//! - [`storage`]: where a block lives ([`Metrics`]).

pub mod block;
pub mod histogram;
pub mod record;
pub mod render;
pub mod rule_table;
pub mod storage;
pub mod workers;

pub use block::{FailOpenCause, ForwarderCounter, MetricsBlock, Reason};
pub use storage::Metrics;
pub use workers::WorkerSlot;

/// `Content-Type` of the exposition format served by [`render::render`].
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";
