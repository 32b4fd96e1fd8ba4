//! Path traversal, local file inclusion and restricted files (rules 100300–100302), like CRS
//! 930100–930130 and 920440.
//!
//! Rule 100300 looks for `../` and `..\` (and Tomcat's `..;/`) in the request path, argument
//! names and values, cookies, headers (but `Referer`) and upload file names, after one more
//! percent-decoding pass (the raw path gets up to three, against double and triple encoding)
//! that also folds `%uXXXX`, overlong UTF-8 (`%c0%ae`) and full-width dots and slashes. A dot run counts only between separators,
//! so ellipses (`wait...`) and names like `report..pdf` do not.
//!
//! Rule 100301 looks for well-known sensitive files (`etc/passwd`, `win.ini`, `.git/`, …) in
//! the decoded path, argument values and cookies, case-insensitively and with `\` read as `/`.
//!
//! Rule 100302 looks at the last segment of the decoded path for what a site leaves behind by
//! mistake and scanners ask every site for: backups and editor copies (`index.php.bak`,
//! `config.php~`, `.swp`), database dumps (`.sql`, `.sqlite`, `.mdb`) and key stores (`.pfx`,
//! `.jks`), a subset of CRS's `restricted_extensions` that no page or asset uses.

use std::borrow::Cow;

use aho_corasick::AhoCorasick;

use super::classes::{ByteClasses, FieldClasses};
use super::targets::push_once;
use super::targets::Classified;
use super::transform::{
    apply, backslash_to_slash, fold_fullwidth, fold_overlong_utf8, url_decode_uni,
};
use super::{Deadline, Detector, Finding, OutOfTime, Severity};
use crate::parse::{Field, Source};
use crate::request::Request;

/// Rule id: `../` or `..\` traversal sequence.
pub const PATH_TRAVERSAL: u32 = 100300;
/// Rule id: access to a well-known sensitive OS or application file.
pub const OS_FILE_ACCESS: u32 = 100301;
/// Rule id: a request for a backup, database dump or key store file.
pub const RESTRICTED_EXTENSION: u32 = 100302;

const MSG_TRAVERSAL: &str = "Path traversal attack";
const MSG_FILE: &str = "OS file access attempt";
const MSG_EXTENSION: &str = "Request for a backup, database dump or key store file";

/// File extensions of rule 100302, lower case, with the dot.
const RESTRICTED_EXTENSIONS: &[&str] = &[
    ".bak", ".backup", ".bck", ".bkp", ".old", ".orig", ".save", ".sav", ".swp", ".swo", ".swap",
    ".sql", ".sqlite", ".sqlite3", ".mdb", ".tfstate", ".pfx", ".jks",
];

/// Most percent-decoding passes applied to the raw path.
const PATH_DECODE_PASSES: usize = 3;

/// A sensitive file name pattern (lower case, `/` as separator).
struct SensitiveFile {
    pattern: &'static str,
    /// The match must end at the end of a path segment (or before an extension such as
    /// `.env.local`), not inside a longer name.
    whole_segment: bool,
}

const fn file(pattern: &'static str) -> SensitiveFile {
    SensitiveFile {
        pattern,
        whole_segment: false,
    }
}

const fn segment(pattern: &'static str) -> SensitiveFile {
    SensitiveFile {
        pattern,
        whole_segment: true,
    }
}

/// Well-known sensitive files (a short list in the spirit of CRS's `lfi-os-files.data`).
/// Patterns that start with a dot must also start a path segment.
const SENSITIVE_FILES: &[SensitiveFile] = &[
    file("etc/passwd"),
    file("etc/shadow"),
    file("etc/master.passwd"),
    file("etc/sudoers"),
    file("proc/version"),
    file("windows/system.ini"),
    file("proc/self/"),
    file("win.ini"),
    file("boot.ini"),
    file("system32/config/sam"),
    file("web-inf/web.xml"),
    file("web-inf/classes/"),
    file("wp-config.php"),
    file(".htaccess"),
    file(".htpasswd"),
    file(".git/"),
    file(".svn/"),
    file(".ssh/"),
    file(".aws/credentials"),
    file(".bash_history"),
    file(".mysql_history"),
    file(".git-credentials"),
    file(".ds_store"),
    file(".s3cfg"),
    file(".kube/config"),
    file(".docker/config.json"),
    file(".vscode/sftp.json"),
    file("storage/logs/laravel.log"),
    file("wp-content/debug.log"),
    file("app/etc/local.xml"),
    segment("/web.config"),
    segment("/sftp-config.json"),
    segment("/id_rsa"),
    segment("/id_dsa"),
    segment("/id_ecdsa"),
    segment("/id_ed25519"),
    segment(".npmrc"),
    segment(".pgpass"),
    segment(".env"),
];

