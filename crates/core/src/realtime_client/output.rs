//! What the client tells its driver: IO to perform ([`Output`]) and what happened
//! ([`ClientEvent`]), plus the handles and counters those refer to.

use serde_json::Value;

use super::presence::PresenceSync;

/// A channel of this client, returned by [`super::RealtimeClient::channel`]. Stays valid for
/// the client's life (channels are never forgotten, only closed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ChannelId(pub(crate) usize);

/// A user push (broadcast, track, untrack), reported once in [`ClientEvent::PushDone`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PushId(pub(crate) u64);

/// Something the driver must do, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    /// Open a WebSocket to `url` (binary type `arraybuffer`). Any previous socket is already
    /// closed or was told to close; its events must no longer be fed in.
    Connect {
        /// Endpoint with `apikey` and `vsn` (last) in the query.
        url: String,
    },
    /// Send a text frame on the open socket.
    SendText(String),
    /// Send a binary frame on the open socket.
    SendBinary(Vec<u8>),
    /// Close the socket with this code and reason, then detach its handlers: the client has
    /// already moved on and ignores that socket's close event.
    Close {
        /// 1000.
        code: u16,
        /// `heartbeat timeout`, or empty for [`super::RealtimeClient::disconnect`].
        reason: String,
    },
    /// Something to show or act on.
    Event(ClientEvent),
}

/// Socket state as a person would describe it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnectionState {
    /// A socket is being opened.
    Connecting,
    /// The socket is open; channels (re)join.
    Open,
    /// The socket went away; try number `attempt` opens a new one at `retry_at` (ms).
    Reconnecting {
        /// Absolute time of the next try.
        retry_at: u64,
        /// 1 for the first try after a loss, counting up until a socket opens.
        attempt: u32,
    },
    /// Closed on request; no reconnect until `connect` is called.
    Closed,
}

/// Channel state, as realtime-js's `CHANNEL_STATES`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChannelState {
    /// A join was sent (or waits for the socket to open).
    Joining,
    /// The server accepted the join.
    Joined,
    /// The join failed or timed out, the channel crashed, or the socket went away. The
    /// channel rejoins at `retry_at`, or as soon as the socket opens when `retry_at` is `None`.
    Errored {
        /// The server's reason (`InvalidJWTToken: …`), `timeout`, or what happened to the socket.
        reason: String,
        /// Absolute time of the next join, when one is scheduled.
        retry_at: Option<u64>,
    },
    /// `leave` was called; waiting for the server's reply.
    Leaving,
    /// Left, closed by the server (`phx_close`, e.g. after a `system` error) or never joined.
    /// Nothing happens until `join` is called again.
    Closed,
}

/// A broadcast's user payload.
#[derive(Debug, Clone, PartialEq)]
pub enum BroadcastBody {
    /// JSON (text frames, and binary frames with JSON encoding).
    Json(Value),
    /// Opaque bytes (binary frames with binary encoding; vsn 2.0.0 only).
    Binary(Vec<u8>),
}

/// How a user push ended.
#[derive(Debug, Clone, PartialEq)]
pub enum PushResult {
    /// The server replied ok with this response; for a broadcast without `ack` (no reply
    /// comes), `Null` once the frame was handed to the socket.
    Ok(Value),
    /// The server replied with an error (`{"reason": …}`), or the push could not be encoded.
    Error(Value),
    /// No reply within the push timeout (or not sent within it, while the channel was not
    /// joined).
    Timeout,
    /// Never sent: pushed out of the full buffer by a newer push.
    Dropped,
}

/// What happened, for the driver to show or act on.
#[derive(Debug, Clone, PartialEq)]
pub enum ClientEvent {
    /// The socket changed state.
    Connection(ConnectionState),
    /// The socket closed before it opened. Browsers hide the HTTP status (e.g. 401 for a bad
    /// key), so the driver should re-read its configuration and call `set_api_key` before the
    /// scheduled retry.
    ConnectFailed,
    /// A channel changed state.
    Channel {
        /// Which channel.
        ch: ChannelId,
        /// Its new state.
        state: ChannelState,
    },
    /// The server refused the channel's token (join error `InvalidJWTToken`,
    /// `JwtSignatureError`, `MalformedJWT`, `JwtSignerError`, or a token `system` error).
    /// The client keeps rejoining on its schedule; the driver should fetch a fresh key or token.
    TokenRefused {
        /// Which channel.
        ch: ChannelId,
        /// The server's text.
        reason: String,
    },
    /// The server refused to hold our presence (`PresenceLimitReached`: its topic's presence is
    /// full). We are joined and hear everything; while no one sees us the client tracks again
    /// after `TRACK_RETRY_MS` until the server holds it ([`ClientEvent::PresenceHeld`]).
    PresenceRefused {
        /// Which channel.
        ch: ChannelId,
        /// The server's text.
        reason: String,
        /// An earlier meta of ours from this join is still held (others see us, as we were);
        /// `false`: no one else sees us.
        seen: bool,
    },
    /// The server holds our presence again after [`ClientEvent::PresenceRefused`].
    PresenceHeld {
        /// Which channel.
        ch: ChannelId,
    },
    /// A user broadcast arrived.
    Broadcast {
        /// Which channel.
        ch: ChannelId,
        /// The user event name.
        event: String,
        /// The user payload.
        payload: BroadcastBody,
    },
    /// The channel's presence changed.
    Presence {
        /// Which channel.
        ch: ChannelId,
        /// Joins, leaves and the full state after them.
        sync: PresenceSync,
    },
    /// A user push ended.
    PushDone {
        /// Which channel it was pushed to.
        ch: ChannelId,
        /// What [`super::RealtimeClient::broadcast`] (etc.) returned.
        id: PushId,
        /// How it ended.
        result: PushResult,
    },
    /// A `system` message: a channel-level status; `error` is followed by the channel closing
    /// (realtime-js does not rejoin then; the driver decides).
    System {
        /// Which channel.
        ch: ChannelId,
        /// `ok` or `error`.
        status: String,
        /// E.g. `Too many messages per second`.
        message: String,
    },
}

/// Counters of input the client dropped rather than acted on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ClientStats {
    /// Frames that did not decode, or whose payload had the wrong shape for its event.
    pub malformed_frames: u64,
    /// Messages of an earlier join of their channel (stale `join_ref` or `ref`).
    pub stale_messages: u64,
    /// Messages for a topic with no open channel, or with an event the client does not know.
    pub unroutable_messages: u64,
    /// Pushes dropped from a full buffer.
    pub dropped_pushes: u64,
    /// Presence diffs dropped from a full pre-sync buffer.
    pub dropped_presence_diffs: u64,
    /// Socket events that arrived in a state where they mean nothing (e.g. text on a closed
    /// socket).
    pub ignored_socket_events: u64,
}
