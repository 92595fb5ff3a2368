//! Server → client frames, built with the core codec.
//!
//! A frame for one socket is encoded for that socket's version. A fanned-out frame (broadcast,
//! presence diff) is encoded at most once per version by [`Fanout`] and the same bytes are
//! shared by every subscriber of that version.

use axum::extract::ws::{Message, Utf8Bytes};
use bytes::Bytes;
use pairux_core::realtime::{
    event, BroadcastMessage, Direction, EmptyObject, Envelope, PresenceDiff, Reply, SystemPayload,
    UserBroadcast, UserPayload, Vsn,
};
use serde::Serialize;
use serde_json::Value;

/// Encodes a text frame for one socket. Encoding our own payloads cannot fail in practice; if
/// it ever does, the frame is logged and skipped rather than taking the socket down.
pub fn text<P: Serialize + ?Sized>(vsn: Vsn, envelope: &Envelope<'_, P>) -> Option<Message> {
    match envelope.encode(vsn, Direction::ServerToClient) {
        Ok(text) => Some(Message::Text(Utf8Bytes::from(text))),
        Err(err) => {
            tracing::warn!(topic = envelope.topic, event = envelope.event, %err, "frame not encodable");
            None
        }
    }
}

/// `phx_reply` to a push.
pub fn reply<R: Serialize + ?Sized>(
    vsn: Vsn,
    join_ref: Option<&str>,
    msg_ref: Option<&str>,
    topic: &str,
    reply: &Reply<'_, R>,
) -> Option<Message> {
    text(
        vsn,
        &Envelope {
            join_ref,
            msg_ref,
            topic,
            event: event::REPLY,
            payload: reply,
        },
    )
}

/// A channel push to one socket (`presence_state`, `system`): `[join_ref, null, topic, …]`.
pub fn push<P: Serialize + ?Sized>(
    vsn: Vsn,
    join_ref: Option<&str>,
    topic: &str,
    event: &str,
    payload: &P,
) -> Option<Message> {
    text(
        vsn,
        &Envelope {
            join_ref,
            msg_ref: None,
            topic,
            event,
            payload,
        },
    )
}

/// `phx_close` for a channel: Phoenix puts the join ref in both ref slots.
pub fn close(vsn: Vsn, join_ref: Option<&str>, topic: &str) -> Option<Message> {
    text(
        vsn,
        &Envelope {
            join_ref,
            msg_ref: join_ref,
            topic,
            event: event::CLOSE,
            payload: &EmptyObject {},
        },
    )
}

/// A `system` error for a channel (followed by [`close`]).
pub fn system_error(
    vsn: Vsn,
    join_ref: Option<&str>,
    topic: &str,
    message: &str,
) -> Option<Message> {
    let channel = event::channel_name(topic).unwrap_or(topic);
    push(
        vsn,
        join_ref,
        topic,
        event::SYSTEM,
        &SystemPayload::error(channel, message),
    )
}

/// What one fan-out delivers to every subscriber of a topic.
#[derive(Debug, Clone, Copy)]
pub enum Outgoing<'a> {
    /// A broadcast in JSON form, relayed as the sender (a text push or the REST API) wrote it.
    Json(&'a Value),
    /// A binary broadcast (kind 3): kind 4 for vsn 2.0.0; for vsn 1.0.0 the JSON form when the
    /// payload is JSON, nothing when it is binary.
    User {
        /// The user event.
        event: &'a str,
        /// The user payload, borrowed from the received frame.
        payload: UserPayload<'a>,
    },
    /// Presence joins and leaves.
    PresenceDiff(&'a PresenceDiff),
}

/// Lazily encoded frames of one fan-out: each version is encoded on first need, once.
#[derive(Debug)]
pub struct Fanout<'a> {
    topic: &'a str,
    outgoing: Outgoing<'a>,
    v1: Option<Option<Message>>,
    v2: Option<Option<Message>>,
}

impl<'a> Fanout<'a> {
    pub fn new(topic: &'a str, outgoing: Outgoing<'a>) -> Self {
        Fanout {
            topic,
            outgoing,
            v1: None,
            v2: None,
        }
    }

    /// The frame for a subscriber of `vsn`, or `None` when this fan-out cannot reach that
    /// version. Cloning a frame only bumps a reference count.
    pub fn frame(&mut self, vsn: Vsn) -> Option<Message> {
        let (topic, outgoing) = (self.topic, self.outgoing);
        let slot = match vsn {
            Vsn::V1 => &mut self.v1,
            Vsn::V2 => &mut self.v2,
        };
        slot.get_or_insert_with(|| encode(topic, outgoing, vsn))
            .clone()
    }
}

fn encode(topic: &str, outgoing: Outgoing<'_>, vsn: Vsn) -> Option<Message> {
    match outgoing {
        Outgoing::Json(payload) => broadcast_text(vsn, topic, payload),
        Outgoing::PresenceDiff(diff) => text(
            vsn,
            &Envelope {
                join_ref: None,
                msg_ref: None,
                topic,
                event: event::PRESENCE_DIFF,
                payload: diff,
            },
        ),
        Outgoing::User { event, payload } => match (vsn, payload) {
            (Vsn::V2, payload) => {
                let frame = UserBroadcast {
                    topic,
                    event,
                    // The Realtime server does not forward client metadata; neither do we.
                    meta: None,
                    payload,
                };
                match frame.encode() {
                    Ok(bytes) => Some(Message::Binary(Bytes::from(bytes))),
                    Err(err) => {
                        tracing::warn!(topic, %err, "binary broadcast not encodable");
                        None
                    }
                }
            }
            (Vsn::V1, UserPayload::Json(raw)) => {
                broadcast_text(vsn, topic, &BroadcastMessage::new(event, raw))
            }
            (Vsn::V1, UserPayload::Binary(_)) => None,
        },
    }
}

fn broadcast_text<P: Serialize + ?Sized>(vsn: Vsn, topic: &str, payload: &P) -> Option<Message> {
    text(
        vsn,
        &Envelope {
            join_ref: None,
            msg_ref: None,
            topic,
            event: event::BROADCAST,
            payload,
        },
    )
}
