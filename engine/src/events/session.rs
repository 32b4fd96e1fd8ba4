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

/// Longest credential copied; longer values are truncated before hashing.
const CREDENTIAL_MAX: usize = 4096;

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

/// The raw session credentials of one request, held only until the event is encoded.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Credentials {
    /// The session cookie's value.
    pub session_cookie: Option<Box<[u8]>>,
    /// The JWT (from `Authorization: Bearer` or a token cookie).
    pub token: Option<Box<[u8]>>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field(
                "session_cookie",
                &self.session_cookie.as_ref().map(|_| "<secret>"),
            )
            .field("token", &self.token.as_ref().map(|_| "<secret>"))
            .finish()
    }
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

/// Locates the request's session cookie (the first configured name present wins) and JWT.
pub fn credentials(req: &Request<'_>, config: &SessionConfig) -> Credentials {
    let mut best: Option<(usize, &[u8])> = None;
    for header in req.header_values(b"cookie") {
        for (name, value) in cookie_pairs(header) {
            if value.is_empty() {
                continue;
            }
            let rank = config.cookies.iter().position(|c| c.as_bytes() == name);
            if let Some(rank) = rank {
                if !matches!(best, Some((r, _)) if r <= rank) {
                    best = Some((rank, value));
                }
            }
        }
    }
    let copy = |v: &[u8]| Box::from(&v[..v.len().min(CREDENTIAL_MAX)]);
    Credentials {
        session_cookie: best.map(|(_, v)| copy(v)),
        token: jwt::find(req, &config.token_cookies).map(copy),
    }
}

/// Turns credentials into what is stored: the keyed hash of the session id and the JWT claims.
pub fn derive(credentials: &Credentials, key: &Key) -> Session {
    let claims = credentials
        .token
        .as_deref()
        .map(jwt::claims)
        .unwrap_or_default();
    let id = match (&credentials.session_cookie, &credentials.token) {
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
        assert_eq!(creds.session_cookie.as_deref(), Some(&b"abc123secret"[..]));
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
    fn configured_cookie_names_replace_the_defaults() {
        let mut cfg = config();
        cfg.cookies = vec!["app_sess".into()];
        let req = req_with(vec![Header {
            name: b"Cookie",
            value: b"PHPSESSID=x; app_sess=y",
        }]);
        assert_eq!(
            credentials(&req, &cfg).session_cookie.as_deref(),
            Some(&b"y"[..])
        );
    }
}
