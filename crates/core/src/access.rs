//! Proving to pairux-server that one holds a session's link, without giving it anything from the
//! fragment — the gate in front of TURN credentials and Janus tokens (`POST /api/access`).
//!
//! Every holder of a link derives the same **access key** from the room key and the session id
//! (HKDF-SHA256 → an Ed25519 seed). The server learns only its public half, the *verifier*:
//! the first valid request for a session pins it (the host asks when the session starts, before
//! any link exists, so nobody else can pin a different one), later requests must be signed by
//! the pinned verifier. A public key cannot sign, so a server (or whoever reads its memory or
//! database) cannot present itself as a link holder elsewhere, and nothing it stores lets it
//! derive the room key.
//!
//! A request is a signature over (session, unix time, a random nonce, what is asked for). The
//! server accepts it within [`MAX_SKEW_SECS`] of its clock and only once per nonce: one round
//! trip, no server-issued challenge, no replay.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use hkdf::Hkdf;
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::config::IceServer;
use crate::identity::{decode_signature, encode_signature, PublicKey, Signer, Statement};
use crate::link::{RoomKey, SessionId};

/// Label of every access statement.
const LABEL: &[u8] = b"pairux/access/v1";
/// HKDF info of the access key.
const KDF_INFO: &[u8] = b"pairux access key v1";
/// How far a request's time may be from the server's clock.
pub const MAX_SKEW_SECS: u64 = 300;
/// Bytes of a request nonce.
pub const NONCE_LEN: usize = 16;

/// The key every holder of a session's link can derive; its public half is the verifier.
pub struct AccessKey(Signer);

impl AccessKey {
    pub fn derive(room: &RoomKey, session: &SessionId) -> Self {
        let hk = Hkdf::<Sha256>::new(Some(session.as_bytes()), room.as_bytes());
        let mut seed = [0u8; 32];
        hk.expand(KDF_INFO, &mut seed)
            .expect("32 bytes is a valid HKDF-SHA256 output length");
        AccessKey(Signer::from_seed(seed))
    }

    pub fn verifier(&self) -> PublicKey {
        self.0.public()
    }

    /// A signed request for `want`, made at `now_secs` with `nonce` (random, from the caller).
    pub fn request(
        &self,
        session: &SessionId,
        now_secs: u64,
        nonce: &[u8; NONCE_LEN],
        want: Want,
    ) -> AccessRequest {
        let nonce = URL_SAFE_NO_PAD.encode(nonce);
        let session = session.to_string();
        let statement = statement(&session, now_secs, &nonce, want);
        AccessRequest {
            session,
            time: now_secs,
            nonce,
            want,
            verifier: self.verifier().encode(),
            signature: encode_signature(&self.0.sign(&statement)),
            region: None,
        }
    }
}

impl std::fmt::Debug for AccessKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AccessKey(<redacted>)")
    }
}

/// What a request asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Want {
    /// TURN credentials (and the focus's current decision).
    Ice,
    /// TURN credentials, a room on the session's SFU node and a Janus token. A session without
    /// a start mode yet is pinned to SFU mode (a host starting in SFU mode); a P2P-pinned
    /// session or an Auto session the focus keeps P2P gets no room.
    Sfu,
    /// The host starts in Auto mode: pins the session's start mode (the first mode-bearing
    /// request wins, like the verifier) and grants like `Ice`.
    Auto,
    /// The host starts in P2P mode: the focus never moves this session; grants like `Ice`.
    P2p,
}

impl Want {
    fn tag(self) -> &'static [u8] {
        match self {
            Want::Ice => b"ice",
            Want::Sfu => b"sfu",
            Want::Auto => b"auto",
            Want::P2p => b"p2p",
        }
    }
}

fn statement(session: &str, time: u64, nonce: &str, want: Want) -> Statement {
    let mut s = Statement::new(LABEL);
    s.field(session.as_bytes())
        .number(time)
        .field(nonce.as_bytes())
        .field(want.tag());
    s
}

/// The body of `POST /api/access`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessRequest {
    pub session: String,
    /// Unix seconds when it was made.
    pub time: u64,
    /// base64url of [`NONCE_LEN`] random bytes.
    pub nonce: String,
    pub want: Want,
    /// The access key's public half (base64url).
    pub verifier: String,
    /// base64url Ed25519 signature.
    pub signature: String,
    /// Where the asker is (config.json's `region`, or the page's `?region=`): a placement hint
    /// for the focus when the request opens a session, not part of the proof.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
}

/// Longest region name kept (longer hints are ignored).
pub const MAX_REGION_LEN: usize = 32;

impl AccessRequest {
    /// The region hint if it is a plausible name (`[a-z0-9-]`, at most [`MAX_REGION_LEN`]).
    pub fn region(&self) -> Option<&str> {
        self.region.as_deref().filter(|r| {
            !r.is_empty()
                && r.len() <= MAX_REGION_LEN
                && r.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        })
    }
}

/// Why the server refuses a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AccessError {
    #[error("not a session id")]
    Session,
    #[error("request time too far from the server's clock")]
    Stale,
    #[error("malformed nonce")]
    Nonce,
    #[error("malformed verifier or signature")]
    Malformed,
    #[error("signature does not verify")]
    Signature,
    #[error("not this session's verifier")]
    WrongVerifier,
    #[error("nonce already used")]
    Replayed,
}

