//! Signaling as the realtime server sees it: routing fields in clear, everything else sealed
//! with a key only holders of the room key have (see `e2ee::signal`), and signed by its sender.
//!
//! Wire form of a broadcast payload:
//! `{"from": <id>, "to": <id>|null, "sealed": <base64url(version ‖ nonce ‖ ct ‖ tag)>}`.
//! The session id and the routing fields are the AEAD's associated data, so the server can
//! neither read a body nor move it to another session, sender or recipient; what kind of
//! message it is (an offer, a refusal, the end of the session, a new media key) is sealed too.
//! Inside:
//!
//! ```text
//! plaintext = Ed25519 signature (64) ‖ join epoch (u64 BE) ‖ sequence (u64 BE)
//!             ‖ kind length (u8) ‖ kind ‖ body JSON ‖ spaces to a multiple of 64 after the
//!             sequence (so the small signals — an end, a refusal, a share change — are all
//!             one size on the wire)
//! signed    = "PairUX 1.0 signal" ‖ session ‖ from ‖ to ‖ kind ‖ epoch ‖ sequence ‖ body JSON
//! ```
//! The signature is by the sender's own key (the host identity key for the host), so another
//! holder of the room key cannot speak for anyone else; the epoch is the sender's signed
//! `joined_at`, and the sequence number strictly increases per sender, so a replayed or
//! reordered signal is dropped and counted.
//!
//! A signal addressed to one participant (`to`: descriptions with their ICE candidates and
//! addresses, a media key, a refusal) is for that participant's eyes only, not every holder of
//! the link: its body is sealed again, to the recipient, before it is signed:
//!
//! ```text
//! shared  = X25519(sender's agreement key, recipient's `kx`)      (refused if all zero)
//! key     = HKDF-SHA256(salt = session, ikm = shared)
//!             .expand("PairUX 1.0 signal to" ‖ u32 len ‖ from ‖ u32 len ‖ to, 32)
//! body    = base64url(AES-256-GCM(key, nonce = 0u32 ‖ sequence (u64 BE), aad = kind, body JSON))
//! ```
//! Both ends derive the key (static-static, from the keys in each other's signed, sealed
//! profile: `kx`, `e2ee::rekey`); the sequence number never repeats within a join, and a join
//! is a new participant id, so a key and nonce never meet twice. A sender that does not know
//! the recipient's key sends nothing; a receiver opens no directed signal in the clear.

use crate::vecmap::VecMap;

use aes_gcm::aead::AeadInOut;
use aes_gcm::{Aes256Gcm, KeyInit, Nonce, Tag};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde_json::{json, Value};

use super::identity::SessionIdentity;
use super::{SignalBody, SignalEnvelope, SignalError};
use crate::e2ee::rekey::{hkdf, AgreementKey, AGREEMENT_KEY_LEN};
use crate::e2ee::signal::SEAL_NONCE_LEN;
use crate::e2ee::{SignalAad, SignalSealer};
use crate::identity::{PublicKey, Signer, Statement, SIGNATURE_LEN};
use crate::link::RoomKey;

const SIGNAL_LABEL: &[u8] = b"PairUX 1.0 signal";
const PRIVATE_LABEL: &[u8] = b"PairUX 1.0 signal to";

/// What the codec knows of another participant (from its verified meta and opened profile):
/// the key its signals are signed with, its join epoch, and its agreement key (`kx`), which
/// signals addressed to or from it are sealed with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignalPeer {
    pub key: PublicKey,
    pub joined_at: u64,
    pub kx: Option<[u8; AGREEMENT_KEY_LEN]>,
}
/// Bytes before the kind in the plaintext: signature, epoch, sequence.
const HEADER_LEN: usize = SIGNATURE_LEN + 8 + 8;
/// What follows the header (kind and body) is padded with spaces to a multiple of this.
const PAD_TO: usize = 64;
/// Senders whose last sequence number is remembered (the unit tests fill a smaller table:
/// signing and verifying thousands of signals takes a debug build minutes).
const MAX_SENDERS: usize = if cfg!(test) { 64 } else { 4096 };

