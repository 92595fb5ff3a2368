//! `fetch` of small JSON documents from our own origin (e.g. `/config.json`).

use wasm_bindgen::JsCast as _;
use wasm_bindgen_futures::JsFuture;
use web_sys::{RequestCache, RequestInit, Response};

use pairux_core::config::ClientConfig;

use super::{js_error, window, JsError};

/// Why a document could not be had.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FetchError {
    #[error("network error: {0}")]
    Network(JsError),
    #[error("HTTP {0}")]
    Status(u16),
    #[error("not valid JSON for this document: {0}")]
    Invalid(String),
}

/// GETs `path` bypassing the HTTP cache and parses it as `T`.
pub async fn json<T: serde::de::DeserializeOwned>(path: &str) -> Result<T, FetchError> {
    let text = get(path).await?;
    serde_json::from_str(&text).map_err(|e| FetchError::Invalid(e.to_string()))
}

/// GETs `path` bypassing the HTTP cache: the body, as text.
async fn get(path: &str) -> Result<String, FetchError> {
    let init = RequestInit::new();
    init.set_cache(RequestCache::NoStore);
    body(path, init).await
}

/// POSTs `body` as JSON to `url`: the answer's body, as text (the caller reads it); an
/// answer that is not a success is its status.
pub async fn post_json<B: serde::Serialize>(url: &str, body: &B) -> Result<String, FetchError> {
    let init = RequestInit::new();
    init.set_method("POST");
    init.set_cache(RequestCache::NoStore);
    let text = serde_json::to_string(body).map_err(|e| FetchError::Invalid(e.to_string()))?;
    init.set_body(&wasm_bindgen::JsValue::from_str(&text));
    let headers = web_sys::Headers::new().map_err(|e| FetchError::Network(js_error(e)))?;
    let _ = headers.set("content-type", "application/json");
    init.set_headers(&headers);
    self::body(url, init).await
}

/// The body of a successful response to `path`, as text.
async fn body(path: &str, init: RequestInit) -> Result<String, FetchError> {
    let promise = window()
        .map_err(FetchError::Network)?
        .fetch_with_str_and_init(path, &init);
    let response: Response = JsFuture::from(promise)
        .await
        .map_err(|e| FetchError::Network(js_error(e)))?
        .dyn_into()
        .map_err(|e| FetchError::Network(js_error(e)))?;
    if !response.ok() {
        return Err(FetchError::Status(response.status()));
    }
    let text = JsFuture::from(
        response
            .text()
            .map_err(|e| FetchError::Network(js_error(e)))?,
    )
    .await
    .map_err(|e| FetchError::Network(js_error(e)))?
    .as_string()
    .unwrap_or_default();
    Ok(text)
}

/// Where index.html's boot script keeps the config.json fetch it starts at once (while the
/// app's wasm downloads and compiles).
const EARLY_CONFIG: &str = "__pairuxConfig";

/// `/config.json`: the boot script's early fetch the first time it is asked for (taken, so
/// later calls read the server again), else a fresh GET ([`fresh_config`]).
pub async fn config() -> Result<ClientConfig, FetchError> {
    if let Some(text) = take_early_config().await {
        if let Ok(config) = ClientConfig::from_json(&text) {
            return Ok(config);
        }
    }
    fresh_config().await
}

/// `/config.json` read from the server now, bypassing the HTTP cache (read by hand:
/// [`ClientConfig::from_json`]).
pub async fn fresh_config() -> Result<ClientConfig, FetchError> {
    let text = get("/config.json").await?;
    ClientConfig::from_json(&text).map_err(|e| FetchError::Invalid(e.to_string()))
}

async fn take_early_config() -> Option<String> {
    let window = window().ok()?;
    let key = wasm_bindgen::JsValue::from_str(EARLY_CONFIG);
    let early = js_sys::Reflect::get(&window, &key).ok()?;
    let promise = early.dyn_into::<js_sys::Promise>().ok()?;
    let _ = js_sys::Reflect::delete_property(&window, &key);
    // The boot script resolves to the body's text, or null for a failed or non-OK fetch.
    JsFuture::from(promise).await.ok()?.as_string()
}
