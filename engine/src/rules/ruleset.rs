//! Compiling a parsed SecLang [`Config`] into a [`RuleSet`]: operators compiled, selector regexes
//! built, `SecDefaultAction` merged in, load-time exclusions applied, markers resolved.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use regex::bytes::Regex;

use super::key_pattern::KeyPattern;
use super::operators::{self, Operator};
use super::prefilter::Prefilter;
use crate::geo::Geo;
use crate::parse::Source;
use crate::seclang::actions::{Action, Phase, SetVar};
use crate::seclang::ast::{Directive, EngineMode, IdRange};
use crate::seclang::config::{Config, EngineSettings, Rule, RuleEntry, RuleLink};
use crate::seclang::ctl::Ctl;
use crate::seclang::error::{Location, SecLangError};
use crate::seclang::macros::MacroString;
use crate::seclang::transformations::Transformation;
use crate::seclang::variables::{Collection, Selector, VariableSpec};

/// What a matching rule does to the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disruptive {
    /// Nothing (`pass`).
    Pass,
    /// Refuse the request (`deny`, `drop`, `redirect`, `proxy`).
    Deny,
    /// Stop rule processing and let the request through (`allow`).
    Allow,
}

/// One rule target with its selector regex compiled.
#[derive(Debug, Clone)]
pub struct Target {
    /// The target as written (a `TX` key lower-cased, as `TX` keys are stored).
    pub spec: VariableSpec,
    /// The compiled `/regex/` selector, if any.
    pub key_pattern: Option<KeyPattern>,
    /// The parsed-field sources the target reads and whether it reads their names (see
    /// [`super::variables::field_sources`]).
    pub fields: Option<(&'static [Source], bool)>,
}

impl Target {
    /// Compiles a target's selector.
    pub fn new(spec: &VariableSpec) -> Result<Target, String> {
        let mut spec = spec.clone();
        if let (Collection::Tx, Selector::Key(k)) = (spec.collection, &mut spec.selector) {
            k.make_ascii_lowercase();
        }
        let key_pattern = match &spec.selector {
            Selector::Regex(re) => Some(KeyPattern::new(re)?),
            _ => None,
        };
        let fields = super::variables::field_sources(&spec);
        Ok(Target {
            spec,
            key_pattern,
            fields,
        })
    }

