//! The transform worker's crypto state: the media secrets, our encryptor, one decryptor per
//! remote participant. The worker's glue feeds it [`ToWorker`] messages and frames; it decides.
//!
//! Fail closed: without the media secret of the epoch we send in and our sender id every
//! outgoing frame is refused ([`E2eeError::NoKey`]), and an incoming frame of a participant we
//! have no key for is refused too.
//!
//! Media secrets by epoch: the host hands out epoch 1's with each seat and later ones when it
//! removes someone (`rekey`); epoch 0, the room key's, is never one. We send in one epoch
//! ([`ToWorker::SendEpoch`]) and accept every epoch we hold a secret for, until it is retired
//! ([`ToWorker::Retire`]), so a change of epoch freezes nobody's picture while the new secret
//! reaches everyone.
//!
//! Encryptors are derived once per (secret, epoch, sender id): repeating a key message, or
//! going back to an earlier secret or sender id, continues that key's counter instead of
//! starting it again (a fresh encryptor would restart at counter 0 and reuse nonces). Once its
//! secret is gone (retired, replaced, the oldest of too many) an encryptor's keys go too, and
//! only its counters stay, under a one-way check of the secret ([`Spent`]): a late copy of the
//! same secret goes on from them. Each remote sender's decryptor keeps its replay windows
//! across repeats too; it holds keys only for the epochs whose secrets are held. Keys and
//! secrets are wiped from memory as they are dropped (`zeroize`).

use std::collections::HashMap;

use super::keys::SenderId;
use super::media::{secret_check, FrameDecryptor, FrameEncryptor, FrameInfo};
use super::protocol::ToWorker;
use super::E2eeError;
use crate::link::RoomKey;

/// Media secrets held at once (the current epoch, the one before it while the change
/// settles, and a little room); the oldest goes first.
const MAX_SECRETS: usize = 4;

/// An encryptor derived for one (secret, epoch, sender id).
struct Derived {
    secret: RoomKey,
    epoch: u32,
    sender: SenderId,
    state: FrameEncryptor,
}

/// What stays of an encryptor whose secret is gone: its counters, under a check of the secret
/// that does not reveal it.
struct Spent {
    check: [u8; 16],
    epoch: u32,
    sender: SenderId,
    counters: (Option<u64>, Option<u64>),
}

#[derive(Default)]
pub struct E2eeEngine {
    /// Media secret by epoch (never epoch 0, the room key's), oldest first.
    secrets: Vec<(u32, RoomKey)>,
    /// The epoch our frames are encrypted in.
    send_epoch: u32,
    local: Option<SenderId>,
    /// Every encryptor whose secret is held (the current one is for `send_epoch` and `local`).
    encryptors: Vec<Derived>,
    /// The counters of every encryptor whose secret went.
    spent: Vec<Spent>,
    /// The current sender id of each remote participant.
    senders: HashMap<String, SenderId>,
    /// Every decryptor of each remote participant (one per sender id it had).
    decryptors: HashMap<String, Vec<FrameDecryptor>>,
    /// Participants forgotten for good ([`ToWorker::Forget`]).
    forgotten: Vec<String>,
}

impl E2eeEngine {
    pub fn new() -> Self {
        Self::default()
    }

    /// Applies a key or participant message; [`ToWorker::Attach`] is the glue's business.
    pub fn handle(&mut self, msg: &ToWorker) {
        match msg {
            // A new host followed: no secret from here on (a former host's epochs must not
            // outlive it for someone the new host removes), until the host in charge sends
            // its own.
            ToWorker::Restart => {
                self.secrets.clear();
                self.send_epoch = 0;
                for all in self.decryptors.values_mut() {
                    all.iter_mut().for_each(|d| d.retain(|_| false));
                }
                self.spend_unheld();
            }
            // Epoch 0 is the room key's, every link holder's: never a media secret, so that
            // nobody the host did not let in can send or read a frame (a guest's voice before
            // its seat's secret came went out in it).
            ToWorker::EpochKey { epoch: 0, .. } => {}
            ToWorker::EpochKey { epoch, key } => self.set_secret(*epoch, key),
            ToWorker::SendEpoch { epoch } => self.send_epoch = *epoch,
            ToWorker::Retire { below } => {
                let keep = |e: u32| e >= *below;
                self.secrets.retain(|(e, _)| keep(*e));
                for all in self.decryptors.values_mut() {
                    all.iter_mut().for_each(|d| d.retain(keep));
                }
                self.spend_unheld();
            }
            ToWorker::LocalSender { sender } => self.local = Some(*sender),
            ToWorker::RemoteSender {
                participant,
                sender,
            } => {
                if !self.forgotten.contains(participant) {
                    self.senders.insert(participant.clone(), *sender);
                }
            }
            ToWorker::Forget { participant } => {
                self.senders.remove(participant);
                self.decryptors.remove(participant);
                if !self.forgotten.contains(participant) {
                    self.forgotten.push(participant.clone());
                }
            }
            ToWorker::Attach { .. } => {}
        }
    }

