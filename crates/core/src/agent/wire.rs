//! The page ↔ agent protocol: versioned JSON text frames over a loopback WebSocket.
//!
//! Every frame carries `"v"`; either side refuses a version it does not speak. Input events
//! reuse the data channel's [`InputEvent`] unchanged, so what the host's gate accepted is what
//! the agent reads.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::control::InputEvent;
use crate::versioned::{self, Fields, VersionedError, Writer};

/// Version every frame carries (`"v"`).
pub const AGENT_PROTOCOL_VERSION: u8 = 2;
/// Longest frame either side accepts.
pub const MAX_FRAME_BYTES: usize = 8192;
/// Most holders a page may name (the host grants at most 3; a little slack for races).
pub const MAX_HOLDERS: usize = 8;
/// Longest participant id or text accepted in a frame field.
pub const MAX_FIELD: usize = 256;

/// Agent → page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "t", rename_all = "snake_case")]
pub enum AgentMsg {
    /// On connect: the agent's version and the nonce the pairing proof is over.
    Hello { agent: String, nonce: String },
    /// Pairing accepted. `resume` re-pairs this tab once after a reload (keep it in the tab's
    /// sessionStorage only); a new one comes with every pairing. `proof`: the agent holds the
    /// secret the page proved (`pairing::answer_proof`); the page believes nothing without it.
    Paired { resume: String, proof: String },
    /// Pairing refused; the agent closes the socket after sending it.
    Refused { reason: Refusal },
    /// Whether granted input is applied to the OS now, and if not, why.
    Status {
        drives: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        why: Option<PointersOnly>,
    },
    /// The host pressed the emergency hotkey on its computer: revoke everyone.
    Emergency,
}

/// Page → agent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "t", rename_all = "snake_case")]
pub enum PageMsg {
    /// HMAC proof over the agent's nonce with the pairing code (see `pairing`), and the
    /// page's nonce the agent's answer is proven over.
    Pair { proof: String, nonce: String },
    /// Proof of the token from a previous `Paired` (never the token itself), and the page's
    /// nonce.
    Resume { proof: String, nonce: String },
    /// What the host shares: `displaySurface` and the capture size in pixels.
    Surface { kind: SurfaceKind, w: u32, h: u32 },
    /// The participants holding control now; the agent injects only for them.
    Holders { ids: Vec<String> },
    /// One input event that passed the host's gate, from participant `from`.
    Input { from: String, e: InputEvent },
}

impl SurfaceKind {
    fn name(self) -> &'static str {
        match self {
            SurfaceKind::Monitor => "monitor",
            SurfaceKind::Window => "window",
            SurfaceKind::Browser => "browser",
            SurfaceKind::Other => "other",
        }
    }
}

impl Refusal {
    const NAMES: [&'static str; 5] = ["bad_code", "code_retired", "busy", "origin", "version"];
    const ALL: [Refusal; 5] = [
        Refusal::BadCode,
        Refusal::CodeRetired,
        Refusal::Busy,
        Refusal::Origin,
        Refusal::Version,
    ];
}

impl PointersOnly {
    const NAMES: [&'static str; 4] = ["no_surface", "not_a_screen", "which_display", "no_display"];
    const ALL: [PointersOnly; 4] = [
        PointersOnly::NoSurface,
        PointersOnly::NotAScreen,
        PointersOnly::WhichDisplay,
        PointersOnly::NoDisplay,
    ];
}

/// `MediaTrackSettings.displaySurface`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SurfaceKind {
    Monitor,
    Window,
    Browser,
    /// No display surface (e.g. the test pattern) or one this version does not know.
    #[serde(other)]
    Other,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Refusal {
    /// The proof or resume token did not match.
    BadCode,
    /// Too many wrong codes: the agent made a new one (shown where it runs).
    CodeRetired,
    /// Another page is paired.
    Busy,
    /// The page's origin is not one the agent serves.
    Origin,
    /// A protocol version this agent does not speak.
    Version,
}

/// Why granted input is only drawn, not applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PointersOnly {
    /// The page has not said what it shares yet.
    NoSurface,
    /// A window or tab is shared: its position on screen is unknown, so clicks would land
    /// elsewhere.
    NotAScreen,
    /// Several displays, none the size of the capture.
    WhichDisplay,
    /// The agent found no display to inject into.
    NoDisplay,
}

/// Why a frame was not read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    #[error("frame larger than {MAX_FRAME_BYTES} bytes")]
    TooLarge,
    #[error("unsupported agent protocol version {0}")]
    Version(u64),
    #[error("malformed frame: {0}")]
    Malformed(String),
}

