//! A simulation harness for the sans-IO realtime client: an in-test fake Realtime server that
//! speaks the wire protocol through the codec, a delivery queue with latency, and a clock that
//! jumps from deadline to deadline. Nothing sleeps; hours of protocol run in microseconds.

#![allow(dead_code)] // each test binary uses a different part of the harness

use std::collections::{BTreeMap, VecDeque};

use pairux_core::realtime::{
    event, BinaryFrame, Direction, Envelope, JoinPayload, Message, PresenceDiff, PresenceEntry,
    PresenceMeta, PresenceRequest, PresenceState, UserBroadcast, UserPayload, Vsn,
};
use pairux_core::realtime_client::{ClientEvent, ClientOptions, Output, RealtimeClient};
use serde_json::{json, Map, Value};

pub const URL: &str = "ws://pairux.test/realtime/v1/websocket";

/// What the server sends the client.
#[derive(Debug, Clone, PartialEq)]
pub enum Delivery {
    Open,
    Close(u16),
    Text(String),
    Binary(Vec<u8>),
}

/// A frame the client sent, as the server decoded it.
#[derive(Debug, Clone, PartialEq)]
pub struct Received {
    pub at: u64,
    pub join_ref: Option<String>,
    pub msg_ref: Option<String>,
    pub topic: String,
    pub event: String,
    pub payload: Value,
    /// Sent as a binary frame (kind 3).
    pub binary: bool,
}

/// A fake Realtime server: one client connection at a time, channels, presence and broadcast.
#[derive(Debug)]
pub struct FakeServer {
    pub vsn: Vsn,
    pub latency: u64,
    /// Accept the next connection attempts (else close them before they open).
    pub accept: bool,
    pub answer_heartbeats: bool,
    pub answer_joins: bool,
    /// Reply to joins with this error reason.
    pub join_error: Option<String>,
    pub connected: bool,
    /// Events the server records but does not act on (e.g. `broadcast` to test timeouts).
    pub mute: Vec<&'static str>,
    /// Frames the client wrote after the server had dropped the connection.
    pub lost_frames: usize,
    pub connects: Vec<(u64, String)>,
    pub received: Vec<Received>,
    /// Client closes, as (time, code, reason).
    pub client_closes: Vec<(u64, u16, String)>,
    /// topic → (join ref, presence key, self broadcast, ack, presence enabled).
    joined: BTreeMap<String, Joined>,
    /// topic → presence of everyone (other participants and this connection's tracks).
    presence: BTreeMap<String, PresenceState>,
    next_phx_ref: u64,
    queue: VecDeque<(u64, Delivery)>,
}

#[derive(Debug, Clone)]
struct Joined {
    join_ref: String,
    key: String,
    self_broadcast: bool,
    ack: bool,
    presence: bool,
    /// phx_ref of this connection's meta, when tracking.
    tracked: Option<String>,
}

impl FakeServer {
    pub fn new(vsn: Vsn) -> Self {
        FakeServer {
            vsn,
            latency: 20,
            accept: true,
            answer_heartbeats: true,
            answer_joins: true,
            join_error: None,
            connected: false,
            mute: Vec::new(),
            lost_frames: 0,
            connects: Vec::new(),
            received: Vec::new(),
            client_closes: Vec::new(),
            joined: BTreeMap::new(),
            presence: BTreeMap::new(),
            next_phx_ref: 0,
            queue: VecDeque::new(),
        }
    }

    fn deliver(&mut self, now: u64, delivery: Delivery) {
        self.queue.push_back((now + self.latency, delivery));
    }

    fn send<P: serde::Serialize + ?Sized>(
        &mut self,
        now: u64,
        join_ref: Option<&str>,
        msg_ref: Option<&str>,
        topic: &str,
        event: &str,
        payload: &P,
    ) {
        let text = Envelope {
            join_ref,
            msg_ref,
            topic,
            event,
            payload,
        }
        .encode(self.vsn, Direction::ServerToClient)
        .unwrap();
        self.deliver(now, Delivery::Text(text));
    }

    fn reply(&mut self, now: u64, msg: &Received, status: &str, response: Value) {
        let payload = json!({"status": status, "response": response});
        self.send(
            now,
            msg.join_ref.as_deref(),
            msg.msg_ref.as_deref(),
            &msg.topic.clone(),
            event::REPLY,
            &payload,
        );
    }

