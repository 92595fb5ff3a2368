//! The SFU nodes a focus assigns sessions to: from the Janus nodes this server runs
//! (`--sfu-nodes`, ids `janus-0`, `janus-1`, …) or from a `nodes.json` file that a main server
//! writes for standalone focus processes (`--nodes-file`, mode 0600: it holds admin secrets).
//! When that server runs coturn, the file's `turn` section holds what mints TURN credentials
//! ([`TurnIssuer`]: the URLs and coturn's shared secret); without it a focus grants no TURN.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::sfu::admin::AdminClient;
use crate::turn::TurnIssuer;

/// One node: what clients use, what the focus uses, where it is and how much it takes.
#[derive(Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeEntry {
    pub id: String,
    /// What clients connect to (`ws://<media-ip>:<port>`).
    pub janus_url: String,
    /// The admin API (`ws://127.0.0.1:<port>`).
    pub admin_url: String,
    pub admin_secret: String,
    /// VideoRoom `admin_key` (creating rooms).
    pub admin_key: String,
    pub region: String,
    /// Participants at which the node counts as fully loaded.
    pub capacity: u32,
}

impl std::fmt::Debug for NodeEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeEntry")
            .field("id", &self.id)
            .field("janus_url", &self.janus_url)
            .field("admin_url", &self.admin_url)
            .field("region", &self.region)
            .field("capacity", &self.capacity)
            .finish_non_exhaustive()
    }
}

impl NodeEntry {
    pub fn admin(&self) -> AdminClient {
        AdminClient::new(self.admin_url.clone(), self.admin_secret.clone())
    }
}

/// The `nodes.json` document.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NodesFile {
    pub nodes: Vec<NodeEntry>,
    /// The main server's coturn, when it runs one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub turn: Option<TurnIssuer>,
}

/// Why a nodes file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum NodesError {
    #[error("cannot read {0}: {1}")]
    Read(String, std::io::Error),
    #[error("{0} is not a nodes file: {1}")]
    Parse(String, serde_json::Error),
    #[error("{0} names no node, or a node twice")]
    Empty(String),
    #[error("{0}: its turn section has no secret or no TURN URL")]
    Turn(String),
}

impl NodesFile {
    pub fn read(path: &Path) -> Result<NodesFile, NodesError> {
        let name = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| NodesError::Read(name.clone(), e))?;
        let file: NodesFile =
            serde_json::from_str(&text).map_err(|e| NodesError::Parse(name.clone(), e))?;
        let mut ids: Vec<&str> = file.nodes.iter().map(|n| n.id.as_str()).collect();
        ids.sort_unstable();
        ids.dedup();
        if file.nodes.is_empty() || ids.len() != file.nodes.len() {
            return Err(NodesError::Empty(name));
        }
        if file.turn.as_ref().is_some_and(|t| !t.is_usable()) {
            return Err(NodesError::Turn(name));
        }
        Ok(file)
    }

    /// Writes `nodes` (and `turn`) owner-only.
    pub fn write(
        path: &Path,
        nodes: &[NodeEntry],
        turn: Option<TurnIssuer>,
    ) -> std::io::Result<()> {
        let text = serde_json::to_string_pretty(&NodesFile {
            nodes: nodes.to_vec(),
            turn,
        })
        .map_err(std::io::Error::other)?;
        crate::template::write_private(path, &text)
    }
}
