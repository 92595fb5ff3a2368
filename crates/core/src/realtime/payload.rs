//! Typed payloads of the channel events other than presence: join, replies, broadcasts in their
//! JSON form, `access_token` and `system`.
//!
//! Field order in the `Serialize` types is the order the reference frames show, so encoded
//! frames compare byte for byte.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// `{}` — the payload of heartbeats, leaves, closes and plain ok replies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct EmptyObject {}

/// The `phx_join` payload.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JoinPayload {
    /// What the channel does.
    pub config: JoinConfig,
    /// A user JWT replacing the socket's API key for this channel.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access_token: Option<String>,
}

/// `config` of a join.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JoinConfig {
    /// Broadcast options.
    pub broadcast: BroadcastConfig,
    /// Presence options.
    pub presence: PresenceConfig,
    /// Postgres Changes filters; PairUX never subscribes to any.
    pub postgres_changes: Vec<Value>,
    /// Private channels are authorised by database policies.
    pub private: bool,
}

/// `config.broadcast`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct BroadcastConfig {
    /// Reply `ok` to every broadcast push.
    pub ack: bool,
    /// Deliver the sender's own broadcasts back to it.
    #[serde(rename = "self")]
    pub self_broadcast: bool,
}

/// `config.presence`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PresenceConfig {
    /// The presence key; empty means "let the server pick one".
    pub key: String,
    /// Whether presence state is sent after the join.
    pub enabled: bool,
}

impl Default for JoinConfig {
    /// The server's defaults: no ack, no self, presence enabled under a server-chosen key.
    fn default() -> Self {
        JoinConfig {
            broadcast: BroadcastConfig::default(),
            presence: PresenceConfig {
                key: String::new(),
                enabled: true,
            },
            postgres_changes: Vec::new(),
            private: false,
        }
    }
}

/// A join payload read with the server's leniency, plus what could not be read.
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedJoin {
    /// The payload, with defaults where fields were missing or unreadable.
    pub join: JoinPayload,
    /// Names of fields that were present but unreadable (for logging); the join still proceeds.
    pub invalid: Vec<&'static str>,
}

impl JoinPayload {
    /// Reads a join payload the way the Realtime server does: each readable field is taken,
    /// each unreadable one keeps its default and is reported, and the join goes ahead.
    /// Booleans may be JSON booleans or the strings `"true"`/`"false"`/`"1"`/`"0"`; a numeric
    /// presence key is turned into its decimal text; `user_token` wins over `access_token`.
    pub fn parse(payload: &Value) -> ParsedJoin {
        let mut invalid = Vec::new();
        let mut config = JoinConfig::default();
        let empty = Map::new();
        let root = object(payload, "payload", &mut invalid).unwrap_or(&empty);
        if let Some(cfg) = root.get("config") {
            let cfg = object(cfg, "config", &mut invalid).unwrap_or(&empty);
            if let Some(b) = cfg.get("broadcast") {
                let b = object(b, "config.broadcast", &mut invalid).unwrap_or(&empty);
                read_bool(
                    b,
                    "ack",
                    "config.broadcast.ack",
                    &mut config.broadcast.ack,
                    &mut invalid,
                );
                let self_field = "config.broadcast.self";
                read_bool(
                    b,
                    "self",
                    self_field,
                    &mut config.broadcast.self_broadcast,
                    &mut invalid,
                );
            }
            if let Some(p) = cfg.get("presence") {
                let p = object(p, "config.presence", &mut invalid).unwrap_or(&empty);
                let enabled = &mut config.presence.enabled;
                read_bool(
                    p,
                    "enabled",
                    "config.presence.enabled",
                    enabled,
                    &mut invalid,
                );
                match p.get("key") {
                    None | Some(Value::Null) => {}
                    Some(Value::String(key)) => config.presence.key.clone_from(key),
                    Some(Value::Number(n)) => config.presence.key = n.to_string(),
                    Some(_) => invalid.push("config.presence.key"),
                }
            }
            read_bool(
                cfg,
                "private",
                "config.private",
                &mut config.private,
                &mut invalid,
            );
            match cfg.get("postgres_changes") {
                None | Some(Value::Null) => {}
                Some(Value::Array(filters)) => config.postgres_changes.clone_from(filters),
                Some(_) => invalid.push("config.postgres_changes"),
            }
        }
        let user_token = read_string(root, "user_token", &mut invalid);
        let access_token = read_string(root, "access_token", &mut invalid);
        ParsedJoin {
            join: JoinPayload {
                config,
                access_token: user_token.or(access_token),
            },
            invalid,
        }
    }
}

