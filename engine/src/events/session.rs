//! Sessions: which session a request belongs to, from its session cookie or its JWT.
//!
//! On the request path only the raw credential is located and copied ([`Credentials`]); the
//! forwarder's thread later turns it into a keyed hash and JWT claims ([`Session`]), so the
//! request pays for neither, and the secret itself is never written anywhere.

use super::jwt;
use super::siphash::{self, Key};
use crate::request::Request;

/// Session cookie names recognised by default (PHP, Java, ASP.NET, Express, Laravel, Django,
/// Rails and generic names).
pub const DEFAULT_SESSION_COOKIES: &[&str] = &[
    "connect.sid",
    "PHPSESSID",
    "JSESSIONID",
    "ASP.NET_SessionId",
    "laravel_session",
    "sessionid",
    "_session_id",
    "session",
    "sid",
];

/// Cookie names that may carry a JWT, by default.
pub const DEFAULT_TOKEN_COOKIES: &[&str] = &["token", "jwt", "access_token", "id_token"];

/// Which cookies carry sessions and tokens, and the key that pseudonymises session ids.
#[derive(Clone)]
pub struct SessionConfig {
    /// Session cookie names, in order of preference.
    pub cookies: Vec<String>,
    /// Cookie names that may carry a JWT (besides `Authorization: Bearer`).
    pub token_cookies: Vec<String>,
    /// Key of the session id hash.
    pub key: Key,
}

impl std::fmt::Debug for SessionConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionConfig")
            .field("cookies", &self.cookies)
            .field("token_cookies", &self.token_cookies)
            .field("key", &"<secret>")
            .finish()
    }
}

impl SessionConfig {
    /// The default cookie names with the given key.
    pub fn with_key(key: Key) -> SessionConfig {
        SessionConfig {
            cookies: DEFAULT_SESSION_COOKIES
                .iter()
                .map(|s| s.to_string())
                .collect(),
            token_cookies: DEFAULT_TOKEN_COOKIES
                .iter()
                .map(|s| s.to_string())
                .collect(),
            key,
        }
    }
}

/// The raw session credentials of one request (borrowed; copied into the event only until
/// it is encoded).
#[derive(Clone, Copy, Default, PartialEq, Eq)]
pub struct Credentials<'a> {
    /// The session cookie's value.
    pub session_cookie: Option<&'a [u8]>,
    /// The JWT (from `Authorization: Bearer` or a token cookie).
    pub token: Option<&'a [u8]>,
}

impl std::fmt::Debug for Credentials<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("session_cookie", &self.session_cookie.map(|_| "<secret>"))
            .field("token", &self.token.map(|_| "<secret>"))
            .finish()
    }
}

/// What one pass over the request headers finds for an event.
#[derive(Debug, Clone, Copy, Default)]
pub struct Seen<'a> {
    /// The first `Host` header.
    pub host: &'a [u8],
    /// The first `User-Agent` header.
    pub user_agent: &'a [u8],
    /// Size of the header lines (`name: value` and CRLF).
    pub header_bytes: usize,
    /// The session cookie and JWT.
    pub credentials: Credentials<'a>,
}

/// What an event records about the session: never the secret itself.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Session {
    /// Keyed hash of the session id (cookie value, else the JWT's `jti`, else the JWT).
    pub id: Option<[u8; 16]>,
    /// The JWT's subject.
    pub jwt_sub: String,
    /// The JWT's issuer.
    pub jwt_iss: String,
}

impl Session {
    /// The session id hash as 32 lowercase hex digits, empty when there is no session.
    pub fn id_hex(&self) -> String {
        self.id.map_or_else(String::new, |id| {
            id.iter().map(|b| format!("{b:02x}")).collect()
        })
    }
}

/// The `name=value` pairs of one `Cookie` header, trimmed.
pub fn cookie_pairs(header: &[u8]) -> impl Iterator<Item = (&[u8], &[u8])> {
    header.split(|&b| b == b';').filter_map(|pair| {
        let pair = pair.trim_ascii();
        let eq = memchr::memchr(b'=', pair)?;
        Some((pair[..eq].trim_ascii(), pair[eq + 1..].trim_ascii()))
    })
}

/// One pass over the headers: `Host`, `User-Agent`, their total size, the session cookie
/// (the first configured name present wins) and the JWT (`Authorization: Bearer` first, then
/// the first token cookie that holds one).
pub fn scan<'a>(req: &Request<'a>, config: &SessionConfig) -> Seen<'a> {
    let mut seen = Seen::default();
    let mut best_rank = usize::MAX;
    let mut bearer = None;
    let mut token_cookie = None;
    for h in &req.headers {
        seen.header_bytes += h.name.len() + h.value.len() + 4;
        match h.name.len() {
            4 if seen.host.is_empty() && h.name.eq_ignore_ascii_case(b"host") => {
                seen.host = h.value;
            }
            6 if h.name.eq_ignore_ascii_case(b"cookie") => {
                for (name, value) in cookie_pairs(h.value) {
                    if value.is_empty() {
                        continue;
                    }
                    if let Some(rank) = config.cookies.iter().position(|c| c.as_bytes() == name) {
                        if rank < best_rank {
                            best_rank = rank;
                            seen.credentials.session_cookie = Some(value);
                        }
                    } else if token_cookie.is_none()
                        && config.token_cookies.iter().any(|c| c.as_bytes() == name)
                        && jwt::looks_like_jwt(value)
                    {
                        token_cookie = Some(value);
                    }
                }
            }
            10 if seen.user_agent.is_empty() && h.name.eq_ignore_ascii_case(b"user-agent") => {
                seen.user_agent = h.value;
            }
            13 if bearer.is_none() && h.name.eq_ignore_ascii_case(b"authorization") => {
                bearer = jwt::bearer(h.value);
            }
            _ => {}
        }
    }
    seen.credentials.token = bearer.or(token_cookie);
    seen
}

