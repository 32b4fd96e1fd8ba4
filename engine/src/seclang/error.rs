//! Located diagnostics: errors and warnings that point at `file:line`.

use std::fmt;
use std::sync::Arc;

/// Where a directive starts: the file it came from and its first line (1-based).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Location {
    /// The file (or origin name given to `parse_str`).
    pub file: Arc<str>,
    /// The 1-based line the statement starts on.
    pub line: usize,
}

impl Location {
    /// A location in `file` at `line`.
    pub fn new(file: &Arc<str>, line: usize) -> Self {
        Location {
            file: Arc::clone(file),
            line,
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file, self.line)
    }
}

/// A configuration error; displays as `file:line: reason`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecLangError {
    /// The file the error is in.
    pub file: Arc<str>,
    /// The 1-based line of the offending statement.
    pub line: usize,
    /// What is wrong.
    pub reason: String,
}

impl SecLangError {
    /// An error at `loc`.
    pub fn at(loc: &Location, reason: impl Into<String>) -> Self {
        SecLangError {
            file: Arc::clone(&loc.file),
            line: loc.line,
            reason: reason.into(),
        }
    }

    /// The error's location.
    pub fn location(&self) -> Location {
        Location::new(&self.file, self.line)
    }
}

impl fmt::Display for SecLangError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.file, self.line, self.reason)
    }
}

impl std::error::Error for SecLangError {}

/// A non-fatal remark (e.g. a directive Moat ignores); displays as `file:line: warning: message`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecLangWarning {
    /// Where the warned-about statement starts.
    pub location: Location,
    /// The remark.
    pub message: String,
}

impl fmt::Display for SecLangWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: warning: {}", self.location, self.message)
    }
}

/// Parse helpers return a bare reason; the caller attaches the statement's location.
pub type Reason = String;
