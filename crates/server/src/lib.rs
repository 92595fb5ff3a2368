//! The local PairUX server: static app with SPA fallback, `GET /config.json`, `GET /health`,
//! the Supabase-Realtime-compatible endpoint (`realtime`), and — when it runs Janus SFU nodes
//! (`sfu`) and/or coturn (`turn`) beside itself (`media`) — `POST /api/access`, where link
//! holders get TURN credentials, rooms and Janus tokens (`access`) as the Session Focus
//! (`focus`) decides; `pairux-server focus …` runs a focus on its own (`focus::standalone`).
//!
//! Architecture invariant: the server never sees a room key, a controller secret or anything
//! from a link fragment; it knows sessions only by their public topic.

pub mod access;
pub mod client_key;
pub mod config;
pub mod focus;
pub mod jwt;
pub mod media;
pub mod page;
mod random;
pub mod realtime;
pub mod sfu;
pub mod supervise;
mod template;
pub mod turn;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, HeaderValue};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::serve::ListenerExt as _;
use axum::{Json, Router};
use tower_http::services::ServeDir;
use tower_http::set_header::SetResponseHeaderLayer;

pub use config::ClientConfig;

/// Command line of `pairux-server`.
#[derive(Debug, Clone, clap::Parser)]
#[command(
    name = "pairux-server",
    version,
    about,
    after_help = "Subcommand: `pairux-server focus --help` runs a Session Focus on its own \
                  (next to a server started with --focus external)."
)]
pub struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Stop (with Janus and coturn) once the process that started this one has gone, however
    /// it went: `cargo xtask run` passes it, so a supervisor's SIGTERM or SIGKILL to that leaves
    /// nothing behind holding the ports.
    #[arg(long, hide = true)]
    pub exit_with_parent: bool,
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
    /// Janus SFU nodes and coturn.
    #[command(flatten)]
    pub media: media::MediaArgs,
    /// Limits of /api/access.
    #[command(flatten)]
    pub access: access::AccessArgs,
    /// Reverse proxies in front of this server.
    #[command(flatten)]
    pub proxy: client_key::ProxyArgs,
    /// The Session Focus.
    #[command(flatten)]
    pub focus: focus::FocusArgs,
}

