//! Placeholder: Xss detector (being written).

use super::{Deadline, Detector, Finding, OutOfTime};
use crate::parse::Inputs;
use crate::request::Request;

/// Xss detector.
pub struct Xss;

impl Xss {
    /// Builds the detector.
    pub fn new() -> Xss {
        Xss
    }
}

impl Detector for Xss {
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
