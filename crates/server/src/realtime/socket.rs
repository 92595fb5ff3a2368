//! The WebSocket upgrade and the task that runs one socket.
//!
//! The upgrade checks, in the real server's order, the protocol version, the token (header
//! `x-api-key`, else query `apikey`) and the connection limits (ours per address, then the
//! server's); refusals are HTTP errors with
//! `{"error": …}`. The socket task then pumps three things: inbound frames into the
//! [`Session`], the outbox onto the wire (batched, one flush per batch), and timers (idle
//! timeout, token re-checks).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use futures_util::stream::SplitSink;
use futures_util::{SinkExt, StreamExt};
use pairux_core::realtime::Vsn;
use tokio::time::{sleep, Instant};
use tokio_tungstenite::tungstenite;

use super::auth;
use super::outbox::{Frames, Outbox};
use super::session::Session;
use super::RealtimeState;

/// Each socket reads into a buffer of this size; small, because idle sockets must stay cheap.
const READ_BUFFER: usize = 4 * 1024;
/// Frames written in one go are buffered up to this size before a write.
const WRITE_BUFFER: usize = 16 * 1024;
/// Most frames drained from the outbox per flush, so one busy socket cannot hog a worker.
const MAX_BATCH: usize = 64;
/// How long a closing handshake may take before the socket is simply dropped.
const CLOSE_GRACE: Duration = Duration::from_millis(200);

/// `GET /realtime/v1/websocket` and `/socket/websocket`.
pub async fn upgrade(
    State(state): State<Arc<RealtimeState>>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    client: Option<Extension<crate::client_key::ClientAddr>>,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    let vsn = match query.get("vsn") {
        None => Vsn::default(),
        Some(v) => match Vsn::parse(v) {
            Some(vsn) => vsn,
            None => {
                return refuse(
                    &state,
                    StatusCode::FORBIDDEN,
                    "Unsupported protocol version",
                )
            }
        },
    };
    let token = headers
        .get("x-api-key")
        .and_then(|v| v.to_str().ok())
        .or_else(|| query.get("apikey").map(String::as_str))
        .filter(|t| !t.is_empty());
    let Some(token) = token else {
        return refuse(&state, StatusCode::UNAUTHORIZED, auth::MISSING_API_KEY);
    };
    if let Err(err) = state.verify(token) {
        return refuse(&state, StatusCode::UNAUTHORIZED, &auth::connect_error(&err));
    }
    let upgrade = match upgrade {
        Ok(upgrade) => upgrade,
        Err(rejection) => return rejection.into_response(),
    };
    let address = client.map(|Extension(client)| crate::client_key::client_key(client.ip));
    let slot = match ConnectionSlot::take(&state, address) {
        Ok(slot) => slot,
        Err(Full::Address) => {
            return refuse(
                &state,
                StatusCode::TOO_MANY_REQUESTS,
                "Too many connections from this address",
            )
        }
        Err(Full::Server) => {
            return refuse(
                &state,
                StatusCode::TOO_MANY_REQUESTS,
                "Too many connected users",
            )
        }
    };
    state.counters.connection_accepted();
    let max_frame = state.limits().max_frame_bytes;
    let token = token.to_owned();
    upgrade
        .read_buffer_size(READ_BUFFER)
        .write_buffer_size(WRITE_BUFFER)
        .max_write_buffer_size(WRITE_BUFFER + max_frame.saturating_mul(2))
        .max_frame_size(max_frame)
        .max_message_size(max_frame)
        .on_upgrade(move |socket| run(socket, state, vsn, token, slot))
}

fn refuse(state: &RealtimeState, status: StatusCode, error: &str) -> Response {
    state.counters.connection_refused();
    (status, Json(serde_json::json!({ "error": error }))).into_response()
}

/// One of `max_connections`, and of its address's `max_connections_per_address`; given back
/// when the socket's task ends.
struct ConnectionSlot {
    state: Arc<RealtimeState>,
    address: Option<IpAddr>,
}

/// Which limit refused a socket.
enum Full {
    Address,
    Server,
}

impl ConnectionSlot {
    fn take(state: &Arc<RealtimeState>, address: Option<IpAddr>) -> Result<Self, Full> {
        let limits = state.limits();
        let per_address = limits.max_connections_per_address;
        let address = address.filter(|_| per_address > 0);
        let mut open = state
            .per_address
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(address) = address {
            if open.get(&address).copied().unwrap_or(0) >= per_address {
                return Err(Full::Address);
            }
        }
        let max = limits.max_connections;
        state
            .connections
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < max).then_some(n + 1)
            })
            .map_err(|_| Full::Server)?;
        if let Some(address) = address {
            *open.entry(address).or_insert(0) += 1;
        }
        Ok(ConnectionSlot {
            state: state.clone(),
            address,
        })
    }
}

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        if let Some(address) = self.address {
            let mut open = self
                .state
                .per_address
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if let Some(n) = open.get_mut(&address) {
                *n -= 1;
                if *n == 0 {
                    open.remove(&address);
                }
            }
        }
        self.state.connections.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Why a socket's task ended.
