//! The start of phase 1 that every request runs the same way. CRS begins each request with
//! dozens of rules that read only `TX` and set `TX` defaults (`crs-setup.conf`'s settings,
//! 901's initialisation): their outcome cannot depend on the request. They run once at load,
//! on an empty request; each request starts from the `TX` they left and resumes phase 1 after
//! them.
//!
//! Later rules that test only `TX` keys nothing after the prologue writes (CRS's paranoia-level
//! skips at the start and end of every file, in both phases; the scoring rules of paranoia
//! levels above the configured one) often have an outcome known at load too: each request takes
//! it without evaluating them.

use std::collections::HashSet;

use super::eval;
use super::ruleset::{in_ranges, CompiledRule, Disruptive, Link, RuleSet};
use super::transaction::Transaction;
use super::tx_map::TxMap;
use crate::parse::Inputs;
use crate::request::Request;
use crate::seclang::ast::{EngineMode, IdRange};
use crate::seclang::macros::{MacroPart, MacroString};
use crate::seclang::variables::{Collection, Selector};

/// The next [`Prologue::uid`] (0 is no prologue's).
static NEXT_UID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

/// Phase 1's request-independent start, run at load.
#[derive(Debug, Default)]
pub struct Prologue {
    /// Where phase 1 resumes: a position in its rule order and the rules still to `skip`.
    pub resume: (usize, u32),
    /// `TX` after the prologue.
    pub tx: TxMap,
    /// The prologue's identity, unique in the process (a thread's spare `TX` map remembers
    /// which prologue's state it was last put in).
    pub uid: u64,
    /// `MATCHED_VARS` after the prologue.
    pub matched: Matched,
    /// The ids of the rules the prologue ran (a location removing one of them runs phase 1
    /// from its start).
    pub ids: Vec<u32>,
    /// Per rule (by index): its outcome, when it is known at load (see the module's doc).
    pub known: Vec<Option<Known>>,
    /// Per phase, per position in its rule order: the [`Run`] of rules that starts there.
    pub runs: [Vec<Option<Run>>; 6],
}

/// Consecutive rules (in the order a request meets them, skips followed) whose outcomes are
/// known at load and that do nothing but skip when they match: a request with nothing removed
/// goes past them in one step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Run {
    /// The position in the phase's order where the request goes on.
    pub to: u32,
    /// The rules it still skips there (`skip:N` of the run's last match).
    pub skip: u32,
    /// The index of the run's last matching rule: its [`Known::Match`] variables are
    /// `MATCHED_VARS` after the run.
    pub matched: Option<u32>,
}

/// `MATCHED_VARS` as a rule left them: `(name, value)` in order; the last is `MATCHED_VAR`.
pub type Matched = Vec<(String, Vec<u8>)>;

/// The outcome of a rule known at load.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Known {
    /// It does not match.
    NoMatch,
    /// It matches, with these `MATCHED_VARS`.
    Match(Matched),
    /// Its one link matches, with this one `MATCHED_VAR`, and its `setvar`s then run (their
    /// values may depend on the request: CRS's scoring rules add up the request's scores
    /// under a paranoia-level test known at load).
    MatchThenSet(Matched),
}

impl Prologue {
    /// Runs phase 1 of `rules` on an empty request for as long as each rule reads only `TX`
    /// (and the rules before it set what it reads); stops before the first rule that reads the
    /// request, writes anything but `TX`, or would log or stop the request. `None` when not
    /// one rule qualifies.
    pub fn compute(rules: &RuleSet) -> Option<Prologue> {
        if rules.engine_mode == EngineMode::Off {
            return None;
        }
        let req = Request::default();
        let mut tx = Transaction::new(&req, Inputs::default(), &[], rules.engine_mode);
        let order = &rules.phase_rules[1];
        let mut ids = Vec::new();
        let (mut i, mut skip) = (0usize, 0u32);
        while let Some(&index) = order.get(i) {
            let rule = &rules.rules[index];
            if !reads_only_tx(rule) {
                break;
            }
            if skip > 0 {
                skip -= 1;
                i += 1;
                continue;
            }
            let before = (tx.tx.clone(), matched_of(&tx));
            let matched = eval::rule_matches(rules, rule, &mut tx);
            if matched && !quiet(rule) {
                tx.tx = before.0;
                set_matched(&mut tx, &before.1);
                break;
            }
            ids.push(rule.id);
            i += 1;
            if matched {
                eval::apply_actions(rule, &mut tx);
                (i, skip) = rule.resume_after_match(order, i);
            }
        }
        if ids.is_empty() || !tx.matches.is_empty() {
            return None;
        }
        let matched = matched_of(&tx);
        let known = known_outcomes(rules, (i, skip), &mut tx);
        let runs =
            std::array::from_fn(|phase| known_runs(rules, &rules.phase_rules[phase], &known));
        Some(Prologue {
            resume: (i, skip),
            tx: std::mem::take(&mut tx.tx),
            uid: NEXT_UID.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            matched,
            ids,
            known,
            runs,
        })
    }

