//! Assembles typed directives into a [`Config`]: chained rule groups, markers, engine settings,
//! exclusions, duplicate-id and chain checks, warnings.

use std::collections::{HashMap, HashSet};

use super::actions::{Action, Phase};
use super::ast::{Directive, EngineMode, LimitAction, Located};
use super::error::{Location, SecLangError, SecLangWarning};
use super::operators::OperatorSpec;
use super::transformations::Transformation;
use super::variables::VariableSpec;

/// One `SecRule` or `SecAction` of a rule group.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleLink {
    /// Where the directive starts.
    pub location: Location,
    /// Targets (empty for `SecAction`).
    pub variables: Vec<VariableSpec>,
    /// Operator (`None` for `SecAction`, which always matches).
    pub operator: Option<OperatorSpec>,
    /// Actions as written.
    pub actions: Vec<Action>,
}

impl RuleLink {
    /// The first action for which `f` returns `Some`.
    pub fn find<'a, T>(&'a self, f: impl Fn(&'a Action) -> Option<T>) -> Option<T> {
        self.actions.iter().find_map(f)
    }

    /// True when the link has the `chain` action.
    pub fn is_chained(&self) -> bool {
        self.actions.contains(&Action::Chain)
    }

    /// The transformations in order (`t:none` included as written).
    pub fn transformations(&self) -> impl Iterator<Item = Transformation> + '_ {
        self.actions.iter().filter_map(|a| match a {
            Action::Transformation(t) => Some(*t),
            _ => None,
        })
    }
}

/// A rule: a chain starter and the rules chained to it.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    /// The links, starter first; never empty.
    pub links: Vec<RuleLink>,
}

impl Rule {
    /// The chain starter.
    pub fn first(&self) -> &RuleLink {
        &self.links[0]
    }

    /// The rule id (the starter's `id`).
    pub fn id(&self) -> Option<u32> {
        self.first().find(|a| match a {
            Action::Id(id) => Some(*id),
            _ => None,
        })
    }

    /// The phase as written on the starter (`None`: the default phase applies).
    pub fn phase(&self) -> Option<Phase> {
        self.first().find(|a| match a {
            Action::Phase(p) => Some(*p),
            _ => None,
        })
    }
}

/// An item of the ordered rule stream.
#[derive(Debug, Clone, PartialEq)]
pub enum RuleEntry {
    /// A rule group.
    Rule(Rule),
    /// `SecMarker`.
    Marker(Located<String>),
    /// `SecDefaultAction` (applies to the rules that follow it, for its phase).
    DefaultAction(Located<Vec<Action>>),
}

/// A removal or target/action update, with its place in the rule stream.
#[derive(Debug, Clone, PartialEq)]
pub struct Exclusion {
    /// Number of entries in [`Config::rules`] before this directive.
    pub position: usize,
    /// The directive (one of the `SecRuleRemove…` / `SecRuleUpdate…` variants).
    pub directive: Located<Directive>,
}

/// Engine settings; `None` means "not configured" (last directive wins).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EngineSettings {
    /// `SecRuleEngine`.
    pub rule_engine: Option<EngineMode>,
    /// `SecRequestBodyAccess`.
    pub request_body_access: Option<bool>,
    /// `SecRequestBodyLimit`.
    pub request_body_limit: Option<u64>,
    /// `SecRequestBodyNoFilesLimit`.
    pub request_body_no_files_limit: Option<u64>,
    /// `SecRequestBodyLimitAction`.
    pub request_body_limit_action: Option<LimitAction>,
    /// `SecRequestBodyJsonDepthLimit`.
    pub request_body_json_depth_limit: Option<u64>,
    /// `SecArgumentsLimit`.
    pub arguments_limit: Option<u64>,
    /// `SecArgumentSeparator`.
    pub argument_separator: Option<char>,
    /// `SecResponseBodyAccess`.
    pub response_body_access: Option<bool>,
    /// `SecResponseBodyLimit`.
    pub response_body_limit: Option<u64>,
    /// `SecResponseBodyLimitAction`.
    pub response_body_limit_action: Option<LimitAction>,
    /// `SecResponseBodyMimeType` (accumulated).
    pub response_body_mime_types: Vec<String>,
    /// `SecPcreMatchLimit`.
    pub pcre_match_limit: Option<u64>,
    /// `SecPcreMatchLimitRecursion`.
    pub pcre_match_limit_recursion: Option<u64>,
    /// `SecCollectionTimeout`.
    pub collection_timeout: Option<u64>,
    /// `SecComponentSignature` values, in order.
    pub component_signatures: Vec<String>,
    /// `SecGeoLookupDb`, resolved against the directory of the file that names it.
    pub geo_lookup_db: Option<Located<std::path::PathBuf>>,
}

