//! One peer connection plus its signaling: perfect negotiation decided by the core's
//! [`Negotiator`], incoming signals applied strictly in order (an ICE candidate must never
//! overtake the description it belongs to), local candidates and descriptions sent out.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::rc::{Rc, Weak};

use pairux_core::session::{
    CandidateInit, Description, DescriptionDecision, Negotiator, Recovery, RecoveryAction,
    RemoteEndpoint, SdpKind, SignalBody, SignalingState,
};
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
    /// Which connection of the other side's this one is ([`PeerLink::accepts`]).
    remote: RefCell<RemoteEndpoint>,
    inbox: RefCell<VecDeque<SignalBody>>,
    busy: Cell<bool>,
    send: Send,
    notify: Notify,
    access: Rc<Access>,
    /// Until when the TURN credentials this connection was given work (0: none given yet;
    /// its first description waits for the first grant).
    ice_expires: Cell<u64>,
    /// The offerer's duties ([`offerer_duty`]: ICE restarts, unanswered offers taken back);
    /// the answerer has none, and a guest's app links none.
    offerer: Option<fn(&Rc<Inner>, Duty)>,
    recovery: RefCell<Recovery>,
    recovery_timer: RefCell<Option<Timer>>,
    /// Offers sent so far, and the wait for the last one's answer ([`watch_offer`]); none is
    /// waited for while what the link sends is held (a spare connection).
    offers: Cell<u64>,
    held_back: Cell<bool>,
    offer_timer: RefCell<Option<Timer>>,
    /// Local descriptions being set and not yet sent ([`describe`]): while any is, local
    /// candidates wait in `held` for it instead of going out one signal each.
    describing: Cell<u32>,
    held: RefCell<Vec<Option<CandidateInit>>>,
    /// When the last of `held` came (ms, monotonic).
    held_at: Cell<u64>,
    /// Descriptions waiting for their candidates ([`await_candidates`]), woken by the next one.
    candidate_waiters: RefCell<Vec<Wake>>,
}

/// Ends one wait: whichever comes first, the next candidate or the wait's timer, sends.
type Wake = Rc<RefCell<Option<futures_channel::oneshot::Sender<()>>>>;

fn wake(waiter: &Wake) {
    if let Some(tx) = waiter.borrow_mut().take() {
        let _ = tx.send(());
    }
}

/// How long at most a local description waits for its candidates before it goes out with those
/// it has; what gathers later trickles as before.
const CANDIDATES_WAIT_MS: u64 = 40;
/// It goes out sooner once candidates came and then none for this long: a browser gathers in
/// bursts (its host addresses within milliseconds of the description; relays after an exchange
/// with the TURN server; TCP about 100 ms later), and the first burst is what most connections
/// start on.
const CANDIDATES_SETTLE_MS: u64 = 8;

/// A negotiated peer connection. Dropping it closes the connection.
pub struct PeerLink {
    inner: Rc<Inner>,
}

impl PeerLink {
    /// The host's side: it offers, wins an offer collision, and restarts ICE when the
    /// connection fails.
    pub fn offerer(
        access: Rc<Access>,
        remote: &str,
        send: impl Fn(SignalBody) + 'static,
        notify: impl Fn(LinkEvent) + 'static,
    ) -> Result<PeerLink, JsError> {
        Self::new(access, remote, Some(offerer_duty), send, notify)
    }

    /// The participant's side: it answers and yields in an offer collision (polite); the
    /// host restarts ICE for both.
    pub fn answerer(
        access: Rc<Access>,
        remote: &str,
        send: impl Fn(SignalBody) + 'static,
        notify: impl Fn(LinkEvent) + 'static,
    ) -> Result<PeerLink, JsError> {
        Self::new(access, remote, None, send, notify)
    }

