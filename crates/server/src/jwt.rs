//! JWTs in the Supabase shape: HS256 with `role` and `exp`. This module mints the anon key;
//! the Realtime endpoint validates tokens with the same secret.

use jsonwebtoken::{encode, EncodingKey, Header};
use rand::RngCore;
use serde::{Deserialize, Serialize};

/// Lifetime of the anon key: ten years, like Supabase's project keys.
pub const ANON_KEY_LIFETIME_SECS: u64 = 10 * 365 * 24 * 3600;

/// The claims PairUX mints and requires.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    pub role: String,
    pub exp: u64,
    pub iat: u64,
    pub iss: String,
}

/// Mints the anon key handed out in config.json.
pub fn mint_anon_key(secret: &str, now_secs: u64) -> Result<String, jsonwebtoken::errors::Error> {
    mint(secret, "anon", now_secs, now_secs + ANON_KEY_LIFETIME_SECS)
}

/// Mints an HS256 token with the given role and expiry (seconds since the epoch).
pub fn mint(
    secret: &str,
    role: &str,
    now_secs: u64,
    exp: u64,
) -> Result<String, jsonwebtoken::errors::Error> {
    let claims = Claims {
        role: role.to_owned(),
        exp,
        iat: now_secs,
        iss: "pairux".to_owned(),
    };
    encode(
        &Header::default(),
        &claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
}

/// A fresh 256-bit secret, base64url, for a server started without `--jwt-secret`.
pub fn random_secret() -> String {
    use base64::Engine as _;
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// Seconds since the Unix epoch.
pub fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{decode, DecodingKey, Validation};

    #[test]
    fn anon_key_is_hs256_with_role_and_far_exp() {
        let token = mint_anon_key("s3cret", 1_000).unwrap();
        let data = decode::<Claims>(
            &token,
            &DecodingKey::from_secret(b"s3cret"),
            &Validation::new(jsonwebtoken::Algorithm::HS256),
        );
        // exp is in 1980, so validation of exp fails; check the claims without it.
        assert!(data.is_err());
        let mut v = Validation::new(jsonwebtoken::Algorithm::HS256);
        v.validate_exp = false;
        let data = decode::<Claims>(&token, &DecodingKey::from_secret(b"s3cret"), &v).unwrap();
        assert_eq!(data.claims.role, "anon");
        assert_eq!(data.claims.exp, 1_000 + ANON_KEY_LIFETIME_SECS);
        assert!(decode::<Claims>(&token, &DecodingKey::from_secret(b"other"), &v).is_err());
    }

    #[test]
    fn random_secrets_differ() {
        assert_ne!(random_secret(), random_secret());
        assert_eq!(random_secret().len(), 43);
    }
}
