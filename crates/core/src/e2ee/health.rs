//! A receiver's `e2ee-state` from what happens to its frames, with throttled reports and
//! key-frame requests when decryption recovers.
//!
//! - A frame that decrypts makes the state `ok`.
//! - A frame whose key we lack (no sender id yet, or a KID we do not know) makes it
//!   `waiting-key`.
//! - [`FAILURES_BEFORE_REPORT`] consecutive frames that fail to authenticate or parse make it
//!   `decrypt-failed` (one bad frame is not a wrong key).
//! - Replayed frames change nothing: dropping a duplicate loses nothing.
//!
//! Changes are reported at most once per [`REPORT_INTERVAL_MS`]; a change held back is reported
//! with a later frame. After frames were dropped the decoder lacks references, so the first
//! frame that decrypts again asks for a key frame (at most once per
//! [`KEY_FRAME_INTERVAL_MS`]).

use super::protocol::E2eeState;
use super::E2eeError;

pub const REPORT_INTERVAL_MS: u64 = 500;
pub const FAILURES_BEFORE_REPORT: u32 = 3;
pub const KEY_FRAME_INTERVAL_MS: u64 = 1000;

/// What became of one incoming frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameOutcome {
    Decrypted,
    NoKey,
    Failed,
    Replayed,
}

impl FrameOutcome {
    pub fn of(result: &Result<(), E2eeError>) -> Self {
        match result {
            Ok(()) => FrameOutcome::Decrypted,
            Err(E2eeError::NoKey | E2eeError::UnknownKid(_)) => FrameOutcome::NoKey,
            Err(E2eeError::Replayed(_)) => FrameOutcome::Replayed,
            Err(_) => FrameOutcome::Failed,
        }
    }
}

/// What the transform should do after a frame.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HealthEffects {
    /// Tell the main thread.
    pub report: Option<E2eeState>,
    /// Call `sendKeyFrameRequest()`.
    pub request_key_frame: bool,
}

#[derive(Debug, Clone, Default)]
pub struct ReceiverHealth {
    state: Option<E2eeState>,
    reported: Option<E2eeState>,
    last_report_ms: Option<u64>,
    consecutive_failures: u32,
    dropped_since_ok: bool,
    last_key_frame_request_ms: Option<u64>,
}

impl ReceiverHealth {
    pub fn new() -> Self {
        Self::default()
    }

    /// The state as of the last frame (reported or not).
    pub fn state(&self) -> Option<E2eeState> {
        self.state
    }

    pub fn observe(&mut self, outcome: FrameOutcome, now_ms: u64) -> HealthEffects {
        let mut effects = HealthEffects::default();
        match outcome {
            FrameOutcome::Decrypted => {
                self.consecutive_failures = 0;
                self.state = Some(E2eeState::Ok);
                if std::mem::take(&mut self.dropped_since_ok) {
                    effects.request_key_frame = self.key_frame_due(now_ms);
                }
            }
            FrameOutcome::NoKey => {
                self.dropped_since_ok = true;
                self.consecutive_failures = 0;
                self.state = Some(E2eeState::WaitingKey);
            }
            FrameOutcome::Failed => {
                self.dropped_since_ok = true;
                self.consecutive_failures = self.consecutive_failures.saturating_add(1);
                if self.consecutive_failures >= FAILURES_BEFORE_REPORT {
                    self.state = Some(E2eeState::DecryptFailed);
                }
            }
            FrameOutcome::Replayed => {}
        }
        let due = self
            .last_report_ms
            .is_none_or(|last| now_ms.saturating_sub(last) >= REPORT_INTERVAL_MS);
        if self.state != self.reported && due {
            self.reported = self.state;
            self.last_report_ms = Some(now_ms);
            effects.report = self.state;
        }
        effects
    }

    fn key_frame_due(&mut self, now_ms: u64) -> bool {
        let due = self
            .last_key_frame_request_ms
            .is_none_or(|last| now_ms.saturating_sub(last) >= KEY_FRAME_INTERVAL_MS);
        if due {
            self.last_key_frame_request_ms = Some(now_ms);
        }
        due
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use FrameOutcome::*;

    #[test]
    fn first_good_frame_reports_ok_without_a_key_frame_request() {
        let mut h = ReceiverHealth::new();
        let e = h.observe(Decrypted, 0);
        assert_eq!(e.report, Some(E2eeState::Ok));
        assert!(!e.request_key_frame);
        assert_eq!(h.observe(Decrypted, 10), HealthEffects::default());
    }

    #[test]
    fn waiting_for_a_key_then_recovering_asks_for_a_key_frame() {
        let mut h = ReceiverHealth::new();
        assert_eq!(h.observe(NoKey, 0).report, Some(E2eeState::WaitingKey));
        assert_eq!(h.observe(NoKey, 33), HealthEffects::default());
        let e = h.observe(Decrypted, 600);
        assert_eq!(e.report, Some(E2eeState::Ok));
        assert!(e.request_key_frame);
    }

    #[test]
    fn a_wrong_key_needs_consecutive_failures() {
        let mut h = ReceiverHealth::new();
        h.observe(Decrypted, 0);
        assert_eq!(h.observe(Failed, 1000), HealthEffects::default());
        // One bad frame, then recovery: no report, but a key frame.
        let e = h.observe(Decrypted, 1033);
        assert_eq!(e.report, None);
        assert!(e.request_key_frame);
        for t in 0..FAILURES_BEFORE_REPORT as u64 - 1 {
            assert_eq!(h.observe(Failed, 2000 + t).report, None);
        }
        assert_eq!(
            h.observe(Failed, 2100).report,
            Some(E2eeState::DecryptFailed)
        );
        assert_eq!(h.observe(Replayed, 2200), HealthEffects::default());
        assert_eq!(h.state(), Some(E2eeState::DecryptFailed));
    }

    #[test]
    fn reports_are_throttled_and_held_back_changes_come_later() {
        let mut h = ReceiverHealth::new();
        assert_eq!(h.observe(NoKey, 0).report, Some(E2eeState::WaitingKey));
        // Recovery 100 ms later is not reported yet (but asks for a key frame at once).
        let e = h.observe(Decrypted, 100);
        assert_eq!(e.report, None);
        assert!(e.request_key_frame);
        assert_eq!(h.observe(Decrypted, 400).report, None);
        assert_eq!(h.observe(Decrypted, 500).report, Some(E2eeState::Ok));
    }

    #[test]
    fn key_frame_requests_are_rate_limited() {
        let mut h = ReceiverHealth::new();
        h.observe(NoKey, 0);
        assert!(h.observe(Decrypted, 10).request_key_frame);
        h.observe(Failed, 20);
        assert!(!h.observe(Decrypted, 30).request_key_frame);
        h.observe(Failed, 1020);
        assert!(h.observe(Decrypted, 1030).request_key_frame);
    }

    #[test]
    fn outcomes_from_errors() {
        assert_eq!(FrameOutcome::of(&Ok(())), Decrypted);
        assert_eq!(FrameOutcome::of(&Err(E2eeError::NoKey)), NoKey);
        assert_eq!(FrameOutcome::of(&Err(E2eeError::UnknownKid(3))), NoKey);
        assert_eq!(FrameOutcome::of(&Err(E2eeError::Replayed(3))), Replayed);
        assert_eq!(FrameOutcome::of(&Err(E2eeError::Authentication)), Failed);
        assert_eq!(FrameOutcome::of(&Err(E2eeError::MalformedHeader)), Failed);
    }
}
