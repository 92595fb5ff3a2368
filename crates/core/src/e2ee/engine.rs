//! The transform worker's crypto state: the room key, our encryptor, one decryptor per remote
//! participant. The worker's glue feeds it [`ToWorker`] messages and frames; it decides.
//!
//! Fail closed: without the room key and our sender id every outgoing frame is refused
//! ([`E2eeError::NoKey`]), and an incoming frame of a participant we have no key for is refused
//! too. Repeating a key message is harmless: the same room key and sender id keep the
//! existing keys, counters and replay windows (a fresh encryptor would restart the counter at 0
//! and reuse nonces).

use std::collections::HashMap;

use super::keys::SenderId;
use super::media::{FrameDecryptor, FrameEncryptor, FrameInfo};
use super::protocol::ToWorker;
use super::E2eeError;
use crate::link::RoomKey;

#[derive(Default)]
pub struct E2eeEngine {
    room: Option<RoomKey>,
    local: Option<SenderId>,
    encryptor: Option<FrameEncryptor>,
    /// Sender id per participant, kept even before the room key is known.
    senders: HashMap<String, SenderId>,
    decryptors: HashMap<String, FrameDecryptor>,
}

impl E2eeEngine {
    pub fn new() -> Self {
        Self::default()
    }

    /// Applies a key or participant message; [`ToWorker::Attach`] is the glue's business.
    pub fn handle(&mut self, msg: &ToWorker) {
        match msg {
            ToWorker::RoomKey { key } => {
                if self.room.as_ref() != Some(key) {
                    self.room = Some(key.clone());
                    self.encryptor = None;
                    self.decryptors.clear();
                    self.rekey();
                }
            }
            ToWorker::LocalSender { sender } => {
                if self.local != Some(*sender) {
                    self.local = Some(*sender);
                    self.encryptor = None;
                    self.rekey();
                }
            }
            ToWorker::RemoteSender {
                participant,
                sender,
            } => {
                if self.senders.get(participant) != Some(sender) {
                    self.senders.insert(participant.clone(), *sender);
                    self.decryptors.remove(participant);
                    self.rekey();
                }
            }
            ToWorker::Forget { participant } => {
                self.senders.remove(participant);
                self.decryptors.remove(participant);
            }
            ToWorker::Attach { .. } => {}
        }
    }

    /// Builds whatever keys the known room key and sender ids allow and are missing.
    fn rekey(&mut self) {
        let Some(room) = &self.room else { return };
        if self.encryptor.is_none() {
            self.encryptor = self.local.map(|sender| FrameEncryptor::new(room, sender));
        }
        for (participant, sender) in &self.senders {
            if !self.decryptors.contains_key(participant) {
                self.decryptors
                    .insert(participant.clone(), FrameDecryptor::new(room, *sender));
            }
        }
    }

    /// Whether outgoing frames can be encrypted.
    pub fn can_send(&self) -> bool {
        self.encryptor.is_some()
    }

