//! Voice: who is speaking, and who hears whom.
//!
//! Peer to peer, voice rides the host's star (ARCHITECTURE.md, Voice): every guest sends its
//! microphone to the host, and the host sends each guest one mix of everybody else — the host's
//! own microphone and every other guest ("mix-minus": nobody hears themselves back). The host
//! is the one place that hears every voice apart, so it measures who is speaking and tells
//! everyone ([`crate::control::ControlMsg::Speaking`]).
//!
//! Sans-IO: the glue samples levels (RMS of the decoded signal, 0..1) and passes them in with
//! the time; [`SpeakingDetector`] answers with the set that changed.

use crate::vecmap::{VecMap, VecSet};

/// Level (RMS, full scale 1.0) above which a voice counts as speaking: about −36 dBFS, above a
/// quiet room's floor after noise suppression, below a soft voice at a laptop's microphone.
pub const SPEAKING_ON: f32 = 0.016;
/// Level under which it may stop counting (hysteresis: a voice between the two keeps its state).
pub const SPEAKING_OFF: f32 = 0.008;
/// How long a voice stays "speaking" after its level fell, so the indicator does not flicker
/// between words (ms).
pub const SPEAKING_HOLD_MS: u64 = 500;
/// Most participants the detector tracks (a bound on what a page's timers can make it hold).
pub const MAX_VOICES: usize = 64;

#[derive(Debug, Clone, Copy)]
struct Voice {
    speaking: bool,
    /// Last time the level was above [`SPEAKING_OFF`].
    last_loud: u64,
}

/// Turns sampled levels into a stable "who is speaking" set.
#[derive(Debug, Default)]
pub struct SpeakingDetector {
    voices: VecMap<String, Voice>,
}

impl SpeakingDetector {
    pub fn new() -> Self {
        Self::default()
    }

    /// One round of samples at `now` (ms): `levels` for every voice still heard (a voice not
    /// in it is gone: muted, left). Returns the speaking set if it changed.
    pub fn sample<'a>(
        &mut self,
        now: u64,
        levels: impl IntoIterator<Item = (&'a str, f32)>,
    ) -> Option<VecSet<String>> {
        let before = self.speaking();
        let mut heard = VecSet::new();
        for (id, level) in levels {
            // NaN or negative (a broken analyser) is silence, never speech.
            let level = if level.is_finite() {
                level.max(0.0)
            } else {
                0.0
            };
            if !self.voices.contains_key(id) && self.voices.len() >= MAX_VOICES {
                continue;
            }
            heard.insert(id.to_owned());
            let voice = self.voices.entry(id.to_owned()).or_insert(Voice {
                speaking: false,
                last_loud: 0,
            });
            if level >= SPEAKING_OFF {
                voice.last_loud = now;
            }
            if level >= SPEAKING_ON {
                voice.speaking = true;
            } else if voice.speaking && now.saturating_sub(voice.last_loud) >= SPEAKING_HOLD_MS {
                voice.speaking = false;
            }
        }
        self.voices.retain(|id, _| heard.contains(id));
        let after = self.speaking();
        (after != before).then_some(after)
    }

    /// Who is speaking now.
    pub fn speaking(&self) -> VecSet<String> {
        self.voices
            .iter()
            .filter(|(_, v)| v.speaking)
            .map(|(id, _)| id.clone())
            .collect()
    }
}

/// The voices `listener` hears from the host's mix: every source but their own.
pub fn mix_minus<'a>(
    sources: impl IntoIterator<Item = &'a str>,
    listener: &'a str,
) -> impl Iterator<Item = &'a str> {
    sources.into_iter().filter(move |s| *s != listener)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(ids: &[&str]) -> VecSet<String> {
        ids.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn a_voice_starts_at_once_and_holds_between_words() {
        let mut d = SpeakingDetector::new();
        assert_eq!(d.sample(0, [("a", 0.001)]), None);
        assert_eq!(d.sample(100, [("a", 0.05)]), Some(set(&["a"])));
        // A pause shorter than the hold keeps it speaking.
        assert_eq!(d.sample(200, [("a", 0.0)]), None);
        assert_eq!(d.sample(500, [("a", 0.0)]), None);
        // Past the hold since the last loud sample (100 ms): silent.
        assert_eq!(d.sample(600, [("a", 0.0)]), Some(set(&[])));
    }

    #[test]
    fn levels_between_the_thresholds_keep_the_state() {
        let mut d = SpeakingDetector::new();
        assert_eq!(d.sample(0, [("a", 0.012)]), None, "below on: not speaking");
        d.sample(10, [("a", 0.02)]);
        for t in (100..5_000).step_by(100) {
            assert_eq!(
                d.sample(t, [("a", 0.012)]),
                None,
                "above off: still speaking"
            );
        }
        assert_eq!(d.speaking(), set(&["a"]));
    }

    #[test]
    fn a_voice_that_goes_is_no_longer_speaking() {
        let mut d = SpeakingDetector::new();
        d.sample(0, [("a", 0.5), ("b", 0.5)]);
        assert_eq!(d.sample(10, [("b", 0.5)]), Some(set(&["b"])));
    }

    #[test]
    fn junk_levels_are_silence() {
        let mut d = SpeakingDetector::new();
        assert_eq!(
            d.sample(0, [("a", f32::NAN), ("b", f32::INFINITY), ("c", -1.0)]),
            None
        );
    }

    #[test]
    fn the_set_is_bounded() {
        let mut d = SpeakingDetector::new();
        let ids: Vec<String> = (0..200).map(|i| format!("p{i}")).collect();
        d.sample(0, ids.iter().map(|s| (s.as_str(), 1.0)));
        assert_eq!(d.speaking().len(), MAX_VOICES);
    }

    #[test]
    fn nobody_hears_themselves() {
        let sources = ["host", "a", "b"];
        let heard: Vec<_> = mix_minus(sources, "a").collect();
        assert_eq!(heard, ["host", "b"]);
    }
}
