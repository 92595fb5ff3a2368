//! pairux-server with real Janus and coturn children: `POST /api/access` grants, what Janus
//! itself lets a token do, and the supervisor restarting a killed node.
//!
//! Needs `janus` and `turnserver` (Debian `janus`, `coturn`; `cargo xtask setup` installs them).
//! Everything listens on 127.0.0.1 (no media flows; Janus needs no ICE for the control plane).

mod ports;
mod scratch;

use std::path::PathBuf;
use std::time::Duration;

use ports::free_block;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use clap::Parser as _;
use futures_util::{SinkExt as _, StreamExt as _};
use hmac::{Hmac, Mac};
use pairux_core::access::{AccessGrant, AccessKey, AccessRequest, Want, NONCE_LEN};
use pairux_core::config::IceUrls;
use pairux_core::link::{RoomKey, SessionId};
use pairux_server::supervise::{find_binary, Health};
use pairux_server::{Args, RunningServer};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::Message;

fn require(bin: &str, env: &str, package: &str) {
    assert!(
        find_binary(bin, env).is_some(),
        "`{bin}` is not on PATH: these tests run the real one. Install Debian's `{package}` \
         (`cargo xtask setup` does) or set {env}."
    );
}

fn temp_dir(name: &str) -> PathBuf {
    scratch::dir(&format!("sfu-{name}"))
}

async fn start(sfu_nodes: usize, extra: &[&str]) -> RunningServer {
    if sfu_nodes > 0 {
        require("janus", "PAIRUX_JANUS_BIN", "janus");
    }
    require("turnserver", "PAIRUX_TURNSERVER_BIN", "coturn");
    let dist = temp_dir("dist");
    std::fs::write(dist.join("index.html"), "<!doctype html>").unwrap();
    let run_dir = temp_dir("run");
    // Node i listens on base + i; coturn's port and the next, its default alt-listening-port.
    let nodes = u16::try_from(sfu_nodes.max(1)).expect("a few nodes");
    let (ws, admin, turn) = (free_block(nodes), free_block(nodes), free_block(2));
    // RTP ports are only reserved, never bound without media; spread them per test anyway.
    let rtp = 33000 + (ws % 25) * 1000;
    let owned: Vec<String> = vec![
        "pairux-server".into(),
        "--listen".into(),
        "127.0.0.1:0".into(),
        "--static".into(),
        dist.display().to_string(),
        "--sfu-nodes".into(),
        sfu_nodes.to_string(),
        "--turn".into(),
        "--media-ip".into(),
        "127.0.0.1".into(),
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
    ];
    let mut argv = owned;
    argv.extend(extra.iter().map(|s| s.to_string()));
    pairux_server::start(Args::parse_from(argv))
        .await
        .expect("server with Janus and coturn starts")
}

