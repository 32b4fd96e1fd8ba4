//! Per-request state of the rule engine: the request's parsed inputs, the `TX` collection and the
//! other writable collections, captures, the matched-variable trail, runtime exclusions (`ctl`),
//! and what matched.

use std::borrow::Cow;

use super::fast_hash::FastMap;
use super::matched_vars::MatchedVars;
use super::prologue::{set_matched, Prologue};
use super::ruleset::Target;
use super::spare;
use super::tx_map::TxMap;
use super::value_cache::{group_index, ValueCache, SOURCES};
use crate::parse::{BodyProcessor, Inputs, ParseFlags};
use crate::request::{Request, Response};
use crate::seclang::ast::{EngineMode, IdRange};
use crate::seclang::macros::{MacroPart, MacroString};

/// One rule that matched (and logs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleMatch {
    /// Rule id.
    pub id: u32,
    /// Expanded `msg`.
    pub msg: String,
    /// Expanded `logdata`.
    pub data: String,
    /// `severity` 0–7, if given.
    pub severity: Option<u8>,
    /// The variable that matched last, e.g. `ARGS:q`.
    pub variable: String,
    /// Whether the rule logs (`nolog` rules are recorded for `$moat_rule_ids` only when they disrupt).
    pub log: bool,
    /// Tags.
    pub tags: Vec<String>,
}

/// A runtime target exclusion from `ctl:ruleRemoveTargetById` / `ByTag`.
#[derive(Debug, Clone)]
pub struct TargetExclusion {
    /// Rules it applies to, by id.
    pub ids: Vec<IdRange>,
    /// Or by tag (exact).
    pub tag: Option<String>,
    /// Targets removed (compiled at load, shared).
    pub targets: std::sync::Arc<[Target]>,
}

/// The state of one request going through the rules.
pub struct Transaction<'t> {
    /// The request.
    pub req: &'t Request<'t>,
    /// Its parsed inputs.
    pub inputs: Inputs<'t>,
    /// The body bytes inspected.
    pub body: &'t [u8],
    /// `TX` (keys lower-cased; captures live at `0`–`9`).
    pub tx: TxMap,
    /// `IP`, `SESSION`, `GLOBAL`, `USER`, `RESOURCE`, `ENV` (transaction-local).
    pub collections: FastMap<String, FastMap<String, Vec<u8>>>,
    /// `MATCHED_VAR`.
    pub matched_var: Vec<u8>,
    /// `MATCHED_VAR_NAME`.
    pub matched_var_name: String,
    /// `MATCHED_VARS` (name, value) of the rule being evaluated.
    pub matched_vars: MatchedVars,
    /// The buffers a link's search fills before they become `matched_vars`.
    pub spare_vars: MatchedVars,
    /// Rules removed at runtime by id.
    pub removed_ids: Vec<IdRange>,
    /// Rules removed at runtime by tag.
    pub removed_tags: Vec<String>,
    /// Targets removed at runtime.
    pub removed_targets: Vec<TargetExclusion>,
    /// `SecRuleEngine` (changed by `ctl:ruleEngine`).
    pub engine_mode: EngineMode,
    /// Set by `ctl:requestBodyProcessor`.
    pub body_processor_override: Option<BodyProcessor>,
    /// Matched rules in order.
    pub matches: Vec<RuleMatch>,
    /// The rule that denied the request, with its `status` if it set one.
    pub denied: Option<(u32, Option<u16>)>,
    /// Set by `allow`: no more rules run.
    pub allowed: bool,
    /// The response, during the response phases.
    pub response: Option<&'t Response<'t>>,
    /// What the rules computed about the request's values (see [`ValueCache`]).
    pub cache: ValueCache,
    /// Buffers `setvar` expands a variable's name and value into, kept for the next one.
    pub setvar_buffers: (Vec<u8>, Vec<u8>),
    /// True when the transaction started from the rule set's prologue (see
    /// [`super::prologue`]), whose known outcomes then hold.
    pub from_prologue: bool,
    /// True once a `ctl` removed a `TX` target from some rules (see [`super::prologue`]).
    pub tx_targets_removed: bool,
    /// The indices of `inputs.fields` by source, in order.
    pub by_source: [Vec<u32>; SOURCES],
    /// The field groups that have fields, one bit each at `source × 2 + names` (a source's
    /// values and names are there together).
    pub present_groups: u32,
}

