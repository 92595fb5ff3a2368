//! The per-peer data-channel protocol: versioned, serde-typed JSON with short tags.
//!
//! JSON keeps the channel debuggable and costs little at input rates (a pointer move is ~60
//! bytes); every message carries the protocol version so a peer can refuse what it does not
//! speak. Coordinates are normalised to the shared surface (0..1), independent of how the
//! receiver displays it.

use serde::{Deserialize, Serialize};

use crate::versioned::{self, VersionedError};

/// Version every message carries (`"v"`).
pub const PROTOCOL_VERSION: u8 = 1;
/// Longest message accepted.
pub const MAX_MESSAGE_BYTES: usize = 4096;

/// One data-channel message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "t", rename_all = "snake_case")]
pub enum ControlMsg {
    /// Host → participant, when the channel opens: the nonce a request must prove over.
    Challenge {
        nonce: String,
    },
    /// Participant → host: asks for control; `proof` = HMAC(controller secret, nonce, id,
    /// DTLS fingerprints of this connection) (see `proof`).
    Request {
        proof: String,
    },
    /// Participant → host: withdraws its pending request.
    Cancel,
    /// Host → participant.
    Grant,
    /// Host → participant: request refused (also when it expired).
    Deny,
    /// Host → participant: control taken back.
    Revoke,
    /// Participant → host: gives control back.
    Release,
    /// Host → everyone: who holds control now, and whether their input drives the host's
    /// computer (a paired agent) or shows as pointers only.
    State {
        holders: Vec<String>,
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        agent: bool,
    },
    /// Host → everyone: whose voice is heard now (the host hears every voice apart; see
    /// `crate::voice`). Receivers show it only next to participants in their roster.
    Speaking {
        ids: Vec<String>,
    },
    /// Participant → host: one input event.
    Input(InputEvent),
    /// Host → everyone: a holder's pointer, normalised. Receivers colour it from a fixed
    /// palette keyed by `id` (never from the wire) and sanitise `name` before showing it.
    Cursor {
        id: String,
        x: f64,
        y: f64,
        /// Display name, so receivers need no roster lookup.
        name: String,
    },
    /// Either way: round-trip measurement.
    Ping {
        id: u32,
        ts: u64,
    },
    Pong {
        id: u32,
        ts: u64,
    },
}

/// An input event with its sequence number and the sender's timestamp (ms).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InputEvent {
    pub seq: u64,
    pub ts: u64,
    #[serde(flatten)]
    pub kind: InputKind,
}

/// What the controller did, in coordinates normalised to the shared surface.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "k", rename_all = "snake_case")]
pub enum InputKind {
    Move {
        x: f64,
        y: f64,
    },
    Down {
        x: f64,
        y: f64,
        b: Button,
    },
    Up {
        x: f64,
        y: f64,
        b: Button,
    },
    Dbl {
        x: f64,
        y: f64,
        b: Button,
    },
    Wheel {
        x: f64,
        y: f64,
        dx: f64,
        dy: f64,
    },
    KeyDown {
        key: String,
        code: String,
        m: Modifiers,
        rep: bool,
    },
    KeyUp {
        key: String,
        code: String,
        m: Modifiers,
    },
    /// Composed text (IME, dead keys).
    Text {
        text: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Button {
    Left,
    Middle,
    Right,
    Back,
    Forward,
}

impl Button {
    /// From `MouseEvent.button`.
    pub fn from_dom(button: i16) -> Option<Button> {
        Some(match button {
            0 => Button::Left,
            1 => Button::Middle,
            2 => Button::Right,
            3 => Button::Back,
            4 => Button::Forward,
            _ => return None,
        })
    }
}

/// Modifier keys held, as a bit set: 1 shift, 2 ctrl, 4 alt, 8 meta.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Modifiers(pub u8);

impl Modifiers {
    pub const SHIFT: u8 = 1;
    pub const CTRL: u8 = 2;
    pub const ALT: u8 = 4;
    pub const META: u8 = 8;

    pub fn new(shift: bool, ctrl: bool, alt: bool, meta: bool) -> Self {
        let bit = |on: bool, b: u8| if on { b } else { 0 };
        Modifiers(
            bit(shift, Self::SHIFT)
                | bit(ctrl, Self::CTRL)
                | bit(alt, Self::ALT)
                | bit(meta, Self::META),
        )
    }
}

/// Why a message was not read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    #[error("message larger than {MAX_MESSAGE_BYTES} bytes")]
    TooLarge,
    #[error("unsupported protocol version {0}")]
    Version(u64),
    #[error("malformed message: {0}")]
    Malformed(String),
}

impl From<VersionedError> for WireError {
    fn from(err: VersionedError) -> Self {
        match err {
            VersionedError::TooLarge => WireError::TooLarge,
            VersionedError::Version(v) => WireError::Version(v),
            VersionedError::Malformed(why) => WireError::Malformed(why),
        }
    }
}

impl ControlMsg {
    pub fn encode(&self) -> String {
        versioned::encode(PROTOCOL_VERSION, self)
    }

