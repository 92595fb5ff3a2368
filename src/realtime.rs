//! Drives the core's sans-IO Realtime client over a browser WebSocket and timers, and mirrors
//! what it reports into signals (`use_realtime`-style: one capability, cleaned up on drop).
//!
//! The driver makes no decisions: it feeds socket events and deadlines into
//! [`RealtimeClient`] and executes each [`Output`] in order. It never holds a `RefCell` borrow
//! while it sets a signal or calls a handler, so reactive code may call back into it.

use std::cell::{Cell, RefCell};
use std::rc::{Rc, Weak};

use leptos::prelude::*;
use pairux_core::config::ClientConfig;
use pairux_core::display::display_name;
use pairux_core::e2ee::keys::SENDER_ID_LEN;
use pairux_core::e2ee::rekey::AgreementKey;
use pairux_core::e2ee::signal::SEAL_NONCE_LEN;
use pairux_core::e2ee::SenderId;
use pairux_core::focus::FOCUS_EVENT;
use pairux_core::identity::Signer;
use pairux_core::realtime::{BroadcastConfig, PresenceConfig};
use pairux_core::realtime_client::{
    BroadcastBody, ChannelId, ChannelOptions, ChannelState, ClientEvent, ClientOptions,
    ConnectionState, Output, PresencePacer, RealtimeClient,
};
use pairux_core::roster::{Participant, Rejection, Roster};
use pairux_core::session::{
    SessionIdentity, SignalCodec, SignalCounters, SignalEnvelope, SignalPeer, SIGNAL_EVENT,
};

use crate::platform::el::set_if_changed;
use crate::platform::transform;
use crate::platform::websocket::{Socket, SocketEvent};
use crate::platform::{clock, fetch, timer::Timer};
use crate::state::Kept;
use crate::state::{ConnectionStatus, SessionEntry};

/// What the page shows about the signaling connection and who is in the session.
#[derive(Clone, Copy)]
pub struct RealtimeSignals {
    pub status: RwSignal<ConnectionStatus>,
    pub roster: RwSignal<Roster>,
    /// The link's host (its meta verifies under the link's host key) is here, but its profile
    /// does not open with our room key: the link's key is wrong.
    pub foreign_host: RwSignal<bool>,
    /// Someone holding our room key is here claiming `host` under another key than the link's
    /// (`Roster::host_unconfirmed`): if no host verifies, this link cannot confirm who hosts.
    pub unconfirmed_host: RwSignal<bool>,
    /// Two hosts were here together whose handovers of the role part (`Roster::host_forked`):
    /// someone who hosted signed it over twice, and this page follows neither, nor any host
    /// after (`SessionIdentity::parted`).
    pub forked_host: RwSignal<bool>,
    /// The link's host is here on another wire version than this page's
    /// (`Roster::host_version`): one of the two pages must be reloaded.
    pub host_version: RwSignal<Option<u64>>,
    /// The highest other wire version someone here claims (`Roster::other_version`).
    pub other_version: RwSignal<Option<u64>>,
    /// config.json answers but cannot be read (not JSON, a field missing or of the wrong
    /// type): nothing this page does will fix it, so the person is told ([`CONFIG_SENTENCE`])
    /// while it is asked again with the socket's back-off.
    pub config_unreadable: RwSignal<bool>,
}

impl Default for RealtimeSignals {
    /// Connecting, nobody here yet.
    fn default() -> Self {
        Self {
            status: RwSignal::new(ConnectionStatus::Connecting),
            roster: RwSignal::new(Roster::default()),
            foreign_host: RwSignal::new(false),
            unconfirmed_host: RwSignal::new(false),
            forked_host: RwSignal::new(false),
            host_version: RwSignal::new(None),
            other_version: RwSignal::new(None),
            config_unreadable: RwSignal::new(false),
        }
    }
}

/// What a person reads while the server's config.json cannot be read.
pub const CONFIG_SENTENCE: &str =
    "This server's settings (config.json) can't be read — tell whoever runs it. Trying again…";

/// Who this page is in the channel.
pub struct Membership {
    pub topic: String,
    pub participant_id: String,
    /// Tracked presence payload (written behind every join, since a rejoin starts empty).
    pub presence: serde_json::Value,
    /// The check every presence meta passes before the roster believes it.
    pub verify: MetaCheck,
    /// What follows each change of the roster once its metas are checked: which host the
    /// page believes (`SessionIdentity::settle`). Whether the page follows no host for
    /// having seen the role forked (`SessionIdentity::parted`).
    pub settle: Settle,
}

