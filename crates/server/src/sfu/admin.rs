//! The Janus Admin API over WebSocket (subprotocol `janus-admin-protocol`), on 127.0.0.1 only.
//!
//! Frames are `pairux_core::janus::admin`'s; this is the socket. One connection per call: the
//! control plane makes a few calls per session, and a fresh connection never outlives the Janus
//! process it talks to (a restarted node is just the next connection).

use std::time::Duration;

use futures_util::{SinkExt as _, StreamExt as _};
use pairux_core::janus::admin::{AdminOutcome, AdminRequest, AdminResponse};
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::Message;

/// How long a call may take, connection included.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(2);

/// Why an admin call failed.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("cannot reach the admin API: {0}")]
    Connect(String),
    #[error("no answer within {CALL_TIMEOUT:?}")]
    Timeout,
    #[error("the admin API closed the connection")]
    Closed,
    #[error("Janus refused: {code} {reason}")]
    Janus { code: i64, reason: String },
}

/// Talks to one node's admin API.
#[derive(Clone)]
pub struct AdminClient {
    url: String,
    secret: String,
}

impl std::fmt::Debug for AdminClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminClient")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

impl AdminClient {
    pub fn new(url: String, secret: String) -> Self {
        AdminClient { url, secret }
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// Sends `request` and returns the answer with the same transaction (a Janus `error`
    /// answer is [`AdminError::Janus`]).
    pub async fn call(&self, request: &AdminRequest) -> Result<AdminOutcome, AdminError> {
        tokio::time::timeout(CALL_TIMEOUT, self.call_inner(request))
            .await
            .map_err(|_| AdminError::Timeout)?
    }

    /// True when the node answers `ping`.
    pub async fn ping(&self) -> bool {
        matches!(self.call(&AdminRequest::Ping).await, Ok(AdminOutcome::Pong))
    }

    async fn call_inner(&self, request: &AdminRequest) -> Result<AdminOutcome, AdminError> {
        let mut ws_request = self
            .url
            .as_str()
            .into_client_request()
            .map_err(|e| AdminError::Connect(e.to_string()))?;
        ws_request.headers_mut().insert(
            "Sec-WebSocket-Protocol",
            HeaderValue::from_static("janus-admin-protocol"),
        );
        let (mut ws, _) = tokio_tungstenite::connect_async(ws_request)
            .await
            .map_err(|e| AdminError::Connect(e.to_string()))?;
        let transaction = crate::random::token(12);
        ws.send(Message::text(request.to_json(&transaction, &self.secret)))
            .await
            .map_err(|_| AdminError::Closed)?;
        while let Some(frame) = ws.next().await {
            let Ok(Message::Text(text)) = frame else {
                if frame.is_err() {
                    return Err(AdminError::Closed);
                }
                continue;
            };
            let Ok(response) = AdminResponse::parse(&text) else {
                continue;
            };
            if response.transaction.as_deref() != Some(transaction.as_str()) {
                continue;
            }
            let _ = ws.close(None).await;
            return match response.outcome {
                AdminOutcome::Error { code, reason } => Err(AdminError::Janus { code, reason }),
                outcome => Ok(outcome),
            };
        }
        Err(AdminError::Closed)
    }
}