    pub fn encrypt(
        &mut self,
        info: FrameInfo,
        frame: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<(), E2eeError> {
        match &mut self.encryptor {
            Some(enc) => enc.encrypt(info, frame, out),
            None => {
                out.clear();
                Err(E2eeError::NoKey)
            }
        }
    }

    pub fn decrypt(
        &mut self,
        participant: &str,
        info: FrameInfo,
        frame: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<(), E2eeError> {
        match self.decryptors.get_mut(participant) {
            Some(dec) => dec.decrypt(info, frame, out),
            None => {
                out.clear();
                Err(E2eeError::NoKey)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::e2ee::{Codec, MediaKind};

    const VIDEO: FrameInfo = FrameInfo {
        media: MediaKind::Video,
        codec: Codec::Vp8,
        key_frame: false,
    };

    fn room(b: u8) -> ToWorker {
        ToWorker::RoomKey {
            key: RoomKey::from_bytes([b; 32]),
        }
    }

    fn local(b: u8) -> ToWorker {
        ToWorker::LocalSender {
            sender: SenderId::from_bytes([b; 16]),
        }
    }

    fn remote(p: &str, b: u8) -> ToWorker {
        ToWorker::RemoteSender {
            participant: p.into(),
            sender: SenderId::from_bytes([b; 16]),
        }
    }

    #[test]
    fn no_key_means_nothing_is_sent() {
        let mut e = E2eeEngine::new();
        let mut out = vec![1];
        assert_eq!(
            e.encrypt(VIDEO, &[1, 2, 3, 4], &mut out),
            Err(E2eeError::NoKey)
        );
        assert!(out.is_empty());
        e.handle(&local(1));
        assert!(!e.can_send());
        e.handle(&room(9));
        assert!(e.can_send());
        assert!(e.encrypt(VIDEO, &[1, 2, 3, 4], &mut out).is_ok());
    }

    #[test]
    fn host_and_viewer_engines_talk_in_any_message_order() {
        let (mut host, mut viewer) = (E2eeEngine::new(), E2eeEngine::new());
        for m in [room(9), local(1)] {
            host.handle(&m);
        }
        for m in [remote("host", 1), room(9), local(2)] {
            viewer.handle(&m);
        }
        let (mut wire, mut back) = (Vec::new(), Vec::new());
        host.encrypt(VIDEO, b"frame", &mut wire).unwrap();
        viewer.decrypt("host", VIDEO, &wire, &mut back).unwrap();
        assert_eq!(back, b"frame");
        assert_eq!(
            viewer.decrypt("stranger", VIDEO, &wire, &mut back),
            Err(E2eeError::NoKey)
        );
        viewer.handle(&ToWorker::Forget {
            participant: "host".into(),
        });
        assert_eq!(
            viewer.decrypt("host", VIDEO, &wire, &mut back),
            Err(E2eeError::NoKey)
        );
    }

    #[test]
    fn repeated_key_messages_never_restart_the_counter() {
        let mut host = E2eeEngine::new();
        let mut viewer = E2eeEngine::new();
        for m in [room(9), local(1)] {
            host.handle(&m);
        }
        for m in [room(9), remote("host", 1)] {
            viewer.handle(&m);
        }
        let (mut first, mut second, mut back) = (Vec::new(), Vec::new(), Vec::new());
        host.encrypt(VIDEO, b"one", &mut first).unwrap();
        for m in [room(9), local(1)] {
            host.handle(&m);
        }
        viewer.handle(&remote("host", 1));
        host.encrypt(VIDEO, b"two", &mut second).unwrap();
        // Different counters, so different headers (byte 3 onwards) and both decrypt.
        assert_ne!(first[3..5], second[3..5]);
        viewer.decrypt("host", VIDEO, &first, &mut back).unwrap();
        viewer.decrypt("host", VIDEO, &second, &mut back).unwrap();
        // The viewer's replay window survived the repeated message too.
        assert_eq!(
            viewer.decrypt("host", VIDEO, &first, &mut back),
            Err(E2eeError::Replayed(0))
        );
    }

    #[test]
    fn a_rejoined_sender_gets_new_keys() {
        let mut viewer = E2eeEngine::new();
        let mut host = E2eeEngine::new();
        for m in [room(9), local(1)] {
            host.handle(&m);
        }
        for m in [room(9), remote("host", 1)] {
            viewer.handle(&m);
        }
        let (mut wire, mut back) = (Vec::new(), Vec::new());
        host.encrypt(VIDEO, b"old", &mut wire).unwrap();
        viewer.handle(&remote("host", 3));
        assert!(matches!(
            viewer.decrypt("host", VIDEO, &wire, &mut back),
            Err(E2eeError::UnknownKid(_))
        ));
        host.handle(&local(3));
        host.encrypt(VIDEO, b"new", &mut wire).unwrap();
        viewer.decrypt("host", VIDEO, &wire, &mut back).unwrap();
        assert_eq!(back, b"new");
    }
}
