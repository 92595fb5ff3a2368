//! The load generator: subscribers on one thread and publishers on another, each thread a
//! single-threaded tokio runtime multiplexing its sockets, so the client side costs little next
//! to the server it measures (both share the machine's cores).
//!
//! Publishers send realtime-js's binary broadcast (kind 3, binary payload); subscribers are
//! vsn 2.0.0 sockets and receive kind 4. A payload starts with the sequence number and the send
//! time (nanoseconds since [`epoch`]), both little-endian `u64`.

use std::cell::RefCell;
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use pairux_core::realtime::{
    event, BinaryFrame, BroadcastPush, Direction, Envelope, Message as PhxMessage, ReplyPayload,
    ReplyStatus, UserPayload, Vsn,
};
use serde_json::json;
use tokio::net::TcpStream;
use tokio::sync::{watch, Semaphore};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::error::{BenchError, Context, Result};

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Sockets connecting at once.
const CONNECT_CONCURRENCY: usize = 64;
/// How long one socket may take to connect and join.
const JOIN_TIMEOUT: Duration = Duration::from_secs(30);

/// The instant send times are measured from; shared by both threads.
pub fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

fn now_ns() -> u64 {
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
    fn counts(&self) -> (u64, u64) {
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

/// What the subscribers saw.
#[derive(Debug, Default)]
pub struct Received {
    /// Send → receive, in microseconds, for broadcasts after the warm-up.
    pub latencies_us: Vec<u32>,
    /// Broadcasts received after the warm-up.
    pub measured: u64,
    /// All broadcasts received.
    pub total: u64,
}

impl Received {
    /// Adds another thread's figures.
    pub fn merge(&mut self, other: Received) {
        self.latencies_us.extend(other.latencies_us);
        self.measured += other.measured;
        self.total += other.total;
    }
}

/// Starts `threads` subscriber threads, each with its share of the plan's subscribers; they
/// run until `stop` turns true.
pub fn spawn_subscribers(
    target: Target,
    plan: Plan,
    threads: usize,
    progress: Arc<Progress>,
    stop: watch::Receiver<bool>,
) -> Vec<std::thread::JoinHandle<Result<Received>>> {
    let threads = threads.max(1);
    (0..threads)
        .map(|thread| {
            // Subscriber i of every channel goes to thread i % threads.
            let mine: Vec<usize> = (0..plan.subscribers())
                .filter(|i| i % threads == thread)
                .map(|i| i % plan.channels)
                .collect();
            spawn_subscriber_thread(
                target.clone(),
                plan.clone(),
                mine,
                progress.clone(),
                stop.clone(),
            )
        })
        .collect()
}

/// One subscriber thread: a socket per entry of `channels` (the channel it joins).
fn spawn_subscriber_thread(
    target: Target,
    plan: Plan,
    channels: Vec<usize>,
    progress: Arc<Progress>,
    stop: watch::Receiver<bool>,
) -> std::thread::JoinHandle<Result<Received>> {
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("subscriber runtime")?;
        let local = tokio::task::LocalSet::new();
        let received = Rc::new(RefCell::new(Received::default()));
        let gate = Rc::new(Semaphore::new(CONNECT_CONCURRENCY));
        for channel in channels {
            let task = subscriber(
                target.clone(),
                topic(channel),
                plan.warmup_count(),
                progress.clone(),
                received.clone(),
                gate.clone(),
                stop.clone(),
            );
            local.spawn_local(task);
        }
        let mut stop = stop;
        runtime.block_on(local.run_until(async move {
            while !*stop.borrow() {
                if stop.changed().await.is_err() {
                    break;
                }
            }
        }));
        drop(local);
        Rc::try_unwrap(received)
            .map(RefCell::into_inner)
            .map_err(|_| BenchError::msg("subscriber stats still shared"))
    })
}

async fn subscriber(
    target: Target,
    topic: String,
    warmup_count: u64,
    progress: Arc<Progress>,
    received: Rc<RefCell<Received>>,
    gate: Rc<Semaphore>,
    mut stop: watch::Receiver<bool>,
) {
    let socket = {
        let Ok(_permit) = gate.acquire().await else {
            return;
        };
        tokio::time::timeout(JOIN_TIMEOUT, connect_and_join(&target, &topic)).await
    };
    let mut socket = match socket {
        Ok(Ok(socket)) => socket,
        Ok(Err(err)) => {
            eprintln!("subscriber: {err}");
            progress.failed.fetch_add(1, Ordering::Relaxed);
            return;
        }
        Err(_) => {
            progress.failed.fetch_add(1, Ordering::Relaxed);
            return;
        }
    };
    progress.joined.fetch_add(1, Ordering::Relaxed);
    // One stop future for the socket's life: re-creating it per frame costs more than the frame.
    let stopped = stop.wait_for(|stop| *stop);
    tokio::pin!(stopped);
    loop {
        tokio::select! {
            biased;
            message = socket.next() => match message {
                Some(Ok(Message::Binary(bytes))) => {
                    if let Some((seq, sent_ns)) = stamp(&bytes) {
                        let latency_us = now_ns().saturating_sub(sent_ns) / 1_000;
                        let mut r = received.borrow_mut();
                        r.total += 1;
                        if seq >= warmup_count {
                            r.measured += 1;
                            r.latencies_us.push(u32::try_from(latency_us).unwrap_or(u32::MAX));
                        }
                        progress.received.fetch_add(1, Ordering::Relaxed);
                    }
                }
                Some(Ok(_)) => {}
                Some(Err(_)) | None => return,
            },
            _ = &mut stopped => return,
        }
    }
}