/// Signals dropped, by reason (what diagnostics shows).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SignalCounters {
    /// Did not open with the room key (someone without it, or tampering).
    pub unauthentic: u64,
    /// Opened, but the sender is not a verified participant, or the signature is not its.
    pub forged: u64,
    /// Signed for another join of the sender (an old epoch).
    pub stale: u64,
    /// A sequence number at or below one already accepted: a replay or a reorder.
    pub replayed: u64,
    /// Not a signal at all (bad JSON, bad layout, oversize).
    pub malformed: u64,
    /// Ours, addressed to someone whose agreement key we do not have (or is no honest key):
    /// not sent.
    pub unsendable: u64,
}

/// Seals, signs and numbers outgoing signals; opens, verifies and de-duplicates incoming ones.
pub struct SignalCodec {
    sealer: SignalSealer,
    session: String,
    me: String,
    signer: Signer,
    agreement: AgreementKey,
    /// Shared secrets with others' agreement keys, by their key (one X25519 per peer).
    shared: VecMap<[u8; AGREEMENT_KEY_LEN], Option<[u8; 32]>>,
    epoch: u64,
    next_seq: u64,
    /// Sender → (epoch, last accepted sequence number, the order it was first heard in).
    last: VecMap<String, (u64, u64, u64)>,
    heard: u64,
    counters: SignalCounters,
}

impl SignalCodec {
    pub fn new(room: &RoomKey, identity: &SessionIdentity) -> Self {
        SignalCodec {
            sealer: SignalSealer::new(room),
            session: identity.session().to_string(),
            me: identity.me().to_owned(),
            signer: identity.signer().clone(),
            agreement: AgreementKey::from_signer(identity.signer()),
            shared: VecMap::new(),
            epoch: identity.joined_at(),
            next_seq: 1,
            last: VecMap::new(),
            heard: 0,
            counters: SignalCounters::default(),
        }
    }

    pub fn counters(&self) -> SignalCounters {
        self.counters
    }

    /// The broadcast payload for `envelope` (from us; `nonce`: fresh random bytes). A signal
    /// addressed to someone is sealed to `to_kx`, the recipient's agreement key: `None` when
    /// there is none (or it is no honest key), and then nothing can be sent.
    pub fn seal(
        &mut self,
        envelope: &SignalEnvelope,
        nonce: [u8; SEAL_NONCE_LEN],
        to_kx: Option<&[u8; AGREEMENT_KEY_LEN]>,
    ) -> Option<Value> {
        let (kind, body) = split(&envelope.body);
        let body = serde_json::to_vec(&body).expect("JSON values always serialise");
        let body = match envelope.to.as_deref() {
            None => body,
            Some(to) => {
                let Some(key) = to_kx.and_then(|kx| self.private_key(kx, &envelope.from, to))
                else {
                    self.counters.unsendable += 1;
                    return None;
                };
                self.private_seal(&key, &kind, self.next_seq, &body)
            }
        };
        Some(self.seal_body(&envelope.from, envelope.to.as_deref(), &kind, &body, nonce))
    }

    /// The key of signals from `from` to `to`, whose agreement key (the other's) is `kx`.
    fn private_key(
        &mut self,
        kx: &[u8; AGREEMENT_KEY_LEN],
        from: &str,
        to: &str,
    ) -> Option<Aes256Gcm> {
        let shared = match self.shared.get(kx) {
            Some(shared) => *shared,
            None => {
                let shared = self.agreement.agree(kx);
                if self.shared.len() >= MAX_SENDERS {
                    self.shared.clear();
                }
                self.shared.insert(*kx, shared);
                shared
            }
        }?;
        let len = |id: &str| u32::try_from(id.len()).unwrap_or(u32::MAX).to_be_bytes();
        let (from_len, to_len) = (len(from), len(to));
        let info: [&[u8]; 5] = [
            PRIVATE_LABEL,
            &from_len,
            from.as_bytes(),
            &to_len,
            to.as_bytes(),
        ];
        let key = hkdf(Some(self.session.as_bytes()), &shared, &info);
        Some(Aes256Gcm::new(&key.into()))
    }

