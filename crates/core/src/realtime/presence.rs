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
        PresenceMeta::from_map(Map::deserialize(deserializer)?).map_err(D::Error::custom)
    }
}

impl PresenceMeta {
    /// Reads a meta from its JSON object: the two refs are the server's, the rest is the
    /// payload.
    pub fn from_map(payload: Map<String, Value>) -> Result<Self, &'static str> {
        let phx_ref = match payload.get(PHX_REF) {
            Some(Value::String(r)) => r.clone(),
            _ => return Err("presence meta without a string phx_ref"),
        };
        let phx_ref_prev = match payload.get(PHX_REF_PREV) {
            None | Some(Value::Null) => None,
            Some(Value::String(r)) => Some(r.clone()),
            Some(_) => return Err("phx_ref_prev is not a string"),
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

/// Reads a `presence_state` payload (or one half of a diff) from the JSON the frame was read
/// into, as its serde form would (`{key: {"metas": [meta, …]}}`, other fields ignored); by
/// hand, since serde's derived readers over a `Value` cost the guest app more than this.
/// `None` if it is not that shape.
pub fn read_state(value: Value) -> Option<PresenceState> {
    let Value::Object(keys) = value else {
        return None;
    };
    let mut state = PresenceState::new();
    for (key, entry) in keys {
        let Value::Array(list) = field(entry, "metas")? else {
            return None;
        };
        let mut metas = Vec::with_capacity(list.len());
        for meta in list {
            let Value::Object(meta) = meta else {
                return None;
            };
            metas.push(PresenceMeta::from_map(meta).ok()?);
        }
        state.insert(key, PresenceEntry { metas });
    }
    Some(state)
}

/// The field `name` of a JSON object, taken out of it (not `Map::remove`: see
/// [`PresenceMeta::from_map`]). `None` if `value` is no object or has no such field.
fn field(value: Value, name: &str) -> Option<Value> {
    let Value::Object(map) = value else {
        return None;
    };
    map.into_iter().find(|(k, _)| k == name).map(|(_, v)| v)
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
    /// Reads a `presence_diff` payload as its serde form would (both halves required); by
    /// hand, like [`read_state`]. `None` if it is not that shape.
    pub fn read(value: Value) -> Option<Self> {
        let Value::Object(map) = value else {
            return None;
        };
        let (mut joins, mut leaves) = (None, None);
        for (k, v) in map {
            match k.as_str() {
                "joins" => joins = Some(read_state(v)?),
                "leaves" => leaves = Some(read_state(v)?),
                _ => {}
            }
        }
        Some(PresenceDiff {
            joins: joins?,
            leaves: leaves?,
        })
    }

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
