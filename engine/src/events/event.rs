//! The event: one record per inspected request, built from the request and its verdict.

use std::borrow::Cow;
use std::cell::Cell;
use std::time::{SystemTime, UNIX_EPOCH};

use super::session::{self, Credentials, SessionConfig};
use crate::request::Request;
use crate::verdict::{Action, FailOpen, Verdict};

/// Longest URI kept in an event.
pub const URI_MAX: usize = 2048;
/// Longest `User-Agent` kept in an event.
pub const USER_AGENT_MAX: usize = 512;
/// Longest `Host` kept in an event.
pub const HOST_MAX: usize = 256;

/// Where the client is. Empty (and zero) until geo data is wired in.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Geo {
    /// ISO 3166 country code, e.g. `DE`.
    pub country: String,
    /// City name.
    pub city: String,
    /// Latitude in degrees.
    pub latitude: f32,
    /// Longitude in degrees.
    pub longitude: f32,
    /// Autonomous system number.
    pub asn: u32,
    /// Autonomous system organisation.
    pub as_org: String,
}

/// One inspected request, as sent to ClickHouse.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// When the request was judged, in milliseconds since the Unix epoch.
    pub time_ms: u64,
    /// nginx's `$request_id`.
    pub request_id: Vec<u8>,
    /// Client address as text.
    pub client_addr: Vec<u8>,
    /// Geo fields of the client address.
    pub geo: Geo,
    /// Request method.
    pub method: Vec<u8>,
    /// `Host` header.
    pub host: Vec<u8>,
    /// Raw request target, at most [`URI_MAX`] bytes.
    pub uri: Vec<u8>,
    /// Response status (set by the adapter once the response is sent).
    pub status: u16,
    /// The verdict's action.
    pub action: Action,
    /// Why inspection was incomplete, if it was.
    pub fail_open: Option<FailOpen>,
    /// Total anomaly score.
    pub score: u32,
    /// Matched rule ids, in match order.
    pub rule_ids: Vec<u32>,
    /// The matched rules' messages, parallel to `rule_ids`.
    pub rule_msgs: Vec<Cow<'static, str>>,
    /// The session cookie and JWT, turned into a hash and claims before anything is stored.
    pub credentials: Credentials,
    /// `User-Agent` header, at most [`USER_AGENT_MAX`] bytes.
    pub user_agent: Vec<u8>,
    /// Request size in bytes (request line, headers and body).
    pub bytes_in: u64,
    /// Inspection time in microseconds.
    pub inspect_us: u32,
}

fn bounded(bytes: &[u8], max: usize) -> Vec<u8> {
    bytes[..bytes.len().min(max)].to_vec()
}

impl Event {
    /// The event of a judged request, timed now. `status` is the block status for a blocked
    /// request and 0 otherwise until [`Event::finish`] sets the response's; `bytes_in` is the
    /// header and body size the engine saw.
    pub fn new(req: &Request<'_>, verdict: &Verdict, sessions: &SessionConfig) -> Event {
        let time_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        let header_bytes: usize = req
            .headers
            .iter()
            .map(|h| h.name.len() + h.value.len() + 4)
            .sum();
        Event {
            time_ms,
            request_id: req.request_id.to_vec(),
            client_addr: req.client_addr.to_vec(),
            geo: Geo::default(),
            method: req.method.to_vec(),
            host: bounded(req.header(b"host").unwrap_or_default(), HOST_MAX),
            uri: bounded(req.uri, URI_MAX),
            status: verdict.status,
            action: verdict.action,
            fail_open: verdict.fail_open,
            score: verdict.score,
            rule_ids: verdict.findings.iter().map(|f| f.rule_id).collect(),
            rule_msgs: verdict.findings.iter().map(|f| f.msg.clone()).collect(),
            credentials: session::credentials(req, sessions),
            user_agent: bounded(
                req.header(b"user-agent").unwrap_or_default(),
                USER_AGENT_MAX,
            ),
            bytes_in: (req.method.len() + req.uri.len() + req.version.len() + header_bytes) as u64
                + req.body_len(),
            inspect_us: u32::try_from(verdict.elapsed.as_micros()).unwrap_or(u32::MAX),
        }
    }

    /// Completes the event with the response status and the request size nginx counted.
    pub fn finish(&mut self, status: u16, bytes_in: u64) {
        self.status = status;
        if bytes_in > 0 {
            self.bytes_in = bytes_in;
        }
    }
}

