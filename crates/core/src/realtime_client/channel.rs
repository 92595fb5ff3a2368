//! One channel's lifecycle, as phoenix's `Channel` runs it under realtime-js: join with a
//! timeout, rejoin on a stepped back-off after an error, rejoin at once when the socket
//! reopens, leave (`phx_leave` → reply → closed), and the join ref that tells current
//! messages from those of an earlier join. Pushes live in `channel_push`.

use std::collections::VecDeque;

use serde_json::Value;

use super::link::Link;
use super::options::ChannelOptions;
use super::outbound::{self, Addr, PushBody};
use super::output::{ChannelId, ChannelState, ClientEvent};
use super::presence::ChannelPresence;
use crate::realtime::{JoinConfig, JoinPayload, PresenceRequest, ReplyStatus};

/// Where the channel is; the details an event carries are computed when it is emitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    Closed,
    Joining,
    Joined,
    Errored,
    Leaving,
}

/// A user push waiting to be sent, or sent and waiting for its reply.
#[derive(Debug)]
pub(crate) struct Push {
    pub id: super::output::PushId,
    pub body: PushBody,
    /// While buffered: when it gives up unsent; in flight: when it gives up on the reply.
    pub deadline: u64,
    /// The ref it was sent with (in flight only).
    pub msg_ref: String,
}

#[derive(Debug)]
pub(crate) struct Channel {
    pub id: ChannelId,
    pub topic: String,
    pub opts: ChannelOptions,
    pub phase: Phase,
    /// The ref of the current join push; messages carrying another join ref are stale.
    /// `None` before the join is sent and after a failed join is reset.
    pub join_ref: Option<String>,
    /// Join timeout, while a join is outstanding (it runs even while the socket opens).
    pub join_deadline: Option<u64>,
    /// The leave push's ref and timeout, while leaving.
    pub leave: Option<(String, u64)>,
    /// Consecutive rejoin timer firings since the last success (phoenix `Timer.tries`).
    pub rejoin_tries: u32,
    pub rejoin_at: Option<u64>,
    pub buffer: VecDeque<Push>,
    pub in_flight: Vec<Push>,
    pub presence: ChannelPresence,
    /// Our presence meta, tracked with every join: its push is written right behind the join's
    /// frame (same join ref) instead of after the join's reply, so the server tracks us as soon
    /// as it has let us in — not a round trip, and the page's next free moment, later. The
    /// server handles a socket's frames in order, so the track finds the channel joined; were
    /// the join refused, the track is refused with it.
    pub join_track: Option<Value>,
    /// The ref of the track written with the current join, or of its retry: its reply tells
    /// whether the server holds our presence.
    pub join_track_ref: Option<String>,
    /// The server refused our last track (its topic's presence is full).
    pub track_refused: bool,
    /// The server held a track of ours since the current join was written (so a refused
    /// update leaves the earlier meta seen).
    pub track_held: bool,
    /// While refused, unseen and joined, the track goes again at this time.
    pub track_retry_at: Option<u64>,
    /// Retries since the last track the server held (or the last join).
    pub track_retries: usize,
}

/// How long after the server refused our presence (and no one sees us) the track goes again:
/// after each refusal in turn, then the last one over and over. Room frees as people leave;
/// until then the page is joined but no one else sees it. Every try is one of the server's 5
/// presence calls per channel in 30 s (a sixth closes the channel, counted before it looks at
/// the meta): with the join's own track and the two re-tracks `PresencePacer` lets go, no
/// window holds more than five.
pub const TRACK_RETRY_MS: [u64; 3] = [8_000, 15_000, 30_000];

/// Join error codes that mean "this token will not do" (server `join_reason`), and the
/// `system` messages that close a channel for the same cause.
const TOKEN_JOIN_CODES: [&str; 4] = [
    "InvalidJWTToken",
    "JwtSignatureError",
    "MalformedJWT",
    "JwtSignerError",
];
const TOKEN_SYSTEM_MESSAGES: [&str; 5] = [
    "Token has expired",
    "The token provided is not a valid JWT",
    ":signature_error",
    "Fields `role` and `exp` are required in JWT",
    "Failed to generate JWT signer",
];