    /// The connection drops (server killed, network gone): the client sees a close.
    pub fn drop_connection(&mut self, now: u64, code: u16) {
        if self.connected {
            self.end_connection(now);
            self.deliver(now, Delivery::Close(code));
        }
    }

    /// Socket close = leave for all its metas; other subscribers would get the diff.
    fn end_connection(&mut self, _now: u64) {
        self.connected = false;
        for (topic, joined) in std::mem::take(&mut self.joined) {
            if let Some(phx_ref) = joined.tracked {
                self.remove_meta(&topic, &joined.key, &phx_ref);
            }
        }
    }

    fn remove_meta(&mut self, topic: &str, key: &str, phx_ref: &str) -> Option<PresenceMeta> {
        let state = self.presence.get_mut(topic)?;
        let entry = state.get_mut(key)?;
        let index = entry.metas.iter().position(|m| m.phx_ref == phx_ref)?;
        let meta = entry.metas.remove(index);
        if entry.metas.is_empty() {
            state.remove(key);
        }
        Some(meta)
    }

    fn push_diff(&mut self, now: u64, topic: &str, diff: &PresenceDiff) {
        if self.joined.get(topic).is_some_and(|j| j.presence) {
            self.send(now, None, None, topic, event::PRESENCE_DIFF, diff);
        }
    }

    fn make_meta(&mut self, payload: Value, prev: Option<String>) -> PresenceMeta {
        self.next_phx_ref += 1;
        let payload = match payload {
            Value::Object(map) => map,
            _ => Map::new(),
        };
        PresenceMeta {
            phx_ref: format!("F{}", self.next_phx_ref),
            phx_ref_prev: prev,
            payload,
        }
    }

    /// Another participant (on another socket) tracks `meta` under `key`.
    pub fn other_joins(&mut self, now: u64, topic: &str, key: &str, meta: Value) -> String {
        let meta = self.make_meta(meta, None);
        let phx_ref = meta.phx_ref.clone();
        let entry = PresenceEntry { metas: vec![meta] };
        self.presence
            .entry(topic.to_owned())
            .or_default()
            .entry(key.to_owned())
            .or_default()
            .metas
            .extend(entry.metas.iter().cloned());
        let mut diff = PresenceDiff::default();
        diff.joins.insert(key.to_owned(), entry);
        self.push_diff(now, topic, &diff);
        phx_ref
    }

    /// Another participant leaves.
    pub fn other_leaves(&mut self, now: u64, topic: &str, key: &str, phx_ref: &str) {
        if let Some(meta) = self.remove_meta(topic, key, phx_ref) {
            let mut diff = PresenceDiff::default();
            diff.leaves
                .insert(key.to_owned(), PresenceEntry { metas: vec![meta] });
            self.push_diff(now, topic, &diff);
        }
    }

    /// The server pushes a raw text frame to the client.
    pub fn push_text(&mut self, now: u64, text: &str) {
        self.deliver(now, Delivery::Text(text.to_owned()));
    }

    /// The current join ref of a topic on this connection.
    pub fn join_ref(&self, topic: &str) -> Option<String> {
        self.joined.get(topic).map(|j| j.join_ref.clone())
    }

    /// Frames received with this event, in order.
    pub fn received(&self, event: &str) -> Vec<&Received> {
        self.received.iter().filter(|r| r.event == event).collect()
    }

    pub fn presence(&self, topic: &str) -> PresenceState {
        self.presence.get(topic).cloned().unwrap_or_default()
    }

