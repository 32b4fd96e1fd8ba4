//! Prometheus metrics of the nginx module: one scrape sums every worker's requests exactly,
//! parses with the reference parser, survives a reload, and is served only where
//! `moat_metrics` is configured, with `allow`/`deny` applying as to `stub_status`.

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use moat_e2e::prometheus::{self, Family};
use moat_e2e::{
    attack_cases, benign_cases, nginx_test_config, request, Adapter, Backend, Case, Nginx,
};

/// Moat on for the application only; the metrics location is not inspected.
const CONFIG: &str = "
    server {
        listen 127.0.0.1:PORT reuseport;
        location / {
            moat on;
            # Counts must be exact: on a loaded machine the default 5 ms budget could let a
            # request fail open (counted apart), which this test is not about.
            moat_time_budget 1s;
            access_log access.log moat;
            add_header X-Worker $pid always;
            proxy_pass http://127.0.0.1:BACKEND;
        }
        location = /metrics {
            moat_metrics;
            allow 127.0.0.1;
            deny all;
        }
    }";

/// The same with the Lua binding: `moat.metrics()` serves the counters of every worker.
const LUA_CONFIG: &str = "
    server {
        listen 127.0.0.1:PORT reuseport;
        set $moat_action '';
        set $moat_score '';
        set $moat_rule_ids '';
        location / {
            access_by_lua_block { require(\"moat\").protect{ time_budget = \"1s\" } }
            access_log access.log moat;
            add_header X-Worker $pid always;
            proxy_pass http://127.0.0.1:BACKEND;
        }
        location = /metrics {
            allow 127.0.0.1;
            deny all;
            content_by_lua_block {
                local body, content_type = require(\"moat\").metrics()
                ngx.header.content_type = content_type
                ngx.print(body)
            }
        }
    }";

fn scrape(port: u16) -> Vec<Family> {
    let r = request(port, "GET", "/metrics", &[], b"");
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    prometheus::parse(&String::from_utf8(r.body).unwrap())
}

/// Sends `rounds` of every benign and attack case from 8 threads, each request on a fresh
/// connection; returns the worker pids that answered and the body bytes sent.
fn send_traffic(port: u16, rounds: usize) -> (HashSet<String>, u64) {
    let cases: Vec<(Case, u16)> = benign_cases()
        .into_iter()
        .map(|c| (c, 200))
        .chain(attack_cases().into_iter().map(|c| (c, 403)))
        .collect();
    let work: Vec<(Case, u16)> = (0..rounds).flat_map(|_| cases.clone()).collect();
    let bytes = work.iter().map(|(c, _)| c.body.len() as u64).sum();
    let work = Arc::new(Mutex::new(work));
    let pids = Arc::new(Mutex::new(HashSet::new()));
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let (work, pids) = (Arc::clone(&work), Arc::clone(&pids));
            thread::spawn(move || loop {
                let Some((case, want)) = work.lock().unwrap().pop() else {
                    return;
                };
                let r = case.send(port);
                assert_eq!(r.status, want, "{}", case.name);
                pids.lock()
                    .unwrap()
                    .insert(r.header("x-worker").unwrap_or("").to_string());
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let pids = pids.lock().unwrap().clone();
    (pids, bytes)
}

fn requests(m: &[Family], action: &str, reason: &str) -> f64 {
    prometheus::value(
        m,
        "moat_requests_total",
        &[("action", action), ("reason", reason)],
    )
}

/// Histogram buckets are cumulative and end with `+Inf` equal to `_count`.
fn check_histogram(m: &[Family], name: &str) -> f64 {
    let fam = m.iter().find(|f| f.name == name).expect(name);
    assert_eq!(fam.kind, "histogram");
    let buckets: Vec<f64> = fam
        .samples
        .iter()
        .filter(|s| s.name == format!("{name}_bucket"))
        .map(|s| s.value)
        .collect();
    assert!(
        buckets.windows(2).all(|w| w[0] <= w[1]),
        "{name}: {buckets:?}"
    );
    let inf = fam
        .samples
        .iter()
        .find(|s| s.labels.get("le").map(String::as_str) == Some("+Inf"))
        .expect("+Inf bucket")
        .value;
    assert_eq!(inf, prometheus::value(m, &format!("{name}_count"), &[]));
    inf
}

#[test]
fn one_scrape_sums_all_workers_exactly() {
    scrape_sums_all_workers(Adapter::Native, CONFIG);
}

#[test]
fn one_lua_scrape_sums_all_workers_exactly() {
    scrape_sums_all_workers(Adapter::Lua, LUA_CONFIG);
}

fn scrape_sums_all_workers(adapter: Adapter, config: &str) {
    let backend = Backend::start();
    let nginx = Nginx::start_with_workers(adapter, config, &backend, 4);
    let rounds = 12;
    let (pids, body_bytes) = send_traffic(nginx.port, rounds);
    assert!(
        pids.len() >= 2,
        "traffic reached one worker only ({pids:?}): aggregation would go untested"
    );
    let benign = (benign_cases().len() * rounds) as f64;
    let attacks = (attack_cases().len() * rounds) as f64;
    // Several scrapes, likely answered by different workers, all see the same totals.
    for _ in 0..4 {
        let m = scrape(nginx.port);
        assert_eq!(requests(&m, "allow", "clean"), benign);
        assert_eq!(requests(&m, "block", "rules"), attacks);
        assert_eq!(
            prometheus::value(&m, "moat_requests_total", &[]),
            benign + attacks
        );
        assert_eq!(
            check_histogram(&m, "moat_inspection_duration_seconds"),
            benign + attacks
        );
        assert_eq!(check_histogram(&m, "moat_anomaly_score"), benign + attacks);
        assert_eq!(
            prometheus::value(&m, "moat_anomaly_score_bucket", &[("le", "0")]),
            benign,
            "benign requests score 0"
        );
        let hits = prometheus::value(&m, "moat_rule_hits_total", &[]);
        assert!(hits >= attacks, "{hits} rule hits for {attacks} attacks");
        assert_eq!(
            prometheus::value(&m, "moat_inspected_body_bytes_total", &[]),
            body_bytes as f64
        );
        assert_eq!(prometheus::value(&m, "moat_fail_open_total", &[]), 0.0);
    }
    // Hits per rule equal the rule ids nginx logged for each request ($moat_rule_ids).
    let lines = nginx.wait_access_lines((benign + attacks) as usize);
    assert_eq!(lines.len(), (benign + attacks) as usize);
    let mut logged: BTreeMap<String, f64> = BTreeMap::new();
    for line in &lines {
        let ids = line.rsplit_once("ids=").map_or("", |(_, ids)| ids.trim());
        for id in ids.split(',').filter(|id| !id.is_empty() && *id != "-") {
            *logged.entry(id.to_string()).or_default() += 1.0;
        }
    }
    let m = scrape(nginx.port);
    let hits: BTreeMap<String, f64> = prometheus::samples(&m)
        .into_iter()
        .filter(|s| s.name == "moat_rule_hits_total" && s.labels["rule_id"] != "other")
        .map(|s| (s.labels["rule_id"].clone(), s.value))
        .collect();
    assert!(!logged.is_empty());
    assert_eq!(hits, logged);
    assert_eq!(
        prometheus::value(&m, "moat_rule_hits_total", &[("rule_id", "other")]),
        0.0
    );
}

#[test]
fn exposition_parses_with_help_and_type_for_every_family() {
    let backend = Backend::start();
    let nginx = Nginx::start(Adapter::Native, CONFIG, &backend);
    send_traffic(nginx.port, 1);
    let m = scrape(nginx.port);
    for f in &m {
        assert!(f.name.starts_with("moat_"), "{}", f.name);
        assert_ne!(f.kind, "unknown", "{} has no TYPE", f.name);
        assert!(!f.help.is_empty(), "{} has no HELP", f.name);
        assert!(!f.samples.is_empty(), "{} has no samples", f.name);
        if f.kind == "counter" {
            assert!(
                f.samples.iter().all(|s| s.name.ends_with("_total")),
                "{}",
                f.name
            );
        }
    }
    let names: HashSet<&str> = m.iter().map(|f| f.name.as_str()).collect();
    for want in [
        "moat_requests",
        "moat_fail_open",
        "moat_inspection_duration_seconds",
        "moat_anomaly_score",
        "moat_rule_hits",
        "moat_inspected_body_bytes",
        "moat_geoip_lookups",
        "moat_geoip_misses",
        "moat_clickhouse_rows_sent",
        "moat_clickhouse_retries",
        "moat_clickhouse_rows_spooled",
        "moat_clickhouse_events_dropped",
        "moat_clickhouse_queue_events",
    ] {
        assert!(names.contains(want), "missing {want}: {names:?}");
    }
}

#[test]
fn counters_survive_a_reload() {
    let backend = Backend::start();
    let nginx = Nginx::start_with_workers(Adapter::Native, CONFIG, &backend, 2);
    send_traffic(nginx.port, 2);
    let before = prometheus::value(&scrape(nginx.port), "moat_requests_total", &[]);
    let old: HashSet<u32> = nginx.worker_pids().into_iter().collect();
    nginx.signal("HUP");
    let start = Instant::now();
    while nginx.worker_pids().iter().any(|p| old.contains(p)) {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "old workers linger"
        );
        thread::sleep(Duration::from_millis(50));
    }
    send_traffic(nginx.port, 1);
    let after = prometheus::value(&scrape(nginx.port), "moat_requests_total", &[]);
    let per_round = (benign_cases().len() + attack_cases().len()) as f64;
    assert_eq!(before, 2.0 * per_round);
    assert_eq!(after, 3.0 * per_round);
}

#[test]
fn metrics_are_served_only_where_configured_and_allowed() {
    let backend = Backend::start();
    let config = "
    moat on;
    server {
        listen 127.0.0.1:PORT reuseport;
        location / { proxy_pass http://127.0.0.1:BACKEND; }
        location = /open { moat off; moat_metrics; }
        location = /denied { moat_metrics; deny 127.0.0.1; allow all; }
    }";
    let nginx = Nginx::start(Adapter::Native, config, &backend);
    let open = request(nginx.port, "GET", "/open", &[], b"");
    assert_eq!(open.status, 200, "no allow rules: reachable by anyone");
    assert!(String::from_utf8_lossy(&open.body).contains("# TYPE moat_requests_total counter"));
    assert_eq!(request(nginx.port, "GET", "/denied", &[], b"").status, 403);
    let other = request(nginx.port, "GET", "/metrics", &[], b"");
    assert_eq!(other.status, 200);
    assert!(
        !String::from_utf8_lossy(&other.body).contains("moat_"),
        "other locations proxy as usual"
    );
    assert_eq!(backend.received_at("/metrics").len(), 1);
    assert_eq!(
        request(nginx.port, "POST", "/open", &[], b"x=1").status,
        405
    );
    let head = request(nginx.port, "HEAD", "/open", &[], b"");
    assert_eq!((head.status, head.body.len()), (200, 0));
}

#[test]
fn moat_metrics_outside_a_location_fails_the_configuration() {
    let (ok, out, _) = nginx_test_config(
        Adapter::Native,
        "server { listen 127.0.0.1:PORT; moat_metrics; }",
    );
    assert!(!ok, "{out}");
    assert!(
        out.contains("\"moat_metrics\" directive is not allowed here"),
        "{out}"
    );
}

/// Waits until `name` reaches `want` in a scrape (the forwarder works in the background).
/// Sends `rounds` of the traffic over several workers, waits until the forwarders report every
/// row sent, and checks that the queues are empty; returns that scrape and the row count.
fn all_rows_sent(port: u16, rounds: usize) -> (Vec<Family>, f64) {
    let (pids, _) = send_traffic(port, rounds);
    assert!(pids.len() >= 2, "one worker answered everything: {pids:?}");
    let sent = rounds as f64 * (benign_cases().len() + attack_cases().len()) as f64;
    let m = wait_value(port, "moat_clickhouse_rows_sent_total", &[], sent);
    assert_eq!(
        prometheus::value(&m, "moat_clickhouse_rows_sent_total", &[]),
        sent
    );
    assert_eq!(
        prometheus::value(&m, "moat_clickhouse_queue_events", &[]),
        0.0
    );
    (m, sent)
}

fn wait_value(port: u16, name: &str, labels: &[(&str, &str)], want: f64) -> Vec<Family> {
    let start = Instant::now();
    loop {
        let m = scrape(port);
        if prometheus::value(&m, name, labels) >= want || start.elapsed() > Duration::from_secs(15)
        {
            return m;
        }
        thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn forwarder_counts_of_all_workers_match_clickhouse() {
    let ch = moat_e2e::clickhouse::ClickHouse::start();
    ch.apply_schema("metrics");
    let backend = Backend::start();
    let spool = moat_e2e::temp_dir("metrics-spool");
    let config = format!(
        "moat_log_clickhouse {} database=metrics interval=200ms spool={};
    {CONFIG}",
        ch.url(),
        spool.display()
    );
    let nginx = Nginx::start_with_workers(Adapter::Native, &config, &backend, 3);
    let (m, sent) = all_rows_sent(nginx.port, 4);
    assert_eq!(
        prometheus::value(&m, "moat_clickhouse_events_dropped_total", &[]),
        0.0
    );
    assert_eq!(
        ch.number("SELECT count() FROM metrics.events") as f64,
        sent,
        "the metric agrees with what ClickHouse holds"
    );

    // ClickHouse down: rows go to the spool, and the scrape says so.
    drop(ch);
    send_traffic(nginx.port, 1);
    let spooled = (benign_cases().len() + attack_cases().len()) as f64;
    let m = wait_value(
        nginx.port,
        "moat_clickhouse_rows_spooled_total",
        &[],
        spooled,
    );
    assert_eq!(
        prometheus::value(&m, "moat_clickhouse_rows_spooled_total", &[]),
        spooled
    );
    assert!(prometheus::value(&m, "moat_clickhouse_retries_total", &[]) >= 1.0);
    assert_eq!(
        prometheus::value(&m, "moat_clickhouse_rows_sent_total", &[]),
        sent
    );
}

#[test]
fn fail_open_causes_and_geoip_lookups_are_counted() {
    let csv =
        std::fs::read_to_string(moat_e2e::repo_root().join("geoip/data/test-places.csv")).unwrap();
    let db = moat_e2e::temp_dir("metrics-geo").join("places.mmdb");
    moat_e2e::write_mmdb(&csv, &db);
    let config = format!(
        "moat_geoip {};
    moat_trusted_proxies 127.0.0.1;
    {CONFIG}",
        db.display()
    );
    let backend = Backend::start();
    let nginx = Nginx::start_with_env(
        Adapter::Native,
        &config,
        &backend,
        &[("MOAT_TEST_FAULTS", "1")],
    );
    let attack = "/p?q=%3Cscript%3Ealert(1)%3C%2Fscript%3E";
    for fault in ["panic", "panic", "slow"] {
        let r = request(
            nginx.port,
            "GET",
            attack,
            &[("X-Moat-Test-Fault", fault)],
            b"",
        );
        assert_eq!(r.status, 200, "fail open on {fault}");
    }
    // 127.0.0.1 is in the database; 10.1.2.3 (forwarded by the trusted proxy) is not.
    assert_eq!(request(nginx.port, "GET", "/", &[], b"").status, 200);
    let forwarded = [("X-Forwarded-For", "10.1.2.3")];
    assert_eq!(request(nginx.port, "GET", "/", &forwarded, b"").status, 200);
    let m = scrape(nginx.port);
    let fail_open = |cause| prometheus::value(&m, "moat_fail_open_total", &[("cause", cause)]);
    assert_eq!(
        (
            fail_open("panic"),
            fail_open("time_budget"),
            fail_open("body_read")
        ),
        (2.0, 1.0, 0.0)
    );
    assert_eq!(requests(&m, "allow", "fail_open"), 3.0);
    assert_eq!(requests(&m, "allow", "clean"), 2.0);
    assert_eq!(prometheus::value(&m, "moat_geoip_lookups_total", &[]), 5.0);
    assert_eq!(prometheus::value(&m, "moat_geoip_misses_total", &[]), 1.0);
}

#[test]
fn lua_forwarders_of_all_workers_count_into_the_shared_metrics() {
    let ch = moat_e2e::clickhouse::ClickHouse::start();
    ch.apply_schema("lua_metrics");
    let backend = Backend::start();
    let config = format!(
        "init_by_lua_block {{
        require(\"moat\").init{{ lib = \"LIBMOAT\", clickhouse = \"{} database=lua_metrics interval=200ms\" }}
    }}
    init_worker_by_lua_block {{ require(\"moat\").init_worker() }}
    exit_worker_by_lua_block {{ require(\"moat\").exit_worker() }}
    log_by_lua_block {{ require(\"moat\").log() }}
    {LUA_CONFIG}",
        ch.url()
    );
    let nginx = Nginx::start_with_workers(Adapter::Lua, &config, &backend, 3);
    let (_, sent) = all_rows_sent(nginx.port, 2);
    assert_eq!(
        ch.number("SELECT count() FROM lua_metrics.events") as f64,
        sent
    );
}
