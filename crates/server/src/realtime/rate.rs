//! Rate counters for the limits: an events-per-second average and a calls-per-window quota.
//!
//! Both take the current instant as an argument, so they are plain state machines.

use std::time::{Duration, Instant};

/// Seconds over which a per-second rate is averaged. The real server averages over its own
/// window of one-second ticks; a short window keeps bursts from counting for long.
const WINDOW_SECONDS: usize = 5;

/// Counts events in one-second buckets and reports the average rate over the last few seconds,
/// including the current one (so the very first burst is seen at once).
#[derive(Debug)]
pub struct RateWindow {
    limit: u32,
    started: Instant,
    /// Index of the second the newest bucket counts.
    current_second: u64,
    buckets: [u32; WINDOW_SECONDS],
}

impl RateWindow {
    /// A window that allows `limit` events per second on average.
    pub fn new(limit: u32, now: Instant) -> Self {
        RateWindow {
            limit,
            started: now,
            current_second: 0,
            buckets: [0; WINDOW_SECONDS],
        }
    }

    /// Counts one event at `now`; `false` when the average rate now exceeds the limit (the
    /// event is counted either way, as the real server counts before it checks).
    pub fn admit(&mut self, now: Instant) -> bool {
        self.admit_weighted(now, 1)
    }

    /// [`Self::admit`] for something that counts `weight` (the bytes of a message).
    pub fn admit_weighted(&mut self, now: Instant, weight: u32) -> bool {
        self.advance(now);
        let slot = self.slot(self.current_second);
        self.buckets[slot] = self.buckets[slot].saturating_add(weight);
        let (total, seconds_seen) = self.total();
        total <= u64::from(self.limit) * seconds_seen
    }

    /// The average rate at `now`, in events per second over the window (counts nothing).
    pub fn average(&mut self, now: Instant) -> f64 {
        self.advance(now);
        let (total, seconds_seen) = self.total();
        total as f64 / seconds_seen as f64
    }

    fn advance(&mut self, now: Instant) {
        let second = now.saturating_duration_since(self.started).as_secs();
        let elapsed = second.saturating_sub(self.current_second);
        for step in 1..=elapsed.min(WINDOW_SECONDS as u64) {
            self.buckets[self.slot(self.current_second + step)] = 0;
        }
        self.current_second = self.current_second.max(second);
    }

    /// Events in the window, and the seconds it spans so far.
    fn total(&self) -> (u64, u64) {
        let seconds_seen = (self.current_second + 1).min(WINDOW_SECONDS as u64);
        (
            self.buckets.iter().map(|&n| u64::from(n)).sum(),
            seconds_seen,
        )
    }

    fn slot(&self, second: u64) -> usize {
        (second % WINDOW_SECONDS as u64) as usize
    }
}

/// At most `max_calls` per window; the window starts with the first call after the previous
/// one ended (the real server's per-client presence limit).
#[derive(Debug)]
pub struct CallQuota {
    max_calls: u32,
    window: Duration,
    calls: u32,
    resets_at: Option<Instant>,
}

impl CallQuota {
    /// A fresh quota.
    pub fn new(max_calls: u32, window: Duration) -> Self {
        CallQuota {
            max_calls,
            window,
            calls: 0,
            resets_at: None,
        }
    }

    /// Takes one call at `now`; `false` when the quota of this window is used up.
    pub fn take(&mut self, now: Instant) -> bool {
        match self.resets_at {
            Some(reset) if now <= reset => {
                if self.calls >= self.max_calls {
                    return false;
                }
                self.calls += 1;
            }
            _ => {
                self.calls = 1;
                self.resets_at = Some(now + self.window);
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_window_sees_a_burst_at_once_and_forgets_it() {
        let t0 = Instant::now();
        let mut rate = RateWindow::new(5, t0);
        for _ in 0..5 {
            assert!(rate.admit(t0));
        }
        assert!(!rate.admit(t0), "6 in the first second is over 5/s");
        // Ten seconds later the burst is out of the window.
        assert!(rate.admit(t0 + Duration::from_secs(10)));
    }

    #[test]
    fn rate_window_averages_over_seconds() {
        let t0 = Instant::now();
        let mut rate = RateWindow::new(10, t0);
        // 8/s for 4 s stays under 10/s, then a burst of 18 in one second is absorbed by the
        // five-second average (8*4 + 18 = 50 <= 50) but one more is not.
        for s in 0..4 {
            for _ in 0..8 {
                assert!(rate.admit(t0 + Duration::from_secs(s)));
            }
        }
        let t4 = t0 + Duration::from_secs(4);
        for _ in 0..18 {
            assert!(rate.admit(t4));
        }
        assert!(!rate.admit(t4));
    }

    #[test]
    fn call_quota_allows_max_calls_per_window() {
        let t0 = Instant::now();
        let mut quota = CallQuota::new(5, Duration::from_secs(30));
        for i in 0..5 {
            assert!(quota.take(t0 + Duration::from_secs(i)), "call {i}");
        }
        assert!(!quota.take(t0 + Duration::from_secs(29)));
        assert!(quota.take(t0 + Duration::from_secs(31)), "a new window");
    }
}
