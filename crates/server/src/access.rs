//! `POST /api/access`: link holders prove themselves (`pairux_core::access`) and get TURN
//! credentials and, for SFU sessions, a room and a Janus token.
//!
//! What the server remembers, all in memory: per session the pinned verifier (the first valid
//! request's; forgotten after 24 h without requests), every nonce until its request could no
//! longer be fresh (time + `MAX_SKEW_SECS`), and a token bucket per client IP. It never logs
//! tokens, pins, secrets or credentials: refusals are logged by reason only.
//!
//! Answers: 200 `AccessGrant`; 400 malformed; 403 not this session's verifier, bad signature
//! or a nonce seen before; 413 body too large; 429 too many requests from one address;
//! 503 the video server is down. Error bodies are `{"error": "…"}`, written for people.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use pairux_core::access::{AccessError, AccessGrant, AccessRequest, Want, MAX_SKEW_SECS};
use pairux_core::identity::PublicKey;
use pairux_core::link::SessionId;

use crate::sfu::Sfu;
use crate::turn::TurnPlan;

/// Largest request body accepted.
pub const MAX_BODY_BYTES: usize = 4 * 1024;
/// A pinned verifier is forgotten after this long without requests.
pub const PIN_IDLE_SECS: u64 = 24 * 3600;
/// Most sessions remembered at once (a bound on memory; over it, new sessions wait).
const MAX_SESSIONS: usize = 100_000;

/// Per-IP token bucket.
#[derive(Debug, Clone, Copy, clap::Args)]
pub struct AccessArgs {
    /// Requests per second one client address may make to /api/access (sustained).
    #[arg(long, default_value_t = 5.0, hide = true)]
    pub access_rate: f64,
    /// Requests one client address may make at once to /api/access.
    #[arg(long, default_value_t = 20.0, hide = true)]
    pub access_burst: f64,
}

/// The access endpoint's state.
pub struct Access {
    turn: Option<Arc<TurnPlan>>,
    sfu: Option<Arc<Sfu>>,
    limits: AccessArgs,
    gate: Mutex<Gate>,
}

struct Pinned {
    verifier: PublicKey,
    last_used: u64,
}

struct Bucket {
    tokens: f64,
    at: Instant,
}

#[derive(Default)]
struct Gate {
    pins: HashMap<SessionId, Pinned>,
    /// (session, nonce) → unix second after which it can no longer be fresh.
    nonces: HashMap<(SessionId, String), u64>,
    buckets: HashMap<IpAddr, Bucket>,
    last_prune: u64,
}

/// Why a request is refused, with its status and sentence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    RateLimited,
    TooLarge,
    Malformed,
    Access(AccessError),
    Busy,
    NothingToGrant,
    SfuDown,
}

impl Refusal {
    pub fn status(self) -> StatusCode {
        match self {
            Refusal::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            Refusal::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Refusal::Malformed => StatusCode::BAD_REQUEST,
            Refusal::Access(
                AccessError::Session
                | AccessError::Nonce
                | AccessError::Malformed
                | AccessError::Stale,
            ) => StatusCode::BAD_REQUEST,
            Refusal::Access(
                AccessError::Signature | AccessError::WrongVerifier | AccessError::Replayed,
            ) => StatusCode::FORBIDDEN,
            Refusal::Busy | Refusal::SfuDown => StatusCode::SERVICE_UNAVAILABLE,
            Refusal::NothingToGrant => StatusCode::NOT_FOUND,
        }
    }

    pub fn message(self) -> &'static str {
        match self {
            Refusal::RateLimited => {
                "Too many requests from your address; wait a moment and try again"
            }
            Refusal::TooLarge => "The request is too large",
            Refusal::Malformed => "The request is not understood by this server",
            Refusal::Access(AccessError::Stale) => {
                "Your computer's clock is too far from the server's; set it right and try again"
            }
            Refusal::Access(AccessError::Session) => "This is not a session address",
            Refusal::Access(AccessError::Nonce | AccessError::Malformed) => {
                "The request is not understood by this server"
            }
            Refusal::Access(AccessError::Signature | AccessError::WrongVerifier) => {
                "This link does not belong to this session"
            }
            Refusal::Access(AccessError::Replayed) => "This request was already used; try again",
            Refusal::Busy => "The server is busy; try again in a moment",
            Refusal::NothingToGrant => "This server hands out no relays or video rooms",
            Refusal::SfuDown => "The video server is not reachable right now",
        }
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        (
            self.status(),
            [(header::CACHE_CONTROL, "no-store")],
            Json(serde_json::json!({ "error": self.message() })),
        )
            .into_response()
    }
}

