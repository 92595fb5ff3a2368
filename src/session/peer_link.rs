//! One peer connection plus its signaling: perfect negotiation decided by the core's
//! [`Negotiator`], incoming signals applied strictly in order (an ICE candidate must never
//! overtake the description it belongs to), local candidates and descriptions sent out.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::rc::{Rc, Weak};

use pairux_core::session::{DescriptionDecision, Negotiator, Recovery, RecoveryAction, SignalBody};
use web_sys::MediaStream;

use super::access::Access;
use crate::platform::clock;
use crate::platform::peer::{Peer, PeerEvent};
use crate::platform::timer::Timer;
use crate::platform::JsError;

/// What the owner of a link hears about it.
pub enum LinkEvent {
    Track(MediaStream),
    /// A voice arrived (the host's mix, or a guest's microphone).
    Audio(web_sys::MediaStreamTrack),
    /// Data channel open (`true`) or closed (`false`).
    Channel(bool),
    /// A data-channel message.
    Message(String),
    /// `connectionState`.
    Connection(String),
    /// ICE restarts did not bring the connection back.
    GaveUp,
}

type Send = Box<dyn Fn(SignalBody)>;
type Notify = Box<dyn Fn(LinkEvent)>;

struct Inner {
    peer: RefCell<Option<Rc<Peer>>>,
    negotiator: RefCell<Negotiator>,
    inbox: RefCell<VecDeque<SignalBody>>,
    busy: Cell<bool>,
    send: Send,
    notify: Notify,
    access: Rc<Access>,
    /// Whether the first grant was awaited (later descriptions take the latest at once).
    ice_applied: Cell<bool>,
    polite: bool,
    recovery: RefCell<Recovery>,
    recovery_timer: RefCell<Option<Timer>>,
}

/// A negotiated peer connection. Dropping it closes the connection.
pub struct PeerLink {
    inner: Rc<Inner>,
}

impl PeerLink {
    /// `polite`: the participant side (yields in an offer collision).
    pub fn new(
        access: Rc<Access>,
        remote: &str,
        polite: bool,
        send: impl Fn(SignalBody) + 'static,
        notify: impl Fn(LinkEvent) + 'static,
    ) -> Result<PeerLink, JsError> {
        let inner = Rc::new(Inner {
            peer: RefCell::new(None),
            negotiator: RefCell::new(Negotiator::new(polite)),
            inbox: RefCell::new(VecDeque::new()),
            busy: Cell::new(false),
            send: Box::new(send),
            notify: Box::new(notify),
            ice_applied: Cell::new(false),
            polite,
            recovery: RefCell::new(Recovery::default()),
            recovery_timer: RefCell::new(None),
            access: access.clone(),
        });
        let weak = Rc::downgrade(&inner);
        let peer = Peer::new(access.base(), remote, move |event| {
            if let Some(inner) = weak.upgrade() {
                on_peer_event(&inner, event);
            }
        })?;
        *inner.peer.borrow_mut() = Some(peer);
        Ok(PeerLink { inner })
    }

    pub fn peer(&self) -> Rc<Peer> {
        self.inner
            .peer
            .borrow()
            .clone()
            .expect("set in PeerLink::new")
    }

    /// A description or candidate from the remote side.
    pub fn deliver(&self, body: SignalBody) {
        self.inner.inbox.borrow_mut().push_back(body);
        drain(Rc::downgrade(&self.inner));
    }
}

fn on_peer_event(inner: &Rc<Inner>, event: PeerEvent) {
    match event {
        PeerEvent::NegotiationNeeded => {
            let weak = Rc::downgrade(inner);
            leptos::task::spawn_local(async move {
                let Some(inner) = weak.upgrade() else { return };
                let Some(peer) = inner.peer.borrow().clone() else {
                    return;
                };
                apply_ice(&inner, &peer).await;
                inner.negotiator.borrow_mut().begin_offer();
                let offer = peer.set_local_description().await;
                inner.negotiator.borrow_mut().end_offer();
                match offer {
                    Ok(desc) => (inner.send)(SignalBody::Description(desc)),
                    Err(err) => leptos::logging::warn!("cannot create an offer: {err}"),
                }
            });
        }
        PeerEvent::Candidate(candidate) => (inner.send)(SignalBody::Candidate(candidate)),
        PeerEvent::Track(stream) => (inner.notify)(LinkEvent::Track(stream)),
        PeerEvent::Audio(track) => (inner.notify)(LinkEvent::Audio(track)),
        PeerEvent::Channel(open) => (inner.notify)(LinkEvent::Channel(open)),
        PeerEvent::Message(text) => (inner.notify)(LinkEvent::Message(text)),
        PeerEvent::Connection(state) => {
            inner
                .recovery
                .borrow_mut()
                .on_state(clock::monotonic_ms(), &state);
            arm_recovery(inner);
            (inner.notify)(LinkEvent::Connection(state));
        }
    }
}