    /// The field name a field-group target selects (`REQUEST_HEADERS:User-Agent`), if it
    /// names one.
    pub fn field_key(&self) -> Option<&[u8]> {
        match &self.spec.selector {
            Selector::Key(k)
                if self.fields.is_some() && self.spec.collection != Collection::Xml =>
            {
                Some(k.as_bytes())
            }
            _ => None,
        }
    }
}

/// One link of a (possibly chained) rule, ready to run.
#[derive(Debug)]
pub struct Link {
    /// Targets to include.
    pub targets: Vec<Target>,
    /// Targets to exclude (`!ARGS:foo`).
    pub exclusions: Vec<Target>,
    /// The operator (`None` for `SecAction`).
    pub operator: Option<Operator>,
    /// The operator argument, when it has macros to expand per request.
    pub operator_argument: Option<MacroString>,
    /// Transformations in order (after `t:none` resets).
    pub transformations: Vec<Transformation>,
    /// Identifies `transformations` within the rule set (equal chains share an id), so a
    /// transaction can cache each value's transformed form once per chain.
    pub chain_id: u32,
    /// The link's id in [`RuleSet::prefilter`], when its operator can be ruled out by literals.
    pub prefilter: Option<u32>,
    /// The link's id for remembering, per thread, the values its operator did not match (after
    /// its transformations), when the answer depends on the value alone.
    pub memo_id: Option<u32>,
    /// `capture`: fill `TX:0`–`TX:9` from the operator.
    pub capture: bool,
    /// `multiMatch`: try the operator after every transformation.
    pub multi_match: bool,
    /// `setvar` actions, run when the whole rule matches.
    pub setvars: Vec<SetVar>,
    /// `ctl` actions, run when the whole rule matches.
    pub ctls: Vec<LinkCtl>,
}

/// A `ctl` action ready to run: the targets a `ctl:ruleRemoveTarget…` removes are compiled
/// at load, not each time it runs.
#[derive(Debug)]
pub struct LinkCtl {
    /// The action as written.
    pub ctl: Ctl,
    /// For `ruleRemoveTargetById` / `ByTag`, the targets removed, compiled.
    pub targets: Arc<[Target]>,
    /// True when one of `targets` is in `TX` (see [`super::prologue`]'s known outcomes).
    pub removes_tx: bool,
}

impl LinkCtl {
    /// Compiles a `ctl`; a removed target whose selector regex does not compile is an error.
    fn new(ctl: &Ctl) -> Result<LinkCtl, String> {
        let targets = match ctl {
            Ctl::RuleRemoveTargetById { targets, .. }
            | Ctl::RuleRemoveTargetByTag { targets, .. } => {
                compile_targets(targets).map_err(|e| format!("ctl: removed target: {e}"))?
            }
            _ => Vec::new(),
        };
        Ok(LinkCtl {
            ctl: ctl.clone(),
            removes_tx: targets.iter().any(|t| t.spec.collection == Collection::Tx),
            targets: targets.into(),
        })
    }
}

/// A compiled rule (a chain starter and its links).
#[derive(Debug)]
pub struct CompiledRule {
    /// Rule id (0 for rules without one, which SecLang allows only on chained links).
    pub id: u32,
    /// Phase 1–5.
    pub phase: u8,
    /// Links in order; all must match.
    pub links: Vec<Link>,
    /// `msg`.
    pub msg: Option<MacroString>,
    /// `logdata`.
    pub logdata: Option<MacroString>,
    /// `tag`s (expanded at load time: CRS tags carry no runtime macros).
    pub tags: Vec<String>,
    /// `severity` 0–7.
    pub severity: Option<u8>,
    /// What a match does.
    pub disruptive: Disruptive,
    /// `status` for a deny.
    pub status: Option<u16>,
    /// `skip:N`.
    pub skip: u32,
    /// `skipAfter:MARKER`, resolved to the index of the first rule after the marker.
    pub skip_after: Option<usize>,
    /// False with `nolog`.
    pub log: bool,
    /// Where the rule starts.
    pub location: Location,
}

impl CompiledRule {
    /// Where a phase goes on after this rule matched at `next - 1` of its rule `order`: the
    /// position (past `skipAfter`'s marker, else `next`) and the rules still to skip (`skip:N`).
    pub fn resume_after_match(&self, order: &[usize], next: usize) -> (usize, u32) {
        let at = match self.skip_after {
            Some(target) => order.partition_point(|&r| r < target),
            None => next,
        };
        (at, self.skip)
    }
}

/// A compiled rule set, shared read-only by all requests.
#[derive(Debug)]
pub struct RuleSet {
    /// Rules in file order.
    pub rules: Vec<CompiledRule>,
    /// `SecRuleEngine`.
    pub engine_mode: EngineMode,
    /// The engine directives as written.
    pub settings: EngineSettings,
    /// For each phase 1–5, the indices of its rules in order (removed rules left out).
    pub phase_rules: [Vec<usize>; 6],
    /// The literals of every prefiltered link (see [`super::prefilter`]).
    pub prefilter: Option<Prefilter>,
    /// The links' transformation chains (and their tails) by id.
    pub chains: super::chains::Chains,
    /// Per rule, what rules it out for a whole request at once (see [`super::gate`]).
    pub gates: super::gate::Gates,
    /// Phase 1's request-independent start, run once at load.
    pub prologue: Option<super::prologue::Prologue>,
}

impl RuleSet {
    /// Loads and compiles rule files (with their `Include`s).
    pub fn load(paths: &[std::path::PathBuf]) -> Result<RuleSet, Vec<SecLangError>> {
        let config = crate::seclang::load_files(paths)?;
        RuleSet::compile(&config)
    }

    /// Loads one main rule file (with its `Include`s); the errors, each with its file:line,
    /// joined one per line.
    pub fn load_main(path: &Path) -> Result<RuleSet, String> {
        RuleSet::load(&[path.to_path_buf()]).map_err(|errors| {
            errors
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("\n")
        })
    }

