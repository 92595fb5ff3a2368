//! `POST /api/access`: link holders prove themselves (`pairux_core::access`) and get TURN
//! credentials and, for SFU sessions, a room and a Janus token.
//!
//! What the server remembers: per session the pinned verifier (the first valid request's;
//! forgotten after 24 h without requests) and every nonce until its request could no longer be
//! fresh (time + `MAX_SKEW_SECS`) — in the focus's store (memory, or PostgreSQL shared by focus
//! processes, so pinning and the replay check hold across them) — and, in memory, a token
//! bucket per client IP. Rooms, tokens and the session's mode and decision come from the
//! Session Focus (`crate::focus`). It never logs tokens, pins, secrets or credentials:
//! refusals are logged by reason only.
//!
//! Answers: 200 `AccessGrant`; 400 malformed; 403 not this session's verifier, bad signature
//! or a nonce seen before; 409 an SFU room asked for a session the focus keeps peer to peer;
//! 413 body too large; 429 too many requests from one address; 503 the video server or the
//! database is down. Error bodies are `{"error": "…"}`, written for people.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use pairux_core::access::{AccessError, AccessGrant, AccessRequest, Want, MAX_SKEW_SECS};
use pairux_core::link::SessionId;

use crate::client_key::ClientAddr;
use crate::focus::store::{PinOutcome, Store};
use crate::focus::{FocusGrant, FocusRefusal, FocusService};
use crate::turn::{TurnCredentials, TurnIssuer};

/// Largest request body accepted.
pub const MAX_BODY_BYTES: usize = 4 * 1024;
/// A pinned verifier is forgotten after this long without requests.
pub const PIN_IDLE_SECS: u64 = 24 * 3600;
/// Most client addresses remembered at once (a bound on memory).
const MAX_ADDRESSES: usize = 100_000;
/// Most TURN usernames with more than [`REUSE_MIN_LEFT_SECS`] left that one client address
/// (its /64 for IPv6) holds; past it the address is handed the newest of them again. coturn
/// lets each username make 16 allocations (`user-quota`) and a page asks for one per three
/// connections, so this covers a P2P host making connections for its 28 guests; one address
/// holds at most ~22 live usernames (those minted in any 14 minutes, and the last 6 minutes'
/// of the ones before), ~350 allocations. Without it one address took a fresh username per
/// request at the access rate — every relay port of a coturn within seconds. Counted per
/// process (each focus process keeps its own), like the request rate.
pub const TURN_NAMES_PER_ADDRESS: usize = 16;
/// A username handed out again has at least this long left (the app asks for new ones 5
/// minutes before theirs expire): older ones no longer count against the address.
pub const REUSE_MIN_LEFT_SECS: u64 = 6 * 60;
/// Longest `region` query parameter.
const MAX_REGION: usize = 32;

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
    turn: Option<TurnIssuer>,
    focus: Option<Arc<FocusService>>,
    store: Arc<Store>,
    limits: AccessArgs,
    gate: Mutex<Gate>,
}

struct Bucket {
    tokens: f64,
    at: Instant,
}

#[derive(Default)]
struct Gate {
    buckets: HashMap<IpAddr, Bucket>,
    /// Per client key: the TURN usernames it holds ([`TURN_NAMES_PER_ADDRESS`]).
    turn: HashMap<IpAddr, TurnHeld>,
    /// When `turn` was last pruned (unix seconds): at most once a second when full.
    turn_pruned_at: u64,
}

/// One client key's TURN usernames: the expiry of each that still counts (oldest first) and
/// the newest.
struct TurnHeld {
    expiries: std::collections::VecDeque<u64>,
    newest: TurnCredentials,
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
    /// `want: sfu` for a session the focus keeps peer to peer.
    PeerToPeer,
    /// The store (database) is unreachable.
    StoreDown,
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
            Refusal::Busy | Refusal::SfuDown | Refusal::StoreDown => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            Refusal::NothingToGrant => StatusCode::NOT_FOUND,
            Refusal::PeerToPeer => StatusCode::CONFLICT,
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
            Refusal::PeerToPeer => {
                "This session runs peer to peer: the server has not moved it to a video server"
            }
            Refusal::StoreDown => "The server cannot reach its database; try again in a moment",
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
    /// `turn` mints TURN credentials (this server's coturn, or the one a standalone focus read
    /// from nodes.json); `store` keeps pins and nonces (the focus's, when one runs).
    pub fn new(
        turn: Option<TurnIssuer>,
        focus: Option<Arc<FocusService>>,
        store: Arc<Store>,
        limits: AccessArgs,
    ) -> Self {
        Access {
            turn,
            focus,
            store,
            limits,
            gate: Mutex::new(Gate::default()),
        }
    }

    /// Whether there is anything to grant (TURN or a focus with SFU nodes).
    pub fn grants_anything(&self) -> bool {
        self.turn.is_some() || self.focus.is_some()
    }

    /// The Session Focus, when this endpoint has one.
    pub fn focus(&self) -> Option<&Arc<FocusService>> {
        self.focus.as_ref()
    }

