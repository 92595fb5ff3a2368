//! The per-peer data-channel protocol: versioned JSON with short tags.
//!
//! JSON keeps the channel debuggable and costs little at input rates (a pointer move is ~60
//! bytes); every message carries the protocol version so a peer can refuse what it does not
//! speak. Coordinates are normalised to the shared surface (0..1), independent of how the
//! receiver displays it.
//!
//! The messages are written and read by hand ([`versioned::Writer`], [`versioned::Fields`])
//! rather than by serde's derive: an internally tagged enum with a flattened, internally tagged
//! event inside is deserialised through serde's buffering `Content`, which was 41 KB of the
//! app's wasm on its own. The shapes are serde's, and a test holds the two equal
//! ([`InputEvent`] keeps its derives: the agent protocol carries it as is).

use serde::{Deserialize, Serialize};

use crate::versioned::{self, Fields, VersionedError, Writer};

/// Version every message carries (`"v"`).
pub const PROTOCOL_VERSION: u8 = 1;
/// Longest message accepted.
pub const MAX_MESSAGE_BYTES: usize = 4096;

/// One data-channel message (`"t"` is the variant's name in snake case).
#[derive(Debug, Clone, PartialEq)]
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
        /// Written only when true; absent reads as false.
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
    /// Host → a controller: would it take over as host? (Nothing is signed yet.)
    HostOffer,
    /// Controller → host: yes, it takes the offer (a click).
    HostTake,
    /// Either way: the offer is off (the host cancelled it, or the controller said not now).
    HostOfferOff,
    /// Host → the controller that took its offer: the host role (`chain`: the handovers from
    /// the link's host key to the controller's key, `session::HostChain`; `mode`: the host's
    /// pick of topology, `StartMode`; `memory`: whom the host removed and let in, whether
    /// newcomers must ask, the media epoch reached — `session::HostMemory::to_json`'s text,
    /// kept as it is by the taker and read when its tab loads as the host — so that a handover
    /// undoes no removal).
    HandOver {
        chain: String,
        mode: String,
        memory: Option<String>,
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
    /// `m`: the modifier keys held as the button went down (absent from a page of an older
    /// version: then nothing is known of them, and nothing is synced for it).
    Down {
        x: f64,
        y: f64,
        b: Button,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        m: Option<Modifiers>,
    },
    Up {
        x: f64,
        y: f64,
        b: Button,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        m: Option<Modifiers>,
    },
    Dbl {
        x: f64,
        y: f64,
        b: Button,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        m: Option<Modifiers>,
    },
    Wheel {
        x: f64,
        y: f64,
        dx: f64,
        dy: f64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        m: Option<Modifiers>,
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
    const NAMES: [&'static str; 5] = ["left", "middle", "right", "back", "forward"];
    const ALL: [Button; 5] = [
        Button::Left,
        Button::Middle,
        Button::Right,
        Button::Back,
        Button::Forward,
    ];

    fn name(self) -> &'static str {
        Self::NAMES[self as usize]
    }

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
    /// Every bit that means a modifier.
    pub const ALL: u8 = 15;

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
    fn tag(&self) -> &'static str {
        match self {
            ControlMsg::Challenge { .. } => "challenge",
            ControlMsg::Request { .. } => "request",
            ControlMsg::Cancel => "cancel",
            ControlMsg::Grant => "grant",
            ControlMsg::Deny => "deny",
            ControlMsg::Revoke => "revoke",
            ControlMsg::Release => "release",
            ControlMsg::State { .. } => "state",
            ControlMsg::Speaking { .. } => "speaking",
            ControlMsg::Input(_) => "input",
            ControlMsg::Cursor { .. } => "cursor",
            ControlMsg::HostOffer => "host_offer",
            ControlMsg::HostTake => "host_take",
            ControlMsg::HostOfferOff => "host_offer_off",
            ControlMsg::HandOver { .. } => "hand_over",
            ControlMsg::Ping { .. } => "ping",
            ControlMsg::Pong { .. } => "pong",
        }
    }

    pub fn encode(&self) -> String {
        let mut w = Writer::new(PROTOCOL_VERSION, self.tag());
        match self {
            ControlMsg::Challenge { nonce } => {
                w.str("nonce", nonce);
            }
            ControlMsg::Request { proof } => {
                w.str("proof", proof);
            }
            ControlMsg::Cancel
            | ControlMsg::Grant
            | ControlMsg::Deny
            | ControlMsg::Revoke
            | ControlMsg::Release
            | ControlMsg::HostOffer
            | ControlMsg::HostTake
            | ControlMsg::HostOfferOff => {}
            ControlMsg::State { holders, agent } => {
                w.strings("holders", holders);
                if *agent {
                    w.bool("agent", true);
                }
            }
            ControlMsg::Speaking { ids } => {
                w.strings("ids", ids);
            }
            ControlMsg::Input(e) => e.write(&mut w),
            ControlMsg::Cursor { id, x, y, name } => {
                w.str("id", id).f64("x", *x).f64("y", *y).str("name", name);
            }
            ControlMsg::HandOver {
                chain,
                mode,
                memory,
            } => {
                w.str("chain", chain).str("mode", mode);
                if let Some(memory) = memory {
                    w.str("memory", memory);
                }
            }
            ControlMsg::Ping { id, ts } | ControlMsg::Pong { id, ts } => {
                w.u64("id", u64::from(*id)).u64("ts", *ts);
            }
        }
        w.finish()
    }

    pub fn decode(text: &str) -> Result<ControlMsg, WireError> {
        let value = versioned::parse(text, MAX_MESSAGE_BYTES, PROTOCOL_VERSION)?;
        Ok(Self::read(&Fields(&value))?)
    }

    fn read(f: &Fields<'_>) -> Result<ControlMsg, VersionedError> {
        Ok(match f.str("t")? {
            "challenge" => ControlMsg::Challenge {
                nonce: f.string("nonce")?,
            },
            "request" => ControlMsg::Request {
                proof: f.string("proof")?,
            },
            "cancel" => ControlMsg::Cancel,
            "grant" => ControlMsg::Grant,
            "deny" => ControlMsg::Deny,
            "revoke" => ControlMsg::Revoke,
            "release" => ControlMsg::Release,
            "state" => ControlMsg::State {
                holders: f.strings("holders")?,
                agent: f.flag("agent")?,
            },
            "speaking" => ControlMsg::Speaking {
                ids: f.strings("ids")?,
            },
            "input" => ControlMsg::Input(InputEvent::read(f)?),
            "cursor" => ControlMsg::Cursor {
                id: f.string("id")?,
                x: f.f64("x")?,
                y: f.f64("y")?,
                name: f.string("name")?,
            },
            "host_offer" => ControlMsg::HostOffer,
            "host_take" => ControlMsg::HostTake,
            "host_offer_off" => ControlMsg::HostOfferOff,
            "hand_over" => ControlMsg::HandOver {
                chain: f.string("chain")?,
                mode: f.string("mode")?,
                memory: f.opt_str("memory")?.map(str::to_owned),
            },
            "ping" => ControlMsg::Ping {
                id: f.uint("id")?,
                ts: f.u64("ts")?,
            },
            "pong" => ControlMsg::Pong {
                id: f.uint("id")?,
                ts: f.u64("ts")?,
            },
            other => {
                return Err(VersionedError::Malformed(format!(
                    "unknown message \"{other}\""
                )))
            }
        })
    }
}

