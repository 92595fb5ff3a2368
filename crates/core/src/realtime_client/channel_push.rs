//! A channel's user pushes, as phoenix's `Push` and `pushBuffer`: sent at once when the
//! channel is joined on an open socket, otherwise buffered (oldest dropped past the cap) with
//! the push timeout already running; flushed after the join with a fresh ref and timeout.
//! Each ends in exactly one [`PushResult`].

use serde_json::{json, Value};

use super::channel::{Channel, Phase, Push};
use super::link::Link;
use super::outbound::{self, Addr, PushBody};
use super::output::{ClientEvent, PushId, PushResult};
use crate::realtime::{PresenceRequest, ReplyStatus};

impl Channel {
    /// Sends or buffers a user push.
    pub(crate) fn push(&mut self, now: u64, id: PushId, body: PushBody, link: &mut Link<'_>) {
        let deadline = now.saturating_add(link.opts.push_timeout_ms);
        let push = Push {
            id,
            body,
            deadline,
            msg_ref: String::new(),
        };
        if link.open && self.phase == Phase::Joined {
            self.send_push(now, push, link);
            return;
        }
        self.buffer.push_back(push);
        if self.buffer.len() > link.opts.push_buffer_cap {
            if let Some(dropped) = self.buffer.pop_front() {
                link.stats.dropped_pushes += 1;
                self.done(dropped.id, PushResult::Dropped, link);
            }
        }
    }

    /// Writes a push with a fresh ref. A broadcast without `ack` gets no reply, so it is done
    /// once written; anything else waits in flight for its reply or timeout.
    fn send_push(&mut self, now: u64, mut push: Push, link: &mut Link<'_>) {
        let msg_ref = link.make_ref();
        let addr = Addr {
            join_ref: self.join_ref.as_deref(),
            msg_ref: &msg_ref,
            topic: &self.topic,
        };
        match outbound::push(link.opts.vsn, addr, &push.body) {
            Err(err) => {
                let reason = json!({ "reason": err.to_string() });
                self.done(push.id, PushResult::Error(reason), link);
            }
            Ok(frame) => {
                link.send(frame);
                let awaits_reply = match push.body {
                    PushBody::Broadcast { .. } => self.opts.broadcast.ack,
                    _ => true,
                };
                if awaits_reply {
                    push.msg_ref = msg_ref;
                    push.deadline = now.saturating_add(link.opts.push_timeout_ms);
                    self.in_flight.push(push);
                } else {
                    self.done(push.id, PushResult::Ok(Value::Null), link);
                }
            }
        }
    }

    /// After a successful join: every buffered push goes out, in order.
    pub(crate) fn flush(&mut self, now: u64, link: &mut Link<'_>) {
        while let Some(push) = self.buffer.pop_front() {
            self.send_push(now, push, link);
        }
    }

    /// A `phx_reply` that is not for the join: the leave, or a user push. Returns whether any
    /// push was waiting for this ref.
    pub(crate) fn on_push_reply(
        &mut self,
        now: u64,
        msg_ref: &str,
        status: ReplyStatus,
        response: Value,
        link: &mut Link<'_>,
    ) -> bool {
        if self.leave.as_ref().is_some_and(|(r, _)| r == msg_ref) {
            self.on_close(link);
            return true;
        }
        if self.join_track_ref.as_deref() == Some(msg_ref) {
            self.join_track_ref = None;
            self.on_track_reply(now, status, &response, link);
            return true;
        }
        let Some(index) = self.in_flight.iter().position(|p| p.msg_ref == msg_ref) else {
            return false;
        };
        let push = self.in_flight.swap_remove(index);
        if matches!(push.body, PushBody::Presence(PresenceRequest::Track(_))) {
            self.on_track_reply(now, status, &response, link);
        }
        let result = match status {
            ReplyStatus::Ok => PushResult::Ok(response),
            ReplyStatus::Error => PushResult::Error(response),
        };
        self.done(push.id, result, link);
        true
    }

    /// Times out buffered and in-flight pushes whose deadline passed, oldest first.
    pub(crate) fn expire_pushes(&mut self, now: u64, link: &mut Link<'_>) {
        let mut expired: Vec<Push> = Vec::new();
        let (keep, gone): (Vec<Push>, Vec<Push>) =
            self.buffer.drain(..).partition(|p| p.deadline > now);
        self.buffer.extend(keep);
        expired.extend(gone);
        let (keep, gone): (Vec<Push>, Vec<Push>) =
            self.in_flight.drain(..).partition(|p| p.deadline > now);
        self.in_flight = keep;
        expired.extend(gone);
        crate::vecmap::sort_by(&mut expired, |a, b| {
            (a.deadline, a.id).cmp(&(b.deadline, b.id))
        });
        for push in expired {
            self.done(push.id, PushResult::Timeout, link);
        }
    }

    fn done(&self, id: PushId, result: PushResult, link: &mut Link<'_>) {
        link.emit(ClientEvent::PushDone {
            ch: self.id,
            id,
            result,
        });
    }
}
