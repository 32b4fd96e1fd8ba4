//! Unit tests of the go-ftw runner: loading, request building, overrides, checks, runs.

use std::path::Path;

use super::check::{check_stage, StageCheck};
use super::load::{load_dir, parse_file};
use super::model::{FtwTest, HeaderOrder, Input, LogExpect, Output, Stage};
use super::overrides::{Forced, Overrides};
use super::request::{base64_decode, build, expand_template};
use super::run::{run, run_test, Filter, Judge, Judgement, Outcome};
use super::BuiltinJudge;

fn parse(text: &str) -> super::model::TestFile {
    parse_file(text, Path::new("tests/942100.yaml")).expect("parses")
}

fn text(raw: &[u8]) -> String {
    String::from_utf8_lossy(raw).into_owned()
}

// ---- loading ----

const MAP_FORM: &str = r#"---
meta:
  author: "someone"
  enabled: true
rule_id: 942100
unknown_top: [1, 2]
tests:
  - test_id: 3
    desc: "map headers"
    stages:
      - input:
          dest_addr: "127.0.0.1"
          port: 80
          method: "POST"
          uri: "/post"
          version: "HTTP/1.1"
          headers:
            User-Agent: "OWASP CRS test agent"
            Host: "localhost"
            Content-Length: 0
          data: |
            line one
            line two
          some_future_field: x
        output:
          status: 403
          log:
            expect_ids: [942100]
            no_expect_ids: [942101, 942102]
  - stages:
      - input:
          headers:
            - name: Host
              value: localhost
            - name: Accept
              value: "*/*"
          stop_magic: true
        output:
          status: [200, 404]
          expect_error: true
"#;

#[test]
fn loads_map_headers_in_file_order_and_multiline_data() {
    let f = parse(MAP_FORM);
    assert_eq!(f.rule_id, 942100);
    assert_eq!(f.tests.len(), 2);
    let t = &f.tests[0];
    assert_eq!(
        (t.rule_id, t.test_id, t.desc.as_str()),
        (942100, 3, "map headers")
    );
    let input = &t.stages[0].input;
    assert_eq!(input.method.as_deref(), Some("POST"));
    assert_eq!(input.port, Some(80));
    assert_eq!(input.header_order, HeaderOrder::Sorted);
    let names: Vec<&str> = input.headers.iter().map(|h| h.0.as_str()).collect();
    assert_eq!(names, ["User-Agent", "Host", "Content-Length"]);
    assert_eq!(input.headers[2].1, "0");
    assert_eq!(input.data.as_deref(), Some("line one\nline two\n"));
    assert!(input.autocomplete_headers);
    let out = &t.stages[0].output;
    assert_eq!(out.status, [403]);
    assert_eq!(out.log.expect_ids, [942100]);
    assert_eq!(out.log.no_expect_ids, [942101, 942102]);
}

#[test]
fn loads_list_headers_position_ids_stop_magic_and_status_list() {
    let f = parse(MAP_FORM);
    let t = &f.tests[1];
    assert_eq!(t.test_id, 2, "test_id falls back to the position");
    assert_eq!(t.id_string(), "942100-2");
    let input = &t.stages[0].input;
    assert_eq!(input.header_order, HeaderOrder::AsGiven);
    assert_eq!(
        input.headers,
        [
            ("Host".to_string(), "localhost".to_string()),
            ("Accept".to_string(), "*/*".to_string())
        ]
    );
    assert!(
        !input.autocomplete_headers,
        "stop_magic: true disables autocomplete"
    );
    assert_eq!(t.stages[0].output.status, [200, 404]);
    assert_eq!(t.stages[0].output.expect_error, Some(true));
}

