//! Placeholder: Scanner detector (being written).

use super::{Deadline, Detector, Finding, OutOfTime};
use crate::parse::Inputs;
use crate::request::Request;

/// Scanner detector.
pub struct Scanner;

impl Scanner {
    /// Builds the detector.
    pub fn new() -> Scanner {
        Scanner
    }
}

impl Detector for Scanner {
    fn inspect(
        &self,
        _req: &Request<'_>,
        _inputs: &Inputs<'_>,
        _deadline: &Deadline,
        _out: &mut Vec<Finding>,
    ) -> Result<(), OutOfTime> {
        Ok(())
    }
}
