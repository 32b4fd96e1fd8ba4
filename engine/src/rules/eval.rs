//! Running a [`RuleSet`] over a [`Transaction`], phase by phase, with ModSecurity's flow:
//! chains, `skip`/`skipAfter`, `setvar`, `capture`, `ctl`, disruptive actions and
//! `SecRuleEngine DetectionOnly`.

use std::borrow::Cow;
use std::sync::Arc;

use super::fast_hash::FastMap;
use super::matched_vars::MatchedVars;
use super::prefilter::Trigger;
use super::prologue::{set_matched, Known};
use super::ruleset::{in_ranges, CompiledRule, Disruptive, Link, LinkCtl, RuleSet, Target};
use super::transaction::{RuleMatch, TargetExclusion, Transaction};
use super::transformations;
use super::tx_map::TxMap;
use super::value_cache::{FieldGroup, Transformed, ValueCache};
use super::variables::{self, Value};
use crate::detect::{Deadline, OutOfTime};
use crate::seclang::actions::{SetVar, SetVarOp};
use crate::seclang::ast::EngineMode;
use crate::seclang::ctl::Ctl;
use crate::seclang::variables::{Collection, Selector};

/// Runs the rules of `phase` (1–5). Returns true when the request was denied.
pub fn run_phase(
    rules: &RuleSet,
    tx: &mut Transaction<'_>,
    phase: u8,
    deadline: &Deadline,
) -> Result<bool, OutOfTime> {
    run_phase_from(rules, tx, phase, (0, 0), deadline)
}

