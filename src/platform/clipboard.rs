//! Copying invite links with the async Clipboard API.

use super::{js_error, window, JsError};

pub async fn copy(text: &str) -> Result<(), JsError> {
    let promise = window()?.navigator().clipboard().write_text(text);
    wasm_bindgen_futures::JsFuture::from(promise)
        .await
        .map(drop)
        .map_err(js_error)
}
