//! The session runtimes: glue that feeds roster changes, signals and WebRTC events into the
//! core's [`pairux_core::session`] state machines and carries out what they decide.

pub mod guest;
pub mod host;
pub mod host_control;
mod peer_link;

use pairux_core::realtime_client::BroadcastBody;
use pairux_core::session::{SignalEnvelope, SIGNAL_EVENT};

/// The signal in a broadcast, if it is one and it is for `me`.
fn incoming_signal(event: &str, body: &BroadcastBody, me: &str) -> Option<SignalEnvelope> {
    if event != SIGNAL_EVENT {
        return None;
    }
    let BroadcastBody::Json(value) = body else {
        return None;
    };
    match SignalEnvelope::receive(value, me) {
        Ok(envelope) => Some(envelope),
        Err(err) => {
            // Messages for others are normal; anything else is worth a line in the console.
            if !matches!(err, pairux_core::session::SignalError::NotForUs) {
                leptos::logging::warn!("signal dropped: {err}");
            }
            None
        }
    }
}
