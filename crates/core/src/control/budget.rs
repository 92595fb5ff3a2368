//! Abuse limits on what a participant may send the host over its data channels, applied
//! before a message is even parsed: a token bucket for all messages per peer, and tighter ones
//! for `ping` and `request` (each costs the host work or a toast). Drops are counted.

use crate::vecmap::VecMap;

use super::wire::{ControlMsg, MAX_MESSAGE_BYTES};

/// A token bucket: `rate_per_s` tokens a second, at most `burst` saved up. Time in ms.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TokenBucket {
    rate_per_s: f64,
    burst: f64,
    tokens: f64,
    at: Option<u64>,
}

impl TokenBucket {
    pub const fn new(rate_per_s: f64, burst: f64) -> Self {
        TokenBucket {
            rate_per_s,
            burst,
            tokens: burst,
            at: None,
        }
    }

    /// Takes one token at `now`, if there is one.
    pub fn take(&mut self, now: u64) -> bool {
        self.take_n(now, 1.0)
    }

    /// Takes `n` tokens at `now` if there are as many (none otherwise).
    pub fn take_n(&mut self, now: u64, n: f64) -> bool {
        let elapsed = self.at.map_or(0, |at| now.saturating_sub(at));
        self.tokens = (self.tokens + elapsed as f64 * self.rate_per_s / 1000.0).min(self.burst);
        self.at = Some(now.max(self.at.unwrap_or(0)));
        if self.tokens < n {
            return false;
        }
        self.tokens -= n;
        true
    }
}

/// Every message from one peer: pointer moves at 120 Hz, keys and relayed controls fit well
/// inside; a flood does not reach the parser.
const MESSAGES: TokenBucket = TokenBucket::new(400.0, 200.0);
/// Round-trip probes: a few a second are plenty.
const PINGS: TokenBucket = TokenBucket::new(4.0, 4.0);
/// Control requests: each shows the host a toast. A person may ask, be revoked and ask again a
/// few times in a row (a burst of 4); a flood gets one toast per 2 s.
const REQUESTS: TokenBucket = TokenBucket::new(0.5, 4.0);

/// What was dropped, for diagnostics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BudgetStats {
    pub oversize: u64,
    pub over_rate: u64,
    pub pings_limited: u64,
    pub requests_limited: u64,
}

#[derive(Debug, Clone)]
struct PeerBudget {
    messages: TokenBucket,
    pings: TokenBucket,
    requests: TokenBucket,
}

#[derive(Debug, Default)]
pub struct MessageBudget {
    peers: VecMap<String, PeerBudget>,
    stats: BudgetStats,
}

impl MessageBudget {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn stats(&self) -> BudgetStats {
        self.stats
    }

    /// Whether a raw message of `len` bytes from `from` may be parsed at all.
    pub fn admit(&mut self, now: u64, from: &str, len: usize) -> bool {
        if len > MAX_MESSAGE_BYTES {
            self.stats.oversize += 1;
            return false;
        }
        if !self.peer(from).messages.take(now) {
            self.stats.over_rate += 1;
            return false;
        }
        true
    }

    /// Whether a parsed message may be acted on (pings and requests have their own limits).
    pub fn admit_parsed(&mut self, now: u64, from: &str, msg: &ControlMsg) -> bool {
        match msg {
            ControlMsg::Ping { .. } if !self.peer(from).pings.take(now) => {
                self.stats.pings_limited += 1;
                false
            }
            ControlMsg::Request { .. } if !self.peer(from).requests.take(now) => {
                self.stats.requests_limited += 1;
                false
            }
            _ => true,
        }
    }

    /// `id`'s connection is gone.
    pub fn forget(&mut self, id: &str) {
        self.peers.remove(id);
    }

    fn peer(&mut self, id: &str) -> &mut PeerBudget {
        self.peers.entry(id.to_owned()).or_insert(PeerBudget {
            messages: MESSAGES,
            pings: PINGS,
            requests: REQUESTS,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_refills_at_its_rate_up_to_its_burst() {
        let mut b = TokenBucket::new(10.0, 3.0);
        assert!((0..3).all(|_| b.take(0)));
        assert!(!b.take(0));
        assert!(b.take(100));
        assert!(!b.take(100));
        // Long idle: back to the burst, not more.
        assert_eq!((0..10).filter(|_| b.take(60_000)).count(), 3);
        // Time going backwards never mints tokens.
        assert!(!b.take(0));
    }

    #[test]
    fn floods_are_cut_before_parsing_and_per_peer() {
        let mut budget = MessageBudget::new();
        let admitted = (0..1000).filter(|_| budget.admit(0, "m", 50)).count();
        assert_eq!(admitted, 200);
        assert_eq!(budget.stats().over_rate, 800);
        // Someone else is not affected.
        assert!(budget.admit(0, "g", 50));
        assert!(!budget.admit(0, "g", MAX_MESSAGE_BYTES + 1));
        assert_eq!(budget.stats().oversize, 1);
        // A second later the flooder gets its rate back.
        assert!(budget.admit(1_000, "m", 50));
    }

    #[test]
    fn pings_and_requests_have_tighter_limits() {
        let mut budget = MessageBudget::new();
        let ping = ControlMsg::Ping { id: 1, ts: 0 };
        assert_eq!(
            (0..10)
                .filter(|_| budget.admit_parsed(0, "m", &ping))
                .count(),
            4
        );
        let request = ControlMsg::Request { proof: "p".into() };
        assert_eq!(
            (0..10)
                .filter(|_| budget.admit_parsed(0, "m", &request))
                .count(),
            4
        );
        assert!(budget.admit_parsed(0, "m", &ControlMsg::Release));
        assert_eq!(budget.stats().pings_limited, 6);
        assert_eq!(budget.stats().requests_limited, 6);
        assert!(budget.admit_parsed(2_000, "m", &request));
    }
}