#[test]
fn loads_ordered_headers_single_entry_lists_and_encoded_request() {
    let f = parse(
        r#"
rule_id: 920100
tests:
  - test_id: 1
    stages:
      - input:
          ordered_headers:
            - name: B
              value: "2"
            - name: A
              value: "1"
        output: {}
      - input:
          headers:
            - Zed: last
            - Alpha: first
          autocomplete_headers: false
          encoded_request: "R0VUIC8gSFRUUC8xLjENCg0K"
"#,
    );
    let stages = &f.tests[0].stages;
    assert_eq!(stages[0].input.header_order, HeaderOrder::AsGiven);
    assert_eq!(stages[0].input.headers[0], ("B".into(), "2".into()));
    assert_eq!(stages[1].input.headers[0], ("Zed".into(), "last".into()));
    assert!(!stages[1].input.autocomplete_headers);
    assert_eq!(
        stages[1].input.encoded_request.as_deref(),
        Some("R0VUIC8gSFRUUC8xLjENCg0K")
    );
    assert_eq!(build(&stages[1].input).unwrap(), b"GET / HTTP/1.1\r\n\r\n");
}

#[test]
fn loads_old_stage_nesting_and_rule_id_from_file_name() {
    let f = parse(
        r#"
tests:
  - test_id: 7
    stages:
      - stage:
          input:
            uri: "/old"
          output:
            log_contains: 'id "942100"'
            no_log_contains: 'id "1"'
"#,
    );
    assert_eq!(f.rule_id, 942100, "from the file name");
    let s = &f.tests[0].stages[0];
    assert_eq!(s.input.uri.as_deref(), Some("/old"));
    assert_eq!(s.output.log_contains.as_deref(), Some("id \"942100\""));
    assert_eq!(s.output.no_log_contains.as_deref(), Some("id \"1\""));
}

#[test]
fn comment_only_file_has_no_tests() {
    let f = parse("# nothing here\n# tests:\n");
    assert_eq!((f.rule_id, f.tests.len()), (942100, 0));
}

#[test]
fn malformed_files_are_errors_with_reasons() {
    let bad_yaml = parse_file("tests: [\n  - a: b", Path::new("1.yaml")).unwrap_err();
    assert!(bad_yaml.starts_with("YAML:"), "{bad_yaml}");
    let bad_type = parse_file(
        "rule_id: 1\ntests:\n  - stages:\n      - output:\n          log:\n            expect_ids: [abc]\n",
        Path::new("1.yaml"),
    )
    .unwrap_err();
    assert!(bad_type.contains("log.expect_ids"), "{bad_type}");
    let no_id = parse_file("tests: []\n", Path::new("x.yaml")).unwrap_err();
    assert!(no_id.contains("rule_id"), "{no_id}");
    let not_map = parse_file("- 1\n- 2\n", Path::new("1.yaml")).unwrap_err();
    assert!(not_map.contains("mapping"), "{not_map}");
}

#[test]
fn load_dir_reports_bad_files_and_goes_on() {
    let dir = std::env::temp_dir().join(format!("moat-ftw-load-{}", std::process::id()));
    let sub = dir.join("sub");
    std::fs::create_dir_all(&sub).unwrap();
    std::fs::write(
        dir.join("100.yaml"),
        "rule_id: 100\ntests:\n  - test_id: 1\n",
    )
    .unwrap();
    std::fs::write(sub.join("200.yml"), "tests: [{test_id: 1}, {test_id: 2}]\n").unwrap();
    std::fs::write(dir.join("300.yaml"), "tests: [\n").unwrap();
    std::fs::write(dir.join("notes.txt"), "not a test").unwrap();
    let loaded = load_dir(&dir).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(loaded.files.len(), 2);
    assert_eq!(loaded.test_count(), 3);
    assert_eq!(loaded.errors.len(), 1);
    let e = loaded.errors[0].to_string();
    assert!(e.contains("300.yaml") && e.contains("YAML"), "{e}");
}

// ---- request building ----

fn input() -> Input {
    Input::default()
}

#[test]
fn request_defaults_and_autocomplete() {
    assert_eq!(
        text(&build(&input()).unwrap()),
        "GET / HTTP/1.1\r\nConnection: close\r\n\r\n"
    );
    let post = Input {
        method: Some("POST".into()),
        ..input()
    };
    assert_eq!(
        text(&build(&post).unwrap()),
        "POST / HTTP/1.1\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
        "a body method gets Content-Length even without data"
    );
    let empty_version = Input {
        version: Some(String::new()),
        autocomplete_headers: false,
        ..input()
    };
    assert_eq!(text(&build(&empty_version).unwrap()), "GET / \r\n\r\n");
}

