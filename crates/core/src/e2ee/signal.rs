//! Sealing what the realtime server relays: signaling bodies and presence profiles
//! (product.md §2). The server sees only the routing fields, which are bound to the sealed
//! bytes as associated data so they cannot be swapped or edited.
//!
//! ```text
//! key    = HKDF-SHA256(salt = "", ikm = room key).expand(label, 32)   AES-256-GCM
//! sealed = version (0x01) ‖ nonce (12, random, from the caller) ‖ ciphertext ‖ tag (16)
//! aad    = label ‖ each field length-prefixed (u32 BE; an absent `to` is 0xffffffff):
//!          signals: session id, from, to (the message's kind is sealed with its body);
//!          profiles: participant id, role
//! ```
//! Signaling and presence use distinct labels, hence distinct keys, and neither shares a key
//! with media. Random 96-bit nonces are safe far beyond the messages a session sends (the
//! AES-GCM bound is 2^32 per key).

use aes_gcm::aead::AeadInOut;
use aes_gcm::{Aes256Gcm, KeyInit, Nonce, Tag};
use hkdf::Hkdf;
use sha2::Sha256;

use super::sframe::TAG_LEN;
use super::E2eeError;
use crate::link::RoomKey;
use crate::Role;

/// Random bytes the caller supplies for each seal.
pub const SEAL_NONCE_LEN: usize = 12;
/// Bytes a sealed message adds to its plaintext.
pub const SEAL_OVERHEAD: usize = 1 + SEAL_NONCE_LEN + TAG_LEN;

const VERSION: u8 = 1;
const SIGNAL_LABEL: &[u8] = b"PairUX 1.0 signaling";
const PRESENCE_LABEL: &[u8] = b"PairUX 1.0 presence";
const SFU_DATA_LABEL: &[u8] = b"PairUX 1.0 sfu data";

/// The clear routing fields of a signaling message (`SignalEnvelope`'s `from` and `to`) and
/// the session it belongs to. What kind of message it is travels sealed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignalAad<'a> {
    pub session: &'a str,
    pub from: &'a str,
    pub to: Option<&'a str>,
}

impl<'a> SignalAad<'a> {
    fn fields(&self) -> [Option<&'a str>; 3] {
        [Some(self.session), Some(self.from), self.to]
    }
}

/// Seals and opens signaling bodies.
pub struct SignalSealer(Sealer);

impl SignalSealer {
    pub fn new(room: &RoomKey) -> Self {
        SignalSealer(Sealer::new(room, SIGNAL_LABEL))
    }

    pub fn seal(
        &self,
        aad: SignalAad<'_>,
        plaintext: &[u8],
        nonce: [u8; SEAL_NONCE_LEN],
    ) -> Vec<u8> {
        self.0.seal(&aad.fields(), plaintext, nonce)
    }

    pub fn open(&self, aad: SignalAad<'_>, sealed: &[u8]) -> Result<Vec<u8>, E2eeError> {
        self.0.open(&aad.fields(), sealed)
    }
}

/// Seals and opens presence profiles (display name, sender id, …), bound to the clear
/// participant id and role.
pub struct ProfileSealer(Sealer);

impl ProfileSealer {
    pub fn new(room: &RoomKey) -> Self {
        ProfileSealer(Sealer::new(room, PRESENCE_LABEL))
    }

    pub fn seal(
        &self,
        participant: &str,
        role: Role,
        plaintext: &[u8],
        nonce: [u8; SEAL_NONCE_LEN],
    ) -> Vec<u8> {
        self.0
            .seal(&[Some(participant), Some(role.as_str())], plaintext, nonce)
    }

    pub fn open(&self, participant: &str, role: Role, sealed: &[u8]) -> Result<Vec<u8>, E2eeError> {
        self.0
            .open(&[Some(participant), Some(role.as_str())], sealed)
    }
}

/// Seals what the host sends through the SFU's data channel (relayed cursors, who holds
/// control, who is speaking) with a media epoch's secret: Janus relays bytes it cannot read,
/// bound to the session so a message cannot be replayed into another session. Each message
/// ends with the sending tab's monotonic time, one clock across its epochs: a receiver takes
/// none older than the newest it took from that host join (what is relayed is the latest
/// state; Janus could otherwise play an earlier cursor or holders list again).
pub struct SfuDataSealer(Sealer);

