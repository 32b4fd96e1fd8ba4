//! Ruling out a whole rule with one test. A rule whose first link reads only values this request
//! does not have (`REQUEST_HEADERS:Content-Type` on a GET, `FILES`, `XML:/*` …) cannot match:
//! with no value the operator never runs, negated or not. Beyond that, most CRS rules read the same few groups of values
//! (`ARGS|ARGS_NAMES|REQUEST_COOKIES|…`) through the same few transformation chains, and on
//! benign requests their first link's prefilter literals occur in none of those values. At load
//! time each such rule gets a [`Gate`]: the [`Scope`] it reads (its value groups and chain,
//! shared by every rule that reads the same) and its prefilter id. Per request, a scope's values'
//! scans are OR-ed once; a rule whose bit is absent cannot match and is passed over without
//! touching its targets.
//!
//! A scope may hold more values than the rule reads (a `/regex/` key selector or an exclusion
//! only narrows them), which can only let a rule through to the exact check, never skip a match.

use std::collections::HashMap;

use super::prefilter;
use super::ruleset::{CompiledRule, Link, Target};
use super::transaction::Transaction;
use super::value_cache::{group_index, FieldGroup};
use super::variables;
use crate::parse::Source;
use crate::seclang::variables::Collection;

/// What a gated rule reads, as the prefilter sees it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Input {
    /// Every value (or name) of a field source.
    Group { source: Source, names: bool },
    /// The values (or names) of a field source's fields with one name (ASCII case ignored).
    Named {
        source: Source,
        names: bool,
        key: Vec<u8>,
    },
    /// A request scalar that keeps its cache slot for the whole request (`REQUEST_URI` …).
    Scalar(Collection),
}

/// An input a scope lists one by one (whole groups are in [`Scope::groups`]).
#[derive(Debug)]
enum Listed {
    /// As [`Input::Named`].
    Named {
        source: Source,
        names: bool,
        key: Vec<u8>,
    },
    /// As [`Input::Scalar`].
    Scalar(Collection),
}

/// Values read through one transformation chain; rules that read the same share a scope.
///
/// Whole groups are kept as a bit set, so that a request's first look at a scope reads no
/// list for them; only named fields and scalars are listed.
#[derive(Debug)]
pub struct Scope {
    /// The [`Input::Group`]s read, one bit each at their [`group_index`].
    groups: u32,
    /// The other inputs read and the target each came from (resolves a scalar's value).
    others: Vec<(Listed, Target)>,
    /// The index of a rule whose first link has the scope's chain.
    rule: usize,
    /// That link's transformation chain.
    chain: u32,
}

/// A rule's gate: the scope its first link reads and that link's prefilter id.
#[derive(Debug, Clone, Copy)]
pub struct Gate {
    /// Index in [`Gates::scopes`].
    pub scope: u32,
    /// The first link's prefilter id; `None` when only the scope's having values is checked
    /// (no literals, or `multiMatch`).
    pub id: Option<u32>,
}

/// The gates of a rule set.
#[derive(Debug, Default)]
pub struct Gates {
    /// Per rule (by index), its gate, if its first link can be ruled out by the prefilter.
    pub by_rule: Vec<Option<Gate>>,
    /// The scopes the gates refer to.
    pub scopes: Vec<Scope>,
}

impl Gates {
    /// Gives every rule whose first link has an operator and reads only parsed fields and fixed
    /// request scalars (no counts) a gate.
    pub fn build(rules: &[CompiledRule]) -> Gates {
        let mut gates = Gates::default();
        let mut index: HashMap<(Vec<Input>, u32), u32> = HashMap::new();
        for (r, rule) in rules.iter().enumerate() {
            let gate = rule.links.first().and_then(|link| {
                let (inputs, targets) = inputs_of(link)?;
                let id = link.prefilter.filter(|_| !link.multi_match);
                // A scope only checked for values needs no chain.
                let chain = if id.is_some() {
                    link.chain_id
                } else {
                    u32::MAX
                };
                let n = gates.scopes.len() as u32;
                let scope = *index.entry((inputs.clone(), chain)).or_insert_with(|| {
                    gates
                        .scopes
                        .push(Scope::new(inputs, targets, r, link.chain_id));
                    n
                });
                Some(Gate { scope, id })
            });
            gates.by_rule.push(gate);
        }
        gates
    }
}

impl Scope {
    /// The scope of the rule at `rule`, whose first link reads `inputs` (from `targets`)
    /// through chain `chain`.
    fn new(inputs: Vec<Input>, targets: Vec<Target>, rule: usize, chain: u32) -> Scope {
        let mut groups = 0;
        let mut others = Vec::new();
        for (input, target) in inputs.into_iter().zip(targets) {
            let listed = match input {
                Input::Group { source, names } => {
                    groups |= 1 << group_index(source, names);
                    continue;
                }
                Input::Named { source, names, key } => Listed::Named { source, names, key },
                Input::Scalar(c) => Listed::Scalar(c),
            };
            others.push((listed, target));
        }
        Scope {
            groups,
            others,
            rule,
            chain,
        }
    }
}