fn object<'a>(
    value: &'a Value,
    field: &'static str,
    invalid: &mut Vec<&'static str>,
) -> Option<&'a Map<String, Value>> {
    match value {
        Value::Object(map) => Some(map),
        Value::Null => None,
        _ => {
            invalid.push(field);
            None
        }
    }
}

fn read_bool(
    map: &Map<String, Value>,
    key: &str,
    field: &'static str,
    out: &mut bool,
    invalid: &mut Vec<&'static str>,
) {
    let parsed = match map.get(key) {
        None | Some(Value::Null) => return,
        Some(Value::Bool(b)) => Some(*b),
        Some(Value::String(s)) => match s.as_str() {
            "true" | "1" => Some(true),
            "false" | "0" => Some(false),
            _ => None,
        },
        Some(_) => None,
    };
    match parsed {
        Some(b) => *out = b,
        None => invalid.push(field),
    }
}

fn read_string(
    map: &Map<String, Value>,
    key: &'static str,
    invalid: &mut Vec<&'static str>,
) -> Option<String> {
    match map.get(key) {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => {
            invalid.push(key);
            None
        }
    }
}

/// `ok` or `error`, the status of a `phx_reply`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReplyStatus {
    /// The push succeeded.
    Ok,
    /// The push failed; the response says why.
    Error,
}

/// The payload of a `phx_reply`, for encoding: `{"status": …, "response": …}`.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Reply<'a, R: ?Sized> {
    /// Outcome.
    pub status: ReplyStatus,
    /// Event-specific response (`{}` for most, `{"reason": …}` for errors).
    pub response: &'a R,
}

impl<'a, R: ?Sized> Reply<'a, R> {
    /// An ok reply.
    pub fn ok(response: &'a R) -> Self {
        Reply {
            status: ReplyStatus::Ok,
            response,
        }
    }

    /// An error reply.
    pub fn error(response: &'a R) -> Self {
        Reply {
            status: ReplyStatus::Error,
            response,
        }
    }
}

/// The payload of a `phx_reply`, as a client decodes it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ReplyPayload {
    /// Outcome.
    pub status: ReplyStatus,
    /// Event-specific response.
    #[serde(default)]
    pub response: Value,
}

impl ReplyPayload {
    /// Reads a reply payload (`status` `ok` or `error`, `response` absent means null); by
    /// hand, since serde's derived reader over a `Value` costs the guest app more. `None` if
    /// it is not that shape.
    pub fn from_value(payload: &Value) -> Option<Self> {
        let status = match payload.get("status")?.as_str()? {
            "ok" => ReplyStatus::Ok,
            "error" => ReplyStatus::Error,
            _ => return None,
        };
        let response = payload.get("response").cloned().unwrap_or(Value::Null);
        Some(ReplyPayload { status, response })
    }
}

/// `{"reason": "<Code>: <message>"}` — the response of an error reply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorReason {
    /// Human-readable, stable text (clients match on it).
    pub reason: String,
}

/// `{"postgres_changes": [...]}` — the response of a successful join.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct JoinResponse {
    /// Server-side ids of the Postgres Changes filters; always empty in PairUX.
    pub postgres_changes: Vec<Value>,
}

/// A broadcast in its JSON form: `{"event": …, "payload": …, "type": "broadcast"}`. The
/// server relays this shape for text broadcasts and builds it from binary JSON broadcasts for
/// vsn 1.0.0 sockets.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct BroadcastMessage<'a, P: ?Sized> {
    /// The user event name.
    pub event: &'a str,
    /// The user payload.
    pub payload: &'a P,
    /// Always `broadcast`.
    #[serde(rename = "type")]
    pub kind: &'static str,
}

impl<'a, P: ?Sized> BroadcastMessage<'a, P> {
    /// A broadcast of `event` carrying `payload`.
    pub fn new(event: &'a str, payload: &'a P) -> Self {
        BroadcastMessage {
            event,
            payload,
            kind: super::event::BROADCAST,
        }
    }
}

/// The `access_token` push: `{"access_token": "<jwt>"}`; `null` means "no change".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessTokenPayload {
    /// The new token.
    pub access_token: Option<String>,
}

/// A `system` push: a channel-level status; with `status: "error"` it is followed by
/// `phx_close`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SystemPayload {
    /// `system` for channel errors.
    pub extension: String,
    /// `ok` or `error`.
    pub status: String,
    /// Stable text clients match on, e.g. `Too many messages per second`.
    pub message: String,
    /// The channel name without the `realtime:` prefix.
    pub channel: String,
}

impl SystemPayload {
    /// A channel error, as sent before the server closes a channel.
    pub fn error(channel: &str, message: &str) -> Self {
        SystemPayload {
            extension: "system".to_owned(),
            status: "error".to_owned(),
            message: message.to_owned(),
            channel: channel.to_owned(),
        }
    }
}
