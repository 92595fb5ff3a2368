//! `POST /realtime/v1/api/broadcast`: broadcasts from a server or a client without a socket.
//!
//! Body: `{"messages":[{"topic":"room1","event":"e","payload":{…},"private":false}]}`, topics
//! without the `realtime:` prefix. Token from `Authorization: Bearer …`, else the `apikey`
//! header, verified like a socket's. Answers 202 with an empty body. Subscribers receive the
//! JSON form `{"event","payload","type":"broadcast"}`, as from a text push.

use std::sync::Arc;

use axum::extract::State;
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use bytes::Bytes;
use pairux_core::realtime::event;
use serde::Deserialize;
use serde_json::{json, Value};

use super::frames::Outgoing;
use super::{auth, RealtimeState};

#[derive(Debug, Deserialize)]
struct Batch {
    messages: Vec<BatchMessage>,
}

#[derive(Debug, Deserialize)]
struct BatchMessage {
    topic: String,
    event: String,
    payload: serde_json::Map<String, Value>,
    #[serde(default)]
    private: bool,
}

/// The handler.
pub async fn broadcast(
    State(state): State<Arc<RealtimeState>>,
    parts: Parts,
    body: Bytes,
) -> Response {
    // The peer's address, when the server was started with it (not in every test router).
    let from = crate::client_key::ClientAddr::ip_in(&parts.extensions);
    let headers = &parts.headers;
    let bearer = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let apikey = headers.get("apikey").and_then(|v| v.to_str().ok());
    let Some(token) = bearer.or(apikey).filter(|t| !t.is_empty()) else {
        return error(StatusCode::UNAUTHORIZED, auth::MISSING_API_KEY);
    };
    if let Err(err) = state.verify(token) {
        return error(StatusCode::UNAUTHORIZED, &auth::connect_error(&err));
    }
    let batch: Batch = match serde_json::from_slice(&body) {
        Ok(batch) => batch,
        Err(err) => {
            return error(
                StatusCode::UNPROCESSABLE_ENTITY,
                &format!("Invalid body: {err}"),
            )
        }
    };
    let max = state.limits().max_payload_bytes;
    let sizes: Option<Vec<usize>> = batch
        .messages
        .iter()
        .map(|m| serde_json::to_vec(&m.payload).ok().map(|p| p.len()))
        .collect();
    let Some(sizes) = sizes.filter(|sizes| sizes.iter().all(|size| *size <= max)) else {
        return error(StatusCode::UNPROCESSABLE_ENTITY, "Payload size exceeded");
    };
    for (message, size) in batch.messages.iter().zip(sizes) {
        if !state.admit_rest_event(from, size) {
            return error(
                StatusCode::TOO_MANY_REQUESTS,
                "Too many messages per second",
            );
        }
        // No private channel can be joined on the local server, so nobody could receive it.
        if message.private {
            continue;
        }
        let topic = format!("{}{}", event::TOPIC_PREFIX, message.topic);
        let payload = json!({
            "event": message.event,
            "payload": message.payload,
            "type": event::BROADCAST,
        });
        let delivered = state.hub.broadcast(&topic, None, Outgoing::Json(&payload));
        state.counters.broadcast(delivered);
    }
    StatusCode::ACCEPTED.into_response()
}

fn error(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({ "error": message }))).into_response()
}