    fn new(
        access: Rc<Access>,
        remote: &str,
        offerer: Option<fn(&Rc<Inner>, Duty)>,
        send: impl Fn(SignalBody) + 'static,
        notify: impl Fn(LinkEvent) + 'static,
    ) -> Result<PeerLink, JsError> {
        let polite = offerer.is_none();
        let inner = Rc::new(Inner {
            peer: RefCell::new(None),
            negotiator: RefCell::new(Negotiator::new(polite)),
            remote: RefCell::new(RemoteEndpoint::default()),
            inbox: RefCell::new(VecDeque::new()),
            busy: Cell::new(false),
            send: Box::new(send),
            notify: Box::new(notify),
            ice_expires: Cell::new(0),
            offerer,
            recovery: RefCell::new(Recovery::default()),
            recovery_timer: RefCell::new(None),
            offers: Cell::new(0),
            held_back: Cell::new(false),
            offer_timer: RefCell::new(None),
            describing: Cell::new(0),
            held: RefCell::new(Vec::new()),
            held_at: Cell::new(0),
            candidate_waiters: RefCell::new(Vec::new()),
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

    /// What this link sends is held by its owner, not sent (a spare connection): no answer
    /// is waited for until [`Self::released`].
    pub fn hold_back(&self) {
        self.inner.held_back.set(true);
    }

    /// What was held went out: an offer among it now waits for its answer.
    pub fn released(&self) {
        self.inner.held_back.set(false);
        let unanswered = self.peer().signaling_state() == SignalingState::HaveLocalOffer;
        if let (Some(duty), true) = (self.inner.offerer, unanswered) {
            duty(&self.inner, Duty::OfferSent);
        }
    }

    /// Closes the connection now, whoever else still holds it; no recovery follows.
    pub fn close(&self) {
        self.inner.recovery_timer.borrow_mut().take();
        self.inner.offer_timer.borrow_mut().take();
        self.peer().close();
    }

    /// Whether a description from the other side is for this connection, not for a new one it
    /// made (see [`RemoteEndpoint`]); the first one it is asked about names this connection.
    pub fn accepts(&self, desc: &Description) -> bool {
        self.inner.remote.borrow_mut().accepts(desc)
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
                if let Err(err) = describe(&inner, &peer, true).await {
                    leptos::logging::warn!("cannot create an offer: {err}");
                }
            });
        }
        PeerEvent::Candidate(candidate) => {
            if inner.describing.get() > 0 {
                inner.held.borrow_mut().push(candidate);
                inner.held_at.set(clock::monotonic_ms());
                let waiters = std::mem::take(&mut *inner.candidate_waiters.borrow_mut());
                waiters.iter().for_each(wake);
            } else {
                (inner.send)(SignalBody::Candidate(candidate));
            }
        }
        PeerEvent::Track(stream) => (inner.notify)(LinkEvent::Track(stream)),
        PeerEvent::Audio(track) => (inner.notify)(LinkEvent::Audio(track)),
        PeerEvent::Channel(open) => (inner.notify)(LinkEvent::Channel(open)),
        PeerEvent::Message(text) => (inner.notify)(LinkEvent::Message(text)),
        PeerEvent::Connection(state) => {
            inner
                .recovery
                .borrow_mut()
                .on_state(clock::monotonic_ms(), &state);
            if let Some(duty) = inner.offerer {
                duty(inner, Duty::StateChanged);
            }
            (inner.notify)(LinkEvent::Connection(state));
        }
    }
}

/// Before each local description: the granted TURN servers (waiting for the first grant), so
/// gathering — first, or after an ICE restart — uses credentials that have not expired. A
/// connection keeps the ones it was given while they work: each grant's are shared by a few
/// connections only (coturn's quota per username, `LINKS_PER_GRANT`), and Chrome restarts
/// ICE on a connection whose servers change.
async fn apply_ice(inner: &Rc<Inner>, peer: &Peer) {
    let ice = match inner.ice_expires.get() {
        0 => inner.access.ice().await,
        until if clock::wall_ms() / 1000 + 60 < until => return,
        _ => inner.access.ice_for_link().await,
    };
    inner.ice_expires.set(ice.expires_at);
    if let Err(err) = peer.set_ice(&ice.setup) {
        leptos::logging::warn!("cannot use the granted ICE servers: {err}");
    }
}

