//! The controller's side: asking for control with a proof, the state shown as
//! `control-state`, numbering input events, and the Esc-Esc release gesture.

use super::proof::control_proof;
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
        }
    }

    pub fn state(&self) -> ControlState {
        self.state
    }

    /// Whether a request can be made now (controller link and a challenge received).
    pub fn can_request(&self) -> bool {
        self.secret.is_some() && self.nonce.is_some() && self.state == ControlState::None
    }

    /// A message from the host.
    pub fn on_message(&mut self, msg: &ControlMsg) {
        match msg {
            ControlMsg::Challenge { nonce } => {
                // A new channel: whatever we held is gone with the old one.
                self.nonce = Some(nonce.clone());
                self.state = ControlState::None;
            }
            ControlMsg::Grant if self.state == ControlState::Requested => {
                self.state = ControlState::Granted;
            }
            ControlMsg::Deny if self.state == ControlState::Requested => {
                self.state = ControlState::None;
            }
            ControlMsg::Revoke => self.state = ControlState::None,
            ControlMsg::State { holders } => {
                let holds = holders.contains(&self.me);
                match (self.state, holds) {
                    (ControlState::Granted, false) => self.state = ControlState::None,
                    (_, true) => self.state = ControlState::Granted,
                    _ => {}
                }
            }
            _ => {}
        }
    }

    /// The request to send, if one can be made.
    pub fn request(&mut self) -> Option<ControlMsg> {
        if !self.can_request() {
            return None;
        }
        let proof = control_proof(self.secret.as_ref()?, self.nonce.as_deref()?, &self.me);
        self.state = ControlState::Requested;
        Some(ControlMsg::Request { proof })
    }

    /// Gives control back (also cancels a pending request on our side).
    pub fn release(&mut self) -> Option<ControlMsg> {
        match self.state {
            ControlState::None => None,
            ControlState::Requested | ControlState::Granted => {
                self.state = ControlState::None;
                Some(ControlMsg::Release)
            }
        }
    }

    /// The channel closed: nothing is held any more.
    pub fn disconnected(&mut self) {
        self.nonce = None;
        self.state = ControlState::None;
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

    #[test]
    fn request_needs_a_secret_and_a_challenge() {
        let mut viewer = ControlClient::new("v", None);
        viewer.on_message(&ControlMsg::Challenge { nonce: "n".into() });
        assert_eq!(viewer.request(), None);

        let mut c = ControlClient::new("c", Some(secret()));
        assert_eq!(c.request(), None, "no challenge yet");
        c.on_message(&ControlMsg::Challenge { nonce: "n".into() });
        let Some(ControlMsg::Request { proof }) = c.request() else {
            panic!("expected a request");
        };
        assert!(verify_proof(&secret(), "n", "c", &proof));
        assert_eq!(c.state(), ControlState::Requested);
        assert_eq!(c.request(), None, "one request at a time");
    }

    #[test]
    fn grant_input_revoke_and_release() {
        let mut c = ControlClient::new("c", Some(secret()));
        c.on_message(&ControlMsg::Challenge { nonce: "n".into() });
        assert!(c.input(0, InputKind::Move { x: 0.1, y: 0.1 }).is_none());
        c.request();
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
        // Held again via state (e.g. after a reconnect of our UI), then released.
        c.on_message(&ControlMsg::State {
            holders: vec!["c".into()],
        });
        assert_eq!(c.release(), Some(ControlMsg::Release));
        assert_eq!(c.release(), None);
        // Sequence numbers never restart within a page: old events stay replays.
        c.on_message(&ControlMsg::State {
            holders: vec!["c".into()],
        });
        match c.input(10, InputKind::Move { x: 0.1, y: 0.1 }) {
            Some(ControlMsg::Input(e)) => assert_eq!(e.seq, 4),
            other => panic!("{other:?}"),
        }
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