    /// True when a location removing `removed` leaves every rule of the prologue in place.
    pub fn applies(&self, removed: &[IdRange]) -> bool {
        removed.is_empty() || !self.ids.iter().any(|&id| in_ranges(removed, id))
    }
}

/// The `MATCHED_VARS` of `tx`.
fn matched_of(tx: &Transaction<'_>) -> Matched {
    tx.matched_vars
        .iter()
        .map(|m| (m.name.clone(), m.value.clone()))
        .collect()
}

/// Sets `MATCHED_VARS`, `MATCHED_VAR` and `MATCHED_VAR_NAME` as a rule matching `matched` would.
pub fn set_matched(tx: &mut Transaction<'_>, matched: &Matched) {
    tx.matched_vars.clear();
    for (name, value) in matched {
        let m = tx.matched_vars.push();
        m.name.clone_from(name);
        m.value.clone_from(value);
    }
    match matched.last() {
        Some((name, value)) => {
            tx.matched_var_name.clone_from(name);
            tx.matched_var.clone_from(value);
        }
        None => {
            tx.matched_var_name.clear();
            tx.matched_var.clear();
        }
    }
}

/// The outcomes known at load of the rules after the prologue (which ends at `resume` of phase
/// 1, leaving `tx`). A rule whose conditions read only `TX` keys, none of which a rule between
/// the prologue and it may write, has the outcome it has on the prologue's `TX`: known when it
/// matches and only skips then (no `setvar`, `capture`, logging or disruptive action), or when
/// its first condition fails (nothing of it runs); or, for a one-link rule that only sets
/// variables, known to match (its `setvar`s run per request).
fn known_outcomes(
    rules: &RuleSet,
    resume: (usize, u32),
    tx: &mut Transaction<'_>,
) -> Vec<Option<Known>> {
    let start = (tx.tx.clone(), matched_of(tx));
    let mut known = vec![None; rules.rules.len()];
    let after = rules.phase_rules[1][resume.0..]
        .iter()
        .chain(rules.phase_rules[2..].iter().flatten());
    let mut written: HashSet<String> = HashSet::new();
    // Keys named with macros (`tx.rfi_parameter_%{MATCHED_VAR_NAME}`) by their literal start.
    let mut written_prefixes: Vec<String> = Vec::new();
    for &index in after {
        let rule = &rules.rules[index];
        let stable = |k: &str| {
            !written.contains(k) && !written_prefixes.iter().any(|p| k.starts_with(p.as_str()))
        };
        let settled = |link: &Link| tests_only_tx(link) && tx_reads(link).all(stable);
        let whole = rule.links.iter().all(settled) && only_skips(rule);
        if whole || rule.links.first().is_some_and(settled) {
            tx.tx.clone_from(&start.0);
            set_matched(tx, &start.1);
            known[index] = if whole {
                Some(if eval::rule_matches(rules, rule, tx) {
                    Known::Match(matched_of(tx))
                } else {
                    Known::NoMatch
                })
            } else if !eval::link_matches(rules, rule, &rule.links[0], tx) {
                Some(Known::NoMatch)
            } else {
                (rule.links.len() == 1 && only_sets(rule) && tx.matched_vars.len() == 1)
                    .then(|| Known::MatchThenSet(matched_of(tx)))
            };
        }
        for link in &rule.links {
            if link.capture {
                written.extend((0..10).map(|n| n.to_string()));
            }
            for s in link.setvars.iter().filter(|s| s.collection == "tx") {
                let (start, whole) = literal_start(&s.name);
                if whole {
                    written.insert(start);
                } else {
                    written_prefixes.push(start);
                }
            }
        }
    }
    tx.tx = start.0;
    set_matched(tx, &start.1);
    known
}

