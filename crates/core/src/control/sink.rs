//! The input sink: where a host hands validated input.
//!
//! Contract (for any implementation, browser or native agent):
//! - `input` is called only with events that passed the gate: from a current holder, with a
//!   strictly increasing sequence number per holder, within bounds and rate.
//! - Coordinates are normalised to the shared surface: (0, 0) top-left, (1, 1) bottom-right of
//!   what is captured; a native agent maps them to the captured display or window.
//! - `key`/`code` follow `KeyboardEvent` (UI Events); modifiers are a bit set (1 shift, 2 ctrl,
//!   4 alt, 8 meta); `Text` is composed text to type as is.
//! - `holders` is called whenever the set of holders changes; an agent must release any
//!   buttons or keys still held by someone who is no longer in it.
//! - Calls come in arrival order; implementations must not block.

use super::wire::InputEvent;

pub trait InputSink {
    /// One accepted event from participant `from`.
    fn input(&mut self, from: &str, event: &InputEvent);
    /// The participants holding control now.
    fn holders(&mut self, holders: &[String]);
}

/// A sink that records what it is given (tests, diagnostics).
#[derive(Debug, Default)]
pub struct RecordingSink {
    pub events: Vec<(String, InputEvent)>,
    pub holders: Vec<String>,
}

impl InputSink for RecordingSink {
    fn input(&mut self, from: &str, event: &InputEvent) {
        self.events.push((from.to_owned(), event.clone()));
    }

    fn holders(&mut self, holders: &[String]) {
        self.holders = holders.to_vec();
    }
}
