//! [`RealtimeClient`]: the socket half of the client (connect, heartbeat, reconnect back-off,
//! the shared ref counter) and the public API that routes calls to channels.

use std::collections::VecDeque;

use serde_json::{json, Value};

use super::channel::{Channel, Phase};
use super::link::{next_ref, Link};
use super::options::{ChannelOptions, ClientOptions};
use super::outbound::{self, PushBody};
use super::output::{
    BroadcastBody, ChannelId, ClientEvent, ClientStats, ConnectionState, Output, PushId, PushResult,
};
use super::url::connect_url;
use crate::realtime::{event, PresenceRequest};

/// The socket as the client sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Socket {
    /// Not connected and not trying: before `connect`, after `disconnect`.
    Idle,
    Connecting,
    Open,
    /// Lost; the next try is at `retry_at`.
    Waiting {
        retry_at: u64,
    },
}

/// The heartbeat of an open socket: either the next one is due, or one awaits its reply.
#[derive(Debug, Default)]
pub(crate) struct Heartbeat {
    pub next_at: Option<u64>,
    /// Ref and deadline of the unanswered heartbeat.
    pub pending: Option<(String, u64)>,
}

/// A sans-IO Supabase Realtime (Phoenix channels) client with realtime-js's behaviour and
/// timing. Feed it socket events and time; drain [`Output`]s; wake it at
/// [`RealtimeClient::poll_timeout`].
#[derive(Debug)]
pub struct RealtimeClient {
    pub(crate) opts: ClientOptions,
    pub(crate) socket: Socket,
    /// Consecutive reconnect tries since the socket was last open (phoenix `Timer.tries`).
    pub(crate) reconnect_tries: u32,
    pub(crate) heartbeat: Heartbeat,
    pub(crate) access_token: Option<String>,
    pub(crate) last_ref: u64,
    pub(crate) last_push_id: u64,
    pub(crate) channels: Vec<Channel>,
    pub(crate) out: VecDeque<Output>,
    pub(crate) stats: ClientStats,
}

impl RealtimeClient {
    /// A client that does nothing until [`RealtimeClient::connect`].
    pub fn new(opts: ClientOptions) -> Self {
        RealtimeClient {
            opts,
            socket: Socket::Idle,
            reconnect_tries: 0,
            heartbeat: Heartbeat::default(),
            access_token: None,
            last_ref: 0,
            last_push_id: 0,
            channels: Vec::new(),
            out: VecDeque::new(),
            stats: ClientStats::default(),
        }
    }

    /// Channels and the context they act in, borrowed apart.
    pub(crate) fn split(&mut self) -> (&mut Vec<Channel>, Link<'_>) {
        let link = Link {
            opts: &self.opts,
            open: self.socket == Socket::Open,
            access_token: self.access_token.as_deref(),
            last_ref: &mut self.last_ref,
            out: &mut self.out,
            stats: &mut self.stats,
        };
        (&mut self.channels, link)
    }

    fn emit(&mut self, event: ClientEvent) {
        self.out.push_back(Output::Event(event));
    }

    /// Opens the socket unless it is open or opening. While a reconnect is scheduled this
    /// tries now instead.
    pub fn connect(&mut self, _now: u64) {
        if matches!(self.socket, Socket::Idle | Socket::Waiting { .. }) {
            self.open_socket();
        }
    }

    fn open_socket(&mut self) {
        self.socket = Socket::Connecting;
        self.out.push_back(Output::Connect {
            url: connect_url(&self.opts),
        });
        self.emit(ClientEvent::Connection(ConnectionState::Connecting));
    }

    /// Closes the socket for good: no reconnect until [`RealtimeClient::connect`]. Channels
    /// stay, errored, and rejoin when a socket opens again (as in realtime-js).
    pub fn disconnect(&mut self, now: u64) {
        let was = self.socket;
        if matches!(was, Socket::Connecting | Socket::Open) {
            self.out.push_back(Output::Close {
                code: 1000,
                reason: String::new(),
            });
            self.lose_channels(now, "disconnected");
        }
        self.socket = Socket::Idle;
        self.reconnect_tries = 0;
        self.heartbeat = Heartbeat::default();
        if was != Socket::Idle {
            self.emit(ClientEvent::Connection(ConnectionState::Closed));
        }
    }

    /// The key for the next socket (e.g. after `config.json` was read again). To use it at
    /// once, `disconnect` and `connect`: channels rejoin on the new socket.
    pub fn set_api_key(&mut self, key: String) {
        self.opts.api_key = key;
    }

    /// A user JWT for channel authorisation: carried by every later join and sent now to
    /// joined channels as `access_token`. Setting the same token again does nothing.
    pub fn set_access_token(&mut self, _now: u64, token: String) {
        if self.access_token.as_deref() == Some(token.as_str()) {
            return;
        }
        self.access_token = Some(token);
        let (channels, mut link) = self.split();
        let token = link.access_token.unwrap_or_default().to_owned();
        for channel in channels.iter_mut() {
            channel.refresh_token(&token, &mut link);
        }
    }