#[test]
fn request_headers_sorted_for_maps_kept_for_lists() {
    let headers = vec![
        ("User-Agent".to_string(), "ua".to_string()),
        ("Host".to_string(), "localhost".to_string()),
    ];
    let map = Input {
        headers: headers.clone(),
        autocomplete_headers: false,
        ..input()
    };
    assert_eq!(
        text(&build(&map).unwrap()),
        "GET / HTTP/1.1\r\nHost: localhost\r\nUser-Agent: ua\r\n\r\n"
    );
    let list = Input {
        header_order: HeaderOrder::AsGiven,
        ..map
    };
    assert_eq!(
        text(&build(&list).unwrap()),
        "GET / HTTP/1.1\r\nUser-Agent: ua\r\nHost: localhost\r\n\r\n"
    );
}

#[test]
fn request_data_with_autocomplete_is_form_encoded_with_length() {
    let i = Input {
        method: Some("POST".into()),
        data: Some("a=b c&d=<x>/&flag".into()),
        ..input()
    };
    assert_eq!(
        text(&build(&i).unwrap()),
        "POST / HTTP/1.1\r\nContent-Type: application/x-www-form-urlencoded\r\n\
         Connection: close\r\nContent-Length: 23\r\n\r\na=b+c&d=%3Cx%3E%2F&flag"
    );
    let escaped = Input {
        data: Some("a=%3Cx%3E".into()),
        ..i.clone()
    };
    assert!(text(&build(&escaped).unwrap()).ends_with("Content-Length: 9\r\n\r\na=%3Cx%3E"));
    let json = Input {
        headers: vec![
            ("Content-Type".into(), "application/json".into()),
            ("Content-Length".into(), "99".into()),
            ("connection".into(), "keep-alive".into()),
        ],
        data: Some("{\"a\": 1}".into()),
        ..i.clone()
    };
    assert_eq!(
        text(&build(&json).unwrap()),
        "POST / HTTP/1.1\r\nContent-Length: 99\r\nContent-Type: application/json\r\n\
         connection: keep-alive\r\n\r\n{\"a\": 1}",
        "present headers are neither duplicated nor corrected"
    );
}

#[test]
fn request_without_autocomplete_sends_data_as_is() {
    let i = Input {
        method: Some("POST".into()),
        data: Some("a=b c\n".into()),
        autocomplete_headers: false,
        ..input()
    };
    assert_eq!(text(&build(&i).unwrap()), "POST / HTTP/1.1\r\n\r\na=b c\n");
}

#[test]
fn request_multipart_body_gets_crlf() {
    let i = Input {
        method: Some("POST".into()),
        headers: vec![(
            "Content-Type".into(),
            "multipart/form-data; boundary=X".into(),
        )],
        data: Some("--X\nContent-Disposition: form-data; name=\"a\"\n\nv\n--X--\n".into()),
        ..input()
    };
    let raw = text(&build(&i).unwrap());
    let body = "--X\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nv\r\n--X--\r\n";
    assert!(raw.ends_with(&format!("Content-Length: {}\r\n\r\n{body}", body.len())));
}

#[test]
fn encoded_request_wins_and_base64_is_strict() {
    let i = Input {
        method: Some("POST".into()),
        data: Some("ignored".into()),
        encoded_request: Some("R0VUIC8gSFRU\nUC8xLjANCkhvc3Q6DQoNCg==".into()),
        ..input()
    };
    assert_eq!(text(&build(&i).unwrap()), "GET / HTTP/1.0\r\nHost:\r\n\r\n");
    assert_eq!(base64_decode("YQ==").unwrap(), b"a");
    assert_eq!(base64_decode("YWI=").unwrap(), b"ab");
    assert_eq!(base64_decode("").unwrap(), b"");
    assert!(base64_decode("YQ").is_err());
    assert!(base64_decode("Y!==").is_err());
    assert!(base64_decode("YQ==YQ==").is_err());
    let bad = Input {
        encoded_request: Some("***".into()),
        ..input()
    };
    assert!(build(&bad).unwrap_err().starts_with("encoded_request"));
}

