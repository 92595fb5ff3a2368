//! The protocol state machine of one socket: which channels it has joined and with what
//! options, and what each client frame does.
//!
//! A `Session` never touches the network. It decodes frames with the core codec, changes the
//! hub, and queues its answers in the socket's outbox, in protocol order (a reply before the
//! pushes it causes). The socket task feeds it frames and timer ticks.
//!
//! Submodules: [`join`] (join, leave, re-join), [`broadcast`], [`presence`], [`token`]
//! (access-token refresh and expiry re-checks).

mod broadcast;
mod join;
mod presence;
mod token;

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use axum::extract::ws::{CloseFrame, Message};
use pairux_core::realtime::{
    event, BinaryFrame, EmptyObject, ErrorReason, Message as PhxMessage, Reply, Vsn,
};
use serde::Serialize;
use serde_json::{Map, Value};

use super::frames;
use super::hub::SubscriberId;
use super::outbox::Outbox;
use super::rate::{CallQuota, RateWindow};
use super::RealtimeState;

/// One socket's protocol state.
pub struct Session {
    state: Arc<RealtimeState>,
    vsn: Vsn,
    /// The token the socket connected with; channels use it unless their join names another.
    socket_token: String,
    outbox: Outbox,
    /// Joined channels by topic.
    channels: HashMap<String, Channel>,
    /// Join errors waiting out the back-off; capped so a client cannot pile them up.
    delayed: Arc<AtomicUsize>,
    /// This socket's own events per second (`None`: no per-socket limit).
    events: Option<RateWindow>,
    /// This socket's own broadcast bytes per second (`None`: no limit).
    bytes: Option<RateWindow>,
    /// This socket's own joins per second (`None`: no per-socket limit).
    joins: Option<RateWindow>,
}

/// Ours: refs are a client's counters (decimal numbers in every Phoenix client) and a topic a
/// short name; a frame with longer ones is dropped unread, because a join's ref is kept for
/// its channel's life and refs and topics are echoed in replies, some held for the error
/// back-off. (A topic name over `join::MAX_NAME_BYTES` still gets its join refused in words.)
const MAX_REF_BYTES: usize = 64;
const MAX_TOPIC_BYTES: usize = 1024;

fn oversized(join_ref: Option<&str>, msg_ref: Option<&str>, topic: &str) -> bool {
    let long_ref = |r: Option<&str>| r.is_some_and(|r| r.len() > MAX_REF_BYTES);
    long_ref(join_ref) || long_ref(msg_ref) || topic.len() > MAX_TOPIC_BYTES
}

/// This socket's window for `limit` per second (`None`: no limit of its own).
fn own_window(limit: u32) -> Option<RateWindow> {
    (limit > 0).then(|| RateWindow::new(limit, Instant::now()))
}

/// Which of a socket's own limits ([`Session::own_rate`]).
#[derive(Debug, Clone, Copy)]
enum Own {
    Events,
    Joins,
    Bytes,
}

/// One joined channel.
#[derive(Debug)]
struct Channel {
    join_ref: Option<String>,
    subscriber: SubscriberId,
    ack: bool,
    self_broadcast: bool,
    presence_key: String,
    presence_enabled: bool,
    /// The payload this channel tracks, to skip re-tracking an identical one.
    tracked: Option<Map<String, Value>>,
    presence_quota: CallQuota,
    access_token: String,
    recheck_at: Instant,
}

impl Session {
    pub fn new(state: Arc<RealtimeState>, vsn: Vsn, socket_token: String, outbox: Outbox) -> Self {
        Session {
            vsn,
            socket_token,
            outbox,
            channels: HashMap::new(),
            delayed: Arc::new(AtomicUsize::new(0)),
            events: own_window(state.limits.max_events_per_socket),
            joins: own_window(state.limits.max_joins_per_socket),
            bytes: own_window(u32::try_from(state.limits.max_bytes_per_socket).unwrap_or(u32::MAX)),
            state,
        }
    }

