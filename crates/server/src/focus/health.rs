//! Node health and load, fed to the brain.
//!
//! Health: admin `ping` every 2 s with a 1 s timeout; after a miss, another probe 500 ms later,
//! so with the brain's two misses a dead node is Down within ~1.5 s of the first failed probe
//! (~3.5 s worst case after the kill). When this server supervises the node, a process exit is
//! known at once and counts as enough misses right away. Load: `list_sessions` and, per
//! session, `list_handles` every 5 s: handles ≈ participants (each publishes or subscribes
//! through one handle).

use std::sync::Weak;
use std::time::Duration;

use serde_json::{json, Map, Value};
use tokio::sync::watch;

use super::nodes::NodeEntry;
use super::FocusService;
use crate::supervise::Health;

const PROBE_EVERY: Duration = Duration::from_secs(2);
const PROBE_TIMEOUT: Duration = Duration::from_secs(1);
const REPROBE_AFTER: Duration = Duration::from_millis(500);
const LOAD_EVERY: Duration = Duration::from_secs(5);
/// Most Janus sessions whose handles are counted per round (the rest count as one each).
const MAX_SESSIONS_COUNTED: usize = 500;

/// Probes one node until the focus is gone.
pub(crate) async fn probe_loop(
    focus: Weak<FocusService>,
    node: NodeEntry,
    mut exit: Option<watch::Receiver<Health>>,
) {
    let admin = node.admin();
    // The focus probed every node once as it started.
    let mut delay = PROBE_EVERY;
    loop {
        // Sleep, unless the supervisor reports the process gone or back first.
        let exited = tokio::select! {
            () = tokio::time::sleep(delay) => false,
            changed = async {
                match exit.as_mut() {
                    Some(rx) => rx.changed().await.map(|()| *rx.borrow_and_update()),
                    None => std::future::pending().await,
                }
            } => match changed {
                Ok(Health::Down | Health::Stopped) => true,
                Ok(_) => false,
                Err(_) => { exit = None; false }
            },
        };
        let Some(f) = focus.upgrade() else { break };
        if exited {
            let misses = f.cfg.misses_down.max(1);
            for _ in 0..misses {
                f.probed(&node.id, false).await;
            }
            delay = REPROBE_AFTER;
            continue;
        }
        drop(f);
        let ok = admin.ping_within(PROBE_TIMEOUT).await;
        let Some(f) = focus.upgrade() else { break };
        f.probed(&node.id, ok).await;
        delay = if ok { PROBE_EVERY } else { REPROBE_AFTER };
    }
}

/// Reports Janus's participant count of one node every [`LOAD_EVERY`].
pub(crate) async fn load_loop(focus: Weak<FocusService>, node: NodeEntry) {
    let admin = node.admin();
    loop {
        tokio::time::sleep(LOAD_EVERY).await;
        let Some(f) = focus.upgrade() else { break };
        drop(f);
        let Ok(frame) = admin.call_verb("list_sessions", Map::new()).await else {
            continue;
        };
        let sessions: Vec<u64> = frame
            .get("sessions")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_u64).collect())
            .unwrap_or_default();
        let mut participants = 0u32;
        for (i, id) in sessions.iter().enumerate() {
            if i >= MAX_SESSIONS_COUNTED {
                participants = participants.saturating_add(1);
                continue;
            }
            let fields = json!({ "session_id": id });
            let handles = match admin
                .call_verb(
                    "list_handles",
                    fields.as_object().cloned().unwrap_or_default(),
                )
                .await
            {
                Ok(frame) => frame
                    .get("handles")
                    .and_then(Value::as_array)
                    .map_or(1, Vec::len),
                Err(_) => 1,
            };
            participants = participants.saturating_add(u32::try_from(handles).unwrap_or(u32::MAX));
        }
        let Some(f) = focus.upgrade() else { break };
        f.load(&node.id, participants);
    }
}
