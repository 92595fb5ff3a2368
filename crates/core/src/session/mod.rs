//! A PairUX session as each role lives it: signaling messages routed by participant id,
//! perfect negotiation per peer, the host's admission and share state, the guest's phases.
//!
//! Everything here is sans-IO: the browser glue feeds roster changes, signals and WebRTC
//! callbacks in, and executes the [`HostAction`]s / [`GuestAction`]s that come out.

mod guest;
mod handover;
mod host;
mod identity;
mod negotiation;
mod quality;
mod recovery;
mod sealed;
mod signal;
mod stats;

pub use guest::{
    GuestAction, GuestPhase, GuestSession, CONNECT_WAIT_MS, HOST_WAIT_MS, SHARE_WAIT_MS,
};
pub use handover::{HostChain, MAX_HANDOVERS};
pub use host::{
    Asking, HostAction, HostMemory, HostSession, Limits, ShareState, StartMode, Topology,
    KEY_ACK_DEADLINE_MS, RETIRE_AFTER_MS, SEAT_CONNECT_MS,
};
pub use identity::{participant_id, SessionIdentity, WIRE_VERSION};
pub use negotiation::{DescriptionDecision, Negotiator, RemoteEndpoint, SignalingState};
pub use quality::Quality;
pub use recovery::{Recovery, RecoveryAction};
pub use sealed::{SignalCodec, SignalCounters, SignalPeer};
pub use signal::{
    CandidateInit, Description, RefusalReason, SdpKind, SfuRoute, SignalBody, SignalEnvelope,
    SignalError, SIGNAL_EVENT,
};
pub use stats::{LinkQuality, StatsSample, StatsView};
