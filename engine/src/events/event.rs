//! The event: one record per inspected request, built from the request and its verdict.

use std::borrow::Cow;
use std::cell::Cell;
use std::time::{SystemTime, UNIX_EPOCH};

use super::session::{self, Credentials, SessionConfig};
use crate::geo::info::GeoInfo;
use crate::request::Request;
use crate::verdict::{Action, FailOpen, Verdict};

/// Longest URI kept in an event.
pub const URI_MAX: usize = 2048;
/// Longest `User-Agent` kept in an event.
pub const USER_AGENT_MAX: usize = 512;
/// Longest `Host` kept in an event.
pub const HOST_MAX: usize = 256;

/// Where the client is; empty (and zero) without GeoIP data.
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

impl Geo {
    /// The event's copy of what the GeoIP databases said.
    pub fn from_info(info: &GeoInfo) -> Geo {
        Geo {
            country: info.country_code.clone().unwrap_or_default(),
            city: info.city.clone().unwrap_or_default(),
            latitude: info.latitude.unwrap_or(0.0) as f32,
            longitude: info.longitude.unwrap_or(0.0) as f32,
            asn: info.asn.unwrap_or(0),
            as_org: info.asn_org.clone().unwrap_or_default(),
        }
    }
}

/// The byte-string fields of an [`Event`], stored together in one buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Text {
    /// nginx's `$request_id`.
    RequestId = 0,
    /// Client address as text.
    ClientAddr,
    /// Request method.
    Method,
    /// `Host` header, at most [`HOST_MAX`] bytes.
    Host,
    /// Raw request target, at most [`URI_MAX`] bytes.
    Uri,
    /// `User-Agent` header, at most [`USER_AGENT_MAX`] bytes.
    UserAgent,
    /// The session cookie's value: only hashed, never stored.
    SessionCookie,
    /// The JWT: only its claims are read, it is never stored.
    Token,
}

/// Number of [`Text`] fields.
pub const TEXT_FIELDS: usize = 8;

/// Longest session cookie or token kept for hashing.
const CREDENTIAL_MAX: usize = 4096;

/// One inspected request, as sent to ClickHouse.
///
/// Built on the request path, so its byte strings share one allocation ([`Text`] fields);
/// the session cookie and token in it are turned into a hash and claims by the forwarder's
/// thread before anything is written.
#[derive(Clone, PartialEq)]
pub struct Event {
    /// When the request was judged, in milliseconds since the Unix epoch.
    pub time_ms: u64,
    text: Vec<u8>,
    ends: [u32; TEXT_FIELDS],
    /// Geo fields of the client address.
    pub geo: Geo,
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
    /// Request size in bytes (request line, headers and body).
    pub bytes_in: u64,
    /// Inspection time in microseconds.
    pub inspect_us: u32,
}

impl std::fmt::Debug for Event {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let text = |t: Text| String::from_utf8_lossy(self.text(t)).into_owned();
        f.debug_struct("Event")
            .field("time_ms", &self.time_ms)
            .field("request_id", &text(Text::RequestId))
            .field("method", &text(Text::Method))
            .field("uri", &text(Text::Uri))
            .field("status", &self.status)
            .field("action", &self.action)
            .field("score", &self.score)
            .field("rule_ids", &self.rule_ids)
            .field("credentials", &self.credentials())
            .finish_non_exhaustive()
    }
}

impl Event {
    /// An event at `time_ms` with the given text fields (in [`Text`] order) and everything
    /// else empty: allowed, status 0, no rules, no geo data.
    pub fn from_texts(time_ms: u64, texts: [&[u8]; TEXT_FIELDS]) -> Event {
        let mut text = Vec::with_capacity(texts.iter().map(|t| t.len()).sum());
        let mut ends = [0u32; TEXT_FIELDS];
        for (end, t) in ends.iter_mut().zip(texts) {
            text.extend_from_slice(t);
            *end = text.len() as u32;
        }
        Event {
            time_ms,
            text,
            ends,
            geo: Geo::default(),
            status: 0,
            action: Action::Allow,
            fail_open: None,
            score: 0,
            rule_ids: Vec::new(),
            rule_msgs: Vec::new(),
            bytes_in: 0,
            inspect_us: 0,
        }
    }