/// See [`Membership::verify`].
pub type MetaCheck = Rc<dyn Fn(&Participant) -> Result<Participant, Rejection>>;

/// See [`Membership::settle`].
pub type Settle = Rc<dyn Fn(&Roster) -> bool>;

type BroadcastHandler = Box<dyn Fn(String, BroadcastBody)>;
type SharedHandler = Rc<dyn Fn(String, BroadcastBody)>;
type FocusHandler = Rc<dyn Fn(serde_json::Value)>;

struct Inner {
    client: RefCell<RealtimeClient>,
    ch: ChannelId,
    socket: RefCell<Option<Socket>>,
    /// Bumped for every socket; events of older sockets are ignored.
    socket_generation: Cell<u64>,
    timer: RefCell<Option<Timer>>,
    /// A rejoin after the server closed our channel (a `system` error: rate limit, token).
    rejoin: RefCell<Option<Timer>>,
    signals: RealtimeSignals,
    /// What we track; replaced when the profile changes (a new display name).
    verify: MetaCheck,
    settle: Settle,
    on_broadcast: RefCell<Option<BroadcastHandler>>,
    /// Whether this page was connected before (so a loss shows as "reconnecting").
    was_joined: Cell<bool>,
    closed: Cell<bool>,
    /// Our re-tracks, paced under the server's presence limit ([`PresencePacer`], which keeps
    /// the one waiting for its turn), and when it goes.
    pacer: RefCell<PresencePacer>,
    track_timer: RefCell<Option<Timer>>,
    /// Counts the shown "next try in N s" down to the retry, a second at a time.
    countdown: RefCell<Option<Timer>>,
}

/// A live membership of one Realtime channel. Dropping it leaves and closes the socket.
pub struct RealtimeLink {
    inner: Rc<Inner>,
}

impl RealtimeLink {
    /// Connects with `config`, joins `membership.topic` with presence keyed by the participant
    /// id, and tracks the presence payload with the join.
    pub fn start(config: &ClientConfig, membership: Membership, signals: RealtimeSignals) -> Self {
        let mut client = RealtimeClient::new(ClientOptions::new(
            config.realtime_url.clone(),
            config.anon_key.clone(),
        ));
        let ch = client.channel(
            &membership.topic,
            ChannelOptions {
                broadcast: BroadcastConfig {
                    ack: false,
                    self_broadcast: false,
                },
                presence: PresenceConfig {
                    key: membership.participant_id,
                    enabled: true,
                },
                private: false,
            },
        );
        let inner = Rc::new(Inner {
            client: RefCell::new(client),
            ch,
            socket: RefCell::new(None),
            socket_generation: Cell::new(0),
            timer: RefCell::new(None),
            rejoin: RefCell::new(None),
            signals,
            verify: membership.verify,
            settle: membership.settle,
            on_broadcast: RefCell::new(None),
            was_joined: Cell::new(false),
            closed: Cell::new(false),
            pacer: RefCell::new(PresencePacer::new()),
            track_timer: RefCell::new(None),
            countdown: RefCell::new(None),
        });
        {
            let now = clock::monotonic_ms();
            let mut client = inner.client.borrow_mut();
            // Our presence goes out right behind each join (not after the join's reply reaches
            // this page, which while the app mounts is ~100 ms later): the host sees us sooner.
            client.track_with_join(now, ch, membership.presence);
            client.connect(now);
            client.join(now, ch);
        }
        pump(&inner);
        RealtimeLink { inner }
    }

    /// Where broadcasts from others go.
    pub fn on_broadcast(&self, handler: impl Fn(String, BroadcastBody) + 'static) {
        *self.inner.on_broadcast.borrow_mut() = Some(Box::new(handler));
    }

    /// Tracks `meta` from now on (and after every rejoin). While the channel is down it is only
    /// remembered: the rejoin tracks it.
    /// Paced: past the server's presence limit the latest meta waits its turn (see
    /// [`PresencePacer`]) instead of getting the channel closed.
    pub fn retrack(&self, meta: serde_json::Value) {
        let now = clock::monotonic_ms();
        // A rejoin before its turn tracks it already (a new join has a quota of its own).
        self.inner
            .client
            .borrow_mut()
            .set_join_track(self.inner.ch, meta.clone());
        let go = self.inner.pacer.borrow_mut().offer(now, meta);
        track_now(&self.inner, now, go);
    }

