//! The vsn 2.0.0 binary frames for user broadcasts.
//!
//! Layouts (lengths are one-byte byte counts, strings UTF-8):
//! - kind 3, client → server: `03 | len(J) | len(R) | len(topic) | len(event) | len(meta) |
//!   enc | J | R | topic | event | meta | payload`
//! - kind 4, server → client: `04 | len(topic) | len(event) | len(meta) | enc | topic | event |
//!   meta | payload`
//!
//! `enc` is 0 for a binary payload, 1 for JSON text. `meta` is empty or a JSON object.
//! Decoding borrows from the frame, so a relay can forward the payload without copying it.

use serde_json::value::RawValue;

use super::error::{DecodeError, EncodeError};

const KIND_USER_BROADCAST_PUSH: u8 = 3;
const KIND_USER_BROADCAST: u8 = 4;
const ENCODING_BINARY: u8 = 0;
const ENCODING_JSON: u8 = 1;

/// The user payload of a binary broadcast.
#[derive(Debug, Clone, Copy)]
pub enum UserPayload<'a> {
    /// `enc = 0`: opaque bytes (an `ArrayBuffer` in realtime-js). Never delivered to vsn 1.0.0
    /// sockets, which cannot represent them.
    Binary(&'a [u8]),
    /// `enc = 1`: JSON text, validated when decoded.
    Json(&'a RawValue),
}

impl<'a> UserPayload<'a> {
    /// The payload bytes as they travel after the header.
    pub fn as_bytes(&self) -> &'a [u8] {
        match self {
            UserPayload::Binary(bytes) => bytes,
            UserPayload::Json(raw) => raw.get().as_bytes(),
        }
    }

    fn encoding(&self) -> u8 {
        match self {
            UserPayload::Binary(_) => ENCODING_BINARY,
            UserPayload::Json(_) => ENCODING_JSON,
        }
    }
}

/// Kind 3: what realtime-js sends for every `channel.send({type: 'broadcast', …})` on a
/// vsn 2.0.0 socket. The Phoenix event (`broadcast`) and the `type` key are implied.
#[derive(Debug, Clone, Copy)]
pub struct BroadcastPush<'a> {
    /// The join ref of the channel; may be empty.
    pub join_ref: &'a str,
    /// The push ref an ack reply answers; may be empty.
    pub msg_ref: &'a str,
    /// `realtime:<channel>`.
    pub topic: &'a str,
    /// The user event name (`cursor`, `signal`, …).
    pub event: &'a str,
    /// Metadata keys realtime-js lets through (today only `persist`), as a JSON object.
    pub meta: Option<&'a RawValue>,
    /// The user payload.
    pub payload: UserPayload<'a>,
}

/// Kind 4: a user broadcast as the server delivers it to vsn 2.0.0 sockets.
#[derive(Debug, Clone, Copy)]
pub struct UserBroadcast<'a> {
    /// `realtime:<channel>`.
    pub topic: &'a str,
    /// The user event name.
    pub event: &'a str,
    /// Metadata as a JSON object; realtime-js exposes it as `payload.meta`.
    pub meta: Option<&'a RawValue>,
    /// The user payload.
    pub payload: UserPayload<'a>,
}

/// A decoded binary frame.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum BinaryFrame<'a> {
    /// Kind 3 (client → server).
    Push(BroadcastPush<'a>),
    /// Kind 4 (server → client).
    Broadcast(UserBroadcast<'a>),
}

impl<'a> BinaryFrame<'a> {
    /// Decodes either kind. The header strings must be UTF-8, a JSON payload and the metadata
    /// must be valid JSON; anything else is a [`DecodeError`].
    pub fn decode(frame: &'a [u8]) -> Result<Self, DecodeError> {
        let (&kind, _) = frame.split_first().ok_or(DecodeError::Empty)?;
        let mut reader = Reader { frame, pos: 1 };
        match kind {
            KIND_USER_BROADCAST_PUSH => {
                let [join_ref_len, ref_len, topic_len, event_len, meta_len, encoding] =
                    reader.array()?;
                let join_ref = reader.text(join_ref_len, "join_ref")?;
                let msg_ref = reader.text(ref_len, "ref")?;
                let topic = reader.text(topic_len, "topic")?;
                let event = reader.text(event_len, "event")?;
                let meta = reader.meta(meta_len)?;
                let payload = payload(encoding, reader.rest())?;
                Ok(BinaryFrame::Push(BroadcastPush {
                    join_ref,
                    msg_ref,
                    topic,
                    event,
                    meta,
                    payload,
                }))
            }
            KIND_USER_BROADCAST => {
                let [topic_len, event_len, meta_len, encoding] = reader.array()?;
                let topic = reader.text(topic_len, "topic")?;
                let event = reader.text(event_len, "event")?;
                let meta = reader.meta(meta_len)?;
                let payload = payload(encoding, reader.rest())?;
                Ok(BinaryFrame::Broadcast(UserBroadcast {
                    topic,
                    event,
                    meta,
                    payload,
                }))
            }
            kind => Err(DecodeError::UnsupportedKind(kind)),
        }
    }
}

// `RawValue` has no `PartialEq`; JSON parts compare by their text.
impl PartialEq for UserPayload<'_> {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (UserPayload::Binary(a), UserPayload::Binary(b)) => a == b,
            (UserPayload::Json(a), UserPayload::Json(b)) => a.get() == b.get(),
            _ => false,
        }
    }
}

