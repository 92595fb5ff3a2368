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
    /// The earliest send and the latest receipt of a broadcast after the warm-up (ns on the
    /// bench's clock): the window its deliveries took, drain included.
    pub first_sent_ns: Option<u64>,
    pub last_received_ns: Option<u64>,
}

impl Received {
    /// Adds another thread's figures.
    pub fn merge(&mut self, other: Received) {
        self.latencies_us.extend(other.latencies_us);
        self.measured += other.measured;
        self.total += other.total;
        self.first_sent_ns = min_some(self.first_sent_ns, other.first_sent_ns);
        self.last_received_ns = self.last_received_ns.max(other.last_received_ns);
    }

    /// Notes one measured broadcast sent at `sent_ns` and received at `received_ns`.
    pub fn note(&mut self, sent_ns: u64, received_ns: u64) {
        self.first_sent_ns = min_some(self.first_sent_ns, Some(sent_ns));
        self.last_received_ns = self.last_received_ns.max(Some(received_ns));
    }

    /// Seconds from the first measured send to the last measured receipt.
    pub fn window_s(&self) -> Option<f64> {
        let (a, b) = (self.first_sent_ns?, self.last_received_ns?);
        Some(b.saturating_sub(a) as f64 / 1e9).filter(|s| *s > 0.0)
    }
}

fn min_some(a: Option<u64>, b: Option<u64>) -> Option<u64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
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
                        let now = now_ns();
                        let latency_us = now.saturating_sub(sent_ns) / 1_000;
                        let mut r = received.borrow_mut();
                        r.total += 1;
                        if seq >= warmup_count {
                            r.measured += 1;
                            r.note(sent_ns, now);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_delivery_window_runs_from_the_first_send_to_the_last_receipt_of_any_thread() {
        let (mut a, mut b) = (Received::default(), Received::default());
        assert_eq!(a.window_s(), None);
        a.note(1_000_000_000, 1_100_000_000);
        b.note(1_500_000_000, 3_000_000_000);
        a.merge(b);
        assert_eq!(a.window_s(), Some(2.0));
    }
}
