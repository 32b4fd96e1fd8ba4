//! Placeholder: Sqli detector (being written).

use super::{Deadline, Detector, Finding, OutOfTime};
use crate::parse::Inputs;
use crate::request::Request;

/// Sqli detector.
pub struct Sqli;

impl Sqli {
    /// Builds the detector.
    pub fn new() -> Sqli {
        Sqli
    }
}

impl Detector for Sqli {
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