/// The link's inputs (each once, in target order) and their targets, when every target has one.
fn inputs_of(link: &Link) -> Option<(Vec<Input>, Vec<Target>)> {
    link.operator.as_ref()?;
    let mut pairs: Vec<(Input, Target)> = Vec::new();
    for target in &link.targets {
        if target.spec.count {
            return None;
        }
        if let Some((sources, names)) = target.fields {
            for &source in sources {
                let input = match target.field_key() {
                    Some(key) => Input::Named {
                        source,
                        names,
                        key: key.to_ascii_lowercase(),
                    },
                    None => Input::Group { source, names },
                };
                if !pairs.iter().any(|(known, _)| *known == input) {
                    pairs.push((input, target.clone()));
                }
            }
        } else if variables::scalar_slot(target.spec.collection, 0).is_some()
            && target.spec.selector == crate::seclang::variables::Selector::None
        {
            let input = Input::Scalar(target.spec.collection);
            if !pairs.iter().any(|(known, _)| *known == input) {
                pairs.push((input, target.clone()));
            }
        } else {
            return None;
        }
    }
    Some(pairs.into_iter().unzip())
}

/// False when the rule at `rule` (an index in the rule set) cannot match this request: its
/// scope has no value, or its gate's prefilter id occurs in none of the scope's (transformed)
/// values. True without a gate.
pub fn may_match(rules: &super::RuleSet, rule: usize, tx: &Transaction<'_>) -> bool {
    let Some(Some(gate)) = rules.gates.by_rule.get(rule) else {
        return true;
    };
    let mut memo = tx.cache.scope(gate.scope);
    // Most gates find their scope's answer computed by an earlier rule.
    match (memo.present, memo.scan, gate.id) {
        (Some(false), _, _) => return false,
        (Some(true), _, None) => return true,
        (Some(true), Some(scan), Some(id)) => return tx.cache.has(scan, id),
        _ => {}
    }
    let scope = &rules.gates.scopes[gate.scope as usize];
    let present = *memo.present.get_or_insert_with(|| has_values(scope, tx));
    let (true, Some(id), Some(filter)) = (present, gate.id, &rules.prefilter) else {
        tx.cache.set_scope(gate.scope, memo);
        return present;
    };
    let scan = *memo
        .scan
        .get_or_insert_with(|| scope_scan(rules, filter, scope, tx));
    tx.cache.set_scope(gate.scope, memo);
    tx.cache.has(scan, id)
}

/// True when the request has a value for one of the scope's inputs.
fn has_values(scope: &Scope, tx: &Transaction<'_>) -> bool {
    scope.groups & tx.present_groups != 0
        || scope.others.iter().any(|(input, _)| match input {
            Listed::Named { source, key, .. } => tx.by_source[*source as usize]
                .iter()
                .any(|&i| tx.inputs.fields[i as usize].name.eq_ignore_ascii_case(key)),
            Listed::Scalar(c) => {
                scalar_slot(tx, *c).is_some_and(|slot| tx.cache.seen(slot))
                    || variables::scalar_value(tx, *c).is_some()
            }
        })
}

/// The cache slot of a request scalar.
fn scalar_slot(tx: &Transaction<'_>, c: Collection) -> Option<u32> {
    variables::scalar_slot(c, tx.inputs.fields.len())
}

