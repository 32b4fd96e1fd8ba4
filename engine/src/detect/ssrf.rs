//! Server-side request forgery and remote file inclusion (rules 100900–100902), in argument
//! values, cookies and XML (where applications take the URLs they fetch):
//!
//! - 100900: a URL to a cloud metadata service (`169.254.169.254`, `metadata.google.internal`,
//!   Alibaba's `100.100.100.200`, Oracle's `192.0.0.192`, AWS's `fd00:ec2::254`, in any
//!   notation of the address) or to
//!   the server itself (`localhost`, `127.0.0.1`, `[::1]`, `0.0.0.0`, `http://0/`, and decimal,
//!   hex or octal forms of a loopback address). Like CRS 934110 and, for addresses, 931100.
//! - 100901: a URL whose scheme only a server-side fetcher speaks (`gopher://`, `dict://`,
//!   `tftp://`, `jar:`, `netdoc://`, `ldap://`), the usual way to turn an SSRF into a Redis or
//!   memcached command.
//! - 100902: remote file inclusion: an `http(s)`/`ftp` URL ending in `?` (the trick that
//!   turns the rest of an include path into a query string), as CRS 931120, or one whose host
//!   is an IP address and whose path names a script or text file (`http://1.2.3.4/shell.php`,
//!   `ftp://1.1.1.1/x.txt`), the part of CRS 931100 that is not also an everyday intranet link.
//!
//! An ordinary link (`https://shop.example.com/…`, a private-network address) passes.

use super::classes::ByteClasses;
use super::targets::Classified;
use super::targets::{report_critical, TargetKind};
use super::{Deadline, Detector, Finding, OutOfTime};

use crate::request::Request;

/// Rule id: a URL to a cloud metadata service or to the server itself.
pub const SSRF_INTERNAL_HOST: u32 = 100900;
/// Rule id: a URL with a scheme only server-side fetchers speak.
pub const SSRF_SCHEME: u32 = 100901;
/// Rule id: a remote file inclusion URL ending in `?`.
pub const REMOTE_FILE_INCLUSION: u32 = 100902;

const MSG_INTERNAL: &str = "SSRF: URL to a cloud metadata service or the server itself";
const MSG_SCHEME: &str = "SSRF: URL scheme only a server-side fetcher uses";
const MSG_RFI: &str =
    "Remote file inclusion: URL ending in a question mark or a script on an IP address";

/// File extensions of what a remote file inclusion fetches, lower case, with the dot.
const INCLUDED_EXTENSIONS: &[&str] = &[
    ".php", ".phtml", ".txt", ".sh", ".pl", ".py", ".cgi", ".jsp", ".asp", ".aspx", ".inc", ".exe",
    ".bin",
];

/// Schemes only a server-side fetcher speaks, lower case, without `:`.
const FETCHER_SCHEMES: &[&str] = &["gopher", "dict", "tftp", "netdoc", "ldap", "ldaps"];

/// Cloud metadata hosts (lower case; IPv6 without brackets).
const METADATA_HOSTS: &[&str] = &[
    "169.254.169.254",
    "169.254.170.2",
    "metadata.google.internal",
    "metadata",
    "100.100.100.200",
    "192.0.0.192",
    "metadata.packet.net",
    "fd00:ec2::254",
];

/// The server's own host names and addresses, lower case (IPv6 without brackets).
const LOOPBACK_HOSTS: &[&str] = &[
    "localhost",
    "localhost.localdomain",
    "0",
    "0.0.0.0",
    "::1",
    "::",
    "0:0:0:0:0:0:0:1",
    "::ffff:127.0.0.1",
];

/// The SSRF and remote file inclusion detector.
#[derive(Debug, Default)]
pub struct Ssrf;

impl Ssrf {
    /// Builds the detector.
    pub fn new() -> Ssrf {
        Ssrf
    }
}

impl Detector for Ssrf {
    fn inspect(
        &self,
        _req: &Request<'_>,
        inputs: &Classified<'_, '_>,
        deadline: &Deadline,
        out: &mut Vec<Finding>,
    ) -> Result<(), OutOfTime> {
        report_critical(
            inputs,
            deadline,
            out,
            |kind| {
                !matches!(
                    kind,
                    TargetKind::ArgName | TargetKind::CookieName | TargetKind::Header
                )
            },
            |target| {
                target
                    .classes
                    .any(ByteClasses::COLON)
                    .then(|| check(target.value))
                    .flatten()
            },
        )
    }
}

