//! The controller's side: asking for control with a proof, the state shown as
//! `control-state`, numbering input events, and the Esc-Esc release gesture.

use super::proof::{control_proof, ChannelBinding};
use super::wire::{ControlMsg, InputEvent, InputKind};
use crate::link::ControllerSecret;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ControlState {
    None,
    Requested,
    Granted,
}

impl ControlState {
    pub fn as_str(self) -> &'static str {
        match self {
            ControlState::None => "none",
            ControlState::Requested => "requested",
            ControlState::Granted => "granted",
        }
    }
}

#[derive(Debug)]
pub struct ControlClient {
    me: String,
    secret: Option<ControllerSecret>,
    nonce: Option<String>,
    state: ControlState,
    seq: u64,
    agent: bool,
}

impl ControlClient {
    /// `secret`: the controller secret from the link (`None` for viewers, who cannot ask).
    pub fn new(me: impl Into<String>, secret: Option<ControllerSecret>) -> Self {
        ControlClient {
            me: me.into(),
            secret,
            nonce: None,
            state: ControlState::None,
            seq: 0,
            agent: false,
        }
    }

    pub fn state(&self) -> ControlState {
        self.state
    }

    /// Whether the host said its agent applies granted input to its computer.
    pub fn agent(&self) -> bool {
        self.agent
    }

    /// Whether a request can be made now (controller link and a challenge received).
    pub fn can_request(&self) -> bool {
        self.secret.is_some() && self.nonce.is_some() && self.state == ControlState::None
    }

    /// A message from the host; returns the answer to send, if any. Control is only ever
    /// taken after we asked: a `grant` or a `state` naming us that we did not request (a late
    /// grant after "Cancel request", or a host that misbehaves) is answered with `release`.
    pub fn on_message(&mut self, msg: &ControlMsg) -> Option<ControlMsg> {
        match msg {
            ControlMsg::Challenge { nonce } => {
                // A new channel: whatever we held is gone with the old one.
                self.nonce = Some(nonce.clone());
                self.state = ControlState::None;
            }
            ControlMsg::Grant => match self.state {
                ControlState::Requested => self.state = ControlState::Granted,
                ControlState::Granted => {}
                ControlState::None => return Some(ControlMsg::Release),
            },
            ControlMsg::Deny if self.state == ControlState::Requested => {
                self.state = ControlState::None;
            }
            ControlMsg::Revoke => self.state = ControlState::None,
            ControlMsg::State { holders, agent } => {
                self.agent = *agent;
                let holds = holders.contains(&self.me);
                match (self.state, holds) {
                    (ControlState::Granted, false) => self.state = ControlState::None,
                    // The grant may overtake nothing on an ordered channel, but a state that
                    // names us right after our request means the same.
                    (ControlState::Requested, true) => self.state = ControlState::Granted,
                    (ControlState::None, true) => return Some(ControlMsg::Release),
                    _ => {}
                }
            }
            _ => {}
        }
        None
    }

    /// The request to send, if one can be made. `binding`: the DTLS fingerprints of the
    /// connection the request travels on (ours and the host's).
    pub fn request(&mut self, binding: &ChannelBinding) -> Option<ControlMsg> {
        if !self.can_request() {
            return None;
        }
        let proof = control_proof(
            self.secret.as_ref()?,
            self.nonce.as_deref()?,
            &self.me,
            binding,
        );
        self.state = ControlState::Requested;
        Some(ControlMsg::Request { proof })
    }

    /// Withdraws a pending request ("Cancel request"); a grant that arrives later is refused.
    pub fn cancel(&mut self) -> Option<ControlMsg> {
        (self.state == ControlState::Requested).then(|| {
            self.state = ControlState::None;
            ControlMsg::Cancel
        })
    }

    /// Gives control back (a pending request is cancelled instead).
    pub fn release(&mut self) -> Option<ControlMsg> {
        match self.state {
            ControlState::None => None,
            ControlState::Requested => self.cancel(),
            ControlState::Granted => {
                self.state = ControlState::None;
                Some(ControlMsg::Release)
            }
        }
    }

    /// The channel closed: nothing is held any more.
    pub fn disconnected(&mut self) {
        self.nonce = None;
        self.state = ControlState::None;
        self.agent = false;
    }

    /// Wraps an input event with the next sequence number, if we hold control.
    pub fn input(&mut self, ts: u64, kind: InputKind) -> Option<ControlMsg> {
        if self.state != ControlState::Granted {
            return None;
        }
        self.seq += 1;
        Some(ControlMsg::Input(InputEvent {
            seq: self.seq,
            ts,
            kind,
        }))
    }
}

/// Two Escape presses within [`EscEsc::WINDOW_MS`] release control.
#[derive(Debug, Default)]
pub struct EscEsc {
    last: Option<u64>,
}