/// Per position of a phase's rule `order`: the [`Run`] starting there, if the rule there has a
/// known outcome and does nothing but skip (no gate either: it reads only `TX`).
fn known_runs(rules: &RuleSet, order: &[usize], known: &[Option<Known>]) -> Vec<Option<Run>> {
    let skips_only = |index: usize| {
        rules.gates.by_rule[index].is_none()
            && matches!(known[index], Some(Known::NoMatch | Known::Match(_)))
    };
    (0..order.len())
        .map(|start| {
            if !skips_only(order[start]) {
                return None;
            }
            let (mut at, mut skip, mut matched) = (start, 0u32, None);
            while let Some(&index) = order.get(at) {
                if skip > 0 {
                    skip -= 1;
                    at += 1;
                    continue;
                }
                if !skips_only(index) {
                    break;
                }
                at += 1;
                if let Some(Known::Match(_)) = known[index] {
                    matched = Some(index as u32);
                    (at, skip) = rules.rules[index].resume_after_match(order, at);
                }
            }
            Some(Run {
                to: at as u32,
                skip,
                matched,
            })
        })
        .collect()
}

/// True when the rule, when it matches, does nothing but skip: no `setvar`, `ctl`, `capture`,
/// logging or disruptive action, and no link without an operator.
fn only_skips(rule: &CompiledRule) -> bool {
    only_sets(rule) && rule.links.iter().all(|l| l.setvars.is_empty())
}

/// True when the rule, when it matches, does nothing but its `setvar`s and skips: no `ctl`,
/// `capture`, logging or disruptive action, and no link without an operator.
fn only_sets(rule: &CompiledRule) -> bool {
    quiet(rule)
        && rule
            .links
            .iter()
            .all(|l| l.ctls.is_empty() && !l.capture && l.operator.is_some())
}

/// The `TX` keys a link tests: its targets' and its operator argument's macros (lower-cased).
fn tx_reads(link: &Link) -> impl Iterator<Item = &str> {
    let targets = link.targets.iter().filter_map(|t| match &t.spec.selector {
        Selector::Key(k) => Some(k.as_str()),
        _ => None,
    });
    let macros = link
        .operator_argument
        .iter()
        .flat_map(|a| a.parts.iter())
        .filter_map(|p| match p {
            MacroPart::Macro { key, .. } => key.as_deref(),
            MacroPart::Literal(_) => None,
        });
    targets.chain(macros)
}

/// The lower-cased text of a macro string before its first macro, and whether that is all of
/// it.
fn literal_start(s: &MacroString) -> (String, bool) {
    let mut start = String::new();
    for p in &s.parts {
        match p {
            MacroPart::Literal(l) => start.push_str(&l.to_ascii_lowercase()),
            MacroPart::Macro { .. } => return (start, false),
        }
    }
    (start, true)
}

/// True when a matched rule has no effect beyond its `setvar`s and skips: it does not log,
/// deny or allow.
fn quiet(rule: &CompiledRule) -> bool {
    !rule.log && rule.disruptive == Disruptive::Pass
}

/// True when every link of the rule reads only `TX` keys and writes only `TX`, with macros
/// naming only `TX`, so its outcome depends on nothing but the `TX` the rules before it left.
fn reads_only_tx(rule: &CompiledRule) -> bool {
    rule.links.iter().all(|link| {
        tests_only_tx(link)
            && link.ctls.is_empty()
            && link.setvars.iter().all(|s| {
                s.collection.eq_ignore_ascii_case("tx") && tx_only(&s.name) && tx_only(&s.value)
            })
    })
}

/// True when the link tests only `TX` keys (its actions aside).
fn tests_only_tx(link: &Link) -> bool {
    link.exclusions.is_empty()
        && link
            .operator
            .as_ref()
            .map_or(true, |o| o.reads_only_its_input())
        && link.operator_argument.as_ref().map_or(true, tx_only)
        && link.targets.iter().all(|t| {
            t.spec.collection == Collection::Tx && matches!(t.spec.selector, Selector::Key(_))
        })
}

