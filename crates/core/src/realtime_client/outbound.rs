//! Client frames as realtime-js writes them: what each push carries and how it is encoded for
//! the socket's protocol version. Broadcasts on vsn 2.0.0 go out as binary kind 3 (JSON or
//! binary encoding, empty metadata); everything else is a text frame.

use serde::Serialize;
use serde_json::Value;

use super::output::{BroadcastBody, Output};
use crate::realtime::{
    event, AccessTokenPayload, BroadcastPush, Direction, EmptyObject, EncodeError, Envelope,
    JoinPayload, PresenceRequest, UserPayload, Vsn,
};

/// An encoded frame, ready for the socket.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Frame {
    Text(String),
    Binary(Vec<u8>),
}

impl From<Frame> for Output {
    fn from(frame: Frame) -> Output {
        match frame {
            Frame::Text(text) => Output::SendText(text),
            Frame::Binary(bytes) => Output::SendBinary(bytes),
        }
    }
}

/// Why a push could not be put on the wire; reported as its [`super::PushResult::Error`].
#[derive(Debug, thiserror::Error)]
pub enum PushError {
    /// vsn 1.0.0 has no binary frames, and the server would not deliver bytes to vsn-1 peers.
    #[error("binary broadcasts need protocol 2.0.0")]
    BinaryNeedsV2,
    /// Too long a header field (kind 3 lengths are one byte), or an unserialisable payload.
    #[error(transparent)]
    Encode(#[from] EncodeError),
}

/// What a channel push carries, kept unencoded while buffered because its refs are only
/// known when it is sent.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum PushBody {
    /// `phx_leave` (after a join timeout, or `leave`).
    Leave,
    /// `access_token` with a fresh token.
    AccessToken(String),
    /// A user broadcast.
    Broadcast { event: String, body: BroadcastBody },
    /// Presence `track`/`untrack`.
    Presence(PresenceRequest),
}

/// Where a frame goes: the socket-wide push ref, the channel's join ref and topic.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Addr<'a> {
    pub join_ref: Option<&'a str>,
    pub msg_ref: &'a str,
    pub topic: &'a str,
}

/// The JSON form of a client broadcast, keys in realtime-js's order (`channel.send` args).
#[derive(Serialize)]
struct ClientBroadcast<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    event: &'a str,
    payload: &'a Value,
}

fn text<P: Serialize + ?Sized>(
    vsn: Vsn,
    addr: Addr<'_>,
    event: &str,
    payload: &P,
) -> Result<Frame, EncodeError> {
    let envelope = Envelope {
        join_ref: addr.join_ref,
        msg_ref: Some(addr.msg_ref),
        topic: addr.topic,
        event,
        payload,
    };
    envelope
        .encode(vsn, Direction::ClientToServer)
        .map(Frame::Text)
}

/// A `phx_join`; its ref is also its join ref.
pub(crate) fn join(vsn: Vsn, addr: Addr<'_>, payload: &JoinPayload) -> Result<Frame, EncodeError> {
    text(vsn, addr, event::JOIN, payload)
}

/// `[null, ref, "phoenix", "heartbeat", {}]`.
pub(crate) fn heartbeat(vsn: Vsn, msg_ref: &str) -> Frame {
    let addr = Addr {
        join_ref: None,
        msg_ref,
        topic: event::PHOENIX_TOPIC,
    };
    text(vsn, addr, event::HEARTBEAT, &EmptyObject {})
        .expect("an empty object with string refs always serialises")
}

/// Any other push.
pub(crate) fn push(vsn: Vsn, addr: Addr<'_>, body: &PushBody) -> Result<Frame, PushError> {
    let frame = match body {
        PushBody::Leave => text(vsn, addr, event::LEAVE, &EmptyObject {})?,
        PushBody::AccessToken(token) => {
            let payload = AccessTokenPayload {
                access_token: Some(token.clone()),
            };
            text(vsn, addr, event::ACCESS_TOKEN, &payload)?
        }
        PushBody::Presence(request) => text(vsn, addr, event::PRESENCE, request)?,
        PushBody::Broadcast { event, body } => broadcast(vsn, addr, event, body)?,
    };
    Ok(frame)
}

fn broadcast(
    vsn: Vsn,
    addr: Addr<'_>,
    user_event: &str,
    body: &BroadcastBody,
) -> Result<Frame, PushError> {
    match (vsn, body) {
        (Vsn::V1, BroadcastBody::Binary(_)) => Err(PushError::BinaryNeedsV2),
        (Vsn::V1, BroadcastBody::Json(payload)) => {
            let message = ClientBroadcast {
                kind: event::BROADCAST,
                event: user_event,
                payload,
            };
            Ok(text(vsn, addr, event::BROADCAST, &message)?)
        }
        (Vsn::V2, body) => {
            let raw;
            let payload = match body {
                BroadcastBody::Binary(bytes) => UserPayload::Binary(bytes),
                BroadcastBody::Json(value) => {
                    raw = serde_json::value::to_raw_value(value).map_err(EncodeError::Json)?;
                    UserPayload::Json(&raw)
                }
            };
            let frame = BroadcastPush {
                join_ref: addr.join_ref.unwrap_or_default(),
                msg_ref: addr.msg_ref,
                topic: addr.topic,
                event: user_event,
                meta: None,
                payload,
            };
            Ok(Frame::Binary(frame.encode()?))
        }
    }
}
