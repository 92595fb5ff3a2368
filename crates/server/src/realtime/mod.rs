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
    joins: Mutex<RateWindow>,
    events: Mutex<RateWindow>,
}

impl RealtimeState {
    /// State for a server whose tokens are signed with `secret`.
    pub fn new(args: &RealtimeArgs, secret: &str) -> Self {
        let limits = Limits::from(args);
        let now = Instant::now();
        RealtimeState {
            joins: Mutex::new(RateWindow::new(limits.max_joins_per_second, now)),
            events: Mutex::new(RateWindow::new(limits.max_events_per_second, now)),
            limits,
            secret: secret.to_owned(),
            hub: Hub::default(),
            counters: Counters::default(),
            connections: AtomicUsize::new(0),
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

    /// Counts a join; `false` when joins per second are over the limit.
    pub(crate) fn admit_join(&self) -> bool {
        self.joins
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .admit(Instant::now())
    }

    /// Counts a client event; `false` when events per second are over the limit.
    pub(crate) fn admit_event(&self) -> bool {
        self.events
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .admit(Instant::now())
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
