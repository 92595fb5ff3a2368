//! Random identifiers and secrets (the OS generator through `rand`).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use rand::RngCore as _;

/// `bytes` random bytes as base64url (no padding): tokens, pins, secrets, transactions.
pub fn token(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rngs::OsRng.fill_bytes(&mut buf);
    URL_SAFE_NO_PAD.encode(buf)
}

/// A random id in 1..2^53 (exact in a JavaScript number, as Janus room ids are read by apps).
pub fn id53() -> u64 {
    loop {
        let id = rand::rngs::OsRng.next_u64() >> 11;
        if id != 0 {
            return id;
        }
    }
}
