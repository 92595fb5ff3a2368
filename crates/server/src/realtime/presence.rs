//! The presence table of one topic: which subscription tracks which meta under which key.
//!
//! Each subscription (one socket's join of the topic) tracks at most one meta, under the
//! presence key of its join. Operations return the diff to fan out; the caller (the hub) holds
//! the topic lock, so diffs are computed against a consistent table.

use std::collections::{BTreeMap, HashMap};

use base64::Engine as _;
use pairux_core::realtime::{PresenceDiff, PresenceEntry, PresenceMeta, PresenceState};
use rand::RngCore;
use serde_json::{Map, Value};

use super::hub::SubscriberId;

/// What one tracked meta counts against its topic's presence budget beyond its payload's
/// bytes: its key and its refs, as `presence_state` writes them.
const META_OVERHEAD: usize = 64;

/// A track that would take its topic's presence over its budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PresenceFull;

/// Presence of one topic.
#[derive(Debug, Default)]
pub struct PresenceTable {
    /// key → metas in the order they were tracked, each with its owner.
    keys: BTreeMap<String, Vec<(SubscriberId, PresenceMeta)>>,
    /// owner → key and what its meta counts, so untracking needs no search.
    owners: HashMap<SubscriberId, (String, usize)>,
    /// What every meta counts, together.
    bytes: usize,
}

impl PresenceTable {
    /// Tracks `payload` (`size` bytes as JSON) for `owner` under `key`. If the owner already
    /// tracks a meta there, this is an update: the old meta leaves and the new one joins with
    /// `phx_ref_prev`. Refused, changing nothing, when the topic's metas would then count more
    /// than `budget` bytes.
    pub fn track(
        &mut self,
        owner: SubscriberId,
        key: &str,
        payload: Map<String, Value>,
        size: usize,
        budget: usize,
    ) -> Result<PresenceDiff, PresenceFull> {
        let cost = size.saturating_add(key.len()).saturating_add(META_OVERHEAD);
        let freed = self.owners.get(&owner).map_or(0, |(_, cost)| *cost);
        if self.bytes - freed + cost > budget {
            return Err(PresenceFull);
        }
        let mut diff = PresenceDiff::default();
        let mut phx_ref_prev = None;
        if let Some((old_key, old)) = self.remove(owner) {
            // A subscription keeps its key for life, so this is an update.
            if old_key == key {
                phx_ref_prev = Some(old.phx_ref.clone());
            }
            add(&mut diff.leaves, &old_key, old);
        }
        let meta = PresenceMeta {
            phx_ref: new_ref(),
            phx_ref_prev,
            payload,
        };
        add(&mut diff.joins, key, meta.clone());
        self.keys
            .entry(key.to_owned())
            .or_default()
            .push((owner, meta));
        self.owners.insert(owner, (key.to_owned(), cost));
        self.bytes += cost;
        Ok(diff)
    }

    /// Removes `owner`'s meta, if any; the diff is empty when there was none.
    pub fn untrack(&mut self, owner: SubscriberId) -> PresenceDiff {
        let mut diff = PresenceDiff::default();
        if let Some((key, old)) = self.remove(owner) {
            add(&mut diff.leaves, &key, old);
        }
        diff
    }

    /// The full state, as `presence_state` carries it.
    pub fn state(&self) -> PresenceState {
        self.keys
            .iter()
            .map(|(key, metas)| {
                let metas = metas.iter().map(|(_, meta)| meta.clone()).collect();
                (key.clone(), PresenceEntry { metas })
            })
            .collect()
    }

    /// Whether nobody tracks anything.
    pub fn is_empty(&self) -> bool {
        self.owners.is_empty()
    }

    fn remove(&mut self, owner: SubscriberId) -> Option<(String, PresenceMeta)> {
        let (key, cost) = self.owners.remove(&owner)?;
        self.bytes -= cost;
        let metas = self.keys.get_mut(&key)?;
        let index = metas.iter().position(|(o, _)| *o == owner)?;
        let (_, meta) = metas.remove(index);
        if metas.is_empty() {
            self.keys.remove(&key);
        }
        Some((key, meta))
    }
}

fn add(state: &mut PresenceState, key: &str, meta: PresenceMeta) {
    state.entry(key.to_owned()).or_default().metas.push(meta);
}

/// An opaque `phx_ref`: 96 random bits, base64url (16 characters), like the refs Phoenix's
/// tracker hands out. Clients only compare them.
fn new_ref() -> String {
    let mut bytes = [0u8; 12];
    rand::thread_rng().fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// A random presence key for a join that did not name one, in UUID form like the real server's.
pub fn random_key() -> String {
    let mut b = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap()
    }

    #[test]
    fn track_update_untrack() {
        let mut table = PresenceTable::default();
        let (a, b) = (SubscriberId(1), SubscriberId(2));
        let d1 = table
            .track(a, "k", map(json!({"v": 1})), 7, usize::MAX)
            .unwrap();
        assert!(d1.leaves.is_empty());
        let first = d1.joins["k"].metas[0].clone();
        assert_eq!(first.phx_ref.len(), 16);
        table
            .track(b, "k", map(json!({"v": 2})), 7, usize::MAX)
            .unwrap();
        assert_eq!(table.state()["k"].metas.len(), 2);

        let d2 = table
            .track(a, "k", map(json!({"v": 3})), 7, usize::MAX)
            .unwrap();
        assert_eq!(d2.leaves["k"].metas, vec![first.clone()]);
        let joined = &d2.joins["k"].metas[0];
        assert_eq!(joined.phx_ref_prev.as_deref(), Some(first.phx_ref.as_str()));
        assert_ne!(joined.phx_ref, first.phx_ref);

        let d3 = table.untrack(a);
        assert_eq!(d3.leaves["k"].metas[0].payload["v"], 3);
        assert!(table.untrack(a).is_empty());
        table.untrack(b);
        assert!(table.is_empty() && table.state().is_empty());
    }

    #[test]
    fn a_topic_keeps_no_more_presence_than_its_budget() {
        let mut table = PresenceTable::default();
        let (a, b) = (SubscriberId(1), SubscriberId(2));
        let cost = |size: usize| size + 1 + META_OVERHEAD;
        let budget = cost(100) + cost(50);
        table.track(a, "k", map(json!({})), 100, budget).unwrap();
        assert_eq!(
            table.track(b, "k", map(json!({})), 51, budget),
            Err(PresenceFull)
        );
        // Refused, nothing changed: b tracks nothing, a's meta stays.
        assert!(table.untrack(b).is_empty());
        assert_eq!(table.state()["k"].metas.len(), 1);
        table.track(b, "k", map(json!({})), 50, budget).unwrap();
        // An update counts what it replaces: a may grow into nothing but its own room.
        table.track(a, "k", map(json!({})), 100, budget).unwrap();
        assert_eq!(
            table.track(a, "k", map(json!({})), 101, budget),
            Err(PresenceFull)
        );
        // What leaves frees its room.
        table.untrack(b);
        table.track(a, "k", map(json!({})), 150, budget).unwrap();
        table.untrack(a);
        assert_eq!(table.bytes, 0);
    }

    #[test]
    fn random_keys_look_like_uuids() {
        let key = random_key();
        assert_eq!(key.len(), 36);
        assert_eq!(key.as_bytes()[14], b'4');
        assert_ne!(key, random_key());
    }
}
