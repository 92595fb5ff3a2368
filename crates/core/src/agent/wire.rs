//! The page ↔ agent protocol: versioned JSON text frames over a loopback WebSocket.
//!
//! Every frame carries `"v"`; either side refuses a version it does not speak. Input events
//! reuse the data channel's [`InputEvent`] unchanged, so what the host's gate accepted is what
//! the agent reads.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::control::InputEvent;
use crate::versioned::{self, VersionedError};

/// Version every frame carries (`"v"`).
pub const AGENT_PROTOCOL_VERSION: u8 = 1;
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
    /// sessionStorage only); a new one comes with every pairing.
    Paired { resume: String },
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
    /// HMAC proof over the agent's nonce with the pairing code (see `pairing`).
    Pair { proof: String },
    /// The one-time token from a previous `Paired`.
    Resume { token: String },
    /// What the host shares: `displaySurface` and the capture size in pixels.
    Surface { kind: SurfaceKind, w: u32, h: u32 },
    /// The participants holding control now; the agent injects only for them.
    Holders { ids: Vec<String> },
    /// One input event that passed the host's gate, from participant `from`.
    Input { from: String, e: InputEvent },
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

    pub fn decode(text: &str) -> Result<AgentMsg, FrameError> {
        decode(text)
    }
}

impl PageMsg {
    pub fn encode(&self) -> String {
        encode(self)
    }

    /// Reads a frame and checks field sizes (ids, holder count, text length).
    pub fn decode(text: &str) -> Result<PageMsg, FrameError> {
        let msg: PageMsg = decode(text)?;
        let too_long = |s: &str| s.len() > MAX_FIELD;
        let bad = match &msg {
            PageMsg::Pair { proof } => too_long(proof),
            PageMsg::Resume { token } => too_long(token),
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
    use crate::control::{Button, InputKind};
    use proptest::prelude::*;

    #[test]
    fn literal_frames() {
        assert_eq!(
            AgentMsg::Hello {
                agent: "0.1.0".into(),
                nonce: "bm9uY2U".into()
            }
            .encode(),
            r#"{"v":1,"t":"hello","agent":"0.1.0","nonce":"bm9uY2U"}"#
        );
        assert_eq!(
            AgentMsg::Status {
                drives: false,
                why: Some(PointersOnly::NotAScreen)
            }
            .encode(),
            r#"{"v":1,"t":"status","drives":false,"why":"not_a_screen"}"#
        );
        assert_eq!(
            AgentMsg::Status {
                drives: true,
                why: None
            }
            .encode(),
            r#"{"v":1,"t":"status","drives":true}"#
        );
        assert_eq!(
            AgentMsg::Refused {
                reason: Refusal::Busy
            }
            .encode(),
            r#"{"v":1,"t":"refused","reason":"busy"}"#
        );
        let input = r#"{"v":1,"t":"input","from":"p1","e":{"seq":3,"ts":9,"k":"down","x":0.5,"y":0.25,"b":"left"}}"#;
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
                        b: Button::Left
                    }
                }
            })
        );
        assert_eq!(PageMsg::decode(input).unwrap().encode(), input);
        assert_eq!(
            PageMsg::decode(r#"{"v":1,"t":"surface","kind":"monitor","w":1280,"h":720}"#),
            Ok(PageMsg::Surface {
                kind: SurfaceKind::Monitor,
                w: 1280,
                h: 720
            })
        );
        assert_eq!(
            PageMsg::decode(r#"{"v":1,"t":"surface","kind":"hologram","w":1,"h":1}"#),
            Ok(PageMsg::Surface {
                kind: SurfaceKind::Other,
                w: 1,
                h: 1
            })
        );
    }

    #[test]
    fn bad_frames_are_errors() {
        assert_eq!(
            PageMsg::decode(r#"{"v":2,"t":"pair","proof":"x"}"#),
            Err(FrameError::Version(2))
        );
        assert!(matches!(
            PageMsg::decode(r#"{"t":"pair","proof":"x"}"#),
            Err(FrameError::Malformed(_))
        ));
        assert_eq!(
            PageMsg::decode(&"x".repeat(MAX_FRAME_BYTES + 1)),
            Err(FrameError::TooLarge)
        );
        let many = format!(
            r#"{{"v":1,"t":"holders","ids":[{}]}}"#,
            [r#""a""#; MAX_HOLDERS + 1].join(",")
        );
        assert!(matches!(
            PageMsg::decode(&many),
            Err(FrameError::Malformed(_))
        ));
        let long = format!(r#"{{"v":1,"t":"resume","token":"{}"}}"#, "a".repeat(300));
        assert!(matches!(
            PageMsg::decode(&long),
            Err(FrameError::Malformed(_))
        ));
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
            let _ = PageMsg::decode(&format!(r#"{{"v":1,"t":"{t}",{body}}}"#));
        }
    }
}
