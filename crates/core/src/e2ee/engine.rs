//! The transform worker's crypto state: the room key, our encryptor, one decryptor per remote
//! participant. The worker's glue feeds it [`ToWorker`] messages and frames; it decides.
//!
//! Fail closed: without the room key and our sender id every outgoing frame is refused
//! ([`E2eeError::NoKey`]), and an incoming frame of a participant we have no key for is refused
//! too.
//!
//! Keys are derived once per (room key, sender id) and kept for the worker's life: repeating a
//! key message, or going back to an earlier room key or sender id, continues that key's counter
//! and replay window instead of starting them again. (A fresh encryptor would restart at counter
//! 0 and reuse nonces; a fresh replay window would accept old frames again.)

use std::collections::HashMap;

use super::keys::SenderId;
use super::media::{FrameDecryptor, FrameEncryptor, FrameInfo};
use super::protocol::ToWorker;
use super::E2eeError;
use crate::link::RoomKey;

/// A key state derived for one (room key, sender id).
struct Derived<T> {
    room: RoomKey,
    sender: SenderId,
    state: T,
}

/// Finds the state for `(room, sender)` in `all`, deriving it on first use.
fn derived<'a, T>(
    all: &'a mut Vec<Derived<T>>,
    room: &RoomKey,
    sender: SenderId,
    derive: impl FnOnce() -> T,
) -> &'a mut T {
    let index = match all
        .iter()
        .position(|d| d.room == *room && d.sender == sender)
    {
        Some(i) => i,
        None => {
            all.push(Derived {
                room: room.clone(),
                sender,
                state: derive(),
            });
            all.len() - 1
        }
    };
    &mut all[index].state
}

#[derive(Default)]
pub struct E2eeEngine {
    room: Option<RoomKey>,
    local: Option<SenderId>,
    /// Every encryptor we used (the current one is for `room` and `local`).
    encryptors: Vec<Derived<FrameEncryptor>>,
    /// The current sender id of each remote participant.
    senders: HashMap<String, SenderId>,
    /// Every decryptor of each remote participant.
    decryptors: HashMap<String, Vec<Derived<FrameDecryptor>>>,
}

impl E2eeEngine {
    pub fn new() -> Self {
        Self::default()
    }

    /// Applies a key or participant message; [`ToWorker::Attach`] is the glue's business.
    pub fn handle(&mut self, msg: &ToWorker) {
        match msg {
            ToWorker::RoomKey { key } => self.room = Some(key.clone()),
            ToWorker::LocalSender { sender } => self.local = Some(*sender),
            ToWorker::RemoteSender {
                participant,
                sender,
            } => {
                self.senders.insert(participant.clone(), *sender);
            }
            ToWorker::Forget { participant } => {
                self.senders.remove(participant);
                self.decryptors.remove(participant);
            }
            ToWorker::Attach { .. } => {}
        }
    }

    /// Whether outgoing frames can be encrypted.
    pub fn can_send(&self) -> bool {
        self.room.is_some() && self.local.is_some()
    }

    pub fn encrypt(
        &mut self,
        info: FrameInfo,
        frame: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<(), E2eeError> {
        let (Some(room), Some(sender)) = (&self.room, self.local) else {
            out.clear();
            return Err(E2eeError::NoKey);
        };
        derived(&mut self.encryptors, room, sender, || {
            FrameEncryptor::new(room, sender)
        })
        .encrypt(info, frame, out)
    }

    pub fn decrypt(
        &mut self,
        participant: &str,
        info: FrameInfo,
        frame: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<(), E2eeError> {
        let (Some(room), Some(&sender)) = (&self.room, self.senders.get(participant)) else {
            out.clear();
            return Err(E2eeError::NoKey);
        };
        let all = self.decryptors.entry(participant.to_owned()).or_default();
        derived(all, room, sender, || FrameDecryptor::new(room, sender)).decrypt(info, frame, out)
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

    /// A host with room key 9 and sender 1, and a viewer that knows both.
    fn keyed_pair() -> (E2eeEngine, E2eeEngine) {
        let (mut host, mut viewer) = (E2eeEngine::new(), E2eeEngine::new());
        for m in [room(9), local(1)] {
            host.handle(&m);
        }
        for m in [room(9), remote("host", 1)] {
            viewer.handle(&m);
        }
        (host, viewer)
    }

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
        let (mut host, mut viewer) = keyed_pair();
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
        let (mut host, mut viewer) = keyed_pair();
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

    #[test]
    fn going_back_to_an_earlier_sender_id_continues_its_counter() {
        let (mut host, mut viewer) = keyed_pair();
        let (mut first, mut later, mut back) = (Vec::new(), Vec::new(), Vec::new());
        host.encrypt(VIDEO, b"one", &mut first).unwrap();
        // Another sender id, another room key, then the first pair again.
        for m in [local(2), room(8), room(9), local(1)] {
            host.handle(&m);
            host.encrypt(VIDEO, b"xyz", &mut later).unwrap();
        }
        viewer.decrypt("host", VIDEO, &first, &mut back).unwrap();
        // The last frame is counter 1 of the first key, not 0 again.
        assert_eq!(later[3], 0x91);
        viewer.decrypt("host", VIDEO, &later, &mut back).unwrap();
        // And the viewer, switched away and back, still knows counter 0.
        viewer.handle(&remote("host", 5));
        viewer.handle(&remote("host", 1));
        assert_eq!(
            viewer.decrypt("host", VIDEO, &first, &mut back),
            Err(E2eeError::Replayed(0))
        );
    }
}
