//! Running a [`RuleSet`] over a [`Transaction`], phase by phase, with ModSecurity's flow:
//! chains, `skip`/`skipAfter`, `setvar`, `capture`, `ctl`, disruptive actions and
//! `SecRuleEngine DetectionOnly`.

use std::borrow::Cow;
use std::rc::Rc;

use super::ruleset::{in_ranges, CompiledRule, Disruptive, Link, RuleSet};
use super::transaction::{RuleMatch, TargetExclusion, Transaction, TransformCache};
use super::transformations;
use super::variables::{self, Value};
use crate::detect::{Deadline, OutOfTime};
use crate::seclang::actions::{SetVar, SetVarOp};
use crate::seclang::ast::EngineMode;
use crate::seclang::ctl::Ctl;

/// Runs the rules of `phase` (1–5). Returns true when the request was denied.
pub fn run_phase(
    rules: &RuleSet,
    tx: &mut Transaction<'_>,
    phase: u8,
    deadline: &Deadline,
) -> Result<bool, OutOfTime> {
    if tx.engine_mode == EngineMode::Off || tx.allowed {
        return Ok(false);
    }
    let order = &rules.phase_rules[usize::from(phase).min(5)];
    let mut i = 0;
    let mut skip = 0u32;
    while i < order.len() {
        let rule = &rules.rules[order[i]];
        i += 1;
        if is_removed(tx, rule) {
            continue;
        }
        if skip > 0 {
            skip -= 1;
            continue;
        }
        deadline.check()?;
        if !rule_matches(rule, tx) {
            continue;
        }
        apply_actions(rule, tx);
        match rule.disruptive {
            Disruptive::Deny if tx.engine_mode == EngineMode::On => {
                tx.denied = Some((rule.id, rule.status));
                return Ok(true);
            }
            Disruptive::Allow if tx.engine_mode == EngineMode::On => {
                tx.allowed = true;
                return Ok(false);
            }
            _ => {}
        }
        if let Some(target) = rule.skip_after {
            i = order.partition_point(|&r| r < target);
        }
        skip = rule.skip;
    }
    Ok(false)
}

fn is_removed(tx: &Transaction<'_>, rule: &CompiledRule) -> bool {
    (rule.id != 0 && in_ranges(&tx.removed_ids, rule.id))
        || (!tx.removed_tags.is_empty()
            && rule
                .tags
                .iter()
                .any(|t| tx.removed_tags.iter().any(|r| r == t)))
}

/// True when every link of the rule matches. As in ModSecurity, each matched value of a link
/// sets `MATCHED_VAR` and the captures and runs that link's `setvar`s and `ctl`s at once, so the
/// next value and the next link can read them.
fn rule_matches(rule: &CompiledRule, tx: &mut Transaction<'_>) -> bool {
    rule.links.iter().all(|link| link_matches(rule, link, tx))
}

/// One value that matched a link's operator.
struct Hit {
    name: String,
    value: Vec<u8>,
    captures: Option<Vec<Vec<u8>>>,
}

fn link_matches(rule: &CompiledRule, link: &Link, tx: &mut Transaction<'_>) -> bool {
    let hits = match &link.operator {
        None => vec![Hit {
            name: String::new(),
            value: Vec::new(),
            captures: None,
        }],
        Some(operator) => find_hits(rule, link, operator, tx),
    };
    if hits.is_empty() {
        return false;
    }
    if link.operator.is_some() {
        tx.matched_vars = hits
            .iter()
            .map(|h| (h.name.clone(), h.value.clone()))
            .collect();
    }
    for hit in hits {
        if link.operator.is_some() {
            tx.matched_var_name = hit.name;
            tx.matched_var = hit.value;
            super::operators::geo_lookup::fill_collection(
                link.operator.as_ref(),
                &mut tx.collections,
                &tx.matched_var,
            );
        }
        if let Some(caps) = hit.captures {
            for (i, c) in caps.into_iter().enumerate().take(10) {
                tx.tx.insert(i.to_string(), c);
            }
        }
        for s in &link.setvars {
            setvar(tx, s);
        }
        for c in &link.ctls {
            ctl(tx, c);
        }
    }
    true
}

