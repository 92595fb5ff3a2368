//! Signing identities (product.md §2): who said what, provable without trusting the server or
//! the other holders of a link.
//!
//! - The **host identity key** is created with the session. Its public half travels in both
//!   links' fragment as `h`; its private half never leaves the host's tab. The host signs its
//!   presence meta and every signal with it, so a guest accepts as host only the participant
//!   whose meta verifies under `h`.
//! - Every other **join** draws its own key pair; the public half rides in its sealed presence
//!   profile and its metas and signals are signed with the private half, so the host accepts
//!   a description "from G" only if G signed it.
//!
//! Ed25519 (`ed25519-dalek`, strict verification). Keys come from caller-supplied random bytes:
//! this module draws no randomness. What is signed is a length-prefixed statement under a
//! label per purpose, so no signature can be reused for another purpose or field split.

use std::fmt;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};

/// Bytes of a public key (→ 43 base64url characters) and of a private key seed.
pub const KEY_LEN: usize = 32;
/// Bytes of a signature (→ 86 base64url characters).
pub const SIGNATURE_LEN: usize = 64;

/// A participant's public signing key.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PublicKey([u8; KEY_LEN]);

impl PublicKey {
    /// The key's 32 bytes, or `None` if they are not a valid Ed25519 point or a weak
    /// (small-order) one, under which forged signatures would verify.
    pub fn from_bytes(bytes: [u8; KEY_LEN]) -> Option<Self> {
        let key = VerifyingKey::from_bytes(&bytes).ok()?;
        (!key.is_weak()).then_some(PublicKey(bytes))
    }

    pub fn as_bytes(&self) -> &[u8; KEY_LEN] {
        &self.0
    }

    /// Parses the 43-character base64url form (links, profiles).
    pub fn parse(text: &str) -> Option<Self> {
        if text.len() != 43 {
            return None;
        }
        let bytes: [u8; KEY_LEN] = URL_SAFE_NO_PAD.decode(text).ok()?.try_into().ok()?;
        Self::from_bytes(bytes)
    }

    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.0)
    }

    /// Whether `signature` is this key's signature over `statement` (strict: no malleable or
    /// small-order forms).
    pub fn verifies(&self, statement: &Statement, signature: &[u8]) -> bool {
        let Ok(signature) = <[u8; SIGNATURE_LEN]>::try_from(signature) else {
            return false;
        };
        let Ok(key) = VerifyingKey::from_bytes(&self.0) else {
            return false;
        };
        key.verify_strict(&statement.0, &Signature::from_bytes(&signature))
            .is_ok()
    }
}

impl fmt::Display for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.encode())
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({self})")
    }
}

/// A private signing key (the host's identity key, or one join's key). `Debug` never shows it.
#[derive(Clone)]
pub struct Signer(SigningKey);

impl Signer {
    /// A key from 32 random bytes (a CSPRNG's output, supplied by the caller).
    pub fn from_seed(seed: [u8; KEY_LEN]) -> Self {
        Signer(SigningKey::from_bytes(&seed))
    }

    /// The seed, for keeping the key in the tab's `sessionStorage` across a reload.
    pub fn seed(&self) -> [u8; KEY_LEN] {
        self.0.to_bytes()
    }

    pub fn public(&self) -> PublicKey {
        PublicKey(self.0.verifying_key().to_bytes())
    }

    pub fn sign(&self, statement: &Statement) -> [u8; SIGNATURE_LEN] {
        self.0.sign(&statement.0).to_bytes()
    }
}

impl fmt::Debug for Signer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Signer(<redacted>, public {})", self.public())
    }
}

/// What a signature covers: a purpose label, then each field length-prefixed (u32 BE; an
/// absent field is `0xffffffff`) or as a fixed-width number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement(Vec<u8>);

impl Statement {
    pub fn new(label: &[u8]) -> Self {
        let mut s = Statement(Vec::with_capacity(256));
        s.field(label);
        s
    }

    pub fn field(&mut self, bytes: &[u8]) -> &mut Self {
        let len = u32::try_from(bytes.len()).unwrap_or(u32::MAX - 1);
        self.0.extend_from_slice(&len.to_be_bytes());
        self.0.extend_from_slice(bytes);
        self
    }

    pub fn optional(&mut self, bytes: Option<&[u8]>) -> &mut Self {
        match bytes {
            Some(bytes) => self.field(bytes),
            None => {
                self.0.extend_from_slice(&u32::MAX.to_be_bytes());
                self
            }
        }
    }

    pub fn number(&mut self, n: u64) -> &mut Self {
        self.0.extend_from_slice(&n.to_be_bytes());
        self
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

/// base64url of a signature, as carried in JSON.
pub fn encode_signature(signature: &[u8; SIGNATURE_LEN]) -> String {
    URL_SAFE_NO_PAD.encode(signature)
}

/// The signature bytes of its base64url form, if it has the right length.
pub fn decode_signature(text: &str) -> Option<[u8; SIGNATURE_LEN]> {
    if text.len() != 86 {
        return None;
    }
    URL_SAFE_NO_PAD.decode(text).ok()?.try_into().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn statement(x: &[u8]) -> Statement {
        let mut s = Statement::new(b"test");
        s.field(x).number(7);
        s
    }

    #[test]
    fn sign_verify_and_encodings_round_trip() {
        let signer = Signer::from_seed([9; 32]);
        let public = signer.public();
        let sig = signer.sign(&statement(b"hello"));
        assert!(public.verifies(&statement(b"hello"), &sig));
        assert!(!public.verifies(&statement(b"hellO"), &sig));
        assert!(!Signer::from_seed([8; 32])
            .public()
            .verifies(&statement(b"hello"), &sig));
        assert!(!public.verifies(&statement(b"hello"), &sig[..63]));
        assert_eq!(PublicKey::parse(&public.encode()), Some(public));
        assert_eq!(
            decode_signature(&encode_signature(&sig)).map(|s| s.to_vec()),
            Some(sig.to_vec())
        );
        assert_eq!(Signer::from_seed(signer.seed()).public(), public);
        assert!(!format!("{signer:?}").contains(&URL_SAFE_NO_PAD.encode([9u8; 32])));
    }

    #[test]
    fn rfc8032_test_vector_1() {
        // RFC 8032 §7.1 TEST 1: empty message.
        let seed: [u8; 32] =
            hex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60");
        let signer = Signer::from_seed(seed);
        assert_eq!(
            signer.public().as_bytes().to_vec(),
            hex::<32>("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a").to_vec()
        );
        let sig = signer.0.sign(b"").to_bytes();
        assert_eq!(sig.to_vec(), hex::<64>("e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b").to_vec());
    }

    fn hex<const N: usize>(s: &str) -> [u8; N] {
        let bytes: Vec<u8> = (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect();
        bytes.try_into().unwrap()
    }

    #[test]
    fn fields_cannot_slide_between_each_other() {
        let mut a = Statement::new(b"l");
        a.field(b"ab").field(b"c");
        let mut b = Statement::new(b"l");
        b.field(b"a").field(b"bc");
        assert_ne!(a, b);
        let mut c = Statement::new(b"l");
        c.optional(None);
        let mut d = Statement::new(b"l");
        d.optional(Some(b""));
        assert_ne!(c, d);
    }

    #[test]
    fn malformed_keys_and_signatures_are_refused() {
        assert_eq!(PublicKey::parse(""), None);
        assert_eq!(PublicKey::parse(&"A".repeat(44)), None);
        assert_eq!(
            PublicKey::parse("!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!"),
            None
        );
        assert_eq!(decode_signature("abc"), None);
    }
}
