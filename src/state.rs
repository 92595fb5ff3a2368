//! Page-wide state shared through Leptos context: small, `Copy`, signals only.
//!
//! Secrets from the link fragment live here, in memory only — never in the URL, storage or a
//! request.

use leptos::prelude::*;
use pairux_core::{LinkError, Role, SessionLink};

/// The session this page is in, with the role this person has in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionEntry {
    pub link: SessionLink,
    pub role: Role,
}

/// What the page learnt about the session it should show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Opened {
    /// No session link was opened (landing page).
    Nothing,
    /// A session is ready to join or host.
    Session(SessionEntry),
    /// A session path was opened, but its link is unusable.
    Refused {
        session_path: String,
        error: LinkError,
    },
}

/// Shared app state, provided once by [`crate::App`].
#[derive(Clone, Copy)]
pub struct AppState {
    pub opened: RwSignal<Opened>,
}

impl AppState {
    pub fn new(opened: Opened) -> Self {
        AppState {
            opened: RwSignal::new(opened),
        }
    }

    /// The state provided by the app root.
    pub fn expect() -> Self {
        expect_context::<AppState>()
    }
}

/// Interprets the location the page was opened at (path and fragment, already read by glue).
pub fn opened_from_location(path: &str, fragment: &str) -> Opened {
    if !path.starts_with("/s/") {
        return Opened::Nothing;
    }
    match SessionLink::parse(path, fragment) {
        Ok(link) => Opened::Session(SessionEntry {
            role: link.role(),
            link,
        }),
        Err(error) => Opened::Refused {
            session_path: path.to_owned(),
            error,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn landing_paths_open_nothing() {
        assert_eq!(opened_from_location("/", ""), Opened::Nothing);
        assert_eq!(opened_from_location("/about", "#k=x"), Opened::Nothing);
    }

    #[test]
    fn session_paths_without_key_are_refused() {
        let path = "/s/AAECAwQFBgcICQoLDA0ODw";
        match opened_from_location(path, "") {
            Opened::Refused { error, .. } => assert_eq!(error, LinkError::MissingKey),
            other => panic!("expected refusal, got {other:?}"),
        }
    }
}