    /// Sends a JSON broadcast to everyone else in the channel.
    pub fn broadcast(&self, event: &str, payload: serde_json::Value) {
        let now = clock::monotonic_ms();
        self.inner
            .client
            .borrow_mut()
            .broadcast(now, self.inner.ch, event, payload);
        pump(&self.inner);
    }
}

/// Tracks `meta` (what the pacer let go), then waits for the pacer's next turn, if a meta
/// waits for one.
fn track_now(inner: &Rc<Inner>, now: u64, meta: Option<serde_json::Value>) {
    if let Some(meta) = meta {
        inner
            .client
            .borrow_mut()
            .track_with_join(now, inner.ch, meta);
        pump(inner);
    }
    let at = inner.pacer.borrow().poll_timeout();
    let timer = at.map(|at| {
        let weak = Rc::downgrade(inner);
        Timer::after(at.saturating_sub(now).max(1), move || {
            if let Some(inner) = weak.upgrade() {
                let now = clock::monotonic_ms();
                let go = inner.pacer.borrow_mut().handle_timeout(now);
                track_now(&inner, now, go);
            }
        })
    });
    *inner.track_timer.borrow_mut() = timer;
}

impl Drop for RealtimeLink {
    fn drop(&mut self) {
        self.inner.closed.set(true);
        let now = clock::monotonic_ms();
        {
            let mut client = self.inner.client.borrow_mut();
            client.leave(now, self.inner.ch);
            client.disconnect(now);
        }
        pump(&self.inner);
        self.inner.timer.borrow_mut().take();
        self.inner.rejoin.borrow_mut().take();
        self.inner.socket.borrow_mut().take();
    }
}

/// Executes everything the client wants done, then arms the timer for its next deadline.
fn pump(inner: &Rc<Inner>) {
    loop {
        let Some(output) = inner.client.borrow_mut().poll_output() else {
            break;
        };
        match output {
            Output::Connect { url } => open_socket(inner, &url),
            Output::SendText(text) => {
                if let Some(socket) = inner.socket.borrow().as_ref() {
                    let _ = socket.send_text(&text);
                }
            }
            Output::SendBinary(bytes) => {
                if let Some(socket) = inner.socket.borrow().as_ref() {
                    let _ = socket.send_binary(&bytes);
                }
            }
            Output::Close { code, reason } => {
                if let Some(socket) = inner.socket.borrow_mut().take() {
                    socket.close(code, &reason);
                }
            }
            Output::Event(event) => on_event(inner, event),
        }
    }
    arm_timer(inner);
}

fn open_socket(inner: &Rc<Inner>, url: &str) {
    let generation = inner.socket_generation.get() + 1;
    inner.socket_generation.set(generation);
    inner.socket.borrow_mut().take();
    let weak: Weak<Inner> = Rc::downgrade(inner);
    let opened = Socket::adopt_or_open(url, move |event| {
        let Some(inner) = weak.upgrade() else { return };
        if inner.socket_generation.get() != generation {
            return;
        }
        let now = clock::monotonic_ms();
        {
            let mut client = inner.client.borrow_mut();
            match event {
                SocketEvent::Open => client.handle_open(now),
                SocketEvent::Text(text) => client.handle_text(now, &text),
                SocketEvent::Binary(bytes) => client.handle_binary(now, &bytes),
                SocketEvent::Closed { code, reason } => client.handle_close(now, code, &reason),
            }
        }
        pump(&inner);
    });
    match opened {
        Ok(socket) => *inner.socket.borrow_mut() = Some(socket),
        Err(err) => {
            // An invalid URL throws synchronously; report it as a closed socket so the client
            // backs off and retries like any other failure.
            leptos::logging::warn!("cannot open the realtime socket: {err}");
            inner
                .client
                .borrow_mut()
                .handle_close(clock::monotonic_ms(), 1006, "cannot open");
        }
    }
}

fn arm_timer(inner: &Rc<Inner>) {
    if inner.closed.get() {
        inner.timer.borrow_mut().take();
        return;
    }
    let Some(deadline) = inner.client.borrow().poll_timeout() else {
        inner.timer.borrow_mut().take();
        return;
    };
    let wait = deadline.saturating_sub(clock::monotonic_ms());
    let weak = Rc::downgrade(inner);
    let timer = Timer::after(wait, move || {
        if let Some(inner) = weak.upgrade() {
            inner
                .client
                .borrow_mut()
                .handle_timeout(clock::monotonic_ms());
            pump(&inner);
        }
    });
    *inner.timer.borrow_mut() = Some(timer);
}

