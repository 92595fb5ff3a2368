//! [`JanusClient`]: one participant's conversation with one Janus over one WebSocket — a
//! session, one VideoRoom handle, the join as publisher or subscriber, the negotiation, trickle,
//! keepalive, ICE restart — as a sans-IO machine. The glue opens the socket, feeds frames and
//! time in, sends what [`Output::Send`] says and does what each [`JanusEvent`] asks of its
//! RTCPeerConnection.

use crate::vecmap::VecMap;
use std::collections::VecDeque;

use serde_json::{json, Value};

use super::wire::{Incoming, Jsep, Problem, Request};
use crate::access::SfuGrant;
use crate::session::{CandidateInit, Description, SdpKind};

/// Janus's `session_timeout` is 60 s; a keepalive every 25 s keeps a session alive.
pub const KEEPALIVE_MS: u64 = 25_000;
/// A request unanswered this long means the node is not answering.
pub const ANSWER_TIMEOUT_MS: u64 = 10_000;

/// What this client does in the room.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JanusRole {
    /// Publishes the host's screen once.
    Publisher { display: String },
    /// Publishes this participant's voice (one Opus stream, nothing else) while its
    /// microphone is on; listeners learn the feed from its signed announcement.
    VoicePublisher { display: String },
    /// Receives feed `feed`: the one the (verified) host named, or a voice a participant
    /// announced. With `display`, Janus must say the feed's publisher joined under that name
    /// (a voice: `<announcer>/voice`), or the feed is taken as not published: a link holder
    /// who announces someone else's feed as its own gets nothing (each page's voice places are
    /// few, `voice::MAX_VOICES`).
    Subscriber { feed: u64, display: Option<String> },
}

/// Where the conversation is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JanusPhase {
    /// Waiting for the socket.
    Connecting,
    /// Creating the session, attaching, joining.
    Joining,
    /// Descriptions are being exchanged.
    Negotiating,
    /// Janus reported the PeerConnection up (`webrtcup`).
    Up,
    /// Something failed; see [`JanusClient::problem`]. The glue reconnects if it may.
    Failed,
    /// We left.
    Closed,
}

/// What the glue must do.
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    /// Send this text on the socket.
    Send(String),
    Event(JanusEvent),
}

#[derive(Debug, Clone, PartialEq)]
pub enum JanusEvent {
    /// Publisher: joined the room; guests subscribe to `feed`.
    Joined { feed: u64 },
    /// Publisher: make an offer (with `ice_restart` when restarting) and hand it to
    /// [`JanusClient::local_description`].
    CreateOffer { ice_restart: bool },
    /// Apply this remote description (publisher: the answer; subscriber: an offer to answer
    /// and hand to [`JanusClient::local_description`]).
    RemoteDescription(Description),
    /// A remote candidate; `None` when Janus's gathering completed.
    RemoteCandidate(Option<CandidateInit>),
    /// Janus's side of the PeerConnection is up.
    MediaUp,
    /// Janus's side of the PeerConnection went down.
    MediaDown,
    /// The conversation failed; the socket should be closed.
    Failed(Problem),
}

/// What a pending transaction was for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Purpose {
    Create,
    Attach,
    Join,
    Publish,
    Start,
    Restart,
    Other,
}

#[derive(Debug)]
pub struct JanusClient {
    grant: SfuGrant,
    role: JanusRole,
    phase: JanusPhase,
    problem: Option<Problem>,
    session: Option<u64>,
    handle: Option<u64>,
    feed: Option<u64>,
    /// Publisher: whether an offer was answered once (later offers use `configure`).
    published: bool,
    pending: VecMap<String, (Purpose, u64)>,
    next_tx: u64,
    keepalive_at: Option<u64>,
    /// Local candidates gathered before the handle existed.
    early_candidates: Vec<Option<CandidateInit>>,
    out: VecDeque<Output>,
    /// Frames that were not readable or not for us (counted, otherwise ignored).
    pub unreadable: u64,
}

impl JanusRole {
    fn publishes(&self) -> bool {
        matches!(
            self,
            JanusRole::Publisher { .. } | JanusRole::VoicePublisher { .. }
        )
    }
}