/// True when the macros of `s` name only `TX` keys.
fn tx_only(s: &MacroString) -> bool {
    s.parts.iter().all(|p| match p {
        MacroPart::Literal(_) => true,
        MacroPart::Macro { collection, key } => {
            *collection == Some(Collection::Tx) && key.is_some()
        }
    })
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::super::{LocationRules, RuleSet};
    use super::Known;
    use crate::request::Request;
    use crate::seclang::ast::IdRange;
    use crate::{Engine, Settings};

    /// A CRS-like start: settings, defaults that depend on earlier settings, a paranoia skip,
    /// then rules reading the request that use what the start set.
    const RULES: &str = r#"
SecRuleEngine On
SecAction "id:10,phase:1,pass,nolog,setvar:tx.paranoia=1,setvar:tx.limit=2"
SecRule &TX:threshold "@eq 0" "id:11,phase:1,pass,nolog,setvar:tx.threshold=%{tx.limit}"
SecRule TX:paranoia "@lt 2" "id:12,phase:1,pass,nolog,skipAfter:END-PL2"
SecAction "id:13,phase:1,pass,nolog,setvar:tx.threshold=100"
SecMarker "END-PL2"
SecRule REQUEST_URI "@contains attack" "id:20,phase:1,pass,nolog,setvar:tx.score=+2"
SecRule ARGS:extra "@rx ." "id:21,phase:2,pass,nolog,setvar:tx.score=+1"
SecRule TX:score "@ge %{tx.threshold}" "id:30,phase:2,deny,status:403,log,msg:'score %{tx.score}'"
"#;

    fn rules() -> RuleSet {
        let config = crate::seclang::parse_str(RULES, "prologue-test.conf").unwrap();
        RuleSet::compile(&config).unwrap()
    }

    fn ids(engine: &Engine, uri: &[u8], removed: &[IdRange]) -> String {
        ids_with(engine, &rules(), uri, removed)
    }

    /// The ids of the rules of `set` that a GET of `uri` matches, `removed` removed.
    fn ids_with(engine: &Engine, set: &RuleSet, uri: &[u8], removed: &[IdRange]) -> String {
        let req = Request {
            method: b"GET",
            uri,
            version: b"HTTP/1.1",
            ..Default::default()
        };
        let located = LocationRules { set, removed };
        engine
            .check_with_rules(&req, None, Some(located))
            .rule_ids()
    }

    #[test]
    fn the_request_independent_start_runs_at_load() {
        let set = rules();
        let p = set.prologue.as_ref().expect("rules 10-12 read only TX");
        assert_eq!(p.ids, [10, 11, 12]);
        assert_eq!(p.tx.get("threshold").map(Vec::as_slice), Some(&b"2"[..]));
        let next = set.rules[set.phase_rules[1][p.resume.0]].id;
        assert_eq!(next, 20, "13 was skipped; 20 reads the request");
    }

    #[test]
    fn requests_are_judged_as_if_the_start_ran_for_each() {
        let engine = Engine::with_rules(Settings::default(), Some(Arc::new(rules())))
            .without_builtin_detectors();
        assert_eq!(ids(&engine, b"/attack", &[]), "30");
        assert_eq!(ids(&engine, b"/attack?extra=1", &[]), "30");
        assert_eq!(ids(&engine, b"/home?extra=1", &[]), "");
        // The TX the last request wrote (score) is not seen by the next one.
        assert_eq!(ids(&engine, b"/home?extra=1", &[]), "");
    }

    #[test]
    fn a_location_removing_a_start_rule_runs_phase_1_from_its_start() {
        let engine = Engine::with_rules(Settings::default(), Some(Arc::new(rules())))
            .without_builtin_detectors();
        // Without the paranoia skip (12), rule 13 raises the threshold out of reach.
        let removed = [IdRange { start: 12, end: 12 }];
        assert_eq!(ids(&engine, b"/attack", &removed), "");
        assert_eq!(ids(&engine, b"/attack", &[]), "30");
    }

    /// Paranoia-level skips known at load, then a rule that reads the `MATCHED_VAR_NAME` they
    /// leave; earlier rules can remove a skip by id or by tag for one request.
    const SKIPS: &str = r#"
SecRuleEngine On
SecAction "id:1,phase:1,pass,nolog,setvar:tx.pl=1"
SecRule REQUEST_URI "@contains unskip" "id:2,phase:1,pass,nolog,ctl:ruleRemoveById=5"
SecRule REQUEST_URI "@contains untag" "id:3,phase:1,pass,nolog,ctl:ruleRemoveByTag=pl-skip"
SecRule TX:pl "@lt 1" "id:4,phase:2,pass,nolog,skipAfter:END-PL1"
SecRule TX:pl "@lt 2" "id:5,phase:2,pass,nolog,tag:'pl-skip',skipAfter:END-PL2"
SecRule REQUEST_URI "@rx ." "id:6,phase:2,deny,log,msg:'paranoia 2'"
SecMarker "END-PL2"
SecRule TX:pl "@lt 3" "id:7,phase:2,pass,nolog,skipAfter:END-PL3"
SecRule REQUEST_URI "@rx ." "id:8,phase:2,deny,log,msg:'paranoia 3'"
SecMarker "END-PL3"
SecMarker "END-PL1"
SecRule MATCHED_VAR_NAME "@streq TX:pl" "id:9,phase:2,pass,log,msg:'after the skips'"
"#;

    #[test]
    fn known_skips_are_passed_in_one_step_unless_a_rule_removed_one() {
        let config = crate::seclang::parse_str(SKIPS, "prologue-skips.conf").unwrap();
        let set = RuleSet::compile(&config).unwrap();
        let index = |id: u32| set.rules.iter().position(|r| r.id == id).unwrap();
        let order = &set.phase_rules[2];
        let start = order.iter().position(|&r| r == index(4)).unwrap();
        let run = set.prologue.as_ref().unwrap().runs[2][start].expect("4, 5 and 7 are known");
        assert_eq!(
            order[run.to as usize],
            index(9),
            "the run ends before rule 9"
        );
        assert_eq!(run.matched, Some(index(7) as u32));
        let engine = Engine::new(Settings::default()).without_builtin_detectors();
        for _ in 0..2 {
            assert_eq!(
                ids_with(&engine, &set, b"/home", &[]),
                "9",
                "rule 7 matched last"
            );
            assert_eq!(ids_with(&engine, &set, b"/home?unskip", &[]), "6");
            assert_eq!(ids_with(&engine, &set, b"/home?untag", &[]), "6");
            let removed = [IdRange { start: 7, end: 7 }];
            assert_eq!(ids_with(&engine, &set, b"/home", &removed), "8");
        }
    }

    #[test]
    fn later_rules_reading_only_settled_tx_keys_have_known_outcomes() {
        let config = crate::seclang::parse_str(
            r#"
SecAction "id:1,phase:1,pass,nolog,setvar:tx.pl=1"
SecRule REQUEST_URI "@rx ." "id:2,phase:1,pass,nolog,setvar:tx.seen=1,setvar:'tx.arg_%{tx.pl}=1'"
SecRule TX:pl "@lt 2" "id:3,phase:2,pass,nolog,skipAfter:END"
SecRule TX:seen "@eq 1" "id:4,phase:2,pass,nolog,skipAfter:END"
SecRule TX:arg_1 "@eq 1" "id:5,phase:2,pass,nolog,skipAfter:END"
SecRule TX:pl "@eq 1" "id:6,phase:2,pass,log,msg:'pl'"
SecRule TX:other "@eq 1" "id:7,phase:2,pass,nolog"
SecRule TX:pl "@ge 2" "id:8,phase:2,deny,log,setvar:tx.score=+5,chain"
    SecRule REQUEST_URI "@rx ." "setvar:tx.other=1"
SecMarker END
"#,
            "prologue-known.conf",
        )
        .unwrap();
        let set = RuleSet::compile(&config).unwrap();
        let known = &set.prologue.as_ref().unwrap().known;
        let of = |id: u32| {
            let i = set.rules.iter().position(|r| r.id == id).unwrap();
            known[i].clone()
        };
        assert_eq!(
            of(3),
            Some(Known::Match(vec![("TX:pl".to_string(), b"1".to_vec())]))
        );
        assert_eq!(of(4), None, "rule 2 writes tx.seen per request");
        assert_eq!(of(5), None, "rule 2 may write tx.arg_<anything>");
        assert_eq!(of(6), None, "it logs");
        assert_eq!(of(7), Some(Known::NoMatch));
        assert_eq!(of(8), Some(Known::NoMatch), "its first condition fails");
    }

    #[test]
    fn a_scoring_rule_under_a_settled_test_adds_each_requests_own_score() {
        let config = crate::seclang::parse_str(
            r#"
SecRuleEngine On
SecAction "id:1,phase:1,pass,nolog,setvar:tx.pl=1,setvar:tx.total=0"
SecRule REQUEST_URI "@contains attack" "id:2,phase:1,pass,nolog,setvar:tx.score=+5"
SecRule REQUEST_URI "@contains worse" "id:3,phase:1,pass,nolog,setvar:tx.score=+5"
SecRule TX:pl "@ge 1" "id:4,phase:2,pass,nolog,setvar:'tx.total=+%{tx.score}'"
SecRule TX:pl "@ge 2" "id:5,phase:2,pass,nolog,setvar:'tx.total=+100'"
SecRule TX:total "@ge 10" "id:6,phase:2,deny,status:403,log,msg:'total %{tx.total}'"
"#,
            "prologue-scoring.conf",
        )
        .unwrap();
        let set = RuleSet::compile(&config).unwrap();
        let known = &set.prologue.as_ref().unwrap().known;
        let of = |id: u32| known[set.rules.iter().position(|r| r.id == id).unwrap()].clone();
        assert_eq!(
            of(4),
            Some(Known::MatchThenSet(vec![(
                "TX:pl".to_string(),
                b"1".to_vec()
            )]))
        );
        assert_eq!(of(5), Some(Known::NoMatch));
        assert_eq!(of(6), None, "rule 4 writes tx.total per request");
        let engine = Engine::with_rules(Settings::default(), None).without_builtin_detectors();
        for _ in 0..2 {
            assert_eq!(ids_with(&engine, &set, b"/attack/worse", &[]), "6");
            assert_eq!(ids_with(&engine, &set, b"/attack", &[]), "");
            assert_eq!(ids_with(&engine, &set, b"/", &[]), "");
        }
    }

    #[test]
    fn a_known_rule_whose_target_a_ctl_removed_is_evaluated() {
        let config = crate::seclang::parse_str(
            r#"
SecRuleEngine On
SecAction "id:1,phase:1,pass,nolog,setvar:tx.pl=1"
SecRule REQUEST_URI "@contains unskip" "id:2,phase:1,pass,nolog,ctl:ruleRemoveTargetById=3;TX:pl"
SecRule TX:pl "@lt 2" "id:3,phase:2,pass,nolog,skipAfter:END"
SecAction "id:4,phase:2,deny,status:403,log,msg:'not skipped'"
SecMarker END
"#,
            "prologue-ctl.conf",
        )
        .unwrap();
        let set = RuleSet::compile(&config).unwrap();
        let i = set.rules.iter().position(|r| r.id == 3).unwrap();
        assert!(matches!(
            set.prologue.as_ref().unwrap().known[i],
            Some(Known::Match(_))
        ));
        let engine = Engine::new(Settings::default()).without_builtin_detectors();
        assert_eq!(ids_with(&engine, &set, b"/home", &[]), "");
        assert_eq!(ids_with(&engine, &set, b"/home?unskip", &[]), "4");
    }

    #[test]
    fn a_rule_that_would_log_or_deny_ends_the_start() {
        let config = crate::seclang::parse_str(
            r#"
SecAction "id:1,phase:1,pass,nolog,setvar:tx.a=1"
SecRule TX:a "@eq 1" "id:2,phase:1,pass,log,msg:'seen'"
SecAction "id:3,phase:1,pass,nolog,setvar:tx.b=1"
"#,
            "prologue-log.conf",
        )
        .unwrap();
        let set = RuleSet::compile(&config).unwrap();
        let prologue = set.prologue.as_ref().unwrap();
        assert_eq!(prologue.ids, [1]);
        assert!(prologue.matched.is_empty(), "rule 2's match was undone");
        let config = crate::seclang::parse_str(
            r#"SecRule REQUEST_METHOD "@streq GET" "id:1,phase:1,pass,nolog,setvar:tx.a=1""#,
            "prologue-none.conf",
        )
        .unwrap();
        assert!(RuleSet::compile(&config).unwrap().prologue.is_none());
    }
}
