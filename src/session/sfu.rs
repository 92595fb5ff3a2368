//! One connection through Janus: a WebSocket running the core's [`JanusClient`] and the
//! RTCPeerConnection it negotiates — the host's single publication of the screen, or a guest's
//! subscription to it; or one speaker's voice feed, or a listener's subscription to one. Frames stay SFrame-encrypted end to end (the page's transform worker
//! encrypts before Janus and decrypts after it); what crosses Janus's data channel is sealed
//! by the owner with the room key.
//!
//! The link only executes: what to send, when to keep alive, how errors read and when to
//! restart ICE are the core's (`janus::JanusClient`, `session::Recovery`).

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::rc::{Rc, Weak};

use pairux_core::access::SfuGrant;
use pairux_core::janus::{JanusClient, JanusEvent, JanusRole, Output, Problem};
use pairux_core::session::{Recovery, RecoveryAction, SdpKind};
use web_sys::{MediaStream, MediaStreamTrack};

use crate::platform::clock;
use crate::platform::peer::{IceSetup, Peer, PeerEvent, SendQuality};
use crate::platform::timer::Timer;
use crate::platform::websocket::{Socket, SocketEvent};
use crate::platform::JsError;

/// What the owner hears.
pub enum SfuEvent {
    /// Publisher: the feed guests subscribe to.
    Published { room: u64, feed: u64 },
    /// Subscriber: the host's screen.
    Track(MediaStream),
    /// Subscriber of a voice feed: the voice, decrypted with its announcer's key.
    Audio(MediaStreamTrack),
    /// A message on the relayed data channel (sealed by the host).
    Message(String),
    /// The PeerConnection's `connectionState`.
    Connection(String),
    /// The conversation with Janus failed, or ICE restarts gave up: start over with a fresh
    /// grant (after a back-off), telling the person `problem.user_message()`.
    Failed(Problem),
}

type Notify = Box<dyn Fn(SfuEvent)>;

struct Inner {
    client: RefCell<JanusClient>,
    socket: RefCell<Option<Socket>>,
    peer: Rc<Peer>,
    notify: Notify,
    timer: RefCell<Option<Timer>>,
    /// Janus events that touch the PeerConnection, applied strictly in order.
    queue: RefCell<VecDeque<JanusEvent>>,
    busy: Cell<bool>,
    recovery: RefCell<Recovery>,
    recovery_timer: RefCell<Option<Timer>>,
    failed: Cell<bool>,
    /// The page's access: where an ICE restart takes fresh TURN credentials from (the
    /// grant's last 20 minutes), and what hears that the grant may be what failed.
    access: RefCell<Weak<super::access::Access>>,
}

/// Dropping it leaves the room and closes the connection.
pub struct SfuLink {
    inner: Rc<Inner>,
}

impl SfuLink {
    /// The host publishes `track` once; `display` is the name Janus lists (not secret: the
    /// host's participant id).
    pub fn publish(
        grant: SfuGrant,
        ice: &IceSetup,
        display: &str,
        stream: &MediaStream,
        track: &MediaStreamTrack,
        quality: SendQuality,
        notify: impl Fn(SfuEvent) + 'static,
    ) -> Result<SfuLink, JsError> {
        let role = JanusRole::Publisher {
            display: display.to_owned(),
        };
        let link = Self::open(grant, ice, "sfu", role, notify)?;
        link.inner.peer.send_screen(stream, track, quality)?;
        link.inner.peer.open_pointer_channel();
        Ok(link)
    }

    /// Publishes our voice (`track`, the microphone) as its own audio-only feed; `display` is
    /// the name Janus lists (not secret).
    pub fn publish_voice(
        grant: SfuGrant,
        ice: &IceSetup,
        display: &str,
        track: &MediaStreamTrack,
        notify: impl Fn(SfuEvent) + 'static,
    ) -> Result<SfuLink, JsError> {
        let role = JanusRole::VoicePublisher {
            display: display.to_owned(),
        };
        let link = Self::open(grant, ice, "sfu-voice", role, notify)?;
        link.inner.peer.publish_voice(track)?;
        Ok(link)
    }

    /// Receives the voice feed `feed` that participant `speaker` announced (signed), decrypted
    /// with `speaker`'s key: frames from anyone else do not decrypt, and a feed Janus does not
    /// say `speaker` published (`<speaker>/voice`, as [`Self::publish_voice`] is called) fails
    /// as not published.
    pub fn subscribe_voice(
        grant: SfuGrant,
        ice: &IceSetup,
        feed: u64,
        speaker: &str,
        notify: impl Fn(SfuEvent) + 'static,
    ) -> Result<SfuLink, JsError> {
        let display = Some(format!("{speaker}/voice"));
        Self::open(
            grant,
            ice,
            speaker,
            JanusRole::Subscriber { feed, display },
            notify,
        )
    }

