//! The Grafana dashboard (`dashboards/moat.json`) works against the real systems: every
//! Prometheus expression names only metrics a real nginx exposes and evaluates to data in a
//! real Prometheus (Debian's `prometheus`) scraping that nginx; every ClickHouse query runs
//! against a real ClickHouse holding events that nginx sent, and returns rows.

use std::collections::HashSet;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use moat_e2e::clickhouse::ClickHouse;
use moat_e2e::{
    attack_cases, benign_cases, free_port, prometheus, repo_root, request, temp_dir, Adapter,
    Backend, Nginx,
};
use serde_json::Value;

const PROMETHEUS: &str = "/usr/bin/prometheus";

fn dashboard() -> Value {
    let path = repo_root().join("dashboards/moat.json");
    let text = std::fs::read_to_string(&path).expect("dashboards/moat.json");
    serde_json::from_str(&text).expect("the dashboard is valid JSON")
}

/// Every query target of every panel.
fn targets(d: &Value) -> Vec<Value> {
    d["panels"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| p["targets"].as_array().cloned().unwrap_or_default())
        .collect()
}

/// PromQL expressions: panel targets and the query variables.
fn prom_queries(d: &Value) -> Vec<String> {
    let mut out: Vec<String> = targets(d)
        .iter()
        .filter_map(|t| t["expr"].as_str().map(String::from))
        .collect();
    for var in d["templating"]["list"].as_array().unwrap() {
        if let Some(def) = var["definition"].as_str() {
            out.push(def.to_string());
        }
    }
    out
}

fn sql_queries(d: &Value) -> Vec<String> {
    targets(d)
        .iter()
        .filter_map(|t| t["rawSql"].as_str().map(String::from))
        .collect()
}

/// Identifiers in a PromQL expression that name Moat metrics.
fn metric_names(expr: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut word = String::new();
    let mut in_string = false;
    for c in expr.chars().chain(std::iter::once(' ')) {
        if c == '"' {
            in_string = !in_string;
        }
        if !in_string && (c.is_ascii_alphanumeric() || c == '_' || c == ':') {
            word.push(c);
        } else {
            if word.starts_with("moat_") {
                names.push(word.clone());
            }
            word.clear();
        }
    }
    names
}

