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

    pub(crate) fn secret(&self) -> &str {
        &self.secret
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

    /// True when the node answers `ping` within `within`.
    pub async fn ping_within(&self, within: Duration) -> bool {
        tokio::time::timeout(within, self.ping())
            .await
            .unwrap_or(false)
    }

    /// A request the core's frames do not cover (`list_sessions`, `list_handles`): `verb` with
    /// `fields`; returns the whole `success` frame.
    pub async fn call_verb(
        &self,
        verb: &str,
        fields: serde_json::Map<String, serde_json::Value>,
    ) -> Result<serde_json::Value, AdminError> {
        let transaction = crate::random::token(12);
        let mut frame = fields;
        frame.insert("janus".into(), verb.into());
        frame.insert("transaction".into(), transaction.as_str().into());
        frame.insert("admin_secret".into(), self.secret.as_str().into());
        let text = serde_json::Value::Object(frame).to_string();
        let (outcome, raw) = tokio::time::timeout(CALL_TIMEOUT, self.exchange(text, &transaction))
            .await
            .map_err(|_| AdminError::Timeout)??;
        match outcome {
            AdminOutcome::Error { code, reason } => Err(AdminError::Janus { code, reason }),
            _ => Ok(raw),
        }
    }

    async fn call_inner(&self, request: &AdminRequest) -> Result<AdminOutcome, AdminError> {
        let transaction = crate::random::token(12);
        let text = request.to_json(&transaction, &self.secret);
        let (outcome, _) = self.exchange(text, &transaction).await?;
        match outcome {
            AdminOutcome::Error { code, reason } => Err(AdminError::Janus { code, reason }),
            outcome => Ok(outcome),
        }
    }

    /// Sends one frame and returns the answer with the same transaction, parsed and whole.
    async fn exchange(
        &self,
        text: String,
        transaction: &str,
    ) -> Result<(AdminOutcome, serde_json::Value), AdminError> {
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
        ws.send(Message::text(text))
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
            if response.transaction.as_deref() != Some(transaction) {
                continue;
            }
            let _ = ws.close(None).await;
            let raw = serde_json::from_str(&text).unwrap_or_default();
            return Ok((response.outcome, raw));
        }
        Err(AdminError::Closed)
    }
}
