//! JSON bodies: every scalar becomes a body argument named by its path (`user.roles[0]`).

use super::{Inputs, Limits};

/// Parses a JSON body into `inputs`.
pub fn parse<'a>(_body: &'a [u8], _inputs: &mut Inputs<'a>, _limits: &Limits) {}