    fn private_seal(&self, key: &Aes256Gcm, kind: &str, seq: u64, body: &[u8]) -> Vec<u8> {
        let mut out = body.to_vec();
        let tag = key
            .encrypt_inout_detached(
                &private_nonce(seq),
                kind.as_bytes(),
                out.as_mut_slice().into(),
            )
            .expect("signals are far below the AES-GCM limit");
        out.extend_from_slice(&tag);
        URL_SAFE_NO_PAD.encode(out).into_bytes()
    }

    /// The broadcast payload for a body already in bytes.
    fn seal_body(
        &mut self,
        from: &str,
        to: Option<&str>,
        kind: &str,
        body: &[u8],
        nonce: [u8; SEAL_NONCE_LEN],
    ) -> Value {
        let seq = self.next_seq;
        self.next_seq += 1;
        // Trailing whitespace is the padding's: what is signed (and read) ends before it.
        let body = body.trim_ascii_end();
        let statement = statement(&self.session, from, to, kind, self.epoch, seq, body);
        // Kinds are short tags of our own (`description`, `media_key`, …).
        let kind_len = u8::try_from(kind.len()).expect("signal kinds are short tags of ours");
        let mut plaintext = Vec::with_capacity(HEADER_LEN + PAD_TO + kind.len() + body.len());
        plaintext.extend_from_slice(&self.signer.sign(&statement));
        plaintext.extend_from_slice(&self.epoch.to_be_bytes());
        plaintext.extend_from_slice(&seq.to_be_bytes());
        plaintext.push(kind_len);
        plaintext.extend_from_slice(kind.as_bytes());
        plaintext.extend_from_slice(body);
        // Spaces up to the next step, which JSON ignores and the receiver trims before
        // checking the signature: the server cannot tell the small signals apart by their
        // size (an end from a refusal from a share change).
        let padded = (plaintext.len() - HEADER_LEN).div_ceil(PAD_TO) * PAD_TO;
        plaintext.resize(HEADER_LEN + padded, b' ');
        let aad = SignalAad {
            session: &self.session,
            from,
            to,
        };
        let sealed = self.sealer.seal(aad, &plaintext, nonce);
        json!({
            "from": from,
            "to": to,
            "sealed": URL_SAFE_NO_PAD.encode(sealed),
        })
    }

    /// Opens a broadcast payload addressed to us (directly or to all). `sender(id)` is what
    /// the roster verified of a participant. Routing is checked before any decryption, so
    /// messages for others cost nothing. Every drop but [`SignalError::NotForUs`] /
    /// [`SignalError::FromSelf`] is counted.
    pub fn open(
        &mut self,
        payload: &Value,
        sender: impl Fn(&str) -> Option<SignalPeer>,
    ) -> Result<SignalEnvelope, SignalError> {
        let result = self.open_uncounted(payload, sender);
        let c = &mut self.counters;
        match &result {
            Err(SignalError::Unauthentic | SignalError::NotSealedToUs) => c.unauthentic += 1,
            Err(SignalError::UnknownSender | SignalError::Forged) => c.forged += 1,
            Err(SignalError::Stale) => c.stale += 1,
            Err(SignalError::Replayed) => c.replayed += 1,
            Err(SignalError::TooLarge | SignalError::Malformed(_)) => c.malformed += 1,
            Ok(_) | Err(SignalError::NotForUs | SignalError::FromSelf) => {}
        }
        result
    }

