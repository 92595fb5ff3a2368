//! Publishers: one socket per channel on one thread, each sending realtime-js's binary broadcast
//! at a steady rate.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::SinkExt;
use pairux_core::realtime::{BroadcastPush, UserPayload};
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::Message;

use crate::error::{BenchError, Context, Result};
use crate::load::{connect_and_join, now_ns, topic, Plan, Progress, Socket, Target};

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
