//! Messages between the page and the transform worker (JSON text in `postMessage`).
//!
//! The page sends keys and participants ([`ToWorker`]); each transform carries
//! [`TransformOptions`] (as `RTCRtpScriptTransform` options, or with the streams of the
//! `createEncodedStreams` fallback). The worker answers [`FromWorker`]: `ready` once, then
//! per-participant [`E2eeState`] reports.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde::{Deserialize, Serialize};

use super::codec::Codec;
use super::keys::{MediaKind, SenderId};
use crate::link::{RoomKey, ROOM_KEY_LEN};

/// Page → worker.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum ToWorker {
    /// The session's room key (from the link fragment).
    RoomKey {
        #[serde(with = "room_key_text")]
        key: RoomKey,
    },
    /// Our sender id for this join. Until it (and the room key) is known, outgoing frames are
    /// dropped.
    LocalSender { sender: SenderId },
    /// A remote participant's sender id (from its sealed presence profile).
    RemoteSender {
        participant: String,
        sender: SenderId,
    },
    /// A participant left: drop its keys.
    Forget { participant: String },
    /// `createEncodedStreams` fallback: the message also carries `readable` and `writable`.
    Attach { options: TransformOptions },
}

/// Which way a transform works.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    /// An `RTCRtpSender`'s frames: encrypt.
    Send,
    /// An `RTCRtpReceiver`'s frames: decrypt.
    Receive,
}

/// What one transform is for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransformOptions {
    pub side: Side,
    pub media: MediaKind,
    /// Whose frames a receiving transform carries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub participant: Option<String>,
    /// Codec to assume when frames carry no `mimeType` metadata.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub codec: Option<Codec>,
}

impl TransformOptions {
    pub fn sender(media: MediaKind) -> Self {
        TransformOptions {
            side: Side::Send,
            media,
            participant: None,
            codec: None,
        }
    }

    pub fn receiver(participant: &str, media: MediaKind) -> Self {
        TransformOptions {
            side: Side::Receive,
            media,
            participant: Some(participant.to_owned()),
            codec: None,
        }
    }

    /// The codec of a frame: its metadata's MIME type if present, else the hint, else the
    /// codec this app negotiates for the media (VP8, Opus).
    pub fn codec_for(&self, mime_type: Option<&str>) -> Codec {
        match (mime_type, self.codec) {
            (Some(mime), _) => Codec::from_mime_type(mime),
            (None, Some(codec)) => codec,
            (None, None) => match self.media {
                MediaKind::Video => Codec::Vp8,
                MediaKind::Audio => Codec::Opus,
            },
        }
    }
}

/// A receiver's end-to-end encryption state, as the UI shows it (`data-testid="e2ee-state"`;
/// the UI's fourth value, `off`, means no transform at all).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum E2eeState {
    Ok,
    WaitingKey,
    DecryptFailed,
}

impl E2eeState {
    pub fn as_str(self) -> &'static str {
        match self {
            E2eeState::Ok => "ok",
            E2eeState::WaitingKey => "waiting-key",
            E2eeState::DecryptFailed => "decrypt-failed",
        }
    }

    /// One participant's state from its transforms' (video, audio): the worst wins.
    pub fn worst(states: impl IntoIterator<Item = E2eeState>) -> Option<E2eeState> {
        states.into_iter().max()
    }
}

/// Worker → page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum FromWorker {
    /// The worker's wasm runs and its handlers are installed.
    Ready,
    /// A receiving transform's state changed (throttled).
    State {
        participant: String,
        media: MediaKind,
        state: E2eeState,
    },
    /// A message or transform the worker could not use (a programming error on the page).
    Rejected { reason: String },
}

macro_rules! json_text {
    ($($t:ty),*) => {$(
        impl $t {
            pub fn to_json(&self) -> String {
                serde_json::to_string(self).expect("protocol messages always serialise")
            }

            pub fn from_json(text: &str) -> Result<Self, serde_json::Error> {
                serde_json::from_str(text)
            }
        }
    )*};
}
json_text!(ToWorker, FromWorker, TransformOptions);

/// The room key as the 43-character base64url text of links.
mod room_key_text {
    use super::*;

    pub fn serialize<S: serde::Serializer>(key: &RoomKey, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&key.encode())
    }

    pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<RoomKey, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        URL_SAFE_NO_PAD
            .decode(text.as_bytes())
            .ok()
            .and_then(|b| <[u8; ROOM_KEY_LEN]>::try_from(b).ok())
            .map(RoomKey::from_bytes)
            .ok_or_else(|| serde::de::Error::custom("bad room key"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_shapes() {
        let sender = SenderId::from_bytes([0; 16]);
        assert_eq!(
            ToWorker::RemoteSender {
                participant: "p1".into(),
                sender
            }
            .to_json(),
            r#"{"type":"remote-sender","participant":"p1","sender":"AAAAAAAAAAAAAAAAAAAAAA"}"#
        );
        assert_eq!(
            TransformOptions::receiver("p1", MediaKind::Video).to_json(),
            r#"{"side":"receive","media":"video","participant":"p1"}"#
        );
        assert_eq!(
            FromWorker::State {
                participant: "p1".into(),
                media: MediaKind::Video,
                state: E2eeState::DecryptFailed
            }
            .to_json(),
            r#"{"type":"state","participant":"p1","media":"video","state":"decrypt-failed"}"#
        );
        assert_eq!(FromWorker::Ready.to_json(), r#"{"type":"ready"}"#);
    }

    #[test]
    fn room_keys_travel_as_link_text() {
        let msg = ToWorker::RoomKey {
            key: RoomKey::from_bytes([0xfb; 32]),
        };
        let text = msg.to_json();
        assert!(text.contains(&RoomKey::from_bytes([0xfb; 32]).encode()));
        assert_eq!(ToWorker::from_json(&text).unwrap(), msg);
        assert!(ToWorker::from_json(r#"{"type":"room-key","key":"AAAA"}"#).is_err());
        // Debug output never shows it.
        assert!(!format!("{msg:?}").contains(&RoomKey::from_bytes([0xfb; 32]).encode()));
    }

    #[test]
    fn codec_comes_from_metadata_then_hint_then_default() {
        let mut o = TransformOptions::sender(MediaKind::Video);
        assert_eq!(o.codec_for(Some("video/H264")), Codec::H264);
        assert_eq!(o.codec_for(None), Codec::Vp8);
        o.codec = Some(Codec::Vp9);
        assert_eq!(o.codec_for(None), Codec::Vp9);
        assert_eq!(
            TransformOptions::sender(MediaKind::Audio).codec_for(None),
            Codec::Opus
        );
    }

    #[test]
    fn the_worst_state_wins() {
        use E2eeState::*;
        assert_eq!(
            E2eeState::worst([Ok, DecryptFailed, WaitingKey]),
            Some(DecryptFailed)
        );
        assert_eq!(E2eeState::worst([Ok, WaitingKey]), Some(WaitingKey));
        assert_eq!(E2eeState::worst([]), None);
        assert_eq!(WaitingKey.as_str(), "waiting-key");
    }
}
