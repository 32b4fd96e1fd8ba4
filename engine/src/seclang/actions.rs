//! Rule actions: `"id:1,phase:2,t:none,setvar:'tx.a=+%{tx.b}',msg:'x, y',chain"`.

use super::ctl::{parse_ctl, Ctl};
use super::error::Reason;
use super::macros::MacroString;
use super::transformations::Transformation;

/// Rule phases (1..=5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Phase {
    /// Request headers.
    RequestHeaders = 1,
    /// Request body.
    RequestBody = 2,
    /// Response headers.
    ResponseHeaders = 3,
    /// Response body.
    ResponseBody = 4,
    /// Logging.
    Logging = 5,
}

impl Phase {
    /// Parses `1`..`5` or the aliases `request` (2), `response` (4), `logging` (5).
    pub fn parse(text: &str) -> Option<Phase> {
        Some(match text.to_ascii_lowercase().as_str() {
            "1" => Phase::RequestHeaders,
            "2" | "request" => Phase::RequestBody,
            "3" => Phase::ResponseHeaders,
            "4" | "response" => Phase::ResponseBody,
            "5" | "logging" => Phase::Logging,
            _ => return None,
        })
    }

    /// The phase number.
    pub fn number(self) -> u8 {
        self as u8
    }
}

/// How `setvar` changes a variable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetVarOp {
    /// `name=value` (or bare `name`, with an empty value).
    Set,
    /// `name=+value`.
    Add,
    /// `name=-value`.
    Sub,
    /// `!name`.
    Delete,
}

/// A parsed `setvar`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetVar {
    /// Collection, lower-cased (`tx`, `ip`, `session`, `user`, `global`, `resource`).
    pub collection: String,
    /// Variable name; may contain macros (`tx.%{rule.id}-x`). Its literal parts are
    /// lower-cased: names are compared without regard to ASCII case.
    pub name: MacroString,
    /// The change.
    pub op: SetVarOp,
    /// The value (empty for `Delete`).
    pub value: MacroString,
}

/// `allow` scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AllowScope {
    /// `allow`: skip all remaining phases.
    All,
    /// `allow:phase`: skip the rest of the current phase.
    Phase,
    /// `allow:request`: skip the remaining request phases.
    Request,
}

/// One action.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// `id:n` (n ≥ 1).
    Id(u32),
    /// `phase:n`.
    Phase(Phase),
    /// `t:name`.
    Transformation(Transformation),
    /// `msg:'…'`.
    Msg(MacroString),
    /// `logdata:'…'`.
    LogData(MacroString),
    /// `tag:'…'`.
    Tag(MacroString),
    /// `severity:` 0 (emergency) ..= 7 (debug).
    Severity(u8),
    /// `ver:'…'`.
    Ver(String),
    /// `rev:'…'`.
    Rev(String),
    /// `maturity:` 1..=9.
    Maturity(u8),
    /// `accuracy:` 1..=9.
    Accuracy(u8),
    /// `capture`.
    Capture,
    /// `chain`.
    Chain,
    /// `skip:n`.
    Skip(u32),
    /// `skipAfter:MARKER`.
    SkipAfter(String),
    /// `setvar:…`.
    SetVar(SetVar),
    /// `setenv:name=value`.
    SetEnv {
        /// Variable name.
        name: String,
        /// Value.
        value: MacroString,
    },
    /// `expirevar:collection.name=seconds`.
    ExpireVar {
        /// Collection, lower-cased.
        collection: String,
        /// Variable name.
        name: String,
        /// Seconds (may be a macro).
        seconds: MacroString,
    },
    /// `initcol:collection=key`.
    InitCol {
        /// Collection, lower-cased.
        collection: String,
        /// Key.
        key: MacroString,
    },
    /// `setuid:…`.
    SetUid(MacroString),
    /// `setsid:…`.
    SetSid(MacroString),
    /// `setrsc:…`.
    SetRsc(MacroString),
    /// `ctl:…`.
    Ctl(Ctl),
    /// `block`.
    Block,
    /// `pass`.
    Pass,
    /// `deny`.
    Deny,
    /// `drop`.
    Drop,
    /// `allow[:phase|request]`.
    Allow(AllowScope),
    /// `redirect:URL`.
    Redirect(MacroString),
    /// `proxy:URL`.
    Proxy(MacroString),
    /// `pause:ms`.
    Pause(u32),
    /// `status:nnn`.
    Status(u16),
    /// `log`.
    Log,
    /// `nolog`.
    NoLog,
    /// `auditlog`.
    AuditLog,
    /// `noauditlog`.
    NoAuditLog,
    /// `multiMatch`.
    MultiMatch,
    /// `exec:path`.
    Exec(String),
    /// `append:text`.
    Append(MacroString),
    /// `prepend:text`.
    Prepend(MacroString),
    /// `deprecatevar:…`.
    DeprecateVar(String),
    /// `sanitiseArg:name`.
    SanitiseArg(String),
    /// `sanitiseMatched`.
    SanitiseMatched,
    /// `sanitiseMatchedBytes[:n/m]`.
    SanitiseMatchedBytes(String),
    /// `sanitiseRequestHeader:name`.
    SanitiseRequestHeader(String),
    /// `sanitiseResponseHeader:name`.
    SanitiseResponseHeader(String),
    /// `xmlns:prefix=URI`.
    Xmlns(String),
}

