//! Typed directives and the small value types they share.

use super::actions::Action;
use super::error::Location;
use super::operators::OperatorSpec;
use super::variables::VariableSpec;

/// `SecRuleEngine` / `ctl:ruleEngine` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EngineMode {
    /// Rules run and disruptive actions apply.
    On,
    /// Rules run, disruptive actions are only logged.
    DetectionOnly,
    /// Rules do not run.
    Off,
}

impl EngineMode {
    /// Parses `On`, `DetectionOnly` or `Off` (case-insensitive).
    pub fn parse(text: &str) -> Option<EngineMode> {
        match text.to_ascii_lowercase().as_str() {
            "on" => Some(EngineMode::On),
            "detectiononly" => Some(EngineMode::DetectionOnly),
            "off" => Some(EngineMode::Off),
            _ => None,
        }
    }
}

/// `SecAuditEngine` / `ctl:auditEngine` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditEngine {
    /// Log every transaction.
    On,
    /// Log nothing.
    Off,
    /// Log relevant transactions only.
    RelevantOnly,
}

impl AuditEngine {
    /// Parses `On`, `Off` or `RelevantOnly` (case-insensitive).
    pub fn parse(text: &str) -> Option<AuditEngine> {
        match text.to_ascii_lowercase().as_str() {
            "on" => Some(AuditEngine::On),
            "off" => Some(AuditEngine::Off),
            "relevantonly" => Some(AuditEngine::RelevantOnly),
            _ => None,
        }
    }
}

/// What to do with a body over its limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitAction {
    /// Refuse the transaction.
    Reject,
    /// Inspect the part within the limit.
    ProcessPartial,
}

impl LimitAction {
    /// Parses `Reject` or `ProcessPartial` (case-insensitive).
    pub fn parse(text: &str) -> Option<LimitAction> {
        match text.to_ascii_lowercase().as_str() {
            "reject" => Some(LimitAction::Reject),
            "processpartial" => Some(LimitAction::ProcessPartial),
            _ => None,
        }
    }
}

/// An inclusive range of rule ids (`920100` or `920100-920199`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdRange {
    /// First id.
    pub start: u32,
    /// Last id (inclusive).
    pub end: u32,
}

impl IdRange {
    /// True when `id` is in the range.
    pub fn contains(&self, id: u32) -> bool {
        (self.start..=self.end).contains(&id)
    }

    /// Parses `n` or `n-m` with `n <= m`.
    pub fn parse(text: &str) -> Result<IdRange, String> {
        let text = text.trim();
        let (a, b) = text.split_once('-').unwrap_or((text, text));
        let num = |s: &str| {
            s.trim()
                .parse::<u32>()
                .map_err(|_| format!("invalid rule id {s:?} in {text:?}"))
        };
        let (start, end) = (num(a)?, num(b)?);
        if start > end {
            return Err(format!("descending id range {text:?}"));
        }
        Ok(IdRange { start, end })
    }

    /// Parses a list of ranges separated by blanks or commas.
    pub fn parse_list(text: &str) -> Result<Vec<IdRange>, String> {
        let list: Vec<IdRange> = text
            .split(|c: char| c == ',' || c.is_ascii_whitespace())
            .filter(|s| !s.is_empty())
            .map(IdRange::parse)
            .collect::<Result<_, _>>()?;
        if list.is_empty() {
            return Err("expected rule ids".into());
        }
        Ok(list)
    }
}

