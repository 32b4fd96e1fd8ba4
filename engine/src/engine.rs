//! The engine: request view → body → parse → detectors → score → verdict, with the fail-open
//! guarantees (panics and time-budget overruns let the request through, and are counted).

use std::panic::{self, AssertUnwindSafe};
use std::time::{Duration, Instant};

use crate::body_reader;
use crate::detect::{self, body as body_rules, Deadline, Detector, Finding, Severity};
use crate::parse::{self, Limits, ParseFlags};
use crate::request::Request;
use crate::settings::{BodyLimitAction, Mode, Settings};
use crate::stats::Stats;
use crate::verdict::{Action, FailOpen, Verdict};

/// Header that triggers a test fault when the engine was built with faults enabled.
pub const TEST_FAULT_HEADER: &[u8] = b"x-moat-test-fault";

/// Environment variable that enables test faults when set to `1` at engine creation.
pub const TEST_FAULT_ENV: &str = "MOAT_TEST_FAULTS";

/// A compiled engine. Immutable after creation; share one between all requests and threads.
pub struct Engine {
    detectors: Vec<Box<dyn Detector>>,
    limits: Limits,
    defaults: Settings,
    stats: Stats,
    test_faults: bool,
}

impl Engine {
    /// Builds an engine with the built-in detectors and the given default settings.
    ///
    /// Test faults (a request header that makes the engine panic or overrun its budget) are
    /// enabled only when the environment variable `MOAT_TEST_FAULTS=1` is set at this moment.
    pub fn new(defaults: Settings) -> Engine {
        Engine {
            detectors: detect::builtin(),
            limits: Limits::default(),
            defaults,
            stats: Stats::default(),
            test_faults: std::env::var(TEST_FAULT_ENV).is_ok_and(|v| v == "1"),
        }
    }

    /// The settings used when a check passes none.
    pub fn defaults(&self) -> &Settings {
        &self.defaults
    }

    /// Counters since the engine was created (per process).
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// Judges a request with the given settings (or the engine's defaults). Never panics: an
    /// internal panic yields an allowing verdict marked [`FailOpen::Panic`].
    pub fn check(&self, req: &Request<'_>, settings: Option<&Settings>) -> Verdict {
        let settings = settings.unwrap_or(&self.defaults);
        if settings.mode == Mode::Off {
            return Verdict::allow();
        }
        let start = Instant::now();
        let result = panic::catch_unwind(AssertUnwindSafe(|| self.inspect(req, settings, start)));
        let mut verdict = match result {
            Ok(v) => v,
            Err(payload) => Verdict::fail_open(FailOpen::Panic, Some(panic_message(&payload))),
        };
        verdict.elapsed = start.elapsed();
        if verdict.action != Action::Allow || verdict.fail_open.is_some() {
            verdict.set_request_info(req.uri, req.request_id);
        }
        self.stats.record(&verdict);
        verdict
    }

    fn inspect(&self, req: &Request<'_>, settings: &Settings, start: Instant) -> Verdict {
        if self.test_faults {
            self.run_test_fault(req, settings);
        }
        let body = match body_reader::load(req, settings.body_limit) {
            Ok(b) => b,
            Err(e) => return Verdict::fail_open(FailOpen::BodyRead, Some(e.to_string())),
        };
        self.stats.add_body_bytes(body.bytes.len() as u64);
        if body.truncated() && settings.body_limit_action == BodyLimitAction::Reject {
            let finding = Finding::new(
                body_rules::BODY_TOO_LARGE,
                "Request body larger than the inspection limit; rejected",
                Severity::Critical,
                "REQUEST_BODY_LENGTH".into(),
                body.total_len.to_string().as_bytes(),
            );
            let mut verdict = decide(vec![finding], settings);
            if settings.mode == Mode::On {
                verdict.action = Action::Block;
                verdict.status = 413;
            }
            return verdict;
        }
        let mut inputs = parse::parse_request(req, &body.bytes, &self.limits);
        if body.truncated() {
            inputs.flags.set(ParseFlags::BODY_TRUNCATED);
        }
        let deadline = Deadline::at(start + time_allowed(settings, body.bytes.len()));
        let mut findings = Vec::new();
        for d in &self.detectors {
            if d.inspect(req, &inputs, &deadline, &mut findings).is_err() {
                return Verdict::fail_open(
                    FailOpen::TimeBudget,
                    Some(format!(
                        "time budget of {:?} spent",
                        time_allowed(settings, body.bytes.len())
                    )),
                );
            }
        }
        decide(findings, settings)
    }

