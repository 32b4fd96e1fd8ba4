//! The engine: request view → body → parse → detectors → score → verdict, with the fail-open
//! guarantees (panics and time-budget overruns let the request through, and are counted).

use std::panic::{self, AssertUnwindSafe};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::body_reader;
use crate::detect::targets::Classified;
use crate::detect::{self, body as body_rules, Deadline, Detector, Finding, OutOfTime, Severity};
use crate::geo::{ClientGeo, ClientIpPolicy, Geo, GeoAccess, GeoInfo};
use crate::metrics::Metrics;
use crate::parse::{self, Limits, ParseFlags};
use crate::request::{Request, Response};
use crate::rules::transaction::RuleMatch;
use crate::rules::{self, LocationRules, Outcome, RuleSet};
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
    rules: Option<Arc<RuleSet>>,
    limits: Limits,
    defaults: Settings,
    stats: Stats,
    test_faults: bool,
    geo: Option<Arc<Geo>>,
    metrics: Arc<Metrics>,
}

impl Engine {
    /// Builds an engine with the built-in detectors and the given default settings.
    ///
    /// Test faults (a request header that makes the engine panic or overrun its budget) are
    /// enabled only when the environment variable `MOAT_TEST_FAULTS=1` is set at this moment.
    pub fn new(defaults: Settings) -> Engine {
        Engine::with_rules(defaults, None)
    }

    /// Builds an engine that also runs `rules` (SecLang, e.g. OWASP CRS) on every check that
    /// names no rules of its own.
    pub fn with_rules(defaults: Settings, rules: Option<Arc<RuleSet>>) -> Engine {
        Engine {
            detectors: detect::builtin(),
            rules,
            limits: Limits::default(),
            defaults,
            stats: Stats::default(),
            test_faults: std::env::var(TEST_FAULT_ENV).is_ok_and(|v| v == "1"),
            geo: None,
            metrics: Arc::new(Metrics::heap()),
        }
    }

    /// The same engine with GeoIP databases: verdicts say where the client is.
    pub fn with_geo(mut self, geo: Arc<Geo>) -> Engine {
        self.set_geo(geo);
        self
    }

    /// Gives the engine GeoIP databases (before it is shared).
    pub fn set_geo(&mut self, geo: Arc<Geo>) {
        self.geo = Some(geo);
    }

    /// Records into `metrics` from now on (a shared block: an nginx zone, or a mapping the
    /// OpenResty master creates before forking), instead of the engine's private one.
    pub fn set_metrics(&mut self, metrics: Arc<Metrics>) {
        self.metrics = metrics;
    }

    /// The Prometheus metrics this engine records into.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// The GeoIP databases, if configured.
    pub fn geo(&self) -> Option<&Arc<Geo>> {
        self.geo.as_ref()
    }

    /// The request's client (its address after trusted proxies, and what the databases know
    /// about it), or `None` when neither GeoIP databases nor trusted proxies are configured or
    /// the peer is not an IP address. Never fails: an unknown address has empty fields.
    pub fn locate(&self, req: &Request<'_>, policy: Option<&ClientIpPolicy>) -> Option<ClientGeo> {
        let proxies = policy.is_some_and(|p| !p.trusted.is_empty());
        if self.geo.is_none() && !proxies {
            return None;
        }
        let direct = ClientIpPolicy::default();
        let ip = policy
            .unwrap_or(&direct)
            .client_ip(req.client_addr, &req.headers)?;
        let info = match &self.geo {
            Some(geo) => {
                let info = geo.lookup(ip);
                self.metrics.block().record_geo_lookup(!info.is_empty());
                info
            }
            None => Arc::new(GeoInfo::default()),
        };
        Some(ClientGeo { ip, info })
    }

    /// Judges a request whose client was located (see [`Engine::locate`]): the location's
    /// geo `access` lists refuse the client first, then the request is inspected as by
    /// [`Engine::check_with_rules`]; the verdict carries the client. Never panics.
    pub fn check_located(
        &self,
        req: &Request<'_>,
        settings: Option<&Settings>,
        rules: Option<LocationRules<'_>>,
        client: Option<ClientGeo>,
        access: Option<&GeoAccess>,
    ) -> Verdict {
        let geo = client.as_ref().zip(access.filter(|a| !a.is_empty()));
        let mut verdict = self.run(req, None, settings, rules, geo);
        verdict.client = client;
        verdict
    }

    /// The same engine without the built-in detectors: only the SecLang rules judge (used to
    /// run a rule set's own regression suite).
    pub fn without_builtin_detectors(mut self) -> Engine {
        self.detectors.clear();
        self
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
        self.check_with_rules(req, settings, self.default_rules())
    }

