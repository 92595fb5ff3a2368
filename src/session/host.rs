//! The host's runtime: one peer connection per admitted participant, the shared track, share
//! pause/resume, quality, and ending the session.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;

use leptos::prelude::*;
use pairux_core::config::ClientConfig;
use pairux_core::link::ControllerSecret;
use pairux_core::roster::Participant;
use pairux_core::session::{
    HostAction, HostSession, Limits, Quality, ShareState, SignalBody, SignalEnvelope,
};
use pairux_core::Role;

use super::agent_link::{AgentLink, AgentSignals};
use super::host_control::{ControlSignals, HostControl, Outgoing};
use super::peer_link::{LinkEvent, PeerLink};
use crate::platform::media::{self, Capture, EndedListener};
use crate::platform::peer::SendQuality;
use crate::platform::timer::Timer;
use crate::platform::{clock, random};
use crate::realtime::SessionChannel;

/// What the host page shows.
#[derive(Clone, Copy)]
pub struct HostSignals {
    pub share: RwSignal<ShareState>,
    pub ended: RwSignal<bool>,
    pub quality: RwSignal<Quality>,
    /// Participant id → peer `connectionState`.
    pub peers: RwSignal<BTreeMap<String, String>>,
    /// The PairUX agent on this computer.
    pub agent: AgentSignals,
}

impl HostSignals {
    pub fn new() -> Self {
        HostSignals {
            share: RwSignal::new(ShareState::Paused),
            ended: RwSignal::new(false),
            quality: RwSignal::new(Quality::default()),
            peers: RwSignal::new(BTreeMap::new()),
            agent: AgentSignals::new(),
        }
    }
}

impl Default for HostSignals {
    fn default() -> Self {
        Self::new()
    }
}

struct Peer {
    link: PeerLink,
    role: Role,
    /// Whether the screen transceiver exists yet (not when the peer joined before any share).
    sending: std::cell::Cell<bool>,
}

struct Inner {
    me: String,
    config: ClientConfig,
    channel: SessionChannel,
    session: RefCell<HostSession>,
    capture: RefCell<Option<(Capture, EndedListener)>>,
    peers: RefCell<BTreeMap<String, Peer>>,
    view: HostSignals,
    control: RefCell<HostControl>,
    control_timer: RefCell<Option<Timer>>,
}

/// Cheap to clone; every clone drives the same session.
#[derive(Clone)]
pub struct HostRuntime {
    inner: Rc<Inner>,
}

impl HostRuntime {
    pub fn start(
        me: String,
        config: ClientConfig,
        channel: SessionChannel,
        capture: Option<Capture>,
        view: HostSignals,
        secret: ControllerSecret,
        control: ControlSignals,
    ) -> Self {
        let runtime = HostRuntime {
            inner: Rc::new(Inner {
                session: RefCell::new(HostSession::new(
                    me.clone(),
                    Limits::P2P,
                    ShareState::Paused,
                )),
                me,
                config,
                channel,
                capture: RefCell::new(None),
                peers: RefCell::new(BTreeMap::new()),
                view,
                control: RefCell::new(HostControl::new(secret, control)),
                control_timer: RefCell::new(None),
            }),
        };
        let (on_panic, on_drives) = (Rc::downgrade(&runtime.inner), Rc::downgrade(&runtime.inner));
        let agent = AgentLink::new(
            runtime.inner.view.agent,
            move || {
                if let Some(inner) = on_panic.upgrade() {
                    leptos::logging::warn!("Ctrl+Shift+Esc on this computer: control revoked");
                    HostRuntime { inner }.revoke_all();
                }
            },
            move || {
                if let Some(inner) = on_drives.upgrade() {
                    let out = inner.control.borrow().drives_changed();
                    HostRuntime { inner }.send_control(out);
                }
            },
        );
        runtime.inner.control.borrow_mut().set_agent(agent);
        let weak = Rc::downgrade(&runtime.inner);
        channel.on_signal(move |envelope| {
            let Some(inner) = weak.upgrade() else { return };
            if !inner.session.borrow().is_admitted(&envelope.from) {
                return;
            }
            if let SignalBody::Description(_) | SignalBody::Candidate(_) = envelope.body {
                if let Some(peer) = inner.peers.borrow().get(&envelope.from) {
                    peer.link.deliver(envelope.body);
                }
            }
        });
        if let Some(capture) = capture {
            runtime.share(capture);
        }
        runtime
    }

    /// The roster changed.
    pub fn on_roster(&self, participants: &[&Participant]) {
        let names = participants
            .iter()
            .map(|p| (p.id.clone(), p.display_name()))
            .collect();
        self.inner.control.borrow_mut().set_names(names);
        let actions = self.inner.session.borrow_mut().on_roster(participants);
        self.run(actions);
    }

