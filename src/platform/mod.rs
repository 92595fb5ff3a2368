//! Browser glue: the only modules that touch web-sys and `JsValue`. No decisions here — each
//! function does one browser thing and converts JS errors in [`js_error`].

pub mod audio;
pub mod clipboard;
pub mod clock;
pub mod dom;
pub mod el;
pub mod fetch;
pub mod frame;
pub mod input;
pub mod location;
pub mod media;
pub mod overlay;
pub mod peer;
pub mod random;
pub mod storage;
pub mod timer;
pub mod transform;
pub mod websocket;

use wasm_bindgen::JsValue;

/// A browser API failed; the text is what the browser said.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct JsError(pub String);

/// Converts a thrown JS value into a [`JsError`] (the one place that inspects JS errors).
pub fn js_error(value: JsValue) -> JsError {
    if let Some(err) = value.dyn_ref::<js_sys::Error>() {
        return JsError(String::from(err.message()));
    }
    JsError(value.as_string().unwrap_or_else(|| format!("{value:?}")))
}

/// Lets a promise whose outcome nobody needs settle: its rejection is handled (no "uncaught in
/// promise" in the console), and the callbacks stay alive until it settles — dropping a
/// `JsFuture` early frees them while the promise still holds them.
pub fn settle(promise: js_sys::Promise) {
    wasm_bindgen_futures::spawn_local(async move {
        let _ = wasm_bindgen_futures::JsFuture::from(promise).await;
    });
}

use wasm_bindgen::JsCast as _;

fn window() -> Result<web_sys::Window, JsError> {
    web_sys::window().ok_or_else(|| JsError("no window".into()))
}
