//! A participant's runtime: the polite peer connection to the host, the session phase, the
//! remote stream and the stats overlay's figures; control (its input, the keys and buttons it
//! holds, the input meter's pings) and the relayed cursors it shows; what it could not read
//! from the host, counted.

use pairux_core::vecmap::{VecMap, VecSet};
use std::cell::RefCell;
use std::rc::Rc;

use leptos::prelude::*;
use pairux_core::control::{
    ControlClient, ControlMsg, ControlState, InputKind, LatencyMeter, ShownCursors,
};
use pairux_core::display::{colour_for, display_name};
use pairux_core::e2ee::rekey::{self, WrapContext};
use pairux_core::e2ee::{E2eeState, RelayedClock, SfuDataSealer};
use pairux_core::focus::{FocusFollower, Reason};
use pairux_core::link::ControllerSecret;
use pairux_core::roster::Participant;
use pairux_core::session::{
    GuestAction, GuestPhase, GuestSession, HostChain, SfuRoute, SignalBody, SignalEnvelope,
    StartMode, StatsSample, StatsView, Topology, KEY_ACK_DEADLINE_MS, RETIRE_AFTER_MS,
};
use pairux_core::SessionLink;
use web_sys::MediaStream;

use super::access::Access;
use super::host_control::CursorView;
use super::peer_link::{LinkEvent, PeerLink};
use super::sfu::{SfuEvent, SfuLink};
use super::sfu_voice::{Heard, SfuVoice};
use crate::platform::el::set_if_changed;
use crate::platform::timer::Timer;
use crate::platform::transform;
use crate::platform::{clock, peer::Peer as RtcPeer};
use crate::realtime::SessionChannel;

/// What a viewer's or controller's page shows.
#[derive(Clone, Copy)]
pub struct GuestSignals {
    pub phase: RwSignal<GuestPhase>,
    pub stream: RwSignal<Option<MediaStream>, LocalStorage>,
    /// A new picture (a new SFU subscription) playing unseen until it decodes; it then
    /// becomes `stream`.
    pub next: RwSignal<Option<MediaStream>, LocalStorage>,
    pub stats: RwSignal<Option<StatsView>>,
    pub control: RwSignal<ControlState>,
    /// How the host ended our last request or control (`ControlClient::outcome`).
    pub control_outcome: RwSignal<Option<pairux_core::control::ControlOutcome>>,
    /// A request could be made now: the control channel is open and its challenge came.
    pub control_ready: RwSignal<bool>,
    /// Whether the host's agent applies control to its computer (from the host's `state`).
    pub agent: RwSignal<bool>,
    /// Holders' pointers relayed by the host.
    pub cursors: RwSignal<VecMap<String, CursorView>>,
    /// While we hold control: how long our input takes to be on the host's page and back
    /// (ms, the median of the last pings; `None` before the first answer).
    pub input_latency: RwSignal<Option<u64>>,
    /// How decryption of the host's media goes; `None` before its first frame.
    pub e2ee: RwSignal<Option<E2eeState>>,
    /// The tab's E2EE worker failed: no picture can be shown here
    /// (`platform::transform::FAILED_SENTENCE`).
    pub e2ee_failed: RwSignal<bool>,
    /// Where the picture comes from (`session-mode`).
    pub topology: RwSignal<Topology>,
    /// What is wrong with the media connection, in words (`None`: nothing).
    pub media_problem: RwSignal<Option<String>>,
    pub voice: super::voice::VoiceSignals,
    /// The host offered us its role (a controller only), until we answer or it takes the
    /// offer back.
    pub host_offer: RwSignal<bool>,
    /// We took the offer and wait for the host's handover.
    pub host_taking: RwSignal<bool>,
}

impl GuestSignals {
    pub fn new() -> Self {
        GuestSignals {
            phase: RwSignal::new(GuestPhase::WaitingForHost),
            stream: RwSignal::new_local(None),
            next: RwSignal::new_local(None),
            stats: RwSignal::new(None),
            control: RwSignal::new(ControlState::None),
            control_outcome: RwSignal::new(None),
            control_ready: RwSignal::new(false),
            agent: RwSignal::new(false),
            cursors: RwSignal::new(VecMap::new()),
            input_latency: RwSignal::new(None),
            e2ee: RwSignal::new(None),
            e2ee_failed: RwSignal::new(false),
            topology: RwSignal::new(Topology::P2p),
            media_problem: RwSignal::new(None),
            voice: super::voice::VoiceSignals::new(),
            host_offer: RwSignal::new(false),
            host_taking: RwSignal::new(false),
        }
    }
}

impl Default for GuestSignals {
    fn default() -> Self {
        Self::new()
    }
}

/// The subscription to the host's screen on the SFU.
#[derive(Default)]
struct Subscription {
    route: Option<SfuRoute>,
    link: Option<SfuLink>,
    /// The subscription `link` replaces, kept (with its picture on screen) until the new one
    /// decodes: make-before-break when the host moves to another node.
    previous: Option<SfuLink>,
    /// Whether `link`'s picture is the one on screen.
    live: bool,
    retry: Option<Timer>,
    attempts: u32,
}

/// How long a new SFU picture may take to decode: a subscription that decoded nothing by then
/// is made again (what was on screen stays), never shown or reported live.
const DECODE_WAIT_MS: u64 = 8_000;
/// What a guest with no other picture reads while its SFU subscription decodes nothing.
const SFU_NO_PICTURE_SENTENCE: &str =
    "The picture from the video server isn't arriving — trying again…";
/// How often a new SFU picture's decoder is checked while waiting for it.
const DECODE_POLL_MS: u32 = 25;
/// Make-before-break for voice: how long our own feed is published before the direct voice
/// stops (the others subscribe to it meanwhile), and the longest a move waits for voices.
const VOICE_SETTLE_MS: u64 = 1_000;
const VOICE_SETTLE_MAX_MS: u64 = 3_000;

struct Inner {
    me: String,
    /// Controllers keep their direct connection for control when the picture moves to the SFU.
    controller: bool,
    focus: RefCell<Option<FocusFollower>>,
    /// A picture swap is under way: the element's `emptied` is not the picture stopping.
    swapping: std::cell::Cell<bool>,
    session_id: String,
    access: Rc<Access>,
    /// What the host relays through the SFU is sealed in its current media epoch: one opener
    /// per epoch we hold (never the room key's), newest last.
    sealers: RefCell<Vec<(u32, SfuDataSealer)>>,
    sfu: RefCell<Subscription>,
    channel: SessionChannel,
    session: RefCell<GuestSession>,
    link: RefCell<Option<PeerLink>>,
    timer: RefCell<Option<Timer>>,
    /// The next sample's timer, the last sample, and the connection it is of.
    stats: RefCell<
        Option<(
            Timer,
            StatsSample,
            std::rc::Weak<crate::platform::peer::Peer>,
        )>,
    >,
    /// The next sample while there is no baseline: a new link's first
    /// ([`GuestRuntime::first_stats`]), or the next look when nothing could be sampled.
    stats_start: RefCell<Option<Timer>>,
    control: RefCell<ControlClient>,
    /// Whose relayed cursors are shown (the host's latest holders).
    shown: RefCell<ShownCursors>,
    /// Our input's round trip to the host's page, measured while we hold control.
    meter: RefCell<LatencyMeter>,
    meter_timer: RefCell<Option<Timer>>,
    /// The session's link (a handover to us is kept with it).
    session_link: SessionLink,
    /// The key of the host we follow: a host under another key (the role was handed on)
    /// starts its media keys anew.
    followed: RefCell<Option<String>>,
    voice: RefCell<super::voice::GuestVoice>,
    /// Turns the microphone off, and says why, if its track ends by itself while on.
    mic_ended: RefCell<Option<crate::platform::media::EndedListener>>,
    /// Voice through the SFU (SFU mode).
    sfu_voice: SfuVoice,
    view: GuestSignals,
    /// The newest media epoch the host gave us (0: none), and the retirement of
    /// the ones before it.
    key_epoch: std::cell::Cell<u32>,
    key_retire: RefCell<Option<Timer>>,
    /// Each host join's time on the newest message it relayed through the SFU that we took.
    relayed: RefCell<RelayedClock>,
}

