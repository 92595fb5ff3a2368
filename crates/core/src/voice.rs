//! Voice: who is speaking, and who hears whom.
//!
//! Peer to peer, voice rides the host's star (ARCHITECTURE.md, Voice): every guest sends its
//! microphone to the host, and the host sends each guest one mix of everybody else — the host's
//! own microphone and every other guest ("mix-minus": nobody hears themselves back). The host
//! is the one place that hears every voice apart, so it measures who is speaking and tells
//! everyone ([`crate::control::ControlMsg::Speaking`]).
//!
//! In SFU mode every speaker publishes its own feed and every listener subscribes to the
//! feeds announced by verified participants ([`SfuVoiceState`]); each page measures who is
//! speaking on what it receives itself.
//!
//! Sans-IO: the glue samples levels (RMS of the decoded signal, 0..1) and passes them in with
//! the time; [`SpeakingDetector`] answers with the set that changed.

use crate::vecmap::{VecMap, VecSet};

use crate::session::SfuRoute;

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

/// What the glue does for voice in SFU mode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SfuVoiceAction {
    /// Send a `Voice(route)` signal about our own feed, to one participant or (`None`) to all.
    Announce {
        to: Option<String>,
        route: Option<SfuRoute>,
    },
    /// Receive participant `id`'s voice from `route`, decrypted with `id`'s key (replaces any
    /// earlier subscription to `id`).
    Subscribe { id: String, route: SfuRoute },
    /// Stop receiving `id`'s voice.
    Unsubscribe { id: String },
}

/// Voice in SFU mode, for one page (host or guest): each speaker publishes its own Opus feed
/// to the room and announces it in a sealed, signed signal; each listener subscribes to the
/// feeds *announced* by verified participants — never to what Janus lists (Janus could add a
/// feed of its own) — and never to its own.
///
/// At most [`MAX_VOICES`] feeds are heard at once. A room has at most 16 publishers, and Janus
/// must say the announcer published the feed (the glue's subscription checks its publisher's
/// name), so only announcements of feeds that are not theirs can fill the rest — any link
/// holder can join and make such. Announcements that find no place wait, in the order they
/// came, and are taken as places free. A participant whose announced feed Janus says is not
/// published by them is *in doubt* for that feed until its voice is heard, and gives its place
/// to one waiting who is not, then waits behind them; announcing another feed makes it one to
/// try again. So throwaway joins that announce feeds, however often, hold no place a speaker
/// needs for longer than it takes to try theirs.
///
/// Sans-IO: the glue reports our publication, the verified roster, the `Voice` signals that
/// passed the signal codec (which checked that `from` signed them) and what Janus said of each
/// subscription; it executes the actions.
#[derive(Debug)]
pub struct SfuVoiceState {
    me: String,
    /// Our own feed, while published.
    mine: Option<SfuRoute>,
    /// Verified participants present now (ourselves excluded).
    present: VecSet<String>,
    /// Feeds announced by present participants, and subscribed to.
    heard: VecMap<String, SfuRoute>,
    /// Feeds announced by present participants that found no place, oldest first (at most one
    /// per participant: its latest).
    waiting: Vec<(String, SfuRoute)>,
    /// The feed Janus said a present participant does not publish, until its voice arrives:
    /// while that is the feed it announces, it is in doubt.
    missing: VecMap<String, SfuRoute>,
}

impl SfuVoiceState {
    pub fn new(me: impl Into<String>) -> Self {
        SfuVoiceState {
            me: me.into(),
            mine: None,
            present: VecSet::new(),
            heard: VecMap::new(),
            waiting: Vec::new(),
            missing: VecMap::new(),
        }
    }

    /// Our own feed: published at `route`, or (`None`) unpublished.
    pub fn publish(&mut self, route: Option<SfuRoute>) -> Vec<SfuVoiceAction> {
        if self.mine == route {
            return Vec::new();
        }
        self.mine = route;
        vec![SfuVoiceAction::Announce { to: None, route }]
    }

    pub fn mine(&self) -> Option<SfuRoute> {
        self.mine
    }

