//! A tokio driver of the core's sans-IO `RealtimeClient` over tokio-tungstenite: one socket,
//! any number of channels, the client's deadlines. The focus uses it to watch session channels
//! and announce decisions; tests use it as fake participants.
//!
//! [`RealtimeHandle`] sends commands (join with optional presence, leave, broadcast) to the
//! driver task; the task reports [`ChannelEvent`]s on an unbounded channel. The task ends when
//! every handle is dropped.

use std::collections::HashMap;
use std::time::Duration;

use futures_util::{SinkExt as _, StreamExt as _};
use pairux_core::realtime::{BroadcastConfig, PresenceConfig};
use pairux_core::realtime_client::{
    BroadcastBody, ChannelId, ChannelOptions, ChannelState, ClientEvent, ClientOptions, Output,
    RealtimeClient,
};
use serde_json::Value;
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// How long opening the socket may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// What the driver reports.
#[derive(Debug, Clone, PartialEq)]
pub enum ChannelEvent {
    /// The channel's presence changed: metas now present (every key, every meta) and how many
    /// appeared in this change.
    Presence {
        topic: String,
        count: usize,
        joined: usize,
    },
    /// A broadcast arrived (JSON payloads only).
    Broadcast {
        topic: String,
        event: String,
        payload: Value,
    },
    /// The channel was (re)joined.
    Joined { topic: String },
}

enum Command {
    Join {
        topic: String,
        presence: Option<(String, Value)>,
    },
    Leave {
        topic: String,
    },
    Broadcast {
        topic: String,
        event: String,
        payload: Value,
    },
}

/// Commands to a driver task.
#[derive(Clone)]
pub struct RealtimeHandle {
    tx: mpsc::UnboundedSender<Command>,
}

impl RealtimeHandle {
    /// Starts a driver connected to `endpoint` (`ws://…/realtime/v1/websocket`) with `api_key`.
    pub fn start(
        endpoint: &str,
        api_key: &str,
    ) -> (RealtimeHandle, mpsc::UnboundedReceiver<ChannelEvent>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let (events_tx, events) = mpsc::unbounded_channel();
        let client = RealtimeClient::new(ClientOptions::new(endpoint, api_key));
        tokio::spawn(
            Driver {
                client,
                epoch: Instant::now(),
                ws: None,
                channels: HashMap::new(),
                topics: HashMap::new(),
                leaving: std::collections::HashSet::new(),
                events: events_tx,
            }
            .run(rx),
        );
        (RealtimeHandle { tx }, events)
    }

    /// Joins `topic` (`realtime:pairux:<id>`) without presence of our own: we watch, we are
    /// not a participant.
    pub fn watch(&self, topic: &str) {
        let _ = self.tx.send(Command::Join {
            topic: topic.to_owned(),
            presence: None,
        });
    }

    /// Joins `topic` and tracks `meta` under presence `key` (tests: fake participants).
    pub fn join_tracked(&self, topic: &str, key: &str, meta: Value) {
        let _ = self.tx.send(Command::Join {
            topic: topic.to_owned(),
            presence: Some((key.to_owned(), meta)),
        });
    }

    pub fn leave(&self, topic: &str) {
        let _ = self.tx.send(Command::Leave {
            topic: topic.to_owned(),
        });
    }

    /// Broadcasts a JSON payload on a joined (or joining) channel.
    pub fn broadcast(&self, topic: &str, event: &str, payload: Value) {
        let _ = self.tx.send(Command::Broadcast {
            topic: topic.to_owned(),
            event: event.to_owned(),
            payload,
        });
    }
}

struct Driver {
    client: RealtimeClient,
    epoch: Instant,
    ws: Option<Ws>,
    channels: HashMap<ChannelId, String>,
    topics: HashMap<String, ChannelId>,
    /// Channels we asked to leave (their `Closed` is ours, not the server's).
    leaving: std::collections::HashSet<ChannelId>,
    events: mpsc::UnboundedSender<ChannelEvent>,
}

enum Wake {
    Frame(Option<Result<Message, tokio_tungstenite::tungstenite::Error>>),
    Deadline,
    Command(Option<Command>),
}

