//! SFrame cipher suites, key schedule and AEAD (RFC 9605 §4.4).
//!
//! ```text
//! sframe_secret = HKDF-Extract("", base_key)
//! sframe_key    = HKDF-Expand(sframe_secret, "SFrame 1.0 Secret key "  ‖ KID ‖ suite, Nk)
//! sframe_salt   = HKDF-Expand(sframe_secret, "SFrame 1.0 Secret salt " ‖ KID ‖ suite, Nn)
//! nonce         = sframe_salt XOR CTR   (CTR big-endian, right-aligned: erratum 8321)
//! SFrame        = header ‖ AEAD.Encrypt(key, nonce, aad = header ‖ metadata, plaintext)
//! ```
//! KID is a u64 and the suite a u16, both big-endian. Implemented: the AES-GCM suites 0x0004
//! (the recommended one, used for media) and 0x0005; the AES-CTR-HMAC suites are not.

use aes_gcm::aead::AeadInOut;
use aes_gcm::{Aes128Gcm, Aes256Gcm, KeyInit, Nonce, Tag};
use hkdf::Hkdf;
use sha2::{Sha256, Sha512};

use super::header::SframeHeader;
use super::E2eeError;

/// AEAD nonce length (`Nn`) of every implemented suite.
pub const NONCE_LEN: usize = 12;
/// Authentication tag length (`Nt`) of every implemented suite.
pub const TAG_LEN: usize = 16;

const KEY_LABEL: &[u8] = b"SFrame 1.0 Secret key ";
const SALT_LABEL: &[u8] = b"SFrame 1.0 Secret salt ";

/// An SFrame cipher suite (RFC 9605 §8.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CipherSuite {
    /// 0x0004: AES-128-GCM, HKDF-SHA256, 16-byte tag.
    Aes128GcmSha256_128,
    /// 0x0005: AES-256-GCM, HKDF-SHA512, 16-byte tag.
    Aes256GcmSha512_128,
}

impl CipherSuite {
    /// The IANA value.
    pub fn id(self) -> u16 {
        match self {
            CipherSuite::Aes128GcmSha256_128 => 0x0004,
            CipherSuite::Aes256GcmSha512_128 => 0x0005,
        }
    }

    pub fn from_id(id: u16) -> Result<Self, E2eeError> {
        match id {
            0x0004 => Ok(CipherSuite::Aes128GcmSha256_128),
            0x0005 => Ok(CipherSuite::Aes256GcmSha512_128),
            other => Err(E2eeError::UnsupportedSuite(other)),
        }
    }

    /// Key length `Nk`.
    pub fn key_len(self) -> usize {
        match self {
            CipherSuite::Aes128GcmSha256_128 => 16,
            CipherSuite::Aes256GcmSha512_128 => 32,
        }
    }
}

/// The two HKDF-Expand labels for `(suite, kid)`.
pub fn labels(suite: CipherSuite, kid: u64) -> (Vec<u8>, Vec<u8>) {
    let label = |prefix: &[u8]| {
        let mut l = Vec::with_capacity(prefix.len() + 10);
        l.extend_from_slice(prefix);
        l.extend_from_slice(&kid.to_be_bytes());
        l.extend_from_slice(&suite.id().to_be_bytes());
        l
    };
    (label(KEY_LABEL), label(SALT_LABEL))
}

/// `sframe_key` and `sframe_salt` derived from a base key.
#[derive(Clone, PartialEq, Eq)]
pub struct KeyMaterial {
    pub key: Vec<u8>,
    pub salt: [u8; NONCE_LEN],
}

impl std::fmt::Debug for KeyMaterial {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeyMaterial(<redacted>)")
    }
}

impl Drop for KeyMaterial {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.key);
        zeroize::Zeroize::zeroize(&mut self.salt);
    }
}

