//! `GET /config.json`: the shared [`pairux_core::config::ClientConfig`] document.

pub use pairux_core::config::{ClientConfig, IceServer, SfuConfig};