/// ORs the scans of every value of the scope (after its chain) into a new arena entry.
fn scope_scan(
    rules: &super::RuleSet,
    filter: &prefilter::Prefilter,
    scope: &Scope,
    tx: &Transaction<'_>,
) -> u32 {
    let trigger = rules.chains.trigger(scope.chain);
    // Only values read one by one need the link itself.
    let link = || &rules.rules[scope.rule].links[0];
    let mut bits = prefilter::Bits::zeroed(filter.words());
    // Groups first: those an earlier scope through the same chain computed are OR-ed in one
    // look, the rest computed in turn.
    let present = scope.groups & tx.present_groups;
    let mut missing = tx.cache.or_known_groups(present, scope.chain, &mut bits);
    while missing != 0 {
        let g = missing.trailing_zeros() as usize;
        missing &= missing - 1;
        let source = Source::ALL[g / 2];
        let group = FieldGroup {
            fields: &tx.inputs.fields,
            indices: &tx.by_source[source as usize],
            source,
            names: g % 2 == 1,
        };
        let or = tx
            .cache
            .group_or(filter, &group, &rules.chains, scope.chain);
        tx.cache.or_into(&mut bits, or);
    }
    for (input, target) in &scope.others {
        match input {
            Listed::Named { source, names, key } => {
                for &i in &tx.by_source[*source as usize] {
                    let f = &tx.inputs.fields[i as usize];
                    if !f.name.eq_ignore_ascii_case(key) {
                        continue;
                    }
                    let (slot, value) = if *names {
                        (2 * i + 1, &f.name[..])
                    } else {
                        (2 * i, &f.value[..])
                    };
                    let scan = tx.cache.value_scan(filter, link(), trigger, slot, value);
                    tx.cache.or_into(&mut bits, scan);
                }
            }
            Listed::Scalar(c) => {
                let known =
                    scalar_slot(tx, *c).and_then(|s| tx.cache.known_scan(link(), trigger, s));
                if let Some(scan) = known {
                    tx.cache.or_into(&mut bits, scan);
                    continue;
                }
                for v in variables::resolve(tx, target) {
                    match v.slot {
                        Some(slot) => {
                            let scan = tx.cache.value_scan(filter, link(), trigger, slot, &v.value);
                            tx.cache.or_into(&mut bits, scan);
                        }
                        None => bits.iter_mut().for_each(|w| *w = u64::MAX),
                    }
                }
            }
        }
    }
    tx.cache.store(&bits)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use crate::request::{Header, Request};
    use crate::{Engine, Settings};

    /// Rules reading a field group, one named header, a scalar, and a group through a
    /// decoding chain, each needing a literal the benign request lacks.
    const RULES: &str = r#"
SecRuleEngine On
SecRule ARGS|ARGS_NAMES|REQUEST_COOKIES "@rx union\s+select" "id:1,phase:2,deny,status:403,t:none,t:urlDecodeUni"
SecRule REQUEST_HEADERS:User-Agent "@pm sqlmap nikto" "id:2,phase:1,deny,status:403,t:none,t:lowercase"
SecRule REQUEST_FILENAME "@rx /etc/passwd" "id:3,phase:1,deny,status:403,t:none"
SecRule ARGS "@rx <script" "id:4,phase:2,deny,status:403,t:none,t:htmlEntityDecode,t:lowercase"
"#;

    fn engine() -> Engine {
        let config = crate::seclang::parse_str(RULES, "gate-test.conf").unwrap();
        let rules = super::super::RuleSet::compile(&config).unwrap();
        assert_eq!(
            rules.gates.by_rule.iter().filter(|g| g.is_some()).count(),
            4,
            "every rule above is gated"
        );
        Engine::with_rules(Settings::default(), Some(Arc::new(rules)))
    }

    fn verdict(engine: &Engine, uri: &[u8], user_agent: &[u8], referer: &[u8]) -> String {
        let req = Request {
            method: b"GET",
            uri,
            version: b"HTTP/1.1",
            headers: vec![
                Header {
                    name: b"User-Agent",
                    value: user_agent,
                },
                Header {
                    name: b"Referer",
                    value: referer,
                },
            ],
            ..Default::default()
        };
        // The built-in detectors' findings (ids 100000 and up) are not this test's business.
        let ids = engine.check(&req, None).rule_ids();
        let ours: Vec<&str> = ids.split(',').filter(|id| id.len() < 4).collect();
        ours.join(",")
    }

    #[test]
    fn gated_rules_still_match_where_their_literal_is() {
        let e = engine();
        assert_eq!(verdict(&e, b"/shop?q=shirts", b"Mozilla/5.0", b"-"), "");
        assert_eq!(
            verdict(
                &e,
                b"/shop?q=1%20union%20%20select%20pw",
                b"Mozilla/5.0",
                b"-"
            ),
            "1"
        );
        assert_eq!(verdict(&e, b"/shop?q=x", b"sqlmap/1.7", b"-"), "2");
        // Only the named header counts: the literal in another header passes the gate's
        // scope but not the rule.
        assert_eq!(verdict(&e, b"/shop?q=x", b"Mozilla/5.0", b"sqlmap"), "");
        assert_eq!(verdict(&e, b"/etc/passwd", b"Mozilla/5.0", b"-"), "3");
        assert_eq!(
            verdict(&e, b"/shop?c=%26lt;SCRIPT%26gt;", b"Mozilla/5.0", b"-"),
            "4"
        );
    }

    /// Requests on one thread reuse the previous request's buffers (value cache, `TX`): nothing
    /// of one request's values or variables may carry over to the next.
    #[test]
    fn consecutive_requests_do_not_see_each_others_values() {
        let e = engine();
        for _ in 0..3 {
            assert_eq!(
                verdict(&e, b"/shop?q=1%20union%20select%20pw", b"Mozilla/5.0", b"-"),
                "1"
            );
            assert_eq!(verdict(&e, b"/shop?q=1%20union", b"Mozilla/5.0", b"-"), "");
            assert_eq!(verdict(&e, b"/shop?q=x", b"nikto", b"-"), "2");
            assert_eq!(verdict(&e, b"/shop?q=x", b"Mozilla/5.0", b"-"), "");
        }
    }
}
