//! The Session Focus with real Janus nodes on 127.0.0.1 (control plane only, like `sfu.rs`):
//! assignment to the least-loaded node, failover after `kill -9` announced on the session
//! channel, drain, the Auto upgrade at `--sfu-threshold`, idle sessions closed (rooms
//! destroyed, tokens removed) and reopened with a larger seq, and — on a real PostgreSQL — the
//! store's closing and reopening, two `pairux-server focus` processes sharing one database, and
//! a standalone focus granting TURN credentials for the main server's coturn (from nodes.json).
//!
//! Needs `janus`, `turnserver` and Debian's `postgresql` 15 (`cargo xtask setup`); the
//! PostgreSQL test runs it as the `postgres` user when run as root (`pg_support`).

mod pg_support;
mod ports;
mod scratch;

use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use clap::Parser as _;
use futures_util::{SinkExt as _, StreamExt as _};
use hmac::{Hmac, Mac as _};
use pairux_core::access::{AccessGrant, AccessKey, AccessRequest, SfuGrant, Want, NONCE_LEN};
use pairux_core::config::{IceServer, IceUrls};
use pairux_core::focus::{Decision, FocusFollower, Reason, FOCUS_EVENT};
use pairux_core::identity::PublicKey;
use pairux_core::janus::admin::{AdminOutcome, AdminRequest, VIDEOROOM};
use pairux_core::link::{RoomKey, SessionId};
use pairux_core::session::Topology;
use pairux_server::focus::nodes::NodeEntry;
use pairux_server::focus::realtime::{ChannelEvent, RealtimeHandle};
use pairux_server::focus::store::{PinOutcome, RoomRow, SessionRow, Store, TokenSlot};
use pairux_server::supervise::{find_binary, Health};
use pairux_server::{Args, RunningServer};
use ports::free_block;
use serde_json::{json, Value};
use tokio::sync::mpsc::UnboundedReceiver;
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::Message;

fn temp_dir(name: &str) -> PathBuf {
    scratch::dir(&format!("focus-{name}"))
}

/// A server with two Janus nodes (and coturn) on 127.0.0.1.
async fn start(name: &str, extra: &[String]) -> RunningServer {
    for (bin, env) in [
        ("janus", "PAIRUX_JANUS_BIN"),
        ("turnserver", "PAIRUX_TURNSERVER_BIN"),
    ] {
        assert!(
            find_binary(bin, env).is_some(),
            "`{bin}` is not on PATH (cargo xtask setup)"
        );
    }
    let dist = temp_dir(&format!("{name}-dist"));
    std::fs::write(dist.join("index.html"), "<!doctype html>").unwrap();
    let run_dir = temp_dir(&format!("{name}-run"));
    // Two nodes: base and base + 1 each; coturn's port and the next, its default
    // alt-listening-port.
    let (ws, admin, turn) = (free_block(2), free_block(2), free_block(2));
    // RTP ports are only reserved, never bound without media; spread them per test anyway.
    let rtp = 33000 + (ws % 25) * 1000;
    let mut argv: Vec<String> = [
        "pairux-server",
        "--listen",
        "127.0.0.1:0",
        "--sfu-nodes",
        "2",
        "--turn",
        "--media-ip",
        "127.0.0.1",
    ]
    .map(String::from)
    .to_vec();
    argv.extend([
        "--static".into(),
        dist.display().to_string(),
        "--run-dir".into(),
        run_dir.display().to_string(),
        "--janus-port-base".into(),
        ws.to_string(),
        "--janus-admin-port-base".into(),
        admin.to_string(),
        "--janus-rtp-base".into(),
        rtp.to_string(),
        "--turn-port".into(),
        turn.to_string(),
        "--access-burst".into(),
        "1000".into(),
        "--access-rate".into(),
        "1000".into(),
    ]);
    argv.extend(extra.iter().cloned());
    pairux_server::start(Args::parse_from(argv))
        .await
        .expect("server with two Janus nodes starts")
}

async fn stop(server: RunningServer) {
    let run_dir = server.media().run_dir.clone();
    server.stop().await.unwrap();
    let _ = std::fs::remove_dir_all(run_dir);
}

struct Link {
    session: SessionId,
    key: AccessKey,
}

impl Link {
    fn new(seed: u8) -> Link {
        let session = SessionId::from_bytes([seed; 16]);
        let key = AccessKey::derive(&RoomKey::from_bytes([seed ^ 0x33; 32]), &session);
        Link { session, key }
    }

    fn request(&self, want: Want) -> AccessRequest {
        let nonce: [u8; NONCE_LEN] = rand::random();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        self.key.request(&self.session, now, &nonce, want)
    }
}

