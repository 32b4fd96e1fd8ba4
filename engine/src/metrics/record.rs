//! A verdict turned into counter updates: relaxed atomic adds, no lock, no allocation.

use std::sync::atomic::Ordering;

use super::block::{FailOpenCause, MetricsBlock, Reason};
use super::histogram::{INSPECTION_BOUNDS, SCORE_BOUNDS};
use crate::detect::body::BODY_TOO_LARGE;
use crate::geo::access::{GEO_DENIED, GEO_NOT_ALLOWED};
use crate::verdict::{Action, FailOpen, Verdict};

impl MetricsBlock {
    /// Counts one judged request: its action and reason, its inspection time, its score (when
    /// inspection completed), every matched rule, and the fail-open cause if any.
    #[inline]
    pub fn record(&self, v: &Verdict) {
        let reason = reason(v);
        self.requests[action_index(v.action)][reason as usize].fetch_add(1, Ordering::Relaxed);
        let nanos = u64::try_from(v.elapsed.as_nanos()).unwrap_or(u64::MAX);
        self.inspection.observe(&INSPECTION_BOUNDS, nanos);
        if let Some(cause) = v.fail_open {
            self.fail_open[cause_of(cause) as usize].fetch_add(1, Ordering::Relaxed);
            return;
        }
        self.score.observe(&SCORE_BOUNDS, u64::from(v.score));
        for f in &v.findings {
            self.rules.hit(f.rule_id);
        }
    }

    /// Adds inspected body bytes.
    #[inline]
    pub fn record_body_bytes(&self, n: u64) {
        self.body_bytes.fetch_add(n, Ordering::Relaxed);
    }

    /// Counts one GeoIP lookup; `found` is false when no database knew the address.
    #[inline]
    pub fn record_geo_lookup(&self, found: bool) {
        self.geo_lookups.fetch_add(1, Ordering::Relaxed);
        if !found {
            self.geo_misses.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Storage index of an action (the order of [`ACTION_NAMES`]).
pub fn action_index(a: Action) -> usize {
    match a {
        Action::Allow => 0,
        Action::Log => 1,
        Action::Block => 2,
    }
}

/// Label values of the actions, by storage index.
pub const ACTION_NAMES: [&str; 3] = ["allow", "log", "block"];

/// The metrics cause of an engine fail-open.
pub fn cause_of(f: FailOpen) -> FailOpenCause {
    match f {
        FailOpen::Panic => FailOpenCause::Panic,
        FailOpen::TimeBudget => FailOpenCause::TimeBudget,
        FailOpen::BodyRead => FailOpenCause::BodyRead,
    }
}

/// Why the verdict has its action.
pub fn reason(v: &Verdict) -> Reason {
    if v.fail_open.is_some() {
        return Reason::FailOpen;
    }
    if v.action == Action::Allow {
        return Reason::Clean;
    }
    let has = |id: u32| v.findings.iter().any(|f| f.rule_id == id);
    if has(GEO_DENIED) || has(GEO_NOT_ALLOWED) {
        Reason::Geo
    } else if has(BODY_TOO_LARGE) {
        Reason::BodyLimit
    } else {
        Reason::Rules
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::{Finding, Severity};
    use std::time::Duration;

    fn finding(id: u32) -> Finding {
        Finding::new(id, "m", Severity::Critical, "ARGS:q".into(), b"x")
    }

    #[test]
    fn a_verdict_counts_once_in_each_family() {
        let b = MetricsBlock::new();
        let blocked = Verdict {
            action: Action::Block,
            status: 403,
            score: 10,
            findings: vec![finding(942100), finding(941100)],
            elapsed: Duration::from_micros(300),
            ..Verdict::allow()
        };
        b.record(&blocked);
        b.record(&Verdict::allow());
        b.record(&Verdict::fail_open(FailOpen::TimeBudget, None));
        assert_eq!(b.requests_get(2, Reason::Rules), 1);
        assert_eq!(b.requests_get(0, Reason::Clean), 1);
        assert_eq!(b.requests_get(0, Reason::FailOpen), 1);
        assert_eq!(
            b.fail_open[FailOpenCause::TimeBudget as usize].load(Ordering::Relaxed),
            1
        );
        let (cum, sum) = b.inspection.cumulative();
        assert_eq!(cum[INSPECTION_BOUNDS.len()], 3);
        assert_eq!(sum, 300_000);
        let (scores, score_sum) = b.score.cumulative();
        assert_eq!(
            (scores[0], scores[SCORE_BOUNDS.len()], score_sum),
            (1, 2, 10)
        );
        assert_eq!(b.rules.entries(), vec![(941100, 1), (942100, 1)]);
    }

    #[test]
    fn reasons_name_geo_lists_and_body_limits() {
        let geo = Verdict {
            action: Action::Block,
            findings: vec![finding(GEO_DENIED)],
            ..Verdict::allow()
        };
        let big = Verdict {
            action: Action::Block,
            findings: vec![finding(BODY_TOO_LARGE)],
            ..Verdict::allow()
        };
        let detected = Verdict {
            action: Action::Log,
            findings: vec![finding(942100)],
            ..Verdict::allow()
        };
        assert_eq!(reason(&geo), Reason::Geo);
        assert_eq!(reason(&big), Reason::BodyLimit);
        assert_eq!(reason(&detected), Reason::Rules);
    }
}