/// The request's session cookie and JWT (see [`scan`]).
pub fn credentials<'a>(req: &Request<'a>, config: &SessionConfig) -> Credentials<'a> {
    scan(req, config).credentials
}

/// Turns credentials into what is stored: the keyed hash of the session id and the JWT claims.
pub fn derive(credentials: &Credentials<'_>, key: &Key) -> Session {
    let claims = credentials.token.map(jwt::claims).unwrap_or_default();
    let id = match (credentials.session_cookie, credentials.token) {
        (Some(cookie), _) => Some(keyed(key, b"cookie:", cookie)),
        (None, Some(_)) if !claims.jti.is_empty() => {
            Some(keyed(key, b"jti:", claims.jti.as_bytes()))
        }
        (None, Some(token)) => Some(keyed(key, b"jwt:", token)),
        (None, None) => None,
    };
    Session {
        id,
        jwt_sub: claims.sub,
        jwt_iss: claims.iss,
    }
}

fn keyed(key: &Key, kind: &[u8], value: &[u8]) -> [u8; 16] {
    let mut input = Vec::with_capacity(kind.len() + value.len());
    input.extend_from_slice(kind);
    input.extend_from_slice(value);
    siphash::hash128(key, &input)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::Header;

    fn req_with(headers: Vec<Header<'_>>) -> Request<'_> {
        Request {
            headers,
            ..Default::default()
        }
    }

    fn config() -> SessionConfig {
        SessionConfig::with_key(siphash::derive_key(b"test key"))
    }

    #[test]
    fn preferred_session_cookie_wins_and_is_hashed_not_stored() {
        let req = req_with(vec![Header {
            name: b"Cookie",
            value: b"sid=weak; theme=dark; PHPSESSID=abc123secret",
        }]);
        let creds = credentials(&req, &config());
        assert_eq!(creds.session_cookie, Some(&b"abc123secret"[..]));
        let session = derive(&creds, &config().key);
        let hex = session.id_hex();
        assert_eq!(hex.len(), 32);
        assert!(!hex.contains("abc123"));
        let other = SessionConfig::with_key(siphash::derive_key(b"another key"));
        assert_ne!(derive(&creds, &other.key).id, session.id);
    }

    #[test]
    fn no_cookie_no_session() {
        let req = req_with(vec![Header {
            name: b"Cookie",
            value: b"theme=dark; _ga=GA1.2.3",
        }]);
        let creds = credentials(&req, &config());
        assert_eq!(creds, Credentials::default());
        assert_eq!(derive(&creds, &config().key), Session::default());
        assert_eq!(Session::default().id_hex(), "");
    }

    #[test]
    fn jwt_gives_claims_and_a_session_from_jti() {
        let token = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1c2VyLTQyIiwiaXNzIjoiaHR0cHM6Ly9hdXRoLmV4YW1wbGUuY29tIiwianRpIjoidDEifQ.c2ln";
        let auth = format!("Bearer {token}");
        let req = req_with(vec![Header {
            name: b"Authorization",
            value: auth.as_bytes(),
        }]);
        let creds = credentials(&req, &config());
        let session = derive(&creds, &config().key);
        assert_eq!(session.jwt_sub, "user-42");
        assert_eq!(session.jwt_iss, "https://auth.example.com");
        assert!(session.id.is_some());
        assert!(!format!("{creds:?}").contains(token));
    }

    #[test]
    fn token_cookies_and_one_pass_fields() {
        let token = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1In0.c2ln";
        let cookie = format!("theme=dark; access_token={token}");
        let req = req_with(vec![
            Header {
                name: b"Host",
                value: b"a.example",
            },
            Header {
                name: b"Cookie",
                value: cookie.as_bytes(),
            },
            Header {
                name: b"user-agent",
                value: b"curl",
            },
        ]);
        let seen = scan(&req, &config());
        assert_eq!(seen.credentials.token, Some(token.as_bytes()));
        assert_eq!(seen.credentials.session_cookie, None);
        assert_eq!(
            (seen.host, seen.user_agent),
            (&b"a.example"[..], &b"curl"[..])
        );
        assert_eq!(seen.header_bytes, 4 + 9 + 6 + cookie.len() + 10 + 4 + 12);
        assert_eq!(derive(&seen.credentials, &config().key).jwt_sub, "u");
    }

    #[test]
    fn configured_cookie_names_replace_the_defaults() {
        let mut cfg = config();
        cfg.cookies = vec!["app_sess".into()];
        let req = req_with(vec![Header {
            name: b"Cookie",
            value: b"PHPSESSID=x; app_sess=y",
        }]);
        assert_eq!(credentials(&req, &cfg).session_cookie, Some(&b"y"[..]));
    }
}
