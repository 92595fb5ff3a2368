//! Figures of a run: per scenario, the headline (the one-channel scenario) with the field names
//! `target/bench/realtime.json` promises, and the targets checked against it.

use serde::Serialize;

use crate::load::Plan;
use crate::publishers::Sent;
use crate::subscribers::Received;

/// Targets from the issue (a benchmark, not a test: reported, checked only with `--check`).
pub const TARGET_DELIVERIES_PER_S: f64 = 50_000.0;
pub const TARGET_P99_MS: f64 = 25.0;
pub const TARGET_RSS_PER_CONN_KB: f64 = 64.0;

/// Cores used while publishing (1.0 = one core busy), to show where the machine's time went.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct CpuShare {
    pub server: f64,
    pub client: f64,
}

#[derive(Debug, Serialize)]
pub struct ScenarioResult {
    pub name: String,
    pub channels: usize,
    pub subscribers: usize,
    pub messages_per_s: f64,
    pub deliveries_per_s: f64,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    pub lost: u64,
    pub rss_per_conn_kb: f64,
    pub published: u64,
    pub delivered: u64,
    pub cpu_cores: CpuShare,
}

impl ScenarioResult {
    pub fn new(
        name: &str,
        plan: &Plan,
        sent: &Sent,
        received: &Received,
        expected: u64,
        rss_per_conn_kb: f64,
        cpu: CpuShare,
    ) -> Self {
        let warmup = plan.warmup_count() * plan.channels as u64;
        let published: u64 = sent.per_channel.iter().sum();
        let measured_messages = published.saturating_sub(warmup);
        let secs = sent.measured_elapsed.as_secs_f64().max(f64::EPSILON);
        let mut latencies = received.latencies_us.clone();
        latencies.sort_unstable();
        ScenarioResult {
            name: name.to_owned(),
            channels: plan.channels,
            subscribers: plan.subscribers(),
            messages_per_s: round(measured_messages as f64 / secs),
            deliveries_per_s: round(received.measured as f64 / secs),
            p50_ms: percentile_ms(&latencies, 0.50),
            p95_ms: percentile_ms(&latencies, 0.95),
            p99_ms: percentile_ms(&latencies, 0.99),
            max_ms: latencies
                .last()
                .map_or(0.0, |&us| round(f64::from(us) / 1000.0)),
            lost: expected.saturating_sub(received.total),
            rss_per_conn_kb: round(rss_per_conn_kb),
            published,
            delivered: received.total,
            cpu_cores: CpuShare {
                server: round(cpu.server),
                client: round(cpu.client),
            },
        }
    }

    fn meets_targets(&self) -> bool {
        self.deliveries_per_s >= TARGET_DELIVERIES_PER_S
            && self.p99_ms <= TARGET_P99_MS
            && self.lost == 0
            && self.rss_per_conn_kb <= TARGET_RSS_PER_CONN_KB
    }
}

#[derive(Debug, Serialize)]
pub struct Targets {
    pub subscribers: usize,
    pub deliveries_per_s: f64,
    pub p99_ms: f64,
    pub lost: u64,
    pub rss_per_conn_kb: f64,
}

/// The JSON document: the one-channel scenario's figures at the top level, every scenario in
/// `scenarios`.
#[derive(Debug, Serialize)]
pub struct Report {
    pub subscribers: usize,
    pub messages_per_s: f64,
    pub deliveries_per_s: f64,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub lost: u64,
    pub rss_per_conn_kb: f64,
    pub payload_bytes: usize,
    pub duration_s: f64,
    pub scenarios: Vec<ScenarioResult>,
    pub targets: Targets,
    pub meets_targets: bool,
}

impl Report {
    pub fn new(plan: &Plan, scenarios: Vec<ScenarioResult>) -> Self {
        let head = &scenarios[0];
        Report {
            subscribers: head.subscribers,
            messages_per_s: head.messages_per_s,
            deliveries_per_s: head.deliveries_per_s,
            p50_ms: head.p50_ms,
            p95_ms: head.p95_ms,
            p99_ms: head.p99_ms,
            lost: head.lost,
            rss_per_conn_kb: head.rss_per_conn_kb,
            payload_bytes: plan.payload_bytes,
            duration_s: plan.duration.as_secs_f64(),
            meets_targets: scenarios.iter().all(ScenarioResult::meets_targets),
            scenarios,
            targets: Targets {
                subscribers: 1000,
                deliveries_per_s: TARGET_DELIVERIES_PER_S,
                p99_ms: TARGET_P99_MS,
                lost: 0,
                rss_per_conn_kb: TARGET_RSS_PER_CONN_KB,
            },
        }
    }

    pub fn print(&self) {
        println!();
        println!(
            "{:<22} {:>6} {:>9} {:>13} {:>8} {:>8} {:>8} {:>8} {:>6} {:>11} {:>15}",
            "scenario",
            "subs",
            "msgs/s",
            "deliveries/s",
            "p50 ms",
            "p95 ms",
            "p99 ms",
            "max ms",
            "lost",
            "RSS/conn kB",
            "CPU srv/client"
        );
        for s in &self.scenarios {
            println!(
                "{:<22} {:>6} {:>9.1} {:>13.0} {:>8.2} {:>8.2} {:>8.2} {:>8.2} {:>6} {:>11.1} {:>8.2}/{:<6.2}",
                s.name,
                s.subscribers,
                s.messages_per_s,
                s.deliveries_per_s,
                s.p50_ms,
                s.p95_ms,
                s.p99_ms,
                s.max_ms,
                s.lost,
                s.rss_per_conn_kb,
                s.cpu_cores.server,
                s.cpu_cores.client
            );
        }
        println!(
            "targets: >= {TARGET_DELIVERIES_PER_S} deliveries/s, p99 <= {TARGET_P99_MS} ms, nothing lost, <= {TARGET_RSS_PER_CONN_KB} kB per idle connection: {}",
            if self.meets_targets { "met" } else { "MISSED" }
        );
    }
}

fn percentile_ms(sorted_us: &[u32], q: f64) -> f64 {
    if sorted_us.is_empty() {
        return 0.0;
    }
    let rank = ((sorted_us.len() - 1) as f64 * q).round() as usize;
    round(f64::from(sorted_us[rank.min(sorted_us.len() - 1)]) / 1000.0)
}

/// Two decimals are plenty for a report.
fn round(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}