/// POST /api/access at `url`.
async fn ask(url: &str, link: &Link, want: Want) -> (u16, Value) {
    let res = reqwest::Client::new()
        .post(url)
        .json(&link.request(want))
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

async fn grant(url: &str, link: &Link, want: Want) -> AccessGrant {
    let (status, body) = ask(url, link, want).await;
    assert_eq!(status, 200, "{body}");
    serde_json::from_value(body).unwrap()
}

/// The decision a grant carries, verified.
fn decision_of(grant: &AccessGrant, key: &PublicKey, session: SessionId) -> Decision {
    let mut follower = FocusFollower::new(*key, session);
    let signed = serde_json::to_value(grant.focus.as_ref().expect("a focus decision")).unwrap();
    follower.accept(&signed).unwrap().expect("a decision")
}

/// Janus accepts the grant's token and pin: join the room as publisher.
async fn join_as_publisher(sfu: &SfuGrant) -> Value {
    let mut req = sfu.janus_url.as_str().into_client_request().unwrap();
    req.headers_mut().insert(
        "Sec-WebSocket-Protocol",
        HeaderValue::from_static("janus-protocol"),
    );
    let (mut ws, _) = tokio_tungstenite::connect_async(req).await.unwrap();
    let mut call = async |frame: Value| -> Value {
        let tx = frame["transaction"].clone();
        ws.send(Message::text(frame.to_string())).await.unwrap();
        loop {
            let Some(Ok(Message::Text(text))) = ws.next().await else {
                panic!("Janus closed the socket");
            };
            let v: Value = serde_json::from_str(&text).unwrap();
            if v["transaction"] == tx && v["janus"] != "ack" {
                return v;
            }
        }
    };
    let t = &sfu.token;
    let created = call(json!({"janus":"create","token":t,"transaction":"a"})).await;
    let s = created["data"]["id"]
        .as_u64()
        .expect("create with the token");
    let attached = call(
        json!({"janus":"attach","session_id":s,"token":t,"transaction":"b",
                               "plugin":"janus.plugin.videoroom"}),
    )
    .await;
    let h = attached["data"]["id"].as_u64().unwrap();
    let joined = call(json!({"janus":"message","session_id":s,"handle_id":h,"token":t,"transaction":"c",
        "body":{"request":"join","ptype":"publisher","room":sfu.room,"pin":sfu.pin,"display":"host"}}))
    .await;
    joined["plugindata"]["data"].clone()
}

/// Janus's first answer to `create` with `token` (a session, or an error).
async fn create_with_token(janus_url: &str, token: &str) -> Value {
    let mut req = janus_url.into_client_request().unwrap();
    req.headers_mut().insert(
        "Sec-WebSocket-Protocol",
        HeaderValue::from_static("janus-protocol"),
    );
    let (mut ws, _) = tokio_tungstenite::connect_async(req).await.unwrap();
    let frame = json!({"janus": "create", "token": token, "transaction": "t"});
    ws.send(Message::text(frame.to_string())).await.unwrap();
    loop {
        let Some(Ok(Message::Text(text))) = ws.next().await else {
            panic!("Janus closed the socket");
        };
        let v: Value = serde_json::from_str(&text).unwrap();
        if v["transaction"] == "t" && v["janus"] != "ack" {
            return v;
        }
    }
}

/// VideoRoom `exists` for `room` on `node`, through its admin API.
async fn room_exists(node: &NodeEntry, room: u64) -> bool {
    let outcome = node
        .admin()
        .call(&AdminRequest::MessagePlugin {
            plugin: VIDEOROOM.into(),
            request: json!({"request": "exists", "room": room}),
        })
        .await
        .expect("the node answers");
    match outcome {
        AdminOutcome::Success {
            response: Some(r), ..
        } => r["exists"] == true,
        _ => panic!("unexpected answer to exists"),
    }
}

/// Waits for a verified focus decision on `session`'s channel matching `check`.
async fn next_decision(
    events: &mut UnboundedReceiver<ChannelEvent>,
    key: &PublicKey,
    session: SessionId,
    within: Duration,
    check: impl Fn(&Decision) -> bool,
) -> Decision {
    let topic = session.topic();
    let mut follower = FocusFollower::new(*key, session);
    let found = tokio::time::timeout(within, async {
        loop {
            let event = events.recv().await.expect("the driver runs");
            if let ChannelEvent::Broadcast {
                topic: t,
                event,
                payload,
            } = event
            {
                if t == topic && event == FOCUS_EVENT {
                    if let Ok(Some(d)) = follower.accept(&payload) {
                        if check(&d) {
                            return d;
                        }
                    }
                }
            }
        }
    })
    .await;
    found.unwrap_or_else(|_| panic!("no matching focus decision within {within:?}"))
}

async fn until_joined(events: &mut UnboundedReceiver<ChannelEvent>, topic: &str) {
    tokio::time::timeout(Duration::from_secs(5), async {
        while let Some(e) = events.recv().await {
            if e == (ChannelEvent::Joined {
                topic: topic.to_owned(),
            }) {
                return;
            }
        }
    })
    .await
    .expect("the channel is joined");
}

/// `n` fake participants tracked on `session`'s channel (each its own socket).
fn participants(
    config: &pairux_core::config::ClientConfig,
    session: SessionId,
    n: usize,
) -> Vec<RealtimeHandle> {
    (0..n)
        .map(|i| {
            let (rt, _events) = RealtimeHandle::start(&config.realtime_url, &config.anon_key);
            rt.join_tracked(
                &session.topic(),
                &format!("p{i}"),
                json!({"role": "viewer", "joined_at": i, "profile": "sealed"}),
            );
            rt
        })
        .collect()
}

#[tokio::test]
async fn the_focus_assigns_fails_over_drains_and_upgrades() {
    let server = start("one", &["--sfu-threshold".into(), "3".into()]).await;
    let config = server.state().config.clone();
    let key = PublicKey::parse(
        config
            .focus_key
            .as_deref()
            .expect("config.json names focusKey"),
    )
    .unwrap();
    let access = format!("http://{}/api/access", server.addr());
    let sfu = server.media().sfu.clone().unwrap();
    let node_of = |url: &str| sfu.nodes().iter().find(|n| n.janus_url == url).unwrap();
    let (watcher, mut events) = RealtimeHandle::start(&config.realtime_url, &config.anon_key);

    // Two SFU sessions go to the two nodes (least loaded first), each with a token Janus takes.
    let a = Link::new(1);
    let ga = grant(&access, &a, Want::Sfu).await;
    let da = decision_of(&ga, &key, a.session);
    // A session's first seq is the focus's start time (a restarted focus without a shared
    // store outranks whatever open tabs hold); each decision after it is one more.
    assert!(da.seq > 1_700_000_000_000, "first seq {}", da.seq);
    assert_eq!((da.topology, da.reason), (Topology::Sfu, Reason::Requested));
    let sfu_a = ga.sfu.clone().unwrap();
    assert_eq!(Some(node_of(&sfu_a.janus_url).id()), da.node);
    assert_eq!(join_as_publisher(&sfu_a).await["videoroom"], "joined");
    let b = Link::new(2);
    let gb = grant(&access, &b, Want::Sfu).await;
    let sfu_b = gb.sfu.clone().unwrap();
    assert_ne!(sfu_b.janus_url, sfu_a.janus_url, "the less loaded node");
    assert_eq!(join_as_publisher(&sfu_b).await["videoroom"], "joined");

    // kill -9 of A's node: a Failover decision to the other node on A's channel within 3 s.
    watcher.watch(&a.session.topic());
    until_joined(&mut events, &a.session.topic()).await;
    let dead = node_of(&sfu_a.janus_url);
    let Health::Up { pid, .. } = dead.health() else {
        panic!("node up")
    };
    let killed = Instant::now();
    assert!(std::process::Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .status()
        .unwrap()
        .success());
    let failover = next_decision(&mut events, &key, a.session, Duration::from_secs(3), |d| {
        d.reason == Reason::Failover
    })
    .await;
    eprintln!("failover announced {:?} after the kill", killed.elapsed());
    assert_eq!(failover.seq, da.seq + 1);
    assert_eq!(failover.node, Some(node_of(&sfu_b.janus_url).id()));
    let moved = grant(&access, &a, Want::Sfu).await.sfu.unwrap();
    assert_eq!(moved.janus_url, sfu_b.janus_url);
    assert_eq!(join_as_publisher(&moved).await["videoroom"], "joined");

    // The killed node comes back (supervisor); draining B's node moves both sessions to it.
    let focus = server.state().access.focus().unwrap().clone();
    let dead_id = dead.id();
    tokio::time::timeout(Duration::from_secs(15), async {
        loop {
            let status = focus.status();
            let up = status["nodes"]
                .as_array()
                .unwrap()
                .iter()
                .any(|n| n["id"] == dead_id.as_str() && n["health"] == "up");
            if up {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await
    .expect("the restarted node is up again");
    let drained = node_of(&sfu_b.janus_url).id();
    let drain = async |node: &str, on: bool| -> Value {
        let res = reqwest::Client::new()
            .post(format!(
                "http://{}/focus/drain?node={node}&on={on}",
                server.addr()
            ))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status().as_u16(), 200);
        res.json().await.unwrap()
    };
    let body = drain(&drained, true).await;
    assert_eq!(body["moved"], 2, "{body}");
    let d = next_decision(&mut events, &key, a.session, Duration::from_secs(3), |d| {
        d.reason == Reason::Drain
    })
    .await;
    assert_eq!(d.node, Some(dead_id.clone()));
    let back = grant(&access, &a, Want::Sfu).await.sfu.unwrap();
    assert_eq!(back.janus_url, sfu_a.janus_url);
    assert_eq!(join_as_publisher(&back).await["videoroom"], "joined");

    // Drained as well, that node has nowhere to send its sessions: they stay, and their
    // participants still get in (Janus keeps taking new sessions for them). Then both come back.
    assert_eq!(drain(&dead_id, true).await["moved"], 0);
    let stranded = grant(&access, &a, Want::Sfu).await.sfu.unwrap();
    assert_eq!(stranded.janus_url, sfu_a.janus_url);
    assert_eq!(join_as_publisher(&stranded).await["videoroom"], "joined");
    // The first node back, the stranded sessions move to it; the drained node, empty now,
    // stops taking new Janus sessions — decided again on the focus's tick, not only when the
    // drain was asked for (it had kept accepting for good).
    drain(&drained, false).await;
    let d = next_decision(&mut events, &key, a.session, Duration::from_secs(5), |d| {
        d.reason == Reason::Drain
    })
    .await;
    assert_eq!(d.node, Some(drained.clone()));
    tokio::time::timeout(Duration::from_secs(10), async {
        while create_with_token(&stranded.janus_url, &stranded.token).await["janus"] == "success" {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    })
    .await
    .expect("the drained, empty node stops taking new sessions");
    drain(&dead_id, false).await;
    assert_eq!(
        create_with_token(&stranded.janus_url, &stranded.token).await["janus"],
        "success",
        "undrained, the node takes new sessions again"
    );

    // An Auto session: P2P, no room, until 3 participants are present; then upgraded.
    let c = Link::new(3);
    let gc = grant(&access, &c, Want::Auto).await;
    let dc = decision_of(&gc, &key, c.session);
    // A fresh session's first seq is the clock's (at least the process's start).
    assert_eq!(dc.topology, Topology::P2p);
    assert!(dc.seq >= da.seq, "{} before {}", dc.seq, da.seq);
    let (status, body) = ask(&access, &c, Want::Sfu).await;
    assert_eq!(status, 409, "{body}");
    watcher.watch(&c.session.topic());
    until_joined(&mut events, &c.session.topic()).await;
    let crowd = participants(&config, c.session, 3);
    let up = next_decision(&mut events, &key, c.session, Duration::from_secs(5), |d| {
        d.reason == Reason::Threshold
    })
    .await;
    assert_eq!((up.seq, up.topology), (dc.seq + 1, Topology::Sfu));
    let room = grant(&access, &c, Want::Sfu).await.sfu.unwrap();
    assert_eq!(join_as_publisher(&room).await["videoroom"], "joined");
    drop(crowd);
    stop(server).await;
}

/// A `pairux-server focus` child process.
struct FocusProc {
    child: tokio::process::Child,
    url: String,
}

async fn spawn_focus(args: &[String], port: u16, log: &std::path::Path) -> FocusProc {
    let log = std::fs::File::create(log).unwrap();
    let child = tokio::process::Command::new(env!("CARGO_BIN_EXE_pairux-server"))
        .arg("focus")
        .args(args)
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let url = format!("http://127.0.0.1:{port}");
    tokio::time::timeout(Duration::from_secs(15), async {
        loop {
            if let Ok(res) = reqwest::get(format!("{url}/health")).await {
                if res.status().is_success() {
                    return;
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await
    .expect("the focus process serves");
    FocusProc { child, url }
}

async fn is_leader(url: &str) -> bool {
    match reqwest::get(format!("{url}/focus/status")).await {
        Ok(res) => res.json::<Value>().await.is_ok_and(|v| v["leader"] == true),
        Err(_) => false,
    }
}

#[tokio::test]
async fn two_focus_processes_share_one_postgres() {
    let pg = pg_support::Pg::start("focus");
    let dir = temp_dir("two");
    let key_file = dir.join("focus.key");
    let (p1, p2) = (free_block(1), free_block(1));
    let server = start(
        "two",
        &[
            "--sfu-threshold".into(),
            "3".into(),
            "--focus".into(),
            "external".into(),
            "--focus-url".into(),
            format!("http://127.0.0.1:{p1}"),
            "--focus-url".into(),
            format!("http://127.0.0.1:{p2}"),
            "--focus-key-file".into(),
            key_file.display().to_string(),
        ],
    )
    .await;
    let config = server.state().config.clone();
    assert_eq!(
        config.access_url,
        Some(format!("http://127.0.0.1:{p1}/api/access"))
    );
    assert_eq!(
        config.access_fallback_urls,
        vec![format!("http://127.0.0.1:{p2}/api/access")]
    );
    let key = PublicKey::parse(config.focus_key.as_deref().unwrap()).unwrap();
    let args: Vec<String> = vec![
        "--server".into(),
        format!("http://{}", server.addr()),
        "--nodes-file".into(),
        server
            .media()
            .run_dir
            .join("nodes.json")
            .display()
            .to_string(),
        "--database-url".into(),
        pg.url.clone(),
        "--focus-key-file".into(),
        key_file.display().to_string(),
        "--sfu-threshold".into(),
        "3".into(),
        "--access-burst".into(),
        "1000".into(),
    ];
    let f1 = spawn_focus(&args, p1, &dir.join("focus-1.log")).await;
    let mut f2 = Some(spawn_focus(&args, p2, &dir.join("focus-2.log")).await);
    let (u1, u2) = (f1.url.clone(), f2.as_ref().unwrap().url.clone());
    let (a1, a2) = (format!("{u1}/api/access"), format!("{u2}/api/access"));

    // Concurrent first requests for the same sessions at both: one room, one node each.
    for seed in 10..16u8 {
        let link = Link::new(seed);
        let (x, y) = tokio::join!(grant(&a1, &link, Want::Sfu), grant(&a2, &link, Want::Sfu));
        // One decision in the store, whichever process made it.
        assert_eq!(
            decision_of(&x, &key, link.session),
            decision_of(&y, &key, link.session),
            "session {seed}"
        );
        let (x, y) = (x.sfu.unwrap(), y.sfu.unwrap());
        assert_eq!(
            (&x.janus_url, x.room, &x.pin),
            (&y.janus_url, y.room, &y.pin),
            "session {seed}"
        );
    }

    // Exactly one leader.
    let leader = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            match (is_leader(&u1).await, is_leader(&u2).await) {
                (true, false) => return 1,
                (false, true) => return 2,
                _ => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
    })
    .await
    .expect("one leader");

    // Kill the leader (f2 is made the leader's slot): the other keeps deciding.
    let (mut killed, survivor) = if leader == 1 {
        (f1, f2.take().unwrap())
    } else {
        (f2.take().unwrap(), f1)
    };
    let sfu_session = Link::new(10);
    let before = decision_of(
        &grant(
            &format!("{}/api/access", survivor.url),
            &sfu_session,
            Want::Ice,
        )
        .await,
        &key,
        sfu_session.session,
    );
    let auto = Link::new(20);
    let g = grant(&format!("{}/api/access", survivor.url), &auto, Want::Auto).await;
    assert_eq!(decision_of(&g, &key, auto.session).topology, Topology::P2p);
    let (watcher, mut events) = RealtimeHandle::start(&config.realtime_url, &config.anon_key);
    watcher.watch(&auto.session.topic());
    until_joined(&mut events, &auto.session.topic()).await;
    killed.child.kill().await.unwrap();
    let crowd = participants(&config, auto.session, 3);
    let up = next_decision(
        &mut events,
        &key,
        auto.session,
        Duration::from_secs(10),
        |d| d.reason == Reason::Threshold,
    )
    .await;
    assert_eq!(up.topology, Topology::Sfu);
    assert!(is_leader(&survivor.url).await);

    // The killed focus restarts: it resumes from the database and moves nobody.
    let port = killed.url.rsplit(':').next().unwrap().parse().unwrap();
    let restarted = spawn_focus(&args, port, &dir.join("focus-restarted.log")).await;
    for url in [&restarted.url, &survivor.url] {
        let after = decision_of(
            &grant(&format!("{url}/api/access"), &sfu_session, Want::Ice).await,
            &key,
            sfu_session.session,
        );
        assert_eq!((after.seq, &after.node), (before.seq, &before.node));
        let upgraded = decision_of(
            &grant(&format!("{url}/api/access"), &auto, Want::Ice).await,
            &key,
            auto.session,
        );
        assert_eq!(upgraded, up);
    }
    drop(crowd);
    drop((restarted, survivor));
    stop(server).await;
    let _ = std::fs::remove_dir_all(dir);
}

/// `grant`'s TURN part: config.json's STUN server, then the TURN URLs (UDP and TCP) of the
/// server's coturn with a username `"<expiresAt>:<id>"` and, as its credential,
/// base64(HMAC-SHA1(`secret`, username)), good for 20 minutes.
fn assert_turn(grant: &AccessGrant, stun: &IceServer, port: u16, secret: &str) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert!((now + 1190..=now + 1205).contains(&grant.expires_at));
    let [first, relay] = grant.ice_servers.as_slice() else {
        panic!("STUN and TURN: {:?}", grant.ice_servers)
    };
    assert_eq!(first, stun);
    assert_eq!(
        relay.urls,
        IceUrls::Many(vec![
            format!("turn:127.0.0.1:{port}?transport=udp"),
            format!("turn:127.0.0.1:{port}?transport=tcp"),
        ])
    );
    let username = relay.username.clone().unwrap();
    let (expiry, id) = username.split_once(':').unwrap();
    assert_eq!(expiry.parse::<u64>().unwrap(), grant.expires_at);
    assert!(!id.is_empty());
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(username.as_bytes());
    assert_eq!(
        relay.credential.as_deref(),
        Some(STANDARD.encode(mac.finalize().into_bytes()).as_str())
    );
}

#[tokio::test]
async fn a_standalone_focus_grants_turn_credentials_for_the_servers_coturn() {
    let dir = temp_dir("turn");
    let port = free_block(1);
    let server = start(
        "turn",
        &[
            "--relay-only".into(),
            "--focus".into(),
            "external".into(),
            "--focus-url".into(),
            format!("http://127.0.0.1:{port}"),
        ],
    )
    .await;
    let config = server.state().config.clone();
    assert!(config.relay_only);
    let focus_access = format!("http://127.0.0.1:{port}/api/access");
    assert_eq!(config.access_url.as_deref(), Some(focus_access.as_str()));
    let turn = server.media().turn.clone().unwrap();
    let secret = turn.secret_for_tests().to_owned();
    let conf = std::fs::read_to_string(&turn.conf_file).unwrap();
    assert!(
        conf.contains(&format!("\nstatic-auth-secret={secret}\n")),
        "the secret coturn runs with"
    );
    let stun = config.ice_servers[0].clone();
    assert_eq!(stun.urls, IceUrls::One(turn.stun_url()));

    // nodes.json (0600) carries coturn's URLs and secret.
    let nodes_file = server.media().run_dir.join("nodes.json");
    let written: Value =
        serde_json::from_str(&std::fs::read_to_string(&nodes_file).unwrap()).unwrap();
    assert_eq!(written["turn"]["secret"], secret.as_str());
    assert_eq!(written["turn"]["stunUrl"], turn.stun_url());
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&nodes_file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    let args: Vec<String> = vec![
        "--server".into(),
        format!("http://{}", server.addr()),
        "--nodes-file".into(),
        nodes_file.display().to_string(),
        "--focus-key-file".into(),
        dir.join("focus.key").display().to_string(),
    ];
    let log = dir.join("focus.log");
    let focus = spawn_focus(&args, port, &log).await;
    let logged = std::fs::read_to_string(&log).unwrap();
    if std::env::var_os("RUST_LOG").is_none() {
        assert!(logged.contains("grants carry TURN credentials"), "{logged}");
    }
    assert!(!logged.contains(&secret), "the secret is not logged");

    // The focus's grants (ICE only, and with a room) and the main server's own: the same shape,
    // credentials coturn's secret verifies.
    let link = Link::new(60);
    let from_focus = grant(&focus_access, &link, Want::Ice).await;
    assert_turn(&from_focus, &stun, turn.port, &secret);
    let with_room = grant(&focus_access, &link, Want::Sfu).await;
    assert!(with_room.sfu.is_some());
    assert_turn(&with_room, &stun, turn.port, &secret);
    let other = Link::new(61);
    let own = format!("http://{}/api/access", server.addr());
    let from_server = grant(&own, &other, Want::Ice).await;
    assert_turn(&from_server, &stun, turn.port, &secret);
    let shape = |g: &AccessGrant| {
        g.ice_servers
            .iter()
            .map(|s| (s.urls.clone(), s.username.is_some(), s.credential.is_some()))
            .collect::<Vec<_>>()
    };
    assert_eq!(shape(&from_focus), shape(&from_server));

    drop(focus);
    stop(server).await;
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn an_idle_session_is_closed_and_a_later_request_reopens_it_with_a_larger_seq() {
    let server = start(
        "idle",
        &[
            "--focus-idle-secs".into(),
            "2".into(),
            "--focus-empty-leave-secs".into(),
            "1".into(),
        ],
    )
    .await;
    let config = server.state().config.clone();
    let key = PublicKey::parse(config.focus_key.as_deref().unwrap()).unwrap();
    let access = format!("http://{}/api/access", server.addr());
    let focus = server.state().access.focus().unwrap().clone();
    let closed = || focus.status()["counters"]["closed"].as_u64().unwrap();
    let sfu = server.media().sfu.clone().unwrap();
    let node_of = |url: &str| {
        sfu.nodes()
            .iter()
            .find(|n| n.entry("local", 100).janus_url == url)
            .unwrap()
            .entry("local", 100)
    };

    // An SFU session with people in it (there before the focus watches), and an Auto one
    // nobody joins.
    let link = Link::new(40);
    let crowd = participants(&config, link.session, 2);
    let g = grant(&access, &link, Want::Sfu).await;
    let first = decision_of(&g, &key, link.session);
    let old = g.sfu.unwrap();
    let node = node_of(&old.janus_url);
    assert_eq!(join_as_publisher(&old).await["videoroom"], "joined");
    let auto = Link::new(41);
    let p2p = decision_of(&grant(&access, &auto, Want::Auto).await, &key, auto.session);
    assert_eq!(p2p.topology, Topology::P2p);
    assert!(p2p.seq >= first.seq, "{} before {}", p2p.seq, first.seq);

    // Present participants keep it open past the idle time; the empty Auto one closes.
    let t = Instant::now();
    tokio::time::timeout(Duration::from_secs(10), async {
        while closed() < 1 {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await
    .expect("the empty Auto session closes");
    tokio::time::sleep(Duration::from_secs(4).saturating_sub(t.elapsed())).await;
    assert_eq!(closed(), 1, "a session with people in it stays");
    assert!(room_exists(&node, old.room).await);

    // They leave: the focus leaves the channel after 1 s, closes the session, and its room and
    // token are gone from Janus.
    drop(crowd);
    let left = Instant::now();
    tokio::time::timeout(Duration::from_secs(15), async {
        while room_exists(&node, old.room).await {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await
    .expect("the idle session's room is destroyed");
    eprintln!(
        "room destroyed {:?} after the participants left",
        left.elapsed()
    );
    assert_eq!(closed(), 2);
    let refused = create_with_token(&old.janus_url, &old.token).await;
    assert_eq!(refused["janus"], "error", "{refused}");
    assert_eq!(refused["error"]["code"], 403, "{refused}");
    // A closed session has no decision in force until someone asks for a mode.
    assert!(grant(&access, &link, Want::Ice).await.focus.is_none());

    // Asked for again: reopened, its seq continued (a client still holding seq 1 follows).
    let mut follower = FocusFollower::new(key, link.session);
    let signed = serde_json::to_value(g.focus.as_ref().unwrap()).unwrap();
    assert!(follower.accept(&signed).unwrap().is_some());
    let again = grant(&access, &link, Want::Sfu).await;
    let signed = serde_json::to_value(again.focus.as_ref().unwrap()).unwrap();
    let reopened = follower
        .accept(&signed)
        .unwrap()
        .expect("a larger seq is followed");
    assert_eq!(
        (reopened.seq, reopened.topology, reopened.reason),
        (first.seq + 1, Topology::Sfu, Reason::Requested)
    );
    let new = again.sfu.unwrap();
    assert_ne!(new.room, old.room, "a new room");
    assert_eq!(join_as_publisher(&new).await["videoroom"], "joined");
    let d = decision_of(&grant(&access, &auto, Want::Auto).await, &key, auto.session);
    assert_eq!(
        (d.seq, d.topology, d.reason),
        (p2p.seq + 1, Topology::P2p, Reason::Start)
    );
    stop(server).await;
}

#[tokio::test]
async fn postgres_store_closes_idle_sessions_and_reopens_them() {
    let pg = pg_support::Pg::start("idle");
    let store = Store::postgres(&pg.url).await.unwrap();
    let s = SessionId::from_bytes([50; 16]);
    let row = |seq: u64, node: Option<&str>| SessionRow {
        decision: Decision {
            session: s,
            seq,
            topology: if node.is_some() {
                Topology::Sfu
            } else {
                Topology::P2p
            },
            node: node.map(str::to_owned),
            reason: Reason::Start,
            at: 5,
        },
        mode: pairux_core::session::StartMode::Auto,
        region: Some("eu".into()),
        closed_at: None,
    };
    assert!(store.commit(&row(1, None)).await.unwrap());
    assert!(store.commit(&row(2, Some("janus-0"))).await.unwrap());
    let room = RoomRow {
        room: 77,
        pin: "pin".into(),
        secret: "secret".into(),
    };
    store.room(&s, "janus-0", room.clone()).await.unwrap();
    let added = TokenSlot::Added;
    assert_eq!(
        store.token_for(&s, "janus-0", "c1", "t1").await.unwrap(),
        added
    );
    assert_eq!(
        store.token_for(&s, "janus-1", "c1", "t2").await.unwrap(),
        added
    );
    // The same client asking again gets the token it has.
    assert_eq!(
        store.token_for(&s, "janus-0", "c1", "t3").await.unwrap(),
        TokenSlot::Held("t1".into())
    );
    // At most MAX_TOKENS per session and node.
    let busy = SessionId::from_bytes([0xEE; 16]);
    for n in 0..pairux_server::focus::store::MAX_TOKENS {
        let (c, t) = (format!("c{n}"), format!("fill{n}"));
        assert_eq!(
            store.token_for(&busy, "janus-0", &c, &t).await.unwrap(),
            added
        );
    }
    assert_eq!(
        store
            .token_for(&busy, "janus-0", "one-more", "x")
            .await
            .unwrap(),
        TokenSlot::Full
    );
    assert_eq!(
        store.token_for(&busy, "janus-0", "c9", "y").await.unwrap(),
        TokenSlot::Held("fill9".into())
    );
    assert_eq!(
        store
            .token_for(&busy, "janus-1", "one-more", "other-node")
            .await
            .unwrap(),
        added
    );
    let used = store
        .pin_and_use_nonce(s, "v", "n", 200, 100)
        .await
        .unwrap();
    assert_eq!(used, PinOutcome::Accepted);

    assert!(store.idle(100).await.unwrap().is_empty());
    assert_eq!(store.idle(101).await.unwrap().len(), 1);
    assert!(
        store.close(&s, 2, 110, 100).await.unwrap().is_none(),
        "used since"
    );
    assert!(
        store.close(&s, 1, 110, 101).await.unwrap().is_none(),
        "not its seq"
    );
    let closed = store.close(&s, 2, 110, 101).await.unwrap().expect("closed");
    assert_eq!(closed.rooms.len(), 1);
    assert!(closed.rooms[0] == ("janus-0".to_owned(), room));
    let mut tokens = closed.tokens.clone();
    tokens.sort();
    assert_eq!(
        tokens,
        vec![
            ("janus-0".to_owned(), "t1".to_owned()),
            ("janus-1".to_owned(), "t2".to_owned())
        ]
    );
    assert!(
        store.close(&s, 2, 111, 101).await.unwrap().is_none(),
        "once"
    );
    assert!(store.sessions().await.unwrap().is_empty());
    let kept = store.session(&s).await.unwrap().unwrap();
    assert_eq!((kept.decision.seq, kept.closed_at), (2, Some(110)));
    assert_eq!(store.closed_among(&[s]).await.unwrap(), vec![(s, 2)]);

    // Reopened by its next decision, in its new mode; a new room.
    let mut next = row(3, Some("janus-1"));
    next.mode = pairux_core::session::StartMode::Sfu;
    assert!(store.commit(&next).await.unwrap());
    let open = store.session(&s).await.unwrap().unwrap();
    assert_eq!(
        (open.decision.seq, open.mode, open.closed_at),
        (3, pairux_core::session::StartMode::Sfu, None)
    );
    assert!(store.closed_among(&[s]).await.unwrap().is_empty());
    let fresh = RoomRow {
        room: 78,
        pin: "p2".into(),
        secret: "s2".into(),
    };
    assert_eq!(store.room(&s, "janus-0", fresh).await.unwrap().room, 78);
    // A later decision keeps the mode of the open session.
    let mut later = row(4, Some("janus-0"));
    later.mode = pairux_core::session::StartMode::P2p;
    assert!(store.commit(&later).await.unwrap());
    assert_eq!(
        store.session(&s).await.unwrap().unwrap().mode,
        pairux_core::session::StartMode::Sfu
    );

    // Closed rows are deleted after 30 days; expired nonces and idle pins go too.
    assert!(store.close(&s, 4, 1_000, 1_000).await.unwrap().is_some());
    let keep = pairux_server::focus::store::CLOSED_KEEP_SECS;
    store.prune(1_000 + keep - 1).await.unwrap();
    assert!(store.session(&s).await.unwrap().is_some());
    store.prune(1_000 + keep).await.unwrap();
    assert!(store.session(&s).await.unwrap().is_none());
    let replay = store
        .pin_and_use_nonce(s, "w", "n", 200, 1_000 + keep)
        .await
        .unwrap();
    assert_eq!(replay, PinOutcome::Accepted, "pin and nonce were forgotten");
}
