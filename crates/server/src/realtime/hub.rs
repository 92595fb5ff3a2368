//! The hub: every topic's subscribers and presence table, in one place.
//!
//! Architecture invariant: channel state lives only here. Sessions keep subscription ids and
//! call these methods; the hub knows a subscriber only by its id, wire version and outbox. A
//! multi-node deployment replaces this type behind the same methods (see ARCHITECTURE.md).
//!
//! Fan-out takes a snapshot of the subscriber list under the lock and delivers outside it, so
//! publishers on one topic never wait for each other's deliveries.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use pairux_core::realtime::{PresenceDiff, PresenceState, Vsn};
use serde_json::{Map, Value};

use super::frames::{Fanout, Outgoing};
use super::outbox::Outbox;
use super::presence::{PresenceFull, PresenceTable};

/// One socket's subscription to one topic (a new one for every join).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SubscriberId(pub(crate) u64);

/// What the hub needs to deliver to a subscription.
#[derive(Debug, Clone)]
pub struct Subscriber {
    pub id: SubscriberId,
    pub vsn: Vsn,
    pub outbox: Outbox,
}

#[derive(Debug, Default)]
struct Topic {
    /// Replaced, not mutated, while a fan-out may be reading it (copy on write).
    subscribers: Arc<Vec<Subscriber>>,
    presence: PresenceTable,
}

/// All topics of this server.
#[derive(Debug, Default)]
pub struct Hub {
    topics: Mutex<HashMap<String, Topic>>,
    next_id: AtomicU64,
}

impl Hub {
    /// A fresh subscription id.
    pub fn new_subscriber_id(&self) -> SubscriberId {
        SubscriberId(self.next_id.fetch_add(1, Ordering::Relaxed))
    }

    /// Adds a subscription; returns the presence state at that instant, so the joiner's
    /// `presence_state` and the diffs it receives afterwards fit together.
    pub fn subscribe(&self, topic: &str, subscriber: Subscriber) -> PresenceState {
        let mut topics = self.lock();
        let entry = topics.entry(topic.to_owned()).or_default();
        Arc::make_mut(&mut entry.subscribers).push(subscriber);
        entry.presence.state()
    }

    /// Removes a subscription and its presence; the leave is fanned out to the others.
    /// Returns the number of frames delivered.
    pub fn unsubscribe(&self, topic: &str, id: SubscriberId) -> u64 {
        let (diff, subscribers) = {
            let mut topics = self.lock();
            let Some(entry) = topics.get_mut(topic) else {
                return 0;
            };
            Arc::make_mut(&mut entry.subscribers).retain(|s| s.id != id);
            let diff = entry.presence.untrack(id);
            let subscribers = entry.subscribers.clone();
            if subscribers.is_empty() && entry.presence.is_empty() {
                topics.remove(topic);
            }
            (diff, subscribers)
        };
        deliver_diff(topic, &subscribers, &diff)
    }

    /// Delivers to every subscriber of `topic` except `exclude`; returns the number of frames
    /// queued.
    pub fn broadcast(
        &self,
        topic: &str,
        exclude: Option<SubscriberId>,
        outgoing: Outgoing<'_>,
    ) -> u64 {
        let subscribers = match self.lock().get(topic) {
            Some(entry) => entry.subscribers.clone(),
            None => return 0,
        };
        fan_out(&subscribers, exclude, &mut Fanout::new(topic, outgoing))
    }

    /// Tracks (or updates) `id`'s presence under `key` (`size` bytes as JSON); the diff, for
    /// everyone the tracker included, goes out when the returned [`PendingDiff`] is delivered
    /// (after the tracker's reply). [`PresenceFull`], nothing changed, when the topic would
    /// keep more than `budget` bytes.
    pub fn track(
        &self,
        topic: &str,
        id: SubscriberId,
        key: &str,
        payload: Map<String, Value>,
        (size, budget): (usize, usize),
    ) -> Result<PendingDiff, PresenceFull> {
        let mut topics = self.lock();
        let Some(entry) = topics.get_mut(topic) else {
            return Ok(PendingDiff::default());
        };
        let diff = entry.presence.track(id, key, payload, size, budget)?;
        Ok(PendingDiff {
            topic: topic.to_owned(),
            diff,
            subscribers: entry.subscribers.clone(),
        })
    }

    /// Removes `id`'s presence, if any, and fans out the leave.
    pub fn untrack(&self, topic: &str, id: SubscriberId) -> u64 {
        self.change_presence(topic, |presence| presence.untrack(id))
    }

    /// The current presence state of a topic.
    pub fn presence_state(&self, topic: &str) -> PresenceState {
        self.lock()
            .get(topic)
            .map(|entry| entry.presence.state())
            .unwrap_or_default()
    }

    /// Subscriptions of a topic (for tests and diagnostics).
    pub fn subscriber_count(&self, topic: &str) -> usize {
        self.lock().get(topic).map_or(0, |e| e.subscribers.len())
    }

    fn change_presence(
        &self,
        topic: &str,
        change: impl FnOnce(&mut PresenceTable) -> PresenceDiff,
    ) -> u64 {
        let (diff, subscribers) = {
            let mut topics = self.lock();
            let Some(entry) = topics.get_mut(topic) else {
                return 0;
            };
            (change(&mut entry.presence), entry.subscribers.clone())
        };
        deliver_diff(topic, &subscribers, &diff)
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, Topic>> {
        // Nothing panics while holding the lock; if something ever did, the map is still
        // structurally sound, so keep serving rather than poisoning every socket.
        self.topics.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A presence change made, its diff not yet fanned out.
#[derive(Debug, Default)]
pub struct PendingDiff {
    topic: String,
    diff: PresenceDiff,
    subscribers: Arc<Vec<Subscriber>>,
}

impl PendingDiff {
    /// Fans the diff out; returns the number of frames delivered.
    pub fn deliver(self) -> u64 {
        deliver_diff(&self.topic, &self.subscribers, &self.diff)
    }
}

fn deliver_diff(topic: &str, subscribers: &[Subscriber], diff: &PresenceDiff) -> u64 {
    if diff.is_empty() {
        return 0;
    }
    fan_out(
        subscribers,
        None,
        &mut Fanout::new(topic, Outgoing::PresenceDiff(diff)),
    )
}

fn fan_out(
    subscribers: &[Subscriber],
    exclude: Option<SubscriberId>,
    fanout: &mut Fanout<'_>,
) -> u64 {
    let mut delivered = 0;
    for subscriber in subscribers {
        if Some(subscriber.id) == exclude {
            continue;
        }
        if let Some(frame) = fanout.frame(subscriber.vsn) {
            if subscriber.outbox.push(frame) {
                delivered += 1;
            }
        }
    }
    delivered
}