/// A loaded configuration.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Config {
    /// Rules, markers and default actions in file order.
    pub rules: Vec<RuleEntry>,
    /// Engine settings.
    pub settings: EngineSettings,
    /// Removals and updates, in file order.
    pub exclusions: Vec<Exclusion>,
    /// Warnings (ignored directives, `skipAfter` to unknown markers).
    pub warnings: Vec<SecLangWarning>,
}

impl Config {
    /// The rule groups, in order.
    pub fn rule_groups(&self) -> impl Iterator<Item = &Rule> {
        self.rules.iter().filter_map(|e| match e {
            RuleEntry::Rule(r) => Some(r),
            _ => None,
        })
    }

    /// The marker names, in order.
    pub fn markers(&self) -> impl Iterator<Item = &str> {
        self.rules.iter().filter_map(|e| match e {
            RuleEntry::Marker(m) => Some(m.item.as_str()),
            _ => None,
        })
    }
}

/// Builds a [`Config`] from typed directives, collecting every error.
#[derive(Debug, Default)]
pub struct Builder {
    config: Config,
    pending: Option<Rule>,
    ids: HashMap<u32, Location>,
    errors: Vec<SecLangError>,
}

impl Builder {
    /// Adds one directive.
    pub fn push(&mut self, d: Located<Directive>) {
        let loc = d.location;
        match d.item {
            Directive::SecRule {
                variables,
                operator,
                actions,
            } => self.push_link(RuleLink {
                location: loc,
                variables,
                operator: Some(operator),
                actions,
            }),
            Directive::SecAction { actions } => {
                self.close_pending(&loc, "SecAction");
                self.push_link(RuleLink {
                    location: loc,
                    variables: Vec::new(),
                    operator: None,
                    actions,
                })
            }
            other => {
                self.close_pending(&loc, directive_name(&other));
                self.push_other(loc, other);
            }
        }
    }

    /// Finishes: checks dangling chains and `skipAfter` targets.
    pub fn finish(mut self) -> Result<Config, Vec<SecLangError>> {
        if let Some(rule) = self.pending.take() {
            let last = &rule.links[rule.links.len() - 1].location;
            self.errors.push(SecLangError::at(
                last,
                "rule has \"chain\" but no SecRule follows",
            ));
        }
        let markers: HashSet<&str> = self.config.markers().collect();
        let mut warnings = Vec::new();
        for rule in self.config.rule_groups() {
            for link in &rule.links {
                for a in &link.actions {
                    if let Action::SkipAfter(m) = a {
                        if !markers.contains(m.as_str()) {
                            warnings.push(SecLangWarning {
                                location: link.location.clone(),
                                message: format!("skipAfter target marker {m:?} is not defined"),
                            });
                        }
                    }
                }
            }
        }
        self.config.warnings.extend(warnings);
        if self.errors.is_empty() {
            Ok(self.config)
        } else {
            Err(self.errors)
        }
    }

    /// Records errors produced elsewhere (lexing, directive parsing).
    pub fn add_errors(&mut self, errors: impl IntoIterator<Item = SecLangError>) {
        self.errors.extend(errors);
    }

    /// Reports an unfinished chain interrupted by `what`.
    fn close_pending(&mut self, loc: &Location, what: &str) {
        if let Some(rule) = self.pending.take() {
            self.errors.push(SecLangError::at(
                loc,
                format!(
                    "{what} follows the chained rule at {}; only SecRule may follow \"chain\"",
                    rule.first().location
                ),
            ));
        }
    }

    fn push_link(&mut self, link: RuleLink) {
        let chained = link.is_chained();
        let rule = match self.pending.take() {
            Some(mut rule) => {
                self.check_chained_link(&link);
                rule.links.push(link);
                rule
            }
            None => {
                self.check_starter(&link);
                Rule { links: vec![link] }
            }
        };
        if chained {
            self.pending = Some(rule);
        } else {
            self.config.rules.push(RuleEntry::Rule(rule));
        }
    }