/// [`run_phase`] from position `from.0` of the phase's rule order, with `from.1` rules still to
/// skip (where a [`super::prologue::Prologue`] left off).
pub fn run_phase_from(
    rules: &RuleSet,
    tx: &mut Transaction<'_>,
    phase: u8,
    from: (usize, u32),
    deadline: &Deadline,
) -> Result<bool, OutOfTime> {
    if tx.engine_mode == EngineMode::Off || tx.allowed {
        return Ok(false);
    }
    let phase = usize::from(phase).min(5);
    let order = &rules.phase_rules[phase];
    let (mut i, mut skip) = from;
    let (known, runs) = match &rules.prologue {
        Some(p) if tx.from_prologue => (&p.known[..], &p.runs[phase][..]),
        _ => (&[][..], &[][..]),
    };
    while i < order.len() {
        let run = runs.get(i).copied().flatten();
        if let Some(run) = run.filter(|_| skip == 0 && nothing_removed(tx)) {
            if let Some(Some(Known::Match(vars))) = run.matched.map(|m| &known[m as usize]) {
                set_matched(tx, vars);
            }
            (i, skip) = (run.to as usize, run.skip);
            continue;
        }
        let index = order[i];
        i += 1;
        if skip == 0 && !super::gate::may_match(rules, index, tx) {
            continue;
        }
        let rule = &rules.rules[index];
        if is_removed(tx, rule) {
            continue;
        }
        if skip > 0 {
            skip -= 1;
            continue;
        }
        deadline.check()?;
        // A `ctl` removing `TX` targets may change what a known rule reads: it is evaluated then.
        let known = known.get(index).filter(|_| !tx.tx_targets_removed);
        let matched = match known {
            Some(Some(Known::NoMatch)) => false,
            Some(Some(Known::Match(vars))) => {
                set_matched(tx, vars);
                true
            }
            Some(Some(Known::MatchThenSet(vars))) => {
                set_matched(tx, vars);
                rule.links
                    .iter()
                    .for_each(|link| run_link_actions(link, tx));
                true
            }
            _ => rule_matches(rules, rule, tx),
        };
        if !matched {
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
        (i, skip) = rule.resume_after_match(order, i);
    }
    Ok(false)
}

/// True when neither the location nor a `ctl` removed a rule or a `TX` target from this
/// request (known outcomes then hold as computed at load).
fn nothing_removed(tx: &Transaction<'_>) -> bool {
    tx.removed_ids.is_empty() && tx.removed_tags.is_empty() && !tx.tx_targets_removed
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
pub(super) fn rule_matches(rules: &RuleSet, rule: &CompiledRule, tx: &mut Transaction<'_>) -> bool {
    rule.links
        .iter()
        .all(|link| link_matches(rules, rule, link, tx))
}

pub(super) fn link_matches(
    rules: &RuleSet,
    rule: &CompiledRule,
    link: &Link,
    tx: &mut Transaction<'_>,
) -> bool {
    let operator = match &link.operator {
        None => {
            run_link_actions(link, tx);
            return true;
        }
        Some(_) if ruled_out(rules, link, tx) => return false,
        Some(operator) => operator,
    };
    let mut found = std::mem::take(&mut tx.spare_vars);
    found.clear();
    find_hits(rules, rule, link, operator, tx, &mut found);
    if found.is_empty() {
        tx.spare_vars = found;
        return false;
    }
    tx.spare_vars = std::mem::replace(&mut tx.matched_vars, found);
    for i in 0..tx.matched_vars.len() {
        let Some(m) = tx.matched_vars.get_mut(i) else {
            break;
        };
        let caps = m.captures.take();
        tx.matched_var_name.clone_from(&m.name);
        tx.matched_var.clone_from(&m.value);
        super::operators::geo_lookup::fill_collection(
            link.operator.as_ref(),
            &mut tx.collections,
            &tx.matched_var,
        );
        if let Some(caps) = caps {
            set_captures(tx, caps);
        }
        run_link_actions(link, tx);
    }
    true
}

/// The link's `setvar`s and `ctl`s, in order.
fn run_link_actions(link: &Link, tx: &mut Transaction<'_>) {
    for s in &link.setvars {
        setvar(tx, s);
    }
    for c in &link.ctls {
        ctl(tx, c);
    }
}

/// Stores captures in `TX:0`–`TX:9`, reusing the entries' buffers.
fn set_captures(tx: &mut Transaction<'_>, caps: Vec<Vec<u8>>) {
    const NAMES: [&str; 10] = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"];
    for (name, c) in NAMES.iter().zip(caps) {
        *tx.tx.value_mut(name) = c;
    }
}

/// True when the prefilter shows that no value of the link's targets can match: each target
/// is a group of parsed fields or a fixed request scalar, none of whose values (after the
/// link's transformations) holds one of the operator's literals.
fn ruled_out(rules: &RuleSet, link: &Link, tx: &Transaction<'_>) -> bool {
    let (Some(filter), Some(id)) = (&rules.prefilter, link.prefilter) else {
        return false;
    };
    let trigger = rules.chains.trigger(link.chain_id);
    link.targets.iter().all(|target| {
        if target.spec.count {
            return false;
        }
        if let Some((sources, names)) = target.fields {
            if let Some(key) = target.field_key() {
                // One named field (`REQUEST_HEADERS:User-Agent`): only its values count.
                return sources.iter().all(|&source| {
                    tx.by_source[source as usize].iter().all(|&i| {
                        let f = &tx.inputs.fields[i as usize];
                        let (slot, value) = if names {
                            (2 * i + 1, &f.name[..])
                        } else {
                            (2 * i, &f.value[..])
                        };
                        !f.name.eq_ignore_ascii_case(key)
                            || !tx.cache.may_match(filter, link, id, trigger, slot, value)
                    })
                });
            }
            return sources.iter().all(|&source| {
                if tx.by_source[source as usize].is_empty() {
                    return true;
                }
                let group = FieldGroup {
                    fields: &tx.inputs.fields,
                    indices: &tx.by_source[source as usize],
                    source,
                    names,
                };
                !tx.cache
                    .group_may_match(filter, &group, &rules.chains, link, id)
            });
        }
        let slot = variables::scalar_slot(target.spec.collection, tx.inputs.fields.len());
        if let Some(known) = slot.and_then(|s| tx.cache.known_may_match(link, id, trigger, s)) {
            return !known;
        }
        variables::resolve(tx, target).iter().all(|v| {
            v.slot.is_some_and(|slot| {
                !tx.cache
                    .may_match(filter, link, id, trigger, slot, &v.value)
            })
        })
    })
}

/// Fills `found` with the values that match the link's operator.
fn find_hits(
    rules: &RuleSet,
    rule: &CompiledRule,
    link: &Link,
    operator: &super::operators::Operator,
    tx: &Transaction<'_>,
    found: &mut MatchedVars,
) {
    let argument = link.operator_argument.as_ref().map(|m| tx.expand(m));
    let trigger = rules.chains.trigger(link.chain_id);
    let filter = rules.prefilter.as_ref().zip(link.prefilter);
    // Values this thread saw the link miss before are not evaluated again.
    let memo = rules.prefilter.as_ref().zip(link.memo_id);
    let mut check = |value: &Value<'_>| {
        let remembered = memo.zip(value.slot);
        if let Some(((f, id), slot)) = remembered {
            if tx.cache.known_miss(f, id, slot, &value.value) {
                return;
            }
        }
        let mut captures = link.capture.then(Vec::new);
        if let Some(hit) = value_matches(
            link,
            operator,
            value,
            argument.as_deref(),
            captures.as_mut(),
            &tx.cache,
            trigger,
        ) {
            let m = found.push();
            value.write_name(&mut m.name);
            m.value.extend_from_slice(&hit);
            m.captures = captures;
        } else if let Some(((f, id), slot)) = remembered {
            tx.cache.remember_miss(f, id, slot, &value.value);
        }
    };
    for target in &link.targets {
        if let Some(one) = tx_key_value(link, target, tx) {
            if let Some(value) = one {
                check(&value);
            }
            continue;
        }
        let Some((sources, names)) = target.fields.filter(|_| !target.spec.count) else {
            for value in target_values(rule, link, target, tx) {
                if let (Some((f, id)), Some(slot)) = (filter, value.slot) {
                    if !tx.cache.may_match(f, link, id, trigger, slot, &value.value) {
                        continue;
                    }
                }
                check(&value);
            }
            continue;
        };
        let mut slots = SLOTS.take();
        let known = KnownMisses::of(rules, link);
        field_slots(rules, tx, target, link, (sources, names), known, &mut slots);
        if let Some(k) = known {
            tx.cache
                .drop_known_misses(k.filter, k.link, k.multi, &mut slots);
        }
        // Candidates were not prefiltered per value for a named field or `multiMatch`.
        let check_each = link.multi_match || target.field_key().is_some();
        let may_exclude = !tx.removed_targets.is_empty()
            || link
                .exclusions
                .iter()
                .any(|ex| ex.spec.collection == target.spec.collection);
        for &slot in &slots {
            // Prefiltered on the field's own bytes, before its value is built.
            if let (Some((f, id)), true) = (filter, check_each) {
                let field = &tx.inputs.fields[slot as usize / 2];
                let bytes = if slot % 2 == 1 {
                    &field.name
                } else {
                    &field.value
                };
                if !tx.cache.may_match(f, link, id, trigger, slot, bytes) {
                    continue;
                }
            }
            let Some(value) = variables::field_value(tx, target, slot / 2) else {
                continue;
            };
            if may_exclude && is_excluded(&value, rule, link, tx) {
                continue;
            }
            check(&value);
        }
        SLOTS.set(slots);
    }
}

/// What a link's values may be known not to match by (see [`ValueCache::drop_known_misses`]).
#[derive(Clone, Copy)]
struct KnownMisses<'f> {
    filter: &'f super::prefilter::Prefilter,
    /// The link's memo id, when its misses are remembered.
    link: Option<u32>,
    /// The link's bit in the `multiMatch` records, when it has one.
    multi: Option<usize>,
}

