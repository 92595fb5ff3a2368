//! The socket side: an axum WebSocket endpoint on 127.0.0.1 and one task (the hub) that owns
//! the core [`Agent`], numbers sockets, and executes its actions.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use pairux_core::agent::{
    Action, Agent, AgentConfig, ConnId, Display, CODE_RANDOM_LEN, DEFAULT_PORT, TEXT_RANDOM_LEN,
};
use rand::RngCore;
use tokio::sync::mpsc;

enum HubEvent {
    Open {
        conn: ConnId,
        origin: Option<String>,
        tx: mpsc::UnboundedSender<Message>,
    },
    Text {
        conn: ConnId,
        text: String,
    },
    Closed {
        conn: ConnId,
    },
    Emergency,
    /// The process is asked to stop: let go of everything, then end.
    Shutdown,
}

#[derive(Clone)]
struct Shared {
    origins: Arc<Vec<String>>,
    hub: mpsc::UnboundedSender<HubEvent>,
    next: Arc<std::sync::atomic::AtomicU64>,
}

pub async fn serve(addr: SocketAddr, origins: Vec<String>, hotkey: bool) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let (hub_tx, hub_rx) = mpsc::unbounded_channel();
    let displays = displays();
    let injector = crate::inject::spawn();
    #[cfg(all(target_os = "linux", feature = "x11"))]
    if injector.is_some() {
        let released = crate::x11::release_leftovers();
        if released > 0 {
            tracing::warn!(
                "sent a release for {released} keys and buttons found down as this agent started (one an agent before it left down, or a real device's, which it does not touch)"
            );
        }
    }
    let mut code_random = [0u8; CODE_RANDOM_LEN];
    rand::rngs::OsRng.fill_bytes(&mut code_random);
    let agent = Agent::new(
        AgentConfig {
            origins: origins.clone(),
            version: env!("CARGO_PKG_VERSION").into(),
            port: listener.local_addr()?.port(),
        },
        &code_random,
        if injector.is_some() {
            displays.clone()
        } else {
            Vec::new()
        },
    );
    let hotkey_state = if hotkey {
        arm_hotkey(hub_tx.clone())
    } else {
        "off (--no-hotkey)".into()
    };
    println!(
        "PairUX agent listening on ws://{addr} for {}",
        origins.join(", ")
    );
    println!(
        "Displays: {}",
        if injector.is_none() {
            "none (no display server to inject into)".to_owned()
        } else {
            describe(&displays)
        }
    );
    println!("Emergency revoke (Ctrl+Shift+Esc): {hotkey_state}");
    print_code(&agent.code(), addr.port());
    let shared = Shared {
        origins: Arc::new(origins),
        hub: hub_tx,
        next: Arc::new(1.into()),
    };
    let stop = shared.hub.clone();
    let hub = tokio::spawn(hub(agent, hub_rx, injector, addr.port(), displays));
    let app = Router::new().route("/", get(upgrade)).with_state(shared);
    // Whatever stops the process — Ctrl+C, `kill`, its terminal closing — keys and buttons
    // a controller held must not stay down on this computer (the OS would repeat a key for
    // good): the hub releases them and waits until the injector has applied that.
    tokio::select! {
        served = axum::serve(listener, app) => served?,
        why = stop_signal() => {
            tracing::info!("{why}: letting go of everything held, then stopping");
            let _ = stop.send(HubEvent::Shutdown);
            let _ = hub.await;
        }
    }
    Ok(())
}

/// The first of SIGINT, SIGTERM and SIGHUP (Ctrl+C elsewhere), by name.
async fn stop_signal() -> &'static str {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let (Ok(mut term), Ok(mut hup)) = (
            signal(SignalKind::terminate()),
            signal(SignalKind::hangup()),
        ) else {
            let _ = tokio::signal::ctrl_c().await;
            return "interrupted";
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => "interrupted",
            _ = term.recv() => "terminated",
            _ = hup.recv() => "hung up",
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
        "interrupted"
    }
}

/// How often the displays are looked at again.
const DISPLAYS_EVERY: Duration = Duration::from_secs(3);

fn describe(displays: &[Display]) -> String {
    displays
        .iter()
        .map(|d| format!("{}x{} at {},{}", d.w, d.h, d.x, d.y))
        .collect::<Vec<_>>()
        .join("; ")
}

