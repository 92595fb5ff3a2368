//! Janus admin API frames (WebSocket subprotocol `janus-admin-protocol`), the part pairux-server
//! speaks to its SFU nodes: stored tokens (`add_token`, `remove_token`, `list_tokens`), health
//! (`ping`, `info`), VideoRoom requests through `message_plugin`, and draining
//! (`accept_new_sessions`). Facts from Janus 1.1.2.
//!
//! Sans-IO: [`AdminRequest::to_json`] makes the text of one frame (the caller picks the
//! transaction and passes the admin secret, which is never kept in a value here), and
//! [`AdminResponse::parse`] reads any text into a typed answer or a typed error.

use serde::Deserialize;
use serde_json::{json, Map, Value};

/// The plugin package name of the VideoRoom.
pub const VIDEOROOM: &str = "janus.plugin.videoroom";

/// One admin request.
#[derive(Clone, PartialEq)]
pub enum AdminRequest {
    /// `{"janus":"ping"}` → `pong`.
    Ping,
    /// `{"janus":"info"}` → `server_info`.
    Info,
    /// Stores `token` (token_auth without a secret), valid for `plugins` only.
    AddToken {
        token: String,
        plugins: Vec<String>,
    },
    RemoveToken {
        token: String,
    },
    ListTokens,
    /// Hands `request` (a plugin request body, e.g. VideoRoom `create`) to `plugin`;
    /// its answer is the response's `response`.
    MessagePlugin {
        plugin: String,
        request: Value,
    },
    /// Whether the node accepts new Janus sessions (false: drain).
    AcceptNewSessions {
        accept: bool,
    },
}

impl std::fmt::Debug for AdminRequest {
    /// Tokens and plugin bodies (which carry room secrets, pins and the admin key) are redacted.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AdminRequest::Ping => f.write_str("Ping"),
            AdminRequest::Info => f.write_str("Info"),
            AdminRequest::AddToken { plugins, .. } => f
                .debug_struct("AddToken")
                .field("token", &"<redacted>")
                .field("plugins", plugins)
                .finish(),
            AdminRequest::RemoveToken { .. } => f
                .debug_struct("RemoveToken")
                .field("token", &"<redacted>")
                .finish(),
            AdminRequest::ListTokens => f.write_str("ListTokens"),
            AdminRequest::MessagePlugin { plugin, .. } => f
                .debug_struct("MessagePlugin")
                .field("plugin", plugin)
                .field("request", &"<redacted>")
                .finish(),
            AdminRequest::AcceptNewSessions { accept } => f
                .debug_struct("AcceptNewSessions")
                .field("accept", accept)
                .finish(),
        }
    }
}

impl AdminRequest {
    /// The `janus` verb of this request.
    pub fn verb(&self) -> &'static str {
        match self {
            AdminRequest::Ping => "ping",
            AdminRequest::Info => "info",
            AdminRequest::AddToken { .. } => "add_token",
            AdminRequest::RemoveToken { .. } => "remove_token",
            AdminRequest::ListTokens => "list_tokens",
            AdminRequest::MessagePlugin { .. } => "message_plugin",
            AdminRequest::AcceptNewSessions { .. } => "accept_new_sessions",
        }
    }

    /// The frame's text, with `transaction` and `admin_secret`.
    pub fn to_json(&self, transaction: &str, admin_secret: &str) -> String {
        let mut frame = Map::new();
        frame.insert("janus".into(), self.verb().into());
        frame.insert("transaction".into(), transaction.into());
        frame.insert("admin_secret".into(), admin_secret.into());
        match self {
            AdminRequest::Ping | AdminRequest::Info | AdminRequest::ListTokens => {}
            AdminRequest::AddToken { token, plugins } => {
                frame.insert("token".into(), token.as_str().into());
                frame.insert("plugins".into(), json!(plugins));
            }
            AdminRequest::RemoveToken { token } => {
                frame.insert("token".into(), token.as_str().into());
            }
            AdminRequest::MessagePlugin { plugin, request } => {
                frame.insert("plugin".into(), plugin.as_str().into());
                frame.insert("request".into(), request.clone());
            }
            AdminRequest::AcceptNewSessions { accept } => {
                frame.insert("accept".into(), (*accept).into());
            }
        }
        Value::Object(frame).to_string()
    }
}