impl JanusClient {
    pub fn new(grant: SfuGrant, role: JanusRole) -> Self {
        JanusClient {
            grant,
            role,
            phase: JanusPhase::Connecting,
            problem: None,
            session: None,
            handle: None,
            feed: None,
            published: false,
            pending: VecMap::new(),
            next_tx: 0,
            keepalive_at: None,
            early_candidates: Vec::new(),
            out: VecDeque::new(),
            unreadable: 0,
        }
    }

    pub fn phase(&self) -> JanusPhase {
        self.phase
    }

    pub fn problem(&self) -> Option<Problem> {
        self.problem
    }

    /// Publisher: our feed id once joined.
    pub fn feed(&self) -> Option<u64> {
        self.feed
    }

    pub fn grant(&self) -> &SfuGrant {
        &self.grant
    }

    /// The socket opened: create the session.
    pub fn handle_open(&mut self, now: u64) {
        if self.phase != JanusPhase::Connecting {
            return;
        }
        self.phase = JanusPhase::Joining;
        self.request(now, Purpose::Create, Request::Create);
    }

    /// The socket closed (or failed to open).
    pub fn handle_close(&mut self) {
        if matches!(self.phase, JanusPhase::Closed | JanusPhase::Failed) {
            return;
        }
        self.fail(Problem::Unreachable);
    }

    /// Our local description: the publisher's offer, or the subscriber's answer.
    pub fn local_description(&mut self, now: u64, d: Description) {
        let (Some(session), Some(handle)) = (self.session, self.handle) else {
            return;
        };
        if matches!(self.phase, JanusPhase::Failed | JanusPhase::Closed) {
            return;
        }
        let (purpose, body) = match (&self.role, d.kind) {
            (JanusRole::Publisher { .. }, SdpKind::Offer) => {
                let verb = if self.published {
                    "configure"
                } else {
                    "publish"
                };
                (Purpose::Publish, json!({ "request": verb }))
            }
            (JanusRole::VoicePublisher { .. }, SdpKind::Offer) => {
                let body = if self.published {
                    json!({ "request": "configure" })
                } else {
                    // The offer's only m-line is the voice.
                    json!({ "request": "publish",
                            "descriptions": [{ "mid": "0", "description": "voice" }] })
                };
                (Purpose::Publish, body)
            }
            (JanusRole::Subscriber { .. }, SdpKind::Answer) => {
                (Purpose::Start, json!({ "request": "start" }))
            }
            _ => return,
        };
        self.phase = JanusPhase::Negotiating;
        self.request(
            now,
            purpose,
            Request::Message {
                session,
                handle,
                body,
                jsep: Some(Jsep::encrypted(d)),
            },
        );
    }

    /// A local candidate, or `None` when gathering completed (always send it: Janus then reports
    /// ICE failure after 5 s instead of 15).
    pub fn local_candidate(&mut self, now: u64, candidate: Option<CandidateInit>) {
        match (self.session, self.handle) {
            (Some(session), Some(handle)) => self.request(
                now,
                Purpose::Other,
                Request::Trickle {
                    session,
                    handle,
                    candidate,
                },
            ),
            _ => self.early_candidates.push(candidate),
        }
    }

    /// Restart ICE (the connection failed or disconnected): the publisher makes a new offer,
    /// the subscriber asks Janus for one.
    pub fn restart_ice(&mut self, now: u64) {
        let (Some(session), Some(handle)) = (self.session, self.handle) else {
            return;
        };
        if matches!(self.phase, JanusPhase::Failed | JanusPhase::Closed) {
            return;
        }
        match self.role {
            JanusRole::Publisher { .. } | JanusRole::VoicePublisher { .. } => {
                if self.published {
                    self.emit(JanusEvent::CreateOffer { ice_restart: true });
                }
            }
            JanusRole::Subscriber { .. } => self.request(
                now,
                Purpose::Restart,
                Request::Message {
                    session,
                    handle,
                    body: json!({"request": "configure", "restart": true}),
                    jsep: None,
                },
            ),
        }
    }

