//! The controller's side: asking for control with a proof, the state shown as
//! `control-state`, numbering input events, the keys and buttons its input holds down (let go
//! by `release_held` when the page can no longer see their release), and the Esc-Esc release
//! gesture.

use super::proof::{control_proof, ChannelBinding};
use super::wire::{Button, ControlMsg, InputEvent, InputKind, Modifiers};
use crate::link::ControllerSecret;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ControlState {
    None,
    Requested,
    Granted,
}

/// How the last request or grant ended, when it was not our own doing: what the controller
/// is told beside "Request control".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ControlOutcome {
    /// The host declined, or did not answer in time.
    NotGiven,
    /// The host took control back (or the emergency revoke).
    TakenBack,
    /// The channel to the host closed while we held control: a new one starts without it.
    Lost,
}

impl ControlOutcome {
    /// The sentence the controller reads.
    pub fn sentence(self) -> &'static str {
        match self {
            ControlOutcome::NotGiven => "The host didn't give you control.",
            ControlOutcome::TakenBack => "The host took control back.",
            ControlOutcome::Lost => {
                "The connection to the host dropped, so control was given back — ask again."
            }
        }
    }
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
    /// How the last request or grant ended, if the host ended it.
    outcome: Option<ControlOutcome>,
    /// What our input pressed and has not let go yet, and where the pointer last was: what
    /// [`Self::release_held`] lets go when the page can no longer see the release itself.
    held: Held,
}

/// Buttons and keys down on the host's side by our input.
#[derive(Debug, Default)]
struct Held {
    buttons: Vec<Button>,
    /// (code, key) of each key down.
    keys: Vec<(String, String)>,
    at: Option<(f64, f64)>,
}