impl KeyMaterial {
    pub fn derive(suite: CipherSuite, kid: u64, base_key: &[u8]) -> Self {
        let (key_label, salt_label) = labels(suite, kid);
        let mut key = vec![0u8; suite.key_len()];
        let mut salt = [0u8; NONCE_LEN];
        // Expand cannot fail: both lengths are far below 255 hash blocks.
        match suite {
            CipherSuite::Aes128GcmSha256_128 => {
                let hk = Hkdf::<Sha256>::new(None, base_key);
                hk.expand(&key_label, &mut key).expect("16 bytes ≤ 255·32");
                hk.expand(&salt_label, &mut salt)
                    .expect("12 bytes ≤ 255·32");
            }
            CipherSuite::Aes256GcmSha512_128 => {
                let hk = Hkdf::<Sha512>::new(None, base_key);
                hk.expand(&key_label, &mut key).expect("32 bytes ≤ 255·64");
                hk.expand(&salt_label, &mut salt)
                    .expect("12 bytes ≤ 255·64");
            }
        }
        KeyMaterial { key, salt }
    }
}

enum Cipher {
    Aes128(Box<Aes128Gcm>),
    Aes256(Box<Aes256Gcm>),
}

/// One SFrame key: the AEAD keyed with `sframe_key`, the salt, and the KID it belongs to.
pub struct SframeKey {
    suite: CipherSuite,
    kid: u64,
    cipher: Cipher,
    salt: [u8; NONCE_LEN],
}

impl std::fmt::Debug for SframeKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "SframeKey({:?}, kid {:#x}, <redacted>)",
            self.suite, self.kid
        )
    }
}

impl SframeKey {
    /// Derives the key and salt for `kid` from `base_key` (RFC 9605 §4.4.2).
    pub fn derive(suite: CipherSuite, kid: u64, base_key: &[u8]) -> Self {
        let material = KeyMaterial::derive(suite, kid, base_key);
        let cipher = match suite {
            CipherSuite::Aes128GcmSha256_128 => Cipher::Aes128(Box::new(
                Aes128Gcm::new_from_slice(&material.key).expect("key_len is the AES-128 key size"),
            )),
            CipherSuite::Aes256GcmSha512_128 => Cipher::Aes256(Box::new(
                Aes256Gcm::new_from_slice(&material.key).expect("key_len is the AES-256 key size"),
            )),
        };
        SframeKey {
            suite,
            kid,
            cipher,
            salt: material.salt,
        }
    }

    pub fn kid(&self) -> u64 {
        self.kid
    }

    pub fn suite(&self) -> CipherSuite {
        self.suite
    }

    /// `sframe_salt XOR CTR`, the counter right-aligned (RFC 9605 erratum 8321).
    pub fn nonce(&self, ctr: u64) -> [u8; NONCE_LEN] {
        let mut nonce = self.salt;
        for (n, c) in nonce[NONCE_LEN - 8..].iter_mut().zip(ctr.to_be_bytes()) {
            *n ^= c;
        }
        nonce
    }

    /// Encrypts `buf` in place; returns the tag.
    pub fn seal_in_place(&self, ctr: u64, aad: &[u8], buf: &mut [u8]) -> [u8; TAG_LEN] {
        let nonce = Nonce::from(self.nonce(ctr));
        // AES-GCM only fails beyond 2^36 bytes of plaintext, far above any frame.
        let tag = match &self.cipher {
            Cipher::Aes128(c) => c.encrypt_inout_detached(&nonce, aad, buf.into()),
            Cipher::Aes256(c) => c.encrypt_inout_detached(&nonce, aad, buf.into()),
        }
        .expect("frames are far below the AES-GCM length limit");
        tag.into()
    }

