//! `multipart/form-data` bodies.

use super::{Inputs, Limits};

/// The boundary parameter of a multipart content type.
pub fn boundary(_content_type: &[u8]) -> Option<&[u8]> {
    None
}

/// Parses a multipart body into `inputs`.
pub fn parse<'a>(_body: &'a [u8], _boundary: &'a [u8], _inputs: &mut Inputs<'a>, _limits: &Limits) {
}
