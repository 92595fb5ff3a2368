//! Messages between the page and the transform worker: serde types, encoded with postcard as
//! the bytes of a `Uint8Array` in `postMessage` (JSON would be more readable in devtools, but
//! serde_json's decoder was half of the worker's 60 KB budget).
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
#[serde(rename_all = "kebab-case")]
pub enum ToWorker {
    /// Drop every epoch's secret, and send in none: a join starts, or a new host is followed
    /// (a former host's epochs must not outlive it for someone the new host removes). Media
    /// never uses the room key: until the host in charge sends its own secret
    /// ([`ToWorker::EpochKey`]) nothing is decrypted, and until [`ToWorker::SendEpoch`] names
    /// an epoch whose secret is held nothing is sent.
    Restart,
    /// Our sender id for this join. Until it and the secret of our send epoch are known,
    /// outgoing frames are dropped.
    LocalSender { sender: SenderId },
    /// A remote participant's sender id (from its sealed presence profile).
    RemoteSender {
        participant: String,
        sender: SenderId,
    },
    /// A participant is gone for good (the host removed it): drop its keys, and take none for
    /// it again (its presence may still be heard; ids are per join, so a new join is not it).
    Forget { participant: String },
    /// `createEncodedStreams` fallback: the message also carries `readable` and `writable`.
    Attach { options: TransformOptions },
    /// The media secret of a later epoch (from the host, after a removal; see `rekey`):
    /// frames in it decrypt from now on.
    EpochKey {
        epoch: u32,
        #[serde(with = "room_key_serde")]
        key: RoomKey,
    },
    /// Encrypt our frames in this epoch from now on (nothing is sent until its secret is known).
    SendEpoch { epoch: u32 },
    /// Forget the secrets of every epoch below `below` (the change of epoch has settled).
    Retire { below: u32 },
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
    pub participant: Option<String>,
    /// Codec to assume when frames carry no `mimeType` metadata.
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
#[serde(rename_all = "kebab-case")]
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
    /// Our sending transforms' state changed (throttled): `ok` once frames are encrypted and
    /// sent, `waiting-key` while frames are dropped for want of a key.
    Sending { media: MediaKind, state: E2eeState },
}

/// A worker message that does not decode (a page/worker version mismatch or a bug).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("malformed worker message")]
pub struct MalformedMessage;

macro_rules! wire_bytes {
    ($($t:ty),*) => {$(
        impl $t {
            pub fn to_bytes(&self) -> Vec<u8> {
                postcard::to_allocvec(self).expect("protocol messages always serialise")
            }

            pub fn from_bytes(bytes: &[u8]) -> Result<Self, MalformedMessage> {
                postcard::from_bytes(bytes).map_err(|_| MalformedMessage)
            }
        }
    )*};
}
wire_bytes!(ToWorker, FromWorker, TransformOptions);

/// The room key: the 43-character base64url text of links in human-readable formats, the 32
/// bytes in binary ones.
mod room_key_serde {
    use super::*;

    pub fn serialize<S: serde::Serializer>(key: &RoomKey, s: S) -> Result<S::Ok, S::Error> {
        if s.is_human_readable() {
            s.serialize_str(&key.encode())
        } else {
            key.as_bytes().serialize(s)
        }
    }

    pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<RoomKey, D::Error> {
        if !d.is_human_readable() {
            return <[u8; ROOM_KEY_LEN]>::deserialize(d).map(RoomKey::from_bytes);
        }
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
    fn messages_round_trip_as_bytes() {
        let sender = SenderId::from_bytes([7; 16]);
        let to_worker = [
            ToWorker::Restart,
            ToWorker::LocalSender { sender },
            ToWorker::RemoteSender {
                participant: "p1".into(),
                sender,
            },
            ToWorker::Forget {
                participant: "p1".into(),
            },
            ToWorker::Attach {
                options: TransformOptions::receiver("p1", MediaKind::Audio),
            },
            ToWorker::EpochKey {
                epoch: 3,
                key: RoomKey::from_bytes([0xfc; 32]),
            },
            ToWorker::SendEpoch { epoch: 3 },
            ToWorker::Retire { below: 2 },
        ];
        for msg in to_worker {
            assert_eq!(ToWorker::from_bytes(&msg.to_bytes()), Ok(msg));
        }
        let from_worker = [
            FromWorker::Ready,
            FromWorker::State {
                participant: "p1".into(),
                media: MediaKind::Video,
                state: E2eeState::DecryptFailed,
            },
            FromWorker::Rejected {
                reason: "why".into(),
            },
        ];
        for msg in from_worker {
            assert_eq!(FromWorker::from_bytes(&msg.to_bytes()), Ok(msg));
        }
        let mut options = TransformOptions::sender(MediaKind::Video);
        options.codec = Some(Codec::H264);
        assert_eq!(
            TransformOptions::from_bytes(&options.to_bytes()),
            Ok(options)
        );
    }

    #[test]
    fn binary_form_is_compact_and_keys_are_raw_bytes() {
        let sender = SenderId::from_bytes([7; 16]);
        // Variant 1, then the 16 bytes.
        let bytes = ToWorker::LocalSender { sender }.to_bytes();
        assert_eq!(bytes.len(), 17);
        assert_eq!(bytes[0], 1);
        assert_eq!(&bytes[1..], &[7; 16]);
        assert_eq!(FromWorker::Ready.to_bytes(), [0]);
    }

    #[test]
    fn garbage_is_malformed_not_a_panic() {
        for bad in [&[][..], &[9], &[5, 1, 2], &[2, 200, 1, 0xff]] {
            assert_eq!(ToWorker::from_bytes(bad), Err(MalformedMessage));
        }
        assert_eq!(
            TransformOptions::from_bytes(&[0, 0, 2]),
            Err(MalformedMessage)
        );
    }

    #[test]
    fn secrets_are_link_text_in_json() {
        let msg = ToWorker::EpochKey {
            epoch: 1,
            key: RoomKey::from_bytes([0xfb; 32]),
        };
        let text = serde_json::to_string(&msg).unwrap();
        assert!(text.contains(&RoomKey::from_bytes([0xfb; 32]).encode()));
        assert_eq!(serde_json::from_str::<ToWorker>(&text).unwrap(), msg);
        assert!(
            serde_json::from_str::<ToWorker>(r#"{"epoch-key":{"epoch":1,"key":"AAAA"}}"#).is_err()
        );
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
