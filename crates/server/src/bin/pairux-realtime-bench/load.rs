//! The load generator's shared parts: the plan, the target, progress counters, the time base,
//! and connecting + joining a socket. Subscribers (`subscribers.rs`) and publishers
//! (`publishers.rs`) each run on their own threads, every thread a single-threaded tokio runtime
//! multiplexing its sockets, so the client side costs little next to the server it measures
//! (both share the machine's cores).
//!
//! Publishers send realtime-js's binary broadcast (kind 3, binary payload); subscribers are
//! vsn 2.0.0 sockets and receive kind 4. A payload starts with the sequence number and the send
//! time (nanoseconds since [`epoch`]), both little-endian `u64`.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use pairux_core::realtime::{
    event, Direction, Envelope, Message as PhxMessage, ReplyPayload, ReplyStatus, Vsn,
};
use serde_json::json;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::error::{BenchError, Context, Result};

pub type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Sockets connecting at once.
pub const CONNECT_CONCURRENCY: usize = 64;
/// How long one socket may take to connect and join.
pub const JOIN_TIMEOUT: Duration = Duration::from_secs(30);

/// The instant send times are measured from; shared by both threads.
pub fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

pub fn now_ns() -> u64 {
    u64::try_from(epoch().elapsed().as_nanos()).unwrap_or(u64::MAX)
}

/// One load shape.
#[derive(Debug, Clone)]
pub struct Plan {
    pub channels: usize,
    pub subscribers_per_channel: usize,
    /// Broadcasts per second per channel (one publisher each).
    pub rate_per_channel: f64,
    pub warmup: Duration,
    pub duration: Duration,
    pub payload_bytes: usize,
}

impl Plan {
    pub fn subscribers(&self) -> usize {
        self.channels * self.subscribers_per_channel
    }

    /// Broadcasts each publisher sends during warm-up, then in total.
    pub fn counts(&self) -> (u64, u64) {
        let warmup = (self.rate_per_channel * self.warmup.as_secs_f64()).round() as u64;
        let measured = (self.rate_per_channel * self.duration.as_secs_f64()).round() as u64;
        (warmup, warmup + measured)
    }

    pub fn warmup_count(&self) -> u64 {
        self.counts().0
    }
}

pub fn topic(channel: usize) -> String {
    format!("{}bench-{channel}", event::TOPIC_PREFIX)
}

/// Where the sockets connect, and with what.
#[derive(Debug, Clone)]
pub struct Target {
    pub addr: SocketAddr,
    pub token: String,
}

impl Target {
    fn url(&self) -> String {
        format!(
            "ws://{}/realtime/v1/websocket?apikey={}&vsn=2.0.0",
            self.addr, self.token
        )
    }
}

/// Progress visible to the main thread while the load runs.
#[derive(Debug, Default)]
pub struct Progress {
    pub joined: AtomicUsize,
    pub failed: AtomicUsize,
    pub received: AtomicU64,
}

pub async fn connect_and_join(target: &Target, topic: &str) -> Result<Socket> {
    // A small read buffer: tungstenite zero-fills the whole buffer before each read.
    let config = WebSocketConfig::default()
        .read_buffer_size(4 * 1024)
        .write_buffer_size(0);
    let (mut socket, _) =
        tokio_tungstenite::connect_async_with_config(target.url(), Some(config), true)
            .await
            .context("connecting")?;
    let payload = json!({"config": {
        "broadcast": {"ack": false, "self": false},
        "presence": {"key": "", "enabled": false},
        "postgres_changes": [],
        "private": false,
    }});
    let join = Envelope {
        join_ref: Some("1"),
        msg_ref: Some("1"),
        topic,
        event: event::JOIN,
        payload: &payload,
    }
    .encode(Vsn::V2, Direction::ClientToServer)
    .context("encoding the join")?;
    socket
        .send(Message::text(join))
        .await
        .context("sending the join")?;
    loop {
        let Some(message) = socket.next().await else {
            return Err(BenchError::msg("closed before the join reply"));
        };
        let Message::Text(text) = message.context("reading the join reply")? else {
            continue;
        };
        let reply = PhxMessage::decode(&text, Vsn::V2).context("decoding the join reply")?;
        if reply.event != event::REPLY {
            continue;
        }
        let status = ReplyPayload::from_value(&reply.payload).context("join reply payload")?;
        if status.status != ReplyStatus::Ok {
            return Err(BenchError::msg(format!("join refused: {}", reply.payload)));
        }
        return Ok(socket);
    }
}