    /// A guest receives feed `feed`, decrypted as media from participant `host`.
    pub fn subscribe(
        grant: SfuGrant,
        ice: &IceSetup,
        feed: u64,
        host: &str,
        notify: impl Fn(SfuEvent) + 'static,
    ) -> Result<SfuLink, JsError> {
        let role = JanusRole::Subscriber {
            feed,
            display: None,
        };
        let link = Self::open(grant, ice, host, role, notify)?;
        link.inner.peer.open_sfu_ready_channel(feed);
        Ok(link)
    }

    fn open(
        grant: SfuGrant,
        ice: &IceSetup,
        remote: &str,
        role: JanusRole,
        notify: impl Fn(SfuEvent) + 'static,
    ) -> Result<SfuLink, JsError> {
        let url = grant.janus_url.clone();
        // The peer's events reach `Inner`, which owns the peer: through a slot filled below.
        let slot: Rc<RefCell<Weak<Inner>>> = Rc::new(RefCell::new(Weak::new()));
        let events = slot.clone();
        let peer = Peer::new(ice, remote, move |event| {
            let inner = events.borrow().upgrade();
            if let Some(inner) = inner {
                on_peer(&inner, event);
            }
        })?;
        let inner = Rc::new(Inner {
            client: RefCell::new(JanusClient::new(grant, role)),
            socket: RefCell::new(None),
            peer,
            notify: Box::new(notify),
            timer: RefCell::new(None),
            queue: RefCell::new(VecDeque::new()),
            busy: Cell::new(false),
            recovery: RefCell::new(Recovery::default()),
            recovery_timer: RefCell::new(None),
            failed: Cell::new(false),
            access: RefCell::new(Weak::new()),
        });
        *slot.borrow_mut() = Rc::downgrade(&inner);
        let weak = Rc::downgrade(&inner);
        let socket = Socket::open_with(
            &url,
            Some(pairux_core::janus::wire::SUBPROTOCOL),
            move |event| {
                let Some(inner) = weak.upgrade() else { return };
                let now = clock::monotonic_ms();
                match event {
                    SocketEvent::Open => inner.client.borrow_mut().handle_open(now),
                    SocketEvent::Text(text) => inner.client.borrow_mut().handle_text(now, &text),
                    SocketEvent::Binary(_) => {}
                    SocketEvent::Closed { .. } => inner.client.borrow_mut().handle_close(),
                }
                pump(&inner);
            },
        )?;
        *inner.socket.borrow_mut() = Some(socket);
        Ok(SfuLink { inner })
    }

    pub fn peer(&self) -> Rc<Peer> {
        self.inner.peer.clone()
    }

    /// The link works with the page's `access`: an ICE restart takes the latest TURN
    /// credentials from it (as a P2P link's does: the grant's expire after 20 minutes, and a
    /// restart with them gets no relay), and a failure the grant may be to blame for makes the
    /// next link ask for a new grant (`Access::sfu_failed`).
    pub fn with_access(self, access: &Rc<super::access::Access>) -> Self {
        *self.inner.access.borrow_mut() = Rc::downgrade(access);
        self
    }
}

impl Drop for SfuLink {
    fn drop(&mut self) {
        self.inner.client.borrow_mut().leave(clock::monotonic_ms());
        pump(&self.inner);
        if let Some(socket) = self.inner.socket.borrow_mut().take() {
            socket.close(1000, "left");
        }
        self.inner.timer.borrow_mut().take();
        self.inner.recovery_timer.borrow_mut().take();
        // Closed on purpose: a step still awaiting the connection (e.g. a remote description
        // being set) rejects now, and that is not a failure to report.
        self.inner.failed.set(true);
        self.inner.peer.close();
    }
}

/// Sends what the client wants sent, acts on its events, re-arms its timer.
fn pump(inner: &Rc<Inner>) {
    loop {
        let out = inner.client.borrow_mut().poll_output();
        let Some(out) = out else { break };
        match out {
            Output::Send(text) => {
                if let Some(socket) = inner.socket.borrow().as_ref() {
                    let _ = socket.send_text(&text);
                }
            }
            Output::Event(JanusEvent::Joined { feed }) => {
                let room = inner.client.borrow().grant().room;
                (inner.notify)(SfuEvent::Published { room, feed });
            }
            Output::Event(JanusEvent::Failed(problem)) => fail(inner, problem),
            Output::Event(JanusEvent::MediaUp | JanusEvent::MediaDown) => {}
            Output::Event(e) => {
                inner.queue.borrow_mut().push_back(e);
                drain(Rc::downgrade(inner));
            }
        }
    }
    let deadline = inner.client.borrow().poll_timeout();
    let timer = deadline.map(|at| {
        let weak = Rc::downgrade(inner);
        Timer::after(at.saturating_sub(clock::monotonic_ms()), move || {
            if let Some(inner) = weak.upgrade() {
                inner
                    .client
                    .borrow_mut()
                    .handle_timeout(clock::monotonic_ms());
                pump(&inner);
            }
        })
    });
    *inner.timer.borrow_mut() = timer;
}

