//! The Session Focus (product.md §3, reference/scaling.md): the server-side service that decides
//! how each session's media flows — peer to peer or through which SFU node — and tells clients.
//!
//! - `wire.rs` — a focus decision and its signature: what clients receive (Realtime broadcast
//!   event [`FOCUS_EVENT`] and the access grant) and the check they run before acting on it.
//! - `brain.rs` — the decision logic (node health, stress, assignment, upgrade, failover,
//!   drain), sans-IO with time passed in; pairux-server's focus service only executes it.

pub mod brain;
mod wire;

pub use wire::{
    Decision, FocusError, FocusFollower, FocusKey, Reason, SignedDecision, FOCUS_EVENT,
};