    fn open_uncounted(
        &mut self,
        payload: &Value,
        sender: impl Fn(&str) -> Option<SignalPeer>,
    ) -> Result<SignalEnvelope, SignalError> {
        if payload.to_string().len() > super::signal::MAX_SIGNAL_BYTES {
            return Err(SignalError::TooLarge);
        }
        let field = |name: &str| payload.get(name).and_then(Value::as_str);
        let (Some(from), Some(sealed)) = (field("from"), field("sealed")) else {
            return Err(SignalError::Malformed("missing routing fields".into()));
        };
        let to = match payload.get("to") {
            None | Some(Value::Null) => None,
            Some(Value::String(to)) => Some(to.as_str()),
            Some(_) => return Err(SignalError::Malformed("`to` is not a string".into())),
        };
        if from == self.me {
            return Err(SignalError::FromSelf);
        }
        if to.is_some_and(|to| to != self.me) {
            return Err(SignalError::NotForUs);
        }
        let bytes = URL_SAFE_NO_PAD
            .decode(sealed)
            .map_err(|_| SignalError::Malformed("`sealed` is not base64url".into()))?;
        let aad = SignalAad {
            session: &self.session,
            from,
            to,
        };
        let plaintext = self
            .sealer
            .open(aad, &bytes)
            .map_err(|_| SignalError::Unauthentic)?;
        if plaintext.len() < HEADER_LEN {
            return Err(SignalError::Malformed("sealed signal too short".into()));
        }
        let (signature, rest) = plaintext.split_at(SIGNATURE_LEN);
        let (epoch, rest) = rest.split_at(8);
        let (seq, rest) = rest.split_at(8);
        let Some((&kind_len, rest)) = rest.split_first() else {
            return Err(SignalError::Malformed("sealed signal has no kind".into()));
        };
        if rest.len() < usize::from(kind_len) {
            return Err(SignalError::Malformed(
                "sealed signal's kind is cut short".into(),
            ));
        }
        let (kind, body) = rest.split_at(usize::from(kind_len));
        // The padding: JSON never ends in whitespace as we write it.
        let body = body.trim_ascii_end();
        let kind = std::str::from_utf8(kind)
            .map_err(|_| SignalError::Malformed("kind is not UTF-8".into()))?;
        let epoch = u64::from_be_bytes(epoch.try_into().expect("split at 8"));
        let seq = u64::from_be_bytes(seq.try_into().expect("split at 8"));
        let peer = sender(from).ok_or(SignalError::UnknownSender)?;
        let statement = statement(&self.session, from, to, kind, epoch, seq, body);
        if !peer.key.verifies(&statement, signature) {
            return Err(SignalError::Forged);
        }
        if epoch != peer.joined_at {
            return Err(SignalError::Stale);
        }
        match self.last.get(from) {
            Some(&(e, last, _)) if e == epoch && seq <= last => return Err(SignalError::Replayed),
            _ => {}
        }
        // Addressed to us: its body was sealed to us (checked before its sequence number
        // counts as used).
        let private;
        let body = match to {
            None => body,
            Some(to) => {
                let key = peer
                    .kx
                    .and_then(|kx| self.private_key(&kx, from, to))
                    .ok_or(SignalError::NotSealedToUs)?;
                private = private_open(&key, kind, seq, body).ok_or(SignalError::NotSealedToUs)?;
                &private[..]
            }
        };
        if self.last.len() >= MAX_SENDERS && !self.last.contains_key(from) {
            // Full: forget a sender that is gone (its signals no longer verify, and a rejoin is
            // a new epoch), else the one first heard most recently — never by name, nor the
            // longest known, which let a flood of throwaway joins push the host's record out
            // and replay its signals.
            let gone = self
                .last
                .iter()
                .find(|(id, (e, ..))| sender(id).is_none_or(|p| p.joined_at != *e))
                .map(|(id, _)| id.clone());
            let newest = || {
                self.last
                    .iter()
                    .max_by_key(|(_, (.., heard))| *heard)
                    .map(|(id, _)| id.clone())
            };
            if let Some(id) = gone.or_else(newest) {
                self.last.remove(&id);
            }
        }
        let heard = match self.last.get(from) {
            Some(&(e, _, heard)) if e == epoch => heard,
            _ => {
                self.heard += 1;
                self.heard
            }
        };
        self.last.insert(from.to_owned(), (epoch, seq, heard));
        // `from_str`, as everywhere in the app: one JSON reader in the wasm, not two.
        let body = std::str::from_utf8(body).map_err(|e| SignalError::Malformed(e.to_string()))?;
        let body: Value =
            serde_json::from_str(body).map_err(|e| SignalError::Malformed(e.to_string()))?;
        let content = (!body.is_null() || kind == "candidate").then_some(body);
        let body = SignalBody::from_parts(kind, content).map_err(SignalError::Malformed)?;
        Ok(SignalEnvelope {
            from: from.to_owned(),
            to: to.map(str::to_owned),
            body,
        })
    }
}

/// The nonce of a signal sealed to its recipient: its sequence number.
fn private_nonce(seq: u64) -> Nonce<aes_gcm::aead::consts::U12> {
    let mut nonce = [0u8; 12];
    nonce[4..].copy_from_slice(&seq.to_be_bytes());
    nonce.into()
}

