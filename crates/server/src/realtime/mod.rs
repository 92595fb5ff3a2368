//! pairux-server's Supabase Realtime endpoint: Broadcast and Presence over the Phoenix channel
//! protocol (vsn 1.0.0 and 2.0.0), so the real `@supabase/realtime-js` works against it
//! unchanged.
//!
//! Routes: `GET /realtime/v1/websocket` (alias `/socket/websocket`) and
//! `POST /realtime/v1/api/broadcast`.
//!
//! Code map:
//! - [`socket`]: the upgrade (token, vsn, connection limit) and the per-socket task.
//! - [`session`]: the protocol state machine of one socket — joins, broadcasts, presence,
//!   tokens, limits — driving the hub and the socket's outbox.
//! - [`hub`]: every topic's subscribers and presence, in one place; fan-out.
//! - [`frames`]: server → client frames; fan-out frames are encoded once per wire version.
//! - [`outbox`]: a socket's bounded queue; overflow means slow consumer, which is disconnected.
//! - [`presence`], [`rate`], [`auth`], [`config`], [`metrics`], [`rest`].
//!
//! Architecture invariant: the wire format is `pairux_core::realtime`'s; nothing here writes
//! protocol JSON by hand. Nothing a peer sends may panic: undecodable or disallowed frames are
//! dropped and counted, and the socket stays open.

pub mod auth;
pub mod config;
pub mod frames;
pub mod hub;
pub mod metrics;
pub mod outbox;
pub mod presence;
pub mod rate;
pub mod rest;
pub mod session;
pub mod socket;

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use axum::Router;

pub use config::{Limits, RealtimeArgs};
pub use metrics::CounterSnapshot;

use crate::jwt::{self, TokenError, VerifiedToken};
use hub::Hub;
use metrics::Counters;
use rate::RateWindow;

/// State shared by every Realtime socket and request of one server.
#[derive(Debug)]
pub struct RealtimeState {
    limits: Limits,
    secret: String,
    hub: Hub,
    counters: Counters,
    connections: AtomicUsize,
    /// Open sockets per address (`client_key`), for `max_connections_per_address`; an address
    /// leaves the map with its last socket.
    per_address: Mutex<HashMap<IpAddr, usize>>,
    joins: Mutex<RateWindow>,
    events: Mutex<RateWindow>,
    /// REST broadcasts' per-address windows (a socket has its own in its session).
    rest_senders: Mutex<HashMap<IpAddr, RestSender>>,
}

/// One address's REST-broadcast windows: messages, and their bytes (as a socket's).
#[derive(Debug)]
struct RestSender {
    events: RateWindow,
    bytes: Option<RateWindow>,
}

/// Most addresses whose REST rate is remembered; past it, idle ones are forgotten.
const MAX_REST_SENDERS: usize = 4096;

impl RealtimeState {
    /// State for a server whose tokens are signed with `secret`.
    pub fn new(args: &RealtimeArgs, secret: &str) -> Self {
        let limits = Limits::from(args);
        let now = Instant::now();
        RealtimeState {
            joins: Mutex::new(RateWindow::new(limits.max_joins_per_second, now)),
            events: Mutex::new(RateWindow::new(limits.max_events_per_second, now)),
            rest_senders: Mutex::new(HashMap::new()),
            limits,
            secret: secret.to_owned(),
            hub: Hub::default(),
            counters: Counters::default(),
            connections: AtomicUsize::new(0),
            per_address: Mutex::new(HashMap::new()),
        }
    }

    /// The counters so far.
    pub fn counters(&self) -> CounterSnapshot {
        self.counters.snapshot()
    }

    /// The channel state.
    pub fn hub(&self) -> &Hub {
        &self.hub
    }

    /// Open Realtime sockets.
    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::Relaxed)
    }

    pub(crate) fn limits(&self) -> &Limits {
        &self.limits
    }

    pub(crate) fn verify(&self, token: &str) -> Result<VerifiedToken, TokenError> {
        jwt::verify(&self.secret, token, jwt::now_secs())
    }

    /// Counts a join server-wide from a socket that averages `socket_rate` joins per second
    /// (its own window, this join included); `false` when the server is over its limit and
    /// this socket is not a light joiner (at most half its own limit and half the server's).
    pub(crate) fn admit_join(&self, socket_rate: f64) -> bool {
        let within = self
            .joins
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .admit(Instant::now());
        let light = light_rate(
            self.limits.max_joins_per_second,
            self.limits.max_joins_per_socket,
        );
        // `<=`: a fresh socket joining a socket's worth of channels at once (the focus's
        // watcher, 50) is at exactly half the default limits on its last join.
        within || socket_rate <= light
    }

    /// Counts a client event server-wide from a sender that averages `sender_rate` events
    /// per second (its own window, this event included); `false` when the server is over its
    /// limit and this sender is one of those that put it there. A light sender — under half
    /// its own limit and under half the server's — is let through even then, so senders that
    /// each stay within their own limit cannot together get everyone else's channels closed.
    pub(crate) fn admit_event(&self, sender_rate: f64) -> bool {
        let within = self
            .events
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .admit(Instant::now());
        within
            || sender_rate
                < light_rate(
                    self.limits.max_events_per_second,
                    self.limits.max_events_per_socket,
                )
    }

    /// Counts a REST-broadcast message of `size` bytes from `from` against that address's
    /// own limits (the per-socket ones: messages and bytes a second), then server-wide;
    /// `false` when any refuses. Over its own limit it does not count server-wide, as a
    /// socket's excess does not.
    pub(crate) fn admit_rest_event(&self, from: Option<IpAddr>, size: usize) -> bool {
        let now = Instant::now();
        let limit = self.limits.max_events_per_socket;
        let rate = {
            let mut senders = self
                .rest_senders
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            if senders.len() >= MAX_REST_SENDERS {
                senders.retain(|_, w| w.events.average(now) > 0.0);
            }
            let key = from.map_or(
                IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED),
                crate::client_key::client_key,
            );
            let max_bytes = self.limits.max_bytes_per_socket;
            let sender = senders.entry(key).or_insert_with(|| RestSender {
                events: RateWindow::new(if limit == 0 { u32::MAX } else { limit }, now),
                bytes: (max_bytes > 0)
                    .then(|| RateWindow::new(u32::try_from(max_bytes).unwrap_or(u32::MAX), now)),
            });
            let weight = u32::try_from(size).unwrap_or(u32::MAX);
            let bytes_ok = sender
                .bytes
                .as_mut()
                .is_none_or(|w| w.admit_weighted(now, weight));
            if !sender.events.admit(now) || !bytes_ok {
                self.counters.socket_rate_limited();
                return false;
            }
            sender.events.average(now)
        };
        self.admit_event(rate)
    }
}

/// Where a socket is light against a server-wide limit of `server` per second (see
/// `admit_event`, `admit_join`): half its own limit `socket` and half the server's (the
/// server's alone when sockets have no limit of their own, 0).
fn light_rate(server: u32, socket: u32) -> f64 {
    let server = f64::from(server) / 2.0;
    match socket {
        0 => server,
        socket => server.min(f64::from(socket) / 2.0),
    }
}

/// The Realtime routes, ready to merge into the server's router.
pub fn routes(state: Arc<RealtimeState>) -> Router {
    let body_limit = state.limits.max_frame_bytes;
    Router::new()
        .route("/realtime/v1/websocket", get(socket::upgrade))
        .route("/socket/websocket", get(socket::upgrade))
        .route(
            "/realtime/v1/api/broadcast",
            post(rest::broadcast).layer(DefaultBodyLimit::max(body_limit)),
        )
        .with_state(state)
}
