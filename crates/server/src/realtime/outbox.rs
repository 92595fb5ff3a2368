//! The bounded outbound queue of one socket.
//!
//! Everything a socket is sent — its own replies and pushes, fanned-out broadcasts and presence
//! diffs — goes through its `Outbox`, so frames leave in the order they were queued. The queue
//! is bounded in frames and in bytes: when it is full the socket is a slow consumer, and
//! instead of growing memory the server closes it.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use axum::extract::ws::Message;
use tokio::sync::{mpsc, Notify};

/// Sending half of a socket's queue. Cheap to clone: the hub keeps one per subscription.
#[derive(Debug, Clone)]
pub struct Outbox {
    frames: mpsc::Sender<Message>,
    overflow: Arc<Notify>,
    bytes: Arc<AtomicUsize>,
    max_bytes: usize,
}

/// Receiving half, owned by the socket's task.
#[derive(Debug)]
pub struct OutboxReceiver {
    pub(crate) frames: Frames,
    pub(crate) overflow: Arc<Notify>,
}

/// The queued frames, as the socket's task takes them (each taken frame's bytes are freed).
#[derive(Debug)]
pub struct Frames {
    rx: mpsc::Receiver<Message>,
    bytes: Arc<AtomicUsize>,
}

impl Frames {
    /// The next frame, waiting for one.
    pub async fn recv(&mut self) -> Option<Message> {
        let frame = self.rx.recv().await?;
        self.bytes.fetch_sub(size(&frame), Ordering::AcqRel);
        Some(frame)
    }

    /// The next frame if one is queued.
    pub fn try_recv(&mut self) -> Option<Message> {
        let frame = self.rx.try_recv().ok()?;
        self.bytes.fetch_sub(size(&frame), Ordering::AcqRel);
        Some(frame)
    }
}

/// What a frame holds in memory, near enough.
fn size(frame: &Message) -> usize {
    match frame {
        Message::Text(text) => text.len(),
        Message::Binary(bytes) | Message::Ping(bytes) | Message::Pong(bytes) => bytes.len(),
        Message::Close(_) => 0,
    }
}

impl Outbox {
    /// A queue holding at most `capacity` frames and `max_bytes` of them.
    pub fn bounded(capacity: usize, max_bytes: usize) -> (Outbox, OutboxReceiver) {
        let (tx, rx) = mpsc::channel(capacity);
        let overflow = Arc::new(Notify::new());
        let bytes = Arc::new(AtomicUsize::new(0));
        (
            Outbox {
                frames: tx,
                overflow: overflow.clone(),
                bytes: bytes.clone(),
                max_bytes,
            },
            OutboxReceiver {
                frames: Frames { rx, bytes },
                overflow,
            },
        )
    }

    /// Queues a frame without waiting. `false` when it was not queued: the socket is gone, or
    /// its queue is full (in frames or in bytes) — then the socket's task is told to
    /// disconnect it.
    pub fn push(&self, frame: Message) -> bool {
        let len = size(&frame);
        let before = self.bytes.fetch_add(len, Ordering::AcqRel);
        if before.saturating_add(len) > self.max_bytes {
            self.bytes.fetch_sub(len, Ordering::AcqRel);
            self.overflow.notify_one();
            return false;
        }
        match self.frames.try_send(frame) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(_)) => {
                self.bytes.fetch_sub(len, Ordering::AcqRel);
                self.overflow.notify_one();
                false
            }
            Err(mpsc::error::TrySendError::Closed(_)) => {
                self.bytes.fetch_sub(len, Ordering::AcqRel);
                false
            }
        }
    }
}
