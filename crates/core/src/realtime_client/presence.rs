//! Presence of one channel, kept like phoenix's `Presence` (which realtime-js wraps): the
//! state is replaced by each `presence_state` through a computed diff, `presence_diff`s are
//! merged by `phx_ref`, and diffs that arrive before the state of the *current* join are held
//! back and applied right after it. A re-sent state after a rejoin therefore yields leaves for
//! the metas that vanished and joins for the new ones, never duplicates.

use std::collections::VecDeque;

use crate::realtime::{PresenceDiff, PresenceEntry, PresenceMeta, PresenceState};

/// Diffs held back while waiting for a state; a state replaces them all anyway, so past this
/// the oldest are dropped rather than letting a misbehaving server grow memory.
const MAX_PENDING_DIFFS: usize = 1_000;

/// One presence change: what joined and left (per key, the metas concerned, in the order
/// applied) and the full state after it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PresenceSync {
    /// Keys and their newly joined metas.
    pub joins: Vec<(String, Vec<PresenceMeta>)>,
    /// Keys and the metas that left them (only keys that were present).
    pub leaves: Vec<(String, Vec<PresenceMeta>)>,
    /// Every key with its current metas, oldest first.
    pub state: PresenceState,
}

/// The presence state of one channel plus its pre-sync diff buffer.
#[derive(Debug, Default)]
pub(crate) struct ChannelPresence {
    state: PresenceState,
    /// The join ref whose `presence_state` built `state`; diffs wait while it is not the
    /// channel's current join ref.
    synced_join_ref: Option<String>,
    pending: VecDeque<PresenceDiff>,
}

impl ChannelPresence {
    /// A `presence_state` arrived while the channel's join ref is `join_ref`.
    pub(crate) fn on_state(
        &mut self,
        join_ref: Option<&str>,
        new_state: PresenceState,
    ) -> PresenceSync {
        self.synced_join_ref = join_ref.map(str::to_owned);
        let mut sync = PresenceSync::default();
        let diff = self.diff_to(new_state);
        self.apply(diff, &mut sync);
        while let Some(diff) = self.pending.pop_front() {
            self.apply(diff, &mut sync);
        }
        sync.state = self.state.clone();
        sync
    }

    /// A `presence_diff` arrived. Returns the change, or `None` while it waits for the state
    /// of the current join; `dropped` is set when the wait buffer overflowed.
    pub(crate) fn on_diff(
        &mut self,
        join_ref: Option<&str>,
        diff: PresenceDiff,
        dropped: &mut bool,
    ) -> Option<PresenceSync> {
        let synced = self
            .synced_join_ref
            .as_deref()
            .is_some_and(|synced| Some(synced) == join_ref);
        if !synced {
            self.pending.push_back(diff);
            if self.pending.len() > MAX_PENDING_DIFFS {
                self.pending.pop_front();
                *dropped = true;
            }
            return None;
        }
        let mut sync = PresenceSync::default();
        self.apply(diff, &mut sync);
        sync.state = self.state.clone();
        Some(sync)
    }

    /// The diff that turns the current state into `new_state` (phoenix `syncState`).
    fn diff_to(&self, new_state: PresenceState) -> PresenceDiff {
        let mut diff = PresenceDiff::default();
        for (key, current) in &self.state {
            if !new_state.contains_key(key) {
                diff.leaves.insert(key.clone(), current.clone());
            }
        }
        for (key, new_entry) in new_state {
            let Some(current) = self.state.get(&key) else {
                diff.joins.insert(key, new_entry);
                continue;
            };
            let joined = metas_not_in(&new_entry.metas, &current.metas);
            let left = metas_not_in(&current.metas, &new_entry.metas);
            if !joined.is_empty() {
                diff.joins
                    .insert(key.clone(), PresenceEntry { metas: joined });
            }
            if !left.is_empty() {
                diff.leaves.insert(key, PresenceEntry { metas: left });
            }
        }
        diff
    }

    /// Merges a diff into the state (phoenix `syncDiff`): joined metas replace metas with the
    /// same `phx_ref` and go last; left metas are removed, and a key without metas goes away.
    fn apply(&mut self, diff: PresenceDiff, sync: &mut PresenceSync) {
        for (key, joined) in diff.joins {
            let entry = self.state.entry(key.clone()).or_default();
            entry
                .metas
                .retain(|meta| !joined.metas.iter().any(|j| j.phx_ref == meta.phx_ref));
            entry.metas.extend(joined.metas.iter().cloned());
            // phoenix would keep a key whose join listed no metas; an empty entry is a ghost.
            if entry.metas.is_empty() {
                self.state.remove(&key);
            }
            sync.joins.push((key, joined.metas));
        }
        for (key, left) in diff.leaves {
            let Some(entry) = self.state.get_mut(&key) else {
                continue;
            };
            entry
                .metas
                .retain(|meta| !left.metas.iter().any(|l| l.phx_ref == meta.phx_ref));
            if entry.metas.is_empty() {
                self.state.remove(&key);
            }
            sync.leaves.push((key, left.metas));
        }
    }
}

