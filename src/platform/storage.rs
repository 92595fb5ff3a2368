//! The tab's `sessionStorage`: the one place a session's secrets may outlive a page load, so
//! that a reload resumes the same session in the same role. `localStorage` holds the person's
//! display name and nothing else — never a key (see ARCHITECTURE.md, "Trust and threat model").

use pairux_core::display::chosen_name;

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

/// The `localStorage` key of the display name (the only thing kept there).
const NAME_KEY: &str = "pairux:display-name";

fn local() -> Option<web_sys::Storage> {
    window().ok()?.local_storage().ok().flatten()
}

/// The display name this person chose on this device, if any (sanitised).
pub fn remembered_name() -> Option<String> {
    chosen_name(&local()?.get_item(NAME_KEY).ok().flatten()?)
}

/// Remembers what the person typed as their name on this device (best effort: private modes
/// may refuse) and returns it sanitised; blank text forgets it and returns `None`.
pub fn remember_name(typed: &str) -> Option<String> {
    let name = chosen_name(typed);
    if let Some(storage) = local() {
        let _ = storage.set_item(NAME_KEY, name.as_deref().unwrap_or(""));
    }
    name
}
