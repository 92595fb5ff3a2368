//! PairUX core: everything that can be decided without touching a socket, a clock or a browser.
//!
//! Architecture invariant: this crate depends on no web-sys, no tokio and no leptos. Time enters
//! as plain milliseconds (`u64`), randomness as caller-provided bytes, so every state machine
//! here runs natively and deterministically in tests.

pub mod access;
pub mod agent;
pub mod config;
pub mod control;
pub mod display;
pub mod e2ee;
pub mod focus;
pub mod identity;
pub mod janus;
pub mod link;
pub mod realtime;
pub mod realtime_client;
pub mod role;
pub mod roster;
pub mod sdp;
pub mod session;
pub mod vecmap;
mod versioned;
pub mod voice;

pub use link::{LinkError, SessionId, SessionLink};
pub use role::Role;
