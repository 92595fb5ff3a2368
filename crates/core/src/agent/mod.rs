//! The PairUX agent: the native companion on the host's computer that applies granted input
//! to the OS (product.md §1). Defined here once for both ends: the frames ([`wire`]), pairing
//! ([`pairing`]), the agent's decisions ([`Agent`]) and the page's side ([`AgentClient`]).
//!
//! Trust model: the agent listens on 127.0.0.1 only and pairs with one page at a time, from a
//! configured origin, that proves it knows the code shown where the agent runs. The page may
//! only forward input its own gate accepted, for the holders it names; the agent checks that
//! again, and lets go of everything the moment a holder goes.

mod client;
pub mod keymap;
mod pairing;
mod state;
mod wire;

pub use client::{
    refusal_sentence, AgentClient, AgentState, ClientEvent, Credential, NOT_THE_AGENT_SENTENCE,
    RESUME_REFUSED_SENTENCE,
};
pub use pairing::{
    answer_proof, answer_verify, resume_proof, resume_verify, Answer, CodeError, PairingCode,
    PairingTarget, CODE_RANDOM_LEN, DEFAULT_PORT,
};
pub use state::{
    Action, Agent, AgentConfig, AgentStats, ConnId, Display, Inject, HELD_KEY_SILENCE_MS,
    MAX_NOTCHES, MAX_TEXT_CHARS, MAX_WRONG_CODES, RESUME_TTL_MS, TEXT_RANDOM_LEN, WHEEL_NOTCH_PX,
};
pub use wire::{
    AgentMsg, FrameError, PageMsg, PointersOnly, Refusal, SurfaceKind, AGENT_PROTOCOL_VERSION,
    MAX_FRAME_BYTES,
};