/// Stops the server (and so Janus and coturn) and removes its run directory.
async fn stop(server: RunningServer) {
    let run_dir = server.media().run_dir.clone();
    server.stop().await.unwrap();
    if !run_dir.as_os_str().is_empty() {
        let _ = std::fs::remove_dir_all(run_dir);
    }
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

struct Link {
    session: SessionId,
    key: AccessKey,
}

impl Link {
    fn new(seed: u8) -> Link {
        let session = SessionId::from_bytes([seed; 16]);
        let key = AccessKey::derive(&RoomKey::from_bytes([seed ^ 0x5a; 32]), &session);
        Link { session, key }
    }

    fn request(&self, want: Want) -> AccessRequest {
        self.request_at(now(), want)
    }

    fn request_at(&self, time: u64, want: Want) -> AccessRequest {
        let nonce: [u8; NONCE_LEN] = rand::random();
        self.key.request(&self.session, time, &nonce, want)
    }
}

async fn post(server: &RunningServer, body: &str) -> (u16, Value) {
    post_from(server, body, None, None).await
}

/// A request sent from `local` (another loopback address: another client to the server), or
/// as a proxy on this machine forwarding it for `forwarded_for` (a client elsewhere).
async fn post_from(
    server: &RunningServer,
    body: &str,
    local: Option<std::net::IpAddr>,
    forwarded_for: Option<&str>,
) -> (u16, Value) {
    let mut req = reqwest::Client::builder()
        .local_address(local)
        .build()
        .unwrap()
        .post(format!("http://{}/api/access", server.addr()))
        .header("content-type", "application/json");
    if let Some(client) = forwarded_for {
        req = req.header("x-forwarded-for", client);
    }
    let res = req.body(body.to_owned()).send().await.unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

async fn ask(server: &RunningServer, req: &AccessRequest) -> (u16, Value) {
    post(server, &serde_json::to_string(req).unwrap()).await
}

async fn grant(server: &RunningServer, link: &Link, want: Want) -> AccessGrant {
    let (status, body) = ask(server, &link.request(want)).await;
    assert_eq!(status, 200, "{body}");
    serde_json::from_value(body).unwrap()
}

/// A raw Janus client (`janus-protocol`).
struct Janus {
    ws: tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
    next: u32,
}

impl Janus {
    async fn connect(url: &str) -> Janus {
        let mut req = url.into_client_request().unwrap();
        req.headers_mut().insert(
            "Sec-WebSocket-Protocol",
            HeaderValue::from_static("janus-protocol"),
        );
        let (ws, _) = tokio_tungstenite::connect_async(req).await.unwrap();
        Janus { ws, next: 0 }
    }

    /// Sends `frame` with a fresh transaction; returns the first answer that is not an `ack`.
    async fn call(&mut self, mut frame: Value) -> Value {
        self.next += 1;
        let transaction = format!("t{}", self.next);
        frame["transaction"] = json!(transaction);
        self.ws
            .send(Message::text(frame.to_string()))
            .await
            .unwrap();
        tokio::time::timeout(Duration::from_secs(5), async {
            loop {
                let Some(Ok(Message::Text(text))) = self.ws.next().await else {
                    panic!("Janus closed the socket");
                };
                let v: Value = serde_json::from_str(&text).unwrap();
                if v["transaction"] == transaction && v["janus"] != "ack" {
                    return v;
                }
            }
        })
        .await
        .expect("Janus answers within 5 s")
    }

    /// `create` + `attach` to the VideoRoom with `token`: (session, handle).
    async fn attach(&mut self, token: &str) -> (u64, u64) {
        let created = self.call(json!({"janus":"create","token":token})).await;
        assert_eq!(created["janus"], "success", "{created}");
        let session = created["data"]["id"].as_u64().unwrap();
        let attached = self
            .call(json!({"janus":"attach","session_id":session,"token":token,
                         "plugin":"janus.plugin.videoroom"}))
            .await;
        assert_eq!(attached["janus"], "success", "{attached}");
        (session, attached["data"]["id"].as_u64().unwrap())
    }

    async fn videoroom(&mut self, ids: (u64, u64), token: &str, body: Value) -> Value {
        let reply = self
            .call(
                json!({"janus":"message","session_id":ids.0,"handle_id":ids.1,
                         "token":token,"body":body}),
            )
            .await;
        reply["plugindata"]["data"].clone()
    }
}

async fn join_as_publisher(sfu: &pairux_core::access::SfuGrant) -> Value {
    let mut janus = Janus::connect(&sfu.janus_url).await;
    let ids = janus.attach(&sfu.token).await;
    janus
        .videoroom(
            ids,
            &sfu.token,
            json!({"request":"join","ptype":"publisher","room":sfu.room,"pin":sfu.pin,"display":"host"}),
        )
        .await
}

#[tokio::test]
async fn an_sfu_grant_lets_its_holder_join_the_room_and_do_nothing_else() {
    let server = start(1, &[]).await;
    let config = &server.state().config;
    let sfu_config = config.sfu.clone().expect("config.json names the SFU");
    assert_eq!(
        config.access_url.as_deref(),
        Some(format!("http://{}/api/access", server.addr()).as_str())
    );
    assert!(!config.relay_only);

    let link = Link::new(1);
    let grant = grant(&server, &link, Want::Sfu).await;
    let sfu = grant.sfu.clone().expect("an SFU grant");
    assert_eq!(sfu.janus_url, sfu_config.janus_url);
    assert!(sfu.room > 0 && sfu.room < 1 << 53);

    // The token opens a session, attaches the VideoRoom and joins the room with the pin.
    let joined = join_as_publisher(&sfu).await;
    assert_eq!(joined["videoroom"], "joined", "{joined}");
    assert_eq!(joined["room"], sfu.room);

    // The same address asking again and again: the same room and the same token, so a link
    // holder asking over and over holds one of the session's places, not all of them.
    for _ in 0..8 {
        let again = grant_sfu(&server, &link).await;
        assert_eq!(again.room, sfu.room);
        assert_eq!(again.pin, sfu.pin);
        assert_eq!(again.token, sfu.token);
    }
    // Another address: the same room, a token of its own, which works.
    let body = serde_json::to_string(&link.request(Want::Sfu)).unwrap();
    let (status, body) = post_from(&server, &body, Some([127, 0, 0, 2].into()), None).await;
    assert_eq!(status, 200, "{body}");
    let elsewhere: AccessGrant = serde_json::from_value(body).unwrap();
    let elsewhere = elsewhere.sfu.expect("an SFU grant");
    assert_eq!(elsewhere.room, sfu.room);
    assert_ne!(elsewhere.token, sfu.token);
    assert_eq!(join_as_publisher(&elsewhere).await["videoroom"], "joined");

    // Concurrent first requests of another session make one room.
    let other = Link::new(9);
    let (a, b, c) = tokio::join!(
        grant_sfu(&server, &other),
        grant_sfu(&server, &other),
        grant_sfu(&server, &other)
    );
    assert_eq!((a.room, a.room), (b.room, c.room));
    assert_ne!(a.room, sfu.room);

    // Without a token, or with a made-up one, Janus itself refuses.
    let mut janus = Janus::connect(&sfu.janus_url).await;
    let refused = janus.call(json!({"janus":"create"})).await;
    assert_eq!(refused["janus"], "error");
    assert_eq!(refused["error"]["code"], 403, "{refused}");
    let refused = janus
        .call(json!({"janus":"create","token":"made-up-token"}))
        .await;
    assert_eq!(refused["error"]["code"], 403, "{refused}");

    // A token holder cannot create rooms (no admin_key) …
    let ids = janus.attach(&sfu.token).await;
    let created = janus
        .videoroom(
            ids,
            &sfu.token,
            json!({"request":"create","room":77,"publishers":10}),
        )
        .await;
    assert_eq!(created["videoroom"], "event", "{created}");
    assert_eq!(created["error_code"], 429, "missing admin_key: {created}");
    let guessed = janus
        .videoroom(
            ids,
            &sfu.token,
            json!({"request":"create","room":78,"admin_key":"guess"}),
        )
        .await;
    assert_eq!(guessed["error_code"], 433, "wrong admin_key: {guessed}");
    // … nor join without the pin, nor list the room.
    let no_pin = janus
        .videoroom(
            ids,
            &sfu.token,
            json!({"request":"join","ptype":"publisher","room":sfu.room}),
        )
        .await;
    assert_eq!(no_pin["error_code"], 429, "missing pin: {no_pin}");
    let wrong_pin = janus
        .videoroom(
            ids,
            &sfu.token,
            json!({"request":"join","ptype":"publisher","room":sfu.room,"pin":"guess"}),
        )
        .await;
    assert_eq!(wrong_pin["error_code"], 433, "wrong pin: {wrong_pin}");
    let list = janus
        .videoroom(ids, &sfu.token, json!({"request":"list"}))
        .await;
    assert_eq!(list["list"], json!([]), "{list}");

    stop(server).await;
}

async fn grant_sfu(server: &RunningServer, link: &Link) -> pairux_core::access::SfuGrant {
    grant(server, link, Want::Sfu)
        .await
        .sfu
        .expect("an SFU grant")
}

#[tokio::test]
async fn turn_credentials_verify_and_expire_in_twenty_minutes() {
    let server = start(0, &["--relay-only", "--access-burst", "60"]).await;
    let config = &server.state().config;
    assert!(config.relay_only);
    assert_eq!(config.sfu, None);
    assert!(config.access_url.is_some());
    let turn = server.media().turn.clone().unwrap();
    assert_eq!(
        config.ice_servers[0].urls,
        IceUrls::One(turn.stun_url()),
        "config.json lists the STUN server"
    );

    let link = Link::new(2);
    let before = now();
    // No SFU here: an SFU request still gets TURN, and `sfu: null`.
    let first = grant(&server, &link, Want::Sfu).await;
    assert_eq!(first.sfu, None);
    assert!((before + 1195..=now() + 1205).contains(&first.expires_at));
    let relay = &first.ice_servers[1];
    let username = relay.username.clone().unwrap();
    let (expiry, id) = username.split_once(':').unwrap();
    assert_eq!(expiry.parse::<u64>().unwrap(), first.expires_at);
    assert!(!id.is_empty());
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(turn.secret_for_tests().as_bytes()).unwrap();
    mac.update(username.as_bytes());
    assert_eq!(
        relay.credential.as_deref(),
        Some(STANDARD.encode(mac.finalize().into_bytes()).as_str())
    );
    let IceUrls::Many(urls) = &relay.urls else {
        panic!("two TURN urls")
    };
    let port = turn.port;
    assert_eq!(
        urls,
        &vec![
            format!("turn:127.0.0.1:{port}?transport=udp"),
            format!("turn:127.0.0.1:{port}?transport=tcp"),
        ]
    );

    // A client elsewhere (here through a proxy on this machine) holds at most
    // TURN_NAMES_PER_ADDRESS usernames with time left (16 relays each at coturn): asking on
    // and on, it gets the newest again, not a fresh quota each time.
    let remote = |client: &'static str| {
        let body = serde_json::to_string(&link.request(Want::Ice)).unwrap();
        let server = &server;
        async move {
            let (status, body) = post_from(server, &body, None, Some(client)).await;
            assert_eq!(status, 200, "{body}");
            let grant: AccessGrant = serde_json::from_value(body).unwrap();
            grant.ice_servers[1].username.clone().unwrap()
        }
    };
    let mut held = Vec::new();
    for _ in 0..pairux_server::access::TURN_NAMES_PER_ADDRESS {
        held.push(remote("203.0.113.5").await);
    }
    held.sort();
    held.dedup();
    assert_eq!(held.len(), pairux_server::access::TURN_NAMES_PER_ADDRESS);
    let newest = remote("203.0.113.5").await;
    assert!(held.contains(&newest));
    for _ in 0..3 {
        assert_eq!(remote("203.0.113.5").await, newest);
    }
    // Another address is another client.
    assert!(!held.contains(&remote("203.0.113.6").await));
    // A page on this machine is not counted (every tab of a local session shares its address).
    let name = |g: &AccessGrant| g.ice_servers[1].username.clone().unwrap();
    let mut local = vec![username];
    for _ in 0..pairux_server::access::TURN_NAMES_PER_ADDRESS {
        local.push(name(&grant(&server, &link, Want::Ice).await));
    }
    local.sort();
    local.dedup();
    assert_eq!(
        local.len(),
        pairux_server::access::TURN_NAMES_PER_ADDRESS + 1
    );
    stop(server).await;
}

#[tokio::test]
async fn access_requests_are_pinned_fresh_and_used_once() {
    let server = start(0, &["--access-burst", "12", "--access-rate", "0.5"]).await;
    let link = Link::new(3);
    let first = link.request(Want::Ice);
    assert_eq!(ask(&server, &first).await.0, 200);

    // The same request again: replayed.
    let (status, body) = ask(&server, &first).await;
    assert_eq!(status, 403);
    assert!(body["error"].as_str().unwrap().contains("already used"));

    // Another key for the same session (someone without the room key): not the pinned one.
    let stranger = Link {
        session: link.session,
        key: AccessKey::derive(&RoomKey::from_bytes([0xee; 32]), &link.session),
    };
    let (status, body) = ask(&server, &stranger.request(Want::Ice)).await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["error"], "This link does not belong to this session");
    // The link holder still gets in.
    assert_eq!(ask(&server, &link.request(Want::Ice)).await.0, 200);

    // Stale and future times.
    let (status, body) = ask(&server, &link.request_at(now() - 600, Want::Ice)).await;
    assert_eq!(status, 400, "{body}");
    assert!(body["error"].as_str().unwrap().contains("clock"));
    assert_eq!(
        ask(&server, &link.request_at(now() + 600, Want::Ice))
            .await
            .0,
        400
    );

    // An edited request does not verify.
    let mut edited = link.request(Want::Ice);
    edited.want = Want::Sfu;
    assert_eq!(ask(&server, &edited).await.0, 403);

    // Malformed and oversized bodies.
    let (status, body) = post(&server, "{not json").await;
    assert_eq!(status, 400);
    assert!(body["error"].is_string());
    let (status, body) = post(&server, &"x".repeat(10_000)).await;
    assert_eq!(status, 413);
    assert!(body["error"].is_string());

    // 9 requests so far of a burst of 12, refilling at 0.5/s.
    let mut statuses = Vec::new();
    for _ in 0..5 {
        statuses.push(ask(&server, &Link::new(4).request(Want::Ice)).await.0);
    }
    assert!(statuses.contains(&429), "{statuses:?}");
    let (_, body) = ask(&server, &Link::new(5).request(Want::Ice)).await;
    assert!(body["error"].as_str().unwrap().contains("Too many"));
    stop(server).await;
}

