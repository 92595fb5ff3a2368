//! Media epochs: what makes a removal stick against someone who still holds the link.
//!
//! Every holder of the link has the room key, which is the media secret of epoch 0. When the
//! host removes someone it moves the session to epoch `n + 1`, whose secret it derives from a
//! seed only its tab knows, and hands that secret to each remaining participant alone, wrapped
//! to the participant's own X25519 key (published in its signed, sealed presence profile). The
//! removed person, and anyone the host has not let in since, never gets it: with the room key
//! they can still read presence and signals, but no frame of the new epoch — through the SFU
//! included, whatever its subscription does.
//!
//! ```text
//! epoch secret(n)   = HKDF-SHA256(salt = "", ikm = host seed).expand("PairUX 1.0 media epoch" ‖ n, 32)
//! agreement secret  = HKDF-SHA256(salt = "", ikm = join key seed).expand("PairUX 1.0 key agreement", 32)
//! ephemeral         = HKDF-SHA256(salt = recipient public, ikm = epoch secret)
//!                       .expand("PairUX 1.0 key wrap ephemeral" ‖ context, 32)
//! shared            = X25519(ephemeral, recipient public)          (refused if all zero)
//! kek               = HKDF-SHA256(salt = ephemeral public ‖ recipient public, ikm = shared)
//!                       .expand("PairUX 1.0 key wrap" ‖ context, 32)
//! wrapped           = ephemeral public (32) ‖ AES-256-GCM(kek, nonce 0, aad = label ‖ context, secret) (48)
//! context           = session id, recipient participant id (each u32-BE length-prefixed) ‖ epoch (u32 BE)
//! ```
//! The ephemeral key is derived, not drawn: one per (secret, recipient, context), so each KEK
//! seals exactly one message (wrapping the same secret to the same person again gives the same
//! bytes) and this module needs no randomness. The agreement key is separate from the signing
//! key (same seed, another label), so the Ed25519 key is never used for Diffie-Hellman.

use aes_gcm::aead::AeadInOut;
use aes_gcm::{Aes256Gcm, KeyInit, Nonce, Tag};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use curve25519_dalek::montgomery::MontgomeryPoint;
use hkdf::Hkdf;
use sha2::Sha256;

use super::sframe::TAG_LEN;
use super::E2eeError;
use crate::identity::Signer;
use crate::link::RoomKey;

/// Bytes of an X25519 key.
pub const AGREEMENT_KEY_LEN: usize = 32;
/// Bytes of a wrapped epoch secret.
pub const WRAPPED_LEN: usize = AGREEMENT_KEY_LEN + 32 + TAG_LEN;

const EPOCH_LABEL: &[u8] = b"PairUX 1.0 media epoch";
const AGREEMENT_LABEL: &[u8] = b"PairUX 1.0 key agreement";
const EPHEMERAL_LABEL: &[u8] = b"PairUX 1.0 key wrap ephemeral";
const WRAP_LABEL: &[u8] = b"PairUX 1.0 key wrap";

/// HKDF-SHA256 of `ikm`, 32 bytes expanded with `info`'s parts in order.
pub(crate) fn hkdf(salt: Option<&[u8]>, ikm: &[u8], info: &[&[u8]]) -> [u8; 32] {
    let mut out = [0u8; 32];
    Hkdf::<Sha256>::new(salt, ikm)
        .expand_multi_info(info, &mut out)
        .expect("32 bytes ≤ 255·32");
    out
}

/// The media secret of `epoch` (≥ 1) from the host's seed.
pub fn epoch_secret(seed: &[u8; 32], epoch: u32) -> RoomKey {
    RoomKey::from_bytes(hkdf(None, seed, &[EPOCH_LABEL, &epoch.to_be_bytes()]))
}

/// A participant's X25519 key for receiving epoch secrets, from its join key's seed (so a
/// reloaded tab, which keeps that seed, keeps this key too).
#[derive(Clone)]
pub struct AgreementKey {
    secret: [u8; AGREEMENT_KEY_LEN],
    public: [u8; AGREEMENT_KEY_LEN],
}

impl AgreementKey {
    pub fn from_signer(signer: &Signer) -> Self {
        let secret = hkdf(None, &signer.seed(), &[AGREEMENT_LABEL]);
        AgreementKey {
            public: MontgomeryPoint::mul_base_clamped(secret).to_bytes(),
            secret,
        }
    }

    pub fn public(&self) -> [u8; AGREEMENT_KEY_LEN] {
        self.public
    }