/// The traversal and sensitive-file detector.
pub struct Traversal {
    files: AhoCorasick,
}

impl Traversal {
    /// Builds the detector and its sensitive-file automaton.
    pub fn new() -> Traversal {
        let files = AhoCorasick::builder()
            .ascii_case_insensitive(true)
            .build(SENSITIVE_FILES.iter().map(|f| f.pattern))
            .expect("sensitive file names are a small literal set");
        Traversal { files }
    }

    /// The sensitive file pattern found in `value` (already decoded, `/` separators).
    fn sensitive_file(&self, value: &[u8]) -> Option<&'static str> {
        // Every pattern holds a `.` or a `/` (a test checks): most values are ruled out by one
        // search instead of the automaton.
        memchr::memchr2(b'.', b'/', value)?;
        self.files.find_overlapping_iter(value).find_map(|m| {
            let spec = SENSITIVE_FILES.get(m.pattern().as_usize())?;
            let starts_segment = !spec.pattern.starts_with('.')
                || m.start() == 0
                || value.get(m.start() - 1) == Some(&b'/');
            let ends_segment = !spec.whole_segment
                || matches!(value.get(m.end()), None | Some(b'/' | b'.' | b';'));
            (starts_segment && ends_segment).then_some(spec.pattern)
        })
    }

    /// Reports traversal and sensitive files in the request path.
    fn inspect_path(&self, req: &Request<'_>, out: &mut Vec<Finding>) {
        let path = decode_passes(Cow::Borrowed(req.path()), PATH_DECODE_PASSES);
        if has_traversal(&path) {
            out.push(traversal_finding("REQUEST_URI_RAW".into(), &path));
        }
        let path = apply(path, backslash_to_slash);
        if let Some(name) = self.sensitive_file(&path) {
            out.push(file_finding("REQUEST_FILENAME".into(), name, &path));
        } else if let Some(ext) = restricted_extension(&path) {
            let f = Finding::new(
                RESTRICTED_EXTENSION,
                MSG_EXTENSION,
                Severity::Critical,
                "REQUEST_FILENAME".into(),
                &path,
            );
            out.push(f.labelled(ext));
        }
    }

    /// Reports traversal and a sensitive file in the field's value.
    fn inspect_value_and_file(&self, field: &Field<'_>, from: usize, out: &mut Vec<Finding>) {
        let value = decode_passes(Cow::Borrowed(&field.value), 1);
        if has_traversal(&value) {
            push_once(out, from, traversal_finding(field.variable(), &value));
        }
        let value = apply(value, backslash_to_slash);
        if let Some(name) = self.sensitive_file(&value) {
            push_once(out, from, file_finding(field.variable(), name, &value));
        }
    }

    /// Reports traversal in an argument's name and value, a cookie, a header or an upload's
    /// file name, and sensitive files in an argument's or a cookie's value.
    /// Repeated argument names are reported once per rule (`out[from..]` is this request's).
    fn inspect_field(
        &self,
        field: &Field<'_>,
        classes: FieldClasses,
        from: usize,
        out: &mut Vec<Finding>,
    ) {
        match field.source {
            Source::QueryArg | Source::BodyArg => {
                if may_hold_path(classes.name) {
                    let name = decode_passes(Cow::Borrowed(&field.name), 1);
                    if has_traversal(&name) {
                        let variable =
                            format!("ARGS_NAMES:{}", String::from_utf8_lossy(&field.name));
                        push_once(out, from, traversal_finding(variable, &name));
                    }
                }
                if may_hold_path(classes.value) {
                    self.inspect_value_and_file(field, from, out);
                }
            }
            Source::Cookie => self.inspect_value_and_file(field, from, out),
            // Like CRS 930110: every header but `Referer` (a URL the browser sends as is) and
            // `Cookie` (its cookies are checked one by one).
            Source::Header
                if field.name.eq_ignore_ascii_case(b"referer")
                    || field.name.eq_ignore_ascii_case(b"cookie") => {}
            Source::Filename
            | Source::XmlAttr
            | Source::XmlText
            | Source::XmlNode
            | Source::GraphqlArg
            | Source::Header => {
                let value = decode_passes(Cow::Borrowed(&field.value), 1);
                if has_traversal(&value) {
                    push_once(out, from, traversal_finding(field.variable(), &value));
                }
            }
            Source::PartHeader => {}
        }
    }
}

