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
use axum::http::StatusCode;
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

/// The refusal for a client that is not on this machine, if it is not.
fn local_only(request: &Request) -> Option<Response> {
    match crate::client_key::ClientAddr::of(request) {
        Some(client) if client.is_local() => None,
        _ => Some(
            (
                StatusCode::FORBIDDEN,
                Json(json!({ "error": "Focus administration is open to this machine only" })),
            )
                .into_response(),
        ),
    }
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
