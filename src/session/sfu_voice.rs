//! Voice in SFU mode (ARCHITECTURE.md, Voice): our microphone published as its own audio-only
//! feed while it is on, announced in a sealed, signed `Voice` signal; one subscription per
//! feed announced by a verified participant, decrypted with that participant's key. The
//! decisions are the core's (`pairux_core::voice::SfuVoiceState`); this executes them.

use pairux_core::vecmap::VecMap;
use std::cell::{Cell, RefCell};
use std::rc::Rc;

use pairux_core::session::{SfuRoute, SignalBody, SignalEnvelope};
use pairux_core::voice::{SfuVoiceAction, SfuVoiceState};
use web_sys::MediaStreamTrack;

use super::access::Access;
use super::sfu::{SfuEvent, SfuLink};
use crate::platform::clock;
use crate::platform::timer::Timer;
use crate::realtime::SessionChannel;
use pairux_core::janus::wire::Problem;

/// What the owner (host or guest runtime) plays and measures.
pub enum Heard {
    /// `id`'s voice arrived from the SFU.
    Voice(String, MediaStreamTrack),
    /// `id`'s voice is no longer received.
    Gone(String),
    /// Our own feed cannot be had: the room has every publisher it takes
    /// ([`ROOM_FULL_SENTENCE`]), or the video server refused it through every quick attempt
    /// ([`VOICE_UNREACHABLE_SENTENCE`]). The owner turns the microphone off — it would read
    /// "on" for everyone while nobody hears it — and tells the person this sentence; nothing
    /// retries it.
    MicOff(&'static str),
}

/// What a person whose microphone the video server's room had no place for reads.
pub const ROOM_FULL_SENTENCE: &str = "This session already has as many open microphones as its video server takes, so you're muted. Try again when someone mutes.";

/// What a person whose microphone the video server kept refusing reads.
pub const VOICE_UNREACHABLE_SENTENCE: &str =
    "Your voice can't reach the video server, so you're muted — try again in a moment.";

/// Quick attempts at a failed subscription or publication. After them a subscription is
/// retried slowly for as long as it is wanted (a video server that is down for minutes comes
/// back); our publication goes off and its person is told ([`Heard::MicOff`]).
const QUICK_ATTEMPTS: u32 = 8;

fn backoff(attempts: u32) -> u64 {
    // 0.5, 1, 2, 4 s, then every 4 s up to the quick attempts, then every 15 s.
    if attempts > QUICK_ATTEMPTS {
        15_000
    } else {
        250u64 << attempts.min(4)
    }
}

#[derive(Default)]
struct Publication {
    /// Events of older links are ignored.
    generation: u64,
    link: Option<SfuLink>,
    /// The room `link` publishes in.
    room: Option<u64>,
    starting: bool,
    retry: Option<Timer>,
    attempts: u32,
    /// The current feed, once Janus took it.
    feed: Option<SfuRoute>,
    /// When the current feed's media came up and it was announced (monotonic ms).
    published_at: Option<u64>,
}

struct Subscription {
    route: SfuRoute,
    link: Option<SfuLink>,
    retry: Option<Timer>,
    attempts: u32,
    /// Its voice has arrived.
    heard: bool,
    /// Tries that found the feed not published (`UNPUBLISHED_TRIES` of them end the tries).
    unpublished: u32,
}

/// Tries at a feed Janus says is not published before it is left until announced again.
const UNPUBLISHED_TRIES: u32 = 5;

struct Inner {
    me: String,
    access: Rc<Access>,
    channel: SessionChannel,
    state: RefCell<SfuVoiceState>,
    /// The room the session's screen is published in (`None`: not in SFU mode: nothing is
    /// published).
    room: Cell<Option<u64>>,
    /// When the session moved to the SFU here (monotonic ms).
    entered_at: Cell<Option<u64>>,
    mic: RefCell<Option<MediaStreamTrack>>,
    publication: RefCell<Publication>,
    subs: RefCell<VecMap<String, Subscription>>,
    on_heard: Box<dyn Fn(Heard)>,
}

/// Cheap to clone.
#[derive(Clone)]
pub struct SfuVoice {
    inner: Rc<Inner>,
}

impl SfuVoice {
    pub fn new(
        me: String,
        access: Rc<Access>,
        channel: SessionChannel,
        on_heard: impl Fn(Heard) + 'static,
    ) -> SfuVoice {
        SfuVoice {
            inner: Rc::new(Inner {
                state: RefCell::new(SfuVoiceState::new(me.clone())),
                me,
                access,
                channel,
                room: Cell::new(None),
                entered_at: Cell::new(None),
                mic: RefCell::default(),
                publication: RefCell::default(),
                subs: RefCell::default(),
                on_heard: Box::new(on_heard),
            }),
        }
    }