    /// A rule set without rules: it carries a location's removed ids (`moat_rules_remove_by_id`
    /// of built-in detector rules) where no rules file is loaded.
    pub fn empty() -> RuleSet {
        RuleSet::compile(&Config::default()).expect("an empty configuration compiles")
    }

    /// Compiles a parsed configuration; operator errors carry the rule's file:line.
    pub fn compile(config: &Config) -> Result<RuleSet, Vec<SecLangError>> {
        let mut errors = Vec::new();
        let mut rules = Vec::new();
        let mut markers: HashMap<&str, usize> = HashMap::new();
        let mut pending_skips: Vec<(usize, String)> = Vec::new();
        let mut defaults: HashMap<u8, Vec<Action>> = HashMap::new();
        let geo = open_geo_db(config)?;
        for entry in &config.rules {
            match entry {
                RuleEntry::Marker(m) => {
                    markers.insert(m.item.as_str(), rules.len());
                }
                RuleEntry::DefaultAction(d) => {
                    let phase = d
                        .item
                        .iter()
                        .find_map(|a| match a {
                            Action::Phase(p) => Some(p.number()),
                            _ => None,
                        })
                        .unwrap_or(2);
                    defaults.insert(phase, d.item.clone());
                }
                RuleEntry::Rule(rule) => match compile_rule(rule, &defaults, geo.as_ref()) {
                    Ok((compiled, skip_after)) => {
                        if let Some(marker) = skip_after {
                            pending_skips.push((rules.len(), marker));
                        }
                        rules.push(compiled);
                    }
                    Err(e) => errors.push(e),
                },
            }
        }
        for (index, marker) in pending_skips {
            match markers.get(marker.as_str()) {
                Some(&target) => rules[index].skip_after = Some(target),
                None => errors.push(SecLangError::at(
                    &rules[index].location,
                    format!("skipAfter: no SecMarker named {marker:?}"),
                )),
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        let mut set = RuleSet {
            rules,
            engine_mode: config.settings.rule_engine.unwrap_or(EngineMode::On),
            settings: config.settings.clone(),
            phase_rules: Default::default(),
            prefilter: None,
            chains: Default::default(),
            gates: Default::default(),
            prologue: None,
        };
        for exclusion in &config.exclusions {
            if let Err(e) = set.apply_exclusion(&exclusion.directive.item) {
                return Err(vec![SecLangError::at(&exclusion.directive.location, e)]);
            }
        }
        set.intern_chains();
        set.index_phases();
        set.build_prefilter();
        set.gates = super::gate::Gates::build(&set.rules);
        set.prologue = super::prologue::Prologue::compute(&set);
        Ok(set)
    }

    /// Gives equal transformation chains equal ids (see [`super::chains`]).
    fn intern_chains(&mut self) {
        for link in self.rules.iter_mut().flat_map(|r| r.links.iter_mut()) {
            link.chain_id = self.chains.intern(&link.transformations);
        }
    }

    /// Gives every link whose operator has required literals a prefilter id, and builds the
    /// automaton over all of them; with a prefilter, numbers the links whose misses the
    /// per-thread memo may remember under its identity.
    fn build_prefilter(&mut self) {
        let mut sets = Vec::new();
        // Per prefilter id: whether the link reads `REQUEST_BODY` (see `Prefilter::for_body`).
        let mut reads_body = Vec::new();
        for link in self.rules.iter_mut().flat_map(|r| r.links.iter_mut()) {
            if let Some(mut set) = link
                .operator
                .as_ref()
                .and_then(Operator::prefilter_condition)
            {
                set.checked_alone = link.multi_match;
                link.prefilter = Some(sets.len() as u32);
                sets.push(set);
                reads_body.push(
                    link.targets
                        .iter()
                        .any(|t| t.spec.collection == Collection::RequestBody),
                );
            }
        }
        self.prefilter = Prefilter::build(&sets);
        if self.prefilter.is_none() {
            for link in self.rules.iter_mut().flat_map(|r| r.links.iter_mut()) {
                link.prefilter = None;
            }
            return;
        }
        let remembered = self
            .rules
            .iter_mut()
            .flat_map(|r| r.links.iter_mut())
            .filter(|l| {
                l.operator
                    .as_ref()
                    .is_some_and(Operator::is_worth_remembering)
            });
        let mut count = 0;
        for link in remembered {
            link.memo_id = Some(count);
            count += 1;
        }
        if let Some(p) = &mut self.prefilter {
            p.set_memo_links(count);
            p.set_body_conditions(&sets, &reads_body);
        }
    }

    /// Builds the per-phase rule lists.
    fn index_phases(&mut self) {
        let mut phases: [Vec<usize>; 6] = Default::default();
        for (i, rule) in self.rules.iter().enumerate() {
            if (1..=5).contains(&rule.phase) {
                phases[rule.phase as usize].push(i);
            }
        }
        self.phase_rules = phases;
    }

    /// Applies a load-time exclusion directive to the rules.
    fn apply_exclusion(&mut self, directive: &Directive) -> Result<(), String> {
        match directive {
            Directive::SecRuleRemoveById(ranges) => {
                self.remove(|r| in_ranges(ranges, r.id));
            }
            Directive::SecRuleRemoveByTag(pattern) => {
                let re = Regex::new(pattern).map_err(|e| e.to_string())?;
                self.remove(|r| r.tags.iter().any(|t| re.is_match(t.as_bytes())));
            }
            Directive::SecRuleRemoveByMsg(pattern) => {
                let re = Regex::new(pattern).map_err(|e| e.to_string())?;
                self.remove(|r| {
                    r.msg
                        .as_ref()
                        .is_some_and(|m| re.is_match(m.raw.as_bytes()))
                });
            }
            Directive::SecRuleUpdateTargetById { ids, targets, .. } => {
                let compiled = compile_targets(targets)?;
                for rule in self.rules.iter_mut().filter(|r| in_ranges(ids, r.id)) {
                    add_targets(&mut rule.links[0], &compiled)?;
                }
            }
            Directive::SecRuleUpdateTargetByTag { tag, targets, .. } => {
                let re = Regex::new(tag).map_err(|e| e.to_string())?;
                let compiled = compile_targets(targets)?;
                for rule in self
                    .rules
                    .iter_mut()
                    .filter(|r| r.tags.iter().any(|t| re.is_match(t.as_bytes())))
                {
                    add_targets(&mut rule.links[0], &compiled)?;
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// Removes rules, keeping marker indices valid by leaving an inert rule in place.
    fn remove(&mut self, pred: impl Fn(&CompiledRule) -> bool) {
        for rule in self.rules.iter_mut().filter(|r| pred(r)) {
            rule.phase = 0;
        }
    }
}

/// True when `id` falls in one of the ranges.
pub fn in_ranges(ranges: &[IdRange], id: u32) -> bool {
    ranges.iter().any(|r| r.start <= id && id <= r.end)
}

fn add_targets(link: &mut Link, targets: &[Target]) -> Result<(), String> {
    for t in targets {
        let t = t.clone();
        if t.spec.exclude {
            link.exclusions.push(t);
        } else {
            link.targets.push(t);
        }
    }
    Ok(())
}

fn compile_targets(specs: &[VariableSpec]) -> Result<Vec<Target>, String> {
    specs.iter().map(Target::new).collect()
}

/// The database of `SecGeoLookupDb`, opened once for every `@geoLookup` of the set.
fn open_geo_db(config: &Config) -> Result<Option<Arc<Geo>>, Vec<SecLangError>> {
    let Some(db) = &config.settings.geo_lookup_db else {
        return Ok(None);
    };
    Geo::open(Some(&db.item), None)
        .map(|g| Some(Arc::new(g)))
        .map_err(|e| {
            vec![SecLangError::at(
                &db.location,
                format!("SecGeoLookupDb: {e}"),
            )]
        })
}

fn compile_rule(
    rule: &Rule,
    defaults: &HashMap<u8, Vec<Action>>,
    geo: Option<&Arc<Geo>>,
) -> Result<(CompiledRule, Option<String>), SecLangError> {
    let first = rule.first();
    let phase = rule.phase().map_or(2, Phase::number);
    let default = defaults.get(&phase).map(Vec::as_slice).unwrap_or(&[]);
    let mut compiled = CompiledRule {
        id: rule.id().unwrap_or(0),
        phase,
        links: Vec::with_capacity(rule.links.len()),
        msg: None,
        logdata: None,
        tags: Vec::new(),
        severity: None,
        disruptive: Disruptive::Pass,
        status: None,
        skip: 0,
        skip_after: None,
        log: true,
        location: first.location.clone(),
    };
    let default_disruptive = default.iter().find_map(disruptive_of);
    let mut own_disruptive = None;
    let mut skip_after = None;
    for a in default.iter().chain(first.actions.iter()) {
        match a {
            Action::Msg(m) => compiled.msg = Some(m.clone()),
            Action::LogData(m) => compiled.logdata = Some(m.clone()),
            Action::Severity(s) => compiled.severity = Some(*s),
            Action::Status(s) => compiled.status = Some(*s),
            Action::Log => compiled.log = true,
            Action::NoLog => compiled.log = false,
            _ => {}
        }
    }
    for a in &first.actions {
        match a {
            Action::Tag(t) => compiled.tags.push(t.raw.clone()),
            Action::Skip(n) => compiled.skip = *n,
            Action::SkipAfter(m) => skip_after = Some(m.clone()),
            Action::Block => own_disruptive = default_disruptive.or(Some(Disruptive::Pass)),
            other => {
                if let Some(d) = disruptive_of(other) {
                    own_disruptive = Some(d);
                }
            }
        }
    }
    compiled.disruptive = own_disruptive
        .or(default_disruptive)
        .unwrap_or(Disruptive::Pass);
    for (i, link) in rule.links.iter().enumerate() {
        let inherited = if i == 0 { default } else { &[] };
        compiled.links.push(
            compile_link(link, inherited, geo)
                .map_err(|reason| SecLangError::at(&link.location, reason))?,
        );
    }
    Ok((compiled, skip_after))
}

fn disruptive_of(a: &Action) -> Option<Disruptive> {
    match a {
        Action::Pass => Some(Disruptive::Pass),
        Action::Deny | Action::Drop | Action::Redirect(_) | Action::Proxy(_) => {
            Some(Disruptive::Deny)
        }
        Action::Allow(_) => Some(Disruptive::Allow),
        _ => None,
    }
}

fn compile_link(
    link: &RuleLink,
    default_actions: &[Action],
    geo: Option<&Arc<Geo>>,
) -> Result<Link, String> {
    let base_dir = Path::new(link.location.file.as_ref())
        .parent()
        .unwrap_or(Path::new("."))
        .to_path_buf();
    let mut targets = Vec::new();
    let mut exclusions = Vec::new();
    for spec in &link.variables {
        let t = Target::new(spec)?;
        if spec.exclude {
            exclusions.push(t);
        } else {
            targets.push(t);
        }
    }
    let (operator, operator_argument) = match &link.operator {
        Some(spec) => {
            let op = operators::compile(spec, &base_dir, geo)?;
            let arg = op.needs_expansion().then(|| spec.argument_macros());
            (Some(op), arg)
        }
        None => (None, None),
    };
    let mut transformations = Vec::new();
    let mut compiled = Link {
        targets,
        exclusions,
        operator,
        operator_argument,
        transformations: Vec::new(),
        chain_id: 0,
        prefilter: None,
        memo_id: None,
        capture: false,
        multi_match: false,
        setvars: Vec::new(),
        ctls: Vec::new(),
    };
    for a in default_actions.iter().chain(link.actions.iter()) {
        match a {
            Action::Transformation(Transformation::None) => transformations.clear(),
            Action::Transformation(t) => transformations.push(*t),
            Action::Capture => compiled.capture = true,
            Action::MultiMatch => compiled.multi_match = true,
            _ => {}
        }
    }
    for a in &link.actions {
        match a {
            Action::SetVar(s) => compiled.setvars.push(s.clone()),
            Action::Ctl(c) => compiled.ctls.push(LinkCtl::new(c)?),
            _ => {}
        }
    }
    compiled.transformations = transformations;
    Ok(compiled)
}
