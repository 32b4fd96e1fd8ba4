//! End to end through Debian's nginx with lua-nginx-module and `lua/moat.lua` over `libmoat.so`.

use std::process::Command;

use moat_e2e::*;

const SERVER: &str = r#"
    server {
        listen 127.0.0.1:PORT;
        access_log access.log moat;
        client_body_buffer_size 16k;
        client_max_body_size 8m;
        set $moat_action '';
        set $moat_score '';
        set $moat_rule_ids '';
        access_by_lua_block { require("moat").protect() }
        location / { proxy_pass http://127.0.0.1:BACKEND; }
        location /detect/ {
            access_by_lua_block { require("moat").protect{ mode = "detect" } }
            proxy_pass http://127.0.0.1:BACKEND;
        }
        location /satisfy/ {
            satisfy any;
            allow 127.0.0.1;
            deny all;
            access_by_lua_block { }
            rewrite_by_lua_block { require("moat").protect() }
            proxy_pass http://127.0.0.1:BACKEND;
        }
        location /big/ {
            access_by_lua_block { require("moat").protect{ time_budget = "1s" } }
            proxy_pass http://127.0.0.1:BACKEND;
        }
        location /gc/ {
            content_by_lua_block {
                collectgarbage("collect")
                collectgarbage("collect")
                local t = {}
                for i = 1, 50000 do t[i] = "filler-" .. i .. string.rep("x", 20 + i % 40) end
                ngx.say(#t)
            }
        }
        location /quiet/ {
            access_by_lua_block { require("moat").protect{ detectors = false } }
            proxy_pass http://127.0.0.1:BACKEND;
        }
        location /check/ {
            access_by_lua_block { }
            content_by_lua_block {
                local v = require("moat").check()
                local m = v.matches[1] or {}
                ngx.say(v.action, " ", v.score, " ", v.rule_ids, " ", tostring(m.variable), " ", tostring(v.fail_open))
            }
        }
    }
"#;

fn start() -> (Nginx, Backend) {
    let backend = Backend::start();
    let nginx = Nginx::start(Adapter::Lua, SERVER, &backend);
    (nginx, backend)
}

#[test]
fn benign_requests_pass_with_the_body_intact() {
    let (nginx, backend) = start();
    for case in benign_cases() {
        let resp = case.send(nginx.port);
        assert_eq!(resp.status, 200, "{}: {}", case.name, nginx.error_log());
        assert_eq!(resp.body, case.body, "{}", case.name);
    }
    assert_eq!(backend.received().len(), benign_cases().len());
}

#[test]
fn attacks_are_blocked_wherever_they_hide() {
    let (nginx, backend) = start();
    for case in attack_cases() {
        assert_eq!(
            case.send(nginx.port).status,
            403,
            "{} was not blocked",
            case.name
        );
    }
    assert!(backend.received().is_empty());
    let log = nginx.error_log();
    assert!(log.contains("Moat: Access denied with code 403"), "{log}");
    assert!(log.contains("[unique_id \""), "{log}");
}

#[test]
fn an_attack_in_the_hundred_and_twentieth_header_is_not_skipped() {
    let (nginx, _backend) = start();
    let names: Vec<String> = (0..150).map(|i| format!("X-Filler-{i}")).collect();
    let mut headers: Vec<(&str, &str)> = names.iter().map(|n| (n.as_str(), "ok")).collect();
    headers[120] = ("Referer", "1' UNION SELECT password FROM users--");
    assert_eq!(
        request(nginx.port, "GET", "/many", &headers, b"").status,
        403
    );
}

#[test]
fn a_body_spooled_to_a_file_is_inspected() {
    let (nginx, backend) = start();
    let mut body = b"data=".to_vec();
    body.extend(std::iter::repeat_n(b'a', 1_000_000));
    let ct = [("Content-Type", "application/x-www-form-urlencoded")];
    assert_eq!(
        request(nginx.port, "POST", "/big/1", &ct, &body).status,
        200
    );
    assert_eq!(backend.received_at("/big/1")[0].body, body);
    body.extend_from_slice(b"&q=%3Cscript%3Ealert(1)%3C%2Fscript%3E");
    assert_eq!(
        request(nginx.port, "POST", "/big/2", &ct, &body).status,
        403
    );
}

#[test]
fn chunked_bodies_are_inspected() {
    let (nginx, backend) = start();
    let mut c = Client::connect(nginx.port);
    let headers = [
        ("Content-Type", "application/x-www-form-urlencoded"),
        ("Transfer-Encoding", "chunked"),
    ];
    let mut raw = build_request("POST", "/chunked", &headers, b"");
    raw.extend(chunked(b"name=alice&note=hi", 5));
    c.send(&raw);
    assert_eq!(c.read_response(false).unwrap().status, 200);
    assert_eq!(
        backend.received_at("/chunked")[0].body,
        b"name=alice&note=hi"
    );
    let mut raw = build_request("POST", "/chunked2", &headers, b"");
    raw.extend(chunked(b"q=1%27+OR+%271%27%3D%271", 4));
    c.send(&raw);
    assert_eq!(c.read_response(false).unwrap().status, 403);
}

#[test]
fn satisfy_any_cannot_bypass_protect_in_the_rewrite_phase() {
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
    let body = b"note=hello+there";
    let ct = [("Content-Type", "application/x-www-form-urlencoded")];
    assert_eq!(
        request(nginx.port, "POST", "/satisfy/ok", &ct, body).status,
        200
    );
    assert_eq!(backend.received_at("/satisfy/ok")[0].body, body);
}

/// `detectors = false` (as `moat_detectors off`): without rules nothing judges, so an XSS the
/// built-in detectors block elsewhere passes.
#[test]
fn protect_without_detectors_leaves_the_judging_to_the_rules() {
    let (nginx, backend) = start();
    let xss = "x?q=%3Cscript%3Ealert(1)%3C%2Fscript%3E";
    let status = |path: &str| request(nginx.port, "GET", &format!("{path}{xss}"), &[], b"").status;
    assert_eq!(status("/"), 403, "{}", nginx.error_log());
    assert_eq!(status("/quiet/"), 200, "{}", nginx.error_log());
    assert_eq!(backend.received().len(), 1);
}

/// A request whose body is still on its way waits inside `protect()`; other requests run and
/// collect garbage meanwhile. What the waiting request lent to the engine (its header strings)
/// must still be there when its body arrives: its XSS in a header is blocked.
#[test]
fn a_request_waiting_for_its_body_is_judged_on_its_own_headers() {
    use std::io::{Read, Write};
    let (nginx, _backend) = start();
    for round in 0..12 {
        let mut slow = std::net::TcpStream::connect(("127.0.0.1", nginx.port)).unwrap();
        slow.write_all(
            b"POST /form HTTP/1.1\r\nHost: localhost\r\nUser-Agent: <script>alert(document.cookie)</script>\r\n\
              Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 5\r\nConnection: close\r\n\r\n",
        )
        .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(50));
        for _ in 0..3 {
            let other = request(
                nginx.port,
                "GET",
                "/gc/x",
                &[("User-Agent", "curl/8.0")],
                b"",
            );
            assert_eq!(other.status, 200, "{}", nginx.error_log());
        }
        slow.write_all(b"a=b&c").unwrap();
        let mut answer = String::new();
        slow.read_to_string(&mut answer).unwrap();
        assert!(
            answer.starts_with("HTTP/1.1 403"),
            "round {round}: {}",
            answer.lines().next().unwrap_or("")
        );
    }
}

#[test]
fn detect_mode_passes_and_logs() {
    let (nginx, _backend) = start();
    let resp = request(
        nginx.port,
        "GET",
        "/detect/x?q=%3Cscript%3Ealert(1)%3C%2Fscript%3E",
        &[],
        b"",
    );
    assert_eq!(resp.status, 200);
    assert!(nginx.error_log().contains("Moat: Warning."));
    let lines = nginx.wait_access_lines(1);
    assert!(
        lines[0].contains("action=log score=5 ids=100200"),
        "{lines:?}"
    );
}

#[test]
fn check_returns_the_verdict_as_a_table() {
    let (nginx, _backend) = start();
    let resp = request(
        nginx.port,
        "GET",
        "/check/?q=1%27%20OR%20%271%27%3D%271",
        &[],
        b"",
    );
    assert_eq!(
        String::from_utf8_lossy(&resp.body).trim(),
        "block 5 100100 ARGS:q nil"
    );
    let resp = request(nginx.port, "GET", "/check/?q=hello", &[], b"");
    assert_eq!(
        String::from_utf8_lossy(&resp.body).trim(),
        "allow 0  nil nil"
    );
}

#[test]
fn a_panic_inside_the_engine_lets_the_request_through() {
    let backend = Backend::start();
    let nginx = Nginx::start_with_env(Adapter::Lua, SERVER, &backend, &[("MOAT_TEST_FAULTS", "1")]);
    let workers = nginx.worker_pids();
    let resp = request(
        nginx.port,
        "GET",
        "/p?q=%3Cscript%3E",
        &[("X-Moat-Test-Fault", "panic")],
        b"",
    );
    assert_eq!(resp.status, 200);
    assert_eq!(nginx.worker_pids(), workers);
    assert!(nginx.error_log().contains("Inspection incomplete (panic"));
}

#[test]
fn bad_init_options_stop_nginx_from_starting_with_the_reason() {
    let dir = temp_dir("lua-bad");
    let conf = full_config(
        Adapter::Lua,
        "server { listen 127.0.0.1:PORT; set $moat_action ''; set $moat_score ''; set $moat_rule_ids ''; }",
        free_port(),
        free_port(),
        &dir,
    )
    .replace("init{ lib", "init{ mode = \"block\", lib");
    std::fs::write(dir.join("nginx.conf"), conf).unwrap();
    let out = Command::new("timeout")
        .arg("10")
        .arg("/usr/sbin/nginx")
        .arg("-p")
        .arg(&dir)
        .arg("-c")
        .arg(dir.join("nginx.conf"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stderr).into_owned()
        + &std::fs::read_to_string(dir.join("error.log")).unwrap_or_default();
    assert!(!out.status.success(), "nginx started with a bad option");
    assert!(text.contains("invalid mode \"block\""), "{text}");
}

#[test]
fn init_loads_seclang_rules_and_their_deny_blocks() {
    let dir = temp_dir("lua-rules");
    let rules = dir.join("rules.conf");
    std::fs::write(
        &rules,
        "SecAction \"id:8,phase:1,deny,status:418,msg:'teapot rule'\"\n",
    )
    .unwrap();
    let backend = Backend::start();
    let conf = SERVER.to_string();
    let mut nginx_conf = full_config(Adapter::Lua, &conf, free_port(), backend.port, &dir);
    nginx_conf = nginx_conf.replace(
        "init{ lib",
        &format!("init{{ rules = \"{}\", lib", rules.display()),
    );
    std::fs::write(dir.join("nginx.conf"), &nginx_conf).unwrap();
    let port: u16 = nginx_conf
        .split("listen 127.0.0.1:")
        .nth(1)
        .and_then(|s| s.split(';').next())
        .and_then(|p| p.parse().ok())
        .unwrap();
    let mut child = Command::new("/usr/sbin/nginx")
        .arg("-p")
        .arg(&dir)
        .arg("-c")
        .arg(dir.join("nginx.conf"))
        .spawn()
        .unwrap();
    let mut status = 0;
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            status = request(port, "GET", "/x", &[], b"").status;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let log = std::fs::read_to_string(dir.join("error.log")).unwrap_or_default();
    let _ = Command::new("kill").arg(child.id().to_string()).status();
    let _ = child.wait();
    assert_eq!(status, 418, "{log}");
    assert!(
        log.contains("[id \"8\"]") && log.contains("teapot rule"),
        "{log}"
    );
}

#[test]
fn a_broken_rules_file_stops_nginx_with_file_line_and_reason() {
    let dir = temp_dir("lua-badrules");
    let rules = dir.join("bad.conf");
    std::fs::write(
        &rules,
        "SecAction \"id:1,phase:1,pass\"\nSecRule ARGS \"@frobnicate x\" \"id:2\"\n",
    )
    .unwrap();
    let server = "server { listen 127.0.0.1:PORT; set $moat_action ''; set $moat_score ''; set $moat_rule_ids ''; }";
    let conf = full_config(Adapter::Lua, server, free_port(), free_port(), &dir).replace(
        "init{ lib",
        &format!("init{{ rules = \"{}\", lib", rules.display()),
    );
    std::fs::write(dir.join("nginx.conf"), conf).unwrap();
    let out = Command::new("timeout")
        .arg("10")
        .arg("/usr/sbin/nginx")
        .arg("-p")
        .arg(&dir)
        .arg("-c")
        .arg(dir.join("nginx.conf"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stderr).into_owned()
        + &std::fs::read_to_string(dir.join("error.log")).unwrap_or_default();
    assert!(!out.status.success());
    assert!(text.contains(&format!("{}:2:", rules.display())), "{text}");
    assert!(text.contains("frobnicate"), "{text}");
}