fn metas_not_in(metas: &[PresenceMeta], others: &[PresenceMeta]) -> Vec<PresenceMeta> {
    metas
        .iter()
        .filter(|meta| !others.iter().any(|o| o.phx_ref == meta.phx_ref))
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn state(value: serde_json::Value) -> PresenceState {
        serde_json::from_value(value).unwrap()
    }

    fn diff(value: serde_json::Value) -> PresenceDiff {
        serde_json::from_value(value).unwrap()
    }

    fn refs(sync: &PresenceSync, key: &str) -> Vec<String> {
        sync.state[key]
            .metas
            .iter()
            .map(|m| m.phx_ref.clone())
            .collect()
    }

    #[test]
    fn diffs_wait_for_the_state_of_the_current_join() {
        let mut presence = ChannelPresence::default();
        let mut dropped = false;
        let early = diff(json!({"joins": {"b": {"metas": [{"phx_ref": "b1"}]}}, "leaves": {}}));
        assert!(presence.on_diff(Some("1"), early, &mut dropped).is_none());
        let sync = presence.on_state(
            Some("1"),
            state(json!({"a": {"metas": [{"phx_ref": "a1"}]}})),
        );
        let keys: Vec<_> = sync.joins.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["a", "b"]);
        assert_eq!(sync.state.len(), 2);
        let later = diff(json!({"joins": {}, "leaves": {"a": {"metas": [{"phx_ref": "a1"}]}}}));
        let sync = presence.on_diff(Some("1"), later, &mut dropped).unwrap();
        assert_eq!(sync.leaves.len(), 1);
        assert_eq!(sync.state.keys().collect::<Vec<_>>(), ["b"]);
        assert!(!dropped);
    }

    #[test]
    fn a_rejoin_buffers_again_and_a_resent_state_replaces_without_duplicates() {
        let mut presence = ChannelPresence::default();
        let mut dropped = false;
        presence.on_state(
            Some("1"),
            state(json!({"me": {"metas": [{"phx_ref": "m1"}]}, "gone": {"metas": [{"phx_ref": "g1"}]}})),
        );
        // After a rejoin (join ref 7) diffs wait again.
        let d = diff(json!({"joins": {"new": {"metas": [{"phx_ref": "n1"}]}}, "leaves": {}}));
        assert!(presence.on_diff(Some("7"), d, &mut dropped).is_none());
        // The server re-sends the state: "me" tracked again under a new phx_ref.
        let sync = presence.on_state(
            Some("7"),
            state(json!({"me": {"metas": [{"phx_ref": "m2"}]}})),
        );
        assert_eq!(refs(&sync, "me"), ["m2"]);
        assert_eq!(sync.state.keys().collect::<Vec<_>>(), ["me", "new"]);
        let left: Vec<_> = sync
            .leaves
            .iter()
            .map(|(k, m)| (k.as_str(), m.len()))
            .collect();
        assert_eq!(left, [("gone", 1), ("me", 1)]);
    }

    #[test]
    fn an_update_replaces_the_meta_and_joins_keep_order() {
        let mut presence = ChannelPresence::default();
        let mut dropped = false;
        presence.on_state(
            Some("1"),
            state(json!({"u": {"metas": [{"phx_ref": "1"}, {"phx_ref": "2"}]}})),
        );
        let update = diff(json!({
            "joins": {"u": {"metas": [{"phx_ref": "3", "phx_ref_prev": "1"}]}},
            "leaves": {"u": {"metas": [{"phx_ref": "1"}]}}
        }));
        let sync = presence.on_diff(Some("1"), update, &mut dropped).unwrap();
        assert_eq!(refs(&sync, "u"), ["2", "3"]);
        // Leaving a key that is not there changes nothing and is not reported.
        let ghost = diff(json!({"joins": {}, "leaves": {"x": {"metas": [{"phx_ref": "9"}]}}}));
        let sync = presence.on_diff(Some("1"), ghost, &mut dropped).unwrap();
        assert!(sync.leaves.is_empty());
        // A join without metas does not create an empty key.
        let empty = diff(json!({"joins": {"e": {"metas": []}}, "leaves": {}}));
        let sync = presence.on_diff(Some("1"), empty, &mut dropped).unwrap();
        assert!(!sync.state.contains_key("e"));
    }

    #[test]
    fn the_wait_buffer_is_bounded() {
        let mut presence = ChannelPresence::default();
        let mut dropped = false;
        for _ in 0..=MAX_PENDING_DIFFS {
            presence.on_diff(None, PresenceDiff::default(), &mut dropped);
        }
        assert!(dropped);
        assert_eq!(presence.pending.len(), MAX_PENDING_DIFFS);
    }
}