impl From<VersionedError> for FrameError {
    fn from(err: VersionedError) -> Self {
        match err {
            VersionedError::TooLarge => FrameError::TooLarge,
            VersionedError::Version(v) => FrameError::Version(v),
            VersionedError::Malformed(why) => FrameError::Malformed(why),
        }
    }
}

fn encode<T: Serialize>(msg: &T) -> String {
    versioned::encode(AGENT_PROTOCOL_VERSION, msg)
}

fn decode<T: DeserializeOwned>(text: &str) -> Result<T, FrameError> {
    Ok(versioned::decode(
        text,
        MAX_FRAME_BYTES,
        AGENT_PROTOCOL_VERSION,
    )?)
}

impl AgentMsg {
    pub fn encode(&self) -> String {
        encode(self)
    }

    /// Read by hand, field by field (the page reads these; serde's internally tagged derive
    /// would put its generic buffering in the app): exactly what the derived form reads, which a
    /// test holds them to.
    pub fn decode(text: &str) -> Result<AgentMsg, FrameError> {
        let value = versioned::parse(text, MAX_FRAME_BYTES, AGENT_PROTOCOL_VERSION)?;
        let f = Fields(&value);
        let msg = match f.str("t")? {
            "hello" => AgentMsg::Hello {
                agent: f.string("agent")?,
                nonce: f.string("nonce")?,
            },
            "paired" => AgentMsg::Paired {
                resume: f.string("resume")?,
                proof: f.string("proof")?,
            },
            "refused" => AgentMsg::Refused {
                reason: Refusal::ALL[f.one_of("reason", &Refusal::NAMES)?],
            },
            "status" => AgentMsg::Status {
                drives: f.bool("drives")?,
                why: match value.get("why") {
                    None | Some(serde_json::Value::Null) => None,
                    Some(_) => Some(PointersOnly::ALL[f.one_of("why", &PointersOnly::NAMES)?]),
                },
            },
            "emergency" => AgentMsg::Emergency,
            other => {
                return Err(FrameError::Malformed(format!(
                    "unknown message type \"{other}\""
                )))
            }
        };
        Ok(msg)
    }
}

impl PageMsg {
    /// Written by hand (the page writes these), the derived form's exact text.
    pub fn encode(&self) -> String {
        let tag = match self {
            PageMsg::Pair { .. } => "pair",
            PageMsg::Resume { .. } => "resume",
            PageMsg::Surface { .. } => "surface",
            PageMsg::Holders { .. } => "holders",
            PageMsg::Input { .. } => "input",
        };
        let mut out = Writer::new(AGENT_PROTOCOL_VERSION, tag);
        match self {
            PageMsg::Pair { proof, nonce } | PageMsg::Resume { proof, nonce } => {
                out.str("proof", proof).str("nonce", nonce);
            }
            PageMsg::Surface { kind, w, h } => {
                out.str("kind", kind.name())
                    .u64("w", u64::from(*w))
                    .u64("h", u64::from(*h));
            }
            PageMsg::Holders { ids } => {
                out.strings("ids", ids);
            }
            PageMsg::Input { from, e } => {
                let mut event = Writer::object();
                e.write(&mut event);
                out.str("from", from).object_field("e", event);
            }
        }
        out.finish()
    }