/// Sets the local description (an offer, or the answer the state calls for) and sends it with
/// the candidates gathered by then inside: the other side applies them with the description,
/// instead of one signal per candidate, each signed, sealed, relayed, verified, opened and added
/// on its own. Candidates gathered later trickle.
async fn describe(inner: &Rc<Inner>, peer: &Peer, offer: bool) -> Result<(), JsError> {
    inner.describing.set(inner.describing.get() + 1);
    if offer {
        inner.negotiator.borrow_mut().begin_offer();
    }
    let set = peer.set_local_description().await;
    if offer {
        inner.negotiator.borrow_mut().end_offer();
    }
    let (sent, result) = match set {
        Ok(desc) => {
            await_candidates(inner, peer).await;
            // As it is now, with the candidates gathered meanwhile. An offer that a glare
            // rolled back meanwhile (an answer is what is set now) is not sent at all: the
            // other side would apply an offer this side has discarded.
            let still = match desc.kind {
                SdpKind::Offer => peer.signaling_state() == SignalingState::HaveLocalOffer,
                SdpKind::Answer => true,
            };
            if still {
                // Unless something else was set meanwhile (then as it was set).
                let desc = peer
                    .current_local_description()
                    .filter(|now| now.kind == desc.kind)
                    .unwrap_or(desc);
                (inner.send)(SignalBody::Description(desc.clone()));
                if let (SdpKind::Offer, Some(duty), false) =
                    (desc.kind, inner.offerer, inner.held_back.get())
                {
                    duty(inner, Duty::OfferSent);
                }
                if desc.kind == SdpKind::Answer {
                    // A guest's page waits for its first answer to be drawn.
                    crate::boot::ready();
                }
                (Some(desc), Ok(()))
            } else {
                (None, Ok(()))
            }
        }
        Err(err) => (None, Err(err)),
    };
    inner
        .describing
        .set(inner.describing.get().saturating_sub(1));
    if inner.describing.get() == 0 {
        let held = std::mem::take(&mut *inner.held.borrow_mut());
        for candidate in held {
            // What the description already carries (the end of candidates included) stays.
            let carried = match (&candidate, &sent) {
                (Some(c), Some(desc)) => pairux_core::sdp::has_candidate(&desc.sdp, &c.candidate),
                (None, Some(desc)) => pairux_core::sdp::has_end_of_candidates(&desc.sdp),
                (_, None) => false,
            };
            if carried {
                continue;
            }
            (inner.send)(SignalBody::Candidate(candidate));
        }
    }
    result
}

/// Until gathering is complete, or candidates came and then settled, or the wait is over. Not
/// at all in a hidden page (e.g. a host sharing its screen from a tab behind another), whose
/// timers may fire a second late: its description goes at once and candidates trickle.
/// Looked at again on each candidate (the last one ends gathering) and when the settling or
/// the wait would end, not on a poll: the description leaves as soon as it may.
async fn await_candidates(inner: &Inner, peer: &Peer) {
    let start = clock::monotonic_ms();
    loop {
        if crate::platform::dom::page_hidden() {
            return;
        }
        let now = clock::monotonic_ms();
        let last = (!inner.held.borrow().is_empty()).then(|| inner.held_at.get());
        let settled = last.is_some_and(|at| now.saturating_sub(at) >= CANDIDATES_SETTLE_MS);
        if peer.gathering_complete() || settled || now.saturating_sub(start) >= CANDIDATES_WAIT_MS {
            return;
        }
        let until = last.map_or(start + CANDIDATES_WAIT_MS, |at| {
            (start + CANDIDATES_WAIT_MS).min(at + CANDIDATES_SETTLE_MS)
        });
        let (tx, rx) = futures_channel::oneshot::channel();
        let waiter: Wake = Rc::new(RefCell::new(Some(tx)));
        {
            let mut waiters = inner.candidate_waiters.borrow_mut();
            // Waits that ended on their timer are done with.
            waiters.retain(|w| w.borrow().is_some());
            waiters.push(waiter.clone());
        }
        let _timer = Timer::after(until.saturating_sub(now).max(1), move || wake(&waiter));
        // Whichever came first sent (the timer at the latest, within CANDIDATES_WAIT_MS).
        let _ = rx.await;
    }
}