/// Shows "next try in N s" for a retry at `retry_at` (monotonic ms), and again each second
/// until then.
fn count_down(inner: &Rc<Inner>, retry_at: u64) {
    let in_ms = retry_at.saturating_sub(clock::monotonic_ms());
    set_if_changed(
        inner.signals.status,
        ConnectionStatus::Reconnecting {
            retry_in_s: in_ms.div_ceil(1000),
        },
    );
    let next = (in_ms > 0).then(|| {
        let weak = Rc::downgrade(inner);
        // At the next whole second of the wait (or its end).
        let step = match in_ms % 1000 {
            0 => 1000,
            rest => rest,
        };
        Timer::after(step, move || {
            if let Some(inner) = weak.upgrade() {
                if matches!(
                    inner.signals.status.get_untracked(),
                    ConnectionStatus::Reconnecting { .. }
                ) {
                    count_down(&inner, retry_at);
                }
            }
        })
    });
    *inner.countdown.borrow_mut() = next;
}

fn on_event(inner: &Rc<Inner>, event: ClientEvent) {
    let signals = inner.signals;
    match event {
        ClientEvent::Connection(ConnectionState::Reconnecting { retry_at, .. }) => {
            count_down(inner, retry_at);
        }
        ClientEvent::Connection(ConnectionState::Connecting | ConnectionState::Open) => {
            inner.countdown.borrow_mut().take();
            if !inner.was_joined.get() {
                signals.status.set(ConnectionStatus::Connecting);
            } else if matches!(
                signals.status.get_untracked(),
                ConnectionStatus::Reconnecting { .. }
            ) {
                // The try itself: no more seconds to wait.
                set_if_changed(
                    signals.status,
                    ConnectionStatus::Reconnecting { retry_in_s: 0 },
                );
            }
        }
        ClientEvent::Connection(ConnectionState::Closed) => {
            signals.status.set(ConnectionStatus::Offline);
        }
        ClientEvent::Channel { state, .. } => match state {
            ChannelState::Joined => {
                inner.was_joined.set(true);
                signals.status.set(ConnectionStatus::Connected);
            }
            // The server closed the channel after a `system` error; realtime-js would stay
            // out, but a session page must come back: rejoin after a pause.
            ChannelState::Closed if !inner.closed.get() => {
                count_down(
                    inner,
                    clock::monotonic_ms().saturating_add(SERVER_CLOSED_REJOIN_MS),
                );
                let weak = Rc::downgrade(inner);
                *inner.rejoin.borrow_mut() =
                    Some(Timer::after(SERVER_CLOSED_REJOIN_MS, move || {
                        if let Some(inner) = weak.upgrade() {
                            inner
                                .client
                                .borrow_mut()
                                .join(clock::monotonic_ms(), inner.ch);
                            pump(&inner);
                        }
                    }));
            }
            // A join that failed or timed out (the first one too: "Connecting…" would stay for
            // ever) counts down to its next try. One waiting for the socket (no time) follows
            // the socket's countdown once joined before, and says it reconnects.
            ChannelState::Errored {
                retry_at: Some(at), ..
            } => count_down(inner, at),
            ChannelState::Errored { retry_at: None, .. } if inner.was_joined.get() => {
                signals
                    .status
                    .set(ConnectionStatus::Reconnecting { retry_in_s: 0 });
            }
            _ => {}
        },
        // Only a joined channel's status says whether we are seen (a refusal's reply comes
        // after the join's; a rejoin's track is answered after its join).
        ClientEvent::PresenceRefused { reason, seen, .. } => {
            leptos::logging::warn!("the server does not hold our presence: {reason}");
            if !seen && signals.status.get_untracked() == ConnectionStatus::Connected {
                signals.status.set(ConnectionStatus::Unseen);
            }
        }
        ClientEvent::PresenceHeld { .. } => {
            if signals.status.get_untracked() == ConnectionStatus::Unseen {
                signals.status.set(ConnectionStatus::Connected);
            }
        }
        ClientEvent::ConnectFailed => refresh_key(inner, false),
        ClientEvent::TokenRefused { .. } => refresh_key(inner, true),
        ClientEvent::Presence { sync, .. } => {
            let (verify, settle) = (inner.verify.clone(), inner.settle.clone());
            let (mut foreign_host, mut unconfirmed_host, mut forked_host) = (false, false, false);
            let (mut host_version, mut other_version) = (None, None);
            signals.roster.update(|roster| {
                roster.apply(&sync, &*verify);
                forked_host = settle(roster);
                foreign_host = roster.host_unreadable();
                unconfirmed_host = roster.host_unconfirmed();
                host_version = roster.host_version();
                other_version = roster.other_version();
            });
            set_if_changed(signals.host_version, host_version);
            set_if_changed(signals.other_version, other_version);
            set_if_changed(signals.forked_host, forked_host);
            set_if_changed(signals.foreign_host, foreign_host);
            set_if_changed(signals.unconfirmed_host, unconfirmed_host);
        }
        ClientEvent::Broadcast { event, payload, .. } => {
            let handler = inner.on_broadcast.borrow();
            if let Some(handler) = handler.as_ref() {
                handler(event, payload);
            }
        }
        ClientEvent::PushDone { .. } | ClientEvent::System { .. } => {}
    }
}

