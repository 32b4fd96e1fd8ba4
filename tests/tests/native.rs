//! End to end through Debian's nginx with the native module `ngx_http_moat_module.so`.

use std::process::Command;
use std::thread;
use std::time::Duration;

use moat_e2e::*;

const SERVER: &str = r#"
    server {
        listen 127.0.0.1:PORT;
        access_log access.log moat;
        client_body_buffer_size 16k;
        client_max_body_size 8m;
        moat on;
        proxy_set_header X-Moat-Action $moat_action;
        proxy_set_header X-Moat-Score $moat_score;
        location / { proxy_pass http://127.0.0.1:BACKEND; }
        location /off/ { moat off; proxy_pass http://127.0.0.1:BACKEND; }
        location /detect/ { moat detect; proxy_pass http://127.0.0.1:BACKEND; }
        location /satisfy/ {
            satisfy any;
            allow 127.0.0.1;
            deny all;
            proxy_pass http://127.0.0.1:BACKEND;
        }
        location /big/ {
            moat_time_budget 1s;
            proxy_pass http://127.0.0.1:BACKEND;
        }
        location /strict/ {
            moat_body_limit 1k;
            moat_body_limit_action reject;
            proxy_pass http://127.0.0.1:BACKEND;
        }
    }
"#;

fn start() -> (Nginx, Backend) {
    let backend = Backend::start();
    let nginx = Nginx::start(Adapter::Native, SERVER, &backend);
    (nginx, backend)
}

#[test]
fn benign_requests_pass_with_the_body_intact_at_the_backend() {
    let (nginx, backend) = start();
    for case in benign_cases() {
        let resp = case.send(nginx.port);
        assert_eq!(
            resp.status,
            200,
            "{} was not let through: {}",
            case.name,
            nginx.error_log()
        );
        assert_eq!(
            resp.body, case.body,
            "{}: body changed on the way",
            case.name
        );
    }
    let seen = backend.received();
    assert_eq!(seen.len(), benign_cases().len());
    assert!(seen
        .iter()
        .all(|r| header_of(r, "x-moat-action") == Some("allow")));
}

#[test]
fn attacks_are_blocked_wherever_they_hide() {
    let (nginx, backend) = start();
    for case in attack_cases() {
        let resp = case.send(nginx.port);
        assert_eq!(resp.status, 403, "{} was not blocked", case.name);
    }
    assert!(
        backend.received().is_empty(),
        "a blocked request reached the backend"
    );
    let log = nginx.error_log();
    for field in ["[id \"", "[msg \"", "[data \"", "[uri \"", "[unique_id \""] {
        assert!(log.contains(field), "error log lacks {field}: {log}");
    }
    // The id is nginx's `$request_id` (32 hex digits), fetched when the line is written.
    for id in log.split("[unique_id \"").skip(1) {
        let id = &id[..id.find('"').unwrap_or(0)];
        assert!(
            id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit()),
            "unique_id {id:?} is not a $request_id: {log}"
        );
    }
    assert!(log.contains("Moat: Access denied with code 403 (phase 2)"));
}

#[test]
fn a_one_megabyte_body_spooled_to_a_file_is_inspected_and_forwarded() {
    let (nginx, backend) = start();
    let mut body = b"data=".to_vec();
    body.extend(std::iter::repeat_n(b'a', 1_000_000));
    let resp = request(
        nginx.port,
        "POST",
        "/big/1",
        &[("Content-Type", "application/x-www-form-urlencoded")],
        &body,
    );
    assert_eq!(resp.status, 200, "{}", nginx.error_log());
    assert_eq!(backend.received_at("/big/1")[0].body, body);
    assert!(
        nginx.error_log().contains("buffered to a temporary file"),
        "the body was expected to be spooled to a file"
    );
    body.extend_from_slice(b"&q=1%27+UNION+SELECT+password+FROM+users--");
    let resp = request(
        nginx.port,
        "POST",
        "/big/2",
        &[("Content-Type", "application/x-www-form-urlencoded")],
        &body,
    );
    assert_eq!(
        resp.status, 403,
        "an attack at the end of a spooled body was missed"
    );
}

#[test]
fn chunked_bodies_are_inspected_and_forwarded() {
    let (nginx, backend) = start();
    let body = b"name=alice&city=Paris&note=hello+world".repeat(50);
    let mut c = Client::connect(nginx.port);
    let mut raw = build_request(
        "POST",
        "/chunked",
        &[
            ("Content-Type", "application/x-www-form-urlencoded"),
            ("Transfer-Encoding", "chunked"),
        ],
        b"",
    );
    raw.extend(chunked(&body, 100));
    c.send(&raw);
    assert_eq!(c.read_response(false).unwrap().status, 200);
    assert_eq!(backend.received_at("/chunked")[0].body, body);
    let attack = b"a=1&b=%3Cscript%3Ealert(1)%3C%2Fscript%3E";
    let mut raw = build_request(
        "POST",
        "/chunked2",
        &[
            ("Content-Type", "application/x-www-form-urlencoded"),
            ("Transfer-Encoding", "chunked"),
        ],
        b"",
    );
    raw.extend(chunked(attack, 7));
    c.send(&raw);
    assert_eq!(c.read_response(false).unwrap().status, 403);
}

#[test]
fn a_payload_split_across_slow_packets_is_caught() {
    let (nginx, backend) = start();
    let body = b"user=bob&comment=nice+post&sig=1%27+OR+%271%27%3D%271";
    let mut c = Client::connect(nginx.port);
    c.send(&build_request(
        "POST",
        "/slow",
        &[
            ("Content-Type", "application/x-www-form-urlencoded"),
            ("Content-Length", &body.len().to_string()),
        ],
        b"",
    ));
    for piece in body.chunks(9) {
        thread::sleep(Duration::from_millis(30));
        c.send(piece);
    }
    assert_eq!(c.read_response(false).unwrap().status, 403);
    assert!(backend.received_at("/slow").is_empty());
}

#[test]
fn the_connection_stays_alive_after_a_block() {
    let (nginx, _backend) = start();
    let mut c = Client::connect(nginx.port);
    let blocked = c.request(
        "POST",
        "/a",
        &[("Content-Type", "application/x-www-form-urlencoded")],
        b"q=%3Cscript%3Ealert(1)%3C%2Fscript%3E",
    );
    assert_eq!(blocked.status, 403);
    assert_ne!(blocked.header("connection"), Some("close"));
    let next = c.request("GET", "/b?page=1", &[], b"");
    assert_eq!(
        next.status, 200,
        "the keep-alive connection did not serve the next request"
    );
}

#[test]
fn satisfy_any_cannot_bypass_the_waf() {
    let (nginx, backend) = start();
    let resp = request(
        nginx.port,
        "GET",
        "/satisfy/x?q=1%27%20OR%20%271%27%3D%271",
        &[],
        b"",
    );
    assert_eq!(resp.status, 403);
    assert!(backend.received_at("/satisfy/").is_empty());
    assert_eq!(
        request(nginx.port, "GET", "/satisfy/ok", &[], b"").status,
        200
    );
}

#[test]
fn moat_off_location_is_not_inspected() {
    let (nginx, backend) = start();
    let resp = request(
        nginx.port,
        "GET",
        "/off/x?q=%3Cscript%3Ealert(1)%3C%2Fscript%3E",
        &[],
        b"",
    );
    assert_eq!(resp.status, 200);
    let seen = &backend.received_at("/off/")[0];
    assert_eq!(header_of(seen, "x-moat-action"), None, "nothing was judged");
}

#[test]
fn detect_mode_logs_but_lets_the_request_through() {
    let (nginx, backend) = start();
    let resp = request(
        nginx.port,
        "GET",
        "/detect/x?q=%3Cscript%3Ealert(1)%3C%2Fscript%3E",
        &[],
        b"",
    );
    assert_eq!(resp.status, 200);
    assert_eq!(
        header_of(&backend.received_at("/detect/")[0], "x-moat-action"),
        Some("log")
    );
    let log = nginx.error_log();
    assert!(log.contains("Moat: Warning."), "{log}");
    assert!(log.contains("[id \"100200\"]"), "{log}");
}

#[test]
fn verdict_variables_reach_the_access_log() {
    let (nginx, _backend) = start();
    request(
        nginx.port,
        "GET",
        "/v?q=1%27%20OR%20%271%27%3D%271",
        &[],
        b"",
    );
    request(nginx.port, "GET", "/v?page=3", &[], b"");
    let lines = nginx.wait_access_lines(2);
    assert!(
        lines[0].contains("403 action=block score=5 ids=100100"),
        "{lines:?}"
    );
    assert!(
        lines[1].contains("200 action=allow score=0 ids="),
        "{lines:?}"
    );
}

#[test]
fn an_oversized_body_is_rejected_where_configured() {
    let (nginx, backend) = start();
    let body = vec![b'x'; 4096];
    let resp = request(
        nginx.port,
        "POST",
        "/strict/up",
        &[("Content-Type", "text/plain")],
        &body,
    );
    assert_eq!(resp.status, 413);
    assert!(backend.received_at("/strict/").is_empty());
    assert!(nginx.error_log().contains("[id \"100605\"]"));
    let resp = request(
        nginx.port,
        "POST",
        "/other",
        &[("Content-Type", "text/plain")],
        &body,
    );
    assert_eq!(resp.status, 200, "the default limit is far above 4 KB");
}

#[test]
fn a_panic_inside_the_engine_lets_the_request_through_and_the_worker_survives() {
    let backend = Backend::start();
    let nginx = Nginx::start_with_env(
        Adapter::Native,
        SERVER,
        &backend,
        &[("MOAT_TEST_FAULTS", "1")],
    );
    let workers = nginx.worker_pids();
    let resp = request(
        nginx.port,
        "GET",
        "/p?q=%3Cscript%3Ealert(1)%3C%2Fscript%3E",
        &[("X-Moat-Test-Fault", "panic")],
        b"",
    );
    assert_eq!(resp.status, 200, "fail open: the request must pass");
    assert_eq!(request(nginx.port, "GET", "/after", &[], b"").status, 200);
    assert_eq!(nginx.worker_pids(), workers, "the worker was replaced");
    let log = nginx.error_log();
    assert!(log.contains("Inspection incomplete (panic"), "{log}");
    assert!(!log.contains("exited on signal"), "{log}");
}

#[test]
fn an_overrun_time_budget_lets_the_request_through() {
    let backend = Backend::start();
    let nginx = Nginx::start_with_env(
        Adapter::Native,
        SERVER,
        &backend,
        &[("MOAT_TEST_FAULTS", "1")],
    );
    let resp = request(
        nginx.port,
        "GET",
        "/t?q=%3Cscript%3Ealert(1)%3C%2Fscript%3E",
        &[("X-Moat-Test-Fault", "slow")],
        b"",
    );
    assert_eq!(resp.status, 200);
    assert!(nginx
        .error_log()
        .contains("Inspection incomplete (time budget"));
}

#[test]
fn http2_requests_with_bodies_are_inspected() {
    let backend = Backend::start();
    let conf = SERVER.replace("listen 127.0.0.1:PORT;", "listen 127.0.0.1:PORT http2;");
    let nginx = Nginx::start(Adapter::Native, &conf, &backend);
    let curl = |data: &str| {
        let out = Command::new("curl")
            .args([
                "-s",
                "-o",
                "/dev/null",
                "-w",
                "%{http_code}",
                "--http2-prior-knowledge",
                "--data-binary",
                data,
            ])
            .arg(format!("http://127.0.0.1:{}/h2", nginx.port))
            .output()
            .expect("curl");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    assert_eq!(curl("name=alice&note=hello"), "200");
    assert_eq!(backend.received_at("/h2")[0].body, b"name=alice&note=hello");
    assert_eq!(curl("q=%3Cscript%3Ealert(1)%3C%2Fscript%3E"), "403");
}

#[test]
fn nginx_t_rejects_bad_directives_with_file_line_and_reason() {
    for (directive, reason) in [
        ("moat block;", "invalid mode \"block\""),
        ("moat_threshold x;", "invalid anomaly threshold \"x\""),
        ("moat_body_limit lots;", "invalid size \"lots\""),
        (
            "moat_body_limit_action maybe;",
            "invalid body limit action \"maybe\"",
        ),
        ("moat_time_budget 0;", "invalid time \"0\""),
        ("moat_detectors maybe;", "invalid switch \"maybe\""),
        ("moat on; moat off;", "duplicate"),
    ] {
        let conf =
            format!("server {{\n listen 127.0.0.1:PORT;\n {directive}\n location / {{ }}\n}}");
        let (ok, out, path) = nginx_test_config(Adapter::Native, &conf);
        assert!(!ok, "nginx -t accepted `{directive}`");
        assert!(out.contains(reason), "`{directive}`: {out}");
        assert!(
            out.contains(&format!("{}:", path.display())),
            "no file:line for `{directive}`: {out}"
        );
    }
    let (ok, out, _) = nginx_test_config(
        Adapter::Native,
        "server { listen 127.0.0.1:PORT; moat detect; moat_threshold 10; }",
    );
    assert!(ok, "a valid configuration was rejected: {out}");
}

fn header_of<'a>(r: &'a Received, name: &str) -> Option<&'a str> {
    r.headers
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

/// A SecAction that always denies with 418 (rule 1), and a rule that denies with the location's
/// `moat_block_status` whenever the request has an argument (rule 2; the negated operator
/// matches every argument).
const ALWAYS_DENY: &str = "SecAction \"id:1,phase:1,deny,status:418,msg:'always'\"\n";
const DENY_ARGS: &str = "SecRule ARGS \"!@rx x\" \"id:2,phase:2,deny,msg:'any argument'\"\n";

/// Rule files in a fresh directory, removed when dropped.
struct RuleFiles {
    dir: std::path::PathBuf,
    paths: Vec<std::path::PathBuf>,
}

impl Drop for RuleFiles {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl std::ops::Index<usize> for RuleFiles {
    type Output = std::path::PathBuf;

    fn index(&self, i: usize) -> &std::path::PathBuf {
        &self.paths[i]
    }
}

/// Writes rule files `(name, text)` into a fresh directory.
fn rule_files(files: &[(&str, &str)]) -> RuleFiles {
    let dir = temp_dir("rules");
    let paths = files
        .iter()
        .map(|(name, text)| {
            let path = dir.join(name);
            std::fs::write(&path, text).unwrap();
            path
        })
        .collect();
    RuleFiles { dir, paths }
}

/// `path` relative to the directory of an nginx.conf in another temp directory.
fn relative_to_conf_dir(path: &std::path::Path) -> String {
    let parent = path
        .parent()
        .unwrap()
        .file_name()
        .unwrap()
        .to_string_lossy();
    let name = path.file_name().unwrap().to_string_lossy();
    format!("../{parent}/{name}")
}

#[test]
fn seclang_rules_block_with_their_status_and_removals_and_moat_off_apply() {
    let files = rule_files(&[("deny.conf", ALWAYS_DENY), ("args.conf", DENY_ARGS)]);
    let conf = format!(
        r#"
    server {{
        listen 127.0.0.1:PORT;
        moat on;
        moat_rules_file {deny};
        location / {{ proxy_pass http://127.0.0.1:BACKEND; }}
        location /removed/ {{ moat_rules_remove_by_id 1; proxy_pass http://127.0.0.1:BACKEND; }}
        location /off/ {{ moat off; proxy_pass http://127.0.0.1:BACKEND; }}
        location /args/ {{
            moat_rules_file {args};
            moat_block_status 451;
            proxy_pass http://127.0.0.1:BACKEND;
        }}
    }}
"#,
        deny = files[0].display(),
        args = relative_to_conf_dir(&files[1]),
    );
    let backend = Backend::start();
    let nginx = Nginx::start(Adapter::Native, &conf, &backend);
    let get = |uri: &str| request(nginx.port, "GET", uri, &[], b"").status;
    assert_eq!(get("/a"), 418, "{}", nginx.error_log());
    let log = nginx.error_log();
    assert!(log.contains("[id \"1\"]"), "{log}");
    assert!(log.contains("Access denied with code 418"), "{log}");
    assert_eq!(get("/removed/a"), 200, "rule 1 is removed there");
    assert_eq!(get("/off/a"), 200, "moat off: not inspected");
    assert_eq!(get("/args/a"), 200, "own rules replace the inherited ones");
    assert_eq!(get("/args/a?q=1"), 451, "no status: moat_block_status");
    assert!(nginx.error_log().contains("[id \"2\"]"));
    assert_eq!(backend.received().len(), 3);
}

/// With `moat_detectors off` the rules judge alone: an injection only the built-in detectors
/// flag passes, the rules still block; the server's detectors stay on elsewhere.
#[test]
fn moat_detectors_off_leaves_the_judging_to_the_rules() {
    let files = rule_files(&[("args.conf", DENY_ARGS)]);
    let conf = format!(
        r#"
    server {{
        listen 127.0.0.1:PORT;
        moat on;
        location / {{ proxy_pass http://127.0.0.1:BACKEND; }}
        location /rules-only/ {{
            moat_detectors off;
            moat_rules_file {args};
            proxy_pass http://127.0.0.1:BACKEND;
        }}
    }}
"#,
        args = files[0].display(),
    );
    let backend = Backend::start();
    let nginx = Nginx::start(Adapter::Native, &conf, &backend);
    let sqli_in_header = |uri: &str| {
        let headers = [("Referer", "1' UNION SELECT username, password FROM users--")];
        request(nginx.port, "GET", uri, &headers, b"").status
    };
    assert_eq!(sqli_in_header("/a"), 403, "{}", nginx.error_log());
    assert_eq!(
        sqli_in_header("/rules-only/a"),
        200,
        "{}",
        nginx.error_log()
    );
    assert_eq!(
        sqli_in_header("/rules-only/a?q=1"),
        403,
        "the rules still judge"
    );
    assert_eq!(backend.received().len(), 1);
}

#[test]
fn removals_accumulate_from_server_to_location() {
    let files = rule_files(&[("both.conf", &format!("{ALWAYS_DENY}{DENY_ARGS}"))]);
    let conf = format!(
        r#"
    server {{
        listen 127.0.0.1:PORT;
        moat on;
        moat_rules_file {rules};
        moat_rules_remove_by_id 1;
        location / {{ proxy_pass http://127.0.0.1:BACKEND; }}
        location /both/ {{ moat_rules_remove_by_id 2-5; proxy_pass http://127.0.0.1:BACKEND; }}
    }}
"#,
        rules = files[0].display(),
    );
    let backend = Backend::start();
    let nginx = Nginx::start(Adapter::Native, &conf, &backend);
    let get = |uri: &str| request(nginx.port, "GET", uri, &[], b"").status;
    assert_eq!(get("/a"), 200, "{}", nginx.error_log());
    assert_eq!(
        get("/a?q=1"),
        403,
        "rule 2 still applies at the server level"
    );
    assert_eq!(
        get("/both/a?q=1"),
        200,
        "the location removes 2 as well as 1"
    );
}

/// A built-in detector's rule that misfires on one application can be switched off there by id,
/// with or without a rules file, while the other detectors and locations keep it.
#[test]
fn built_in_detector_rules_are_removed_by_id() {
    let files = rule_files(&[("deny.conf", DENY_ARGS)]);
    let conf = format!(
        r#"
    server {{
        listen 127.0.0.1:PORT;
        moat on;
        location / {{ proxy_pass http://127.0.0.1:BACKEND; }}
        location /shell/ {{ moat_rules_remove_by_id 100800; proxy_pass http://127.0.0.1:BACKEND; }}
        location /ruled/ {{
            moat_rules_file {rules};
            moat_rules_remove_by_id 100800-100899 2;
            proxy_pass http://127.0.0.1:BACKEND;
        }}
    }}
"#,
        rules = files[0].display(),
    );
    let backend = Backend::start();
    let nginx = Nginx::start(Adapter::Native, &conf, &backend);
    let get = |uri: &str| request(nginx.port, "GET", uri, &[], b"").status;
    let shell = "?host=127.0.0.1%3Bcat%20%2Fetc%2Fhostname";
    assert_eq!(get(&format!("/a{shell}")), 403, "{}", nginx.error_log());
    assert_eq!(
        get(&format!("/shell/a{shell}")),
        200,
        "{}",
        nginx.error_log()
    );
    assert_eq!(
        get(&format!("/ruled/a{shell}")),
        200,
        "{}",
        nginx.error_log()
    );
    assert_eq!(
        get("/shell/a?q=1%27%20OR%20%271%27%3D%271"),
        403,
        "SQL injection is still blocked where only 100800 is removed"
    );
}

#[test]
fn a_rules_file_used_by_twenty_locations_is_loaded_once() {
    let files = rule_files(&[("deny.conf", ALWAYS_DENY)]);
    let locations: String = (0..20)
        .map(|i| {
            format!(
                "location /l{i}/ {{ moat_rules_file {}; proxy_pass http://127.0.0.1:BACKEND; }}\n",
                files[0].display()
            )
        })
        .collect();
    let conf = format!(
        "server {{\n listen 127.0.0.1:PORT;\n moat on;\n {locations}\n location / {{ proxy_pass http://127.0.0.1:BACKEND; }}\n}}"
    );
    let backend = Backend::start();
    let nginx = Nginx::start(Adapter::Native, &conf, &backend);
    for i in [0, 7, 19] {
        let uri = format!("/l{i}/x");
        assert_eq!(request(nginx.port, "GET", &uri, &[], b"").status, 418);
    }
    assert_eq!(request(nginx.port, "GET", "/x", &[], b"").status, 200);
    let log = nginx.error_log();
    let loads = log.lines().filter(|l| l.contains("moat: loaded")).count();
    assert_eq!(loads, 1, "{log}");
    assert!(log.contains("moat: loaded 1 rules from"), "{log}");
}

#[test]
fn nginx_t_rejects_bad_rules_files_and_ids() {
    let files = rule_files(&[
        ("good.conf", ALWAYS_DENY),
        (
            "bad.conf",
            "# a comment\nSecRule ARGS \"@nosuchop x\" \"id:3,phase:2,deny\"\n",
        ),
    ]);
    let bad = files[1].display().to_string();
    let missing = files[0]
        .with_file_name("missing.conf")
        .display()
        .to_string();
    for (directive, expected) in [
        (
            format!("moat_rules_file {bad};"),
            vec![format!("{bad}:2:"), "nosuchop".to_string()],
        ),
        (
            format!("moat_rules_file {missing};"),
            vec![format!("cannot open rules file \"{missing}\"")],
        ),
        (
            "moat_rules_remove_by_id 12x;".to_string(),
            vec!["invalid rule id".to_string()],
        ),
        (
            "moat_rules_remove_by_id 9-3;".to_string(),
            vec!["descending id range".to_string()],
        ),
    ] {
        let conf = format!(
            "server {{\n listen 127.0.0.1:PORT;\n moat on;\n location / {{\n {directive}\n }}\n}}"
        );
        let (ok, out, path) = nginx_test_config(Adapter::Native, &conf);
        assert!(!ok, "nginx -t accepted `{directive}`");
        for text in expected {
            assert!(out.contains(&text), "`{directive}`: {out}");
        }
        assert!(
            out.contains(&format!("in {}:", path.display())),
            "no nginx.conf file:line for `{directive}`: {out}"
        );
    }
    let good = relative_to_conf_dir(&files[0]);
    let conf = format!(
        "server {{ listen 127.0.0.1:PORT; moat on; moat_rules_file {good}; moat_rules_remove_by_id 1 920000-920999,942100; }}"
    );
    let (ok, out, _) = nginx_test_config(Adapter::Native, &conf);
    assert!(ok, "a valid configuration was rejected: {out}");
}

/// The OWASP CRS directory: `$MOAT_CRS_DIR`, `/work/shared/crs` or `<repo>/../shared/crs`.
fn crs_dir() -> Option<std::path::PathBuf> {
    let candidates = [
        std::env::var_os("MOAT_CRS_DIR").map(Into::into),
        Some("/work/shared/crs".into()),
        Some(repo_root().join("../shared/crs")),
    ];
    candidates
        .into_iter()
        .flatten()
        .find(|d: &std::path::PathBuf| d.join("crs-setup.conf.example").exists())
}

#[test]
fn nginx_starts_with_the_owasp_crs_loaded() {
    let Some(crs) = crs_dir() else {
        println!("skipped: no OWASP CRS found (set MOAT_CRS_DIR to a CRS checkout)");
        return;
    };
    let main = rule_files(&[(
        "main.conf",
        &format!(
            "Include {crs}/crs-setup.conf.example\nInclude {crs}/rules/*.conf\n",
            crs = crs.display()
        ),
    )]);
    let conf = format!(
        "server {{\n listen 127.0.0.1:PORT;\n moat detect;\n moat_rules_file {};\n location / {{ proxy_pass http://127.0.0.1:BACKEND; }}\n location /lax/ {{ moat_rules_remove_by_id 920000-920999; proxy_pass http://127.0.0.1:BACKEND; }}\n}}",
        main[0].display()
    );
    let backend = Backend::start();
    let nginx = Nginx::start(Adapter::Native, &conf, &backend);
    let resp = request(nginx.port, "GET", "/index.html?page=2", &[], b"");
    assert_eq!(resp.status, 200, "detect mode lets requests through");
    let log = nginx.error_log();
    let loaded = log
        .lines()
        .find(|l| l.contains("moat: loaded"))
        .unwrap_or_default();
    assert!(loaded.contains("rules from"), "{log}");
    println!("{loaded}");
}