#[test]
fn data_templates_and_encoded_data() {
    assert_eq!(expand_template("x{{ \"ab\" | repeat 3 }}y"), "xabababy");
    assert_eq!(expand_template("{{ other }}"), "{{ other }}");
    assert_eq!(expand_template("a {{ open"), "a {{ open");
    let i = Input {
        encoded_data: Some("AAE=".into()),
        autocomplete_headers: false,
        ..input()
    };
    assert!(build(&i).unwrap().ends_with(b"\r\n\r\n\x00\x01"));
}

// ---- overrides ----

fn test_with(rule_id: u32, test_id: u32, stages: usize) -> FtwTest {
    let stage = Stage {
        input: input(),
        output: Output {
            status: vec![403],
            log: LogExpect {
                expect_ids: vec![rule_id],
                ..LogExpect::default()
            },
            ..Output::default()
        },
    };
    FtwTest {
        rule_id,
        test_id,
        desc: String::new(),
        stages: vec![stage; stages],
    }
}

const OVERRIDES: &str = r#"
version: "v0.0.0"
meta:
  engine: "libmodsecurity3"
  annotations:
    - os: "Debian"
test_overrides:
  - rule_id: 920100
    test_ids: [4, 5]
    reason: "nginx answers 400"
    output:
      status: 400
  - rule_id: 920200
    reason: "all tests of the rule"
    output:
      log:
        no_expect_ids: [920200]
  - rule_id: 920300
    test_ids: [1]
    stage_ids: [1]
    reason: "second stage only"
    output:
      expect_error: true
  - rule_id: 933220
    test_ids: [2]
    reason: "no output"
testoverride:
  ignore:
    '^999-': "broken upstream"
"#;

#[test]
fn override_output_replaces_selected_tests_and_stages() {
    let o = Overrides::parse(OVERRIDES).unwrap();
    assert_eq!(o.entries.len(), 4);

    let a = o.apply(&test_with(920100, 4, 1));
    assert_eq!(a.reasons, ["nginx answers 400"]);
    assert_eq!(a.test.stages[0].output.status, [400]);
    assert!(
        a.test.stages[0].output.log.expect_ids.is_empty(),
        "the output is replaced, not merged"
    );
    let untouched = o.apply(&test_with(920100, 3, 1));
    assert!(untouched.reasons.is_empty());
    assert_eq!(untouched.test, test_with(920100, 3, 1));

    for id in [1, 9] {
        let all = o.apply(&test_with(920200, id, 1));
        assert_eq!(all.test.stages[0].output.log.no_expect_ids, [920200]);
    }

    let staged = o.apply(&test_with(920300, 1, 2));
    assert_eq!(staged.test.stages[0].output.status, [403]);
    assert_eq!(staged.test.stages[1].output.expect_error, Some(true));

    let empty = o.apply(&test_with(933220, 2, 1));
    assert_eq!(empty.test.stages[0].output, Output::default());

    let ignored = o.apply(&test_with(999, 1, 1));
    assert_eq!(
        ignored.forced,
        Some((Forced::Ignore, "broken upstream".into()))
    );
}

#[test]
fn overrides_errors_are_reported() {
    assert!(Overrides::parse("test_overrides:\n  - reason: x\n")
        .unwrap_err()
        .contains("rule_id"));
    assert!(Overrides::parse("ignore:\n  '(': x\n").is_err());
    assert!(Overrides::parse("").unwrap().entries.is_empty());
}

// ---- output comparison ----

fn judged(status: u16, ids: &[u32], log: &str) -> Judgement {
    Judgement {
        status: Some(status),
        matched_ids: ids.to_vec(),
        log: log.into(),
        error: None,
    }
}

fn fails(out: &Output, j: &Judgement, needle: &str) {
    match check_stage(out, j) {
        StageCheck::Fail(why) => assert!(why.contains(needle), "{why:?} lacks {needle:?}"),
        other => panic!("expected a failure with {needle:?}, got {other:?}"),
    }
}