    /// Whether the session is in SFU mode here.
    pub fn active(&self) -> bool {
        self.inner.room.get().is_some()
    }

    /// The session's screen is (now) in `room`: our voice is published there while the
    /// microphone is on (republished if it was in another room).
    pub fn follow(&self, room: u64) {
        if self.inner.room.get().is_none() {
            self.inner.entered_at.set(Some(clock::monotonic_ms()));
        }
        self.inner.room.set(Some(room));
        let moved = {
            let p = self.inner.publication.borrow();
            p.link.is_some() && p.room != Some(room)
        };
        if moved {
            self.unpublish();
        }
        self.publish();
    }

    /// Whether every announced voice we subscribed to is arriving (or known not to be: Janus
    /// said it is not theirs to publish), ours (while the microphone
    /// is on) has been published for at least `settled_ms` — long enough for the others to
    /// have subscribed to it — and we have been in SFU mode that long too (announcements of
    /// voices already there take a moment to arrive). What a move from peer to peer waits for
    /// before it drops the direct voice (make-before-break).
    pub fn settled(&self, now: u64, settled_ms: u64) -> bool {
        let long_enough = self
            .inner
            .entered_at
            .get()
            .is_some_and(|at| now >= at + settled_ms);
        let heard = self
            .inner
            .subs
            .borrow()
            .values()
            .all(|s| s.heard || s.unpublished > 0);
        let ours = self.inner.mic.borrow().is_none()
            || self
                .inner
                .publication
                .borrow()
                .published_at
                .is_some_and(|at| now >= at + settled_ms);
        long_enough && heard && ours
    }

    /// Back to peer to peer (or the session is over): nothing published, nothing received.
    pub fn stop(&self) {
        self.inner.room.set(None);
        self.inner.entered_at.set(None);
        // Links are dropped outside the borrow (dropping one leaves the room). The generation
        // goes on counting: a publish still waiting for its grant must not match a later one.
        let old = {
            let mut publication = self.inner.publication.borrow_mut();
            let generation = publication.generation + 1;
            std::mem::replace(
                &mut *publication,
                Publication {
                    generation,
                    ..Publication::default()
                },
            )
        };
        drop(old);
        let actions = self.inner.state.borrow_mut().stop();
        self.run(actions);
    }

    /// Our microphone (`None`: off — our feed is unpublished, so a muted person sends
    /// nothing at all).
    pub fn set_mic(&self, track: Option<MediaStreamTrack>) {
        let on = track.is_some();
        *self.inner.mic.borrow_mut() = track;
        self.unpublish();
        if on {
            self.publish();
        }
    }

    /// The verified participants now.
    pub fn on_roster<'a>(&self, ids: impl IntoIterator<Item = &'a str>) {
        let actions = self.inner.state.borrow_mut().on_roster(ids);
        self.run(actions);
    }

    /// A `Voice` signal that passed the signal codec (signed by `from`).
    pub fn on_announce(&self, from: &str, route: Option<SfuRoute>) {
        let actions = self.inner.state.borrow_mut().on_announce(from, route);
        self.run(actions);
    }

    fn run(&self, actions: Vec<SfuVoiceAction>) {
        for action in actions {
            match action {
                SfuVoiceAction::Announce { to, route } => {
                    self.inner.channel.send_signal(&SignalEnvelope {
                        from: self.inner.me.clone(),
                        to,
                        body: SignalBody::Voice(route),
                    });
                }
                SfuVoiceAction::Subscribe { id, route } => {
                    let old = self.inner.subs.borrow_mut().insert(
                        id.clone(),
                        Subscription {
                            route,
                            link: None,
                            retry: None,
                            attempts: 0,
                            heard: false,
                            unpublished: 0,
                        },
                    );
                    drop(old);
                    self.subscribe(id, route);
                }
                SfuVoiceAction::Unsubscribe { id } => {
                    let old = self.inner.subs.borrow_mut().remove(&id);
                    if old.is_some() {
                        // Its link goes after this task: this may run from its own event.
                        leptos::task::spawn_local(async move { drop(old) });
                        (self.inner.on_heard)(Heard::Gone(id));
                    }
                }
            }
        }
    }

    fn unpublish(&self) {
        let old = {
            let mut p = self.inner.publication.borrow_mut();
            p.generation += 1;
            let old = p.link.take();
            p.room = None;
            p.starting = false;
            p.retry = None;
            p.attempts = 0;
            p.published_at = None;
            p.feed = None;
            old
        };
        drop(old);
        let actions = self.inner.state.borrow_mut().publish(None);
        self.run(actions);
    }

