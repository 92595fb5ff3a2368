//! Media frames: `clear prefix ‖ SFrame header ‖ ciphertext ‖ tag`, with the clear prefix
//! authenticated as SFrame metadata (AAD = header ‖ prefix) and, for H.264, everything after
//! the prefix escaped.
//!
//! [`FrameEncryptor`] holds our own keys, one counter per key, and is shared by every sender
//! transform of the page: a P2P host encrypts the same track for each peer connection, and one
//! counter per key is what keeps every nonce unique across them. [`FrameDecryptor`] holds one
//! remote sender's keys with a replay window each.

use super::codec::{clear_prefix_len, escape_into, trailing_zeros, unescape_into, Codec};
use super::header::SframeHeader;
use super::keys::{kid, media_base_key, MediaKind, SenderId};
use super::replay::ReplayWindow;
use super::sframe::{CipherSuite, SframeKey, TAG_LEN};
use super::E2eeError;
use crate::link::RoomKey;

/// The suite media uses (RFC 9605's recommended one).
pub const MEDIA_SUITE: CipherSuite = CipherSuite::Aes128GcmSha256_128;

/// What the transform knows about one encoded frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameInfo {
    pub media: MediaKind,
    pub codec: Codec,
    /// `RTCEncodedVideoFrame.type == "key"` (false for audio).
    pub key_frame: bool,
}

/// `secret`: the media secret of `epoch` (the room key for epoch 0).
fn derive(secret: &RoomKey, sender: &SenderId, media: MediaKind, epoch: u32) -> SframeKey {
    let mut base = media_base_key(secret, sender, media);
    let key = SframeKey::derive(MEDIA_SUITE, kid(sender, media, epoch), &base);
    zeroize::Zeroize::zeroize(&mut base);
    key
}

struct SendKey {
    key: SframeKey,
    /// `None` once every counter was used (after 2^64 frames: unreachable, but fail closed).
    next_ctr: Option<u64>,
}

/// Encrypts our outgoing frames.
pub struct FrameEncryptor {
    sender: SenderId,
    video: SendKey,
    audio: SendKey,
    aad: Vec<u8>,
    sealed: Vec<u8>,
}

impl FrameEncryptor {
    /// Epoch 0: keys from the room key itself.
    pub fn new(room: &RoomKey, sender: SenderId) -> Self {
        Self::for_epoch(room, sender, 0)
    }

    /// Keys from `epoch`'s media secret.
    pub fn for_epoch(secret: &RoomKey, sender: SenderId, epoch: u32) -> Self {
        let key = |media| SendKey {
            key: derive(secret, &sender, media, epoch),
            next_ctr: Some(0),
        };
        FrameEncryptor {
            sender,
            video: key(MediaKind::Video),
            audio: key(MediaKind::Audio),
            aad: Vec::new(),
            sealed: Vec::new(),
        }
    }

    pub fn sender(&self) -> SenderId {
        self.sender
    }

    /// The next (video, audio) counters: what must outlive this encryptor's keys, so that the
    /// same keys made again go on from there ([`FrameEncryptor::resume`]).
    pub fn counters(&self) -> (Option<u64>, Option<u64>) {
        (self.video.next_ctr, self.audio.next_ctr)
    }

    /// Goes on from counters an encryptor of the same keys reached.
    pub fn resume(&mut self, (video, audio): (Option<u64>, Option<u64>)) {
        self.video.next_ctr = video;
        self.audio.next_ctr = audio;
    }

