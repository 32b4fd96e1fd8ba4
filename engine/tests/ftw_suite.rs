//! Loads the whole OWASP CRS v4 go-ftw regression suite and runs it through the in-process
//! runner. The CRS directory is `$MOAT_CRS_DIR`, else `<repo root>/../shared/crs`; skipped (with a
//! message) if neither holds `tests/regression/tests`.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use moat::ftw::{self, request, BuiltinJudge, Filter, Judge, Judgement, Overrides, RulesJudge};

/// The CRS directory, or `None` (with the message printed) when it is missing.
fn crs_dir() -> Option<PathBuf> {
    let dir = match std::env::var_os("MOAT_CRS_DIR") {
        Some(d) => PathBuf::from(d),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/crs"),
    };
    if dir.join("tests/regression/tests").is_dir() {
        Some(dir)
    } else {
        println!(
            "skipped: CRS regression tests not found under {}; set MOAT_CRS_DIR",
            dir.display()
        );
        None
    }
}

/// Answers 200 and fires nothing: measures the runner alone.
struct Nothing;

impl Judge for Nothing {
    fn judge(&self, _raw: &[u8]) -> Judgement {
        Judgement {
            status: Some(200),
            ..Judgement::default()
        }
    }
}

#[test]
fn crs_regression_suite_loads_and_runs() {
    let Some(dir) = crs_dir() else { return };
    let start = Instant::now();
    let loaded = ftw::load_dir(&dir.join("tests/regression/tests")).expect("tests dir readable");
    let load_time = start.elapsed();
    for e in &loaded.errors {
        println!("not loaded: {e}");
    }
    assert!(loaded.errors.is_empty(), "every test file must load");
    let files = loaded.files.len();
    let tests = loaded.tests();
    let stages: usize = tests.iter().map(|t| t.stages.len()).sum();
    println!(
        "CRS suite: {files} files, {} tests, {stages} stages, loaded in {:.2} s",
        tests.len(),
        load_time.as_secs_f64()
    );
    assert!(files >= 300, "only {files} files");
    assert!(tests.len() >= 4500, "only {} tests", tests.len());

    for t in &tests {
        for s in &t.stages {
            if let Err(e) = request::build(&s.input) {
                panic!("{}: cannot build request: {e}", t.id_string());
            }
        }
    }

    let mut overrides = Vec::new();
    for name in ["nginx-overrides.yaml", "coraza-overrides.yaml"] {
        let path = dir.join("tests/regression").join(name);
        if path.exists() {
            let o = Overrides::load(&path).expect("overrides load");
            let stale = o
                .entries
                .iter()
                .filter(|e| !tests.iter().any(|t| t.rule_id == e.rule_id))
                .count();
            assert!(!o.entries.is_empty(), "{name}: no overrides");
            println!(
                "{name}: {} overrides ({stale} for rules without tests)",
                o.entries.len()
            );
            overrides.push(o);
        }
    }
    let overrides = overrides.into_iter().next().unwrap_or_default();

    let all: Vec<_> = Filter::default().select(&tests);
    let report = ftw::run(&all, &overrides, &Nothing);
    println!(
        "trivial judge: {} in {:.2} s",
        report.summary(),
        report.elapsed.as_secs_f64()
    );
    assert_eq!(
        report.passed + report.failed + report.skipped,
        tests.len(),
        "every test gets a result"
    );
    assert!(report.passed > 0 && report.failed > 0);
    assert!(
        report.elapsed < Duration::from_secs(60),
        "the runner alone must be fast"
    );

    let report = ftw::run(&all, &overrides, &BuiltinJudge::default());
    println!(
        "built-in judge: {} in {:.2} s",
        report.summary(),
        report.elapsed.as_secs_f64()
    );
    assert_eq!(report.results.len(), tests.len());
}

/// CRS conformance: the suite through the SecLang engine, with nginx's overrides. The build
/// fails if the pass rate drops below 99 %.
#[test]
fn crs_regression_suite_passes_through_the_rule_engine() {
    let Some(dir) = crs_dir() else { return };
    let start = Instant::now();
    let judge = RulesJudge::crs(&dir).expect("CRS loads");
    let load = start.elapsed();
    let loaded = ftw::load_dir(&dir.join("tests/regression/tests")).expect("tests dir readable");
    let tests = loaded.tests();
    let overrides = Overrides::load(&dir.join("tests/regression/nginx-overrides.yaml"))
        .expect("nginx overrides load");
    let all: Vec<_> = Filter::default().select(&tests);
    let report = ftw::run(&all, &overrides, &judge);
    for r in report
        .results
        .iter()
        .filter(|r| r.outcome != ftw::Outcome::Pass)
    {
        println!("{r}");
    }
    let rate = report.passed as f64 / tests.len() as f64;
    println!(
        "CRS through the rule engine: {} ({:.2} %), CRS loaded in {:.0} ms, suite run in {:.2} s",
        report.summary(),
        rate * 100.0,
        load.as_secs_f64() * 1000.0,
        report.elapsed.as_secs_f64()
    );
    assert!(
        rate >= 0.99,
        "CRS conformance fell to {:.2} %",
        rate * 100.0
    );
}