/// A parsed admin response.
#[derive(Debug, Clone, PartialEq)]
pub struct AdminResponse {
    /// The request's transaction (absent only in malformed or unsolicited frames).
    pub transaction: Option<String>,
    pub outcome: AdminOutcome,
}

/// What the node answered.
#[derive(Debug, Clone, PartialEq)]
pub enum AdminOutcome {
    /// `success`, with `data` (e.g. `list_tokens`) and/or `response` (`message_plugin`).
    Success {
        data: Option<Value>,
        response: Option<Value>,
    },
    /// The answer to `ping`.
    Pong,
    /// The answer to `info`: the whole frame.
    ServerInfo(Value),
    /// `error{code, reason}`.
    Error { code: i64, reason: String },
    /// Any other `janus` verb (kept so a caller can log it; not an answer this module knows).
    Other(String),
}

/// Why a frame is not an admin response.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AdminParseError {
    #[error("not JSON: {0}")]
    Json(String),
    #[error("not a JSON object")]
    NotObject,
    #[error("no \"janus\" verb")]
    NoVerb,
    #[error("malformed \"error\"")]
    MalformedError,
}

#[derive(Deserialize)]
struct ErrorBody {
    code: i64,
    #[serde(default)]
    reason: String,
}

impl AdminResponse {
    /// Reads one frame's text. Total: any input gives a value or an error.
    pub fn parse(text: &str) -> Result<AdminResponse, AdminParseError> {
        let value: Value =
            serde_json::from_str(text).map_err(|e| AdminParseError::Json(e.to_string()))?;
        let Value::Object(mut frame) = value else {
            return Err(AdminParseError::NotObject);
        };
        let verb = match frame.get("janus") {
            Some(Value::String(v)) => v.clone(),
            _ => return Err(AdminParseError::NoVerb),
        };
        let transaction = match frame.get("transaction") {
            Some(Value::String(t)) => Some(t.clone()),
            _ => None,
        };
        let outcome = match verb.as_str() {
            "success" => AdminOutcome::Success {
                data: frame.remove("data"),
                response: frame.remove("response"),
            },
            "pong" => AdminOutcome::Pong,
            "server_info" => AdminOutcome::ServerInfo(Value::Object(frame)),
            "error" => {
                let body = frame
                    .remove("error")
                    .ok_or(AdminParseError::MalformedError)?;
                let body: ErrorBody =
                    serde_json::from_value(body).map_err(|_| AdminParseError::MalformedError)?;
                AdminOutcome::Error {
                    code: body.code,
                    reason: body.reason,
                }
            }
            _ => AdminOutcome::Other(verb),
        };
        Ok(AdminResponse {
            transaction,
            outcome,
        })
    }
}

/// A VideoRoom answer (the `response` of `message_plugin` to [`VIDEOROOM`]).
#[derive(Debug, Clone, PartialEq)]
pub enum VideoRoomReply {
    /// `{"videoroom":"created","room":…}`.
    Created { room: u64 },
    /// `{"videoroom":"destroyed",…}`.
    Destroyed,
    /// `{"videoroom":"event","error_code":…,"error":…}` (e.g. 427 room exists, 426 no room).
    Error { code: i64, reason: String },
    /// Any other answer (`success` of `exists`, `list`, …), whole.
    Other(Value),
}

/// VideoRoom error: the room already exists.
pub const VIDEOROOM_ROOM_EXISTS: i64 = 427;
/// VideoRoom error: no such room.
pub const VIDEOROOM_NO_SUCH_ROOM: i64 = 426;

impl VideoRoomReply {
    /// Reads a VideoRoom answer. Total.
    pub fn from_response(response: &Value) -> VideoRoomReply {
        if let Some(code) = response.get("error_code").and_then(Value::as_i64) {
            let reason = response
                .get("error")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            return VideoRoomReply::Error { code, reason };
        }
        match response.get("videoroom").and_then(Value::as_str) {
            Some("created") => match response.get("room").and_then(Value::as_u64) {
                Some(room) => VideoRoomReply::Created { room },
                None => VideoRoomReply::Other(response.clone()),
            },
            Some("destroyed") => VideoRoomReply::Destroyed,
            _ => VideoRoomReply::Other(response.clone()),
        }
    }
}

