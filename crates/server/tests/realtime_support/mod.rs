//! Shared by the `realtime_*` integration tests: an in-process server on 127.0.0.1:0, JWTs, and
//! a raw WebSocket client that sends and expects literal frames.

#![allow(dead_code)] // Each test crate uses a different subset.

use std::time::Duration;

use clap::Parser as _;
use futures_util::{SinkExt, StreamExt};
use pairux_server::{start, Args, RunningServer};
use serde_json::{json, Value};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub const SECRET: &str = "realtime-test-secret";
/// How long a test waits for a frame that must arrive.
pub const WAIT: Duration = Duration::from_secs(3);

pub fn now() -> u64 {
    pairux_server::jwt::now_secs()
}

/// An HS256 token with the given claims, signed with `secret`.
pub fn jwt_with(secret: &str, claims: Value) -> String {
    jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap()
}

/// A valid anon token for the test secret.
pub fn token() -> String {
    jwt_with(SECRET, json!({"role": "anon", "exp": now() + 3600}))
}

/// A token that expired `ago` seconds ago.
pub fn expired(ago: u64) -> String {
    jwt_with(SECRET, json!({"role": "anon", "exp": now() - ago}))
}

pub struct TestServer {
    pub server: RunningServer,
}

/// Starts a server with the test secret and extra flags.
pub async fn server(extra: &[&str]) -> TestServer {
    let dir = std::env::temp_dir().join("pairux-realtime-tests");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("index.html"), "<!doctype html>").unwrap();
    let mut argv = vec![
        "pairux-server",
        "--listen",
        "127.0.0.1:0",
        "--jwt-secret",
        SECRET,
        "--static",
        dir.to_str().unwrap(),
    ];
    argv.extend_from_slice(extra);
    TestServer {
        server: start(Args::parse_from(argv)).await.unwrap(),
    }
}

impl TestServer {
    pub fn http(&self) -> String {
        format!("http://{}", self.server.addr())
    }

    /// The socket URL with an optional `vsn` and `apikey`.
    pub fn url(&self, path: &str, vsn: Option<&str>, apikey: Option<&str>) -> String {
        let mut url = format!("ws://{}{path}", self.server.addr());
        let mut sep = '?';
        if let Some(key) = apikey {
            url.push_str(&format!("{sep}apikey={key}"));
            sep = '&';
        }
        if let Some(vsn) = vsn {
            url.push_str(&format!("{sep}vsn={vsn}"));
        }
        url
    }

    /// A vsn 2.0.0 client with a valid token.
    pub async fn v2(&self) -> Client {
        self.client(Some("2.0.0")).await
    }

    /// A vsn 1.0.0 client with a valid token.
    pub async fn v1(&self) -> Client {
        self.client(Some("1.0.0")).await
    }

    pub async fn client(&self, vsn: Option<&str>) -> Client {
        let url = self.url("/realtime/v1/websocket", vsn, Some(&token()));
        Client::connect(&url, None).await.unwrap()
    }

    pub fn counters(&self) -> pairux_server::realtime::CounterSnapshot {
        self.server.state().realtime.counters()
    }
}

/// The HTTP refusal of an upgrade: status and `error` text.
pub async fn refusal(url: &str, header_key: Option<&str>) -> (u16, String) {
    match Client::connect(url, header_key).await {
        Ok(_) => panic!("{url} was accepted"),
        Err(WsError::Http(response)) => {
            let body = response.body().clone().unwrap_or_default();
            let json: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
            let text = json["error"].as_str().unwrap_or_default().to_owned();
            (response.status().as_u16(), text)
        }
        Err(other) => panic!("{url}: unexpected error {other}"),
    }
}

pub struct Client {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    /// vsn 2.0.0 (arrays); else 1.0.0 (objects), the server's default.
    v2: bool,
}

impl Client {
    pub async fn connect(url: &str, header_key: Option<&str>) -> Result<Client, WsError> {
        let mut request = url.into_client_request()?;
        if let Some(key) = header_key {
            request
                .headers_mut()
                .insert("x-api-key", HeaderValue::from_str(key).unwrap());
        }
        let (ws, _) = tokio_tungstenite::connect_async(request).await?;
        Ok(Client {
            ws,
            v2: url.contains("vsn=2."),
        })
    }

    /// Like [`Self::connect`], from the loopback address `source` (any of 127.0.0.0/8 reaches
    /// a server on 127.0.0.1): another client as far as per-address limits go.
    pub async fn connect_from(url: &str, source: std::net::IpAddr) -> Result<Client, WsError> {
        let request = url.into_client_request()?;
        let uri = request.uri();
        let server: std::net::SocketAddr = format!(
            "{}:{}",
            uri.host().unwrap_or_default(),
            uri.port_u16().unwrap_or(80)
        )
        .parse()
        .unwrap();
        let socket = tokio::net::TcpSocket::new_v4()?;
        socket.bind(std::net::SocketAddr::new(source, 0))?;
        let stream = socket.connect(server).await?;
        let (ws, _) =
            tokio_tungstenite::client_async(request, MaybeTlsStream::Plain(stream)).await?;
        Ok(Client {
            ws,
            v2: url.contains("vsn=2."),
        })
    }

    pub async fn text(&mut self, frame: &str) {
        self.ws.send(Message::text(frame)).await.unwrap();
    }

