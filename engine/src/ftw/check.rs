//! Compares one stage's [`Judgement`] with its expected [`Output`], the way go-ftw's
//! `checkResult` does: an expected error decides alone; otherwise status, then the log
//! expectations (regexes over the log text, rule ids over the fired ids).

use regex::Regex;

use super::model::Output;
use super::run::Judgement;

/// The verdict on one stage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StageCheck {
    /// Every expectation holds.
    Pass,
    /// An expectation does not hold; the text says which.
    Fail(String),
    /// Everything checkable holds, but something cannot be checked in-process.
    Skip(String),
}

/// Checks a judgement against the expected output.
pub fn check_stage(expected: &Output, got: &Judgement) -> StageCheck {
    if expected.expect_error == Some(true) {
        return if got.error.is_some() || got.status.is_none() {
            StageCheck::Pass
        } else {
            StageCheck::Fail(format!(
                "expected an error, got status {}",
                status_text(got.status)
            ))
        };
    }
    let Some(status) = got.status else {
        return StageCheck::Fail(format!(
            "no response: {}",
            got.error.as_deref().unwrap_or("judge produced no status")
        ));
    };
    if !expected.status.is_empty() && !expected.status.contains(&status) {
        return StageCheck::Fail(format!(
            "expected status {}, got {status}",
            list(&expected.status)
        ));
    }
    let log = &expected.log;
    let mut failures = Vec::new();
    for (pattern, field) in [
        (&log.match_regex, "match_regex"),
        (&expected.log_contains, "log_contains"),
    ] {
        if let Some(p) = pattern {
            match Regex::new(p) {
                Ok(re) if re.is_match(&got.log) => {}
                Ok(_) => failures.push(format!("{field} {p:?} not found in log")),
                Err(e) => failures.push(format!("{field} {p:?} is not a valid regex: {e}")),
            }
        }
    }
    let missing: Vec<u32> = log
        .expect_ids
        .iter()
        .copied()
        .filter(|id| !got.matched_ids.contains(id))
        .collect();
    if !missing.is_empty() {
        failures.push(format!("expected ids {} missing", list(&missing)));
    }
    if expected.isolated && got.matched_ids.len() != 1 {
        failures.push(format!(
            "isolated: expected exactly one rule, fired {}",
            list(&got.matched_ids)
        ));
    }
    for (pattern, field) in [
        (&log.no_match_regex, "no_match_regex"),
        (&expected.no_log_contains, "no_log_contains"),
    ] {
        if let Some(p) = pattern {
            match Regex::new(p) {
                Ok(re) if !re.is_match(&got.log) => {}
                Ok(_) => failures.push(format!("{field} {p:?} found in log")),
                Err(e) => failures.push(format!("{field} {p:?} is not a valid regex: {e}")),
            }
        }
    }
    let unexpected: Vec<u32> = log
        .no_expect_ids
        .iter()
        .copied()
        .filter(|id| got.matched_ids.contains(id))
        .collect();
    if !unexpected.is_empty() {
        failures.push(format!("unexpected ids {} fired", list(&unexpected)));
    }
    if !failures.is_empty() {
        return StageCheck::Fail(failures.join("; "));
    }
    if expected.response_contains.is_some() {
        return StageCheck::Skip("response_contains cannot be checked in-process".into());
    }
    StageCheck::Pass
}

fn status_text(status: Option<u16>) -> String {
    status.map_or_else(|| "none".to_string(), |s| s.to_string())
}

/// `[a, b, c]`.
pub(crate) fn list<T: std::fmt::Display>(items: &[T]) -> String {
    let parts: Vec<String> = items.iter().map(T::to_string).collect();
    format!("[{}]", parts.join(", "))
}