impl SfuDataSealer {
    pub fn new(secret: &RoomKey) -> Self {
        SfuDataSealer(Sealer::new(secret, SFU_DATA_LABEL))
    }

    pub fn seal(
        &self,
        session: &str,
        at_ms: u64,
        plaintext: &[u8],
        nonce: [u8; SEAL_NONCE_LEN],
    ) -> Vec<u8> {
        let mut body = plaintext.to_vec();
        body.extend_from_slice(&at_ms.to_be_bytes());
        self.0.seal(&[Some(session)], &body, nonce)
    }

    /// The sender's time and the message.
    pub fn open(&self, session: &str, sealed: &[u8]) -> Result<(u64, Vec<u8>), E2eeError> {
        let mut plain = self.0.open(&[Some(session)], sealed)?;
        let (rest, at) = plain.split_last_chunk::<8>().ok_or(E2eeError::Truncated)?;
        let (len, at) = (rest.len(), u64::from_be_bytes(*at));
        plain.truncate(len);
        Ok((at, plain))
    }
}

/// How many host joins' relayed clocks a guest remembers ([`RelayedClock`]).
const RELAYED_JOINS: usize = 8;

/// The newest time taken from each host join's relayed messages ([`SfuDataSealer`]): one no
/// newer than that is a replay. The host times each message strictly after the one before, so
/// two of one millisecond cannot be swapped. Each join has a clock of its own (a tab's time
/// starts at its load); a guest that follows an earlier join again goes on from where that
/// one's clock was. The last [`RELAYED_JOINS`] joins are remembered (only the host key makes
/// joins a guest follows, so Janus cannot push one out to replay to it).
#[derive(Debug, Default)]
pub struct RelayedClock {
    /// (host join, newest time taken), the latest used last.
    joins: Vec<(String, Option<u64>)>,
}

impl RelayedClock {
    /// Whether a message that host join `join` sent at `at` is taken (newer than the newest
    /// taken from it); it becomes the newest if so.
    pub fn take(&mut self, join: &str, at: u64) -> bool {
        let mut entry = match self.joins.iter().position(|(j, _)| j == join) {
            Some(i) => self.joins.remove(i),
            None => {
                if self.joins.len() >= RELAYED_JOINS {
                    self.joins.remove(0);
                }
                (join.to_owned(), None)
            }
        };
        let fresh = entry.1.is_none_or(|newest| at > newest);
        if fresh {
            entry.1 = Some(at);
        }
        self.joins.push(entry);
        fresh
    }
}

/// The time a host puts on the next message it relays ([`SfuDataSealer::seal`]): its tab's
/// clock, or one millisecond after the last time it used if that is not later.
pub fn next_relay_time(now_ms: u64, last: u64) -> u64 {
    now_ms.max(last.saturating_add(1))
}

struct Sealer {
    label: &'static [u8],
    aead: Box<Aes256Gcm>,
}

impl Sealer {
    fn new(room: &RoomKey, label: &'static [u8]) -> Self {
        let mut key = [0u8; 32];
        Hkdf::<Sha256>::new(None, room.as_bytes())
            .expand(label, &mut key)
            .expect("32 bytes ≤ 255·32");
        Sealer {
            label,
            aead: Box::new(Aes256Gcm::new(&key.into())),
        }
    }

    fn aad(&self, fields: &[Option<&str>]) -> Vec<u8> {
        let mut aad = self.label.to_vec();
        for field in fields {
            match field {
                Some(text) => {
                    // Longer fields than 4 GiB cannot exist in a bounded envelope; saturate anyway.
                    let len = u32::try_from(text.len()).unwrap_or(u32::MAX - 1);
                    aad.extend_from_slice(&len.to_be_bytes());
                    aad.extend_from_slice(text.as_bytes());
                }
                None => aad.extend_from_slice(&u32::MAX.to_be_bytes()),
            }
        }
        aad
    }