    /// Reads a frame and checks field sizes (ids, holder count, text length).
    pub fn decode(text: &str) -> Result<PageMsg, FrameError> {
        let msg: PageMsg = decode(text)?;
        let too_long = |s: &str| s.len() > MAX_FIELD;
        let bad = match &msg {
            PageMsg::Pair { proof, nonce } | PageMsg::Resume { proof, nonce } => {
                too_long(proof) || too_long(nonce)
            }
            PageMsg::Surface { .. } => false,
            PageMsg::Holders { ids } => ids.len() > MAX_HOLDERS || ids.iter().any(|i| too_long(i)),
            PageMsg::Input { from, .. } => too_long(from),
        };
        if bad {
            return Err(FrameError::Malformed("field too long".into()));
        }
        Ok(msg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::control::{Button, InputKind, Modifiers};
    use proptest::prelude::*;

    #[test]
    fn literal_frames() {
        assert_eq!(
            AgentMsg::Hello {
                agent: "0.1.0".into(),
                nonce: "bm9uY2U".into()
            }
            .encode(),
            r#"{"v":2,"t":"hello","agent":"0.1.0","nonce":"bm9uY2U"}"#
        );
        assert_eq!(
            AgentMsg::Status {
                drives: false,
                why: Some(PointersOnly::NotAScreen)
            }
            .encode(),
            r#"{"v":2,"t":"status","drives":false,"why":"not_a_screen"}"#
        );
        assert_eq!(
            AgentMsg::Status {
                drives: true,
                why: None
            }
            .encode(),
            r#"{"v":2,"t":"status","drives":true}"#
        );
        assert_eq!(
            AgentMsg::Refused {
                reason: Refusal::Busy
            }
            .encode(),
            r#"{"v":2,"t":"refused","reason":"busy"}"#
        );
        let input = r#"{"v":2,"t":"input","from":"p1","e":{"seq":3,"ts":9,"k":"down","x":0.5,"y":0.25,"b":"left"}}"#;
        assert_eq!(
            PageMsg::decode(input),
            Ok(PageMsg::Input {
                from: "p1".into(),
                e: InputEvent {
                    seq: 3,
                    ts: 9,
                    kind: InputKind::Down {
                        x: 0.5,
                        y: 0.25,
                        b: Button::Left,
                        m: None,
                    }
                }
            })
        );
        assert_eq!(PageMsg::decode(input).unwrap().encode(), input);
        assert_eq!(
            PageMsg::decode(r#"{"v":2,"t":"surface","kind":"monitor","w":1280,"h":720}"#),
            Ok(PageMsg::Surface {
                kind: SurfaceKind::Monitor,
                w: 1280,
                h: 720
            })
        );
        assert_eq!(
            PageMsg::decode(r#"{"v":2,"t":"surface","kind":"hologram","w":1,"h":1}"#),
            Ok(PageMsg::Surface {
                kind: SurfaceKind::Other,
                w: 1,
                h: 1
            })
        );
    }

    #[test]
    fn bad_frames_are_errors() {
        // A page of the first version (which sent its resume token itself) is refused.
        assert_eq!(
            PageMsg::decode(r#"{"v":1,"t":"resume","token":"x"}"#),
            Err(FrameError::Version(1))
        );
        assert!(matches!(
            PageMsg::decode(r#"{"t":"pair","proof":"x","nonce":"y"}"#),
            Err(FrameError::Malformed(_))
        ));
        // And a `paired` without the agent's proof is no answer.
        assert!(matches!(
            AgentMsg::decode(r#"{"v":2,"t":"paired","resume":"r"}"#),
            Err(FrameError::Malformed(_))
        ));
        assert_eq!(
            PageMsg::decode(&"x".repeat(MAX_FRAME_BYTES + 1)),
            Err(FrameError::TooLarge)
        );
        let many = format!(
            r#"{{"v":2,"t":"holders","ids":[{}]}}"#,
            [r#""a""#; MAX_HOLDERS + 1].join(",")
        );
        assert!(matches!(
            PageMsg::decode(&many),
            Err(FrameError::Malformed(_))
        ));
        let long = format!(
            r#"{{"v":2,"t":"resume","proof":"{}","nonce":"n"}}"#,
            "a".repeat(300)
        );
        assert!(matches!(
            PageMsg::decode(&long),
            Err(FrameError::Malformed(_))
        ));
    }

    fn input_event() -> impl Strategy<Value = InputEvent> {
        let xy = (0.0f64..=1.0, 0.0f64..=1.0);
        let button = prop::sample::select(vec![
            Button::Left,
            Button::Middle,
            Button::Right,
            Button::Back,
            Button::Forward,
        ]);
        let mods = proptest::option::of(any::<u8>().prop_map(Modifiers));
        let kind =
            prop_oneof![
                xy.clone().prop_map(|(x, y)| InputKind::Move { x, y }),
                (xy.clone(), button.clone(), mods.clone())
                    .prop_map(|((x, y), b, m)| InputKind::Down { x, y, b, m }),
                (xy.clone(), button, mods.clone()).prop_map(|((x, y), b, m)| InputKind::Up {
                    x,
                    y,
                    b,
                    m
                }),
                (xy, -1e4f64..1e4, -1e4f64..1e4, mods)
                    .prop_map(|((x, y), dx, dy, m)| { InputKind::Wheel { x, y, dx, dy, m } }),
                (
                    "[a-zA-Z\"\\\\é ]{0,6}",
                    "[A-Za-z]{0,8}",
                    any::<u8>(),
                    any::<bool>()
                )
                    .prop_map(|(key, code, m, rep)| InputKind::KeyDown {
                        key,
                        code,
                        m: crate::control::Modifiers(m & 15),
                        rep
                    }),
                ".{0,12}".prop_map(|text| InputKind::Text { text }),
            ];
        (any::<u64>(), any::<u64>(), kind).prop_map(|(seq, ts, kind)| InputEvent { seq, ts, kind })
    }

    fn page_msg() -> impl Strategy<Value = PageMsg> {
        prop_oneof![
            ("[a-zA-Z0-9_-]{0,40}", "[a-zA-Z0-9_-]{0,22}")
                .prop_map(|(proof, nonce)| PageMsg::Pair { proof, nonce }),
            (".{0,20}", ".{0,22}").prop_map(|(proof, nonce)| PageMsg::Resume { proof, nonce }),
            (
                prop::sample::select(vec![
                    SurfaceKind::Monitor,
                    SurfaceKind::Window,
                    SurfaceKind::Browser,
                    SurfaceKind::Other
                ]),
                any::<u32>(),
                any::<u32>()
            )
                .prop_map(|(kind, w, h)| PageMsg::Surface { kind, w, h }),
            prop::collection::vec("[a-z0-9]{0,10}", 0..4).prop_map(|ids| PageMsg::Holders { ids }),
            ("[a-zA-Z0-9]{0,22}", input_event()).prop_map(|(from, e)| PageMsg::Input { from, e }),
        ]
    }

    fn agent_msg() -> impl Strategy<Value = AgentMsg> {
        prop_oneof![
            (".{0,10}", "[a-zA-Z0-9_-]{0,30}")
                .prop_map(|(agent, nonce)| AgentMsg::Hello { agent, nonce }),
            (".{0,20}", "[a-zA-Z0-9_-]{0,43}")
                .prop_map(|(resume, proof)| AgentMsg::Paired { resume, proof }),
            prop::sample::select(Refusal::ALL.to_vec())
                .prop_map(|reason| AgentMsg::Refused { reason }),
            (
                any::<bool>(),
                prop::option::of(prop::sample::select(PointersOnly::ALL.to_vec()))
            )
                .prop_map(|(drives, why)| AgentMsg::Status { drives, why }),
            Just(AgentMsg::Emergency),
        ]
    }

    proptest! {
        /// The page's hand-written frames are the derived form's exact text, and read back.
        #[test]
        fn page_frames_are_serdes_text(msg in page_msg()) {
            let text = msg.encode();
            prop_assert_eq!(&text, &encode(&msg));
            prop_assert_eq!(PageMsg::decode(&text), Ok(msg));
        }

        /// The page reads every frame the agent writes as the derived form does.
        #[test]
        fn agent_frames_read_as_serde_reads_them(msg in agent_msg()) {
            prop_assert_eq!(AgentMsg::decode(&msg.encode()), Ok(msg));
        }

        /// And whatever else arrives: the hand reader accepts exactly what serde accepts.
        #[test]
        fn agent_frames_accepted_as_by_serde(
            t in prop::sample::select(vec!["hello", "paired", "refused", "status", "emergency", "x"]),
            fields in prop::collection::vec(
                (
                    prop::sample::select(vec!["agent", "nonce", "resume", "proof", "reason", "drives", "why", "other"]),
                    prop_oneof![
                        Just("null".to_owned()),
                        Just("true".to_owned()),
                        Just("1".to_owned()),
                        Just("[]".to_owned()),
                        prop::sample::select(vec!["busy", "origin", "not_a_screen", "no_display", "x", ""])
                            .prop_map(|s| format!("\"{s}\"")),
                    ],
                ),
                0..4,
            ),
        ) {
            let body: String = fields.iter().map(|(k, v)| format!(",\"{k}\":{v}")).collect();
            let text = format!(r#"{{"v":2,"t":"{t}"{body}}}"#);
            prop_assert_eq!(AgentMsg::decode(&text).ok(), decode::<AgentMsg>(&text).ok(), "{}", text);
        }
    }

    proptest! {
        #[test]
        fn decoding_never_panics(text in ".{0,300}") {
            let _ = PageMsg::decode(&text);
            let _ = AgentMsg::decode(&text);
        }

        #[test]
        fn json_shaped_frames_never_panic(
            t in prop::sample::select(vec!["pair", "resume", "surface", "holders", "input", "x"]),
            body in r#"[a-z0-9",:{}\[\]. -]{0,120}"#,
        ) {
            let _ = PageMsg::decode(&format!(r#"{{"v":2,"t":"{t}",{body}}}"#));
        }
    }
}