#[derive(Clone)]
pub struct GuestRuntime {
    inner: Rc<Inner>,
}

/// How often the stats overlay refreshes.
const STATS_EVERY_MS: u64 = 1_000;

impl GuestRuntime {
    /// `secret`: the controller secret of the link, for controllers; `None` for viewers.
    pub fn start(
        me: String,
        access: Rc<Access>,
        link: &SessionLink,
        channel: SessionChannel,
        view: GuestSignals,
        secret: Option<ControllerSecret>,
        focus: Option<FocusFollower>,
    ) -> Self {
        let guest_voice = super::voice::GuestVoice::new(me.clone(), view.voice);
        let runtime = GuestRuntime {
            inner: Rc::new_cyclic(|weak: &std::rc::Weak<Inner>| Inner {
                sfu_voice: {
                    let weak = weak.clone();
                    SfuVoice::new(me.clone(), access.clone(), channel, move |heard| {
                        let Some(inner) = weak.upgrade() else { return };
                        let voice = inner.voice.borrow();
                        match heard {
                            Heard::Voice(id, track) => voice.heard_from_sfu(&id, &track),
                            Heard::Gone(id) => voice.gone_from_sfu(&id),
                            Heard::MicOff(sentence) => {
                                drop(voice);
                                GuestRuntime { inner }.mic_lost(sentence);
                            }
                        }
                    })
                },
                controller: secret.is_some(),
                focus: RefCell::new(focus),
                swapping: std::cell::Cell::new(false),
                control: RefCell::new(ControlClient::new(me.clone(), secret)),
                shown: RefCell::new(ShownCursors::default()),
                meter: RefCell::new(LatencyMeter::new()),
                meter_timer: RefCell::new(None),
                session_link: link.clone(),
                followed: RefCell::new(None),
                session: RefCell::new(GuestSession::new(me.clone(), clock::monotonic_ms())),
                me,
                session_id: link.session.to_string(),
                access,
                sealers: RefCell::new(Vec::new()),
                sfu: RefCell::new(Subscription::default()),
                channel,
                link: RefCell::new(None),
                timer: RefCell::new(None),
                key_epoch: std::cell::Cell::new(0),
                key_retire: RefCell::new(None),
                relayed: RefCell::default(),
                stats: RefCell::new(None),
                stats_start: RefCell::new(None),
                voice: RefCell::new(guest_voice),
                mic_ended: RefCell::new(None),
                view,
            }),
        };
        let weak = Rc::downgrade(&runtime.inner);
        channel.on_signal(move |envelope| {
            let Some(inner) = weak.upgrade() else { return };
            let runtime = GuestRuntime { inner };
            runtime.on_signal(envelope);
        });
        let weak = Rc::downgrade(&runtime.inner);
        let on_focus = move |payload: serde_json::Value| {
            if let Some(inner) = weak.upgrade() {
                GuestRuntime { inner }.on_focus(&payload);
            }
        };
        runtime.inner.channel.on_focus(on_focus.clone());
        runtime.inner.access.on_focus(on_focus);
        match transform::page_worker() {
            Ok(worker) => {
                let weak = Rc::downgrade(&runtime.inner);
                worker.on_state(move |participant, state| {
                    let Some(inner) = weak.upgrade() else { return };
                    if inner.session.borrow().host() == Some(participant) {
                        inner.view.e2ee.set(Some(state));
                    }
                });
                let weak = Rc::downgrade(&runtime.inner);
                worker.on_failure(move |_| {
                    if let Some(inner) = weak.upgrade() {
                        GuestRuntime { inner }.e2ee_failed();
                    }
                });
            }
            Err(_) => runtime.e2ee_failed(),
        }
        runtime.refresh();
        runtime
    }

    pub fn on_roster(&self, participants: &[&Participant]) {
        self.inner
            .sfu_voice
            .on_roster(participants.iter().map(|p| p.id.as_str()));
        let now = clock::monotonic_ms();
        let synced = self
            .inner
            .channel
            .signals
            .roster
            .with_untracked(pairux_core::roster::Roster::synced);
        let mut session = self.inner.session.borrow_mut();
        if synced {
            session.presence_synced(now);
        }
        let actions = session.on_roster(now, participants);
        drop(session);
        self.run(actions);
    }

    /// Frames are (or are no longer) being presented.
    pub fn on_playing(&self, playing: bool) {
        if self.inner.swapping.get() {
            if !playing {
                return; // the old picture's element emptied for the new one
            }
            self.inner.swapping.set(false);
        }
        self.inner
            .session
            .borrow_mut()
            .on_playing(clock::monotonic_ms(), playing);
        self.refresh();
    }

    /// A focus message (verified here). The host moves the picture; what a guest does with a
    /// decision is tell the person when its video server failed.
    fn on_focus(&self, payload: &serde_json::Value) {
        // Only a failover this page lived through is news: the decision in force learned late
        // (a page that opened or reloaded after it) says nothing about the picture it plays.
        let (accepted, news) = match self.inner.focus.borrow_mut().as_mut() {
            Some(follower) => {
                let news = follower.current().is_some();
                (follower.accept(payload), news)
            }
            None => return,
        };
        match accepted {
            Ok(Some(decision))
                if news && decision.reason == Reason::Failover && self.sfu_mode() =>
            {
                self.inner.view.media_problem.set(Some(
                    "The video server failed; moving to another…".to_owned(),
                ));
            }
            Ok(_) => {}
            Err(err) => leptos::logging::warn!("focus message ignored: {err}"),
        }
    }

    fn on_signal(&self, envelope: SignalEnvelope) {
        let from_host = self.inner.session.borrow().host() == Some(envelope.from.as_str());
        match envelope.body {
            SignalBody::Voice(route) => self.inner.sfu_voice.on_announce(&envelope.from, route),
            SignalBody::MediaKey { epoch, key } => {
                if from_host && envelope.to.as_deref() == Some(self.inner.me.as_str()) {
                    self.on_media_key(&envelope.from, epoch, &key);
                }
            }
            SignalBody::Description(_) | SignalBody::Candidate(_) => {
                if from_host {
                    if let SignalBody::Description(desc) = &envelope.body {
                        let ours =
                            (self.inner.link.borrow().as_ref()).is_none_or(|l| l.accepts(desc));
                        if !ours {
                            self.renew_link();
                            if let Some(link) = self.inner.link.borrow().as_ref() {
                                link.accepts(desc);
                            }
                        }
                    }
                    if let Some(link) = self.inner.link.borrow().as_ref() {
                        link.deliver(envelope.body);
                    }
                }
            }
            _ => {
                let actions = self
                    .inner
                    .session
                    .borrow_mut()
                    .on_signal(clock::monotonic_ms(), &envelope);
                self.run(actions);
                let phase = self.inner.session.borrow().phase();
                if matches!(phase, GuestPhase::Removed | GuestPhase::Denied) {
                    // Out for good: control is gone and presence untracked (not from within
                    // the channel's own callback).
                    self.inner.control.borrow_mut().disconnected();
                    self.publish_control();
                    let channel = self.inner.channel;
                    leptos::task::spawn_local(async move { channel.leave() });
                }
            }
        }
    }