impl AccessRequest {
    /// Checks the request's form, freshness and signature (not the pinning nor the replay,
    /// which need the server's memory): returns the session and the verifier it is signed by.
    pub fn check(&self, now_secs: u64) -> Result<(SessionId, PublicKey), AccessError> {
        let session = SessionId::parse(&self.session).map_err(|_| AccessError::Session)?;
        if self.time.abs_diff(now_secs) > MAX_SKEW_SECS {
            return Err(AccessError::Stale);
        }
        let nonce = URL_SAFE_NO_PAD
            .decode(&self.nonce)
            .map_err(|_| AccessError::Nonce)?;
        if nonce.len() != NONCE_LEN {
            return Err(AccessError::Nonce);
        }
        let verifier = PublicKey::parse(&self.verifier).ok_or(AccessError::Malformed)?;
        let signature = decode_signature(&self.signature).ok_or(AccessError::Malformed)?;
        let statement = statement(&self.session, self.time, &self.nonce, self.want);
        if !verifier.verifies(&statement, &signature) {
            return Err(AccessError::Signature);
        }
        Ok((session, verifier))
    }
}

/// The answer to an accepted request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AccessGrant {
    /// STUN and TURN servers with time-limited credentials.
    pub ice_servers: Vec<IceServer>,
    /// Unix seconds after which the TURN credentials stop working (ask again before).
    pub expires_at: u64,
    /// Where to publish or subscribe, for [`Want::Sfu`] when the server has an SFU.
    #[serde(default)]
    pub sfu: Option<SfuGrant>,
    /// The focus's current decision for this session (signed; check it with
    /// [`crate::focus::FocusFollower`] before acting), when the session has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub focus: Option<crate::focus::SignedDecision>,
}

/// A room on one Janus, and this participant's token for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SfuGrant {
    /// The Janus WebSocket (subprotocol `janus-protocol`).
    pub janus_url: String,
    pub room: u64,
    pub pin: String,
    /// Janus `token_auth` token, for this participant only.
    pub token: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> (RoomKey, SessionId) {
        (RoomKey::from_bytes([7; 32]), SessionId::from_bytes([9; 16]))
    }

    #[test]
    fn every_link_holder_derives_the_same_verifier_and_it_differs_per_session() {
        let (room, session) = keys();
        let a = AccessKey::derive(&room, &session).verifier();
        let b = AccessKey::derive(&room, &session).verifier();
        assert_eq!(a, b);
        let other = AccessKey::derive(&room, &SessionId::from_bytes([1; 16])).verifier();
        assert_ne!(a, other);
        let other = AccessKey::derive(&RoomKey::from_bytes([8; 32]), &session).verifier();
        assert_ne!(a, other);
    }

    #[test]
    fn a_request_checks_and_every_edit_breaks_it() {
        let (room, session) = keys();
        let key = AccessKey::derive(&room, &session);
        let req = key.request(&session, 1_000, &[3; NONCE_LEN], Want::Sfu);
        assert_eq!(req.check(1_000), Ok((session, key.verifier())));
        assert_eq!(
            req.check(1_000 + MAX_SKEW_SECS),
            Ok((session, key.verifier()))
        );
        assert_eq!(
            req.check(1_000 + MAX_SKEW_SECS + 1),
            Err(AccessError::Stale)
        );

        let mut r = req.clone();
        r.want = Want::Ice;
        assert_eq!(r.check(1_000), Err(AccessError::Signature));
        let mut r = req.clone();
        r.time += 1;
        assert_eq!(r.check(1_000), Err(AccessError::Signature));
        let mut r = req.clone();
        r.nonce = URL_SAFE_NO_PAD.encode([4; NONCE_LEN]);
        assert_eq!(r.check(1_000), Err(AccessError::Signature));
        let mut r = req.clone();
        r.session = SessionId::from_bytes([1; 16]).to_string();
        assert_eq!(r.check(1_000), Err(AccessError::Signature));
        // Someone without the room key signs with a key of their own: it verifies as itself,
        // which is why the server compares the verifier with the pinned one.
        let stranger = AccessKey::derive(&RoomKey::from_bytes([0; 32]), &session);
        let forged = stranger.request(&session, 1_000, &[3; NONCE_LEN], Want::Sfu);
        assert_ne!(forged.check(1_000).unwrap().1, key.verifier());
        let mut r = req.clone();
        r.verifier = stranger.verifier().encode();
        assert_eq!(r.check(1_000), Err(AccessError::Signature));
        let mut r = req;
        r.nonce = "short".into();
        assert_eq!(r.check(1_000), Err(AccessError::Nonce));
    }

    #[test]
    fn the_wire_form_is_stable() {
        let (room, session) = keys();
        let req = AccessKey::derive(&room, &session).request(&session, 5, &[0; 16], Want::Ice);
        let json = serde_json::to_value(&req).unwrap();
        assert_eq!(json["want"], "ice");
        assert_eq!(json["time"], 5);
        assert_eq!(json["nonce"], "AAAAAAAAAAAAAAAAAAAAAA");
        let grant: AccessGrant = serde_json::from_str(
            r#"{"iceServers":[{"urls":"turn:198.51.100.1:3478?transport=udp","username":"9:x","credential":"c"}],
                "expiresAt":9,"sfu":{"janusUrl":"ws://198.51.100.1:8188","room":4242,"pin":"p","token":"t"}}"#,
        )
        .unwrap();
        assert_eq!(grant.sfu.unwrap().room, 4242);
    }
}
