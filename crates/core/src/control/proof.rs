//! The controller proof: HMAC-SHA256 over a host-issued nonce, the participant id and the DTLS
//! fingerprints of both ends of the data channel it travels on, keyed with the link's
//! controller secret. It shows the secret is held without revealing it, and binds the proof to
//! one challenge (nonce), one participant (id) and one connection (fingerprints): a
//! participant who sits between a controller and the host and relays the challenge and the
//! proof presents it on a connection whose fingerprints differ, and the host refuses it.
//!
//! Also the seat proof ([`seat_proof`]): the controller secret's HMAC over the session, the
//! participant id and the key its presence meta is signed with, carried in a controller's
//! sealed profile, without which the host seats a `controller` claim as a viewer.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::link::ControllerSecret;

/// Bytes of nonce the host issues per data channel.
pub const NONCE_LEN: usize = 16;

const LABEL: &[u8] = b"pairux control request v2";

/// The DTLS fingerprints of one peer connection, host end and participant end, as each SDP
/// announced them (`a=fingerprint:`). Each side reads them from its own local and remote
/// descriptions; DTLS itself checks that the certificates match them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelBinding {
    pub host: String,
    pub participant: String,
}

/// The DTLS fingerprint an SDP announces, normalised (`sha-256 AB:CD:…`); the first one if
/// several. `None` when there is none.
pub fn dtls_fingerprint(sdp: &str) -> Option<String> {
    let line = sdp
        .lines()
        .find_map(|l| l.trim().strip_prefix("a=fingerprint:"))?;
    let (algorithm, value) = line.trim().split_once(' ')?;
    let value = value.trim();
    if algorithm.is_empty() || value.is_empty() || value.len() > 200 {
        return None;
    }
    Some(format!(
        "{} {}",
        algorithm.to_ascii_lowercase(),
        value.to_ascii_uppercase()
    ))
}

/// HMAC-SHA256 keyed with the controller secret over `label` and `parts`, each
/// length-prefixed: no two inputs share an encoding.
fn keyed(secret: &ControllerSecret, label: &[u8], parts: &[&[u8]]) -> Hmac<Sha256> {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes keys of any size");
    for part in std::iter::once(label).chain(parts.iter().copied()) {
        mac.update(&(part.len() as u32).to_be_bytes());
        mac.update(part);
    }
    mac
}

fn mac(
    secret: &ControllerSecret,
    nonce: &str,
    participant_id: &str,
    binding: &ChannelBinding,
) -> Hmac<Sha256> {
    keyed(
        secret,
        LABEL,
        &[
            nonce.as_bytes(),
            participant_id.as_bytes(),
            binding.host.as_bytes(),
            binding.participant.as_bytes(),
        ],
    )
}

const SEAT_LABEL: &[u8] = b"pairux controller seat v1";

fn seat_mac(
    secret: &ControllerSecret,
    session: &str,
    participant_id: &str,
    key: &str,
) -> Hmac<Sha256> {
    keyed(
        secret,
        SEAT_LABEL,
        &[
            session.as_bytes(),
            participant_id.as_bytes(),
            key.as_bytes(),
        ],
    )
}

/// What a controller's presence carries to take a controller's seat (base64url): the
/// controller secret's HMAC over the session, its participant id and the public key its meta
/// is signed with. A viewer holds no secret to make one, and one read from another
/// controller's profile names that controller's id and key, not the reader's.
pub fn seat_proof(
    secret: &ControllerSecret,
    session: &str,
    participant_id: &str,
    key: &str,
) -> String {
    tag(seat_mac(secret, session, participant_id, key))
}

/// Constant-time check of a seat proof.
pub fn verify_seat_proof(
    secret: &ControllerSecret,
    session: &str,
    participant_id: &str,
    key: &str,
    proof: &str,
) -> bool {
    matches(seat_mac(secret, session, participant_id, key), proof)
}

/// A MAC's tag as sent (base64url).
fn tag(mac: Hmac<Sha256>) -> String {
    URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
}