/// What the offerer (the host) looks after.
#[derive(Clone, Copy)]
enum Duty {
    StateChanged,
    OfferSent,
}

fn offerer_duty(inner: &Rc<Inner>, duty: Duty) {
    match duty {
        Duty::StateChanged => arm_recovery(inner),
        Duty::OfferSent => watch_offer(inner),
    }
}

/// How long an offer may wait for its answer before it is taken back.
const OFFER_ANSWER_WAIT_MS: u64 = 10_000;

/// An offer that gets no answer (lost on the way: the guest's socket dropped it) holds the
/// connection in `have-local-offer`, where Chrome starts no negotiation — no ICE restart, no
/// microphone turned on — even once the path is back by itself. Unanswered after
/// [`OFFER_ANSWER_WAIT_MS`] it is taken back; Chrome then asks again for what is still to
/// negotiate (`negotiationneeded`), and a connection still down restarts from `stable`.
fn watch_offer(inner: &Rc<Inner>) {
    let sent = inner.offers.get() + 1;
    inner.offers.set(sent);
    let weak = Rc::downgrade(inner);
    *inner.offer_timer.borrow_mut() = Some(Timer::after(OFFER_ANSWER_WAIT_MS, move || {
        let Some(inner) = weak.upgrade() else { return };
        let Some(peer) = inner.peer.borrow().clone() else {
            return;
        };
        if inner.offers.get() == sent {
            leptos::task::spawn_local(async move { take_back_unanswered(&inner, &peer).await });
        }
    }));
}

/// Takes back our offer if it is still unanswered (`have-local-offer`) and not one being made
/// right now.
async fn take_back_unanswered(inner: &Inner, peer: &Peer) {
    let unanswered = peer.signaling_state() == SignalingState::HaveLocalOffer;
    if unanswered && inner.describing.get() == 0 {
        leptos::logging::warn!("an offer got no answer: taking it back");
        if let Err(err) = peer.roll_back().await {
            leptos::logging::warn!("cannot take back the offer: {err}");
        }
    }
}

/// The offerer (the host, impolite) restarts ICE when its connection fails, with back-off.
fn arm_recovery(inner: &Rc<Inner>) {
    let deadline = inner.recovery.borrow().poll_timeout();
    let timer = deadline.map(|at| {
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
                        // Other TURN credentials than the connection's first (they may have
                        // expired; and the restart's allocations count against them).
                        let inner = inner.clone();
                        leptos::task::spawn_local(async move {
                            let ice = inner.access.ice_for_link().await;
                            if let Err(err) = peer.set_ice(&ice.setup) {
                                leptos::logging::warn!("cannot renew the ICE servers: {err}");
                            }
                            inner.ice_expires.set(ice.expires_at);
                            // An offer of ours that never got its answer (lost on the way)
                            // holds the connection in `have-local-offer`, where Chrome starts
                            // no negotiation: this restart, and every later one (a microphone
                            // turned on), would wait for that answer for good.
                            take_back_unanswered(&inner, &peer).await;
                            peer.restart_ice();
                        });
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
                if let Err(err) = describe(inner, &peer, false).await {
                    leptos::logging::warn!("cannot answer: {err}");
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
