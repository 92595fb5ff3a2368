//! The Session Focus's assignment simulation for `cargo xtask bench focus` (run with an
//! optimized profile: xtask runs `cargo run --profile native --example focus_bench`).
//!
//! 1,000 sessions open over 40 simulated seconds on 4 nodes of equal capacity in 2 regions:
//! half in SFU mode from the start, half Auto sessions that grow past the threshold; guests
//! join one at a time, Janus reports every 5 s with one period of lag, the focus ticks every
//! second. Every call that can decide is timed with `Instant`. Then one node fails and its
//! sessions move in one batch. Progress goes to stderr; the figures are one JSON object on the
//! last stdout line.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};
use std::time::Instant;

use pairux_core::focus::brain::{Focus, FocusConfig, NodeSpec};
use pairux_core::session::StartMode;
use pairux_core::SessionId;
use serde_json::json;

const SESSIONS: u32 = 1_000;
const NODES: [(&str, &str); 4] = [
    ("eu-1", "eu"),
    ("eu-2", "eu"),
    ("us-1", "us"),
    ("us-2", "us"),
];
const CAPACITY: u32 = 10_000;
const T0: u64 = 1_700_000_000_000;
/// A new session every this many milliseconds.
const OPEN_EVERY_MS: u64 = 40;
const REPORT_EVERY_MS: u64 = 5_000;
const TICK_EVERY_MS: u64 = 1_000;

/// xorshift64*: deterministic sizes and join times, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Uniform in `lo..=hi`.
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo + 1)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Event {
    Open(u32),
    Join(u32),
    Report,
    Tick,
}

fn sid(n: u32) -> SessionId {
    let mut bytes = [0; 16];
    bytes[..4].copy_from_slice(&n.to_be_bytes());
    SessionId::from_bytes(bytes)
}

/// Nearest-rank percentile of sorted milliseconds.
fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn round4(x: f64) -> f64 {
    (x * 10_000.0).round() / 10_000.0
}

fn main() {
    let mut focus = Focus::new(FocusConfig::default());
    for (id, region) in NODES {
        focus.add_node(NodeSpec {
            id: id.into(),
            region: region.into(),
            capacity: CAPACITY,
        });
        focus.probe(T0, id, true);
    }
    let threshold = u64::from(focus.config().threshold);
    let mut rng = Rng(0x5eed_f0c5);
    // Per session: start mode, region, target size, current count.
    let mut sessions: BTreeMap<u32, (StartMode, String, u32, u32)> = BTreeMap::new();
    let mut queue: BinaryHeap<Reverse<(u64, Event)>> = BinaryHeap::new();
    let end = T0 + u64::from(SESSIONS) * OPEN_EVERY_MS + 30_000;
    for i in 0..SESSIONS {
        let (mode, size) = if i % 2 == 0 {
            (StartMode::Sfu, rng.range(2, 40))
        } else {
            (StartMode::Auto, rng.range(threshold, 40))
        };
        let region = if i % 4 < 2 { "eu" } else { "us" };
        sessions.insert(i, (mode, region.into(), size as u32, 0));
        queue.push(Reverse((T0 + u64::from(i) * OPEN_EVERY_MS, Event::Open(i))));
    }
    for (every, event) in [
        (TICK_EVERY_MS, Event::Tick),
        (REPORT_EVERY_MS, Event::Report),
    ] {
        for t in (T0..=end).step_by(every as usize) {
            queue.push(Reverse((t, event)));
        }
    }

    // Janus's reports lag one period behind what the focus assigned.
    let mut lagging: BTreeMap<&str, u64> = NODES.iter().map(|n| (n.0, 0)).collect();
    let mut calls = Vec::new();
    let mut assign = Vec::new();
    let mut decisions = 0usize;
    while let Some(Reverse((now, event))) = queue.pop() {
        let started = Instant::now();
        let decided: Vec<_> = match event {
            Event::Open(i) => {
                let (mode, region, _, count) = sessions.get_mut(&i).expect("scheduled");
                *count = 1;
                focus
                    .open(now, sid(i), *mode, Some(region.clone()))
                    .into_iter()
                    .collect()
            }
            Event::Join(i) => {
                let (_, _, _, count) = sessions.get_mut(&i).expect("scheduled");
                *count += 1;
                focus
                    .participants(now, &sid(i), *count)
                    .into_iter()
                    .collect()
            }
            Event::Tick => focus.tick(now),
            Event::Report => {
                for (id, _) in NODES {
                    let previous = lagging.insert(id, focus.assigned(id).unwrap_or(0));
                    let reported = previous.unwrap_or(0).min(u64::from(u32::MAX)) as u32;
                    focus.report_load(now, id, reported);
                }
                Vec::new()
            }
        };
        let ms = started.elapsed().as_secs_f64() * 1_000.0;
        if !matches!(event, Event::Report) {
            calls.push(ms);
        }
        if decided.iter().any(|d| d.node.is_some()) {
            assign.push(ms);
        }
        decisions += decided.len();
        if let Event::Open(i) | Event::Join(i) = event {
            let (_, _, size, count) = sessions[&i];
            if count < size {
                let at = now + rng.range(100, 1_000);
                queue.push(Reverse((at, Event::Join(i))));
            }
        }
    }

    let loads: Vec<f64> = NODES
        .iter()
        .map(|n| focus.assigned(n.0).unwrap_or(0) as f64)
        .collect();
    let mean = loads.iter().sum::<f64>() / loads.len() as f64;
    let spread = loads
        .iter()
        .map(|l| (l - mean).abs() / mean * 100.0)
        .fold(0.0, f64::max);
    for (n, l) in NODES.iter().zip(&loads) {
        eprintln!(
            "focus sim: {} carries {l} participants in {} sessions",
            n.0,
            focus.sessions_on(n.0).len()
        );
    }

    // One node fails: its sessions move in one batch (the second missed probe).
    let down = NODES[0].0;
    let on_it = focus.sessions_on(down).len();
    focus.probe(end + 1_000, down, false);
    let started = Instant::now();
    let moved = focus.probe(end + 2_000, down, false);
    let failover_batch_ms = started.elapsed().as_secs_f64() * 1_000.0;
    assert_eq!(
        moved.len(),
        on_it,
        "every session on the failed node moves once"
    );

    calls.sort_by(f64::total_cmp);
    assign.sort_by(f64::total_cmp);
    eprintln!(
        "focus sim: {} calls, {} decisions ({} placing a session on a node)",
        calls.len(),
        decisions,
        assign.len()
    );
    let figures = json!({
        "assign_ms_p50": round4(percentile(&assign, 50.0)),
        "assign_ms_p99": round4(percentile(&assign, 99.0)),
        "assign_ms_max": round4(assign.last().copied().unwrap_or(f64::NAN)),
        "call_ms_p99": round4(percentile(&calls, 99.0)),
        "load_spread_pct": (spread * 100.0).round() / 100.0,
        "sim_sessions": SESSIONS,
        "sim_assignments": assign.len(),
        "sim_participants": loads.iter().sum::<f64>() as u64,
        "sim_failover_sessions": on_it,
        "sim_failover_batch_ms": round4(failover_batch_ms),
    });
    println!("{figures}");
}
