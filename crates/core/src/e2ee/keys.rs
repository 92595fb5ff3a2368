//! Our key schedule on top of SFrame (reference/e2ee.md, "Keys").
//!
//! ```text
//! base_key(sender, media) = HKDF-SHA256(salt = sender id, ikm = room key)
//!                             .expand("PairUX 1.0 media " ‖ slot, 32)
//! KID                     = epoch (4 low bits) << 16 | sender tag (12 bits of the sender id) << 4 | slot
//! ```
//! The room key is the media secret of epoch 0. When the host removes someone it moves the
//! session to a new epoch whose secret it hands to each remaining participant alone (see
//! [`super::rekey`]); `base_key` then takes that secret as its `ikm`, and the KID's epoch bits
//! tell a receiver which of the (at most a few) secrets it holds a frame uses. Epoch 0's KIDs
//! are the plain `tag << 4 | slot`.
//! Every participant draws a fresh random [`SenderId`] each time it joins, so a page reload
//! starts a new key whose counter may start again at 0 without ever reusing a nonce. The
//! sender id is not secret (the room key is); it travels in the sealed presence profile.
//! The KID lets a receiver tell which of a participant's keys a frame uses (video or audio,
//! and a stale sender id after a rejoin) before trying to decrypt.

use std::fmt;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use hkdf::Hkdf;
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::link::RoomKey;

/// Random bytes in a sender id.
pub const SENDER_ID_LEN: usize = 16;
/// Length of a media base key.
pub const BASE_KEY_LEN: usize = 32;

const MEDIA_LABEL: &[u8] = b"PairUX 1.0 media ";

/// A sender's identity for one join: 16 random bytes, base64url on the wire.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct SenderId([u8; SENDER_ID_LEN]);

impl SenderId {
    /// From the caller's random bytes (fresh for every join).
    pub fn from_bytes(bytes: [u8; SENDER_ID_LEN]) -> Self {
        SenderId(bytes)
    }

    pub fn as_bytes(&self) -> &[u8; SENDER_ID_LEN] {
        &self.0
    }

    /// Parses the 22-character base64url form.
    pub fn parse(text: &str) -> Option<Self> {
        if text.len() != 22 {
            return None;
        }
        let bytes = URL_SAFE_NO_PAD.decode(text).ok()?;
        bytes.try_into().ok().map(SenderId)
    }

    /// The 12 bits of the id that go into its KIDs.
    pub fn tag(&self) -> u16 {
        u16::from_be_bytes([self.0[0], self.0[1]]) >> 4
    }
}

impl fmt::Display for SenderId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&URL_SAFE_NO_PAD.encode(self.0))
    }
}

impl fmt::Debug for SenderId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SenderId({self})")
    }
}

/// Base64url text in human-readable formats (JSON), the 16 bytes in binary ones.
impl Serialize for SenderId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if s.is_human_readable() {
            s.collect_str(self)
        } else {
            self.0.serialize(s)
        }
    }
}

impl<'de> Deserialize<'de> for SenderId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        if !d.is_human_readable() {
            return <[u8; SENDER_ID_LEN]>::deserialize(d).map(SenderId);
        }
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        SenderId::parse(&text).ok_or_else(|| serde::de::Error::custom("bad sender id"))
    }
}

/// The kind of media a key protects; each is its own SFrame key (its "slot").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MediaKind {
    Video,
    Audio,
}

impl MediaKind {
    /// The slot number in KIDs and labels (4 bits).
    pub fn slot(self) -> u8 {
        match self {
            MediaKind::Video => 0,
            MediaKind::Audio => 1,
        }
    }
}

/// The KID of `sender`'s key for `media` in `epoch`.
pub fn kid(sender: &SenderId, media: MediaKind, epoch: u32) -> u64 {
    u64::from(epoch & 0xf) << 16 | u64::from(sender.tag()) << 4 | u64::from(media.slot())
}

/// The SFrame base key of `sender`'s `media`.
pub fn media_base_key(room: &RoomKey, sender: &SenderId, media: MediaKind) -> [u8; BASE_KEY_LEN] {
    let hk = Hkdf::<Sha256>::new(Some(sender.as_bytes()), room.as_bytes());
    let mut info = MEDIA_LABEL.to_vec();
    info.push(media.slot());
    let mut key = [0u8; BASE_KEY_LEN];
    hk.expand(&info, &mut key).expect("32 bytes ≤ 255·32");
    key
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sender_ids_round_trip_as_base64url() {
        let id = SenderId::from_bytes([0xab; 16]);
        let text = id.to_string();
        assert_eq!(text.len(), 22);
        assert_eq!(SenderId::parse(&text), Some(id));
        assert_eq!(serde_json::to_string(&id).unwrap(), format!("\"{text}\""));
        let back: SenderId = serde_json::from_str(&format!("\"{text}\"")).unwrap();
        assert_eq!(back, id);
        assert!(serde_json::from_str::<SenderId>("\"short\"").is_err());
        assert_eq!(SenderId::parse("!!!!!!!!!!!!!!!!!!!!!!"), None);
    }

    #[test]
    fn kids_carry_tag_and_slot() {
        let id = SenderId::from_bytes([0x12, 0x34, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(id.tag(), 0x123);
        assert_eq!(kid(&id, MediaKind::Video, 0), 0x1230);
        assert_eq!(kid(&id, MediaKind::Audio, 0), 0x1231);
        assert_eq!(kid(&id, MediaKind::Audio, 3), 0x3_1231);
        assert_eq!(kid(&id, MediaKind::Audio, 19), 0x3_1231);
    }

    #[test]
    fn base_keys_differ_per_sender_slot_and_room() {
        let room = RoomKey::from_bytes([1; 32]);
        let a = SenderId::from_bytes([2; 16]);
        let b = SenderId::from_bytes([3; 16]);
        let keys = [
            media_base_key(&room, &a, MediaKind::Video),
            media_base_key(&room, &a, MediaKind::Audio),
            media_base_key(&room, &b, MediaKind::Video),
            media_base_key(&RoomKey::from_bytes([9; 32]), &a, MediaKind::Video),
        ];
        for i in 0..keys.len() {
            for j in i + 1..keys.len() {
                assert_ne!(keys[i], keys[j]);
            }
        }
        assert_eq!(keys[0], media_base_key(&room, &a, MediaKind::Video));
    }
}
