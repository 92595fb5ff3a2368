//! Host-side validation of received input: only holders, in sequence, at a sane rate, within
//! bounds. Everything else is dropped and counted by reason.

use crate::vecmap::VecMap;

use super::budget::TokenBucket;
use super::wire::{InputEvent, InputKind};

/// Sustained input events per second per holder (pointer moves at 120 Hz plus keys fit).
const RATE_PER_S: f64 = 250.0;
/// Burst allowance (a fast wheel spin, a paste of key events).
const BURST: f64 = 120.0;
const MAX_KEY_LEN: usize = 32;
const MAX_TEXT_LEN: usize = 256;
const MAX_WHEEL: f64 = 10_000.0;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DropReason {
    /// From someone who does not hold control.
    NotHolder,
    /// Sequence number not above the last accepted one (duplicate or replay).
    Replay,
    /// Over the rate limit.
    RateLimited,
    /// Coordinates outside 0..1, non-finite numbers, oversize strings.
    OutOfBounds,
    /// Not a readable message.
    Malformed,
}

/// Counters for the diagnostics panel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct GateStats {
    pub accepted: u64,
    pub not_holder: u64,
    pub replay: u64,
    pub rate_limited: u64,
    pub out_of_bounds: u64,
    pub malformed: u64,
}

impl GateStats {
    pub fn dropped(&self) -> u64 {
        self.not_holder + self.replay + self.rate_limited + self.out_of_bounds + self.malformed
    }
}

/// Pointer moves travel on the unordered channel and may overtake clicks and keys (ordered
/// channel); each kind keeps its own "last accepted" sequence so neither drops the other.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Lane {
    Pointer,
    Ordered,
}

impl Lane {
    fn of(kind: &InputKind) -> Lane {
        match kind {
            InputKind::Move { .. } => Lane::Pointer,
            _ => Lane::Ordered,
        }
    }
}

#[derive(Debug, Default)]
pub struct InputGate {
    last_seq: VecMap<(String, Lane), u64>,
    buckets: VecMap<String, TokenBucket>,
    stats: GateStats,
}

impl InputGate {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn stats(&self) -> GateStats {
        self.stats
    }

    /// Counts a message that could not be read.
    pub fn malformed(&mut self) {
        self.stats.malformed += 1;
    }

    /// Accepts or drops `event` from `from`.
    pub fn check(
        &mut self,
        now: u64,
        from: &str,
        is_holder: bool,
        event: &InputEvent,
    ) -> Result<(), DropReason> {
        let verdict = self.verdict(now, from, is_holder, event);
        match verdict {
            Ok(()) => self.stats.accepted += 1,
            Err(DropReason::NotHolder) => self.stats.not_holder += 1,
            Err(DropReason::Replay) => self.stats.replay += 1,
            Err(DropReason::RateLimited) => self.stats.rate_limited += 1,
            Err(DropReason::OutOfBounds) => self.stats.out_of_bounds += 1,
            Err(DropReason::Malformed) => self.stats.malformed += 1,
        }
        verdict
    }

    /// Forgets a participant (its connection is gone; a new one starts a new sequence).
    pub fn forget(&mut self, id: &str) {
        self.last_seq.retain(|(who, _), _| who != id);
        self.buckets.remove(id);
    }

    fn verdict(
        &mut self,
        now: u64,
        from: &str,
        is_holder: bool,
        event: &InputEvent,
    ) -> Result<(), DropReason> {
        if !is_holder {
            return Err(DropReason::NotHolder);
        }
        if !in_bounds(&event.kind) {
            return Err(DropReason::OutOfBounds);
        }
        let lane = (from.to_owned(), Lane::of(&event.kind));
        if self
            .last_seq
            .get(&lane)
            .is_some_and(|last| event.seq <= *last)
        {
            return Err(DropReason::Replay);
        }
        let bucket = self
            .buckets
            .entry(from.to_owned())
            .or_insert(TokenBucket::new(RATE_PER_S, BURST));
        // A release is never refused for the rate (a flood of them is the message budget's
        // business): dropped, the host's OS would keep the key or button down — a key
        // repeating — though the controller has let go. Only what they release is applied
        // (`agent::Agent`).
        let release = matches!(event.kind, InputKind::Up { .. } | InputKind::KeyUp { .. });
        if !release && !bucket.take(now) {
            return Err(DropReason::RateLimited);
        }
        // Only accepted events advance the sequence: a dropped one may be retried.
        self.last_seq.insert(lane, event.seq);
        Ok(())
    }
}

