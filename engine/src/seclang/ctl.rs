//! `ctl:` actions: per-transaction configuration changes.

use super::ast::{AuditEngine, EngineMode, IdRange};
use super::error::Reason;
use super::variables::{parse_target_list, VariableSpec};

/// Request body processors selectable with `ctl:requestBodyProcessor`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyProcessor {
    /// `URLENCODED`.
    UrlEncoded,
    /// `MULTIPART`.
    Multipart,
    /// `XML`.
    Xml,
    /// `JSON`.
    Json,
}

/// A typed `ctl:` action.
#[derive(Debug, Clone, PartialEq)]
pub enum Ctl {
    /// `ctl:ruleRemoveById=ids`.
    RuleRemoveById(Vec<IdRange>),
    /// `ctl:ruleRemoveByTag=pattern`.
    RuleRemoveByTag(String),
    /// `ctl:ruleRemoveByMsg=pattern`.
    RuleRemoveByMsg(String),
    /// `ctl:ruleRemoveTargetById=ids;TARGETS`.
    RuleRemoveTargetById {
        /// Rules concerned.
        ids: Vec<IdRange>,
        /// Targets removed from them.
        targets: Vec<VariableSpec>,
    },
    /// `ctl:ruleRemoveTargetByTag=tag;TARGETS`.
    RuleRemoveTargetByTag {
        /// Tag pattern.
        tag: String,
        /// Targets removed.
        targets: Vec<VariableSpec>,
    },
    /// `ctl:ruleRemoveTargetByMsg=msg;TARGETS`.
    RuleRemoveTargetByMsg {
        /// Message pattern.
        msg: String,
        /// Targets removed.
        targets: Vec<VariableSpec>,
    },
    /// `ctl:ruleEngine=On|Off|DetectionOnly`.
    RuleEngine(EngineMode),
    /// `ctl:requestBodyAccess=On|Off`.
    RequestBodyAccess(bool),
    /// `ctl:responseBodyAccess=On|Off`.
    ResponseBodyAccess(bool),
    /// `ctl:requestBodyLimit=n`.
    RequestBodyLimit(u64),
    /// `ctl:responseBodyLimit=n`.
    ResponseBodyLimit(u64),
    /// `ctl:requestBodyProcessor=…`.
    RequestBodyProcessor(BodyProcessor),
    /// `ctl:forceRequestBodyVariable=On|Off`.
    ForceRequestBodyVariable(bool),
    /// `ctl:auditEngine=…`.
    AuditEngine(AuditEngine),
    /// `ctl:auditLogParts=…`.
    AuditLogParts(String),
    /// `ctl:debugLogLevel=0..9`.
    DebugLogLevel(u8),
    /// `ctl:hashEngine=…` and other known options Moat does not use.
    Other {
        /// Option name as written.
        name: String,
        /// Value as written.
        value: String,
    },
}

/// Parses `On`/`Off` (case-insensitive).
pub fn parse_on_off(v: &str) -> Option<bool> {
    match v.to_ascii_lowercase().as_str() {
        "on" => Some(true),
        "off" => Some(false),
        _ => None,
    }
}

