//! Operators (`@rx`, `@pm`, …) compiled once at load time. One file per operator;
//! [`compile`] dispatches by name.

use std::path::Path;

use crate::seclang::operators::OperatorSpec;

/// Up to ten captured groups (`TX:0`–`TX:9`) of a matching `@rx` when the rule has `capture`.
pub type Captures = Vec<Vec<u8>>;

/// An operator ready to run.
#[derive(Debug)]
pub struct Operator {
    negated: bool,
}

/// Compiles an operator; files named by `@pmFromFile`/`@ipMatchFromFile` are relative to
/// `base_dir` (the directory of the rules file that used them).
pub fn compile(spec: &OperatorSpec, base_dir: &Path) -> Result<Operator, String> {
    let _ = base_dir;
    Ok(Operator {
        negated: spec.negated,
    })
}

impl Operator {
    /// True when the rule matches `input` (negation already applied). `argument` is the
    /// operator argument with macros expanded, passed only for operators whose argument
    /// contains macros (see [`Operator::needs_expansion`]). With `captures`, a matching `@rx`
    /// fills it with the whole match and its groups.
    pub fn matches(
        &self,
        input: &[u8],
        argument: Option<&[u8]>,
        captures: Option<&mut Captures>,
    ) -> bool {
        let _ = (input, argument, captures);
        self.negated
    }

    /// True when the argument contains `%{…}` macros that must be expanded per request.
    pub fn needs_expansion(&self) -> bool {
        false
    }
}
