//! `moat check`: judging a raw request file from the command line.

use std::path::PathBuf;
use std::process::{Command, Output};

fn dir() -> PathBuf {
    let d = std::env::temp_dir().join(format!("moat-cli-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn moat(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_moat"))
        .args(args)
        .output()
        .expect("run moat")
}

fn write(name: &str, text: &str) -> String {
    let p = dir().join(name);
    std::fs::write(&p, text).unwrap();
    p.to_string_lossy().into_owned()
}

#[test]
fn a_benign_request_passes_with_exit_status_0() {
    let req = write(
        "ok.http",
        "GET /index.html?page=2 HTTP/1.1\r\nHost: example.com\r\n\r\n",
    );
    let out = moat(&["check", &req]);
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("action: allow"));
}

#[test]
fn an_attack_is_reported_with_exit_status_2_and_the_rule() {
    let req = write(
        "sqli.http",
        "POST /login HTTP/1.1\nHost: x\nContent-Type: application/x-www-form-urlencoded\n\nuser=admin%27+OR+%271%27%3D%271&pw=x",
    );
    let out = moat(&["check", "--json", &req]);
    assert_eq!(out.status.code(), Some(2));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("\"action\":\"block\""), "{text}");
    assert!(text.contains("\"variable\":\"ARGS:user\""), "{text}");
}

#[test]
fn the_config_file_uses_nginx_directives_and_reports_bad_lines() {
    let req = write(
        "xss.http",
        "GET /?q=%3Cscript%3Ealert(1)%3C/script%3E HTTP/1.1\r\nHost: x\r\n\r\n",
    );
    let detect = write("detect.conf", "# log only\nmoat detect;\n");
    let out = moat(&["check", "--config", &detect, &req]);
    assert_eq!(out.status.code(), Some(0), "detect mode never blocks");
    assert!(String::from_utf8_lossy(&out.stdout).contains("action: log"));
    let bad = write("bad.conf", "moat on;\nmoat_threshold lots;\n");
    let out = moat(&["check", "--config", &bad, &req]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("bad.conf:2:") && err.contains("invalid anomaly threshold"),
        "{err}"
    );
}

#[test]
fn a_malformed_request_file_is_an_error_not_a_crash() {
    let req = write("broken.http", "GET / HTTP/1.1\r\nNoColonHere\r\n\r\n");
    let out = moat(&["check", &req]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("header line without colon"));
}

#[test]
fn rules_files_are_loaded_like_moat_rules_file_and_bad_ones_named_by_line() {
    let rules = write(
        "local-rules.conf",
        "SecRuleEngine On\nSecRule ARGS:id \"@rx ^[0-9]+$\" \"id:5001,phase:2,pass,nolog\"\n\
         SecRule ARGS:id \"!@rx ^[0-9]+$\" \"id:5002,phase:2,deny,status:403,msg:'id must be numeric'\"\n",
    );
    let good = write(
        "numeric.http",
        "GET /item?id=42 HTTP/1.1\r\nHost: x\r\n\r\n",
    );
    let out = moat(&["check", "--rules", &rules, &good]);
    assert_eq!(out.status.code(), Some(0), "{:?}", out);
    let bad_id = write("word.http", "GET /item?id=abc HTTP/1.1\r\nHost: x\r\n\r\n");
    let out = moat(&["check", "--rules", &rules, &bad_id]);
    assert_eq!(out.status.code(), Some(2), "{:?}", out);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("5002") && text.contains("id must be numeric"),
        "{text}"
    );
    let broken = write(
        "broken-rules.conf",
        "SecRuleEngine On\nSecRule ARGS \"@rx (\" \"id:1,phase:2,deny\"\n",
    );
    let out = moat(&["check", "--rules", &broken, &good]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("broken-rules.conf:2"), "{err}");
}

#[test]
fn the_config_file_removes_rules_by_id_built_in_ones_too() {
    let req = write(
        "shell.http",
        "GET /ping?host=127.0.0.1%3Bcat%20%2Fetc%2Fhostname HTTP/1.1\r\nHost: x\r\n\r\n",
    );
    let out = moat(&["check", &req]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("100800"));
    let conf = write(
        "remove.conf",
        "moat on;\nmoat_rules_remove_by_id 100800-100803; # this form takes shell input\n",
    );
    let out = moat(&["check", "--config", &conf, &req]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let bad = write(
        "remove-bad.conf",
        "moat on;\nmoat_rules_remove_by_id 9-3;\n",
    );
    let out = moat(&["check", "--config", &bad, &req]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("remove-bad.conf:2:") && err.contains("descending"),
        "{err}"
    );
}