impl Access {
    pub fn new(turn: Option<Arc<TurnPlan>>, sfu: Option<Arc<Sfu>>, limits: AccessArgs) -> Self {
        Access {
            turn,
            sfu,
            limits,
            gate: Mutex::new(Gate::default()),
        }
    }

    /// Whether there is anything to grant (TURN or an SFU).
    pub fn grants_anything(&self) -> bool {
        self.turn.is_some() || self.sfu.is_some()
    }

    /// Takes one request from `ip`'s bucket.
    fn admit(&self, ip: IpAddr) -> bool {
        let mut gate = self.gate.lock().expect("access lock");
        let now = Instant::now();
        let AccessArgs {
            access_rate: rate,
            access_burst: burst,
        } = self.limits;
        if gate.buckets.len() > MAX_SESSIONS {
            gate.buckets
                .retain(|_, b| b.tokens + now.duration_since(b.at).as_secs_f64() * rate < burst);
        }
        let bucket = gate.buckets.entry(ip).or_insert(Bucket {
            tokens: burst,
            at: now,
        });
        bucket.tokens =
            (bucket.tokens + now.duration_since(bucket.at).as_secs_f64() * rate).min(burst);
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// Checks signature, pinning and replay; remembers the verifier and nonce.
    pub fn check(&self, req: &AccessRequest, now: u64) -> Result<SessionId, Refusal> {
        let (session, verifier) = req.check(now).map_err(Refusal::Access)?;
        let mut gate = self.gate.lock().expect("access lock");
        if now >= gate.last_prune + 10 {
            gate.last_prune = now;
            gate.pins
                .retain(|_, p| now.saturating_sub(p.last_used) < PIN_IDLE_SECS);
            gate.nonces.retain(|_, until| *until >= now);
        }
        match gate.pins.get(&session) {
            Some(pinned) if pinned.verifier != verifier => {
                return Err(Refusal::Access(AccessError::WrongVerifier))
            }
            Some(_) => {}
            None if gate.pins.len() >= MAX_SESSIONS => return Err(Refusal::Busy),
            None => {}
        }
        let key = (session, req.nonce.clone());
        if gate.nonces.contains_key(&key) {
            return Err(Refusal::Access(AccessError::Replayed));
        }
        gate.nonces.insert(key, req.time + MAX_SKEW_SECS);
        let pinned = gate.pins.entry(session).or_insert(Pinned {
            verifier,
            last_used: now,
        });
        pinned.last_used = now;
        Ok(session)
    }

    /// The grant for an accepted request.
    pub async fn grant(
        &self,
        session: SessionId,
        want: Want,
        now: u64,
    ) -> Result<AccessGrant, Refusal> {
        let (ice_servers, expires_at) = match &self.turn {
            Some(turn) => {
                let creds = turn.credentials(now);
                (turn.ice_servers(&creds), creds.expires_at)
            }
            None => (Vec::new(), now + crate::turn::CREDENTIAL_TTL_SECS),
        };
        let sfu = match (want, &self.sfu) {
            (Want::Sfu, Some(sfu)) => {
                sfu.prune();
                match sfu.grant(session).await {
                    Ok(grant) => Some(grant),
                    Err(err) => {
                        tracing::warn!("access: no SFU room for a session: {err}");
                        return Err(Refusal::SfuDown);
                    }
                }
            }
            _ => None,
        };
        Ok(AccessGrant {
            ice_servers,
            expires_at,
            sfu,
            focus: None,
        })
    }
}

/// `POST /api/access`.
pub async fn handle(State(access): State<Arc<Access>>, request: Request) -> Response {
    let ip = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip())
        .unwrap_or(IpAddr::from([0, 0, 0, 0]));
    match answer(&access, ip, request).await {
        Ok(grant) => ([(header::CACHE_CONTROL, "no-store")], Json(grant)).into_response(),
        Err(refusal) => {
            tracing::debug!("access: refused {ip}: {refusal:?}");
            refusal.into_response()
        }
    }
}

async fn answer(access: &Access, ip: IpAddr, request: Request) -> Result<AccessGrant, Refusal> {
    if !access.grants_anything() {
        return Err(Refusal::NothingToGrant);
    }
    if !access.admit(ip) {
        return Err(Refusal::RateLimited);
    }
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > MAX_BODY_BYTES) {
        return Err(Refusal::TooLarge);
    }
    let body: Bytes = axum::body::to_bytes(request.into_body(), MAX_BODY_BYTES)
        .await
        .map_err(|_| Refusal::TooLarge)?;
    let req: AccessRequest = serde_json::from_slice(&body).map_err(|_| Refusal::Malformed)?;
    let now = crate::jwt::now_secs();
    let session = access.check(&req, now)?;
    access.grant(session, req.want, now).await
}
