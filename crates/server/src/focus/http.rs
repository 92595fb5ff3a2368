//! The focus's admin endpoints, answered only to loopback clients (an operator on the machine):
//!
//! - `POST /focus/drain?node=<id>&on=true|false` — drain a node (Janus `accept_new_sessions`
//!   false, no new assignments, its sessions moved) or take it back; answers `{"moved": n}`.
//! - `GET /focus/status` — leader or standby, nodes (health, draining, stress, sessions),
//!   counters.
//!
//! A request a proxy forwarded (`X-Forwarded-For` from a trusted proxy) is never local,
//! whatever address it names (`client_key::ClientAddr::is_local`). A proxy that adds no such
//! header makes every request look local: such a proxy must not forward `/focus/`.

use std::sync::Arc;

use axum::extract::{Query, Request, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;

use super::FocusService;

/// The routes, with the focus as state.
pub fn routes(focus: Arc<FocusService>) -> Router {
    Router::new()
        .route("/focus/drain", post(drain))
        .route("/focus/status", get(status))
        .with_state(focus)
}

#[derive(Deserialize)]
struct DrainQuery {
    node: String,
    #[serde(default = "yes")]
    on: bool,
}

fn yes() -> bool {
    true
}

/// The refusal for a client that is not on this machine, if it is not — or that is a web
/// page in a browser on it: any site could make a visitor's browser POST here (a plain
/// cross-origin form needs no CORS), and a name rebound to 127.0.0.1 could read the status.
/// Browsers name the page's origin on such requests; an operator's curl does not.
fn local_only(request: &Request) -> Option<Response> {
    let headers = request.headers();
    let from_a_page = headers.contains_key(header::ORIGIN)
        || headers
            .get("sec-fetch-site")
            .is_some_and(|site| site.as_bytes() != b"none");
    let host_named = headers
        .get(header::HOST)
        .and_then(|host| host.to_str().ok())
        .is_none_or(loopback_host);
    match crate::client_key::ClientAddr::of(request) {
        Some(client) if client.is_local() && !from_a_page && host_named => None,
        _ => Some(
            (
                StatusCode::FORBIDDEN,
                Json(json!({ "error": "Focus administration is open to this machine only" })),
            )
                .into_response(),
        ),
    }
}

/// A `Host` an operator on this machine uses: an address, or `localhost` (not a name that
/// could be rebound to this machine by someone else's DNS).
fn loopback_host(host: &str) -> bool {
    let name = match host.strip_prefix('[') {
        Some(v6) => {
            return v6
                .split(']')
                .next()
                .is_some_and(|ip| ip.parse::<std::net::Ipv6Addr>().is_ok())
        }
        None => host.rsplit_once(':').map_or(host, |(name, _port)| name),
    };
    name.parse::<std::net::Ipv4Addr>().is_ok()
        || name.eq_ignore_ascii_case("localhost")
        || name.to_ascii_lowercase().ends_with(".localhost")
}

async fn drain(State(focus): State<Arc<FocusService>>, request: Request) -> Response {
    if let Some(refused) = local_only(&request) {
        return refused;
    }
    let Ok(Query(query)) = Query::<DrainQuery>::try_from_uri(request.uri()) else {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({ "error": "usage: POST /focus/drain?node=<id>&on=true|false" })),
        )
            .into_response();
    };
    match focus.drain(&query.node, query.on).await {
        Ok(moved) => Json(json!({ "node": query.node, "draining": query.on, "moved": moved }))
            .into_response(),
        Err(error) => (StatusCode::NOT_FOUND, Json(json!({ "error": error }))).into_response(),
    }
}

async fn status(State(focus): State<Arc<FocusService>>, request: Request) -> Response {
    if let Some(refused) = local_only(&request) {
        return refused;
    }
    Json(focus.status()).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client_key::ClientAddr;
    use axum::body::Body;

    fn request(from: &str, headers: &[(&str, &str)]) -> Request {
        let mut builder = Request::post("/focus/drain?node=janus-0");
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        let mut request = builder.body(Body::empty()).unwrap();
        request.extensions_mut().insert(ClientAddr {
            ip: from.parse().unwrap(),
            forwarded: false,
        });
        request
    }

    fn allowed(from: &str, headers: &[(&str, &str)]) -> bool {
        local_only(&request(from, headers)).is_none()
    }

    /// A web page in a browser on this machine reaches it from loopback too: any site could
    /// drain a node by a cross-origin form, or read the status through a rebound name.
    #[test]
    fn administration_is_for_an_operator_on_this_machine_not_a_page_in_its_browser() {
        for host in [
            "127.0.0.1:8080",
            "localhost:8080",
            "[::1]:8080",
            "0.0.0.0:8080",
            "pairux.localhost",
        ] {
            assert!(allowed("127.0.0.1", &[("host", host)]), "{host}");
        }
        assert!(allowed("::1", &[("sec-fetch-site", "none")]));
        assert!(!allowed("192.0.2.7", &[("host", "127.0.0.1:8080")]));
        let cross_site = [
            ("host", "127.0.0.1:8080"),
            ("origin", "https://evil.example"),
        ];
        assert!(!allowed("127.0.0.1", &cross_site));
        assert!(!allowed(
            "127.0.0.1",
            &[("origin", "http://127.0.0.1:8080")]
        ));
        assert!(!allowed("127.0.0.1", &[("sec-fetch-site", "cross-site")]));
        // DNS rebinding: the page's own origin, so a GET carries no Origin, but its name.
        let rebound = [
            ("host", "evil.example:8080"),
            ("sec-fetch-site", "same-origin"),
        ];
        assert!(!allowed("127.0.0.1", &rebound));
        assert!(!allowed("127.0.0.1", &[("host", "evil.example")]));
        assert!(!allowed("127.0.0.1", &[("host", "[not an address]:80")]));
    }
}