impl Held {
    fn note(&mut self, kind: &InputKind) {
        match kind {
            InputKind::Move { x, y }
            | InputKind::Wheel { x, y, .. }
            | InputKind::Dbl { x, y, .. } => {
                self.at = Some((*x, *y));
            }
            InputKind::Down { x, y, b, .. } => {
                self.at = Some((*x, *y));
                if !self.buttons.contains(b) {
                    self.buttons.push(*b);
                }
            }
            InputKind::Up { x, y, b, .. } => {
                self.at = Some((*x, *y));
                self.buttons.retain(|held| held != b);
            }
            InputKind::KeyDown { key, code, .. } => {
                if !self.keys.iter().any(|(c, _)| c == code) {
                    self.keys.push((code.clone(), key.clone()));
                }
            }
            InputKind::KeyUp { code, .. } => self.keys.retain(|(c, _)| c != code),
            InputKind::Text { .. } => {}
        }
    }
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
            outcome: None,
            held: Held::default(),
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
                self.outcome = Some(ControlOutcome::NotGiven);
            }
            ControlMsg::Revoke => {
                if self.state == ControlState::Granted {
                    self.outcome = Some(ControlOutcome::TakenBack);
                }
                self.state = ControlState::None;
            }
            ControlMsg::State { holders, agent } => {
                self.agent = *agent;
                let holds = holders.contains(&self.me);
                match (self.state, holds) {
                    (ControlState::Granted, false) => {
                        self.state = ControlState::None;
                        self.outcome = Some(ControlOutcome::TakenBack);
                    }
                    // The grant may overtake nothing on an ordered channel, but a state that
                    // names us right after our request means the same.
                    (ControlState::Requested, true) => self.state = ControlState::Granted,
                    (ControlState::None, true) => return Some(ControlMsg::Release),
                    _ => {}
                }
            }
            _ => {}
        }
        self.forget_held_unless_granted();
        None
    }

    /// Out of control, nothing we pressed is ours to let go: the host releases what a holder
    /// held when it stops holding.
    fn forget_held_unless_granted(&mut self) {
        if self.state != ControlState::Granted {
            self.held = Held::default();
        }
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
        self.outcome = None;
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
                self.forget_held_unless_granted();
                Some(ControlMsg::Release)
            }
        }
    }

    /// How the last request or grant ended, when the host ended it (cleared by the next
    /// request).
    pub fn outcome(&self) -> Option<ControlOutcome> {
        self.outcome
    }

    /// The channel closed: nothing is held any more (the person reads so, if they held
    /// control).
    pub fn disconnected(&mut self) {
        if self.state == ControlState::Granted {
            self.outcome = Some(ControlOutcome::Lost);
        }
        self.nonce = None;
        self.state = ControlState::None;
        self.agent = false;
        self.forget_held_unless_granted();
    }

    /// Wraps an input event with the next sequence number, if we hold control.
    pub fn input(&mut self, ts: u64, kind: InputKind) -> Option<ControlMsg> {
        if self.state != ControlState::Granted {
            return None;
        }
        self.seq += 1;
        self.held.note(&kind);
        Some(ControlMsg::Input(InputEvent {
            seq: self.seq,
            ts,
            kind,
        }))
    }

    /// Whether our input holds button `b` down on the host's side.
    pub fn pressed(&self, b: Button) -> bool {
        self.held.buttons.contains(&b)
    }

    /// Whether our input holds the key `code` down on the host's side.
    pub fn holds_key(&self, code: &str) -> bool {
        self.held.keys.iter().any(|(c, _)| c == code)
    }

    /// Whether our input holds any button down on the host's side.
    pub fn dragging(&self) -> bool {
        !self.held.buttons.is_empty()
    }

    /// Lets go of every key and button our input holds down on the host's side: the page can
    /// no longer see their release (focus left the picture, the pointer capture was lost), and
    /// a key or button left down there would turn every later click into a drag or a
    /// Ctrl-click. Keys first, then buttons where the pointer last was.
    pub fn release_held(&mut self, ts: u64) -> Vec<ControlMsg> {
        let keys = std::mem::take(&mut self.held.keys);
        let buttons = std::mem::take(&mut self.held.buttons);
        let mut out = Vec::new();
        for (code, key) in keys {
            let m = Modifiers::default();
            out.extend(self.input(ts, InputKind::KeyUp { key, code, m }));
        }
        if let Some((x, y)) = self.held.at {
            for b in buttons {
                out.extend(self.input(ts, InputKind::Up { x, y, b, m: None }));
            }
        }
        out
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
    fn the_controller_learns_how_the_host_ended_its_request_or_its_control() {
        let mut c = ControlClient::new("c", Some(secret()));
        c.on_message(&ControlMsg::Challenge { nonce: "n".into() });
        c.request(&binding());
        c.on_message(&ControlMsg::Deny);
        assert_eq!(c.outcome(), Some(ControlOutcome::NotGiven));
        // Asking again clears it; a grant taken back says so, by revoke or by the holders.
        c.request(&binding());
        assert_eq!(c.outcome(), None);
        c.on_message(&ControlMsg::Grant);
        c.on_message(&ControlMsg::Revoke);
        assert_eq!(c.outcome(), Some(ControlOutcome::TakenBack));
        c.request(&binding());
        c.on_message(&ControlMsg::Grant);
        c.on_message(&ControlMsg::State {
            holders: vec![],
            agent: false,
        });
        assert_eq!(c.outcome(), Some(ControlOutcome::TakenBack));
        // Our own release, or a cancelled request, is no news.
        c.request(&binding());
        c.on_message(&ControlMsg::Grant);
        c.release();
        c.on_message(&ControlMsg::State {
            holders: vec![],
            agent: false,
        });
        assert_eq!(c.outcome(), None);
        c.request(&binding());
        c.release();
        c.on_message(&ControlMsg::Deny);
        assert_eq!(c.outcome(), None);
        // A channel that closes under a grant takes it along, and says so; one that closes
        // with nothing held is no news, and the next channel's host naming us is answered
        // with a release (the grant went with the old one).
        c.request(&binding());
        c.on_message(&ControlMsg::Grant);
        c.disconnected();
        assert_eq!(c.state(), ControlState::None);
        assert_eq!(c.outcome(), Some(ControlOutcome::Lost));
        c.on_message(&ControlMsg::Challenge { nonce: "m".into() });
        c.request(&binding());
        assert_eq!(c.outcome(), None);
        c.cancel();
        c.disconnected();
        assert_eq!(c.outcome(), None);
        c.on_message(&ControlMsg::Challenge { nonce: "o".into() });
        let stale = ControlMsg::State {
            holders: vec!["c".into()],
            agent: false,
        };
        assert_eq!(c.on_message(&stale), Some(ControlMsg::Release));
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
                        m: None,
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

    #[test]
    fn what_input_holds_down_is_let_go_on_request_and_forgotten_out_of_control() {
        let mut c = ControlClient::new("c", Some(secret()));
        c.on_message(&ControlMsg::Challenge { nonce: "n".into() });
        c.request(&binding()).unwrap();
        c.on_message(&ControlMsg::Grant);
        let key = |code: &str, key: &str, down: bool| {
            if down {
                InputKind::KeyDown {
                    key: key.into(),
                    code: code.into(),
                    m: Modifiers(Modifiers::SHIFT),
                    rep: false,
                }
            } else {
                InputKind::KeyUp {
                    key: key.into(),
                    code: code.into(),
                    m: Modifiers::default(),
                }
            }
        };
        c.input(1, key("ShiftLeft", "Shift", true));
        c.input(
            2,
            InputKind::Down {
                x: 0.5,
                y: 0.5,
                b: Button::Left,
                m: None,
            },
        );
        c.input(3, InputKind::Move { x: 0.9, y: 0.0 });
        c.input(4, key("KeyA", "A", true));
        c.input(5, key("KeyA", "A", false));
        // A repeat is the same key, still down once.
        let mut repeat = key("ShiftLeft", "Shift", true);
        if let InputKind::KeyDown { rep, .. } = &mut repeat {
            *rep = true;
        }
        c.input(6, repeat);
        assert!(c.pressed(Button::Left) && c.dragging() && !c.pressed(Button::Right));
        assert!(c.holds_key("ShiftLeft") && !c.holds_key("KeyA"));
        let released: Vec<InputKind> = c
            .release_held(7)
            .into_iter()
            .map(|m| match m {
                ControlMsg::Input(e) => {
                    assert_eq!(e.ts, 7);
                    e.kind
                }
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(
            released,
            [
                key("ShiftLeft", "Shift", false),
                InputKind::Up {
                    x: 0.9,
                    y: 0.0,
                    b: Button::Left,
                    m: None,
                },
            ]
        );
        assert!(!c.dragging());
        assert!(c.release_held(8).is_empty(), "let go once");

        // Held when control ends: forgotten (the host lets go of a former holder's keys).
        c.input(
            9,
            InputKind::Down {
                x: 0.1,
                y: 0.1,
                b: Button::Right,
                m: None,
            },
        );
        c.on_message(&ControlMsg::Revoke);
        assert!(!c.dragging());
        assert!(c.release_held(10).is_empty());
    }
}
