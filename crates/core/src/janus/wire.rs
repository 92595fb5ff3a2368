//! Janus client API frames over WebSocket (subprotocol `janus-protocol`), Janus 1.1.2.
//!
//! Outgoing frames are built by [`Request`]; incoming text is read by [`Incoming::parse`], which
//! is total: any text yields a value (unknown or malformed frames become
//! [`Incoming::Unreadable`]), never a panic.

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use crate::session::{CandidateInit, Description, SdpKind};

/// The plugin every PairUX handle attaches to.
pub const VIDEOROOM: &str = "janus.plugin.videoroom";
/// WebSocket subprotocol of the client API.
pub const SUBPROTOCOL: &str = "janus-protocol";
/// Largest frame we read (an SDP offer from Janus is a few KB).
pub const MAX_FRAME_BYTES: usize = 64 * 1024;

/// A session description as Janus carries it, with the E2EE flag of Janus 1.1.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Jsep {
    #[serde(rename = "type")]
    pub kind: SdpKind,
    pub sdp: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub e2ee: Option<bool>,
}

impl Jsep {
    /// Ours, flagged end-to-end encrypted (Janus then leaves payloads alone and a
    /// `require_e2ee` room accepts it).
    pub fn encrypted(d: Description) -> Self {
        Jsep {
            kind: d.kind,
            sdp: d.sdp,
            e2ee: Some(true),
        }
    }

    pub fn description(&self) -> Description {
        Description {
            kind: self.kind,
            sdp: self.sdp.clone(),
        }
    }
}

/// One request of the client API. `transaction` and `token` are added by [`Request::encode`].
#[derive(Debug, Clone, PartialEq)]
pub enum Request {
    Create,
    Attach {
        session: u64,
    },
    Message {
        session: u64,
        handle: u64,
        body: Value,
        jsep: Option<Jsep>,
    },
    /// One local candidate, or `None`: gathering completed.
    Trickle {
        session: u64,
        handle: u64,
        candidate: Option<CandidateInit>,
    },
    Keepalive {
        session: u64,
    },
    Detach {
        session: u64,
        handle: u64,
    },
    Destroy {
        session: u64,
    },
}

impl Request {
    /// The frame's text.
    pub fn encode(&self, transaction: &str, token: &str) -> String {
        let mut f = Map::new();
        let mut put = |k: &str, v: Value| {
            f.insert(k.to_owned(), v);
        };
        let (verb, session, handle) = match self {
            Request::Create => ("create", None, None),
            Request::Attach { session } => ("attach", Some(*session), None),
            Request::Message {
                session, handle, ..
            } => ("message", Some(*session), Some(*handle)),
            Request::Trickle {
                session, handle, ..
            } => ("trickle", Some(*session), Some(*handle)),
            Request::Keepalive { session } => ("keepalive", Some(*session), None),
            Request::Detach { session, handle } => ("detach", Some(*session), Some(*handle)),
            Request::Destroy { session } => ("destroy", Some(*session), None),
        };
        put("janus", verb.into());
        put("transaction", transaction.into());
        put("token", token.into());
        if let Some(s) = session {
            put("session_id", s.into());
        }
        if let Some(h) = handle {
            put("handle_id", h.into());
        }
        match self {
            Request::Attach { .. } => put("plugin", VIDEOROOM.into()),
            Request::Message { body, jsep, .. } => {
                put("body", body.clone());
                if let Some(jsep) = jsep {
                    put("jsep", serde_json::to_value(jsep).unwrap_or(Value::Null));
                }
            }
            Request::Trickle { candidate, .. } => match candidate {
                Some(c) => put(
                    "candidate",
                    json!({"candidate": c.candidate, "sdpMid": c.sdp_mid, "sdpMLineIndex": c.sdp_m_line_index}),
                ),
                None => put("candidate", json!({"completed": true})),
            },
            _ => {}
        }
        Value::Object(f).to_string()
    }
}