/// A pointer event's modifiers, said only when known (serde's `skip_serializing_if`).
fn write_mods(w: &mut Writer, m: Option<Modifiers>) {
    if let Some(m) = m {
        w.u64("m", u64::from(m.0));
    }
}

impl InputEvent {
    /// Adds this event's fields to a message (serde's flattened shape: `seq`, `ts`, `k`, …).
    pub(crate) fn write(&self, w: &mut Writer) {
        w.u64("seq", self.seq).u64("ts", self.ts);
        match &self.kind {
            InputKind::Move { x, y } => {
                w.str("k", "move").f64("x", *x).f64("y", *y);
            }
            InputKind::Down { x, y, b, m }
            | InputKind::Up { x, y, b, m }
            | InputKind::Dbl { x, y, b, m } => {
                let k = match self.kind {
                    InputKind::Down { .. } => "down",
                    InputKind::Up { .. } => "up",
                    _ => "dbl",
                };
                w.str("k", k).f64("x", *x).f64("y", *y).str("b", b.name());
                write_mods(w, *m);
            }
            InputKind::Wheel { x, y, dx, dy, m } => {
                w.str("k", "wheel")
                    .f64("x", *x)
                    .f64("y", *y)
                    .f64("dx", *dx)
                    .f64("dy", *dy);
                write_mods(w, *m);
            }
            InputKind::KeyDown { key, code, m, rep } => {
                w.str("k", "key_down")
                    .str("key", key)
                    .str("code", code)
                    .u64("m", u64::from(m.0))
                    .bool("rep", *rep);
            }
            InputKind::KeyUp { key, code, m } => {
                w.str("k", "key_up")
                    .str("key", key)
                    .str("code", code)
                    .u64("m", u64::from(m.0));
            }
            InputKind::Text { text } => {
                w.str("k", "text").str("text", text);
            }
        }
    }

