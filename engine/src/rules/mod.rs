//! The ModSecurity-compatible rule engine (SecLang, OWASP CRS): compiled rules, transformations,
//! operators, and the evaluator that runs them over a request. Work in progress: not yet wired
//! into [`crate::Engine`] or the adapters.

pub mod operators;
pub mod transformations;