/// Which rule a URL in `value` fires, if any.
fn check(value: &[u8]) -> Option<(u32, &'static str)> {
    for at in memchr::memchr_iter(b':', value) {
        let scheme = scheme_before(value, at);
        if scheme.is_empty() {
            continue;
        }
        let rest = &value[at + 1..];
        if scheme.eq_ignore_ascii_case(b"jar") && rest.iter().take(8).any(|&b| b == b':') {
            return Some((SSRF_SCHEME, MSG_SCHEME));
        }
        let Some(after) = rest.strip_prefix(b"//") else {
            continue;
        };
        if FETCHER_SCHEMES
            .iter()
            .any(|s| s.as_bytes().eq_ignore_ascii_case(scheme))
        {
            return Some((SSRF_SCHEME, MSG_SCHEME));
        }
        let web = [&b"http"[..], b"https", b"ftp", b"ftps"]
            .iter()
            .any(|s| s.eq_ignore_ascii_case(scheme));
        if !web {
            continue;
        }
        let host = host_of(after);
        let ipv4 = ipv4_of(host);
        if is_internal_host(host, ipv4) {
            return Some((SSRF_INTERNAL_HOST, MSG_INTERNAL));
        }
        if is_include_url(after) || (is_ip_literal(host, ipv4) && names_included_file(after)) {
            return Some((REMOTE_FILE_INCLUSION, MSG_RFI));
        }
    }
    None
}