/// Before each local description: the granted TURN servers (waiting for the first grant), so
/// gathering — first, or after an ICE restart — uses credentials that have not expired.
async fn apply_ice(inner: &Rc<Inner>, peer: &Peer) {
    let ice = if inner.ice_applied.replace(true) {
        inner.access.ice_now()
    } else {
        inner.access.ice().await
    };
    if let Err(err) = peer.set_ice(&ice) {
        leptos::logging::warn!("cannot use the granted ICE servers: {err}");
    }
}

/// The offerer (the host, impolite) restarts ICE when its connection fails, with back-off.
fn arm_recovery(inner: &Rc<Inner>) {
    let deadline = inner.recovery.borrow().poll_timeout();
    let timer = deadline.filter(|_| !inner.polite).map(|at| {
        let weak = Rc::downgrade(inner);
        Timer::after(at.saturating_sub(clock::monotonic_ms()), move || {
            let Some(inner) = weak.upgrade() else { return };
            let action = inner
                .recovery
                .borrow_mut()
                .handle_timeout(clock::monotonic_ms());
            match action {
                RecoveryAction::RestartIce => {
                    if let Some(peer) = inner.peer.borrow().clone() {
                        leptos::logging::log!("connection down: restarting ICE");
                        // The latest TURN credentials: the first ones may have expired.
                        if let Err(err) = peer.set_ice(&inner.access.ice_now()) {
                            leptos::logging::warn!("cannot renew the ICE servers: {err}");
                        }
                        peer.restart_ice();
                    }
                }
                RecoveryAction::GiveUp => (inner.notify)(LinkEvent::GaveUp),
                RecoveryAction::Nothing => {}
            }
            arm_recovery(&inner);
        })
    });
    *inner.recovery_timer.borrow_mut() = timer;
}

/// Applies queued signals one at a time; a second caller while one runs only enqueues.
fn drain(weak: Weak<Inner>) {
    let Some(inner) = weak.upgrade() else { return };
    if inner.busy.replace(true) {
        return;
    }
    drop(inner);
    leptos::task::spawn_local(async move {
        loop {
            let Some(inner) = weak.upgrade() else { return };
            let Some(body) = inner.inbox.borrow_mut().pop_front() else {
                inner.busy.set(false);
                return;
            };
            apply(&inner, body).await;
        }
    });
}

async fn apply(inner: &Rc<Inner>, body: SignalBody) {
    let Some(peer) = inner.peer.borrow().clone() else {
        return;
    };
    match body {
        SignalBody::Description(desc) => {
            let decision = inner
                .negotiator
                .borrow_mut()
                .on_description(desc.kind, peer.signaling_state());
            let DescriptionDecision::Apply { answer } = decision else {
                return;
            };
            if let Err(err) = peer.set_remote_description(&desc).await {
                leptos::logging::warn!("remote description refused: {err}");
                return;
            }
            if answer {
                apply_ice(inner, &peer).await;
                match peer.set_local_description().await {
                    Ok(local) => (inner.send)(SignalBody::Description(local)),
                    Err(err) => leptos::logging::warn!("cannot answer: {err}"),
                }
            }
        }
        SignalBody::Candidate(candidate) => {
            if let Err(err) = peer.add_ice_candidate(candidate.as_ref()).await {
                if inner.negotiator.borrow().candidate_failure_matters() {
                    leptos::logging::warn!("ICE candidate refused: {err}");
                }
            }
        }
        SignalBody::Refused(_)
        | SignalBody::Share { .. }
        | SignalBody::Ended
        | SignalBody::Leaving
        | SignalBody::Waiting
        | SignalBody::Sfu(_)
        | SignalBody::SfuLive
        | SignalBody::Voice(_)
        | SignalBody::MediaKey { .. }
        | SignalBody::MediaKeyAck { .. } => {}
    }
}
