//! Body and parsing anomalies: the parse flags turned into findings (rule ids 100600–100699).

use super::targets::Classified;
use super::{Deadline, Detector, Finding, OutOfTime, Severity};
use crate::parse::ParseFlags;
use crate::request::Request;

/// Rule id: the body did not parse as its content type.
pub const BODY_PARSE_ERROR: u32 = 100600;
/// Rule id: multipart body broke strict boundary rules.
pub const MULTIPART_STRICT: u32 = 100601;
/// Rule id: body larger than the inspection limit, only its first part inspected.
pub const BODY_TRUNCATED: u32 = 100602;
/// Rule id: JSON nested deeper than the limit.
pub const JSON_TOO_DEEP: u32 = 100603;
/// Rule id: more arguments than the limit.
pub const TOO_MANY_ARGS: u32 = 100604;
/// Rule id: body larger than the inspection limit, rejected.
pub const BODY_TOO_LARGE: u32 = 100605;
/// Rule id: an XML body declares an external entity (XXE).
pub const XML_EXTERNAL_ENTITY: u32 = 100606;

/// Turns parse flags into findings.
pub struct BodyAnomalies;

const FLAG_RULES: &[(u32, u32, &str, Severity)] = &[
    (
        ParseFlags::BODY_PARSE_ERROR,
        BODY_PARSE_ERROR,
        "Failed to parse request body",
        Severity::Critical,
    ),
    (
        ParseFlags::MULTIPART_STRICT_ERROR,
        MULTIPART_STRICT,
        "Multipart request body failed strict validation",
        Severity::Critical,
    ),
    (
        ParseFlags::BODY_TRUNCATED,
        BODY_TRUNCATED,
        "Request body larger than the inspection limit; only its first part was inspected",
        Severity::Info,
    ),
    (
        ParseFlags::JSON_TOO_DEEP,
        JSON_TOO_DEEP,
        "JSON body nested deeper than the limit",
        Severity::Critical,
    ),
    (
        ParseFlags::TOO_MANY_ARGS,
        TOO_MANY_ARGS,
        "Too many arguments in request",
        Severity::Critical,
    ),
    (
        ParseFlags::XML_EXTERNAL_ENTITY,
        XML_EXTERNAL_ENTITY,
        "XML external entity (XXE) declaration in request body",
        Severity::Critical,
    ),
];

impl Detector for BodyAnomalies {
    fn inspect(
        &self,
        _req: &Request<'_>,
        inputs: &Classified<'_, '_>,
        _deadline: &Deadline,
        out: &mut Vec<Finding>,
    ) -> Result<(), OutOfTime> {
        for &(flag, id, msg, sev) in FLAG_RULES {
            if inputs.flags.has(flag) {
                out.push(Finding::new(id, msg, sev, "REQUEST_BODY".into(), b""));
            }
        }
        Ok(())
    }
}
