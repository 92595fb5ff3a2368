//! Event and topic names of the protocol, so neither side spells them twice.

/// Client → server: join a channel.
pub const JOIN: &str = "phx_join";
/// Client → server: leave a channel.
pub const LEAVE: &str = "phx_leave";
/// Server → client: the answer to a push, matched by `ref`.
pub const REPLY: &str = "phx_reply";
/// Server → client: the channel is closed (after a leave, a re-join or a `system` error).
pub const CLOSE: &str = "phx_close";
/// Server → client: the channel crashed; the client rejoins.
pub const ERROR: &str = "phx_error";
/// Client → server on the [`PHOENIX_TOPIC`]: keep-alive, answered with an ok reply.
pub const HEARTBEAT: &str = "heartbeat";
/// Client → server: a fresh JWT for a joined channel.
pub const ACCESS_TOKEN: &str = "access_token";
/// Both ways: a user broadcast.
pub const BROADCAST: &str = "broadcast";
/// Client → server: presence `track` / `untrack`.
pub const PRESENCE: &str = "presence";
/// Server → client: the full presence state, sent after a join.
pub const PRESENCE_STATE: &str = "presence_state";
/// Server → client: presence joins and leaves.
pub const PRESENCE_DIFF: &str = "presence_diff";
/// Server → client: a channel-level status or error; an error is followed by [`CLOSE`].
pub const SYSTEM: &str = "system";

/// The socket-level topic heartbeats use.
pub const PHOENIX_TOPIC: &str = "phoenix";
/// Every Realtime channel topic starts with this; what follows is the channel name.
pub const TOPIC_PREFIX: &str = "realtime:";

/// The channel name of a Realtime topic (`realtime:room1` → `room1`), or `None` when the topic
/// is not a Realtime topic at all.
pub fn channel_name(topic: &str) -> Option<&str> {
    topic.strip_prefix(TOPIC_PREFIX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channel_name_strips_the_prefix_only() {
        assert_eq!(channel_name("realtime:room1"), Some("room1"));
        assert_eq!(channel_name("realtime:"), Some(""));
        assert_eq!(channel_name("room1"), None);
        assert_eq!(channel_name("phoenix"), None);
    }
}