/// The server refused our key, or the socket could not open (browsers hide a 401): read
/// config.json again so a rotated key is picked up. A new key only applies to a new socket, so
/// a refused join (`reconnect`) also replaces the socket.
fn refresh_key(inner: &Rc<Inner>, reconnect: bool) {
    let weak = Rc::downgrade(inner);
    let unreadable = inner.signals.config_unreadable;
    leptos::task::spawn_local(async move {
        // A config.json that answers but cannot be read is told, as at the start, to a page
        // that has not joined yet; the socket's own retries keep asking for it. A page that
        // joined before keeps its session (its media plays on, its badge says reconnecting):
        // the final banner would have turned its microphone off and let a pasted link replace
        // the session, for what may be a moment of a redeploy.
        let config = fetch::fresh_config().await;
        let Some(inner) = weak.upgrade() else { return };
        let invalid = matches!(config, Err(fetch::FetchError::Invalid(_)));
        if invalid && inner.was_joined.get() {
            leptos::logging::warn!("config.json cannot be read; the socket keeps trying");
        } else {
            unreadable.try_set(invalid);
        }
        let Ok(config) = config else {
            return;
        };
        if inner.closed.get() {
            return;
        }
        {
            let mut client = inner.client.borrow_mut();
            client.set_api_key(config.anon_key);
            if reconnect {
                let now = clock::monotonic_ms();
                client.disconnect(now);
                client.connect(now);
            }
        }
        pump(&inner);
    });
}

/// Pause before rejoining a channel the server closed.
const SERVER_CLOSED_REJOIN_MS: u64 = 5_000;