    /// The verified participants now. Newcomers are told where our voice is; the feeds of
    /// those who left are dropped, and places they held go to those waiting.
    pub fn on_roster<'a>(&mut self, ids: impl IntoIterator<Item = &'a str>) -> Vec<SfuVoiceAction> {
        let now: VecSet<String> = ids
            .into_iter()
            .filter(|id| *id != self.me)
            .map(str::to_owned)
            .collect();
        let mut actions = Vec::new();
        if let Some(route) = self.mine {
            for id in now.difference(&self.present) {
                actions.push(SfuVoiceAction::Announce {
                    to: Some(id.clone()),
                    route: Some(route),
                });
            }
        }
        let gone: Vec<String> = self
            .heard
            .keys()
            .filter(|id| !now.contains(*id))
            .cloned()
            .collect();
        for id in gone {
            self.heard.remove(&id);
            actions.push(SfuVoiceAction::Unsubscribe { id });
        }
        self.waiting.retain(|(id, _)| now.contains(id));
        self.missing.retain(|id, _| now.contains(id));
        self.present = now;
        self.settle(&mut actions);
        actions
    }

    /// A `Voice` signal that passed the codec: `from` signed it. Ignored from ourselves and
    /// from anyone not in the verified roster.
    pub fn on_announce(&mut self, from: &str, route: Option<SfuRoute>) -> Vec<SfuVoiceAction> {
        if from == self.me || !self.present.contains(from) {
            return Vec::new();
        }
        let id = from.to_owned();
        let mut actions = Vec::new();
        match route {
            Some(route) => {
                if self.heard.get(from) == Some(&route) {
                    return actions;
                }
                // One heard moves to its new feed; anyone else comes in through the queue
                // (at once, if a place is free).
                if self.heard.contains_key(from) {
                    self.heard.insert(id.clone(), route);
                    actions.push(SfuVoiceAction::Subscribe { id, route });
                } else {
                    self.wait(id, route);
                }
                self.settle(&mut actions);
            }
            None => {
                self.waiting.retain(|(w, _)| *w != id);
                if self.heard.remove(from).is_some() {
                    actions.push(SfuVoiceAction::Unsubscribe { id });
                    self.settle(&mut actions);
                }
            }
        }
        actions
    }

    /// Janus says `id` does not publish the feed it announced at `route` (nobody does, or
    /// someone else). If someone not in doubt is waiting, `id` gives them its place.
    pub fn on_unpublished(&mut self, id: &str, route: SfuRoute) -> Vec<SfuVoiceAction> {
        let mut actions = Vec::new();
        if !self.wants(id, route) {
            return actions;
        }
        self.missing.insert(id.to_owned(), route);
        self.settle(&mut actions);
        actions
    }

    /// `id`'s voice arrived (perhaps after a failed try): no longer in doubt.
    pub fn on_heard(&mut self, id: &str) {
        self.missing.remove(id);
    }

    /// Whether `id`'s feed at `route` is one Janus said it does not publish.
    fn doubted(&self, id: &str, route: SfuRoute) -> bool {
        self.missing.get(id) == Some(&route)
    }

    /// Whether `id`'s voice is (still) announced at `route` and has a place — a subscription
    /// that failed is retried only then.
    pub fn wants(&self, id: &str, route: SfuRoute) -> bool {
        self.heard.get(id) == Some(&route)
    }

    /// Leaving SFU mode (or the session): unsubscribe from everyone; our feed is gone.
    pub fn stop(&mut self) -> Vec<SfuVoiceAction> {
        self.waiting.clear();
        self.missing.clear();
        let mut actions: Vec<SfuVoiceAction> = std::mem::take(&mut self.heard)
            .into_keys()
            .map(|id| SfuVoiceAction::Unsubscribe { id })
            .collect();
        if self.mine.take().is_some() {
            actions.push(SfuVoiceAction::Announce {
                to: None,
                route: None,
            });
        }
        actions
    }

    /// `id`'s latest announcement waits for a place, keeping its turn if it already waited.
    fn wait(&mut self, id: String, route: SfuRoute) {
        match self.waiting.iter_mut().find(|(w, _)| *w == id) {
            Some(entry) => entry.1 = route,
            None => self.waiting.push((id, route)),
        }
    }

    /// `id` leaves its place and waits again (its voice may exist after all).
    fn evict(&mut self, id: String, actions: &mut Vec<SfuVoiceAction>) {
        if let Some(route) = self.heard.remove(&id) {
            actions.push(SfuVoiceAction::Unsubscribe { id: id.clone() });
            self.wait(id, route);
        }
    }

    /// Places go to those waiting: a free one to the first not in doubt (or else the first),
    /// and one held in doubt to the first not in doubt, who swaps with it. Whatever changed,
    /// a place is then never held in doubt while one who is not waits.
    fn settle(&mut self, actions: &mut Vec<SfuVoiceAction>) {
        while !self.waiting.is_empty() {
            let clear = self.waiting.iter().position(|(w, r)| !self.doubted(w, *r));
            let next = if self.heard.len() < MAX_VOICES {
                clear.unwrap_or(0)
            } else {
                let stale = self.heard.iter().find(|(h, r)| self.doubted(h, **r));
                let (Some(next), Some((stale, _))) = (clear, stale) else {
                    return;
                };
                // It goes to the back: `next` still points at the same one.
                self.evict(stale.clone(), actions);
                next
            };
            let (id, route) = self.waiting.remove(next);
            self.heard.insert(id.clone(), route);
            actions.push(SfuVoiceAction::Subscribe { id, route });
        }
    }
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

    fn route(feed: u64) -> SfuRoute {
        SfuRoute { room: 7, feed }
    }

    #[test]
    fn only_feeds_announced_by_present_participants_are_subscribed_never_our_own() {
        let mut v = SfuVoiceState::new("me");
        // Nobody verified yet: an announcement changes nothing.
        assert_eq!(v.on_announce("a", Some(route(1))), vec![]);
        assert_eq!(v.on_roster(["me", "a", "b"]), vec![]);
        assert_eq!(
            v.on_announce("a", Some(route(1))),
            vec![SfuVoiceAction::Subscribe {
                id: "a".into(),
                route: route(1)
            }]
        );
        // The same announcement again (to a newcomer, say) does nothing.
        assert_eq!(v.on_announce("a", Some(route(1))), vec![]);
        // Our own id (a relayed copy) and strangers are ignored.
        assert_eq!(v.on_announce("me", Some(route(9))), vec![]);
        assert_eq!(v.on_announce("mallory", Some(route(9))), vec![]);
        assert!(v.wants("a", route(1)));
        assert!(!v.wants("a", route(2)));
        // A new feed (republished) replaces the old subscription; none unsubscribes.
        assert_eq!(
            v.on_announce("a", Some(route(2))),
            vec![SfuVoiceAction::Subscribe {
                id: "a".into(),
                route: route(2)
            }]
        );
        assert_eq!(
            v.on_announce("a", None),
            vec![SfuVoiceAction::Unsubscribe { id: "a".into() }]
        );
        assert_eq!(v.on_announce("a", None), vec![]);
    }

    #[test]
    fn newcomers_are_told_and_leavers_are_dropped() {
        let mut v = SfuVoiceState::new("me");
        v.on_roster(["a"]);
        assert_eq!(
            v.publish(Some(route(5))),
            vec![SfuVoiceAction::Announce {
                to: None,
                route: Some(route(5))
            }]
        );
        assert_eq!(v.publish(Some(route(5))), vec![]);
        v.on_announce("a", Some(route(1)));
        assert_eq!(
            v.on_roster(["me", "b"]),
            vec![
                SfuVoiceAction::Announce {
                    to: Some("b".into()),
                    route: Some(route(5))
                },
                SfuVoiceAction::Unsubscribe { id: "a".into() },
            ]
        );
        // "a" comes back: it is told again; its old feed is not resubscribed by itself.
        assert_eq!(
            v.on_roster(["a", "b"]),
            vec![SfuVoiceAction::Announce {
                to: Some("a".into()),
                route: Some(route(5))
            }]
        );
        assert_eq!(
            v.publish(None),
            vec![SfuVoiceAction::Announce {
                to: None,
                route: None
            }]
        );
        // Unpublished: newcomers are not told anything.
        assert_eq!(v.on_roster(["a", "b", "c"]), vec![]);
    }

    #[test]
    fn stopping_drops_every_feed_and_withdraws_ours() {
        let mut v = SfuVoiceState::new("me");
        v.on_roster(["a", "b"]);
        v.on_announce("a", Some(route(1)));
        v.publish(Some(route(2)));
        let mut actions = v.stop();
        actions.sort_by_key(|a| format!("{a:?}"));
        assert_eq!(
            actions,
            vec![
                SfuVoiceAction::Announce {
                    to: None,
                    route: None
                },
                SfuVoiceAction::Unsubscribe { id: "a".into() },
            ]
        );
        assert_eq!(v.stop(), vec![]);
    }

    #[test]
    fn the_feeds_heard_are_bounded() {
        let mut v = SfuVoiceState::new("me");
        let ids: Vec<String> = (0..MAX_VOICES + 10).map(|i| format!("p{i}")).collect();
        v.on_roster(ids.iter().map(String::as_str));
        let subscribed = ids
            .iter()
            .enumerate()
            .filter(|(i, id)| !v.on_announce(id, Some(route(*i as u64))).is_empty())
            .count();
        assert_eq!(subscribed, MAX_VOICES);
    }

    /// A page whose every place is taken by `<prefix><i>` at `route(i)`, with `others` present
    /// too; and those ids.
    fn filled(prefix: &str, others: &[&str]) -> (SfuVoiceState, Vec<String>) {
        let mut v = SfuVoiceState::new("me");
        let ids: Vec<String> = (0..MAX_VOICES).map(|i| format!("{prefix}{i}")).collect();
        v.on_roster(ids.iter().map(String::as_str).chain(others.iter().copied()));
        for (i, id) in ids.iter().enumerate() {
            assert_eq!(v.on_announce(id, Some(route(i as u64))).len(), 1);
        }
        (v, ids)
    }

    #[test]
    fn announcements_of_feeds_nobody_publishes_make_room_for_a_speaker() {
        let (mut v, _) = filled("b", &["speaker", "late"]);
        // Full: a real speaker's announcement waits while none is known stale.
        assert_eq!(v.on_announce("speaker", Some(route(100))), vec![]);
        assert!(!v.wants("speaker", route(100)));
        // Janus says a feed for a route no longer the announced one is not published: nothing.
        assert_eq!(v.on_unpublished("b5", route(999)), vec![]);
        // Janus says one of those feeds is not published: the speaker waiting takes its place.
        assert_eq!(
            v.on_unpublished("b3", route(3)),
            vec![
                SfuVoiceAction::Unsubscribe { id: "b3".into() },
                SfuVoiceAction::Subscribe {
                    id: "speaker".into(),
                    route: route(100)
                }
            ]
        );
        assert!(v.wants("speaker", route(100)) && !v.wants("b3", route(3)));
        // The same feed announced again is still in doubt: it waits.
        assert_eq!(v.on_announce("b3", Some(route(3))), vec![]);
        // One whose voice arrives after a failed try is no longer in doubt: it holds its place.
        assert_eq!(v.on_unpublished("b7", route(7)), vec![]);
        v.on_heard("b7");
        assert_eq!(v.on_announce("late", Some(route(101))), vec![]);
        assert!(v.wants("b7", route(7)) && !v.wants("late", route(101)));
        // The next feed found missing makes room for the one waiting not in doubt, not for
        // the one in doubt that came first.
        assert_eq!(
            v.on_unpublished("b8", route(8)),
            vec![
                SfuVoiceAction::Unsubscribe { id: "b8".into() },
                SfuVoiceAction::Subscribe {
                    id: "late".into(),
                    route: route(101)
                }
            ]
        );
    }

    #[test]
    fn a_doubt_is_for_the_feed_found_missing() {
        let (mut v, bogus) = filled("b", &["speaker"]);
        // Every throwaway feed was tried and found missing, with nobody waiting: they stay.
        for (i, id) in bogus.iter().enumerate() {
            assert_eq!(v.on_unpublished(id, route(i as u64)), vec![]);
        }
        // A speaker announcing now takes the place of one in doubt at once.
        assert_eq!(
            v.on_announce("speaker", Some(route(500))),
            vec![
                SfuVoiceAction::Unsubscribe { id: "b0".into() },
                SfuVoiceAction::Subscribe {
                    id: "speaker".into(),
                    route: route(500)
                }
            ]
        );
        // The one it replaced announces its missing feed again: it waits, and never takes a
        // place from another in doubt.
        assert_eq!(v.on_announce("b0", Some(route(0))), vec![]);
        // A speaker whose own feed was found missing (it republished meanwhile) announces its
        // new one: that is tried again, in the place of one still in doubt.
        assert_eq!(v.on_unpublished("speaker", route(500)), vec![]);
        assert_eq!(
            v.on_announce("speaker", Some(route(501))),
            vec![SfuVoiceAction::Subscribe {
                id: "speaker".into(),
                route: route(501)
            }]
        );
        // One waiting in doubt announces a new feed: that one is tried, in the place of one
        // still in doubt.
        assert_eq!(
            v.on_announce("b0", Some(route(50))),
            vec![
                SfuVoiceAction::Unsubscribe { id: "b1".into() },
                SfuVoiceAction::Subscribe {
                    id: "b0".into(),
                    route: route(50)
                }
            ]
        );
    }

    #[test]
    fn places_freed_go_to_those_waiting_in_turn() {
        let (mut v, full) = filled("p", &["x", "y", "z"]);
        assert_eq!(v.on_announce("y", Some(route(200))), vec![]);
        assert_eq!(v.on_announce("x", Some(route(100))), vec![]);
        assert_eq!(v.on_announce("z", Some(route(300))), vec![]);
        // y's newer announcement keeps its turn.
        assert_eq!(v.on_announce("y", Some(route(201))), vec![]);
        // A speaker stops: the first waiting takes the place.
        assert_eq!(
            v.on_announce("p1", None),
            vec![
                SfuVoiceAction::Unsubscribe { id: "p1".into() },
                SfuVoiceAction::Subscribe {
                    id: "y".into(),
                    route: route(201)
                }
            ]
        );
        // One leaves, and one who was waiting leaves: the next still present takes the place.
        let mut roster: Vec<&str> = full
            .iter()
            .map(String::as_str)
            .filter(|id| *id != "p2")
            .collect();
        roster.push("y");
        roster.push("z");
        assert_eq!(
            v.on_roster(roster.iter().copied()),
            vec![
                SfuVoiceAction::Unsubscribe { id: "p2".into() },
                SfuVoiceAction::Subscribe {
                    id: "z".into(),
                    route: route(300)
                }
            ]
        );
        // A withdrawn announcement no longer waits.
        v.on_roster(roster.iter().copied().chain(["w"]));
        assert_eq!(v.on_announce("w", Some(route(400))), vec![]);
        assert_eq!(v.on_announce("w", None), vec![]);
        assert_eq!(
            v.on_announce("p3", None),
            vec![SfuVoiceAction::Unsubscribe { id: "p3".into() }]
        );
        assert!(v.stop().len() >= MAX_VOICES - 1);
    }

    #[test]
    fn one_heard_who_announces_a_feed_found_missing_again_gives_way() {
        let (mut v, _) = filled("p", &["w"]);
        // p1's feed is found missing with nobody waiting; it announces another, then w waits.
        assert_eq!(v.on_unpublished("p1", route(1)), vec![]);
        assert_eq!(v.on_announce("p1", Some(route(100))).len(), 1);
        assert_eq!(v.on_announce("w", Some(route(200))), vec![]);
        // p1 goes back to the feed found missing: w takes its place.
        assert_eq!(
            v.on_announce("p1", Some(route(1))),
            vec![
                SfuVoiceAction::Subscribe {
                    id: "p1".into(),
                    route: route(1)
                },
                SfuVoiceAction::Unsubscribe { id: "p1".into() },
                SfuVoiceAction::Subscribe {
                    id: "w".into(),
                    route: route(200)
                },
            ]
        );
    }

    proptest::proptest! {
        /// Whatever happens, in any order: nobody is both heard and waiting, one waits only
        /// while every place is taken, and no place is held in doubt while one not in doubt
        /// waits.
        #[test]
        fn places_are_never_held_in_doubt_from_one_who_is_not(
            ops in proptest::collection::vec((0u8..5, 0usize..70, 0u64..4), 0..400)
        ) {
            let ids: Vec<String> = (0..70).map(|i| format!("p{i}")).collect();
            let mut v = SfuVoiceState::new("me");
            let mut present: Vec<bool> = vec![true; 70];
            v.on_roster(ids.iter().map(String::as_str));
            for (op, who, feed) in ops {
                let id = &ids[who];
                match op {
                    0 => { v.on_announce(id, Some(route(feed))); }
                    1 => { v.on_announce(id, None); }
                    2 => { v.on_unpublished(id, route(feed)); }
                    3 => v.on_heard(id),
                    _ => {
                        present[who] = !present[who];
                        let now = ids.iter().zip(&present).filter(|(_, p)| **p);
                        v.on_roster(now.map(|(id, _)| id.as_str()));
                    }
                }
                let waiting_ids: Vec<&String> = v.waiting.iter().map(|(w, _)| w).collect();
                proptest::prop_assert!(waiting_ids.iter().all(|w| !v.heard.contains_key(*w)));
                proptest::prop_assert!(v.waiting.is_empty() || v.heard.len() == MAX_VOICES);
                proptest::prop_assert!(v.heard.len() <= MAX_VOICES);
                let doubt_held = v.heard.iter().any(|(h, r)| v.doubted(h, *r));
                let clear_waits = v.waiting.iter().any(|(w, r)| !v.doubted(w, *r));
                proptest::prop_assert!(!(doubt_held && clear_waits));
                let mut seen = waiting_ids.clone();
                seen.sort();
                seen.dedup();
                proptest::prop_assert_eq!(seen.len(), waiting_ids.len());
            }
        }
    }
}
