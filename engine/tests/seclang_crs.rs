//! Loads OWASP CRS v4 (`crs-setup.conf.example` + `rules/*.conf`) with the SecLang parser.
//! The CRS directory is `$MOAT_CRS_DIR`, else `<repo root>/../shared/crs`; skipped if absent.

use std::collections::{HashMap, HashSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::time::Instant;

use moat::seclang::{self, Action, Config, Rule};

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

/// `crs-setup.conf.example` then `rules/*.conf`, sorted.
fn crs_files(dir: &Path) -> Vec<PathBuf> {
    let mut rules: Vec<PathBuf> = fs::read_dir(dir.join("rules"))
        .expect("rules dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "conf"))
        .collect();
    rules.sort();
    let mut files = vec![dir.join("crs-setup.conf.example")];
    files.extend(rules);
    files
}

/// Counts lines starting with `SecRule`/`SecAction` (after blanks), independently of the parser.
fn count_rule_lines(files: &[PathBuf]) -> usize {
    files
        .iter()
        .map(|f| {
            fs::read_to_string(f)
                .expect("read")
                .lines()
                .filter(|l| {
                    let w = l.split_whitespace().next().unwrap_or("");
                    w == "SecRule" || w == "SecAction"
                })
                .count()
        })
        .sum()
}

fn load(files: &[PathBuf]) -> Config {
    match seclang::load_files(files) {
        Ok(c) => c,
        Err(errors) => {
            for e in &errors {
                eprintln!("{e}");
            }
            panic!("{} errors loading CRS", errors.len());
        }
    }
}

#[test]
fn crs_v4_parses_cleanly() {
    let Some(dir) = crs_dir() else { return };
    let files = crs_files(&dir);
    let config = load(&files);
    let start = Instant::now();
    let runs = 5;
    for _ in 0..runs {
        load(&files);
    }
    let per_parse = start.elapsed() / runs;

    let groups: Vec<&Rule> = config.rule_groups().collect();
    let links: usize = groups.iter().map(|r| r.links.len()).sum();
    assert_eq!(links, count_rule_lines(&files), "SecRule/SecAction count");

    let mut ids = HashMap::new();
    for r in &groups {
        let id = r.id().expect("every rule group has an id");
        assert!(
            ids.insert(id, r.first().location.clone()).is_none(),
            "duplicate id {id}"
        );
    }

    let markers: HashSet<&str> = config.markers().collect();
    let mut skip_after = 0;
    let mut operators = HashSet::new();
    let mut transformations = HashSet::new();
    for r in &groups {
        for link in &r.links {
            if let Some(op) = &link.operator {
                operators.insert(op.name.name());
            }
            transformations.extend(link.transformations().map(|t| t.name()));
            for a in &link.actions {
                if let Action::SkipAfter(m) = a {
                    skip_after += 1;
                    assert!(
                        markers.contains(m.as_str()),
                        "{}: skipAfter {m} has no marker",
                        link.location
                    );
                }
            }
        }
    }

    for w in &config.warnings {
        println!("{w}");
    }
    let mut ops: Vec<_> = operators.into_iter().collect();
    ops.sort();
    let mut ts: Vec<_> = transformations.into_iter().collect();
    ts.sort();
    println!(
        "CRS: {} files, {} rule groups, {} SecRule/SecAction directives, {} markers, {} skipAfter, {} exclusions, {} warnings",
        files.len(),
        groups.len(),
        links,
        markers.len(),
        skip_after,
        config.exclusions.len(),
        config.warnings.len()
    );
    println!("operators ({}): {}", ops.len(), ops.join(" "));
    println!("transformations ({}): {}", ts.len(), ts.join(" "));
    println!("parse time: {per_parse:?} per full load (mean of {runs})");
    assert!(config
        .settings
        .component_signatures
        .iter()
        .any(|s| s.starts_with("OWASP_CRS/")));
}