    /// Decrypts `buf` in place if `tag` authenticates it with `aad`; on failure `buf` is
    /// unspecified and must be discarded.
    pub fn open_in_place(
        &self,
        ctr: u64,
        aad: &[u8],
        buf: &mut [u8],
        tag: &[u8; TAG_LEN],
    ) -> Result<(), E2eeError> {
        let nonce = Nonce::from(self.nonce(ctr));
        let tag = Tag::from(*tag);
        match &self.cipher {
            Cipher::Aes128(c) => c.decrypt_inout_detached(&nonce, aad, buf.into(), &tag),
            Cipher::Aes256(c) => c.decrypt_inout_detached(&nonce, aad, buf.into(), &tag),
        }
        .map_err(|_| E2eeError::Authentication)
    }

    /// RFC 9605 §4.4.3: `header ‖ ciphertext ‖ tag` for `plaintext` with `metadata` authenticated.
    pub fn encrypt(&self, ctr: u64, metadata: &[u8], plaintext: &[u8]) -> Vec<u8> {
        let header = SframeHeader::new(self.kid, ctr);
        let mut out = Vec::with_capacity(header.encoded_len() + plaintext.len() + TAG_LEN);
        header.encode_into(&mut out);
        let header_len = out.len();
        let mut aad = out.clone();
        aad.extend_from_slice(metadata);
        out.extend_from_slice(plaintext);
        let tag = self.seal_in_place(ctr, &aad, &mut out[header_len..]);
        out.extend_from_slice(&tag);
        out
    }

    /// RFC 9605 §4.4.4 for a frame already known to carry this key's KID: the header and the
    /// plaintext. The caller checks replay before and records the counter after.
    pub fn decrypt(
        &self,
        metadata: &[u8],
        sframe: &[u8],
    ) -> Result<(SframeHeader, Vec<u8>), E2eeError> {
        let (header, header_len) = SframeHeader::decode(sframe)?;
        if header.kid != self.kid {
            return Err(E2eeError::UnknownKid(header.kid));
        }
        let body_len = sframe
            .len()
            .checked_sub(header_len + TAG_LEN)
            .ok_or(E2eeError::Truncated)?;
        let (head, rest) = sframe.split_at(header_len);
        let (ciphertext, tag) = rest.split_at(body_len);
        let mut aad = Vec::with_capacity(header_len + metadata.len());
        aad.extend_from_slice(head);
        aad.extend_from_slice(metadata);
        let mut plaintext = ciphertext.to_vec();
        let tag: &[u8; TAG_LEN] = tag.try_into().map_err(|_| E2eeError::Truncated)?;
        self.open_in_place(header.ctr, &aad, &mut plaintext, tag)?;
        Ok((header, plaintext))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suites_round_trip_their_ids() {
        for suite in [
            CipherSuite::Aes128GcmSha256_128,
            CipherSuite::Aes256GcmSha512_128,
        ] {
            assert_eq!(CipherSuite::from_id(suite.id()), Ok(suite));
        }
        assert_eq!(CipherSuite::from_id(1), Err(E2eeError::UnsupportedSuite(1)));
    }

    #[test]
    fn tampering_anywhere_fails_authentication() {
        let key = SframeKey::derive(CipherSuite::Aes128GcmSha256_128, 9, b"base key");
        let sframe = key.encrypt(1000, b"meta", b"hello frame");
        assert_eq!(key.decrypt(b"meta", &sframe).unwrap().1, b"hello frame");
        assert_eq!(
            key.decrypt(b"metb", &sframe),
            Err(E2eeError::Authentication)
        );
        for i in 0..sframe.len() {
            let mut bad = sframe.clone();
            bad[i] ^= 0x01;
            assert!(key.decrypt(b"meta", &bad).is_err(), "byte {i}");
        }
    }

    #[test]
    fn keys_redact_themselves() {
        let key = SframeKey::derive(CipherSuite::Aes128GcmSha256_128, 1, b"k");
        assert!(!format!("{key:?}").contains("salt"));
        let m = KeyMaterial::derive(CipherSuite::Aes128GcmSha256_128, 1, b"k");
        assert_eq!(format!("{m:?}"), "KeyMaterial(<redacted>)");
    }
}