/// The body of a signal sealed to us, if it opens.
fn private_open(key: &Aes256Gcm, kind: &str, seq: u64, sealed: &[u8]) -> Option<Vec<u8>> {
    let mut bytes = URL_SAFE_NO_PAD.decode(sealed).ok()?;
    let split = bytes.len().checked_sub(16)?;
    let tag = Tag::try_from(&bytes[split..]).ok()?;
    bytes.truncate(split);
    key.decrypt_inout_detached(
        &private_nonce(seq),
        kind.as_bytes(),
        bytes.as_mut_slice().into(),
        &tag,
    )
    .ok()?;
    Some(bytes)
}

fn statement(
    session: &str,
    from: &str,
    to: Option<&str>,
    kind: &str,
    epoch: u64,
    seq: u64,
    body: &[u8],
) -> Statement {
    let mut s = Statement::new(SIGNAL_LABEL);
    s.field(session.as_bytes())
        .field(from.as_bytes())
        .optional(to.map(str::as_bytes))
        .field(kind.as_bytes())
        .number(epoch)
        .number(seq)
        .field(body);
    s
}

/// The kind tag and the body's content of an envelope body.
fn split(body: &SignalBody) -> (String, Value) {
    (body.kind().to_owned(), body.content())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::Signer;
    use crate::link::{SessionLink, GENERATE_RANDOM_LEN};
    use crate::session::RefusalReason;
    use crate::Role;

    struct Party {
        codec: SignalCodec,
        key: PublicKey,
        epoch: u64,
        kx: [u8; AGREEMENT_KEY_LEN],
    }

    /// A host "h" (host key) and guests, all in one session.
    fn parties(names: &[&str]) -> Vec<Party> {
        let (link, host) = SessionLink::generate(&[5; GENERATE_RANDOM_LEN]);
        names
            .iter()
            .enumerate()
            .map(|(i, name)| {
                let (role, signer) = if *name == "h" {
                    (Role::Host, host.signer().clone())
                } else {
                    (Role::Viewer, Signer::from_seed([i as u8 + 10; 32]))
                };
                let identity =
                    SessionIdentity::new(&link, role, 100 + i as u64, signer).with_id(name);
                Party {
                    key: identity.signer().public(),
                    epoch: identity.joined_at(),
                    kx: AgreementKey::from_signer(identity.signer()).public(),
                    codec: SignalCodec::new(&link.room_key, &identity),
                }
            })
            .collect()
    }

    fn roster<'a>(
        parties: &'a [Party],
        names: &'a [&str],
    ) -> impl Fn(&str) -> Option<SignalPeer> + 'a {
        move |id| {
            names.iter().position(|n| *n == id).map(|i| SignalPeer {
                key: parties[i].key,
                joined_at: parties[i].epoch,
                kx: Some(parties[i].kx),
            })
        }
    }

    /// The host's `Share` signal to everyone, sealed with nonce bytes `n`.
    fn host_share(codec: &mut SignalCodec, sharing: bool, n: u8) -> Value {
        let body = SignalBody::Share {
            sharing,
            unable: false,
        };
        codec.seal(&env("h", None, body), [n; 12], None).unwrap()
    }

    fn env(from: &str, to: Option<&str>, body: SignalBody) -> SignalEnvelope {
        SignalEnvelope {
            from: from.into(),
            to: to.map(Into::into),
            body,
        }
    }

    #[test]
    fn every_body_round_trips_and_the_wire_shows_only_routing() {
        let names = ["h", "g"];
        let mut p = parties(&names);
        let keys = parties(&names);
        for body in crate::session::signal::every_body() {
            let e = env("h", Some("g"), body);
            let wire = p[0]
                .codec
                .seal(&e, [7; SEAL_NONCE_LEN], Some(&keys[1].kx))
                .unwrap();
            let text = wire.to_string();
            assert!(
                !text.contains("fingerprint") && !text.contains("candidate:"),
                "{text}"
            );
            assert_eq!(wire["from"], "h");
            assert_eq!(wire["to"], "g");
            assert_eq!(p[1].codec.open(&wire, roster(&keys, &names)), Ok(e));
        }
    }

    /// The plaintext inside a sealed payload, and a way to seal another in its place.
    fn reseal(wire: &Value, edit: impl FnOnce(&mut Vec<u8>)) -> Value {
        let (link, _) = SessionLink::generate(&[5; GENERATE_RANDOM_LEN]);
        let sealer = SignalSealer::new(&link.room_key);
        let session = link.session.to_string();
        let aad = SignalAad {
            session: &session,
            from: wire["from"].as_str().unwrap(),
            to: wire["to"].as_str(),
        };
        let bytes = URL_SAFE_NO_PAD
            .decode(wire["sealed"].as_str().unwrap())
            .unwrap();
        let mut plain = sealer.open(aad, &bytes).unwrap();
        edit(&mut plain);
        let mut out = wire.clone();
        out["sealed"] = Value::from(URL_SAFE_NO_PAD.encode(sealer.seal(aad, &plain, [9; 12])));
        out
    }

    #[test]
    fn the_kind_is_sealed_signed_and_small_signals_are_one_size() {
        let names = ["h", "g"];
        let mut p = parties(&names);
        let keys = parties(&names);
        let ended = p[0]
            .codec
            .seal(
                &env("h", Some("g"), SignalBody::Ended),
                [1; 12],
                Some(&keys[1].kx),
            )
            .unwrap();
        let refused = p[0].codec.seal(
            &env("h", Some("g"), SignalBody::Refused(RefusalReason::Removed)),
            [2; 12],
            Some(&keys[1].kx),
        );
        let share = p[0].codec.seal(
            &env(
                "h",
                Some("g"),
                SignalBody::Share {
                    sharing: false,
                    unable: false,
                },
            ),
            [3; 12],
            Some(&keys[1].kx),
        );
        let (refused, share) = (refused.unwrap(), share.unwrap());
        let len = |w: &Value| w["sealed"].as_str().unwrap().len();
        assert_eq!(len(&ended), len(&refused));
        assert_eq!(len(&ended), len(&share));
        // Someone with the room key swaps the kind for another of the same length
        // (`ended` → `share`): the sender's signature covers the kind.
        let swapped = reseal(&ended, |plain| {
            plain[HEADER_LEN + 1..HEADER_LEN + 6].copy_from_slice(b"share");
        });
        assert_eq!(
            p[1].codec.open(&swapped, roster(&keys, &names)),
            Err(SignalError::Forged)
        );
        // Kinds cut short, missing or not UTF-8 are not signals.
        for edit in [
            (|plain: &mut Vec<u8>| plain.truncate(HEADER_LEN)) as fn(&mut Vec<u8>),
            |plain| {
                plain.truncate(HEADER_LEN + 3);
            },
            |plain| plain[HEADER_LEN + 1] = 0xff,
        ] {
            let bad = reseal(&ended, edit);
            assert!(
                matches!(
                    p[1].codec.open(&bad, roster(&keys, &names)),
                    Err(SignalError::Malformed(_))
                ),
                "{bad}"
            );
        }
        assert_eq!(
            p[1].codec
                .open(&ended, roster(&keys, &names))
                .map(|e| e.body),
            Ok(SignalBody::Ended)
        );
    }

    #[test]
    fn a_flood_of_senders_does_not_make_the_hosts_signals_replayable() {
        let names = ["h", "g"];
        let mut p = parties(&names);
        let keys = parties(&names);
        let share = host_share(&mut p[0].codec, false, 1);
        let (link, _) = SessionLink::generate(&[5; GENERATE_RANDOM_LEN]);
        let g = &mut p[1].codec;
        assert!(g.open(&share, roster(&keys, &names)).is_ok());
        // Throwaway joins, all present, all named after the host, each send one signal.
        let mut flood: Vec<(String, PublicKey, Value)> = Vec::new();
        for i in 0..MAX_SENDERS + 8 {
            let id = format!("z{i:05}");
            let signer = Signer::from_seed([(i % 251) as u8 + 1; 32]);
            let identity = SessionIdentity::new(&link, Role::Viewer, 7, signer).with_id(&id);
            let key = identity.signer().public();
            let sealed = SignalCodec::new(&link.room_key, &identity)
                .seal(&env(&id, None, SignalBody::Leaving), [3; 12], None)
                .unwrap();
            flood.push((id, key, sealed));
        }
        let keyed: std::collections::HashMap<&str, PublicKey> = flood
            .iter()
            .map(|(id, key, _)| (id.as_str(), *key))
            .collect();
        let lookup = |id: &str| {
            roster(&keys, &names)(id).or_else(|| {
                keyed.get(id).map(|key| SignalPeer {
                    key: *key,
                    joined_at: 7,
                    kx: None,
                })
            })
        };
        for (_, _, sealed) in &flood {
            assert!(g.open(sealed, lookup).is_ok());
        }
        assert_eq!(g.last.len(), MAX_SENDERS);
        assert_eq!(
            g.open(&share, roster(&keys, &names)),
            Err(SignalError::Replayed)
        );
    }

    #[test]
    fn replays_and_reorders_are_dropped_and_counted() {
        let names = ["h", "g"];
        let mut p = parties(&names);
        let keys = parties(&names);
        let one = host_share(&mut p[0].codec, false, 1);
        let two = host_share(&mut p[0].codec, true, 2);
        let g = &mut p[1].codec;
        assert!(g.open(&two, roster(&keys, &names)).is_ok());
        // Reordered: the older one arrives late.
        assert_eq!(
            g.open(&one, roster(&keys, &names)),
            Err(SignalError::Replayed)
        );
        // Replayed verbatim.
        assert_eq!(
            g.open(&two, roster(&keys, &names)),
            Err(SignalError::Replayed)
        );
        assert_eq!(g.counters().replayed, 2);
    }

    #[test]
    fn a_signal_to_one_participant_is_for_its_eyes_only() {
        let names = ["h", "g", "m"];
        let mut p = parties(&names);
        let keys = parties(&names);
        let offer = SignalBody::Description(crate::session::signal::Description {
            kind: crate::session::signal::SdpKind::Offer,
            sdp: "v=0 a=fingerprint:sha-256 AA a=candidate:1 1 udp 1 203.0.113.7 5000".into(),
        });
        let wire = p[0]
            .codec
            .seal(
                &env("h", Some("g"), offer.clone()),
                [1; 12],
                Some(&keys[1].kx),
            )
            .unwrap();
        // Another holder of the room key opens the room-key layer (as m, or the server with
        // a leaked link could): the description, its addresses, stay sealed.
        let mut inner = Vec::new();
        reseal(&wire, |plain| inner.clone_from(plain));
        let inner = String::from_utf8_lossy(&inner);
        assert!(
            !inner.contains("203.0.113.7") && !inner.contains("fingerprint"),
            "{inner}"
        );
        assert!(
            inner.contains("description"),
            "the kind is the room layer's: {inner}"
        );
        // The recipient opens it.
        assert_eq!(
            p[1].codec.open(&wire, roster(&keys, &names)),
            Ok(env("h", Some("g"), offer.clone()))
        );
        // Sealed to m's key but addressed to g (or with a sender whose key g does not know):
        // g opens nothing, and counts it.
        let astray = p[0]
            .codec
            .seal(
                &env("h", Some("g"), offer.clone()),
                [2; 12],
                Some(&keys[2].kx),
            )
            .unwrap();
        assert_eq!(
            p[1].codec.open(&astray, roster(&keys, &names)),
            Err(SignalError::NotSealedToUs)
        );
        let unknown_kx = |id: &str| roster(&keys, &names)(id).map(|p| SignalPeer { kx: None, ..p });
        let next = p[0]
            .codec
            .seal(
                &env("h", Some("g"), SignalBody::Ended),
                [3; 12],
                Some(&keys[1].kx),
            )
            .unwrap();
        assert_eq!(
            p[1].codec.open(&next, unknown_kx),
            Err(SignalError::NotSealedToUs)
        );
        assert_eq!(p[1].codec.counters().unauthentic, 2);
        // Its sequence number was not used up by those: the same signal opens now.
        assert!(p[1].codec.open(&next, roster(&keys, &names)).is_ok());
        // Without the recipient's key, or with a key no honest party has, nothing is sent.
        assert_eq!(
            p[0].codec
                .seal(&env("h", Some("g"), SignalBody::Ended), [4; 12], None),
            None
        );
        assert_eq!(
            p[0].codec.seal(
                &env("h", Some("g"), SignalBody::Ended),
                [4; 12],
                Some(&[0; 32])
            ),
            None
        );
        assert_eq!(p[0].codec.counters().unsendable, 2);
    }

    #[test]
    fn a_room_key_holder_cannot_speak_for_the_host() {
        let names = ["h", "m", "g"];
        let mut p = parties(&names);
        let keys = parties(&names);
        // m holds the room key and seals a body "from h" with its own key.
        let forged = p[1]
            .codec
            .seal(&env("h", None, SignalBody::Ended), [3; 12], None)
            .unwrap();
        assert_eq!(
            p[2].codec.open(&forged, roster(&keys, &names)),
            Err(SignalError::Forged)
        );
        // From someone not in the roster at all.
        let stranger = p[1]
            .codec
            .seal(&env("x", None, SignalBody::Ended), [4; 12], None)
            .unwrap();
        assert_eq!(
            p[2].codec.open(&stranger, roster(&keys, &names)),
            Err(SignalError::UnknownSender)
        );
        assert_eq!(p[2].codec.counters().forged, 2);
    }

    #[test]
    fn an_old_join_is_stale_and_moved_fields_fail() {
        let names = ["h", "g"];
        let mut p = parties(&names);
        let keys = parties(&names);
        let wire = p[0]
            .codec
            .seal(&env("h", None, SignalBody::Ended), [0; 12], None)
            .unwrap();
        // The host rejoined (new epoch): its old signals no longer count.
        let newer = |id: &str| {
            roster(&keys, &names)(id).map(|p| SignalPeer {
                joined_at: p.joined_at + 1,
                ..p
            })
        };
        assert_eq!(p[1].codec.open(&wire, newer), Err(SignalError::Stale));
        // What kind of message it is, the server does not see.
        assert_eq!(
            wire.as_object()
                .map(|o| o.keys().cloned().collect::<Vec<_>>()),
            Some(vec![
                "from".to_owned(),
                "sealed".to_owned(),
                "to".to_owned()
            ])
        );
        for (field, value) in [("from", json!("mallory")), ("to", json!("g"))] {
            let mut moved = wire.clone();
            moved[field] = value;
            assert_eq!(
                p[1].codec.open(&moved, roster(&keys, &names)),
                Err(SignalError::Unauthentic),
                "{field}"
            );
        }
        assert_eq!(
            p[1].codec.open(&wire, roster(&keys, &names)).map(|_| ()),
            Ok(())
        );
        assert_eq!(
            p[1].codec.open(&wire, roster(&keys, &names)),
            Err(SignalError::Replayed)
        );
        let direct = p[0]
            .codec
            .seal(
                &env("h", Some("x"), SignalBody::Ended),
                [0; 12],
                Some(&keys[1].kx),
            )
            .unwrap();
        assert_eq!(
            p[1].codec.open(&direct, roster(&keys, &names)),
            Err(SignalError::NotForUs)
        );
        // A participant's own signal, signed and sealed, whose body is not UTF-8 or not JSON.
        for body in [&b"\xff\xfe"[..], b"{\"sdp\": \"\xc3\x28\"}", b"{\"sdp\": "] {
            let wire = p[0].codec.seal_body("h", None, "offer", body, [0; 12]);
            assert!(matches!(
                p[1].codec.open(&wire, roster(&keys, &names)),
                Err(SignalError::Malformed(_))
            ));
        }
        assert_eq!(p[1].codec.counters().malformed, 3);
        let after = p[0]
            .codec
            .seal(&env("h", None, SignalBody::Ended), [0; 12], None)
            .unwrap();
        assert!(p[1].codec.open(&after, roster(&keys, &names)).is_ok());
        for bad in [
            json!({}),
            json!({"from": "a", "kind": "ended", "sealed": "!!"}),
            json!(5),
        ] {
            assert!(matches!(
                p[1].codec.open(&bad, roster(&keys, &names)),
                Err(SignalError::Malformed(_))
            ));
        }
    }
}
