//! Moat: a web application firewall engine.
//!
//! Data flows one way: a borrowed [`Request`] → [`body_reader`] → [`parse`] → [`detect`] →
//! [`Verdict`]. [`Engine::check`] runs the whole pipeline and never panics. The [`ffi`] module
//! is the C ABI used by the Lua binding and other non-Rust hosts; the nginx module uses the Rust
//! API directly.
//!
//! Events continue the flow: verdict → [`events::Event`] → [`forward::Forwarder`] → ClickHouse.
//! Every verdict is also counted in [`metrics`] (Prometheus), in memory that all processes of
//! one server can share.

pub mod body_reader;
pub mod cpu_clock;
pub mod decode;
pub mod detect;
pub mod engine;
pub mod events;
pub mod ffi;
pub mod ffi_events;
pub mod ffi_geo;
pub mod ffi_metrics;
pub mod forward;
pub mod ftw;
pub mod geo;
pub mod http_file;
pub mod ingest;
pub mod memo;
pub mod metrics;
pub mod parse;
pub mod request;
pub mod rules;
pub mod seclang;
pub mod settings;
pub mod stats;
#[cfg(test)]
mod test_rng;
pub mod verdict;

pub use engine::Engine;
pub use request::{BodyPart, Header, IdSource, Request};
pub use settings::{Mode, Settings, SettingsPatch};
pub use verdict::{Action, FailOpen, Verdict};

/// The engine's version.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
