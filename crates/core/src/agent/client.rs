//! The host page's side of the agent protocol, sans-IO: the page opens the loopback socket and
//! feeds frames in; this decides what to answer and what to show.

use super::pairing::PairingCode;
use super::wire::{AgentMsg, PageMsg, PointersOnly, Refusal};

/// How the page proves itself once the agent says hello.
#[derive(Debug, Clone)]
pub enum Credential {
    Code(PairingCode),
    /// A token from an earlier pairing of this tab.
    Resume(String),
}

/// What the host (and, through the control state, controllers) are told.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AgentState {
    /// No agent paired: control shows pointers only.
    Absent,
    /// Socket open, pairing under way.
    Pairing,
    /// Paired; `drives` says whether granted input reaches the OS now.
    Connected {
        drives: bool,
        why: Option<PointersOnly>,
    },
}

impl AgentState {
    /// `agent-state` (product.md §6): `connected` only while input really drives the OS.
    pub fn testid_text(&self) -> &'static str {
        match self {
            AgentState::Connected { drives: true, .. } => "connected",
            _ => "absent",
        }
    }

    /// The sentence the host reads.
    pub fn sentence(&self) -> &'static str {
        match self {
            AgentState::Connected { drives: true, .. } => "Control drives this computer.",
            AgentState::Connected {
                why: Some(PointersOnly::NotAScreen),
                ..
            } => "The agent is paired, but you are sharing a window or tab: control shows pointers only. Share an entire screen to let controllers type and click.",
            AgentState::Connected {
                why: Some(PointersOnly::WhichDisplay),
                ..
            } => "The agent is paired, but cannot tell which of your displays is shared: control shows pointers only.",
            AgentState::Connected {
                why: Some(PointersOnly::NoDisplay),
                ..
            } => "The agent is paired, but found no display to control: control shows pointers only.",
            AgentState::Connected { .. } => "The agent is paired; waiting for the shared screen.",
            AgentState::Pairing => "Pairing with the PairUX agent…",
            AgentState::Absent => "Control shows pointers only — start the PairUX agent to let controllers type and click.",
        }
    }
}

/// What the page must do after a frame from the agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientEvent {
    /// Send this frame.
    Send(String),
    /// Keep this resume token in the tab's sessionStorage (replacing the previous one).
    Remember(String),
    /// Pairing refused: forget any stored token; show this sentence.
    Refused(&'static str),
    /// Paired: send the surface and holders now.
    Paired,
    /// The host pressed the emergency hotkey: revoke every controller.
    Emergency,
    /// The state changed.
    State(AgentState),
}

pub struct AgentClient {
    origin: String,
    credential: Option<Credential>,
    state: AgentState,
}

impl AgentClient {
    /// A socket about to open from a page at `origin`, proving itself with `credential`.
    pub fn new(origin: &str, credential: Credential) -> AgentClient {
        AgentClient {
            origin: origin.to_owned(),
            credential: Some(credential),
            state: AgentState::Pairing,
        }
    }

    pub fn state(&self) -> AgentState {
        self.state
    }

    /// The socket closed.
    pub fn closed(&mut self) -> AgentState {
        self.state = AgentState::Absent;
        self.state
    }

    /// A text frame from the agent. Anything unreadable is ignored (and returns nothing).
    pub fn on_frame(&mut self, text: &str) -> Vec<ClientEvent> {
        let Ok(msg) = AgentMsg::decode(text) else {
            return Vec::new();
        };
        match msg {
            AgentMsg::Hello { nonce, .. } => match self.credential.take() {
                Some(Credential::Code(code)) => vec![ClientEvent::Send(
                    PageMsg::Pair {
                        proof: code.proof(&nonce, &self.origin),
                    }
                    .encode(),
                )],
                Some(Credential::Resume(token)) => {
                    vec![ClientEvent::Send(PageMsg::Resume { token }.encode())]
                }
                None => Vec::new(),
            },
            AgentMsg::Paired { resume } => {
                self.state = AgentState::Connected {
                    drives: false,
                    why: Some(PointersOnly::NoSurface),
                };
                vec![
                    ClientEvent::Remember(resume),
                    ClientEvent::Paired,
                    ClientEvent::State(self.state),
                ]
            }
            AgentMsg::Refused { reason } => {
                self.state = AgentState::Absent;
                vec![
                    ClientEvent::Refused(refusal_sentence(reason)),
                    ClientEvent::State(self.state),
                ]
            }
            AgentMsg::Status { drives, why } => {
                if matches!(self.state, AgentState::Absent | AgentState::Pairing) {
                    return Vec::new();
                }
                self.state = AgentState::Connected { drives, why };
                vec![ClientEvent::State(self.state)]
            }
            AgentMsg::Emergency => vec![ClientEvent::Emergency],
        }
    }
}

pub fn refusal_sentence(reason: Refusal) -> &'static str {
    match reason {
        Refusal::BadCode => {
            "The agent did not accept that code. Check the code the agent shows and try again."
        }
        Refusal::CodeRetired => {
            "Too many wrong codes: the agent made a new one. Enter the code it shows now."
        }
        Refusal::Busy => {
            "The agent is already paired with another tab. Close that session or restart the agent."
        }
        Refusal::Origin => {
            "The agent does not serve this site. Start it with --origin set to this page's address."
        }
        Refusal::Version => {
            "The agent speaks another version of the protocol. Update the PairUX agent."
        }
    }
}