impl EscEsc {
    pub const WINDOW_MS: u64 = 600;

    /// An Escape press at `now`; true when it completes the gesture.
    pub fn press(&mut self, now: u64) -> bool {
        match self.last.take() {
            Some(at) if now.saturating_sub(at) <= Self::WINDOW_MS => true,
            _ => {
                self.last = Some(now);
                false
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::control::{verify_proof, Button};

    fn secret() -> ControllerSecret {
        ControllerSecret::from_bytes([5; 32])
    }

    fn binding() -> ChannelBinding {
        ChannelBinding {
            host: "sha-256 AA".into(),
            participant: "sha-256 BB".into(),
        }
    }

    #[test]
    fn request_needs_a_secret_and_a_challenge() {
        let mut viewer = ControlClient::new("v", None);
        viewer.on_message(&ControlMsg::Challenge { nonce: "n".into() });
        assert_eq!(viewer.request(&binding()), None);

        let mut c = ControlClient::new("c", Some(secret()));
        assert_eq!(c.request(&binding()), None, "no challenge yet");
        c.on_message(&ControlMsg::Challenge { nonce: "n".into() });
        let Some(ControlMsg::Request { proof }) = c.request(&binding()) else {
            panic!("expected a request");
        };
        assert!(verify_proof(&secret(), "n", "c", &binding(), &proof));
        assert_eq!(c.state(), ControlState::Requested);
        assert_eq!(c.request(&binding()), None, "one request at a time");
    }

    #[test]
    fn grant_input_revoke_and_release() {
        let mut c = ControlClient::new("c", Some(secret()));
        c.on_message(&ControlMsg::Challenge { nonce: "n".into() });
        assert!(c.input(0, InputKind::Move { x: 0.1, y: 0.1 }).is_none());
        c.request(&binding());
        c.on_message(&ControlMsg::Grant);
        assert_eq!(c.state(), ControlState::Granted);
        let seqs: Vec<u64> = (0..3)
            .filter_map(|i| {
                c.input(
                    i,
                    InputKind::Down {
                        x: 0.5,
                        y: 0.5,
                        b: Button::Left,
                    },
                )
            })
            .map(|m| match m {
                ControlMsg::Input(e) => e.seq,
                _ => 0,
            })
            .collect();
        assert_eq!(seqs, [1, 2, 3]);
        c.on_message(&ControlMsg::Revoke);
        assert_eq!(c.state(), ControlState::None);
        assert!(c.input(9, InputKind::Move { x: 0.1, y: 0.1 }).is_none());
        // Asked again; the state naming us grants it; then released.
        c.request(&binding());
        c.on_message(&ControlMsg::State {
            holders: vec!["c".into()],
            agent: false,
        });
        assert_eq!(c.state(), ControlState::Granted);
        assert_eq!(c.release(), Some(ControlMsg::Release));
        assert_eq!(c.release(), None);
        // Sequence numbers never restart within a page: old events stay replays.
        c.request(&binding());
        c.on_message(&ControlMsg::Grant);
        match c.input(10, InputKind::Move { x: 0.1, y: 0.1 }) {
            Some(ControlMsg::Input(e)) => assert_eq!(e.seq, 4),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn unsolicited_grants_and_states_are_refused() {
        let mut v = ControlClient::new("v", None);
        v.on_message(&ControlMsg::Challenge { nonce: "n".into() });
        assert_eq!(v.on_message(&ControlMsg::Grant), Some(ControlMsg::Release));
        assert_eq!(
            v.on_message(&ControlMsg::State {
                holders: vec!["v".into()],
                agent: false,
            }),
            Some(ControlMsg::Release)
        );
        assert_eq!(v.state(), ControlState::None);
        assert!(v.input(1, InputKind::Move { x: 0.5, y: 0.5 }).is_none());
    }

    #[test]
    fn cancel_withdraws_and_a_late_grant_does_nothing() {
        let mut c = ControlClient::new("c", Some(secret()));
        c.on_message(&ControlMsg::Challenge { nonce: "n".into() });
        c.request(&binding());
        assert_eq!(c.cancel(), Some(ControlMsg::Cancel));
        assert_eq!(c.state(), ControlState::None);
        assert_eq!(c.cancel(), None);
        assert_eq!(c.on_message(&ControlMsg::Grant), Some(ControlMsg::Release));
        assert_eq!(c.state(), ControlState::None);
        // Release while only requested is a cancel.
        c.request(&binding());
        assert_eq!(c.release(), Some(ControlMsg::Cancel));
    }

    #[test]
    fn esc_twice_quickly() {
        let mut e = EscEsc::default();
        assert!(!e.press(0));
        assert!(e.press(500));
        assert!(!e.press(2_000));
        assert!(!e.press(2_700));
        assert!(e.press(2_800));
    }
}