/// The settings of a session's room (VideoRoom `create` with the plugin's `admin_key`).
#[derive(Clone, PartialEq, Eq)]
pub struct RoomSpec {
    pub room: u64,
    /// Needed to edit or destroy the room; only the server knows it.
    pub secret: String,
    /// Needed to join; handed to link holders in their grant.
    pub pin: String,
    pub publishers: u32,
    pub bitrate: u32,
}

impl std::fmt::Debug for RoomSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RoomSpec")
            .field("room", &self.room)
            .field("secret", &"<redacted>")
            .field("pin", &"<redacted>")
            .field("publishers", &self.publishers)
            .field("bitrate", &self.bitrate)
            .finish()
    }
}

impl RoomSpec {
    /// `message_plugin` creating this room: private, pin-protected, E2EE required, VP8/Opus,
    /// not saved to the plugin's config file.
    pub fn create(&self, admin_key: &str) -> AdminRequest {
        AdminRequest::MessagePlugin {
            plugin: VIDEOROOM.into(),
            request: json!({
                "request": "create",
                "admin_key": admin_key,
                "room": self.room,
                "secret": self.secret,
                "pin": self.pin,
                "is_private": true,
                "publishers": self.publishers,
                "bitrate": self.bitrate,
                "fir_freq": 10,
                "videocodec": "vp8",
                "audiocodec": "opus",
                "require_e2ee": true,
                "permanent": false,
                "notify_joining": false,
            }),
        }
    }