impl<'f> KnownMisses<'f> {
    fn of(rules: &'f RuleSet, link: &Link) -> Option<KnownMisses<'f>> {
        let filter = rules.prefilter.as_ref()?;
        let multi = link
            .prefilter
            .filter(|_| link.multi_match)
            .and_then(|id| filter.multi_bit(id));
        (link.memo_id.is_some() || multi.is_some()).then_some(KnownMisses {
            filter,
            link: link.memo_id,
            multi,
        })
    }
}

thread_local! {
    /// The slot list [`find_hits`] fills per field-group target, kept for the next one.
    static SLOTS: std::cell::Cell<Vec<u32>> = const { std::cell::Cell::new(Vec::new()) };
}

/// Fills `slots` (emptied first) with the cache slots of the parsed fields a field-group target
/// reads (`fields`: its sources and whether it reads names), in field order: for a named field
/// (`REQUEST_HEADERS:User-Agent`) the fields of that name; with a prefilter (and no
/// `multiMatch`), only the values whose scan holds one of the operator's literals; else all.
/// A source whose values the link is `known` to miss, every one, adds none (see
/// [`ValueCache::group_known_missed`]); so does one a `multiMatch` link's prefilter rules out.
fn field_slots(
    rules: &RuleSet,
    tx: &Transaction<'_>,
    target: &super::ruleset::Target,
    link: &Link,
    fields: (&[crate::parse::Source], bool),
    known: Option<KnownMisses<'_>>,
    slots: &mut Vec<u32>,
) {
    let (sources, names) = fields;
    let filter = rules.prefilter.as_ref().zip(link.prefilter);
    slots.clear();
    for &source in sources {
        let group = FieldGroup {
            fields: &tx.inputs.fields,
            indices: &tx.by_source[source as usize],
            source,
            names,
        };
        if group.indices.is_empty() {
            continue;
        }
        if known.is_some_and(|k| {
            tx.cache
                .group_known_missed(k.filter, &group, k.link, k.multi)
        }) {
            continue;
        }
        let all = group.indices.iter().map(|&i| 2 * i + u32::from(names));
        match (target.field_key(), filter) {
            (Some(key), _) => slots.extend(all.filter(|&slot| {
                tx.inputs.fields[slot as usize / 2]
                    .name
                    .eq_ignore_ascii_case(key)
            })),
            (None, Some((f, id))) if !link.multi_match => {
                tx.cache
                    .candidates(f, &group, &rules.chains, link, id, slots);
            }
            // A `multiMatch` link is prefiltered per value, unless its group is ruled out.
            (None, Some((f, id))) => {
                if tx.cache.group_may_match(f, &group, &rules.chains, link, id) {
                    slots.extend(all);
                }
            }
            _ => slots.extend(all),
        }
    }
    if sources.len() > 1 {
        slots.sort_unstable();
    }
}

/// For a `TX:key` or `&TX:key` target that nothing can exclude, its value (or count) from one
/// lookup, without building a list; `None` for any other target.
fn tx_key_value<'a>(
    link: &Link,
    target: &Target,
    tx: &'a Transaction<'a>,
) -> Option<Option<Value<'a>>> {
    let Selector::Key(key) = &target.spec.selector else {
        return None;
    };
    if target.spec.collection != Collection::Tx
        || !tx.removed_targets.is_empty()
        || link
            .exclusions
            .iter()
            .any(|ex| ex.spec.collection == target.spec.collection)
    {
        return None;
    }
    // `TX` keys are stored lower-cased, as the target's key is (see `Target::new`).
    let found = tx.tx.get_key_value(key.as_str());
    if target.spec.count {
        return Some(Some(Value {
            collection: target.spec.collection,
            key: None,
            value: Cow::Borrowed(if found.is_some() { b"1" } else { b"0" }),
            slot: None,
        }));
    }
    Some(found.map(|(k, v)| Value {
        collection: target.spec.collection,
        key: Some(Cow::Borrowed(k.as_bytes())),
        value: Cow::Borrowed(v),
        slot: None,
    }))
}