/// The scheme (letters, digits, `+ - .`, starting with a letter) that ends at `colon`.
fn scheme_before(value: &[u8], colon: usize) -> &[u8] {
    let head = &value[..colon];
    let len = head
        .iter()
        .rev()
        .take_while(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
        .count();
    let scheme = &head[head.len() - len..];
    let start = scheme
        .iter()
        .position(u8::is_ascii_alphabetic)
        .unwrap_or(scheme.len());
    &scheme[start..]
}

/// The host of the authority at the start of `after` (what follows `//`): user info and
/// port removed, IPv6 brackets removed, a trailing dot removed.
fn host_of(after: &[u8]) -> &[u8] {
    let end = after
        .iter()
        .position(|&b| matches!(b, b'/' | b'?' | b'#' | b'\\' | b' '))
        .unwrap_or(after.len());
    let authority = &after[..end];
    let host = match memchr::memrchr(b'@', authority) {
        Some(at) => &authority[at + 1..],
        None => authority,
    };
    let host = if let Some(inner) = host.strip_prefix(b"[") {
        &inner[..memchr::memchr(b']', inner).unwrap_or(inner.len())]
    } else {
        &host[..memchr::memchr(b':', host).unwrap_or(host.len())]
    };
    host.strip_suffix(b".").unwrap_or(host)
}

/// True for a cloud metadata host or one of the server's own names and addresses (`ipv4`:
/// the address `host` spells, if any).
fn is_internal_host(host: &[u8], ipv4: Option<u32>) -> bool {
    let named = |list: &[&str]| list.iter().any(|h| h.as_bytes().eq_ignore_ascii_case(host));
    if named(METADATA_HOSTS) || named(LOOPBACK_HOSTS) {
        return true;
    }
    ipv4.is_some_and(|ip| ip >> 24 == 127 || ip == 0xa9fe_a9fe || ip == 0xa9fe_aa02)
}

/// The IPv4 address `host` spells, in any notation a URL parser accepts: dotted with one to
/// four parts, each decimal, `0x` hex or `0`-prefixed octal (`127.1`, `2130706433`,
/// `0x7f000001`, `0177.0.0.1`).
fn ipv4_of(host: &[u8]) -> Option<u32> {
    let mut numbers = [0u64; 4];
    let mut count = 0;
    for part in host.split(|&b| b == b'.') {
        *numbers.get_mut(count)? = number_of(part)?;
        count += 1;
    }
    let (last, leading) = numbers[..count].split_last()?;
    if leading.iter().any(|&n| n > 255) {
        return None;
    }
    let last_bits = 8 * (4 - leading.len() as u32);
    if *last >= 1u64 << last_bits {
        return None;
    }
    let mut ip = 0u64;
    for (i, &n) in leading.iter().enumerate() {
        ip |= n << (24 - 8 * i as u32);
    }
    u32::try_from(ip | last).ok()
}

/// One part of an IPv4 address: decimal, `0x` hex or `0`-prefixed octal.
fn number_of(part: &[u8]) -> Option<u64> {
    if part.is_empty() || part.len() > 12 {
        return None;
    }
    let (digits, radix) = match part {
        [b'0', b'x' | b'X', hex @ ..] => (hex, 16),
        [b'0', octal @ ..] if !octal.is_empty() => (octal, 8),
        _ => (part, 10),
    };
    if digits.is_empty() {
        return Some(0);
    }
    u64::from_str_radix(std::str::from_utf8(digits).ok()?, radix).ok()
}

/// True when the URL (what follows `//`) ends in `?` after its host or path, with no query
/// before: the remote file inclusion trick.
fn is_include_url(after: &[u8]) -> bool {
    let trimmed = after.trim_ascii_end();
    let bare = trimmed.strip_suffix(b"?").map(|t| {
        let n = t.iter().rev().take_while(|&&b| b == b'?').count();
        &t[..t.len() - n]
    });
    bare.is_some_and(|b| !b.is_empty() && memchr::memchr(b'?', b).is_none())
}

/// True for an IPv4 address (any notation, `ipv4` as [`ipv4_of`] read it) or an IPv6 address.
fn is_ip_literal(host: &[u8], ipv4: Option<u32>) -> bool {
    ipv4.is_some()
        || (memchr::memchr(b':', host).is_some()
            && host
                .iter()
                .all(|b| b.is_ascii_hexdigit() || matches!(b, b':' | b'.')))
}

/// True when the URL's path (before any query) ends in a script or text file name.
fn names_included_file(after: &[u8]) -> bool {
    let end = after
        .iter()
        .position(|&b| matches!(b, b'?' | b'#' | b' '))
        .unwrap_or(after.len());
    let path = &after[..end];
    INCLUDED_EXTENSIONS.iter().any(|ext| {
        path.len() >= ext.len()
            && path[path.len() - ext.len()..].eq_ignore_ascii_case(ext.as_bytes())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::testing::{inspect_post, rule_ids_for_get};

    fn rules_for_query(query: &str) -> Vec<u32> {
        rule_ids_for_get(&Ssrf::new(), &format!("/fetch?{query}"))
    }

    #[test]
    fn metadata_and_loopback_urls_fire() {
        for q in [
            "url=http://169.254.169.254/latest/meta-data/iam/security-credentials/",
            "url=http%3A%2F%2F169.254.169.254%2Flatest%2Fuser-data",
            "url=http://metadata.google.internal/computeMetadata/v1/",
            "url=http://100.100.100.200/latest/meta-data/",
            "url=http://[fd00:ec2::254]/latest/meta-data/",
            "url=http://2852039166/latest/meta-data/",
            "url=http://0xA9FEA9FE/",
            "url=http://127.0.0.1:22/",
            "url=http://127.1/admin",
            "url=https://localhost/admin",
            "url=http://LOCALHOST.:8080/",
            "url=http://[::1]/admin",
            "url=http://0.0.0.0:6379/",
            "url=http://0/",
            "url=http://2130706433/",
            "url=http://0x7f000001/",
            "url=http://0177.0.0.1/",
            "url=http://user:pw@127.0.0.1/",
            "url=http://[::ffff:127.0.0.1]/",
        ] {
            assert_eq!(rules_for_query(q), [SSRF_INTERNAL_HOST], "{q}");
        }
    }

    #[test]
    fn fetcher_schemes_and_include_urls_fire() {
        for q in [
            "url=gopher://127.0.0.1:6379/_FLUSHALL",
            "url=dict://10.0.0.5:11211/stats",
            "url=tftp://evil.example/x",
            "url=jar:http://evil.example/a.jar!/",
            "url=netdoc:///etc/passwd",
        ] {
            assert_eq!(rules_for_query(q), [SSRF_SCHEME], "{q}");
        }
        for q in [
            "file=http://evil.example/shell.txt?",
            "page=https://evil.example/c99.php??",
            "inc=ftp://evil.example/x.txt?",
            "x=https://foo.bar?",
            "src=http://66.240.183.75/crash.php",
            "src=https://[2001:41d0:701:1100::29c8]/gecko.php",
            "src=ftp://1.1.1.1/x.txt",
        ] {
            assert_eq!(rules_for_query(q), [REMOTE_FILE_INCLUSION], "{q}");
        }
        let found = inspect_post(
            &Ssrf::new(),
            b"application/json",
            br#"{"webhook":"http://169.254.169.254/latest/"}"#,
        );
        assert_eq!(found.len(), 1);
        // A WordPress pingback: the URL is the second text node of the XML-RPC call.
        let found = inspect_post(
            &Ssrf::new(),
            b"text/xml",
            b"<?xml version=\"1.0\"?><methodCall><methodName>pingback.ping</methodName><params>\
              <param><value><string>http://169.254.169.254/latest/meta-data/</string></value></param>\
              </params></methodCall>",
        );
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].rule_id, SSRF_INTERNAL_HOST);
    }

    #[test]
    fn ordinary_links_pass() {
        for q in [
            "url=https://shop.example.com/item?id=3",
            "url=http://10.0.0.5/intranet",
            "url=http://192.168.1.20:8080/",
            "url=https://127.example.com/",
            "url=https://localhost.example.com/",
            "next=https://shop.example.com/search?q=a",
            "q=What+is+http?",
            "time=10:30",
            "url=https://1.2.3.4.nip.io/",
            "q=the+ratio+is+1:0",
            "url=https://example.com/metadata/169.254.169.254",
            "url=mailto:a@example.com",
            "img=http://10.0.0.5/logo.png",
            "url=http://203.0.113.7/status",
            "url=https://example.com/index.php",
        ] {
            assert_eq!(rules_for_query(q), Vec::<u32>::new(), "{q}");
        }
    }

    #[test]
    fn ipv4_notations() {
        assert_eq!(ipv4_of(b"127.0.0.1"), Some(0x7f00_0001));
        assert_eq!(ipv4_of(b"127.1"), Some(0x7f00_0001));
        assert_eq!(ipv4_of(b"0x7f.1"), Some(0x7f00_0001));
        assert_eq!(ipv4_of(b"2130706433"), Some(0x7f00_0001));
        assert_eq!(ipv4_of(b"256.0.0.1"), None);
        assert_eq!(ipv4_of(b"1.2.3.4.5"), None);
        assert_eq!(ipv4_of(b"example"), None);
    }
}
