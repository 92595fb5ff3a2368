//! Counters of what the endpoint refused, dropped or delivered. Peers never see them; they are
//! for logs, tests and the operator.

use std::sync::atomic::{AtomicU64, Ordering};

/// Monotonic counters, shared by every connection.
#[derive(Debug, Default)]
pub struct Counters {
    connections_accepted: AtomicU64,
    connections_refused: AtomicU64,
    malformed_frames: AtomicU64,
    slow_consumers: AtomicU64,
    socket_rate_limited: AtomicU64,
    broadcasts: AtomicU64,
    deliveries: AtomicU64,
    token_rechecks: AtomicU64,
    presence_refused: AtomicU64,
}

/// A copy of the counters at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct CounterSnapshot {
    /// WebSocket upgrades accepted.
    pub connections_accepted: u64,
    /// Upgrades refused (token, vsn or connection limit).
    pub connections_refused: u64,
    /// Frames that could not be decoded, or that the protocol does not allow from a client;
    /// each was dropped and its socket kept open.
    pub malformed_frames: u64,
    /// Sockets closed because their outbound queue was full.
    pub slow_consumers: u64,
    /// Client events refused because their socket was over its own events-per-second limit.
    pub socket_rate_limited: u64,
    /// Broadcasts fanned out (socket and REST).
    pub broadcasts: u64,
    /// Frames queued to subscribers by fan-out (broadcasts and presence diffs).
    pub deliveries: u64,
    /// Channel tokens verified again on their interval (`--realtime-token-recheck-ms`).
    pub token_rechecks: u64,
    /// Presence tracks refused because their topic's presence was full
    /// (`--realtime-max-presence-topic-kb`).
    pub presence_refused: u64,
}

impl Counters {
    pub(crate) fn connection_accepted(&self) {
        self.connections_accepted.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn connection_refused(&self) {
        self.connections_refused.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn malformed_frame(&self) {
        self.malformed_frames.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn slow_consumer(&self) {
        self.slow_consumers.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn presence_refused(&self) {
        self.presence_refused.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn socket_rate_limited(&self) {
        self.socket_rate_limited.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn broadcast(&self, deliveries: u64) {
        self.broadcasts.fetch_add(1, Ordering::Relaxed);
        self.delivered(deliveries);
    }

    pub(crate) fn token_rechecked(&self) {
        self.token_rechecks.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn delivered(&self, deliveries: u64) {
        self.deliveries.fetch_add(deliveries, Ordering::Relaxed);
    }

    /// Reads all counters.
    pub fn snapshot(&self) -> CounterSnapshot {
        CounterSnapshot {
            connections_accepted: self.connections_accepted.load(Ordering::Relaxed),
            connections_refused: self.connections_refused.load(Ordering::Relaxed),
            malformed_frames: self.malformed_frames.load(Ordering::Relaxed),
            slow_consumers: self.slow_consumers.load(Ordering::Relaxed),
            socket_rate_limited: self.socket_rate_limited.load(Ordering::Relaxed),
            broadcasts: self.broadcasts.load(Ordering::Relaxed),
            deliveries: self.deliveries.load(Ordering::Relaxed),
            token_rechecks: self.token_rechecks.load(Ordering::Relaxed),
            presence_refused: self.presence_refused.load(Ordering::Relaxed),
        }
    }
}
