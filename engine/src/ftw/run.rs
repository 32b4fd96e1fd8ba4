//! The runner: every stage of every test is built into raw bytes, handed to a [`Judge`], and
//! its [`Judgement`] checked against the (possibly overridden) expectations.

use std::fmt;
use std::time::{Duration, Instant};

use regex::Regex;

use super::check::{check_stage, list, StageCheck};
use super::model::FtwTest;
use super::overrides::{Forced, Overrides};
use super::request;

/// What a WAF in front of a server makes of one raw request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Judgement {
    /// The HTTP status the server would send (403 on block, 200 on pass, 400 when the request
    /// is malformed); `None` when no HTTP response would come at all.
    pub status: Option<u16>,
    /// Ids of the rules that fired.
    pub matched_ids: Vec<u32>,
    /// The error-log text produced, for `log_contains` / `match_regex`.
    pub log: String,
    /// Set when the request could not be parsed or handled; `expect_error` tests expect it.
    pub error: Option<String>,
}

/// Something that judges raw requests: the built-in detectors now, the SecLang engine later.
pub trait Judge {
    /// Judges one raw HTTP request. Must not panic on any input.
    fn judge(&self, raw: &[u8]) -> Judgement;
}

/// A test's result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// All stages passed.
    Pass,
    /// A stage failed.
    Fail,
    /// Not run, or something could not be checked.
    Skip,
}

impl Outcome {
    /// `PASS`, `FAIL` or `SKIP`.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Pass => "PASS",
            Outcome::Fail => "FAIL",
            Outcome::Skip => "SKIP",
        }
    }
}

/// One test's result and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestResult {
    /// `<rule_id>-<test_id>`.
    pub id: String,
    /// Pass, fail or skip.
    pub outcome: Outcome,
    /// Why it failed or was skipped (empty for a plain pass).
    pub reason: String,
    /// Reasons of the overrides that applied to the test.
    pub overrides: Vec<String>,
}

impl fmt::Display for TestResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.outcome.as_str(), self.id)?;
        if !self.reason.is_empty() {
            write!(f, ": {}", self.reason)?;
        }
        Ok(())
    }
}

/// The results of a run, in test order, and the totals.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// Per-test results.
    pub results: Vec<TestResult>,
    /// Tests passed.
    pub passed: usize,
    /// Tests failed.
    pub failed: usize,
    /// Tests skipped.
    pub skipped: usize,
    /// Wall time of the run.
    pub elapsed: Duration,
}

impl Report {
    /// The summary line: `N passed, M failed, K skipped`.
    pub fn summary(&self) -> String {
        format!(
            "{} passed, {} failed, {} skipped",
            self.passed, self.failed, self.skipped
        )
    }
}

/// Selects tests by id (`<rule_id>-<test_id>`) like go-ftw's `--include` / `--exclude`: a test
/// matching `include` always runs; otherwise one matching `exclude`, or not matching a given
/// `include`, does not.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Tests to run.
    pub include: Option<Regex>,
    /// Tests not to run.
    pub exclude: Option<Regex>,
}

impl Filter {
    /// Whether the test with this id runs.
    pub fn selects(&self, id: &str) -> bool {
        if self.include.as_ref().is_some_and(|r| r.is_match(id)) {
            return true;
        }
        if self.exclude.as_ref().is_some_and(|r| r.is_match(id)) {
            return false;
        }
        self.include.is_none()
    }

    /// The tests this filter selects.
    pub fn select<'a>(&self, tests: &'a [FtwTest]) -> Vec<&'a FtwTest> {
        tests
            .iter()
            .filter(|t| self.selects(&t.id_string()))
            .collect()
    }
}

/// Runs the tests against a judge, overrides applied.
pub fn run(tests: &[&FtwTest], overrides: &Overrides, judge: &dyn Judge) -> Report {
    let start = Instant::now();
    let mut report = Report::default();
    for test in tests {
        let result = run_test(test, overrides, judge);
        match result.outcome {
            Outcome::Pass => report.passed += 1,
            Outcome::Fail => report.failed += 1,
            Outcome::Skip => report.skipped += 1,
        }
        report.results.push(result);
    }
    report.elapsed = start.elapsed();
    report
}

/// Runs one test: all its stages, in order; the first failing stage decides.
pub fn run_test(test: &FtwTest, overrides: &Overrides, judge: &dyn Judge) -> TestResult {
    let applied = overrides.apply(test);
    let mut result = TestResult {
        id: test.id_string(),
        outcome: Outcome::Pass,
        reason: String::new(),
        overrides: applied.reasons,
    };
    if let Some((forced, reason)) = applied.forced {
        result.outcome = match forced {
            Forced::Ignore => Outcome::Skip,
            Forced::Pass => Outcome::Pass,
            Forced::Fail => Outcome::Fail,
        };
        result.reason = format!("forced by overrides: {reason}");
        return result;
    }
    let test = &applied.test;
    if test.stages.is_empty() {
        result.outcome = Outcome::Skip;
        result.reason = "test has no stages".into();
        return result;
    }
    let many = test.stages.len() > 1;
    let mut skip_reason = None;
    for (i, stage) in test.stages.iter().enumerate() {
        let prefix = if many {
            format!("stage {}: ", i + 1)
        } else {
            String::new()
        };
        let raw = match request::build(&stage.input) {
            Ok(raw) => raw,
            Err(e) => {
                result.outcome = Outcome::Fail;
                result.reason = format!("{prefix}cannot build request: {e}");
                return result;
            }
        };
        let got = judge.judge(&raw);
        match check_stage(&stage.output, &got) {
            StageCheck::Pass => {}
            StageCheck::Fail(why) => {
                result.outcome = Outcome::Fail;
                result.reason = format!(
                    "{prefix}{why} (status {}, fired {})",
                    got.status.map_or_else(|| "none".into(), |s| s.to_string()),
                    list(&got.matched_ids)
                );
                return result;
            }
            StageCheck::Skip(why) => {
                skip_reason.get_or_insert(format!("{prefix}{why}"));
            }
        }
    }
    if let Some(why) = skip_reason {
        result.outcome = Outcome::Skip;
        result.reason = why;
    }
    result
}
