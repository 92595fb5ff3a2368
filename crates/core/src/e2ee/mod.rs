//! End-to-end encryption: SFrame (RFC 9605) for media frames, and an AEAD for signaling, both
//! keyed from the room key in the link fragment (reference/e2ee.md, product.md §2).
//!
//! Layers, bottom up:
//! - [`header`] — the SFrame header (KID, CTR) codec.
//! - [`sframe`] — cipher suites, key/salt derivation, nonce, and the RFC's encrypt/decrypt.
//! - [`replay`] — the per-KID sliding replay window.
//! - [`codec`] — how many bytes of an encoded frame stay in clear, per codec, and H.264
//!   emulation-prevention escaping.
//! - [`keys`] — our key schedule: sender ids, media slots, KIDs and base keys.
//! - [`media`] — frame encryptor/decryptor: `clear prefix ‖ SFrame header ‖ ciphertext ‖ tag`.
//! - [`engine`] — the transform worker's whole decision state (keys per participant, fail
//!   closed), driven by [`protocol`] messages.
//! - [`health`] — per-receiver `e2ee-state`, throttled reports, key-frame requests.
//! - [`signal`] — sealing signaling bodies and presence profiles.
//! - [`rekey`] — media epochs: the secret a removal moves everyone else to, wrapped to each.
//!
//! Architecture invariant: nothing here draws randomness or reads a clock; nonces, sender ids
//! and milliseconds come from the caller. Every decoder is total: any bytes yield a value or an
//! [`E2eeError`], never a panic (property-tested).

pub mod codec;
pub mod engine;
pub mod header;
pub mod health;
pub mod keys;
pub mod media;
pub mod protocol;
pub mod rekey;
pub mod replay;
pub mod sframe;
pub mod signal;

pub use codec::Codec;
pub use engine::E2eeEngine;
pub use header::SframeHeader;
pub use health::{FrameOutcome, HealthEffects, ReceiverHealth};
pub use keys::{MediaKind, SenderId};
pub use media::{FrameDecryptor, FrameEncryptor, FrameInfo};
pub use protocol::{E2eeState, FromWorker, MalformedMessage, Side, ToWorker, TransformOptions};
pub use sframe::{CipherSuite, SframeKey};
pub use signal::{
    next_relay_time, ProfileSealer, RelayedClock, SfuDataSealer, SignalAad, SignalSealer,
    SEAL_NONCE_LEN,
};

/// Why a frame or a sealed message was not produced or not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum E2eeError {
    #[error("SFrame header truncated or malformed")]
    MalformedHeader,
    #[error("frame too short to hold an SFrame")]
    Truncated,
    #[error("frame shorter than its codec's clear prefix")]
    ShortFrame,
    #[error("no key for KID {0:#x}")]
    UnknownKid(u64),
    #[error("no key for this participant")]
    NoKey,
    #[error("counter {0} already seen or older than the replay window")]
    Replayed(u64),
    #[error("authentication failed")]
    Authentication,
    #[error("SFrame counter exhausted for this key")]
    CounterExhausted,
    #[error("unsupported cipher suite {0:#06x}")]
    UnsupportedSuite(u16),
    #[error("sealed message malformed or of an unknown version")]
    MalformedSealed,
}