/// One typed directive.
#[derive(Debug, Clone, PartialEq)]
pub enum Directive {
    /// `SecRule VARIABLES OPERATOR [ACTIONS]`.
    SecRule {
        /// Targets.
        variables: Vec<VariableSpec>,
        /// Operator.
        operator: OperatorSpec,
        /// Actions as written.
        actions: Vec<Action>,
    },
    /// `SecAction ACTIONS`.
    SecAction {
        /// Actions as written.
        actions: Vec<Action>,
    },
    /// `SecMarker NAME`.
    SecMarker(String),
    /// `SecDefaultAction ACTIONS`.
    SecDefaultAction(Vec<Action>),
    /// `SecRuleEngine`.
    SecRuleEngine(EngineMode),
    /// `SecRequestBodyAccess`.
    SecRequestBodyAccess(bool),
    /// `SecRequestBodyLimit` in bytes.
    SecRequestBodyLimit(u64),
    /// `SecRequestBodyNoFilesLimit` in bytes.
    SecRequestBodyNoFilesLimit(u64),
    /// `SecRequestBodyLimitAction`.
    SecRequestBodyLimitAction(LimitAction),
    /// `SecRequestBodyJsonDepthLimit`.
    SecRequestBodyJsonDepthLimit(u64),
    /// `SecArgumentsLimit`.
    SecArgumentsLimit(u64),
    /// `SecArgumentSeparator` (one character).
    SecArgumentSeparator(char),
    /// `SecResponseBodyAccess`.
    SecResponseBodyAccess(bool),
    /// `SecResponseBodyLimit` in bytes.
    SecResponseBodyLimit(u64),
    /// `SecResponseBodyLimitAction`.
    SecResponseBodyLimitAction(LimitAction),
    /// `SecResponseBodyMimeType` (MIME types).
    SecResponseBodyMimeType(Vec<String>),
    /// `SecPcreMatchLimit`.
    SecPcreMatchLimit(u64),
    /// `SecPcreMatchLimitRecursion`.
    SecPcreMatchLimitRecursion(u64),
    /// `SecCollectionTimeout` in seconds.
    SecCollectionTimeout(u64),
    /// `SecComponentSignature TEXT`.
    SecComponentSignature(String),
    /// `SecRuleRemoveById RANGES…`.
    SecRuleRemoveById(Vec<IdRange>),
    /// `SecRuleRemoveByTag PATTERN`.
    SecRuleRemoveByTag(String),
    /// `SecRuleRemoveByMsg PATTERN`.
    SecRuleRemoveByMsg(String),
    /// `SecRuleUpdateTargetById ID TARGETS [REPLACED]`.
    SecRuleUpdateTargetById {
        /// Rules concerned.
        ids: Vec<IdRange>,
        /// Targets to add (or `!` targets to exclude).
        targets: Vec<VariableSpec>,
        /// Target to replace with `targets`, if given.
        replacement: Option<Vec<VariableSpec>>,
    },
    /// `SecRuleUpdateTargetByTag TAG TARGETS [REPLACED]`.
    SecRuleUpdateTargetByTag {
        /// Tag pattern.
        tag: String,
        /// Targets to add or exclude.
        targets: Vec<VariableSpec>,
        /// Target to replace, if given.
        replacement: Option<Vec<VariableSpec>>,
    },
    /// `SecRuleUpdateTargetByMsg MSG TARGETS [REPLACED]`.
    SecRuleUpdateTargetByMsg {
        /// Message pattern.
        msg: String,
        /// Targets to add or exclude.
        targets: Vec<VariableSpec>,
        /// Target to replace, if given.
        replacement: Option<Vec<VariableSpec>>,
    },
    /// `SecRuleUpdateActionById ID ACTIONS`.
    SecRuleUpdateActionById {
        /// The rule.
        id: u32,
        /// Actions that replace those of the same kind.
        actions: Vec<Action>,
    },
    /// `SecGeoLookupDb PATH` (a MaxMind DB file for `@geoLookup`).
    SecGeoLookupDb(String),
    /// A known directive Moat does not need (a warning is recorded).
    Ignored {
        /// The directive name as written.
        name: String,
    },
}

/// A directive and where it starts.
#[derive(Debug, Clone, PartialEq)]
pub struct Located<T> {
    /// Where the directive starts.
    pub location: Location,
    /// The directive.
    pub item: T,
}
