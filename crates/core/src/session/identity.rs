//! Who is who in a session: this page's own signed presence meta, and the check every other
//! meta passes before the roster believes it (see `roster`).
//!
//! A presence meta is `{"role", "joined_at", "profile": <sealed>, "sig": <Ed25519>}`:
//! - `profile` is sealed with the room key (bound to the participant id and role) and holds the
//!   display name, the media sender id, the participant's public signing key (`key`) and, for
//!   a controller, its seat proof (`seat`: `control::seat_proof`);
//! - `sig` signs the session id, participant id, role, `joined_at` and the sealed profile text,
//!   with the host identity key for the host and with the join's own key for everyone else.
//!
//! So the server can read none of the profile and change no field, a link holder cannot
//! present as host (it lacks the host key), and a socket that knows only the session id
//! cannot produce a meta that opens. A host the role was handed to (see `handover`) signs
//! with its own key, and its profile carries the chain (`chain`) that names that key. `joined_at` is authenticated: it is the join epoch every
//! signal of that participant carries.

use std::cell::RefCell;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde_json::Value;

use crate::control::{seat_proof, verify_seat_proof};
use crate::e2ee::signal::SEAL_NONCE_LEN;
use crate::e2ee::ProfileSealer;
use crate::identity::{decode_signature, encode_signature, PublicKey, Signer, Statement};
use crate::link::{ControllerSecret, SessionId, SessionLink};
use crate::roster::{Participant, Rejection, Roster};
use crate::session::HostChain;
use crate::Role;

const META_LABEL: &[u8] = b"PairUX 1.0 presence meta";
/// Unversioned on purpose: pages of every wire version must be able to check this statement.
const VERSION_LABEL: &[u8] = b"PairUX wire version";

/// The wire version of this build: the shape of presence metas, signals and data-channel
/// messages. Raised only when a change cannot be read by the pages already running (a deploy
/// during a session), so that a page meeting another version tells the person which side to
/// reload instead of waiting for a host it cannot verify. Every meta says its version (`v`);
/// the host's is signed by the host key in a statement whose shape never changes (`vsig`:
/// the session, the participant id, the join epoch and the version), so a page of any
/// version can tell the real host on another version from a link holder claiming one.
pub const WIRE_VERSION: u64 = 2;
const ID_LABEL: &[u8] = b"PairUX 1.0 participant id";

/// The participant id (the presence key) of a join: 128 bits of SHA-256 over the session, the
/// key the join's metas are signed with, its join epoch and the join's random salt (`join` in
/// its sealed profile, if any), base64url. Every page checks a meta's id against it
/// (`SessionIdentity::verify`), so a link holder cannot speak under another's presence key
/// (the server lets a client choose any key): an id belongs to one key, and the join epoch and
/// salt make each join a new participant — also two tabs with one key (a duplicated tab copies
/// the key) that join in the same millisecond.
pub fn participant_id(
    session: &SessionId,
    key: &PublicKey,
    joined_at: u64,
    salt: Option<&str>,
) -> String {
    use sha2::{Digest, Sha256};
    let mut s = Statement::new(ID_LABEL);
    s.field(session.as_bytes())
        .field(key.as_bytes())
        .number(joined_at)
        .optional(salt.map(str::as_bytes));
    let digest = Sha256::digest(s.as_bytes());
    URL_SAFE_NO_PAD.encode(&digest[..16])
}

/// The join salt an opened profile carries (`join`): none, or 16 bytes in base64url (22
/// characters) — anything else is no salt of ours (`Err`), so each meta has one encoding.
fn salt(profile: &Value) -> Result<Option<&str>, Rejection> {
    match profile.get("join") {
        None => Ok(None),
        Some(Value::String(text))
            if URL_SAFE_NO_PAD
                .decode(text)
                .is_ok_and(|bytes| bytes.len() == 16) =>
        {
            Ok(Some(text.as_str()))
        }
        Some(_) => Err(Rejection::ForeignId),
    }
}

/// This page's identity in one session, and the session's trust anchors (room key, host key).
pub struct SessionIdentity {
    session: SessionId,
    host: PublicKey,
    profiles: ProfileSealer,
    me: String,
    role: Role,
    joined_at: u64,
    /// This join's random salt (base64url), carried as `join` in its profile: part of its id.
    salt: Option<String>,
    signer: Signer,
    /// The link's controller secret (host and controller links): a controller's meta carries
    /// a seat proof made with it, and the host checks every controller claim against it.
    controller: Option<ControllerSecret>,
    /// The host's page: the handovers that made it host (empty for the session's first host).
    chain: HostChain,
    /// The longest host chain believed so far: a host whose chain does not extend it is a
    /// former host, or a fork by one (see `handover`).
    best: RefCell<HostChain>,
    /// Two hosts' handovers that part were seen together (`Roster::host_forked`): from then on
    /// this page believes no further host chain.
    parted: std::cell::Cell<bool>,
}

impl SessionIdentity {
    /// `signer`: the key this join signs with — the host identity key for the session's first
    /// host, the join key of its tab for anyone else (and for a host the role was handed to).
    /// The participant id follows from it and `joined_at` ([`participant_id`]), and from a salt
    /// once one is given ([`Self::with_salt`]: every join of the app has one).
    pub fn new(link: &SessionLink, role: Role, joined_at: u64, signer: Signer) -> Self {
        SessionIdentity {
            session: link.session,
            host: link.host,
            profiles: ProfileSealer::new(&link.room_key),
            me: participant_id(&link.session, &signer.public(), joined_at, None),
            role,
            joined_at,
            salt: None,
            signer,
            controller: link.controller.clone(),
            chain: HostChain::default(),
            best: RefCell::default(),
            parted: std::cell::Cell::new(false),
        }
    }