    /// `message_plugin` destroying this room.
    pub fn destroy(&self) -> AdminRequest {
        AdminRequest::MessagePlugin {
            plugin: VIDEOROOM.into(),
            request: json!({
                "request": "destroy",
                "room": self.room,
                "secret": self.secret,
                "permanent": false,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn frame(req: &AdminRequest) -> Value {
        serde_json::from_str(&req.to_json("t1", "s3cret")).unwrap()
    }

    #[test]
    fn requests_carry_verb_transaction_and_secret() {
        assert_eq!(
            frame(&AdminRequest::Ping),
            json!({"janus":"ping","transaction":"t1","admin_secret":"s3cret"})
        );
        assert_eq!(frame(&AdminRequest::Info)["janus"], "info");
        assert_eq!(frame(&AdminRequest::ListTokens)["janus"], "list_tokens");
        assert_eq!(
            frame(&AdminRequest::AddToken {
                token: "tok".into(),
                plugins: vec![VIDEOROOM.into()]
            }),
            json!({"janus":"add_token","transaction":"t1","admin_secret":"s3cret",
                   "token":"tok","plugins":["janus.plugin.videoroom"]})
        );
        assert_eq!(
            frame(&AdminRequest::RemoveToken {
                token: "tok".into()
            }),
            json!({"janus":"remove_token","transaction":"t1","admin_secret":"s3cret","token":"tok"})
        );
        assert_eq!(
            frame(&AdminRequest::AcceptNewSessions { accept: false }),
            json!({"janus":"accept_new_sessions","transaction":"t1","admin_secret":"s3cret","accept":false})
        );
    }

    #[test]
    fn room_create_has_every_setting() {
        let spec = RoomSpec {
            room: 42,
            secret: "sec".into(),
            pin: "pin".into(),
            publishers: 4,
            bitrate: 4_000_000,
        };
        let f = frame(&spec.create("ak"));
        assert_eq!(f["janus"], "message_plugin");
        assert_eq!(f["plugin"], VIDEOROOM);
        assert_eq!(
            f["request"],
            json!({"request":"create","admin_key":"ak","room":42,"secret":"sec","pin":"pin",
                   "is_private":true,"publishers":4,"bitrate":4000000,"fir_freq":10,
                   "videocodec":"vp8","audiocodec":"opus","require_e2ee":true,
                   "permanent":false,"notify_joining":false})
        );
        assert_eq!(frame(&spec.destroy())["request"]["request"], "destroy");
        let debug = format!("{spec:?} {:?}", spec.create("ak"));
        assert!(!debug.contains("sec\"") && !debug.contains("\"pin\"") && !debug.contains("ak"));
        let add = AdminRequest::AddToken {
            token: "zzsecretzz".into(),
            plugins: vec![],
        };
        assert!(!format!("{add:?}").contains("zzsecretzz"));
    }

    #[test]
    fn parses_literal_responses() {
        let r = AdminResponse::parse(r#"{"janus":"pong","transaction":"t1"}"#).unwrap();
        assert_eq!(r.transaction.as_deref(), Some("t1"));
        assert_eq!(r.outcome, AdminOutcome::Pong);

        let r = AdminResponse::parse(
            r#"{"janus":"success","transaction":"t2","data":{"plugins":["janus.plugin.videoroom"]}}"#,
        )
        .unwrap();
        assert_eq!(
            r.outcome,
            AdminOutcome::Success {
                data: Some(json!({"plugins":["janus.plugin.videoroom"]})),
                response: None
            }
        );

        let r = AdminResponse::parse(
            r#"{"janus":"success","transaction":"t3","response":{"videoroom":"created","room":7,"permanent":false}}"#,
        )
        .unwrap();
        let AdminOutcome::Success {
            response: Some(resp),
            ..
        } = r.outcome
        else {
            panic!("not a plugin response")
        };
        assert_eq!(
            VideoRoomReply::from_response(&resp),
            VideoRoomReply::Created { room: 7 }
        );
        assert_eq!(
            VideoRoomReply::from_response(
                &json!({"videoroom":"event","error_code":427,"error":"Room 7 already exists"})
            ),
            VideoRoomReply::Error {
                code: VIDEOROOM_ROOM_EXISTS,
                reason: "Room 7 already exists".into()
            }
        );

        let r = AdminResponse::parse(
            r#"{"janus":"error","transaction":"t4","error":{"code":403,"reason":"Unauthorized request (wrong or missing secret/token)"}}"#,
        )
        .unwrap();
        assert_eq!(
            r.outcome,
            AdminOutcome::Error {
                code: 403,
                reason: "Unauthorized request (wrong or missing secret/token)".into()
            }
        );

        let r = AdminResponse::parse(r#"{"janus":"server_info","transaction":"t5","name":"x"}"#)
            .unwrap();
        assert!(matches!(r.outcome, AdminOutcome::ServerInfo(v) if v["name"] == "x"));
        let r = AdminResponse::parse(r#"{"janus":"ack"}"#).unwrap();
        assert_eq!(r.transaction, None);
        assert_eq!(r.outcome, AdminOutcome::Other("ack".into()));
    }

    #[test]
    fn refuses_what_is_not_a_response() {
        assert!(matches!(
            AdminResponse::parse("nope"),
            Err(AdminParseError::Json(_))
        ));
        assert_eq!(AdminResponse::parse("[1]"), Err(AdminParseError::NotObject));
        assert_eq!(
            AdminResponse::parse(r#"{"janus":1}"#),
            Err(AdminParseError::NoVerb)
        );
        assert_eq!(
            AdminResponse::parse(r#"{"janus":"error","error":{"reason":"x"}}"#),
            Err(AdminParseError::MalformedError)
        );
        assert_eq!(
            AdminResponse::parse(r#"{"janus":"error"}"#),
            Err(AdminParseError::MalformedError)
        );
    }

    fn json_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            "[a-z_]{0,8}".prop_map(Value::from),
            prop_oneof![
                Just("success"),
                Just("error"),
                Just("pong"),
                Just("server_info"),
                Just("created"),
                Just("janus"),
                Just("code"),
            ]
            .prop_map(Value::from),
        ];
        leaf.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
                prop::collection::btree_map(
                    prop_oneof![
                        Just("janus".to_owned()),
                        Just("transaction".to_owned()),
                        Just("error".to_owned()),
                        Just("code".to_owned()),
                        Just("reason".to_owned()),
                        Just("data".to_owned()),
                        Just("response".to_owned()),
                        Just("videoroom".to_owned()),
                        Just("error_code".to_owned()),
                        Just("room".to_owned()),
                    ],
                    inner,
                    0..5
                )
                .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #[test]
        fn parsing_never_panics(text in ".{0,200}") {
            let _ = AdminResponse::parse(&text);
        }

        #[test]
        fn parsing_structured_frames_never_panics(v in json_value()) {
            let _ = AdminResponse::parse(&v.to_string());
            let _ = VideoRoomReply::from_response(&v);
        }
    }
}