    /// The channel for `topic` (`pairux:<id>`; the `realtime:` prefix is added unless present).
    /// Asking again for a topic returns the same channel with `opts` used from its next join.
    pub fn channel(&mut self, topic: &str, opts: ChannelOptions) -> ChannelId {
        let topic = if topic.starts_with(event::TOPIC_PREFIX) {
            topic.to_owned()
        } else {
            format!("{}{topic}", event::TOPIC_PREFIX)
        };
        if let Some(channel) = self.channels.iter_mut().find(|c| c.topic == topic) {
            channel.opts = opts;
            return channel.id;
        }
        let id = ChannelId(self.channels.len());
        self.channels.push(Channel::new(id, topic, opts));
        id
    }

    /// Joins a closed or errored channel (now, or when the socket opens); no-op otherwise.
    pub fn join(&mut self, now: u64, ch: ChannelId) {
        let (channels, mut link) = self.split();
        if let Some(channel) = channels.get_mut(ch.0) {
            channel.join(now, &mut link);
        }
    }

    /// Leaves a channel: `phx_leave`, then [`super::ChannelState::Closed`].
    pub fn leave(&mut self, now: u64, ch: ChannelId) {
        let (channels, mut link) = self.split();
        if let Some(channel) = channels.get_mut(ch.0) {
            channel.leave(now, &mut link);
        }
    }

    /// Broadcasts a JSON payload (vsn 2.0.0: binary kind 3 with JSON encoding, as realtime-js).
    pub fn broadcast(&mut self, now: u64, ch: ChannelId, event: &str, payload: Value) -> PushId {
        let body = PushBody::Broadcast {
            event: event.to_owned(),
            body: BroadcastBody::Json(payload),
        };
        self.push(now, ch, body)
    }

    /// Broadcasts bytes (vsn 2.0.0 only; on 1.0.0 the push fails at once).
    pub fn broadcast_binary(
        &mut self,
        now: u64,
        ch: ChannelId,
        event: &str,
        payload: Vec<u8>,
    ) -> PushId {
        let body = PushBody::Broadcast {
            event: event.to_owned(),
            body: BroadcastBody::Binary(payload),
        };
        self.push(now, ch, body)
    }

    /// Tracks our presence with `meta` (must be a JSON object, or the server refuses it).
    pub fn track(&mut self, now: u64, ch: ChannelId, meta: Value) -> PushId {
        self.push(now, ch, PushBody::Presence(PresenceRequest::Track(meta)))
    }

    /// Tracks our presence with `meta` on every join of `ch` from now on, written right behind
    /// the join's frame (see `Channel::join_track`). A channel that is joined, or whose join is
    /// already written, also tracks `meta` now (a push like [`Self::track`], whose id this
    /// returns).
    pub fn track_with_join(&mut self, now: u64, ch: ChannelId, meta: Value) -> Option<PushId> {
        self.set_join_track(ch, meta.clone());
        let channel = self.channels.get(ch.0)?;
        let written = match channel.phase {
            Phase::Joined => true,
            Phase::Joining => channel.join_ref.is_some(),
            Phase::Closed | Phase::Errored | Phase::Leaving => false,
        };
        written.then(|| self.track(now, ch, meta))
    }

    /// Tracks `meta` with every later join of `ch`, without tracking it now: the meta a
    /// paced re-track has not sent yet still goes with a rejoin meanwhile.
    pub fn set_join_track(&mut self, ch: ChannelId, meta: Value) {
        if let Some(channel) = self.channels.get_mut(ch.0) {
            channel.join_track = Some(meta);
        }
    }

    /// Removes our presence (and stops tracking it with each join).
    pub fn untrack(&mut self, now: u64, ch: ChannelId) -> PushId {
        if let Some(channel) = self.channels.get_mut(ch.0) {
            channel.join_track = None;
        }
        self.push(now, ch, PushBody::Presence(PresenceRequest::Untrack))
    }

    fn push(&mut self, now: u64, ch: ChannelId, body: PushBody) -> PushId {
        self.last_push_id += 1;
        let id = PushId(self.last_push_id);
        let (channels, mut link) = self.split();
        match channels.get_mut(ch.0) {
            Some(channel) => channel.push(now, id, body, &mut link),
            None => link.emit(ClientEvent::PushDone {
                ch,
                id,
                result: PushResult::Error(json!({ "reason": "unknown channel" })),
            }),
        }
        id
    }

    /// The socket opened.
    pub fn handle_open(&mut self, now: u64) {
        if self.socket != Socket::Connecting {
            self.stats.ignored_socket_events += 1;
            return;
        }
        self.socket = Socket::Open;
        self.reconnect_tries = 0;
        self.heartbeat = Heartbeat {
            next_at: Some(now.saturating_add(self.opts.heartbeat_interval_ms)),
            pending: None,
        };
        self.emit(ClientEvent::Connection(ConnectionState::Open));
        let (channels, mut link) = self.split();
        for channel in channels.iter_mut() {
            channel.on_socket_open(now, &mut link);
        }
    }