    fn set_secret(&mut self, epoch: u32, key: &RoomKey) {
        match self.secrets.iter_mut().find(|(e, _)| *e == epoch) {
            Some((_, held)) => {
                if held != key {
                    *held = key.clone();
                    self.spend_unheld();
                }
            }
            None => {
                self.secrets.push((epoch, key.clone()));
                crate::vecmap::sort_by(&mut self.secrets, |(a, _), (b, _)| a.cmp(b));
                // The oldest goes, never the one our frames are encrypted in (several
                // removals in a row make epochs faster than the switch to them).
                if self.secrets.len() > MAX_SECRETS {
                    let send = self.send_epoch;
                    if let Some(i) = self.secrets.iter().position(|(e, _)| *e != send) {
                        self.secrets.remove(i);
                        self.spend_unheld();
                    }
                }
            }
        }
    }

    /// Drops the keys of every encryptor whose secret is no longer held, keeping its counters.
    #[inline(never)] // one copy: inlined at each caller it doubled the worker's `handle`
    fn spend_unheld(&mut self) {
        let secrets = &self.secrets;
        let held = |d: &Derived| secrets.iter().any(|(e, s)| *e == d.epoch && *s == d.secret);
        let (kept, gone): (Vec<Derived>, Vec<Derived>) =
            self.encryptors.drain(..).partition(|d| held(d));
        self.encryptors = kept;
        self.spent.extend(gone.into_iter().map(|d| Spent {
            check: secret_check(&d.secret),
            epoch: d.epoch,
            sender: d.sender,
            counters: d.state.counters(),
        }));
    }

    fn secret(&self, epoch: u32) -> Option<&RoomKey> {
        self.secrets
            .iter()
            .find(|(e, _)| *e == epoch)
            .map(|(_, key)| key)
    }

    /// The epoch our frames are encrypted in.
    pub fn send_epoch(&self) -> u32 {
        self.send_epoch
    }

    /// Whether outgoing frames can be encrypted.
    pub fn can_send(&self) -> bool {
        self.secret(self.send_epoch).is_some() && self.local.is_some()
    }