impl Action {
    /// True for the disruptive actions (`block`, `pass`, `deny`, `drop`, `allow`, `redirect`, `proxy`, `pause`).
    pub fn is_disruptive(&self) -> bool {
        matches!(
            self,
            Action::Block
                | Action::Pass
                | Action::Deny
                | Action::Drop
                | Action::Allow(_)
                | Action::Redirect(_)
                | Action::Proxy(_)
                | Action::Pause(_)
        )
    }
}

/// Splits an action list into `(name, value)` pairs; a value starting with `'` runs to the
/// matching unescaped `'` (`\'` is a quote) and may contain commas.
pub fn split_actions(text: &str) -> Result<Vec<(String, Option<String>)>, Reason> {
    let mut out = Vec::new();
    let mut rest = text.trim_start();
    while !rest.is_empty() {
        let end = rest.find([',', ':']).unwrap_or(rest.len());
        let name = rest[..end].trim().to_string();
        rest = &rest[end..];
        let mut value = None;
        if let Some(after) = rest.strip_prefix(':') {
            let after = after.trim_start();
            if let Some(quoted) = after.strip_prefix('\'') {
                let (v, tail) = read_quoted(quoted)
                    .ok_or_else(|| format!("unterminated quote in the value of action {name:?}"))?;
                value = Some(v);
                rest = tail.trim_start();
                if !rest.is_empty() && !rest.starts_with(',') {
                    return Err(format!(
                        "unexpected text after the quoted value of action {name:?}"
                    ));
                }
            } else {
                let end = after.find(',').unwrap_or(after.len());
                value = Some(after[..end].trim().to_string());
                rest = &after[end..];
            }
        }
        if name.is_empty() {
            if value.is_some() {
                return Err("empty action name".into());
            }
        } else {
            out.push((name, value));
        }
        rest = rest.strip_prefix(',').unwrap_or(rest).trim_start();
    }
    Ok(out)
}

/// Reads up to the closing quote; returns the unescaped text and what follows the quote.
fn read_quoted(text: &str) -> Option<(String, &str)> {
    let bytes = text.as_bytes();
    let mut out = String::new();
    let mut seg = 0;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' if bytes.get(i + 1) == Some(&b'\'') => {
                out.push_str(&text[seg..i]);
                seg = i + 1;
                i += 2;
            }
            b'\'' => {
                out.push_str(&text[seg..i]);
                return Some((out, &text[i + 1..]));
            }
            _ => i += 1,
        }
    }
    None
}

/// Parses an action list into typed actions.
pub fn parse_actions(text: &str) -> Result<Vec<Action>, Reason> {
    split_actions(text)?
        .into_iter()
        .map(|(name, value)| parse_action(&name, value))
        .collect()
}