    fn publish(&self) {
        let Some(room) = self.inner.room.get() else {
            return;
        };
        let Some(track) = self.inner.mic.borrow().clone() else {
            return;
        };
        let generation = {
            let mut p = self.inner.publication.borrow_mut();
            if p.link.is_some() || p.starting {
                return;
            }
            p.starting = true;
            p.retry = None;
            p.generation
        };
        let this = self.clone();
        leptos::task::spawn_local(async move {
            let granted = this.inner.access.sfu(Some(room)).await;
            if this.inner.publication.borrow().generation != generation {
                return; // muted, or moved, meanwhile
            }
            this.inner.publication.borrow_mut().starting = false;
            let (ice, grant) = match granted {
                Ok(g) => g,
                Err(err) => {
                    leptos::logging::warn!("no grant to publish our voice: {}", err.0);
                    return this.retry_publish();
                }
            };
            if grant.room != room {
                leptos::logging::warn!("voice: our grant is for another room; retrying");
                return this.retry_publish();
            }
            let weak = Rc::downgrade(&this.inner);
            let display = format!("{}/voice", this.inner.me);
            let link = SfuLink::publish_voice(grant, &ice, &display, &track, move |event| {
                if let Some(inner) = weak.upgrade() {
                    SfuVoice { inner }.on_publication(generation, event);
                }
            })
            .map(|link| link.with_access(&this.inner.access));
            match link {
                Ok(link) => {
                    let mut p = this.inner.publication.borrow_mut();
                    p.link = Some(link);
                    p.room = Some(room);
                }
                Err(err) => {
                    leptos::logging::error!("cannot publish our voice: {err}");
                    this.retry_publish();
                }
            }
        });
    }

    fn retry_publish(&self) {
        let old = self.inner.publication.borrow_mut().link.take();
        drop(old);
        let mut p = self.inner.publication.borrow_mut();
        p.starting = false;
        p.published_at = None;
        p.feed = None;
        p.attempts += 1;
        if p.attempts > QUICK_ATTEMPTS {
            // Refused through every quick attempt: off, and said, rather than "on" for
            // nobody while it retries every 15 s. (From a task: the owner turns it off.)
            leptos::logging::warn!("voice: the video server keeps refusing our feed");
            let (this, generation) = (self.clone(), p.generation);
            drop(p);
            leptos::task::spawn_local(async move {
                if this.inner.publication.borrow().generation == generation {
                    (this.inner.on_heard)(Heard::MicOff(VOICE_UNREACHABLE_SENTENCE));
                }
            });
            return;
        }
        let weak = Rc::downgrade(&self.inner);
        p.retry = Some(Timer::after(backoff(p.attempts), move || {
            if let Some(inner) = weak.upgrade() {
                SfuVoice { inner }.publish();
            }
        }));
    }

    fn on_publication(&self, generation: u64, event: SfuEvent) {
        if self.inner.publication.borrow().generation != generation {
            return;
        }
        match event {
            SfuEvent::Published { room, feed } => {
                self.inner.publication.borrow_mut().feed = Some(SfuRoute { room, feed });
            }
            SfuEvent::Connection(state) => {
                if state != "connected" {
                    return;
                }
                // Announced once its media is up: before, Janus answers a subscriber that
                // there is no such feed, which listeners take as a doubt on it.
                let announce = {
                    let mut p = self.inner.publication.borrow_mut();
                    p.attempts = 0;
                    if p.published_at.is_some() {
                        None
                    } else {
                        p.published_at = Some(clock::monotonic_ms());
                        p.feed
                    }
                };
                if let Some(route) = announce {
                    let actions = self.inner.state.borrow_mut().publish(Some(route));
                    self.run(actions);
                }
            }
            SfuEvent::Failed(Problem::Full) => {
                // Retrying would only be refused again (and take a place the moment one
                // frees, unasked): the microphone goes off, and the person is told.
                let this = self.clone();
                leptos::task::spawn_local(async move {
                    // Not if our feed was muted, moved or made anew meanwhile.
                    if this.inner.publication.borrow().generation == generation {
                        (this.inner.on_heard)(Heard::MicOff(ROOM_FULL_SENTENCE));
                    }
                });
            }
            SfuEvent::Failed(problem) => {
                leptos::logging::warn!("our voice feed failed: {}", problem.user_message());
                let actions = self.inner.state.borrow_mut().publish(None);
                self.run(actions);
                // Dropped from within its own callback: let it return first.
                let this = self.clone();
                leptos::task::spawn_local(async move {
                    this.inner.publication.borrow_mut().generation += 1;
                    this.retry_publish();
                });
            }
            SfuEvent::Track(_) | SfuEvent::Audio(_) | SfuEvent::Message(_) => {}
        }
    }

