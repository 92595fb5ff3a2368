//! A channel's token after the join: `access_token` refreshes, and re-checks at expiry (at
//! least every `--realtime-token-recheck-ms`). A token that fails either closes the channel with
//! a `system` error in the real server's words.

use std::time::Instant;

use pairux_core::realtime::Message as PhxMessage;
use serde_json::Value;

use super::join::recheck_time;
use super::Session;
use crate::realtime::auth;

impl Session {
    pub(super) fn access_token(&mut self, msg: PhxMessage) {
        let topic = msg.topic.as_str();
        let token = match msg.payload.get("access_token") {
            Some(Value::String(token)) => token.as_str(),
            // `null` means "no change".
            Some(Value::Null) => return,
            // Not a refresh the server understands: an ordinary unknown event.
            _ => return self.other_event(topic),
        };
        let Some(channel) = self.channels.get(topic) else {
            return;
        };
        if auth::is_api_key_format(token) || token == channel.access_token {
            return;
        }
        match self.state.verify(token) {
            Ok(verified) => {
                let recheck = recheck_time(verified.exp, self.state.limits().token_recheck);
                if let Some(channel) = self.channels.get_mut(topic) {
                    channel.access_token = token.to_owned();
                    channel.recheck_at = recheck;
                }
            }
            Err(err) => self.shutdown_channel(topic, &auth::system_message(&err)),
        }
    }

    /// The earliest token re-check due, if any channel is joined.
    pub fn next_recheck(&self) -> Option<Instant> {
        self.channels.values().map(|c| c.recheck_at).min()
    }

    /// Re-verifies the tokens of channels whose re-check is due.
    pub fn recheck_tokens(&mut self, now: Instant) {
        let due: Vec<String> = self
            .channels
            .iter()
            .filter(|(_, c)| c.recheck_at <= now)
            .map(|(topic, _)| topic.clone())
            .collect();
        for topic in due {
            let Some(channel) = self.channels.get(&topic) else {
                continue;
            };
            self.state.counters.token_rechecked();
            match self.state.verify(&channel.access_token) {
                Ok(verified) => {
                    let recheck = recheck_time(verified.exp, self.state.limits().token_recheck);
                    if let Some(channel) = self.channels.get_mut(&topic) {
                        channel.recheck_at = recheck;
                    }
                }
                Err(err) => self.shutdown_channel(&topic, &auth::system_message(&err)),
            }
        }
    }
}
