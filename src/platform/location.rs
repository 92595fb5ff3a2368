//! The address bar: reading the link a page was opened with, and scrubbing its secrets.

use super::{js_error, window, JsError};

/// Path and fragment the page was opened at.
pub struct OpenedAt {
    pub path: String,
    pub fragment: String,
}

/// Reads `pathname` and `hash`, then removes the fragment from the address bar (and so from
/// history) with `history.replaceState`, so the secrets stay only in memory. The first call in
/// a page takes what index.html's boot script read before it scrubbed the fragment itself (and
/// the tab's copy it kept for a reload before the app started), unless a new fragment has come
/// into the address bar since: the latest link wins, and leaves the address bar too.
pub fn take_opened_at() -> Result<OpenedAt, JsError> {
    let window = window()?;
    let location = window.location();
    let fragment = location.hash().map_err(js_error)?;
    if let Some(at) = super::dom::take_boot_global("__pairuxOpenedAt") {
        let field = |name: &str| {
            js_sys::Reflect::get(&at, &wasm_bindgen::JsValue::from_str(name))
                .ok()
                .and_then(|v| v.as_string())
        };
        if let Some(path) = field("path") {
            super::storage::remove(&format!("{OPENED_KEY}{path}"));
            if let (Some(kept), true) = (field("fragment"), fragment.is_empty()) {
                return Ok(OpenedAt {
                    path,
                    fragment: kept,
                });
            }
        }
    }
    let path = location.pathname().map_err(js_error)?;
    if !fragment.is_empty() {
        let search = location.search().unwrap_or_default();
        window
            .history()
            .map_err(js_error)?
            .replace_state_with_url(
                &wasm_bindgen::JsValue::NULL,
                "",
                Some(&format!("{path}{search}")),
            )
            .map_err(js_error)?;
    }
    Ok(OpenedAt { path, fragment })
}

/// The value of query parameter `name` in the page's address (`?name=value`), if present.
pub fn query_param(name: &str) -> Option<String> {
    let search = window().ok()?.location().search().ok()?;
    search
        .trim_start_matches('?')
        .split('&')
        .filter_map(|pair| pair.split_once('=').or(Some((pair, ""))))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
}

/// `location.origin`, e.g. `http://127.0.0.1:8080`.
pub fn origin() -> Result<String, JsError> {
    window()?.location().origin().map_err(js_error)
}

/// `location.pathname`.
pub fn path() -> Result<String, JsError> {
    window()?.location().pathname().map_err(js_error)
}

/// Adds a history entry for `path` without reloading (secrets never go into it).
pub fn push_path(path: &str) -> Result<(), JsError> {
    window()?
        .history()
        .map_err(js_error)?
        .push_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some(path))
        .map_err(js_error)
}

/// Loads the page again (a tab that left its session rejoins from its `sessionStorage`).
pub fn reload() -> Result<(), JsError> {
    window()?.location().reload().map_err(js_error)
}

/// For a `pageshow` event: a page the browser kept and shows again (back/forward cache) left
/// its session as it was hidden, so it starts over, as a reload does.
pub fn reload_if_restored(event: &wasm_bindgen::JsValue) {
    let kept = js_sys::Reflect::get(event, &"persisted".into())
        .ok()
        .and_then(|v| v.as_bool())
        .unwrap_or(false);
    if kept {
        let _ = reload();
    }
}

/// The `sessionStorage` key prefix (then the path) under which index.html's boot script keeps
/// the fragment it scrubbed until the app has taken it.
const OPENED_KEY: &str = "pairux:opened:";

/// The `sessionStorage` key index.html's loader reads: "full" makes this tab load the full
/// app, whatever the path (see [`load_full_app`]).
const APP_KEY: &str = "pairux:app";

/// Loads the page again as the full app: for a guest page (the guest app, which has no host
/// or landing code) that has to show something only the full app has. The tab keeps the
/// choice, so a page the loader and the app disagree on can never reload in a loop.
pub fn load_full_app() -> Result<(), JsError> {
    super::storage::set(APP_KEY, "full")?;
    reload()
}