#[test]
fn dashboard_is_well_formed() {
    let d = dashboard();
    let inputs: HashSet<String> = d["__inputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| format!("${{{}}}", i["name"].as_str().unwrap()))
        .collect();
    let mut ids = HashSet::new();
    for p in d["panels"].as_array().unwrap() {
        assert!(ids.insert(p["id"].as_u64().unwrap()), "duplicate panel id");
        assert!(p["title"].as_str().is_some_and(|t| !t.is_empty()));
        for t in p["targets"].as_array().cloned().unwrap_or_default() {
            let uid = t["datasource"]["uid"].as_str().unwrap_or("");
            assert!(inputs.contains(uid), "{}: datasource {uid}", p["title"]);
            assert!(
                t["expr"].is_string() != t["rawSql"].is_string(),
                "{}: a target has either a PromQL or an SQL query",
                p["title"]
            );
        }
    }
    assert!(prom_queries(&d).len() >= 10);
    assert!(sql_queries(&d).len() >= 5);
    assert_eq!(
        metric_names(r#"sum(rate(moat_requests_total{action="moat_x"}[1m])) / moat_a_b"#),
        ["moat_requests_total", "moat_a_b"]
    );
}

/// A private Prometheus scraping one target every second; killed on drop.
struct Prometheus {
    port: u16,
    child: Child,
    dir: PathBuf,
}

impl Prometheus {
    fn start(target_port: u16) -> Prometheus {
        assert!(
            std::path::Path::new(PROMETHEUS).exists(),
            "{PROMETHEUS} is missing: run scripts/install-deps.sh (package prometheus)"
        );
        let dir = temp_dir("prometheus");
        let port = free_port();
        std::fs::write(
            dir.join("prometheus.yml"),
            format!(
                "global: {{ scrape_interval: 1s, evaluation_interval: 1s }}
scrape_configs:
  - job_name: moat
    metrics_path: /metrics
    static_configs: [ {{ targets: ['127.0.0.1:{target_port}'] }} ]
"
            ),
        )
        .unwrap();
        let child = Command::new(PROMETHEUS)
            .arg(format!(
                "--config.file={}",
                dir.join("prometheus.yml").display()
            ))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.join("prometheus.log")).unwrap())
            .spawn()
            .expect("start prometheus");
        Prometheus { port, child, dir }
    }

    /// Runs an instant query; returns the `data.result` array, panicking on a query error.
    fn query(&self, expr: &str) -> Vec<Value> {
        self.try_query(expr)
            .unwrap_or_else(|e| panic!("{expr}: {e}"))
    }

    /// Runs an instant query; an answer that is not a successful JSON query result (such as
    /// the `503 Service Unavailable` Prometheus gives while it starts) is an error.
    fn try_query(&self, expr: &str) -> Result<Vec<Value>, String> {
        let mut s = TcpStream::connect(("127.0.0.1", self.port)).map_err(|e| e.to_string())?;
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        write!(
            s,
            "GET /api/v1/query?query={} HTTP/1.0\r\nHost: localhost\r\n\r\n",
            url_encode(expr)
        )
        .map_err(|e| e.to_string())?;
        let mut out = String::new();
        s.read_to_string(&mut out).map_err(|e| e.to_string())?;
        let (_, body) = out.split_once("\r\n\r\n").ok_or("no HTTP response")?;
        let v: Value = serde_json::from_str(body).map_err(|e| format!("{e}: {out}"))?;
        if v["status"] != "success" {
            return Err(format!("query failed: {body}"));
        }
        Ok(v["data"]["result"].as_array().cloned().unwrap_or_default())
    }

    /// Waits until a query returns data (Prometheus is up, ready and has scraped).
    fn wait_for(&self, expr: &str, limit: Duration) -> Vec<Value> {
        let start = Instant::now();
        loop {
            match self.try_query(expr) {
                Ok(result) if !result.is_empty() => return result,
                Ok(result) if start.elapsed() > limit => return result,
                Err(e) if start.elapsed() > limit => panic!(
                    "prometheus did not answer {expr}: {e}\n{}",
                    std::fs::read_to_string(self.dir.join("prometheus.log")).unwrap_or_default()
                ),
                _ => thread::sleep(Duration::from_millis(200)),
            }
        }
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn url_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Grafana's variables as the dashboard would fill them.
fn grafana_promql(expr: &str) -> String {
    expr.replace("$__rate_interval", "1m")
        .replace("$__range", "1h")
        .replace("$instance", ".*")
}

/// The ClickHouse plugin's macros and the dashboard's variables, as Grafana expands them.
fn grafana_sql(sql: &str, database: &str, from: u64, to: u64) -> String {
    let mut out = sql.replace("${database}", database);
    while let Some(start) = out.find("$__timeFilter(") {
        let open = start + "$__timeFilter(".len();
        let close = open + out[open..].find(')').expect("closing parenthesis");
        let column = out[open..close].trim().to_string();
        out.replace_range(
            start..=close,
            &format!("{column} >= toDateTime({from}) AND {column} <= toDateTime({to})"),
        );
    }
    out.replace("$__fromTime", &format!("toDateTime({from})"))
        .replace("$__toTime", &format!("toDateTime({to})"))
}

fn send_traffic(port: u16, rounds: usize) -> usize {
    let mut n = 0;
    for _ in 0..rounds {
        for c in benign_cases() {
            assert_eq!(c.send(port).status, 200, "{}", c.name);
            n += 1;
        }
        for c in attack_cases() {
            assert_eq!(c.send(port).status, 403, "{}", c.name);
            n += 1;
        }
    }
    n
}

#[test]
fn every_dashboard_query_runs_against_real_prometheus_and_clickhouse() {
    let d = dashboard();
    let ch = ClickHouse::start();
    ch.apply_schema("dash");
    let backend = Backend::start();
    let config = format!(
        "moat_log_clickhouse {} database=dash interval=200ms;
    server {{
        listen 127.0.0.1:PORT;
        location / {{ moat on; proxy_pass http://127.0.0.1:BACKEND; }}
        location = /metrics {{ moat_metrics; allow 127.0.0.1; deny all; }}
    }}",
        ch.url()
    );
    let nginx = Nginx::start_with_workers(Adapter::Native, &config, &backend, 2);

    // Names: only what the module exposes (every series of a real scrape).
    let scraped = request(nginx.port, "GET", "/metrics", &[], b"");
    let families = prometheus::parse(&String::from_utf8(scraped.body).unwrap());
    let exposed: HashSet<String> = prometheus::samples(&families)
        .into_iter()
        .map(|s| s.name)
        .collect();
    let queries = prom_queries(&d);
    for expr in &queries {
        let names = metric_names(expr);
        assert!(!names.is_empty(), "{expr} names no Moat metric");
        for name in names {
            assert!(exposed.contains(&name), "{expr}: {name} is not exposed");
        }
    }

    // Evaluation: a real Prometheus scrapes the real nginx, before and after traffic.
    let prom = Prometheus::start(nginx.port);
    assert!(!prom
        .wait_for("moat_build_info", Duration::from_secs(20))
        .is_empty());
    let sent = send_traffic(nginx.port, 3);
    let ready = prom.wait_for(
        &format!(
            "sum(moat_requests_total{{action=\"block\"}}) > 0 and on() sum(moat_clickhouse_rows_sent_total) >= {sent}"
        ),
        Duration::from_secs(20),
    );
    assert!(!ready.is_empty(), "Prometheus never saw the traffic");
    // A few more scrapes, so that rate() has points on both sides of the traffic.
    thread::sleep(Duration::from_secs(2));
    for expr in &queries {
        if expr.starts_with("label_values(") {
            continue;
        }
        let result = prom.query(&grafana_promql(expr));
        assert!(!result.is_empty(), "{expr} returned no data");
    }
    let blocked = prom.query(&grafana_promql(
        "sum(increase(moat_requests_total{instance=~\"$instance\",action=\"block\"}[$__range]))",
    ));
    assert!(
        blocked[0]["value"][1]
            .as_str()
            .unwrap()
            .parse::<f64>()
            .unwrap()
            > 0.0
    );

    // ClickHouse: every SQL query runs on the events nginx sent and returns rows.
    let got = ch.wait_number(
        "SELECT count() FROM dash.events",
        sent as u64,
        Duration::from_secs(15),
    );
    assert_eq!(got, sent as u64);
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    for sql in sql_queries(&d) {
        let expanded = grafana_sql(&sql, "dash", now - 3600, now + 60);
        assert!(!expanded.contains('$'), "unexpanded macro in {expanded}");
        let rows = ch.rows(&expanded);
        assert!(!rows.is_empty(), "no rows from {expanded}");
    }
}
