//! The tab's `sessionStorage`: the one place a session's secrets may outlive a page load, so
//! that a reload resumes the same session in the same role. Never `localStorage` (see
//! ARCHITECTURE.md, "Threat model").

use super::{js_error, window, JsError};

fn storage() -> Result<web_sys::Storage, JsError> {
    window()?
        .session_storage()
        .map_err(js_error)?
        .ok_or_else(|| JsError("sessionStorage is not available".to_owned()))
}

/// The value under `key`, if any.
pub fn get(key: &str) -> Option<String> {
    storage().ok()?.get_item(key).ok().flatten()
}

pub fn set(key: &str, value: &str) -> Result<(), JsError> {
    storage()?.set_item(key, value).map_err(js_error)
}

pub fn remove(key: &str) {
    if let Ok(storage) = storage() {
        let _ = storage.remove_item(key);
    }
}