/// Everything request handlers share.
pub struct AppState {
    pub config: ClientConfig,
    /// Channels, presence and counters of the Realtime endpoint.
    pub realtime: Arc<realtime::RealtimeState>,
    /// `POST /api/access` (grants nothing until media servers run).
    pub access: Arc<access::Access>,
    /// `--trusted-proxy`: whose `X-Forwarded-For` names the client (`client_key::client_addr`).
    pub trusted_proxies: Arc<Vec<ipnet::IpNet>>,
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
    #[error(transparent)]
    Media(#[from] media::MediaError),
    #[error(transparent)]
    Focus(#[from] focus::FocusError),
    #[error("server stopped: {0}")]
    Io(#[from] std::io::Error),
}

/// Builds the shared state from the command line, without media servers (see
/// [`state_with_media`]).
pub fn state_from_args(args: &Args, secret: &str) -> Result<AppState, StartError> {
    state_with_media(args, secret, &media::Media::none())
}

/// Builds the shared state from the command line and the running media servers, without a
/// focus (see [`state_with_focus`]).
pub fn state_with_media(
    args: &Args,
    secret: &str,
    media: &media::Media,
) -> Result<AppState, StartError> {
    state_with_focus(args, secret, media, &Focused::default())
}

/// The focus part of the state: the in-process focus, or the external ones' URLs and key.
#[derive(Default)]
pub struct Focused {
    pub focus: Option<Arc<focus::FocusService>>,
    /// Pins and nonces (the focus's store when it runs).
    pub store: Option<Arc<focus::store::Store>>,
    /// config.json's focusKey.
    pub focus_key: Option<String>,
    /// External focus processes' access URLs, in order.
    pub access_urls: Vec<String>,
}

fn base_config(
    args: &Args,
    secret: &str,
    media: &media::Media,
) -> Result<(ClientConfig, String), StartError> {
    let public_url = args
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{}", args.listen));
    let mut ice_servers: Vec<config::IceServer> =
        serde_json::from_str(&args.ice_servers).map_err(StartError::IceServers)?;
    let anon_key = jwt::mint_anon_key(secret, jwt::now_secs())?;
    if let Some(turn) = &media.turn {
        ice_servers.insert(
            0,
            config::IceServer {
                urls: pairux_core::config::IceUrls::One(turn.stun_url()),
                username: None,
                credential: None,
            },
        );
    }
    Ok((
        ClientConfig::for_public_url(&public_url, anon_key, ice_servers),
        public_url,
    ))
}

/// Builds the shared state: config.json names the STUN server, the SFU, the access endpoint(s)
/// and the focus key when they exist.
pub fn state_with_focus(
    args: &Args,
    secret: &str,
    media: &media::Media,
    focused: &Focused,
) -> Result<AppState, StartError> {
    let (mut config, public_url) = base_config(args, secret, media)?;
    let store = focused
        .store
        .clone()
        .unwrap_or_else(|| Arc::new(focus::store::Store::memory()));
    let access = access::Access::new(
        media.turn.as_ref().map(|t| t.issuer()),
        focused.focus.clone(),
        store,
        args.access,
    );
    if let Some((first, rest)) = focused.access_urls.split_first() {
        config.access_url = Some(first.clone());
        config.access_fallback_urls = rest.to_vec();
    } else if access.grants_anything() {
        config.access_url = Some(format!("{}/api/access", public_url.trim_end_matches('/')));
    }
    config.focus_key = focused.focus_key.clone();
    config.sfu = media
        .sfu
        .as_ref()
        .and_then(|sfu| sfu.nodes().first())
        .map(|node| config::SfuConfig {
            janus_url: node.janus_url.clone(),
        });
    config.relay_only = args.media.relay_only;
    Ok(AppState {
        config,
        realtime: Arc::new(realtime::RealtimeState::new(&args.realtime, secret)),
        access: Arc::new(access),
        trusted_proxies: Arc::new(args.proxy.trusted.clone()),
    })
}

/// The HTTP routes.
pub fn router(state: Arc<AppState>, static_dir: PathBuf) -> Router {
    // The app's page, with this server's client config in it (`page`). Unknown paths (e.g.
    // /s/<id>) get it too, so the app's router takes over.
    let page = Arc::new(page::AppPage::new(
        static_dir.join("index.html"),
        &state.config,
    ));
    let app_page = get(page::serve).with_state(page);
    let app_files = Router::new()
        .route("/", app_page.clone())
        .route("/index.html", app_page.clone())
        // The build writes each file's Brotli and gzip forms beside it (`cargo xtask compress`,
        // a Trunk post-build hook): the one the browser accepts goes out, Brotli first.
        .fallback_service(
            ServeDir::new(&static_dir)
                .precompressed_br()
                .precompressed_gzip()
                .fallback(app_page),
        )
        .layer(axum::middleware::from_fn(static_caching));
    let realtime = realtime::routes(state.realtime.clone());
    let access = Router::new()
        .route("/api/access", post(access::handle))
        .with_state(state.access.clone())
        .layer(access::cors());
    let focus_admin = match state.access.focus() {
        Some(focus) => focus::http::routes(focus.clone()),
        None => Router::new(),
    };
    let trusted = state.trusted_proxies.clone();
    Router::new()
        .route("/health", get(health))
        .route("/config.json", get(client_config))
        .with_state(state)
        .merge(realtime)
        .merge(access)
        .merge(focus_admin)
        .fallback_service(app_files)
        .layer(SetResponseHeaderLayer::if_not_present(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ))
        // Who sent each request, for the per-address limits and the focus administration.
        .layer(axum::middleware::from_fn_with_state(
            trusted,
            client_key::client_addr,
        ))
}

/// Sets `Cache-Control` on a static file's answer (see [`static_cache_control`]).
async fn static_caching(
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let policy = static_cache_control(req.uri().path());
    let wants_file = names_a_file(req.uri().path());
    let mut res = next.run(req).await;
    // A missing file is not answered with index.html (the fallback for the app's pages): a
    // page under a content-hashed name would be kept a year in place of the file it names.
    let is_html = res
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|t| t.as_bytes().starts_with(b"text/html"));
    if wants_file && is_html {
        return (axum::http::StatusCode::NOT_FOUND, "no such file").into_response();
    }
    if res.status().is_success() || res.status() == axum::http::StatusCode::NOT_MODIFIED {
        res.headers_mut()
            .entry(header::CACHE_CONTROL)
            .or_insert(HeaderValue::from_static(policy));
        // A file's bytes depend on the request's Accept-Encoding (compressed forms, above).
        if wants_file {
            res.headers_mut()
                .entry(header::VARY)
                .or_insert(HeaderValue::from_static("accept-encoding"));
        }
    }
    res
}

/// Whether `path` asks for a file (its last segment has an extension other than `.html`),
/// not for one of the app's pages (`/`, `/s/<id>`, any other path the app answers itself).
fn names_a_file(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or_default();
    name.contains('.') && !name.ends_with(".html")
}

/// How long a browser may keep a static file without asking again. Trunk names the app's
/// files after a hash of their content (`pairux-web-<hex>_bg.wasm`, `main-<hex>.css`), so what
/// is under such a name never changes: kept a year, never revalidated (a returning person's
/// browser starts the app without a request, and with V8's cached code for it). Everything
/// else — `index.html`, which names the hashed files (and what a session path answers with),
/// and the unhashed worker and test-pattern modules — is revalidated every time (a 304 when
/// unchanged), so a rebuilt app never meets a stale page.
pub fn static_cache_control(path: &str) -> &'static str {
    let name = path.rsplit('/').next().unwrap_or_default();
    let stem = name.split('.').next().unwrap_or_default();
    let stem = stem.strip_suffix("_bg").unwrap_or(stem);
    let hashed = stem.rsplit_once('-').is_some_and(|(base, hash)| {
        !base.is_empty()
            && (8..=16).contains(&hash.len())
            && hash
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    });
    if hashed && name.contains('.') {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    }
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
    media: media::Media,
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

    /// The media servers it runs (Janus nodes, coturn), for tests.
    pub fn media(&self) -> &media::Media {
        &self.media
    }

    /// Stops accepting connections, waits for HTTP requests in flight, then stops Janus and
    /// coturn.
    pub async fn stop(self) -> Result<(), StartError> {
        let RunningServer {
            stop,
            task,
            mut media,
            ..
        } = self;
        let _ = stop.send(());
        let result = task.await;
        media.stop().await;
        match result {
            Ok(result) => Ok(result?),
            Err(join) => Err(StartError::Io(std::io::Error::other(join))),
        }
    }

    /// Serves until the server fails.
    pub async fn wait(self) -> Result<(), StartError> {
        let RunningServer {
            stop,
            task,
            mut media,
            ..
        } = self;
        let result = task.await;
        media.stop().await;
        drop(stop);
        match result {
            Ok(result) => Ok(result?),
            Err(join) => Err(StartError::Io(std::io::Error::other(join))),
        }
    }
}

/// Binds `args.listen`, starts the media servers asked for (waiting until they serve) and
/// serves in a background task. Tests and the benchmark start servers on `127.0.0.1:0` this way.
pub async fn start(mut args: Args) -> Result<RunningServer, StartError> {
    let secret = match &args.jwt_secret {
        Some(secret) => secret.clone(),
        None => jwt::random_secret(),
    };
    // Fail on a bad flag or a taken port before starting any child.
    state_from_args(&args, &secret)?;
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .map_err(|source| StartError::Bind {
            addr: args.listen,
            source,
        })?;
    let addr = listener.local_addr()?;
    if args.public_url.is_none() {
        // The real port when started on port 0.
        args.public_url = Some(format!("http://{addr}"));
    }
    let media = media::Media::start(&args.media).await?;
    let focused = match start_focus(&args, &secret, &media, addr).await {
        Ok(focused) => focused,
        Err(err) => {
            let mut media = media;
            media.stop().await;
            return Err(err);
        }
    };
    let state = Arc::new(state_with_focus(&args, &secret, &media, &focused)?);
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
        // Client addresses reach /api/access's per-address rate limit.
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(async {
            let _ = stopped.await;
        })
        .await
    });
    Ok(RunningServer {
        addr,
        state,
        media,
        stop,
        task,
    })
}

