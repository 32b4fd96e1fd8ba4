//! Placeholder: Traversal detector (being written).

use super::{Deadline, Detector, Finding, OutOfTime};
use crate::parse::Inputs;
use crate::request::Request;

/// Traversal detector.
pub struct Traversal;

impl Traversal {
    /// Builds the detector.
    pub fn new() -> Traversal {
        Traversal
    }
}

impl Detector for Traversal {
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