    /// The host moved the session to a new media epoch (someone was removed) and wrapped its
    /// secret for us: decrypt in it now, encrypt our own frames in it, tell the host, and
    /// forget the older epochs once the change has settled.
    fn on_media_key(&self, host: &str, epoch: u32, wrapped: &str) {
        let Some(me) = self.inner.channel.agreement_key() else {
            return;
        };
        let ctx = WrapContext {
            session: &self.inner.session_id,
            recipient: &self.inner.me,
            epoch,
        };
        let secret = match rekey::unwrap_text(wrapped, &me, ctx) {
            Ok(secret) => secret,
            Err(err) => {
                leptos::logging::warn!("media key of epoch {epoch} does not open: {err}");
                self.inner
                    .channel
                    .dropped_signals
                    .update(|n| n.unauthentic += 1);
                return;
            }
        };
        if epoch < self.inner.key_epoch.get() {
            // An older epoch than ours: late, or a recorded one played again to put back a
            // secret a removed person holds. Ours stays.
            return;
        }
        let Ok(worker) = transform::page_worker() else {
            return;
        };
        let newest = epoch > self.inner.key_epoch.get();
        let set = worker.set_epoch_key(epoch, &secret).and_then(|()| {
            if newest {
                worker.send_epoch(epoch)
            } else {
                Ok(())
            }
        });
        if let Err(err) = set {
            leptos::logging::error!("media key of epoch {epoch} not set: {err}");
            return;
        }
        if newest {
            self.inner.key_epoch.set(epoch);
            // What the host relays through the SFU is sealed in the epoch it sends in.
            {
                let mut sealers = self.inner.sealers.borrow_mut();
                sealers.retain(|(e, _)| *e != epoch);
                sealers.push((epoch, SfuDataSealer::new(&secret)));
            }
            // The host may send in the older epoch until everyone confirmed (or its deadline).
            let weak = Rc::downgrade(&self.inner);
            *self.inner.key_retire.borrow_mut() = Some(Timer::after(
                KEY_ACK_DEADLINE_MS + RETIRE_AFTER_MS,
                move || {
                    if let Ok(worker) = transform::page_worker() {
                        let _ = worker.retire(epoch);
                    }
                    if let Some(inner) = weak.upgrade() {
                        inner.sealers.borrow_mut().retain(|(e, _)| *e >= epoch);
                    }
                },
            ));
        }
        self.ack_key(host, epoch);
    }

    /// Tells `host` the newest media epoch whose secret we hold (0: none).
    fn ack_key(&self, host: &str, epoch: u32) {
        self.inner.channel.send_signal(&SignalEnvelope {
            from: self.inner.me.clone(),
            to: Some(host.to_owned()),
            body: SignalBody::MediaKeyAck { epoch },
        });
    }

    /// Asks the host for control (controllers only; needs the host's challenge first). The
    /// proof is bound to this connection's DTLS fingerprints.
    pub fn request_control(&self) {
        let binding = self
            .inner
            .link
            .borrow()
            .as_ref()
            .and_then(|l| l.peer().channel_binding());
        let Some(binding) = binding else {
            leptos::logging::warn!("not connected to the host yet; no request sent");
            return;
        };
        let msg = self.inner.control.borrow_mut().request(&binding);
        self.send_control(msg, false);
    }

    /// The tab's E2EE worker failed: nothing can be shown here any more. The person is told
    /// (`e2ee_failed`), and the session is left so that the host's link to this tab does not
    /// wait on it (a reload joins again); from a task of its own, as this may run while the
    /// runtime starts. A session that already ended for this tab (ended, removed, refused…)
    /// keeps saying so.
    fn e2ee_failed(&self) {
        if self
            .inner
            .view
            .phase
            .try_get_untracked()
            .is_none_or(|p| p.is_final())
        {
            return;
        }
        self.inner.view.e2ee_failed.try_set(true);
        let weak = Rc::downgrade(&self.inner);
        leptos::task::spawn_local(async move {
            if let Some(inner) = weak.upgrade() {
                GuestRuntime { inner }.leave();
            }
        });
    }

    /// The person leaves the session: the peer closes and presence is untracked.
    pub fn leave(&self) {
        self.inner.control.borrow_mut().disconnected();
        let actions = self.inner.session.borrow_mut().leave();
        self.run(actions);
        self.inner.channel.leave();
    }

    /// The page is going away: its connections close now (the host sees them go at once).
    /// Nothing else changes — the session still counts the link as up, which holds because
    /// the page unloads, or reloads if the browser shows it again from its back/forward
    /// cache; presence ends with the page's socket.
    pub fn page_hidden(&self) {
        self.run(vec![GuestAction::ClosePeer]);
    }

    /// Withdraws a pending request: the host's toast goes away and a late grant does nothing.
    pub fn cancel_request(&self) {
        let msg = self.inner.control.borrow_mut().cancel();
        self.send_control(msg, false);
    }

    pub fn release_control(&self) {
        let msg = self.inner.control.borrow_mut().release();
        self.send_control(msg, false);
    }

    /// One input event, sent only while we hold control. Pointer moves go on the fast channel.
    pub fn input(&self, kind: InputKind) {
        let fast = matches!(kind, InputKind::Move { .. });
        let msg = self
            .inner
            .control
            .borrow_mut()
            .input(clock::wall_ms(), kind);
        self.send_control(msg, fast);
    }

    /// Reads our control client (e.g. what our input holds down on the host's side).
    pub fn control<R>(&self, f: impl FnOnce(&ControlClient) -> R) -> R {
        f(&self.inner.control.borrow())
    }

    /// Lets go of every key and button our input holds down on the host's side (the page can
    /// no longer see their release).
    pub fn release_held(&self) {
        let releases = self
            .inner
            .control
            .borrow_mut()
            .release_held(clock::wall_ms());
        for msg in releases {
            self.send_control(Some(msg), false);
        }
    }

    fn send_control(&self, msg: Option<ControlMsg>, fast: bool) {
        if let Some(msg) = msg {
            if let Some(link) = self.inner.link.borrow().as_ref() {
                let peer = link.peer();
                let text = msg.encode();
                if fast {
                    peer.send_unreliable(&text);
                } else {
                    peer.send(&text);
                }
            }
        }
        self.publish_control();
    }