/// The focus part of a starting server: with SFU nodes, their registry (and coturn's TURN URLs
/// and secret, when it runs) is written to `<run-dir>/nodes.json` (0600) and — `--focus
/// internal` — a focus starts in this process; with `--focus external`, config.json points at
/// the `--focus-url` processes and their key.
async fn start_focus(
    args: &Args,
    secret: &str,
    media: &media::Media,
    addr: SocketAddr,
) -> Result<Focused, StartError> {
    let f = &args.focus;
    let key_path = f
        .focus_key_file
        .clone()
        .unwrap_or_else(|| media.run_dir.join("focus.key"));
    if f.focus == focus::FocusMode::External {
        if f.focus_urls.is_empty() {
            return Err(focus::FocusError::Config(
                "--focus external needs at least one --focus-url".into(),
            )
            .into());
        }
        if let Some(sfu) = &media.sfu {
            let entries: Vec<_> = sfu
                .nodes()
                .iter()
                .map(|n| n.entry(&f.region, f.sfu_capacity))
                .collect();
            write_nodes(media, &entries)?;
        }
        let key = if f.focus_key_file.is_some() || key_path.exists() {
            Some(
                focus::key::load_or_create(&key_path)
                    .map_err(focus::FocusError::from)?
                    .public()
                    .encode(),
            )
        } else {
            None
        };
        return Ok(Focused {
            focus: None,
            store: None,
            focus_key: key,
            access_urls: f
                .focus_urls
                .iter()
                .map(|u| format!("{}/api/access", u.trim_end_matches('/')))
                .collect(),
        });
    }
    let Some(sfu) = &media.sfu else {
        return Ok(Focused::default());
    };
    let entries: Vec<_> = sfu
        .nodes()
        .iter()
        .map(|n| n.entry(&f.region, f.sfu_capacity))
        .collect();
    write_nodes(media, &entries)?;
    let key = focus::key::load_or_create(&key_path).map_err(focus::FocusError::from)?;
    let store = match &f.database_url {
        Some(url) => focus::store::Store::postgres(url)
            .await
            .map_err(focus::FocusError::Store)?,
        None => focus::store::Store::memory(),
    };
    let store = Arc::new(store);
    // The focus watches channels on this server's own Realtime endpoint.
    let (config, _) = base_config(args, secret, media)?;
    let local = match addr.ip() {
        ip if ip.is_unspecified() => SocketAddr::new([127, 0, 0, 1].into(), addr.port()),
        _ => addr,
    };
    let focus = focus::FocusService::start(focus::FocusSetup {
        threshold: f.sfu_threshold,
        key,
        nodes: entries,
        store: store.clone(),
        realtime_url: format!("ws://{local}/realtime/v1/websocket"),
        anon_key: config.anon_key,
        exits: sfu
            .nodes()
            .iter()
            .map(|n| (n.id(), n.health_watch()))
            .collect(),
        idle: f.idle,
    })
    .await?;
    Ok(Focused {
        focus_key: Some(focus.public_key()),
        focus: Some(focus),
        store: Some(store),
        access_urls: Vec::new(),
    })
}

