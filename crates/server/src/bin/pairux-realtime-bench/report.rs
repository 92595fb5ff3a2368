//! Figures of a run: per scenario, the headline (the one-channel scenario) with the field names
//! `target/bench/realtime.json` promises, and the targets checked against it. A figure that
//! could not be measured (latencies of an empty sample, rates of a run that published nothing
//! in its measured window) is `None`, written `null`, never 0; `Report::missing` names them so
//! the run can fail.

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
    pub messages_per_s: Option<f64>,
    pub deliveries_per_s: Option<f64>,
    pub p50_ms: Option<f64>,
    pub p95_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    pub max_ms: Option<f64>,
    pub lost: u64,
    pub rss_per_conn_kb: Option<f64>,
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
        rss_per_conn_kb: Option<f64>,
        cpu: CpuShare,
    ) -> Self {
        let warmup = plan.warmup_count() * plan.channels as u64;
        let published: u64 = sent.per_channel.iter().sum();
        let measured_messages = published.saturating_sub(warmup);
        // No measured window (nothing published after the warm-up): no rate was measured.
        let secs = Some(sent.measured_elapsed.as_secs_f64()).filter(|s| *s > 0.0);
        let per_s = |n: u64| secs.map(|s| round(n as f64 / s));
        let mut latencies = received.latencies_us.clone();
        latencies.sort_unstable();
        ScenarioResult {
            name: name.to_owned(),
            channels: plan.channels,
            subscribers: plan.subscribers(),
            messages_per_s: per_s(measured_messages),
            // Over the time they took — from the first measured send to the last measured
            // receipt, drain included — not the publishers' window: a server that falls behind
            // and catches up after the publishers stop does not reach the offered rate.
            deliveries_per_s: secs
                .and(received.window_s())
                .map(|w| round(received.measured as f64 / w.max(secs.unwrap_or(0.0)))),
            p50_ms: percentile_ms(&latencies, 0.50),
            p95_ms: percentile_ms(&latencies, 0.95),
            p99_ms: percentile_ms(&latencies, 0.99),
            max_ms: latencies.last().map(|&us| round(f64::from(us) / 1000.0)),
            lost: expected.saturating_sub(received.total),
            rss_per_conn_kb: rss_per_conn_kb.map(round),
            published,
            delivered: received.total,
            cpu_cores: CpuShare {
                server: round(cpu.server),
                client: round(cpu.client),
            },
        }
    }

    /// A target is met only by a measured figure.
    fn meets_targets(&self) -> bool {
        self.deliveries_per_s
            .is_some_and(|d| d >= TARGET_DELIVERIES_PER_S)
            && self.p99_ms.is_some_and(|p| p <= TARGET_P99_MS)
            && self.lost == 0
            && self
                .rss_per_conn_kb
                .is_some_and(|r| r <= TARGET_RSS_PER_CONN_KB)
    }

    /// `<scenario>: <figure>` for each figure this scenario could not measure.
    fn missing(&self) -> Vec<String> {
        [
            ("messages_per_s", self.messages_per_s),
            ("deliveries_per_s", self.deliveries_per_s),
            ("p50_ms", self.p50_ms),
            ("p95_ms", self.p95_ms),
            ("p99_ms", self.p99_ms),
            ("max_ms", self.max_ms),
            ("rss_per_conn_kb", self.rss_per_conn_kb),
        ]
        .into_iter()
        .filter(|(_, v)| v.is_none())
        .map(|(k, _)| format!("{}: {k}", self.name))
        .collect()
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
    pub messages_per_s: Option<f64>,
    pub deliveries_per_s: Option<f64>,
    pub p50_ms: Option<f64>,
    pub p95_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    pub lost: u64,
    pub rss_per_conn_kb: Option<f64>,
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

    /// Every figure a scenario could not measure (the run fails when there is one).
    pub fn missing(&self) -> Vec<String> {
        self.scenarios
            .iter()
            .flat_map(ScenarioResult::missing)
            .collect()
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
                "{:<22} {:>6} {:>9} {:>13} {:>8} {:>8} {:>8} {:>8} {:>6} {:>11} {:>8.2}/{:<6.2}",
                s.name,
                s.subscribers,
                shown(s.messages_per_s, 1),
                shown(s.deliveries_per_s, 0),
                shown(s.p50_ms, 2),
                shown(s.p95_ms, 2),
                shown(s.p99_ms, 2),
                shown(s.max_ms, 2),
                s.lost,
                shown(s.rss_per_conn_kb, 1),
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

/// A figure in the table: `null` when it was not measured.
fn shown(x: Option<f64>, decimals: usize) -> String {
    x.map_or_else(|| "null".to_owned(), |x| format!("{x:.decimals$}"))
}

/// `None` for an empty sample: no latency was measured.
fn percentile_ms(sorted_us: &[u32], q: f64) -> Option<f64> {
    let last = sorted_us.len().checked_sub(1)?;
    let rank = (last as f64 * q).round() as usize;
    Some(round(f64::from(sorted_us[rank.min(last)]) / 1000.0))
}

/// Two decimals are plenty for a report.
fn round(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_sample_has_no_percentile() {
        assert_eq!(percentile_ms(&[], 0.5), None);
        assert_eq!(percentile_ms(&[1500], 0.99), Some(1.5));
        assert_eq!(percentile_ms(&[1000, 2000, 3000], 0.5), Some(2.0));
    }

    #[test]
    fn unmeasured_figures_are_null_and_named() {
        let s = ScenarioResult {
            name: "1 channel x 10".into(),
            channels: 1,
            subscribers: 10,
            messages_per_s: Some(60.0),
            deliveries_per_s: Some(600.0),
            p50_ms: None,
            p95_ms: None,
            p99_ms: None,
            max_ms: None,
            lost: 0,
            rss_per_conn_kb: Some(10.0),
            published: 0,
            delivered: 0,
            cpu_cores: CpuShare {
                server: 0.0,
                client: 0.0,
            },
        };
        assert!(!s.meets_targets());
        assert_eq!(
            s.missing(),
            [
                "1 channel x 10: p50_ms",
                "1 channel x 10: p95_ms",
                "1 channel x 10: p99_ms",
                "1 channel x 10: max_ms"
            ]
        );
        let json = serde_json::to_value(&s).unwrap();
        assert_eq!(json["p99_ms"], serde_json::Value::Null);
        assert_eq!(shown(s.p50_ms, 2), "null");
    }
}
