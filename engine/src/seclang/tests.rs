//! Whole-parser tests: chains, ids, includes, warnings, fuzz smoke.

use super::*;
use std::fs;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::test_rng::XorShift;

fn errs(text: &str) -> Vec<String> {
    parse_str(text, "t.conf")
        .unwrap_err()
        .iter()
        .map(ToString::to_string)
        .collect()
}

#[test]
fn chains_build_rule_groups() {
    let c = parse_str(
        "SecRule ARGS \"@rx a\" \"id:1,phase:2,deny,chain\"\n  SecRule ARGS_NAMES \"b\" \"chain\"\n    SecRule &TX:x \"@eq 0\" \"setvar:tx.y=1\"\nSecAction \"id:2,pass,nolog\"\nSecMarker END\n",
        "t.conf",
    )
    .unwrap();
    let groups: Vec<&Rule> = c.rule_groups().collect();
    assert_eq!(groups.len(), 2);
    assert_eq!(groups[0].links.len(), 3);
    assert_eq!(groups[0].id(), Some(1));
    assert_eq!(groups[0].phase(), Some(Phase::RequestBody));
    assert_eq!(groups[0].links[2].location.line, 3);
    assert!(groups[1].first().operator.is_none());
    assert_eq!(c.markers().collect::<Vec<_>>(), vec!["END"]);
}

#[test]
fn chain_errors() {
    let e = errs("SecRule ARGS a \"id:1,chain\"\n");
    assert_eq!(
        e,
        vec!["t.conf:1: rule has \"chain\" but no SecRule follows"]
    );
    let e = errs("SecRule ARGS a \"id:1,chain\"\nSecMarker X\n");
    assert!(
        e[0].starts_with("t.conf:2: SecMarker follows the chained rule at t.conf:1"),
        "{e:?}"
    );
    let e = errs("SecRule ARGS a \"id:1,chain\"\nSecRule ARGS b \"id:2\"\n");
    assert_eq!(
        e,
        vec!["t.conf:2: id can only be given on the first rule of a chain"]
    );
    let e = errs("SecRule ARGS a \"id:1,chain\"\nSecRule ARGS b \"deny\"\n");
    assert!(e[0].contains("disruptive actions"), "{e:?}");
}

#[test]
fn id_errors() {
    let e = errs("SecRule ARGS a \"phase:1\"\n\nSecAction \"id:7\"\nSecAction \"id:7\"\n");
    assert_eq!(
        e,
        vec![
            "t.conf:1: rule has no \"id\" action",
            "t.conf:4: duplicate rule id 7 (first defined at t.conf:3)",
        ]
    );
    let e = errs("SecDefaultAction \"phase:1,id:3,pass\"\n");
    assert!(e[0].starts_with("t.conf:1: SecDefaultAction cannot contain id"));
}

#[test]
fn every_error_has_file_and_line() {
    for (text, line, want) in [
        ("\nSecFoo bar\n", 2, "unknown directive \"SecFoo\""),
        (
            "\n\nSecRule NOPE x \"id:1\"",
            3,
            "unknown variable \"NOPE\"",
        ),
        (
            "SecRule ARGS \"@nope x\" \"id:1\"",
            1,
            "unknown operator \"@nope\"",
        ),
        (
            "SecRule ARGS x \\\n \"id:1,\\\n frob\"",
            1,
            "unknown action \"frob\"",
        ),
        (
            "#c\nSecAction \"id:1,t:rot13\"",
            2,
            "unknown transformation \"rot13\"",
        ),
        (
            "SecAction \"id:1,ctl:nope=1\"",
            1,
            "unknown ctl option \"nope\"",
        ),
        ("SecAction \"id:1,setvar:foo.x=1\"", 1, "unknown collection"),
        (
            "SecRule ARGS \"@validateByteRange 1-300\" \"id:1\"",
            1,
            "invalid byte value",
        ),
    ] {
        let e = parse_str(text, "dir/f.conf").unwrap_err();
        assert_eq!(e.len(), 1, "{text}: {e:?}");
        assert_eq!((&*e[0].file, e[0].line), ("dir/f.conf", line), "{text}");
        assert!(e[0].reason.contains(want), "{text}: {}", e[0]);
        assert!(e[0]
            .to_string()
            .starts_with(&format!("dir/f.conf:{line}: ")));
    }
}

