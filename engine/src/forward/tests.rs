//! The forwarder against a fake ClickHouse HTTP server that can be made to fail.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::config::PipelineConfig;
use super::http::Endpoint;
use super::*;
use crate::events::encode::Format;
use crate::events::event::Event;
use crate::request::Request;
use crate::verdict::Verdict;

/// Accepts inserts (JSONEachRow) and records each row's request id, unless told to fail.
struct FakeClickHouse {
    port: u16,
    rows: Arc<Mutex<Vec<String>>>,
    failing: Arc<AtomicBool>,
}

impl FakeClickHouse {
    fn start() -> FakeClickHouse {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let rows = Arc::new(Mutex::new(Vec::new()));
        let failing = Arc::new(AtomicBool::new(false));
        let (r, f) = (Arc::clone(&rows), Arc::clone(&failing));
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut len = 0;
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 {
                        break;
                    }
                    if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                        len = v.trim().parse().unwrap();
                    }
                    if line == "\r\n" {
                        break;
                    }
                }
                let mut body = vec![0; len];
                let _ = reader.read_exact(&mut body);
                let mut stream = stream;
                if f.load(Ordering::SeqCst) {
                    let _ = stream.write_all(
                        b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 4\r\n\r\ndown",
                    );
                    continue;
                }
                for line in String::from_utf8_lossy(&body).lines() {
                    let v: serde_json::Value = serde_json::from_str(line).unwrap();
                    r.lock()
                        .unwrap()
                        .push(v["request_id"].as_str().unwrap().to_string());
                }
                let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
            }
        });
        FakeClickHouse {
            port,
            rows,
            failing,
        }
    }

    fn clickhouse(&self) -> ClickHouse {
        ClickHouse {
            endpoint: Endpoint::parse(&format!("http://127.0.0.1:{}", self.port)).unwrap(),
            database: "moat".into(),
            table: "events".into(),
            user: None,
            password: None,
            timeout: Duration::from_secs(2),
        }
    }

    fn rows(&self) -> Vec<String> {
        self.rows.lock().unwrap().clone()
    }

    fn wait_rows(&self, n: usize, limit: Duration) -> Vec<String> {
        let start = Instant::now();
        while self.rows().len() < n && start.elapsed() < limit {
            std::thread::sleep(Duration::from_millis(10));
        }
        self.rows()
    }
}

fn event(id: usize) -> Event {
    let rid = format!("req-{id:06}");
    let req = Request {
        method: b"GET",
        uri: b"/",
        request_id: rid.as_bytes(),
        ..Default::default()
    };
    let sessions = crate::events::SessionConfig::with_key([1; 32]);
    Event::new(&req, &Verdict::allow(), &sessions)
}

fn config(spool: Option<PathBuf>) -> PipelineConfig {
    PipelineConfig {
        batch_rows: 10,
        interval: Duration::from_millis(100),
        format: Format::JsonEachRow,
        spool_dir: spool,
        ..PipelineConfig::default()
    }
}

fn quiet() -> LogFn {
    Arc::new(|_, _| {})
}

fn spool_dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("moat-fwd-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn ids(range: std::ops::Range<usize>) -> Vec<String> {
    range.map(|i| format!("req-{i:06}")).collect()
}

#[test]
fn batches_arrive_in_order_by_size_and_by_interval() {
    let ch = FakeClickHouse::start();
    let f = Forwarder::start(ch.clickhouse(), config(None), [0; 32], quiet()).unwrap();
    for i in 0..25 {
        assert!(f.submit(event(i)));
    }
    assert_eq!(ch.wait_rows(25, Duration::from_secs(5)), ids(0..25));
    let s = f.stats();
    assert_eq!((s.sent, s.spooled, s.dropped()), (25, 0, 0));
}

