//! Placeholder: Protocol detector (being written).

use super::{Deadline, Detector, Finding, OutOfTime};
use crate::parse::Inputs;
use crate::request::Request;

/// Protocol detector.
pub struct Protocol;

impl Protocol {
    /// Builds the detector.
    pub fn new() -> Protocol {
        Protocol
    }
}

impl Detector for Protocol {
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
