//! `moat ftw`: running a small go-ftw suite from the command line.

use std::path::PathBuf;
use std::process::{Command, Output};

const SUITE: &str = r#"---
meta:
  author: "moat"
rule_id: 942100
tests:
  - test_id: 1
    stages:
      - input:
          uri: "/index.html"
          headers:
            Host: "localhost"
        output:
          status: 200
          log:
            no_expect_ids: [942100]
  - test_id: 2
    stages:
      - input:
          method: "POST"
          uri: "/login"
          headers:
            Host: "localhost"
          data: "user=admin' OR '1'='1"
        output:
          log:
            expect_ids: [942100]
  - test_id: 3
    stages:
      - input:
          uri: "/"
        output:
          response_contains: "Hello"
"#;

fn suite() -> (PathBuf, PathBuf) {
    let dir = std::env::temp_dir().join(format!("moat-ftw-cli-{}", std::process::id()));
    let tests = dir.join("tests");
    let rules = dir.join("rules");
    std::fs::create_dir_all(&tests).unwrap();
    std::fs::create_dir_all(&rules).unwrap();
    std::fs::write(dir.join("crs-setup.conf"), "SecRuleEngine On\n").unwrap();
    std::fs::write(
        rules.join("942.conf"),
        "SecRule ARGS \"@detectSQLi\" \"id:942100,phase:2,pass,log,msg:'SQL injection'\"\n",
    )
    .unwrap();
    std::fs::write(tests.join("942100.yaml"), SUITE).unwrap();
    std::fs::write(tests.join("broken.yaml"), "tests: [\n").unwrap();
    std::fs::write(
        dir.join("overrides.yaml"),
        "test_overrides:\n  - rule_id: 942100\n    test_ids: [1]\n    reason: why\n    output:\n      status: 200\n",
    )
    .unwrap();
    (dir.clone(), dir)
}

fn moat(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_moat"))
        .args(args)
        .output()
        .expect("run moat")
}

#[test]
fn ftw_prints_one_line_per_test_and_the_summary() {
    let (dir, rules) = suite();
    let tests = dir.join("tests");
    let args = [
        "ftw",
        "--rules",
        rules.to_str().unwrap(),
        "--tests",
        tests.to_str().unwrap(),
    ];
    let out = moat(&args);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 4, "{stdout}");
    assert_eq!(lines[0], "PASS 942100-1");
    assert_eq!(lines[1], "PASS 942100-2", "{stdout}");
    assert_eq!(
        lines[2],
        "SKIP 942100-3: response_contains cannot be checked in-process"
    );
    assert_eq!(lines[3], "2 passed, 0 failed, 1 skipped");
    assert!(stderr.contains("loaded CRS from"), "{stderr}");
    assert!(stderr.contains("broken.yaml: YAML"), "{stderr}");
    assert_eq!(out.status.code(), Some(2));

    let overrides = dir.join("overrides.yaml");
    let mut with = args.to_vec();
    with.extend([
        "--overrides",
        overrides.to_str().unwrap(),
        "--show-failures",
    ]);
    with.extend(["--exclude", "-3$"]);
    let out = moat(&with);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(stdout, "2 passed, 0 failed, 0 skipped\n");

    let mut only = args.to_vec();
    only.extend(["--include", "^942100-1$"]);
    let out = moat(&only);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "PASS 942100-1\n1 passed, 0 failed, 0 skipped\n"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn ftw_usage_errors_exit_1() {
    assert_eq!(moat(&["ftw"]).status.code(), Some(1));
    assert_eq!(
        moat(&["ftw", "--tests", ".", "--rules", ".", "--include", "("])
            .status
            .code(),
        Some(1)
    );
    assert_eq!(
        moat(&["ftw", "--tests", ".", "--rules", "/nonexistent/rules"])
            .status
            .code(),
        Some(1)
    );
}
