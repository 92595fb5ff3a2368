//! One peer connection plus its signaling: perfect negotiation decided by the core's
//! [`Negotiator`], incoming signals applied strictly in order (an ICE candidate must never
//! overtake the description it belongs to), local candidates and descriptions sent out.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::rc::{Rc, Weak};

use pairux_core::config::ClientConfig;
use pairux_core::session::{DescriptionDecision, Negotiator, SignalBody};
use web_sys::MediaStream;

use crate::platform::peer::{Peer, PeerEvent};
use crate::platform::JsError;

/// What the owner of a link hears about it.
pub enum LinkEvent {
    Track(MediaStream),
    /// Data channel open (`true`) or closed (`false`).
    Channel(bool),
    /// A data-channel message.
    Message(String),
    /// `connectionState`.
    Connection(String),
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
}

/// A negotiated peer connection. Dropping it closes the connection.
pub struct PeerLink {
    inner: Rc<Inner>,
}

impl PeerLink {
    /// `polite`: the participant side (yields in an offer collision).
    pub fn new(
        config: &ClientConfig,
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
        });
        let weak = Rc::downgrade(&inner);
        let peer = Peer::new(config, remote, move |event| {
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
        PeerEvent::Channel(open) => (inner.notify)(LinkEvent::Channel(open)),
        PeerEvent::Message(text) => (inner.notify)(LinkEvent::Message(text)),
        PeerEvent::Connection(state) => (inner.notify)(LinkEvent::Connection(state)),
    }
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
        | SignalBody::Leaving => {}
    }
}
