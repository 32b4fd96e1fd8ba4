//! The ModSecurity-compatible rule engine (SecLang, OWASP CRS): compiled rules, transformations,
//! operators, and the evaluator that runs them over a request.

pub mod chains;
pub mod eval;
pub mod fast_hash;
pub mod gate;
pub mod key_pattern;
pub mod matched_vars;
pub mod operators;
pub mod prefilter;
pub mod prologue;
pub mod ruleset;
mod spare;
pub mod transaction;
pub mod transformations;
pub mod tx_map;
pub mod value_cache;
pub mod variables;

use crate::detect::{Deadline, OutOfTime};
use crate::parse::{self, Inputs, Limits};
use crate::request::{Request, Response};
use crate::seclang::ast::IdRange;
pub use ruleset::{in_ranges, RuleSet};
use transaction::{RuleMatch, Transaction};

/// What the rules decided about one request.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    /// Rules that matched, in order.
    pub matches: Vec<RuleMatch>,
    /// The rule that denied the request and its `status` if it set one.
    pub denied: Option<(u32, Option<u16>)>,
    /// The inbound anomaly score CRS computed (`TX:BLOCKING_INBOUND_ANOMALY_SCORE`, else
    /// `TX:INBOUND_ANOMALY_SCORE`), 0 without CRS.
    pub anomaly_score: i64,
}

/// Rules for one location: a shared rule set and the rule ids this location removes.
#[derive(Debug, Clone, Copy)]
pub struct LocationRules<'a> {
    /// The compiled rules (shared by every location that loads the same files).
    pub set: &'a RuleSet,
    /// Rule ids removed here (`moat_rules_remove_by_id`).
    pub removed: &'a [IdRange],
}

/// What the rules look at: the request, its parsed inputs and loaded body, and optionally the
/// response.
pub struct Exchange<'a> {
    /// The request.
    pub req: &'a Request<'a>,
    /// Its parsed inputs.
    pub inputs: Inputs<'a>,
    /// Its body as inspected.
    pub body: &'a [u8],
    /// The response, when the response phases should run.
    pub response: Option<&'a Response<'a>>,
}

/// Runs the request phases (1 and 2) of `rules`, then the response phases (3 and 4) when the
/// exchange has a response and nothing denied the request. Stops with `OutOfTime` when the
/// deadline passes.
pub fn evaluate(
    rules: LocationRules<'_>,
    exchange: Exchange<'_>,
    limits: &Limits,
    deadline: &Deadline,
) -> Result<Outcome, OutOfTime> {
    let prologue = rules
        .set
        .prologue
        .as_ref()
        .filter(|p| p.applies(rules.removed));
    let mut tx = Transaction::starting_with(
        exchange.req,
        exchange.inputs,
        exchange.body,
        rules.set.engine_mode,
        prologue,
    );
    tx.response = exchange.response;
    tx.removed_ids.extend_from_slice(rules.removed);
    let from = prologue.map_or((0, 0), |p| p.resume);
    let mut denied = eval::run_phase_from(rules.set, &mut tx, 1, from, deadline)?;
    if !denied {
        reparse_body_if_forced(&mut tx, limits);
        denied = eval::run_phase(rules.set, &mut tx, 2, deadline)?;
    }
    if !denied && tx.response.is_some() {
        denied = eval::run_phase(rules.set, &mut tx, 3, deadline)?;
        if !denied {
            eval::run_phase(rules.set, &mut tx, 4, deadline)?;
        }
    }
    let score = ["blocking_inbound_anomaly_score", "inbound_anomaly_score"]
        .iter()
        .find_map(|k| tx.tx.get(k))
        .map_or(0, |v| eval::parse_int(v));
    Ok(Outcome {
        matches: std::mem::take(&mut tx.matches),
        denied: tx.denied,
        anomaly_score: score,
    })
}

/// Parses the body again when phase 1 forced another body processor (`ctl:requestBodyProcessor`).
fn reparse_body_if_forced(tx: &mut Transaction<'_>, limits: &Limits) {
    let Some(forced) = tx.body_processor_override else {
        return;
    };
    if forced == tx.inputs.body_processor || tx.body.is_empty() {
        return;
    }
    let ctype = tx.req.header(b"content-type").unwrap_or(b"");
    parse::clear_body_fields(&mut tx.inputs);
    parse::parse_body_as(forced, ctype, tx.body, &mut tx.inputs, limits);
    tx.reindex_fields();
}
