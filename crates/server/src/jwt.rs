//! JWTs in the Supabase shape: HS256 with `role` and `exp`. This module mints the anon key and
//! verifies tokens the way the Realtime server does (the Realtime endpoint turns the failures
//! into its wire texts).

use base64::Engine as _;
use jsonwebtoken::{decode, decode_header, encode, Algorithm, DecodingKey, EncodingKey, Header};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

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

/// Why a token was refused, in the order the Realtime server checks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Not three base64url parts with JSON objects for header and claims.
    #[error("the token is not a valid JWT")]
    Malformed,
    /// Not an HMAC algorithm (HS256/384/512) with `typ: JWT`, so no signer for the secret.
    #[error("the token's algorithm cannot be verified with the shared secret")]
    UnsupportedAlgorithm,
    /// Signed with another secret, or tampered with.
    #[error("the token's signature does not match")]
    BadSignature,
    /// `exp` is not in the future.
    #[error("the token expired {seconds_ago} seconds ago")]
    Expired {
        /// now − exp, in whole seconds.
        seconds_ago: u64,
    },
    /// `role` or an integer `exp` is missing.
    #[error("the token lacks `role` or `exp`")]
    MissingClaims,
}

/// What a verified token tells the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedToken {
    /// The `role` claim (`anon`, `authenticated`, …).
    pub role: String,
    /// Expiry, seconds since the Unix epoch.
    pub exp: u64,
}

/// The longest token verified (Supabase's are well under 2 KB, custom claims included).
pub const MAX_TOKEN_BYTES: usize = 8 * 1024;

/// Verifies a Supabase-style token against the project secret at `now_secs`.
///
/// Mirrors the Realtime server: whitespace is stripped first; the claims must be a JSON object
/// (else [`TokenError::Malformed`], even before the signature); the signature is checked before
/// the expiry, and the expiry before the presence of `role`.
pub fn verify(secret: &str, token: &str, now_secs: u64) -> Result<VerifiedToken, TokenError> {
    // Ours: a verified token is kept for its channel's life, so padding must not make it
    // megabytes (whitespace is stripped only to verify it).
    if token.len() > MAX_TOKEN_BYTES {
        return Err(TokenError::Malformed);
    }
    let token: String = token.chars().filter(|c| !c.is_whitespace()).collect();
    peek_claims(&token)?;
    let header = decode_header(&token).map_err(|_| TokenError::Malformed)?;
    let hmac = matches!(
        header.alg,
        Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512
    );
    if !hmac || header.typ.as_deref() != Some("JWT") {
        return Err(TokenError::UnsupportedAlgorithm);
    }
    let mut validation = jsonwebtoken::Validation::new(header.alg);
    // Expiry and required claims are checked below, to produce the server's exact errors.
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    let claims = decode::<Map<String, Value>>(
        &token,
        &DecodingKey::from_secret(secret.as_bytes()),
        &validation,
    )
    .map_err(|err| match err.kind() {
        jsonwebtoken::errors::ErrorKind::InvalidSignature => TokenError::BadSignature,
        _ => TokenError::Malformed,
    })?
    .claims;
    let exp = claims.get("exp").and_then(Value::as_u64);
    if let Some(exp) = exp.filter(|&exp| exp <= now_secs) {
        return Err(TokenError::Expired {
            seconds_ago: now_secs - exp,
        });
    }
    match (claims.get("role").and_then(Value::as_str), exp) {
        (Some(role), Some(exp)) => Ok(VerifiedToken {
            role: role.to_owned(),
            exp,
        }),
        _ => Err(TokenError::MissingClaims),
    }
}