fn in_bounds(kind: &InputKind) -> bool {
    let unit = |v: f64| v.is_finite() && (0.0..=1.0).contains(&v);
    let short = |s: &str| !s.is_empty() && s.chars().count() <= MAX_KEY_LEN;
    match kind {
        InputKind::Move { x, y }
        | InputKind::Down { x, y, .. }
        | InputKind::Up { x, y, .. }
        | InputKind::Dbl { x, y, .. } => unit(*x) && unit(*y),
        InputKind::Wheel { x, y, dx, dy, .. } => {
            unit(*x)
                && unit(*y)
                && dx.is_finite()
                && dy.is_finite()
                && dx.abs() <= MAX_WHEEL
                && dy.abs() <= MAX_WHEEL
        }
        InputKind::KeyDown { key, code, .. } | InputKind::KeyUp { key, code, .. } => {
            short(key) && code.chars().count() <= MAX_KEY_LEN
        }
        InputKind::Text { text } => !text.is_empty() && text.chars().count() <= MAX_TEXT_LEN,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::control::Button;

    fn mv(seq: u64, x: f64, y: f64) -> InputEvent {
        InputEvent {
            seq,
            ts: 0,
            kind: InputKind::Move { x, y },
        }
    }

    #[test]
    fn only_holders_in_sequence() {
        let mut g = InputGate::new();
        assert_eq!(
            g.check(0, "v", false, &mv(1, 0.5, 0.5)),
            Err(DropReason::NotHolder)
        );
        assert_eq!(g.check(0, "c", true, &mv(1, 0.5, 0.5)), Ok(()));
        assert_eq!(
            g.check(0, "c", true, &mv(1, 0.5, 0.5)),
            Err(DropReason::Replay)
        );
        assert_eq!(
            g.check(0, "c", true, &mv(0, 0.5, 0.5)),
            Err(DropReason::Replay)
        );
        assert_eq!(g.check(0, "c", true, &mv(5, 0.5, 0.5)), Ok(()));
        // Sequences are per participant.
        assert_eq!(g.check(0, "d", true, &mv(1, 0.5, 0.5)), Ok(()));
        g.forget("c");
        assert_eq!(g.check(0, "c", true, &mv(1, 0.5, 0.5)), Ok(()));
        let s = g.stats();
        assert_eq!((s.accepted, s.not_holder, s.replay), (4, 1, 2));
        assert_eq!(s.dropped(), 3);
    }

    #[test]
    fn a_move_overtaking_a_click_drops_neither() {
        let mut g = InputGate::new();
        let click = InputEvent {
            seq: 2,
            ts: 0,
            kind: InputKind::Down {
                x: 0.5,
                y: 0.5,
                b: Button::Left,
                m: None,
            },
        };
        // Sent: move 1, click 2, move 3; the unordered channel delivers move 3 first.
        assert_eq!(g.check(0, "c", true, &mv(1, 0.1, 0.1)), Ok(()));
        assert_eq!(g.check(0, "c", true, &mv(3, 0.3, 0.3)), Ok(()));
        assert_eq!(g.check(0, "c", true, &click), Ok(()));
        // A late move is stale and a repeated click is a replay: both dropped.
        assert_eq!(
            g.check(0, "c", true, &mv(2, 0.2, 0.2)),
            Err(DropReason::Replay)
        );
        assert_eq!(g.check(0, "c", true, &click), Err(DropReason::Replay));
    }

    #[test]
    fn bounds_are_enforced() {
        let mut g = InputGate::new();
        for (i, bad) in [
            InputKind::Move { x: 1.01, y: 0.5 },
            InputKind::Move {
                x: f64::NAN,
                y: 0.5,
            },
            InputKind::Down {
                x: -0.1,
                y: 0.5,
                b: Button::Left,
                m: None,
            },
            InputKind::Wheel {
                x: 0.5,
                y: 0.5,
                dx: f64::INFINITY,
                dy: 0.0,
                m: None,
            },
            InputKind::KeyDown {
                key: "x".repeat(40),
                code: "KeyX".into(),
                m: Default::default(),
                rep: false,
            },
            InputKind::KeyUp {
                key: String::new(),
                code: "KeyX".into(),
                m: Default::default(),
            },
            InputKind::Text {
                text: "y".repeat(300),
            },
        ]
        .into_iter()
        .enumerate()
        {
            let ev = InputEvent {
                seq: i as u64 + 1,
                ts: 0,
                kind: bad,
            };
            assert_eq!(
                g.check(0, "c", true, &ev),
                Err(DropReason::OutOfBounds),
                "{ev:?}"
            );
        }
        assert_eq!(g.check(0, "c", true, &mv(1, 0.0, 1.0)), Ok(()));
    }

    #[test]
    fn rate_limit_with_burst_and_refill() {
        let mut g = InputGate::new();
        let mut seq = 0;
        let mut accepted = 0;
        for _ in 0..200 {
            seq += 1;
            if g.check(1_000, "c", true, &mv(seq, 0.5, 0.5)).is_ok() {
                accepted += 1;
            }
        }
        assert_eq!(accepted, BURST as u64);
        // 100 ms later, 25 more tokens.
        let mut later = 0;
        for _ in 0..50 {
            seq += 1;
            if g.check(1_100, "c", true, &mv(seq, 0.5, 0.5)).is_ok() {
                later += 1;
            }
        }
        assert_eq!(later, 25);
        assert!(g.stats().rate_limited > 0);
        // Out of tokens, a release still goes through; a press does not.
        let ev = |seq, kind| InputEvent { seq, ts: 0, kind };
        let key_up = InputKind::KeyUp {
            key: "a".into(),
            code: "KeyA".into(),
            m: Default::default(),
        };
        let up = InputKind::Up {
            x: 0.5,
            y: 0.5,
            b: Button::Left,
            m: None,
        };
        let down = InputKind::Down {
            x: 0.5,
            y: 0.5,
            b: Button::Left,
            m: None,
        };
        assert_eq!(
            g.check(1_100, "c", true, &ev(seq + 1, down)),
            Err(DropReason::RateLimited)
        );
        assert_eq!(g.check(1_100, "c", true, &ev(seq + 2, key_up)), Ok(()));
        assert_eq!(g.check(1_100, "c", true, &ev(seq + 3, up.clone())), Ok(()));
        // Still in sequence.
        assert_eq!(
            g.check(1_100, "c", true, &ev(seq + 3, up)),
            Err(DropReason::Replay)
        );
    }
}
