//! Events in a real ClickHouse (a private `clickhouse-server` started by the tests): fields,
//! aggregates, an outage under load, queue overflow, reload and worker exit.

use std::collections::HashSet;
use std::net::TcpListener;
use std::sync::{Arc, Mutex, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

use moat_e2e::clickhouse::ClickHouse;
use moat_e2e::{request, temp_dir, Adapter, Backend, Client, Nginx};

/// One server shared by the tests that do not stop it (each uses its own database); it ends
/// with the test process.
fn shared() -> &'static ClickHouse {
    static SHARED: OnceLock<ClickHouse> = OnceLock::new();
    SHARED.get_or_init(ClickHouse::start_for_process)
}

/// The `http {}` body: Moat on, events to `url`/`database` with `options`, a proxied location,
/// and `/stats` showing the forwarder counters.
fn config(url: &str, database: &str, options: &str) -> String {
    let spool = temp_dir("spool");
    format!(
        "moat on;
    moat_log_clickhouse {url} database={database} spool={} {options};
    server {{
        listen 127.0.0.1:PORT;
        keepalive_requests 100000;
        add_header X-Request-Id $request_id always;
        location / {{ proxy_pass http://127.0.0.1:BACKEND; }}
        location = /stats {{ return 200 \"$moat_clickhouse\"; }}
    }}",
        spool.display()
    )
}

fn stats(nginx: &Nginx) -> String {
    let r = request(nginx.port, "GET", "/stats", &[], b"");
    String::from_utf8_lossy(&r.body).into_owned()
}

fn stat(text: &str, name: &str) -> u64 {
    text.split_whitespace()
        .find_map(|kv| kv.strip_prefix(&format!("{name}=")))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no {name} in {text:?}"))
}

// {"sub":"user-42","iss":"https://auth.example.com"}
const TOKEN: &str =
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1c2VyLTQyIiwiaXNzIjoiaHR0cHM6Ly9hdXRoLmV4YW1wbGUuY29tIn0.c2lnbmF0dXJl";

#[test]
fn events_arrive_with_the_right_fields() {
    let ch = shared();
    ch.apply_schema("fields");
    let backend = Backend::start();
    let nginx = Nginx::start(
        Adapter::Native,
        &config(&ch.url(), "fields", "interval=200ms"),
        &backend,
    );
    let ok = request(
        nginx.port,
        "GET",
        "/shop?item=42",
        &[
            ("User-Agent", "Mozilla/5.0 test"),
            ("Cookie", "theme=dark; PHPSESSID=s3cr3t-session-value"),
        ],
        b"",
    );
    assert_eq!(ok.status, 200);
    let bearer = format!("Bearer {TOKEN}");
    let blocked = request(
        nginx.port,
        "POST",
        "/login",
        &[
            ("Authorization", bearer.as_str()),
            ("Content-Type", "application/x-www-form-urlencoded"),
        ],
        b"user=admin' OR '1'='1' --&pw=x",
    );
    assert_eq!(blocked.status, 403);
    let n = ch.wait_number(
        "SELECT count() FROM fields.events",
        2,
        Duration::from_secs(10),
    );
    assert_eq!(n, 2);
    let rows = ch.rows("SELECT * FROM fields.events ORDER BY time, time_ms, status");
    let id = |r: &moat_e2e::Response| r.header("x-request-id").unwrap().to_string();
    let allowed = rows.iter().find(|r| r["request_id"] == id(&ok)).unwrap();
    assert_eq!(allowed["method"], "GET");
    assert_eq!(allowed["host"], "localhost");
    assert_eq!(allowed["uri"], "/shop?item=42");
    assert_eq!(allowed["status"], 200);
    assert_eq!(allowed["action"], "allow");
    assert_eq!(allowed["client_addr"], "127.0.0.1");
    assert_eq!(allowed["user_agent"], "Mozilla/5.0 test");
    assert_eq!(allowed["country"], "");
    assert_eq!(allowed["session_id"].as_str().unwrap().len(), 32);
    let bytes_in =
        |row: &serde_json::Value| row["bytes_in"].as_str().unwrap().parse::<u64>().unwrap();
    assert!(bytes_in(allowed) > 50);
    let block = rows
        .iter()
        .find(|r| r["request_id"] == id(&blocked))
        .unwrap();
    assert_eq!(block["status"], 403);
    assert_eq!(block["action"], "block");
    assert!(block["score"].as_u64().unwrap() >= 5);
    assert!(block["rule_ids"]
        .as_array()
        .unwrap()
        .contains(&100100.into()));
    assert!(!block["rule_msgs"].as_array().unwrap().is_empty());
    assert_eq!(block["jwt_sub"], "user-42");
    assert_eq!(block["jwt_iss"], "https://auth.example.com");
    assert_eq!(block["session_id"].as_str().unwrap().len(), 32);
    assert!(bytes_in(block) >= 30);
    let all = serde_json::to_string(&rows).unwrap();
    assert!(
        !all.contains("s3cr3t"),
        "the session secret is stored: {all}"
    );
    assert!(!all.contains("c2lnbmF0dXJl"), "the token is stored: {all}");
    // ClickHouse shows the rows a moment before the forwarder has read its answer.
    let start = Instant::now();
    let mut s = stats(&nginx);
    while stat(&s, "sent") < 2 && start.elapsed() < Duration::from_secs(5) {
        thread::sleep(Duration::from_millis(20));
        s = stats(&nginx);
    }
    assert_eq!((stat(&s, "sent"), stat(&s, "dropped")), (2, 0), "{s}");
}

#[test]
fn aggregates_match_the_raw_table() {
    let ch = shared();
    ch.apply_schema("aggr");
    let backend = Backend::start();
    let nginx = Nginx::start(
        Adapter::Native,
        &config(&ch.url(), "aggr", "interval=200ms format=json"),
        &backend,
    );
    let mut sent = 0;
    for i in 0..60u32 {
        let cookie = format!("connect.sid=s%3Asession-{}", i % 4);
        let uri = if i.is_multiple_of(5) {
            "/search?q=1%27%20OR%20%271%27%3D%271"
        } else {
            "/search?q=shoes"
        };
        request(nginx.port, "GET", uri, &[("Cookie", cookie.as_str())], b"");
        sent += 1;
    }
    let n = ch.wait_number(
        "SELECT count() FROM aggr.events",
        sent,
        Duration::from_secs(10),
    );
    assert_eq!(n, sent);
    let sessions_rows = "SELECT countMerge(requests) FROM aggr.events_sessions";
    assert_eq!(
        ch.wait_number(sessions_rows, sent, Duration::from_secs(10)),
        sent
    );
    let by_minute = ch.query(
        "SELECT country, action, sum(requests) FROM aggr.events_by_minute GROUP BY country, action ORDER BY country, action",
    );
    let raw = ch.query(
        "SELECT country, action, count() FROM aggr.events GROUP BY country, action ORDER BY country, action",
    );
    assert_eq!(by_minute, raw);
    assert!(raw.contains("block\t12"), "{raw}");
    let sessions = ch.query(
        "SELECT session_id, requests, blocked, clients FROM aggr.events_session_summary ORDER BY session_id",
    );
    let raw_sessions = ch.query(
        "SELECT session_id, count(), countIf(action = 'block'), uniq(client_addr) FROM aggr.events WHERE session_id != '' GROUP BY session_id ORDER BY session_id",
    );
    assert_eq!(sessions, raw_sessions);
    assert_eq!(sessions.lines().count(), 4, "{sessions}");
}

/// Sends requests from `threads` clients until `stop`, recording (response id, latency, phase).
struct Load {
    results: Arc<Mutex<Vec<(String, Duration, u8)>>>,
    phase: Arc<std::sync::atomic::AtomicU8>,
    stop: Arc<std::sync::atomic::AtomicBool>,
    threads: Vec<thread::JoinHandle<()>>,
}

impl Load {
    fn start(port: u16, threads: usize) -> Load {
        use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
        let results = Arc::new(Mutex::new(Vec::new()));
        let phase = Arc::new(AtomicU8::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let handles = (0..threads)
            .map(|t| {
                let (results, phase, stop) = (results.clone(), phase.clone(), stop.clone());
                thread::spawn(move || {
                    let mut client = Client::connect(port);
                    let mut i = 0u64;
                    let until = Instant::now() + Duration::from_secs(120);
                    while !stop.load(Ordering::SeqCst) && Instant::now() < until {
                        let uri = if i.is_multiple_of(10) {
                            "/q?x=%3Cscript%3Ealert(1)%3C/script%3E".to_string()
                        } else {
                            format!("/item/{t}/{i}")
                        };
                        let start = Instant::now();
                        let r = client.request("GET", &uri, &[], b"");
                        let took = start.elapsed();
                        let id = r.header("x-request-id").unwrap().to_string();
                        results
                            .lock()
                            .unwrap()
                            .push((id, took, phase.load(Ordering::SeqCst)));
                        i += 1;
                        thread::sleep(Duration::from_millis(4));
                    }
                })
            })
            .collect();
        Load {
            results,
            phase,
            stop,
            threads: handles,
        }
    }

    fn set_phase(&self, p: u8) {
        self.phase.store(p, std::sync::atomic::Ordering::SeqCst);
    }

    fn finish(self) -> Vec<(String, Duration, u8)> {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        for t in self.threads {
            t.join().unwrap();
        }
        Arc::try_unwrap(self.results).unwrap().into_inner().unwrap()
    }
}

fn percentile(mut v: Vec<Duration>, p: f64) -> Duration {
    v.sort();
    v[((v.len() as f64 - 1.0) * p) as usize]
}

#[test]
fn outage_under_load_loses_nothing_and_requests_do_not_wait() {
    let mut ch = ClickHouse::start();
    ch.apply_schema("outage");
    let backend = Backend::start();
    let nginx = Nginx::start(
        Adapter::Native,
        &config(&ch.url(), "outage", "timeout=1s"),
        &backend,
    );
    let load = Load::start(nginx.port, 3);
    thread::sleep(Duration::from_secs(3));
    load.set_phase(1);
    ch.kill();
    thread::sleep(Duration::from_secs(30));
    ch.restart();
    load.set_phase(2);
    thread::sleep(Duration::from_secs(3));
    let results = load.finish();
    let sent = results.len() as u64;
    let arrived = ch.wait_number(
        "SELECT count() FROM outage.events",
        sent,
        Duration::from_secs(30),
    );
    let s = stats(&nginx);
    assert_eq!(arrived, sent, "every event arrives: {s}");
    let stored: HashSet<String> = ch
        .query("SELECT request_id FROM outage.events")
        .lines()
        .map(String::from)
        .collect();
    let ids: HashSet<String> = results.iter().map(|r| r.0.clone()).collect();
    assert_eq!(stored.len() as u64, sent, "each event exactly once");
    assert_eq!(stored, ids);
    assert!(stat(&s, "spooled") > 0 && stat(&s, "dropped") == 0, "{s}");
    let phase =
        |p: u8| -> Vec<Duration> { results.iter().filter(|r| r.2 == p).map(|r| r.1).collect() };
    let (before, during) = (phase(0), phase(1));
    assert!(
        during.len() > 1000,
        "load during the outage: {}",
        during.len()
    );
    let (p50b, p99b) = (percentile(before.clone(), 0.5), percentile(before, 0.99));
    let (p50d, p99d) = (
        percentile(during.clone(), 0.5),
        percentile(during.clone(), 0.99),
    );
    let max_d = *during.iter().max().unwrap();
    eprintln!(
        "{sent} requests; before: p50 {p50b:?} p99 {p99b:?}; during outage: p50 {p50d:?} p99 {p99d:?} max {max_d:?}; {s}"
    );
    assert!(
        p50d <= p50b * 3 + Duration::from_millis(2),
        "median latency rose: {p50b:?} -> {p50d:?}"
    );
    assert!(
        p99d <= p99b * 3 + Duration::from_millis(20),
        "p99 latency rose: {p99b:?} -> {p99d:?}"
    );
    assert!(
        max_d < Duration::from_millis(900),
        "a request waited on ClickHouse: {max_d:?}"
    );
}

#[test]
fn queue_overflow_drops_with_a_counter_and_no_stall() {
    // A "ClickHouse" that accepts connections and never answers: the forwarder's thread is
    // stuck in an insert, the queue fills up.
    let black_hole = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!(
        "http://127.0.0.1:{}",
        black_hole.local_addr().unwrap().port()
    );
    let held = Arc::new(Mutex::new(Vec::new()));
    let keep = held.clone();
    thread::spawn(move || {
        for s in black_hole.incoming().flatten() {
            keep.lock().unwrap().push(s);
        }
    });
    let backend = Backend::start();
    let nginx = Nginx::start(
        Adapter::Native,
        &config(&url, "overflow", "queue=20 batch=5 timeout=2s retries=0"),
        &backend,
    );
    let mut client = Client::connect(nginx.port);
    let mut slowest = Duration::ZERO;
    for i in 0..200 {
        let start = Instant::now();
        let r = client.request("GET", &format!("/p/{i}"), &[], b"");
        slowest = slowest.max(start.elapsed());
        assert_eq!(r.status, 200);
    }
    let s = stats(&nginx);
    assert!(stat(&s, "dropped_queue_full") > 100, "{s}");
    assert!(
        slowest < Duration::from_millis(200),
        "a request waited: {slowest:?}"
    );
}

#[test]
fn reload_and_worker_exit_lose_nothing_queued() {
    let ch = shared();
    ch.apply_schema("reload");
    let backend = Backend::start();
    // A long interval: events are still queued in the worker when it is told to go.
    let nginx = Nginx::start(
        Adapter::Native,
        &config(&ch.url(), "reload", "interval=10s"),
        &backend,
    );
    let send = |n: usize, tag: &str| {
        for i in 0..n {
            assert_eq!(
                request(nginx.port, "GET", &format!("/{tag}/{i}"), &[], b"").status,
                200
            );
        }
    };
    let count = || ch.number("SELECT count() FROM reload.events");
    send(40, "before-reload");
    assert_eq!(count(), 0, "events wait in the queue");
    let old = nginx.worker_pids();
    let hup = std::process::Command::new("kill")
        .args(["-HUP", &nginx.master_pid().to_string()])
        .status()
        .unwrap();
    assert!(hup.success());
    let start = Instant::now();
    while (nginx.worker_pids() == old || nginx.worker_pids().len() != 1)
        && start.elapsed() < Duration::from_secs(10)
    {
        thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(
        ch.wait_number(
            "SELECT count() FROM reload.events",
            40,
            Duration::from_secs(10)
        ),
        40,
        "the old worker flushed its queue on exit"
    );
    send(40, "before-exit");
    let worker = nginx.worker_pids();
    let quit = std::process::Command::new("kill")
        .args(["-QUIT", &worker[0].to_string()])
        .status()
        .unwrap();
    assert!(quit.success());
    assert_eq!(
        ch.wait_number(
            "SELECT count() FROM reload.events",
            80,
            Duration::from_secs(10)
        ),
        80,
        "the exiting worker flushed its queue"
    );
    let start = Instant::now();
    while (nginx.worker_pids().is_empty() || nginx.worker_pids() == worker)
        && start.elapsed() < Duration::from_secs(10)
    {
        thread::sleep(Duration::from_millis(50));
    }
    send(10, "after");
    drop(nginx);
    assert_eq!(ch.number("SELECT count() FROM reload.events"), 90);
    assert_eq!(
        ch.number("SELECT uniqExact(request_id) FROM reload.events"),
        90
    );
}

#[test]
fn bad_options_fail_nginx_t_and_an_unreachable_clickhouse_does_not() {
    let cases = [
        ("moat_log_clickhouse https://127.0.0.1:8443;", "TLS proxy"),
        (
            "moat_log_clickhouse http://127.0.0.1:8123 batch=0;",
            "invalid batch \"0\"",
        ),
        (
            "moat_log_clickhouse http://127.0.0.1:8123 table=a-b;",
            "invalid table",
        ),
        (
            "moat_log_clickhouse http://127.0.0.1:8123 password_file=/nonexistent;",
            "cannot read password file",
        ),
        (
            "moat_log_clickhouse http://127.0.0.1:8123 colour=red;",
            "unknown option \"colour\"",
        ),
    ];
    for (directive, reason) in cases {
        let (ok, out, path) =
            moat_e2e::nginx_test_config(Adapter::Native, &format!("moat on; {directive}"));
        assert!(!ok, "{directive} was accepted");
        assert!(out.contains(reason), "{directive}: {out}");
        assert!(
            out.contains(&format!("{}:", path.display())),
            "no file:line: {out}"
        );
    }
    let (ok, out, _) = moat_e2e::nginx_test_config(
        Adapter::Native,
        "moat on; moat_log_clickhouse http://127.0.0.1:1 database=x;",
    );
    assert!(ok, "{out}");
}

#[test]
fn lua_binding_records_events_with_the_same_options() {
    let ch = shared();
    ch.apply_schema("lua");
    let backend = Backend::start();
    let spool = temp_dir("lua-spool");
    let body = format!(
        "init_by_lua_block {{
        require(\"moat\").init{{ lib = \"LIBMOAT\", clickhouse = \"{} database=lua interval=10s spool={}\" }}
    }}
    init_worker_by_lua_block {{ require(\"moat\").init_worker() }}
    exit_worker_by_lua_block {{ require(\"moat\").exit_worker() }}
    server {{
        listen 127.0.0.1:PORT;
        set $moat_action ''; set $moat_score ''; set $moat_rule_ids '';
        add_header X-Request-Id $request_id always;
        location / {{
            access_by_lua_block {{ require(\"moat\").protect() }}
            log_by_lua_block {{ require(\"moat\").log() }}
            proxy_pass http://127.0.0.1:BACKEND;
        }}
    }}",
        ch.url(),
        spool.display()
    );
    let nginx = Nginx::start(Adapter::Lua, &body, &backend);
    let ok = request(
        nginx.port,
        "GET",
        "/lua/ok",
        &[("Cookie", "JSESSIONID=lua-secret-1")],
        b"",
    );
    let blocked = request(
        nginx.port,
        "GET",
        "/lua/?q=%3Cscript%3Ealert(1)%3C/script%3E",
        &[],
        b"",
    );
    assert_eq!((ok.status, blocked.status), (200, 403));
    // The long interval keeps both events queued: stopping nginx must flush them.
    drop(nginx);
    ch.wait_number("SELECT count() FROM lua.events", 2, Duration::from_secs(10));
    let rows =
        ch.rows("SELECT request_id, status, action, session_id FROM lua.events ORDER BY status");
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert_eq!(rows[0]["request_id"], ok.header("x-request-id").unwrap());
    assert_eq!(
        (rows[0]["status"].clone(), rows[0]["action"].clone()),
        (200.into(), "allow".into())
    );
    assert_eq!(rows[0]["session_id"].as_str().unwrap().len(), 32);
    assert_eq!(
        rows[1]["request_id"],
        blocked.header("x-request-id").unwrap()
    );
    assert_eq!(
        (rows[1]["status"].clone(), rows[1]["action"].clone()),
        (403.into(), "block".into())
    );
}

#[test]
fn lua_init_rejects_bad_clickhouse_options() {
    let backend = Backend::start();
    let body = "init_by_lua_block {
        require(\"moat\").init{ lib = \"LIBMOAT\", clickhouse = \"http://127.0.0.1:8123 batch=lots\" }
    }
    server { listen 127.0.0.1:PORT; set $moat_action ''; set $moat_score ''; set $moat_rule_ids ''; location / { return 200; } }";
    let result = std::panic::catch_unwind(|| Nginx::start(Adapter::Lua, body, &backend));
    let message = match result {
        Ok(_) => panic!("nginx started with a bad clickhouse option"),
        Err(e) => e.downcast_ref::<String>().cloned().unwrap_or_default(),
    };
    assert!(
        message.contains("moat: clickhouse: invalid batch \"lots\""),
        "{message}"
    );
}

#[test]
fn moat_ingest_loads_combined_and_json_access_logs() {
    let ch = shared();
    ch.apply_schema("history");
    let dir = temp_dir("ingest");
    let log = dir.join("access.log");
    std::fs::write(
        &log,
        concat!(
            "203.0.113.9 - - [10/Oct/2023:13:55:36 +0000] \"GET /index.html HTTP/1.1\" 200 512 \"-\" \"Mozilla/5.0\"\n",
            "203.0.113.9 - - [10/Oct/2023:13:55:37 +0000] \"GET /search?q=1%27%20OR%201=1 HTTP/1.1\" 403 153 \"-\" \"sqlmap/1.7\"\n",
            "not an access log line\n",
            "\n",
            "{\"time_iso8601\":\"2023-10-10T13:56:00+00:00\",\"remote_addr\":\"198.51.100.4\",\"request\":\"POST /login HTTP/1.1\",\"status\":\"403\",\"request_id\":\"json-1\",\"moat_action\":\"block\",\"moat_score\":\"5\",\"moat_rule_ids\":\"100100\"}\n",
        ),
    )
    .unwrap();
    let out = std::process::Command::new(moat_e2e::artifact("moat"))
        .args([
            "ingest",
            log.to_str().unwrap(),
            &ch.url(),
            "database=history",
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("5 lines, 3 events inserted into history.events, 1 lines skipped"),
        "{stdout}"
    );
    assert!(
        stdout.contains("skipped line 3: not an access log line"),
        "{stdout}"
    );
    assert!(
        stdout.contains("from 2023/10/10 13:55:36 to 2023/10/10 13:56:00 UTC"),
        "{stdout}"
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("100% ["),
        "no progress bar"
    );
    let rows = ch.rows("SELECT request_id, client_addr, method, uri, status, action, rule_ids, user_agent FROM history.events ORDER BY time");
    assert_eq!(rows.len(), 3);
    assert_eq!(rows[1]["uri"], "/search?q=1%27%20OR%201=1");
    assert_eq!(rows[1]["user_agent"], "sqlmap/1.7");
    assert_eq!(rows[1]["status"], 403);
    assert_eq!(rows[2]["request_id"], "json-1");
    assert_eq!(rows[2]["action"], "block");
    assert_eq!(rows[2]["rule_ids"], serde_json::json!([100100]));
    let by_minute = ch.number("SELECT sum(requests) FROM history.events_by_minute");
    assert_eq!(by_minute, 3);
}