fn print_code(code: &str, port: u16) {
    let shown = if port == DEFAULT_PORT {
        code.to_owned()
    } else {
        format!("{code}@{port}")
    };
    // One line a person reads and a harness can parse.
    println!("Pairing code: {shown}  (enter it in the host's tab under \"Agent\")");
}

fn displays() -> Vec<Display> {
    #[cfg(all(target_os = "linux", feature = "x11"))]
    if let Some(list) = crate::x11::displays() {
        return list;
    }
    crate::inject::main_display()
        .map(|(w, h)| {
            vec![Display {
                x: 0,
                y: 0,
                w: w.max(0) as u32,
                h: h.max(0) as u32,
            }]
        })
        .unwrap_or_default()
}

fn arm_hotkey(hub: mpsc::UnboundedSender<HubEvent>) -> String {
    #[cfg(all(target_os = "linux", feature = "x11"))]
    return match crate::x11::hotkey(move || {
        let _ = hub.send(HubEvent::Emergency);
    }) {
        Ok(()) => "armed".into(),
        Err(err) => format!("not available: {err}; use Revoke in the host's tab"),
    };
    #[cfg(not(all(target_os = "linux", feature = "x11")))]
    {
        drop(hub);
        "not available on this system; use Revoke in the host's tab".into()
    }
}

async fn upgrade(State(s): State<Shared>, headers: HeaderMap, ws: WebSocketUpgrade) -> Response {
    let origin = headers
        .get("origin")
        .and_then(|o| o.to_str().ok())
        .map(str::to_owned);
    // A page from anywhere else does not even get a socket.
    if !origin.as_ref().is_some_and(|o| s.origins.contains(o)) {
        tracing::warn!("refused a page from origin {origin:?}");
        let conn = s.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let (tx, _rx) = mpsc::unbounded_channel();
        let _ = s.hub.send(HubEvent::Open { conn, origin, tx });
        return (StatusCode::FORBIDDEN, "origin not allowed").into_response();
    }
    ws.max_message_size(pairux_core::agent::MAX_FRAME_BYTES)
        .on_upgrade(move |socket| connection(s, origin, socket))
}

async fn connection(s: Shared, origin: Option<String>, mut socket: WebSocket) {
    let conn = s.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let (tx, mut rx) = mpsc::unbounded_channel();
    if s.hub.send(HubEvent::Open { conn, origin, tx }).is_err() {
        return;
    }
    loop {
        tokio::select! {
            out = rx.recv() => match out {
                Some(msg @ Message::Close(_)) => {
                    let _ = socket.send(msg).await;
                    break;
                }
                Some(msg) => {
                    if socket.send(msg).await.is_err() {
                        break;
                    }
                }
                None => break,
            },
            incoming = socket.recv() => match incoming {
                Some(Ok(Message::Text(text))) => {
                    let _ = s.hub.send(HubEvent::Text { conn, text: text.to_string() });
                }
                Some(Ok(Message::Binary(_))) => {
                    let _ = s.hub.send(HubEvent::Text { conn, text: String::new() });
                }
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
                Some(Ok(Message::Close(_)) | Err(_)) | None => break,
            },
        }
    }
    let _ = s.hub.send(HubEvent::Closed { conn });
}

