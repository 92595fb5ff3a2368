//! Subscribers: vsn 2.0.0 sockets spread over a few threads, each recording send → receive
//! latency of the kind 4 frames it gets.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use futures_util::StreamExt;
use pairux_core::realtime::{BinaryFrame, UserPayload};
use tokio::sync::{watch, Semaphore};
use tokio_tungstenite::tungstenite::Message;

use crate::error::{BenchError, Context, Result};
use crate::load::{
    connect_and_join, now_ns, topic, Plan, Progress, Target, CONNECT_CONCURRENCY, JOIN_TIMEOUT,
};

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
