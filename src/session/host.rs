//! The host's runtime: one peer connection per admitted participant, the shared track, share
//! pause/resume, quality, and ending the session.

use pairux_core::vecmap::{VecMap, VecSet};
use std::cell::{Cell, RefCell};
use std::rc::Rc;

use crate::state::Kept;
use leptos::prelude::*;
use pairux_core::control::{Answered, Asked, ControlMsg, Guarded, Question};
use pairux_core::e2ee::{next_relay_time, SfuDataSealer};
use pairux_core::focus::{Decision, FocusFollower, Reason};
use pairux_core::identity::PublicKey;
use pairux_core::link::ControllerSecret;
use pairux_core::roster::Participant;
use pairux_core::session::{
    Asking, HostAction, HostMemory, HostSession, Limits, Quality, SfuRoute, ShareState, SignalBody,
    SignalEnvelope, StartMode, Topology, RETIRE_AFTER_MS, SEAT_CONNECT_MS,
};
use pairux_core::session::{HostChain, MAX_HANDOVERS};
use pairux_core::{Role, SessionLink};

use super::access::Access;
use super::agent_link::{AgentLink, AgentSignals};
use super::host_control::{ControlSignals, HostControl, Outgoing};
use super::peer_link::{LinkEvent, PeerLink};
use super::sfu::{SfuEvent, SfuLink};
use super::sfu_voice::{Heard, SfuVoice};
use super::voice::{HostVoice, Mic, VoiceSignals};
use crate::platform::media::{self, Capture, EndedListener};
use crate::platform::peer::SendQuality;
use crate::platform::timer::Timer;
use crate::platform::{clock, random, transform};
use crate::realtime::SessionChannel;

/// The host's publication on the video server is down.
const SFU_DOWN_SENTENCE: &str =
    "Lost the connection to the video server — viewers' pictures are paused while it reconnects…";

/// What a host whose E2EE worker failed reads when it turns its microphone on.
pub const MIC_CANNOT_SEND: &str =
    "Your voice can't be encrypted in this tab, so it isn't sent. Reload the page to try again.";

/// What the host page shows.
#[derive(Clone, Copy)]
pub struct HostSignals {
    pub share: RwSignal<ShareState>,
    pub ended: RwSignal<bool>,
    /// Another tab of this host (a duplicated tab) hosts the session now; this one stopped.
    pub moved: RwSignal<bool>,
    pub quality: RwSignal<Quality>,
    /// Participant id → peer `connectionState`.
    pub peers: RwSignal<VecMap<String, String>>,
    /// The PairUX agent on this computer.
    pub agent: AgentSignals,
    /// How the screen reaches guests (`session-mode`).
    pub topology: RwSignal<Topology>,
    /// What is wrong with the video server, in words (`None`: nothing).
    pub sfu_problem: RwSignal<Option<String>>,
    pub voice: VoiceSignals,
    /// Who waits for the host's OK to join (after a removal).
    pub asking: RwSignal<Vec<Asking>>,
    /// The controller the host role is offered to, until it answers (or leaves, or the host
    /// cancels).
    pub handing: RwSignal<Option<String>>,
    /// The controller the host role was handed to (signed): this tab hosts until it arrives.
    pub handed: RwSignal<Option<String>>,
    /// The name of the controller who said "Not now" to the last offer (until the next).
    pub declined: RwSignal<Option<String>>,
    /// Who holds a seat (the core's `HostSession::seated`).
    pub seated: RwSignal<VecSet<String>>,
    /// Whom this host removed, every tab of them (`HostSession::removed`): a tab that has not
    /// heard yet (hung, or frozen in the background) stays listed until it runs again.
    pub removed: RwSignal<VecSet<String>>,
    /// A guarded act asked twice while a controller drives this computer (control is paused
    /// until it is answered; `pairux_core::control::ActionGuard`).
    pub question: RwSignal<Option<Question>>,
    /// Two different guarded acts were clicked while one was asked: neither was done.
    pub clashed: RwSignal<bool>,
}

