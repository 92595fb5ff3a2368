//! Frames from the server: decoded with the codec, matched to the heartbeat or a channel, and
//! turned into state changes and events. Anything malformed, stale or unknown is counted and
//! dropped; nothing here panics on peer input.

use serde_json::Value;

use super::channel::{is_token_system_error, Channel, Phase};
use super::client::{RealtimeClient, Socket};
use super::link::Link;
use super::output::{BroadcastBody, ClientEvent};
use crate::realtime::{
    event, read_state, BinaryFrame, Message, PresenceDiff, ReplyPayload, UserPayload, Vsn,
};

/// A broadcast in its JSON form (`{"event", "payload", "type"}`; `meta` is not used): its
/// event and payload (absent: null). Read by hand, like the presence payloads.
fn read_broadcast(value: Value) -> Option<(String, Value)> {
    let Value::Object(map) = value else {
        return None;
    };
    let (mut event, mut payload) = (None, Value::Null);
    for (k, v) in map {
        match (k.as_str(), v) {
            ("event", Value::String(e)) => event = Some(e),
            ("event", _) => return None,
            ("payload", v) => payload = v,
            _ => {}
        }
    }
    Some((event?, payload))
}

impl RealtimeClient {
    /// A text frame arrived.
    pub fn handle_text(&mut self, now: u64, text: &str) {
        if self.socket != Socket::Open {
            self.stats.ignored_socket_events += 1;
            return;
        }
        match Message::decode(text, self.opts.vsn) {
            Ok(msg) => self.dispatch(now, msg),
            Err(_) => self.stats.malformed_frames += 1,
        }
    }

    /// A binary frame arrived: a user broadcast (kind 4) on vsn 2.0.0.
    pub fn handle_binary(&mut self, _now: u64, bytes: &[u8]) {
        if self.socket != Socket::Open {
            self.stats.ignored_socket_events += 1;
            return;
        }
        let frame = match (self.opts.vsn, BinaryFrame::decode(bytes)) {
            (Vsn::V2, Ok(BinaryFrame::Broadcast(frame))) => frame,
            // Kind 3 is ours to send, and vsn 1.0.0 has no binary frames at all.
            _ => {
                self.stats.malformed_frames += 1;
                return;
            }
        };
        let payload = match frame.payload {
            UserPayload::Binary(bytes) => BroadcastBody::Binary(bytes.to_vec()),
            UserPayload::Json(raw) => match serde_json::from_str(raw.get()) {
                Ok(value) => BroadcastBody::Json(value),
                Err(_) => {
                    self.stats.malformed_frames += 1;
                    return;
                }
            },
        };
        let (channels, mut link) = self.split();
        match open_channel(channels, frame.topic) {
            Some(channel) => link.emit(ClientEvent::Broadcast {
                ch: channel.id,
                event: frame.event.to_owned(),
                payload,
            }),
            None => link.stats.unroutable_messages += 1,
        }
    }

    fn dispatch(&mut self, now: u64, msg: Message) {
        // As phoenix: the heartbeat reply is recognised by its ref alone, whatever its status.
        let is_heartbeat_reply = msg.msg_ref.is_some()
            && self.heartbeat.pending.as_ref().map(|p| &p.0) == msg.msg_ref.as_ref();
        if is_heartbeat_reply {
            self.on_heartbeat_reply(now);
        }
        if msg.topic == event::PHOENIX_TOPIC {
            if !is_heartbeat_reply {
                self.stats.stale_messages += 1;
            }
            return;
        }
        let (channels, mut link) = self.split();
        let Some(channel) = open_channel(channels, &msg.topic) else {
            // The server's `phx_close` after our leave's reply finds the channel closed: normal.
            if msg.event != event::CLOSE {
                link.stats.unroutable_messages += 1;
            }
            return;
        };
        // phoenix `isMember`: a message of an earlier join of this topic is dropped.
        if msg.join_ref.is_some() && msg.join_ref != channel.join_ref {
            link.stats.stale_messages += 1;
            return;
        }
        channel_message(now, channel, msg, &mut link);
    }
}

fn open_channel<'a>(channels: &'a mut [Channel], topic: &str) -> Option<&'a mut Channel> {
    channels
        .iter_mut()
        .find(|c| c.topic == topic && c.phase != Phase::Closed)
}

fn channel_message(now: u64, channel: &mut Channel, msg: Message, link: &mut Link<'_>) {
    match msg.event.as_str() {
        event::REPLY => {
            let (Some(msg_ref), Some(reply)) =
                (msg.msg_ref, ReplyPayload::from_value(&msg.payload))
            else {
                link.stats.malformed_frames += 1;
                return;
            };
            let is_join_reply =
                channel.join_deadline.is_some() && channel.join_ref.as_deref() == Some(&msg_ref);
            if is_join_reply {
                channel.on_join_reply(now, reply.status, &reply.response, link);
            } else if !channel.on_push_reply(now, &msg_ref, reply.status, reply.response, link) {
                // A reply nobody waits for any more: timed out, or an earlier join's.
                link.stats.stale_messages += 1;
            }
        }
        event::CLOSE | event::ERROR => {
            // realtime-js `_notThisChannelEvent`: a close or error whose ref names another join
            // (e.g. the old channel closed by our rejoin) is not about this one.
            if msg.msg_ref.is_some() && msg.msg_ref != channel.join_ref {
                link.stats.stale_messages += 1;
            } else if msg.event == event::CLOSE {
                channel.on_close(link);
            } else if channel.phase != Phase::Leaving {
                channel.on_error(now, "phx_error".to_owned(), link);
            }
        }
        event::BROADCAST => match read_broadcast(msg.payload) {
            Some((event, payload)) => link.emit(ClientEvent::Broadcast {
                ch: channel.id,
                event,
                payload: BroadcastBody::Json(payload),
            }),
            None => link.stats.malformed_frames += 1,
        },
        event::PRESENCE_STATE => match read_state(msg.payload) {
            Some(state) => {
                let sync = channel
                    .presence
                    .on_state(channel.join_ref.as_deref(), state);
                link.emit(ClientEvent::Presence {
                    ch: channel.id,
                    sync,
                });
            }
            None => link.stats.malformed_frames += 1,
        },
        event::PRESENCE_DIFF => match PresenceDiff::read(msg.payload) {
            Some(diff) => {
                let mut dropped = false;
                let sync =
                    channel
                        .presence
                        .on_diff(channel.join_ref.as_deref(), diff, &mut dropped);
                if dropped {
                    link.stats.dropped_presence_diffs += 1;
                }
                if let Some(sync) = sync {
                    link.emit(ClientEvent::Presence {
                        ch: channel.id,
                        sync,
                    });
                }
            }
            None => link.stats.malformed_frames += 1,
        },
        event::SYSTEM => {
            let text = |key: &str| {
                msg.payload
                    .get(key)
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned()
            };
            let (status, message) = (text("status"), text("message"));
            if status == "error" && is_token_system_error(&message) {
                link.emit(ClientEvent::TokenRefused {
                    ch: channel.id,
                    reason: message.clone(),
                });
            }
            link.emit(ClientEvent::System {
                ch: channel.id,
                status,
                message,
            });
        }
        _ => link.stats.unroutable_messages += 1,
    }
}