    pub fn grant(&self, id: &str) {
        let out = self.inner.control.borrow_mut().grant(id);
        self.send_control(out);
    }

    pub fn deny(&self, id: &str) {
        let out = self.inner.control.borrow_mut().deny(id);
        self.send_control(out);
    }

    pub fn revoke(&self, id: &str) {
        let out = self.inner.control.borrow_mut().revoke(id);
        self.send_control(out);
    }

    /// The link to the agent on this computer.
    pub fn agent(&self) -> Option<AgentLink> {
        self.inner.control.borrow().agent()
    }

    /// Emergency: everyone loses control now.
    pub fn revoke_all(&self) {
        let out = self.inner.control.borrow_mut().revoke_all();
        self.send_control(out);
    }

    fn on_link(&self, id: &str, event: LinkEvent) {
        let out = match event {
            LinkEvent::Connection(state) => {
                self.inner.view.peers.update(|p| {
                    p.insert(id.to_owned(), state);
                });
                return;
            }
            LinkEvent::Channel(up) => {
                let actions = self.inner.session.borrow_mut().on_link(id, up);
                if !actions.is_empty() {
                    // This runs inside the peer's own channel callback: close the peer once
                    // the callback has returned, not from within it.
                    let runtime = self.clone();
                    leptos::task::spawn_local(async move { runtime.run(actions) });
                }
                if !up {
                    self.inner.control.borrow_mut().gone(id)
                } else {
                    let mut nonce = [0u8; pairux_core::control::NONCE_LEN];
                    if random::fill(&mut nonce).is_err() {
                        return;
                    }
                    use base64::Engine as _;
                    let nonce = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(nonce);
                    self.inner.control.borrow_mut().opened(id, nonce)
                }
            }
            LinkEvent::Message(text) => {
                // What this connection's DTLS really uses, so a relayed proof cannot pass.
                let binding = self
                    .inner
                    .peers
                    .borrow()
                    .get(id)
                    .and_then(|p| p.link.peer().channel_binding());
                self.inner.control.borrow_mut().message(
                    clock::monotonic_ms(),
                    id,
                    &text,
                    binding.as_ref(),
                )
            }
            LinkEvent::Track(_) => return,
        };
        self.send_control(out);
    }

    /// Sends control messages, then re-arms the control deadline (request expiry, cursor pacing).
    fn send_control(&self, out: Vec<Outgoing>) {
        {
            let peers = self.inner.peers.borrow();
            let send = |id: &str, text: &str, fast: bool| {
                if let Some(peer) = peers.get(id) {
                    let link = peer.link.peer();
                    if fast {
                        link.send_unreliable(text);
                    } else {
                        link.send(text);
                    }
                }
            };
            for o in out {
                match o {
                    Outgoing::To(id, msg) => send(&id, &msg.encode(), false),
                    Outgoing::FastTo(id, msg) => send(&id, &msg.encode(), true),
                    Outgoing::All(msg) => {
                        let text = msg.encode();
                        peers.keys().for_each(|id| send(id, &text, false));
                    }
                    Outgoing::FastAll(msg) => {
                        let text = msg.encode();
                        peers.keys().for_each(|id| send(id, &text, true));
                    }
                }
            }
        }
        let deadline = self.inner.control.borrow().poll_timeout();
        let timer = deadline.map(|at| {
            let weak = Rc::downgrade(&self.inner);
            Timer::after(at.saturating_sub(clock::monotonic_ms()), move || {
                if let Some(inner) = weak.upgrade() {
                    let out = inner
                        .control
                        .borrow_mut()
                        .handle_timeout(clock::monotonic_ms());
                    HostRuntime { inner }.send_control(out);
                }
            })
        });
        *self.inner.control_timer.borrow_mut() = timer;
    }

    /// Starts (or resumes) sharing `capture`; peers switch tracks without renegotiating.
    pub fn share(&self, capture: Capture) {
        let weak = Rc::downgrade(&self.inner);
        let listener = media::on_ended(&capture.track, move || {
            if let Some(inner) = weak.upgrade() {
                HostRuntime { inner }.paused();
            }
        });
        if let Some(agent) = self.agent() {
            agent.surface(Some(media::surface(&capture.track)));
        }
        // `Clone::clone` copies the handle; `.clone()` would be JS `track.clone()` (a new track).
        let track = Clone::clone(&capture.track);
        let old = self.inner.capture.replace(Some((capture, listener)));
        if let Some((old, _)) = old {
            old.stop();
        }
        for peer in self.inner.peers.borrow().values() {
            if !peer.sending.get() {
                self.start_sending(peer);
                continue;
            }
            let link = peer.link.peer();
            let track = Clone::clone(&track);
            leptos::task::spawn_local(async move {
                if let Err(err) = link.replace_track(&track).await {
                    leptos::logging::warn!("cannot switch the shared track: {err}");
                }
            });
        }
        self.inner.view.share.set(ShareState::Sharing);
        let actions = self
            .inner
            .session
            .borrow_mut()
            .set_share(ShareState::Sharing);
        self.run(actions);
    }

