//! The PairUX browser client: a Leptos CSR app.
//!
//! Layers: `components` render signals and call actions; `state` holds the page's shared,
//! `Copy` context; `platform` is the only code that touches web-sys / `JsValue`. Decisions live
//! in `pairux_core`.

pub mod boot;
pub mod components;
pub mod platform;
pub mod realtime;
pub mod session;
pub mod state;

pub use components::{start_guest_app, App};