impl Default for Traversal {
    fn default() -> Self {
        Traversal::new()
    }
}

impl Detector for Traversal {
    fn inspect(
        &self,
        req: &Request<'_>,
        inputs: &Classified<'_, '_>,
        deadline: &Deadline,
        out: &mut Vec<Finding>,
    ) -> Result<(), OutOfTime> {
        deadline.check()?;
        self.inspect_path(req, out);
        let from = out.len();
        for (field, &classes) in inputs.fields.iter().zip(inputs.classes()) {
            if !(may_hold_path(classes.name) || may_hold_path(classes.value)) {
                continue;
            }
            deadline.check()?;
            self.inspect_field(field, classes, from, out);
        }
        Ok(())
    }
}

fn traversal_finding(variable: String, value: &[u8]) -> Finding {
    Finding::new(
        PATH_TRAVERSAL,
        MSG_TRAVERSAL,
        Severity::Critical,
        variable,
        value,
    )
}

fn file_finding(variable: String, name: &str, value: &[u8]) -> Finding {
    Finding::new(
        OS_FILE_ACCESS,
        MSG_FILE,
        Severity::Critical,
        variable,
        value,
    )
    .labelled(name)
}

/// The restricted extension (or `~`, an editor's backup) that ends the last segment of `path`.
fn restricted_extension(path: &[u8]) -> Option<&'static str> {
    let name = &path[memchr::memrchr(b'/', path).map_or(0, |i| i + 1)..];
    let name = name.strip_suffix(b";").unwrap_or(name);
    if name.len() > 1 && name.ends_with(b"~") {
        return Some("~");
    }
    let dot = memchr::memrchr(b'.', name)?;
    let ext = &name[dot..];
    RESTRICTED_EXTENSIONS
        .iter()
        .find(|e| e.as_bytes().eq_ignore_ascii_case(ext))
        .copied()
}