/// A frame from Janus.
#[derive(Debug, Clone, PartialEq)]
pub enum Incoming {
    /// A request succeeded synchronously: `data.id` for create/attach, `plugindata` for a
    /// synchronous plugin answer.
    Success {
        transaction: String,
        id: Option<u64>,
        plugin: Option<Value>,
    },
    Error {
        transaction: Option<String>,
        code: u16,
        reason: String,
    },
    /// An asynchronous request was received; its answer comes as an event.
    Ack {
        transaction: Option<String>,
    },
    /// A plugin event, maybe answering a transaction, maybe with a description.
    Event {
        transaction: Option<String>,
        sender: u64,
        plugin: Value,
        jsep: Option<Jsep>,
    },
    /// The PeerConnection of `sender` is up.
    WebrtcUp {
        sender: u64,
    },
    /// Janus started or stopped receiving media of a kind.
    Media {
        sender: u64,
        receiving: bool,
    },
    Slowlink {
        sender: u64,
    },
    /// The PeerConnection of `sender` went down.
    Hangup {
        sender: u64,
        reason: String,
    },
    Detached {
        sender: u64,
    },
    /// A remote candidate (`None`: Janus's gathering completed).
    Trickle {
        sender: u64,
        candidate: Option<CandidateInit>,
    },
    /// The session timed out on the server.
    Timeout,
    /// Not a frame we know (counted, otherwise ignored).
    Unreadable,
}

fn u64_of(v: &Value, k: &str) -> Option<u64> {
    v.get(k).and_then(Value::as_u64)
}

fn str_of(v: &Value, k: &str) -> Option<String> {
    v.get(k).and_then(Value::as_str).map(str::to_owned)
}

impl Incoming {
    pub fn parse(text: &str) -> Incoming {
        if text.len() > MAX_FRAME_BYTES {
            return Incoming::Unreadable;
        }
        let Ok(v) = serde_json::from_str::<Value>(text) else {
            return Incoming::Unreadable;
        };
        let Some(verb) = v.get("janus").and_then(Value::as_str) else {
            return Incoming::Unreadable;
        };
        let transaction = str_of(&v, "transaction");
        let sender = u64_of(&v, "sender").unwrap_or(0);
        let jsep = v
            .get("jsep")
            .and_then(|j| serde_json::from_value::<Jsep>(j.clone()).ok());
        match verb {
            "success" => match transaction {
                Some(transaction) => Incoming::Success {
                    transaction,
                    id: v.get("data").and_then(|d| u64_of(d, "id")),
                    plugin: v.get("plugindata").and_then(|p| p.get("data")).cloned(),
                },
                None => Incoming::Unreadable,
            },
            "error" => {
                let e = v.get("error");
                let code = e
                    .and_then(|e| u64_of(e, "code"))
                    .and_then(|c| u16::try_from(c).ok());
                match code {
                    Some(code) => Incoming::Error {
                        transaction,
                        code,
                        reason: e.and_then(|e| str_of(e, "reason")).unwrap_or_default(),
                    },
                    None => Incoming::Unreadable,
                }
            }
            "ack" => Incoming::Ack { transaction },
            "event" => match v.get("plugindata").and_then(|p| p.get("data")) {
                Some(data) if data.is_object() => Incoming::Event {
                    transaction,
                    sender,
                    plugin: data.clone(),
                    jsep,
                },
                _ => Incoming::Unreadable,
            },
            "webrtcup" => Incoming::WebrtcUp { sender },
            "media" => Incoming::Media {
                sender,
                receiving: v.get("receiving").and_then(Value::as_bool).unwrap_or(false),
            },
            "slowlink" => Incoming::Slowlink { sender },
            "hangup" => Incoming::Hangup {
                sender,
                reason: str_of(&v, "reason").unwrap_or_default(),
            },
            "detached" => Incoming::Detached { sender },
            "trickle" => {
                let c = v.get("candidate");
                let completed = c
                    .and_then(|c| c.get("completed"))
                    .and_then(Value::as_bool)
                    .unwrap_or(false);
                let candidate = match c {
                    Some(c) if !completed => match str_of(c, "candidate") {
                        Some(candidate) => Some(CandidateInit {
                            candidate,
                            sdp_mid: str_of(c, "sdpMid"),
                            sdp_m_line_index: u64_of(c, "sdpMLineIndex")
                                .and_then(|i| u16::try_from(i).ok()),
                        }),
                        None => return Incoming::Unreadable,
                    },
                    Some(_) => None,
                    None => return Incoming::Unreadable,
                };
                Incoming::Trickle { sender, candidate }
            }
            "timeout" => Incoming::Timeout,
            _ => Incoming::Unreadable,
        }
    }
}