/// The sequence number and send time of a kind 4 frame.
fn stamp(frame: &[u8]) -> Option<(u64, u64)> {
    let Ok(BinaryFrame::Broadcast(broadcast)) = BinaryFrame::decode(frame) else {
        return None;
    };
    let UserPayload::Binary(payload) = broadcast.payload else {
        return None;
    };
    let seq = u64::from_le_bytes(payload.get(0..8)?.try_into().ok()?);
    let sent = u64::from_le_bytes(payload.get(8..16)?.try_into().ok()?);
    Some((seq, sent))
}

async fn connect_and_join(target: &Target, topic: &str) -> Result<Socket> {
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

/// What the publishers did.
#[derive(Debug, Default)]
pub struct Sent {
    /// Broadcasts per channel, warm-up included.
    pub per_channel: Vec<u64>,
    /// From the first measured send to the last send.
    pub measured_elapsed: Duration,
}

/// Starts the publisher thread: it connects one publisher per channel, reports them in
/// `progress.joined`, waits for `go`, publishes at the plan's rate, and returns.
pub fn spawn_publishers(
    target: Target,
    plan: Plan,
    progress: Arc<Progress>,
    go: watch::Receiver<bool>,
) -> std::thread::JoinHandle<Result<Sent>> {
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("publisher runtime")?;
        runtime.block_on(publish_all(target, plan, progress, go))
    })
}

async fn publish_all(
    target: Target,
    plan: Plan,
    progress: Arc<Progress>,
    mut go: watch::Receiver<bool>,
) -> Result<Sent> {
    let mut sockets = Vec::with_capacity(plan.channels);
    for channel in 0..plan.channels {
        sockets.push(connect_and_join(&target, &topic(channel)).await?);
        progress.joined.fetch_add(1, Ordering::Relaxed);
    }
    while !*go.borrow() {
        go.changed().await.context("waiting for go")?;
    }
    let (warmup, total) = plan.counts();
    let period = Duration::from_secs_f64(1.0 / plan.rate_per_channel);
    let measured_start = Rc::new(RefCell::new(None::<Instant>));
    let local = tokio::task::LocalSet::new();
    let mut handles = Vec::new();
    for (channel, socket) in sockets.into_iter().enumerate() {
        // Publishers start staggered across one period, as independent senders would.
        let offset = period.mul_f64(channel as f64 / plan.channels as f64);
        let plan = plan.clone();
        let measured_start = measured_start.clone();
        handles.push(local.spawn_local(async move {
            tokio::time::sleep(offset).await;
            publish(
                socket,
                &topic(channel),
                &plan,
                warmup,
                total,
                period,
                measured_start,
            )
            .await
        }));
    }
    let per_channel = local
        .run_until(async {
            let mut counts = Vec::new();
            for handle in handles {
                counts.push(handle.await.context("publisher task")??);
            }
            Ok::<_, BenchError>(counts)
        })
        .await?;
    let start = measured_start.borrow().unwrap_or_else(Instant::now);
    Ok(Sent {
        per_channel,
        measured_elapsed: start.elapsed(),
    })
}

async fn publish(
    mut socket: Socket,
    topic: &str,
    plan: &Plan,
    warmup: u64,
    total: u64,
    period: Duration,
    measured_start: Rc<RefCell<Option<Instant>>>,
) -> Result<u64> {
    let mut ticks = tokio::time::interval(period);
    // Late ticks are sent at once, so the count per second holds on average.
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut payload = vec![0u8; plan.payload_bytes.max(16)];
    for seq in 0..total {
        ticks.tick().await;
        if seq == warmup {
            measured_start.borrow_mut().get_or_insert_with(Instant::now);
        }
        payload[0..8].copy_from_slice(&seq.to_le_bytes());
        payload[8..16].copy_from_slice(&now_ns().to_le_bytes());
        let frame = BroadcastPush {
            join_ref: "1",
            msg_ref: "",
            topic,
            event: "tick",
            meta: None,
            payload: UserPayload::Binary(&payload),
        }
        .encode()
        .context("encoding a broadcast")?;
        socket
            .send(Message::binary(frame))
            .await
            .context("sending a broadcast")?;
    }
    Ok(total)
}
