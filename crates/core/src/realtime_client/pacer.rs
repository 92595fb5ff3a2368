//! Pacing of our own presence updates. Realtime servers allow 5 presence calls per channel join
//! in 30 s and close the channel on the sixth (`system` "Client presence rate limit exceeded";
//! ours and Supabase's alike). The join's own track is one of them, so a person who toggles the
//! microphone or renames a few times in a row would lose the channel — and drop out of
//! everyone's participant list — for the rejoin's few seconds. Updates past
//! [`PresencePacer::LIMIT`] in any [`PresencePacer::WINDOW_MS`] wait instead; only the latest
//! waits (a newer profile replaces one not yet sent).

/// Sliding-window pacing of re-tracks, time passed in.
#[derive(Debug, Default)]
pub struct PresencePacer {
    /// When the re-tracks of the last window went out.
    sent: Vec<u64>,
}

impl PresencePacer {
    /// Re-tracks allowed in any window: with the join's track, one under the server's 5, so a
    /// rejoin's track in the same window still fits.
    pub const LIMIT: usize = 3;
    /// A little over the server's 30 s, for the time a frame takes to reach it.
    pub const WINDOW_MS: u64 = 32_000;

    pub fn new() -> Self {
        Self::default()
    }

    /// `None`: a re-track may go now (and is counted). `Some(at)`: not before `at`.
    pub fn admit(&mut self, now: u64) -> Option<u64> {
        self.sent
            .retain(|at| now.saturating_sub(*at) < Self::WINDOW_MS);
        if self.sent.len() < Self::LIMIT {
            self.sent.push(now);
            return None;
        }
        self.sent
            .iter()
            .min()
            .map(|oldest| oldest + Self::WINDOW_MS)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn three_retracks_per_window_then_each_waits_for_the_oldest_to_leave_it() {
        let mut p = PresencePacer::new();
        assert_eq!(p.admit(0), None);
        assert_eq!(p.admit(1_000), None);
        assert_eq!(p.admit(2_000), None);
        assert_eq!(p.admit(3_000), Some(PresencePacer::WINDOW_MS));
        assert_eq!(
            p.admit(PresencePacer::WINDOW_MS - 1),
            Some(PresencePacer::WINDOW_MS)
        );
        assert_eq!(p.admit(PresencePacer::WINDOW_MS), None);
        assert_eq!(
            p.admit(PresencePacer::WINDOW_MS + 10),
            Some(1_000 + PresencePacer::WINDOW_MS)
        );
    }

    #[test]
    fn never_more_than_five_calls_in_any_30_s_with_the_joins_track() {
        // Someone toggling every 300 ms for two minutes, every allowed update sent at once.
        let mut p = PresencePacer::new();
        let mut sent = vec![0u64]; // the join's track
        let mut now = 0;
        let mut waiting_until = None;
        while now < 120_000 {
            now += 300;
            match waiting_until {
                Some(at) if now < at => continue,
                _ => {}
            }
            match p.admit(now) {
                None => {
                    sent.push(now);
                    waiting_until = None;
                }
                Some(at) => waiting_until = Some(at),
            }
        }
        for &start in &sent {
            let in_window = sent
                .iter()
                .filter(|&&t| t >= start && t < start + 30_000)
                .count();
            assert!(in_window <= 5, "{in_window} calls from {start}");
        }
        assert!(sent.len() > 10, "updates still go: {}", sent.len());
    }
}
