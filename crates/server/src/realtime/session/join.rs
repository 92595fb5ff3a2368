//! `phx_join` and `phx_leave`.
//!
//! A join is checked in the real server's order — topic name, joins per second, channels per
//! socket, token, private channels — and answered with the real reason strings. Re-joining a
//! joined topic closes the old channel first, as Phoenix does.

use std::time::{Duration, Instant};

use pairux_core::realtime::{
    event, EmptyObject, ErrorReason, JoinPayload, JoinResponse, Message as PhxMessage, Reply,
};
use serde_json::Value;

use super::{frames, Channel, Session};
use crate::realtime::auth;
use crate::realtime::hub::Subscriber;
use crate::realtime::presence::random_key;
use crate::realtime::rate::CallQuota;

/// A join that passed every check.
struct Admission {
    join: JoinPayload,
    access_token: String,
    token_exp: u64,
}

/// A join that did not.
struct Refusal {
    reason: String,
    /// The real server also drops the socket when joins per second are exceeded.
    disconnect: bool,
}

impl Refusal {
    fn new(reason: impl Into<String>) -> Self {
        Refusal {
            reason: reason.into(),
            disconnect: false,
        }
    }

    fn too_many_joins() -> Self {
        Refusal {
            reason: "ClientJoinRateLimitReached: Too many joins per second".into(),
            disconnect: true,
        }
    }
}

/// Longest topic name (after `realtime:`) and presence key, in bytes.
const MAX_NAME_BYTES: usize = 256;

impl Session {
    pub(super) fn join(&mut self, msg: PhxMessage) {
        let PhxMessage {
            join_ref,
            msg_ref,
            topic,
            payload,
            ..
        } = msg;
        let Some(name) = event::channel_name(&topic) else {
            return self.unmatched(join_ref.as_deref(), msg_ref.as_deref(), &topic);
        };
        let name = name.to_owned();
        if let Some(old) = self.channels.remove(&topic) {
            self.close_channel(&topic, old);
        }
        match self.admit(&name, &payload) {
            Ok(admission) => self.enter(topic, join_ref, msg_ref.as_deref(), admission),
            Err(refusal) => {
                let reason = ErrorReason {
                    reason: refusal.reason,
                };
                let reply = frames::reply(
                    self.vsn,
                    join_ref.as_deref(),
                    msg_ref.as_deref(),
                    &topic,
                    &Reply::error(&reason),
                );
                let mut later: Vec<_> = reply.into_iter().collect();
                if refusal.disconnect {
                    later.push(Session::close_frame(1008, "too many joins"));
                }
                self.send_after_backoff(later);
            }
        }
    }

    fn admit(&mut self, name: &str, payload: &Value) -> Result<Admission, Refusal> {
        if name.is_empty() {
            return Err(Refusal::new(
                "TopicNameRequired: You must provide a topic name",
            ));
        }
        // Ours, not the hosted server's: a topic and a presence key are kept per subscriber and
        // sent to every joiner, so neither may be megabytes long.
        if name.len() > MAX_NAME_BYTES {
            return Err(Refusal::new(format!(
                "TopicNameTooLong: a topic name is at most {MAX_NAME_BYTES} bytes"
            )));
        }
        let parsed = JoinPayload::parse(payload);
        if parsed.join.config.presence.key.len() > MAX_NAME_BYTES {
            return Err(Refusal::new(format!(
                "PresenceKeyTooLong: a presence key is at most {MAX_NAME_BYTES} bytes"
            )));
        }
        if !parsed.invalid.is_empty() {
            tracing::debug!(invalid = ?parsed.invalid, "realtime: join payload fields ignored");
        }
        // This socket's own joins first: over them it alone is refused (and dropped), and its
        // excess does not count server-wide; then the server's, which a light joiner passes
        // even when others have spent it, so one socket's rejoins cannot get everyone else's
        // joins refused and their sockets dropped.
        let Some(rate) = self.own_rate(super::Own::Joins, 1) else {
            return Err(Refusal::too_many_joins());
        };
        if !self.state.admit_join(rate) {
            return Err(Refusal::too_many_joins());
        }
        if self.channels.len() >= self.state.limits().max_channels_per_client {
            return Err(Refusal::new("ChannelRateLimitReached: Too many channels"));
        }
        let access_token = parsed
            .join
            .access_token
            .clone()
            .filter(|t| !auth::is_api_key_format(t))
            .unwrap_or_else(|| self.socket_token.clone());
        let verified = self
            .state
            .verify(&access_token)
            .map_err(|err| Refusal::new(auth::join_reason(&err)))?;
        if parsed.join.config.private {
            // Private channels are authorised by database policies, which the local server has
            // none of: every private topic is unreadable, in the real server's words.
            return Err(Refusal::new(format!(
                "Unauthorized: You do not have permissions to read from this Channel topic: {name}"
            )));
        }
        Ok(Admission {
            join: parsed.join,
            access_token,
            token_exp: verified.exp,
        })
    }

    fn enter(
        &mut self,
        topic: String,
        join_ref: Option<String>,
        msg_ref: Option<&str>,
        admission: Admission,
    ) {
        let Admission {
            join,
            access_token,
            token_exp,
        } = admission;
        let config = join.config;
        let presence_key = if config.presence.key.is_empty() {
            random_key()
        } else {
            config.presence.key
        };
        // The reply is queued before the subscription exists, so no broadcast can overtake it.
        self.reply_ok(
            join_ref.as_deref(),
            msg_ref,
            &topic,
            &JoinResponse::default(),
        );
        let subscriber = self.state.hub.new_subscriber_id();
        let presence = self.state.hub.subscribe(
            &topic,
            Subscriber {
                id: subscriber,
                vsn: self.vsn,
                outbox: self.outbox.clone(),
            },
        );
        if config.presence.enabled {
            self.send(frames::push(
                self.vsn,
                join_ref.as_deref(),
                &topic,
                event::PRESENCE_STATE,
                &presence,
            ));
        }
        let limits = self.state.limits();
        let channel = Channel {
            join_ref,
            subscriber,
            ack: config.broadcast.ack,
            self_broadcast: config.broadcast.self_broadcast,
            presence_key,
            presence_enabled: config.presence.enabled,
            tracked: None,
            presence_quota: CallQuota::new(limits.presence_calls, limits.presence_window),
            access_token,
            recheck_at: recheck_time(token_exp, limits.token_recheck),
        };
        self.channels.insert(topic, channel);
    }

    pub(super) fn leave(&mut self, msg: PhxMessage) {
        let msg_ref = msg.msg_ref.as_deref();
        match self.channels.remove(&msg.topic) {
            Some(channel) => {
                self.reply_ok(
                    channel.join_ref.as_deref(),
                    msg_ref,
                    &msg.topic,
                    &EmptyObject {},
                );
                self.close_channel(&msg.topic, channel);
            }
            // Phoenix answers a leave of a topic it does not know with ok, so a client that
            // lost its channel can still leave cleanly.
            None => self.reply_ok(
                msg.join_ref.as_deref(),
                msg_ref,
                &msg.topic,
                &EmptyObject {},
            ),
        }
    }
}

/// When to re-check a token: at its expiry, but at least every `max_interval`.
pub(super) fn recheck_time(exp_secs: u64, max_interval: Duration) -> Instant {
    let now_secs = crate::jwt::now_secs();
    let until_exp = Duration::from_secs(exp_secs.saturating_sub(now_secs));
    Instant::now() + until_exp.min(max_interval)
}
