//! RFC 9605 Appendix C test vectors (tests/data/rfc9605-vectors.json, source in
//! tests/data/README.md): every header case, and full SFrame encryption and decryption for each
//! cipher suite we implement.

use hkdf::Hkdf;
use pairux_core::e2ee::header::SframeHeader;
use pairux_core::e2ee::sframe::{labels, KeyMaterial};
use pairux_core::e2ee::{CipherSuite, SframeKey};
use serde::Deserialize;
use sha2::{Sha256, Sha512};

#[derive(Deserialize)]
struct Vectors {
    header: Vec<HeaderCase>,
    sframe: Vec<SframeCase>,
}

#[derive(Deserialize)]
struct HeaderCase {
    kid: u64,
    ctr: u64,
    encoded: String,
}

#[derive(Deserialize)]
struct SframeCase {
    cipher_suite: u16,
    kid: u64,
    ctr: u64,
    base_key: String,
    sframe_key_label: String,
    sframe_salt_label: String,
    sframe_secret: String,
    sframe_key: String,
    sframe_salt: String,
    metadata: String,
    nonce: String,
    aad: String,
    pt: String,
    ct: String,
}

fn vectors() -> Vectors {
    let text = include_str!("data/rfc9605-vectors.json");
    serde_json::from_str(text).expect("vector file parses")
}

fn hex(s: &str) -> Vec<u8> {
    assert!(s.len().is_multiple_of(2), "odd hex length");
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex digit"))
        .collect()
}

#[test]
fn header_vectors_encode_and_decode() {
    let cases = vectors().header;
    assert_eq!(cases.len(), 289);
    for case in cases {
        let header = SframeHeader::new(case.kid, case.ctr);
        let encoded = hex(&case.encoded);
        assert_eq!(
            header.encode(),
            encoded,
            "kid {} ctr {}",
            case.kid,
            case.ctr
        );
        assert_eq!(header.encoded_len(), encoded.len());
        assert_eq!(SframeHeader::decode(&encoded), Ok((header, encoded.len())));
        // Trailing bytes (the ciphertext) are not part of the header.
        let mut longer = encoded.clone();
        longer.extend_from_slice(&[0xaa, 0xbb]);
        assert_eq!(SframeHeader::decode(&longer), Ok((header, encoded.len())));
        // Any truncation is an error.
        for cut in 0..encoded.len() {
            assert!(SframeHeader::decode(&encoded[..cut]).is_err());
        }
    }
}

#[test]
fn sframe_vectors_of_every_implemented_suite() {
    let mut checked = Vec::new();
    let mut skipped = Vec::new();
    for case in vectors().sframe {
        let Ok(suite) = CipherSuite::from_id(case.cipher_suite) else {
            skipped.push(case.cipher_suite);
            continue;
        };
        let base_key = hex(&case.base_key);

        let (key_label, salt_label) = labels(suite, case.kid);
        assert_eq!(key_label, hex(&case.sframe_key_label));
        assert_eq!(salt_label, hex(&case.sframe_salt_label));
        let secret = match suite {
            CipherSuite::Aes128GcmSha256_128 => Hkdf::<Sha256>::extract(None, &base_key).0.to_vec(),
            CipherSuite::Aes256GcmSha512_128 => Hkdf::<Sha512>::extract(None, &base_key).0.to_vec(),
        };
        assert_eq!(secret, hex(&case.sframe_secret));
        let material = KeyMaterial::derive(suite, case.kid, &base_key);
        assert_eq!(material.key, hex(&case.sframe_key));
        assert_eq!(material.salt.to_vec(), hex(&case.sframe_salt));

        let key = SframeKey::derive(suite, case.kid, &base_key);
        assert_eq!(key.nonce(case.ctr).to_vec(), hex(&case.nonce));
        let metadata = hex(&case.metadata);
        let header = SframeHeader::new(case.kid, case.ctr).encode();
        assert_eq!([header.clone(), metadata.clone()].concat(), hex(&case.aad));

        let ct = key.encrypt(case.ctr, &metadata, &hex(&case.pt));
        assert_eq!(ct, hex(&case.ct), "suite {:#06x}", case.cipher_suite);
        let (got_header, pt) = key.decrypt(&metadata, &ct).expect("vector decrypts");
        assert_eq!(got_header, SframeHeader::new(case.kid, case.ctr));
        assert_eq!(pt, hex(&case.pt));
        checked.push(case.cipher_suite);
    }
    assert_eq!(checked, [4, 5]);
    // Only the AES-CTR-HMAC suites (C.2) are left out.
    assert_eq!(skipped, [1, 2, 3]);
}
