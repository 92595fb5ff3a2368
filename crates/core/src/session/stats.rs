//! Receive-side connection figures for the stats overlay, computed from two `getStats()`
//! samples, and the quality dot's verdict.

/// What one `getStats()` call said about the incoming video (cumulative counters).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct StatsSample {
    /// When it was taken (ms).
    pub at_ms: u64,
    pub bytes_received: u64,
    pub frames_decoded: u64,
    pub packets_received: u64,
    pub packets_lost: u64,
    /// Current round trip of the selected candidate pair, if known.
    pub rtt_ms: Option<f64>,
    pub width: u32,
    pub height: u32,
}

/// The overlay's figures over the interval between two samples.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StatsView {
    pub width: u32,
    pub height: u32,
    pub fps: f64,
    pub bitrate_kbps: f64,
    pub rtt_ms: Option<f64>,
    pub loss_percent: f64,
    pub quality: LinkQuality,
}

/// The quality dot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkQuality {
    Excellent,
    Good,
    Poor,
    Bad,
    /// Nothing to judge by: no round trip known and no packet came (nor went missing) in the
    /// interval.
    Unknown,
}

impl LinkQuality {
    /// Excellent < 50 ms and < 1 % loss, Good < 150 ms and < 3 %, Poor < 300 ms and < 10 %,
    /// else Bad. An unknown RTT counts as the best case; loss still decides.
    pub fn classify(rtt_ms: Option<f64>, loss_percent: f64) -> Self {
        Self::judge(rtt_ms, loss_percent, true)
    }

    /// [`Self::classify`], where `packets` says whether any packet came or went missing in the
    /// interval: without one, and without a round trip, nothing was measured.
    pub fn judge(rtt_ms: Option<f64>, loss_percent: f64, packets: bool) -> Self {
        if rtt_ms.is_none() && !packets {
            return LinkQuality::Unknown;
        }
        let rtt = rtt_ms.unwrap_or(0.0);
        if rtt < 50.0 && loss_percent < 1.0 {
            LinkQuality::Excellent
        } else if rtt < 150.0 && loss_percent < 3.0 {
            LinkQuality::Good
        } else if rtt < 300.0 && loss_percent < 10.0 {
            LinkQuality::Poor
        } else {
            LinkQuality::Bad
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            LinkQuality::Excellent => "excellent",
            LinkQuality::Good => "good",
            LinkQuality::Poor => "poor",
            LinkQuality::Bad => "bad",
            LinkQuality::Unknown => "unknown",
        }
    }
}

impl StatsView {
    /// Figures between `prev` and `cur`; counters that went backwards (a new connection)
    /// count as a fresh start.
    pub fn between(prev: &StatsSample, cur: &StatsSample) -> StatsView {
        let secs = (cur.at_ms.saturating_sub(prev.at_ms)) as f64 / 1000.0;
        let delta = |a: u64, b: u64| b.checked_sub(a).unwrap_or(b) as f64;
        let per_s = |d: f64| if secs > 0.0 { d / secs } else { 0.0 };
        let received = delta(prev.packets_received, cur.packets_received);
        let lost = delta(prev.packets_lost, cur.packets_lost);
        let loss_percent = if received + lost > 0.0 {
            100.0 * lost / (received + lost)
        } else {
            0.0
        };
        StatsView {
            width: cur.width,
            height: cur.height,
            fps: per_s(delta(prev.frames_decoded, cur.frames_decoded)),
            bitrate_kbps: per_s(delta(prev.bytes_received, cur.bytes_received) * 8.0 / 1000.0),
            rtt_ms: cur.rtt_ms,
            loss_percent,
            quality: LinkQuality::judge(cur.rtt_ms, loss_percent, received + lost > 0.0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_are_the_documented_ones() {
        use LinkQuality::*;
        assert_eq!(LinkQuality::classify(Some(49.0), 0.9), Excellent);
        assert_eq!(LinkQuality::classify(Some(50.0), 0.0), Good);
        assert_eq!(LinkQuality::classify(Some(10.0), 1.0), Good);
        assert_eq!(LinkQuality::classify(Some(149.0), 2.9), Good);
        assert_eq!(LinkQuality::classify(Some(150.0), 0.0), Poor);
        assert_eq!(LinkQuality::classify(Some(299.0), 9.9), Poor);
        assert_eq!(LinkQuality::classify(Some(300.0), 0.0), Bad);
        assert_eq!(LinkQuality::classify(None, 10.0), Bad);
        assert_eq!(LinkQuality::classify(None, 0.0), Excellent);
        // Nothing measured: no verdict.
        assert_eq!(LinkQuality::judge(None, 0.0, false), Unknown);
        assert_eq!(LinkQuality::judge(Some(20.0), 0.0, false), Excellent);
        assert_eq!(LinkQuality::judge(None, 0.0, true), Excellent);
    }

    #[test]
    fn an_interval_in_which_nothing_came_and_no_round_trip_is_known_has_no_verdict() {
        let prev = StatsSample {
            at_ms: 1_000,
            packets_received: 500,
            ..StatsSample::default()
        };
        let cur = StatsSample {
            at_ms: 2_000,
            ..prev
        };
        let view = StatsView::between(&prev, &cur);
        assert_eq!(view.quality, LinkQuality::Unknown);
        assert_eq!(view.fps, 0.0);
        let known = StatsSample {
            rtt_ms: Some(12.0),
            ..cur
        };
        assert_eq!(
            StatsView::between(&prev, &known).quality,
            LinkQuality::Excellent
        );
    }

    #[test]
    fn rates_come_from_counter_deltas() {
        let a = StatsSample {
            at_ms: 1_000,
            bytes_received: 0,
            frames_decoded: 0,
            packets_received: 0,
            packets_lost: 0,
            rtt_ms: Some(2.0),
            width: 1280,
            height: 720,
        };
        let b = StatsSample {
            at_ms: 2_000,
            bytes_received: 500_000,
            frames_decoded: 30,
            packets_received: 990,
            packets_lost: 10,
            ..a
        };
        let v = StatsView::between(&a, &b);
        assert_eq!(v.fps, 30.0);
        assert_eq!(v.bitrate_kbps, 4_000.0);
        assert!((v.loss_percent - 1.0).abs() < 1e-9);
        assert_eq!(v.quality, LinkQuality::Good);
        // A reset (new connection) does not produce negative figures.
        let reset = StatsSample {
            at_ms: 3_000,
            bytes_received: 1_000,
            ..Default::default()
        };
        assert!(StatsView::between(&b, &reset).bitrate_kbps >= 0.0);
    }
}