/// Whether a join error reason blames the token.
pub(crate) fn is_token_join_error(reason: &str) -> bool {
    let code = reason.split(':').next().unwrap_or_default();
    TOKEN_JOIN_CODES.contains(&code)
}

/// Whether a `system` error message blames the token.
pub(crate) fn is_token_system_error(message: &str) -> bool {
    TOKEN_SYSTEM_MESSAGES
        .iter()
        .any(|prefix| message.starts_with(prefix))
}

impl Channel {
    pub(crate) fn new(id: ChannelId, topic: String, opts: ChannelOptions) -> Self {
        Channel {
            id,
            topic,
            opts,
            phase: Phase::Closed,
            join_ref: None,
            join_deadline: None,
            leave: None,
            rejoin_tries: 0,
            rejoin_at: None,
            buffer: VecDeque::new(),
            in_flight: Vec::new(),
            presence: ChannelPresence::default(),
            join_track: None,
            join_track_ref: None,
            track_refused: false,
            track_held: false,
            track_retry_at: None,
            track_retries: 0,
        }
    }

    fn set_state(&mut self, phase: Phase, state: ChannelState, link: &mut Link<'_>) {
        self.phase = phase;
        link.emit(ClientEvent::Channel { ch: self.id, state });
    }

    /// `join`: a closed or errored channel joins now; otherwise nothing changes.
    pub(crate) fn join(&mut self, now: u64, link: &mut Link<'_>) {
        if matches!(self.phase, Phase::Closed | Phase::Errored) {
            self.rejoin_tries = 0;
            self.rejoin(now, link);
        }
    }

    /// phoenix `rejoin`: a fresh join push (new ref, new timeout). While the socket is not open
    /// the frame waits for it, but the timeout already runs, as in realtime-js.
    fn rejoin(&mut self, now: u64, link: &mut Link<'_>) {
        if self.phase == Phase::Leaving {
            return;
        }
        self.rejoin_at = None;
        self.join_ref = None;
        self.join_deadline = Some(now.saturating_add(link.opts.push_timeout_ms));
        self.set_state(Phase::Joining, ChannelState::Joining, link);
        if link.open {
            self.send_join(link);
        }
    }

    fn send_join(&mut self, link: &mut Link<'_>) {
        let join_ref = link.make_ref();
        let payload = JoinPayload {
            config: JoinConfig {
                broadcast: self.opts.broadcast,
                presence: self.opts.presence.clone(),
                postgres_changes: Vec::new(),
                private: self.opts.private,
            },
            access_token: link.access_token.map(str::to_owned),
        };
        let addr = Addr {
            join_ref: Some(&join_ref),
            msg_ref: &join_ref,
            topic: &self.topic,
        };
        let frame = outbound::join(link.opts.vsn, addr, &payload)
            .expect("a join payload of strings and booleans always serialises");
        link.send(frame);
        self.join_track_ref = None;
        self.track_retry_at = None;
        self.track_retries = 0;
        self.track_held = false;
        if let Some(meta) = &self.join_track {
            let msg_ref = link.make_ref();
            let addr = Addr {
                join_ref: Some(&join_ref),
                msg_ref: &msg_ref,
                topic: &self.topic,
            };
            let body = PushBody::Presence(PresenceRequest::Track(meta.clone()));
            if let Ok(frame) = outbound::push(link.opts.vsn, addr, &body) {
                link.send(frame);
                self.join_track_ref = Some(msg_ref);
            }
        }
        self.join_ref = Some(join_ref);
    }

    /// The reply to the current join push.
    pub(crate) fn on_join_reply(
        &mut self,
        now: u64,
        status: ReplyStatus,
        response: &Value,
        link: &mut Link<'_>,
    ) {
        self.join_deadline = None;
        match status {
            ReplyStatus::Ok => {
                self.rejoin_tries = 0;
                self.rejoin_at = None;
                self.set_state(Phase::Joined, ChannelState::Joined, link);
                self.flush(now, link);
            }
            ReplyStatus::Error => {
                let reason = reason_text(response);
                if is_token_join_error(&reason) {
                    link.emit(ClientEvent::TokenRefused {
                        ch: self.id,
                        reason: reason.clone(),
                    });
                }
                // realtime-js keeps the join ref after an error reply (only a timeout or a
                // crash resets the join push).
                self.fail(now, reason, link);
            }
        }
    }

