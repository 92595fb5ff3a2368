//! The controller's input meter (product.md §4's ping/pong): a ping on the reliable channel,
//! behind the keys and clicks sent before it, which the host answers once everything before
//! it is handled and on its page. So the round trip is what input takes to reach the host's
//! screen and come back. One ping at a time, every [`PING_EVERY_MS`] while control is held;
//! the reading is the median of the last [`SAMPLES`] round trips, and there is none while a
//! ping has gone unanswered for [`PING_LOST_MS`] (until answers come again).

use super::wire::ControlMsg;

/// How often a ping goes while control is held.
pub const PING_EVERY_MS: u64 = 1_000;
/// A ping unanswered this long is given up on, and the next one goes.
pub const PING_LOST_MS: u64 = 5_000;
/// Round trips the reading is the median of.
pub const SAMPLES: usize = 5;

#[derive(Debug, Default)]
pub struct LatencyMeter {
    active: bool,
    next_id: u32,
    /// The ping in flight: its id and when it left (ms, monotonic).
    outstanding: Option<(u32, u64)>,
    next_at: u64,
    /// The last round trips, oldest first (at most [`SAMPLES`]).
    samples: Vec<u64>,
}

impl LatencyMeter {
    pub fn new() -> Self {
        Self::default()
    }

    /// Control is held from `now`: the first ping is due at once. No effect while measuring.
    pub fn start(&mut self, now: u64) {
        if !self.active {
            self.active = true;
            self.next_at = now;
        }
    }

    /// Whether it measures (control is held).
    pub fn measuring(&self) -> bool {
        self.active
    }

    /// Control is no longer held: nothing is measured, and the reading is gone (a later
    /// grant starts over; an answer to a ping sent before counts for nothing).
    pub fn stop(&mut self) {
        self.active = false;
        self.outstanding = None;
        self.samples.clear();
    }

    pub fn poll_timeout(&self) -> Option<u64> {
        if !self.active {
            return None;
        }
        Some(match self.outstanding {
            Some((_, sent)) => sent + PING_LOST_MS,
            None => self.next_at,
        })
    }

    /// The ping to send now, if one is due.
    pub fn handle_timeout(&mut self, now: u64) -> Option<ControlMsg> {
        if !self.active {
            return None;
        }
        if let Some((_, sent)) = self.outstanding {
            if now < sent + PING_LOST_MS {
                return None;
            }
            // No answer for this long: the figure of before no longer says anything.
            self.outstanding = None;
            self.samples.clear();
        }
        if now < self.next_at {
            return None;
        }
        let id = self.next_id;
        self.next_id = self.next_id.wrapping_add(1);
        self.outstanding = Some((id, now));
        self.next_at = now + PING_EVERY_MS;
        Some(ControlMsg::Ping { id, ts: now })
    }

    /// A pong: counted only as the answer to the ping in flight (a late, repeated or forged
    /// one is ignored). Returns whether the reading changed.
    pub fn on_pong(&mut self, now: u64, id: u32, ts: u64) -> bool {
        match self.outstanding {
            Some((sent_id, sent)) if self.active && sent_id == id && sent == ts && now >= sent => {
                self.outstanding = None;
                if self.samples.len() == SAMPLES {
                    self.samples.remove(0);
                }
                self.samples.push(now - sent);
                true
            }
            _ => false,
        }
    }

    /// The median of the last round trips (ms), once there is one.
    pub fn reading(&self) -> Option<u64> {
        // `vecmap::sort_by`, the app's one sort: the standard library's would add its own
        // ~5 KB of the gzipped app.
        let mut sorted = self.samples.clone();
        crate::vecmap::sort_by(&mut sorted, u64::cmp);
        sorted.get(sorted.len() / 2).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ping(msg: Option<ControlMsg>) -> (u32, u64) {
        match msg {
            Some(ControlMsg::Ping { id, ts }) => (id, ts),
            other => panic!("expected a ping, got {other:?}"),
        }
    }

    #[test]
    fn one_ping_at_a_time_while_held_and_the_median_of_the_last_answers() {
        let mut m = LatencyMeter::new();
        assert_eq!(m.poll_timeout(), None);
        assert_eq!(m.handle_timeout(0), None, "not held");
        m.start(100);
        assert_eq!(m.poll_timeout(), Some(100));
        let (id, ts) = ping(m.handle_timeout(100));
        assert_eq!(m.handle_timeout(1_500), None, "one in flight");
        assert!(!m.on_pong(112, id + 1, ts), "not the one in flight");
        assert!(!m.on_pong(112, id, ts + 1), "not the one in flight");
        assert!(m.on_pong(112, id, ts));
        assert!(!m.on_pong(113, id, ts), "answered once");
        assert_eq!(m.reading(), Some(12));
        // Next one a second after the last left.
        assert_eq!(m.poll_timeout(), Some(1_100));
        for (at, rtt) in [(1_100, 30), (2_100, 4), (3_100, 8), (4_100, 9), (5_100, 50)] {
            let (id, ts) = ping(m.handle_timeout(at));
            assert!(m.on_pong(at + rtt, id, ts));
        }
        // Last five: 30, 4, 8, 9, 50.
        assert_eq!(m.reading(), Some(9));
    }

    #[test]
    fn a_lost_ping_is_given_up_on_and_stopping_forgets_everything() {
        let mut m = LatencyMeter::new();
        m.start(0);
        let (id, ts) = ping(m.handle_timeout(0));
        assert!(m.on_pong(7, id, ts));
        let (id, ts) = ping(m.handle_timeout(PING_EVERY_MS));
        assert_eq!(m.reading(), Some(7));
        assert_eq!(m.poll_timeout(), Some(PING_EVERY_MS + PING_LOST_MS));
        let lost = PING_EVERY_MS + PING_LOST_MS;
        let (next, next_ts) = ping(m.handle_timeout(lost));
        assert_ne!(next, id);
        assert_eq!(m.reading(), None, "a stall shows no figure of before");
        assert!(!m.on_pong(lost + 1, id, ts), "given up on");
        m.stop();
        assert_eq!((m.reading(), m.poll_timeout()), (None, None));
        assert!(!m.on_pong(lost + 2, next, next_ts));
        m.start(10_000);
        assert!(m.handle_timeout(10_000).is_some());
    }
}