/// This page's membership of its session channel, for as long as the calling component lives:
/// config.json, then [`RealtimeLink::start`]. Errors before the socket (config.json
/// unreachable) are retried with the socket's back-off and shown as reconnecting.
/// `joined_at`: this join's time (a host's from `state::host_join_time`, so its joins only go
/// forward; the guest app does not link that).
pub fn use_session_channel(entry: &SessionEntry, joined_at: u64) -> SessionChannel {
    let signals = RealtimeSignals::default();
    // Who we are: the host signs with the session's host key, everyone else with a key this
    // tab made for the session (kept in its sessionStorage, so a reload is the same person).
    // Should the CSPRNG fail, the seal of our meta fails too (no nonce, below), so no meta
    // signed with the fallback seed is ever tracked.
    let signer = match &entry.host {
        Some(host) => host.signer().clone(),
        None => Signer::from_seed(entry.guest_seed().unwrap_or_else(|| {
            leptos::logging::error!("no randomness for this join's key");
            [0u8; 32]
        })),
    };
    // Our participant id (the presence key) comes from that key, this join's epoch and a random
    // salt (`session::participant_id`): new for every join — also of a duplicated tab, which
    // has the same key — and nobody else's to use.
    let mut identity = SessionIdentity::new(&entry.link, entry.role, joined_at, signer);
    let mut salt = [0u8; 16];
    match crate::platform::random::fill(&mut salt) {
        Ok(()) => identity = identity.with_salt(salt),
        // Unsalted, the id is still ours; without randomness nothing is sealed anyway (below).
        Err(err) => leptos::logging::error!("no randomness for this join's salt: {err}"),
    }
    if let Some(host) = &entry.host {
        identity = identity.with_chain(host.chain());
    }
    let participant_id = identity.me().to_owned();
    // What this tab believed before a reload: no fork of it is believed now either.
    let kept =
        crate::state::kept_chain(&entry.link, Kept::Believed).filter(|c| identity.believe(c));
    let kept = std::cell::Cell::new(kept.map_or(0, |c| c.len()));
    let identity: Rc<SessionIdentity> = Rc::new(identity);
    let link = entry.link.clone();
    let channel = SessionChannel {
        signals,
        config: RwSignal::new(None),
        link: StoredValue::new_local(None),
        handler: StoredValue::new_local(None),
        focus: StoredValue::new_local(None),
        codec: StoredValue::new_local(SignalCodec::new(&entry.link.room_key, &identity)),
        dropped_signals: RwSignal::new(SignalCounters::default()),
        unreadable_messages: RwSignal::new(0),
        identity: StoredValue::new_local(identity.clone()),
        profile: StoredValue::new_local(serde_json::Value::Null),
    };
    // A sender id that is new for every join, so a reload never reuses an SFrame counter.
    // Receivers learn it from our sealed profile. The media secrets come from the host (the
    // room key never is one): none is held from the start of a join, so a session this page
    // showed before (the worker is the page's) leaves it nothing to send in.
    let media_keys = transform::page_worker().ok();
    let mut bytes = [0u8; SENDER_ID_LEN];
    let sender = crate::platform::random::fill(&mut bytes)
        .ok()
        .map(|()| SenderId::from_bytes(bytes));
    if let (Some(worker), Some(sender)) = (&media_keys, sender) {
        let set = worker
            .restart()
            .and_then(|()| worker.set_local_sender(sender));
        if let Err(err) = set {
            leptos::logging::error!("media keys not set; nothing will be sent: {err}");
        }
    }
    // The profile (display name, media sender id, our public key) is sealed with the room key
    // and the meta signed: the server relays it unread and cannot change it.
    let name = crate::platform::storage::remembered_name()
        .unwrap_or_else(|| default_name(entry.role, &participant_id));
    let mut profile = serde_json::json!({
        "name": name,
        "sender": sender.map(|s| s.to_string()),
    });
    // Everyone publishes an agreement key (from the join key's seed, so a reloaded tab keeps
    // it): the key the host wraps later media epochs' secrets to (e2ee::rekey), and the one
    // signals addressed to this participant are sealed to (session::sealed).
    let kx = AgreementKey::from_signer(identity.signer()).encode_public();
    profile["kx"] = serde_json::Value::from(kx);
    channel.profile.set_value(profile.clone());
    let sealed_at_setup = profile.clone();
    // getRandomValues cannot fail in a browser that got this far; fail closed regardless.
    let presence = random_nonce()
        .map(|nonce| identity.meta(&profile, nonce))
        .unwrap_or_default();
    let membership = Membership {
        topic: entry.link.session.topic(),
        participant_id,
        presence,
        settle: {
            let identity = identity.clone();
            Rc::new(move |roster: &Roster| {
                if let Some(believed) = identity.settle(roster) {
                    if believed.len() > kept.get() {
                        kept.set(believed.len());
                        crate::state::keep_chain(&link, Kept::Believed, &believed);
                    }
                }
                identity.parted()
            })
        },
        verify: Rc::new(move |claimed: &Participant| {
            let verified = identity.verify(claimed);
            // A meta not believed is counted by reason (the roster's counters, shown in the
            // Security diagnostics), not logged: the reasons' sentences cost the guest's wasm.
            if let Ok(p) = &verified {
                let sender = p
                    .profile
                    .get("sender")
                    .and_then(|s| s.as_str())
                    .and_then(SenderId::parse);
                if let (Some(worker), Some(sender)) = (&media_keys, sender) {
                    // Once per verified meta; the worker keeps keys it already has.
                    let _ = worker.set_remote_sender(&p.id, sender);
                }
            }
            verified
        }),
    };
    leptos::task::spawn_local(async move {
        let backoff = pairux_core::realtime_client::Backoff::socket_reconnect();
        let mut attempt = 0;
        let config = loop {
            match fetch::config().await {
                Ok(config) => {
                    signals.config_unreadable.set(false);
                    break config;
                }
                Err(err) => {
                    signals
                        .config_unreadable
                        .set(matches!(err, fetch::FetchError::Invalid(_)));
                    attempt += 1;
                    let wait = backoff.delay(attempt);
                    leptos::logging::warn!("config.json: {err}; retrying in {wait} ms");
                    signals.status.set(ConnectionStatus::Reconnecting {
                        retry_in_s: wait.div_ceil(1000),
                    });
                    gloo_timers::future::TimeoutFuture::new(wait as u32).await;
                }
            }
        };
        // Disposed with the component: a config.json that arrives late starts nothing.
        if channel.link.is_disposed() {
            return;
        }
        let link = RealtimeLink::start(&config, membership, signals);
        let (handler, focus) = (channel.handler, channel.focus);
        link.on_broadcast(move |event, body| {
            if event == FOCUS_EVENT {
                // The focus's decisions are signed, not sealed: the runtime verifies them.
                if let BroadcastBody::Json(payload) = body {
                    focus.try_with_value(|h| {
                        if let Some(h) = h {
                            h(payload);
                        }
                    });
                }
                return;
            }
            handler.try_with_value(|h| {
                if let Some(h) = h {
                    h(event, body);
                }
            });
        });
        channel.link.set_value(Some(link));
        channel.config.set(Some(config));
        // A profile changed while config.json was loading (a name set meanwhile) is tracked
        // now: the link started with the one sealed at setup.
        let current = channel.profile.try_get_value();
        if let (Some(current), Some(nonce)) = (current, random_nonce()) {
            if current != sealed_at_setup {
                channel.retrack(&current, nonce);
            }
        }
    });
    // Leave the channel as soon as the page stops showing the session.
    on_cleanup(move || {
        channel.link.try_update_value(|l| drop(l.take()));
    });
    channel
}

