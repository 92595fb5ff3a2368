//! What must run before the wasm does, and the way back to the page.
//!
//! The snippet below is an ES module the wasm-bindgen glue imports, so it is evaluated when the
//! worker script loads, before the wasm is fetched and compiled. It keeps every `message` and
//! `rtctransform` event that arrives in the meantime; [`take_early_events`] hands them over
//! once the Rust handlers are installed. (The page also waits for `ready` before attaching
//! transforms; this makes an early transform or key message harmless rather than lost.)

use js_sys::{Array, Uint8Array};
use pairux_core::e2ee::FromWorker;
use wasm_bindgen::prelude::*;
use web_sys::DedicatedWorkerGlobalScope;

#[wasm_bindgen(inline_js = "
const early = [];
const keep = (event) => { early.push(event); };
self.addEventListener('message', keep);
self.addEventListener('rtctransform', keep);
export function take_early_events() {
  self.removeEventListener('message', keep);
  self.removeEventListener('rtctransform', keep);
  return early.splice(0);
}
")]
extern "C" {
    /// Events that arrived before the wasm ran, in order; stops keeping them.
    pub fn take_early_events() -> Array;
}

/// Sends a message to the page (its bytes in a `Uint8Array`).
pub fn post(scope: &DedicatedWorkerGlobalScope, msg: &FromWorker) {
    let bytes = Uint8Array::from(msg.to_bytes().as_slice());
    // A typed array is always cloneable: posting cannot fail.
    let _ = scope.post_message(&bytes);
}