/// Which requests produce events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Record {
    /// Every inspected request (allowed ones subject to sampling).
    #[default]
    All,
    /// Only blocked and flagged requests (and fail-opens).
    Flagged,
}

/// Decides which requests produce events and builds them.
#[derive(Debug, Clone)]
pub struct Recorder {
    /// All requests or only flagged ones.
    pub record: Record,
    /// Fraction of allowed requests recorded, 0.0..=1.0 (blocked and flagged ones always are).
    pub sample: f64,
    /// Session cookies, token cookies and the session hash key.
    pub sessions: SessionConfig,
}

impl Recorder {
    /// True when this verdict's request should produce an event.
    pub fn wants(&self, verdict: &Verdict) -> bool {
        if verdict.action != Action::Allow || verdict.fail_open.is_some() {
            return true;
        }
        match self.record {
            Record::Flagged => false,
            Record::All if self.sample >= 1.0 => true,
            Record::All => sample_draw() < self.sample,
        }
    }

    /// The request's event, or `None` when the policy leaves it out.
    pub fn event(&self, req: &Request<'_>, verdict: &Verdict) -> Option<Event> {
        self.wants(verdict)
            .then(|| Event::new(req, verdict, &self.sessions))
    }
}

thread_local! {
    static RNG: Cell<u64> = Cell::new(seed());
}

fn seed() -> u64 {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(1, |d| d.as_nanos() as u64);
    (nanos ^ (u64::from(std::process::id()) << 32)) | 1
}

/// A uniform draw in [0, 1) from a per-thread xorshift generator (sampling needs speed, not
/// unpredictability).
fn sample_draw() -> f64 {
    RNG.with(|rng| {
        let mut x = rng.get();
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        rng.set(x);
        (x >> 11) as f64 / (1u64 << 53) as f64
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::{Finding, Severity};
    use crate::events::siphash::derive_key;
    use crate::request::Header;

    fn recorder(record: Record, sample: f64) -> Recorder {
        Recorder {
            record,
            sample,
            sessions: SessionConfig::with_key(derive_key(b"k")),
        }
    }

    fn blocked() -> Verdict {
        Verdict {
            action: Action::Block,
            status: 403,
            score: 5,
            findings: vec![Finding::new(
                100100,
                "SQL injection",
                Severity::Critical,
                "ARGS:q".into(),
                b"x",
            )],
            ..Verdict::allow()
        }
    }

    #[test]
    fn event_carries_request_and_verdict_fields() {
        let long_uri = format!("/search?q={}", "a".repeat(5000));
        let req = Request {
            method: b"GET",
            uri: long_uri.as_bytes(),
            version: b"HTTP/1.1",
            headers: vec![
                Header {
                    name: b"Host",
                    value: b"shop.example",
                },
                Header {
                    name: b"User-Agent",
                    value: b"curl/8.0",
                },
                Header {
                    name: b"Cookie",
                    value: b"PHPSESSID=s3cret",
                },
            ],
            client_addr: b"192.0.2.7",
            request_id: b"abc123",
            ..Default::default()
        };
        let e = recorder(Record::All, 1.0).event(&req, &blocked()).unwrap();
        assert_eq!(e.request_id, b"abc123");
        assert_eq!(e.client_addr, b"192.0.2.7");
        assert_eq!(e.host, b"shop.example");
        assert_eq!(e.user_agent, b"curl/8.0");
        assert_eq!(e.uri.len(), URI_MAX);
        assert_eq!((e.action, e.status, e.score), (Action::Block, 403, 5));
        assert_eq!(e.rule_ids, vec![100100]);
        assert_eq!(e.rule_msgs, vec![Cow::Borrowed("SQL injection")]);
        assert!(e.credentials.session_cookie.is_some());
        assert!(e.time_ms > 1_700_000_000_000);
        assert_eq!(e.geo, Geo::default());
    }

    #[test]
    fn flagged_policy_skips_clean_requests_and_sampling_thins_them() {
        let req = Request::default();
        let flagged = recorder(Record::Flagged, 1.0);
        assert!(flagged.event(&req, &Verdict::allow()).is_none());
        assert!(flagged.event(&req, &blocked()).is_some());
        let none = recorder(Record::All, 0.0);
        assert!(none.event(&req, &Verdict::allow()).is_none());
        assert!(none.event(&req, &blocked()).is_some());
        let tenth = recorder(Record::All, 0.1);
        let kept = (0..10_000)
            .filter(|_| tenth.wants(&Verdict::allow()))
            .count();
        assert!((700..1300).contains(&kept), "{kept} of 10000 kept");
    }
}