    /// The public key as it goes in the profile (`kx`, 43 base64url characters).
    pub fn encode_public(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.public)
    }

    /// X25519 with `their` public key; `None` for a point no honest key is (a zero result,
    /// which anyone could compute).
    pub(crate) fn agree(&self, their: &[u8; AGREEMENT_KEY_LEN]) -> Option<[u8; 32]> {
        let shared = MontgomeryPoint(*their).mul_clamped(self.secret).to_bytes();
        (shared != [0u8; 32]).then_some(shared)
    }
}

impl std::fmt::Debug for AgreementKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "AgreementKey(<redacted>, public {})",
            self.encode_public()
        )
    }
}

/// Parses a profile's `kx`.
pub fn parse_agreement_public(text: &str) -> Option<[u8; AGREEMENT_KEY_LEN]> {
    if text.len() != 43 {
        return None;
    }
    URL_SAFE_NO_PAD.decode(text).ok()?.try_into().ok()
}

/// What a wrapped secret is bound to: a copy for one person in one session and epoch opens
/// for nobody else, nowhere else.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WrapContext<'a> {
    pub session: &'a str,
    pub recipient: &'a str,
    pub epoch: u32,
}

impl WrapContext<'_> {
    fn bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for field in [self.session, self.recipient] {
            let len = u32::try_from(field.len()).unwrap_or(u32::MAX);
            out.extend_from_slice(&len.to_be_bytes());
            out.extend_from_slice(field.as_bytes());
        }
        out.extend_from_slice(&self.epoch.to_be_bytes());
        out
    }
}

fn kek(shared: &[u8; 32], ephemeral: &[u8; 32], recipient: &[u8; 32], ctx: &[u8]) -> Aes256Gcm {
    let mut salt = [0u8; 64];
    salt[..32].copy_from_slice(ephemeral);
    salt[32..].copy_from_slice(recipient);
    Aes256Gcm::new(&hkdf(Some(&salt), shared, &[WRAP_LABEL, ctx]).into())
}

fn aad(ctx: &[u8]) -> Vec<u8> {
    [WRAP_LABEL, ctx].concat()
}

/// `secret` wrapped for the holder of the agreement key `to`; `None` if `to` is a point no
/// honest key is (its shared secret would be zero, readable by anyone).
pub fn wrap(
    secret: &RoomKey,
    to: &[u8; AGREEMENT_KEY_LEN],
    ctx: WrapContext<'_>,
) -> Option<Vec<u8>> {
    let context = ctx.bytes();
    let ephemeral = hkdf(Some(to), secret.as_bytes(), &[EPHEMERAL_LABEL, &context]);
    let ephemeral_public = MontgomeryPoint::mul_base_clamped(ephemeral).to_bytes();
    let shared = MontgomeryPoint(*to).mul_clamped(ephemeral).to_bytes();
    if shared == [0u8; 32] {
        return None;
    }
    let mut out = Vec::with_capacity(WRAPPED_LEN);
    out.extend_from_slice(&ephemeral_public);
    out.extend_from_slice(secret.as_bytes());
    let tag = kek(&shared, &ephemeral_public, to, &context)
        .encrypt_inout_detached(
            &Nonce::default(),
            &aad(&context),
            (&mut out[AGREEMENT_KEY_LEN..]).into(),
        )
        .expect("32 bytes are far below the AES-GCM limit");
    out.extend_from_slice(&tag);
    Some(out)
}

/// The secret in `wrapped`, if it was wrapped for `me` in exactly this context.
pub fn unwrap(
    wrapped: &[u8],
    me: &AgreementKey,
    ctx: WrapContext<'_>,
) -> Result<RoomKey, E2eeError> {
    if wrapped.len() != WRAPPED_LEN {
        return Err(E2eeError::MalformedSealed);
    }
    let (ephemeral_public, rest) = wrapped.split_at(AGREEMENT_KEY_LEN);
    let (ciphertext, tag) = rest.split_at(32);
    let ephemeral_public: [u8; 32] = ephemeral_public
        .try_into()
        .map_err(|_| E2eeError::MalformedSealed)?;
    let shared = MontgomeryPoint(ephemeral_public)
        .mul_clamped(me.secret)
        .to_bytes();
    if shared == [0u8; 32] {
        return Err(E2eeError::Authentication);
    }
    let context = ctx.bytes();
    let tag = Tag::try_from(tag).map_err(|_| E2eeError::MalformedSealed)?;
    let mut secret = [0u8; 32];
    secret.copy_from_slice(ciphertext);
    kek(&shared, &ephemeral_public, &me.public, &context)
        .decrypt_inout_detached(
            &Nonce::default(),
            &aad(&context),
            secret.as_mut_slice().into(),
            &tag,
        )
        .map_err(|_| E2eeError::Authentication)?;
    Ok(RoomKey::from_bytes(secret))
}

