//! Interop: the core's sans-IO `RealtimeClient` (driven here over tokio-tungstenite) and the real
//! `@supabase/realtime-js` (tests/interop/realtime-js-peer.mjs, in Node) share a channel on an
//! in-process pairux-server and see each other's presence, JSON and binary broadcasts, and
//! leaves, with the Rust side on vsn 1.0.0 and 2.0.0 and the JS side on 2.0.0 and 1.0.0.
//!
//! Needs `node` and `node_modules` (`cargo xtask setup` / `npm ci`); without them it fails.

mod realtime_support;

use std::collections::{HashMap, VecDeque};
use std::io::{BufRead as _, BufReader, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures_util::{SinkExt as _, StreamExt as _};
use pairux_core::realtime::{BroadcastConfig, PresenceConfig, PresenceState, Vsn};
use pairux_core::realtime_client::{
    BroadcastBody, ChannelId, ChannelOptions, ChannelState, ClientEvent, ClientOptions, Output,
    PushId, PushResult, RealtimeClient,
};
use pairux_core::roster::{Participant, Roster};
use pairux_core::Role;
use realtime_support::{server, token};
use serde_json::{json, Value};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// How long anything that must happen may take.
const WAIT: Duration = Duration::from_secs(5);
const TOPIC: &str = "interop";
const RUST_KEY: &str = "rust";
const JS_KEY: &str = "js";

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

// ---------------------------------------------------------------------------------------------
// The driver: one socket, the client's deadlines, time = ms since the driver started.

/// Runs a [`RealtimeClient`] over a real WebSocket: performs its outputs in order, feeds it
/// socket frames and wakes it at its deadlines. What its events say is kept in [`Seen`], which
/// [`Driver::until`] waits on.
struct Driver {
    client: RealtimeClient,
    epoch: Instant,
    ws: Option<Ws>,
    seen: Seen,
}

/// What the client's events have said so far.
#[derive(Default)]
struct Seen {
    roster: Roster,
    /// The presence state of the last sync (raw metas).
    presence: PresenceState,
    channels: HashMap<ChannelId, ChannelState>,
    pushes: HashMap<PushId, PushResult>,
    /// Broadcasts not yet taken by [`Driver::next_broadcast`].
    broadcasts: VecDeque<(String, BroadcastBody)>,
    /// Every event, for failure messages.
    log: Vec<String>,
}

impl Seen {
    fn record(&mut self, event: ClientEvent) {
        self.log.push(format!("{event:?}"));
        match event {
            ClientEvent::Presence { sync, .. } => {
                // Interop is about the wire, not trust: every meta is believed as tracked.
                self.roster.apply(&sync, &|p: &Participant| Ok(p.clone()));
                self.presence = sync.state;
            }
            ClientEvent::Channel { ch, state } => {
                self.channels.insert(ch, state);
            }
            ClientEvent::PushDone { id, result, .. } => {
                self.pushes.insert(id, result);
            }
            ClientEvent::Broadcast { event, payload, .. } => {
                self.broadcasts.push_back((event, payload));
            }
            _ => {}
        }
    }
}

/// What woke the driver.
enum Wake {
    Frame(Option<Result<Message, WsError>>),
    Deadline,
}

impl Driver {
    fn new(client: RealtimeClient) -> Self {
        Driver {
            client,
            epoch: Instant::now(),
            ws: None,
            seen: Seen::default(),
        }
    }

    fn now(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Performs every pending output.
    async fn flush(&mut self) {
        while let Some(output) = self.client.poll_output() {
            match output {
                Output::Connect { url } => self.connect(&url).await,
                Output::SendText(text) => self.send(Message::text(text)).await,
                Output::SendBinary(bytes) => self.send(Message::binary(bytes)).await,
                Output::Close { code, reason } => {
                    // The client has moved on: close, and feed nothing more from this socket.
                    if let Some(mut ws) = self.ws.take() {
                        let frame = CloseFrame {
                            code: code.into(),
                            reason: reason.into(),
                        };
                        let _ = ws.close(Some(frame)).await;
                    }
                }
                Output::Event(event) => self.seen.record(event),
            }
        }
    }

    async fn connect(&mut self, url: &str) {
        self.ws = None;
        match tokio::time::timeout(WAIT, tokio_tungstenite::connect_async(url)).await {
            Ok(Ok((ws, _))) => {
                self.ws = Some(ws);
                self.client.handle_open(self.now());
            }
            Ok(Err(_)) | Err(_) => self.client.handle_close(self.now(), 1006, ""),
        }
    }

    async fn send(&mut self, message: Message) {
        let Some(ws) = self.ws.as_mut() else { return };
        if ws.send(message).await.is_err() {
            self.ws = None;
            self.client.handle_close(self.now(), 1006, "");
        }
    }

    /// Waits for a frame or the client's next deadline, feeds it in, performs the outputs.
    async fn step(&mut self) {
        let deadline = self
            .client
            .poll_timeout()
            .map(|at| self.epoch + Duration::from_millis(at));
        let ws = self.ws.as_mut();
        let wake = tokio::select! {
            frame = async move {
                match ws {
                    Some(ws) => ws.next().await,
                    None => std::future::pending().await,
                }
            } => Wake::Frame(frame),
            () = async move {
                match deadline {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => std::future::pending().await,
                }
            } => Wake::Deadline,
        };
        let now = self.now();
        match wake {
            Wake::Deadline => self.client.handle_timeout(now),
            Wake::Frame(Some(Ok(Message::Text(text)))) => self.client.handle_text(now, &text),
            Wake::Frame(Some(Ok(Message::Binary(bytes)))) => self.client.handle_binary(now, &bytes),
            Wake::Frame(Some(Ok(Message::Close(frame)))) => {
                self.ws = None;
                let (code, reason) = frame.map_or((1005, String::new()), |f| {
                    (f.code.into(), f.reason.to_string())
                });
                self.client.handle_close(now, code, &reason);
            }
            Wake::Frame(Some(Ok(_))) => {} // ping, pong: tungstenite answers pings itself
            Wake::Frame(Some(Err(_)) | None) => {
                self.ws = None;
                self.client.handle_close(now, 1006, "");
            }
        }
        self.flush().await;
    }

    /// Runs the client until `check` finds what it waits for in [`Seen`]; panics after
    /// [`WAIT`].
    async fn until<T>(&mut self, what: &str, mut check: impl FnMut(&mut Seen) -> Option<T>) -> T {
        let give_up = Instant::now() + WAIT;
        loop {
            if let Some(found) = check(&mut self.seen) {
                return found;
            }
            if tokio::time::timeout_at(give_up, self.step()).await.is_err() {
                panic!(
                    "Rust client: timed out after {WAIT:?} waiting for {what}; its events:\n{}",
                    self.seen.log.join("\n")
                );
            }
        }
    }

    async fn until_roster(&mut self, what: &str, check: impl Fn(&Roster) -> bool) {
        self.until(what, |seen| check(&seen.roster).then_some(()))
            .await;
    }

    async fn until_channel(&mut self, ch: ChannelId, state: ChannelState) {
        let what = format!("channel state {state:?}");
        self.until(&what, |seen| {
            (seen.channels.get(&ch) == Some(&state)).then_some(())
        })
        .await;
    }

    async fn push_result(&mut self, id: PushId) -> PushResult {
        self.until(&format!("the result of push {id:?}"), |seen| {
            seen.pushes.remove(&id)
        })
        .await
    }

    /// Broadcasts JSON and asserts the server acknowledged it.
    async fn broadcast(&mut self, ch: ChannelId, event: &str, payload: Value) {
        let id = self.client.broadcast(self.now(), ch, event, payload);
        self.flush().await;
        assert_eq!(self.push_result(id).await, PushResult::Ok(json!({})));
    }

    /// The oldest broadcast not taken yet.
    async fn next_broadcast(&mut self) -> (String, BroadcastBody) {
        self.until("a broadcast", |seen| seen.broadcasts.pop_front())
            .await
    }
}

// ---------------------------------------------------------------------------------------------
// The realtime-js peer: a Node child process, commands on stdin, reports on stdout.

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// One line of the peer's output.
enum PeerLine {
    Out(String),
    Err(String),
}

struct Peer {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: mpsc::UnboundedReceiver<PeerLine>,
    seen: PeerSeen,
}

/// What the peer has reported so far.
#[derive(Default)]
struct PeerSeen {
    /// The meta it tracked, once subscribed.
    subscribed: Option<Value>,
    /// Its last `presenceState()`.
    presence: Value,
    /// Keys of its presence `leave` events.
    leaves: Vec<String>,
    /// (event, binary, payload) of broadcasts not taken yet.
    broadcasts: VecDeque<(String, bool, Value)>,
    /// (command, result) of commands whose result was not taken yet.
    done: VecDeque<(String, Value)>,
    /// Everything it printed, for failure messages.
    transcript: Vec<String>,
}

impl PeerSeen {
    fn record(&mut self, report: &Value) {
        let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
        match report["type"].as_str().unwrap_or_default() {
            "subscribed" => {
                assert_eq!(report["track"], "ok", "realtime-js track");
                self.subscribed = Some(report["meta"].clone());
            }
            "presence" => self.presence = report["state"].clone(),
            "leave" => self.leaves.push(text(&report["key"])),
            "broadcast" => self.broadcasts.push_back((
                text(&report["event"]),
                report["binary"] == true,
                report["payload"].clone(),
            )),
            "done" => self
                .done
                .push_back((text(&report["cmd"]), report["result"].clone())),
            _ => {}
        }
    }
}

impl Peer {
    /// Starts the peer; fails (never skips) without Node or realtime-js.
    fn spawn(endpoint: &str, apikey: &str, vsn: &str) -> Peer {
        let root = workspace_root();
        let package = root.join("node_modules/@supabase/realtime-js/package.json");
        assert!(
            package.exists(),
            "{} is missing: run `npm ci` in the workspace root (`cargo xtask setup` does)",
            package.display()
        );
        let mut child = Command::new("node")
            .arg(root.join("tests/interop/realtime-js-peer.mjs"))
            .args([endpoint, apikey, TOPIC, vsn])
            .current_dir(&root)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run `node` (Node 20 is required): {e}"));
        let (tx, lines) = mpsc::unbounded_channel();
        let stdout = child.stdout.take().expect("piped stdout");
        let stderr = child.stderr.take().expect("piped stderr");
        let out = tx.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = out.send(PeerLine::Out(line));
            }
        });
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = tx.send(PeerLine::Err(line));
            }
        });
        Peer {
            stdin: child.stdin.take(),
            child,
            lines,
            seen: PeerSeen::default(),
        }
    }

    /// Sends a command and asserts realtime-js answered it with `ok`.
    async fn run(&mut self, command: Value) {
        let cmd = command["cmd"].as_str().unwrap_or_default().to_owned();
        let stdin = self.stdin.as_mut().expect("stdin still open");
        writeln!(stdin, "{command}").expect("the peer reads commands");
        stdin.flush().expect("the peer reads commands");
        let (_, result) = self
            .until(&format!("the result of {command}"), |seen| {
                let at = seen.done.iter().position(|(c, _)| *c == cmd)?;
                seen.done.remove(at)
            })
            .await;
        assert_eq!(result, "ok", "realtime-js {command}");
    }

    /// Reads the peer's reports until `check` finds what it waits for in [`PeerSeen`];
    /// panics after [`WAIT`], or when the peer reports an error or exits.
    async fn until<T>(
        &mut self,
        what: &str,
        mut check: impl FnMut(&mut PeerSeen) -> Option<T>,
    ) -> T {
        let give_up = Instant::now() + WAIT;
        loop {
            if let Some(found) = check(&mut self.seen) {
                return found;
            }
            let line = match tokio::time::timeout_at(give_up, self.lines.recv()).await {
                Ok(Some(PeerLine::Out(line))) => line,
                Ok(Some(PeerLine::Err(line))) => {
                    self.seen.transcript.push(format!("stderr: {line}"));
                    continue;
                }
                Ok(None) => self.fail(&format!("the peer exited while waiting for {what}")),
                Err(_) => self.fail(&format!("timed out after {WAIT:?} waiting for {what}")),
            };
            self.seen.transcript.push(line.clone());
            // Anything but a JSON object is not a report (e.g. a library's console.log).
            if let Ok(report @ Value::Object(_)) = serde_json::from_str::<Value>(&line) {
                if report["type"] == "error" {
                    self.fail(&format!("the peer failed while waiting for {what}"));
                }
                self.seen.record(&report);
            }
        }
    }

    async fn until_presence(&mut self, what: &str, check: impl Fn(&Value) -> bool) -> Value {
        self.until(what, |seen| {
            check(&seen.presence).then(|| seen.presence.clone())
        })
        .await
    }

    /// The oldest broadcast not taken yet, as (event, binary, payload).
    async fn next_broadcast(&mut self) -> (String, bool, Value) {
        self.until("a broadcast", |seen| seen.broadcasts.pop_front())
            .await
    }

    /// Closes stdin (the peer disconnects and exits) and waits for the exit.
    async fn close_stdin(&mut self) -> ExitStatus {
        self.stdin = None;
        let give_up = Instant::now() + WAIT;
        loop {
            if let Some(status) = self.child.try_wait().expect("the peer's status") {
                return status;
            }
            if Instant::now() > give_up {
                self.fail("the peer did not exit after stdin closed");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    fn fail(&mut self, why: &str) -> ! {
        while let Ok(line) = self.lines.try_recv() {
            match line {
                PeerLine::Out(line) => self.seen.transcript.push(line),
                PeerLine::Err(line) => self.seen.transcript.push(format!("stderr: {line}")),
            }
        }
        panic!(
            "realtime-js peer: {why}; it printed:\n{}",
            self.seen.transcript.join("\n")
        );
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        // Still running only when a test failed; the script also stops itself after 20 s.
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The scenario.

fn epoch_ms() -> u64 {
    let since = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    u64::try_from(since.as_millis()).unwrap()
}

/// The single meta of `key` in a realtime-js `presenceState()`, without its `presence_ref`.
fn js_meta(state: &Value, key: &str) -> Option<Value> {
    let [meta] = state.get(key)?.as_array()?.as_slice() else {
        return None;
    };
    let mut meta = meta.clone();
    let presence_ref = meta.as_object_mut()?.remove("presence_ref")?;
    presence_ref.is_string().then_some(meta)
}

/// How the JS peer goes away at the end.
#[derive(Debug, Clone, Copy)]
enum Departure {
    /// `channel.unsubscribe()` (phx_leave); the socket stays.
    Unsubscribe,
    /// The process disconnects and exits.
    Exit,
}

fn rust_channel_options() -> ChannelOptions {
    ChannelOptions {
        broadcast: BroadcastConfig {
            ack: true,
            self_broadcast: false,
        },
        presence: PresenceConfig {
            key: RUST_KEY.into(),
            enabled: true,
        },
        private: false,
    }
}

/// Joins `ch` and tracks `me`; returns once the server accepted both.
async fn join_and_track(rust: &mut Driver, ch: ChannelId, me: &Participant) {
    let now = rust.now();
    rust.client.join(now, ch);
    let track = rust.client.track(now, ch, me.to_meta());
    rust.flush().await;
    rust.until_channel(ch, ChannelState::Joined).await;
    assert_eq!(rust.push_result(track).await, PushResult::Ok(json!({})));
}

async fn interop(rust_vsn: Vsn, js_vsn: &str, departure: Departure) {
    let both_v2 = rust_vsn == Vsn::V2 && js_vsn == "2.0.0";
    let s = server(&[]).await;
    let addr = s.server.addr();
    let key = token();

    // The Rust client joins, tracks itself and sees itself.
    let mut options = ClientOptions::new(format!("ws://{addr}/realtime/v1/websocket"), &key);
    options.vsn = rust_vsn;
    let mut rust = Driver::new(RealtimeClient::new(options));
    let ch = rust.client.channel(TOPIC, rust_channel_options());
    let me = Participant {
        id: RUST_KEY.into(),
        role: Role::Host,
        joined_at: epoch_ms(),
        profile: json!({"name": "rust"}),
        sig: None,
        signer: None,
        wire: pairux_core::session::WIRE_VERSION,
        wire_sig: None,
    };
    rust.client.connect(rust.now());
    join_and_track(&mut rust, ch, &me).await;
    rust.until_roster("the Rust client to see itself", |r| {
        r.get(RUST_KEY) == Some(&me)
    })
    .await;

    // The realtime-js peer joins and tracks; each side sees the other's key and exact meta.
    let mut js = Peer::spawn(&format!("ws://{addr}/realtime/v1"), &key, js_vsn);
    let js_tracked = js
        .until("SUBSCRIBED and tracked", |seen| seen.subscribed.clone())
        .await;
    assert_eq!(js_tracked["role"], "viewer");
    assert_eq!(js_tracked["profile"], json!({"name": "js"}));
    rust.until_roster("the JS peer in the roster", |r| r.get(JS_KEY).is_some())
        .await;
    let peer = rust.seen.roster.get(JS_KEY).unwrap();
    assert_eq!(peer.role, Role::Viewer);
    assert_eq!(Some(peer.joined_at), js_tracked["joined_at"].as_u64());
    assert_eq!(peer.profile, json!({"name": "js"}));
    let raw = &rust.seen.presence[JS_KEY].metas;
    assert_eq!(raw.len(), 1, "one meta for the JS peer: {raw:?}");
    assert_eq!(Value::Object(raw[0].payload.clone()), js_tracked);
    assert_eq!(rust.seen.roster.len(), 2);

    let state = js
        .until_presence("the Rust client in presenceState()", |s| {
            js_meta(s, RUST_KEY).is_some() && js_meta(s, JS_KEY).is_some()
        })
        .await;
    assert_eq!(js_meta(&state, RUST_KEY), Some(me.to_meta()));
    assert_eq!(js_meta(&state, JS_KEY), Some(js_tracked.clone()));

    // JSON broadcasts both ways (non-ASCII on purpose: realtime-js measures UTF-8 bytes).
    let from_rust = json!({"text": "hällo from rust ✓", "n": 1, "nested": {"ok": true, "list": [1, 2.5, null]}});
    rust.broadcast(ch, "from-rust", from_rust.clone()).await;
    assert_eq!(
        js.next_broadcast().await,
        ("from-rust".into(), false, from_rust)
    );
    let from_js = json!({"text": "hëllo from js ✓", "n": 2, "nested": {"ok": false}});
    js.run(json!({"cmd": "send", "event": "from-js", "payload": from_js}))
        .await;
    assert_eq!(
        rust.next_broadcast().await,
        ("from-js".into(), BroadcastBody::Json(from_js))
    );

    // Binary broadcasts: both ways when both sides speak vsn 2.0.0. A vsn 1.0.0 subscriber never
    // gets one: the JSON broadcast sent right after it is the next to arrive.
    let bytes: Vec<u8> = vec![0, 1, 2, 0x7f, 0x80, 0xfe, 0xff, b'{', b'"'];
    let id = rust
        .client
        .broadcast_binary(rust.now(), ch, "bin-rust", bytes.clone());
    rust.flush().await;
    if rust_vsn == Vsn::V2 {
        assert_eq!(rust.push_result(id).await, PushResult::Ok(json!({})));
        rust.broadcast(ch, "after-bin-rust", json!({"after": "bin"}))
            .await;
        if both_v2 {
            let expected = ("bin-rust".into(), true, json!(bytes));
            assert_eq!(js.next_broadcast().await, expected);
        }
        assert_eq!(js.next_broadcast().await.0, "after-bin-rust");
    } else {
        let result = rust.push_result(id).await;
        assert!(
            matches!(result, PushResult::Error(_)),
            "binary on vsn 1.0.0 fails at once, got {result:?}"
        );
    }
    if js_vsn == "2.0.0" {
        js.run(json!({"cmd": "send_binary", "event": "bin-js", "bytes": bytes}))
            .await;
        js.run(json!({"cmd": "send", "event": "after-bin-js", "payload": {"after": "bin"}}))
            .await;
        if both_v2 {
            let expected = ("bin-js".into(), BroadcastBody::Binary(bytes));
            assert_eq!(rust.next_broadcast().await, expected);
        }
        assert_eq!(rust.next_broadcast().await.0, "after-bin-js");
    }

    // The JS peer untracks, then tracks again: the roster drops it and gets it back.
    js.run(json!({"cmd": "untrack"})).await;
    rust.until_roster("the JS peer gone after its untrack", |r| {
        r.get(JS_KEY).is_none()
    })
    .await;
    js.run(json!({"cmd": "track"})).await;
    rust.until_roster("the JS peer back after its track", |r| {
        r.get(JS_KEY).is_some()
    })
    .await;

    // The Rust client leaves: the peer sees the leave. It joins again and is seen again.
    rust.client.leave(rust.now(), ch);
    rust.flush().await;
    rust.until_channel(ch, ChannelState::Closed).await;
    js.until("a presence leave of the Rust client", |seen| {
        seen.leaves.iter().any(|k| k == RUST_KEY).then_some(())
    })
    .await;
    js.until_presence("presenceState() without the Rust client", |s| {
        s.get(RUST_KEY).is_none() && s.get(JS_KEY).is_some()
    })
    .await;
    join_and_track(&mut rust, ch, &me).await;
    rust.until_roster("both in the roster after the rejoin", |r| {
        r.get(RUST_KEY) == Some(&me) && r.get(JS_KEY).is_some()
    })
    .await;
    let state = js
        .until_presence("the Rust client back in presenceState()", |s| {
            js_meta(s, RUST_KEY).is_some()
        })
        .await;
    assert_eq!(js_meta(&state, RUST_KEY), Some(me.to_meta()));

    // The JS peer goes away: the roster drops it.
    match departure {
        Departure::Unsubscribe => {
            js.run(json!({"cmd": "unsubscribe"})).await;
            rust.until_roster("the JS peer gone after it unsubscribed", |r| {
                r.get(JS_KEY).is_none()
            })
            .await;
            assert!(js.close_stdin().await.success());
        }
        Departure::Exit => {
            assert!(js.close_stdin().await.success());
            rust.until_roster("the JS peer gone after it exited", |r| {
                r.get(JS_KEY).is_none()
            })
            .await;
        }
    }

    // Nothing arrived twice, came back to its sender, or was dropped as unreadable.
    assert_eq!(rust.seen.roster.len(), 1);
    assert_eq!(rust.seen.roster.counters().invalid, 0);
    assert!(
        rust.seen.broadcasts.is_empty(),
        "{:?}",
        rust.seen.broadcasts
    );
    assert!(js.seen.broadcasts.is_empty(), "{:?}", js.seen.broadcasts);
    let stats = rust.client.stats();
    assert_eq!(stats.malformed_frames, 0, "{stats:?}");
    assert_eq!(stats.unroutable_messages, 0, "{stats:?}");

    rust.client.disconnect(rust.now());
    rust.flush().await;
    s.server.stop().await.unwrap();
}

#[tokio::test]
async fn rust_v2_and_realtime_js_v2() {
    interop(Vsn::V2, "2.0.0", Departure::Unsubscribe).await;
}

#[tokio::test]
async fn rust_v1_and_realtime_js_v2() {
    interop(Vsn::V1, "2.0.0", Departure::Exit).await;
}

#[tokio::test]
async fn rust_v2_and_realtime_js_v1() {
    interop(Vsn::V2, "1.0.0", Departure::Exit).await;
}