    fn read(f: &Fields<'_>) -> Result<InputEvent, VersionedError> {
        let button = || Ok::<_, VersionedError>(Button::ALL[f.one_of("b", &Button::NAMES)?]);
        let mods = || Ok::<_, VersionedError>(f.opt_uint("m")?.map(Modifiers));
        let kind = match f.str("k")? {
            "move" => InputKind::Move {
                x: f.f64("x")?,
                y: f.f64("y")?,
            },
            "down" => InputKind::Down {
                x: f.f64("x")?,
                y: f.f64("y")?,
                b: button()?,
                m: mods()?,
            },
            "up" => InputKind::Up {
                x: f.f64("x")?,
                y: f.f64("y")?,
                b: button()?,
                m: mods()?,
            },
            "dbl" => InputKind::Dbl {
                x: f.f64("x")?,
                y: f.f64("y")?,
                b: button()?,
                m: mods()?,
            },
            "wheel" => InputKind::Wheel {
                x: f.f64("x")?,
                y: f.f64("y")?,
                dx: f.f64("dx")?,
                dy: f.f64("dy")?,
                m: mods()?,
            },
            "key_down" => InputKind::KeyDown {
                key: f.string("key")?,
                code: f.string("code")?,
                m: Modifiers(f.uint("m")?),
                rep: f.bool("rep")?,
            },
            "key_up" => InputKind::KeyUp {
                key: f.string("key")?,
                code: f.string("code")?,
                m: Modifiers(f.uint("m")?),
            },
            "text" => InputKind::Text {
                text: f.string("text")?,
            },
            other => {
                return Err(VersionedError::Malformed(format!(
                    "unknown input kind \"{other}\""
                )))
            }
        };
        Ok(InputEvent {
            seq: f.u64("seq")?,
            ts: f.u64("ts")?,
            kind,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn compact_wire_shapes() {
        let down = |m| {
            ControlMsg::Input(InputEvent {
                seq: 7,
                ts: 1000,
                kind: InputKind::Down {
                    x: 0.25,
                    y: 0.5,
                    b: Button::Left,
                    m,
                },
            })
        };
        let ev = down(Some(Modifiers::new(true, false, false, false)));
        assert_eq!(
            ev.encode(),
            r#"{"v":1,"t":"input","seq":7,"ts":1000,"k":"down","x":0.25,"y":0.5,"b":"left","m":1}"#
        );
        assert_eq!(ControlMsg::decode(&ev.encode()), Ok(ev));
        // A page of an older version says nothing of a click's modifiers: none are known.
        assert_eq!(
            ControlMsg::decode(
                r#"{"v":1,"t":"input","seq":7,"ts":1000,"k":"down","x":0.25,"y":0.5,"b":"left"}"#
            ),
            Ok(down(None))
        );
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

    fn input_kinds() -> Vec<InputKind> {
        let m = Modifiers::new(true, false, true, false);
        vec![
            InputKind::Move { x: 0.1, y: 0.9 },
            InputKind::Down {
                x: 0.0,
                y: 1.0,
                b: Button::Right,
                m: Some(m),
            },
            InputKind::Down {
                x: 0.0,
                y: 1.0,
                b: Button::Left,
                m: None,
            },
            InputKind::Up {
                x: 0.5,
                y: 0.5,
                b: Button::Back,
                m: Some(Modifiers::default()),
            },
            InputKind::Up {
                x: 0.5,
                y: 0.5,
                b: Button::Back,
                m: None,
            },
            InputKind::Dbl {
                x: 0.3,
                y: 0.7,
                b: Button::Forward,
                m: Some(m),
            },
            InputKind::Wheel {
                x: 0.2,
                y: 0.4,
                dx: -3.5,
                dy: 120.0,
                m: Some(Modifiers(Modifiers::CTRL)),
            },
            InputKind::Wheel {
                x: 0.2,
                y: 0.4,
                dx: -3.5,
                dy: 120.0,
                m: None,
            },
            InputKind::KeyDown {
                key: "\"é\\".into(),
                code: "KeyE".into(),
                m,
                rep: true,
            },
            InputKind::KeyUp {
                key: "Enter".into(),
                code: "Enter".into(),
                m,
            },
            InputKind::Text {
                text: "日本\n".into(),
            },
        ]
    }

    /// The hand-written input shape is the one serde writes for `InputEvent` (which the agent
    /// protocol carries): the same text, and each reads the other's.
    #[test]
    fn input_is_serdes_shape() {
        for (i, kind) in input_kinds().into_iter().enumerate() {
            let event = InputEvent {
                seq: i as u64,
                ts: 1_700_000_000_000,
                kind,
            };
            let ours = ControlMsg::Input(event.clone()).encode();
            let serde = serde_json::to_string(&event).unwrap();
            assert_eq!(ours, format!(r#"{{"v":1,"t":"input",{}"#, &serde[1..]));
            let theirs: InputEvent = serde_json::from_str(&ours).unwrap();
            assert_eq!(theirs, event);
            assert_eq!(ControlMsg::decode(&ours), Ok(ControlMsg::Input(event)));
        }
    }

    #[test]
    fn every_message_round_trips() {
        let msgs = [
            ControlMsg::Challenge { nonce: "n".into() },
            ControlMsg::Request { proof: "p".into() },
            ControlMsg::Cancel,
            ControlMsg::Grant,
            ControlMsg::Deny,
            ControlMsg::Revoke,
            ControlMsg::Release,
            ControlMsg::State {
                holders: vec!["a".into(), "b".into()],
                agent: false,
            },
            ControlMsg::Speaking { ids: vec![] },
            ControlMsg::Cursor {
                id: "c".into(),
                x: 0.125,
                y: 1.0,
                name: "Ada <b>".into(),
            },
            ControlMsg::HostOffer,
            ControlMsg::HostTake,
            ControlMsg::HostOfferOff,
            ControlMsg::HandOver {
                chain: "AAAA".into(),
                mode: "sfu".into(),
                memory: None,
            },
            ControlMsg::HandOver {
                chain: "AAAA".into(),
                mode: "auto".into(),
                memory: Some(
                    crate::session::HostMemory {
                        removed: vec![crate::identity::Signer::from_seed([7; 32]).public()],
                        allowed: Vec::new(),
                        admission_required: true,
                        epoch: 3,
                    }
                    .to_json()
                    .to_string(),
                ),
            },
            ControlMsg::Ping {
                id: u32::MAX,
                ts: 9,
            },
            ControlMsg::Pong {
                id: 0,
                ts: u64::MAX,
            },
        ];
        for msg in msgs {
            assert_eq!(ControlMsg::decode(&msg.encode()), Ok(msg));
        }
        assert_eq!(
            ControlMsg::Cursor {
                id: "c".into(),
                x: 0.5,
                y: 0.25,
                name: "N".into()
            }
            .encode(),
            r#"{"v":1,"t":"cursor","id":"c","x":0.5,"y":0.25,"name":"N"}"#
        );
        assert_eq!(
            ControlMsg::Ping { id: 3, ts: 4 }.encode(),
            r#"{"v":1,"t":"ping","id":3,"ts":4}"#
        );
    }

    #[test]
    fn wrong_types_and_ranges_are_malformed() {
        for text in [
            r#"{"v":1,"t":"ping","id":4294967296,"ts":1}"#,
            r#"{"v":1,"t":"ping","id":-1,"ts":1}"#,
            r#"{"v":1,"t":"ping","id":1.5,"ts":1}"#,
            r#"{"v":1,"t":"input","seq":1,"ts":1,"k":"key_up","key":"a","code":"KeyA","m":256}"#,
            r#"{"v":1,"t":"input","seq":1,"ts":1,"k":"down","x":0,"y":0,"b":"thumb"}"#,
            r#"{"v":1,"t":"input","seq":1,"ts":1,"k":"down","x":0,"y":0,"b":"left","m":256}"#,
            r#"{"v":1,"t":"input","seq":1,"ts":1,"k":"wheel","x":0,"y":0,"dx":0,"dy":0,"m":"1"}"#,
            r#"{"v":1,"t":"state","holders":[1]}"#,
            r#"{"v":1,"t":"state","holders":[],"agent":"yes"}"#,
            r#"{"v":1,"t":"cursor","id":"c","x":"0","y":0,"name":"n"}"#,
            r#"{"v":1,"t":"challenge"}"#,
            r#"{"v":1,"t":7}"#,
            r#"[1]"#,
        ] {
            assert!(
                matches!(ControlMsg::decode(text), Err(WireError::Malformed(_))),
                "{text}"
            );
        }
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
            let msg = ControlMsg::Input(InputEvent { seq, ts: 5, kind: InputKind::Wheel { x, y, dx: 0.0, dy, m: None } });
            prop_assert_eq!(ControlMsg::decode(&msg.encode()), Ok(msg));
        }
    }
}