    /// Counts one client event against this socket's limit, then the server-wide one. An
    /// event over the socket's own limit never reaches the server-wide count.
    fn admit_event(&mut self) -> bool {
        match self.own_rate(Own::Events, 1) {
            Some(rate) => self.state.admit_event(rate),
            None => false,
        }
    }

    /// Counts a broadcast's `size` bytes against this socket's own bytes per second; `false`
    /// when that goes over it (the message is then not relayed).
    fn admit_bytes(&mut self, size: usize) -> bool {
        let weight = u32::try_from(size).unwrap_or(u32::MAX);
        self.own_rate(Own::Bytes, weight).is_some()
    }

    /// Counts `weight` against one of this socket's own limits: the socket's average rate
    /// there (this included; infinite without a limit of its own: never light), or `None`
    /// when it is over that limit (counted as `socket_rate_limited`).
    fn own_rate(&mut self, which: Own, weight: u32) -> Option<f64> {
        let window = match which {
            Own::Events => &mut self.events,
            Own::Joins => &mut self.joins,
            Own::Bytes => &mut self.bytes,
        };
        let Some(window) = window else {
            return Some(f64::INFINITY);
        };
        let now = Instant::now();
        if !window.admit_weighted(now, weight) {
            self.state.counters.socket_rate_limited();
            return None;
        }
        Some(window.average(now))
    }

    /// Handles one inbound WebSocket message; `false` when the client closed.
    pub fn on_message(&mut self, message: Message) -> bool {
        match message {
            Message::Text(text) => self.on_text(&text),
            Message::Binary(bytes) => self.on_binary(&bytes),
            // tungstenite answers pings itself.
            Message::Ping(_) | Message::Pong(_) => {}
            Message::Close(_) => return false,
        }
        true
    }

    fn on_text(&mut self, text: &str) {
        match PhxMessage::decode(text, self.vsn) {
            Ok(msg) if oversized(msg.join_ref.as_deref(), msg.msg_ref.as_deref(), &msg.topic) => {
                self.malformed(&"a ref or topic too long")
            }
            Ok(msg) => self.dispatch(msg, text.len()),
            Err(err) => self.malformed(&err),
        }
    }

    fn on_binary(&mut self, bytes: &[u8]) {
        if !self.vsn.carries_binary() {
            return self.malformed(&"binary frame on a vsn 1.0.0 socket");
        }
        match BinaryFrame::decode(bytes) {
            Ok(BinaryFrame::Push(push))
                if oversized(Some(push.join_ref), Some(push.msg_ref), push.topic) =>
            {
                self.malformed(&"a ref or topic too long")
            }
            Ok(BinaryFrame::Push(push)) => self.binary_broadcast(push),
            Ok(BinaryFrame::Broadcast(_)) => self.malformed(&"kind 4 is server-to-client only"),
            Err(err) => self.malformed(&err),
        }
    }

    fn dispatch(&mut self, msg: PhxMessage, frame_len: usize) {
        if msg.topic == event::PHOENIX_TOPIC && msg.event == event::HEARTBEAT {
            let r#ref = msg.msg_ref.as_deref();
            return self.send(frames::reply(
                self.vsn,
                None,
                r#ref,
                &msg.topic,
                &Reply::ok(&EmptyObject {}),
            ));
        }
        match msg.event.as_str() {
            event::JOIN => self.join(msg),
            event::LEAVE => self.leave(msg),
            _ if !self.channels.contains_key(&msg.topic) => {
                self.unmatched(msg.join_ref.as_deref(), msg.msg_ref.as_deref(), &msg.topic)
            }
            event::BROADCAST => self.text_broadcast(msg, frame_len),
            event::PRESENCE => self.presence(msg),
            event::ACCESS_TOKEN => self.access_token(msg),
            _ => self.other_event(&msg.topic),
        }
    }

