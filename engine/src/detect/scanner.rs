//! Security scanners and attack tools named in the `User-Agent` (rule 100400), like CRS 913100
//! with its `scanners-user-agents.data`. Generic HTTP clients (curl, wget, python-requests,
//! Go-http-client) are not scanners and are not listed.

use aho_corasick::AhoCorasick;

use super::targets::Classified;
use super::{Deadline, Detector, Finding, OutOfTime, Severity};

use crate::request::Request;

/// Rule id: the `User-Agent` names a security scanner.
pub const SCANNER_USER_AGENT: u32 = 100400;

const MSG: &str = "Security scanner detected";

/// Tool names, matched case-insensitively anywhere in the `User-Agent`.
const SCANNER_NAMES: &[&str] = &[
    "(hydra)",
    ".nasl",
    "absinthe",
    "acunetix",
    "arachni",
    "bsqlbf",
    "burpcollaborator",
    "cgichk",
    "commix",
    "crimscanner",
    "dirbuster",
    "dotdotpwn",
    "feroxbuster",
    "ffuf",
    "fimap",
    "fuzz faster u fool",
    "gobuster",
    "grendel-scan",
    "havij",
    "jbrofuzz",
    "jorgee",
    "masscan",
    "morfeus fucking scanner",
    "mysqloit",
    "n-stealth",
    "nessus",
    "netsparker",
    "nikto",
    "nmap",
    "nsauditor",
    "nuclei",
    "openvas",
    "pangolin",
    "paros/",
    "pmafind",
    "skipfish",
    "sql power injector",
    "sqlmap",
    "sqlninja",
    "struts-pwn",
    "vega/",
    "w3af",
    "webinspect",
    "webshag",
    "wfuzz",
    "whatweb",
    "wpscan",
    "xsser",
    "zgrab",
    "zmeu",
];

/// Matches the `User-Agent` against known scanner names.
pub struct Scanner {
    names: AhoCorasick,
}

impl Scanner {
    /// Builds the detector and its name automaton.
    pub fn new() -> Scanner {
        let names = AhoCorasick::builder()
            .ascii_case_insensitive(true)
            .build(SCANNER_NAMES)
            .expect("scanner names are a small literal set");
        Scanner { names }
    }
}

impl Default for Scanner {
    fn default() -> Self {
        Scanner::new()
    }
}

impl Detector for Scanner {
    fn inspect(
        &self,
        req: &Request<'_>,
        _inputs: &Classified<'_, '_>,
        deadline: &Deadline,
        out: &mut Vec<Finding>,
    ) -> Result<(), OutOfTime> {
        for ua in req.header_values(b"user-agent") {
            deadline.check()?;
            if let Some(m) = self.names.find(ua) {
                let variable = "REQUEST_HEADERS:User-Agent".to_string();
                let f = Finding::new(SCANNER_USER_AGENT, MSG, Severity::Critical, variable, ua);
                out.push(f.labelled(SCANNER_NAMES[m.pattern().as_usize()]));
                return Ok(());
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::testing::{benign_headers, inspect_get};

    fn scan(ua: &str) -> Vec<Finding> {
        inspect_get(&Scanner::new(), b"/", &[(b"User-Agent", ua.as_bytes())])
    }

    #[test]
    fn known_scanners_fire() {
        for ua in [
            "Mozilla/5.00 (Nikto/2.1.6) (Evasions:None) (Test:000003)",
            "sqlmap/1.7.2#stable (https://sqlmap.org)",
            "Mozilla/5.0 (compatible; Nmap Scripting Engine; https://nmap.org/book/nse.html)",
            "masscan/1.3 (https://github.com/robertdavidgraham/masscan)",
            "Fuzz Faster U Fool v2.1.0-dev",
            "Mozilla/5.0 (compatible; Nuclei - Open-source project (github.com/projectdiscovery/nuclei))",
            "WPScan v3.8.25 (https://wpscan.com/wordpress-security-scanner)",
            "gobuster/3.6",
            "Mozilla/5.0 zgrab/0.x",
            "ZmEu",
            "Wfuzz/3.1",
            "WhatWeb/0.5.5",
        ] {
            let found = scan(ua);
            assert_eq!(found.len(), 1, "missed {ua}");
            assert_eq!(found[0].rule_id, SCANNER_USER_AGENT);
        }
    }

    #[test]
    fn reports_the_matched_name() {
        assert!(scan("sqlmap/1.7")
            .first()
            .is_some_and(|f| f.data.starts_with("sqlmap: ")));
    }

    #[test]
    fn browsers_and_generic_clients_do_not_fire() {
        for (_, value) in benign_headers() {
            assert!(scan(value).is_empty(), "false positive on {value}");
        }
        for ua in [
            "okhttp/4.12.0",
            "Apache-HttpClient/4.5.14 (Java/17.0.9)",
            "axios/1.6.8",
            "node-fetch/1.0",
        ] {
            assert!(scan(ua).is_empty(), "false positive on {ua}");
        }
    }
}
