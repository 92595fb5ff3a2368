//! Participant roles, decided by which link a person opened (product.md §1).

use serde::{Deserialize, Serialize};

/// What a participant may do in a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Shares the screen and decides who controls it. One per session.
    Host,
    /// Views and may ask for control (joined with a controller link).
    Controller,
    /// Views only.
    Viewer,
}

impl Role {
    /// The lowercase name used on the wire and in the UI.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Host => "host",
            Role::Controller => "controller",
            Role::Viewer => "viewer",
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