/// Parses one action.
fn parse_action(name: &str, value: Option<String>) -> Result<Action, Reason> {
    let lower = name.to_ascii_lowercase();
    let flag = |a: Action| match &value {
        None => Ok(a),
        Some(_) => Err(format!("action {name:?} takes no value")),
    };
    let need = || {
        value
            .clone()
            .filter(|v| !v.is_empty())
            .ok_or_else(|| format!("action {name:?} needs a value"))
    };
    let number = |max: u64| -> Result<u64, Reason> {
        let v = need()?;
        v.parse::<u64>()
            .ok()
            .filter(|n| *n <= max)
            .ok_or_else(|| format!("action {name:?}: invalid number {v:?}"))
    };
    let small = |lo: u64, hi: u64| -> Result<u8, Reason> {
        let n = number(hi)?;
        if n < lo {
            return Err(format!("action {name:?}: {n} is out of range {lo}..={hi}"));
        }
        Ok(n as u8)
    };
    let text = || need().map(|v| MacroString::parse(&v));
    Ok(match lower.as_str() {
        "id" => {
            let n = number(u64::from(u32::MAX))?;
            if n == 0 {
                return Err("action \"id\": 0 is not a valid rule id".into());
            }
            Action::Id(n as u32)
        }
        "phase" => {
            let v = need()?;
            Action::Phase(Phase::parse(&v).ok_or_else(|| format!("invalid phase {v:?}"))?)
        }
        "t" => {
            let v = need()?;
            Action::Transformation(
                Transformation::from_name(&v)
                    .ok_or_else(|| format!("unknown transformation {v:?}"))?,
            )
        }
        "msg" => Action::Msg(text()?),
        "logdata" => Action::LogData(text()?),
        "tag" => Action::Tag(text()?),
        "severity" => Action::Severity(parse_severity(&need()?)?),
        "ver" => Action::Ver(need()?),
        "rev" => Action::Rev(need()?),
        "maturity" => Action::Maturity(small(1, 9)?),
        "accuracy" => Action::Accuracy(small(1, 9)?),
        "capture" => flag(Action::Capture)?,
        "chain" => flag(Action::Chain)?,
        "skip" => Action::Skip(number(u64::from(u32::MAX))? as u32),
        "skipafter" => Action::SkipAfter(need()?),
        "setvar" => Action::SetVar(parse_setvar(&need()?)?),
        "setenv" => {
            let v = need()?;
            let (n, val) = v.split_once('=').unwrap_or((v.as_str(), ""));
            if n.trim().is_empty() {
                return Err(format!("setenv: missing variable name in {v:?}"));
            }
            Action::SetEnv {
                name: n.trim().to_string(),
                value: MacroString::parse(val),
            }
        }
        "expirevar" => {
            let v = need()?;
            let (var, secs) = v
                .split_once('=')
                .ok_or_else(|| format!("expirevar: expected collection.name=seconds, got {v:?}"))?;
            let (collection, name) = split_var(var)?;
            Action::ExpireVar {
                collection,
                name,
                seconds: MacroString::parse(secs.trim()),
            }
        }
        "initcol" => {
            let v = need()?;
            let (c, k) = v
                .split_once('=')
                .ok_or_else(|| format!("initcol: expected collection=key, got {v:?}"))?;
            let collection = c.trim().to_ascii_lowercase();
            if !matches!(
                collection.as_str(),
                "ip" | "session" | "user" | "global" | "resource"
            ) {
                return Err(format!("initcol: unknown collection {c:?}"));
            }
            Action::InitCol {
                collection,
                key: MacroString::parse(k.trim()),
            }
        }
        "setuid" => Action::SetUid(text()?),
        "setsid" => Action::SetSid(text()?),
        "setrsc" => Action::SetRsc(text()?),
        "ctl" => Action::Ctl(parse_ctl(&need()?)?),
        "block" => flag(Action::Block)?,
        "pass" => flag(Action::Pass)?,
        "deny" => flag(Action::Deny)?,
        "drop" => flag(Action::Drop)?,
        "allow" => Action::Allow(
            match value.as_deref().map(str::to_ascii_lowercase).as_deref() {
                None => AllowScope::All,
                Some("phase") => AllowScope::Phase,
                Some("request") => AllowScope::Request,
                Some(other) => return Err(format!("allow: invalid scope {other:?}")),
            },
        ),
        "redirect" => Action::Redirect(text()?),
        "proxy" => Action::Proxy(text()?),
        "pause" => Action::Pause(number(u64::from(u32::MAX))? as u32),
        "status" => {
            let n = number(999)?;
            if n < 100 {
                return Err(format!("status: {n} is not an HTTP status code"));
            }
            Action::Status(n as u16)
        }
        "log" => flag(Action::Log)?,
        "nolog" => flag(Action::NoLog)?,
        "auditlog" => flag(Action::AuditLog)?,
        "noauditlog" => flag(Action::NoAuditLog)?,
        "multimatch" => flag(Action::MultiMatch)?,
        "exec" => Action::Exec(need()?),
        "append" => Action::Append(text()?),
        "prepend" => Action::Prepend(text()?),
        "deprecatevar" => Action::DeprecateVar(need()?),
        "sanitisearg" => Action::SanitiseArg(need()?),
        "sanitisematched" => flag(Action::SanitiseMatched)?,
        "sanitisematchedbytes" => Action::SanitiseMatchedBytes(value.unwrap_or_default()),
        "sanitiserequestheader" => Action::SanitiseRequestHeader(need()?),
        "sanitiseresponseheader" => Action::SanitiseResponseHeader(need()?),
        "xmlns" => Action::Xmlns(need()?),
        _ => return Err(format!("unknown action {name:?}")),
    })
}

