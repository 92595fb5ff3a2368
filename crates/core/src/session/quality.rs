//! Quality presets for the shared screen: a resolution ceiling and bitrate caps per role.
//!
//! Text legibility beats motion: the sender keeps resolution and drops frames when short of
//! bits (maintain-resolution), so the caps bound the bitrate, never the sharpness.

use crate::Role;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Quality {
    /// 720p, 1–2 Mbps.
    Low,
    /// 1080p, 2–4 Mbps.
    #[default]
    Medium,
    /// 1080p, 4–8 Mbps.
    High,
}

impl Quality {
    pub const ALL: [Quality; 3] = [Quality::Low, Quality::Medium, Quality::High];

    pub fn as_str(self) -> &'static str {
        match self {
            Quality::Low => "low",
            Quality::Medium => "medium",
            Quality::High => "high",
        }
    }

    pub fn parse(s: &str) -> Option<Quality> {
        Quality::ALL.into_iter().find(|q| q.as_str() == s)
    }

    pub fn label(self) -> &'static str {
        match self {
            Quality::Low => "Low (720p)",
            Quality::Medium => "Medium (1080p)",
            Quality::High => "High (1080p, sharpest)",
        }
    }

    /// Tallest frame sent.
    pub fn max_height(self) -> u32 {
        match self {
            Quality::Low => 720,
            Quality::Medium | Quality::High => 1080,
        }
    }

    /// How much a capture `height` pixels tall is scaled down to fit the preset (`1.0`: sent as
    /// captured; never scaled up). Unknown height (0): as captured.
    pub fn scale_down_by(self, height: u32) -> f64 {
        if height == 0 {
            return 1.0;
        }
        (f64::from(height) / f64::from(self.max_height())).max(1.0)
    }

    /// The preset's bitrate range in bits per second.
    pub fn bitrate_range(self) -> (u32, u32) {
        match self {
            Quality::Low => (1_000_000, 2_000_000),
            Quality::Medium => (2_000_000, 4_000_000),
            Quality::High => (4_000_000, 8_000_000),
        }
    }

    /// The cap for a receiver of `role`: controllers act on what they see and get the top of
    /// the range; viewers the middle, which keeps a large P2P session within the host's uplink.
    pub fn max_bitrate(self, role: Role) -> u32 {
        let (low, high) = self.bitrate_range();
        match role {
            Role::Controller | Role::Host => high,
            Role::Viewer => low + (high - low) / 2,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_match_the_product() {
        assert_eq!(Quality::default(), Quality::Medium);
        assert_eq!(Quality::Low.max_height(), 720);
        assert_eq!(Quality::High.bitrate_range(), (4_000_000, 8_000_000));
        assert_eq!(Quality::Medium.max_bitrate(Role::Controller), 4_000_000);
        assert_eq!(Quality::Medium.max_bitrate(Role::Viewer), 3_000_000);
        for q in Quality::ALL {
            assert_eq!(Quality::parse(q.as_str()), Some(q));
            let (lo, hi) = q.bitrate_range();
            assert!((lo..=hi).contains(&q.max_bitrate(Role::Viewer)));
        }
        assert_eq!(Quality::parse("ultra"), None);
    }

    #[test]
    fn presets_scale_tall_captures_down_to_their_height() {
        assert_eq!(Quality::Low.scale_down_by(1080), 1.5);
        assert_eq!(Quality::Low.scale_down_by(2160), 3.0);
        assert_eq!(Quality::Low.scale_down_by(720), 1.0);
        assert_eq!(Quality::Low.scale_down_by(480), 1.0);
        assert_eq!(Quality::Medium.scale_down_by(1080), 1.0);
        assert_eq!(Quality::High.scale_down_by(1440), 1440.0 / 1080.0);
        assert_eq!(Quality::Low.scale_down_by(0), 1.0);
    }
}