impl Driver {
    fn now(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    async fn run(mut self, mut commands: mpsc::UnboundedReceiver<Command>) {
        let now = self.now();
        self.client.connect(now);
        self.flush().await;
        loop {
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
                command = commands.recv() => Wake::Command(command),
            };
            let now = self.now();
            match wake {
                Wake::Command(None) => break,
                Wake::Command(Some(command)) => self.command(now, command),
                Wake::Deadline => self.client.handle_timeout(now),
                Wake::Frame(Some(Ok(Message::Text(text)))) => self.client.handle_text(now, &text),
                Wake::Frame(Some(Ok(Message::Binary(bytes)))) => {
                    self.client.handle_binary(now, &bytes)
                }
                Wake::Frame(Some(Ok(Message::Close(frame)))) => {
                    self.ws = None;
                    let (code, reason) = frame.map_or((1005, String::new()), |f| {
                        (f.code.into(), f.reason.to_string())
                    });
                    self.client.handle_close(now, code, &reason);
                }
                Wake::Frame(Some(Ok(_))) => {}
                Wake::Frame(Some(Err(_)) | None) => {
                    self.ws = None;
                    self.client.handle_close(now, 1006, "");
                }
            }
            self.flush().await;
        }
        if let Some(mut ws) = self.ws.take() {
            let _ = ws.close(None).await;
        }
    }

    fn channel(&mut self, topic: &str, presence_key: String) -> ChannelId {
        let ch = self.client.channel(
            topic,
            ChannelOptions {
                broadcast: BroadcastConfig {
                    ack: false,
                    self_broadcast: false,
                },
                presence: PresenceConfig {
                    key: presence_key,
                    enabled: true,
                },
                private: false,
            },
        );
        self.channels.insert(ch, topic.to_owned());
        self.topics.insert(topic.to_owned(), ch);
        ch
    }

    fn command(&mut self, now: u64, command: Command) {
        match command {
            Command::Join { topic, presence } => {
                let key = presence.as_ref().map(|p| p.0.clone()).unwrap_or_default();
                let ch = self.channel(&topic, key);
                self.client.join(now, ch);
                if let Some((_, meta)) = presence {
                    self.client.track(now, ch, meta);
                }
            }
            Command::Leave { topic } => {
                if let Some(ch) = self.topics.get(&topic) {
                    self.leaving.insert(*ch);
                    self.client.leave(now, *ch);
                }
            }
            Command::Broadcast {
                topic,
                event,
                payload,
            } => {
                if let Some(ch) = self.topics.get(&topic) {
                    self.client.broadcast(now, *ch, &event, payload);
                }
            }
        }
    }

    async fn flush(&mut self) {
        while let Some(output) = self.client.poll_output() {
            match output {
                Output::Connect { url } => self.connect(&url).await,
                Output::SendText(text) => self.send(Message::text(text)).await,
                Output::SendBinary(bytes) => self.send(Message::binary(bytes)).await,
                Output::Close { code, reason } => {
                    if let Some(mut ws) = self.ws.take() {
                        let frame = CloseFrame {
                            code: code.into(),
                            reason: reason.into(),
                        };
                        let _ = ws.close(Some(frame)).await;
                    }
                }
                Output::Event(event) => self.event(event),
            }
        }
    }

    fn event(&mut self, event: ClientEvent) {
        let topic = |ch: &ChannelId| self.channels.get(ch).cloned();
        let report = match event {
            ClientEvent::Presence { ch, sync } => topic(&ch).map(|topic| ChannelEvent::Presence {
                topic,
                count: sync.state.values().map(|e| e.metas.len()).sum(),
                joined: sync.joins.iter().map(|(_, metas)| metas.len()).sum(),
            }),
            ClientEvent::Broadcast {
                ch,
                event,
                payload: BroadcastBody::Json(payload),
            } => topic(&ch).map(|topic| ChannelEvent::Broadcast {
                topic,
                event,
                payload,
            }),
            ClientEvent::Channel {
                ch,
                state: ChannelState::Joined,
            } => topic(&ch).map(|topic| ChannelEvent::Joined { topic }),
            // The server closed a channel we still watch (`phx_close`, e.g. after a rate
            // limit): join it again, or the session's presence and decisions go unseen for
            // good. Its presence is tracked with the join.
            ClientEvent::Channel {
                ch,
                state: ChannelState::Closed,
            } if !self.leaving.remove(&ch)
                && topic(&ch).is_some_and(|t| self.topics.get(&t) == Some(&ch)) =>
            {
                tracing::warn!(
                    "focus: the server closed {:?}; joining it again",
                    topic(&ch)
                );
                let now = self.now();
                self.client.join(now, ch);
                None
            }
            _ => None,
        };
        if let Some(report) = report {
            let _ = self.events.send(report);
        }
    }

    async fn connect(&mut self, url: &str) {
        self.ws = None;
        match tokio::time::timeout(CONNECT_TIMEOUT, tokio_tungstenite::connect_async(url)).await {
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
}