#[test]
fn outage_spools_then_replays_everything_once_in_order() {
    let ch = FakeClickHouse::start();
    let dir = spool_dir("outage");
    ch.failing.store(true, Ordering::SeqCst);
    let f = Forwarder::start(ch.clickhouse(), config(Some(dir.clone())), [0; 32], quiet()).unwrap();
    for i in 0..40 {
        f.submit(event(i));
        std::thread::sleep(Duration::from_millis(5));
    }
    let start = Instant::now();
    while f.stats().spooled < 40 && start.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(20));
    }
    let s = f.stats();
    assert_eq!(s.spooled, 40, "{s}");
    assert!(s.retried > 0, "{s}");
    assert!(ch.rows().is_empty());
    ch.failing.store(false, Ordering::SeqCst);
    for i in 40..50 {
        f.submit(event(i));
    }
    assert_eq!(ch.wait_rows(50, Duration::from_secs(10)), ids(0..50));
    let s = f.stats();
    assert_eq!((s.sent, s.dropped()), (50, 0), "{s}");
    assert!(
        s.replayed >= 40,
        "order is kept: later batches queue behind the spool: {s}"
    );
    f.shutdown();
    assert!(!Spool::open(&dir, 1 << 20).unwrap().has_batches());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn full_queue_drops_and_counts_without_waiting() {
    let ch = FakeClickHouse::start();
    let cfg = PipelineConfig {
        queue: 5,
        batch_rows: 1000,
        interval: Duration::from_secs(10),
        ..config(None)
    };
    let f = Forwarder::start(ch.clickhouse(), cfg, [0; 32], quiet()).unwrap();
    let start = Instant::now();
    let accepted = (0..1000).filter(|&i| f.submit(event(i))).count();
    assert!(start.elapsed() < Duration::from_millis(500));
    let s = f.stats();
    assert_eq!(s.dropped_queue_full as usize, 1000 - accepted);
    assert!(s.dropped_queue_full > 0);
    f.shutdown();
    assert_eq!(ch.rows().len(), accepted);
}

#[test]
fn shutdown_delivers_what_is_queued_or_spools_it() {
    let ch = FakeClickHouse::start();
    let cfg = PipelineConfig {
        interval: Duration::from_secs(10),
        batch_rows: 1000,
        ..config(None)
    };
    let f = Forwarder::start(ch.clickhouse(), cfg.clone(), [0; 32], quiet()).unwrap();
    for i in 0..30 {
        f.submit(event(i));
    }
    f.shutdown();
    assert_eq!(ch.rows(), ids(0..30));

    let dir = spool_dir("shutdown");
    ch.failing.store(true, Ordering::SeqCst);
    let cfg = PipelineConfig {
        spool_dir: Some(dir.clone()),
        ..cfg
    };
    let f = Forwarder::start(ch.clickhouse(), cfg.clone(), [0; 32], quiet()).unwrap();
    for i in 30..60 {
        f.submit(event(i));
    }
    f.shutdown();
    assert_eq!(f.stats().spooled, 30);
    ch.failing.store(false, Ordering::SeqCst);
    let next = Forwarder::start(ch.clickhouse(), cfg, [0; 32], quiet()).unwrap();
    assert_eq!(ch.wait_rows(60, Duration::from_secs(10)), ids(0..60));
    next.shutdown();
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn without_spool_unsendable_batches_are_counted_as_dropped() {
    let ch = FakeClickHouse::start();
    ch.failing.store(true, Ordering::SeqCst);
    let cfg = PipelineConfig {
        retries: 0,
        ..config(None)
    };
    let f = Forwarder::start(ch.clickhouse(), cfg, [0; 32], quiet()).unwrap();
    for i in 0..10 {
        f.submit(event(i));
    }
    f.shutdown();
    assert_eq!(f.stats().dropped_unsent, 10);
}

#[test]
fn utc_timestamps() {
    assert_eq!(utc_timestamp(0), "1970/01/01 00:00:00");
    assert_eq!(utc_timestamp(1_709_251_199), "2024/02/29 23:59:59");
}
