//! Dispatch tests: every operator name, negation, macro arguments, and all of OWASP CRS.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use super::*;
use crate::seclang::operators::parse_operator;

fn op(text: &str) -> Operator {
    let spec = parse_operator(text).unwrap();
    compile(&spec, Path::new("."), None).unwrap_or_else(|e| panic!("{text}: {e}"))
}

#[test]
fn every_operator_compiles_or_is_unsupported() {
    let dir = std::env::temp_dir().join(format!("moat-ops-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("list.txt"), "10.0.0.0/8\n").unwrap();
    for &name in OperatorName::ALL {
        let argument = match name {
            OperatorName::Eq
            | OperatorName::Ge
            | OperatorName::Gt
            | OperatorName::Le
            | OperatorName::Lt => "1",
            OperatorName::ValidateByteRange => "32-126",
            OperatorName::IpMatch => "127.0.0.1",
            _ => "list.txt",
        };
        let spec = OperatorSpec {
            name,
            negated: false,
            argument: argument.to_string(),
        };
        match compile(&spec, &dir, None) {
            Ok(o) => {
                for input in [&b""[..], b"x", b"\xff\x00", b"10.1.2.3", b"%zz"] {
                    o.matches(input, None, Some(&mut Vec::new()));
                }
            }
            Err(e) => assert!(
                e.starts_with(&format!(
                    "operator @{} is not supported by Moat: ",
                    name.name()
                )) || (name == OperatorName::GeoLookup && e.contains("SecGeoLookupDb")),
                "{e}"
            ),
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn operators_are_shareable_across_threads() {
    fn shareable<T: Send + Sync>() {}
    shareable::<Operator>();
}

#[test]
fn negation() {
    assert!(!op("!@rx abc").matches(b"xabcx", None, None));
    assert!(op("!@rx abc").matches(b"xyz", None, None));
    assert!(op("!@within GET POST").matches(b"PUT", None, None));
    assert!(!op("!@eq 0").matches(b"0", None, None));
    assert!(op("!@eq 0").matches(b"3", None, None));
    assert!(!op("!@unconditionalMatch").matches(b"", None, None));
    assert!(op("!@noMatch").matches(b"", None, None));
    assert!(op("@unconditionalMatch").matches(b"x", None, None));
    assert!(!op("@noMatch").matches(b"x", None, None));
    assert!(op("!@validateByteRange 32-126").is_negated());
}

#[test]
fn macro_arguments() {
    let o = op("@ge %{tx.inbound_anomaly_score_threshold}");
    assert!(o.needs_expansion());
    assert!(o.matches(b"5", Some(b"5"), None));
    assert!(!o.matches(b"4", Some(b"5"), None));
    let o = op("!@within %{tx.allowed_methods}");
    assert!(o.needs_expansion());
    assert!(!o.matches(b"GET", Some(b"GET HEAD POST"), None));
    assert!(o.matches(b"TRACE", Some(b"GET HEAD POST"), None));
    let o = op("@streq %{TX.2}");
    assert!(o.matches(b"abc", Some(b"abc"), None));
    assert!(!o.matches(b"abc", Some(b"abd"), None));
    let o = op("@rx ^%{tx.prefix}[0-9]+$");
    assert!(o.needs_expansion());
    let mut caps = Vec::new();
    assert!(o.matches(b"id42", Some(b"^id[0-9]+$"), Some(&mut caps)));
    assert_eq!(caps, vec![b"id42".to_vec()]);
    assert!(!o.matches(b"id42", Some(b"^("), None));
    assert!(!op("@rx ^a").needs_expansion());
    assert!(!op("@pm %{tx.x}").needs_expansion(), "@pm takes no macros");
}

#[test]
fn non_utf8_inputs_never_panic() {
    let inputs: [&[u8]; 6] = [
        b"",
        b"\xff",
        b"\xc3",
        b"%",
        b"\x00\x01",
        b"\xf4\x90\x80\x80",
    ];
    for text in [
        "@rx .",
        "@pm a b",
        "@beginsWith \u{e9}",
        "@containsWord a",
        "@validateUtf8Encoding",
        "@validateUrlEncoding",
        "@ipMatch ::1",
        "@detectSQLi",
        "@detectXSS",
        "@verifyCC \\d+",
        "@lt 1",
    ] {
        let o = op(text);
        for input in inputs {
            o.matches(input, None, Some(&mut Vec::new()));
        }
    }
}

#[test]
fn documented_examples() {
    // ModSecurity reference manual examples.
    assert!(op("@beginsWith GET").matches(b"GET /index.html HTTP/1.1", None, None));
    assert!(op("@contains .php").matches(b"/index.php?x", None, None));
    assert!(op("@containsWord select").matches(b"1 union select 2", None, None));
    assert!(!op("@containsWord select").matches(b"selected", None, None));
    assert!(op("@endsWith HTTP/1.1").matches(b"GET / HTTP/1.1", None, None));
    assert!(op("@eq 15").matches(b"15", None, None));
    assert!(op("@ge 15").matches(b"15", None, None));
    assert!(op("@gt 15").matches(b"16", None, None));
    assert!(op("@le 15").matches(b"15", None, None));
    assert!(op("@lt 15").matches(b"14", None, None));
    assert!(
        op("@ipMatch 192.168.1.100,192.168.1.50,10.10.50.0/24").matches(b"10.10.50.7", None, None)
    );
    assert!(op("@pm WebZIP WebCopier Webster").matches(b"Mozilla webzip/1.0", None, None));
    assert!(op("@streq POST").matches(b"POST", None, None));
    assert!(op("@strmatch WebZIP").matches(b"x WebZIP y", None, None));
    assert!(op("@validateByteRange 10, 13, 32-126").matches(b"a\x01", None, None));
    assert!(op("@within GET,POST,HEAD").matches(b"POST", None, None));
    assert!(op("@rx ^Nikto").matches(b"Nikto/2.1", None, None));
    assert!(op("^Nikto").matches(b"Nikto/2.1", None, None));
}

/// The CRS directory, or `None` (with the message printed) when it is missing.
fn crs_dir() -> Option<PathBuf> {
    let dir = match std::env::var_os("MOAT_CRS_DIR") {
        Some(d) => PathBuf::from(d),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/crs"),
    };
    if dir.join("rules").is_dir() {
        Some(dir)
    } else {
        println!(
            "skipped: CRS not found at {}; set MOAT_CRS_DIR",
            dir.display()
        );
        None
    }
}

#[test]
fn all_crs_operators_compile() {
    let Some(dir) = crs_dir() else { return };
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir.join("rules"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "conf"))
        .collect();
    files.sort();
    files.insert(0, dir.join("crs-setup.conf.example"));
    let config = crate::seclang::load_files(&files).expect("CRS loads");
    let specs: Vec<(PathBuf, String, OperatorSpec)> = config
        .rule_groups()
        .flat_map(|r| r.links.iter())
        .filter_map(|l| {
            let spec = l.operator.clone()?;
            let base = Path::new(&*l.location.file)
                .parent()
                .unwrap_or(Path::new("."))
                .to_path_buf();
            Some((base, l.location.to_string(), spec))
        })
        .collect();
    let start = Instant::now();
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    let mut failures = Vec::new();
    let mut compiled = Vec::new();
    for (base, location, spec) in &specs {
        match compile(spec, base, None) {
            Ok(o) => {
                *counts.entry(spec.name.name()).or_default() += 1;
                compiled.push(o);
            }
            Err(e) => failures.push(format!("{location}: @{}: {e}", spec.name.name())),
        }
    }
    let elapsed = start.elapsed();
    assert!(failures.is_empty(), "{failures:#?}");
    println!(
        "compiled {} CRS operators in {elapsed:?}: {counts:?}",
        compiled.len()
    );
    assert!(counts.get("rx").copied().unwrap_or(0) > 300, "{counts:?}");
    let unicode: Vec<&str> = specs
        .iter()
        .filter(|(_, _, s)| s.name == OperatorName::Rx && !s.argument_macros().has_macros())
        .filter(|(_, _, s)| !rx::compiles_in_byte_mode(&s.argument))
        .map(|(_, location, _)| location.as_str())
        .collect();
    println!("@rx patterns needing Unicode mode: {unicode:?}");
    // A benign value through every static operator, as a smoke test (cold, then warm).
    for pass in ["cold", "warm"] {
        let start = Instant::now();
        let matched = compiled
            .iter()
            .filter(|o| !o.needs_expansion() && o.matches(b"hello world", None, None))
            .count();
        println!(
            "one benign value through all ({pass}): {:?} ({matched} matched)",
            start.elapsed()
        );
    }
}

/// The prefilter never rules out a match: every CRS operator with required literals is run on
/// every `uri:` and `data:` payload of the CRS regression suite (raw and URL-decoded), and each
/// payload it matches must contain one of its literals.
#[test]
fn crs_prefilter_never_rules_out_a_match() {
    let Some(dir) = crs_dir() else { return };
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir.join("rules"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "conf"))
        .collect();
    files.sort();
    let config = crate::seclang::load_files(&files).expect("CRS loads");
    let ops: Vec<(String, Operator, Vec<Vec<u8>>)> = config
        .rule_groups()
        .flat_map(|r| r.links.iter())
        .filter_map(|l| {
            let spec = l.operator.clone()?;
            let base = Path::new(&*l.location.file).parent()?.to_path_buf();
            let op = compile(&spec, &base, None).ok()?;
            let lits = op.required_literals()?;
            Some((l.location.to_string(), op, lits))
        })
        .collect();
    let mut payloads: Vec<Vec<u8>> = Vec::new();
    let mut pending = vec![dir.join("tests/regression/tests")];
    while let Some(d) = pending.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                pending.push(p);
            } else if p.extension().is_some_and(|x| x == "yaml") {
                let text = std::fs::read_to_string(&p).unwrap();
                for line in text.lines() {
                    let line = line.trim();
                    if let Some(v) = line.strip_prefix("uri:").or(line.strip_prefix("data:")) {
                        let v = v.trim().trim_matches(|c| c == '"' || c == '\'').as_bytes();
                        payloads.push(v.to_vec());
                        payloads.push(crate::decode::percent_decode(v, true).into_owned());
                    }
                }
            }
        }
    }
    assert!(payloads.len() > 2000, "{} payloads", payloads.len());
    println!(
        "{} operators with literals, {} payloads",
        ops.len(),
        payloads.len()
    );
    let mut checked = 0;
    for (location, op, lits) in &ops {
        let finder = aho_corasick::AhoCorasick::builder()
            .ascii_case_insensitive(true)
            .build(lits)
            .unwrap();
        for p in &payloads {
            if op.matches(p, None, None) {
                checked += 1;
                assert!(
                    finder.is_match(p),
                    "{location}: matches {:?} but holds none of its literals",
                    String::from_utf8_lossy(p)
                );
            }
        }
    }
    assert!(checked > 1000, "only {checked} matches checked");
}