    /// This join's random salt (16 bytes from the caller's CSPRNG): goes into its id and, as
    /// `join`, into its profile.
    pub fn with_salt(mut self, salt: [u8; 16]) -> Self {
        let salt = URL_SAFE_NO_PAD.encode(salt);
        self.me = participant_id(
            &self.session,
            &self.signer.public(),
            self.joined_at,
            Some(&salt),
        );
        self.salt = Some(salt);
        self
    }

    /// Another participant id than the one this join's key makes: for unit tests of what the
    /// id does not bear on (the signal codec's); every other page rejects its metas.
    #[cfg(test)]
    pub(crate) fn with_id(mut self, id: &str) -> Self {
        self.me = id.to_owned();
        self
    }

    /// The host's page of a host the role was handed to: the chain its meta carries.
    pub fn with_chain(mut self, chain: &HostChain) -> Self {
        self.chain = chain.clone();
        self.best = RefCell::new(chain.clone());
        self
    }

    /// The host's page: the handovers that made it host (empty for the session's first host).
    pub fn chain(&self) -> &HostChain {
        &self.chain
    }

    /// The host's page: the chain that hands the role on to `next` (a controller's key).
    /// `None` past the most handovers a session may have.
    pub fn hand_over(&self, next: PublicKey) -> Option<HostChain> {
        self.chain.hand_over(&self.session, &self.signer, next)
    }

    /// The host's page: whether a host under a longer chain, through a handover this page
    /// signed, has been believed (this page hosts no more).
    pub fn superseded(&self) -> bool {
        self.role == Role::Host && self.best.borrow().len() > self.chain.len()
    }

    /// The longest host chain this page has believed (its tab keeps it, so that a reload
    /// believes no fork of it either).
    pub fn believed(&self) -> HostChain {
        self.best.borrow().clone()
    }

    /// A chain this page believed before a reload (from its tab): believed again if it
    /// verifies from `h` and extends what this page believes. Whether it was.
    pub fn believe(&self, chain: &HostChain) -> bool {
        let mut best = self.best.borrow_mut();
        let good = chain.head(&self.session, &self.host).is_some() && chain.extends(&best);
        if good {
            *best = chain.clone();
        }
        good
    }

    /// After each change of the roster (its metas verified): the hosts' longest chain becomes
    /// the one this page believes, if they all lie on one line of handovers and it extends
    /// what the page believed. Once two hosts' chains that part have been seen together
    /// (`Roster::host_forked`), nothing more is believed on this page (`parted`): it cannot
    /// tell which handover is the real one, a forking former host chooses the order in which
    /// metas arrive, and whichever side is left alone later (the other's socket dropped for
    /// a moment, say) is no better for it. Returns the chain when it is newly believed (for
    /// the tab to keep).
    pub fn settle(&self, roster: &Roster) -> Option<HostChain> {
        if roster.host_forked() {
            self.parted.set(true);
        }
        if self.parted.get() {
            return None;
        }
        let chain = HostChain::decode(roster.host_chain().ok()??)?;
        let mut best = self.best.borrow_mut();
        if chain.len() > best.len() && chain.extends(&best) {
            *best = chain.clone();
            return Some(chain);
        }
        None
    }

    /// Whether this page saw two hosts' handovers part (see [`Self::settle`]): it follows no
    /// host from then on.
    pub fn parted(&self) -> bool {
        self.parted.get()
    }

    /// Whether `chain`, offered to this page, makes its key the host of this session after
    /// every host it has believed.
    pub fn is_handed(&self, chain: &HostChain) -> bool {
        chain.head(&self.session, &self.host) == Some(self.signer.public())
            && chain.extends(&self.best.borrow())
    }

    pub fn me(&self) -> &str {
        &self.me
    }

    pub fn role(&self) -> Role {
        self.role
    }

    /// The join epoch (ms since the Unix epoch) this page's meta and signals carry.
    pub fn joined_at(&self) -> u64 {
        self.joined_at
    }

    pub fn session(&self) -> SessionId {
        self.session
    }

    pub fn signer(&self) -> &Signer {
        &self.signer
    }

    /// The presence meta to track: `profile` (a JSON object: name, sender id) gains our public
    /// key, is sealed, and the whole meta is signed.
    pub fn meta(&self, profile: &Value, nonce: [u8; SEAL_NONCE_LEN]) -> Value {
        let mut profile = match profile {
            Value::Object(map) => map.clone(),
            _ => serde_json::Map::new(),
        };
        let key = self.signer.public().encode();
        if let (Role::Controller, Some(secret)) = (self.role, &self.controller) {
            let proof = seat_proof(secret, &self.session.to_string(), &self.me, &key);
            profile.insert("seat".into(), Value::from(proof));
        }
        profile.insert("key".into(), Value::from(key));
        if let Some(salt) = &self.salt {
            profile.insert("join".into(), Value::from(salt.as_str()));
        }
        if self.role == Role::Host && !self.chain.is_empty() {
            profile.insert("chain".into(), Value::from(self.chain.encode()));
        }
        let plain = Value::Object(profile).to_string();
        let sealed = URL_SAFE_NO_PAD.encode(self.profiles.seal(
            &self.me,
            self.role,
            plain.as_bytes(),
            nonce,
        ));
        let statement = self.statement(&self.me, self.role, self.joined_at, &sealed);
        // Only a host that signs with the link's own host key can say its version in a way
        // another version checks (a handed-over host's key is named by its sealed chain).
        let wire_sig = (self.role == Role::Host && self.chain.is_empty()).then(|| {
            let version = version_statement(&self.session, &self.me, self.joined_at, WIRE_VERSION);
            encode_signature(&self.signer.sign(&version))
        });
        Participant {
            id: self.me.clone(),
            role: self.role,
            joined_at: self.joined_at,
            profile: Value::from(sealed),
            sig: Some(encode_signature(&self.signer.sign(&statement))),
            signer: None,
            wire: WIRE_VERSION,
            wire_sig,
        }
        .to_meta()
    }