    /// The client did something.
    pub fn on_output(&mut self, now: u64, output: &Output) {
        match output {
            Output::Connect { url } => {
                self.connects.push((now, url.clone()));
                if self.connected {
                    self.end_connection(now);
                }
                if self.accept {
                    self.connected = true;
                    self.deliver(now, Delivery::Open);
                } else {
                    self.deliver(now, Delivery::Close(1006));
                }
            }
            Output::Close { code, reason } => {
                self.client_closes.push((now, *code, reason.clone()));
                if self.connected {
                    self.end_connection(now);
                }
            }
            Output::SendText(_) | Output::SendBinary(_) if !self.connected => {
                self.lost_frames += 1;
            }
            Output::SendText(text) => {
                let msg = Message::decode(text, self.vsn).expect("the client sends valid frames");
                self.on_message(now, received(now, msg, false));
            }
            Output::SendBinary(bytes) => {
                assert_eq!(self.vsn, Vsn::V2, "binary frames only on vsn 2.0.0");
                let Ok(BinaryFrame::Push(push)) = BinaryFrame::decode(bytes) else {
                    panic!("the client sends kind 3 frames");
                };
                let payload = match push.payload {
                    UserPayload::Json(raw) => serde_json::from_str(raw.get()).unwrap(),
                    UserPayload::Binary(b) => json!({ "binary": b }),
                };
                let msg = Message {
                    join_ref: Some(push.join_ref.to_owned()),
                    msg_ref: Some(push.msg_ref.to_owned()),
                    topic: push.topic.to_owned(),
                    event: event::BROADCAST.to_owned(),
                    payload: json!({"type": "broadcast", "event": push.event, "payload": payload}),
                };
                let mut r = received(now, msg, true);
                if let UserPayload::Binary(b) = push.payload {
                    r.payload["binary_bytes"] = json!(b);
                }
                self.on_message(now, r);
            }
            Output::Event(_) => {}
        }
    }

    fn on_message(&mut self, now: u64, msg: Received) {
        self.received.push(msg.clone());
        if self.mute.contains(&msg.event.as_str()) {
            return;
        }
        match msg.event.as_str() {
            event::HEARTBEAT if self.answer_heartbeats => {
                self.reply(now, &msg, "ok", json!({}));
            }
            event::JOIN if self.answer_joins => self.on_join(now, &msg),
            event::LEAVE => {
                self.reply(now, &msg, "ok", json!({}));
                if let Some(joined) = self.joined.remove(&msg.topic) {
                    if let Some(phx_ref) = joined.tracked {
                        self.remove_meta(&msg.topic, &joined.key, &phx_ref);
                    }
                    let topic = msg.topic.clone();
                    let jr = joined.join_ref.clone();
                    self.send(now, Some(&jr), Some(&jr), &topic, event::CLOSE, &json!({}));
                }
            }
            event::PRESENCE => self.on_presence(now, &msg),
            event::BROADCAST => self.on_broadcast(now, &msg),
            _ => {}
        }
    }

    fn on_join(&mut self, now: u64, msg: &Received) {
        if let Some(reason) = self.join_error.clone() {
            self.reply(now, msg, "error", json!({ "reason": reason }));
            return;
        }
        let join = JoinPayload::parse(&msg.payload).join;
        let join_ref = msg.join_ref.clone().expect("joins carry a join_ref");
        // Joining a topic already joined on this socket closes the old channel first.
        if let Some(old) = self.joined.remove(&msg.topic) {
            let topic = msg.topic.clone();
            self.send(
                now,
                Some(&old.join_ref),
                Some(&old.join_ref),
                &topic,
                event::CLOSE,
                &json!({}),
            );
        }
        self.joined.insert(
            msg.topic.clone(),
            Joined {
                join_ref: join_ref.clone(),
                key: join.config.presence.key.clone(),
                self_broadcast: join.config.broadcast.self_broadcast,
                ack: join.config.broadcast.ack,
                presence: join.config.presence.enabled,
                tracked: None,
            },
        );
        self.reply(now, msg, "ok", json!({"postgres_changes": []}));
        if join.config.presence.enabled {
            let state = self.presence(&msg.topic);
            let topic = msg.topic.clone();
            self.send(
                now,
                Some(&join_ref),
                None,
                &topic,
                event::PRESENCE_STATE,
                &state,
            );
        }
    }

    fn on_presence(&mut self, now: u64, msg: &Received) {
        let Some(joined) = self.joined.get(&msg.topic).cloned() else {
            return;
        };
        self.reply(now, msg, "ok", json!({}));
        let mut diff = PresenceDiff::default();
        let old = joined
            .tracked
            .as_deref()
            .and_then(|r| self.remove_meta(&msg.topic, &joined.key, r));
        if let Some(old) = &old {
            diff.leaves.insert(
                joined.key.clone(),
                PresenceEntry {
                    metas: vec![old.clone()],
                },
            );
        }
        let mut tracked = None;
        if let PresenceRequest::Track(payload) = PresenceRequest::parse(&msg.payload) {
            let meta = self.make_meta(payload, old.map(|m| m.phx_ref));
            tracked = Some(meta.phx_ref.clone());
            self.presence
                .entry(msg.topic.clone())
                .or_default()
                .entry(joined.key.clone())
                .or_default()
                .metas
                .push(meta.clone());
            diff.joins
                .insert(joined.key.clone(), PresenceEntry { metas: vec![meta] });
        }
        if let Some(j) = self.joined.get_mut(&msg.topic) {
            j.tracked = tracked;
        }
        self.push_diff(now, &msg.topic, &diff);
    }