/// Up to `passes` rounds of percent-decoding (with `%uXXXX`), each followed by folding
/// overlong UTF-8 and full-width forms; stops early once no `%` is left.
fn decode_passes(mut value: Cow<'_, [u8]>, passes: usize) -> Cow<'_, [u8]> {
    for pass in 0..passes {
        if pass > 0 && memchr::memchr(b'%', &value).is_none() {
            break;
        }
        value = apply(value, url_decode_uni);
        value = apply(value, fold_overlong_utf8);
        value = apply(value, fold_fullwidth);
    }
    value
}

/// False for a value neither rule can find anything in (most argument names and values: words,
/// numbers, SKUs), from the value's byte classes instead of the decoders' and matchers'
/// searches. It needs a dot or a separator, or the start of an encoding that can turn into one
/// (`%`, overlong UTF-8 leads, the full-width lead `0xEF`).
fn may_hold_path(classes: ByteClasses) -> bool {
    classes.any(ByteClasses::PATH)
}

/// True when `value` has a run of two or more dots between separators (`/`, `\`, `;`, or the
/// value's start before it), or exactly `..` after a slash at the very end.
fn has_traversal(value: &[u8]) -> bool {
    let mut i = 0;
    while let Some(found) = value.get(i..).and_then(|rest| memchr::memchr(b'.', rest)) {
        let start = i + found;
        let run = value[start..].iter().take_while(|&&b| b == b'.').count();
        let end = start + run;
        let before = start.checked_sub(1).and_then(|j| value.get(j)).copied();
        let after = value.get(end).copied();
        let sep_before = matches!(before, None | Some(b'/' | b'\\' | b';'));
        let sep_after = matches!(after, Some(b'/' | b'\\' | b';'));
        let trailing = run == 2 && matches!(before, Some(b'/' | b'\\')) && after.is_none();
        if run >= 2 && ((sep_before && sep_after) || trailing) {
            return true;
        }
        i = end;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::excerpt;
    use crate::detect::testing::{benign_values, inspect_field, inspect_get, inspect_query_value};

    fn rules(found: &[Finding]) -> Vec<u32> {
        found.iter().map(|f| f.rule_id).collect()
    }

    /// [`Traversal::sensitive_file`] skips values without a `.` or `/`: every pattern has one.
    #[test]
    fn every_sensitive_file_pattern_holds_a_dot_or_a_slash() {
        for f in SENSITIVE_FILES {
            assert!(f.pattern.contains(['.', '/']), "{}", f.pattern);
        }
    }

    /// Values the byte check passes over are those where decoding finds no dot or separator;
    /// encoded traversals and files in names and values are still found.
    #[test]
    fn values_without_path_bytes_are_skipped_and_encoded_ones_are_not() {
        for plain in [
            &b"Blue cotton shirt size M"[..],
            b"SKU-00001",
            b"gift wrap please",
            b"",
        ] {
            assert!(!may_hold_path(ByteClasses::of(plain)), "{plain:?}");
        }
        for encoded in [
            &b"%2e%2e%2fetc%2fpasswd"[..],
            b"\xc0\xae",
            b"\xef\xbc\x8e\xef\xbc\x8e/x",
            b"a.b",
            b"a/b",
            b"a\\b",
        ] {
            assert!(may_hold_path(ByteClasses::of(encoded)), "{encoded:?}");
        }
        let d = Traversal::new();
        for (name, value) in [
            (&b"file"[..], &b"%2e%2e%2f%2e%2e%2fetc%2fpasswd"[..]),
            (b"%2e%2e%2fx", b"1"),
            (
                b"f",
                "\u{ff0e}\u{ff0e}/\u{ff0e}\u{ff0e}/etc/passwd".as_bytes(),
            ),
            (b"f", b"\xc0\xae\xc0\xae/\xc0\xae\xc0\xae/win.ini"),
        ] {
            let field = Field {
                source: Source::QueryArg,
                name: Cow::Borrowed(name),
                value: Cow::Borrowed(value),
            };
            let classes = FieldClasses {
                name: ByteClasses::of(name),
                value: ByteClasses::of(value),
            };
            let mut out = Vec::new();
            d.inspect_field(&field, classes, 0, &mut out);
            assert!(!out.is_empty(), "{name:?}={value:?}");
        }
    }

    #[test]
    fn traversal_sequences_are_found() {
        for v in [
            &b"../../etc/x"[..],
            b"..\\..\\windows",
            b"/var/www/../x",
            b"/app/..;/admin",
            b"images/..",
            b"....//....//x",
            b"%2e%2e%2fsecret",
            b"%c0%ae%c0%ae%c0%afsecret",
            b"%u002e%u002e%u2215x/..%u002f",
        ] {
            let found = inspect_query_value(&Traversal::new(), v);
            assert!(
                rules(&found).contains(&PATH_TRAVERSAL),
                "missed {}",
                excerpt(v)
            );
        }
    }

    #[test]
    fn dots_without_separators_are_not_traversal() {
        for v in [
            &b"Wait... what?"[..],
            b"report..pdf",
            b"...",
            b"..",
            b"a.b.c",
            b"see https://example.com/...",
            b"1..10",
        ] {
            assert!(!has_traversal(v), "false positive on {}", excerpt(v));
        }
    }

    #[test]
    fn raw_path_is_decoded_up_to_three_times() {
        let found = inspect_get(
            &Traversal::new(),
            b"/static/%25252e%25252e%25252fapp.py",
            &[],
        );
        assert_eq!(rules(&found), [PATH_TRAVERSAL]);
        assert_eq!(found[0].variable, "REQUEST_URI_RAW");
        let found = inspect_get(&Traversal::new(), b"/dl?f=%252e%252e%252fsecret", &[]);
        assert_eq!(rules(&found), [PATH_TRAVERSAL]);
        assert_eq!(found[0].variable, "ARGS:f");
        let found = inspect_get(&Traversal::new(), b"/dl?f=../a&f=../b", &[]);
        assert_eq!(rules(&found), [PATH_TRAVERSAL]);
        let found = inspect_get(&Traversal::new(), b"/static/app.css?v=1.2", &[]);
        assert!(found.is_empty());
    }

    /// Cookies are checked like arguments, other headers (but `Referer`) for traversal, as CRS
    /// 930110 does.
    #[test]
    fn cookies_and_headers_are_checked() {
        let found = inspect_get(
            &Traversal::new(),
            b"/",
            &[(b"Cookie", b"lang=../../../../etc/passwd; theme=dark")],
        );
        assert_eq!(rules(&found), [PATH_TRAVERSAL, OS_FILE_ACCESS]);
        assert_eq!(found[0].variable, "REQUEST_COOKIES:lang");
        let found = inspect_get(
            &Traversal::new(),
            b"/",
            &[(b"Accept", b"../../../../etc/passwd{{")],
        );
        assert_eq!(rules(&found), [PATH_TRAVERSAL]);
        assert_eq!(found[0].variable, "REQUEST_HEADERS:Accept");
        let benign = inspect_get(
            &Traversal::new(),
            b"/",
            &[
                (b"Referer", b"https://example.com/a/../b"),
                (
                    b"Cookie",
                    b"jwt=eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig; path=/app/",
                ),
                (b"Accept", b"text/html,*/*;q=0.8"),
            ],
        );
        assert!(benign.is_empty(), "{benign:?}");
    }

    #[test]
    fn upload_file_names_and_arg_names_are_checked() {
        let found = inspect_field(&Traversal::new(), Source::Filename, b"f", b"../../x.php");
        assert_eq!(rules(&found), [PATH_TRAVERSAL]);
        let found = inspect_field(&Traversal::new(), Source::BodyArg, b"..\\x", b"1");
        assert_eq!(found[0].variable, "ARGS_NAMES:..\\x");
    }

    #[test]
    fn sensitive_files_are_found() {
        for v in [
            &b"/etc/passwd"[..],
            b"..\\..\\WINDOWS\\win.ini",
            b"C:\\Windows\\system.ini",
            b"/proc/version",
            b"/proc/self/environ",
            b"/.git/config",
            b".env",
            b"app/.env.production",
            b"/WEB-INF/web.xml",
            b"php://filter/resource=wp-config.php",
            b"/srv/www/web.config",
            b"/home/deploy/.ssh/id_rsa",
            b"/.DS_Store",
            b"/storage/logs/laravel.log",
        ] {
            let found = inspect_query_value(&Traversal::new(), v);
            assert!(
                rules(&found).contains(&OS_FILE_ACCESS),
                "missed {}",
                excerpt(v)
            );
        }
        let found = inspect_get(&Traversal::new(), b"/.env", &[]);
        assert_eq!(rules(&found), [OS_FILE_ACCESS]);
        assert!(found[0].data.starts_with(".env: "));
    }

    #[test]
    fn sensitive_names_inside_other_words_do_not_fire() {
        for v in [
            &b"how to edit .htaccess"[..],
            b"/user/project.git/info/refs",
            b"/docs/.environment-setup",
            b"config.env",
            b"/api/events",
            b"/docs/web.config-reference",
            b"/blog/id_rsa-vs-id_ed25519",
            b"/keys/my_id_rsa",
            b"how to edit /etc/hosts",
            b"C:\\Windows\\System32\\drivers\\etc\\hosts",
        ] {
            let t = Traversal::new();
            assert!(
                t.sensitive_file(v).is_none(),
                "false positive on {}",
                excerpt(v)
            );
        }
    }

    #[test]
    fn backups_dumps_and_key_stores_fire_in_the_path_only() {
        for uri in [
            &b"/index.php.bak"[..],
            b"/config.php~",
            b"/db/dump.SQL",
            b"/backup/site.tar.gz.old",
            b"/.index.php.swp",
            b"/certs/server.pfx",
            b"/terraform.tfstate",
            b"/%64b.sql",
        ] {
            let found = inspect_get(&Traversal::new(), uri, &[]);
            assert_eq!(rules(&found), [RESTRICTED_EXTENSION], "{}", excerpt(uri));
        }
        for uri in [
            &b"/"[..],
            b"/index.php",
            b"/docs/sql-tutorial",
            b"/files/report.pdf",
            b"/static/app.js?v=old.bak",
            b"/~alice/",
            b"/~",
            b"/sql/",
            b"/posts/the.old.man.and.the.sea",
        ] {
            let found = inspect_get(&Traversal::new(), uri, &[]);
            assert!(found.is_empty(), "{}: {found:?}", excerpt(uri));
        }
        let found = inspect_query_value(&Traversal::new(), b"backup.sql");
        assert!(found.is_empty(), "{found:?}");
    }

    #[test]
    fn benign_values_do_not_fire() {
        let fired: Vec<Finding> = benign_values()
            .iter()
            .flat_map(|v| inspect_query_value(&Traversal::new(), v.as_bytes()))
            .collect();
        assert!(fired.is_empty(), "false positives: {fired:#?}");
    }
}
