//! The SFU: Janus nodes this server starts and supervises, and the rooms and tokens it hands
//! out on them.
//!
//! - `process.rs` — one node's configuration (from `deploy/janus/`) and process.
//! - `admin.rs` — the Admin API client (WebSocket on 127.0.0.1).
//! - this file — the nodes this server runs (`janus-0`, `janus-1`, …). Which node a session
//!   uses, its room and its tokens are the Session Focus's (`crate::focus`).
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

use std::path::PathBuf;
use std::time::Duration;

use tokio::sync::watch;

use crate::focus::nodes::NodeEntry;
use crate::supervise::Health;

use self::admin::AdminClient;

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

    /// The node's id in focus decisions.
    pub fn id(&self) -> String {
        format!("janus-{}", self.index)
    }

    /// The node as the focus's registry (and nodes.json) knows it.
    pub fn entry(&self, region: &str, capacity: u32) -> NodeEntry {
        NodeEntry {
            id: self.id(),
            janus_url: self.janus_url.clone(),
            admin_url: self.admin.url().to_owned(),
            admin_secret: self.admin.secret().to_owned(),
            admin_key: self.admin_key.clone(),
            region: region.to_owned(),
            capacity,
        }
    }

    /// The supervisor's view of the process.
    pub fn health_watch(&self) -> watch::Receiver<Health> {
        self.health.clone()
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

/// The nodes this server runs.
pub struct Sfu {
    nodes: Vec<SfuNode>,
}

impl Sfu {
    pub fn new(nodes: Vec<SfuNode>) -> Sfu {
        Sfu { nodes }
    }

    pub fn nodes(&self) -> &[SfuNode] {
        &self.nodes
    }
}