    fn seal(
        &self,
        fields: &[Option<&str>],
        plaintext: &[u8],
        nonce: [u8; SEAL_NONCE_LEN],
    ) -> Vec<u8> {
        let mut out = Vec::with_capacity(plaintext.len() + SEAL_OVERHEAD);
        out.push(VERSION);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(plaintext);
        let tag = self
            .aead
            .encrypt_inout_detached(
                &Nonce::from(nonce),
                &self.aad(fields),
                (&mut out[1 + SEAL_NONCE_LEN..]).into(),
            )
            .expect("signaling messages are far below the AES-GCM length limit");
        out.extend_from_slice(&tag);
        out
    }

    fn open(&self, fields: &[Option<&str>], sealed: &[u8]) -> Result<Vec<u8>, E2eeError> {
        if sealed.len() < SEAL_OVERHEAD || sealed[0] != VERSION {
            return Err(E2eeError::MalformedSealed);
        }
        let (nonce, rest) = sealed[1..].split_at(SEAL_NONCE_LEN);
        let (ciphertext, tag) = rest.split_at(rest.len() - TAG_LEN);
        let nonce = Nonce::try_from(nonce).map_err(|_| E2eeError::MalformedSealed)?;
        let tag = Tag::try_from(tag).map_err(|_| E2eeError::MalformedSealed)?;
        let mut plaintext = ciphertext.to_vec();
        self.aead
            .decrypt_inout_detached(
                &nonce,
                &self.aad(fields),
                plaintext.as_mut_slice().into(),
                &tag,
            )
            .map_err(|_| E2eeError::Authentication)?;
        Ok(plaintext)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const AAD: SignalAad<'static> = SignalAad {
        session: "s1",
        from: "alice",
        to: Some("bob"),
    };

    fn sealer(b: u8) -> SignalSealer {
        SignalSealer::new(&RoomKey::from_bytes([b; 32]))
    }

