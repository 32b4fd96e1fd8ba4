//! The ModSecurity-compatible rule engine (SecLang, OWASP CRS): compiled rules, transformations,
//! operators, and the evaluator that runs them over a request.

pub mod eval;
pub mod operators;
pub mod ruleset;
pub mod transaction;
pub mod transformations;
pub mod variables;

use crate::parse::{self, Limits};
use crate::request::Request;
pub use ruleset::RuleSet;
use transaction::{RuleMatch, Transaction};

/// What the rules decided about one request.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    /// Rules that matched, in order.
    pub matches: Vec<RuleMatch>,
    /// The rule that denied the request and the status, if one did.
    pub denied: Option<(u32, u16)>,
    /// The inbound anomaly score CRS computed (`TX:BLOCKING_INBOUND_ANOMALY_SCORE`, else
    /// `TX:INBOUND_ANOMALY_SCORE`), 0 without CRS.
    pub anomaly_score: i64,
}

/// Runs the request phases (1 and 2) of `rules` over a request and its loaded body.
pub fn evaluate(rules: &RuleSet, req: &Request<'_>, body: &[u8], limits: &Limits) -> Outcome {
    let inputs = parse::parse_request(req, body, limits);
    let mut tx = Transaction::new(req, inputs, body, rules.engine_mode);
    if !eval::run_phase(rules, &mut tx, 1) {
        reparse_body_if_forced(&mut tx, limits);
        eval::run_phase(rules, &mut tx, 2);
    }
    let score = ["blocking_inbound_anomaly_score", "inbound_anomaly_score"]
        .iter()
        .find_map(|k| tx.tx.get(*k))
        .map_or(0, |v| eval::parse_int(v));
    Outcome {
        matches: tx.matches,
        denied: tx.denied,
        anomaly_score: score,
    }
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
}
