//! The text envelope: vsn 1.0.0 JSON objects and vsn 2.0.0 JSON arrays.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::error::{DecodeError, EncodeError};

/// Protocol version, chosen per socket by the `vsn` query parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Vsn {
    /// `1.0.0`: JSON objects only. The server assumes it when `vsn` is absent.
    #[default]
    V1,
    /// `2.0.0`: JSON arrays plus the binary user broadcasts (kinds 3 and 4). What realtime-js
    /// sends by default.
    V2,
}

impl Vsn {
    /// Reads a `vsn` query value. Like Phoenix's `~> 1.0.0` / `~> 2.0.0` requirements, any
    /// patch level is accepted.
    pub fn parse(vsn: &str) -> Option<Vsn> {
        let mut parts = vsn.split('.');
        let (major, minor, patch) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() || minor != "0" || patch.parse::<u32>().is_err() {
            return None;
        }
        match major {
            "1" => Some(Vsn::V1),
            "2" => Some(Vsn::V2),
            _ => None,
        }
    }

    /// The canonical query value.
    pub fn as_str(self) -> &'static str {
        match self {
            Vsn::V1 => "1.0.0",
            Vsn::V2 => "2.0.0",
        }
    }

    /// Whether binary user broadcasts can be delivered to a socket of this version.
    pub fn carries_binary(self) -> bool {
        self == Vsn::V2
    }
}

/// Which side writes a frame. Only vsn 1.0.0 differs: a client's object carries `join_ref`,
/// a server's object never does (Phoenix writes only topic, event, payload and ref).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// A client push (join, broadcast, presence, heartbeat, …).
    ClientToServer,
    /// A server reply or push.
    ServerToClient,
}

/// A decoded text frame.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    /// The ref of the join this message belongs to; `None` for heartbeats and broadcasts.
    pub join_ref: Option<String>,
    /// The push ref a reply answers; `None` for server pushes and broadcasts.
    pub msg_ref: Option<String>,
    /// `phoenix` or `realtime:<channel>`.
    pub topic: String,
    /// See [`super::event`].
    pub event: String,
    /// Any JSON; its shape depends on the event.
    pub payload: Value,
}

impl Message {
    /// Decodes a text frame of the given version.
    ///
    /// Refs are strings on the wire; a number is accepted and turned into its decimal text
    /// because Phoenix itself accepts any JSON there. A vsn 2.0.0 array may carry extra
    /// trailing elements, which are ignored (as Phoenix does).
    pub fn decode(text: &str, vsn: Vsn) -> Result<Message, DecodeError> {
        match vsn {
            Vsn::V1 => decode_v1(text),
            Vsn::V2 => decode_v2(text),
        }
    }

    /// Encodes this message; see [`Envelope::encode`].
    pub fn encode(&self, vsn: Vsn, direction: Direction) -> Result<String, EncodeError> {
        self.envelope().encode(vsn, direction)
    }

    /// A borrowed view for encoding.
    pub fn envelope(&self) -> Envelope<'_, Value> {
        Envelope {
            join_ref: self.join_ref.as_deref(),
            msg_ref: self.msg_ref.as_deref(),
            topic: &self.topic,
            event: &self.event,
            payload: &self.payload,
        }
    }
}

/// A message to encode, borrowing its parts so a sender needs no intermediate `Value`: typed
/// payloads keep their field order on the wire.
#[derive(Debug, Clone, Copy)]
pub struct Envelope<'a, P: ?Sized> {
    /// See [`Message::join_ref`].
    pub join_ref: Option<&'a str>,
    /// See [`Message::msg_ref`].
    pub msg_ref: Option<&'a str>,
    /// See [`Message::topic`].
    pub topic: &'a str,
    /// See [`Message::event`].
    pub event: &'a str,
    /// Anything serialisable as JSON.
    pub payload: &'a P,
}

impl<P: Serialize + ?Sized> Envelope<'_, P> {
    /// Encodes as compact JSON text: `[join_ref, ref, topic, event, payload]` for vsn 2.0.0;
    /// `{"topic","event","payload","ref"}` (plus `"join_ref"` from a client, when set) for
    /// vsn 1.0.0.
    pub fn encode(&self, vsn: Vsn, direction: Direction) -> Result<String, EncodeError> {
        let text = match vsn {
            Vsn::V2 => serde_json::to_string(&(
                self.join_ref,
                self.msg_ref,
                self.topic,
                self.event,
                self.payload,
            ))?,
            Vsn::V1 => serde_json::to_string(&V1Out {
                topic: self.topic,
                event: self.event,
                payload: self.payload,
                msg_ref: self.msg_ref,
                join_ref: match direction {
                    Direction::ClientToServer => self.join_ref,
                    Direction::ServerToClient => None,
                },
            })?,
        };
        Ok(text)
    }
}

#[derive(Serialize)]
struct V1Out<'a, P: ?Sized> {
    topic: &'a str,
    event: &'a str,
    payload: &'a P,
    #[serde(rename = "ref")]
    msg_ref: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    join_ref: Option<&'a str>,
}

#[derive(Deserialize)]
struct V1In {
    topic: String,
    event: String,
    payload: Value,
    #[serde(rename = "ref", default)]
    msg_ref: Value,
    #[serde(default)]
    join_ref: Value,
}

fn decode_v1(text: &str) -> Result<Message, DecodeError> {
    let wire: V1In = serde_json::from_str(text)?;
    Ok(Message {
        join_ref: ref_from(wire.join_ref, "join_ref")?,
        msg_ref: ref_from(wire.msg_ref, "ref")?,
        topic: wire.topic,
        event: wire.event,
        payload: wire.payload,
    })
}

fn decode_v2(text: &str) -> Result<Message, DecodeError> {
    let Value::Array(items) = serde_json::from_str::<Value>(text)? else {
        return Err(DecodeError::NotAnArray);
    };
    let mut items = items.into_iter();
    let (Some(join_ref), Some(msg_ref), Some(topic), Some(event), Some(payload)) = (
        items.next(),
        items.next(),
        items.next(),
        items.next(),
        items.next(),
    ) else {
        return Err(DecodeError::NotAnArray);
    };
    Ok(Message {
        join_ref: ref_from(join_ref, "join_ref")?,
        msg_ref: ref_from(msg_ref, "ref")?,
        topic: string_from(topic, "topic")?,
        event: string_from(event, "event")?,
        payload,
    })
}

fn ref_from(value: Value, field: &'static str) -> Result<Option<String>, DecodeError> {
    match value {
        Value::Null => Ok(None),
        Value::String(s) => Ok(Some(s)),
        Value::Number(n) => Ok(Some(n.to_string())),
        _ => Err(DecodeError::FieldType(field)),
    }
}

fn string_from(value: Value, field: &'static str) -> Result<String, DecodeError> {
    match value {
        Value::String(s) => Ok(s),
        _ => Err(DecodeError::FieldType(field)),
    }
}
