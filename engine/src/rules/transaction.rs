//! Per-request state of the rule engine: the request's parsed inputs, the `TX` collection and the
//! other writable collections, captures, the matched-variable trail, runtime exclusions (`ctl`),
//! and what matched.

use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::rc::Rc;

use crate::parse::{BodyProcessor, Inputs, ParseFlags};
use crate::request::{Request, Response};
use crate::seclang::ast::{EngineMode, IdRange};
use crate::seclang::macros::{MacroPart, MacroString};
use crate::seclang::variables::VariableSpec;

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
    /// Targets removed.
    pub targets: Vec<VariableSpec>,
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
    pub tx: HashMap<String, Vec<u8>>,
    /// `IP`, `SESSION`, `GLOBAL`, `USER`, `RESOURCE`, `ENV` (transaction-local).
    pub collections: HashMap<String, HashMap<String, Vec<u8>>>,
    /// `MATCHED_VAR`.
    pub matched_var: Vec<u8>,
    /// `MATCHED_VAR_NAME`.
    pub matched_var_name: String,
    /// `MATCHED_VARS` (name, value) of the rule being evaluated.
    pub matched_vars: Vec<(String, Vec<u8>)>,
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
    /// Unique id (for `UNIQUE_ID`).
    pub unique_id: &'t [u8],
    /// The response, during the response phases.
    pub response: Option<&'t Response<'t>>,
    /// Transformed request values, per value and transformation chain (see [`TransformCache`]).
    pub transforms: TransformCache,
}

/// Each request value's transformed form, computed once per transformation chain: CRS applies
/// the same few chains to the same arguments in dozens of rules. Keys are the address and
/// length of bytes that stay put for the whole transaction (the request's own bytes and its
/// parsed inputs), never of `TX` or other values that rules rewrite.
#[derive(Default)]
pub struct TransformCache {
    map: RefCell<CacheMap>,
}

/// A cached value's address, its length and the transformation chain's id, to the transformed
/// bytes (`None`: unchanged).
type CacheMap = HashMap<(usize, usize, u32), Option<Rc<[u8]>>, BuildHasherDefault<WordHasher>>;

impl TransformCache {
    /// The cached result for `value` under chain `chain`: `Some(None)` when the chain leaves it
    /// unchanged, `Some(Some(bytes))` when it changes it, `None` when not computed yet.
    pub fn get(&self, value: &[u8], chain: u32) -> Option<Option<Rc<[u8]>>> {
        self.map
            .borrow()
            .get(&(value.as_ptr() as usize, value.len(), chain))
            .cloned()
    }

    /// Remembers a result.
    pub fn put(&self, value: &[u8], chain: u32, result: Option<Rc<[u8]>>) {
        self.map
            .borrow_mut()
            .insert((value.as_ptr() as usize, value.len(), chain), result);
    }
}

/// A fast hasher for keys made of a few machine words (FxHash's multiply-rotate).
#[derive(Default)]
pub struct WordHasher(u64);

impl Hasher for WordHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }

    fn write_usize(&mut self, n: usize) {
        self.write_u64(n as u64);
    }

    fn write_u32(&mut self, n: u32) {
        self.write_u64(u64::from(n));
    }
}

impl<'t> Transaction<'t> {
    /// A fresh transaction over parsed inputs.
    pub fn new(req: &'t Request<'t>, inputs: Inputs<'t>, body: &'t [u8], mode: EngineMode) -> Self {
        Transaction {
            req,
            inputs,
            body,
            tx: HashMap::new(),
            collections: HashMap::new(),
            matched_var: Vec::new(),
            matched_var_name: String::new(),
            matched_vars: Vec::new(),
            removed_ids: Vec::new(),
            removed_tags: Vec::new(),
            removed_targets: Vec::new(),
            engine_mode: mode,
            body_processor_override: None,
            matches: Vec::new(),
            denied: None,
            allowed: false,
            unique_id: req.request_id,
            response: None,
            transforms: TransformCache::default(),
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

    /// Expands `%{…}` macros in `s`.
    pub fn expand<'s>(&self, s: &'s MacroString) -> Cow<'s, [u8]> {
        if s.parts.iter().all(|p| matches!(p, MacroPart::Literal(_))) {
            return Cow::Borrowed(s.raw.as_bytes());
        }
        let mut out = Vec::with_capacity(s.raw.len());
        for part in &s.parts {
            match part {
                MacroPart::Literal(l) => out.extend_from_slice(l.as_bytes()),
                MacroPart::Macro { collection, key } => {
                    if let Some(v) = super::variables::macro_value(self, collection, key.as_deref())
                    {
                        out.extend_from_slice(&v);
                    }
                }
            }
        }
        Cow::Owned(out)
    }

    /// Expands macros into text (lossy for non-UTF-8 bytes).
    pub fn expand_text(&self, s: &MacroString) -> String {
        String::from_utf8_lossy(&self.expand(s)).into_owned()
    }
}