    /// The control state and the agent flag, published only when they change: every input
    /// event and every relayed cursor passes here, and re-rendering the controller bar for each
    /// kept the main thread busy while the mouse moves.
    fn publish_control(&self) {
        let (state, agent, outcome, ready) = {
            let control = self.inner.control.borrow();
            (
                control.state(),
                control.agent(),
                control.outcome(),
                control.can_request(),
            )
        };
        let view = &self.inner.view;
        set_if_changed(view.control_ready, ready);
        set_if_changed(view.control_outcome, outcome);
        set_if_changed(view.control, state);
        let measuring = self.inner.meter.borrow().measuring();
        match (state == ControlState::Granted, measuring) {
            (true, false) => {
                self.inner.meter.borrow_mut().start(clock::monotonic_ms());
                self.arm_meter();
            }
            (false, true) => {
                self.inner.meter.borrow_mut().stop();
                self.inner.meter_timer.borrow_mut().take();
                view.input_latency.set(None);
            }
            _ => {}
        }
        set_if_changed(view.agent, agent);
    }

    /// The meter's next ping, when it is due.
    fn arm_meter(&self) {
        let at = self.inner.meter.borrow().poll_timeout();
        let timer = at.map(|at| {
            let weak = Rc::downgrade(&self.inner);
            let wait = at.saturating_sub(clock::monotonic_ms()).max(1);
            Timer::after(wait, move || {
                let Some(inner) = weak.upgrade() else { return };
                let runtime = GuestRuntime { inner };
                let (ping, reading) = {
                    let mut meter = runtime.inner.meter.borrow_mut();
                    (meter.handle_timeout(clock::monotonic_ms()), meter.reading())
                };
                // A ping given up on takes the figure away.
                if runtime.inner.view.input_latency.get_untracked() != reading {
                    runtime.inner.view.input_latency.set(reading);
                }
                if ping.is_some() {
                    runtime.send_control(ping, false);
                }
                runtime.arm_meter();
            })
        });
        *self.inner.meter_timer.borrow_mut() = timer;
    }

    fn on_control_message(&self, text: &str) {
        let Ok(msg) = ControlMsg::decode(text) else {
            self.unreadable();
            return;
        };
        let reply = match &msg {
            // Our own pointer (relayed back to us through the SFU): the real one is here.
            ControlMsg::Cursor { id, .. } if *id == self.inner.me => None,
            // From someone the latest state says no longer holds control: relayed before
            // the change, arrived after it.
            ControlMsg::Cursor { id, .. } if !self.inner.shown.borrow().admits(id) => None,
            ControlMsg::Cursor { id, x, y, name } => {
                // The colour is ours to pick (never from the wire); the name is sanitised.
                let cursor = CursorView {
                    x: *x,
                    y: *y,
                    name: display_name(Some(name)),
                    color: colour_for(id).to_owned(),
                };
                self.inner.view.cursors.update(|c| {
                    c.insert(id.clone(), cursor);
                });
                None
            }
            ControlMsg::State { holders, .. } => {
                self.on_holders(holders);
                self.inner.control.borrow_mut().on_message(&msg)
            }
            ControlMsg::Speaking { ids } => {
                self.inner.voice.borrow().on_speaking(ids.clone());
                None
            }
            // An offer again while we wait for the handover changes nothing.
            ControlMsg::HostOffer => {
                if self.inner.controller && !self.inner.view.host_taking.get_untracked() {
                    self.inner.view.host_offer.set(true);
                }
                None
            }
            ControlMsg::HostOfferOff => {
                self.put_offer_away();
                None
            }
            ControlMsg::HandOver {
                chain,
                mode,
                memory,
            } => {
                self.on_hand_over(chain, mode, memory.clone());
                None
            }
            ControlMsg::Pong { id, ts } => {
                let now = clock::monotonic_ms();
                if self.inner.meter.borrow_mut().on_pong(now, *id, *ts) {
                    let reading = self.inner.meter.borrow().reading();
                    self.inner.view.input_latency.set(reading);
                }
                None
            }
            _ => self.inner.control.borrow_mut().on_message(&msg),
        };
        if reply.is_some() {
            leptos::logging::warn!("control the host offered without a request was refused");
            self.send_control(reply, false);
        }
        self.publish_control();
    }

    /// The connection to the host, when there is one.
    fn peer(&self) -> Option<Rc<RtcPeer>> {
        self.inner.link.borrow().as_ref().map(|l| l.peer())
    }

    /// Turns our microphone on or off (from a click). Voice goes over the connection to the
    /// host; a viewer whose picture comes from the SFU has none, and is told so.
    pub fn set_mic(&self, on: bool) {
        let view = self.inner.view.voice;
        let weak = Rc::downgrade(&self.inner);
        self.unblock_sound();
        self.inner.mic_ended.borrow_mut().take();
        if !on {
            view.mic.set(super::voice::Mic::Off);
            self.inner.voice.borrow_mut().set_mic_track(None);
            self.inner.sfu_voice.set_mic(None);
            self.inner.channel.set_mic(false);
            if let Some(peer) = self.peer() {
                leptos::task::spawn_local(async move {
                    let _ = peer.set_voice(None).await;
                });
            }
            return;
        }
        view.mic.set(super::voice::Mic::Starting);
        leptos::task::spawn_local(async move {
            use super::voice::{mic_failure, Mic};
            let track = match crate::platform::audio::microphone().await {
                Ok(track) => track,
                Err(err) => return view.mic.set(Mic::Failed(mic_failure(&err))),
            };
            let Some(inner) = weak.upgrade() else {
                track.stop();
                return;
            };
            let runtime = GuestRuntime { inner };
            if runtime.inner.sfu_voice.active() {
                // SFU mode: our voice is its own feed on the SFU (never also peer to peer).
                runtime
                    .inner
                    .voice
                    .borrow_mut()
                    .set_mic_track(Some(Clone::clone(&track)));
                runtime.watch_mic(&track);
                runtime.inner.sfu_voice.set_mic(Some(track));
                runtime.inner.channel.set_mic(true);
                view.mic.set(Mic::On);
                return;
            }
            let not_ready =
                "The host's connection isn't ready for voice yet — try again in a moment.";
            let sent = match runtime.peer() {
                None => Err("Not connected yet — try again in a moment."),
                Some(peer) if !peer.has_voice() => Err(not_ready),
                Some(peer) => peer.set_voice(Some(&track)).await.map_err(|err| {
                    leptos::logging::warn!("cannot send our voice: {err}");
                    not_ready
                }),
            };
            match sent {
                Ok(()) => {
                    runtime.watch_mic(&track);
                    runtime.inner.voice.borrow_mut().set_mic_track(Some(track));
                    runtime.inner.channel.set_mic(true);
                    view.mic.set(Mic::On);
                }
                Err(sentence) => {
                    track.stop();
                    view.mic.set(Mic::Failed(sentence.to_owned()));
                }
            }
        });
    }

    /// A click anywhere: sound the browser held back may play now.
    pub fn unblock_sound(&self) {
        self.inner.voice.borrow().unblock();
    }

    /// Our microphone is on: it goes off, and the person reads why, should its track end by
    /// itself ([`super::voice::watch_mic`]).
    fn watch_mic(&self, track: &web_sys::MediaStreamTrack) {
        let weak = Rc::downgrade(&self.inner);
        let ended = super::voice::watch_mic(track, move || {
            if let Some(inner) = weak.upgrade() {
                GuestRuntime { inner }.mic_lost(super::voice::MIC_ENDED);
            }
        });
        *self.inner.mic_ended.borrow_mut() = Some(ended);
    }