/// Parses `severity:` names (`CRITICAL`) or numbers (`2`).
fn parse_severity(v: &str) -> Result<u8, Reason> {
    const NAMES: [&str; 8] = [
        "EMERGENCY",
        "ALERT",
        "CRITICAL",
        "ERROR",
        "WARNING",
        "NOTICE",
        "INFO",
        "DEBUG",
    ];
    if let Ok(n) = v.parse::<u8>() {
        if n <= 7 {
            return Ok(n);
        }
    }
    NAMES
        .iter()
        .position(|n| n.eq_ignore_ascii_case(v))
        .map(|p| p as u8)
        .ok_or_else(|| format!("invalid severity {v:?}"))
}

/// Splits `collection.name`, checking the collection is a persistent or transaction one.
fn split_var(var: &str) -> Result<(String, String), Reason> {
    let var = var.trim();
    let (c, n) = var
        .split_once('.')
        .ok_or_else(|| format!("expected collection.name, got {var:?}"))?;
    let collection = c.to_ascii_lowercase();
    if !matches!(
        collection.as_str(),
        "tx" | "ip" | "session" | "user" | "global" | "resource"
    ) {
        return Err(format!("unknown collection {c:?} in {var:?}"));
    }
    if n.is_empty() {
        return Err(format!("missing variable name in {var:?}"));
    }
    Ok((collection, n.to_string()))
}

/// A `setvar` name, its literal parts lower-cased.
fn setvar_name(name: &str) -> MacroString {
    let mut parsed = MacroString::parse(name);
    parsed.lowercase_literals();
    parsed
}

