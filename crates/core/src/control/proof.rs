//! The controller proof: HMAC-SHA256 over a host-issued nonce and the participant id, keyed
//! with the link's controller secret. It shows the secret is held without revealing it, and
//! binds the proof to one channel (nonce) and one participant (id), so it cannot be replayed
//! by someone else or on another connection.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::link::ControllerSecret;

/// Bytes of nonce the host issues per data channel.
pub const NONCE_LEN: usize = 16;

const LABEL: &[u8] = b"pairux control request v1";

fn mac(secret: &ControllerSecret, nonce: &str, participant_id: &str) -> Hmac<Sha256> {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes keys of any size");
    // Length-prefixed fields: no two (nonce, id) pairs share an input.
    for part in [LABEL, nonce.as_bytes(), participant_id.as_bytes()] {
        mac.update(&(part.len() as u32).to_be_bytes());
        mac.update(part);
    }
    mac
}

/// The proof a controller sends with its request (base64url).
pub fn control_proof(secret: &ControllerSecret, nonce: &str, participant_id: &str) -> String {
    URL_SAFE_NO_PAD.encode(mac(secret, nonce, participant_id).finalize().into_bytes())
}

/// Constant-time check of a received proof.
pub fn verify_proof(
    secret: &ControllerSecret,
    nonce: &str,
    participant_id: &str,
    proof: &str,
) -> bool {
    let Ok(tag) = URL_SAFE_NO_PAD.decode(proof) else {
        return false;
    };
    mac(secret, nonce, participant_id)
        .verify_slice(&tag)
        .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proofs_bind_secret_nonce_and_participant() {
        let secret = ControllerSecret::from_bytes([7; 32]);
        let other = ControllerSecret::from_bytes([8; 32]);
        let proof = control_proof(&secret, "n1", "alice");
        assert!(verify_proof(&secret, "n1", "alice", &proof));
        assert!(!verify_proof(&other, "n1", "alice", &proof));
        assert!(!verify_proof(&secret, "n2", "alice", &proof));
        assert!(!verify_proof(&secret, "n1", "mallory", &proof));
        assert!(!verify_proof(
            &secret,
            "n1a",
            "lice",
            &control_proof(&secret, "n1", "alice")
        ));
        assert!(!verify_proof(&secret, "n1", "alice", "not base64 !"));
        assert!(!verify_proof(&secret, "n1", "alice", ""));
    }
}