/// A page's handle on its session channel (`Copy`; lives as long as the component).
#[derive(Clone, Copy)]
pub struct SessionChannel {
    pub signals: RealtimeSignals,
    /// config.json once read (ICE servers for peer connections).
    pub config: RwSignal<Option<ClientConfig>>,
    link: StoredValue<Option<RealtimeLink>, LocalStorage>,
    handler: StoredValue<Option<SharedHandler>, LocalStorage>,
    /// Where the Session Focus's messages (event `focus`) go, unverified.
    focus: StoredValue<Option<FocusHandler>, LocalStorage>,
    codec: StoredValue<SignalCodec, LocalStorage>,
    /// Signals dropped, by reason (never acted on; shown in diagnostics).
    pub dropped_signals: RwSignal<SignalCounters>,
    /// Messages from the host this page could not read (its data channel, or relayed through
    /// the SFU: unsealable, binary, not a message of ours); dropped and shown in diagnostics.
    pub unreadable_messages: RwSignal<u64>,
    identity: StoredValue<Rc<SessionIdentity>, LocalStorage>,
    /// Our profile in clear (name, sender id), to re-seal when the name changes.
    profile: StoredValue<serde_json::Value, LocalStorage>,
}

impl SessionChannel {
    /// This page's participant id in the session (its presence key).
    pub fn me(&self) -> String {
        self.identity
            .try_with_value(|i| i.me().to_owned())
            .unwrap_or_default()
    }

    /// This page's identity in the session (its key, the host chain it believes).
    pub fn identity(&self) -> Option<Rc<SessionIdentity>> {
        self.identity.try_get_value()
    }

    /// Our key for receiving later media epochs' secrets (`e2ee::rekey`).
    pub fn agreement_key(&self) -> Option<AgreementKey> {
        self.identity
            .try_with_value(|i| AgreementKey::from_signer(i.signer()))
    }

    /// Broadcasts to everyone else in the session (dropped before the channel exists).
    pub fn broadcast(&self, event: &str, payload: serde_json::Value) {
        // `try_`: peer-connection callbacks may still fire after the page left the session.
        self.link.try_with_value(|link| {
            if let Some(link) = link {
                link.broadcast(event, payload);
            }
        });
    }

    /// Where the Session Focus's messages go (the caller verifies them).
    pub fn on_focus(&self, f: impl Fn(serde_json::Value) + 'static) {
        self.focus.set_value(Some(Rc::new(f)));
    }

    /// Where broadcasts from others go.
    pub fn on_broadcast(&self, f: impl Fn(String, BroadcastBody) + 'static) {
        self.handler.set_value(Some(Rc::new(f)));
    }

    /// Leaves the session channel now (presence untracked, socket closed).
    pub fn leave(&self) {
        self.link.try_update_value(|l| drop(l.take()));
        self.signals.status.set(ConnectionStatus::Offline);
    }

    /// Our display name as everyone sees it (sanitised here, as every view does).
    pub fn name(&self) -> String {
        self.profile
            .try_with_value(|p| display_name(p.get("name").and_then(|n| n.as_str())))
            .unwrap_or_default()
    }

    /// Changes our display name for everyone: the profile is re-sealed, the meta re-signed
    /// (same key, so the roster takes it as an update) and tracked again.
    pub fn set_name(&self, name: &str) {
        let name = display_name(Some(name));
        self.set_profile("name", serde_json::Value::from(name.as_str()));
    }

