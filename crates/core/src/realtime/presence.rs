//! Presence payloads: the client's `track`/`untrack` push, and the server's `presence_state` and
//! `presence_diff`.
//!
//! A meta is the tracked payload plus the server's opaque `phx_ref` (and `phx_ref_prev` after an
//! update). On the wire the refs come first, then the payload keys.

use crate::vecmap::VecMap;

use serde::de::Error as _;
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

/// One tracked presence of a key: its payload plus the refs the server stamps on it.
#[derive(Debug, Clone, PartialEq)]
pub struct PresenceMeta {
    /// Opaque, unique per track.
    pub phx_ref: String,
    /// On an update, the `phx_ref` of the meta this one replaces.
    pub phx_ref_prev: Option<String>,
    /// The tracked payload (a JSON object). Keys named `phx_ref`/`phx_ref_prev` are the
    /// server's and are not part of it.
    pub payload: Map<String, Value>,
}

const PHX_REF: &str = "phx_ref";
const PHX_REF_PREV: &str = "phx_ref_prev";

impl Serialize for PresenceMeta {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry(PHX_REF, &self.phx_ref)?;
        if let Some(prev) = &self.phx_ref_prev {
            map.serialize_entry(PHX_REF_PREV, prev)?;
        }
        for (key, value) in &self.payload {
            if key != PHX_REF && key != PHX_REF_PREV {
                map.serialize_entry(key, value)?;
            }
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for PresenceMeta {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let payload = Map::deserialize(deserializer)?;
        let phx_ref = match payload.get(PHX_REF) {
            Some(Value::String(r)) => r.clone(),
            _ => return Err(D::Error::custom("presence meta without a string phx_ref")),
        };
        let phx_ref_prev = match payload.get(PHX_REF_PREV) {
            None | Some(Value::Null) => None,
            Some(Value::String(r)) => Some(r.clone()),
            Some(_) => return Err(D::Error::custom("phx_ref_prev is not a string")),
        };
        // Rebuilt without the two refs rather than `remove`d: a `Map::remove` would bring the
        // B-tree's removal and rebalancing code into the app (~2 KB gzipped) for this one use.
        let payload: Map<String, Value> = payload
            .into_iter()
            .filter(|(k, _)| k != PHX_REF && k != PHX_REF_PREV)
            .collect();
        Ok(PresenceMeta {
            phx_ref,
            phx_ref_prev,
            payload,
        })
    }
}

/// All metas of one presence key: `{"metas": [...]}`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct PresenceEntry {
    /// One per socket tracking under this key, oldest first.
    pub metas: Vec<PresenceMeta>,
}

/// `presence_state` payload, and each half of a diff: key → entry. Keys are in sorted order,
/// as the Realtime server sends them.
pub type PresenceState = VecMap<String, PresenceEntry>;

/// `presence_diff` payload: `{"joins": {...}, "leaves": {...}}`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct PresenceDiff {
    /// Metas that appeared.
    pub joins: PresenceState,
    /// Metas that went away (an update leaves the old meta and joins the new one).
    pub leaves: PresenceState,
}

impl PresenceDiff {
    /// Whether the diff changes nothing.
    pub fn is_empty(&self) -> bool {
        self.joins.is_empty() && self.leaves.is_empty()
    }
}

/// The payload of a client `presence` push:
/// `{"type":"presence","event":"track","payload":{…}}` or `{"type":"presence","event":"untrack"}`.
#[derive(Debug, Clone, PartialEq)]
pub enum PresenceRequest {
    /// Publish or replace this socket's meta. The payload is as sent (the server requires a
    /// JSON object and answers anything else with an error); absent means `{}`.
    Track(Value),
    /// Remove this socket's meta.
    Untrack,
    /// Another event name (matched case-insensitively, like the server).
    Unknown(String),
    /// No `event` string: the server answers ok and does nothing.
    Missing,
}

impl PresenceRequest {
    /// Reads a `presence` push payload.
    pub fn parse(payload: &Value) -> Self {
        let Some(event) = payload.get("event").and_then(Value::as_str) else {
            return PresenceRequest::Missing;
        };
        if event.eq_ignore_ascii_case("track") {
            let body = payload
                .get("payload")
                .cloned()
                .unwrap_or_else(|| Value::Object(Map::new()));
            PresenceRequest::Track(body)
        } else if event.eq_ignore_ascii_case("untrack") {
            PresenceRequest::Untrack
        } else {
            PresenceRequest::Unknown(event.to_owned())
        }
    }
}

impl Serialize for PresenceRequest {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("type", super::event::PRESENCE)?;
        match self {
            PresenceRequest::Track(payload) => {
                map.serialize_entry("event", "track")?;
                map.serialize_entry("payload", payload)?;
            }
            PresenceRequest::Untrack => map.serialize_entry("event", "untrack")?,
            PresenceRequest::Unknown(event) => map.serialize_entry("event", event)?,
            PresenceRequest::Missing => {}
        }
        map.end()
    }
}
