//! Presence `track` / `untrack` on a joined channel.
//!
//! Every call (whatever its event) first takes one from the channel's quota (5 per 30 s by
//! default; over it the channel is shut down). A track replies before its diff is fanned out,
//! re-tracking an identical payload is a no-op, and tracking on a channel joined without
//! presence turns presence on and sends the state.

use std::time::Instant;

use pairux_core::realtime::{
    event, EmptyObject, ErrorReason, Message as PhxMessage, PresenceRequest,
};
use serde_json::Value;

use super::{frames, Session};

impl Session {
    pub(super) fn presence(&mut self, msg: PhxMessage) {
        let topic = msg.topic.as_str();
        let msg_ref = msg.msg_ref.as_deref();
        let request = PresenceRequest::parse(&msg.payload);
        let Some(channel) = self.channels.get_mut(topic) else {
            return;
        };
        let join_ref = channel.join_ref.clone();
        let join_ref = join_ref.as_deref();
        if request == PresenceRequest::Missing {
            return self.reply_ok(join_ref, msg_ref, topic, &EmptyObject {});
        }
        if !channel.presence_quota.take(Instant::now()) {
            return self.shutdown_channel(topic, "Client presence rate limit exceeded");
        }
        match request {
            PresenceRequest::Track(Value::Object(payload)) => {
                if channel.tracked.as_ref() == Some(&payload) {
                    return self.reply_ok(join_ref, msg_ref, topic, &EmptyObject {});
                }
                let size = serde_json::to_vec(&payload).map_or(usize::MAX, |v| v.len());
                let limits = self.state.limits();
                if size > limits.max_payload_bytes.min(limits.max_presence_bytes) {
                    return self.shutdown_channel(topic, "Track message size exceeded");
                }
                // Ours: a track is fanned out like a broadcast, so it counts against the
                // socket's own events and bytes a second too (the quota above is the channel's,
                // and a rejoin makes a new channel).
                let budget = self.own_rate(super::Own::Events, 1).is_some();
                if !budget || !self.admit_bytes(size) {
                    return self.shutdown_channel(topic, "Client presence rate limit exceeded");
                }
                let limits = self.state.limits();
                let Some(channel) = self.channels.get(topic) else {
                    return;
                };
                let budget = limits.max_presence_topic_bytes;
                let (subscriber, key) = (channel.subscriber, channel.presence_key.clone());
                let tracked =
                    self.state
                        .hub
                        .track(topic, subscriber, &key, payload.clone(), (size, budget));
                let Ok(pending) = tracked else {
                    // The topic's presence is full: this track is refused, what others track
                    // stays, and every joiner's state still fits its queue.
                    self.state.counters.presence_refused();
                    let reason = ErrorReason {
                        reason: "PresenceLimitReached: this topic's presence is full".into(),
                    };
                    return self.reply_error(join_ref, msg_ref, topic, &reason);
                };
                let Some(channel) = self.channels.get_mut(topic) else {
                    return;
                };
                let enabling = !channel.presence_enabled;
                channel.presence_enabled = true;
                channel.tracked = Some(payload);
                self.reply_ok(join_ref, msg_ref, topic, &EmptyObject {});
                let delivered = pending.deliver();
                self.state.counters.delivered(delivered);
                if enabling {
                    let state = self.state.hub.presence_state(topic);
                    self.send(frames::push(
                        self.vsn,
                        join_ref,
                        topic,
                        event::PRESENCE_STATE,
                        &state,
                    ));
                }
            }
            PresenceRequest::Track(_) => {
                let reason = ErrorReason {
                    reason: "Presence track payload must be a map".into(),
                };
                self.reply_error(join_ref, msg_ref, topic, &reason);
            }
            PresenceRequest::Untrack => {
                let subscriber = channel.subscriber;
                channel.tracked = None;
                self.reply_ok(join_ref, msg_ref, topic, &EmptyObject {});
                let delivered = self.state.hub.untrack(topic, subscriber);
                self.state.counters.delivered(delivered);
            }
            PresenceRequest::Unknown(_) | PresenceRequest::Missing => {
                self.reply_error(join_ref, msg_ref, topic, &EmptyObject {});
            }
        }
    }
}
