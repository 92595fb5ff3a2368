//! `pairux-server focus …`: a Session Focus on its own, next to a main server started with
//! `--focus external` (which writes its nodes to `<run-dir>/nodes.json`). It serves its own
//! `POST /api/access` (CORS open: the app is served from another origin), `GET /health` and the
//! loopback-only `/focus/*` endpoints. Several of them share one PostgreSQL database and one
//! key file; the main server's config.json lists them as `accessUrl` / `accessFallbackUrls`.
//! When the main server runs coturn, `nodes.json`'s `turn` section lets the focus's grants carry
//! TURN credentials minted exactly as the main server's (`crate::turn::TurnIssuer`).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::routing::{get, post};
use axum::{Json, Router};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use super::nodes::NodesFile;
use super::store::Store;
use super::{FocusError, FocusService, FocusSetup};
use crate::access::{Access, AccessArgs};
use crate::ClientConfig;

/// Command line of `pairux-server focus`.
#[derive(Debug, Clone, clap::Parser)]
#[command(
    name = "pairux-server focus",
    about = "Run a Session Focus on its own: it decides P2P or SFU and which SFU node for each \
             session, announces decisions on the session channels, and grants rooms, tokens \
             and TURN credentials at its own /api/access"
)]
pub struct FocusCommand {
    /// The main pairux-server (http://host:port): its /config.json names the Realtime endpoint
    /// and anon key the focus watches session channels with.
    #[arg(long)]
    pub server: String,
    /// The SFU nodes and, when the main server runs coturn, its TURN URLs and shared secret
    /// (the main server writes <run-dir>/nodes.json; restart the focus when it restarts).
    #[arg(long)]
    pub nodes_file: PathBuf,
    /// PostgreSQL URL of the shared store (default: in memory, this process only).
    #[arg(long, env = "PAIRUX_DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
    /// Address to listen on (/api/access, /health, /focus/*).
    #[arg(long, default_value = "127.0.0.1:8090")]
    pub listen: SocketAddr,
    /// The signing key shared by every focus process (created 0600 when missing).
    #[arg(long)]
    pub focus_key_file: PathBuf,
    /// An Auto session moves from P2P to an SFU when it has this many participants.
    #[arg(long, default_value_t = 10)]
    pub sfu_threshold: u32,
    /// Limits of /api/access.
    #[command(flatten)]
    pub access: AccessArgs,
    /// Reverse proxies in front of this focus.
    #[command(flatten)]
    pub proxy: crate::client_key::ProxyArgs,
    /// When idle sessions are closed.
    #[command(flatten)]
    pub idle: super::IdleArgs,
}

/// Why the standalone focus stopped.
#[derive(Debug, thiserror::Error)]
pub enum StandaloneError {
    #[error(transparent)]
    Focus(#[from] FocusError),
    #[error("cannot read {0}/config.json: {1}")]
    Config(String, String),
    #[error("cannot listen on {0}: {1}")]
    Bind(SocketAddr, std::io::Error),
    #[error("server stopped: {0}")]
    Io(#[from] std::io::Error),
}

/// Runs until Ctrl-C or SIGTERM.
pub async fn run(cmd: FocusCommand) -> Result<(), StandaloneError> {
    let NodesFile { nodes, turn } = NodesFile::read(&cmd.nodes_file).map_err(FocusError::from)?;
    match &turn {
        Some(turn) => tracing::info!(
            "focus: grants carry TURN credentials for {} (from {})",
            turn.turn_urls.join(" "),
            cmd.nodes_file.display()
        ),
        None => tracing::info!(
            "focus: {} has no turn section (the main server runs no coturn): grants carry no \
             TURN credentials",
            cmd.nodes_file.display()
        ),
    }
    let config = fetch_config(&cmd.server).await?;
    let key = super::key::load_or_create(&cmd.focus_key_file).map_err(FocusError::from)?;
    let store = Arc::new(match &cmd.database_url {
        Some(url) => Store::postgres(url).await.map_err(FocusError::from)?,
        None => Store::memory(),
    });
    let listener = tokio::net::TcpListener::bind(cmd.listen)
        .await
        .map_err(|e| StandaloneError::Bind(cmd.listen, e))?;
    let focus = FocusService::start(FocusSetup {
        threshold: cmd.sfu_threshold,
        key,
        nodes,
        store: store.clone(),
        realtime_url: config.realtime_url,
        anon_key: config.anon_key,
        exits: Vec::new(),
        idle: cmd.idle,
    })
    .await?;
    let access = Arc::new(Access::new(turn, Some(focus.clone()), store, cmd.access));
    let cors = crate::access::cors();
    let app = Router::new()
        .route("/api/access", post(crate::access::handle))
        .with_state(access)
        .route(
            "/health",
            get(|| async { Json(serde_json::json!({"status": "ok"})) }),
        )
        .layer(cors)
        .merge(super::http::routes(focus.clone()))
        .layer(axum::middleware::from_fn_with_state(
            Arc::new(cmd.proxy.trusted.clone()),
            crate::client_key::client_addr,
        ));
    tracing::info!(
        "pairux-server focus listening on http://{} (focus key {})",
        listener.local_addr()?,
        focus.public_key()
    );
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(crate::shutdown_signal())
    .await?;
    Ok(())
}

/// GET `<server>/config.json` (plain HTTP; the focus runs beside the server).
async fn fetch_config(server: &str) -> Result<ClientConfig, StandaloneError> {
    let fail = |why: String| StandaloneError::Config(server.to_owned(), why);
    let rest = server
        .strip_prefix("http://")
        .ok_or_else(|| fail("--server must be an http:// URL".into()))?;
    let host = rest.trim_end_matches('/');
    if host.contains('/') {
        return Err(fail("--server takes no path".into()));
    }
    let mut last = String::new();
    // The server may still be starting: try for a while.
    for _ in 0..40 {
        match get_config(host).await {
            Ok(config) => return Ok(config),
            Err(why) => last = why,
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    Err(fail(last))
}

async fn get_config(host: &str) -> Result<ClientConfig, String> {
    let mut tcp =
        tokio::time::timeout(Duration::from_secs(2), tokio::net::TcpStream::connect(host))
            .await
            .map_err(|_| "timed out".to_owned())?
            .map_err(|e| e.to_string())?;
    let request = format!("GET /config.json HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    tcp.write_all(request.as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    let mut body = Vec::new();
    tokio::time::timeout(
        Duration::from_secs(5),
        (&mut tcp).take(1 << 20).read_to_end(&mut body),
    )
    .await
    .map_err(|_| "timed out".to_owned())?
    .map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&body);
    let (head, json) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| "not an HTTP answer".to_owned())?;
    if !head.starts_with("HTTP/1.1 200") {
        return Err(head.lines().next().unwrap_or_default().to_owned());
    }
    if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        return Err("chunked answers are not read".into());
    }
    serde_json::from_str(json).map_err(|e| e.to_string())
}
