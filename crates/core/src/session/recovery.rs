//! When a media connection goes down: wait out a short `disconnected` blip, then restart ICE
//! with back-off, and give up after a few tries so the person is told instead of left with a
//! frozen frame. The same decisions serve P2P links (the host restarts, it is the offerer) and
//! SFU connections (publisher and subscriber restart through Janus).

/// A `disconnected` connection often comes back by itself within a couple of seconds.
pub const DISCONNECTED_GRACE_MS: u64 = 2_000;
/// Waits between restarts: the first try is immediate after the grace, then back-off.
pub const BACKOFF_MS: [u64; 5] = [0, 2_000, 4_000, 8_000, 8_000];

/// What to do now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecoveryAction {
    Nothing,
    RestartIce,
    /// Every restart failed: tell the person (and, for the SFU, start over with a new grant).
    GiveUp,
}

#[derive(Debug, Default, Clone)]
pub struct Recovery {
    attempts: usize,
    next_at: Option<u64>,
    down: bool,
    gave_up: bool,
}

impl Recovery {
    /// `connectionState` changed.
    pub fn on_state(&mut self, now: u64, state: &str) {
        match state {
            "connected" => *self = Recovery::default(),
            "disconnected" if !self.down => {
                self.down = true;
                self.next_at = Some(now + DISCONNECTED_GRACE_MS);
            }
            "failed" if !self.gave_up => {
                self.down = true;
                // Failed is final for this ICE generation: restart now, or at the back-off.
                let due = now + BACKOFF_MS.get(self.attempts).copied().unwrap_or(0);
                self.next_at = Some(self.next_at.map_or(due, |at| at.min(due)));
            }
            _ => {}
        }
    }

    /// Whether the connection is down and being recovered.
    pub fn reconnecting(&self) -> bool {
        self.down && !self.gave_up
    }

    pub fn gave_up(&self) -> bool {
        self.gave_up
    }

    pub fn poll_timeout(&self) -> Option<u64> {
        self.next_at
    }

    pub fn handle_timeout(&mut self, now: u64) -> RecoveryAction {
        match self.next_at {
            Some(at) if now >= at && self.down => {}
            _ => return RecoveryAction::Nothing,
        }
        if self.attempts >= BACKOFF_MS.len() {
            self.gave_up = true;
            self.next_at = None;
            return RecoveryAction::GiveUp;
        }
        self.attempts += 1;
        // If this restart does not bring it back, the next one is due after the back-off.
        let wait = BACKOFF_MS
            .get(self.attempts)
            .copied()
            .unwrap_or(BACKOFF_MS[BACKOFF_MS.len() - 1])
            .max(DISCONNECTED_GRACE_MS);
        self.next_at = Some(now + wait);
        RecoveryAction::RestartIce
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_blip_recovers_without_a_restart() {
        let mut r = Recovery::default();
        r.on_state(0, "disconnected");
        assert!(r.reconnecting());
        assert_eq!(r.poll_timeout(), Some(DISCONNECTED_GRACE_MS));
        r.on_state(500, "connected");
        assert_eq!(r.poll_timeout(), None);
        assert_eq!(
            r.handle_timeout(DISCONNECTED_GRACE_MS),
            RecoveryAction::Nothing
        );
    }

    #[test]
    fn restarts_with_back_off_then_gives_up() {
        let mut r = Recovery::default();
        r.on_state(0, "failed");
        let mut now = 0;
        let mut restarts = 0;
        loop {
            let at = r.poll_timeout().expect("a deadline while down");
            assert!(at >= now);
            now = at;
            match r.handle_timeout(now) {
                RecoveryAction::RestartIce => {
                    restarts += 1;
                    r.on_state(now + 100, "failed");
                }
                RecoveryAction::GiveUp => break,
                RecoveryAction::Nothing => panic!("a due deadline does something"),
            }
        }
        assert_eq!(restarts, BACKOFF_MS.len());
        assert!(r.gave_up() && !r.reconnecting());
        assert!(now >= 20_000, "tries spread over {now} ms");
        // A later success starts afresh.
        r.on_state(now, "connected");
        assert!(!r.gave_up());
    }
}