    /// Our microphone went off without the person asking: off for everyone, and why.
    fn mic_lost(&self, sentence: &str) {
        self.set_mic(false);
        self.inner
            .view
            .voice
            .mic
            .set(super::voice::Mic::Failed(sentence.to_owned()));
    }

    fn sfu_mode(&self) -> bool {
        self.inner.sfu.borrow().route.is_some()
    }

    fn on_link(&self, event: LinkEvent) {
        match event {
            LinkEvent::Track(stream) => {
                if !self.sfu_mode() {
                    self.inner.view.stream.set(Some(stream));
                }
            }
            LinkEvent::Audio(track) => {
                self.inner.voice.borrow_mut().heard(&track);
                if self.inner.sfu_voice.active() {
                    return; // our voice goes through the SFU
                }
                // A new connection (reconnected): our microphone goes on it too.
                let mic = self.inner.voice.borrow().mic();
                if let (Some(mic), Some(peer)) = (mic, self.peer()) {
                    let weak = Rc::downgrade(&self.inner);
                    leptos::task::spawn_local(async move {
                        if let Err(err) = peer.set_voice(Some(&mic)).await {
                            leptos::logging::warn!("cannot send our voice: {err}");
                            // Not heard on the new connection: off, not "on" for nobody — if it
                            // is still our connection and our microphone (a link that flapped
                            // again, or a toggle meanwhile, is not this failure's business).
                            let Some(inner) = weak.upgrade() else { return };
                            let rt = GuestRuntime { inner };
                            let same_peer = rt.peer().is_some_and(|p| Rc::ptr_eq(&p, &peer));
                            let same_mic = rt.inner.voice.borrow().mic().as_ref() == Some(&mic);
                            if same_peer && same_mic {
                                rt.mic_lost(MIC_NOT_RESENT);
                            }
                        }
                    });
                }
            }
            LinkEvent::GaveUp => {}
            LinkEvent::Message(text) => self.on_control_message(&text),
            LinkEvent::Channel(up) => {
                if !up {
                    self.inner.control.borrow_mut().disconnected();
                    self.publish_control();
                    self.inner.view.cursors.set(VecMap::new());
                }
                if self.sfu_mode() {
                    return;
                }
                let actions = self
                    .inner
                    .session
                    .borrow_mut()
                    .on_link(clock::monotonic_ms(), up);
                self.run(actions);
            }
            LinkEvent::Connection(state) => {
                if self.sfu_mode() {
                    return;
                }
                self.on_media_connection(&state, false);
            }
        }
    }

    /// The connection carrying the picture (the P2P link, or the SFU subscription) changed
    /// state: the person reads what it means, and the session learns whether media is up.
    fn on_media_connection(&self, state: &str, sfu: bool) {
        self.inner.view.media_problem.set(problem_of(state, sfu));
        let up = match state {
            "connected" => true,
            "disconnected" | "failed" | "closed" => false,
            _ => return,
        };
        let actions = self
            .inner
            .session
            .borrow_mut()
            .on_link(clock::monotonic_ms(), up);
        self.run(actions);
    }

    fn run(&self, actions: Vec<GuestAction>) {
        for action in actions {
            match action {
                GuestAction::ExpectPeer { host } => {
                    self.follow_host_key(&host);
                    self.expect_peer(host)
                }
                GuestAction::Subscribe(route) => self.subscribe(route),
                GuestAction::Unsubscribe => {
                    self.leave_sfu_voice();
                    *self.inner.sfu.borrow_mut() = Subscription::default();
                    self.inner.view.topology.set(Topology::P2p);
                    self.inner.view.stream.set(None);
                    self.inner.view.next.set(None);
                }
                GuestAction::ClosePeer => {
                    self.leave_sfu_voice();
                    *self.inner.sfu.borrow_mut() = Subscription::default();
                    self.inner.view.next.set(None);
                    // Nothing of this host's connection is shown any longer: control, cursors,
                    // who speaks, a media problem (closing it tells us nothing, as its
                    // channel's handlers go first). The mode stays: it is the session's (the
                    // focus's decision), which a host's reload or handover does not change.
                    self.close_link();
                    self.inner.view.voice.speaking.set(VecSet::new());
                    set_if_changed(self.inner.view.media_problem, None);
                    self.inner.stats.borrow_mut().take();
                    self.inner.view.stream.set(None);
                    self.inner.view.stats.set(None);
                }
            }
        }
        self.refresh();
    }

    /// The host offers a new connection (it closed ours, e.g. while we were away from the
    /// session with the connection down): ours goes, with what it carried (control, cursors),
    /// and a new one answers that offer. The picture on screen stays until the new one's
    /// arrives; the session's state (admitted, sharing, mode) is the host's and unchanged.
    fn renew_link(&self) {
        let Some(host) = self.inner.session.borrow().host().map(str::to_owned) else {
            return;
        };
        self.close_link();
        // In P2P mode, who speaks came with the old connection's voices, and the link is down
        // until the new one says otherwise (closing the old one tells us nothing); in SFU mode
        // both are the subscription's.
        let actions = if self.sfu_mode() {
            Vec::new()
        } else {
            self.inner.view.voice.speaking.set(VecSet::new());
            self.inner
                .session
                .borrow_mut()
                .on_link(clock::monotonic_ms(), false)
        };
        self.expect_peer(host);
        self.run(actions);
    }

    /// Closes the direct connection, and lets go of what only it carried: control, cursors,
    /// a handover offered on it.
    fn close_link(&self) {
        self.inner.control.borrow_mut().disconnected();
        self.publish_control();
        self.inner.view.cursors.set(VecMap::new());
        self.put_offer_away();
        let link = self.inner.link.borrow_mut().take();
        if let Some(link) = link {
            link.close();
        }
    }

    fn expect_peer(&self, host: String) {
        let inner = &self.inner;
        let remote = host.clone();
        let (me, channel) = (inner.me.clone(), inner.channel);
        let send = move |body: SignalBody| {
            let envelope = SignalEnvelope {
                from: me.clone(),
                to: Some(host.clone()),
                body,
            };
            channel.send_signal(&envelope);
        };
        let weak = Rc::downgrade(inner);
        let notify = move |event| {
            if let Some(inner) = weak.upgrade() {
                GuestRuntime { inner }.on_link(event);
            }
        };
        match PeerLink::answerer(inner.access.clone(), &remote, send, notify) {
            Ok(link) => {
                *inner.link.borrow_mut() = Some(link);
                self.first_stats();
            }
            Err(err) => leptos::logging::error!("cannot create a peer connection: {err}"),
        }
    }

    /// Voice moves to the SFU, make-before-break: our microphone (if on) is published there,
    /// and the SFU's voices start arriving unheard, while the direct connection keeps carrying
    /// our voice to the host and the host's mix to us — until our move settles
    /// ([`Self::switch_voice`]). Without a direct voice there is nothing to keep: at once.
    fn enter_sfu_voice(&self, room: u64) {
        let was = self.inner.sfu_voice.active();
        self.inner.voice.borrow_mut().prepare_sfu();
        let mic = self.inner.voice.borrow().mic();
        self.inner.sfu_voice.follow(room);
        if was {
            return;
        }
        if let Some(mic) = mic {
            self.inner.sfu_voice.set_mic(Some(mic));
        }
        if !self.peer().is_some_and(|p| p.has_voice()) {
            self.switch_voice();
        }
    }