fn find_hits(
    rule: &CompiledRule,
    link: &Link,
    operator: &super::operators::Operator,
    tx: &Transaction<'_>,
) -> Vec<Hit> {
    let argument = link
        .operator_argument
        .as_ref()
        .map(|m| tx.expand(m).into_owned());
    let mut hits = Vec::new();
    for value in target_values(rule, link, tx) {
        let mut captures = link.capture.then(Vec::new);
        let cache = (is_stable(value.collection) && matches!(value.value, Cow::Borrowed(_)))
            .then_some(&tx.transforms);
        if let Some(hit) = value_matches(
            link,
            operator,
            &value.value,
            argument.as_deref(),
            captures.as_mut(),
            cache,
        ) {
            hits.push(Hit {
                name: value.name(),
                value: hit,
                captures,
            });
        }
    }
    hits
}

/// The link's targets, counted where `&` asks, with its exclusions and runtime exclusions removed.
fn target_values<'a>(rule: &CompiledRule, link: &Link, tx: &'a Transaction<'a>) -> Vec<Value<'a>> {
    let mut out = Vec::new();
    for target in &link.targets {
        let mut values = variables::resolve(tx, target);
        for ex in &link.exclusions {
            variables::exclude(&mut values, ex);
        }
        for ex in runtime_exclusions(tx, rule) {
            for spec in &ex.targets {
                let t = super::ruleset::Target {
                    spec: spec.clone(),
                    key_regex: super::ruleset::selector_regex(&spec.selector)
                        .ok()
                        .flatten(),
                };
                variables::exclude(&mut values, &t);
            }
        }
        if target.spec.count {
            out.push(Value {
                collection: target.spec.collection.name(),
                key: None,
                value: Cow::Owned(values.len().to_string().into_bytes()),
            });
        } else {
            out.extend(values);
        }
    }
    out
}

fn runtime_exclusions<'t>(
    tx: &'t Transaction<'_>,
    rule: &'t CompiledRule,
) -> impl Iterator<Item = &'t TargetExclusion> {
    tx.removed_targets.iter().filter(move |e| {
        (rule.id != 0 && in_ranges(&e.ids, rule.id))
            || e.tag
                .as_ref()
                .is_some_and(|t| rule.tags.iter().any(|rt| rt == t))
    })
}

/// True for collections whose values keep their bytes for the whole transaction (everything
/// but what rules write: `TX`, the persistent collections, `MATCHED_*`).
fn is_stable(collection: &str) -> bool {
    !matches!(
        collection,
        "TX" | "IP"
            | "SESSION"
            | "GLOBAL"
            | "USER"
            | "RESOURCE"
            | "ENV"
            | "MATCHED_VAR"
            | "MATCHED_VAR_NAME"
            | "MATCHED_VARS"
            | "MATCHED_VARS_NAMES"
    )
}

/// A value after a link's transformations: the original bytes, or shared transformed bytes.
enum Transformed<'v> {
    Same(&'v [u8]),
    Changed(Rc<[u8]>),
}

impl std::ops::Deref for Transformed<'_> {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        match self {
            Transformed::Same(v) => v,
            Transformed::Changed(v) => v,
        }
    }
}

/// `value` after the link's transformations, from the transaction's cache when allowed.
fn transformed<'v>(
    link: &Link,
    value: &'v [u8],
    cache: Option<&TransformCache>,
) -> Transformed<'v> {
    if let Some(known) = cache.and_then(|c| c.get(value, link.chain_id)) {
        return known.map_or(Transformed::Same(value), Transformed::Changed);
    }
    let mut current: Cow<'_, [u8]> = Cow::Borrowed(value);
    for t in &link.transformations {
        if let Some(next) = transformations::apply(*t, &current) {
            current = Cow::Owned(next);
        }
    }
    let result = match current {
        Cow::Borrowed(v) => Transformed::Same(v),
        Cow::Owned(v) => Transformed::Changed(Rc::from(v)),
    };
    if let Some(c) = cache {
        let stored = match &result {
            Transformed::Same(_) => None,
            Transformed::Changed(v) => Some(Rc::clone(v)),
        };
        c.put(value, link.chain_id, stored);
    }
    result
}

