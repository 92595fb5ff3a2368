//! Configuration of the client and of each channel, with realtime-js's defaults.

use crate::realtime::{BroadcastConfig, PresenceConfig, Vsn};

/// A stepped back-off like phoenix's `Timer`: the n-th consecutive try waits `steps[n - 1]`,
/// every try past the table waits `fallback`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backoff {
    /// Delays of the first tries, in milliseconds.
    pub steps: Vec<u64>,
    /// Delay of every later try, in milliseconds.
    pub fallback: u64,
}

impl Backoff {
    /// realtime-js `RECONNECT_INTERVALS` / `DEFAULT_RECONNECT_FALLBACK`: 1 s, 2 s, 5 s, 10 s,
    /// then 10 s.
    pub fn socket_reconnect() -> Self {
        Backoff {
            steps: vec![1_000, 2_000, 5_000, 10_000],
            fallback: 10_000,
        }
    }

    /// phoenix's `rejoinAfterMs` (realtime-js does not override it): 1 s, 2 s, 5 s, then 10 s.
    pub fn channel_rejoin() -> Self {
        Backoff {
            steps: vec![1_000, 2_000, 5_000],
            fallback: 10_000,
        }
    }

    /// The delay before try number `attempt` (1-based, as phoenix's `timerCalc(tries + 1)`).
    pub fn delay(&self, attempt: u32) -> u64 {
        let index = usize::try_from(attempt.saturating_sub(1)).unwrap_or(usize::MAX);
        self.steps.get(index).copied().unwrap_or(self.fallback)
    }
}

/// How the client reaches the Realtime server and paces itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientOptions {
    /// The WebSocket URL without query: `wss://<ref>.supabase.co/realtime/v1/websocket` or the
    /// local server's `ws://…/realtime/v1/websocket`. A query already present is kept.
    pub endpoint: String,
    /// The project's anon key (a JWT), sent as the `apikey` query parameter.
    pub api_key: String,
    /// Protocol version; realtime-js 2.x defaults to 2.0.0.
    pub vsn: Vsn,
    /// Optional `log_level` query parameter (`info`, `warning`, `error`).
    pub log_level: Option<String>,
    /// Heartbeat period, and also how long a heartbeat may go unanswered (realtime-js: 25 s).
    pub heartbeat_interval_ms: u64,
    /// How long a push (join, leave, broadcast with ack, presence) waits for its reply.
    pub push_timeout_ms: u64,
    /// Pushes kept per channel while it is not joined; beyond it the oldest is dropped.
    pub push_buffer_cap: usize,
    /// Socket reconnect delays.
    pub reconnect: Backoff,
    /// Channel rejoin delays.
    pub rejoin: Backoff,
}

impl ClientOptions {
    /// Options with realtime-js's defaults for everything but the endpoint and key.
    pub fn new(endpoint: impl Into<String>, api_key: impl Into<String>) -> Self {
        ClientOptions {
            endpoint: endpoint.into(),
            api_key: api_key.into(),
            vsn: Vsn::V2,
            log_level: None,
            heartbeat_interval_ms: 25_000,
            push_timeout_ms: 10_000,
            push_buffer_cap: 100,
            reconnect: Backoff::socket_reconnect(),
            rejoin: Backoff::channel_rejoin(),
        }
    }
}

/// What a channel asks of the server when it joins (`config` of `phx_join`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelOptions {
    /// `ack`: the server confirms each broadcast; `self_broadcast`: our broadcasts come back.
    pub broadcast: BroadcastConfig,
    /// `key`: our presence key (PairUX: the participant id; empty = server picks one);
    /// `enabled`: the server sends us `presence_state` and `presence_diff`.
    pub presence: PresenceConfig,
    /// Private channels are authorised by Realtime's database policies.
    pub private: bool,
}

impl Default for ChannelOptions {
    /// realtime-js's channel defaults: no ack, no self, presence off, public.
    fn default() -> Self {
        ChannelOptions {
            broadcast: BroadcastConfig::default(),
            presence: PresenceConfig {
                key: String::new(),
                enabled: false,
            },
            private: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_tables_match_realtime_js() {
        let socket = Backoff::socket_reconnect();
        let delays: Vec<u64> = (1..=6).map(|n| socket.delay(n)).collect();
        assert_eq!(delays, [1_000, 2_000, 5_000, 10_000, 10_000, 10_000]);
        let channel = Backoff::channel_rejoin();
        let delays: Vec<u64> = (1..=5).map(|n| channel.delay(n)).collect();
        assert_eq!(delays, [1_000, 2_000, 5_000, 10_000, 10_000]);
        // Try 0 never happens, but must not panic or underflow.
        assert_eq!(channel.delay(0), 1_000);
        assert_eq!(channel.delay(u32::MAX), 10_000);
    }
}
