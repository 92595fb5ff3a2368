//! Small DOM capabilities components need but must not call directly.

use wasm_bindgen::JsCast as _;

/// Puts `el` in fullscreen, or leaves fullscreen if something already is.
pub fn toggle_fullscreen(el: &web_sys::HtmlElement) {
    let Some(document) = web_sys::window().and_then(|w| w.document()) else {
        return;
    };
    if document.fullscreen_element().is_some() {
        document.exit_fullscreen();
    } else {
        // Rejected promises (no user gesture, unsupported) leave the page as it is.
        let _ = el.unchecked_ref::<web_sys::Element>().request_fullscreen();
    }
}