    /// Writes the protected form of `frame` to `out` (replacing its contents). An empty frame
    /// stays empty; a frame too short for its codec's clear prefix is refused
    /// ([`E2eeError::ShortFrame`]: a receiver could not find where the prefix ends).
    pub fn encrypt(
        &mut self,
        info: FrameInfo,
        frame: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<(), E2eeError> {
        out.clear();
        if frame.is_empty() {
            return Ok(());
        }
        let prefix_len =
            clear_prefix_len(info.codec, info.key_frame, frame).ok_or(E2eeError::ShortFrame)?;
        let send = match info.media {
            MediaKind::Video => &mut self.video,
            MediaKind::Audio => &mut self.audio,
        };
        let ctr = send.next_ctr.ok_or(E2eeError::CounterExhausted)?;
        send.next_ctr = ctr.checked_add(1);

        let (prefix, payload) = frame.split_at(prefix_len);
        let header = SframeHeader::new(send.key.kid(), ctr);
        self.aad.clear();
        header.encode_into(&mut self.aad);
        let header_len = self.aad.len();
        self.aad.extend_from_slice(prefix);

        out.reserve(frame.len() + header_len + TAG_LEN);
        out.extend_from_slice(prefix);
        if info.codec.escapes() {
            self.sealed.clear();
            seal(
                &send.key,
                ctr,
                &self.aad,
                header_len,
                payload,
                &mut self.sealed,
            );
            escape_into(&self.sealed, trailing_zeros(prefix), out);
        } else {
            seal(&send.key, ctr, &self.aad, header_len, payload, out);
        }
        Ok(())
    }
}

/// Appends `header ‖ ciphertext ‖ tag` to `out`; `aad` starts with the header.
fn seal(
    key: &SframeKey,
    ctr: u64,
    aad: &[u8],
    header_len: usize,
    payload: &[u8],
    out: &mut Vec<u8>,
) {
    out.extend_from_slice(&aad[..header_len]);
    let start = out.len();
    out.extend_from_slice(payload);
    let tag = key.seal_in_place(ctr, aad, &mut out[start..]);
    out.extend_from_slice(&tag);
}

struct ReceiveKey {
    key: SframeKey,
    window: ReplayWindow,
}

/// One epoch's keys of a remote sender.
struct EpochKeys {
    epoch: u32,
    /// Which secret they came from (a repeated install of the same secret keeps the windows).
    secret: RoomKey,
    video: ReceiveKey,
    audio: ReceiveKey,
}

/// What stays of an epoch's keys once its secret went: the replay windows, under a one-way
/// check of the secret, so that the same secret installed again (a new host followed: the room
/// key again) does not take frames it already took.
struct SpentWindows {
    epoch: u32,
    check: [u8; 16],
    video: ReplayWindow,
    audio: ReplayWindow,
}

/// Spent windows kept per sender (each is two 256-byte windows); the oldest goes first.
const MAX_SPENT_WINDOWS: usize = 16;

/// A one-way, public check of a media secret: equal secrets give equal checks. HKDF as the
/// media keys use it ([`media_base_key`]): no other hash code in the worker.
pub(crate) fn secret_check(secret: &RoomKey) -> [u8; 16] {
    let mut check = [0u8; 16];
    hkdf::Hkdf::<sha2::Sha256>::new(None, secret.as_bytes())
        .expand(b"PairUX spent media secret", &mut check)
        .expect("16 bytes <= 255 * 32");
    check
}

/// Decrypts one remote sender's frames, under each media epoch it was given a secret for.
pub struct FrameDecryptor {
    sender: SenderId,
    epochs: Vec<EpochKeys>,
    spent: Vec<SpentWindows>,
    aad: Vec<u8>,
    unescaped: Vec<u8>,
}

impl FrameDecryptor {
    /// Epoch 0: keys from the room key itself.
    pub fn new(room: &RoomKey, sender: SenderId) -> Self {
        let mut d = Self::empty(sender);
        d.install(0, room);
        d
    }

    /// No keys yet ([`Self::install`] adds them).
    pub fn empty(sender: SenderId) -> Self {
        FrameDecryptor {
            sender,
            epochs: Vec::new(),
            spent: Vec::new(),
            aad: Vec::new(),
            unescaped: Vec::new(),
        }
    }

    pub fn sender(&self) -> SenderId {
        self.sender
    }

    /// Whether `epoch`'s keys from `secret` are installed.
    pub fn has(&self, epoch: u32, secret: &RoomKey) -> bool {
        self.epochs
            .iter()
            .any(|k| k.epoch == epoch && k.secret == *secret)
    }

    /// Adds (or replaces) the keys of `epoch`, derived from its media secret. Installing the
    /// same secret again keeps the replay windows, even after its keys went in between.
    pub fn install(&mut self, epoch: u32, secret: &RoomKey) {
        if self.has(epoch, secret) {
            return;
        }
        self.retain(|e| e != epoch);
        let check = secret_check(secret);
        let (video, audio) = match self
            .spent
            .iter()
            .position(|s| s.epoch == epoch && s.check == check)
        {
            Some(i) => {
                let s = self.spent.remove(i);
                (s.video, s.audio)
            }
            None => (ReplayWindow::new(), ReplayWindow::new()),
        };
        let sender = self.sender;
        let key = |media, window| ReceiveKey {
            key: derive(secret, &sender, media, epoch),
            window,
        };
        self.epochs.push(EpochKeys {
            epoch,
            secret: secret.clone(),
            video: key(MediaKind::Video, video),
            audio: key(MediaKind::Audio, audio),
        });
    }

