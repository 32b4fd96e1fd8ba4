//! SecLang (ModSecurity configuration language) parser: turns configuration files such as
//! OWASP CRS v4 into a typed, validated [`Config`]. Nothing is evaluated here.
//!
//! Pipeline: [`lexer`] (statements) → [`include`] (files and `Include`) → [`directives`]
//! (typed [`Directive`]s, using [`variables`], [`operators`], [`actions`], [`ctl`],
//! [`transformations`], [`macros`]) → [`config`] (rule groups, checks).

pub mod actions;
pub mod ast;
pub mod config;
pub mod ctl;
pub mod directives;
pub mod error;
pub mod include;
pub mod lexer;
pub mod macros;
pub mod operators;
pub mod transformations;
pub mod variables;

use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use actions::{Action, Phase, SetVar, SetVarOp};
pub use ast::{Directive, Located};
pub use config::{Config, EngineSettings, Exclusion, Rule, RuleEntry, RuleLink};
pub use error::{Location, SecLangError, SecLangWarning};
pub use operators::{OperatorName, OperatorSpec};
pub use transformations::Transformation;
pub use variables::{Collection, Selector, VariableSpec};

use config::Builder;
use include::Loader;

/// Loads one configuration file and everything it includes.
pub fn load_file(path: impl AsRef<Path>) -> Result<Config, Vec<SecLangError>> {
    load_files(&[path.as_ref().to_path_buf()])
}

/// Loads several files in order, as if each were included in turn.
pub fn load_files(paths: &[PathBuf]) -> Result<Config, Vec<SecLangError>> {
    let mut loader = Loader::default();
    for p in paths {
        loader.load_path(p, None);
    }
    build(loader)
}

/// Parses configuration text; `origin` names it in messages, and relative `Include`s resolve
/// against the directory of `origin`.
pub fn parse_str(text: &str, origin: &str) -> Result<Config, Vec<SecLangError>> {
    let mut loader = Loader::default();
    let name: Arc<str> = Arc::from(origin);
    loader.load_text(text, &name, Path::new(origin).parent());
    build(loader)
}

/// Parses the loaded statements and assembles the configuration.
fn build(loader: Loader) -> Result<Config, Vec<SecLangError>> {
    let mut builder = Builder::default();
    builder.add_errors(loader.errors);
    for stmt in &loader.statements {
        match directives::parse_directive(stmt) {
            Ok(item) => builder.push(Located {
                location: stmt.location.clone(),
                item,
            }),
            Err(reason) => builder.add_errors([SecLangError::at(&stmt.location, reason)]),
        }
    }
    builder.finish()
}

#[cfg(test)]
mod tests;