    /// Errored, with a rejoin scheduled when the socket is open (else it waits for the open).
    fn fail(&mut self, now: u64, reason: String, link: &mut Link<'_>) {
        let retry_at = link.open.then(|| {
            let at = now.saturating_add(link.opts.rejoin.delay(self.rejoin_tries + 1));
            self.rejoin_at = Some(at);
            at
        });
        self.set_state(
            Phase::Errored,
            ChannelState::Errored { reason, retry_at },
            link,
        );
    }

    /// The join push timed out: realtime-js sends a `phx_leave` for it, resets the join push
    /// and rejoins on the back-off.
    fn on_join_timeout(&mut self, now: u64, link: &mut Link<'_>) {
        self.join_deadline = None;
        if link.open {
            if let Some(join_ref) = self.join_ref.take() {
                let msg_ref = link.make_ref();
                let addr = Addr {
                    join_ref: Some(&join_ref),
                    msg_ref: &msg_ref,
                    topic: &self.topic,
                };
                if let Ok(frame) = outbound::push(link.opts.vsn, addr, &PushBody::Leave) {
                    link.send(frame);
                }
            }
        }
        self.join_ref = None;
        self.fail(now, "timeout".to_owned(), link);
    }

    /// `phx_error` from the server (the channel process crashed).
    pub(crate) fn on_error(&mut self, now: u64, reason: String, link: &mut Link<'_>) {
        if self.phase == Phase::Joining {
            self.join_ref = None;
            self.join_deadline = None;
        }
        self.fail(now, reason, link);
    }

    /// `phx_close` from the server, or the end of a leave. realtime-js does not rejoin.
    pub(crate) fn on_close(&mut self, link: &mut Link<'_>) {
        self.rejoin_tries = 0;
        self.rejoin_at = None;
        self.track_retry_at = None;
        self.join_deadline = None;
        self.leave = None;
        self.set_state(Phase::Closed, ChannelState::Closed, link);
    }

    /// `leave`: `phx_leave`, closed on its reply or timeout; closed at once when nothing can be
    /// pushed (realtime-js `!canPush()` → immediate "ok").
    pub(crate) fn leave(&mut self, now: u64, link: &mut Link<'_>) {
        if matches!(self.phase, Phase::Closed | Phase::Leaving) {
            return;
        }
        let was_joined = self.phase == Phase::Joined;
        self.rejoin_at = None;
        self.join_deadline = None;
        self.set_state(Phase::Leaving, ChannelState::Leaving, link);
        if link.open {
            let msg_ref = link.make_ref();
            let addr = Addr {
                join_ref: self.join_ref.as_deref(),
                msg_ref: &msg_ref,
                topic: &self.topic,
            };
            if let Ok(frame) = outbound::push(link.opts.vsn, addr, &PushBody::Leave) {
                link.send(frame);
            }
            if was_joined {
                let deadline = now.saturating_add(link.opts.push_timeout_ms);
                self.leave = Some((msg_ref, deadline));
                return;
            }
        }
        self.on_close(link);
    }

    /// The socket opened: the rejoin back-off starts over, an errored channel rejoins now and a
    /// join that waited for the socket goes out.
    pub(crate) fn on_socket_open(&mut self, now: u64, link: &mut Link<'_>) {
        self.rejoin_tries = 0;
        self.rejoin_at = None;
        match self.phase {
            Phase::Errored => self.rejoin(now, link),
            Phase::Joining if self.join_ref.is_none() => self.send_join(link),
            _ => {}
        }
    }

    /// The socket closed or was given up: a joined or joining channel errors and waits for the
    /// next open (phoenix `triggerChanError`).
    pub(crate) fn on_socket_lost(&mut self, now: u64, reason: &str, link: &mut Link<'_>) {
        // A rejoin timer could only fire while disconnected, and the open resets it anyway;
        // the rejoin tracks us again.
        self.rejoin_at = None;
        self.track_retry_at = None;
        if matches!(self.phase, Phase::Joined | Phase::Joining) {
            self.on_error(now, reason.to_owned(), link);
        }
    }