/// [`wrap`], base64url for a signal body.
pub fn wrap_text(
    secret: &RoomKey,
    to: &[u8; AGREEMENT_KEY_LEN],
    ctx: WrapContext<'_>,
) -> Option<String> {
    wrap(secret, to, ctx).map(|w| URL_SAFE_NO_PAD.encode(w))
}

/// [`unwrap`] of a signal body's base64url text.
pub fn unwrap_text(
    text: &str,
    me: &AgreementKey,
    ctx: WrapContext<'_>,
) -> Result<RoomKey, E2eeError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(text)
        .map_err(|_| E2eeError::MalformedSealed)?;
    unwrap(&bytes, me, ctx)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(recipient: &str, epoch: u32) -> WrapContext<'_> {
        WrapContext {
            session: "sess",
            recipient,
            epoch,
        }
    }

    fn person(b: u8) -> AgreementKey {
        AgreementKey::from_signer(&Signer::from_seed([b; 32]))
    }

    #[test]
    fn the_recipient_and_only_the_recipient_opens_its_copy() {
        let secret = epoch_secret(&[9; 32], 1);
        let (alice, bob) = (person(1), person(2));
        let wrapped = wrap(&secret, &alice.public(), ctx("alice", 1)).unwrap();
        assert_eq!(wrapped.len(), WRAPPED_LEN);
        assert_eq!(unwrap(&wrapped, &alice, ctx("alice", 1)).unwrap(), secret);
        // Someone else's key, another participant id, epoch or session: nothing.
        assert_eq!(
            unwrap(&wrapped, &bob, ctx("alice", 1)),
            Err(E2eeError::Authentication)
        );
        for other in [ctx("bob", 1), ctx("alice", 2)] {
            assert_eq!(
                unwrap(&wrapped, &alice, other),
                Err(E2eeError::Authentication)
            );
        }
        let elsewhere = WrapContext {
            session: "other",
            ..ctx("alice", 1)
        };
        assert_eq!(
            unwrap(&wrapped, &alice, elsewhere),
            Err(E2eeError::Authentication)
        );
        // Any flipped bit is refused.
        for i in 0..wrapped.len() {
            let mut bad = wrapped.clone();
            bad[i] ^= 1;
            assert!(unwrap(&bad, &alice, ctx("alice", 1)).is_err(), "byte {i}");
        }
    }

    #[test]
    fn wrapping_is_deterministic_and_hides_the_secret() {
        let secret = epoch_secret(&[9; 32], 1);
        let alice = person(1);
        let a = wrap(&secret, &alice.public(), ctx("alice", 1)).unwrap();
        assert_eq!(a, wrap(&secret, &alice.public(), ctx("alice", 1)).unwrap());
        assert!(!a.windows(32).any(|w| w == secret.as_bytes()));
        // Another recipient gets another ephemeral key.
        let b = wrap(&secret, &person(2).public(), ctx("bob", 1)).unwrap();
        assert_ne!(a[..32], b[..32]);
    }

    #[test]
    fn epoch_secrets_differ_by_epoch_and_seed() {
        let a = epoch_secret(&[1; 32], 1);
        assert_ne!(a, epoch_secret(&[1; 32], 2));
        assert_ne!(a, epoch_secret(&[2; 32], 1));
        assert_eq!(a, epoch_secret(&[1; 32], 1));
    }

    #[test]
    fn the_agreement_key_is_not_the_signing_key() {
        let signer = Signer::from_seed([5; 32]);
        let key = AgreementKey::from_signer(&signer);
        assert_ne!(&key.public(), signer.public().as_bytes());
        assert_eq!(
            parse_agreement_public(&key.encode_public()),
            Some(key.public())
        );
        assert_eq!(parse_agreement_public("short"), None);
        assert!(!format!("{key:?}").contains(&URL_SAFE_NO_PAD.encode(key.secret)));
    }

    #[test]
    fn a_low_order_recipient_key_gets_nothing() {
        let secret = epoch_secret(&[9; 32], 1);
        // Zero and a point of order 8 on Curve25519.
        let hex = "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800";
        let mut order8 = [0u8; 32];
        for (i, byte) in order8.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap();
        }
        for to in [[0u8; 32], order8] {
            assert_eq!(wrap(&secret, &to, ctx("x", 1)), None);
        }
    }

    #[test]
    fn any_bytes_unwrap_to_an_error_not_a_panic() {
        let alice = person(1);
        for len in [0, 1, 31, 32, 79, 80, 81, 200] {
            let bytes = vec![0xa5; len];
            assert!(unwrap(&bytes, &alice, ctx("alice", 1)).is_err());
        }
        assert!(unwrap_text("!!", &alice, ctx("alice", 1)).is_err());
    }
}