/// Parses a `setvar` value: `!tx.x`, `tx.x`, `tx.x=v`, `tx.x=+v`, `tx.x=-v`.
pub fn parse_setvar(v: &str) -> Result<SetVar, Reason> {
    let v = v.trim();
    if let Some(var) = v.strip_prefix('!') {
        let (collection, name) = split_var(var).map_err(|e| format!("setvar: {e}"))?;
        return Ok(SetVar {
            collection,
            name: setvar_name(&name),
            op: SetVarOp::Delete,
            value: MacroString::parse(""),
        });
    }
    let (var, op, value) = match v.split_once('=') {
        None => (v, SetVarOp::Set, ""),
        Some((var, rhs)) => match (rhs.strip_prefix('+'), rhs.strip_prefix('-')) {
            (Some(val), _) => (var, SetVarOp::Add, val),
            (_, Some(val)) => (var, SetVarOp::Sub, val),
            _ => (var, SetVarOp::Set, rhs),
        },
    };
    let (collection, name) = split_var(var).map_err(|e| format!("setvar: {e}"))?;
    Ok(SetVar {
        collection,
        name: setvar_name(&name),
        op,
        value: MacroString::parse(value),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_with_quotes_and_commas() {
        let got = split_actions("id:1, phase:2,msg:'a, b \\'c\\'',t:none ,chain").unwrap();
        assert_eq!(
            got,
            vec![
                ("id".into(), Some("1".into())),
                ("phase".into(), Some("2".into())),
                ("msg".into(), Some("a, b 'c'".into())),
                ("t".into(), Some("none".into())),
                ("chain".into(), None),
            ]
        );
        assert!(split_actions("msg:'oops")
            .unwrap_err()
            .contains("unterminated quote"));
        assert!(split_actions("msg:'a'b")
            .unwrap_err()
            .contains("unexpected text"));
        assert!(split_actions(",,").is_ok());
    }

    #[test]
    fn typed_actions() {
        let a = parse_actions(
            "id:920100,phase:request,t:none,t:urlDecodeUni,severity:'CRITICAL',severity:5,block,allow:phase,status:403,skipAfter:END,tag:'x',ver:'OWASP_CRS/4.28.0'",
        )
        .unwrap();
        assert_eq!(a[0], Action::Id(920100));
        assert_eq!(a[1], Action::Phase(Phase::RequestBody));
        assert_eq!(a[3], Action::Transformation(Transformation::UrlDecodeUni));
        assert_eq!(a[4], Action::Severity(2));
        assert_eq!(a[5], Action::Severity(5));
        assert!(a[6].is_disruptive());
        assert_eq!(a[7], Action::Allow(AllowScope::Phase));
        assert_eq!(a[8], Action::Status(403));
        assert_eq!(a[9], Action::SkipAfter("END".into()));
    }

    #[test]
    fn setvar_forms() {
        let s = parse_setvar("tx.a=+%{tx.b}").unwrap();
        assert_eq!(
            (s.collection.as_str(), s.name.raw.as_str(), s.op),
            ("tx", "a", SetVarOp::Add)
        );
        assert!(s.value.has_macros());
        let s = parse_setvar("TX.a=-5").unwrap();
        assert_eq!(
            (s.collection.as_str(), s.op, s.value.raw.as_str()),
            ("tx", SetVarOp::Sub, "5")
        );
        let s = parse_setvar("!tx.a").unwrap();
        assert_eq!(s.op, SetVarOp::Delete);
        let s = parse_setvar("tx.flag").unwrap();
        assert_eq!((s.op, s.value.raw.as_str()), (SetVarOp::Set, ""));
        let s = parse_setvar("tx.%{rule.id}-x=%{MATCHED_VAR}").unwrap();
        assert!(s.name.has_macros());
        let s = parse_setvar("tx.a==b").unwrap();
        assert_eq!((s.op, s.value.raw.as_str()), (SetVarOp::Set, "=b"));
        assert!(parse_setvar("foo.a=1")
            .unwrap_err()
            .contains("unknown collection"));
        assert!(parse_setvar("tx=1").is_err());
        assert!(parse_setvar("tx.=1").is_err());
    }

    #[test]
    fn action_errors() {
        for (text, want) in [
            ("frob", "unknown action \"frob\""),
            ("t:rot13", "unknown transformation \"rot13\""),
            ("id:0", "not a valid rule id"),
            ("id:x", "invalid number"),
            ("id", "needs a value"),
            ("phase:6", "invalid phase"),
            ("severity:9", "invalid severity"),
            ("chain:1", "takes no value"),
            ("status:42", "not an HTTP status"),
            ("maturity:0", "out of range"),
            ("initcol:foo=1", "unknown collection"),
        ] {
            let err = parse_actions(text).unwrap_err();
            assert!(err.contains(want), "{text}: {err}");
        }
    }

    #[test]
    fn other_actions() {
        let a = parse_actions("initcol:ip=%{REMOTE_ADDR}_%{tx.ua_hash},expirevar:ip.x=60,setenv:A=b,setuid:%{x},allow,capture,multiMatch,nolog,noauditlog,log,auditlog,pass,deny,drop,logdata:'%{MATCHED_VAR}'").unwrap();
        assert_eq!(a.len(), 15);
        assert!(matches!(&a[0], Action::InitCol { collection, .. } if collection == "ip"));
        assert_eq!(a[4], Action::Allow(AllowScope::All));
    }
}