#[tokio::test]
async fn a_killed_janus_is_restarted_and_sessions_get_their_room_again() {
    let server = start(1, &[]).await;
    let sfu = server.media().sfu.clone().unwrap();
    let node = &sfu.nodes()[0];
    let Health::Up { pid, epoch: 1 } = node.health() else {
        panic!("node 0 is up in its first epoch: {:?}", node.health())
    };
    let pid_file = std::fs::read_to_string(&node.pid_file).unwrap();
    assert_eq!(pid_file.trim(), pid.to_string());

    let link = Link::new(6);
    let before = grant_sfu(&server, &link).await;
    assert_eq!(join_as_publisher(&before).await["videoroom"], "joined");

    let status = std::process::Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());

    // Down (or already restarting), then up again as a new process within a few seconds.
    let restarted = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            if let Health::Up { pid: new, epoch } = node.health() {
                if epoch == 2 {
                    return new;
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await
    .expect("the supervisor restarts Janus");
    assert_ne!(restarted, pid);
    let pid_file = std::fs::read_to_string(&node.pid_file).unwrap();
    assert_eq!(pid_file.trim(), restarted.to_string());

    // The old token died with the old process; a new request makes the room again on the new
    // process, under the stored id and pin (every focus process hands out the same room), and
    // adds this address's token there again.
    let mut janus = Janus::connect(&before.janus_url).await;
    let refused = janus
        .call(json!({"janus":"create","token":before.token}))
        .await;
    assert_eq!(refused["error"]["code"], 403, "{refused}");
    let after = grant_sfu(&server, &link).await;
    assert_eq!(after.room, before.room);
    assert_eq!(after.token, before.token);
    assert_eq!(join_as_publisher(&after).await["videoroom"], "joined");

    stop(server).await;
    // Every child is gone.
    assert!(
        !std::path::Path::new(&format!("/proc/{restarted}")).exists() || {
            tokio::time::sleep(Duration::from_millis(300)).await;
            !std::path::Path::new(&format!("/proc/{restarted}")).exists()
        }
    );
}

#[tokio::test]
async fn a_server_without_media_grants_nothing() {
    let dist = temp_dir("bare");
    std::fs::write(dist.join("index.html"), "<!doctype html>").unwrap();
    let server = pairux_server::start(Args::parse_from([
        "pairux-server",
        "--listen",
        "127.0.0.1:0",
        "--static",
        dist.to_str().unwrap(),
    ]))
    .await
    .unwrap();
    assert_eq!(server.state().config.access_url, None);
    let (status, body) = ask(&server, &Link::new(7).request(Want::Ice)).await;
    assert_eq!(status, 404);
    assert!(body["error"].is_string());
    stop(server).await;
}
