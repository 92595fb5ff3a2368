//! The local PairUX server: static app with SPA fallback, `GET /config.json`, `GET /health`,
//! and the Supabase-Realtime-compatible endpoint (`realtime`).
//!
//! Architecture invariant: the server never sees a room key, a controller secret or anything
//! from a link fragment; it knows sessions only by their public topic.

pub mod config;
pub mod jwt;
pub mod realtime;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, HeaderValue};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::serve::ListenerExt as _;
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
    /// Limits and timings of the Realtime endpoint.
    #[command(flatten)]
    pub realtime: realtime::RealtimeArgs,
}

/// Everything request handlers share.
pub struct AppState {
    pub config: ClientConfig,
    /// Channels, presence and counters of the Realtime endpoint.
    pub realtime: Arc<realtime::RealtimeState>,
}

/// Errors that stop the server from starting.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("--ice-servers is not a JSON array of RTCIceServer objects: {0}")]
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
    let ice_servers: Vec<config::IceServer> =
        serde_json::from_str(&args.ice_servers).map_err(StartError::IceServers)?;
    let anon_key = jwt::mint_anon_key(secret, jwt::now_secs())?;
    Ok(AppState {
        config: ClientConfig::for_public_url(&public_url, anon_key, ice_servers),
        realtime: Arc::new(realtime::RealtimeState::new(&args.realtime, secret)),
    })
}

/// The HTTP routes.
pub fn router(state: Arc<AppState>, static_dir: PathBuf) -> Router {
    let index = static_dir.join("index.html");
    // Unknown paths (e.g. /s/<id>) get index.html so the app's router takes over.
    let app_files = ServeDir::new(&static_dir).fallback(ServeFile::new(index));
    let realtime = realtime::routes(state.realtime.clone());
    Router::new()
        .route("/health", get(health))
        .route("/config.json", get(client_config))
        .with_state(state)
        .merge(realtime)
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
    // Readable from any origin: it holds only public values (the anon key is public by design,
    // as in Supabase), and pages served elsewhere (a static deployment's tests) may read it.
    (
        [
            (header::CACHE_CONTROL, "no-store"),
            (header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"),
        ],
        Json(state.config.clone()),
    )
}

/// A server started by [`start`], serving in the background.
pub struct RunningServer {
    addr: SocketAddr,
    state: Arc<AppState>,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl RunningServer {
    /// The address it listens on (the real port when started on port 0).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Its shared state (Realtime counters and hub, for tests and benchmarks).
    pub fn state(&self) -> &Arc<AppState> {
        &self.state
    }

    /// Stops accepting connections and waits for HTTP requests in flight.
    pub async fn stop(self) -> Result<(), StartError> {
        let _ = self.stop.send(());
        match self.task.await {
            Ok(result) => Ok(result?),
            Err(join) => Err(StartError::Io(std::io::Error::other(join))),
        }
    }

    /// Serves until the server fails.
    pub async fn wait(self) -> Result<(), StartError> {
        let RunningServer { stop, task, .. } = self;
        let result = task.await;
        drop(stop);
        match result {
            Ok(result) => Ok(result?),
            Err(join) => Err(StartError::Io(std::io::Error::other(join))),
        }
    }
}

/// Binds `args.listen` and serves in a background task; returns once the listener is bound.
/// Tests and the benchmark start servers on `127.0.0.1:0` this way.
pub async fn start(args: Args) -> Result<RunningServer, StartError> {
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
    let addr = listener.local_addr()?;
    let app = router(state.clone(), args.static_dir.clone());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    // Realtime frames are small and latency-bound: Nagle's algorithm would hold them back
    // behind delayed ACKs (tens of ms).
    let listener = listener.tap_io(|tcp| {
        if let Err(err) = tcp.set_nodelay(true) {
            tracing::debug!(%err, "TCP_NODELAY not set");
        }
    });
    let task = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = stopped.await;
            })
            .await
    });
    Ok(RunningServer {
        addr,
        state,
        stop,
        task,
    })
}

/// Runs the server until Ctrl-C or SIGTERM.
pub async fn serve(args: Args) -> Result<(), StartError> {
    let server = start(args).await?;
    tracing::info!("pairux-server listening on http://{}", server.addr());
    shutdown_signal().await;
    server.stop().await
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