/// Parses the text after `ctl:`.
pub fn parse_ctl(text: &str) -> Result<Ctl, Reason> {
    let (name, value) = text
        .split_once('=')
        .ok_or_else(|| format!("ctl: expected option=value, got {text:?}"))?;
    let (name, value) = (name.trim(), value.trim());
    let bad = || format!("ctl:{name}: invalid value {value:?}");
    let on_off = || parse_on_off(value).ok_or_else(bad);
    let targets = || -> Result<(&str, Vec<VariableSpec>), Reason> {
        let (head, list) = value
            .split_once(';')
            .ok_or_else(|| format!("ctl:{name}: expected selector;TARGETS, got {value:?}"))?;
        let list = parse_target_list(list).map_err(|e| format!("ctl:{name}: {e}"))?;
        Ok((head.trim(), list))
    };
    let non_empty = || {
        if value.is_empty() {
            Err(bad())
        } else {
            Ok(value.to_string())
        }
    };
    Ok(match name.to_ascii_lowercase().as_str() {
        "ruleremovebyid" => {
            Ctl::RuleRemoveById(IdRange::parse_list(value).map_err(|e| format!("ctl:{name}: {e}"))?)
        }
        "ruleremovebytag" => Ctl::RuleRemoveByTag(non_empty()?),
        "ruleremovebymsg" => Ctl::RuleRemoveByMsg(non_empty()?),
        "ruleremovetargetbyid" => {
            let (ids, targets) = targets()?;
            Ctl::RuleRemoveTargetById {
                ids: IdRange::parse_list(ids).map_err(|e| format!("ctl:{name}: {e}"))?,
                targets,
            }
        }
        "ruleremovetargetbytag" => {
            let (tag, targets) = targets()?;
            Ctl::RuleRemoveTargetByTag {
                tag: tag.to_string(),
                targets,
            }
        }
        "ruleremovetargetbymsg" => {
            let (msg, targets) = targets()?;
            Ctl::RuleRemoveTargetByMsg {
                msg: msg.to_string(),
                targets,
            }
        }
        "ruleengine" => Ctl::RuleEngine(EngineMode::parse(value).ok_or_else(bad)?),
        "requestbodyaccess" => Ctl::RequestBodyAccess(on_off()?),
        "responsebodyaccess" => Ctl::ResponseBodyAccess(on_off()?),
        "requestbodylimit" => Ctl::RequestBodyLimit(value.parse().map_err(|_| bad())?),
        "responsebodylimit" => Ctl::ResponseBodyLimit(value.parse().map_err(|_| bad())?),
        "requestbodyprocessor" => {
            Ctl::RequestBodyProcessor(match value.to_ascii_uppercase().as_str() {
                "URLENCODED" => BodyProcessor::UrlEncoded,
                "MULTIPART" => BodyProcessor::Multipart,
                "XML" => BodyProcessor::Xml,
                "JSON" => BodyProcessor::Json,
                _ => return Err(bad()),
            })
        }
        "forcerequestbodyvariable" => Ctl::ForceRequestBodyVariable(on_off()?),
        "auditengine" => Ctl::AuditEngine(AuditEngine::parse(value).ok_or_else(bad)?),
        "auditlogparts" => Ctl::AuditLogParts(non_empty()?),
        "debugloglevel" => Ctl::DebugLogLevel(
            value
                .parse::<u8>()
                .ok()
                .filter(|l| *l <= 9)
                .ok_or_else(bad)?,
        ),
        "hashengine" | "hashenforcement" | "ruleremovetargetbyname" => Ctl::Other {
            name: name.to_string(),
            value: value.to_string(),
        },
        _ => return Err(format!("unknown ctl option {name:?}")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seclang::variables::{Collection, Selector};

    #[test]
    fn ctl_forms() {
        assert_eq!(
            parse_ctl("ruleRemoveById=920100-920199 920300").unwrap(),
            Ctl::RuleRemoveById(vec![
                IdRange {
                    start: 920100,
                    end: 920199
                },
                IdRange {
                    start: 920300,
                    end: 920300
                }
            ])
        );
        assert_eq!(
            parse_ctl("ruleRemoveByTag=OWASP_CRS").unwrap(),
            Ctl::RuleRemoveByTag("OWASP_CRS".into())
        );
        match parse_ctl("ruleRemoveTargetByTag=xss-perf-disable;REQUEST_FILENAME").unwrap() {
            Ctl::RuleRemoveTargetByTag { tag, targets } => {
                assert_eq!(tag, "xss-perf-disable");
                assert_eq!(targets[0].collection, Collection::RequestFilename);
            }
            other => panic!("{other:?}"),
        }
        match parse_ctl("ruleRemoveTargetById=942100;ARGS:pwd").unwrap() {
            Ctl::RuleRemoveTargetById { ids, targets } => {
                assert_eq!(ids[0].start, 942100);
                assert_eq!(targets[0].selector, Selector::Key("pwd".into()));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            parse_ctl("ruleEngine=DetectionOnly").unwrap(),
            Ctl::RuleEngine(EngineMode::DetectionOnly)
        );
        assert_eq!(
            parse_ctl("requestBodyAccess=off").unwrap(),
            Ctl::RequestBodyAccess(false)
        );
        assert_eq!(
            parse_ctl("requestBodyProcessor=JSON").unwrap(),
            Ctl::RequestBodyProcessor(BodyProcessor::Json)
        );
        assert_eq!(
            parse_ctl("forceRequestBodyVariable=On").unwrap(),
            Ctl::ForceRequestBodyVariable(true)
        );
        assert_eq!(
            parse_ctl("auditEngine=Off").unwrap(),
            Ctl::AuditEngine(AuditEngine::Off)
        );
        assert_eq!(
            parse_ctl("auditLogParts=+E").unwrap(),
            Ctl::AuditLogParts("+E".into())
        );
        assert_eq!(parse_ctl("debugLogLevel=4").unwrap(), Ctl::DebugLogLevel(4));
        assert_eq!(
            parse_ctl("ruleRemoveByMsg=x").unwrap(),
            Ctl::RuleRemoveByMsg("x".into())
        );
    }

    #[test]
    fn ctl_errors() {
        for (text, want) in [
            ("ruleEngine", "expected option=value"),
            ("ruleEngine=Maybe", "invalid value"),
            ("frob=1", "unknown ctl option"),
            ("ruleRemoveById=abc", "invalid rule id"),
            ("ruleRemoveTargetById=1", "expected selector;TARGETS"),
            ("ruleRemoveTargetById=1;NOPE", "unknown variable"),
            ("requestBodyProcessor=YAML", "invalid value"),
            ("debugLogLevel=10", "invalid value"),
        ] {
            let err = parse_ctl(text).unwrap_err();
            assert!(err.contains(want), "{text}: {err}");
        }
    }
}
