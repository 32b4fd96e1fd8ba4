//! Built-in detectors. Each looks at the parsed fields (and the request view) and reports
//! [`Finding`]s with its own rule ids; the engine adds their scores.
//!
//! Rule id ranges: 100100–100199 SQL, NoSQL and LDAP injection, 100200–100299 XSS, 100300–100399 path traversal, files and uploads,
//! 100400–100499 scanners and known exploit probes, 100500–100599 protocol and smuggling anomalies, 100600–100699 body
//! and parsing anomalies, 100700–100799 GeoIP policy, 100800–100899 command and code
//! injection, 100900–100999 server-side request forgery and remote file inclusion.

use std::borrow::Cow;
use std::cell::Cell;
use std::time::{Duration, Instant};

use crate::request::Request;
use targets::Classified;

pub mod body;
pub mod classes;
pub mod command;
pub mod exploits;
pub mod ldap;
pub mod memo;
pub mod nosql;
pub mod protocol;
pub mod scanner;
pub mod server_side;
pub mod sqli;
pub mod ssrf;
pub mod targets;
#[cfg(test)]
pub(crate) mod testing;
pub mod transform;
pub mod traversal;
pub mod upload;
pub mod xss;

/// How serious a finding is; decides its anomaly score (CRS's scale).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    /// Score 5.
    Critical,
    /// Score 4.
    Error,
    /// Score 3.
    Warning,
    /// Score 2.
    Notice,
    /// Score 0: recorded, never contributes to a block.
    Info,
}

impl Severity {
    /// The anomaly score this severity adds.
    pub fn score(self) -> u32 {
        match self {
            Severity::Critical => 5,
            Severity::Error => 4,
            Severity::Warning => 3,
            Severity::Notice => 2,
            Severity::Info => 0,
        }
    }

    /// The name used in logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Critical => "CRITICAL",
            Severity::Error => "ERROR",
            Severity::Warning => "WARNING",
            Severity::Notice => "NOTICE",
            Severity::Info => "INFO",
        }
    }
}

/// One rule that matched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// Rule id.
    pub rule_id: u32,
    /// What the rule detects.
    pub msg: Cow<'static, str>,
    /// Its severity (and so its score).
    pub severity: Severity,
    /// The variable that matched, e.g. `ARGS:q`.
    pub variable: String,
    /// A short excerpt of the matched value.
    pub data: String,
}

/// Most bytes of a value kept as a finding's excerpt.
pub const EXCERPT_MAX: usize = 100;

impl Finding {
    /// A finding whose excerpt is the first bytes of `value`, escaped for a log line.
    pub fn new(
        rule_id: u32,
        msg: &'static str,
        severity: Severity,
        variable: String,
        value: &[u8],
    ) -> Finding {
        Finding {
            rule_id,
            msg: Cow::Borrowed(msg),
            severity,
            variable,
            data: excerpt(value),
        }
    }

    /// The finding with `label` (what matched: a file name, a tool, an exploit) before its
    /// excerpt, as `label: excerpt`.
    pub fn labelled(mut self, label: &str) -> Finding {
        self.data.insert_str(0, ": ");
        self.data.insert_str(0, label);
        self
    }
}

/// The first [`EXCERPT_MAX`] bytes of `value` as printable text: bytes outside printable ASCII
/// and the quote and backslash are written as `\xHH`.
pub fn excerpt(value: &[u8]) -> String {
    let mut s = String::with_capacity(value.len().min(EXCERPT_MAX) + 3);
    for &b in value.iter().take(EXCERPT_MAX) {
        if (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\' {
            s.push(b as char);
        } else {
            s.push_str(&format!("\\x{b:02x}"));
        }
    }
    if value.len() > EXCERPT_MAX {
        s.push_str("...");
    }
    s
}

