//! Cost of recording events: CPU per event on the request path (building the event from the
//! request and verdict, and queueing it), and how many events per second one forwarder (one
//! nginx worker) delivers into a real ClickHouse. Run: `cargo bench -p moat --bench events`
//! (starts a private `clickhouse-server` on a free loopback port, or uses
//! `$MOAT_BENCH_CLICKHOUSE`, e.g. `http://127.0.0.1:8123`).

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use moat::cpu_clock::thread_cpu_time;
use moat::detect::{Finding, Severity};
use moat::events::{Format, Record, Recorder, SessionConfig};
use moat::forward::clickhouse::ClickHouse;
use moat::forward::config::PipelineConfig;
use moat::forward::http::Endpoint;
use moat::forward::{schema, Forwarder, LogFn};
use moat::request::{Header, Request};
use moat::{Action, Verdict};

/// CPU time of the calling thread (zero where the system cannot tell).
fn thread_cpu() -> Duration {
    thread_cpu_time().unwrap_or_default()
}

/// A private ClickHouse server, killed on drop.
struct Server {
    child: Child,
    dir: PathBuf,
    url: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn start_server() -> Server {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = std::env::temp_dir().join(format!("moat-bench-ch-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("logs")).unwrap();
    let d = dir.display();
    std::fs::write(
        dir.join("config.xml"),
        format!(
            r#"<?xml version="1.0"?>
<yandex>
  <logger><level>warning</level><log>{d}/logs/server.log</log><errorlog>{d}/logs/server.err.log</errorlog></logger>
  <listen_host>127.0.0.1</listen_host><http_port>{port}</http_port>
  <path>{d}/data/</path><tmp_path>{d}/tmp/</tmp_path><mark_cache_size>67108864</mark_cache_size>
  <users_config>config.xml</users_config>
  <profiles><default/></profiles>
  <users><default><password/><networks><ip>127.0.0.1</ip></networks><profile>default</profile><quota>default</quota></default></users>
  <quotas><default/></quotas>
</yandex>
"#
        ),
    )
    .unwrap();
    let child = Command::new("/usr/sbin/clickhouse-server")
        .arg(format!("--config-file={d}/config.xml"))
        .current_dir(&dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start /usr/sbin/clickhouse-server (scripts/install-deps.sh installs it)");
    let server = Server {
        child,
        dir,
        url: format!("http://127.0.0.1:{port}"),
    };
    let ch = clickhouse(&server.url, "bench");
    let start = Instant::now();
    while ch.execute("SELECT 1").is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "ClickHouse did not start"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    server
}

fn clickhouse(url: &str, table: &str) -> ClickHouse {
    ClickHouse {
        endpoint: Endpoint::parse(url).unwrap(),
        database: "moat_bench".into(),
        table: table.into(),
        user: None,
        password: None,
        timeout: Duration::from_secs(10),
    }
}

fn request() -> Request<'static> {
    let h = |name: &'static str, value: &'static str| Header {
        name: name.as_bytes(),
        value: value.as_bytes(),
    };
    Request {
        method: b"GET",
        uri: b"/products/42/reviews?page=2&sort=newest",
        version: b"HTTP/1.1",
        headers: vec![
            h("Host", "shop.example.com"),
            h("User-Agent", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36"),
            h("Accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"),
            h("Accept-Language", "en-GB,en;q=0.9"),
            h("Accept-Encoding", "gzip, deflate, br"),
            h("Referer", "https://shop.example.com/products/42"),
            h("Cookie", "theme=dark; _ga=GA1.2.1234567890.1700000000; PHPSESSID=9f8e7d6c5b4a39281706f5e4d3c2b1a0"),
            h("Authorization", "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1c2VyLTQyIiwiaXNzIjoiaHR0cHM6Ly9hdXRoLmV4YW1wbGUuY29tIn0.c2lnbmF0dXJl"),
        ],
        client_addr: b"203.0.113.9",
        request_id: b"5b88d66670aa0370aad79a562355bf44",
        ..Default::default()
    }
}

fn blocked() -> Verdict {
    Verdict {
        action: Action::Block,
        status: 403,
        score: 5,
        findings: vec![Finding::new(
            100100,
            "SQL Injection Attack Detected via libinjection",
            Severity::Critical,
            "ARGS:q".into(),
            b"1' or '1'='1",
        )],
        ..Verdict::allow()
    }
}

fn quiet() -> LogFn {
    Arc::new(|_, _| {})
}

fn recorder() -> Recorder {
    Recorder {
        record: Record::All,
        sample: 1.0,
        sessions: SessionConfig::with_key([7; 32]),
    }
}

/// Request-path cost: build the event and queue it, on one thread. Events are submitted in
/// rounds of 1,000 and the forwarder drains the queue between rounds (as in a worker, where
/// requests arrive far slower than the forwarder sends); only the submitting thread's CPU time
/// is counted.
fn request_path(url: &str) {
    let rounds = 200;
    let per_round = 1000;
    let forwarder = Forwarder::start(
        clickhouse(url, "events"),
        PipelineConfig::default(),
        [7; 32],
        quiet(),
    )
    .unwrap();
    let recorder = recorder();
    let req = request();
    for (name, verdict) in [("allowed", Verdict::allow()), ("blocked", blocked())] {
        let mut build = Duration::ZERO;
        let mut total = Duration::ZERO;
        for _ in 0..rounds {
            let cpu = thread_cpu();
            let events: Vec<_> = (0..per_round)
                .filter_map(|_| recorder.event(&req, &verdict))
                .collect();
            build += thread_cpu() - cpu;
            for event in events {
                forwarder.submit(event);
            }
            total += thread_cpu() - cpu;
            while forwarder.stats().queued > 0 {
                std::thread::sleep(Duration::from_millis(1));
            }
        }
        let n = (rounds * per_round) as f64;
        println!(
            "request path, {name} request (8 headers, session cookie, JWT): {:.0} ns CPU per event (build {:.0} ns, queue {:.0} ns)",
            total.as_nanos() as f64 / n,
            build.as_nanos() as f64 / n,
            (total - build).as_nanos() as f64 / n
        );
    }
    let s = forwarder.stats();
    assert_eq!(s.dropped(), 0, "{s}");
    forwarder.shutdown();
}

/// Events per second one forwarder delivers into ClickHouse.
fn throughput(url: &str, format: Format, batch_rows: usize) {
    let n = 500_000;
    let config = PipelineConfig {
        queue: n + 1,
        batch_rows,
        format,
        ..PipelineConfig::default()
    };
    let ch = clickhouse(url, "events");
    ch.execute("TRUNCATE TABLE moat_bench.events").unwrap();
    let forwarder = Forwarder::start(ch.clone(), config, [7; 32], quiet()).unwrap();
    let recorder = recorder();
    let req = request();
    let verdict = blocked();
    let start = Instant::now();
    for _ in 0..n {
        forwarder.submit(recorder.event(&req, &verdict).unwrap());
    }
    while forwarder.stats().sent < n as u64 {
        assert!(
            start.elapsed() < Duration::from_secs(300),
            "{}",
            forwarder.stats()
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    let took = start.elapsed();
    let stored: u64 = ch
        .execute("SELECT count() FROM moat_bench.events")
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert_eq!(stored, n as u64);
    println!(
        "into ClickHouse, {} batches of {batch_rows}: {n} events in {:.2} s = {:.0} events/s",
        format.name(),
        took.as_secs_f64(),
        n as f64 / took.as_secs_f64()
    );
    forwarder.shutdown();
}

fn main() {
    let server;
    let url = match std::env::var("MOAT_BENCH_CLICKHOUSE") {
        Ok(url) => url,
        Err(_) => {
            server = start_server();
            server.url.clone()
        }
    };
    schema::apply(&clickhouse(&url, "events")).expect("apply the schema");
    request_path(&url);
    throughput(&url, Format::RowBinary, 1000);
    throughput(&url, Format::RowBinary, 10_000);
    throughput(&url, Format::JsonEachRow, 10_000);
}
