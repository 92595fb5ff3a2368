//! Limits and timings of the Realtime endpoint, with the real server's defaults, as command-line
//! flags.

use std::time::Duration;

/// `--realtime-*` flags of `pairux-server`.
#[derive(Debug, Clone, clap::Args)]
#[command(next_help_heading = "Realtime")]
pub struct RealtimeArgs {
    /// Most open sockets; further upgrades get 429 `Too many connected users`.
    #[arg(long = "realtime-max-connections", default_value_t = 200)]
    pub max_connections: usize,
    /// Most open sockets from one address (an IPv6 address's /64) at once; further upgrades
    /// from it get 429 `Too many connections from this address` (0: no limit). Ours, not the
    /// hosted server's: without it one client could hold every slot of
    /// `--realtime-max-connections` and lock everyone else out.
    #[arg(long = "realtime-max-connections-per-address", default_value_t = 50)]
    pub max_connections_per_address: usize,
    /// Most channels one socket may have joined at once.
    #[arg(long = "realtime-max-channels-per-client", default_value_t = 100)]
    pub max_channels_per_client: usize,
    /// Joins per second, server-wide (averaged over a few seconds).
    #[arg(long = "realtime-max-joins-per-second", default_value_t = 100)]
    pub max_joins_per_second: u32,
    /// Joins per second from one socket (0: no per-socket limit). Ours: a socket over it is
    /// refused and dropped alone, its excess does not count server-wide, and a light joiner
    /// passes the server-wide limit even when others have spent it. As many as a socket may
    /// hold channels, so a reconnecting client (the focus's watcher, 50) joins all at once.
    #[arg(long = "realtime-max-joins-per-socket", default_value_t = 100)]
    pub max_joins_per_socket: u32,
    /// Client events (broadcasts and other pushes) per second, server-wide.
    #[arg(long = "realtime-max-events-per-second", default_value_t = 100)]
    pub max_events_per_second: u32,
    /// Client events per second from one socket (0: no per-socket limit). A socket over it
    /// has its channel closed, and its excess does not count against the server-wide limit,
    /// so one client's burst cannot get everyone else's channels closed.
    #[arg(long = "realtime-max-events-per-socket", default_value_t = 50)]
    pub max_events_per_socket: u32,
    /// Broadcast bytes per second from one socket, in kB, averaged like events (0: no
    /// limit). Ours, not the hosted server's: every subscriber gets its copy of each message,
    /// so without it a few multi-megabyte broadcasts a second fill everyone's queue. PairUX's
    /// largest message is a 64 KiB signal.
    #[arg(long = "realtime-max-kb-per-socket", default_value_t = 1000)]
    pub max_kb_per_socket: usize,
    /// Largest broadcast or presence payload, in kB (1 kB = 1000 bytes).
    #[arg(long = "realtime-max-payload-kb", default_value_t = 3000)]
    pub max_payload_kb: usize,
    /// Largest presence meta one subscription may track, in kB. Ours, not the hosted
    /// server's (which takes a presence payload as large as a broadcast): every joiner of the
    /// topic receives every meta, and a PairUX meta is about 1 kB (a host's grows by ~0.2 kB
    /// per handover in its chain). At 8 kB, filling a topic's 4,000 kB takes 500 sockets,
    /// more than the server holds.
    #[arg(long = "realtime-max-presence-kb", default_value_t = 8)]
    pub max_presence_kb: usize,
    /// Most presence, all metas together, one topic keeps, in kB (at most half of a socket's
    /// outbound queue, so a joiner's `presence_state` always fits it). A track that would go
    /// over it is refused with an error reply; what is tracked already stays.
    #[arg(long = "realtime-max-presence-topic-kb", default_value_t = 4000)]
    pub max_presence_topic_kb: usize,
    /// Presence calls one channel may make per presence window.
    #[arg(long = "realtime-presence-calls", default_value_t = 5)]
    pub presence_calls: u32,
    /// The presence window, in milliseconds.
    #[arg(long = "realtime-presence-window-ms", default_value_t = 30_000)]
    pub presence_window_ms: u64,
    /// Largest WebSocket frame (and message) accepted, in bytes; larger closes with 1009.
    #[arg(long = "realtime-max-frame-bytes", default_value_t = 5_000_000)]
    pub max_frame_bytes: usize,
    /// Frames queued for one socket before it counts as a slow consumer and is disconnected.
    #[arg(long = "realtime-outbound-queue", default_value_t = 1024)]
    pub outbound_queue: usize,
    /// Bytes queued for one socket before it counts as a slow consumer (at least two of the
    /// largest frames, so one large broadcast always fits).
    #[arg(long = "realtime-outbound-queue-kb", default_value_t = 16_000)]
    pub outbound_queue_kb: usize,
    /// A write to a socket that takes longer than this (the peer reads nothing) ends it as a
    /// slow consumer.
    #[arg(long = "realtime-write-timeout-ms", default_value_t = 15_000)]
    pub write_timeout_ms: u64,
    /// Delay before a join error reply. The hosted server waits 5000 ms; a local server need not.
    #[arg(long = "realtime-error-backoff-ms", default_value_t = 0)]
    pub error_backoff_ms: u64,
    /// A socket that sends nothing (not even a heartbeat) for this long is closed.
    #[arg(long = "realtime-idle-timeout-ms", default_value_t = 60_000)]
    pub idle_timeout_ms: u64,
    /// Longest interval between re-checks of a channel's token expiry.
    #[arg(long = "realtime-token-recheck-ms", default_value_t = 300_000)]
    pub token_recheck_ms: u64,
}