    pub fn encrypt(
        &mut self,
        info: FrameInfo,
        frame: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<(), E2eeError> {
        let epoch = self.send_epoch;
        let (Some(secret), Some(sender)) = (self.secret(epoch).cloned(), self.local) else {
            out.clear();
            return Err(E2eeError::NoKey);
        };
        let at = self
            .encryptors
            .iter()
            .position(|d| d.epoch == epoch && d.sender == sender && d.secret == secret);
        let at = at.unwrap_or_else(|| {
            let mut state = FrameEncryptor::for_epoch(&secret, sender, epoch);
            let check = secret_check(&secret);
            if let Some(i) = self
                .spent
                .iter()
                .position(|s| s.epoch == epoch && s.sender == sender && s.check == check)
            {
                state.resume(self.spent.swap_remove(i).counters);
            }
            self.encryptors.push(Derived {
                state,
                secret,
                epoch,
                sender,
            });
            self.encryptors.len() - 1
        });
        self.encryptors[at].state.encrypt(info, frame, out)
    }

    pub fn decrypt(
        &mut self,
        participant: &str,
        info: FrameInfo,
        frame: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<(), E2eeError> {
        let (false, Some(&sender)) = (self.secrets.is_empty(), self.senders.get(participant))
        else {
            out.clear();
            return Err(E2eeError::NoKey);
        };
        let all = self.decryptors.entry(participant.to_owned()).or_default();
        let at = match all.iter().position(|d| d.sender() == sender) {
            Some(at) => at,
            None => {
                all.push(FrameDecryptor::empty(sender));
                all.len() - 1
            }
        };
        let decryptor = &mut all[at];
        for (epoch, secret) in &self.secrets {
            decryptor.install(*epoch, secret);
        }
        let held = &self.secrets;
        decryptor.retain(|e| held.iter().any(|(h, _)| *h == e));
        decryptor.decrypt(info, frame, out)
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

    /// A host sending in epoch 1 (secret 9) with sender 1, and a viewer that knows both.
    fn keyed_pair() -> (E2eeEngine, E2eeEngine) {
        let (mut host, mut viewer) = (E2eeEngine::new(), E2eeEngine::new());
        for m in [epoch(1, 9), send(1), local(1)] {
            host.handle(&m);
        }
        for m in [epoch(1, 9), remote("host", 1)] {
            viewer.handle(&m);
        }
        (host, viewer)
    }

    fn send(epoch: u32) -> ToWorker {
        ToWorker::SendEpoch { epoch }
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
        e.handle(&epoch(1, 9));
        assert!(!e.can_send());
        e.handle(&send(1));
        assert!(e.can_send());
        assert!(e.encrypt(VIDEO, &[1, 2, 3, 4], &mut out).is_ok());
    }

    #[test]
    fn the_room_keys_epoch_is_never_a_media_secret() {
        // Epoch 0 is every link holder's: a guest whose seat's secret has not come sends
        // nothing, and nobody decrypts a frame in it, whoever made it.
        let mut guest = E2eeEngine::new();
        for m in [local(2), epoch(0, 9), send(0)] {
            guest.handle(&m);
        }
        assert!(!guest.can_send());
        let mut out = vec![1];
        assert_eq!(
            guest.encrypt(VIDEO, b"voice", &mut out),
            Err(E2eeError::NoKey)
        );
        let mut stranger = FrameEncryptor::for_epoch(
            &RoomKey::from_bytes([9; 32]),
            SenderId::from_bytes([1; 16]),
            0,
        );
        let mut wire = Vec::new();
        stranger.encrypt(VIDEO, b"in epoch 0", &mut wire).unwrap();
        let (_, mut viewer) = keyed_pair();
        viewer.handle(&epoch(0, 9));
        assert!(matches!(
            viewer.decrypt("host", VIDEO, &wire, &mut out),
            Err(E2eeError::UnknownKid(_))
        ));
    }

    #[test]
    fn host_and_viewer_engines_talk_in_any_message_order() {
        let (mut host, mut viewer) = (E2eeEngine::new(), E2eeEngine::new());
        for m in [epoch(1, 9), local(1), send(1)] {
            host.handle(&m);
        }
        for m in [remote("host", 1), epoch(1, 9), local(2)] {
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
        // Forgotten for good: its sender id heard again gives it no keys.
        viewer.handle(&remote("host", 1));
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
        // Even through a restart (a new host followed, then the same secret again).
        for m in [ToWorker::Restart, epoch(1, 9), send(1), local(1)] {
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
        // Another sender id, another secret, then the first pair again.
        for m in [local(2), epoch(1, 8), epoch(1, 9), local(1)] {
            host.handle(&m);
            host.encrypt(VIDEO, b"xyz", &mut later).unwrap();
        }
        viewer.decrypt("host", VIDEO, &first, &mut back).unwrap();
        // The last frame is counter 1 of the first key, not 0 again.
        assert_eq!(later[3], 0xa1);
        viewer.decrypt("host", VIDEO, &later, &mut back).unwrap();
        // And the viewer, switched away and back, still knows counter 0.
        viewer.handle(&remote("host", 5));
        viewer.handle(&remote("host", 1));
        assert_eq!(
            viewer.decrypt("host", VIDEO, &first, &mut back),
            Err(E2eeError::Replayed(0))
        );
    }

    fn epoch(e: u32, b: u8) -> ToWorker {
        ToWorker::EpochKey {
            epoch: e,
            key: RoomKey::from_bytes([b; 32]),
        }
    }

    #[test]
    fn a_new_epoch_reaches_those_given_its_secret_and_nobody_else() {
        let (mut host, mut kept) = keyed_pair();
        let mut removed = E2eeEngine::new();
        for m in [epoch(1, 9), remote("host", 1)] {
            removed.handle(&m);
        }
        let (mut old, mut new, mut back) = (Vec::new(), Vec::new(), Vec::new());
        host.encrypt(VIDEO, b"before", &mut old).unwrap();
        // The host learns epoch 2 but keeps sending in 1 until everyone has it.
        host.handle(&epoch(2, 0x22));
        kept.handle(&epoch(2, 0x22));
        assert_eq!(host.send_epoch(), 1);
        host.handle(&send(2));
        host.encrypt(VIDEO, b"after", &mut new).unwrap();
        // The epoch sits in the KID (after the VP8 frame's 3 clear bytes): 0x01_0110 and
        // 0x02_0110.
        assert_ne!(old[3..7], new[3..7]);
        for (who, e) in [("kept", &mut kept), ("removed", &mut removed)] {
            e.decrypt("host", VIDEO, &old, &mut back).unwrap();
            assert_eq!(back, b"before", "{who}");
        }
        kept.decrypt("host", VIDEO, &new, &mut back).unwrap();
        assert_eq!(back, b"after");
        assert!(matches!(
            removed.decrypt("host", VIDEO, &new, &mut back),
            Err(E2eeError::UnknownKid(_))
        ));
        // A forged epoch-2 secret does not open it either.
        removed.handle(&epoch(2, 0x23));
        assert_eq!(
            removed.decrypt("host", VIDEO, &new, &mut back),
            Err(E2eeError::Authentication)
        );
    }

    #[test]
    fn a_send_epoch_without_its_secret_sends_nothing() {
        let (mut host, _) = keyed_pair();
        host.handle(&ToWorker::SendEpoch { epoch: 2 });
        assert!(!host.can_send());
        let mut out = Vec::new();
        assert_eq!(
            host.encrypt(VIDEO, b"frame", &mut out),
            Err(E2eeError::NoKey)
        );
        host.handle(&epoch(2, 0x22));
        assert!(host.can_send());
        host.encrypt(VIDEO, b"frame", &mut out).unwrap();
    }

    #[test]
    fn retired_epochs_no_longer_decrypt() {
        let (mut host, mut viewer) = keyed_pair();
        let (mut old, mut back) = (Vec::new(), Vec::new());
        host.encrypt(VIDEO, b"old", &mut old).unwrap();
        for e in [&mut host, &mut viewer] {
            e.handle(&epoch(2, 0x22));
        }
        viewer.decrypt("host", VIDEO, &old, &mut back).unwrap();
        host.encrypt(VIDEO, b"older", &mut old).unwrap();
        viewer.handle(&ToWorker::Retire { below: 2 });
        assert!(matches!(
            viewer.decrypt("host", VIDEO, &old, &mut back),
            Err(E2eeError::UnknownKid(_))
        ));
    }

    #[test]
    fn a_restart_drops_every_epoch_of_a_former_host() {
        let (mut host, mut viewer) = keyed_pair();
        for e in [&mut host, &mut viewer] {
            e.handle(&epoch(5, 0x55));
        }
        host.handle(&send(5));
        let (mut old, mut back) = (Vec::new(), Vec::new());
        host.encrypt(VIDEO, b"in epoch 5", &mut old).unwrap();
        viewer.decrypt("host", VIDEO, &old, &mut back).unwrap();
        // A new host is followed: nothing held, then the new host's own epochs.
        viewer.handle(&ToWorker::Restart);
        assert!(viewer.secrets.is_empty());
        // And it sends in none: the new host's epoch 5, should it come, is not taken for the
        // old one's before the guest is told to send in it.
        assert_eq!(viewer.send_epoch(), 0);
        viewer.handle(&epoch(1, 0x11));
        host.encrypt(VIDEO, b"still epoch 5", &mut old).unwrap();
        assert!(matches!(
            viewer.decrypt("host", VIDEO, &old, &mut back),
            Err(E2eeError::UnknownKid(_))
        ));
    }

    #[test]
    fn at_most_a_few_secrets_are_held() {
        let (_, mut viewer) = keyed_pair();
        viewer.handle(&send(1));
        for e in 2..=7 {
            viewer.handle(&epoch(e, e as u8));
        }
        assert_eq!(viewer.secrets.len(), MAX_SECRETS);
        // The oldest went — but never the epoch it still sends in (1 here: six removals came
        // faster than the switch to any of them).
        let held: Vec<u32> = viewer.secrets.iter().map(|(e, _)| *e).collect();
        assert_eq!(held, [1, 5, 6, 7]);
        viewer.handle(&send(7));
        viewer.handle(&epoch(8, 8));
        let held: Vec<u32> = viewer.secrets.iter().map(|(e, _)| *e).collect();
        assert_eq!(held, [5, 6, 7, 8]);
    }

    #[test]
    fn counters_survive_a_change_of_epoch_and_back() {
        let (mut host, mut viewer) = keyed_pair();
        for e in [&mut host, &mut viewer] {
            e.handle(&epoch(2, 0x22));
        }
        let (mut a, mut b, mut back) = (Vec::new(), Vec::new(), Vec::new());
        host.handle(&send(2));
        host.encrypt(VIDEO, b"frame a", &mut a).unwrap();
        host.handle(&send(1));
        host.handle(&send(2));
        host.encrypt(VIDEO, b"frame b", &mut b).unwrap();
        viewer.decrypt("host", VIDEO, &a, &mut back).unwrap();
        viewer.decrypt("host", VIDEO, &b, &mut back).unwrap();
        assert_eq!(
            viewer.decrypt("host", VIDEO, &a, &mut back),
            Err(E2eeError::Replayed(0))
        );
    }

    #[test]
    fn a_retired_secret_leaves_only_counters_and_a_late_copy_goes_on_from_them() {
        let (mut host, mut viewer) = keyed_pair();
        for e in [&mut host, &mut viewer] {
            e.handle(&epoch(2, 0x22));
        }
        host.handle(&send(2));
        let (mut a, mut b, mut back) = (Vec::new(), Vec::new(), Vec::new());
        host.encrypt(VIDEO, b"frame a", &mut a).unwrap();
        host.handle(&send(3));
        host.handle(&epoch(3, 0x33));
        host.encrypt(VIDEO, b"in epoch 3", &mut b).unwrap();
        host.handle(&ToWorker::Retire { below: 3 });
        // Epoch 1 and 2's keys are gone from the host; only their counters stay.
        assert!(host.encryptors.iter().all(|d| d.epoch == 3));
        assert_eq!(host.spent.len(), 1);
        // A late copy of epoch 2's secret (a key message repeated), and the host sends in it:
        // counter 1, never 0 again.
        host.handle(&epoch(2, 0x22));
        host.handle(&send(2));
        host.encrypt(VIDEO, b"frame b", &mut b).unwrap();
        assert!(host.spent.is_empty());
        viewer.decrypt("host", VIDEO, &a, &mut back).unwrap();
        viewer.decrypt("host", VIDEO, &b, &mut back).unwrap();
        assert_eq!(back, b"frame b");
        assert_ne!(a[3..7], b[3..7]);
        // Another secret under the same epoch number starts its own counters at 0.
        host.handle(&epoch(2, 0x23));
        host.encrypt(VIDEO, b"frame c", &mut b).unwrap();
        assert_eq!(b[3..7], a[3..7]);
        assert_ne!(b[7..], a[7..]);
    }

    #[test]
    fn a_secret_retired_and_given_again_takes_no_frame_twice() {
        let (mut host, mut viewer) = keyed_pair();
        let (mut a, mut back) = (Vec::new(), Vec::new());
        host.encrypt(VIDEO, b"frame a", &mut a).unwrap();
        viewer.decrypt("host", VIDEO, &a, &mut back).unwrap();
        // Epoch 2 comes and epoch 1 is retired: its keys go, its window stays.
        viewer.handle(&epoch(2, 0x22));
        viewer.handle(&ToWorker::Retire { below: 2 });
        assert!(matches!(
            viewer.decrypt("host", VIDEO, &a, &mut back),
            Err(E2eeError::UnknownKid(_))
        ));
        // A new host is followed, and its epoch 1 has the same secret. Frame a is still a
        // replay.
        viewer.handle(&ToWorker::Restart);
        viewer.handle(&epoch(1, 9));
        assert_eq!(
            viewer.decrypt("host", VIDEO, &a, &mut back),
            Err(E2eeError::Replayed(0))
        );
        host.encrypt(VIDEO, b"frame b", &mut a).unwrap();
        viewer.decrypt("host", VIDEO, &a, &mut back).unwrap();
        assert_eq!(back, b"frame b");
    }

    #[test]
    fn epochs_sixteen_apart_share_kids_and_still_decrypt() {
        // A newcomer holds epoch 1 and gets epoch 17, whose KIDs are epoch 1's.
        let (mut host, mut newcomer) = keyed_pair();
        for e in [&mut host, &mut newcomer] {
            e.handle(&epoch(17, 0x17));
        }
        host.handle(&send(17));
        let (mut wire, mut back) = (Vec::new(), Vec::new());
        host.encrypt(VIDEO, b"frame 17", &mut wire).unwrap();
        newcomer.decrypt("host", VIDEO, &wire, &mut back).unwrap();
        assert_eq!(back, b"frame 17");
        // And epoch 1's frames still decrypt too, under their own key.
        host.handle(&send(1));
        host.encrypt(VIDEO, b"frame 1", &mut wire).unwrap();
        newcomer.decrypt("host", VIDEO, &wire, &mut back).unwrap();
        assert_eq!(back, b"frame 1");
    }
}