/// The claims segment must decode to a JSON object before anything else is looked at.
fn peek_claims(token: &str) -> Result<(), TokenError> {
    let mut parts = token.split('.');
    let (Some(_), Some(claims), Some(_), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(TokenError::Malformed);
    };
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(claims.trim_end_matches('='))
        .map_err(|_| TokenError::Malformed)?;
    match serde_json::from_slice::<Value>(&bytes) {
        Ok(Value::Object(_)) => Ok(()),
        _ => Err(TokenError::Malformed),
    }
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

    fn token(secret: &str, claims: Value) -> String {
        encode(
            &Header::default(),
            &claims,
            &EncodingKey::from_secret(secret.as_bytes()),
        )
        .unwrap()
    }

    #[test]
    fn verify_accepts_a_valid_token() {
        let t = token("s", serde_json::json!({"role": "anon", "exp": 2_000}));
        let ok = verify("s", &t, 1_000).unwrap();
        assert_eq!(ok.role, "anon");
        assert_eq!(ok.exp, 2_000);
        // Whitespace (e.g. a wrapped header) is ignored, as the real server does.
        let wrapped = format!(" {}\n{} ", &t[..10], &t[10..]);
        assert!(verify("s", &wrapped, 1_000).is_ok());
        // …but not megabytes of it: a channel keeps its token as sent.
        let padded = format!("{t}{}", " ".repeat(MAX_TOKEN_BYTES - t.len()));
        assert!(verify("s", &padded, 1_000).is_ok());
        assert_eq!(
            verify("s", &format!("{padded} "), 1_000),
            Err(TokenError::Malformed)
        );
    }

    #[test]
    fn verify_reports_the_real_server_order_of_failures() {
        let expired_forged = token("other", serde_json::json!({"role": "anon", "exp": 10}));
        assert_eq!(
            verify("s", &expired_forged, 100),
            Err(TokenError::BadSignature)
        );
        let expired_no_role = token("s", serde_json::json!({"exp": 10}));
        assert_eq!(
            verify("s", &expired_no_role, 100),
            Err(TokenError::Expired { seconds_ago: 90 })
        );
        let at_exp = token("s", serde_json::json!({"role": "anon", "exp": 100}));
        assert_eq!(
            verify("s", &at_exp, 100),
            Err(TokenError::Expired { seconds_ago: 0 })
        );
        let no_exp = token("s", serde_json::json!({"role": "anon"}));
        assert_eq!(verify("s", &no_exp, 100), Err(TokenError::MissingClaims));
        let float_exp = token("s", serde_json::json!({"role": "anon", "exp": 1e12}));
        assert_eq!(verify("s", &float_exp, 100), Err(TokenError::MissingClaims));
        for junk in ["", "abc", "a.b.c", "a.b.c.d", "e30.bm90IGpzb24.x"] {
            assert_eq!(verify("s", junk, 100), Err(TokenError::Malformed), "{junk}");
        }
    }

    #[test]
    fn verify_refuses_algorithms_without_the_shared_secret() {
        // {"alg":"none","typ":"JWT"} . {"role":"anon","exp":9999999999} . (no signature)
        let none =
            "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJyb2xlIjoiYW5vbiIsImV4cCI6OTk5OTk5OTk5OX0.";
        assert!(verify("s", none, 100).is_err());
        let mut header = Header::new(Algorithm::HS512);
        header.typ = None;
        let untyped = encode(
            &header,
            &serde_json::json!({"role": "anon", "exp": 2_000}),
            &EncodingKey::from_secret(b"s"),
        )
        .unwrap();
        assert_eq!(
            verify("s", &untyped, 100),
            Err(TokenError::UnsupportedAlgorithm)
        );
        let mut header = Header::new(Algorithm::HS384);
        header.typ = Some("JWT".into());
        let hs384 = encode(
            &header,
            &serde_json::json!({"role": "anon", "exp": 2_000}),
            &EncodingKey::from_secret(b"s"),
        )
        .unwrap();
        assert!(verify("s", &hs384, 100).is_ok());
    }

    #[test]
    fn random_secrets_differ() {
        assert_ne!(random_secret(), random_secret());
        assert_eq!(random_secret().len(), 43);
    }
}
