//! Turns one lexed statement into a typed [`Directive`].

use super::actions::{parse_actions, Action};
use super::ast::{Directive, EngineMode, IdRange, LimitAction};
use super::ctl::parse_on_off;
use super::error::Reason;
use super::lexer::Statement;
use super::operators::parse_operator;
use super::variables::{parse_target_list, parse_variables};

/// Known directives Moat does not need; they become [`Directive::Ignored`] with a warning.
const IGNORED: &[&str] = &[
    "SecAuditEngine",
    "SecAuditLog",
    "SecAuditLog2",
    "SecAuditLogDirMode",
    "SecAuditLogFileMode",
    "SecAuditLogFormat",
    "SecAuditLogParts",
    "SecAuditLogRelevantStatus",
    "SecAuditLogStorageDir",
    "SecAuditLogType",
    "SecCacheTransformations",
    "SecChrootDir",
    "SecConnEngine",
    "SecConnReadStateLimit",
    "SecConnWriteStateLimit",
    "SecContentInjection",
    "SecCookieFormat",
    "SecCookieV0Separator",
    "SecDataDir",
    "SecDebugLog",
    "SecDebugLogLevel",
    "SecDisableBackendCompression",
    "SecGsbLookupDb",
    "SecGuardianLog",
    "SecHashEngine",
    "SecHashKey",
    "SecHashMethodPm",
    "SecHashMethodRx",
    "SecHashParam",
    "SecHttpBlKey",
    "SecInterceptOnError",
    "SecReadStateLimit",
    "SecRemoteRules",
    "SecRemoteRulesFailAction",
    "SecRequestBodyInMemoryLimit",
    "SecResponseBodyMimeTypesClear",
    "SecRuleInheritance",
    "SecRulePerfTime",
    "SecRuleScript",
    "SecSensorId",
    "SecServerSignature",
    "SecStatusEngine",
    "SecStreamInBodyInspection",
    "SecStreamOutBodyInspection",
    "SecTmpDir",
    "SecTmpSaveUploadedFiles",
    "SecUnicodeCodePage",
    "SecUnicodeMapFile",
    "SecUploadDir",
    "SecUploadFileLimit",
    "SecUploadFileMode",
    "SecUploadKeepFiles",
    "SecWebAppId",
    "SecWriteStateLimit",
    "SecXmlExternalEntity",
];