thread_local! {
    /// The `TX` map of the thread's last transaction, as it left it: the next request reuses
    /// its table and, for the keys it starts with, their buffers (see [`spare_tx_map`]).
    static SPARE_TX: spare::Spare<TxMap> =
        const { std::cell::RefCell::new(None) };
}

/// A `TX` map holding exactly the prologue's (empty without one), made from the thread's spare
/// one when it has it (see [`TxMap::reset_to`]).
fn spare_tx_map(prologue: Option<&Prologue>) -> TxMap {
    let mut map = spare::take(&SPARE_TX).unwrap_or_else(|| TxMap::with_capacity(128));
    match prologue {
        Some(p) => map.reset_to(&p.tx, p.uid),
        None => map.clear(),
    }
    map
}

/// The buffers of a transaction that the thread's next one reuses: the matched-variable trail,
/// `setvar`'s expansion buffers and the field index by source.
#[derive(Default)]
struct Scratch {
    matched_var: Vec<u8>,
    matched_var_name: String,
    matched_vars: MatchedVars,
    spare_vars: MatchedVars,
    setvar_buffers: (Vec<u8>, Vec<u8>),
    by_source: [Vec<u32>; SOURCES],
}

thread_local! {
    /// The [`Scratch`] of the thread's last transaction.
    static SPARE_SCRATCH: spare::Spare<Scratch> = const { std::cell::RefCell::new(None) };
}

/// Buffers longer than this (bytes or entries) are freed rather than kept for the next request.
const KEEP_AT_MOST: usize = 1 << 16;

impl Scratch {
    /// The thread's spare scratch emptied, or a new one.
    fn take() -> Scratch {
        let Some(mut s) = spare::take(&SPARE_SCRATCH) else {
            return Scratch::default();
        };
        s.matched_var.clear();
        s.matched_var_name.clear();
        s.matched_vars.clear();
        s.spare_vars.clear();
        s.setvar_buffers.0.clear();
        s.setvar_buffers.1.clear();
        s.by_source.iter_mut().for_each(Vec::clear);
        s
    }

    /// True when no buffer grew past [`KEEP_AT_MOST`].
    fn worth_keeping(&self) -> bool {
        self.matched_var.capacity() <= KEEP_AT_MOST
            && self.matched_var_name.capacity() <= KEEP_AT_MOST
            && self.matched_vars.capacity() <= KEEP_AT_MOST
            && self.spare_vars.capacity() <= KEEP_AT_MOST
            && self.setvar_buffers.0.capacity() <= KEEP_AT_MOST
            && self.setvar_buffers.1.capacity() <= KEEP_AT_MOST
            && self.by_source.iter().all(|v| v.capacity() <= KEEP_AT_MOST)
    }
}

impl Drop for Transaction<'_> {
    fn drop(&mut self) {
        let scratch = Scratch {
            matched_var: std::mem::take(&mut self.matched_var),
            matched_var_name: std::mem::take(&mut self.matched_var_name),
            matched_vars: std::mem::take(&mut self.matched_vars),
            spare_vars: std::mem::take(&mut self.spare_vars),
            setvar_buffers: std::mem::take(&mut self.setvar_buffers),
            by_source: std::mem::take(&mut self.by_source),
        };
        if scratch.worth_keeping() {
            spare::keep(&SPARE_SCRATCH, scratch);
        }
        let map = std::mem::take(&mut self.tx);
        if map.capacity() > 1024 {
            // A request that set thousands of variables does not keep its table.
            return;
        }
        spare::keep(&SPARE_TX, map);
    }
}

impl<'t> Transaction<'t> {
    /// A fresh transaction over parsed inputs.
    pub fn new(req: &'t Request<'t>, inputs: Inputs<'t>, body: &'t [u8], mode: EngineMode) -> Self {
        Transaction::starting_with(req, inputs, body, mode, None)
    }