    /// The roster's check (`roster::Verify`): the participant with its profile opened and its
    /// signer set, or why it is not believed.
    pub fn verify(&self, claimed: &Participant) -> Result<Participant, Rejection> {
        if claimed.wire != WIRE_VERSION {
            // Nothing else of another version's meta is read: its shape may differ.
            let version =
                version_statement(&self.session, &claimed.id, claimed.joined_at, claimed.wire);
            let sig = claimed.wire_sig.as_deref().and_then(decode_signature);
            let by_host = sig.is_some_and(|s| self.host.verifies(&version, &s));
            return Err(match claimed.role == Role::Host && by_host {
                true => Rejection::HostVersion(claimed.wire),
                false => Rejection::OtherVersion(claimed.wire),
            });
        }
        let sealed = claimed.profile.as_str().unwrap_or_default();
        let statement = self.statement(&claimed.id, claimed.role, claimed.joined_at, sealed);
        let sig = claimed.sig.as_deref().and_then(decode_signature);
        let signed_by = |key: &PublicKey| sig.is_some_and(|s| key.verifies(&statement, &s));
        if claimed.role == Role::Host {
            let Some(profile) = self.open(claimed) else {
                // Signed by the host key but sealed with another room key: ours is wrong.
                return Err(match signed_by(&self.host) {
                    true => Rejection::WrongKeyHost,
                    false => Rejection::ImpostorHost,
                });
            };
            // Someone holding our room key hosts under a key no chain from `h` names:
            // worth telling the person apart from junk, if no host verifies.
            let chain = match profile.get("chain") {
                None => Some(HostChain::default()),
                Some(chain) => chain.as_str().and_then(HostChain::decode),
            };
            let (chain, head) = chain
                .and_then(|c| Some((c.head(&self.session, &self.host)?, c)))
                .filter(|(head, _)| signed_by(head))
                .map(|(head, c)| (c, head))
                .ok_or(Rejection::UnconfirmedHost)?;
            // A host meta under a presence key that is not its own (a former host's, under a
            // guest's key): nobody's.
            self.own_id(claimed, &head, &profile)?;
            // Believed only once the roster holds it on one line with every other host
            // (`settle`): a fork that comes in the same presence state is not picked by order.
            if !chain.extends(&self.best.borrow()) {
                return Err(Rejection::FormerHost);
            }
            return Ok(Participant {
                profile,
                signer: Some(head),
                ..claimed.clone()
            });
        }
        let profile = self.open(claimed).ok_or(Rejection::Unreadable)?;
        let key = profile
            .get("key")
            .and_then(Value::as_str)
            .and_then(PublicKey::parse)
            .ok_or(Rejection::BadSignature)?;
        if !signed_by(&key) {
            return Err(Rejection::BadSignature);
        }
        // Signed by its own key, under someone else's presence key (a link holder squatting
        // a guest's or the host's key): not believed as anyone.
        self.own_id(claimed, &key, &profile)?;
        // The host seats a controller only with a proof of the link's controller secret: a
        // viewer claiming the role (its own signature verifies) is a viewer here.
        let role = match (claimed.role, self.role, &self.controller) {
            (Role::Controller, Role::Host, Some(secret)) => {
                let proof = profile.get("seat").and_then(Value::as_str).unwrap_or("");
                let session = self.session.to_string();
                if verify_seat_proof(secret, &session, &claimed.id, &key.encode(), proof) {
                    Role::Controller
                } else {
                    Role::Viewer
                }
            }
            (role, _, _) => role,
        };
        Ok(Participant {
            profile,
            role,
            signer: Some(key),
            ..claimed.clone()
        })
    }

    /// `claimed` is under the participant id of `key` (its signer), its join epoch and the
    /// salt in its opened `profile`; otherwise it is nobody's (`ForeignId`).
    fn own_id(
        &self,
        claimed: &Participant,
        key: &PublicKey,
        profile: &Value,
    ) -> Result<(), Rejection> {
        let salt = salt(profile)?;
        if claimed.id == participant_id(&self.session, key, claimed.joined_at, salt) {
            Ok(())
        } else {
            Err(Rejection::ForeignId)
        }
    }

    fn open(&self, claimed: &Participant) -> Option<Value> {
        let sealed = URL_SAFE_NO_PAD.decode(claimed.profile.as_str()?).ok()?;
        let plain = self
            .profiles
            .open(&claimed.id, claimed.role, &sealed)
            .ok()?;
        // `from_str`, as everywhere in the app: one JSON reader in the wasm, not two.
        let profile: Value = serde_json::from_str(std::str::from_utf8(&plain).ok()?).ok()?;
        profile.is_object().then_some(profile)
    }

    fn statement(&self, id: &str, role: Role, joined_at: u64, sealed: &str) -> Statement {
        let mut s = Statement::new(META_LABEL);
        s.field(self.session.as_bytes())
            .field(id.as_bytes())
            .field(role.as_str().as_bytes())
            .number(joined_at)
            .field(sealed.as_bytes());
        s
    }
}

