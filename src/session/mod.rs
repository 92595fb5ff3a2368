//! The session runtimes: glue that feeds roster changes, signals and WebRTC events into the
//! core's [`pairux_core::session`] state machines and carries out what they decide.

pub mod access;
pub mod agent_link;
pub mod guest;
pub mod host;
pub mod host_control;
mod peer_link;
pub mod sfu;
pub mod sfu_voice;
pub mod voice;