/// The identifier `s` ends with: its trailing run of ASCII letters, digits, `_` and `$` (a PHP
/// function's or a JavaScript object's name before `(` or `[`).
pub(crate) fn trailing_identifier(s: &[u8]) -> &[u8] {
    let len = s
        .iter()
        .rev()
        .take_while(|&&b| b.is_ascii_alphanumeric() || b == b'_' || b == b'$')
        .count();
    &s[s.len() - len..]
}

/// The bytes of `s` after a case-insensitive `prefix`.
pub(crate) fn strip_prefix_ci<'s>(s: &'s [u8], prefix: &[u8]) -> Option<&'s [u8]> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &s[prefix.len()..])
}

/// The inspection time budget ran out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutOfTime;

/// The moment inspection must stop. Reading the clock costs more than a cheap value's
/// inspection, so only every [`Deadline::CLOCK_EVERY`]th check reads it.
///
/// The budget is for Moat's own work. The wall clock (cheap to read) also runs while the
/// thread waits for its core, so when it says the budget is spent the thread's CPU clock is
/// consulted: the deadline moves on by a grace period, and at its end inspection stops only if
/// the thread ran for at least half of it. A thread that mostly waited (a busy machine, a
/// hypervisor's pause) gets another grace period, up to [`Deadline::HARD_LIMIT`] budgets of
/// wall time in all, so a stall never turns into a let-through by itself and nothing waits
/// without bound.
#[derive(Debug, Clone)]
pub struct Deadline {
    at: Cell<Instant>,
    checks: Cell<u32>,
    /// The grace period after an overrun.
    grace: Duration,
    /// Beyond this, out of time whatever the CPU clock says.
    hard: Instant,
    /// When the current grace period began: the wall instant and the thread's CPU time then.
    watching: Cell<Option<(Instant, Duration)>>,
}

impl Deadline {
    /// How many checks share one reading of the clock.
    pub const CLOCK_EVERY: u32 = 16;
    /// The most wall time allowed, in budgets, however long the thread waited for its core.
    pub const HARD_LIMIT: u32 = 4;

    /// A deadline `budget` after `start`.
    pub fn new(start: Instant, budget: Duration) -> Deadline {
        Deadline {
            at: Cell::new(start + budget),
            checks: Cell::new(0),
            grace: budget / 4,
            hard: start + budget * Self::HARD_LIMIT,
            watching: Cell::new(None),
        }
    }

    /// `Err(OutOfTime)` when the budget is spent, reading the clock now (between stages).
    pub fn check_now(&self) -> Result<(), OutOfTime> {
        let now = Instant::now();
        if now >= self.at.get() && self.spent(now) {
            Err(OutOfTime)
        } else {
            Ok(())
        }
    }

    /// `Err(OutOfTime)` once the budget is spent (noticed within a few checks).
    pub fn check(&self) -> Result<(), OutOfTime> {
        let n = self.checks.get().wrapping_add(1);
        self.checks.set(n);
        if n % Self::CLOCK_EVERY == 0 {
            self.check_now()
        } else {
            Ok(())
        }
    }

    /// Whether the budget is spent, the wall clock having passed the deadline at `now`: true
    /// when the thread ran for at least half of the grace period that ends now (or past the
    /// hard limit); otherwise a new grace period begins.
    fn spent(&self, now: Instant) -> bool {
        if now >= self.hard {
            return true;
        }
        let Some(cpu) = crate::cpu_clock::thread_cpu_time() else {
            return true;
        };
        if let Some((since, cpu_then)) = self.watching.get() {
            let ran = cpu.saturating_sub(cpu_then);
            if ran * 2 >= now - since {
                return true;
            }
        }
        self.watching.set(Some((now, cpu)));
        self.at.set(now + self.grace);
        false
    }
}

/// A built-in detector.
pub trait Detector: Send + Sync {
    /// Inspects one request; adds what it finds to `out`. Checks `deadline` between values.
    fn inspect(
        &self,
        req: &Request<'_>,
        inputs: &Classified<'_, '_>,
        deadline: &Deadline,
        out: &mut Vec<Finding>,
    ) -> Result<(), OutOfTime>;
}