#[test]
fn check_ids() {
    let out = Output {
        log: LogExpect {
            expect_ids: vec![1, 2],
            no_expect_ids: vec![3],
            ..LogExpect::default()
        },
        ..Output::default()
    };
    assert_eq!(
        check_stage(&out, &judged(200, &[2, 1, 9], "")),
        StageCheck::Pass
    );
    fails(&out, &judged(200, &[1], ""), "expected ids [2] missing");
    fails(
        &out,
        &judged(200, &[1, 2, 3], ""),
        "unexpected ids [3] fired",
    );
}

#[test]
fn check_status_single_and_list() {
    let one = Output {
        status: vec![403],
        ..Output::default()
    };
    assert_eq!(check_stage(&one, &judged(403, &[], "")), StageCheck::Pass);
    fails(
        &one,
        &judged(200, &[], ""),
        "expected status [403], got 200",
    );
    let many = Output {
        status: vec![200, 404],
        ..Output::default()
    };
    assert_eq!(check_stage(&many, &judged(404, &[], "")), StageCheck::Pass);
    fails(&many, &judged(403, &[], ""), "expected status [200, 404]");
    let none = Judgement {
        status: None,
        error: Some("reset".into()),
        ..Judgement::default()
    };
    fails(&Output::default(), &none, "no response: reset");
}