    /// Takes one request from `ip`'s bucket (its /64 for IPv6: `client_key`).
    fn admit(&self, ip: IpAddr) -> bool {
        let mut gate = self
            .gate
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let now = Instant::now();
        let AccessArgs {
            access_rate: rate,
            access_burst: burst,
        } = self.limits;
        if gate.buckets.len() > MAX_ADDRESSES {
            gate.buckets
                .retain(|_, b| b.tokens + now.duration_since(b.at).as_secs_f64() * rate < burst);
        }
        let bucket = gate
            .buckets
            .entry(crate::client_key::client_key(ip))
            .or_insert(Bucket {
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

    /// TURN credentials for a request from `client`: fresh ones, or once its address holds
    /// [`TURN_NAMES_PER_ADDRESS`] with more than [`REUSE_MIN_LEFT_SECS`] left, the newest of
    /// those again. Past [`MAX_ADDRESSES`] addresses, new ones are not remembered. A page on
    /// this machine (loopback, not forwarded by a proxy) is not counted: every tab of a local
    /// session comes from one address, and whoever runs on the server's machine can reach its
    /// coturn anyway.
    fn turn_credentials(&self, turn: &TurnIssuer, client: ClientAddr, now: u64) -> TurnCredentials {
        let ip = client.ip;
        if !client.forwarded && ip.is_loopback() {
            return turn.credentials(now);
        }
        let mut gate = self
            .gate
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let counts = |expires_at: u64| expires_at > now + REUSE_MIN_LEFT_SECS;
        if gate.turn.len() >= MAX_ADDRESSES && now > gate.turn_pruned_at {
            gate.turn_pruned_at = now;
            gate.turn.retain(|_, held| counts(held.newest.expires_at));
        }
        let full = gate.turn.len() >= MAX_ADDRESSES;
        let key = crate::client_key::client_key(ip);
        if let Some(held) = gate.turn.get_mut(&key) {
            while held.expiries.front().is_some_and(|&e| !counts(e)) {
                held.expiries.pop_front();
            }
            if held.expiries.len() >= TURN_NAMES_PER_ADDRESS {
                tracing::debug!("access: {ip} holds {} TURN usernames", held.expiries.len());
                return held.newest.clone();
            }
            let fresh = turn.credentials(now);
            held.expiries.push_back(fresh.expires_at);
            held.newest = fresh.clone();
            return fresh;
        }
        let fresh = turn.credentials(now);
        if !full {
            let held = TurnHeld {
                expiries: std::collections::VecDeque::from([fresh.expires_at]),
                newest: fresh.clone(),
            };
            gate.turn.insert(key, held);
        }
        fresh
    }

    /// Checks signature, pinning and replay; remembers the verifier and nonce.
    pub async fn check(&self, req: &AccessRequest, now: u64) -> Result<SessionId, Refusal> {
        let (session, verifier) = req.check(now).map_err(Refusal::Access)?;
        let outcome = self
            .store
            .pin_and_use_nonce(
                session,
                &verifier.encode(),
                &req.nonce,
                req.time + MAX_SKEW_SECS,
                now,
            )
            .await
            .map_err(|err| {
                tracing::warn!("access: {err}");
                Refusal::StoreDown
            })?;
        match outcome {
            PinOutcome::Accepted => Ok(session),
            PinOutcome::WrongVerifier => Err(Refusal::Access(AccessError::WrongVerifier)),
            PinOutcome::Replayed => Err(Refusal::Access(AccessError::Replayed)),
            PinOutcome::Busy => Err(Refusal::Busy),
        }
    }

    /// The grant for an accepted request from `ip`: TURN credentials, and from the focus the
    /// session's decision and, for `want: sfu`, a room and `ip`'s token on its node.
    pub async fn grant(
        &self,
        session: SessionId,
        want: Want,
        region: Option<String>,
        client: ClientAddr,
        now: u64,
    ) -> Result<AccessGrant, Refusal> {
        // The focus first: a refused request takes none of the address's TURN usernames.
        let FocusGrant { focus, sfu } = match &self.focus {
            Some(f) => {
                let token_client = crate::client_key::token_client(&session, client.ip);
                f.access(session, want, region, &token_client)
                    .await
                    .map_err(|r| match r {
                        FocusRefusal::P2p => Refusal::PeerToPeer,
                        FocusRefusal::NoNode | FocusRefusal::NodeDown => Refusal::SfuDown,
                        FocusRefusal::Store => Refusal::StoreDown,
                        FocusRefusal::Busy => Refusal::Busy,
                    })?
            }
            None => FocusGrant::default(),
        };
        let (ice_servers, expires_at) = match &self.turn {
            Some(turn) => {
                let creds = self.turn_credentials(turn, client, now);
                (turn.ice_servers(&creds), creds.expires_at)
            }
            None => (Vec::new(), now + crate::turn::CREDENTIAL_TTL_SECS),
        };
        Ok(AccessGrant {
            ice_servers,
            expires_at,
            sfu,
            focus,
        })
    }
}

/// The `region` query parameter, when it is a short plain name.
fn region_of(query: Option<&str>) -> Option<String> {
    query?
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(k, _)| *k == "region")
        .map(|(_, v)| v)
        .filter(|v| {
            !v.is_empty()
                && v.len() <= MAX_REGION
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
        .map(str::to_owned)
}

/// `/api/access` answers any origin, preflight included: what it grants is bound to proofs
/// from the link's keys, never to a cookie or the origin, and the page asking may be served from
/// another origin than the API — a static deployment, or `localhost` for a server that calls
/// itself `127.0.0.1`.
pub fn cors() -> tower_http::cors::CorsLayer {
    use axum::http::Method;
    tower_http::cors::CorsLayer::new()
        .allow_origin(tower_http::cors::Any)
        .allow_methods([Method::POST, Method::GET])
        .allow_headers([header::CONTENT_TYPE])
        .max_age(std::time::Duration::from_secs(600))
}

/// `POST /api/access`.
pub async fn handle(State(access): State<Arc<Access>>, request: Request) -> Response {
    let client = ClientAddr::of(&request).unwrap_or(ClientAddr {
        ip: IpAddr::from([0, 0, 0, 0]),
        forwarded: false,
    });
    let ip = client.ip;
    match answer(&access, client, request).await {
        Ok(grant) => ([(header::CACHE_CONTROL, "no-store")], Json(grant)).into_response(),
        Err(refusal) => {
            tracing::debug!("access: refused {ip}: {refusal:?}");
            refusal.into_response()
        }
    }
}

async fn answer(
    access: &Access,
    client: ClientAddr,
    request: Request,
) -> Result<AccessGrant, Refusal> {
    let ip = client.ip;
    if !access.grants_anything() {
        return Err(Refusal::NothingToGrant);
    }
    if !access.admit(ip) {
        return Err(Refusal::RateLimited);
    }
    let region = region_of(request.uri().query());
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
    let session = access.check(&req, now).await?;
    // The request's own hint first, else the `?region=` of the URL.
    let region = req.region().map(str::to_owned).or(region);
    access.grant(session, req.want, region, client, now).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::turn::{TurnPlan, CREDENTIAL_TTL_SECS};

    #[test]
    fn an_address_holds_a_bounded_number_of_turn_usernames_each_with_time_left() {
        let plan = TurnPlan::new([127, 0, 0, 1].into(), 3478, std::path::Path::new("/unused"));
        let turn = plan.issuer();
        let limits = AccessArgs {
            access_rate: 5.0,
            access_burst: 20.0,
        };
        let access = Access::new(Some(plan.issuer()), None, Arc::new(Store::memory()), limits);
        let from = |ip: [u8; 4]| ClientAddr {
            ip: ip.into(),
            forwarded: false,
        };
        let (a, b) = (from([198, 51, 100, 7]), from([198, 51, 100, 8]));
        let t0 = 1_000_000;
        let name = |c: ClientAddr, now: u64| access.turn_credentials(&turn, c, now).username;
        let first: Vec<String> = (0..TURN_NAMES_PER_ADDRESS).map(|_| name(a, t0)).collect();
        let mut distinct = first.clone();
        distinct.sort();
        distinct.dedup();
        assert_eq!(distinct.len(), TURN_NAMES_PER_ADDRESS);
        // Past the limit: the newest again, however often it asks.
        for _ in 0..5 {
            assert_eq!(&name(a, t0 + 60), first.last().unwrap());
        }
        // Another address is another client.
        assert!(!first.contains(&name(b, t0 + 60)));
        // Once those have REUSE_MIN_LEFT_SECS or less left they no longer count: the address
        // gets fresh ones, never one about to expire.
        let later = t0 + CREDENTIAL_TTL_SECS - REUSE_MIN_LEFT_SECS;
        let fresh = access.turn_credentials(&turn, a, later);
        assert!(!first.contains(&fresh.username));
        assert!(fresh.expires_at > later + REUSE_MIN_LEFT_SECS);
        for _ in 1..TURN_NAMES_PER_ADDRESS {
            assert_ne!(name(a, later), fresh.username);
        }
        assert_eq!(
            access.turn_credentials(&turn, a, later + 1).expires_at,
            later + CREDENTIAL_TTL_SECS
        );
        // A page on this machine is not counted; the same address forwarded by a proxy is.
        let local = from([127, 0, 0, 1]);
        let mut names: Vec<String> = (0..TURN_NAMES_PER_ADDRESS + 4)
            .map(|_| name(local, t0))
            .collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), TURN_NAMES_PER_ADDRESS + 4);
        let proxied = ClientAddr {
            ip: [127, 0, 0, 1].into(),
            forwarded: true,
        };
        let held = name(proxied, t0);
        for _ in 1..TURN_NAMES_PER_ADDRESS {
            name(proxied, t0);
        }
        assert_ne!(name(proxied, t0), held);
        assert_eq!(name(proxied, t0), name(proxied, t0));
    }
}