async fn hub(
    mut agent: Agent,
    mut events: mpsc::UnboundedReceiver<HubEvent>,
    injector: Option<crate::inject::Injector>,
    port: u16,
    mut known: Vec<Display>,
) {
    let start = Instant::now();
    let mut sockets: HashMap<ConnId, mpsc::UnboundedSender<Message>> = HashMap::new();
    let mut report = tokio::time::interval(Duration::from_secs(60));
    report.tick().await;
    // Monitors plugged in or out, or rearranged: looked at again every few seconds, so input
    // never goes by a layout that is no longer there.
    let mut look = tokio::time::interval(DISPLAYS_EVERY);
    look.tick().await;
    let mut reported = agent.stats();
    loop {
        // A held key whose controller went silent (`HELD_KEY_SILENCE_MS`).
        let deadline = agent.poll_timeout();
        let due = async move {
            match deadline {
                Some(at) => {
                    tokio::time::sleep_until((start + Duration::from_millis(at)).into()).await
                }
                None => std::future::pending().await,
            }
        };
        let event = tokio::select! {
            e = events.recv() => match e { Some(e) => e, None => return },
            () = due => {
                let now = start.elapsed().as_millis() as u64;
                let actions = agent.handle_timeout(now);
                if !actions.is_empty() {
                    tracing::warn!("a held key was let go: no key-down of it came for a while");
                }
                run(actions, &mut sockets, injector.as_ref(), port);
                continue;
            }
            _ = report.tick() => {
                if agent.stats() != reported {
                    reported = agent.stats();
                    log_stats(&agent);
                }
                continue;
            }
            _ = look.tick(), if injector.is_some() => {
                let now = tokio::task::spawn_blocking(displays).await.unwrap_or_default();
                if now != known {
                    println!("Displays now: {}", describe(&now));
                    known = now.clone();
                    let actions = agent.set_displays(now);
                    run(actions, &mut sockets, injector.as_ref(), port);
                }
                continue;
            }
        };
        let now = start.elapsed().as_millis() as u64;
        let actions = match event {
            HubEvent::Open { conn, origin, tx } => {
                sockets.insert(conn, tx);
                let mut nonce = [0u8; 16];
                rand::rngs::OsRng.fill_bytes(&mut nonce);
                let out = agent.open(conn, origin.as_deref(), &nonce);
                if origin.is_some() && agent.origin_allowed(origin.as_deref()) {
                    tracing::info!("page connected from {}", origin.unwrap_or_default());
                }
                out
            }
            HubEvent::Text { conn, text } => {
                let mut random = [0u8; TEXT_RANDOM_LEN];
                rand::rngs::OsRng.fill_bytes(&mut random);
                let was = agent.is_paired();
                let out = agent.text(now, conn, &text, &random);
                if !was && agent.is_paired() {
                    tracing::info!("paired");
                }
                out
            }
            HubEvent::Closed { conn } => {
                sockets.remove(&conn);
                let was = agent.is_paired();
                let out = agent.close(now, conn);
                if was && !agent.is_paired() {
                    tracing::info!("page disconnected; everything held was released");
                    log_stats(&agent);
                }
                out
            }
            HubEvent::Emergency => {
                tracing::warn!("Ctrl+Shift+Esc: control revoked for everyone");
                agent.emergency()
            }
            HubEvent::Shutdown => {
                let actions = agent.shutdown();
                log_stats(&agent);
                run(actions, &mut sockets, injector.as_ref(), port);
                if let Some(injector) = injector {
                    // The injector applies what is queued before its thread ends.
                    let _ = tokio::task::spawn_blocking(move || injector.finish()).await;
                }
                return;
            }
        };
        run(actions, &mut sockets, injector.as_ref(), port);
    }
}

/// Carries out the agent's actions: messages and closes to sockets, input to the injector.
fn run(
    actions: Vec<Action>,
    sockets: &mut HashMap<ConnId, mpsc::UnboundedSender<Message>>,
    injector: Option<&crate::inject::Injector>,
    port: u16,
) {
    for action in actions {
        match action {
            Action::Send(conn, text) => {
                if let Some(tx) = sockets.get(&conn) {
                    let _ = tx.send(Message::Text(text.into()));
                }
            }
            Action::Close(conn) => {
                if let Some(tx) = sockets.remove(&conn) {
                    let _ = tx.send(Message::Close(None));
                }
            }
            Action::Cut => {
                if let Some(injector) = injector {
                    injector.cut();
                }
            }
            Action::Inject(op) => {
                if let Some(injector) = injector {
                    injector.send(op);
                }
            }
            Action::NewCode(code) => print_code(&code, port),
        }
    }
}

fn log_stats(agent: &Agent) {
    let s = agent.stats();
    tracing::info!(
        "injected {} events (moves {}, buttons {}, keys {}, texts {}, scrolls {}); held keys let go unheard {}; dropped: not a holder {}, not driving {}, over rate {}, reserved chord {}, malformed {}; refused: origin {}, code {}, busy {}",
        s.injected(), s.moves, s.buttons, s.keys, s.texts, s.scrolls, s.keys_let_go,
        s.not_holder, s.not_driving, s.over_rate, s.reserved, s.malformed,
        s.refused_origin, s.refused_code, s.refused_busy
    );
}
