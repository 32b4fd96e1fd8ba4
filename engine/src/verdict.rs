//! The engine's decision about one request, and its ModSecurity-style log line.

use std::fmt::Write as _;
use std::time::Duration;

use crate::detect::Finding;
use crate::geo::ClientGeo;

/// What happens to the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Nothing matched (or inspection was off or failed open): the request passes.
    Allow,
    /// Rules matched but the request passes (detect mode, or score under the threshold).
    Log,
    /// The request is refused with the verdict's status.
    Block,
}

impl Action {
    /// `allow`, `log` or `block`, as shown in `$moat_action`.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Allow => "allow",
            Action::Log => "log",
            Action::Block => "block",
        }
    }
}

/// Why a request was let through without a complete inspection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailOpen {
    /// The engine panicked.
    Panic,
    /// The time budget ran out.
    TimeBudget,
    /// The body could not be read.
    BodyRead,
}

impl FailOpen {
    /// Short name for logs and counters.
    pub fn as_str(self) -> &'static str {
        match self {
            FailOpen::Panic => "panic",
            FailOpen::TimeBudget => "time budget",
            FailOpen::BodyRead => "body read error",
        }
    }
}

/// The decision about one request.
#[derive(Debug, Clone)]
pub struct Verdict {
    /// Allow, log or block.
    pub action: Action,
    /// HTTP status to send when blocking (0 otherwise).
    pub status: u16,
    /// Total anomaly score.
    pub score: u32,
    /// The threshold the score was compared with.
    pub threshold: u32,
    /// Matched rules in the order they matched.
    pub findings: Vec<Finding>,
    /// Set when inspection did not complete and the request was let through.
    pub fail_open: Option<FailOpen>,
    /// Detail of an internal error (panic message, I/O error).
    pub error: Option<String>,
    /// Time spent inspecting.
    pub elapsed: Duration,
    /// The request URI (shortened), for the log line.
    pub uri: String,
    /// The request id, for the log line.
    pub request_id: String,
    /// The client's address and location, when GeoIP or trusted proxies are configured.
    pub client: Option<ClientGeo>,
}

/// Longest URI kept in a verdict for logging.
const URI_MAX: usize = 256;

impl Verdict {
    /// A verdict that lets the request through with nothing to report.
    pub fn allow() -> Verdict {
        Verdict {
            action: Action::Allow,
            status: 0,
            score: 0,
            threshold: 0,
            findings: Vec::new(),
            fail_open: None,
            error: None,
            elapsed: Duration::ZERO,
            uri: String::new(),
            request_id: String::new(),
            client: None,
        }
    }

    /// A verdict that lets the request through because inspection failed.
    pub fn fail_open(cause: FailOpen, error: Option<String>) -> Verdict {
        Verdict {
            fail_open: Some(cause),
            error,
            ..Verdict::allow()
        }
    }

    /// Records the request's URI and id for the log line (only called when there is something
    /// to log, so passing requests copy nothing).
    pub fn set_request_info(&mut self, uri: &[u8], request_id: &[u8]) {
        self.uri = crate::detect::excerpt(&uri[..uri.len().min(URI_MAX)]);
        self.request_id = String::from_utf8_lossy(request_id).into_owned();
    }

    /// Matched rule ids, comma-separated, e.g. `100100,100200`.
    pub fn rule_ids(&self) -> String {
        let mut s = String::new();
        for (i, f) in self.findings.iter().enumerate() {
            if i > 0 {
                s.push(',');
            }
            let _ = write!(s, "{}", f.rule_id);
        }
        s
    }

    /// One error-log line in ModSecurity's style, or `None` when there is nothing to log.
    ///
    /// A block reads `Moat: Access denied with code 403 (phase 2). …`, a detection that passed
    /// `Moat: Warning. …`, a fail-open `Moat: Inspection incomplete (…), request let through.`;
    /// each carries `[id "…"] [msg "…"] [data "…"] [severity "…"]` per matched rule, then
    /// `[uri "…"] [unique_id "…"]`.
    pub fn log_line(&self) -> Option<String> {
        let mut s = String::with_capacity(256);
        match (self.action, self.fail_open) {
            (_, Some(cause)) => {
                let _ = write!(s, "Moat: Inspection incomplete ({}", cause.as_str());
                if let Some(e) = &self.error {
                    let _ = write!(s, ": {}", crate::detect::excerpt(e.as_bytes()));
                }
                s.push_str("), request let through.");
            }
            (Action::Block, None) => {
                let _ = write!(
                    s,
                    "Moat: Access denied with code {} (phase 2). Anomaly score {} reached threshold {}.",
                    self.status, self.score, self.threshold
                );
            }
            (Action::Log, None) => {
                let _ = write!(
                    s,
                    "Moat: Warning. Anomaly score {} (threshold {}), request passed.",
                    self.score, self.threshold
                );
            }
            (Action::Allow, None) => return None,
        }
        for f in &self.findings {
            let _ = write!(
                s,
                " [id \"{}\"] [msg \"{}\"] [data \"{}: {}\"] [severity \"{}\"]",
                f.rule_id,
                f.msg,
                f.variable,
                f.data,
                f.severity.as_str()
            );
        }
        let _ = write!(
            s,
            " [uri \"{}\"] [unique_id \"{}\"]",
            self.uri, self.request_id
        );
        if let Some(client) = &self.client {
            s.push_str(&client.log_tags());
        }
        Some(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::Severity;

    #[test]
    fn block_line_has_modsecurity_fields() {
        let mut v = Verdict {
            action: Action::Block,
            status: 403,
            score: 5,
            threshold: 5,
            findings: vec![Finding::new(
                100100,
                "SQL injection",
                Severity::Critical,
                "ARGS:q".into(),
                b"1' or '1'='1",
            )],
            ..Verdict::allow()
        };
        v.set_request_info(b"/search?q=x", b"abc123");
        let line = v.log_line().unwrap();
        assert!(line.starts_with("Moat: Access denied with code 403 (phase 2)."));
        assert!(line.contains("[id \"100100\"]"));
        assert!(line.contains("[msg \"SQL injection\"]"));
        assert!(line.contains("[data \"ARGS:q: 1' or '1'='1\"]"));
        assert!(line.contains("[uri \"/search?q=x\"]"));
        assert!(line.contains("[unique_id \"abc123\"]"));
        assert_eq!(v.rule_ids(), "100100");
    }

    #[test]
    fn allow_has_no_log_line() {
        assert!(Verdict::allow().log_line().is_none());
        let v = Verdict::fail_open(FailOpen::Panic, Some("boom".into()));
        assert!(v.log_line().unwrap().contains("panic: boom"));
    }
}
