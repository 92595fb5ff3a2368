//! Remote control: who may drive the host, the data-channel protocol, input validation,
//! cursor relay and the contract of the input sink (product.md §4).
//!
//! Trust model: a participant's role in presence is a claim the host believes for a controller
//! only with a seat proof made with the link's controller secret. Control is granted only to
//! a participant that proves, over its own data channel, that it holds the controller secret
//! of the link (HMAC over a nonce the host issued to that channel and its participant id), and
//! only when the host clicks Grant. Input from anyone else is dropped and counted.

mod budget;
mod client;
mod cursor;
mod gate;
mod guard;
mod layout;
mod lease;
mod meter;
mod proof;
mod sink;
mod wire;

pub use budget::{BudgetStats, MessageBudget, TokenBucket};
pub use client::{ControlClient, ControlOutcome, ControlState, EscEsc};
pub use cursor::{CursorRelay, ShownCursors, StateEchoes};
pub use gate::{DropReason, GateStats, InputGate};
pub use guard::{ActionGuard, Answered, Asked, Guarded, Question, ARM_MS, EXPIRE_MS, GRACE_MS};
pub use layout::{VideoLayout, ViewTransform};
pub use lease::{ControlLeases, LeaseError, LeaseEvent, MAX_HOLDERS, REQUEST_TTL_MS};
pub use meter::{LatencyMeter, PING_EVERY_MS};
pub use proof::{
    control_proof, dtls_fingerprint, seat_proof, verify_proof, verify_seat_proof, ChannelBinding,
    NONCE_LEN,
};
pub use sink::{InputSink, RecordingSink};
pub use wire::{
    Button, ControlMsg, InputEvent, InputKind, Modifiers, WireError, MAX_MESSAGE_BYTES,
    PROTOCOL_VERSION,
};