/// The same settings, resolved for use.
#[derive(Debug, Clone)]
pub struct Limits {
    pub max_connections: usize,
    pub max_connections_per_address: usize,
    pub max_channels_per_client: usize,
    pub max_joins_per_second: u32,
    pub max_joins_per_socket: u32,
    pub max_events_per_second: u32,
    pub max_events_per_socket: u32,
    pub max_bytes_per_socket: usize,
    pub max_payload_bytes: usize,
    pub max_presence_bytes: usize,
    pub max_presence_topic_bytes: usize,
    pub presence_calls: u32,
    pub presence_window: Duration,
    pub max_frame_bytes: usize,
    pub outbound_queue: usize,
    pub outbound_queue_bytes: usize,
    pub write_timeout: Duration,
    pub error_backoff: Duration,
    pub idle_timeout: Duration,
    pub token_recheck: Duration,
}

impl From<&RealtimeArgs> for Limits {
    fn from(args: &RealtimeArgs) -> Self {
        let outbound_queue_bytes = args
            .outbound_queue_kb
            .saturating_mul(1000)
            .max(args.max_frame_bytes.saturating_mul(2));
        Limits {
            max_connections: args.max_connections,
            max_connections_per_address: args.max_connections_per_address,
            max_channels_per_client: args.max_channels_per_client,
            max_joins_per_second: args.max_joins_per_second,
            max_joins_per_socket: args.max_joins_per_socket,
            max_events_per_second: args.max_events_per_second,
            max_events_per_socket: args.max_events_per_socket,
            max_bytes_per_socket: args.max_kb_per_socket.saturating_mul(1000),
            max_payload_bytes: args.max_payload_kb.saturating_mul(1000),
            max_presence_bytes: args.max_presence_kb.saturating_mul(1000),
            max_presence_topic_bytes: args
                .max_presence_topic_kb
                .saturating_mul(1000)
                .min(outbound_queue_bytes / 2),
            presence_calls: args.presence_calls,
            presence_window: Duration::from_millis(args.presence_window_ms),
            max_frame_bytes: args.max_frame_bytes,
            // A zero-capacity queue cannot exist; one frame is the floor.
            outbound_queue: args.outbound_queue.max(1),
            outbound_queue_bytes,
            write_timeout: Duration::from_millis(args.write_timeout_ms.max(1)),
            error_backoff: Duration::from_millis(args.error_backoff_ms),
            idle_timeout: Duration::from_millis(args.idle_timeout_ms),
            token_recheck: Duration::from_millis(args.token_recheck_ms.max(1)),
        }
    }
}