impl HostSignals {
    pub fn new() -> Self {
        HostSignals {
            share: RwSignal::new(ShareState::Paused),
            ended: RwSignal::new(false),
            moved: RwSignal::new(false),
            quality: RwSignal::new(Quality::default()),
            peers: RwSignal::new(VecMap::new()),
            agent: AgentSignals::new(),
            topology: RwSignal::new(Topology::P2p),
            sfu_problem: RwSignal::new(None),
            voice: VoiceSignals::new(),
            asking: RwSignal::new(Vec::new()),
            handing: RwSignal::new(None),
            handed: RwSignal::new(None),
            declined: RwSignal::new(None),
            seated: RwSignal::new(VecSet::new()),
            removed: RwSignal::new(VecSet::new()),
            question: RwSignal::new(None),
            clashed: RwSignal::new(false),
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
    /// Whether this peer carries the screen (not in SFU mode: control only).
    video: std::cell::Cell<bool>,
}

/// A connection made before anyone asks for it, its offer set and its candidates gathered:
/// the next participant to come gets it and the offer goes at once, instead of after the
/// connection, its transceivers, channels and transforms are made and its candidates gathered
/// (tens of ms of a first frame, on the host's busy main thread). Until then what it would
/// send or tell is held.
struct Spare {
    link: PeerLink,
    route: Rc<RefCell<SpareRoute>>,
    /// The capture it sends (a new share makes it stale).
    track: web_sys::MediaStreamTrack,
    made_at: u64,
}

/// Where a spare's signals and events go: nowhere yet (held), or to the participant it went to.
#[derive(Default)]
struct SpareRoute {
    to: Option<String>,
    signals: Vec<SignalBody>,
    events: Vec<LinkEvent>,
}

/// A spare is made this long after the share starts or the last spare was taken, so it does
/// not compete with a connection just starting (offer to first frame: ~150–250 ms here), yet
/// is there for the next of several people who open the link together.
const SPARE_AFTER_MS: u64 = 300;
/// A spare older than this is made again (its TURN credentials last 20 minutes).
const SPARE_MAX_AGE_MS: u64 = 5 * 60_000;

/// How long a replaced publication stays up after its successor is published, so guests still
/// on it keep their picture until they decode from the new one (make-before-break of a drain).
const PREVIOUS_PUBLICATION_MS: u64 = 5_000;

/// The host's publication on the SFU and how retrying it goes.
#[derive(Default)]
struct Publication {
    link: Option<SfuLink>,
    /// Generation of `link`: events of older links are ignored.
    generation: u64,
    /// The focus node `link` was granted on (`None`: no focus, or asked before any decision).
    node: Option<String>,
    /// The Janus `link` publishes to.
    url: Option<String>,
    /// The publication `link` replaced, until guests had time to move.
    previous: Option<(SfuLink, Timer)>,
    /// A publish in flight (waiting for the grant).
    starting: bool,
    retry: Option<Timer>,
    attempts: u32,
}

struct Inner {
    me: String,
    /// The focus's decisions for this session (`None`: config.json names no focus).
    focus: RefCell<Option<FocusFollower>>,
    /// The node the focus wants our publication on.
    target: RefCell<Option<String>>,
    session_id: String,
    access: Rc<Access>,
    /// Seals what goes through the SFU's data channel, in the epoch our frames are sent in
    /// (none before the first: never the room key).
    sealer: RefCell<Option<SfuDataSealer>>,
    /// The time on the last message relayed through the SFU (each one's is later).
    relayed_at: Cell<u64>,
    publication: RefCell<Publication>,
    channel: SessionChannel,
    session: RefCell<HostSession>,
    capture: RefCell<Option<(Capture, EndedListener)>>,
    /// The tab's E2EE worker failed: nothing can be sent, so nothing is shared again.
    cannot_send: std::cell::Cell<bool>,
    /// The latest switch of the microphone (a number per switch, and whether it turns it on):
    /// only the latest one's outcome is shown and published.
    mic_switch: std::cell::Cell<(u64, bool)>,
    /// Turns the microphone off, and says why, if its track ends by itself while on.
    mic_ended: RefCell<Option<crate::platform::media::EndedListener>>,
    peers: RefCell<VecMap<String, Peer>>,
    view: HostSignals,
    control: RefCell<HostControl>,
    /// The control deadline armed (request expiry, cursor pacing), and for when.
    control_timer: RefCell<Option<(u64, Timer)>>,
    voice: HostVoice,
    /// Voice through the SFU (SFU mode): our feed, and everyone's we hear.
    sfu_voice: SfuVoice,
    /// The session's link (where the host's memory is kept across a reload).
    link: SessionLink,
    /// Media epochs: the wait for confirmations of a new secret, and the retirement of old ones.
    key_deadline: RefCell<Option<Timer>>,
    key_retire: RefCell<Option<Timer>>,
    /// The next participant's connection, made ahead ([`Spare`]).
    spare: RefCell<Option<Spare>>,
    /// When the spare is made (again).
    spare_timer: RefCell<Option<Timer>>,
    /// Per seated participant: when its connection must be up to keep counting against the
    /// limits (`HostSession::on_seat_deadline`).
    seat_timers: RefCell<VecMap<String, Timer>>,
    /// The host's pick of topology, handed on with the role.
    mode: std::cell::Cell<StartMode>,
    /// This tab handed the role on and is reloading as a controller: it keeps no host memory.
    stepped_down: std::cell::Cell<bool>,
    /// The handover this tab signed (kept in the tab too, so a reload stays committed to it).
    signed: RefCell<Option<HostChain>>,
}

/// Cheap to clone; every clone drives the same session.
#[derive(Clone)]
pub struct HostRuntime {
    inner: Rc<Inner>,
}

impl HostRuntime {
    #[allow(clippy::too_many_arguments)]
    pub fn start(
        me: String,
        access: Rc<Access>,
        link: &SessionLink,
        topology: Topology,
        channel: SessionChannel,
        capture: Option<Capture>,
        view: HostSignals,
        secret: ControllerSecret,
        control: ControlSignals,
        focus: Option<FocusFollower>,
    ) -> Self {
        // What the badge says is measured: `sfu` once our publication's connection is up, not
        // when it is chosen (a Janus that cannot be reached leaves it at `p2p`).
        view.topology.set(Topology::P2p);
        let session = match topology {
            Topology::P2p => HostSession::new(me.clone(), Limits::P2P, ShareState::Paused),
            Topology::Sfu => HostSession::sfu(me.clone(), ShareState::Paused),
        };
        let runtime = HostRuntime {
            inner: Rc::new_cyclic(|weak: &std::rc::Weak<Inner>| Inner {
                sfu_voice: {
                    let weak = weak.clone();
                    SfuVoice::new(me.clone(), access.clone(), channel, move |heard| {
                        let Some(inner) = weak.upgrade() else { return };
                        match heard {
                            Heard::Voice(id, track) => inner.voice.heard(&id, &track),
                            Heard::Gone(id) => inner.voice.forget(&id),
                            Heard::MicOff(sentence) => {
                                HostRuntime { inner }.switch_mic(false, Some(sentence))
                            }
                        }
                    })
                },
                voice: {
                    let weak = weak.clone();
                    HostVoice::new(me.clone(), view.voice, move |ids| {
                        if let Some(inner) = weak.upgrade() {
                            let msg = pairux_core::control::ControlMsg::Speaking { ids };
                            HostRuntime { inner }.send_control(vec![Outgoing::All(msg)]);
                        }
                    })
                },
                session: RefCell::new(session),
                focus: RefCell::new(focus),
                target: RefCell::new(None),
                me,
                session_id: link.session.to_string(),
                access,
                sealer: RefCell::new(None),
                relayed_at: Cell::new(0),
                publication: RefCell::new(Publication::default()),
                channel,
                capture: RefCell::new(None),
                cannot_send: std::cell::Cell::new(false),
                mic_switch: std::cell::Cell::new((0, false)),
                mic_ended: RefCell::new(None),
                peers: RefCell::new(VecMap::new()),
                view,
                control: RefCell::new(HostControl::new(secret, control)),
                control_timer: RefCell::new(None),
                link: link.clone(),
                key_deadline: RefCell::new(None),
                key_retire: RefCell::new(None),
                spare: RefCell::new(None),
                spare_timer: RefCell::new(None),
                seat_timers: RefCell::new(VecMap::new()),
                mode: std::cell::Cell::new(StartMode::default()),
                stepped_down: std::cell::Cell::new(false),
                signed: RefCell::new(crate::state::kept_chain(link, Kept::Handed)),
            }),
        };
        let (on_panic, on_drives) = (Rc::downgrade(&runtime.inner), Rc::downgrade(&runtime.inner));
        let agent = AgentLink::new(
            &link.session.to_string(),
            runtime.inner.view.agent,
            move || {
                if let Some(inner) = on_panic.upgrade() {
                    leptos::logging::warn!("Ctrl+Shift+Esc on this computer: control revoked");
                    HostRuntime { inner }.revoke_all();
                }
            },
            move || {
                if let Some(inner) = on_drives.upgrade() {
                    let out = inner.control.borrow_mut().drives_changed();
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
            match envelope.body {
                SignalBody::Description(_) | SignalBody::Candidate(_) => {
                    if let Some(peer) = inner.peers.borrow().get(&envelope.from) {
                        peer.link.deliver(envelope.body);
                    }
                }
                SignalBody::SfuLive => {
                    let actions = inner.session.borrow_mut().on_sfu_live(&envelope.from);
                    HostRuntime { inner }.run(actions);
                }
                SignalBody::Voice(route) => inner.sfu_voice.on_announce(&envelope.from, route),
                SignalBody::MediaKeyAck { epoch } => {
                    let actions = inner.session.borrow_mut().on_key_ack(&envelope.from, epoch);
                    HostRuntime { inner }.run(actions);
                }
                _ => {}
            }
        });
        // The focus's decisions, from the channel and from every access grant.
        let weak = Rc::downgrade(&runtime.inner);
        let on_focus = move |payload: serde_json::Value| {
            if let Some(inner) = weak.upgrade() {
                HostRuntime { inner }.on_focus(&payload);
            }
        };
        channel.on_focus(on_focus.clone());
        runtime.inner.access.on_focus(on_focus);
        // Media epochs: a seed only this tab knows, and what the tab remembered before a reload.
        let mut seed = [0u8; 32];
        match random::fill(&mut seed) {
            Ok(()) => {
                let memory = crate::state::host_memory(link);
                let actions = runtime.inner.session.borrow_mut().enable_epochs(
                    link.session.to_string(),
                    seed,
                    memory,
                );
                runtime.run(actions);
            }
            Err(err) => {
                leptos::logging::error!("no randomness: a removal cannot rotate keys: {err}")
            }
        }
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
        self.inner
            .sfu_voice
            .on_roster(participants.iter().map(|p| p.id.as_str()));
        let actions = self.inner.session.borrow_mut().on_roster(participants);
        self.run(actions);
        self.show_asking();
        // A host under a handover we signed is here (guests follow the longer chain): we
        // host no more. Only for a host present in the roster, so a meta the roster did not
        // keep (a shadow under someone else's presence key) cannot make us step down.
        if let Some(identity) = self.inner.channel.identity() {
            let ours = identity.chain().len();
            let newer = participants.iter().any(|p| {
                let chain = p.profile.get("chain").and_then(serde_json::Value::as_str);
                p.role == Role::Host
                    && p.id != self.inner.me
                    && chain
                        .and_then(HostChain::decode)
                        .is_some_and(|c| c.len() > ours)
            });
            if newer && identity.superseded() {
                self.step_down();
            }
        }
        // Another join of this host — a duplicated tab: the same key and chain, joined
        // later — is the host guests follow (the latest join of a chain): this tab stops.
        let first = participants.iter().find(|p| p.role == Role::Host);
        let mine = participants.iter().find(|p| p.id == self.inner.me);
        if let (Some(first), Some(mine)) = (first, mine) {
            if first.id != mine.id
                && first.signer.is_some()
                && first.signer == mine.signer
                && first.chain_text().len() == mine.chain_text().len()
            {
                self.moved_on();
            }
        }
        // The controller offered the role left: the offer is off. (One it was handed to
        // leaves to come back as the host: that stays said.)
        let offered = self.inner.view.handing.get_untracked();
        if offered.is_some_and(|id| !participants.iter().any(|p| p.id == id)) {
            self.inner.view.handing.set(None);
        }
    }

    /// Offers the host role to controller `id` (the host's click; `mode`: the host's pick
    /// of topology, handed on with it). Nothing is signed until the controller takes it (a
    /// click of its own): the offer can be cancelled until then. Once a handover is signed,
    /// only its taker can be offered the role again (it gets the same handover: a second
    /// one of the same generation would be a fork). `Err`: what to tell the host.
    pub fn offer_host(&self, id: &str, mode: StartMode) -> Result<(), &'static str> {
        let identity = self
            .inner
            .channel
            .identity()
            .ok_or("The session is closing.")?;
        if identity.superseded() {
            return Err("Someone else hosts this session now.");
        }
        if identity.chain().len() >= MAX_HANDOVERS {
            return Err("This session has changed hosts too often to hand it on again.");
        }
        let key = self.handover_key(id)?;
        if self.signed_for(key) == Some(false) {
            return Err("The host role is promised to another controller: only they can take it.");
        }
        if !self.inner.peers.borrow().contains_key(id) {
            return Err("Not connected to them yet: try again in a moment.");
        }
        self.inner.mode.set(mode);
        self.send_control(vec![Outgoing::To(id.to_owned(), ControlMsg::HostOffer)]);
        self.inner.view.handed.set(None);
        self.inner.view.declined.set(None);
        self.inner.view.handing.set(Some(id.to_owned()));
        Ok(())
    }

    /// Takes back the offer the controller has not answered yet.
    pub fn cancel_hand_over(&self) {
        if let Some(id) = self.inner.view.handing.get_untracked() {
            self.send_control(vec![Outgoing::To(id, ControlMsg::HostOfferOff)]);
            self.inner.view.handing.set(None);
        }
    }

    /// The key a handover to `id` names: its verified key, if it is a seated controller.
    fn handover_key(&self, id: &str) -> Result<PublicKey, &'static str> {
        let key = self.inner.channel.signals.roster.with_untracked(|r| {
            r.get(id)
                .filter(|p| p.role == Role::Controller)
                .and_then(|p| p.signer)
        });
        key.ok_or("Only a controller can take over as host.")
    }

    /// Whether the handover this tab signed (if any: `None`) names `key`.
    fn signed_for(&self, key: PublicKey) -> Option<bool> {
        let link = &self.inner.link;
        let signed = self.inner.signed.borrow();
        signed
            .as_ref()
            .map(|c| c.head(&link.session, &link.host) == Some(key))
    }

    /// Controller `id` answered our offer (`take`), or said it cannot keep the handover.
    /// A take of the offer that stands is signed and sent (kept first in this tab: from then
    /// on it is committed); a take by the controller already promised the role gets the same
    /// handover again; any other take hears that the offer is off.
    fn on_answer(&self, id: &str, take: bool) {
        let view = self.inner.view;
        if !take {
            if view.handing.get_untracked().as_deref() == Some(id) {
                view.handing.set(None);
                let name = self.inner.channel.signals.roster.with_untracked(|r| {
                    r.get(id)
                        .map(pairux_core::roster::Participant::display_name)
                });
                view.declined.set(name);
            }
            // Turned down after the role was signed to them (their tab could not keep it,
            // they say): the signature stands — their page could still take the role, and
            // nobody else can be handed it — so the panel keeps saying whom it is promised to
            // (and offers it to them again).
            return;
        }
        let offered = view.handing.get_untracked().as_deref() == Some(id);
        let chain = self
            .handover_key(id)
            .ok()
            .and_then(|key| match self.signed_for(key) {
                Some(to_key) => to_key.then(|| self.inner.signed.borrow().clone()).flatten(),
                None if offered && self.inner.peers.borrow().contains_key(id) => {
                    let chain = self.inner.channel.identity()?.hand_over(key)?;
                    crate::state::keep_chain(&self.inner.link, Kept::Handed, &chain);
                    *self.inner.signed.borrow_mut() = Some(chain.clone());
                    Some(chain)
                }
                None => None,
            });
        let Some(chain) = chain else {
            self.send_control(vec![Outgoing::To(id.to_owned(), ControlMsg::HostOfferOff)]);
            return;
        };
        // What this host remembers goes with the role: whom it removed stays out (and the new
        // host moves to a fresh media epoch at once), whom it let in stays in.
        let mut memory = self.inner.session.borrow().memory();
        if memory.admission_required {
            // This tab comes back as a controller under its guest key: let in without asking.
            let seed = crate::state::SessionEntry::guest(self.inner.link.clone()).guest_seed();
            if let Some(seed) = seed {
                memory
                    .allowed
                    .push(pairux_core::identity::Signer::from_seed(seed).public());
            }
        }
        let msg = ControlMsg::HandOver {
            chain: chain.encode(),
            mode: self.inner.mode.get().as_str().to_owned(),
            memory: (memory != HostMemory::default()).then(|| memory.to_json().to_string()),
        };
        self.send_control(vec![Outgoing::To(id.to_owned(), msg)]);
        view.handing.set(None);
        view.handed.set(Some(id.to_owned()));
    }

    /// The controller the role was offered to hosts now: this tab is a controller of the
    /// session from its next load on (its link holds the controller secret), and reloads.
    fn step_down(&self) {
        if self.inner.stepped_down.get() {
            return;
        }
        if !crate::state::SessionEntry::guest(self.inner.link.clone()).step_down() {
            // Reloading would bring this tab back as the host, and round again.
            leptos::logging::error!("this tab cannot keep its new role; it stays as it is");
            return;
        }
        self.inner.stepped_down.set(true);
        if let Err(err) = crate::platform::location::reload() {
            leptos::logging::error!("cannot reload as a controller: {err}");
        }
    }

    /// Removes a participant: its connection closes now (control with it), it is told so, and
    /// from now on nobody new gets in without the host's OK.
    pub fn remove(&self, id: &str) {
        let actions = self.inner.session.borrow_mut().remove(id);
        self.run(actions);
        // Its media keys go now, for good — every tab of that identity the session barred with
        // it: whatever of their media still reaches us (an SFU forwarding it until its handle
        // is gone) is refused, not played.
        let barred: Vec<String> = self
            .inner
            .session
            .borrow()
            .removed()
            .map(str::to_owned)
            .collect();
        for gone in &barred {
            if let Err(err) = transform::page_worker().and_then(|w| w.forget(gone)) {
                leptos::logging::warn!("the removed participant's media keys stay: {err}");
            }
        }
        // Its rows (every tab of that person) say so until its pages leave
        // (`HostSignals::removed`).
        self.show_asking();
    }

    /// Lets in someone who asked to join.
    pub fn admit(&self, id: &str) {
        let actions = self.inner.session.borrow_mut().admit(id);
        self.run(actions);
        self.show_asking();
    }

    /// Turns away someone who asked to join.
    pub fn deny_join(&self, id: &str) {
        let actions = self.inner.session.borrow_mut().deny(id);
        self.run(actions);
        self.show_asking();
    }

    /// Who waits for the host's OK, who holds a seat and who was removed, as the page shows
    /// them.
    fn show_asking(&self) {
        let session = self.inner.session.borrow();
        let asking = session.asking();
        let seated: VecSet<String> = session.seated().map(str::to_owned).collect();
        let removed: VecSet<String> = session.removed().map(str::to_owned).collect();
        drop(session);
        let view = &self.inner.view;
        if view.asking.with_untracked(|a| *a != asking) {
            view.asking.set(asking);
        }
        if view.seated.with_untracked(|s| *s != seated) {
            view.seated.set(seated);
        }
        if view.removed.with_untracked(|r| *r != removed) {
            view.removed.set(removed);
        }
    }

    /// The host clicked a guarded act (handing the role on, letting someone in), made by the
    /// page's last press (pointer or key down) at `pressed_at` (its event time, ms on the
    /// page's monotonic clock; `keyboard`: a click made with a key). `true`: do it now;
    /// `false`: control drives this computer (or did at that press), so the page asks first
    /// ([`HostSignals::question`]) and control pauses until the host answers — or another
    /// act was asked already, and neither is done ([`HostSignals::clashed`]).
    pub fn ask(&self, act: Guarded, pressed_at: f64, keyboard: bool) -> bool {
        let pressed_at = pressed_at.max(0.0) as u64;
        let (asked, out) =
            self.inner
                .control
                .borrow_mut()
                .ask(clock::monotonic_ms(), pressed_at, keyboard, act);
        self.inner.view.clashed.set(asked == Asked::Clashed);
        self.send_control(out);
        matches!(asked, Asked::Do(_))
    }

    /// The host's answer to the open question, made by a press at `pressed_at` (as for
    /// [`HostRuntime::ask`]).
    pub fn answer(&self, pressed_at: f64, yes: bool) -> Answered {
        let pressed_at = pressed_at.max(0.0) as u64;
        let (answered, out) = self.inner.control.borrow_mut().answer(pressed_at, yes);
        self.send_control(out);
        answered
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
                // A participant gone from presence whose connection drops is closed now, not
                // when (if ever) its data channel reports closing: a tab that was killed sends
                // no SCTP abort, and its connection would otherwise keep our encoder busy.
                let down = matches!(state.as_str(), "disconnected" | "failed" | "closed");
                self.inner.view.peers.update(|p| {
                    p.insert(id.to_owned(), state.clone());
                });
                if state == "connected" || down {
                    self.inner.control.borrow_mut().link(id, !down);
                }
                if state == "connected" || down {
                    // Up: a seat that came up after its deadline may be refused as full now.
                    let actions = self.inner.session.borrow_mut().on_link(id, !down);
                    if !actions.is_empty() {
                        let runtime = self.clone();
                        leptos::task::spawn_local(async move { runtime.run(actions) });
                    }
                }
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
                    let controller =
                        self.inner.session.borrow().seated_as(id) == Some(Role::Controller);
                    let nonce = if controller {
                        let mut nonce = [0u8; pairux_core::control::NONCE_LEN];
                        if random::fill(&mut nonce).is_err() {
                            return;
                        }
                        use base64::Engine as _;
                        Some(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(nonce))
                    } else {
                        None
                    };
                    self.inner.control.borrow_mut().opened(id, nonce)
                }
            }
            LinkEvent::Message(text) => {
                // What this connection's DTLS really uses, so a relayed proof cannot pass.
                let binding = || {
                    self.inner
                        .peers
                        .borrow()
                        .get(id)
                        .and_then(|p| p.link.peer().channel_binding())
                };
                self.inner
                    .control
                    .borrow_mut()
                    .message(clock::monotonic_ms(), id, &text, &binding)
            }
            LinkEvent::Track(_) => return,
            LinkEvent::Audio(track) => {
                // In SFU mode voices come from the SFU; a direct connection's is silent.
                if !self.inner.sfu_voice.active() {
                    self.inner.voice.heard(id, &track);
                }
                return;
            }
            LinkEvent::GaveUp => {
                self.inner.view.peers.update(|p| {
                    p.insert(id.to_owned(), "failed".to_owned());
                });
                return;
            }
        };
        self.send_control(out);
    }

    /// Sends control messages, then re-arms the control deadline (request expiry, cursor pacing).
    fn send_control(&self, out: Vec<Outgoing>) {
        let mut answers = Vec::new();
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
                        self.relay_through_sfu(&text);
                    }
                    Outgoing::Sfu(msg) => self.relay_through_sfu(&msg.encode()),
                    Outgoing::Answer(id, take) => answers.push((id, take)),
                    Outgoing::FastAllBut(but, msg) => {
                        let text = msg.encode();
                        peers
                            .keys()
                            .filter(|id| **id != but)
                            .for_each(|id| send(id, &text, true));
                        self.relay_through_sfu(&text);
                    }
                }
            }
        }
        for (id, take) in answers {
            self.on_answer(&id, take);
        }
        let (deadline, question) = {
            let control = self.inner.control.borrow();
            (control.poll_timeout(), control.question())
        };
        let shown = self.inner.view.question;
        if shown.with_untracked(|q| *q != question) {
            shown.set(question);
        }
        let mut armed = self.inner.control_timer.borrow_mut();
        // Most input leaves the deadline as it was (none, or the same pacing frame): keep that
        // timer rather than replace it on every event.
        if armed.as_ref().map(|(at, _)| *at) == deadline {
            return;
        }
        *armed = deadline.map(|at| {
            let weak = Rc::downgrade(&self.inner);
            let timer = Timer::after(at.saturating_sub(clock::monotonic_ms()), move || {
                if let Some(inner) = weak.upgrade() {
                    // Fired: no longer armed, whatever deadline comes next.
                    inner.control_timer.borrow_mut().take();
                    let out = inner
                        .control
                        .borrow_mut()
                        .handle_timeout(clock::monotonic_ms());
                    HostRuntime { inner }.send_control(out);
                }
            });
            (at, timer)
        });
    }

    /// Viewers in SFU mode have no connection to us: what every participant must see (cursors,
    /// who holds control) goes through the publication's data channel, sealed in the media
    /// epoch we send in (nothing before we send in one) so Janus relays bytes it cannot read.
    fn relay_through_sfu(&self, text: &str) {
        let publication = self.inner.publication.borrow();
        let sealer = self.inner.sealer.borrow();
        let (Some(link), Some(sealer)) = (publication.link.as_ref(), sealer.as_ref()) else {
            return;
        };
        let mut nonce = [0u8; pairux_core::e2ee::SEAL_NONCE_LEN];
        if random::fill(&mut nonce).is_err() {
            return;
        }
        use base64::Engine as _;
        let at = next_relay_time(clock::monotonic_ms(), self.inner.relayed_at.get());
        self.inner.relayed_at.set(at);
        let sealed = sealer.seal(&self.inner.session_id, at, text.as_bytes(), nonce);
        let wire = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sealed);
        link.peer().send_unreliable(&wire);
    }

    /// A message on the focus's event, or in a grant: acted on once verified and new.
    fn on_focus(&self, payload: &serde_json::Value) {
        let accepted = match self.inner.focus.borrow_mut().as_mut() {
            Some(follower) => follower.accept(payload),
            None => return,
        };
        match accepted {
            Ok(Some(decision)) => self.on_decision(decision),
            Ok(None) => {}
            Err(err) => leptos::logging::warn!("focus message ignored: {err}"),
        }
    }

    /// The focus moved this session: publish on the node it names. Guests keep their current
    /// picture (peer to peer, or the old node's) until the new one decodes for them.
    fn on_decision(&self, decision: Decision) {
        if self.inner.session.borrow().is_ended() || decision.topology != Topology::Sfu {
            // Sessions start P2P; the focus never moves one back.
            return;
        }
        self.inner.session.borrow_mut().set_topology(Topology::Sfu);
        self.drop_spare();
        let Some(node) = decision.node else {
            self.inner.view.sfu_problem.set(Some(
                "No video server can take this session right now; waiting for one…".into(),
            ));
            return;
        };
        *self.inner.target.borrow_mut() = Some(node);
        if decision.reason == Reason::Failover {
            // Its node is gone: nothing to keep, and no back-off before trying the new one.
            let mut p = self.inner.publication.borrow_mut();
            p.link = None;
            p.retry = None;
            p.attempts = 0;
        }
        self.publish();
    }

    /// Publishes the current capture on the SFU: once, and again when the focus names another
    /// node (later shares switch the track).
    fn publish(&self) {
        {
            let target = self.inner.target.borrow();
            let mut p = self.inner.publication.borrow_mut();
            let placed = p.link.is_some() && (target.is_none() || p.node == *target);
            if placed || p.starting || self.inner.session.borrow().is_ended() {
                return;
            }
            p.starting = true;
            p.retry = None;
        }
        let weak = Rc::downgrade(&self.inner);
        leptos::task::spawn_local(async move {
            let Some(inner) = weak.upgrade() else { return };
            let node = inner.target.borrow().clone();
            let granted = inner.access.sfu(None).await;
            let runtime = HostRuntime { inner };
            runtime.inner.publication.borrow_mut().starting = false;
            let (ice, grant) = match granted {
                Ok(g) => g,
                Err(err) => {
                    runtime.inner.view.sfu_problem.set(Some(err.0));
                    return runtime.retry_publish();
                }
            };
            {
                // The session is where we already publish (the focus decided while an
                // earlier request was answered): nothing to move.
                let mut p = runtime.inner.publication.borrow_mut();
                if p.link.is_some() && p.url.as_deref() == Some(grant.janus_url.as_str()) {
                    p.node = node;
                    return;
                }
            }
            let url = grant.janus_url.clone();
            let guard = runtime.inner.capture.borrow();
            let Some((capture, _)) = guard.as_ref() else {
                return;
            };
            let quality = send_quality(
                runtime.inner.view.quality.get_untracked(),
                Role::Viewer,
                &capture.track,
            );
            let generation = {
                let mut p = runtime.inner.publication.borrow_mut();
                p.generation += 1;
                p.generation
            };
            let weak = Rc::downgrade(&runtime.inner);
            let link = SfuLink::publish(
                grant,
                &ice,
                &runtime.inner.me,
                &capture.stream,
                &capture.track,
                quality,
                move |event| {
                    if let Some(inner) = weak.upgrade() {
                        HostRuntime { inner }.on_sfu(generation, event);
                    }
                },
            )
            .map(|link| link.with_access(&runtime.inner.access));
            drop(guard);
            match link {
                Ok(link) => {
                    let mut p = runtime.inner.publication.borrow_mut();
                    if let Some(old) = p.link.replace(link) {
                        // Kept until the new one is published and guests had time to move
                        // (at most four times that if it never is).
                        let weak = Rc::downgrade(&runtime.inner);
                        let timer = Timer::after(PREVIOUS_PUBLICATION_MS * 4, move || {
                            if let Some(inner) = weak.upgrade() {
                                inner.publication.borrow_mut().previous = None;
                            }
                        });
                        p.previous = Some((old, timer));
                    }
                    p.node = node;
                    p.url = Some(url);
                }
                Err(err) => {
                    leptos::logging::error!("cannot publish to the video server: {err}");
                    runtime.retry_publish();
                }
            }
        });
    }

    fn retry_publish(&self) {
        let mut p = self.inner.publication.borrow_mut();
        p.link = None;
        p.attempts += 1;
        // 0.5, 1, 2, 4 s, then every 4 s: the video server restarting takes a second or two.
        let wait = 250u64 << p.attempts.min(4);
        let weak = Rc::downgrade(&self.inner);
        p.retry = Some(Timer::after(wait, move || {
            if let Some(inner) = weak.upgrade() {
                HostRuntime { inner }.publish();
            }
        }));
    }

    fn on_sfu(&self, generation: u64, event: SfuEvent) {
        if self.inner.publication.borrow().generation != generation {
            return; // a replaced publication
        }
        match event {
            SfuEvent::Published { room, feed } => {
                let actions = self
                    .inner
                    .session
                    .borrow_mut()
                    .set_route(Some(SfuRoute { room, feed }));
                self.run(actions);
                self.enter_sfu_voice(room);
                let weak = Rc::downgrade(&self.inner);
                let mut p = self.inner.publication.borrow_mut();
                if let Some((old, _)) = p.previous.take() {
                    let timer = Timer::after(PREVIOUS_PUBLICATION_MS, move || {
                        if let Some(inner) = weak.upgrade() {
                            inner.publication.borrow_mut().previous = None;
                        }
                    });
                    p.previous = Some((old, timer));
                }
                let moved = *self.inner.target.borrow() != p.node;
                drop(p);
                if moved {
                    // The focus decided again while we were publishing.
                    self.publish();
                }
            }
            SfuEvent::Connection(state) => match state.as_str() {
                "connected" => {
                    self.inner.publication.borrow_mut().attempts = 0;
                    self.inner.view.sfu_problem.set(None);
                    self.inner.view.topology.set(Topology::Sfu);
                }
                // Every SFU viewer's picture stands still meanwhile: the host is told, while
                // the link recovers (ICE restarts, then a new publication).
                "disconnected" | "failed" => self
                    .inner
                    .view
                    .sfu_problem
                    .set(Some(SFU_DOWN_SENTENCE.to_owned())),
                _ => {}
            },
            SfuEvent::Failed(problem) => {
                self.inner
                    .view
                    .sfu_problem
                    .set(Some(problem.user_message().to_owned()));
                // Dropped from within its own callback: let it return first.
                let runtime = self.clone();
                leptos::task::spawn_local(async move { runtime.retry_publish() });
            }
            SfuEvent::Track(_) | SfuEvent::Audio(_) | SfuEvent::Message(_) => {}
        }
    }

    /// `id`'s direct connection closed. In SFU mode its voice (if any) comes from the SFU and
    /// stays; only the mix that connection carried goes.
    fn peer_voice_gone(&self, id: &str) {
        if self.inner.sfu_voice.active() {
            self.inner.voice.drop_mix(id);
        } else {
            self.inner.voice.gone(id);
        }
    }

    /// The screen is published in `room`: voice goes through the SFU from now on — ours is
    /// published there (while the microphone is on). Make-before-break: each direct
    /// connection keeps its mix, and each guest's direct voice stays in the mix, until that
    /// guest has moved (its `SfuLive`: it hears the SFU's voices, and its own feed has been
    /// up long enough for us to subscribe; an SFU voice replaces the direct one as it
    /// arrives), so nobody hears a gap — and nobody hears anyone twice.
    fn enter_sfu_voice(&self, room: u64) {
        let was = self.inner.sfu_voice.active();
        self.inner.sfu_voice.follow(room);
        if was {
            return;
        }
        self.inner.sfu_voice.set_mic(self.inner.voice.mic_track());
    }

    /// Starts (or resumes) sharing `capture`; peers switch tracks without renegotiating.
    pub fn share(&self, capture: Capture) {
        if self.inner.cannot_send.get() {
            capture.stop();
            return;
        }
        let weak = Rc::downgrade(&self.inner);
        let listener = media::on_ended(&capture, move || {
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
        if self.inner.session.borrow().topology() == Topology::Sfu {
            let link = self
                .inner
                .publication
                .borrow()
                .link
                .as_ref()
                .map(SfuLink::peer);
            match link {
                Some(peer) => {
                    let track = Clone::clone(&track);
                    leptos::task::spawn_local(async move {
                        if let Err(err) = peer.replace_track(&track).await {
                            leptos::logging::warn!("cannot switch the shared track: {err}");
                        }
                    });
                }
                None => {
                    // After `capture` is in place (publish reads it).
                    let runtime = self.clone();
                    leptos::task::spawn_local(async move { runtime.publish() });
                }
            }
        }
        for peer in self.inner.peers.borrow().values() {
            if !peer.video.get() {
                continue;
            }
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
        // The new capture may be taller or shorter than the last.
        self.apply_quality();
        // A spare sends the capture it was made with: made again with this one.
        self.spare_soon();
    }

    /// The local preview's stream (the capture at the preview's rate), if sharing.
    pub fn preview(&self) -> Option<web_sys::MediaStream> {
        self.inner
            .capture
            .borrow()
            .as_ref()
            .map(|(c, _)| Clone::clone(&c.preview))
    }

    /// Nothing can be sent any more (the tab's E2EE worker failed): the capture stops, the
    /// share reads paused here, and every guest (and each newcomer) is told this tab cannot
    /// send, instead of waiting for a picture that never comes; no later capture is shared (a screen picker still open at the failure); the
    /// microphone goes off and does not come on again ([`MIC_CANNOT_SEND`]).
    pub fn media_failed(&self) {
        self.inner.cannot_send.set(true);
        if self.inner.voice.mic_track().is_some() {
            self.set_mic(false);
        }
        let capture = self.inner.capture.borrow_mut().take();
        if let Some((capture, _)) = capture {
            capture.stop();
        }
        self.stopped(true);
    }

    /// The browser's "Stop sharing" ended the capture. Any one of its tracks ending stops the
    /// others, so no track of it keeps the screen captured; the browser fires `ended` on each,
    /// and the first pauses while the rest find the share paused.
    fn paused(&self) {
        if let Some((capture, _)) = self.inner.capture.borrow().as_ref() {
            capture.stop();
        }
        if self.inner.view.share.get_untracked() == ShareState::Paused {
            return;
        }
        self.stopped(false);
    }

    /// The share reads paused here and for every guest; `unable`: for good, and guests are
    /// told this tab cannot send ([`HostSession::set_unable`]).
    fn stopped(&self, unable: bool) {
        if let Some(agent) = self.agent() {
            agent.surface(None);
        }
        self.drop_spare();
        self.inner.view.share.set(ShareState::Paused);
        let mut session = self.inner.session.borrow_mut();
        let actions = if unable {
            session.set_unable()
        } else {
            session.set_share(ShareState::Paused)
        };
        drop(session);
        self.run(actions);
    }

    /// The preset (bitrate and height) applies at once to every picture we send.
    pub fn set_quality(&self, quality: Quality) {
        self.inner.view.quality.set(quality);
        self.apply_quality();
    }

    /// Re-applies the preset to every sender (a new capture may have another height).
    fn apply_quality(&self) {
        let quality = self.inner.view.quality.get_untracked();
        let capture = self.inner.capture.borrow();
        let Some((capture, _)) = capture.as_ref() else {
            return;
        };
        let publication = self.inner.publication.borrow();
        let peers = self.inner.peers.borrow();
        let links = publication
            .link
            .as_ref()
            .map(|l| (l.peer(), Role::Viewer))
            .into_iter()
            .chain(
                peers
                    .values()
                    .filter(|p| p.video.get())
                    .map(|p| (p.link.peer(), p.role)),
            );
        for (link, role) in links {
            let send = send_quality(quality, role, &capture.track);
            leptos::task::spawn_local(async move {
                if let Err(err) = link.set_send(send).await {
                    leptos::logging::warn!("cannot change the picture's quality: {err}");
                }
            });
        }
    }

    /// Turns the host's microphone on or off (from a click).
    pub fn set_mic(&self, on: bool) {
        self.switch_mic(on, None);
    }

    /// [`Self::set_mic`]; `refused`: why it went off without the person asking, shown once it
    /// is off.
    fn switch_mic(&self, on: bool, refused: Option<&'static str>) {
        if on && self.inner.cannot_send.get() {
            self.inner
                .view
                .voice
                .mic
                .set(Mic::Failed(MIC_CANNOT_SEND.to_owned()));
            return;
        }
        let (voice, view, channel, sfu_voice) = (
            self.inner.voice.clone(),
            self.inner.view.voice,
            self.inner.channel,
            self.inner.sfu_voice.clone(),
        );
        view.mic.set(if on { Mic::Starting } else { Mic::Off });
        self.inner.mic_ended.borrow_mut().take();
        let seq = self.inner.mic_switch.get().0 + 1;
        self.inner.mic_switch.set((seq, on));
        let weak = Rc::downgrade(&self.inner);
        leptos::task::spawn_local(async move {
            let state = match voice.set_mic(on).await {
                Ok(true) => Mic::On,
                Ok(false) => Mic::Off,
                Err(err) => Mic::Failed(super::voice::mic_failure(&err)),
            };
            let Some(latest) = weak.upgrade().map(|inner| inner.mic_switch.get()) else {
                return;
            };
            if latest.0 != seq {
                // A later switch (a click, the room full) is what counts: a microphone this
                // one opened after that switched it off goes off again.
                if state == Mic::On && !latest.1 {
                    let _ = voice.set_mic(false).await;
                }
                return;
            }
            let mic = voice.mic_track();
            if let (Some(track), Some(inner)) =
                (mic.as_ref().filter(|_| state == Mic::On), weak.upgrade())
            {
                let weak = weak.clone();
                let ended = super::voice::watch_mic(track, move || {
                    if let Some(inner) = weak.upgrade() {
                        HostRuntime { inner }.switch_mic(false, Some(super::voice::MIC_ENDED));
                    }
                });
                *inner.mic_ended.borrow_mut() = Some(ended);
            }
            sfu_voice.set_mic(mic.clone());
            // Peer to peer, our voice goes on its own track of each connection that still
            // carries the picture (a guest that moved to the SFU hears us there).
            let links: Vec<_> = weak
                .upgrade()
                .map(|inner| {
                    inner
                        .peers
                        .borrow()
                        .values()
                        .filter(|p| p.video.get())
                        .map(|p| p.link.peer())
                        .collect()
                })
                .unwrap_or_default();
            for link in links {
                if let Err(err) = link.set_host_voice(mic.as_ref()).await {
                    leptos::logging::warn!("cannot send our voice: {err}");
                }
            }
            channel.set_mic(state == Mic::On);
            view.mic.set(match refused {
                Some(sentence) if state == Mic::Off => Mic::Failed(sentence.to_owned()),
                _ => state,
            });
            // A spare is made only while the microphone is off.
            if let Some(inner) = weak.upgrade() {
                HostRuntime { inner }.spare_soon();
            }
        });
    }

    /// A click anywhere: sound the browser held back may play now.
    pub fn unblock_sound(&self) {
        self.inner.voice.unblock();
    }

    /// Ends the session for everyone and stops the capture and the microphone (their controls
    /// go with the stage); an offer of the role is taken back.
    pub fn end(&self) {
        self.stop_hosting(HostSession::end);
        self.inner.view.ended.set(true);
    }

    /// The session is over for this page (`over`: the core's end or move): the offer of the
    /// role is taken back, the microphone goes off, the core's actions run (every seat's
    /// connection closes), what it sends stops, and no secret is sent again.
    fn stop_hosting(&self, over: fn(&mut HostSession) -> Vec<HostAction>) {
        self.cancel_hand_over();
        if self.inner.view.voice.mic.get_untracked() != Mic::Off {
            self.switch_mic(false, None);
        }
        let actions = over(&mut self.inner.session.borrow_mut());
        self.run(actions);
        self.stop_media();
        self.inner.key_deadline.borrow_mut().take();
    }

    /// Another tab of this host hosts the session now: this one closes every connection,
    /// stops what it sends, leaves the channel (so guests never come back to it) and says so.
    /// A reload of this tab joins again, later, and hosts again.
    fn moved_on(&self) {
        if self.inner.view.moved.get_untracked() {
            return;
        }
        self.stop_hosting(HostSession::moved_on);
        self.inner.channel.leave();
        self.inner.view.moved.set(true);
    }

    /// The page no longer shows this session (the browser's Back): everyone is told the host
    /// left, as for a reload, and the capture, the microphone and the publications stop (a
    /// Forward loads the session again, as a reload does).
    pub fn close(&self) {
        self.leave();
        self.stop_media();
        self.inner.voice.stop_mic();
    }

    /// What this page sends stops: the SFU publications (screen and voice), the spare
    /// connection, the capture.
    fn stop_media(&self) {
        *self.inner.publication.borrow_mut() = Publication::default();
        self.drop_spare();
        self.inner.sfu_voice.stop();
        if let Some((capture, _)) = self.inner.capture.borrow_mut().take() {
            capture.stop();
        }
    }

    /// The page is going away: tell everyone at once (best effort — the socket may already be
    /// closing; presence and the peer links are the fallback).
    pub fn leave(&self) {
        let actions = self.inner.session.borrow_mut().leave();
        self.run(actions);
    }

    /// Our socket joined again after a gap: what we broadcast meanwhile may have expired
    /// unsent (`HostSession::on_rejoined`).
    pub fn on_rejoined(&self) {
        let actions = self.inner.session.borrow_mut().on_rejoined();
        self.run(actions);
    }

    fn run(&self, actions: Vec<HostAction>) {
        for action in actions {
            match action {
                HostAction::OpenPeer { id, role, video } => {
                    self.seat_deadline(&id);
                    self.open_peer(id, role, video);
                }
                HostAction::ClosePeer { id } => {
                    self.inner.seat_timers.borrow_mut().remove(&id);
                    self.peer_voice_gone(&id);
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
                HostAction::DropVideo { id, close: true } => {
                    // A viewer that decodes from the SFU: its connection has no other use.
                    self.peer_voice_gone(&id);
                    self.inner.peers.borrow_mut().remove(&id);
                    self.inner.view.peers.update(|p| {
                        p.remove(&id);
                    });
                    let out = self.inner.control.borrow_mut().gone(&id);
                    self.send_control(out);
                }
                HostAction::InstallKey { epoch, secret } => {
                    if let Err(err) =
                        transform::page_worker().and_then(|w| w.set_epoch_key(epoch, &secret))
                    {
                        leptos::logging::error!("media key of epoch {epoch} not set: {err}");
                    }
                }
                HostAction::SendIn { epoch, secret } => {
                    *self.inner.sealer.borrow_mut() = Some(SfuDataSealer::new(&secret));
                    if let Err(err) = transform::page_worker().and_then(|w| w.send_epoch(epoch)) {
                        leptos::logging::error!("cannot encrypt in epoch {epoch}: {err}");
                    }
                    *self.inner.key_retire.borrow_mut() =
                        Some(Timer::after(RETIRE_AFTER_MS, move || {
                            if let Ok(worker) = transform::page_worker() {
                                let _ = worker.retire(epoch);
                            }
                        }));
                }
                HostAction::KeyDeadline { epoch, after_ms } => {
                    let weak = Rc::downgrade(&self.inner);
                    *self.inner.key_deadline.borrow_mut() =
                        Some(Timer::after(after_ms, move || {
                            if let Some(inner) = weak.upgrade() {
                                let actions = inner.session.borrow_mut().on_key_deadline(epoch);
                                HostRuntime { inner }.run(actions);
                            }
                        }));
                }
                HostAction::Remember(_) if self.inner.stepped_down.get() => {}
                HostAction::Remember(memory) => {
                    crate::state::remember_host(&self.inner.link, &memory);
                }
                HostAction::DropVideo { id, close: false } => {
                    // A controller that decodes from the SFU, and hears voices there: its
                    // connection keeps control only.
                    self.inner.voice.drop_mix(&id);
                    let peers = self.inner.peers.borrow();
                    if let Some(peer) = peers.get(&id) {
                        peer.video.set(false);
                        let link = peer.link.peer();
                        leptos::task::spawn_local(async move {
                            if let Err(err) = link.stop_sending().await {
                                leptos::logging::warn!("cannot stop the P2P picture: {err}");
                            }
                            if link.has_voice() {
                                let _ = link.set_voice(None).await;
                            }
                            let _ = link.set_host_voice(None).await;
                        });
                    }
                }
            }
        }
    }

    /// In [`SEAT_CONNECT_MS`], `id`'s seat stops counting if its connection is not up.
    fn seat_deadline(&self, id: &str) {
        let (weak, pid) = (Rc::downgrade(&self.inner), id.to_owned());
        let timer = Timer::after(SEAT_CONNECT_MS, move || {
            if let Some(inner) = weak.upgrade() {
                inner.seat_timers.borrow_mut().remove(&pid);
                inner.session.borrow_mut().on_seat_deadline(&pid);
            }
        });
        self.inner
            .seat_timers
            .borrow_mut()
            .insert(id.to_owned(), timer);
    }

    fn open_peer(&self, id: String, role: Role, video: bool) {
        if video && self.take_spare(&id, role) {
            return;
        }
        let inner = &self.inner;
        let (me, to, channel) = (inner.me.clone(), id.clone(), inner.channel);
        let send = move |body: SignalBody| signal_to(channel, &me, &to, body);
        let (weak, pid) = (Rc::downgrade(inner), id.clone());
        let notify = move |event: LinkEvent| {
            if let Some(inner) = weak.upgrade() {
                HostRuntime { inner }.on_link(&pid, event);
            }
        };
        let link = match PeerLink::offerer(inner.access.clone(), &id, send, notify) {
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
            video: std::cell::Cell::new(video),
        };
        // The picture first: its m-line, and so its transforms, come before the voice's.
        if video {
            self.start_sending(&peer);
        }
        // Voice both ways from the start (silence until someone talks), so turning a
        // microphone on never renegotiates.
        if let Some(mix) = inner.voice.mix_for(&id) {
            // Our own voice on its own track (no mixer in its way), after the mix's, whose
            // transceiver is the one the guest answers on; only while the microphone is on.
            if let Some(mic) = inner.voice.mic_track().filter(|_| video) {
                let link = peer.link.peer();
                leptos::task::spawn_local(async move {
                    if let Err(err) = link.set_host_voice(Some(&mic)).await {
                        leptos::logging::warn!("cannot send our voice: {err}");
                    }
                });
            }
            if let Err(err) = peer.link.peer().send_voice(&mix) {
                leptos::logging::error!("no voice with {id}: {err}");
            } else if inner.sfu_voice.active() {
                // SFU mode: this (controller's) connection carries control; voices come
                // from the SFU.
                let link = peer.link.peer();
                leptos::task::spawn_local(async move {
                    let _ = link.set_voice(None).await;
                });
            }
        }
        inner.view.peers.update(|p| {
            p.insert(id.clone(), "new".to_owned());
        });
        inner.peers.borrow_mut().insert(id, peer);
    }

    /// Whether a spare would be made, and taken, now: sharing (not paused) peer to peer, the
    /// microphone off (our voice's own transceiver would renegotiate at once), the session
    /// going on.
    fn spare_wanted(&self) -> bool {
        let inner = &self.inner;
        let session = inner.session.borrow();
        inner.capture.borrow().is_some()
            && inner.view.share.get_untracked() == ShareState::Sharing
            && session.topology() == Topology::P2p
            && !session.is_ended()
            && !inner.sfu_voice.active()
            && inner.voice.mic_track().is_none()
    }

    /// (Re)makes the spare in [`SPARE_AFTER_MS`]; the one there now is let go.
    fn spare_soon(&self) {
        self.inner.spare.borrow_mut().take();
        let weak = Rc::downgrade(&self.inner);
        *self.inner.spare_timer.borrow_mut() = Some(Timer::after(SPARE_AFTER_MS, move || {
            if let Some(inner) = weak.upgrade() {
                HostRuntime { inner }.make_spare();
            }
        }));
    }

    fn drop_spare(&self) {
        self.inner.spare.borrow_mut().take();
        self.inner.spare_timer.borrow_mut().take();
    }

    fn make_spare(&self) {
        let inner = &self.inner;
        inner.spare_timer.borrow_mut().take();
        if !self.spare_wanted() {
            inner.spare.borrow_mut().take();
            return;
        }
        let (stream, track) = {
            let capture = inner.capture.borrow();
            let Some((capture, _)) = capture.as_ref() else {
                return;
            };
            (Clone::clone(&capture.stream), Clone::clone(&capture.track))
        };
        let route: Rc<RefCell<SpareRoute>> = Rc::default();
        let (me, channel, held) = (inner.me.clone(), inner.channel, route.clone());
        let send = move |body: SignalBody| {
            let mut route = held.borrow_mut();
            match route.to.clone() {
                Some(to) => {
                    drop(route);
                    signal_to(channel, &me, &to, body);
                }
                None => route.signals.push(body),
            }
        };
        let (weak, held) = (Rc::downgrade(inner), route.clone());
        let notify = move |event: LinkEvent| {
            let mut route = held.borrow_mut();
            match route.to.clone() {
                Some(pid) => {
                    drop(route);
                    if let Some(inner) = weak.upgrade() {
                        HostRuntime { inner }.on_link(&pid, event);
                    }
                }
                None => route.events.push(event),
            }
        };
        let link = match PeerLink::offerer(inner.access.clone(), "", send, notify) {
            Ok(link) => link,
            Err(err) => {
                leptos::logging::warn!("no spare connection: {err}");
                return;
            }
        };
        // Its offer waits for its answer only once it has gone to someone.
        link.hold_back();
        let peer = link.peer();
        peer.open_channels();
        let quality = send_quality(inner.view.quality.get_untracked(), Role::Viewer, &track);
        if let Err(err) = peer.send_screen(&stream, &track, quality) {
            leptos::logging::warn!("no spare connection: {err}");
            return;
        }
        // A voice transceiver for the mix of whoever comes, where there are mixes; without
        // one, that person hears no mix, as on a connection made when they come.
        if inner.voice.mixes() {
            if let Err(err) = peer.send_voice_later() {
                leptos::logging::warn!("no voice on the spare connection: {err}");
            }
        }
        // Its offer is made as any connection's is (`negotiationneeded`) and held.
        *inner.spare.borrow_mut() = Some(Spare {
            link,
            route,
            track,
            made_at: clock::monotonic_ms(),
        });
        // Made again before its TURN credentials run out.
        let weak = Rc::downgrade(inner);
        *inner.spare_timer.borrow_mut() = Some(Timer::after(SPARE_MAX_AGE_MS, move || {
            if let Some(inner) = weak.upgrade() {
                HostRuntime { inner }.make_spare();
            }
        }));
    }

    /// Gives `id` the spare connection, if there is one fit for it: its held offer goes out
    /// now. `false`: none (the caller makes a connection as before).
    fn take_spare(&self, id: &str, role: Role) -> bool {
        let inner = &self.inner;
        let Some(spare) = inner.spare.borrow_mut().take() else {
            return false;
        };
        let current = inner
            .capture
            .borrow()
            .as_ref()
            .is_some_and(|(c, _)| js_sys::Object::is(&c.track, &spare.track));
        let fresh = clock::monotonic_ms().saturating_sub(spare.made_at) < SPARE_MAX_AGE_MS;
        let peer = spare.link.peer();
        if !current || !fresh || !self.spare_wanted() || peer.connection_state() != "new" {
            self.spare_soon();
            return false;
        }
        peer.set_remote(id);
        if peer.has_voice() {
            if let Some(mix) = inner.voice.mix_for(id) {
                let link = peer.clone();
                leptos::task::spawn_local(async move {
                    if let Err(err) = link.set_voice(Some(&mix)).await {
                        leptos::logging::error!("no voice on this connection: {err}");
                    }
                });
            }
        }
        if role != Role::Viewer {
            if let Some((capture, _)) = inner.capture.borrow().as_ref() {
                let send = send_quality(inner.view.quality.get_untracked(), role, &capture.track);
                let link = peer.clone();
                leptos::task::spawn_local(async move {
                    if let Err(err) = link.set_send(send).await {
                        leptos::logging::warn!("cannot set the picture's quality: {err}");
                    }
                });
            }
        }
        inner.view.peers.update(|p| {
            p.insert(id.to_owned(), "new".to_owned());
        });
        inner.peers.borrow_mut().insert(
            id.to_owned(),
            Peer {
                link: spare.link,
                role,
                sending: std::cell::Cell::new(true),
                video: std::cell::Cell::new(true),
            },
        );
        // What it held goes now, in order, and from now on straight to `id`.
        let (signals, events) = {
            let mut route = spare.route.borrow_mut();
            route.to = Some(id.to_owned());
            (
                std::mem::take(&mut route.signals),
                std::mem::take(&mut route.events),
            )
        };
        for body in signals {
            signal_to(inner.channel, &inner.me, id, body);
        }
        if let Some(peer) = inner.peers.borrow().get(id) {
            peer.link.released();
        }
        for event in events {
            self.on_link(id, event);
        }
        self.spare_soon();
        true
    }

    /// Adds the screen to a peer (which triggers its first negotiation), if there is a capture.
    fn start_sending(&self, peer: &Peer) {
        let capture = self.inner.capture.borrow();
        let Some((capture, _)) = capture.as_ref() else {
            return;
        };
        let quality = send_quality(
            self.inner.view.quality.get_untracked(),
            peer.role,
            &capture.track,
        );
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

/// Sends `body` from us to participant `to` on the session's channel (sealed there).
fn signal_to(channel: SessionChannel, me: &str, to: &str, body: SignalBody) {
    channel.send_signal(&SignalEnvelope {
        from: me.to_owned(),
        to: Some(to.to_owned()),
        body,
    });
}

/// What a picture for `role` is sent with under `quality`, for `track`'s height.
fn send_quality(quality: Quality, role: Role, track: &web_sys::MediaStreamTrack) -> SendQuality {
    let (_, _, height) = media::surface(track);
    SendQuality {
        max_bitrate_bps: quality.max_bitrate(role),
        max_framerate: 30,
        scale_down_by: quality.scale_down_by(height),
    }
}