    /// The local preview's stream, if sharing.
    pub fn preview(&self) -> Option<web_sys::MediaStream> {
        self.inner
            .capture
            .borrow()
            .as_ref()
            .map(|(c, _)| Clone::clone(&c.stream))
    }

    /// The browser's "Stop sharing" ended the track.
    fn paused(&self) {
        if let Some(agent) = self.agent() {
            agent.surface(None);
        }
        self.inner.view.share.set(ShareState::Paused);
        let actions = self
            .inner
            .session
            .borrow_mut()
            .set_share(ShareState::Paused);
        self.run(actions);
    }

    pub fn set_quality(&self, quality: Quality) {
        self.inner.view.quality.set(quality);
        for peer in self.inner.peers.borrow().values() {
            let link = peer.link.peer();
            let bps = quality.max_bitrate(peer.role);
            leptos::task::spawn_local(async move {
                if let Err(err) = link.set_max_bitrate(bps).await {
                    leptos::logging::warn!("cannot change the bitrate: {err}");
                }
            });
        }
    }

    /// Ends the session for everyone and stops the capture.
    pub fn end(&self) {
        let actions = self.inner.session.borrow_mut().end();
        self.run(actions);
        if let Some((capture, _)) = self.inner.capture.borrow_mut().take() {
            capture.stop();
        }
        self.inner.view.ended.set(true);
    }

    /// The page is going away: tell everyone at once (best effort — the socket may already be
    /// closing; presence and the peer links are the fallback).
    pub fn leave(&self) {
        let actions = self.inner.session.borrow_mut().leave();
        self.run(actions);
    }

    fn run(&self, actions: Vec<HostAction>) {
        for action in actions {
            match action {
                HostAction::OpenPeer { id, role } => self.open_peer(id, role),
                HostAction::ClosePeer { id } => {
                    self.inner.peers.borrow_mut().remove(&id);
                    self.inner.view.peers.update(|p| {
                        p.remove(&id);
                    });
                    let out = self.inner.control.borrow_mut().gone(&id);
                    self.send_control(out);
                }
                HostAction::Send(envelope) => {
                    self.inner.channel.send_signal(&envelope);
                }
            }
        }
    }

    fn open_peer(&self, id: String, role: Role) {
        let inner = &self.inner;
        let (me, to, channel) = (inner.me.clone(), id.clone(), inner.channel);
        let send = move |body: SignalBody| {
            let envelope = SignalEnvelope {
                from: me.clone(),
                to: Some(to.clone()),
                body,
            };
            channel.send_signal(&envelope);
        };
        let (weak, pid) = (Rc::downgrade(inner), id.clone());
        let notify = move |event: LinkEvent| {
            if let Some(inner) = weak.upgrade() {
                HostRuntime { inner }.on_link(&pid, event);
            }
        };
        let link = match PeerLink::new(&inner.config, &id, false, send, notify) {
            Ok(link) => link,
            Err(err) => {
                leptos::logging::error!("cannot create a peer connection: {err}");
                return;
            }
        };
        link.peer().open_channels();
        let peer = Peer {
            link,
            role,
            sending: std::cell::Cell::new(false),
        };
        self.start_sending(&peer);
        inner.view.peers.update(|p| {
            p.insert(id.clone(), "new".to_owned());
        });
        inner.peers.borrow_mut().insert(id, peer);
    }

    /// Adds the screen to a peer (which triggers its first negotiation), if there is a capture.
    fn start_sending(&self, peer: &Peer) {
        let capture = self.inner.capture.borrow();
        let Some((capture, _)) = capture.as_ref() else {
            return;
        };
        let quality = SendQuality {
            max_bitrate_bps: self
                .inner
                .view
                .quality
                .get_untracked()
                .max_bitrate(peer.role),
            max_framerate: 30,
        };
        match peer
            .link
            .peer()
            .send_screen(&capture.stream, &capture.track, quality)
        {
            Ok(()) => peer.sending.set(true),
            Err(err) => leptos::logging::error!("cannot send the screen: {err}"),
        }
    }
}