/// What went wrong, in terms a person can act on. Core API errors are 403/405 and 450–472,
/// VideoRoom errors 421–437 (Janus 1.1.2 `apierror.h`, `janus_videoroom.c`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Problem {
    /// The token or the room's pin was refused (403, 405, 470, 433).
    Refused,
    /// Janus lost our session or handle (458, 459), or timed it out.
    SessionLost,
    /// The room is gone (426), e.g. the video server restarted.
    RoomGone,
    /// The host's stream is not (or no longer) published (428, 435).
    NotPublished,
    /// The room already has its publishers (432).
    Full,
    /// Janus refused a description (464–466, 469, 431, 437).
    Negotiation,
    /// The node is draining (472).
    Draining,
    /// The socket to Janus closed or never opened.
    Unreachable,
    /// A request went unanswered.
    NoAnswer,
    /// Any other error code.
    Other(u16),
}

impl Problem {
    pub fn from_code(code: u16) -> Problem {
        match code {
            403 | 405 | 470 | 433 => Problem::Refused,
            458 | 459 => Problem::SessionLost,
            426 => Problem::RoomGone,
            428 | 435 => Problem::NotPublished,
            432 => Problem::Full,
            464..=466 | 469 | 431 | 437 => Problem::Negotiation,
            472 => Problem::Draining,
            other => Problem::Other(other),
        }
    }

    /// Whether the grant a link was made with may be what failed (its token refused, or lost
    /// with a restarted Janus): the next link asks for a new one. A feed not (yet) published,
    /// a full or draining room, a refused description: the grant is fine.
    pub fn grant_suspect(self) -> bool {
        !matches!(
            self,
            Problem::NotPublished | Problem::Full | Problem::Draining | Problem::Negotiation
        )
    }

    /// Whether trying again (a new socket, a fresh grant) can help.
    pub fn retry(self) -> bool {
        !matches!(self, Problem::Full)
    }

