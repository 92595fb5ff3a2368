//! How token failures read on the wire. The Realtime server words the same failure three ways:
//! as the HTTP refusal of an upgrade, as a join error reason, and as the `system` message that
//! closes a channel whose token went bad. Clients match on these texts, so they are copied
//! exactly.

use crate::jwt::TokenError;

/// The `{"error": …}` text of a refused upgrade (HTTP 401).
pub fn connect_error(err: &TokenError) -> String {
    match err {
        TokenError::Malformed => "The token provided is not a valid JWT".into(),
        TokenError::UnsupportedAlgorithm => SIGNER.into(),
        TokenError::BadSignature => "Failed to validate JWT signature".into(),
        TokenError::Expired { .. } => "Token has expired".into(),
        TokenError::MissingClaims => MISSING_CLAIMS.into(),
    }
}

/// The `reason` of a join error reply: `<Code>: <message>`.
pub fn join_reason(err: &TokenError) -> String {
    match err {
        TokenError::Malformed => "MalformedJWT: The token provided is not a valid JWT".into(),
        TokenError::UnsupportedAlgorithm => format!("JwtSignerError: {SIGNER}"),
        TokenError::BadSignature => "JwtSignatureError: Failed to validate JWT signature".into(),
        TokenError::Expired { seconds_ago } => {
            format!("InvalidJWTToken: Token has expired {seconds_ago} seconds ago")
        }
        TokenError::MissingClaims => format!("InvalidJWTToken: {MISSING_CLAIMS}"),
    }
}

/// The `message` of the `system` error that closes a channel after a token refresh or an
/// expiry re-check failed.
pub fn system_message(err: &TokenError) -> String {
    match err {
        TokenError::Malformed => "The token provided is not a valid JWT".into(),
        TokenError::UnsupportedAlgorithm => SIGNER.into(),
        // The real server writes Elixir's `inspect(:signature_error)` here.
        TokenError::BadSignature => ":signature_error".into(),
        TokenError::Expired { seconds_ago } => {
            format!("Token has expired {seconds_ago} seconds ago")
        }
        TokenError::MissingClaims => MISSING_CLAIMS.into(),
    }
}

/// The HTTP refusal when no token was presented at all.
pub const MISSING_API_KEY: &str = "API key is missing";

const MISSING_CLAIMS: &str = "Fields `role` and `exp` are required in JWT";
const SIGNER: &str = "Failed to generate JWT signer, check your JWT secret or JWKS configuration";

/// Realtime ignores access tokens in the new `sb_…` API-key format for channel auth and keeps
/// the socket's token instead.
pub fn is_api_key_format(token: &str) -> bool {
    token.starts_with("sb_")
}