fn fail(inner: &Rc<Inner>, problem: Problem) {
    if inner.failed.replace(true) {
        return;
    }
    leptos::logging::warn!("video server: {}", problem.user_message());
    if let Some(socket) = inner.socket.borrow_mut().take() {
        socket.close(1000, "failed");
    }
    inner.timer.borrow_mut().take();
    inner.recovery_timer.borrow_mut().take();
    let access = inner.access.borrow().upgrade();
    if let Some(access) = access {
        access.sfu_failed(Some(problem));
    }
    (inner.notify)(SfuEvent::Failed(problem));
}

fn drain(weak: Weak<Inner>) {
    let Some(inner) = weak.upgrade() else { return };
    if inner.busy.replace(true) {
        return;
    }
    drop(inner);
    leptos::task::spawn_local(async move {
        loop {
            let Some(inner) = weak.upgrade() else { return };
            let Some(event) = inner.queue.borrow_mut().pop_front() else {
                inner.busy.set(false);
                return;
            };
            apply(&inner, event).await;
            pump(&inner);
        }
    });
}

async fn apply(inner: &Rc<Inner>, event: JanusEvent) {
    let peer = &inner.peer;
    match event {
        JanusEvent::CreateOffer { ice_restart } => {
            if ice_restart {
                peer.restart_ice();
            }
            match peer.set_local_description().await {
                Ok(offer) => inner
                    .client
                    .borrow_mut()
                    .local_description(clock::monotonic_ms(), offer),
                Err(err) => leptos::logging::warn!("cannot offer to the video server: {err}"),
            }
        }
        JanusEvent::RemoteDescription(desc) => {
            if let Err(err) = peer.set_remote_description(&desc).await {
                leptos::logging::warn!("the video server's description was refused: {err}");
                return fail(inner, Problem::Negotiation);
            }
            if desc.kind == SdpKind::Offer {
                match peer.set_local_description().await {
                    Ok(answer) => {
                        inner
                            .client
                            .borrow_mut()
                            .local_description(clock::monotonic_ms(), answer);
                        // A guest's page waits for its first answer to be drawn.
                        crate::boot::ready();
                    }
                    Err(err) => leptos::logging::warn!("cannot answer the video server: {err}"),
                }
            }
        }
        JanusEvent::RemoteCandidate(candidate) => {
            let _ = peer.add_ice_candidate(candidate.as_ref()).await;
        }
        _ => {}
    }
}

fn on_peer(inner: &Rc<Inner>, event: PeerEvent) {
    match event {
        // Offers are made when Janus asks (after the join), never on the browser's cue.
        PeerEvent::NegotiationNeeded | PeerEvent::Channel(_) => {}
        PeerEvent::Audio(track) => (inner.notify)(SfuEvent::Audio(track)),
        PeerEvent::Candidate(c) => {
            inner
                .client
                .borrow_mut()
                .local_candidate(clock::monotonic_ms(), c);
            pump(inner);
        }
        PeerEvent::Track(stream) => (inner.notify)(SfuEvent::Track(stream)),
        PeerEvent::Message(text) => (inner.notify)(SfuEvent::Message(text)),
        PeerEvent::Connection(state) => {
            inner
                .recovery
                .borrow_mut()
                .on_state(clock::monotonic_ms(), &state);
            arm_recovery(inner);
            (inner.notify)(SfuEvent::Connection(state));
        }
    }
}

fn arm_recovery(inner: &Rc<Inner>) {
    let deadline = inner.recovery.borrow().poll_timeout();
    let timer = deadline.map(|at| {
        let weak = Rc::downgrade(inner);
        Timer::after(at.saturating_sub(clock::monotonic_ms()), move || {
            let Some(inner) = weak.upgrade() else { return };
            let now = clock::monotonic_ms();
            let action = inner.recovery.borrow_mut().handle_timeout(now);
            match action {
                RecoveryAction::RestartIce => {
                    leptos::logging::log!("video server connection down: restarting ICE");
                    let access = inner.access.borrow().upgrade();
                    let weak = Rc::downgrade(&inner);
                    leptos::task::spawn_local(async move {
                        let ice = match access {
                            Some(access) => Some(access.ice_for_link().await),
                            None => None,
                        };
                        // The link may have gone meanwhile.
                        let Some(inner) = weak.upgrade() else { return };
                        if let Some(ice) = ice {
                            if let Err(err) = inner.peer.set_ice(&ice.setup) {
                                leptos::logging::warn!("cannot renew the ICE servers: {err}");
                            }
                        }
                        inner.client.borrow_mut().restart_ice(clock::monotonic_ms());
                        pump(&inner);
                    });
                }
                RecoveryAction::GiveUp => return fail(&inner, Problem::Unreachable),
                RecoveryAction::Nothing => {}
            }
            arm_recovery(&inner);
        })
    });
    *inner.recovery_timer.borrow_mut() = timer;
}