#[test]
fn settings_exclusions_and_warnings() {
    let c = parse_str(
        "SecRuleEngine DetectionOnly\nSecRequestBodyAccess On\nSecRequestBodyLimit 1000\nSecAuditLog /x\nSecAction \"id:1,skipAfter:NOWHERE\"\nSecRuleRemoveById 1 3-4\nSecRuleUpdateTargetById 1 \"!ARGS:a\"\nSecComponentSignature \"x/1\"\n",
        "t.conf",
    )
    .unwrap();
    assert_eq!(c.settings.rule_engine, Some(ast::EngineMode::DetectionOnly));
    assert_eq!(c.settings.request_body_access, Some(true));
    assert_eq!(c.settings.request_body_limit, Some(1000));
    assert_eq!(c.settings.component_signatures, vec!["x/1"]);
    assert_eq!(c.exclusions.len(), 2);
    assert_eq!(c.exclusions[0].position, 1);
    let w: Vec<String> = c.warnings.iter().map(ToString::to_string).collect();
    assert_eq!(
        w,
        vec![
            "t.conf:4: warning: directive SecAuditLog is not used by Moat and was ignored",
            "t.conf:5: warning: skipAfter target marker \"NOWHERE\" is not defined",
        ]
    );
}

/// A fresh, empty temporary directory.
fn temp_dir() -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "moat-seclang-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn include_glob_sorted_and_relative() {
    let dir = temp_dir();
    fs::create_dir_all(dir.join("rules")).unwrap();
    fs::write(
        dir.join("main.conf"),
        "Include rules/*.conf\nSecMarker END\n",
    )
    .unwrap();
    fs::write(dir.join("rules/b.conf"), "SecAction \"id:2\"\n").unwrap();
    fs::write(
        dir.join("rules/a.conf"),
        "SecAction \"id:1\"\nInclude ../extra/x.conf\n",
    )
    .unwrap();
    fs::write(dir.join("rules/c.conf.example"), "SecAction \"id:1\"\n").unwrap();
    fs::create_dir_all(dir.join("extra")).unwrap();
    fs::write(dir.join("extra/x.conf"), "\nSecAction \"id:3\"\n").unwrap();
    let c = load_file(dir.join("main.conf")).unwrap();
    let ids: Vec<u32> = c.rule_groups().filter_map(Rule::id).collect();
    assert_eq!(ids, vec![1, 3, 2]);
    let third = c.rule_groups().nth(1).unwrap();
    assert!(third.first().location.file.ends_with("x.conf"));
    assert_eq!(third.first().location.line, 2);
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn include_errors() {
    let dir = temp_dir();
    fs::write(dir.join("a.conf"), "Include b.conf\n").unwrap();
    fs::write(dir.join("b.conf"), "\nInclude a.conf\n").unwrap();
    fs::write(
        dir.join("m.conf"),
        "Include missing.conf\nInclude none/*.conf\nInclude *.nothing\n",
    )
    .unwrap();
    let e = load_file(dir.join("a.conf")).unwrap_err();
    assert_eq!(e.len(), 1);
    assert!(e[0].file.ends_with("b.conf") && e[0].line == 2, "{}", e[0]);
    assert!(e[0].reason.starts_with("include cycle: "), "{}", e[0]);
    let e = load_file(dir.join("m.conf")).unwrap_err();
    assert_eq!(e.len(), 3, "{e:?}");
    assert!(e[0].reason.starts_with("cannot read"), "{}", e[0]);
    assert_eq!(e[0].line, 1);
    assert!(e[1].reason.contains("cannot list"), "{}", e[1]);
    assert!(e[2].reason.contains("no file matches"), "{}", e[2]);
    assert_eq!(e[2].line, 3);
    let e = load_file(dir.join("absent.conf")).unwrap_err();
    assert!(e[0].reason.starts_with("cannot read"));
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn fuzz_smoke_never_panics() {
    let seed = "SecRule REQUEST_HEADERS:User-Agent|!ARGS:/^a|b$/|&TX:x|XML:/* \"!@rx ^(a|b)\\\"c\" \\\n  \"id:1,phase:2,t:none,t:lowercase,setvar:'tx.a=+%{tx.b}',msg:'a, b',ctl:ruleRemoveTargetById=1-5;ARGS:x,chain\"\n  SecRule TX:y \"@validateByteRange 1-255\" \"setvar:!tx.z\"\nSecAction \"id:2,skipAfter:END,initcol:ip=%{REMOTE_ADDR}\"\nSecMarker END\n# comment\nSecRuleEngine On\nSecRuleUpdateTargetById 1 \"!ARGS:q\"\nInclude /nonexistent/*.conf\n";
    let alphabet = b"\"'\\\n #:,|!&@%{}=+-/;*? aZ09\r\t";
    let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
    for _ in 0..4000 {
        let mut bytes = seed.as_bytes().to_vec();
        let edits = 1 + rng.next() % 8;
        for _ in 0..edits {
            let pos = (rng.next() as usize) % (bytes.len() + 1);
            match rng.next() % 3 {
                0 if pos < bytes.len() => {
                    bytes.remove(pos);
                }
                1 => bytes.insert(pos, alphabet[(rng.next() as usize) % alphabet.len()]),
                _ if pos < bytes.len() => bytes[pos] = rng.next() as u8,
                _ => {}
            }
        }
        let text = String::from_utf8_lossy(&bytes);
        let _ = parse_str(&text, "fuzz.conf");
    }
}