    fn subscribe(&self, id: String, route: SfuRoute) {
        let this = self.clone();
        leptos::task::spawn_local(async move {
            let granted = this.inner.access.sfu(Some(route.room)).await;
            if !this.inner.state.borrow().wants(&id, route) {
                return; // unannounced or replaced meanwhile
            }
            let (ice, grant) = match granted {
                Ok(g) => g,
                Err(err) => {
                    leptos::logging::warn!("no grant to hear {id}: {}", err.0);
                    return this.retry_subscribe(&id, route);
                }
            };
            if grant.room != route.room {
                // Announced in another room than the session's (a move under way: its speaker
                // republishes in ours and announces that; or a bogus one): not published here,
                // and not asked for again — each try would be a grant.
                this.not_published(&id, route, UNPUBLISHED_TRIES);
                return;
            }
            let weak = Rc::downgrade(&this.inner);
            let speaker = id.clone();
            let link = SfuLink::subscribe_voice(grant, &ice, route.feed, &id, move |event| {
                if let Some(inner) = weak.upgrade() {
                    SfuVoice { inner }.on_subscription(&speaker, route, event);
                }
            })
            .map(|link| link.with_access(&this.inner.access));
            match link {
                Ok(link) => {
                    if let Some(sub) = this.inner.subs.borrow_mut().get_mut(&id) {
                        if sub.route == route {
                            sub.link = Some(link);
                        }
                    }
                }
                Err(err) => {
                    leptos::logging::error!("cannot receive {id}'s voice: {err}");
                    this.retry_subscribe(&id, route);
                }
            }
        });
    }

    /// `id`'s feed at `route` is not published here (Janus says so, or it is in another room):
    /// counted (`tries` more), and it gives its place to a speaker's feed waiting for one, if
    /// any. Whether to ask for it again.
    fn not_published(&self, id: &str, route: SfuRoute, tries: u32) -> bool {
        let unpublished = {
            let mut subs = self.inner.subs.borrow_mut();
            let Some(sub) = subs.get_mut(id) else {
                return false;
            };
            sub.unpublished = sub.unpublished.saturating_add(tries);
            sub.unpublished
        };
        let actions = self.inner.state.borrow_mut().on_unpublished(id, route);
        let gave_way = !actions.is_empty();
        self.run(actions);
        !gave_way && unpublished < UNPUBLISHED_TRIES
    }

    fn retry_subscribe(&self, id: &str, route: SfuRoute) {
        let mut subs = self.inner.subs.borrow_mut();
        let Some(sub) = subs.get_mut(id).filter(|s| s.route == route) else {
            return;
        };
        let old = sub.link.take();
        drop(subs);
        drop(old);
        let mut subs = self.inner.subs.borrow_mut();
        let Some(sub) = subs.get_mut(id) else { return };
        sub.attempts += 1;
        let weak = Rc::downgrade(&self.inner);
        let id = id.to_owned();
        sub.retry = Some(Timer::after(backoff(sub.attempts), move || {
            if let Some(inner) = weak.upgrade() {
                let this = SfuVoice { inner };
                if this.inner.state.borrow().wants(&id, route) {
                    this.subscribe(id, route);
                }
            }
        }));
    }

    fn on_subscription(&self, id: &str, route: SfuRoute, event: SfuEvent) {
        let current = self
            .inner
            .subs
            .borrow()
            .get(id)
            .is_some_and(|s| s.route == route);
        if !current {
            return;
        }
        match event {
            SfuEvent::Audio(track) => {
                if let Some(sub) = self.inner.subs.borrow_mut().get_mut(id) {
                    sub.heard = true;
                }
                self.inner.state.borrow_mut().on_heard(id);
                (self.inner.on_heard)(Heard::Voice(id.to_owned(), track))
            }
            SfuEvent::Connection(state) => {
                if state == "connected" {
                    if let Some(sub) = self.inner.subs.borrow_mut().get_mut(id) {
                        sub.attempts = 0;
                    }
                }
            }
            SfuEvent::Failed(problem) => {
                leptos::logging::warn!("{id}'s voice: {}", problem.user_message());
                // A feed announced but never published (a stale or a forged announcement):
                // after a few tries it is left until announced again, rather than asked for
                // — each try a grant — for as long as the page stays.
                let again = if problem == Problem::NotPublished {
                    self.not_published(id, route, 1)
                } else {
                    (self.inner.subs.borrow().get(id))
                        .is_some_and(|s| s.unpublished < UNPUBLISHED_TRIES)
                };
                if !again {
                    return;
                }
                let (this, id) = (self.clone(), id.to_owned());
                leptos::task::spawn_local(async move { this.retry_subscribe(&id, route) });
            }
            SfuEvent::Published { .. } | SfuEvent::Track(_) | SfuEvent::Message(_) => {}
        }
    }
}
