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

// The build stamp (`build.rs`): each app's `main` passes it through `black_box`, so it is in
// the wasm and Trunk's content hash changes with the tools that turn the wasm into files.
include!(concat!(env!("OUT_DIR"), "/stamp.rs"));