/// The values of one of the link's targets (its count where `&` asks), without the link's
/// exclusions and the runtime exclusions.
fn target_values<'a>(
    rule: &CompiledRule,
    link: &Link,
    target: &super::ruleset::Target,
    tx: &'a Transaction<'a>,
) -> variables::Values<'a> {
    let mut values = variables::Values::new();
    variables::resolve_into(tx, target, &mut values);
    values.retain(|v| !is_excluded(v, rule, link, tx));
    if target.spec.count {
        const DIGITS: [&[u8]; 10] = [b"0", b"1", b"2", b"3", b"4", b"5", b"6", b"7", b"8", b"9"];
        let count = match DIGITS.get(values.len()) {
            Some(digit) => Cow::Borrowed(*digit),
            None => Cow::Owned(values.len().to_string().into_bytes()),
        };
        values.clear();
        values.push(Value {
            collection: target.spec.collection,
            key: None,
            value: count,
            slot: None,
        });
    }
    values
}

/// True when the link excludes the value (`!ARGS:x`) or a `ctl` removed it for the rule.
fn is_excluded(value: &Value<'_>, rule: &CompiledRule, link: &Link, tx: &Transaction<'_>) -> bool {
    link.exclusions
        .iter()
        .any(|ex| variables::excludes(ex, value))
        || runtime_exclusions(tx, rule)
            .any(|ex| ex.targets.iter().any(|t| variables::excludes(t, value)))
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

/// The transformed value when the operator matches it (`MATCHED_VAR` holds transformed
/// values, as in ModSecurity), trying every intermediate value with `multiMatch`.
fn value_matches<'v>(
    link: &Link,
    operator: &super::operators::Operator,
    target: &'v Value<'_>,
    argument: Option<&[u8]>,
    mut captures: Option<&mut Vec<Vec<u8>>>,
    cache: &ValueCache,
    trigger: &Trigger,
) -> Option<Transformed<'v>> {
    let value: &[u8] = &target.value;
    if !link.multi_match {
        let current = cache.transformed(link, trigger, target.slot, value);
        return operator
            .matches(&current, argument, captures)
            .then_some(current);
    }
    // multiMatch: the operator sees the value before and after each transformation.
    if operator.matches(value, argument, captures.as_deref_mut()) {
        return Some(Transformed::Same(value));
    }
    let mut current: Cow<'_, [u8]> = Cow::Borrowed(value);
    for t in &link.transformations {
        if let Some(next) = transformations::apply(*t, &current) {
            if operator.matches(&next, argument, captures.as_deref_mut()) {
                return Some(Transformed::Changed(next.into()));
            }
            current = Cow::Owned(next);
        }
    }
    None
}