    /// Voices come from the SFU now: the host's mix goes silent here and our microphone stops
    /// going to the host directly.
    fn switch_voice(&self) {
        if self.inner.voice.borrow().switched() {
            return;
        }
        self.inner.voice.borrow_mut().set_sfu(true);
        if let Some(peer) = self.peer().filter(|p| p.has_voice()) {
            leptos::task::spawn_local(async move {
                let _ = peer.set_voice(None).await;
            });
        }
    }

    /// Back to the host's mix (the host stopped publishing on the SFU).
    fn leave_sfu_voice(&self) {
        if !self.inner.sfu_voice.active() {
            return;
        }
        self.inner.sfu_voice.stop();
        self.inner.voice.borrow_mut().set_sfu(false);
        let mic = self.inner.voice.borrow().mic();
        if let (Some(mic), Some(peer)) = (mic, self.peer().filter(|p| p.has_voice())) {
            leptos::task::spawn_local(async move {
                let _ = peer.set_voice(Some(&mic)).await;
            });
        }
    }

    /// Receives the host's screen from the SFU (a new route replaces the old subscription).
    fn subscribe(&self, route: SfuRoute) {
        self.enter_sfu_voice(route.room);
        {
            let mut sub = self.inner.sfu.borrow_mut();
            sub.route = Some(route);
            let old = sub.link.take();
            if sub.live {
                // Its picture stays on screen until the new one decodes.
                sub.previous = old;
            }
            sub.live = false;
            sub.retry = None;
        }
        let weak = Rc::downgrade(&self.inner);
        leptos::task::spawn_local(async move {
            let Some(inner) = weak.upgrade() else { return };
            let granted = inner.access.sfu(Some(route.room)).await;
            let runtime = GuestRuntime { inner };
            if runtime.inner.sfu.borrow().route != Some(route) {
                return; // superseded while waiting
            }
            let Some(host) = runtime.inner.session.borrow().host().map(str::to_owned) else {
                return;
            };
            let (ice, grant) = match granted {
                Ok(g) => g,
                Err(err) => {
                    runtime.inner.view.media_problem.set(Some(err.0));
                    return runtime.retry_subscribe(route);
                }
            };
            if grant.room != route.room {
                leptos::logging::warn!("the host published in another room than ours; retrying");
                return runtime.retry_subscribe(route);
            }
            let weak = Rc::downgrade(&runtime.inner);
            let link = SfuLink::subscribe(grant, &ice, route.feed, &host, move |event| {
                if let Some(inner) = weak.upgrade() {
                    GuestRuntime { inner }.on_sfu(route, event);
                }
            })
            .map(|link| link.with_access(&runtime.inner.access));
            match link {
                Ok(link) => {
                    runtime.inner.sfu.borrow_mut().link = Some(link);
                    runtime.first_stats();
                }
                Err(err) => {
                    leptos::logging::error!("cannot subscribe on the video server: {err}");
                    runtime.retry_subscribe(route);
                }
            }
        });
    }

    fn retry_subscribe(&self, route: SfuRoute) {
        let mut sub = self.inner.sfu.borrow_mut();
        if sub.route != Some(route) {
            return;
        }
        sub.link = None;
        // The host is away: its feed is gone until it is back, which subscribes again
        // (`GuestSession`); retrying meanwhile would ask Janus every 4 s for hours.
        if self.inner.session.borrow().host_away() {
            sub.retry = None;
            return;
        }
        sub.attempts += 1;
        let wait = 250u64 << sub.attempts.min(4);
        let weak = Rc::downgrade(&self.inner);
        sub.retry = Some(Timer::after(wait, move || {
            if let Some(inner) = weak.upgrade() {
                let runtime = GuestRuntime { inner };
                if runtime.inner.sfu.borrow().route == Some(route) {
                    runtime.subscribe(route);
                }
            }
        }));
    }

    fn on_sfu(&self, route: SfuRoute, event: SfuEvent) {
        if self.inner.sfu.borrow().route != Some(route) {
            return;
        }
        match event {
            SfuEvent::Track(stream) => self.await_decoded(route, stream),
            SfuEvent::Message(text) => self.on_sfu_message(&text),
            SfuEvent::Connection(state) => {
                if state == "connected" {
                    self.inner.sfu.borrow_mut().attempts = 0;
                }
                self.on_media_connection(&state, true);
            }
            SfuEvent::Published { .. } | SfuEvent::Audio(_) => {}
            SfuEvent::Failed(problem) => {
                self.inner
                    .view
                    .media_problem
                    .set(Some(problem.user_message().to_owned()));
                let runtime = self.clone();
                leptos::task::spawn_local(async move { runtime.retry_subscribe(route) });
            }
        }
    }

    /// Shows the SFU's picture once a frame of it decoded; until then whatever was on screen —
    /// the P2P picture, the old node's — stays. A subscription that decodes nothing within
    /// [`DECODE_WAIT_MS`] is made again: the move is measured, never assumed (the host drops
    /// our direct picture only once we say the SFU's plays).
    fn await_decoded(&self, route: SfuRoute, stream: MediaStream) {
        // The connection this track came on; a retry's connection brings its own track.
        let Some(ours) = self.waiting_peer(route) else {
            return;
        };
        // The stage plays it unseen meanwhile, so the swap shows a frame at once.
        self.inner.view.next.set(Some(Clone::clone(&stream)));
        let weak = Rc::downgrade(&self.inner);
        leptos::task::spawn_local(async move {
            let started = clock::monotonic_ms();
            loop {
                let decoded = read_sample(&ours)
                    .await
                    .is_some_and(|s| s.frames_decoded > 0);
                let Some(inner) = weak.upgrade() else { return };
                let runtime = GuestRuntime { inner };
                if !runtime
                    .waiting_peer(route)
                    .is_some_and(|p| Rc::ptr_eq(&p, &ours))
                {
                    return; // superseded, live already, or replaced by a retry
                }
                if decoded {
                    runtime.go_live(route, stream);
                    return;
                }
                if clock::monotonic_ms() >= started + DECODE_WAIT_MS {
                    if runtime.inner.link.borrow().is_none() {
                        runtime
                            .inner
                            .view
                            .media_problem
                            .set(Some(SFU_NO_PICTURE_SENTENCE.to_owned()));
                    }
                    runtime.inner.view.next.set(None);
                    runtime.inner.access.sfu_failed(None);
                    runtime.retry_subscribe(route);
                    return;
                }
                drop(runtime);
                gloo_timers::future::TimeoutFuture::new(DECODE_POLL_MS).await;
            }
        });
    }

    /// The connection of the SFU subscription to `route` while its picture is not shown yet.
    fn waiting_peer(&self, route: SfuRoute) -> Option<Rc<RtcPeer>> {
        let sub = self.inner.sfu.borrow();
        if sub.route != Some(route) || sub.live {
            return None;
        }
        sub.link.as_ref().map(SfuLink::peer)
    }

