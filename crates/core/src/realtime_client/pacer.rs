//! Pacing of our own presence updates. Realtime servers allow 5 presence calls per channel join
//! in 30 s and close the channel on the sixth (`system` "Client presence rate limit exceeded";
//! ours and Supabase's alike). The join's own track is one of them, so a person who toggles the
//! microphone or renames a few times in a row would lose the channel — and drop out of
//! everyone's participant list — for the rejoin's few seconds. Updates past
//! [`PresencePacer::LIMIT`] in any [`PresencePacer::WINDOW_MS`] wait instead; only the latest
//! waits (a newer profile replaces one not yet sent).

use serde_json::Value;

/// Sliding-window pacing of re-tracks, time passed in: [`Self::offer`] each new meta, send what
/// it returns, and call [`Self::handle_timeout`] at [`Self::poll_timeout`].
#[derive(Debug, Default)]
pub struct PresencePacer {
    /// When the re-tracks of the last window were let go.
    sent: Vec<u64>,
    /// The latest meta, waiting for its turn.
    pending: Option<Value>,
}

impl PresencePacer {
    /// Re-tracks let go in any window. Two, not four: a re-track asked for while the channel
    /// (re)joins goes out right behind the join's own track, so one server window can hold the
    /// join's track, two let go before it and two let go a window later — five.
    pub const LIMIT: usize = 2;
    /// A little over the server's 30 s, for the time a frame takes to reach it.
    pub const WINDOW_MS: u64 = 32_000;

    pub fn new() -> Self {
        Self::default()
    }

    /// A new meta to track: returned if it may go now, else kept (replacing any older one
    /// waiting) until [`Self::handle_timeout`] lets it go.
    pub fn offer(&mut self, now: u64, meta: Value) -> Option<Value> {
        self.pending = Some(meta);
        self.handle_timeout(now)
    }

    /// When the waiting meta may go, if one waits.
    pub fn poll_timeout(&self) -> Option<u64> {
        self.pending.as_ref()?;
        if self.sent.len() < Self::LIMIT {
            return self.sent.last().copied().or(Some(0));
        }
        self.sent
            .iter()
            .min()
            .map(|oldest| oldest + Self::WINDOW_MS)
    }

    /// The waiting meta, if its turn has come.
    pub fn handle_timeout(&mut self, now: u64) -> Option<Value> {
        self.pending.as_ref()?;
        self.sent
            .retain(|at| now.saturating_sub(*at) < Self::WINDOW_MS);
        if self.sent.len() >= Self::LIMIT {
            return None;
        }
        self.sent.push(now);
        self.pending.take()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn two_retracks_per_window_then_only_the_latest_waits_for_its_turn() {
        let mut p = PresencePacer::new();
        assert_eq!(p.poll_timeout(), None);
        assert_eq!(p.offer(0, json!(1)), Some(json!(1)));
        assert_eq!(p.offer(1_000, json!(2)), Some(json!(2)));
        assert_eq!(p.offer(2_000, json!(3)), None);
        assert_eq!(p.offer(3_000, json!(4)), None);
        assert_eq!(p.poll_timeout(), Some(PresencePacer::WINDOW_MS));
        assert_eq!(p.handle_timeout(PresencePacer::WINDOW_MS - 1), None);
        assert_eq!(
            p.handle_timeout(PresencePacer::WINDOW_MS),
            Some(json!(4)),
            "the latest"
        );
        assert_eq!(p.poll_timeout(), None, "nothing waits");
        assert_eq!(p.handle_timeout(PresencePacer::WINDOW_MS + 1), None);
        // The next waits for the second of the last window to leave it.
        assert_eq!(p.offer(PresencePacer::WINDOW_MS + 10, json!(5)), None);
        assert_eq!(p.poll_timeout(), Some(1_000 + PresencePacer::WINDOW_MS));
    }

    #[test]
    fn never_more_than_five_calls_in_a_server_window_with_the_joins_track() {
        // Someone toggling every 300 ms for two minutes; what is let go is sent at once, and
        // the two let go just before the join go out right behind the join's track.
        let mut p = PresencePacer::new();
        let mut sent = Vec::new();
        let mut now = 0;
        let mut n = 0;
        while now < 120_000 {
            now += 300;
            n += 1;
            if let Some(meta) = p.offer(now, json!(n)) {
                sent.push((now, meta));
            }
            if p.poll_timeout().is_some_and(|at| at <= now) {
                if let Some(meta) = p.handle_timeout(now) {
                    sent.push((now, meta));
                }
            }
        }
        let mut calls: Vec<u64> = sent.iter().map(|(at, _)| *at).collect();
        // The worst case: the join's track written right after the first two went out.
        calls.push(calls[1]);
        calls.sort_unstable();
        // The server's window: from a call to `at <= start + 30 s` (crates/server rate.rs).
        for &start in &calls {
            let in_window = calls
                .iter()
                .filter(|&&t| t >= start && t <= start + 30_000)
                .count();
            assert!(in_window <= 5, "{in_window} calls from {start}");
        }
        assert!(sent.len() >= 7, "updates still go: {}", sent.len());
        // Whatever waited went in the end: the last meta sent is one of the last offered.
        let last = sent.last().and_then(|(_, m)| m.as_u64()).unwrap_or(0);
        assert!(n - last < 120, "last sent {last} of {n}");
    }
}