    /// The rules the engine was built with, if any, with nothing removed.
    pub fn default_rules(&self) -> Option<LocationRules<'_>> {
        self.rules
            .as_deref()
            .map(|set| LocationRules { set, removed: &[] })
    }

    /// Judges a request with the given settings and rules (a location's rule set and removals),
    /// instead of the engine's own. Never panics.
    pub fn check_with_rules(
        &self,
        req: &Request<'_>,
        settings: Option<&Settings>,
        rules: Option<LocationRules<'_>>,
    ) -> Verdict {
        self.check_exchange(req, None, settings, rules)
    }

    /// Judges a request and, when given, its response: the response phases (3 and 4) of the
    /// rules run after the request phases, as ModSecurity runs them. Never panics.
    pub fn check_exchange(
        &self,
        req: &Request<'_>,
        response: Option<&Response<'_>>,
        settings: Option<&Settings>,
        rules: Option<LocationRules<'_>>,
    ) -> Verdict {
        self.run(req, response, settings, rules, None)
    }

    fn run(
        &self,
        req: &Request<'_>,
        response: Option<&Response<'_>>,
        settings: Option<&Settings>,
        rules: Option<LocationRules<'_>>,
        geo: Option<(&ClientGeo, &GeoAccess)>,
    ) -> Verdict {
        let settings = settings.unwrap_or(&self.defaults);
        if settings.mode == Mode::Off {
            return Verdict::allow();
        }
        let start = Instant::now();
        let result = panic::catch_unwind(AssertUnwindSafe(|| {
            match geo.and_then(|(client, access)| access.judge(client)) {
                Some(refused) => refuse(refused, settings),
                None => self.inspect(req, response, settings, rules, start),
            }
        }));
        let mut verdict = match result {
            Ok(v) => v,
            Err(payload) => Verdict::fail_open(FailOpen::Panic, Some(panic_message(&payload))),
        };
        verdict.elapsed = start.elapsed();
        if verdict.action != Action::Allow || verdict.fail_open.is_some() {
            verdict.set_request_info(req.uri, req.id());
        }
        self.stats.record(&verdict);
        self.metrics.block().record(&verdict);
        verdict
    }

    fn inspect(
        &self,
        req: &Request<'_>,
        response: Option<&Response<'_>>,
        settings: &Settings,
        rules: Option<LocationRules<'_>>,
        start: Instant,
    ) -> Verdict {
        let body = match body_reader::load(req, settings.body_limit) {
            Ok(b) => b,
            Err(e) => return Verdict::fail_open(FailOpen::BodyRead, Some(e.to_string())),
        };
        self.stats.add_body_bytes(body.bytes.len() as u64);
        self.metrics
            .block()
            .record_body_bytes(body.bytes.len() as u64);
        if body.truncated() && settings.body_limit_action == BodyLimitAction::Reject {
            let finding = Finding::new(
                body_rules::BODY_TOO_LARGE,
                "Request body larger than the inspection limit; rejected",
                Severity::Critical,
                "REQUEST_BODY_LENGTH".into(),
                body.total_len.to_string().as_bytes(),
            );
            let mut verdict = decide(vec![finding], 0, None, settings);
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
        let budget = time_allowed(settings, body.bytes.len());
        let out_of_time = || {
            Verdict::fail_open(
                FailOpen::TimeBudget,
                Some(format!("time budget of {budget:?} spent")),
            )
        };
        let deadline = Deadline::new(start, budget);
        if self.test_faults && self.run_test_fault(req, &deadline).is_err() {
            return out_of_time();
        }
        let mut findings = Vec::new();
        let detectors = if settings.detectors {
            &self.detectors[..]
        } else {
            &[]
        };
        if !detectors.is_empty() {
            let classified = Classified::new(&inputs);
            for d in detectors {
                if d.inspect(req, &classified, &deadline, &mut findings)
                    .is_err()
                {
                    return out_of_time();
                }
            }
        }
        if deadline.check_now().is_err() {
            return out_of_time();
        }
        // `moat_rules_remove_by_id` applies to the built-in detectors' rule ids too.
        if let Some(removed) = rules.map(|r| r.removed).filter(|r| !r.is_empty()) {
            findings.retain(|f| !rules::in_ranges(removed, f.rule_id));
        }
        let builtin_score = findings.iter().map(|f| f.severity.score()).sum();
        // A set without rules (one that only carries removals) has nothing to evaluate.
        let Some(rules) = rules.filter(|r| !r.set.rules.is_empty()) else {
            return decide(findings, builtin_score, None, settings);
        };
        let exchange = rules::Exchange {
            req,
            inputs,
            body: &body.bytes,
            response,
        };
        match rules::evaluate(rules, exchange, &self.limits, &deadline) {
            Ok(outcome) => {
                findings.extend(outcome.matches.iter().filter(|m| m.log).map(rule_finding));
                decide(findings, builtin_score, Some(&outcome), settings)
            }
            Err(_) => out_of_time(),
        }
    }

    /// The fault a test asked for in [`TEST_FAULT_HEADER`]: a panic, or an inspection that keeps
    /// the CPU busy until the budget is spent.
    fn run_test_fault(&self, req: &Request<'_>, deadline: &Deadline) -> Result<(), OutOfTime> {
        match req.header(TEST_FAULT_HEADER) {
            Some(b"panic") => panic!("test fault: panic requested by header"),
            Some(b"slow") => loop {
                deadline.check_now()?;
                std::hint::spin_loop();
            },
            _ => Ok(()),
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

/// The verdict from the findings: blocked when the built-in score reaches the threshold or a
/// rule denied the request, and the mode is `on`.
fn decide(
    findings: Vec<Finding>,
    builtin_score: u32,
    rules: Option<&Outcome>,
    settings: &Settings,
) -> Verdict {
    let rules_score = rules.map_or(0, |o| u32::try_from(o.anomaly_score).unwrap_or(0));
    let denied = rules.and_then(|o| o.denied);
    let wants_block = builtin_score >= settings.anomaly_threshold || denied.is_some();
    let action = if findings.is_empty() && denied.is_none() {
        Action::Allow
    } else if wants_block && settings.mode == Mode::On {
        Action::Block
    } else {
        Action::Log
    };
    let status = match (action, denied) {
        (Action::Block, Some((_, Some(status)))) => status,
        (Action::Block, _) => settings.block_status,
        _ => 0,
    };
    Verdict {
        action,
        status,
        score: builtin_score + rules_score,
        threshold: settings.anomaly_threshold,
        findings,
        ..Verdict::allow()
    }
}

/// The verdict for a client refused by a geo access list: blocked in `on` mode whatever the
/// threshold, logged in `detect` mode.
fn refuse(finding: Finding, settings: &Settings) -> Verdict {
    let on = settings.mode == Mode::On;
    Verdict {
        action: if on { Action::Block } else { Action::Log },
        status: if on { settings.block_status } else { 0 },
        score: finding.severity.score(),
        threshold: settings.anomaly_threshold,
        findings: vec![finding],
        ..Verdict::allow()
    }
}

/// A matched SecLang rule as a finding; CRS severities 0–2 count as critical.
fn rule_finding(m: &RuleMatch) -> Finding {
    let severity = match m.severity {
        Some(0..=2) => Severity::Critical,
        Some(3) => Severity::Error,
        Some(4) => Severity::Warning,
        Some(5) => Severity::Notice,
        _ => Severity::Info,
    };
    Finding {
        rule_id: m.id,
        msg: m.msg.clone().into(),
        severity,
        variable: m.variable.clone(),
        data: detect::excerpt(m.data.as_bytes()),
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

    /// An id source that counts how often it is asked.
    struct CountingId(std::cell::Cell<u32>);

    impl crate::request::IdSource for CountingId {
        fn id(&self) -> &[u8] {
            self.0.set(self.0.get() + 1);
            b"lazy-id-42"
        }
    }

    /// The request id is asked for only when something reads it: a passing request does not
    /// pay for it, a blocked one carries it in its log line, and a rule reading `UNIQUE_ID`
    /// sees it.
    #[test]
    fn the_request_id_is_fetched_only_when_read() {
        let source = CountingId(std::cell::Cell::new(0));
        let benign = Request {
            uri: b"/index.html?page=2",
            id_source: Some(&source),
            ..Default::default()
        };
        assert_eq!(engine().check(&benign, None).action, Action::Allow);
        assert_eq!(
            source.0.get(),
            0,
            "nothing read the id of a passing request"
        );
        let attack = Request {
            uri: b"/?q=1' or '1'='1",
            ..benign.clone()
        };
        let line = engine().check(&attack, None).log_line().unwrap();
        assert!(line.contains("[unique_id \"lazy-id-42\"]"), "{line}");
        let config = crate::seclang::parse_str(
            "SecRuleEngine On\nSecRule UNIQUE_ID \"@streq lazy-id-42\" \"id:1,phase:1,deny,status:403\"",
            "unique-id.conf",
        )
        .unwrap();
        let rules = Arc::new(crate::rules::RuleSet::compile(&config).unwrap());
        let with_rule = Engine::with_rules(Settings::default(), Some(rules));
        let v = with_rule.check(&benign, None);
        assert_eq!((v.action, v.status), (Action::Block, 403));
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