    pub fn decode(text: &str) -> Result<ControlMsg, WireError> {
        Ok(versioned::decode(
            text,
            MAX_MESSAGE_BYTES,
            PROTOCOL_VERSION,
        )?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn compact_wire_shapes() {
        let ev = ControlMsg::Input(InputEvent {
            seq: 7,
            ts: 1000,
            kind: InputKind::Down {
                x: 0.25,
                y: 0.5,
                b: Button::Left,
            },
        });
        assert_eq!(
            ev.encode(),
            r#"{"v":1,"t":"input","seq":7,"ts":1000,"k":"down","x":0.25,"y":0.5,"b":"left"}"#
        );
        assert_eq!(ControlMsg::decode(&ev.encode()), Ok(ev));
        assert_eq!(ControlMsg::Grant.encode(), r#"{"v":1,"t":"grant"}"#);
        // `agent` is said only when true; an older host's state reads as pointers only.
        let state = ControlMsg::State {
            holders: vec!["a".into()],
            agent: true,
        };
        assert_eq!(
            state.encode(),
            r#"{"v":1,"t":"state","holders":["a"],"agent":true}"#
        );
        assert_eq!(
            ControlMsg::decode(r#"{"v":1,"t":"state","holders":[]}"#),
            Ok(ControlMsg::State {
                holders: vec![],
                agent: false
            })
        );
        let key = ControlMsg::Input(InputEvent {
            seq: 1,
            ts: 2,
            kind: InputKind::KeyDown {
                key: "a".into(),
                code: "KeyA".into(),
                m: Modifiers::new(true, false, false, true),
                rep: false,
            },
        });
        assert!(key.encode().contains(r#""m":9"#));
        assert_eq!(ControlMsg::decode(&key.encode()), Ok(key));
        let speaking = ControlMsg::Speaking {
            ids: vec!["p1".into(), "p2".into()],
        };
        assert_eq!(
            speaking.encode(),
            r#"{"v":1,"t":"speaking","ids":["p1","p2"]}"#
        );
        assert_eq!(ControlMsg::decode(&speaking.encode()), Ok(speaking));
    }

    #[test]
    fn bad_messages_are_errors() {
        assert_eq!(
            ControlMsg::decode(r#"{"v":2,"t":"grant"}"#),
            Err(WireError::Version(2))
        );
        assert!(matches!(
            ControlMsg::decode(r#"{"t":"grant"}"#),
            Err(WireError::Malformed(_))
        ));
        assert!(matches!(
            ControlMsg::decode(r#"{"v":1,"t":"launch_missiles"}"#),
            Err(WireError::Malformed(_))
        ));
        assert_eq!(
            ControlMsg::decode(&"x".repeat(5000)),
            Err(WireError::TooLarge)
        );
    }

    proptest! {
        #[test]
        fn arbitrary_text_never_panics(s in ".{0,300}") {
            let _ = ControlMsg::decode(&s);
        }

        #[test]
        fn json_like_text_never_panics(
            t in "(input|grant|request|cursor|ping|x)",
            k in "(move|down|key_down|text|zz)",
            x in proptest::num::f64::ANY,
        ) {
            let text = format!(r#"{{"v":1,"t":"{t}","k":"{k}","x":{x},"y":1,"seq":1,"ts":1,"b":"left"}}"#);
            let _ = ControlMsg::decode(&text);
        }

        #[test]
        fn input_round_trips(seq in any::<u64>(), x in 0.0f64..=1.0, y in 0.0f64..=1.0, dy in -1e4f64..1e4) {
            let msg = ControlMsg::Input(InputEvent { seq, ts: 5, kind: InputKind::Wheel { x, y, dx: 0.0, dy } });
            prop_assert_eq!(ControlMsg::decode(&msg.encode()), Ok(msg));
        }
    }
}