/// Constant-time check of a received tag (base64url) against `mac`.
fn matches(mac: Hmac<Sha256>, proof: &str) -> bool {
    URL_SAFE_NO_PAD
        .decode(proof)
        .is_ok_and(|tag| mac.verify_slice(&tag).is_ok())
}

/// The proof a controller sends with its request (base64url).
pub fn control_proof(
    secret: &ControllerSecret,
    nonce: &str,
    participant_id: &str,
    binding: &ChannelBinding,
) -> String {
    tag(mac(secret, nonce, participant_id, binding))
}

/// Constant-time check of a received proof.
pub fn verify_proof(
    secret: &ControllerSecret,
    nonce: &str,
    participant_id: &str,
    binding: &ChannelBinding,
    proof: &str,
) -> bool {
    matches(mac(secret, nonce, participant_id, binding), proof)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn binding(host: &str, participant: &str) -> ChannelBinding {
        ChannelBinding {
            host: host.into(),
            participant: participant.into(),
        }
    }

    #[test]
    fn proofs_bind_secret_nonce_participant_and_connection() {
        let secret = ControllerSecret::from_bytes([7; 32]);
        let other = ControllerSecret::from_bytes([8; 32]);
        let b = binding("sha-256 AA", "sha-256 BB");
        let proof = control_proof(&secret, "n1", "alice", &b);
        assert!(verify_proof(&secret, "n1", "alice", &b, &proof));
        assert!(!verify_proof(&other, "n1", "alice", &b, &proof));
        assert!(!verify_proof(&secret, "n2", "alice", &b, &proof));
        assert!(!verify_proof(&secret, "n1", "mallory", &b, &proof));
        // Relayed: the host's connection to the relay has other fingerprints on either end.
        assert!(!verify_proof(
            &secret,
            "n1",
            "alice",
            &binding("sha-256 CC", "sha-256 BB"),
            &proof
        ));
        assert!(!verify_proof(
            &secret,
            "n1",
            "alice",
            &binding("sha-256 AA", "sha-256 DD"),
            &proof
        ));
        assert!(!verify_proof(
            &secret,
            "n1",
            "alice",
            &binding("sha-256 BB", "sha-256 AA"),
            &proof
        ));
        assert!(!verify_proof(
            &secret,
            "n1a",
            "lice",
            &b,
            &control_proof(&secret, "n1", "alice", &b)
        ));
        assert!(!verify_proof(&secret, "n1", "alice", &b, "not base64 !"));
        assert!(!verify_proof(&secret, "n1", "alice", &b, ""));
    }

    #[test]
    fn fingerprints_are_read_from_sdp() {
        let sdp = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\na=fingerprint:SHA-256 ab:cd:EF\r\na=setup:actpass\r\n";
        assert_eq!(dtls_fingerprint(sdp).as_deref(), Some("sha-256 AB:CD:EF"));
        assert_eq!(dtls_fingerprint("v=0\r\n"), None);
        assert_eq!(dtls_fingerprint("a=fingerprint:sha-256"), None);
        assert_eq!(dtls_fingerprint(""), None);
    }

    #[test]
    fn seat_proofs_bind_secret_session_participant_and_key() {
        let secret = ControllerSecret::from_bytes([7; 32]);
        let proof = seat_proof(&secret, "s1", "alice", "K1");
        assert!(verify_seat_proof(&secret, "s1", "alice", "K1", &proof));
        let other = ControllerSecret::from_bytes([8; 32]);
        assert!(!verify_seat_proof(&other, "s1", "alice", "K1", &proof));
        assert!(!verify_seat_proof(&secret, "s2", "alice", "K1", &proof));
        assert!(!verify_seat_proof(&secret, "s1", "mallory", "K1", &proof));
        assert!(!verify_seat_proof(&secret, "s1", "alice", "K2", &proof));
        assert!(!verify_seat_proof(
            &secret,
            "s1",
            "alice",
            "K1",
            "not base64!"
        ));
        assert!(!verify_seat_proof(&secret, "s1", "alice", "K1", ""));
        // Never the control request's tag for the same fields.
        assert_ne!(
            proof,
            control_proof(&secret, "s1", "alice", &binding("K1", ""))
        );
    }
}