    /// What the person is told.
    pub fn user_message(self) -> &'static str {
        match self {
            Problem::Refused => "The video server refused this session's pass — getting a new one…",
            Problem::SessionLost | Problem::Unreachable | Problem::NoAnswer => {
                "The video server is not answering — reconnecting video…"
            }
            Problem::RoomGone => "The video server restarted — reconnecting video…",
            Problem::NotPublished => "Waiting for the host's screen on the video server…",
            Problem::Full => "The video server's room is full.",
            Problem::Negotiation => "The video server could not set up the stream — retrying…",
            Problem::Draining => "The video server is shutting down — reconnecting video…",
            Problem::Other(_) => "The video server reported an error — reconnecting video…",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_refused_or_lost_token_is_the_grants_fault() {
        for code in [403, 458, 426] {
            assert!(Problem::from_code(code).grant_suspect(), "{code}");
        }
        assert!(Problem::Unreachable.grant_suspect());
        for code in [428, 432, 472, 465] {
            assert!(!Problem::from_code(code).grant_suspect(), "{code}");
        }
    }

    #[test]
    fn requests_encode_in_janus_shape() {
        let v: Value = serde_json::from_str(&Request::Create.encode("t1", "tok")).unwrap();
        assert_eq!(
            v,
            json!({"janus":"create","transaction":"t1","token":"tok"})
        );
        let v: Value =
            serde_json::from_str(&Request::Attach { session: 111 }.encode("t2", "tok")).unwrap();
        assert_eq!(
            v,
            json!({"janus":"attach","session_id":111,"plugin":"janus.plugin.videoroom","transaction":"t2","token":"tok"})
        );
        let m = Request::Message {
            session: 111,
            handle: 222,
            body: json!({"request":"publish"}),
            jsep: Some(Jsep {
                kind: SdpKind::Offer,
                sdp: "v=0".into(),
                e2ee: Some(true),
            }),
        };
        let v: Value = serde_json::from_str(&m.encode("t3", "tok")).unwrap();
        assert_eq!(
            v,
            json!({"janus":"message","session_id":111,"handle_id":222,"transaction":"t3","token":"tok",
                   "body":{"request":"publish"},"jsep":{"type":"offer","sdp":"v=0","e2ee":true}})
        );
        let t = Request::Trickle {
            session: 1,
            handle: 2,
            candidate: None,
        };
        let v: Value = serde_json::from_str(&t.encode("t4", "x")).unwrap();
        assert_eq!(v["candidate"], json!({"completed": true}));
        let k: Value =
            serde_json::from_str(&Request::Keepalive { session: 111 }.encode("k1", "x")).unwrap();
        assert_eq!(k["janus"], "keepalive");
        assert_eq!(k["session_id"], 111);
    }

    #[test]
    fn reads_the_frames_of_the_reference() {
        assert_eq!(
            Incoming::parse(r#"{"janus":"success","transaction":"t1","data":{"id":111}}"#),
            Incoming::Success {
                transaction: "t1".into(),
                id: Some(111),
                plugin: None
            }
        );
        // Janus ids are 64-bit and may exceed JavaScript's safe integers.
        assert_eq!(
            Incoming::parse(
                r#"{"janus":"success","transaction":"t1","data":{"id":18446744073709551615}}"#
            ),
            Incoming::Success {
                transaction: "t1".into(),
                id: Some(u64::MAX),
                plugin: None
            }
        );
        assert_eq!(
            Incoming::parse(r#"{"janus":"ack","session_id":1,"transaction":"t3"}"#),
            Incoming::Ack {
                transaction: Some("t3".into())
            }
        );
        let e = Incoming::parse(
            r#"{"janus":"event","session_id":1,"transaction":"t3","sender":222,
                "plugindata":{"plugin":"janus.plugin.videoroom","data":{"videoroom":"event","configured":"ok"}},
                "jsep":{"type":"answer","sdp":"v=0"}}"#,
        );
        match e {
            Incoming::Event {
                sender: 222,
                plugin,
                jsep: Some(jsep),
                ..
            } => {
                assert_eq!(plugin["configured"], "ok");
                assert_eq!(jsep.kind, SdpKind::Answer);
                assert_eq!(jsep.e2ee, None);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            Incoming::parse(
                r#"{"janus":"error","transaction":"t9","error":{"code":458,"reason":"No such session 9"}}"#
            ),
            Incoming::Error {
                transaction: Some("t9".into()),
                code: 458,
                reason: "No such session 9".into()
            }
        );
        assert_eq!(
            Incoming::parse(
                r#"{"janus":"hangup","session_id":1,"sender":222,"reason":"DTLS alert"}"#
            ),
            Incoming::Hangup {
                sender: 222,
                reason: "DTLS alert".into()
            }
        );
        assert_eq!(
            Incoming::parse(
                r#"{"janus":"trickle","session_id":1,"sender":2,"candidate":{"candidate":"candidate:1 1 udp 1 198.51.100.1 20000 typ host","sdpMid":"0","sdpMLineIndex":0}}"#
            ),
            Incoming::Trickle {
                sender: 2,
                candidate: Some(CandidateInit {
                    candidate: "candidate:1 1 udp 1 198.51.100.1 20000 typ host".into(),
                    sdp_mid: Some("0".into()),
                    sdp_m_line_index: Some(0)
                })
            }
        );
        assert_eq!(
            Incoming::parse(r#"{"janus":"trickle","sender":2,"candidate":{"completed":true}}"#),
            Incoming::Trickle {
                sender: 2,
                candidate: None
            }
        );
        assert_eq!(
            Incoming::parse(r#"{"janus":"webrtcup","session_id":1,"sender":2}"#),
            Incoming::WebrtcUp { sender: 2 }
        );
        assert_eq!(
            Incoming::parse(r#"{"janus":"timeout","session_id":1}"#),
            Incoming::Timeout
        );
        assert_eq!(Incoming::parse("nope"), Incoming::Unreadable);
        assert_eq!(
            Incoming::parse(r#"{"janus":"success"}"#),
            Incoming::Unreadable
        );
        assert_eq!(
            Incoming::parse(r#"{"janus":"error","error":{"code":99999}}"#),
            Incoming::Unreadable
        );
    }

    #[test]
    fn error_codes_map_to_what_a_person_sees() {
        assert_eq!(Problem::from_code(403), Problem::Refused);
        assert_eq!(Problem::from_code(433), Problem::Refused);
        assert_eq!(Problem::from_code(458), Problem::SessionLost);
        assert_eq!(Problem::from_code(426), Problem::RoomGone);
        assert_eq!(Problem::from_code(428), Problem::NotPublished);
        assert_eq!(Problem::from_code(432), Problem::Full);
        assert_eq!(Problem::from_code(465), Problem::Negotiation);
        assert_eq!(Problem::from_code(472), Problem::Draining);
        assert_eq!(Problem::from_code(490), Problem::Other(490));
        assert!(!Problem::Full.retry());
        for code in (421..=437).chain(450..=472) {
            assert!(!Problem::from_code(code).user_message().is_empty());
        }
    }
}