#[test]
fn check_log_regexes() {
    let log = r#"Moat: Warning. [id "942100"] [data "ARGS:q: 1 or 1"]"#;
    let out = Output {
        log: LogExpect {
            match_regex: Some(r#"id "942\d+""#.into()),
            no_match_regex: Some("ARGS:other".into()),
            ..LogExpect::default()
        },
        log_contains: Some("ARGS:q".into()),
        no_log_contains: Some("never".into()),
        ..Output::default()
    };
    assert_eq!(check_stage(&out, &judged(200, &[], log)), StageCheck::Pass);
    fails(&out, &judged(200, &[], "x"), "match_regex");
    fails(
        &out,
        &judged(200, &[], "x"),
        "log_contains \"ARGS:q\" not found",
    );
    fails(
        &out,
        &judged(200, &[], &format!("{log} ARGS:other")),
        "no_match_regex \"ARGS:other\" found",
    );
    fails(
        &out,
        &judged(200, &[], &format!("{log} never")),
        "no_log_contains",
    );
    let invalid = Output {
        log: LogExpect {
            match_regex: Some("(".into()),
            ..LogExpect::default()
        },
        ..Output::default()
    };
    fails(&invalid, &judged(200, &[], ""), "not a valid regex");
}

#[test]
fn check_expect_error_response_contains_and_isolated() {
    let err = Output {
        expect_error: Some(true),
        status: vec![200],
        ..Output::default()
    };
    let parse_error = Judgement {
        status: Some(400),
        error: Some("bad request line".into()),
        ..Judgement::default()
    };
    assert_eq!(check_stage(&err, &parse_error), StageCheck::Pass);
    fails(&err, &judged(200, &[], ""), "expected an error");
    let body = Output {
        response_contains: Some("Hello".into()),
        ..Output::default()
    };
    assert!(matches!(
        check_stage(&body, &judged(200, &[], "")),
        StageCheck::Skip(_)
    ));
    let body_and_ids = Output {
        log: LogExpect {
            expect_ids: vec![5],
            ..LogExpect::default()
        },
        ..body
    };
    fails(&body_and_ids, &judged(200, &[], ""), "expected ids [5]");
    let isolated = Output {
        isolated: true,
        ..Output::default()
    };
    assert_eq!(
        check_stage(&isolated, &judged(403, &[7], "")),
        StageCheck::Pass
    );
    fails(&isolated, &judged(403, &[7, 8], ""), "isolated");
}

// ---- running ----

/// Fires the rule id found in the URI after `/fire/`, answers 403 when one fires.
struct UriJudge;

impl Judge for UriJudge {
    fn judge(&self, raw: &[u8]) -> Judgement {
        let line = text(raw);
        let uri = line.split(' ').nth(1).unwrap_or("");
        match uri.strip_prefix("/fire/").and_then(|s| s.parse().ok()) {
            Some(id) => judged(403, &[id], &format!("[id \"{id}\"]")),
            None => judged(200, &[], ""),
        }
    }
}

fn stage(uri: &str, expect: &[u32]) -> Stage {
    Stage {
        input: Input {
            uri: Some(uri.into()),
            ..input()
        },
        output: Output {
            log: LogExpect {
                expect_ids: expect.to_vec(),
                ..LogExpect::default()
            },
            ..Output::default()
        },
    }
}

#[test]
fn runner_passes_fails_skips_and_totals() {
    let tests = [
        FtwTest {
            rule_id: 1,
            test_id: 1,
            desc: String::new(),
            stages: vec![stage("/fire/1", &[1])],
        },
        FtwTest {
            rule_id: 1,
            test_id: 2,
            desc: String::new(),
            stages: vec![stage("/fire/1", &[1]), stage("/quiet", &[1])],
        },
        FtwTest {
            rule_id: 2,
            test_id: 1,
            desc: String::new(),
            stages: vec![Stage {
                output: Output {
                    response_contains: Some("x".into()),
                    ..Output::default()
                },
                ..stage("/", &[])
            }],
        },
    ];
    let all: Vec<&FtwTest> = tests.iter().collect();
    let report = run(&all, &Overrides::default(), &UriJudge);
    assert_eq!((report.passed, report.failed, report.skipped), (1, 1, 1));
    assert_eq!(report.summary(), "1 passed, 1 failed, 1 skipped");
    assert_eq!(report.results[0].to_string(), "PASS 1-1");
    assert_eq!(
        report.results[1].to_string(),
        "FAIL 1-2: stage 2: expected ids [1] missing (status 200, fired [])"
    );
    assert_eq!(
        report.results[2].to_string(),
        "SKIP 2-1: response_contains cannot be checked in-process"
    );

    let overrides = Overrides::parse(
        "test_overrides:\n  - rule_id: 1\n    test_ids: [2]\n    stage_ids: [1]\n    reason: r\n",
    )
    .unwrap();
    let fixed = run_test(&tests[1], &overrides, &UriJudge);
    assert_eq!(fixed.outcome, Outcome::Pass);
    assert_eq!(fixed.overrides, ["r"]);
}

#[test]
fn filter_like_go_ftw() {
    let re = |s: &str| Some(regex::Regex::new(s).unwrap());
    let f = Filter {
        include: re("^942"),
        exclude: re("-2$"),
    };
    assert!(f.selects("942100-2"), "include wins over exclude");
    assert!(!f.selects("920100-1"));
    let ex = Filter {
        include: None,
        exclude: re("-2$"),
    };
    assert!(ex.selects("920100-1") && !ex.selects("920100-2"));
    assert!(Filter::default().selects("1-1"));
}

#[test]
fn builtin_judge_answers_400_to_malformed_and_judges_the_rest() {
    let judge = BuiltinJudge::default();
    let bad = judge.judge(b"GET / HTTP/1.1\r\nno colon here\r\n\r\n");
    assert_eq!(bad.status, Some(400));
    assert!(bad.error.is_some());
    let empty = judge.judge(b"");
    assert_eq!(empty.status, Some(400));
    let ok = judge.judge(b"GET /index.html HTTP/1.1\r\nHost: localhost\r\n\r\n");
    assert_eq!(ok.status, Some(200));
    assert!(ok.matched_ids.is_empty() && ok.error.is_none());
    let sqli = build(&Input {
        uri: Some("/?id=1%27%20OR%20%271%27%3D%271%27%20--".into()),
        headers: vec![("Host".into(), "localhost".into())],
        ..input()
    })
    .unwrap();
    let verdict = judge.judge(&sqli);
    assert_eq!(verdict.status, Some(403), "{verdict:?}");
    assert!(!verdict.matched_ids.is_empty());
    assert!(verdict.log.contains("[id \""));
}