    /// The SFU's picture replaces what is on screen; the host stops sending ours peer to peer.
    fn go_live(&self, route: SfuRoute, stream: MediaStream) {
        {
            let mut sub = self.inner.sfu.borrow_mut();
            if sub.route != Some(route) || sub.live {
                return;
            }
            sub.live = true;
            sub.previous = None;
        }
        self.inner.swapping.set(true);
        self.inner.view.stream.set(Some(stream));
        self.inner.view.next.set(None);
        self.inner.view.topology.set(Topology::Sfu);
        // The picture has moved; the voice moves once the SFU carries every voice (ours
        // included) or after VOICE_SETTLE_MAX_MS — then the host may drop the direct
        // connection's picture (and a viewer's whole connection).
        let weak = Rc::downgrade(&self.inner);
        leptos::task::spawn_local(async move {
            let started = clock::monotonic_ms();
            loop {
                let Some(inner) = weak.upgrade() else { return };
                let now = clock::monotonic_ms();
                let settled = inner.voice.borrow().switched()
                    || inner.sfu_voice.settled(now, VOICE_SETTLE_MS)
                    || now >= started + VOICE_SETTLE_MAX_MS;
                if settled {
                    GuestRuntime { inner }.moved(route);
                    return;
                }
                drop(inner);
                gloo_timers::future::TimeoutFuture::new(DECODE_POLL_MS).await;
            }
        });
    }

    /// The move to the SFU is complete here: voices from the SFU, and the host told it may
    /// stop sending us the picture peer to peer.
    fn moved(&self, route: SfuRoute) {
        if self.inner.sfu.borrow().route != Some(route) {
            return;
        }
        self.switch_voice();
        let host = self.inner.session.borrow().host().map(str::to_owned);
        if let Some(host) = host {
            self.inner.channel.send_signal(&SignalEnvelope {
                from: self.inner.me.clone(),
                to: Some(host),
                body: SignalBody::SfuLive,
            });
        }
        if !self.inner.controller && self.inner.link.borrow_mut().take().is_some() {
            // A viewer's direct connection carried only the picture (and cursors, which come
            // through the SFU now).
            self.sample_stats();
        }
    }

    /// Takes the host's offer of its role (a click): the host signs the handover and sends it.
    pub fn take_host(&self) {
        let view = self.inner.view;
        if view.host_offer.get_untracked() && !view.host_taking.get_untracked() {
            // Taking only once the host can hear it: a take lost on a closed channel would
            // leave both buttons disabled with nothing to answer it.
            let sent = (self.inner.link.borrow().as_ref())
                .is_some_and(|l| l.peer().send(&ControlMsg::HostTake.encode()));
            view.host_taking.set(sent);
        }
    }

    /// Puts the host's offer of its role away, and tells the host ("not now").
    pub fn decline_host(&self) {
        self.put_offer_away();
        self.send_control(Some(ControlMsg::HostOfferOff), false);
    }

    /// The session is over for this page (for now: a host that left may come back), told by
    /// the stage as it goes (`components::guest`), and the microphone's toggle with it: our
    /// microphone goes off, and an offer of the host's role goes too.
    pub fn session_over(&self) {
        if self.inner.view.voice.mic.get_untracked() != super::voice::Mic::Off {
            self.set_mic(false);
        }
        self.put_offer_away();
        // Control goes with the stage: what is held goes up and control is given back (a
        // connection kept for a host that is away would otherwise keep both until it is back).
        self.release_held();
        self.release_control();
        // A connection kept for a host that may come back, while none can: two hosts'
        // handovers parted here, and no host is followed again.
        if self.inner.channel.signals.forked_host.get_untracked() && self.peer().is_some() {
            let runtime = self.clone();
            leptos::task::spawn_local(async move { runtime.run(vec![GuestAction::ClosePeer]) });
        }
    }

    fn put_offer_away(&self) {
        self.inner.view.host_offer.set(false);
        self.inner.view.host_taking.set(false);
    }

    /// The host's handover, after we took its offer: if it names this join's own key and
    /// extends every host we have believed, this tab keeps it and loads again as the host.
    /// Anything else (not ours, not asked for, or a tab that cannot keep it) is refused, and
    /// the host hears so (its panel stops saying it hands over).
    fn on_hand_over(&self, chain: &str, mode: &str, memory: Option<String>) {
        let identity = self.inner.channel.identity();
        let chain = HostChain::decode(chain)
            .filter(|c| identity.as_ref().is_some_and(|i| i.is_handed(c)))
            .filter(|_| self.inner.view.host_taking.get_untracked());
        self.put_offer_away();
        let kept = chain.zip(identity).is_some_and(|(chain, identity)| {
            let mode = StartMode::parse(mode).unwrap_or_default();
            let seed = identity.signer().seed();
            crate::state::SessionEntry::take_host(
                &self.inner.session_link,
                chain,
                seed,
                mode,
                memory.as_deref(),
            )
        });
        if kept {
            let _ = crate::platform::location::reload();
            return;
        }
        self.unreadable();
        self.send_control(Some(ControlMsg::HostOfferOff), false);
    }

    /// We follow `host` now. An offer of the role from the host before is off; and another
    /// join than the one before (the role was handed on, the host reloaded or went on in a
    /// duplicated tab) has epochs of its own, which need not go on from where its predecessor
    /// moved us (a tab's memory of them is its own): our media keys start again from none
    /// (nothing sent or decrypted), and its secret comes with our seat — or, from a host we
    /// come back to that still seats us, when we say we hold none.
    fn follow_host_key(&self, host: &str) {
        self.put_offer_away();
        // The badge says what was measured of this host's media: nothing yet for a host we
        // follow anew (a reload, a handover), not the last one's `ok`.
        if let Ok(worker) = transform::page_worker() {
            self.inner.view.e2ee.set(worker.state_of(host));
        }
        let before = self.inner.followed.replace(Some(host.to_owned()));
        if before.is_none() || before.as_deref() == Some(host) {
            return;
        }
        if self.inner.key_epoch.get() != 0 {
            if let Ok(worker) = transform::page_worker() {
                if let Err(err) = worker.restart() {
                    leptos::logging::error!("media keys not restarted for the new host: {err}");
                }
            }
            self.inner.key_epoch.set(0);
            self.inner.key_retire.borrow_mut().take();
            self.inner.sealers.borrow_mut().clear();
        }
        self.ack_key(host, 0);
    }

    /// A message from the host (or relayed as the host's) that this page cannot read: dropped,
    /// counted for diagnostics.
    fn unreadable(&self) {
        self.inner.channel.unreadable_messages.update(|n| *n += 1);
    }

    /// The host's latest holders of control, on its reliable channel: only their cursors are
    /// shown from now on.
    fn on_holders(&self, holders: &[String]) {
        self.inner.shown.borrow_mut().on_state(holders);
        self.prune_cursors(holders);
    }

    /// Takes away the cursors of anyone not among `holders`.
    fn prune_cursors(&self, holders: &[String]) {
        self.inner
            .view
            .cursors
            .update(|c| c.retain(|id, _| holders.contains(id)));
    }

