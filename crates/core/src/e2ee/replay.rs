//! Per-KID replay protection: a sliding window over SFrame counters.
//!
//! The highest counter accepted so far and a bitmap of the [`REPLAY_WINDOW`] counters below it.
//! A counter is acceptable if it is newer than the highest, or inside the window and not yet
//! seen. [`ReplayWindow::check`] runs before decryption (cheap rejection);
//! [`ReplayWindow::accept`] only after the frame authenticated, so forged frames can neither
//! move the window nor burn counters.

use super::E2eeError;

/// Counters remembered below the highest accepted one.
pub const REPLAY_WINDOW: u64 = 2048;

const WORDS: usize = (REPLAY_WINDOW / 64) as usize;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReplayWindow {
    highest: Option<u64>,
    /// Bit `ctr % REPLAY_WINDOW` is set when `ctr` (inside the window) was accepted.
    seen: Box<[u64; WORDS]>,
}

impl ReplayWindow {
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether `ctr` may be decrypted.
    pub fn check(&self, ctr: u64) -> Result<(), E2eeError> {
        match self.highest {
            Some(highest) if ctr <= highest => {
                if highest - ctr >= REPLAY_WINDOW || self.is_set(ctr) {
                    Err(E2eeError::Replayed(ctr))
                } else {
                    Ok(())
                }
            }
            _ => Ok(()),
        }
    }

    /// Records an authenticated counter that passed [`ReplayWindow::check`].
    pub fn accept(&mut self, ctr: u64) {
        match self.highest {
            Some(highest) if ctr <= highest => {}
            Some(highest) if ctr - highest < REPLAY_WINDOW => {
                // Forget the counters the window slides past (their slots are reused).
                for c in highest + 1..=ctr {
                    self.clear(c);
                }
                self.highest = Some(ctr);
            }
            _ => {
                self.seen.fill(0);
                self.highest = Some(ctr);
            }
        }
        self.set(ctr);
    }

    fn slot(ctr: u64) -> (usize, u64) {
        let bit = ctr % REPLAY_WINDOW;
        ((bit / 64) as usize, 1 << (bit % 64))
    }

    fn is_set(&self, ctr: u64) -> bool {
        let (word, mask) = Self::slot(ctr);
        self.seen[word] & mask != 0
    }

    fn set(&mut self, ctr: u64) {
        let (word, mask) = Self::slot(ctr);
        self.seen[word] |= mask;
    }

    fn clear(&mut self, ctr: u64) {
        let (word, mask) = Self::slot(ctr);
        self.seen[word] &= !mask;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn take(w: &mut ReplayWindow, ctr: u64) -> Result<(), E2eeError> {
        w.check(ctr)?;
        w.accept(ctr);
        Ok(())
    }

    #[test]
    fn duplicates_are_refused_reordering_is_not() {
        let mut w = ReplayWindow::new();
        assert!(take(&mut w, 5).is_ok());
        assert!(take(&mut w, 3).is_ok());
        assert!(take(&mut w, 9).is_ok());
        assert_eq!(take(&mut w, 5), Err(E2eeError::Replayed(5)));
        assert_eq!(take(&mut w, 9), Err(E2eeError::Replayed(9)));
        assert!(take(&mut w, 4).is_ok());
    }

    #[test]
    fn counters_older_than_the_window_are_refused() {
        let mut w = ReplayWindow::new();
        take(&mut w, 10_000).unwrap();
        assert!(w.check(10_000 - REPLAY_WINDOW + 1).is_ok());
        assert_eq!(
            w.check(10_000 - REPLAY_WINDOW),
            Err(E2eeError::Replayed(10_000 - REPLAY_WINDOW))
        );
    }

    #[test]
    fn sliding_forgets_reused_slots() {
        let mut w = ReplayWindow::new();
        take(&mut w, 1).unwrap();
        // 1 + REPLAY_WINDOW shares 1's slot; 1 is now out of the window, the new one is fresh.
        take(&mut w, 1 + REPLAY_WINDOW).unwrap();
        assert!(take(&mut w, 2 + REPLAY_WINDOW).is_ok());
        assert!(take(&mut w, 3).is_ok());
        assert!(w.check(1).is_err());
        // A jump past the whole window clears everything.
        take(&mut w, 100 * REPLAY_WINDOW).unwrap();
        assert!(take(&mut w, 100 * REPLAY_WINDOW - 1).is_ok());
    }

    #[test]
    fn a_checked_but_unaccepted_counter_stays_open() {
        let mut w = ReplayWindow::new();
        take(&mut w, 7).unwrap();
        assert!(w.check(8).is_ok());
        // (authentication failed: no accept)
        assert!(w.check(8).is_ok());
        assert!(take(&mut w, u64::MAX).is_ok());
        assert!(w.check(u64::MAX).is_err());
    }
}
