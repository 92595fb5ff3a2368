//! A sans-IO Supabase Realtime client: Phoenix channels over one WebSocket, behaving like
//! `@supabase/realtime-js` 2.x (over `@supabase/phoenix`) on the wire and in its timing.
//!
//! This module owns the protocol *behaviour*: the socket lifecycle (connect URL, heartbeat
//! every 25 s whose silence closes with 1000 "heartbeat timeout", reconnect after 1/2/5/10 s),
//! channels (join with a 10 s timeout, rejoin after 1/2/5/10 s, rejoin at once when the socket
//! reopens, leave, stale `join_ref` dropped, `access_token`, `system`/`phx_error`/`phx_close`),
//! pushes (10 s timeout, buffered while not joined, at most 100) and presence sync. Byte
//! layouts belong to [`crate::realtime`], which this module only calls.
//!
//! Architecture invariant: no socket, timer or clock. The driver feeds socket events and the
//! time (`now`, milliseconds on any monotonic clock) into `handle_*`, performs every
//! [`Output`] in order, and calls [`RealtimeClient::handle_timeout`] at
//! [`RealtimeClient::poll_timeout`]. Tests therefore run hours of protocol in microseconds.
//!
//! ```
//! use pairux_core::realtime_client::{ChannelOptions, ClientOptions, Output, RealtimeClient};
//!
//! let mut client = RealtimeClient::new(ClientOptions::new("ws://localhost/realtime/v1/websocket", "key"));
//! client.connect(0);
//! let ch = client.channel("pairux:room", ChannelOptions::default());
//! client.join(0, ch);
//! assert_eq!(
//!     client.poll_output(),
//!     Some(Output::Connect { url: "ws://localhost/realtime/v1/websocket?apikey=key&vsn=2.0.0".into() })
//! );
//! client.handle_open(5);
//! // … drain poll_output(): the phx_join goes out; feed replies to handle_text.
//! ```

mod channel;
mod channel_push;
mod client;
mod inbound;
mod link;
mod options;
mod outbound;
mod output;
mod pacer;
mod presence;
mod url;

pub use channel::TRACK_RETRY_MS;
pub use client::RealtimeClient;
pub use options::{Backoff, ChannelOptions, ClientOptions};
pub use outbound::PushError;
pub use output::{
    BroadcastBody, ChannelId, ChannelState, ClientEvent, ClientStats, ConnectionState, Output,
    PushId, PushResult,
};
pub use pacer::PresencePacer;
pub use presence::PresenceSync;