    #[test]
    fn round_trip_and_layout() {
        let s = sealer(1);
        let sealed = s.seal(AAD, br#"{"sdp":"v=0"}"#, [7; 12]);
        assert_eq!(sealed[0], 1);
        assert_eq!(&sealed[1..13], &[7; 12]);
        assert_eq!(sealed.len(), 13 + SEAL_OVERHEAD);
        assert_eq!(s.open(AAD, &sealed).unwrap(), br#"{"sdp":"v=0"}"#);
    }

    #[test]
    fn routing_fields_cannot_be_swapped() {
        let s = sealer(1);
        let sealed = s.seal(AAD, b"body", [7; 12]);
        for aad in [
            SignalAad {
                from: "mallory",
                ..AAD
            },
            SignalAad { to: None, ..AAD },
            SignalAad {
                session: "s2",
                ..AAD
            },
            SignalAad {
                to: Some("carol"),
                ..AAD
            },
            // Moving a byte between adjacent fields changes the length prefixes.
            SignalAad {
                from: "alic",
                to: Some("ebob"),
                ..AAD
            },
        ] {
            assert_eq!(
                s.open(aad, &sealed),
                Err(E2eeError::Authentication),
                "{aad:?}"
            );
        }
    }

    #[test]
    fn wrong_key_tampering_and_garbage_are_refused() {
        let sealed = sealer(1).seal(AAD, b"body", [7; 12]);
        assert_eq!(sealer(2).open(AAD, &sealed), Err(E2eeError::Authentication));
        let mut bad = sealed.clone();
        *bad.last_mut().unwrap() ^= 1;
        assert_eq!(sealer(1).open(AAD, &bad), Err(E2eeError::Authentication));
        assert_eq!(
            sealer(1).open(AAD, &sealed[..28]),
            Err(E2eeError::MalformedSealed)
        );
        let mut v2 = sealed;
        v2[0] = 2;
        assert_eq!(sealer(1).open(AAD, &v2), Err(E2eeError::MalformedSealed));
    }

    #[test]
    fn signaling_and_presence_keys_are_distinct() {
        let room = RoomKey::from_bytes([1; 32]);
        let profile = ProfileSealer::new(&room);
        let sealed = profile.seal("p1", Role::Viewer, br#"{"name":"Ada"}"#, [3; 12]);
        assert_eq!(
            profile.open("p1", Role::Viewer, &sealed).unwrap(),
            br#"{"name":"Ada"}"#
        );
        assert_eq!(
            profile.open("p1", Role::Controller, &sealed),
            Err(E2eeError::Authentication)
        );
        // The same fields sealed for signaling do not open as presence.
        let signal = SignalSealer::new(&room).seal(
            SignalAad {
                session: "s",
                from: "p1",
                to: Some("viewer"),
            },
            b"x",
            [3; 12],
        );
        assert!(profile.open("p1", Role::Viewer, &signal).is_err());
    }

    #[test]
    fn sfu_data_opens_only_with_its_secret_and_session_and_carries_its_time() {
        let room = RoomKey::from_bytes([1; 32]);
        let sealer = SfuDataSealer::new(&room);
        let sealed = sealer.seal("s1", 1234, b"cursor", [2; SEAL_NONCE_LEN]);
        assert_eq!(
            sealer.open("s1", &sealed).unwrap(),
            (1234, b"cursor".to_vec())
        );
        // Sealed without a time (too short for one): not taken.
        let bare = sealer
            .0
            .seal(&[Some("s1")], b"cursor!", [4; SEAL_NONCE_LEN]);
        assert_eq!(sealer.open("s1", &bare), Err(E2eeError::Truncated));
        assert!(sealer.open("s2", &sealed).is_err());
        assert!(SfuDataSealer::new(&RoomKey::from_bytes([3; 32]))
            .open("s1", &sealed)
            .is_err());
        // Not the signaling key either.
        let aad = SignalAad {
            session: "s1",
            from: "a",
            to: None,
        };
        assert!(SignalSealer::new(&room).open(aad, &sealed).is_err());
    }

    #[test]
    fn sfu_data_older_than_what_was_taken_is_a_replay() {
        let (old, new) = (
            SfuDataSealer::new(&RoomKey::from_bytes([1; 32])),
            SfuDataSealer::new(&RoomKey::from_bytes([2; 32])),
        );
        let at = |s: &SfuDataSealer, ms: u64, text: &[u8]| {
            let (t, plain) = s
                .open("s1", &s.seal("s1", ms, text, [ms as u8; SEAL_NONCE_LEN]))
                .unwrap();
            assert_eq!(plain, text);
            t
        };
        let mut clock = RelayedClock::default();
        let (held, cursor) = (at(&old, 10, b"held"), at(&old, 20, b"cursor"));
        // The host moves to a new epoch and revokes: one clock across its epochs.
        let revoked = at(&new, 30, b"revoked");
        assert!(clock.take("h1", held) && clock.take("h1", cursor) && clock.take("h1", revoked));
        // Janus plays the earlier ones again, in the old epoch, or the latest again: refused.
        assert!(!clock.take("h1", held) && !clock.take("h1", cursor));
        assert!(!clock.take("h1", revoked));
        assert!(clock.take("h1", at(&new, 31, b"next")));
        // Another host join has its own clock; coming back to the first goes on from its.
        assert!(clock.take("h2", 5) && clock.take("h2", 6));
        assert!(!clock.take("h1", cursor) && clock.take("h1", 32));
        assert!(!clock.take("h2", 6));
        // Only the last few joins are remembered.
        for i in 0..RELAYED_JOINS {
            assert!(clock.take(&format!("other{i}"), 1));
        }
        assert!(clock.take("h1", cursor), "h1 was forgotten");
        assert!(!clock.take("h1", cursor));
    }

    #[test]
    fn a_host_times_each_relayed_message_after_the_last() {
        assert_eq!(next_relay_time(0, 0), 1);
        assert_eq!(next_relay_time(100, 0), 100);
        assert_eq!(next_relay_time(100, 100), 101);
        assert_eq!(next_relay_time(100, 101), 102);
        assert_eq!(next_relay_time(150, 102), 150);
        assert_eq!(next_relay_time(0, u64::MAX), u64::MAX);
    }
}
