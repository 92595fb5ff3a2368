//! The bounded outbound queue of one socket.
//!
//! Everything a socket is sent — its own replies and pushes, fanned-out broadcasts and presence
//! diffs — goes through its `Outbox`, so frames leave in the order they were queued. The queue
//! is bounded: when it is full the socket is a slow consumer, and instead of growing memory
//! the server closes it.

use std::sync::Arc;

use axum::extract::ws::Message;
use tokio::sync::{mpsc, Notify};

/// Sending half of a socket's queue. Cheap to clone: the hub keeps one per subscription.
#[derive(Debug, Clone)]
pub struct Outbox {
    frames: mpsc::Sender<Message>,
    overflow: Arc<Notify>,
}

/// Receiving half, owned by the socket's task.
#[derive(Debug)]
pub struct OutboxReceiver {
    pub(crate) frames: mpsc::Receiver<Message>,
    pub(crate) overflow: Arc<Notify>,
}

impl Outbox {
    /// A queue holding at most `capacity` frames.
    pub fn bounded(capacity: usize) -> (Outbox, OutboxReceiver) {
        let (tx, rx) = mpsc::channel(capacity);
        let overflow = Arc::new(Notify::new());
        (
            Outbox {
                frames: tx,
                overflow: overflow.clone(),
            },
            OutboxReceiver {
                frames: rx,
                overflow,
            },
        )
    }

    /// Queues a frame without waiting. `false` when it was not queued: the socket is gone, or
    /// its queue is full — then the socket's task is told to disconnect it.
    pub fn push(&self, frame: Message) -> bool {
        match self.frames.try_send(frame) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(_)) => {
                self.overflow.notify_one();
                false
            }
            Err(mpsc::error::TrySendError::Closed(_)) => false,
        }
    }
}