    /// Sends the new token to a joined channel (the next join carries it in any case).
    pub(crate) fn refresh_token(&mut self, token: &str, link: &mut Link<'_>) {
        if self.phase != Phase::Joined || !link.open {
            return;
        }
        // No reply comes on success (a failure is a `system` error), so nothing waits for one.
        self.write_push(&PushBody::AccessToken(token.to_owned()), link);
    }

    /// Writes `body` under the current join with a fresh ref; the ref, if it was written.
    fn write_push(&self, body: &PushBody, link: &mut Link<'_>) -> Option<String> {
        let msg_ref = link.make_ref();
        let addr = Addr {
            join_ref: self.join_ref.as_deref(),
            msg_ref: &msg_ref,
            topic: &self.topic,
        };
        let frame = outbound::push(link.opts.vsn, addr, body).ok()?;
        link.send(frame);
        Some(msg_ref)
    }

    /// Fires this channel's expired timers.
    pub(crate) fn handle_timeout(&mut self, now: u64, link: &mut Link<'_>) {
        if self.join_deadline.is_some_and(|at| at <= now) {
            self.on_join_timeout(now, link);
        }
        if self.leave.as_ref().is_some_and(|(_, at)| *at <= now) {
            self.on_close(link);
        }
        if self.rejoin_at.is_some_and(|at| at <= now) {
            self.rejoin_at = None;
            self.rejoin_tries = self.rejoin_tries.saturating_add(1);
            if link.open {
                self.rejoin(now, link);
            }
        }
        if self.track_retry_at.is_some_and(|at| at <= now) {
            self.track_retry_at = None;
            self.retrack(link);
        }
        self.expire_pushes(now, link);
    }

    /// Tracks our meta again (after the server refused it), if we are joined and have one.
    fn retrack(&mut self, link: &mut Link<'_>) {
        let (Phase::Joined, Some(meta), true) = (self.phase, &self.join_track, link.open) else {
            return;
        };
        let body = PushBody::Presence(PresenceRequest::Track(meta.clone()));
        if let Some(msg_ref) = self.write_push(&body, link) {
            self.join_track_ref = Some(msg_ref);
        }
    }

    /// The server's answer to a track of ours: refused for room (`PresenceLimitReached`: its
    /// topic's presence is full) is told, and — while no one sees us — tried again after
    /// [`TRACK_RETRY_MS`] (a refused update leaves our earlier meta seen; the next update tries
    /// again). Held after a refusal is told too. Any other error (the track refused with its
    /// join, a malformed meta) is not about room and is left alone.
    pub(crate) fn on_track_reply(
        &mut self,
        now: u64,
        status: ReplyStatus,
        response: &Value,
        link: &mut Link<'_>,
    ) {
        match status {
            ReplyStatus::Error => {
                let reason = reason_text(response);
                if self.phase != Phase::Joined || !reason.starts_with("PresenceLimitReached") {
                    return;
                }
                self.track_refused = true;
                if !self.track_held {
                    let wait = TRACK_RETRY_MS[self.track_retries.min(TRACK_RETRY_MS.len() - 1)];
                    self.track_retries += 1;
                    self.track_retry_at = Some(now.saturating_add(wait));
                }
                link.emit(ClientEvent::PresenceRefused {
                    ch: self.id,
                    reason,
                    seen: self.track_held,
                });
            }
            ReplyStatus::Ok => {
                self.track_retry_at = None;
                self.track_retries = 0;
                self.track_held = true;
                if std::mem::take(&mut self.track_refused) {
                    link.emit(ClientEvent::PresenceHeld { ch: self.id });
                }
            }
        }
    }

    /// The earliest of this channel's timers.
    pub(crate) fn next_deadline(&self) -> Option<u64> {
        let pushes = self
            .buffer
            .iter()
            .chain(&self.in_flight)
            .map(|p| p.deadline);
        [
            self.join_deadline,
            self.leave.as_ref().map(|l| l.1),
            self.rejoin_at,
            self.track_retry_at,
        ]
        .into_iter()
        .flatten()
        .chain(pushes)
        .min()
    }
}

/// The `reason` of an error response, or its JSON text (realtime-js joins the values).
fn reason_text(response: &Value) -> String {
    match response.get("reason") {
        Some(Value::String(reason)) => reason.clone(),
        _ => response.to_string(),
    }
}
