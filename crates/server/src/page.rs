//! The app's page (`index.html`, also what every page path answers with) with this server's
//! client config written into it, so that index.html's boot script has it while the document
//! is still parsing: a session page opens its Realtime socket then, instead of after a second
//! request (`/config.json`) whose answer the browser hands to the page only once the main
//! thread is free — which, while the wasm compiles and the app mounts, was ~100–300 ms later
//! (ARCHITECTURE.md, First frame).
//!
//! The config goes in as a JSON data block (`<script type="application/json">`), which no
//! browser runs, right before the page's first script. A page built without one (a static deployment) still
//! works: the boot script then fetches `/config.json` as before.

use std::hash::{Hash as _, Hasher as _};
use std::path::PathBuf;
use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::config::ClientConfig;

/// The id of the data block index.html's boot script reads.
pub const CONFIG_ELEMENT_ID: &str = "pairux-config";

/// index.html on disk and the config to write into it.
#[derive(Debug)]
pub struct AppPage {
    path: PathBuf,
    block: String,
}

impl AppPage {
    pub fn new(path: PathBuf, config: &ClientConfig) -> AppPage {
        // A config is plain data; were it ever not serializable, the page still works without
        // it (the boot script fetches /config.json).
        let json = serde_json::to_string(config).unwrap_or_default();
        AppPage {
            path,
            block: config_block(&json),
        }
    }
}

/// `<script id="pairux-config" type="application/json">…</script>` holding `json`, with every
/// `<` written as `\u003c` (the same JSON value), so nothing in it can end the element.
pub fn config_block(json: &str) -> String {
    if json.is_empty() {
        return String::new();
    }
    format!(
        "<script id=\"{CONFIG_ELEMENT_ID}\" type=\"application/json\">{}</script>",
        json.replace('<', "\\u003c")
    )
}

/// `html` with `block` right before its first `<script` (the boot script; Trunk's minified page
/// has no `<head>` tag to go after); unchanged when it has none.
pub fn render(html: &str, block: &str) -> String {
    let Some(at) = html.find("<script") else {
        return html.to_owned();
    };
    let mut out = String::with_capacity(html.len() + block.len());
    out.push_str(&html[..at]);
    out.push_str(block);
    out.push_str(&html[at..]);
    out
}

/// An entity tag for `body`: revalidation (`If-None-Match`) answers 304 while neither the
/// built page nor the config changed.
fn entity_tag(body: &str) -> String {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    body.hash(&mut hasher);
    format!("\"{:016x}\"", hasher.finish())
}

/// Whether an `If-None-Match` header names `tag` (or is `*`).
fn matches(headers: &HeaderMap, tag: &str) -> bool {
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|t| t.trim().trim_start_matches("W/"))
        .any(|t| t == tag || t == "*")
}

/// `GET` of the app's page: read from disk each time (a rebuilt app is served at once).
pub async fn serve(State(page): State<Arc<AppPage>>, headers: HeaderMap) -> Response {
    let html = match tokio::fs::read_to_string(&page.path).await {
        Ok(html) => html,
        Err(_) => return (StatusCode::NOT_FOUND, "the app is not built").into_response(),
    };
    let body = render(&html, &page.block);
    let tag = entity_tag(&body);
    let etag = HeaderValue::from_str(&tag).unwrap_or(HeaderValue::from_static("\"\""));
    if matches(&headers, &tag) {
        return (StatusCode::NOT_MODIFIED, [(header::ETAG, etag)]).into_response();
    }
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            ),
            (header::ETAG, etag),
        ],
        body,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_block_goes_right_before_the_first_script() {
        let html = "<!doctype html><html lang=en><meta charset=utf-8><title>PairUX</title><script>x</script><script type=module>y</script>";
        let out = render(html, &config_block("{\"a\":1}"));
        assert_eq!(
            out,
            "<!doctype html><html lang=en><meta charset=utf-8><title>PairUX</title><script id=\"pairux-config\" type=\"application/json\">{\"a\":1}</script><script>x</script><script type=module>y</script>"
        );
        // A page without scripts has nothing to read it.
        assert_eq!(render("<p>no script</p>", "B"), "<p>no script</p>");
    }

    #[test]
    fn nothing_in_the_config_can_end_its_element() {
        let json =
            serde_json::json!({ "url": "</script><script>alert(1)</script><!--" }).to_string();
        let block = config_block(&json);
        let inner = block
            .strip_prefix("<script id=\"pairux-config\" type=\"application/json\">")
            .and_then(|b| b.strip_suffix("</script>"))
            .unwrap();
        assert!(!inner.contains('<'));
        // The same JSON value.
        let back: serde_json::Value = serde_json::from_str(inner).unwrap();
        assert_eq!(back["url"], "</script><script>alert(1)</script><!--");
        assert_eq!(config_block(""), "");
    }

    #[test]
    fn revalidation_matches_the_tag_only() {
        let tag = entity_tag("page");
        assert_ne!(tag, entity_tag("page2"));
        let mut headers = HeaderMap::new();
        assert!(!matches(&headers, &tag));
        headers.insert(
            header::IF_NONE_MATCH,
            HeaderValue::from_str(&format!("\"other\", W/{tag}")).unwrap(),
        );
        assert!(matches(&headers, &tag));
        headers.insert(header::IF_NONE_MATCH, HeaderValue::from_static("\"other\""));
        assert!(!matches(&headers, &tag));
    }
}
