//! An in-process go-ftw runner: loads the CRS regression suite's YAML tests, builds each
//! stage's raw request as go-ftw would send it, has a pluggable [`Judge`] decide what the WAF
//! does with it, and checks the outcome against the test's (or an override's) expectations.
//!
//! [`load`] reads test files into the [`model`], [`overrides`] reads platform overrides,
//! [`request`] builds raw requests, [`check`] compares one stage, [`run`] drives a whole run, and
//! [`judge`] holds the judge over the built-in detectors.

pub mod check;
pub mod judge;
pub mod load;
pub mod model;
pub mod nginx_front;
pub mod overrides;
pub mod request;
pub mod run;

pub use judge::{BuiltinJudge, RulesJudge, CRS_TEST_SETUP};
pub use load::{load_dir, load_file, LoadError, Loaded};
pub use model::{FtwTest, Input, Output, Stage, TestFile};
pub use overrides::Overrides;
pub use run::{run, Filter, Judge, Judgement, Outcome, Report, TestResult};

#[cfg(test)]
mod tests;