    fn run_test_fault(&self, req: &Request<'_>, settings: &Settings) {
        match req.header(TEST_FAULT_HEADER) {
            Some(b"panic") => panic!("test fault: panic requested by header"),
            Some(b"slow") => {
                let until = Instant::now() + settings.time_budget * 2;
                while Instant::now() < until {
                    std::hint::spin_loop();
                }
            }
            _ => {}
        }
    }
}

/// Extra inspection time allowed per inspected body byte: inspection cost grows with the body,
/// and a budget that a large but ordinary body overruns would let anyone skip inspection by
/// padding. 25 ns per byte is 25 ms per MiB, several times the measured worst case.
pub const BODY_TIME_PER_BYTE: Duration = Duration::from_nanos(25);

/// The time budget for one request: the configured budget plus the body allowance.
fn time_allowed(settings: &Settings, body_bytes: usize) -> Duration {
    settings.time_budget + BODY_TIME_PER_BYTE * u32::try_from(body_bytes).unwrap_or(u32::MAX)
}

fn decide(findings: Vec<Finding>, settings: &Settings) -> Verdict {
    let score: u32 = findings.iter().map(|f| f.severity.score()).sum();
    let action = if findings.is_empty() {
        Action::Allow
    } else if score >= settings.anomaly_threshold && settings.mode == Mode::On {
        Action::Block
    } else {
        Action::Log
    };
    Verdict {
        action,
        status: if action == Action::Block {
            settings.block_status
        } else {
            0
        },
        score,
        threshold: settings.anomaly_threshold,
        findings,
        ..Verdict::allow()
    }
}

fn panic_message(payload: &Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "unknown panic".to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::{BodyPart, Header};

    fn engine() -> Engine {
        Engine::new(Settings::default())
    }

    #[test]
    fn benign_request_is_allowed() {
        let req = Request {
            method: b"GET",
            uri: b"/index.html?page=2&sort=name",
            version: b"HTTP/1.1",
            headers: vec![Header {
                name: b"Host",
                value: b"example.com",
            }],
            ..Default::default()
        };
        let v = engine().check(&req, None);
        assert_eq!(v.action, Action::Allow, "{:?}", v.findings);
        assert!(v.log_line().is_none());
    }

    #[test]
    fn off_mode_inspects_nothing() {
        let s = Settings {
            mode: Mode::Off,
            ..Settings::default()
        };
        let req = Request {
            uri: b"/?q=1' or '1'='1",
            ..Default::default()
        };
        assert_eq!(engine().check(&req, Some(&s)).action, Action::Allow);
    }

    #[test]
    fn oversized_body_is_rejected_with_413_when_configured() {
        let s = Settings {
            body_limit: 4,
            body_limit_action: BodyLimitAction::Reject,
            ..Settings::default()
        };
        let req = Request {
            method: b"POST",
            body: vec![BodyPart::Memory(b"a=12345")],
            ..Default::default()
        };
        let v = engine().check(&req, Some(&s));
        assert_eq!((v.action, v.status), (Action::Block, 413));
        let s = Settings {
            body_limit: 4,
            ..Settings::default()
        };
        let v = engine().check(&req, Some(&s));
        assert_eq!(v.action, Action::Log);
        assert_eq!(v.findings[0].rule_id, body_rules::BODY_TRUNCATED);
    }
}