    /// The socket closed (by the server, the network, or a refused upgrade). Unless it was
    /// closed on request, a reconnect is scheduled on the back-off.
    pub fn handle_close(&mut self, now: u64, code: u16, reason: &str) {
        match self.socket {
            Socket::Connecting => {
                self.emit(ClientEvent::ConnectFailed);
                self.lose(now, &format!("connect failed ({code})"));
            }
            Socket::Open => {
                let why = if reason.is_empty() {
                    format!("socket closed ({code})")
                } else {
                    format!("socket closed ({code}: {reason})")
                };
                self.lose(now, &why);
            }
            Socket::Idle | Socket::Waiting { .. } => self.stats.ignored_socket_events += 1,
        }
    }

    /// Channels error, heartbeats stop, and the next try is scheduled.
    fn lose(&mut self, now: u64, reason: &str) {
        self.heartbeat = Heartbeat::default();
        self.lose_channels(now, reason);
        let attempt = self.reconnect_tries.saturating_add(1);
        let retry_at = now.saturating_add(self.opts.reconnect.delay(attempt));
        self.socket = Socket::Waiting { retry_at };
        self.emit(ClientEvent::Connection(ConnectionState::Reconnecting {
            retry_at,
            attempt,
        }));
    }

    fn lose_channels(&mut self, now: u64, reason: &str) {
        // Channels see the socket as already gone, so nothing is scheduled on it.
        self.socket = Socket::Idle;
        let (channels, mut link) = self.split();
        for channel in channels.iter_mut() {
            channel.on_socket_lost(now, reason, &mut link);
        }
    }

    /// Fires every timer due at `now`.
    pub fn handle_timeout(&mut self, now: u64) {
        match self.socket {
            Socket::Waiting { retry_at } if retry_at <= now => {
                self.reconnect_tries = self.reconnect_tries.saturating_add(1);
                self.open_socket();
            }
            Socket::Open => self.heartbeat_timers(now),
            _ => {}
        }
        let (channels, mut link) = self.split();
        for channel in channels.iter_mut() {
            channel.handle_timeout(now, &mut link);
        }
    }

    /// phoenix `sendHeartbeat` / `heartbeatTimeout`: a heartbeat unanswered for one interval
    /// closes the socket (1000, "heartbeat timeout") and reconnects.
    fn heartbeat_timers(&mut self, now: u64) {
        if self
            .heartbeat
            .pending
            .as_ref()
            .is_some_and(|(_, at)| *at <= now)
        {
            self.out.push_back(Output::Close {
                code: 1000,
                reason: "heartbeat timeout".to_owned(),
            });
            self.lose(now, "heartbeat timeout");
            return;
        }
        if self.heartbeat.next_at.is_some_and(|at| at <= now) {
            let msg_ref = next_ref(&mut self.last_ref);
            self.out
                .push_back(outbound::heartbeat(self.opts.vsn, &msg_ref).into());
            let deadline = now.saturating_add(self.opts.heartbeat_interval_ms);
            self.heartbeat = Heartbeat {
                next_at: None,
                pending: Some((msg_ref, deadline)),
            };
        }
    }

    /// A heartbeat reply (any status): the next heartbeat is one interval from now.
    pub(crate) fn on_heartbeat_reply(&mut self, now: u64) {
        self.heartbeat = Heartbeat {
            next_at: Some(now.saturating_add(self.opts.heartbeat_interval_ms)),
            pending: None,
        };
    }

    /// The next thing to do, in order.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.out.pop_front()
    }

    /// When to call [`RealtimeClient::handle_timeout`] next (absolute ms), if ever.
    pub fn poll_timeout(&self) -> Option<u64> {
        let socket = match self.socket {
            Socket::Waiting { retry_at } => Some(retry_at),
            Socket::Open => [
                self.heartbeat.next_at,
                self.heartbeat.pending.as_ref().map(|p| p.1),
            ]
            .into_iter()
            .flatten()
            .min(),
            Socket::Idle | Socket::Connecting => None,
        };
        self.channels
            .iter()
            .filter_map(Channel::next_deadline)
            .chain(socket)
            .min()
    }

    /// The socket's state now.
    pub fn connection_state(&self) -> ConnectionState {
        match self.socket {
            Socket::Idle => ConnectionState::Closed,
            Socket::Connecting => ConnectionState::Connecting,
            Socket::Open => ConnectionState::Open,
            Socket::Waiting { retry_at } => ConnectionState::Reconnecting {
                retry_at,
                attempt: self.reconnect_tries.saturating_add(1),
            },
        }
    }

    /// Counters of dropped input.
    pub fn stats(&self) -> ClientStats {
        self.stats
    }
}
