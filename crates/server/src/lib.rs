//! The local PairUX server: static app with SPA fallback, `GET /config.json`, `GET /health`.
//!
//! Architecture invariant: the server never sees a room key, a controller secret or anything
//! from a link fragment; it knows sessions only by their public topic.

pub mod config;
pub mod jwt;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, HeaderValue};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use tower_http::services::{ServeDir, ServeFile};
use tower_http::set_header::SetResponseHeaderLayer;

pub use config::ClientConfig;

/// Command line of `pairux-server`.
#[derive(Debug, Clone, clap::Parser)]
#[command(name = "pairux-server", version, about)]
pub struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// HS256 secret for Realtime JWTs. When absent, a random one is made for this start.
    #[arg(long, env = "PAIRUX_JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: Option<String>,
    /// Directory holding the built app (Trunk's `dist/`).
    #[arg(long = "static", default_value = "dist")]
    pub static_dir: PathBuf,
    /// Public base URL of this server as browsers reach it (default: http://<listen>).
    #[arg(long)]
    pub public_url: Option<String>,
    /// ICE servers handed to clients, as a JSON array of RTCIceServer objects.
    #[arg(long, default_value = "[]")]
    pub ice_servers: String,
}

/// Everything request handlers share.
pub struct AppState {
    pub config: ClientConfig,
}

/// Errors that stop the server from starting.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("--ice-servers is not a JSON array: {0}")]
    IceServers(serde_json::Error),
    #[error("cannot mint the anon key: {0}")]
    Jwt(#[from] jsonwebtoken::errors::Error),
    #[error("server stopped: {0}")]
    Io(#[from] std::io::Error),
}

/// Builds the shared state from the command line.
pub fn state_from_args(args: &Args, secret: &str) -> Result<AppState, StartError> {
    let public_url = args
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{}", args.listen));
    let ice_servers: Vec<serde_json::Value> =
        serde_json::from_str(&args.ice_servers).map_err(StartError::IceServers)?;
    let anon_key = jwt::mint_anon_key(secret, jwt::now_secs())?;
    Ok(AppState {
        config: ClientConfig::new(&public_url, anon_key, ice_servers),
    })
}

/// The HTTP routes.
pub fn router(state: Arc<AppState>, static_dir: PathBuf) -> Router {
    let index = static_dir.join("index.html");
    // Unknown paths (e.g. /s/<id>) get index.html so the app's router takes over.
    let app_files = ServeDir::new(&static_dir).fallback(ServeFile::new(index));
    Router::new()
        .route("/health", get(health))
        .route("/config.json", get(client_config))
        .with_state(state)
        .fallback_service(app_files)
        .layer(SetResponseHeaderLayer::if_not_present(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ))
}

async fn health() -> impl IntoResponse {
    Json(serde_json::json!({ "status": "ok" }))
}

async fn client_config(State(state): State<Arc<AppState>>) -> impl IntoResponse {
    (
        [(header::CACHE_CONTROL, "no-store")],
        Json(state.config.clone()),
    )
}

/// Runs the server until Ctrl-C or SIGTERM.
pub async fn serve(args: Args) -> Result<(), StartError> {
    let secret = match &args.jwt_secret {
        Some(secret) => secret.clone(),
        None => jwt::random_secret(),
    };
    let state = Arc::new(state_from_args(&args, &secret)?);
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .map_err(|source| StartError::Bind {
            addr: args.listen,
            source,
        })?;
    let local = listener.local_addr()?;
    tracing::info!("pairux-server listening on http://{local}");
    axum::serve(listener, router(state, args.static_dir.clone()))
        .with_graceful_shutdown(shutdown_signal())
        .await?;
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut sig) =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            sig.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}