    fn check_starter(&mut self, link: &RuleLink) {
        let ids: Vec<u32> = link
            .actions
            .iter()
            .filter_map(|a| match a {
                Action::Id(id) => Some(*id),
                _ => None,
            })
            .collect();
        match ids.as_slice() {
            [] => self.errors.push(SecLangError::at(
                &link.location,
                "rule has no \"id\" action",
            )),
            [id] => {
                if let Some(first) = self.ids.get(id) {
                    self.errors.push(SecLangError::at(
                        &link.location,
                        format!("duplicate rule id {id} (first defined at {first})"),
                    ));
                } else {
                    self.ids.insert(*id, link.location.clone());
                }
            }
            _ => self.errors.push(SecLangError::at(
                &link.location,
                "rule has more than one \"id\" action",
            )),
        }
    }

    fn check_chained_link(&mut self, link: &RuleLink) {
        let bad = link.actions.iter().find_map(|a| match a {
            Action::Id(_) => Some("id"),
            Action::Phase(_) => Some("phase"),
            Action::Skip(_) => Some("skip"),
            Action::SkipAfter(_) => Some("skipAfter"),
            a if a.is_disruptive() => Some("disruptive actions"),
            _ => None,
        });
        if let Some(what) = bad {
            self.errors.push(SecLangError::at(
                &link.location,
                format!("{what} can only be given on the first rule of a chain"),
            ));
        }
    }

    fn push_other(&mut self, location: Location, d: Directive) {
        let s = &mut self.config.settings;
        match d {
            Directive::SecMarker(name) => {
                self.config.rules.push(RuleEntry::Marker(Located {
                    location,
                    item: name,
                }));
            }
            Directive::SecDefaultAction(actions) => {
                if actions.iter().any(|a| {
                    matches!(
                        a,
                        Action::Id(_) | Action::Chain | Action::Skip(_) | Action::SkipAfter(_)
                    )
                }) {
                    self.errors.push(SecLangError::at(
                        &location,
                        "SecDefaultAction cannot contain id, chain, skip or skipAfter",
                    ));
                }
                self.config.rules.push(RuleEntry::DefaultAction(Located {
                    location,
                    item: actions,
                }));
            }
            Directive::SecRuleEngine(v) => s.rule_engine = Some(v),
            Directive::SecRequestBodyAccess(v) => s.request_body_access = Some(v),
            Directive::SecRequestBodyLimit(v) => s.request_body_limit = Some(v),
            Directive::SecRequestBodyNoFilesLimit(v) => s.request_body_no_files_limit = Some(v),
            Directive::SecRequestBodyLimitAction(v) => s.request_body_limit_action = Some(v),
            Directive::SecRequestBodyJsonDepthLimit(v) => s.request_body_json_depth_limit = Some(v),
            Directive::SecArgumentsLimit(v) => s.arguments_limit = Some(v),
            Directive::SecArgumentSeparator(v) => s.argument_separator = Some(v),
            Directive::SecResponseBodyAccess(v) => s.response_body_access = Some(v),
            Directive::SecResponseBodyLimit(v) => s.response_body_limit = Some(v),
            Directive::SecResponseBodyLimitAction(v) => s.response_body_limit_action = Some(v),
            Directive::SecResponseBodyMimeType(v) => s.response_body_mime_types.extend(v),
            Directive::SecPcreMatchLimit(v) => s.pcre_match_limit = Some(v),
            Directive::SecPcreMatchLimitRecursion(v) => s.pcre_match_limit_recursion = Some(v),
            Directive::SecCollectionTimeout(v) => s.collection_timeout = Some(v),
            Directive::SecComponentSignature(v) => s.component_signatures.push(v),
            Directive::SecGeoLookupDb(path) => {
                let dir = std::path::Path::new(location.file.as_ref()).parent();
                let item = dir.unwrap_or(std::path::Path::new(".")).join(path);
                s.geo_lookup_db = Some(Located { location, item });
            }
            Directive::Ignored { name } => self.config.warnings.push(SecLangWarning {
                location,
                message: format!("directive {name} is not used by Moat and was ignored"),
            }),
            other => self.config.exclusions.push(Exclusion {
                position: self.config.rules.len(),
                directive: Located {
                    location,
                    item: other,
                },
            }),
        }
    }
}

/// A short name for a directive, for messages.
fn directive_name(d: &Directive) -> &'static str {
    match d {
        Directive::SecRule { .. } => "SecRule",
        Directive::SecAction { .. } => "SecAction",
        Directive::SecMarker(_) => "SecMarker",
        Directive::SecDefaultAction(_) => "SecDefaultAction",
        _ => "another directive",
    }
}