    /// [`new`](Self::new), in the state `prologue` left when given: its `TX` and
    /// `MATCHED_VARS`, and its known outcomes in force (see [`super::prologue`]).
    pub fn starting_with(
        req: &'t Request<'t>,
        inputs: Inputs<'t>,
        body: &'t [u8],
        mode: EngineMode,
        prologue: Option<&Prologue>,
    ) -> Self {
        let scratch = Scratch::take();
        let mut tx = Transaction {
            req,
            inputs,
            body,
            tx: spare_tx_map(prologue),
            collections: FastMap::default(),
            matched_var: scratch.matched_var,
            matched_var_name: scratch.matched_var_name,
            matched_vars: scratch.matched_vars,
            spare_vars: scratch.spare_vars,
            removed_ids: Vec::new(),
            removed_tags: Vec::new(),
            removed_targets: Vec::new(),
            engine_mode: mode,
            body_processor_override: None,
            matches: Vec::new(),
            denied: None,
            allowed: false,
            response: None,
            cache: ValueCache::default(),
            setvar_buffers: scratch.setvar_buffers,
            from_prologue: prologue.is_some(),
            tx_targets_removed: false,
            by_source: scratch.by_source,
            present_groups: 0,
        };
        if let Some(p) = prologue {
            set_matched(&mut tx, &p.matched);
        }
        tx.reindex_fields();
        tx
    }

    /// Rebuilds the field index and empties the value cache (its slots are field indices).
    pub fn reindex_fields(&mut self) {
        self.cache = ValueCache::new(self.inputs.fields.len());
        self.by_source.iter_mut().for_each(Vec::clear);
        self.present_groups = 0;
        for (i, f) in self.inputs.fields.iter().enumerate() {
            self.by_source[f.source as usize].push(i as u32);
            self.present_groups |=
                1 << group_index(f.source, false) | 1 << group_index(f.source, true);
        }
    }

    /// True when parsing flagged `bit`.
    pub fn flag(&self, bit: u32) -> bool {
        self.inputs.flags.has(bit)
    }

    /// `REQBODY_ERROR`: the body failed to parse.
    pub fn reqbody_error(&self) -> bool {
        self.flag(ParseFlags::BODY_PARSE_ERROR) || self.flag(ParseFlags::JSON_TOO_DEEP)
    }

    /// Expands `%{…}` macros in `s`. A string without macros, or one that is a single macro
    /// (`%{tx.restricted_headers_basic}`), is borrowed rather than copied.
    pub fn expand<'s>(&'s self, s: &'s MacroString) -> Cow<'s, [u8]> {
        match &s.parts[..] {
            parts if parts.iter().all(|p| matches!(p, MacroPart::Literal(_))) => {
                return Cow::Borrowed(s.raw.as_bytes());
            }
            [MacroPart::Macro { collection, key }] => {
                let value =
                    collection.and_then(|c| super::variables::macro_value(self, c, key.as_deref()));
                return value.unwrap_or(Cow::Borrowed(b""));
            }
            _ => {}
        }
        let mut out = Vec::with_capacity(s.raw.len());
        self.expand_into(s, &mut out);
        Cow::Owned(out)
    }

    /// Expands macros into `out` (emptied first).
    pub fn expand_into(&self, s: &MacroString, out: &mut Vec<u8>) {
        out.clear();
        for part in &s.parts {
            match part {
                MacroPart::Literal(l) => out.extend_from_slice(l.as_bytes()),
                MacroPart::Macro { collection, key } => {
                    let value = collection
                        .and_then(|c| super::variables::macro_value(self, c, key.as_deref()));
                    if let Some(v) = value {
                        out.extend_from_slice(&v);
                    }
                }
            }
        }
    }

    /// Expands macros into text (lossy for non-UTF-8 bytes).
    pub fn expand_text(&self, s: &MacroString) -> String {
        String::from_utf8_lossy(&self.expand(s)).into_owned()
    }
}