/// What a host signs about its wire version (`vsig`). Its shape is the same in every
/// version: only the label, session, presence key, join epoch and version.
fn version_statement(session: &SessionId, id: &str, joined_at: u64, wire: u64) -> Statement {
    let mut s = Statement::new(VERSION_LABEL);
    s.field(session.as_bytes())
        .field(id.as_bytes())
        .number(joined_at)
        .number(wire);
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::link::{HostIdentity, GENERATE_RANDOM_LEN};
    use crate::realtime::PresenceMeta;
    use serde_json::json;

    pub(crate) fn session() -> (SessionLink, HostIdentity) {
        SessionLink::generate(&[3; GENERATE_RANDOM_LEN])
    }

    fn claimed(meta: &Value, id: &str) -> Participant {
        let meta = PresenceMeta {
            phx_ref: "r".into(),
            phx_ref_prev: None,
            payload: meta.as_object().unwrap().clone(),
        };
        Participant::from_meta(id, &meta).unwrap()
    }

    #[test]
    fn the_host_verifies_under_the_link_key_and_a_guest_under_its_own() {
        let (link, host_key) = session();
        let host = SessionIdentity::new(&link, Role::Host, 10, host_key.signer().clone());
        let guest = SessionIdentity::new(&link, Role::Viewer, 20, Signer::from_seed([4; 32]));
        let host_meta = host.meta(&json!({"name": "Host"}), [1; 12]);
        let guest_meta = guest.meta(&json!({"name": "Guest"}), [2; 12]);
        let seen_host = guest.verify(&claimed(&host_meta, host.me())).unwrap();
        assert_eq!(seen_host.profile["name"], "Host");
        assert_eq!(seen_host.signer, Some(link.host));
        let seen_guest = host.verify(&claimed(&guest_meta, guest.me())).unwrap();
        assert_eq!(seen_guest.signer, Some(Signer::from_seed([4; 32]).public()));
        assert_eq!(seen_guest.joined_at, 20);
    }

    #[test]
    fn a_host_of_another_wire_version_is_told_apart_from_a_link_holder_claiming_one() {
        let (link, host_key) = session();
        let host = SessionIdentity::new(&link, Role::Host, 10, host_key.signer().clone());
        let guest = SessionIdentity::new(&link, Role::Viewer, 20, Signer::from_seed([4; 32]));
        // Our own metas say their version; the first host's is signed, a guest's is not.
        let host_meta = host.meta(&json!({"name": "Host"}), [1; 12]);
        assert_eq!(host_meta["v"], json!(WIRE_VERSION));
        assert!(host_meta["vsig"].is_string());
        let guest_meta = guest.meta(&json!({"name": "Guest"}), [2; 12]);
        assert_eq!(guest_meta["v"], json!(WIRE_VERSION));
        assert!(guest_meta.get("vsig").is_none());
        // A meta without `v` is of version 1: a page from before version 2 (which seals signals
        // to one participant to its key), another version now.
        let mut bare = host_meta.clone();
        bare.as_object_mut().unwrap().remove("v");
        assert_eq!(crate::roster::UNVERSIONED_WIRE, 1);
        assert!(matches!(
            guest.verify(&claimed(&bare, host.me())),
            Err(Rejection::HostVersion(1) | Rejection::OtherVersion(1))
        ));
        // The real host on a newer or an older version: its version is signed by the link's
        // host key, in a statement every version reads alike.
        let other = |wire: u64, signer: &Signer, id: &str| {
            let mut meta = json!({"role": "host", "joined_at": 10, "profile": "?", "sig": "?"});
            meta["v"] = json!(wire);
            let statement = version_statement(&link.session, id, 10, wire);
            meta["vsig"] = json!(encode_signature(&signer.sign(&statement)));
            meta
        };
        for wire in [WIRE_VERSION + 1, WIRE_VERSION - 1, 1 << 40] {
            let meta = other(wire, host_key.signer(), host.me());
            assert_eq!(
                guest.verify(&claimed(&meta, host.me())),
                Err(Rejection::HostVersion(wire))
            );
        }
        // A link holder claiming a newer host (its own key), a real host's version signature
        // moved to another presence key or another version, a guest of another version, and a
        // host meta of another version without a signature: another version, nothing more.
        let holder = Signer::from_seed([8; 32]);
        let moved = other(WIRE_VERSION + 1, host_key.signer(), host.me());
        let mut bumped = moved.clone();
        bumped["v"] = json!(WIRE_VERSION + 2);
        let mut unsigned = moved.clone();
        unsigned.as_object_mut().unwrap().remove("vsig");
        let mut newer_guest = guest_meta.clone();
        newer_guest["v"] = json!(WIRE_VERSION + 1);
        for (meta, id, wire) in [
            (
                other(WIRE_VERSION + 1, &holder, host.me()),
                host.me(),
                WIRE_VERSION + 1,
            ),
            (moved, guest.me(), WIRE_VERSION + 1),
            (bumped, host.me(), WIRE_VERSION + 2),
            (unsigned, host.me(), WIRE_VERSION + 1),
            (newer_guest, guest.me(), WIRE_VERSION + 1),
        ] {
            assert_eq!(
                host.verify(&claimed(&meta, id)),
                Err(Rejection::OtherVersion(wire)),
                "{meta}"
            );
        }
        // A version that is not a number is not a meta.
        let mut junk = host_meta.clone();
        junk["v"] = json!("2");
        let meta = PresenceMeta {
            phx_ref: "r".into(),
            phx_ref_prev: None,
            payload: junk.as_object().unwrap().clone(),
        };
        assert_eq!(
            Participant::from_meta(host.me(), &meta),
            Err(crate::roster::MetaError::Version)
        );
    }

    #[test]
    fn a_presence_key_belongs_to_one_key_and_join() {
        let (link, host_key) = session();
        let seed = [4; 32];
        let guest = SessionIdentity::new(&link, Role::Viewer, 20, Signer::from_seed(seed));
        let key = Signer::from_seed(seed).public();
        assert_eq!(guest.me(), participant_id(&link.session, &key, 20, None));
        assert_eq!(guest.me().len(), 22, "128 bits, base64url");
        // The same tab's next join (a reload keeps the key) is a new participant.
        assert_ne!(guest.me(), participant_id(&link.session, &key, 21, None));
        // Two tabs with one key (a duplicated tab) joining in the same millisecond: their
        // salts part them, and each one's meta verifies under its own id.
        let twin = |salt| {
            SessionIdentity::new(&link, Role::Viewer, 20, Signer::from_seed(seed)).with_salt(salt)
        };
        let (a, b) = (twin([1; 16]), twin([2; 16]));
        assert_ne!(a.me(), b.me());
        assert_ne!(a.me(), guest.me());
        let checker = SessionIdentity::new(&link, Role::Viewer, 9, Signer::from_seed([9; 32]));
        for t in [&a, &b] {
            let meta = t.meta(&json!({"name": "Twin"}), [7; 12]);
            assert!(checker.verify(&claimed(&meta, t.me())).is_ok());
        }
        // Hosts are salted too: the first host, and a host the role was handed to.
        let first = SessionIdentity::new(&link, Role::Host, 30, host_key.signer().clone())
            .with_salt([3; 16]);
        let first_meta = first.meta(&json!({"name": "Host"}), [4; 12]);
        let seen = checker.verify(&claimed(&first_meta, first.me())).unwrap();
        assert_eq!(seen.signer, Some(link.host));
        let taker = Signer::from_seed([12; 32]);
        let chain = first.hand_over(taker.public()).unwrap();
        let handed = SessionIdentity::new(&link, Role::Host, 40, taker.clone())
            .with_chain(&chain)
            .with_salt([4; 16]);
        let handed_meta = handed.meta(&json!({"name": "New"}), [5; 12]);
        let seen = checker.verify(&claimed(&handed_meta, handed.me())).unwrap();
        assert_eq!(seen.signer, Some(taker.public()));
        // A salt of another shape (not 16 bytes of base64url) is no salt of ours.
        for bad in [
            json!("short"),
            json!(7),
            json!(URL_SAFE_NO_PAD.encode([1; 17])),
        ] {
            let odd = SessionIdentity::new(&link, Role::Viewer, 21, Signer::from_seed(seed));
            let mut profile = serde_json::Map::new();
            profile.insert("join".into(), bad.clone());
            let meta = odd.meta(&Value::Object(profile), [6; 12]);
            assert_eq!(
                checker.verify(&claimed(&meta, odd.me())),
                Err(Rejection::ForeignId),
                "{bad}"
            );
        }
        // A salted join's meta under the unsalted id of the same key and epoch is nobody's.
        let unsalted = twin([1; 16]).with_id(guest.me());
        let meta = unsalted.meta(&json!({"name": "Twin"}), [8; 12]);
        assert_eq!(
            checker.verify(&claimed(&meta, guest.me())),
            Err(Rejection::ForeignId)
        );
        let other = Signer::from_seed([5; 32]).public();
        assert_ne!(guest.me(), participant_id(&link.session, &other, 20, None));

        // A link holder signs a meta of its own under the guest's presence key; the host,
        // whose key every link names, does the same: neither is anyone.
        let page = SessionIdentity::new(&link, Role::Viewer, 30, Signer::from_seed([6; 32]));
        let squatter =
            SessionIdentity::new(&link, Role::Controller, 20, Signer::from_seed([5; 32]))
                .with_id(guest.me());
        let squat = squatter.meta(&json!({"name": "Renamed"}), [1; 12]);
        assert_eq!(
            page.verify(&claimed(&squat, guest.me())),
            Err(Rejection::ForeignId)
        );
        let host = SessionIdentity::new(&link, Role::Host, 20, host_key.signer().clone())
            .with_id(guest.me());
        let host_squat = host.meta(&json!({"name": "Host"}), [2; 12]);
        assert_eq!(
            page.verify(&claimed(&host_squat, guest.me())),
            Err(Rejection::ForeignId)
        );
        // The server lists a re-tracked meta (a rename) behind a squatter's that came in
        // between: a page that joins then still finds the guest under its key, renamed.
        let renamed = guest.meta(&json!({"name": "Guest 2"}), [3; 12]);
        let roster = listed(&page, &[(guest.me(), &[&squat, &renamed])]);
        let seen = roster.get(guest.me()).unwrap();
        assert_eq!(seen.signer, Some(key));
        assert_eq!(seen.profile["name"], "Guest 2");
        assert_eq!(roster.counters().shadowed, 1);
    }

    #[test]
    fn a_link_holder_cannot_claim_host_and_fields_cannot_be_edited() {
        let (link, _) = session();
        // Right room key, own key: claims host.
        let impostor = SessionIdentity::new(&link, Role::Host, 1, Signer::from_seed([5; 32]));
        let guest = SessionIdentity::new(&link, Role::Viewer, 2, Signer::from_seed([6; 32]));
        let fake = impostor.meta(&json!({"name": "Host"}), [1; 12]);
        assert_eq!(
            guest.verify(&claimed(&fake, impostor.me())),
            Err(Rejection::UnconfirmedHost)
        );
        // A genuine guest meta, edited by the server: earlier joined_at, other id, other role.
        let real = guest.meta(&json!({"name": "G"}), [2; 12]);
        for (field, value, id) in [
            ("joined_at", json!(0), guest.me()),
            ("role", json!("controller"), guest.me()),
            ("joined_at", json!(2), "g2"),
        ] {
            let mut edited = real.clone();
            edited[field] = value;
            assert!(guest.verify(&claimed(&edited, id)).is_err(), "{field} {id}");
        }
        let mut unsigned = real.clone();
        unsigned.as_object_mut().unwrap().remove("sig");
        assert_eq!(
            guest.verify(&claimed(&unsigned, guest.me())),
            Err(Rejection::BadSignature)
        );
    }

    #[test]
    fn junk_and_wrong_room_keys() {
        let (link, host_key) = session();
        let guest = SessionIdentity::new(&link, Role::Viewer, 2, Signer::from_seed([6; 32]));
        // Someone who knows only the session id: junk host and viewer metas.
        let junk = json!({"role": "host", "joined_at": 1, "profile": "AAAA", "sig": "x", "v": WIRE_VERSION});
        assert_eq!(
            guest.verify(&claimed(&junk, "x")),
            Err(Rejection::ImpostorHost)
        );
        let junk = json!({"role": "viewer", "joined_at": 1, "profile": "AAAA", "v": WIRE_VERSION});
        assert_eq!(
            guest.verify(&claimed(&junk, "x")),
            Err(Rejection::Unreadable)
        );
        // The real host, seen through a link with another room key: host verified, unreadable.
        let host = SessionIdentity::new(&link, Role::Host, 1, host_key.signer().clone());
        let meta = host.meta(&json!({}), [1; 12]);
        let mut other = link.clone();
        other.room_key = crate::link::RoomKey::from_bytes([99; 32]);
        let lost = SessionIdentity::new(&other, Role::Viewer, 2, Signer::from_seed([6; 32]));
        assert_eq!(
            lost.verify(&claimed(&meta, host.me())),
            Err(Rejection::WrongKeyHost)
        );
    }

    #[test]
    fn the_host_role_handed_to_a_controller_verifies_and_supersedes_the_former_host() {
        let (link, host_key) = session();
        let host = SessionIdentity::new(&link, Role::Host, 10, host_key.signer().clone());
        let taker = Signer::from_seed([4; 32]);
        let controller = SessionIdentity::new(&link, Role::Controller, 20, taker.clone());
        let viewer = SessionIdentity::new(&link, Role::Viewer, 30, Signer::from_seed([6; 32]));
        let old_meta = host.meta(&json!({"name": "Old"}), [1; 12]);
        assert!(viewer.verify(&claimed(&old_meta, host.me())).is_ok());
        // Its own meta does not supersede a host.
        assert!(host.verify(&claimed(&old_meta, host.me())).is_ok());
        assert!(!host.superseded());

        let chain = host.hand_over(taker.public()).unwrap();
        assert!(controller.is_handed(&chain));
        assert!(!viewer.is_handed(&chain), "names another key");
        // The controller's tab, reloaded as host (a new participant id) with the chain.
        let new_host =
            SessionIdentity::new(&link, Role::Host, 40, taker.clone()).with_chain(&chain);
        let new_meta = new_host.meta(&json!({"name": "New"}), [2; 12]);
        let seen = viewer.verify(&claimed(&new_meta, new_host.me())).unwrap();
        assert_eq!(seen.signer, Some(taker.public()));
        assert_eq!(seen.profile["name"], "New");
        // The former host's page believes it too once its roster holds it (beside the former
        // host's own meta, on one line of handovers), and so steps down; the new host is not
        // superseded by its own meta.
        assert_eq!(
            host.verify(&claimed(&new_meta, new_host.me()))
                .unwrap()
                .signer,
            Some(taker.public())
        );
        assert!(!host.superseded(), "verified, not yet settled");
        let roster = present(&host, &[(&old_meta, host.me()), (&new_meta, new_host.me())]);
        assert_eq!(roster.host_chain(), Ok(Some(chain.encode().as_str())));
        assert!(host.superseded());
        present(
            &viewer,
            &[(&old_meta, host.me()), (&new_meta, new_host.me())],
        );
        assert_eq!(viewer.believed(), chain);
        assert!(new_host.verify(&claimed(&new_meta, new_host.me())).is_ok());
        assert!(!new_host.superseded());
        // The new host's page does not believe its predecessor as host any more.
        assert_eq!(
            new_host.verify(&claimed(&old_meta, host.me())),
            Err(Rejection::FormerHost)
        );
        // From now on the former host's meta (a re-track, or a reload of its tab) is not
        // the host's, and the roster puts the new host first while both are present.
        let again = host.meta(&json!({"name": "Old again"}), [3; 12]);
        assert_eq!(
            viewer.verify(&claimed(&again, host.me())),
            Err(Rejection::FormerHost)
        );
        let mut roster = crate::roster::Roster::new();
        let state: crate::realtime::PresenceState = serde_json::from_value(json!({
            (host.me()): {"metas": [{"phx_ref": "1", "role": old_meta["role"], "joined_at": 10,
                "profile": old_meta["profile"], "sig": old_meta["sig"], "v": old_meta["v"]}]},
            (new_host.me()): {"metas": [{"phx_ref": "2", "role": "host", "joined_at": 40,
                "profile": new_meta["profile"], "sig": new_meta["sig"], "v": new_meta["v"]}]},
        }))
        .unwrap();
        let fresh = SessionIdentity::new(&link, Role::Viewer, 50, Signer::from_seed([7; 32]));
        roster.replace(&state, &|p| fresh.verify(p));
        let first = roster.participants()[0].id.clone();
        assert_eq!(first, new_host.me());
    }

    #[test]
    fn forged_forked_and_misplaced_handovers_are_not_believed() {
        let (link, host_key) = session();
        let host = SessionIdentity::new(&link, Role::Host, 10, host_key.signer().clone());
        let viewer = SessionIdentity::new(&link, Role::Viewer, 30, Signer::from_seed([6; 32]));
        // A link holder signs a handover to itself with its own key: not rooted at `h`.
        let holder = Signer::from_seed([5; 32]);
        let forged = HostChain::default()
            .hand_over(&link.session, &holder, holder.public())
            .unwrap();
        let posing =
            SessionIdentity::new(&link, Role::Host, 20, holder.clone()).with_chain(&forged);
        let meta = posing.meta(&json!({}), [1; 12]);
        assert_eq!(
            viewer.verify(&claimed(&meta, posing.me())),
            Err(Rejection::UnconfirmedHost)
        );
        // A real handover to A, used by someone else's key (B copies A's chain).
        let a = Signer::from_seed([8; 32]);
        let to_a = host.hand_over(a.public()).unwrap();
        let copier = SessionIdentity::new(&link, Role::Host, 21, holder.clone()).with_chain(&to_a);
        let meta = copier.meta(&json!({}), [2; 12]);
        assert_eq!(
            viewer.verify(&claimed(&meta, copier.me())),
            Err(Rejection::UnconfirmedHost)
        );
        // A junk chain in an opened profile is no chain at all (not the first host's).
        let mut junk = host.meta(&json!({}), [3; 12]);
        let profile = host.open(&claimed(&junk, host.me())).unwrap();
        let mut profile = profile.as_object().unwrap().clone();
        profile.insert("chain".into(), json!("nonsense"));
        let with_junk = SessionIdentity::new(&link, Role::Host, 10, host_key.signer().clone())
            .meta(&Value::Object(profile), [4; 12]);
        junk["profile"] = with_junk["profile"].clone();
        junk["sig"] = with_junk["sig"].clone();
        assert_eq!(
            viewer.verify(&claimed(&junk, host.me())),
            Err(Rejection::UnconfirmedHost)
        );

        // A believes the role; the former host then forks: hands it to itself under a new
        // key, twice, for a chain longer than A's. Pages that saw A's do not follow it.
        let new_a = SessionIdentity::new(&link, Role::Host, 40, a.clone()).with_chain(&to_a);
        let a_meta = new_a.meta(&json!({}), [5; 12]);
        present(&viewer, &[(&a_meta, new_a.me())]);
        assert_eq!(viewer.believed(), to_a);
        let x = Signer::from_seed([9; 32]);
        let y = Signer::from_seed([10; 32]);
        let fork = host
            .hand_over(x.public())
            .unwrap()
            .hand_over(&link.session, &x, y.public())
            .unwrap();
        let reclaim = SessionIdentity::new(&link, Role::Host, 50, y).with_chain(&fork);
        let meta = reclaim.meta(&json!({}), [6; 12]);
        assert_eq!(
            viewer.verify(&claimed(&meta, reclaim.me())),
            Err(Rejection::FormerHost)
        );
        // A controller that saw A host is offered a different first handover, to itself,
        // by the former host: it names its key, but does not extend what it believed.
        let z = Signer::from_seed([11; 32]);
        let controller = SessionIdentity::new(&link, Role::Controller, 60, z.clone());
        present(
            &controller,
            &[(&new_a.meta(&json!({}), [7; 12]), new_a.me())],
        );
        let to_z = host.hand_over(z.public()).unwrap();
        assert_eq!(to_z.head(&link.session, &link.host), Some(z.public()));
        assert!(!controller.is_handed(&to_z));
        // Before it saw A, the same offer would have been good.
        let fresh = SessionIdentity::new(&link, Role::Controller, 60, z);
        assert!(fresh.is_handed(&to_z));
        // The former host's own page, once it believed A, does not believe its fork either.
        present(&host, &[(&new_a.meta(&json!({}), [8; 12]), new_a.me())]);
        assert!(host.superseded());
        assert_eq!(
            host.verify(&claimed(&meta, reclaim.me())),
            Err(Rejection::FormerHost)
        );

        // A reloaded viewer believes what its tab kept, so the fork is not believed first
        // even if it verifies first; a kept chain that does not verify is not believed.
        let reloaded = SessionIdentity::new(&link, Role::Viewer, 70, Signer::from_seed([6; 32]));
        assert!(reloaded.believe(&viewer.believed()));
        assert_eq!(
            reloaded.verify(&claimed(&meta, reclaim.me())),
            Err(Rejection::FormerHost)
        );
        let stranger = SessionIdentity::new(&link, Role::Viewer, 80, Signer::from_seed([12; 32]));
        assert!(!stranger.believe(
            &HostChain::default()
                .hand_over(&link.session, &x, a.public())
                .unwrap()
        ));
        assert!(
            stranger.verify(&claimed(&meta, reclaim.me())).is_ok(),
            "a page that saw nothing"
        );
        // A page that saw nothing and finds A and the fork present together believes neither,
        // whichever comes first: two handovers of the same role part, and the forking former
        // host picks the order (presence keys) in which a page reads them.
        for order in [
            [(&a_meta, new_a.me()), (&meta, reclaim.me())],
            [(&meta, reclaim.me()), (&a_meta, new_a.me())],
        ] {
            let fresh = SessionIdentity::new(&link, Role::Viewer, 90, Signer::from_seed([13; 32]));
            let roster = present(&fresh, &order);
            assert!(roster.host_forked());
            assert_eq!(roster.host_chain(), Err(crate::roster::HostFork));
            assert!(fresh.believed().is_empty() && fresh.parted());
            // Once the fork is gone, or A is (its socket dropped for a moment), the page still
            // believes neither: being left alone proves nothing.
            present(&fresh, &[(&meta, reclaim.me())]);
            present(&fresh, &[(&a_meta, new_a.me())]);
            assert!(fresh.believed().is_empty() && fresh.parted());
            // A page opened afterwards, with A alone, follows A; the fork coming back is a
            // former host's there.
            let later = SessionIdentity::new(&link, Role::Viewer, 95, Signer::from_seed([14; 32]));
            present(&later, &[(&a_meta, new_a.me())]);
            assert_eq!(later.believed(), to_a);
            assert_eq!(
                later.verify(&claimed(&meta, reclaim.me())),
                Err(Rejection::FormerHost)
            );
        }
        // A fork under the real host's own presence key, ahead of it (the server lets a
        // client choose its key; a re-track puts the real meta last): that key is not the
        // fork's participant id, so its meta is nobody's (counted as shadowed) and the page
        // follows A. To be seen at all the fork must come under its own id, where it is a fork.
        let fresh = SessionIdentity::new(&link, Role::Viewer, 90, Signer::from_seed([13; 32]));
        let squatter = SessionIdentity::new(&link, Role::Host, 51, Signer::from_seed([10; 32]))
            .with_chain(&fork)
            .with_id(new_a.me());
        let squat = squatter.meta(&json!({}), [10; 12]);
        assert_eq!(
            fresh.verify(&claimed(&squat, new_a.me())),
            Err(Rejection::ForeignId)
        );
        let roster = listed(&fresh, &[(new_a.me(), &[&squat, &a_meta])]);
        assert_eq!(roster.len(), 1);
        assert_eq!(roster.counters().shadowed, 1);
        assert!(!roster.host_forked());
        assert_eq!(fresh.settle(&roster), Some(to_a.clone()));
        assert!(!fresh.parted());
        // The former host's meta beside A is one line of handovers, not a fork.
        let old_meta = host.meta(&json!({}), [9; 12]);
        let fresh = SessionIdentity::new(&link, Role::Viewer, 90, Signer::from_seed([13; 32]));
        assert!(!present(&fresh, &[(&old_meta, host.me()), (&a_meta, new_a.me())]).host_forked());
        assert_eq!(fresh.believed(), to_a);
        // The former host's own first-host meta under A's key, ahead of A's: nobody's (not
        // its id), so no fork; the key stays A's and A hosts.
        let fresh = SessionIdentity::new(&link, Role::Viewer, 90, Signer::from_seed([13; 32]));
        let old = SessionIdentity::new(&link, Role::Host, 11, host_key.signer().clone())
            .with_id(new_a.me())
            .meta(&json!({}), [11; 12]);
        assert_eq!(
            fresh.verify(&claimed(&old, new_a.me())),
            Err(Rejection::ForeignId)
        );
        let roster = listed(&fresh, &[(new_a.me(), &[&old, &a_meta])]);
        assert!(!roster.host_forked());
        assert_eq!(roster.get(new_a.me()).unwrap().signer, Some(a.public()));
        assert_eq!(fresh.settle(&roster), Some(to_a.clone()));
        // Nor does it take a guest's key from a page that joins later: under the viewer's key,
        // behind the viewer's own meta, the former host's first-host meta pins nothing.
        let fresh = SessionIdentity::new(&link, Role::Viewer, 90, Signer::from_seed([13; 32]));
        let own = viewer.meta(&json!({}), [12; 12]);
        let squat = SessionIdentity::new(&link, Role::Host, 12, host_key.signer().clone())
            .with_id(viewer.me())
            .meta(&json!({}), [13; 12]);
        let roster = listed(
            &fresh,
            &[(new_a.me(), &[&a_meta]), (viewer.me(), &[&own, &squat])],
        );
        assert_eq!(roster.get(viewer.me()).unwrap().role, Role::Viewer);
        assert_eq!(fresh.settle(&roster), Some(to_a.clone()));
    }

    /// `page`'s roster of `keys`, each a presence key with its metas in the order the server
    /// lists them (oldest first), once they are verified.
    fn listed(page: &SessionIdentity, keys: &[(&str, &[&Value])]) -> Roster {
        let mut state = serde_json::Map::new();
        let mut refs = 0..;
        for (key, metas) in keys {
            let metas: Vec<Value> = metas
                .iter()
                .zip(&mut refs)
                .map(|(meta, n)| {
                    let mut meta = (*meta).clone();
                    meta["phx_ref"] = json!(n.to_string());
                    meta
                })
                .collect();
            state.insert((*key).to_owned(), json!({ "metas": metas }));
        }
        let state: crate::realtime::PresenceState =
            serde_json::from_value(Value::Object(state)).unwrap();
        let mut roster = Roster::new();
        roster.replace(&state, &|p| page.verify(p));
        roster
    }

    /// What `page` makes of `metas` present together (one presence key each): its roster once
    /// they are verified, and what it then believes (`settle`).
    fn present(page: &SessionIdentity, metas: &[(&Value, &str)]) -> Roster {
        let keys: Vec<(&str, [&Value; 1])> =
            metas.iter().map(|(meta, id)| (*id, [*meta])).collect();
        let keys: Vec<(&str, &[&Value])> = keys.iter().map(|(id, m)| (*id, &m[..])).collect();
        let roster = listed(page, &keys);
        page.settle(&roster);
        roster
    }

    #[test]
    fn the_host_seats_a_controller_only_with_the_controller_secret() {
        let (link, host_key) = session();
        assert!(link.controller.is_some());
        let host = SessionIdentity::new(&link, Role::Host, 10, host_key.signer().clone());
        let controller =
            SessionIdentity::new(&link, Role::Controller, 20, Signer::from_seed([4; 32]));
        let real = controller.meta(&json!({"name": "C"}), [1; 12]);
        assert_eq!(
            host.verify(&claimed(&real, controller.me())).unwrap().role,
            Role::Controller
        );

        // A viewer link holder (room key and its own key, no controller secret) claims it.
        let mut viewer_link = link.clone();
        viewer_link.controller = None;
        let forger = SessionIdentity::new(
            &viewer_link,
            Role::Controller,
            30,
            Signer::from_seed([5; 32]),
        );
        let forged = forger.meta(&json!({"name": "V"}), [2; 12]);
        let seen = host.verify(&claimed(&forged, forger.me())).unwrap();
        assert_eq!(seen.role, Role::Viewer, "seated as what it can prove");
        assert_eq!(seen.profile["name"], "V");

        // … or copies the real controller's proof into a meta of its own.
        let mut profile = controller.open(&claimed(&real, controller.me())).unwrap();
        profile.as_object_mut().unwrap().remove("key");
        let copied = forger.meta(&profile, [3; 12]);
        assert_eq!(
            host.verify(&claimed(&copied, forger.me())).unwrap().role,
            Role::Viewer
        );

        // Guests cannot check the claim (they hold no secret, or do not decide seats).
        let guest =
            SessionIdentity::new(&viewer_link, Role::Viewer, 40, Signer::from_seed([6; 32]));
        assert_eq!(
            guest.verify(&claimed(&forged, forger.me())).unwrap().role,
            Role::Controller
        );
    }
}
