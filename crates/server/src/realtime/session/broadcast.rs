//! Broadcasts, from a text push (any version) or a binary kind 3 frame, and the other client
//! events a channel accepts without doing anything with them.
//!
//! Checked in order: events per second, this socket's own and then server-wide (over either:
//! the channel is shut down with `Too many messages per second` and nothing is relayed), then payload size (over: an error reply
//! `"payload_size_exceeded"` when the channel acks, silence when not), then this socket's
//! bytes per second (ours; over: shut down as for too many events). Then the hub fans the
//! message out, the sender excluded unless it joined with `self: true`, and an ack is sent
//! last, after the sender's own copy.

use pairux_core::realtime::{BroadcastPush, EmptyObject, Message as PhxMessage};

use super::Session;
use crate::realtime::frames::Outgoing;

/// The response of an oversize broadcast's error reply: the real server replies with the bare
/// atom, which JSON renders as a string.
const PAYLOAD_SIZE_EXCEEDED: &str = "payload_size_exceeded";
const TOO_MANY_MESSAGES: &str = "Too many messages per second";

impl Session {
    pub(super) fn text_broadcast(&mut self, msg: PhxMessage, frame_len: usize) {
        if !msg.payload.is_object() {
            // The real server cannot relay a non-map broadcast either (its channel crashes).
            return self.malformed(&"broadcast payload is not an object");
        }
        self.relay(
            &msg.topic,
            msg.msg_ref.as_deref(),
            frame_len,
            Outgoing::Json(&msg.payload),
        );
    }

    pub(super) fn binary_broadcast(&mut self, push: BroadcastPush<'_>) {
        // An empty ref is what realtime-js writes when there is none.
        let msg_ref = Some(push.msg_ref).filter(|r| !r.is_empty());
        if !self.channels.contains_key(push.topic) {
            let join_ref = Some(push.join_ref).filter(|r| !r.is_empty());
            return self.unmatched(join_ref, msg_ref, push.topic);
        }
        let size = push.payload.as_bytes().len();
        let outgoing = Outgoing::User {
            event: push.event,
            payload: push.payload,
        };
        self.relay(push.topic, msg_ref, size, outgoing);
    }

    fn relay(&mut self, topic: &str, msg_ref: Option<&str>, size: usize, outgoing: Outgoing<'_>) {
        let Some(channel) = self.channels.get(topic) else {
            return;
        };
        let (ack, subscriber, self_broadcast) =
            (channel.ack, channel.subscriber, channel.self_broadcast);
        let join_ref = channel.join_ref.clone();
        if !self.admit_event() {
            return self.shutdown_channel(topic, TOO_MANY_MESSAGES);
        }
        if size > self.state.limits().max_payload_bytes {
            if ack {
                self.reply_error(join_ref.as_deref(), msg_ref, topic, PAYLOAD_SIZE_EXCEEDED);
            }
            return;
        }
        // Ours: bytes too, or a few large broadcasts a second fill every subscriber's queue
        // (each gets its copy) and disconnect them all as slow consumers.
        if !self.admit_bytes(size) {
            return self.shutdown_channel(topic, TOO_MANY_MESSAGES);
        }
        let exclude = (!self_broadcast).then_some(subscriber);
        let delivered = self.state.hub.broadcast(topic, exclude, outgoing);
        self.state.counters.broadcast(delivered);
        if ack {
            self.reply_ok(join_ref.as_deref(), msg_ref, topic, &EmptyObject {});
        }
    }

    /// Any other event on a joined channel: counted against events per second, otherwise
    /// ignored (as the real server logs and ignores it).
    pub(super) fn other_event(&mut self, topic: &str) {
        if !self.admit_event() {
            self.shutdown_channel(topic, TOO_MANY_MESSAGES);
        }
    }
}