/// The transformed value when the operator matches it (`MATCHED_VAR` holds transformed
/// values, as in ModSecurity), trying every intermediate value with `multiMatch`.
fn value_matches(
    link: &Link,
    operator: &super::operators::Operator,
    value: &[u8],
    argument: Option<&[u8]>,
    mut captures: Option<&mut Vec<Vec<u8>>>,
    cache: Option<&TransformCache>,
) -> Option<Vec<u8>> {
    if !link.multi_match {
        let current = transformed(link, value, cache);
        return operator
            .matches(&current, argument, captures)
            .then(|| current.to_vec());
    }
    let mut current: Cow<'_, [u8]> = Cow::Borrowed(value);
    if link.multi_match && operator.matches(&current, argument, captures.as_deref_mut()) {
        return Some(current.into_owned());
    }
    for t in &link.transformations {
        if let Some(next) = transformations::apply(*t, &current) {
            current = Cow::Owned(next);
            if link.multi_match && operator.matches(&current, argument, captures.as_deref_mut()) {
                return Some(current.into_owned());
            }
        }
    }
    (!link.multi_match && operator.matches(&current, argument, captures))
        .then(|| current.into_owned())
}

/// Records a matched rule (its message and data expanded now, after all links ran).
fn apply_actions(rule: &CompiledRule, tx: &mut Transaction<'_>) {
    if rule.log || rule.disruptive == Disruptive::Deny {
        let m = RuleMatch {
            id: rule.id,
            msg: rule
                .msg
                .as_ref()
                .map(|m| tx.expand_text(m))
                .unwrap_or_default(),
            data: rule
                .logdata
                .as_ref()
                .map(|m| tx.expand_text(m))
                .unwrap_or_default(),
            severity: rule.severity,
            variable: tx.matched_var_name.clone(),
            log: rule.log,
            tags: rule.tags.clone(),
        };
        tx.matches.push(m);
    }
}

fn setvar(tx: &mut Transaction<'_>, s: &SetVar) {
    let name = tx.expand_text(&s.name).to_ascii_lowercase();
    let value = tx.expand(&s.value).into_owned();
    let collection = s.collection.to_ascii_uppercase();
    let map = if collection == "TX" {
        &mut tx.tx
    } else {
        tx.collections.entry(collection).or_default()
    };
    match s.op {
        SetVarOp::Set => {
            map.insert(name, value);
        }
        SetVarOp::Delete => {
            map.remove(&name);
        }
        SetVarOp::Add | SetVarOp::Sub => {
            let current = map.get(&name).map_or(0, |v| parse_int(v));
            let delta = parse_int(&value);
            let next = if s.op == SetVarOp::Add {
                current.saturating_add(delta)
            } else {
                current.saturating_sub(delta)
            };
            map.insert(name, next.to_string().into_bytes());
        }
    }
}

/// ModSecurity's integer parsing: optional sign and leading digits, anything else is 0.
pub fn parse_int(v: &[u8]) -> i64 {
    let s = std::str::from_utf8(v).unwrap_or("").trim();
    let (neg, digits) = match s.strip_prefix('-') {
        Some(d) => (true, d),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    let end = digits
        .bytes()
        .position(|b| !b.is_ascii_digit())
        .unwrap_or(digits.len());
    let n: i64 = digits[..end].parse().unwrap_or(0);
    if neg {
        -n
    } else {
        n
    }
}

fn ctl(tx: &mut Transaction<'_>, c: &Ctl) {
    match c {
        Ctl::RuleRemoveById(ranges) => tx.removed_ids.extend_from_slice(ranges),
        Ctl::RuleRemoveByTag(tag) => tx.removed_tags.push(tag.clone()),
        Ctl::RuleRemoveTargetById { ids, targets } => tx.removed_targets.push(TargetExclusion {
            ids: ids.clone(),
            tag: None,
            targets: targets.clone(),
        }),
        Ctl::RuleRemoveTargetByTag { tag, targets } => tx.removed_targets.push(TargetExclusion {
            ids: Vec::new(),
            tag: Some(tag.clone()),
            targets: targets.clone(),
        }),
        Ctl::RuleEngine(mode) => tx.engine_mode = *mode,
        Ctl::RequestBodyProcessor(p) => {
            use crate::parse::BodyProcessor as P;
            use crate::seclang::ctl::BodyProcessor as C;
            tx.body_processor_override = match p {
                C::UrlEncoded => Some(P::UrlEncoded),
                C::Multipart => Some(P::Multipart),
                C::Json => Some(P::Json),
                C::Xml => Some(P::Xml),
            };
        }
        _ => {}
    }
}
