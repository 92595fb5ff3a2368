//! The Supabase Realtime wire codec: Phoenix channel frames as realtime-js and the Realtime
//! server exchange them, in protocol versions 1.0.0 and 2.0.0.
//!
//! This module owns byte layouts and nothing else: the text envelope ([`Message`],
//! [`Envelope`]), the binary user-broadcast frames (kind 3 client → server, kind 4 server →
//! client, see [`BinaryFrame`]) and the typed payloads both sides read and write (join config,
//! replies, presence, system). pairux-server uses it to speak the protocol; the browser's
//! sans-IO realtime client uses it for the opposite direction, so every frame kind has an
//! encoder and a decoder.
//!
//! Architecture invariant: no sockets, no clocks, no randomness here. Decoders are total —
//! any input yields `Ok` or a [`DecodeError`], never a panic (property-tested).
//!
//! The authority for layouts is realtime-js 2.119 (`lib/serializer.js`) and the server's
//! `V2Serializer`; literal frames from `reference/realtime-protocol.md` are tested byte for byte.
//!
//! ```
//! use pairux_core::realtime::{Direction, Envelope, Message, Vsn, event};
//!
//! let frame = r#"[null,"2","phoenix","heartbeat",{}]"#;
//! let msg = Message::decode(frame, Vsn::V2).unwrap();
//! assert_eq!(msg.event, event::HEARTBEAT);
//! let reply = Envelope {
//!     join_ref: None,
//!     msg_ref: msg.msg_ref.as_deref(),
//!     topic: &msg.topic,
//!     event: event::REPLY,
//!     payload: &pairux_core::realtime::Reply::ok(&pairux_core::realtime::EmptyObject {}),
//! };
//! assert_eq!(
//!     reply.encode(Vsn::V2, Direction::ServerToClient).unwrap(),
//!     r#"[null,"2","phoenix","phx_reply",{"status":"ok","response":{}}]"#
//! );
//! ```

mod binary;
mod error;
pub mod event;
mod message;
mod payload;
mod presence;

#[cfg(test)]
mod tests;

pub use binary::{BinaryFrame, BroadcastPush, UserBroadcast, UserPayload};
pub use error::{DecodeError, EncodeError};
pub use message::{Direction, Envelope, Message, Vsn};
pub use payload::{
    AccessTokenPayload, BroadcastConfig, BroadcastMessage, EmptyObject, ErrorReason, JoinConfig,
    JoinPayload, JoinResponse, ParsedJoin, PresenceConfig, Reply, ReplyPayload, ReplyStatus,
    SystemPayload,
};
pub use presence::{
    read_state, PresenceDiff, PresenceEntry, PresenceMeta, PresenceRequest, PresenceState,
};