    /// Whether our microphone is on, for everyone's participant list.
    pub fn set_mic(&self, on: bool) {
        self.set_profile("mic", serde_json::Value::Bool(on));
    }

    fn set_profile(&self, field: &str, value: serde_json::Value) {
        let Some(nonce) = random_nonce() else { return };
        let Some(profile) = self.profile.try_update_value(|p| {
            if p.get(field) == Some(&value) {
                return None;
            }
            p[field] = value;
            Some(p.clone())
        }) else {
            return;
        };
        let Some(profile) = profile else { return };
        self.retrack(&profile, nonce);
    }

    /// Signs `profile` into our meta and tracks it (nothing before the link has started:
    /// it starts with the profile then current).
    fn retrack(&self, profile: &serde_json::Value, nonce: [u8; SEAL_NONCE_LEN]) {
        let Some(meta) = self.identity.try_with_value(|i| i.meta(profile, nonce)) else {
            return;
        };
        self.link.try_with_value(|link| {
            if let Some(link) = link {
                link.retrack(meta);
            }
        });
    }

    /// Seals, signs, numbers and broadcasts a signaling message.
    pub fn send_signal(&self, envelope: &SignalEnvelope) {
        let Some(nonce) = random_nonce() else {
            leptos::logging::error!("no randomness for sealing; signal not sent");
            return;
        };
        // Addressed to someone: sealed to that participant's agreement key, from its verified
        // profile (none known: nothing is sent rather than a body every link holder can read).
        let to_kx = envelope.to.as_deref().and_then(|to| {
            self.signals
                .roster
                .try_with_untracked(|r| r.get(to).and_then(Participant::kx))
                .flatten()
        });
        let Some((sealed, counters)) = self
            .codec
            .try_update_value(|c| (c.seal(envelope, nonce, to_kx.as_ref()), c.counters()))
        else {
            return;
        };
        match sealed {
            Some(payload) => self.broadcast(SIGNAL_EVENT, payload),
            None => {
                leptos::logging::warn!(
                    "signal not sent: no key of {} to seal it to",
                    envelope.to.as_deref().unwrap_or("?")
                );
                set_if_changed(self.dropped_signals, counters);
            }
        }
    }

    /// Where signals for this participant go, once opened, verified as their sender's and
    /// found fresh.
    pub fn on_signal(&self, f: impl Fn(SignalEnvelope) + 'static) {
        let (codec, dropped, roster) = (self.codec, self.dropped_signals, self.signals.roster);
        self.on_broadcast(move |event, body| {
            if event != SIGNAL_EVENT {
                return;
            }
            let BroadcastBody::Json(payload) = body else {
                dropped.update(|n| n.malformed += 1);
                return;
            };
            let sender = |id: &str| {
                roster
                    .try_with_untracked(|r| {
                        r.get(id).and_then(|p| {
                            Some(SignalPeer {
                                key: p.signer?,
                                joined_at: p.joined_at,
                                kx: p.kx(),
                            })
                        })
                    })
                    .flatten()
            };
            let Some((opened, counters)) =
                codec.try_update_value(|c| (c.open(&payload, sender), c.counters()))
            else {
                return;
            };
            if dropped.get_untracked() != counters {
                dropped.set(counters);
            }
            // What is dropped is counted by reason (`counters`, shown in the Security
            // diagnostics), not logged: the reasons' sentences cost the guest's wasm.
            if let Ok(envelope) = opened {
                f(envelope);
            }
        });
    }
}

/// Fresh random bytes for a seal's nonce; `None` if the browser's CSPRNG failed, in which
/// case nothing is sealed (a repeated AES-GCM nonce would be worse than a lost message).
fn random_nonce() -> Option<[u8; SEAL_NONCE_LEN]> {
    let mut nonce = [0u8; SEAL_NONCE_LEN];
    crate::platform::random::fill(&mut nonce).ok()?;
    Some(nonce)
}

/// "Viewer 3F2A": a readable name until people can set their own; it reveals nothing the
/// server cannot see (role and participant id are routing fields).
fn default_name(role: pairux_core::Role, participant_id: &str) -> String {
    let role = role.as_str();
    // ASCII case mapping only: `str::to_uppercase` would link Unicode's case tables (~16 KB).
    let mut name = role.to_owned();
    name[..1].make_ascii_uppercase();
    format!("{name} {}", pairux_core::display::short_tag(participant_id))
}