    pub async fn binary(&mut self, frame: Vec<u8>) {
        self.ws.send(Message::binary(frame)).await.unwrap();
    }

    /// The next data frame (pings and pongs skipped); panics after [`WAIT`].
    pub async fn next(&mut self) -> Message {
        loop {
            let message = tokio::time::timeout(WAIT, self.ws.next())
                .await
                .expect("a frame within the wait")
                .expect("the socket is open")
                .expect("the frame is readable");
            if !matches!(message, Message::Ping(_) | Message::Pong(_)) {
                return message;
            }
        }
    }

    pub async fn next_text(&mut self) -> String {
        match self.next().await {
            Message::Text(text) => text.to_string(),
            other => panic!("expected a text frame, got {other:?}"),
        }
    }

    pub async fn next_json(&mut self) -> Value {
        serde_json::from_str(&self.next_text().await).unwrap()
    }

    pub async fn next_binary(&mut self) -> Vec<u8> {
        match self.next().await {
            Message::Binary(bytes) => bytes.to_vec(),
            other => panic!("expected a binary frame, got {other:?}"),
        }
    }

    /// Asserts the next frame is exactly `expected`.
    pub async fn expect(&mut self, expected: &str) {
        assert_eq!(self.next_text().await, expected);
    }

    /// Asserts that the next frame to reach this socket is the reply to a heartbeat sent now.
    /// The server handles one socket's frames one at a time, and queues whatever handling a
    /// frame sends at once (to this socket or to others) before it reads the next: so this
    /// proves that nothing this socket's earlier frames caused at once came to it, however
    /// slowly the server ran. Not what comes later by design: a join error held back by the
    /// error back-off, a token re-check's closing. (For what another socket's frames caused,
    /// the proof is a later frame of that socket's that must come, checked to come next.)
    pub async fn expect_nothing_before_heartbeat(&mut self) {
        if self.v2 {
            self.heartbeat_v2("fence").await;
        } else {
            self.text(r#"{"topic":"phoenix","event":"heartbeat","payload":{},"ref":"fence"}"#)
                .await;
            self.expect(r#"{"topic":"phoenix","event":"phx_reply","payload":{"status":"ok","response":{}},"ref":"fence"}"#)
                .await;
        }
    }

    /// The next text frame, or `None` once the socket closes (other frames skipped).
    pub async fn next_text_or_close(&mut self) -> Option<String> {
        loop {
            match tokio::time::timeout(WAIT, self.ws.next())
                .await
                .expect("a frame or the close within the wait")
            {
                Some(Ok(Message::Text(text))) => return Some(text.to_string()),
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => return None,
                Some(Ok(_)) => continue,
            }
        }
    }

    /// Waits for the server to close the socket; returns the close frame, if any.
    pub async fn closed(&mut self) -> Option<CloseFrame> {
        loop {
            match tokio::time::timeout(WAIT, self.ws.next())
                .await
                .expect("closed within the wait")
            {
                Some(Ok(Message::Close(frame))) => return frame,
                Some(Ok(_)) => continue,
                Some(Err(_)) | None => return None,
            }
        }
    }

    /// Sends a vsn 2.0.0 heartbeat and expects its reply: proof the socket is alive.
    pub async fn heartbeat_v2(&mut self, r#ref: &str) {
        self.text(&format!(r#"[null,"{ref}","phoenix","heartbeat",{{}}]"#))
            .await;
        self.expect(&format!(
            r#"[null,"{ref}","phoenix","phx_reply",{{"status":"ok","response":{{}}}}]"#
        ))
        .await;
    }

    /// Joins `topic` on a vsn 2.0.0 socket with `config`, expecting the ok reply and, when
    /// presence is enabled, an empty presence state.
    pub async fn join_v2(&mut self, join_ref: &str, topic: &str, config: Value) {
        let presence = match &config["presence"]["enabled"] {
            Value::Bool(enabled) => *enabled,
            Value::String(enabled) => enabled == "true" || enabled == "1",
            _ => true,
        };
        let frame = json!([join_ref, join_ref, topic, "phx_join", {"config": config}]);
        self.text(&frame.to_string()).await;
        self.expect(&format!(
            r#"["{join_ref}","{join_ref}","{topic}","phx_reply",{{"status":"ok","response":{{"postgres_changes":[]}}}}]"#
        ))
        .await;
        if presence {
            let state = self.next_json().await;
            assert_eq!(state[3], "presence_state");
            assert_eq!(state[0], join_ref);
        }
    }

    /// Joins on a vsn 1.0.0 socket; presence off.
    pub async fn join_v1(&mut self, join_ref: &str, topic: &str, config: Value) {
        let mut config = config;
        config["presence"] = json!({"enabled": false});
        let frame = json!({"topic": topic, "event": "phx_join", "payload": {"config": config}, "ref": join_ref, "join_ref": join_ref});
        self.text(&frame.to_string()).await;
        self.expect(&format!(
            r#"{{"topic":"{topic}","event":"phx_reply","payload":{{"status":"ok","response":{{"postgres_changes":[]}}}},"ref":"{join_ref}"}}"#
        ))
        .await;
    }
}

/// A join config without presence.
pub fn quiet_config(ack: bool, self_broadcast: bool) -> Value {
    json!({"broadcast": {"ack": ack, "self": self_broadcast}, "presence": {"enabled": false}})
}
