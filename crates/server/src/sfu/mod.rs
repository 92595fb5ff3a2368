//! The SFU: Janus nodes this server starts and supervises, and the rooms and tokens it hands
//! out on them.
//!
//! - `process.rs` — one node's configuration (from `deploy/janus/`) and process.
//! - `admin.rs` — the Admin API client (WebSocket on 127.0.0.1).
//! - `rooms.rs` — each session's room, per node and node epoch, and its tokens.
//! - this file — the node registry and the choice of a node for a session. Today: the first
//!   node that answers its health probe. A Session Focus choosing by load and health (and
//!   keeping rooms in a shared store so several pairux-servers agree) replaces [`Sfu::choose`]
//!   and the in-memory [`rooms::Rooms`], not the callers.
//!
//! # Why clients reach Janus directly
//! Browsers open the Janus WebSocket themselves, with what `POST /api/access` granted:
//! - every Janus API request needs a **token** (`token_auth`, stored tokens added by this server
//!   through the Admin API, each for the VideoRoom plugin only), and only a link holder gets one;
//! - rooms can be created only with the VideoRoom **`admin_key`**, which only this server knows,
//!   so a token holder cannot make rooms of their own;
//! - each session's room is **private** (not listed) and needs its **pin** to join; media is
//!   end-to-end encrypted (`require_e2ee`), so Janus forwards frames it cannot read.
//!
//! A proxy in pairux-server would put it in the signaling path of every SFU session and make it
//! the single point of failure the focus design avoids: with direct access, a running call
//! does not depend on this server at all. The Admin API (tokens, rooms) listens on 127.0.0.1
//! only and needs the per-start admin secret, so nothing off this machine can reach it.

pub mod admin;
pub mod process;
pub mod rooms;

use std::path::PathBuf;
use std::time::Duration;

use pairux_core::access::SfuGrant;
use pairux_core::link::SessionId;
use tokio::sync::watch;

use crate::supervise::Health;

use self::admin::AdminClient;
use self::rooms::Rooms;

/// One Janus node.
pub struct SfuNode {
    pub index: usize,
    /// What clients connect to (`ws://<media-ip>:<port>`).
    pub janus_url: String,
    pub admin: AdminClient,
    admin_key: String,
    pub pid_file: PathBuf,
    health: watch::Receiver<Health>,
}

impl SfuNode {
    pub fn new(plan: &process::NodePlan, health: watch::Receiver<Health>) -> SfuNode {
        SfuNode {
            index: plan.index,
            janus_url: plan.janus_url(),
            admin: plan.admin_client(),
            admin_key: plan.admin_key.clone(),
            pid_file: plan.pid_file.clone(),
            health,
        }
    }

    pub fn health(&self) -> Health {
        *self.health.borrow()
    }

    /// Waits until the node is up (a new process after a restart), or `timeout`.
    pub async fn wait_up(&self, timeout: Duration) -> bool {
        let mut rx = self.health.clone();
        tokio::time::timeout(timeout, rx.wait_for(|h| h.is_up()))
            .await
            .is_ok_and(|r| r.is_ok())
    }
}

/// Why an SFU grant failed.
#[derive(Debug, thiserror::Error)]
pub enum SfuError {
    #[error("no SFU node is up")]
    NoNodeUp,
    #[error("node {node}: {source}")]
    Node {
        node: usize,
        source: rooms::RoomError,
    },
}

/// The node registry and the rooms on its nodes.
pub struct Sfu {
    nodes: Vec<SfuNode>,
    rooms: Rooms,
}

/// How long a session's room lives without a request.
pub const ROOM_IDLE: Duration = Duration::from_secs(24 * 3600);

impl Sfu {
    pub fn new(nodes: Vec<SfuNode>) -> Sfu {
        Sfu {
            nodes,
            rooms: Rooms::default(),
        }
    }

    pub fn nodes(&self) -> &[SfuNode] {
        &self.nodes
    }

    /// The node a session's room goes on, with its epoch: for now the first node that is up.
    pub fn choose(&self, _session: &SessionId) -> Option<(&SfuNode, u64)> {
        self.nodes.iter().find_map(|n| match n.health() {
            Health::Up { epoch, .. } => Some((n, epoch)),
            _ => None,
        })
    }

    /// A room for `session` (created on first need) and a fresh token for it.
    pub async fn grant(&self, session: SessionId) -> Result<SfuGrant, SfuError> {
        let (node, epoch) = self.choose(&session).ok_or(SfuError::NoNodeUp)?;
        let ticket = self
            .rooms
            .ticket(session, node.index, epoch, &node.admin, &node.admin_key)
            .await
            .map_err(|source| SfuError::Node {
                node: node.index,
                source,
            })?;
        Ok(SfuGrant {
            janus_url: node.janus_url.clone(),
            room: ticket.room,
            pin: ticket.pin,
            token: ticket.token,
        })
    }

    /// Forgets sessions idle for [`ROOM_IDLE`]; destroys their rooms and tokens on nodes still
    /// running the process that made them.
    pub fn prune(&self) {
        for room in self.rooms.take_idle(ROOM_IDLE) {
            let Some(node) = self.nodes.get(room.node) else {
                continue;
            };
            if matches!(node.health(), Health::Up { epoch, .. } if epoch == room.epoch) {
                let admin = node.admin.clone();
                tokio::spawn(async move { rooms::destroy(room, &admin).await });
            }
        }
    }

    /// Sessions that have a room.
    pub fn sessions(&self) -> usize {
        self.rooms.len()
    }
}