    /// What the host relays through the SFU: sealed in a media epoch's secret (never the room
    /// key's, which every link holder has), and no older than what we took from that host
    /// join; only cursors and who holds control are accepted there (control itself never
    /// crosses the SFU).
    fn on_sfu_message(&self, wire: &str) {
        use base64::Engine as _;
        let Ok(sealed) = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(wire) else {
            self.unreadable();
            return;
        };
        let opened = self
            .inner
            .sealers
            .borrow()
            .iter()
            .rev()
            .find_map(|(_, s)| s.open(&self.inner.session_id, &sealed).ok());
        // No newer than one we took: Janus playing an earlier cursor or holders list again.
        let followed = self.inner.followed.borrow().clone();
        let fresh = |at: u64| {
            followed
                .as_deref()
                .is_some_and(|host| self.inner.relayed.borrow_mut().take(host, at))
        };
        let Some((_, plain)) = opened.filter(|(at, _)| fresh(*at)) else {
            self.unreadable();
            return;
        };
        let Ok(text) = String::from_utf8(plain) else {
            self.unreadable();
            return;
        };
        match ControlMsg::decode(&text) {
            Ok(ControlMsg::Cursor { .. }) => self.on_control_message(&text),
            Ok(ControlMsg::Speaking { ids }) => self.inner.voice.borrow().on_speaking(ids),
            // Unordered and never retransmitted here: it may be lost or come after a newer
            // one, so it only takes cursors away; which cursors are shown at all follows the
            // host's reliable channel (a controller's), if we have one.
            Ok(ControlMsg::State { holders, .. }) => self.prune_cursors(&holders),
            // Sealed in a media epoch's secret, yet not what the host relays: a seated
            // participant's forgery.
            Ok(_) => {}
            Err(_) => self.unreadable(),
        }
    }

    /// Publishes the phase and re-arms the session's deadline.
    fn refresh(&self) {
        let session = self.inner.session.borrow();
        self.inner.view.phase.set(session.phase());
        let deadline = session.poll_timeout();
        drop(session);
        let timer = deadline.map(|at| {
            let weak = Rc::downgrade(&self.inner);
            Timer::after(at.saturating_sub(clock::monotonic_ms()), move || {
                if let Some(inner) = weak.upgrade() {
                    let runtime = GuestRuntime { inner };
                    let actions = runtime
                        .inner
                        .session
                        .borrow_mut()
                        .handle_timeout(clock::monotonic_ms());
                    runtime.run(actions);
                }
            })
        });
        *self.inner.timer.borrow_mut() = timer;
    }

    /// Starts sampling a new link's stats, not at once: a first sample (the baseline of the
    /// second) taken while the link negotiates and its first frame comes would hold the main
    /// thread then, for nothing to show.
    fn first_stats(&self) {
        let weak = Rc::downgrade(&self.inner);
        let first = Timer::after(STATS_EVERY_MS / 2, move || {
            if let Some(inner) = weak.upgrade() {
                GuestRuntime { inner }.sample_stats();
            }
        });
        // The previous link's sampling stops; its last sample is no baseline for this one.
        self.inner.stats.borrow_mut().take();
        *self.inner.stats_start.borrow_mut() = Some(first);
    }

    /// The connection whose picture is on screen: a live SFU subscription, else the one it
    /// replaces while it decodes, else the direct connection.
    fn shown_peer(&self) -> Option<Rc<crate::platform::peer::Peer>> {
        {
            let sfu = self.inner.sfu.borrow();
            if let Some(link) = sfu.link.as_ref().filter(|_| sfu.live) {
                return Some(link.peer());
            }
            if let Some(previous) = &sfu.previous {
                return Some(previous.peer());
            }
        }
        self.inner.link.borrow().as_ref().map(PeerLink::peer)
    }

    /// Samples `getStats()` of the connection on screen every second. With none on screen, or
    /// one that cannot be read, the overlay shows no figures (not the last ones, over a picture
    /// that may have stopped) and it looks again a second later.
    fn sample_stats(&self) {
        let peer = self.shown_peer();
        let weak = Rc::downgrade(&self.inner);
        leptos::task::spawn_local(async move {
            let sample = match &peer {
                Some(peer) => read_sample(peer).await,
                None => None,
            };
            let Some(inner) = weak.upgrade() else { return };
            let again = Rc::downgrade(&inner);
            let next = Timer::after(STATS_EVERY_MS, move || {
                if let Some(inner) = again.upgrade() {
                    GuestRuntime { inner }.sample_stats();
                }
            });
            let (Some(peer), Some(sample)) = (peer, sample) else {
                if inner.view.stats.get_untracked().is_some() {
                    inner.view.stats.set(None);
                }
                inner.stats.borrow_mut().take();
                *inner.stats_start.borrow_mut() = Some(next);
                return;
            };
            // A rate only between two samples of the same connection: one of another is only
            // the new baseline.
            let prev = inner
                .stats
                .borrow()
                .as_ref()
                .filter(|(_, _, of)| of.upgrade().is_some_and(|of| Rc::ptr_eq(&of, &peer)))
                .map(|(_, s, _)| *s);
            if let Some(prev) = prev {
                inner
                    .view
                    .stats
                    .set(Some(StatsView::between(&prev, &sample)));
            }
            *inner.stats.borrow_mut() = Some((next, sample, Rc::downgrade(&peer)));
        });
    }
}

/// Our microphone could not go on a new connection to the host.
const MIC_NOT_RESENT: &str =
    "Your microphone went off when the connection came back — turn it on again to talk.";

/// What a person is told about the media connection's state.
fn problem_of(state: &str, sfu: bool) -> Option<String> {
    match state {
        "disconnected" => Some("Reconnecting video…".to_owned()),
        "failed" if sfu => Some(
            "Can't reach the video server — this network may block WebRTC; reconnecting…"
                .to_owned(),
        ),
        "failed" => Some(
            "Can't reach the host — this network may block WebRTC (a relay-only server may help)."
                .to_owned(),
        ),
        _ => None,
    }
}

/// Reads the inbound video and selected candidate pair out of a stats report.
async fn read_sample(peer: &RtcPeer) -> Option<StatsSample> {
    let report = peer.stats().await.ok()?;
    let num = |v: &wasm_bindgen::JsValue, k: &str| {
        js_sys::Reflect::get(v, &k.into())
            .ok()
            .and_then(|x| x.as_f64())
    };
    let mut sample = StatsSample {
        at_ms: clock::monotonic_ms(),
        ..StatsSample::default()
    };
    for (kind, entry) in &report {
        match kind.as_str() {
            "inbound-rtp"
                if js_sys::Reflect::get(entry, &"kind".into())
                    .ok()?
                    .as_string()
                    .as_deref()
                    == Some("video") =>
            {
                sample.bytes_received = num(entry, "bytesReceived").unwrap_or(0.0) as u64;
                sample.frames_decoded = num(entry, "framesDecoded").unwrap_or(0.0) as u64;
                sample.packets_received = num(entry, "packetsReceived").unwrap_or(0.0) as u64;
                sample.packets_lost = num(entry, "packetsLost").unwrap_or(0.0).max(0.0) as u64;
                sample.width = num(entry, "frameWidth").unwrap_or(0.0) as u32;
                sample.height = num(entry, "frameHeight").unwrap_or(0.0) as u32;
            }
            "candidate-pair" => {
                let nominated = js_sys::Reflect::get(entry, &"nominated".into())
                    .ok()
                    .and_then(|x| x.as_bool())
                    .unwrap_or(false);
                if let (true, Some(rtt)) = (nominated, num(entry, "currentRoundTripTime")) {
                    sample.rtt_ms = Some(rtt * 1000.0);
                }
            }
            _ => {}
        }
    }
    Some(sample)
}
