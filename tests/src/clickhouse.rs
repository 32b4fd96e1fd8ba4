//! A private ClickHouse server for the end-to-end tests: Debian's `clickhouse-server` on a free
//! loopback port with its own data directory, started and stopped by the test (never the
//! system's server), and a small HTTP client for queries.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use crate::{free_port, temp_dir};

/// The server binary installed by scripts/install-deps.sh.
pub const SERVER: &str = "/usr/sbin/clickhouse-server";

/// A running (or deliberately stopped) ClickHouse server.
pub struct ClickHouse {
    /// HTTP port on 127.0.0.1.
    pub port: u16,
    dir: PathBuf,
    child: Option<Child>,
}

impl ClickHouse {
    /// Starts a fresh server and waits until it answers `/ping`.
    pub fn start() -> ClickHouse {
        assert!(
            std::path::Path::new(SERVER).exists(),
            "{SERVER} is missing: run scripts/install-deps.sh (package clickhouse-server)"
        );
        let dir = temp_dir("clickhouse");
        let port = free_port();
        let d = dir.display();
        let config = format!(
            r#"<?xml version="1.0"?>
<yandex>
  <logger><level>warning</level><log>{d}/logs/server.log</log><errorlog>{d}/logs/server.err.log</errorlog></logger>
  <listen_host>127.0.0.1</listen_host>
  <http_port>{port}</http_port>
  <path>{d}/data/</path>
  <tmp_path>{d}/tmp/</tmp_path>
  <mark_cache_size>67108864</mark_cache_size>
  <users_config>config.xml</users_config>
  <profiles><default><allow_experimental_low_cardinality_type>1</allow_experimental_low_cardinality_type></default></profiles>
  <users><default><password/><networks><ip>127.0.0.1</ip></networks><profile>default</profile><quota>default</quota></default></users>
  <quotas><default/></quotas>
</yandex>
"#
        );
        std::fs::write(dir.join("config.xml"), config).unwrap();
        let mut ch = ClickHouse {
            port,
            dir,
            child: None,
        };
        ch.restart();
        ch
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Starts a server for the whole test process: it is started from a thread that never ends,
    /// so it lives until the process exits and then dies with it.
    pub fn start_for_process() -> ClickHouse {
        let (tx, rx) = std::sync::mpsc::channel();
        thread::spawn(move || {
            tx.send(ClickHouse::start()).expect("hand over the server");
            loop {
                thread::park();
            }
        });
        rx.recv().expect("clickhouse-server started")
    }

    /// Starts the server again (same port and data) after [`ClickHouse::kill`]. The server
    /// is killed when the calling thread ends.
    pub fn restart(&mut self) {
        let mut cmd = Command::new(SERVER);
        cmd.arg(format!(
            "--config-file={}",
            self.dir.join("config.xml").display()
        ))
        .current_dir(&self.dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
        // SAFETY: between fork and exec only prctl runs, which is async-signal-safe.
        unsafe {
            cmd.pre_exec(|| {
                // The server dies with the thread that started it, even if the test process
                // is killed or a static instance is never dropped.
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        let child = cmd.spawn().expect("start clickhouse-server");
        self.child = Some(child);
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(30) {
            if self.get("/ping").is_some_and(|b| b.starts_with("Ok.")) {
                return;
            }
            thread::sleep(Duration::from_millis(50));
        }
        panic!(
            "clickhouse-server did not answer: {}",
            std::fs::read_to_string(self.dir.join("logs/server.err.log")).unwrap_or_default()
        );
    }

    /// Kills the server at once (SIGKILL), as a crash or network loss would look.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    fn get(&self, path: &str) -> Option<String> {
        let mut s = TcpStream::connect(("127.0.0.1", self.port)).ok()?;
        s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
        write!(s, "GET {path} HTTP/1.0\r\n\r\n").ok()?;
        let mut out = String::new();
        s.read_to_string(&mut out).ok()?;
        out.split_once("\r\n\r\n").map(|(_, b)| b.to_string())
    }

    /// Runs one statement; panics with ClickHouse's message on an error.
    pub fn query(&self, sql: &str) -> String {
        let mut s = TcpStream::connect(("127.0.0.1", self.port)).expect("connect to ClickHouse");
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        write!(
            s,
            "POST / HTTP/1.0\r\nContent-Length: {}\r\n\r\n{sql}",
            sql.len()
        )
        .unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        let (head, body) = out.split_once("\r\n\r\n").expect("HTTP response");
        assert!(
            head.starts_with("HTTP/1.0 200") || head.starts_with("HTTP/1.1 200"),
            "{sql}\n{body}"
        );
        body.to_string()
    }

    /// A query's single number (e.g. `SELECT count() …`).
    pub fn number(&self, sql: &str) -> u64 {
        self.query(sql).trim().parse().unwrap_or(0)
    }

    /// A query's rows as JSON objects (the query must not name a format).
    pub fn rows(&self, sql: &str) -> Vec<serde_json::Value> {
        self.query(&format!("{sql} FORMAT JSONEachRow"))
            .lines()
            .map(|l| serde_json::from_str(l).expect("JSON row"))
            .collect()
    }

    /// Polls `sql` until it returns at least `n`, for at most `limit`; returns the last value.
    pub fn wait_number(&self, sql: &str, n: u64, limit: Duration) -> u64 {
        let start = Instant::now();
        loop {
            let got = self.number(sql);
            if got >= n || start.elapsed() > limit {
                return got;
            }
            thread::sleep(Duration::from_millis(100));
        }
    }

    /// Creates Moat's schema in `database` with `moat schema` (one at a time per test process:
    /// concurrent DDL on one 18.16 server proved unreliable).
    pub fn apply_schema(&self, database: &str) {
        static DDL: std::sync::Mutex<()> = std::sync::Mutex::new(());
        let _one_at_a_time = DDL.lock().unwrap_or_else(|p| p.into_inner());
        let out = Command::new(crate::artifact("moat"))
            .args(["schema", &self.url(), &format!("database={database}")])
            .output()
            .expect("run moat schema");
        assert!(
            out.status.success(),
            "moat schema failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Drop for ClickHouse {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