    /// Leave the room and destroy the session (best effort; the socket closes next).
    pub fn leave(&mut self, now: u64) {
        if let Some(session) = self.session {
            self.request(now, Purpose::Other, Request::Destroy { session });
        }
        self.phase = JanusPhase::Closed;
        self.keepalive_at = None;
        self.pending.clear();
    }

    /// A text frame from Janus.
    pub fn handle_text(&mut self, now: u64, text: &str) {
        if matches!(self.phase, JanusPhase::Failed | JanusPhase::Closed) {
            return;
        }
        match Incoming::parse(text) {
            Incoming::Success {
                transaction,
                id,
                plugin,
            } => {
                let Some((purpose, _)) = self.pending.remove(&transaction) else {
                    return;
                };
                self.on_success(now, purpose, id, plugin);
            }
            Incoming::Error {
                transaction, code, ..
            } => {
                if let Some(t) = transaction {
                    self.pending.remove(&t);
                }
                self.fail(Problem::from_code(code));
            }
            Incoming::Ack { transaction } => {
                // An ack answers keepalives and trickles; a message's answer is still to come.
                if let Some(t) = transaction {
                    if let Some((Purpose::Other, _)) = self.pending.get(&t) {
                        self.pending.remove(&t);
                    }
                }
            }
            Incoming::Event {
                transaction,
                sender,
                plugin,
                jsep,
            } => {
                if Some(sender) != self.handle {
                    self.unreadable += 1;
                    return;
                }
                let purpose = transaction
                    .and_then(|t| self.pending.remove(&t))
                    .map(|(p, _)| p);
                self.on_plugin_event(purpose, &plugin, jsep);
            }
            Incoming::WebrtcUp { sender } if Some(sender) == self.handle => {
                self.phase = JanusPhase::Up;
                self.emit(JanusEvent::MediaUp);
            }
            Incoming::Hangup { sender, .. } if Some(sender) == self.handle => {
                if self.phase == JanusPhase::Up {
                    self.phase = JanusPhase::Negotiating;
                }
                self.emit(JanusEvent::MediaDown);
            }
            Incoming::Detached { sender } if Some(sender) == self.handle => {
                self.fail(Problem::SessionLost);
            }
            Incoming::Trickle { sender, candidate } if Some(sender) == self.handle => {
                self.emit(JanusEvent::RemoteCandidate(candidate));
            }
            Incoming::Timeout => self.fail(Problem::SessionLost),
            Incoming::Media { .. } | Incoming::Slowlink { .. } => {}
            _ => self.unreadable += 1,
        }
    }

    fn on_success(&mut self, now: u64, purpose: Purpose, id: Option<u64>, plugin: Option<Value>) {
        match purpose {
            Purpose::Create => {
                let Some(id) = id else {
                    return self.fail(Problem::Other(0));
                };
                self.session = Some(id);
                self.keepalive_at = Some(now + KEEPALIVE_MS);
                self.request(now, Purpose::Attach, Request::Attach { session: id });
            }
            Purpose::Attach => {
                let (Some(session), Some(handle)) = (self.session, id) else {
                    return self.fail(Problem::Other(0));
                };
                self.handle = Some(handle);
                for c in std::mem::take(&mut self.early_candidates) {
                    self.local_candidate(now, c);
                }
                let body = match &self.role {
                    JanusRole::Publisher { display } | JanusRole::VoicePublisher { display } => {
                        json!({
                            "request": "join", "ptype": "publisher", "room": self.grant.room,
                            "pin": self.grant.pin, "display": display,
                        })
                    }
                    JanusRole::Subscriber { feed, .. } => json!({
                        "request": "join", "ptype": "subscriber", "room": self.grant.room,
                        "pin": self.grant.pin, "streams": [{ "feed": feed }],
                    }),
                };
                self.request(
                    now,
                    Purpose::Join,
                    Request::Message {
                        session,
                        handle,
                        body,
                        jsep: None,
                    },
                );
            }
            // A synchronous plugin answer (VideoRoom answers some requests with `success`).
            _ => {
                if let Some(plugin) = plugin {
                    self.on_plugin_event(Some(purpose), &plugin, None);
                }
            }
        }
    }