fn same_meta(a: Option<&RawValue>, b: Option<&RawValue>) -> bool {
    a.map(RawValue::get) == b.map(RawValue::get)
}

impl PartialEq for BroadcastPush<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.join_ref == other.join_ref
            && self.msg_ref == other.msg_ref
            && self.topic == other.topic
            && self.event == other.event
            && same_meta(self.meta, other.meta)
            && self.payload == other.payload
    }
}

impl PartialEq for UserBroadcast<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.topic == other.topic
            && self.event == other.event
            && same_meta(self.meta, other.meta)
            && self.payload == other.payload
    }
}

impl BroadcastPush<'_> {
    /// Encodes as a kind 3 frame.
    pub fn encode(&self) -> Result<Vec<u8>, EncodeError> {
        let meta = meta_bytes(self.meta);
        let fields = [
            ("join_ref", self.join_ref.as_bytes()),
            ("ref", self.msg_ref.as_bytes()),
            ("topic", self.topic.as_bytes()),
            ("event", self.event.as_bytes()),
            ("meta", meta),
        ];
        encode_frame(
            KIND_USER_BROADCAST_PUSH,
            &fields,
            self.payload.encoding(),
            self.payload.as_bytes(),
        )
    }
}

impl UserBroadcast<'_> {
    /// Encodes as a kind 4 frame.
    pub fn encode(&self) -> Result<Vec<u8>, EncodeError> {
        let meta = meta_bytes(self.meta);
        let fields = [
            ("topic", self.topic.as_bytes()),
            ("event", self.event.as_bytes()),
            ("meta", meta),
        ];
        encode_frame(
            KIND_USER_BROADCAST,
            &fields,
            self.payload.encoding(),
            self.payload.as_bytes(),
        )
    }
}

fn meta_bytes(meta: Option<&RawValue>) -> &[u8] {
    meta.map_or(&[][..], |raw| raw.get().as_bytes())
}

fn encode_frame(
    kind: u8,
    fields: &[(&'static str, &[u8])],
    encoding: u8,
    payload: &[u8],
) -> Result<Vec<u8>, EncodeError> {
    let mut lens = Vec::with_capacity(fields.len());
    for (field, bytes) in fields {
        let len = u8::try_from(bytes.len()).map_err(|_| EncodeError::FieldTooLong {
            field,
            len: bytes.len(),
        })?;
        lens.push(len);
    }
    let header_len = 2 + fields.len() + fields.iter().map(|(_, b)| b.len()).sum::<usize>();
    let mut out = Vec::with_capacity(header_len + payload.len());
    out.push(kind);
    out.extend_from_slice(&lens);
    out.push(encoding);
    for (_, bytes) in fields {
        out.extend_from_slice(bytes);
    }
    out.extend_from_slice(payload);
    Ok(out)
}

fn payload(encoding: u8, bytes: &[u8]) -> Result<UserPayload<'_>, DecodeError> {
    match encoding {
        ENCODING_BINARY => Ok(UserPayload::Binary(bytes)),
        ENCODING_JSON => json(bytes, "payload").map(UserPayload::Json),
        other => Err(DecodeError::UnknownEncoding(other)),
    }
}

fn json<'a>(bytes: &'a [u8], field: &'static str) -> Result<&'a RawValue, DecodeError> {
    let text = std::str::from_utf8(bytes).map_err(|_| DecodeError::NotUtf8(field))?;
    serde_json::from_str(text).map_err(|source| DecodeError::InvalidJsonField { field, source })
}

/// A bounds-checked cursor: every read either fits or reports how many bytes were missing.
struct Reader<'a> {
    frame: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn bytes(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        let end = self.pos + n;
        let slice = self
            .frame
            .get(self.pos..end)
            .ok_or(DecodeError::Truncated {
                needed: end,
                len: self.frame.len(),
            })?;
        self.pos = end;
        Ok(slice)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let len = self.frame.len();
        let needed = self.pos + N;
        self.bytes(N)?
            .try_into()
            .map_err(|_| DecodeError::Truncated { needed, len })
    }

    fn text(&mut self, len: u8, field: &'static str) -> Result<&'a str, DecodeError> {
        let bytes = self.bytes(usize::from(len))?;
        std::str::from_utf8(bytes).map_err(|_| DecodeError::NotUtf8(field))
    }

    fn meta(&mut self, len: u8) -> Result<Option<&'a RawValue>, DecodeError> {
        let bytes = self.bytes(usize::from(len))?;
        if bytes.is_empty() {
            return Ok(None);
        }
        json(bytes, "meta").map(Some)
    }

    fn rest(&mut self) -> &'a [u8] {
        let rest = self.frame.get(self.pos..).unwrap_or_default();
        self.pos = self.frame.len();
        rest
    }
}