/// Parses one statement (not `Include`, which the loader handles).
pub fn parse_directive(stmt: &Statement) -> Result<Directive, Reason> {
    let name = stmt.name.as_str();
    let args = &stmt.args;
    let lower = name.to_ascii_lowercase();
    let count = |min: usize, max: usize| -> Result<(), Reason> {
        if args.len() < min || args.len() > max {
            let want = if min == max {
                format!("{min}")
            } else {
                format!("{min} to {max}")
            };
            return Err(format!(
                "{name} takes {want} argument(s), got {}",
                args.len()
            ));
        }
        Ok(())
    };
    let one = || -> Result<&str, Reason> {
        count(1, 1)?;
        Ok(args[0].as_str())
    };
    let bad = |v: &str| format!("{name}: invalid value {v:?}");
    let on_off = || -> Result<bool, Reason> {
        let v = one()?;
        parse_on_off(v).ok_or_else(|| bad(v))
    };
    let number = || -> Result<u64, Reason> {
        let v = one()?;
        v.trim().parse::<u64>().map_err(|_| bad(v))
    };
    let limit_action = || -> Result<LimitAction, Reason> {
        let v = one()?;
        LimitAction::parse(v).ok_or_else(|| bad(v))
    };
    let ctx = |what: &str, e: Reason| format!("{name}: {what}: {e}");
    Ok(match lower.as_str() {
        "secrule" => {
            count(2, 3)?;
            let variables = parse_variables(&args[0]).map_err(|e| ctx("variables", e))?;
            let operator = parse_operator(&args[1]).map_err(|e| ctx("operator", e))?;
            let actions = match args.get(2) {
                Some(a) => parse_actions(a).map_err(|e| ctx("actions", e))?,
                None => Vec::new(),
            };
            Directive::SecRule {
                variables,
                operator,
                actions,
            }
        }
        "secaction" => Directive::SecAction {
            actions: parse_actions(one()?).map_err(|e| ctx("actions", e))?,
        },
        "secmarker" => {
            let m = one()?.trim();
            if m.is_empty() {
                return Err("SecMarker: empty marker name".into());
            }
            Directive::SecMarker(m.to_string())
        }
        "secdefaultaction" => {
            Directive::SecDefaultAction(parse_actions(one()?).map_err(|e| ctx("actions", e))?)
        }
        "secgeolookupdb" => Directive::SecGeoLookupDb(one()?.to_string()),
        "secruleengine" => {
            let v = one()?;
            Directive::SecRuleEngine(EngineMode::parse(v).ok_or_else(|| bad(v))?)
        }
        "secrequestbodyaccess" => Directive::SecRequestBodyAccess(on_off()?),
        "secrequestbodylimit" => Directive::SecRequestBodyLimit(number()?),
        "secrequestbodynofileslimit" => Directive::SecRequestBodyNoFilesLimit(number()?),
        "secrequestbodylimitaction" => Directive::SecRequestBodyLimitAction(limit_action()?),
        "secrequestbodyjsondepthlimit" => Directive::SecRequestBodyJsonDepthLimit(number()?),
        "secargumentslimit" => Directive::SecArgumentsLimit(number()?),
        "secargumentseparator" => {
            let v = one()?;
            let mut chars = v.chars();
            match (chars.next(), chars.next()) {
                (Some(c), None) => Directive::SecArgumentSeparator(c),
                _ => return Err(bad(v)),
            }
        }
        "secresponsebodyaccess" => Directive::SecResponseBodyAccess(on_off()?),
        "secresponsebodylimit" => Directive::SecResponseBodyLimit(number()?),
        "secresponsebodylimitaction" => Directive::SecResponseBodyLimitAction(limit_action()?),
        "secresponsebodymimetype" => {
            let types: Vec<String> = args
                .iter()
                .flat_map(|a| a.split_ascii_whitespace())
                .map(str::to_string)
                .collect();
            if types.is_empty() {
                return Err(format!("{name} needs at least one MIME type"));
            }
            Directive::SecResponseBodyMimeType(types)
        }
        "secpcrematchlimit" => Directive::SecPcreMatchLimit(number()?),
        "secpcrematchlimitrecursion" => Directive::SecPcreMatchLimitRecursion(number()?),
        "seccollectiontimeout" => Directive::SecCollectionTimeout(number()?),
        "seccomponentsignature" => Directive::SecComponentSignature(one()?.to_string()),
        "secruleremovebyid" => {
            if args.is_empty() {
                return Err(format!("{name} needs rule ids"));
            }
            Directive::SecRuleRemoveById(
                IdRange::parse_list(&args.join(" ")).map_err(|e| format!("{name}: {e}"))?,
            )
        }
        "secruleremovebytag" => Directive::SecRuleRemoveByTag(one()?.to_string()),
        "secruleremovebymsg" => Directive::SecRuleRemoveByMsg(one()?.to_string()),
        "secruleupdatetargetbyid" | "secruleupdatetargetbytag" | "secruleupdatetargetbymsg" => {
            count(2, 3)?;
            let targets = parse_target_list(&args[1]).map_err(|e| ctx("targets", e))?;
            let replacement = match args.get(2) {
                Some(r) => Some(parse_target_list(r).map_err(|e| ctx("replacement", e))?),
                None => None,
            };
            match lower.as_str() {
                "secruleupdatetargetbyid" => Directive::SecRuleUpdateTargetById {
                    ids: IdRange::parse_list(&args[0]).map_err(|e| format!("{name}: {e}"))?,
                    targets,
                    replacement,
                },
                "secruleupdatetargetbytag" => Directive::SecRuleUpdateTargetByTag {
                    tag: args[0].clone(),
                    targets,
                    replacement,
                },
                _ => Directive::SecRuleUpdateTargetByMsg {
                    msg: args[0].clone(),
                    targets,
                    replacement,
                },
            }
        }
        "secruleupdateactionbyid" => {
            count(2, 2)?;
            let id = args[0].trim().parse::<u32>().map_err(|_| bad(&args[0]))?;
            let actions: Vec<Action> = parse_actions(&args[1]).map_err(|e| ctx("actions", e))?;
            Directive::SecRuleUpdateActionById { id, actions }
        }
        _ => match IGNORED.iter().find(|d| d.eq_ignore_ascii_case(name)) {
            Some(known) => Directive::Ignored {
                name: (*known).to_string(),
            },
            None => return Err(format!("unknown directive {name:?}")),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seclang::error::Location;
    use std::sync::Arc;

    fn d(name: &str, args: &[&str]) -> Result<Directive, Reason> {
        parse_directive(&Statement {
            location: Location::new(&Arc::from("t"), 1),
            name: name.into(),
            args: args.iter().map(|a| a.to_string()).collect(),
        })
    }

    #[test]
    fn engine_directives() {
        assert_eq!(
            d("SecRuleEngine", &["DetectionOnly"]),
            Ok(Directive::SecRuleEngine(EngineMode::DetectionOnly))
        );
        assert_eq!(
            d("secrequestbodyaccess", &["On"]),
            Ok(Directive::SecRequestBodyAccess(true))
        );
        assert_eq!(
            d("SecRequestBodyLimit", &["13107200"]),
            Ok(Directive::SecRequestBodyLimit(13107200))
        );
        assert_eq!(
            d("SecRequestBodyLimitAction", &["ProcessPartial"]),
            Ok(Directive::SecRequestBodyLimitAction(
                LimitAction::ProcessPartial
            ))
        );
        assert_eq!(
            d("SecArgumentSeparator", &["&"]),
            Ok(Directive::SecArgumentSeparator('&'))
        );
        assert_eq!(
            d("SecResponseBodyMimeType", &["text/plain", "text/html"]),
            Ok(Directive::SecResponseBodyMimeType(vec![
                "text/plain".into(),
                "text/html".into()
            ]))
        );
        assert_eq!(
            d("SecRuleRemoveById", &["1", "5-7"]),
            Ok(Directive::SecRuleRemoveById(vec![
                IdRange { start: 1, end: 1 },
                IdRange { start: 5, end: 7 }
            ]))
        );
        assert_eq!(
            d("SecAuditLog", &["/var/log/x"]),
            Ok(Directive::Ignored {
                name: "SecAuditLog".into()
            })
        );
        assert!(matches!(
            d("SecRuleUpdateTargetById", &["942100", "!ARGS:x", "ARGS"]),
            Ok(Directive::SecRuleUpdateTargetById {
                replacement: Some(_),
                ..
            })
        ));
        assert!(matches!(
            d("SecRuleUpdateTargetByTag", &["attack-sqli", "!ARGS:x"]),
            Ok(Directive::SecRuleUpdateTargetByTag { .. })
        ));
    }

    #[test]
    fn directive_errors() {
        for (name, args, want) in [
            (
                "SecFrobnicate",
                &["x"][..],
                "unknown directive \"SecFrobnicate\"",
            ),
            ("SecRuleEngine", &["Maybe"][..], "invalid value"),
            ("SecRuleEngine", &[][..], "takes 1 argument(s), got 0"),
            ("SecRule", &["ARGS"][..], "takes 2 to 3"),
            ("SecRule", &["NOPE", "x"][..], "unknown variable"),
            ("SecRule", &["ARGS", "@nope x"][..], "unknown operator"),
            (
                "SecRule",
                &["ARGS", "x", "id:1,frob"][..],
                "unknown action \"frob\"",
            ),
            ("SecRequestBodyLimit", &["-1"][..], "invalid value"),
            ("SecArgumentSeparator", &["&;"][..], "invalid value"),
            ("SecRuleRemoveById", &["x"][..], "invalid rule id"),
        ] {
            let err = d(name, args).unwrap_err();
            assert!(err.contains(want), "{name}: {err}");
        }
    }
}