    fn on_plugin_event(&mut self, purpose: Option<Purpose>, data: &Value, jsep: Option<Jsep>) {
        if let Some(code) = data
            .get("error_code")
            .and_then(Value::as_u64)
            .and_then(|c| u16::try_from(c).ok())
        {
            return self.fail(Problem::from_code(code));
        }
        let what = data.get("videoroom").and_then(Value::as_str).unwrap_or("");
        match (&self.role, what) {
            (role, "joined") if role.publishes() => {
                let Some(feed) = data.get("id").and_then(Value::as_u64) else {
                    return self.fail(Problem::Other(0));
                };
                self.feed = Some(feed);
                self.phase = JanusPhase::Negotiating;
                self.emit(JanusEvent::Joined { feed });
                self.emit(JanusEvent::CreateOffer { ice_restart: false });
            }
            (role, "event") if role.publishes() => {
                if let Some(jsep) = jsep.filter(|j| j.kind == SdpKind::Answer) {
                    self.published = true;
                    self.emit(JanusEvent::RemoteDescription(jsep.description()));
                } else if purpose == Some(Purpose::Publish) {
                    self.fail(Problem::Negotiation);
                }
            }
            (JanusRole::Subscriber { feed, display }, "attached" | "updated" | "event") => {
                if let (Some(want), "attached") = (display, what) {
                    if !published_as(data, *feed, want) {
                        return self.fail(Problem::NotPublished);
                    }
                }
                if let Some(jsep) = jsep.filter(|j| j.kind == SdpKind::Offer) {
                    if self.phase != JanusPhase::Up {
                        self.phase = JanusPhase::Negotiating;
                    }
                    self.emit(JanusEvent::RemoteDescription(jsep.description()));
                } else if data.get("left").is_some() || data.get("unpublished").is_some() {
                    self.fail(Problem::NotPublished);
                }
            }
            _ => {}
        }
    }

    /// The next time [`Self::handle_timeout`] has something to do.
    pub fn poll_timeout(&self) -> Option<u64> {
        let oldest = self
            .pending
            .values()
            .map(|(_, at)| at + ANSWER_TIMEOUT_MS)
            .min();
        match (self.keepalive_at, oldest) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    pub fn handle_timeout(&mut self, now: u64) {
        if matches!(self.phase, JanusPhase::Failed | JanusPhase::Closed) {
            return;
        }
        if self
            .pending
            .values()
            .any(|(_, at)| now >= at + ANSWER_TIMEOUT_MS)
        {
            return self.fail(Problem::NoAnswer);
        }
        if let (Some(at), Some(session)) = (self.keepalive_at, self.session) {
            if now >= at {
                self.request(now, Purpose::Other, Request::Keepalive { session });
                self.keepalive_at = Some(now + KEEPALIVE_MS);
            }
        }
    }

    pub fn poll_output(&mut self) -> Option<Output> {
        self.out.pop_front()
    }

    fn request(&mut self, now: u64, purpose: Purpose, request: Request) {
        self.next_tx += 1;
        let tx = format!("p{}", self.next_tx);
        self.out
            .push_back(Output::Send(request.encode(&tx, &self.grant.token)));
        self.pending.insert(tx, (purpose, now));
    }

    fn emit(&mut self, e: JanusEvent) {
        self.out.push_back(Output::Event(e));
    }

    fn fail(&mut self, problem: Problem) {
        self.phase = JanusPhase::Failed;
        self.problem = Some(problem);
        self.keepalive_at = None;
        self.pending.clear();
        self.emit(JanusEvent::Failed(problem));
    }
}

/// Whether Janus's `attached` names feed `feed`'s publisher as `want` in every stream it
/// subscribes us to from that feed (and there is one).
fn published_as(data: &Value, feed: u64, want: &str) -> bool {
    let mut named = false;
    for stream in data
        .get("streams")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if stream.get("feed_id").and_then(Value::as_u64) == Some(feed) {
            if stream.get("feed_display").and_then(Value::as_str) != Some(want) {
                return false;
            }
            named = true;
        }
    }
    named
}
