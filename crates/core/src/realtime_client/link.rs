//! The socket-wide context a channel needs while it acts: options, whether the socket is
//! open, the shared ref counter, the current access token, the output queue and the counters.
//! Borrowed from the client for the duration of one call so channels stay plain data.

use std::collections::VecDeque;

use super::options::ClientOptions;
use super::outbound::Frame;
use super::output::{ClientEvent, ClientStats, Output};

/// The next ref: "1", "2", … (wrapping like phoenix, which never happens in practice).
pub(crate) fn next_ref(last: &mut u64) -> String {
    *last = last.checked_add(1).unwrap_or(0);
    last.to_string()
}

pub(crate) struct Link<'a> {
    pub opts: &'a ClientOptions,
    /// The socket is open: frames can be written now.
    pub open: bool,
    pub access_token: Option<&'a str>,
    /// Last ref handed out; one counter per socket object for heartbeats and every push, as
    /// phoenix's `makeRef` (it is not reset by reconnects, so late replies never collide).
    pub last_ref: &'a mut u64,
    pub out: &'a mut VecDeque<Output>,
    pub stats: &'a mut ClientStats,
}

impl Link<'_> {
    pub fn make_ref(&mut self) -> String {
        next_ref(self.last_ref)
    }

    pub fn send(&mut self, frame: Frame) {
        self.out.push_back(frame.into());
    }

    pub fn emit(&mut self, event: ClientEvent) {
        self.out.push_back(Output::Event(event));
    }
}