    fn on_broadcast(&mut self, now: u64, msg: &Received) {
        let Some(joined) = self.joined.get(&msg.topic).cloned() else {
            return;
        };
        if joined.ack {
            self.reply(now, msg, "ok", json!({}));
        }
        if !joined.self_broadcast {
            return;
        }
        let user_event = msg.payload["event"].as_str().unwrap_or_default().to_owned();
        let payload = msg.payload["payload"].clone();
        match self.vsn {
            Vsn::V2 => {
                let bytes;
                let raw;
                let user = if let Some(b) = msg.payload.get("binary_bytes") {
                    bytes = serde_json::from_value::<Vec<u8>>(b.clone()).unwrap();
                    UserPayload::Binary(&bytes)
                } else {
                    raw = serde_json::value::to_raw_value(&payload).unwrap();
                    UserPayload::Json(&raw)
                };
                let frame = UserBroadcast {
                    topic: &msg.topic,
                    event: &user_event,
                    meta: None,
                    payload: user,
                }
                .encode()
                .unwrap();
                self.deliver(now, Delivery::Binary(frame));
            }
            Vsn::V1 => {
                let body = json!({"event": user_event, "payload": payload, "type": "broadcast"});
                let topic = msg.topic.clone();
                self.send(now, None, None, &topic, event::BROADCAST, &body);
            }
        }
    }
}

fn received(at: u64, msg: Message, binary: bool) -> Received {
    Received {
        at,
        join_ref: msg.join_ref,
        msg_ref: msg.msg_ref,
        topic: msg.topic,
        event: msg.event,
        payload: msg.payload,
        binary,
    }
}

/// A client wired to a fake server, with a clock that only moves when told.
pub struct Sim {
    pub client: RealtimeClient,
    pub server: FakeServer,
    pub now: u64,
    /// Every event the client emitted, with its time.
    pub events: Vec<(u64, ClientEvent)>,
}

impl Sim {
    pub fn new(vsn: Vsn) -> Self {
        let mut opts = ClientOptions::new(URL, "anon-key");
        opts.vsn = vsn;
        Sim {
            client: RealtimeClient::new(opts),
            server: FakeServer::new(vsn),
            now: 0,
            events: Vec::new(),
        }
    }

    /// Hands every client output to the server.
    pub fn pump(&mut self) {
        while let Some(output) = self.client.poll_output() {
            self.server.on_output(self.now, &output);
            if let Output::Event(event) = output {
                self.events.push((self.now, event));
            }
        }
    }

    /// Runs deliveries and timers up to and including `until`, then sets the clock to it.
    pub fn run_until(&mut self, until: u64) {
        for _ in 0..1_000_000 {
            self.pump();
            let delivery = self.server.queue.front().map(|d| d.0);
            let timer = self.client.poll_timeout();
            let next = [delivery, timer].into_iter().flatten().min();
            match next {
                Some(at) if at <= until => {
                    self.now = self.now.max(at);
                    if delivery.is_some_and(|d| d <= self.now) {
                        let (_, d) = self.server.queue.pop_front().expect("peeked");
                        self.deliver(d);
                    } else {
                        self.client.handle_timeout(self.now);
                    }
                }
                _ => {
                    self.now = self.now.max(until);
                    self.pump();
                    return;
                }
            }
        }
        panic!("simulation did not settle by {until}");
    }

    /// Runs for `ms` more.
    pub fn run_for(&mut self, ms: u64) {
        self.run_until(self.now + ms);
    }

    fn deliver(&mut self, delivery: Delivery) {
        let now = self.now;
        match delivery {
            Delivery::Open => self.client.handle_open(now),
            Delivery::Close(code) => self.client.handle_close(now, code, ""),
            Delivery::Text(text) => self.client.handle_text(now, &text),
            Delivery::Binary(bytes) => self.client.handle_binary(now, &bytes),
        }
    }

    /// Events emitted since `from` (inclusive), without their times.
    pub fn events_since(&self, from: u64) -> Vec<ClientEvent> {
        self.events
            .iter()
            .filter(|(at, _)| *at >= from)
            .map(|(_, e)| e.clone())
            .collect()
    }
}