#[derive(Debug)]
enum End {
    /// The client closed, or the connection dropped.
    Peer,
    /// The session queued a close frame, which has been written.
    Server,
    /// The outbox overflowed.
    SlowConsumer,
    /// Nothing arrived within the idle timeout.
    Idle,
    /// A frame over the size limit arrived.
    TooBig,
}

async fn run(
    socket: WebSocket,
    state: Arc<RealtimeState>,
    vsn: Vsn,
    token: String,
    _slot: ConnectionSlot,
) {
    let limits = state.limits().clone();
    let (outbox, mut inbox) = Outbox::bounded(limits.outbound_queue, limits.outbound_queue_bytes);
    let mut session = Session::new(state.clone(), vsn, token, outbox);
    let (mut sink, mut stream) = socket.split();
    let idle = sleep(limits.idle_timeout);
    tokio::pin!(idle);
    // Re-armed whenever the session's next token re-check changes.
    let recheck = sleep(Duration::ZERO);
    tokio::pin!(recheck);
    let mut recheck_at = None;

    let end = loop {
        tokio::select! {
            biased;
            // A full queue is noticed here, when the write that could not keep up blocks (a
            // queue only fills while its frames are not being written).
            Some(frame) = inbox.frames.recv() => {
                // A write blocks while the peer does not read; meanwhile the queue may fill,
                // and that must still end the socket.
                let write = write_batch(&mut sink, frame, &mut inbox.frames);
                tokio::select! {
                    biased;
                    () = inbox.overflow.notified() => break End::SlowConsumer,
                    // A peer that reads nothing at all never fills a queue that nothing
                    // more is sent to; a write it holds up this long ends it as well.
                    () = sleep(limits.write_timeout) => break End::SlowConsumer,
                    written = write => match written {
                        Ok(false) => {}
                        Ok(true) => break End::Server,
                        Err(_) => break End::Peer,
                    },
                }
            }
            incoming = stream.next() => match incoming {
                Some(Ok(message)) => {
                    idle.as_mut().reset(Instant::now() + limits.idle_timeout);
                    if !session.on_message(message) {
                        break End::Peer;
                    }
                }
                Some(Err(err)) => break if is_too_big(err) { End::TooBig } else { End::Peer },
                None => break End::Peer,
            },
            () = &mut idle => break End::Idle,
            () = &mut recheck, if recheck_at.is_some() => {
                recheck_at = None;
                session.recheck_tokens(std::time::Instant::now());
            }
        }
        let next = session.next_recheck();
        if next != recheck_at {
            if let Some(at) = next {
                recheck.as_mut().reset(Instant::from_std(at));
            }
            recheck_at = next;
        }
    };

    session.finish();
    let close = match end {
        End::Peer | End::Server => None,
        End::SlowConsumer => {
            state.counters.slow_consumer();
            tracing::info!("realtime: closing a slow consumer");
            Some((1008, "slow consumer"))
        }
        End::Idle => Some((1000, "idle timeout")),
        End::TooBig => Some((1009, "message too big")),
    };
    if let Some((code, reason)) = close {
        let frame = Message::Close(Some(CloseFrame {
            code,
            reason: reason.into(),
        }));
        let _ = tokio::time::timeout(CLOSE_GRACE, sink.send(frame)).await;
    }
}

/// tungstenite reports a frame over the size limit as a capacity error.
fn is_too_big(err: axum::Error) -> bool {
    err.into_inner()
        .downcast::<tungstenite::Error>()
        .is_ok_and(|err| matches!(*err, tungstenite::Error::Capacity(_)))
}

/// Writes `first` and whatever else is already queued (up to [`MAX_BATCH`]), then flushes
/// once. `Ok(true)` when a close frame was written.
async fn write_batch(
    sink: &mut SplitSink<WebSocket, Message>,
    first: Message,
    queue: &mut Frames,
) -> Result<bool, axum::Error> {
    let mut closing = matches!(first, Message::Close(_));
    sink.feed(first).await?;
    let mut written = 1;
    while !closing && written < MAX_BATCH {
        let Some(next) = queue.try_recv() else { break };
        closing = matches!(next, Message::Close(_));
        sink.feed(next).await?;
        written += 1;
    }
    sink.flush().await?;
    Ok(closing)
}