    /// The event of a judged request, timed now. `status` is the block status for a blocked
    /// request and 0 otherwise until [`Event::finish`] sets the response's; `bytes_in` is the
    /// header and body size the engine saw.
    pub fn new(req: &Request<'_>, verdict: &Verdict, sessions: &SessionConfig) -> Event {
        let time_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        let seen = session::scan(req, sessions);
        let credentials = seen.credentials;
        // Behind trusted proxies, the client is the address the verdict located.
        let located = verdict.client.as_ref().map(|c| c.ip.to_string());
        let client_addr = located.as_deref().map_or(req.client_addr, str::as_bytes);
        let mut event = Event::from_texts(
            time_ms,
            [
                req.id(),
                client_addr,
                req.method,
                bounded(seen.host, HOST_MAX),
                bounded(req.uri, URI_MAX),
                bounded(seen.user_agent, USER_AGENT_MAX),
                bounded(
                    credentials.session_cookie.unwrap_or_default(),
                    CREDENTIAL_MAX,
                ),
                bounded(credentials.token.unwrap_or_default(), CREDENTIAL_MAX),
            ],
        );
        event.status = verdict.status;
        event.action = verdict.action;
        event.fail_open = verdict.fail_open;
        event.score = verdict.score;
        if !verdict.findings.is_empty() {
            event.rule_ids = verdict.findings.iter().map(|f| f.rule_id).collect();
            event.rule_msgs = verdict.findings.iter().map(|f| f.msg.clone()).collect();
        }
        event.bytes_in = (req.method.len() + req.uri.len() + req.version.len() + seen.header_bytes)
            as u64
            + req.body_len();
        event.inspect_us = u32::try_from(verdict.elapsed.as_micros()).unwrap_or(u32::MAX);
        if let Some(client) = &verdict.client {
            event.geo = Geo::from_info(&client.info);
        }
        event
    }

    /// One of the byte-string fields.
    pub fn text(&self, field: Text) -> &[u8] {
        let i = field as usize;
        let start = if i == 0 { 0 } else { self.ends[i - 1] as usize };
        &self.text[start..self.ends[i] as usize]
    }

    /// The session cookie and token, for [`session::derive`].
    pub fn credentials(&self) -> Credentials<'_> {
        fn some(t: &[u8]) -> Option<&[u8]> {
            (!t.is_empty()).then_some(t)
        }
        Credentials {
            session_cookie: some(self.text(Text::SessionCookie)),
            token: some(self.text(Text::Token)),
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

fn bounded(bytes: &[u8], max: usize) -> &[u8] {
    &bytes[..bytes.len().min(max)]
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

    #[test]
    fn a_located_client_gives_its_address_and_place() {
        let req = Request {
            client_addr: b"127.0.0.1",
            ..Request::default()
        };
        let verdict = Verdict {
            client: Some(crate::geo::info::ClientGeo {
                ip: "203.0.113.7".parse().unwrap(),
                info: std::sync::Arc::new(GeoInfo {
                    country_code: Some("AU".into()),
                    city: Some("Sydney".into()),
                    latitude: Some(-33.86),
                    longitude: Some(151.2),
                    asn: Some(64500),
                    asn_org: Some("Example Net".into()),
                    ..GeoInfo::default()
                }),
            }),
            ..Verdict::allow()
        };
        let e = Event::new(&req, &verdict, &SessionConfig::with_key(derive_key(b"k")));
        assert_eq!(e.text(Text::ClientAddr), b"203.0.113.7");
        assert_eq!(e.geo.country, "AU");
        assert_eq!(e.geo.city, "Sydney");
        assert_eq!(e.geo.asn, 64500);
        assert!((e.geo.latitude + 33.86).abs() < 1e-3);
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
        assert_eq!(e.text(Text::RequestId), b"abc123");
        assert_eq!(e.text(Text::ClientAddr), b"192.0.2.7");
        assert_eq!(e.text(Text::Method), b"GET");
        assert_eq!(e.text(Text::Host), b"shop.example");
        assert_eq!(e.text(Text::UserAgent), b"curl/8.0");
        assert_eq!(e.text(Text::Uri).len(), URI_MAX);
        assert_eq!(e.text(Text::SessionCookie), b"s3cret");
        assert_eq!(e.text(Text::Token), b"");
        assert!(!format!("{e:?}").contains("s3cret"));
        assert_eq!((e.action, e.status, e.score), (Action::Block, 403, 5));
        assert_eq!(e.rule_ids, vec![100100]);
        assert_eq!(e.rule_msgs, vec![Cow::Borrowed("SQL injection")]);
        assert_eq!(e.credentials().session_cookie, Some(&b"s3cret"[..]));
        assert_eq!(e.credentials().token, None);
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