/// `<run-dir>/nodes.json` (0600): the nodes and, when coturn runs, what mints its TURN
/// credentials (so standalone focus processes grant TURN like this server).
fn write_nodes(
    media: &media::Media,
    entries: &[focus::nodes::NodeEntry],
) -> Result<(), StartError> {
    let path = media.run_dir.join("nodes.json");
    let turn = media.turn.as_ref().map(|t| t.issuer());
    focus::nodes::NodesFile::write(&path, entries, turn)
        .map_err(|source| StartError::Media(media::MediaError::RunDir { path, source }))
}

/// Runs the server until Ctrl-C or SIGTERM (or, with `--exit-with-parent`, until its parent
/// has gone).
pub async fn serve(args: Args) -> Result<(), StartError> {
    // The parent as it is now, before the (possibly slow) start: one that is gone meanwhile is
    // noticed too.
    let parent = args.exit_with_parent.then(parent_id);
    let server = start(args).await?;
    tracing::info!("pairux-server listening on http://{}", server.addr());
    let config = &server.state().config;
    if let Some(url) = &config.access_url {
        tracing::info!(
            "access grants at {url}{}{}",
            config
                .sfu
                .as_ref()
                .map(|s| format!(", SFU {}", s.janus_url))
                .unwrap_or_default(),
            if config.relay_only {
                ", relay only"
            } else {
                ""
            }
        );
    }
    tokio::select! {
        () = shutdown_signal() => {},
        () = parent_gone(parent.unwrap_or_default()), if parent.is_some() => {
            tracing::info!("the process that started pairux-server has gone: stopping");
        },
    }
    // Stops Janus and coturn too.
    server.stop().await
}

/// This process's parent (0 where there is no such notion).
fn parent_id() -> u32 {
    #[cfg(unix)]
    return std::os::unix::process::parent_id();
    #[cfg(not(unix))]
    0
}

/// Resolves once this process's parent is no longer `first` (it exited and this process was
/// handed to another), looked at twice a second.
async fn parent_gone(first: u32) {
    if !cfg!(unix) {
        return std::future::pending().await;
    }
    loop {
        if parent_id() != first {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
}

pub(crate) async fn shutdown_signal() {
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

#[cfg(test)]
mod tests {
    #[test]
    fn hashed_files_are_kept_and_the_rest_is_revalidated() {
        use super::static_cache_control as cc;
        let year = "public, max-age=31536000, immutable";
        for kept in [
            "/pairux-web-876565ead2d15c0c_bg.wasm",
            "/pairux-web-876565ead2d15c0c.js",
            "/main-d786d0095388dc42.css",
            "/favicon-16431e2c01382a1.svg",
        ] {
            assert_eq!(cc(kept), year, "{kept}");
        }
        for asked in [
            "/",
            "/index.html",
            "/s/AAECAwQFBgcICQoLDA0ODw",
            "/config.json",
            "/pairux-worker.js",
            "/pairux-worker_bg.wasm",
            "/pairux-worker_loader.js",
            "/pattern.mjs",
            "/code-page.json",
            // Not a content hash: too short, not hex, or nothing before it.
            "/app-1234.js",
            "/app-876565ead2d15c0g.js",
            "/-876565ead2d15c0c.js",
            "/s/abc-876565ead2d15c0c",
        ] {
            assert_eq!(cc(asked), "no-cache", "{asked}");
        }
    }
}
