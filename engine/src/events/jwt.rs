//! JSON Web Tokens: finding one in a request and reading its subject and issuer.
//!
//! The claims are read without checking the signature — verifying tokens is the application's
//! job, and the values only label events. The token itself is never stored.

/// Longest claim value kept.
pub const CLAIM_MAX: usize = 256;

/// The claims an event records.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Claims {
    /// `sub`, the subject.
    pub sub: String,
    /// `iss`, the issuer.
    pub iss: String,
    /// `jti`, the token id (identifies the session when present).
    pub jti: String,
}

/// The token of an `Authorization: Bearer …` value, if it looks like a JWT.
pub fn bearer(value: &[u8]) -> Option<&[u8]> {
    let value = value.trim_ascii();
    if value.len() > 7 && value[..7].eq_ignore_ascii_case(b"bearer ") {
        let token = value[7..].trim_ascii();
        return looks_like_jwt(token).then_some(token);
    }
    None
}

/// True for three dot-separated base64url parts.
pub fn looks_like_jwt(token: &[u8]) -> bool {
    let mut dots = 0;
    for &b in token {
        match b {
            b'.' => dots += 1,
            b'-' | b'_' | b'=' => {}
            b if b.is_ascii_alphanumeric() => {}
            _ => return false,
        }
    }
    dots == 2
}

/// The subject, issuer and id claims of a JWT's payload; empty fields when the token cannot be
/// decoded or lacks them.
pub fn claims(token: &[u8]) -> Claims {
    let mut parts = token.split(|&b| b == b'.');
    let payload = parts.nth(1).and_then(base64url_decode);
    let Some(payload) = payload else {
        return Claims::default();
    };
    let Ok(serde_json::Value::Object(map)) = serde_json::from_slice(&payload) else {
        return Claims::default();
    };
    let text = |name: &str| match map.get(name) {
        Some(serde_json::Value::String(s)) => bounded(s),
        Some(serde_json::Value::Number(n)) => n.to_string(),
        _ => String::new(),
    };
    Claims {
        sub: text("sub"),
        iss: text("iss"),
        jti: text("jti"),
    }
}

fn bounded(s: &str) -> String {
    let mut end = s.len().min(CLAIM_MAX);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_string()
}

/// Decodes base64url (RFC 4648 §5), padded or not.
pub fn base64url_decode(input: &[u8]) -> Option<Vec<u8>> {
    let input = input
        .strip_suffix(b"==")
        .or(input.strip_suffix(b"="))
        .unwrap_or(input);
    let mut out = Vec::with_capacity(input.len() * 3 / 4);
    let mut acc = 0u32;
    let mut bits = 0;
    for &c in input {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'-' | b'+' => 62,
            b'_' | b'/' => 63,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    // {"alg":"HS256","typ":"JWT"} . {"sub":"user-42","iss":"https://auth.example.com","jti":"t1"} . sig
    const TOKEN: &str = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ1c2VyLTQyIiwiaXNzIjoiaHR0cHM6Ly9hdXRoLmV4YW1wbGUuY29tIiwianRpIjoidDEifQ.c2lnbmF0dXJl";

    #[test]
    fn reads_claims_without_verifying() {
        let c = claims(TOKEN.as_bytes());
        assert_eq!(c.sub, "user-42");
        assert_eq!(c.iss, "https://auth.example.com");
        assert_eq!(c.jti, "t1");
        assert_eq!(claims(b"not.a.token"), Claims::default());
        assert_eq!(claims(b"garbage"), Claims::default());
    }

    #[test]
    fn recognises_bearer_tokens() {
        let bearer_value = format!("Bearer {TOKEN}");
        assert_eq!(bearer(bearer_value.as_bytes()), Some(TOKEN.as_bytes()));
        assert_eq!(bearer(b"Basic dXNlcjpwYXNz"), None);
        assert_eq!(bearer(b"Bearer opaque-token"), None);
        assert!(looks_like_jwt(TOKEN.as_bytes()));
        assert!(!looks_like_jwt(b"a.b"));
        assert!(!looks_like_jwt(b"a.b.c d"));
    }

    #[test]
    fn base64url_handles_padding_and_both_alphabets() {
        assert_eq!(base64url_decode(b"aGk").unwrap(), b"hi");
        assert_eq!(base64url_decode(b"aGk=").unwrap(), b"hi");
        assert_eq!(base64url_decode(b"-_8").unwrap(), vec![0xfb, 0xff]);
        assert!(base64url_decode(b"a*b").is_none());
    }
}