    /// Ends the session: every subscription is dropped, so the others see this socket's
    /// presence leave.
    pub fn finish(mut self) {
        for (topic, channel) in std::mem::take(&mut self.channels) {
            let delivered = self.state.hub.unsubscribe(&topic, channel.subscriber);
            self.state.counters.delivered(delivered);
        }
    }

    fn malformed(&self, why: &dyn std::fmt::Display) {
        self.state.counters.malformed_frame();
        tracing::debug!(%why, "realtime: dropped a malformed frame");
    }

    /// Queues a frame for this socket.
    fn send(&self, frame: Option<Message>) {
        if let Some(frame) = frame {
            self.outbox.push(frame);
        }
    }

    fn reply_ok<R: Serialize + ?Sized>(
        &self,
        join_ref: Option<&str>,
        msg_ref: Option<&str>,
        topic: &str,
        response: &R,
    ) {
        self.reply(join_ref, msg_ref, topic, &Reply::ok(response));
    }

    fn reply_error<R: Serialize + ?Sized>(
        &self,
        join_ref: Option<&str>,
        msg_ref: Option<&str>,
        topic: &str,
        response: &R,
    ) {
        self.reply(join_ref, msg_ref, topic, &Reply::error(response));
    }

    fn reply<R: Serialize + ?Sized>(
        &self,
        join_ref: Option<&str>,
        msg_ref: Option<&str>,
        topic: &str,
        reply: &Reply<'_, R>,
    ) {
        self.send(frames::reply(self.vsn, join_ref, msg_ref, topic, reply));
    }

    /// Phoenix's answer to a push for a topic this socket has not joined.
    fn unmatched(&self, join_ref: Option<&str>, msg_ref: Option<&str>, topic: &str) {
        let reason = ErrorReason {
            reason: "unmatched topic".into(),
        };
        self.reply_error(join_ref, msg_ref, topic, &reason);
    }

    /// Queues frames after the configured error back-off (at once when it is zero), as the
    /// real server delays join errors.
    fn send_after_backoff(&self, frames: Vec<Message>) {
        let delay = self.state.limits().error_backoff;
        // Past the cap (as many as the outbox holds) errors go out at once: a client spamming
        // bad joins must not grow the server a sleeping task per join.
        let cap = self.state.limits().outbound_queue;
        if delay.is_zero() || self.delayed.load(Ordering::Relaxed) >= cap {
            for frame in frames {
                self.outbox.push(frame);
            }
            return;
        }
        self.delayed.fetch_add(1, Ordering::Relaxed);
        let (outbox, delayed) = (self.outbox.clone(), self.delayed.clone());
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            for frame in frames {
                outbox.push(frame);
            }
            delayed.fetch_sub(1, Ordering::Relaxed);
        });
    }

    /// A close frame for the whole socket, queued behind everything already queued.
    fn close_frame(code: u16, reason: &'static str) -> Message {
        Message::Close(Some(CloseFrame {
            code,
            reason: reason.into(),
        }))
    }

    /// Closes a channel the server shuts down: `system` error, then `phx_close`.
    fn shutdown_channel(&mut self, topic: &str, message: &str) {
        let Some(channel) = self.channels.remove(topic) else {
            return;
        };
        tracing::debug!(topic, message, "realtime: channel shut down");
        let join_ref = channel.join_ref.as_deref();
        self.send(frames::system_error(self.vsn, join_ref, topic, message));
        self.close_channel(topic, channel);
    }

    /// Sends `phx_close` for a channel that is already out of `channels` and unsubscribes it.
    fn close_channel(&self, topic: &str, channel: Channel) {
        self.send(frames::close(self.vsn, channel.join_ref.as_deref(), topic));
        let delivered = self.state.hub.unsubscribe(topic, channel.subscriber);
        self.state.counters.delivered(delivered);
    }
}
