//! nginx module (being written).
