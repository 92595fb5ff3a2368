//! A tokio driver of the core's sans-IO `RealtimeClient` over tokio-tungstenite: the client's
//! deadlines, a socket per [`RealtimeHandle::start_with`]'s `per_socket` channels. The focus uses
//! it to watch session channels and announce decisions; tests use it as fake participants.
//!
//! [`RealtimeHandle`] sends commands (join with optional presence, leave, broadcast) to driver
//! tasks, one per socket; they report [`ChannelEvent`]s on one unbounded channel. A Realtime
//! server caps the channels of one client (Supabase's default: 100), and the focus watches
//! every Auto or SFU session: a socket is given at most `per_socket` topics over its life, and
//! once every one of them was left its task ends (so the channels a client keeps after leaving
//! them are bounded too). Every task ends when every handle is dropped.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
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

/// Topics one socket is given over its life by default: half of Supabase's default channel
/// cap per client, so a server configured lower still has room.
pub const CHANNELS_PER_SOCKET: usize = 50;

/// Commands to the driver tasks.
#[derive(Clone)]
pub struct RealtimeHandle {
    shards: Arc<Mutex<Shards>>,
}

/// One socket's task and what it was given.
struct Shard {
    tx: mpsc::UnboundedSender<Command>,
    /// Topics given to it over its life.
    given: usize,
    /// Topics it is in now.
    live: usize,
}

struct Shards {
    endpoint: String,
    api_key: String,
    per_socket: usize,
    events: mpsc::UnboundedSender<ChannelEvent>,
    next: u64,
    shards: HashMap<u64, Shard>,
    /// The socket each joined topic is on.
    topics: HashMap<String, u64>,
}

impl Shards {
    /// The socket for `topic`: the one it is on, or one with room (a new one if none has).
    fn shard_for(&mut self, topic: &str) -> &mut Shard {
        let id = match self.topics.get(topic) {
            Some(id) => *id,
            None => {
                let room = self
                    .shards
                    .iter()
                    .find(|(_, s)| s.given < self.per_socket)
                    .map(|(id, _)| *id);
                let id = room.unwrap_or_else(|| self.spawn());
                let shard = self.shards.get_mut(&id).expect("just found or made");
                shard.given += 1;
                shard.live += 1;
                self.topics.insert(topic.to_owned(), id);
                id
            }
        };
        self.shards.get_mut(&id).expect("topics name live shards")
    }

    fn spawn(&mut self) -> u64 {
        let (tx, rx) = mpsc::unbounded_channel();
        let client = RealtimeClient::new(ClientOptions::new(&self.endpoint, &self.api_key));
        tokio::spawn(
            Driver {
                client,
                epoch: Instant::now(),
                ws: None,
                channels: HashMap::new(),
                topics: HashMap::new(),
                leaving: std::collections::HashSet::new(),
                events: self.events.clone(),
            }
            .run(rx),
        );
        let id = self.next;
        self.next += 1;
        self.shards.insert(
            id,
            Shard {
                tx,
                given: 0,
                live: 0,
            },
        );
        id
    }
}

impl RealtimeHandle {
    /// Drivers connected to `endpoint` (`ws://…/realtime/v1/websocket`) with `api_key`, a socket
    /// per [`CHANNELS_PER_SOCKET`] topics.
    pub fn start(
        endpoint: &str,
        api_key: &str,
    ) -> (RealtimeHandle, mpsc::UnboundedReceiver<ChannelEvent>) {
        Self::start_with(endpoint, api_key, CHANNELS_PER_SOCKET)
    }

    /// As [`Self::start`], a socket per `per_socket` topics (at least 1). The first socket opens
    /// with the first join.
    pub fn start_with(
        endpoint: &str,
        api_key: &str,
        per_socket: usize,
    ) -> (RealtimeHandle, mpsc::UnboundedReceiver<ChannelEvent>) {
        let (events_tx, events) = mpsc::unbounded_channel();
        let shards = Shards {
            endpoint: endpoint.to_owned(),
            api_key: api_key.to_owned(),
            per_socket: per_socket.max(1),
            events: events_tx,
            next: 0,
            shards: HashMap::new(),
            topics: HashMap::new(),
        };
        let handle = RealtimeHandle {
            shards: Arc::new(Mutex::new(shards)),
        };
        (handle, events)
    }

    fn shards(&self) -> std::sync::MutexGuard<'_, Shards> {
        self.shards
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn join(&self, topic: &str, presence: Option<(String, Value)>) {
        let mut shards = self.shards();
        let shard = shards.shard_for(topic);
        let _ = shard.tx.send(Command::Join {
            topic: topic.to_owned(),
            presence,
        });
    }

    /// Joins `topic` (`realtime:pairux:<id>`) without presence of our own: we watch, we are
    /// not a participant.
    pub fn watch(&self, topic: &str) {
        self.join(topic, None);
    }

    /// Joins `topic` and tracks `meta` under presence `key` (tests: fake participants).
    pub fn join_tracked(&self, topic: &str, key: &str, meta: Value) {
        self.join(topic, Some((key.to_owned(), meta)));
    }

    /// Leaves `topic`; a socket left with nothing it may still be given ends.
    pub fn leave(&self, topic: &str) {
        let mut shards = self.shards();
        let Some(id) = shards.topics.remove(topic) else {
            return;
        };
        let per_socket = shards.per_socket;
        let Some(shard) = shards.shards.get_mut(&id) else {
            return;
        };
        let _ = shard.tx.send(Command::Leave {
            topic: topic.to_owned(),
        });
        shard.live = shard.live.saturating_sub(1);
        if shard.live == 0 && shard.given >= per_socket {
            // Its task leaves the channel, then ends with its sender gone.
            shards.shards.remove(&id);
        }
    }

    /// Broadcasts a JSON payload on a joined (or joining) channel.
    pub fn broadcast(&self, topic: &str, event: &str, payload: Value) {
        let shards = self.shards();
        let Some(shard) = shards
            .topics
            .get(topic)
            .and_then(|id| shards.shards.get(id))
        else {
            return;
        };
        let _ = shard.tx.send(Command::Broadcast {
            topic: topic.to_owned(),
            event: event.to_owned(),
            payload,
        });
    }

    /// Sockets open or opening now.
    pub fn sockets(&self) -> usize {
        self.shards().shards.len()
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