    /// Keeps only the keys of the epochs `keep` says yes to; of the others, only their replay
    /// windows stay.
    pub fn retain(&mut self, keep: impl Fn(u32) -> bool) {
        self.retain_dyn(&keep);
    }

    #[inline(never)] // one copy for every caller's `keep`
    fn retain_dyn(&mut self, keep: &dyn Fn(u32) -> bool) {
        let (kept, gone): (Vec<EpochKeys>, Vec<EpochKeys>) =
            self.epochs.drain(..).partition(|k| keep(k.epoch));
        self.epochs = kept;
        for k in gone {
            if self.spent.len() == MAX_SPENT_WINDOWS {
                self.spent.remove(0);
            }
            self.spent.push(SpentWindows {
                epoch: k.epoch,
                check: secret_check(&k.secret),
                video: k.video.window,
                audio: k.audio.window,
            });
        }
    }

    /// Writes the original frame to `out` (replacing its contents) if `frame` authenticates
    /// under this sender's key for `info.media` and its counter is fresh. An empty frame stays
    /// empty. On error `out` is empty and the replay window unchanged.
    pub fn decrypt(
        &mut self,
        info: FrameInfo,
        frame: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<(), E2eeError> {
        out.clear();
        if frame.is_empty() {
            return Ok(());
        }
        let FrameDecryptor {
            epochs,
            aad,
            unescaped,
            ..
        } = self;
        let prefix_len =
            clear_prefix_len(info.codec, info.key_frame, frame).ok_or(E2eeError::Truncated)?;
        let (prefix, rest) = frame.split_at(prefix_len);
        let sealed: &[u8] = if info.codec.escapes() {
            unescaped.clear();
            unescape_into(rest, trailing_zeros(prefix), unescaped);
            unescaped
        } else {
            rest
        };
        let (header, header_len) = SframeHeader::decode(sealed)?;
        let body_end = sealed
            .len()
            .checked_sub(TAG_LEN)
            .filter(|&end| end >= header_len)
            .ok_or(E2eeError::Truncated)?;
        let tag: &[u8; TAG_LEN] = sealed[body_end..]
            .try_into()
            .map_err(|_| E2eeError::Truncated)?;
        aad.clear();
        aad.extend_from_slice(&sealed[..header_len]);
        aad.extend_from_slice(prefix);
        // The KID holds the epoch modulo 16: epochs 16 apart (the room key's 0 and a later
        // 16) share KIDs, so every key with this KID is tried, newest first.
        let mut result = Err(E2eeError::UnknownKid(header.kid));
        for keys in epochs.iter_mut().rev() {
            let receive = match info.media {
                MediaKind::Video => &mut keys.video,
                MediaKind::Audio => &mut keys.audio,
            };
            if receive.key.kid() != header.kid {
                continue;
            }
            if let Err(e) = receive.window.check(header.ctr) {
                result = Err(e);
                continue;
            }
            out.clear();
            out.reserve(prefix.len() + body_end - header_len);
            out.extend_from_slice(prefix);
            out.extend_from_slice(&sealed[header_len..body_end]);
            match receive
                .key
                .open_in_place(header.ctr, aad, &mut out[prefix.len()..], tag)
            {
                Ok(()) => {
                    receive.window.accept(header.ctr);
                    return Ok(());
                }
                Err(e) => result = Err(e),
            }
        }
        out.clear();
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(codec: Codec, key_frame: bool) -> FrameInfo {
        FrameInfo {
            media: if codec == Codec::Opus {
                MediaKind::Audio
            } else {
                MediaKind::Video
            },
            codec,
            key_frame,
        }
    }

    fn pair() -> (FrameEncryptor, FrameDecryptor) {
        let room = RoomKey::from_bytes([7; 32]);
        let sender = SenderId::from_bytes([0x42; 16]);
        (
            FrameEncryptor::new(&room, sender),
            FrameDecryptor::new(&room, sender),
        )
    }

    #[test]
    fn vp8_key_frame_keeps_ten_bytes_in_clear() {
        let (mut enc, mut dec) = pair();
        let frame: Vec<u8> = (0..100).collect();
        let mut wire = Vec::new();
        enc.encrypt(info(Codec::Vp8, true), &frame, &mut wire)
            .unwrap();
        assert_eq!(&wire[..10], &frame[..10]);
        // header: KID 0x4240 (2 bytes), CTR 0 (inline) → config 0x90.
        assert_eq!(&wire[10..13], &[0x90, 0x42, 0x40]);
        assert_eq!(wire.len(), 100 + 3 + TAG_LEN);
        let mut back = Vec::new();
        dec.decrypt(info(Codec::Vp8, true), &wire, &mut back)
            .unwrap();
        assert_eq!(back, frame);
        // The same frame again is a replay.
        assert_eq!(
            dec.decrypt(info(Codec::Vp8, true), &wire, &mut back),
            Err(E2eeError::Replayed(0))
        );
        assert!(back.is_empty());
    }

    #[test]
    fn the_clear_prefix_is_authenticated() {
        let (mut enc, mut dec) = pair();
        let mut wire = Vec::new();
        enc.encrypt(info(Codec::Vp8, false), &[1, 2, 3, 4, 5], &mut wire)
            .unwrap();
        wire[0] ^= 0x80;
        let mut back = Vec::new();
        assert_eq!(
            dec.decrypt(info(Codec::Vp8, false), &wire, &mut back),
            Err(E2eeError::Authentication)
        );
        // A failed frame does not burn its counter.
        wire[0] ^= 0x80;
        dec.decrypt(info(Codec::Vp8, false), &wire, &mut back)
            .unwrap();
        assert_eq!(back, [1, 2, 3, 4, 5]);
    }

    #[test]
    fn h264_output_has_no_start_code_after_the_prefix() {
        let (mut enc, mut dec) = pair();
        let mut frame = vec![0, 0, 0, 1, 0x67, 1, 2, 0, 0, 0, 1, 0x65, 0x88];
        frame.extend(std::iter::repeat_n(0u8, 300));
        let mut wire = Vec::new();
        let mut back = Vec::new();
        // Many counters, so that some ciphertexts contain zero runs.
        for _ in 0..200 {
            enc.encrypt(info(Codec::H264, true), &frame, &mut wire)
                .unwrap();
            assert_eq!(&wire[..13], &frame[..13]);
            assert!(!wire[13..]
                .windows(3)
                .any(|w| w[0] == 0 && w[1] == 0 && w[2] <= 3));
            dec.decrypt(info(Codec::H264, true), &wire, &mut back)
                .unwrap();
            assert_eq!(back, frame);
        }
    }

    #[test]
    fn empty_frames_pass_and_audio_uses_its_own_key() {
        let (mut enc, mut dec) = pair();
        let mut wire = vec![9];
        enc.encrypt(info(Codec::Vp8, true), &[], &mut wire).unwrap();
        assert!(wire.is_empty());
        let mut back = vec![9];
        dec.decrypt(info(Codec::Vp8, true), &[], &mut back).unwrap();
        assert!(back.is_empty());

        enc.encrypt(info(Codec::Opus, false), &[0xfc, 1, 2], &mut wire)
            .unwrap();
        assert_eq!(wire[0], 0xfc);
        // An audio frame offered to the video key is not ours.
        let video = FrameInfo {
            media: MediaKind::Video,
            codec: Codec::Opus,
            key_frame: false,
        };
        assert_eq!(
            dec.decrypt(video, &wire, &mut back),
            Err(E2eeError::UnknownKid(0x4241))
        );
        dec.decrypt(info(Codec::Opus, false), &wire, &mut back)
            .unwrap();
        assert_eq!(back, [0xfc, 1, 2]);
    }

    #[test]
    fn another_room_key_cannot_decrypt() {
        let sender = SenderId::from_bytes([0x42; 16]);
        let mut enc = FrameEncryptor::new(&RoomKey::from_bytes([1; 32]), sender);
        let mut dec = FrameDecryptor::new(&RoomKey::from_bytes([2; 32]), sender);
        let mut wire = Vec::new();
        enc.encrypt(info(Codec::Vp8, true), &[5; 50], &mut wire)
            .unwrap();
        let mut back = Vec::new();
        assert_eq!(
            dec.decrypt(info(Codec::Vp8, true), &wire, &mut back),
            Err(E2eeError::Authentication)
        );
    }

    #[test]
    fn truncated_frames_are_errors() {
        let (_, mut dec) = pair();
        let mut back = Vec::new();
        let i = info(Codec::Vp8, false);
        assert_eq!(
            dec.decrypt(i, &[1, 2, 3], &mut back),
            Err(E2eeError::MalformedHeader)
        );
        assert_eq!(
            dec.decrypt(i, &[1, 2], &mut back),
            Err(E2eeError::Truncated)
        );
        let (mut enc, _) = pair();
        assert_eq!(
            enc.encrypt(i, &[1, 2], &mut back),
            Err(E2eeError::ShortFrame)
        );
        assert_eq!(
            dec.decrypt(i, &[1, 2, 3, 0x90, 0x42, 0x40, 0, 0], &mut back),
            Err(E2eeError::Truncated)
        );
    }
}