/// All built-in detectors in the order they run.
pub fn builtin() -> Vec<Box<dyn Detector>> {
    vec![
        Box::new(protocol::Protocol::new()),
        Box::new(body::BodyAnomalies),
        Box::new(scanner::Scanner::new()),
        Box::new(exploits::KnownExploits::new()),
        Box::new(traversal::Traversal::new()),
        Box::new(upload::Uploads::new()),
        Box::new(sqli::Sqli::new()),
        Box::new(nosql::NoSql::new()),
        Box::new(ldap::LdapInjection::new()),
        Box::new(xss::Xss::new()),
        Box::new(command::CommandInjection::new()),
        Box::new(server_side::ServerSide::new()),
        Box::new(ssrf::Ssrf::new()),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse;

    fn spin(d: Duration) {
        let start = Instant::now();
        while start.elapsed() < d {
            std::hint::spin_loop();
        }
    }

    /// An inspection that keeps the CPU busy stops soon after its budget (its own CPU time is
    /// what is compared: other tests share the machine).
    #[test]
    fn a_busy_inspection_runs_out_of_time() {
        let budget = Duration::from_millis(20);
        let start = Instant::now();
        let cpu = crate::cpu_clock::thread_cpu_time().unwrap();
        let deadline = Deadline::new(start, budget);
        while deadline.check().is_ok() {
            spin(Duration::from_micros(50));
        }
        let ran = crate::cpu_clock::thread_cpu_time().unwrap() - cpu;
        assert!(start.elapsed() >= budget);
        assert!(
            ran < budget * 3,
            "ran {ran:?}, the hard limit is {} budgets",
            Deadline::HARD_LIMIT
        );
    }

    /// Time spent waiting for the core (a sleep here) is not spent budget: inspection goes on,
    /// and stops once it has itself been busy through a grace period.
    #[test]
    fn waiting_for_the_core_does_not_spend_the_budget() {
        let budget = Duration::from_millis(20);
        let start = Instant::now();
        let deadline = Deadline::new(start, budget);
        std::thread::sleep(budget * 2);
        assert_eq!(
            deadline.check_now(),
            Ok(()),
            "a wait alone is not an overrun"
        );
        let cpu = crate::cpu_clock::thread_cpu_time().unwrap();
        while deadline.check_now().is_ok() {
            spin(Duration::from_micros(100));
        }
        let ran = crate::cpu_clock::thread_cpu_time().unwrap() - cpu;
        assert!(ran < budget, "busy for {ran:?} after the wait");
    }

    /// However the wait is split, nothing runs past the hard limit.
    #[test]
    fn waiting_stops_at_the_hard_limit() {
        let budget = Duration::from_millis(10);
        let start = Instant::now();
        let deadline = Deadline::new(start, budget);
        let mut waits = 0;
        while deadline.check_now().is_ok() {
            std::thread::sleep(budget / 2);
            waits += 1;
            assert!(waits < 100, "never ran out");
        }
        assert!(start.elapsed() >= budget * Deadline::HARD_LIMIT);
    }

    #[test]
    fn builtin_detectors_pass_a_browser_request_and_catch_attacks() {
        let browser: &[(&[u8], &[u8])] = &[
            (b"Host", b"shop.example.com"),
            (
                b"User-Agent",
                b"Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:125.0) Gecko/20100101 Firefox/125.0",
            ),
            (
                b"Accept",
                b"text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
            ),
            (b"Accept-Language", b"en-US,en;q=0.5"),
            (
                b"Referer",
                b"https://shop.example.com/search?q=o%27reilly+books",
            ),
            (
                b"Cookie",
                b"sid=7f3a9c; _ga=GA1.2.1234567890.1234567890; cart=%7B%22n%22%3A2%7D",
            ),
        ];
        let findings = |uri: &[u8]| -> Vec<u32> {
            builtin()
                .iter()
                .flat_map(|d| {
                    testing::inspect_request(d.as_ref(), b"GET", uri, b"HTTP/1.1", browser)
                })
                .map(|f| f.rule_id)
                .collect()
        };
        assert!(findings(b"/search?q=O%27Brien%27s+pub&page=2&sort=price").is_empty());
        assert_eq!(
            findings(b"/search?q=1%27+or+%271%27%3D%271"),
            [sqli::SQLI_LIBINJECTION]
        );
        assert_eq!(
            findings(b"/?q=%3Cscript%3Ealert(1)%3C/script%3E"),
            [xss::XSS_LIBINJECTION]
        );
        assert_eq!(
            findings(b"/static/..%2f..%2fapp.py"),
            [traversal::PATH_TRAVERSAL]
        );
    }

    /// XML bodies are inspected like CRS's `XML:/*|XML://@*` (text content and attribute
    /// values), and an external entity declaration is an attack of its own (XXE).
    #[test]
    fn injections_in_xml_bodies_are_found() {
        let findings = |body: &str| -> Vec<(u32, String)> {
            builtin()
                .iter()
                .flat_map(|d| {
                    testing::inspect_post(d.as_ref(), b"application/xml", body.as_bytes())
                })
                .map(|f| (f.rule_id, f.variable))
                .collect()
        };
        assert!(findings(
            r#"<?xml version="1.0"?><order id="A-1001"><item sku="SKU-1" qty="2">Blue shirt, size M</item><note>O'Brien's gift &amp; card</note></order>"#
        )
        .is_empty());
        assert_eq!(
            findings(r#"<?xml version="1.0"?><root><a probe="1234 OR 1=1"></a></root>"#),
            [(sqli::SQLI_LIBINJECTION, "XML://@probe".to_string())]
        );
        assert_eq!(
            findings(r#"<root><q>1' OR '1'='1</q></root>"#),
            [(sqli::SQLI_LIBINJECTION, "XML:/*".to_string())]
        );
        assert_eq!(
            findings(r#"<root><b>&lt;script&gt;alert(1)&lt;/script&gt;</b></root>"#),
            [(xss::XSS_LIBINJECTION, "XML:/*".to_string())]
        );
        assert_eq!(
            findings(
                r#"<?xml version="1.0"?><!DOCTYPE foo [<!ENTITY xxe SYSTEM "http://evil.example/x">]><foo>&xxe;</foo>"#
            ),
            [(body::XML_EXTERNAL_ENTITY, "REQUEST_BODY".to_string())]
        );
    }

    #[test]
    fn detectors_survive_arbitrary_bytes() {
        const ALPHABET: &[u8] = b"%uU0aefcC.\\/;&#x;\r\n\0<>'\"=:- \xc0\xae\xef\xbc\x8fHTTP/1 GET";
        let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let detectors = builtin();
        for _ in 0..500 {
            let len = (next() % 40) as usize;
            let value: Vec<u8> = (0..len)
                .map(|_| ALPHABET[(next() % ALPHABET.len() as u64) as usize])
                .collect();
            for d in &detectors {
                testing::inspect_field(d.as_ref(), parse::Source::QueryArg, &value, &value);
                let headers: &[(&[u8], &[u8])] =
                    &[(b"User-Agent", &value), (b"Content-Length", &value)];
                testing::inspect_request(d.as_ref(), b"GET", &value, b"HTTP/2.0", headers);
            }
        }
    }

    #[test]
    fn excerpt_escapes_and_truncates() {
        assert_eq!(excerpt(b"a\"b\r\n"), "a\\x22b\\x0d\\x0a");
        let long = vec![b'x'; 150];
        let e = excerpt(&long);
        assert!(e.ends_with("...") && e.len() == EXCERPT_MAX + 3);
    }
}
