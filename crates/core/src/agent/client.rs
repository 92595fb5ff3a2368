//! The host page's side of the agent protocol, sans-IO: the page opens the loopback socket and
//! feeds frames in; this decides what to answer and what to show.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;

use super::pairing::{answer_verify, resume_proof, Answer, PairingCode};
use super::wire::{AgentMsg, FrameError, PageMsg, PointersOnly, Refusal};

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
    /// What answered on the agent's port could not prove it holds the code or the tab's token
    /// (another program took the port): close the socket, keep the token, show this sentence.
    NotTheAgent(&'static str),
    /// Paired: send the surface and holders now.
    Paired,
    /// The host pressed the emergency hotkey: revoke every controller.
    Emergency,
    /// The state changed.
    State(AgentState),
}

/// The agent did not take the tab's resume token (it was restarted, or the tab was gone too long).
pub const RESUME_REFUSED_SENTENCE: &str = "The agent no longer knows this tab (it was restarted, or the tab was away too long). Enter the code the agent shows to pair again.";

/// What the agent answered to the wrong party says.
pub const NOT_THE_AGENT_SENTENCE: &str = "Something other than the PairUX agent answered on its port, so this page did not pair and sends it nothing. Stop that program, start the agent and enter the code it shows.";

pub struct AgentClient {
    origin: String,
    /// Where the socket goes: the agent's answer must name it.
    port: u16,
    /// Random, base64url: what the agent's answer must be proven over.
    nonce: String,
    credential: Option<Credential>,
    /// The agent's nonce, once its hello came and our proof went.
    asked: Option<String>,
    state: AgentState,
}

impl AgentClient {
    /// A socket about to open to the agent's `port` from a page at `origin`, proving itself
    /// with `credential`; the agent proves itself over `nonce` (random bytes from the caller).
    pub fn new(origin: &str, port: u16, credential: Credential, nonce: &[u8; 16]) -> AgentClient {
        AgentClient {
            origin: origin.to_owned(),
            port,
            nonce: URL_SAFE_NO_PAD.encode(nonce),
            credential: Some(credential),
            asked: None,
            state: AgentState::Pairing,
        }
    }

    fn key(&self) -> &[u8] {
        match &self.credential {
            Some(Credential::Code(code)) => code.key(),
            Some(Credential::Resume(token)) => token.as_bytes(),
            None => &[],
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
        let msg = match AgentMsg::decode(text) {
            Ok(msg) => msg,
            // An agent of another version says hello in it: say so rather than wait.
            Err(FrameError::Version(_)) if self.state == AgentState::Pairing => {
                return self.refused(Refusal::Version)
            }
            Err(_) => return Vec::new(),
        };
        match msg {
            AgentMsg::Hello { nonce, .. } => {
                if self.asked.is_some() {
                    return Vec::new();
                }
                let page_nonce = self.nonce.clone();
                let msg = match &self.credential {
                    Some(Credential::Code(code)) => PageMsg::Pair {
                        proof: code.proof(&nonce, &self.origin),
                        nonce: page_nonce,
                    },
                    Some(Credential::Resume(token)) => PageMsg::Resume {
                        proof: resume_proof(token, &nonce, &self.origin, self.port),
                        nonce: page_nonce,
                    },
                    None => return Vec::new(),
                };
                self.asked = Some(nonce);
                vec![ClientEvent::Send(msg.encode())]
            }
            AgentMsg::Paired { resume, proof } => {
                if self.state != AgentState::Pairing {
                    return Vec::new();
                }
                let proven = self.asked.as_deref().is_some_and(|asked| {
                    let answer = Answer {
                        agent_nonce: asked,
                        page_nonce: &self.nonce,
                        origin: &self.origin,
                        port: self.port,
                        resume: &resume,
                    };
                    answer_verify(self.key(), answer, &proof)
                });
                if !proven {
                    self.state = AgentState::Absent;
                    return vec![
                        ClientEvent::NotTheAgent(NOT_THE_AGENT_SENTENCE),
                        ClientEvent::State(self.state),
                    ];
                }
                self.credential = None;
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
            // Only an agent that has not proven itself can refuse (a paired one closes).
            AgentMsg::Refused { reason } if self.state == AgentState::Pairing => {
                self.refused(reason)
            }
            AgentMsg::Refused { .. } => Vec::new(),
            // Nothing but a proven agent is heard.
            AgentMsg::Status { drives, why } => {
                if !self.paired() {
                    return Vec::new();
                }
                self.state = AgentState::Connected { drives, why };
                vec![ClientEvent::State(self.state)]
            }
            AgentMsg::Emergency if self.paired() => vec![ClientEvent::Emergency],
            AgentMsg::Emergency => Vec::new(),
        }
    }

    fn paired(&self) -> bool {
        matches!(self.state, AgentState::Connected { .. })
    }

    fn refused(&mut self, reason: Refusal) -> Vec<ClientEvent> {
        self.state = AgentState::Absent;
        // Nobody typed a code for a resume: say what the refusal of the tab's token means.
        let resuming = matches!(self.credential, Some(Credential::Resume(_)));
        let sentence = match reason {
            Refusal::BadCode if resuming => RESUME_REFUSED_SENTENCE,
            reason => refusal_sentence(reason),
        };
        vec![
            ClientEvent::Refused(sentence),
            ClientEvent::State(self.state),
        ]
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