/// Records a matched rule (its message and data expanded now, after all links ran).
pub(super) fn apply_actions(rule: &CompiledRule, tx: &mut Transaction<'_>) {
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
    let (mut name, mut value) = std::mem::take(&mut tx.setvar_buffers);
    tx.expand_into(&s.value, &mut value);
    match s.name.literal() {
        // Lower-cased when parsed: used as it is.
        Some(literal) => apply_setvar(tx, s, literal, &value),
        None => {
            tx.expand_into(&s.name, &mut name);
            name.make_ascii_lowercase();
            apply_setvar(tx, s, &String::from_utf8_lossy(&name), &value);
        }
    }
    tx.setvar_buffers = (name, value);
}

/// Applies `setvar` `s` with its name (lower-cased) and value expanded.
fn apply_setvar(tx: &mut Transaction<'_>, s: &SetVar, name: &str, value: &[u8]) {
    let map: &mut dyn Variables = if s.collection.eq_ignore_ascii_case("tx") {
        &mut tx.tx
    } else {
        tx.collections
            .entry(s.collection.to_ascii_uppercase())
            .or_default()
    };
    match s.op {
        SetVarOp::Set => {
            let v = map.value_mut(name);
            v.clear();
            v.extend_from_slice(value);
        }
        SetVarOp::Delete => map.remove_key(name),
        SetVarOp::Add | SetVarOp::Sub => {
            let delta = parse_int(value);
            let entry = map.value_mut(name);
            let current = parse_int(entry);
            let next = if s.op == SetVarOp::Add {
                current.saturating_add(delta)
            } else {
                current.saturating_sub(delta)
            };
            entry.clear();
            write_int(entry, next);
        }
    }
}

/// Appends `n` in decimal to `out` (what `write!` does, without the formatting machinery on a
/// path every scoring rule takes).
fn write_int(out: &mut Vec<u8>, n: i64) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    let mut rest = n.unsigned_abs();
    loop {
        at -= 1;
        digits[at] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    if n < 0 {
        out.push(b'-');
    }
    out.extend_from_slice(&digits[at..]);
}

/// A writable collection as `setvar` sees it.
trait Variables {
    /// The value of `key` to change, inserted empty when it is not set.
    fn value_mut(&mut self, key: &str) -> &mut Vec<u8>;
    /// Removes `key`.
    fn remove_key(&mut self, key: &str);
}

impl Variables for TxMap {
    fn value_mut(&mut self, key: &str) -> &mut Vec<u8> {
        TxMap::value_mut(self, key)
    }

    fn remove_key(&mut self, key: &str) {
        self.remove(key);
    }
}

impl Variables for FastMap<String, Vec<u8>> {
    fn value_mut(&mut self, key: &str) -> &mut Vec<u8> {
        if self.contains_key(key) {
            self.get_mut(key).expect("the key is there")
        } else {
            self.entry(key.to_string()).or_default()
        }
    }

