//! Security events: one record per inspected request, for ClickHouse.
//!
//! The flow continues the engine's: request → verdict → [`Event`] (built on the request path
//! by a [`Recorder`], cheap: copies and no hashing) → the [`crate::forward`] pipeline, whose
//! thread turns the raw session credentials into a keyed hash and JWT claims ([`session`]) and
//! encodes rows ([`encode`]).

pub mod encode;
pub mod event;
pub mod jwt;
pub mod session;
pub mod siphash;

pub use encode::Format;
pub use event::{Event, Geo, Record, Recorder, Text};
pub use session::{Credentials, Session, SessionConfig};