    fn remove_key(&mut self, key: &str) {
        self.remove(key);
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

fn ctl(tx: &mut Transaction<'_>, c: &LinkCtl) {
    tx.tx_targets_removed |= c.removes_tx;
    match &c.ctl {
        Ctl::RuleRemoveById(ranges) => tx.removed_ids.extend_from_slice(ranges),
        Ctl::RuleRemoveByTag(tag) => tx.removed_tags.push(tag.clone()),
        Ctl::RuleRemoveTargetById { ids, .. } => tx.removed_targets.push(TargetExclusion {
            ids: ids.clone(),
            tag: None,
            targets: Arc::clone(&c.targets),
        }),
        Ctl::RuleRemoveTargetByTag { tag, .. } => tx.removed_targets.push(TargetExclusion {
            ids: Vec::new(),
            tag: Some(tag.clone()),
            targets: Arc::clone(&c.targets),
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

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use crate::request::Request;
    use crate::rules::RuleSet;
    use crate::{Engine, Settings};

    fn engine(rules: &str) -> Engine {
        let config = crate::seclang::parse_str(rules, "eval-test.conf").unwrap();
        let rules = RuleSet::compile(&config).unwrap();
        Engine::with_rules(Settings::default(), Some(Arc::new(rules))).without_builtin_detectors()
    }

    /// The rule ids `engine` reports for a `text/plain` POST of `body`, with an `X-Data` header
    /// holding `x_data` when given.
    fn post_text(engine: &Engine, body: &[u8], x_data: Option<&[u8]>) -> String {
        let mut headers = vec![crate::request::Header {
            name: b"Content-Type",
            value: b"text/plain",
        }];
        headers.extend(x_data.map(|value| crate::request::Header {
            name: b"X-Data",
            value,
        }));
        let req = Request {
            method: b"POST",
            uri: b"/upload",
            version: b"HTTP/1.1",
            headers,
            body: vec![crate::request::BodyPart::Memory(body)],
            ..Default::default()
        };
        engine.check(&req, None).rule_ids()
    }

    fn ids(engine: &Engine, uri: &[u8]) -> String {
        let req = Request {
            method: b"GET",
            uri,
            version: b"HTTP/1.1",
            ..Default::default()
        };
        engine.check(&req, None).rule_ids()
    }

    /// Scores add up across rules whatever case their names are written in, through negative
    /// values and back, and a name built from a macro reaches the same variable.
    #[test]
    fn setvar_scores_add_up_whatever_the_case_of_the_name() {
        let e = engine(
            r#"
SecRuleEngine On
SecAction "id:1,phase:1,pass,nolog,setvar:tx.Score=-12,setvar:tx.part=SCORE"
SecRule ARGS:a "@streq x" "id:2,phase:1,pass,nolog,setvar:TX.SCORE=+%{args.n}"
SecRule ARGS:b "@streq y" "id:3,phase:1,pass,nolog,setvar:tx.%{tx.part}=-1"
SecRule TX:score "@eq 1000000000000" "id:10,phase:1,deny,status:403"
SecRule TX:score "@eq -13" "id:11,phase:1,deny,status:403"
SecRule TX:score "@eq 0" "id:12,phase:1,deny,status:403"
"#,
        );
        assert_eq!(ids(&e, b"/?a=x&n=1000000000012"), "10");
        assert_eq!(ids(&e, b"/?b=y"), "11");
        assert_eq!(ids(&e, b"/?a=x&n=13&b=y"), "12");
    }

    /// Integers come out as `write!` writes them, the extremes included.
    #[test]
    fn write_int_writes_decimal() {
        for n in [0, 7, -7, 10, -10, 1234567890, i64::MAX, i64::MIN] {
            let mut out = b"old".to_vec();
            out.clear();
            super::write_int(&mut out, n);
            assert_eq!(out, n.to_string().into_bytes());
        }
    }

    /// The exclusion CRS users write most: a `ctl` that removes one argument from a rule for
    /// one URL, by id or by tag; a regex selector removes every argument it matches.
    #[test]
    fn ctl_removes_targets_by_id_and_tag_for_the_request() {
        let e = engine(
            r#"
SecRuleEngine On
SecRule REQUEST_FILENAME "@streq /login" "id:10,phase:1,pass,nolog,ctl:ruleRemoveTargetById=100;ARGS:password"
SecRule REQUEST_FILENAME "@streq /search" "id:11,phase:1,pass,nolog,ctl:ruleRemoveTargetByTag=sqli;ARGS:/^q_/"
SecRule ARGS "@contains select" "id:100,phase:2,deny,status:403,tag:'sqli'"
"#,
        );
        assert_eq!(ids(&e, b"/login?password=select"), "");
        assert_eq!(ids(&e, b"/login?user=select"), "100");
        assert_eq!(ids(&e, b"/other?password=select"), "100");
        assert_eq!(ids(&e, b"/search?q_1=select&q_2=select"), "");
        assert_eq!(ids(&e, b"/search?text=select"), "100");
    }

    /// A `ctl` removes a target without keys (`REQUEST_FILENAME`) whole: CRS 941010 takes it
    /// away from its `xss-perf-disable` rules for paths of plain characters.
    #[test]
    fn a_keyless_target_is_removed_whole() {
        let e = engine(
            r#"
SecRuleEngine On
SecRule REQUEST_FILENAME "!@validateByteRange 45-47,48-57,65-90,95,97-122" "id:10,phase:1,pass,nolog,ctl:ruleRemoveTargetByTag=perf;REQUEST_FILENAME"
SecRule REQUEST_FILENAME|ARGS "@contains document.cookie" "id:100,phase:2,deny,status:403,tag:'perf'"
SecRule REQUEST_FILENAME|ARGS "@contains secret" "id:101,phase:2,deny,status:403"
"#,
        );
        assert_eq!(ids(&e, b"/manual/document.cookie"), "");
        assert_eq!(ids(&e, b"/manual/document.cookie<"), "100");
        assert_eq!(ids(&e, b"/p?x=document.cookie"), "100");
        assert_eq!(
            ids(&e, b"/secret/page"),
            "101",
            "only the tagged rule loses it"
        );
    }

    /// `SecRuleUpdateTargetById` and `!` exclusions take a whole collection or a keyless
    /// variable away from a rule (`!REQUEST_COOKIES`, `!REQUEST_FILENAME`), as in ModSecurity.
    #[test]
    fn a_whole_collection_or_keyless_variable_can_be_excluded_at_load() {
        let e = engine(
            r#"
SecRuleEngine On
SecRule REQUEST_COOKIES|ARGS "@rx attack" "id:100,phase:1,deny,status:403"
SecRule REQUEST_FILENAME|ARGS "@rx secret" "id:101,phase:1,deny,status:403"
SecRule REQUEST_FILENAME|ARGS|!REQUEST_FILENAME "@rx hidden" "id:102,phase:1,deny,status:403"
SecRuleUpdateTargetById 100 "!REQUEST_COOKIES"
SecRuleUpdateTargetById 101 "!REQUEST_FILENAME"
"#,
        );
        let get = |uri: &'static [u8], cookie: &'static [u8]| {
            let req = Request {
                method: b"GET",
                uri,
                version: b"HTTP/1.1",
                headers: vec![crate::request::Header {
                    name: b"Cookie",
                    value: cookie,
                }],
                ..Default::default()
            };
            e.check(&req, None).rule_ids()
        };
        assert_eq!(get(b"/", b"a=attack"), "");
        assert_eq!(get(b"/?q=attack", b"a=1"), "100");
        assert_eq!(get(b"/secret/page", b"a=1"), "");
        assert_eq!(get(b"/p?q=secret", b"a=1"), "101");
        assert_eq!(get(b"/hidden/page", b"a=1"), "");
        assert_eq!(get(b"/p?q=hidden", b"a=1"), "102");
    }

    /// `REQUEST_BODY` is scanned for the literals of the rules that read it only; the same
    /// bytes in a header are still scanned for every rule's, on every request (a scan
    /// remembered for the body must not stand for the header's).
    #[test]
    fn the_body_prefilter_never_hides_another_slots_match() {
        const RULES: &str = r#"
SecRuleEngine On
SecRequestBodyAccess On
SecRule REQUEST_BODY "@rx zzz" "id:1,phase:2,deny,status:403,t:none,t:urlDecodeUni"
SecRule REQUEST_BODY "@rx yyy" "id:2,phase:2,deny,status:403,t:none"
SecRule REQUEST_HEADERS:X-Data "@rx attackword" "id:3,phase:2,deny,status:403,t:none,t:urlDecodeUni"
SecRule REQUEST_HEADERS:X-Data "@rx attack%77" "id:4,phase:2,deny,status:403,t:none"
"#;
        let set = RuleSet::compile(&crate::seclang::parse_str(RULES, "b.conf").unwrap()).unwrap();
        let filter = set.prefilter.as_ref().unwrap();
        assert!(
            !std::ptr::eq(filter, filter.for_body()),
            "the body has a prefilter of its own"
        );
        let e = engine(RULES);
        let post = |data: &'static [u8]| post_text(&e, data, Some(data));
        for _ in 0..3 {
            assert_eq!(post(b"attack%77ord"), "3");
            assert_eq!(post(b"attack%77"), "4");
            assert_eq!(post(b"zz%7a"), "1");
        }
    }

    /// A long body is scanned as several stretches at once: a literal anywhere in it is found,
    /// across the stretches' borders and at either end included.
    #[test]
    fn a_literal_anywhere_in_a_long_body_is_found() {
        let e = engine(
            r#"
SecRuleEngine On
SecRequestBodyAccess On
SecRule REQUEST_BODY "@rx attackword" "id:1,phase:2,deny,status:403,t:none"
"#,
        );
        let post = |data: &[u8]| post_text(&e, data, None);
        let word = b"attackword";
        for len in [3_000usize, 10_000, 100_001] {
            let mut places = vec![0, len - word.len()];
            // The borders of halves, quarters and eighths, wherever the stretches fall.
            for parts in [2, 4, 8] {
                let part = len.div_ceil(parts);
                for border in (1..parts).map(|k| k * part) {
                    places.extend((border - word.len()..=border).step_by(3));
                }
            }
            for at in places {
                let mut body = vec![b'a'; len];
                body[at..at + word.len()].copy_from_slice(word);
                assert_eq!(post(&body), "1", "{len} bytes, word at {at}");
            }
            assert_eq!(post(&vec![b'a'; len]), "", "{len} bytes without the word");
        }
    }

    /// A value a rule missed is remembered per rule: another rule (other transformations) still
    /// matches the same value, and the rule still matches a value it has not seen, on requests
    /// after the misses were remembered.
    #[test]
    fn a_remembered_miss_never_hides_another_rules_or_another_values_match() {
        let e = engine(
            r#"
SecRuleEngine On
SecRule ARGS "@rx ^attack" "id:20,phase:2,deny,status:403,t:none"
SecRule ARGS "@rx ^attack" "id:21,phase:2,deny,status:403,t:none,t:urlDecode"
"#,
        );
        for _ in 0..3 {
            assert_eq!(ids(&e, b"/p?q=%252561ttack-attack"), "");
        }
        assert_eq!(ids(&e, b"/p?q=%2561ttack-attack"), "21");
        assert_eq!(ids(&e, b"/p?q=%2561ttack-attack"), "21");
        assert_eq!(ids(&e, b"/p?q=attack-attack"), "20");
    }

    /// Values of a recurring request that rules missed before are passed over as a group; a
    /// new value among them is still judged, by a plain rule and by a `multiMatch` one that
    /// decodes base64 (an attack behind known benign fields, and the same fields' values
    /// swapped over).
    #[test]
    fn known_benign_fields_never_hide_a_new_value_among_them() {
        let e = engine(
            r#"
SecRuleEngine On
SecRule ARGS "@rx ^attack" "id:20,phase:2,deny,status:403,t:none"
SecRule ARGS "@rx evil" "id:30,phase:2,deny,status:403,multiMatch,t:none,t:base64Decode"
"#,
        );
        let known = "/api?sku=SKU-00001&name=Blue%20shirt&qty=2&note=gift%20wrap";
        for _ in 0..3 {
            assert_eq!(ids(&e, known.as_bytes()), "");
        }
        assert_eq!(ids(&e, format!("{known}&x=attack").as_bytes()), "20");
        assert_eq!(ids(&e, format!("{known}&x=ZXZpbA==").as_bytes()), "30");
        assert_eq!(ids(&e, b"/api?sku=attack&name=SKU-00001"), "20");
        assert_eq!(ids(&e, b"/api?qty=2&sku=ZXZpbA=="), "30");
        assert_eq!(ids(&e, known.as_bytes()), "");
    }

    /// A value repeated in several fields (a JSON order's product name on every line) is
    /// judged in each of them, before and after the thread has seen it: every copy counts,
    /// under every transformation, and a different value among the copies is judged for itself.
    #[test]
    fn a_value_repeated_across_fields_counts_in_each() {
        let e = engine(
            r#"
SecRuleEngine On
SecRule ARGS "@rx ^attack" "id:20,phase:2,pass,nolog,t:none,setvar:tx.plain=+1"
SecRule ARGS "@rx ^attack" "id:21,phase:2,pass,nolog,t:none,t:urlDecode,t:lowercase,setvar:tx.decoded=+1"
SecRule TX:plain "@eq 2" "id:30,phase:2,pass,log"
SecRule TX:decoded "@eq 4" "id:31,phase:2,pass,log"
"#,
        );
        for _ in 0..3 {
            assert_eq!(
                ids(&e, b"/p?a=attack&b=%2541ttack&c=attack&d=%2541ttack"),
                "30,31"
            );
            assert_eq!(
                ids(&e, b"/p?a=%2541ttack&b=%2541ttack&c=%2541ttack&d=attack"),
                "31"
            );
            assert_eq!(
                ids(
                    &e,
                    b"/p?a=%2541ttack&b=%2541ttack&c=%2541ttack&d=%2541ttacx"
                ),
                ""
            );
        }
    }

    #[test]
    fn a_ctl_removing_a_target_with_a_bad_regex_fails_to_load_with_its_line() {
        let config = crate::seclang::parse_str(
            "SecRuleEngine On\nSecAction \"id:10,phase:1,pass,nolog,ctl:ruleRemoveTargetById=100;ARGS:/(/\"\n",
            "bad.conf",
        )
        .unwrap();
        let errors = RuleSet::compile(&config).unwrap_err();
        let text = errors[0].to_string();
        assert!(
            text.contains("bad.conf:2") && text.contains("ctl"),
            "{text}"
        );
    }
}
