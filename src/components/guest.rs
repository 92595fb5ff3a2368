//! The guest's session page, and the parts of the session page both apps draw, made with
//! [`platform::el`] instead of Leptos views: the guest app is this page alone, so its wasm
//! links no view framework (ARCHITECTURE.md, App size). The full app draws the same page for a
//! guest's session, and these parts inside the host's page ([`super::drawn`]).
//!
//! Each part reads signals and calls actions like a component does; the DOM calls stay in
//! `platform::el`.

use leptos::prelude::*;
use pairux_core::control::{
    ControlClient, ControlState, EscEsc, InputKind, Modifiers, VideoLayout, ViewTransform,
};
use pairux_core::display::fixed;
use pairux_core::roster::{Participant, Roster};
use pairux_core::session::{GuestPhase, Topology, WIRE_VERSION};
use pairux_core::vecmap::{VecMap, VecSet};
use pairux_core::{LinkError, Role, SessionId};
use web_sys::{HtmlElement, HtmlVideoElement};

use super::stage::{GuestSetup, SETTLE_MS};
use crate::platform::el::{el, set_value_of, value_of, watch, El};
use crate::platform::{self, clock, media};
use crate::realtime::SessionChannel;
use crate::session::guest::{GuestRuntime, GuestSignals};
use crate::session::host_control::CursorView;
use crate::session::voice::{Mic, VoiceSignals};
use crate::state::{AppState, ConnectionStatus, Opened, Page, SessionEntry};

/// The host's Remove of a participant (by id).
pub type Remove = StoredValue<Box<dyn Fn(&str)>, LocalStorage>;

/// What the guest app's `<main>` shows.
#[derive(Clone, PartialEq)]
enum Shown {
    /// A page only the full app has (the landing page, a host's session).
    FullApp,
    Session(Result<SessionEntry, LinkError>),
    NotFound,
}

/// The guest app: the page's frame, and the page the address bar names.
pub fn guest_app(state: AppState) -> El {
    let shown = move || match state.page.get() {
        Page::Landing => Shown::FullApp,
        Page::NotFound => Shown::NotFound,
        Page::Session { id } => match session_entry(state, &id) {
            Ok(entry) if entry.role == Role::Host => Shown::FullApp,
            other => Shown::Session(other),
        },
    };
    el("div")
        .class("app")
        .child(
            el("header").class("topbar").child(
                el("a")
                    .class("brand")
                    .attr("href", "/")
                    .child(el("span").class("brand-mark").attr("aria-hidden", "true"))
                    .text("PairUX"),
            ),
        )
        .child(
            el("main")
                .class("content")
                .show(
                    move || state.link_ignored.get(),
                    move || vec![link_ignored(state)],
                )
                .region(shown, |shown| {
                    vec![match shown {
                        Shown::FullApp => loading_full_app(),
                        Shown::NotFound => not_found(),
                        Shown::Session(Ok(entry)) => session_view(entry),
                        Shown::Session(Err(error)) => refused(error),
                    }]
                }),
        )
}

/// `link-ignored`: a link pasted into this tab's address bar was not followed, and why; the
/// person closes it.
pub fn link_ignored(state: AppState) -> El {
    el("p")
        .class("banner banner-info")
        .testid("link-ignored")
        .attr("role", "status")
        .child(el("span").text(crate::state::LINK_IGNORED_SENTENCE))
        .child(
            el("button")
                .class("link")
                .testid("link-ignored-close")
                .on("click", move |_| state.link_ignored.set(false))
                .text("Close"),
        )
}

/// The session `id`'s entry, or why the page has none.
pub fn session_entry(state: AppState, id: &str) -> Result<SessionEntry, LinkError> {
    match state.opened.get() {
        Opened::Session(entry) if entry.link.session.to_string() == id => Ok(entry),
        Opened::Refused { error, .. } => Err(error),
        // Reached without a fragment (typed, bookmarked, or navigated to): no key.
        _ => Err(SessionId::parse(id).err().unwrap_or(LinkError::MissingKey)),
    }
}

/// A session link that cannot be used: why, and a way on.
pub fn refused(error: LinkError) -> El {
    // The socket, worker and connection index.html made for this link have nobody to serve.
    platform::websocket::discard_early_socket();
    platform::transform::discard_early_worker();
    platform::peer::discard_early_peer();
    el("section")
        .class("card narrow")
        .child(error_banner(error.user_message()))
        .child(el("p").child(start_page_link()))
}

/// In the guest app, a page only the full app can show: load that instead.
fn loading_full_app() -> El {
    if let Err(err) = platform::location::load_full_app() {
        leptos::logging::error!("cannot load the full app: {err}");
    }
    el("p").class("card narrow").text("Loading…")
}

/// A path that is no page.
pub fn not_found() -> El {
    el("section")
        .class("card narrow")
        .child(el("h1").text("Nothing here"))
        .child(
            el("p")
                .text("This page does not exist. ")
                .child(start_page_link())
                .text("."),
        )
}

fn start_page_link() -> El {
    el("a").attr("href", "/").text("Go to the start page")
}

/// The error banner: one sentence a person understands.
pub fn error_banner(message: &str) -> El {
    el("div")
        .class("banner banner-error")
        .attr("role", "alert")
        .testid("error-banner")
        .child(el("span").class("banner-icon").attr("aria-hidden", "true"))
        .child(el("span").text(message))
}

/// A guest's (controller's or viewer's) session page. Its session may have started before the
/// page (the guest app's head start, [`GuestSetup::take_or_start`]).
pub fn session_view(entry: SessionEntry) -> El {
    let role = entry.role;
    let setup = GuestSetup::take_or_start(&entry);
    let (channel, me, settled) = (setup.channel, setup.me.clone(), setup.settled);
    let speaking = setup.view.voice.speaking;
    let (view, runtime) = (setup.view, setup.runtime);
    // The picture is drawn first ([`GuestSetup::settled`]).
    let later = move || settled.get();
    el("section")
        .class("session")
        .attr("data-role", role.as_str())
        .child(
            el("div")
                .class("session-head")
                .child(el("h1").text(if role == Role::Controller {
                    "Joined as controller"
                } else {
                    "Joined as viewer"
                }))
                .child(el("span").class("role-chip").text(role.as_str()))
                .child(connection_badge(channel.signals.status)),
        )
        .children([(role == Role::Controller).then(|| host_offer(runtime, view))])
        .child(
            el("div")
                .class("session-body")
                .child(guest_stage(
                    el("div").class("stage"),
                    setup,
                    role == Role::Controller,
                ))
                .child(el("aside").class("side").show(later, move || {
                    vec![
                        name_field(channel),
                        participant_list(
                            channel.signals.roster,
                            me.clone(),
                            None::<RwSignal<VecMap<String, String>>>,
                            speaking,
                            None,
                        ),
                    ]
                })),
        )
        .show(later, move || vec![trust_counters(channel, false)])
}

/// A controller's page: the host's offer of its role (`host-offer`). Take over (`take-host`)
/// asks the host for the handover, and with it this tab loads again as the session's host;
/// Not now (`decline-host`) puts the offer away.
fn host_offer(runtime: StoredValue<Option<GuestRuntime>, LocalStorage>, view: GuestSignals) -> El {
    let (offer, taking) = (view.host_offer, view.host_taking);
    let act = move |f: fn(&GuestRuntime)| {
        move |_| {
            runtime.with_value(|rt| rt.as_ref().map(f));
        }
    };
    el("div")
        .class("toast host-offer")
        .attr("role", "alert")
        .testid("host-offer")
        .bind_flag("hidden", move || !offer.get())
        .child(el("p").text(
            "The host offers you their role: you would share your screen and decide who \
             controls it, and they would become a controller.",
        ))
        .child(
            el("button")
                .class("primary")
                .testid("take-host")
                .bind_flag("disabled", move || taking.get())
                .on("click", act(GuestRuntime::take_host))
                .text("Take over and share my screen"),
        )
        .child(
            el("button")
                .testid("decline-host")
                .bind_flag("disabled", move || taking.get())
                .on("click", act(GuestRuntime::decline_host))
                .text("Not now"),
        )
}

/// `connection-state`: a word for tests (`data-state`) and a sentence for people.
pub fn connection_badge(status: RwSignal<ConnectionStatus>) -> El {
    el("span")
        .class("connection")
        .testid("connection-state")
        .bind_str("data-state", move || status.get().as_str())
        .attr("role", "status")
        .attr("aria-live", "polite")
        .child(el("span").class("dot").attr("aria-hidden", "true"))
        .bind_text(move || status.get().word().to_owned())
        // A countdown read out every second would drown everything else out.
        .child(
            el("span")
                .attr("aria-hidden", "true")
                .bind_text(move || status.get().countdown()),
        )
}

/// The name fields' `maxlength`: the longest name shown (`display::MAX_NAME_CHARS`).
pub const MAX_NAME_CHARS_ATTR: &str = "40";

/// `display-name`: what everyone sees this person as. Enter or leaving the field applies it
/// live for everyone; it is remembered on this device for the next session.
pub fn name_field(channel: SessionChannel) -> El {
    el("label").class("name-field").text("Your name").child(
        el("input")
            .attr("type", "text")
            .testid("display-name")
            .attr("maxlength", MAX_NAME_CHARS_ATTR)
            .attr("autocomplete", "nickname")
            .attr("value", &channel.name())
            .on("change", move |ev| {
                // Cleared: the current name stays here, the remembered one is forgotten.
                if let Some(name) = platform::storage::remember_name(&value_of(&ev)) {
                    channel.set_name(&name);
                }
                // The field shows the name everyone now sees: as applied (tidied), or the
                // current one where it was cleared.
                set_value_of(&ev, &channel.name());
            }),
    )
}

/// What a host's list reads of each participant's connection (a signal, or one derived).
pub trait Peers: With<Value = VecMap<String, String>> + Copy + 'static {}
impl<P: With<Value = VecMap<String, String>> + Copy + 'static> Peers for P {}

/// `participant-list`: everyone in the session, host first, then by arrival.
pub fn participant_list<P: Peers>(
    roster: RwSignal<Roster>,
    me: String,
    // The host's view of each participant's connection (`peer-state-<pid>`).
    peers: Option<P>,
    // Whose voice is heard now.
    speaking: RwSignal<VecSet<String>>,
    // The host's Remove: each guest gets a button.
    remove: Option<Remove>,
) -> El {
    let people = move || -> Vec<Participant> {
        roster.with(|r| r.participants().into_iter().cloned().collect())
    };
    el("div")
        .class("participants")
        .attr("aria-labelledby", "participants-title")
        .child(
            el("h2")
                .attr("id", "participants-title")
                .text("People ")
                .child(
                    el("span")
                        .class("count")
                        .bind_text(move || roster.with(|r| r.participants().len()).to_string()),
                ),
        )
        .child(
            el("ul")
                .testid("participant-list")
                // A row per person, kept while what it shows is the same.
                .list(
                    people,
                    |p| (p.id.clone(), p.role, p.profile.to_string()),
                    move |p| participant(p, &me, peers, speaking, remove),
                ),
        )
}

fn participant<P: Peers>(
    p: &Participant,
    me: &str,
    peers: Option<P>,
    speaking: RwSignal<VecSet<String>>,
    remove: Option<Remove>,
) -> El {
    let mine = p.id == me;
    let on = p.profile.get("mic").and_then(serde_json::Value::as_bool) == Some(true);
    let id = p.id.clone();
    let is_speaking = move || speaking.with(|s| s.contains(&id));
    let (mic_state, mic_label) = if on {
        ("on", "Microphone on")
    } else {
        ("off", "Muted")
    };
    let item = el("li")
        .testid(&format!("participant-{}", p.id))
        .attr("data-role", p.role.as_str());
    let item = if mine { item.class("me") } else { item };
    item.bind_class("speaking", is_speaking.clone())
        .bind_attr("data-speaking", move || Some(is_speaking().to_string()))
        .child(
            el("span")
                .class(if on { "mic-state on" } else { "mic-state" })
                .testid(&format!("mic-state-{}", p.id))
                .attr("data-state", mic_state)
                .attr("title", mic_label)
                .attr("aria-label", mic_label)
                .child(super::icons::mic(on)),
        )
        .child(el("span").class("name").text(&p.display_name()))
        .children([
            mine.then(|| el("span").class("you").text(" (you)")),
            Some(el("span").class("role-chip small").text(p.role.as_str())),
            peers.filter(|_| !mine).map(|peers| {
                let id = p.id.clone();
                let state = move || {
                    peers.with(|m| m.get(&id).cloned().unwrap_or_else(|| "none".to_owned()))
                };
                el("span")
                    .class("peer-state")
                    .testid(&format!("peer-state-{}", p.id))
                    .bind_attr("data-state", {
                        let state = state.clone();
                        move || Some(state())
                    })
                    .attr("title", "Connection to this person")
                    .bind_text(state)
            }),
            remove
                .filter(|_| !mine && p.role != Role::Host)
                .map(|remove| {
                    let id = p.id.clone();
                    el("button")
                        .class("remove small")
                        .testid(&format!("remove-participant-{}", p.id))
                        .attr(
                            "title",
                            "Remove from the session: their video and control stop now",
                        )
                        .on("click", move |_| {
                            remove.try_with_value(|remove| remove(&id));
                        })
                        .text("Remove")
                }),
        ])
}

/// What this page refused to believe, for everyone (diagnostics): presence metas and signals
/// that failed verification, by reason. Counts live in data attributes for tests and tools.
/// `host`: the host's page, the only one that checks role claims (so counts unproven ones).
pub fn trust_counters(channel: SessionChannel, host: bool) -> El {
    let roster = channel.signals.roster;
    let signals = channel.dropped_signals;
    let unreadable = channel.unreadable_messages;
    let counters = el("p").class("counters").testid("trust-counters");
    let p = counters.clone();
    watch(move || {
        let r = roster.with(Roster::counters);
        let s = signals.get();
        let figures = [
            ("data-impostor-host", r.impostor_host),
            ("data-shadowed", r.shadowed),
            ("data-unreadable", r.unreadable),
            ("data-bad-signature", r.bad_signature),
            ("data-invalid-meta", r.invalid),
            ("data-other-version", r.other_version),
            ("data-forged-signals", s.forged),
            ("data-replayed-signals", s.replayed),
            ("data-stale-signals", s.stale),
            ("data-unauthentic-signals", s.unauthentic),
            ("data-malformed-signals", s.malformed),
            ("data-unsendable-signals", s.unsendable),
        ];
        for (name, n) in figures {
            p.set(name, &n.to_string());
        }
        // What one side alone measures: role claims are checked on the host's page, the
        // host's messages read on a guest's.
        let (roles, messages) = if host {
            p.set("data-forged-role", &r.forged_role.to_string());
            (
                format!(" · unproven roles {}", r.forged_role),
                String::new(),
            )
        } else {
            let n = unreadable.get();
            p.set("data-unreadable-messages", &n.to_string());
            (
                String::new(),
                format!("; the host's messages unreadable {n}"),
            )
        };
        p.set_text(&format!(
            "presence: impostor hosts {} · shadowing metas {}{roles} · unreadable {} · bad signatures {} · invalid {} · other versions {}; signals: forged {} · replayed {} · stale {} · unauthentic {} · malformed {} · not sent for want of a key {}{messages}",
            r.impostor_host, r.shadowed, r.unreadable, r.bad_signature, r.invalid, r.other_version,
            s.forged, s.replayed, s.stale, s.unauthentic, s.malformed, s.unsendable
        ));
    });
    el("details")
        .class("diagnostics trust")
        .child(el("summary").text("Security — what this page ignored"))
        .child(counters)
}

/// `e2ee-state`: the word tests read, and what it means for people.
pub fn e2ee_badge(state: impl Fn() -> &'static str + Copy + 'static) -> El {
    let label = move || match state() {
        "ok" => "End-to-end encrypted",
        "waiting-key" => "Waiting for the key…",
        // A wrong link says so in its banner; frames of a key change this page missed fail too.
        "decrypt-failed" => "Can't decrypt the picture",
        _ => "Not encrypted",
    };
    el("span")
        .class("badge e2ee")
        .bind_str("data-state", state)
        .bind_str("title", label)
        .child(
            el("span")
                .testid("e2ee-state")
                .class("e2ee-word")
                .bind_text(move || state().to_owned()),
        )
        // Shown by the stylesheet only while the state is `ok`.
        .child(super::icons::lock())
        .child(
            el("span")
                .class("e2ee-label")
                .bind_text(move || label().to_owned()),
        )
}

/// `mic-toggle` (off until the person turns it on; the browser asks for the microphone only
/// then), what went wrong with it, and a way to hear the session when the browser held sound
/// back (`sound-blocked`).
pub fn voice_controls(voice: VoiceSignals, toggle: Callback<bool>, unblock: Callback<()>) -> El {
    let on = move || voice.mic.with(|m| *m == Mic::On);
    el("div")
        .class("contents")
        .child(
            el("button")
                .class("mic")
                .bind_class("on", on)
                .testid("mic-toggle")
                .bind_str("data-state", move || voice.mic.with(Mic::as_str))
                .bind_flag("disabled", move || voice.mic.with(|m| *m == Mic::Starting))
                .on("click", move |_| toggle.run(!on()))
                .bind_text(move || if on() { "Mute" } else { "Unmute" }.to_owned()),
        )
        .region(
            move || {
                voice.mic.with(|m| match m {
                    Mic::Failed(text) => Some(text.clone()),
                    _ => None,
                })
            },
            |problem| {
                problem
                    .map(|text| {
                        el("span")
                            .class("notice")
                            .testid("mic-problem")
                            .attr("role", "status")
                            .text(&text)
                    })
                    .into_iter()
                    .collect()
            },
        )
        .show(
            move || voice.blocked.get(),
            move || {
                vec![el("button")
                    .testid("sound-blocked")
                    .on("click", move |_| unblock.run(()))
                    .text("Sound is off — click to hear the session")]
            },
        )
}

/// What a guest's stage shows in place of the picture once the session is over for it, and
/// whether its E2EE badge says why.
type Final = Option<(&'static str, &'static str)>;

/// What the stage's parts share (all `Copy`).
#[derive(Clone, Copy)]
struct Stage {
    channel: SessionChannel,
    view: GuestSignals,
    runtime: StoredValue<Option<GuestRuntime>, LocalStorage>,
    settled: RwSignal<bool>,
    settle: StoredValue<Option<platform::timer::Timer>, LocalStorage>,
    covering: RwSignal<bool>,
    uncover: StoredValue<Option<platform::timer::Timer>, LocalStorage>,
    zoom: RwSignal<f64>,
    pan: RwSignal<(f64, f64)>,
    drag: StoredValue<Option<(f64, f64, f64, f64)>>,
    show_stats: RwSignal<bool>,
    bump: RwSignal<u32>,
    esc: StoredValue<EscEsc>,
    is_controller: bool,
}

impl Stage {
    fn with_rt(&self, f: &dyn Fn(&GuestRuntime)) {
        self.runtime.try_with_value(|rt| {
            if let Some(rt) = rt {
                f(rt);
            }
        });
    }

    fn phase(&self) -> GuestPhase {
        self.view.phase.get()
    }

    fn granted(&self) -> bool {
        self.view.control.get() == ControlState::Granted
    }

    /// A host is there but our key cannot read it: the link's key is wrong.
    fn wrong_key(&self) -> bool {
        self.channel.signals.foreign_host.get()
            && matches!(
                self.phase(),
                GuestPhase::WaitingForHost | GuestPhase::NotLive
            )
    }

    /// The link's host is here but speaks another wire version than this page (its version
    /// signed by the link's host key), and no host this page can follow is: which side must
    /// reload, by the version.
    fn host_version(&self) -> Option<u64> {
        self.channel.signals.host_version.get().filter(|_| {
            matches!(
                self.phase(),
                GuestPhase::WaitingForHost | GuestPhase::NotLive | GuestPhase::HostLeft
            )
        })
    }

    /// Two hosts' handovers of the role parted here: the page follows no host, and says so
    /// at once — also over the picture of a host it followed until then (whose connection
    /// winds down as for a host gone) and over "the host has left".
    fn forked(&self) -> bool {
        self.channel.signals.forked_host.get()
            && !matches!(
                self.phase(),
                GuestPhase::Full
                    | GuestPhase::Ended
                    | GuestPhase::Left
                    | GuestPhase::Removed
                    | GuestPhase::Denied
            )
    }

    fn final_message(&self) -> Final {
        match self.phase() {
            _ if !platform::transform::TransformApi::supported() => {
                Some(("error", platform::transform::UNSUPPORTED_SENTENCE))
            }
            _ if self.view.e2ee_failed.get() => {
                Some(("error", platform::transform::FAILED_SENTENCE))
            }
            _ if self.channel.signals.config_unreadable.get() => {
                Some(("error", crate::realtime::CONFIG_SENTENCE))
            }
            _ if self.wrong_key() => Some(("error", "Can't decrypt — check the link.")),
            _ if self.host_version().is_some_and(|v| v > WIRE_VERSION) => {
                Some(("error", NEWER_HOST_SENTENCE))
            }
            _ if self.host_version().is_some() => Some(("error", OLDER_HOST_SENTENCE)),
            _ if self.forked() => Some(("error", FORKED_SENTENCE)),
            GuestPhase::Full => Some(("error", "Session full — ask the host to make room.")),
            // Someone with our room key hosts, but not under the link's host key.
            GuestPhase::NotLive if self.channel.signals.unconfirmed_host.get() => {
                Some(("error", UNCONFIRMED_SENTENCE))
            }
            GuestPhase::NotLive => Some((
                "error",
                "This session isn't live — the host may not have started it yet, or it has ended.",
            )),
            GuestPhase::Ended => Some(("ended", "The host ended the session.")),
            GuestPhase::HostLeft => Some((
                "left",
                "The host has left — this page picks up again if they come back.",
            )),
            GuestPhase::Left => Some(("you-left", "You left the session.")),
            GuestPhase::Removed => Some(("removed", "The host removed you")),
            GuestPhase::Denied => Some(("denied", "The host didn't let you in")),
            _ => None,
        }
    }

    /// Zooms keeping where the view is across the picture (the pan scales with how far it
    /// can go), within bounds for the picture as laid out (`l`).
    fn set_zoom(&self, z: f64, l: VideoLayout) {
        let z = z.clamp(1.0, 6.0);
        let was = self.zoom.get_untracked();
        let k = if was > 1.0 {
            (z - 1.0) / (was - 1.0)
        } else {
            0.0
        };
        let (x, y) = self.pan.get_untracked();
        let t = l.bounded(ViewTransform {
            zoom: z,
            pan_x: x * k,
            pan_y: y * k,
        });
        self.zoom.set(z);
        self.pan.set((t.pan_x, t.pan_y));
    }

    fn send(&self, kind: InputKind) {
        self.with_rt(&|rt| rt.input(kind.clone()));
    }

    /// A question about what our input holds down on the host's side (`false` without a
    /// runtime).
    fn held(&self, f: impl FnOnce(&ControlClient) -> bool) -> bool {
        self.runtime
            .try_with_value(|rt| rt.as_ref().is_some_and(|rt| rt.control(f)))
            .unwrap_or(false)
    }
}

/// Viewer or controller: the shared screen, fit to the window, with zoom/pan, stats, remote
/// cursors, and (for controllers) requesting control and driving the host.
fn guest_stage(stage: El, setup: GuestSetup, is_controller: bool) -> El {
    let GuestSetup {
        channel,
        view,
        runtime,
        settled,
        ..
    } = setup;
    let s = Stage {
        channel,
        view,
        runtime,
        settled,
        settle: StoredValue::new_local(Some(platform::timer::Timer::after(SETTLE_MS, move || {
            settled.try_set(true);
        }))),
        covering: RwSignal::new(false),
        uncover: StoredValue::new_local(None),
        zoom: RwSignal::new(1.0),
        pan: RwSignal::new((0.0, 0.0)),
        drag: StoredValue::new(None),
        show_stats: RwSignal::new(true),
        bump: RwSignal::new(0),
        esc: StoredValue::new(EscEsc::default()),
        is_controller,
    };
    // Over for this page, whatever the reason: a link pasted into the address bar opens
    // meanwhile.
    let app = AppState::expect();
    watch(move || {
        let over = s.final_message().is_some();
        app.set_session_over(over);
        if over {
            // The stage, and the microphone's toggle with it, is gone (whatever the reason:
            // a final phase, a failed worker, a key that does not open): so is the microphone.
            s.with_rt(&|rt| rt.session_over());
        }
    });
    let ended = move || {
        let message = s.final_message();
        // Why decryption is off, on the badge beside the banner.
        let badge = match message {
            Some(("error", _)) if s.view.e2ee_failed.get() => Some("off"),
            Some(("error", _)) if s.wrong_key() => Some("decrypt-failed"),
            _ => None,
        };
        (message, badge)
    };
    let live = move || {
        platform::transform::TransformApi::supported()
            && !s.view.e2ee_failed.get()
            && !s.phase().is_final()
            && !s.wrong_key()
            && !s.forked()
            && s.host_version().is_none()
    };
    stage
        .region(ended, |(message, badge)| match message {
            Some(("error", text)) => vec![
                Some(error_banner(text)),
                badge.map(|state| e2ee_badge(move || state)),
            ]
            .into_iter()
            .flatten()
            .collect(),
            Some((kind, text)) => vec![ended_notice(kind, text)],
            None => Vec::new(),
        })
        .show(live, move || live_stage(s))
}

/// The session is over for this page: why, and a way on.
fn ended_notice(kind: &'static str, text: &'static str) -> El {
    el("div")
        .class("notice")
        .testid("session-ended")
        .attr("data-reason", kind)
        .attr("role", "status")
        .child(el("h2").text(text))
        .children([(kind == "you-left").then(|| {
            el("p").child(
                el("button")
                    .class("primary")
                    .testid("rejoin-session")
                    .on("click", |_| {
                        if let Err(err) = platform::location::reload() {
                            leptos::logging::error!("cannot reload: {err}");
                        }
                    })
                    .text("Rejoin"),
            )
        })])
        .child(el("p").child(start_page_link()))
}

/// The picture and what goes with it, while the session is live for this page.
fn live_stage(s: Stage) -> Vec<El> {
    let video = el("video")
        .attr("muted", "")
        .attr("autoplay", "")
        .attr("playsinline", "");
    // Plays a new picture unseen until it decodes, then covers the main element while that
    // switches to it: no frozen or black frame when the picture's source moves.
    let standby = el("video")
        .attr("muted", "")
        .attr("autoplay", "")
        .attr("playsinline", "")
        .bind_str("class", move || {
            if s.covering.get() {
                "standby shown"
            } else {
                "standby"
            }
        })
        .bind_str("data-testid", move || {
            if s.covering.get() {
                "remote-video"
            } else {
                "remote-video-next"
            }
        });
    let frame = el("div");
    // Where the keyboard goes while we hold control: an editable element, so that an input
    // method (CJK, dead keys) composes text there; keys bubble to the frame's listeners, and
    // what they would type is never kept (prevented, or cleared once composed).
    let ime = el("textarea")
        .class("ime-sink")
        .attr("aria-label", "Keyboard input for the host")
        .attr("tabindex", "-1")
        .attr("autocomplete", "off")
        .attr("autocorrect", "off")
        .attr("autocapitalize", "off")
        .attr("spellcheck", "false");
    let (v, sb, fr, keys): (HtmlVideoElement, HtmlVideoElement, HtmlElement, HtmlElement) =
        (video.cast(), standby.cast(), frame.cast(), ime.cast());
    // The picture's box, whatever changes it: cursors and a zoomed view follow.
    super::control::bump_on_resize(&v, s.bump);

    // The main element shows the new picture: the standby steps back and lets it go.
    let end_cover = {
        let sb = sb.clone();
        move || {
            if s.covering.try_get_untracked() == Some(true) {
                s.covering.set(false);
                s.uncover.set_value(None);
                media::attach(&sb, None);
            }
        }
    };
    {
        let sb = sb.clone();
        watch(move || {
            let next = s.view.next.get();
            if next.is_some() || !s.covering.get_untracked() {
                media::attach(&sb, next.as_ref());
            }
        });
    }
    {
        let (v, sb, end_cover) = (v.clone(), sb.clone(), end_cover.clone());
        watch(move || {
            let stream = s.view.stream.get();
            if stream
                .as_ref()
                .is_some_and(|stream| media::shows(&sb, stream))
            {
                // The standby already shows frames of it: it covers the switch.
                s.covering.set(true);
                let end_cover = end_cover.clone();
                s.uncover
                    .set_value(Some(platform::timer::Timer::after(2_000, end_cover)));
            }
            media::attach(&v, stream.as_ref());
        });
    }
    // Take the keyboard as soon as control is granted — unless the person is typing somewhere
    // else on the page (their name, say): what they type there is not meant for the host, and
    // a click on the picture hands the keyboard over. Give it back to the picture when control
    // ends (the field types nothing once its keys are no longer the host's).
    {
        let (keys, fr) = (keys.clone(), fr.clone());
        watch(move || {
            if s.granted() {
                if platform::dom::focus_free_or_within(&fr) {
                    platform::dom::focus(&keys);
                }
            } else if platform::dom::has_focus(&keys) {
                platform::dom::clear_value(&keys);
                platform::dom::focus(&fr);
            }
        });
    }

    let layout = {
        let (fr, v) = (fr.clone(), v.clone());
        move || layout_of(&fr, &v)
    };
    // The picture's box changed size (the window, fullscreen, the page's layout, another
    // resolution): a zoomed view is bounded again for it, so no edge of the picture comes
    // away from the box's.
    {
        let layout = layout.clone();
        watch(move || {
            s.bump.track();
            let z = s.zoom.get_untracked();
            if z > 1.0 {
                s.set_zoom(z, layout());
            }
        });
    }
    // Where a client point falls on the shared surface, through letterbox and zoom: `None` off
    // the picture, or (`clamped`) the nearest point on its edge. Only input in control asks,
    // and a controller's drags are the host's, so its view is a lens that follows the pointer
    // (set here, before any press, move or wheel is mapped): the point under it is the one it
    // is unzoomed, and an edge of the box shows that edge of the picture.
    let surface_at = {
        let layout = layout.clone();
        move |x: f64, y: f64, clamped: bool| -> Option<(f64, f64)> {
            let layout = layout();
            let t = layout.following(s.zoom.try_get_untracked()?, x, y);
            if t.zoom > 1.0 {
                s.pan.set((t.pan_x, t.pan_y));
            }
            if clamped {
                layout.normalize_clamped(t, x, y)
            } else {
                layout.normalize(t, x, y)
            }
        }
    };
    let to_surface = {
        let surface_at = surface_at.clone();
        move |x: f64, y: f64| surface_at(x, y, false)
    };
    let granted = move || s.view.control.try_get_untracked() == Some(ControlState::Granted);

    let frame = frame
        .bind_str("class", move || {
            if s.granted() {
                "viewer controlling"
            } else if s.zoom.get() > 1.0 {
                "viewer zoomed"
            } else {
                "viewer"
            }
        })
        .attr("tabindex", "0")
        .attr("aria-label", "Shared screen")
        .on_as("wheel", {
            let (to_surface, layout) = (to_surface.clone(), layout.clone());
            move |ev: web_sys::WheelEvent| {
                let (p, dx, dy) = platform::input::wheel(&ev);
                if granted() {
                    platform::input::prevent(&ev);
                    if let Some((x, y)) = to_surface(p.x, p.y) {
                        let m = Some(p.mods);
                        s.send(InputKind::Wheel { x, y, dx, dy, m });
                    }
                } else if p.mods.0 & Modifiers::CTRL != 0 {
                    platform::input::prevent(&ev);
                    let z = s.zoom.get_untracked();
                    s.set_zoom(z * if dy < 0.0 { 1.15 } else { 1.0 / 1.15 }, layout());
                }
            }
        })
        .on_as("pointerdown", {
            let (to_surface, fr, keys) = (to_surface.clone(), fr.clone(), keys.clone());
            move |ev: web_sys::PointerEvent| {
                let p = platform::input::pointer(&ev);
                if granted() {
                    if let (Some((x, y)), Some(b)) = (to_surface(p.x, p.y), p.button) {
                        platform::input::prevent(&ev);
                        platform::dom::focus(&keys);
                        // Its release comes here wherever the pointer is let go.
                        platform::dom::capture_pointer(&fr, &ev);
                        s.send(InputKind::Down {
                            x,
                            y,
                            b,
                            m: Some(p.mods),
                        });
                        // An input method shows what it composes by the field: where the person
                        // clicked last, which is where they type on the host's screen.
                        let (bx, by, _, _) = platform::dom::rect(&fr);
                        let _ = keys.set_attribute(
                            "style",
                            &format!("left:{}px;top:{}px", fixed(p.x - bx, 0), fixed(p.y - by, 0)),
                        );
                    }
                } else if s.zoom.get_untracked() > 1.0 {
                    let (px, py) = s.pan.get_untracked();
                    s.drag.set_value(Some((p.x, p.y, px, py)));
                }
            }
        })
        .on_as("pointermove", {
            let (surface_at, layout) = (surface_at.clone(), layout.clone());
            move |ev: web_sys::MouseEvent| {
                let p = platform::input::pointer(&ev);
                if granted() {
                    // A drag that leaves the picture follows its edge; a hover does not.
                    if let Some((x, y)) = surface_at(p.x, p.y, s.held(ControlClient::dragging)) {
                        s.send(InputKind::Move { x, y });
                    }
                } else if let Some(Some((x0, y0, px, py))) = s.drag.try_get_value() {
                    let t = layout().bounded(ViewTransform {
                        zoom: s.zoom.get_untracked(),
                        pan_x: px + p.x - x0,
                        pan_y: py + p.y - y0,
                    });
                    s.pan.set((t.pan_x, t.pan_y));
                }
            }
        })
        .on_as("pointerup", {
            let surface_at = surface_at.clone();
            move |ev: web_sys::MouseEvent| {
                s.drag.try_set_value(None);
                let p = platform::input::pointer(&ev);
                // Only a button our input pressed is let go, on the picture or at its edge.
                match p.button {
                    Some(b) if granted() && s.held(|c| c.pressed(b)) => {
                        match surface_at(p.x, p.y, true) {
                            Some((x, y)) => s.send(InputKind::Up {
                                x,
                                y,
                                b,
                                m: Some(p.mods),
                            }),
                            None => s.with_rt(&|rt| rt.release_held()),
                        }
                    }
                    _ => {}
                }
            }
        })
        // Where the page can no longer see a release (focus went elsewhere — another element,
        // window or tab — or the pointer capture was lost), what our input holds down on the
        // host's computer is let go now rather than left pressed.
        .on("focusout", {
            let fr = fr.clone();
            move |ev| {
                // Within the frame (to the keyboard's element) nothing is let go.
                if !platform::dom::moves_within(&fr, &ev) {
                    s.with_rt(&|rt| rt.release_held());
                }
            }
        })
        // Someone who tabs to the picture while holding control types into it.
        .on("focus", {
            let keys = keys.clone();
            move |_| {
                if granted() {
                    platform::dom::focus(&keys);
                }
            }
        })
        .on("lostpointercapture", move |_| {
            if s.held(ControlClient::dragging) {
                s.with_rt(&|rt| rt.release_held());
            }
        })
        .on_as("dblclick", move |ev: web_sys::MouseEvent| {
            let p = platform::input::pointer(&ev);
            if granted() {
                if let (Some((x, y)), Some(b)) = (to_surface(p.x, p.y), p.button) {
                    s.send(InputKind::Dbl {
                        x,
                        y,
                        b,
                        m: Some(p.mods),
                    });
                }
            }
        })
        .on("contextmenu", move |ev| {
            if granted() {
                platform::input::prevent(&ev);
            }
        })
        .on_as("keydown", move |ev: web_sys::KeyboardEvent| {
            if !granted() {
                return;
            }
            let k = platform::input::key(&ev);
            // A key an input method takes goes to it (its text comes on `compositionend`).
            if k.for_ime() {
                return;
            }
            // While focus is in the video, the browser acts on nothing the host should get.
            platform::input::prevent(&ev);
            let release = k.key == "Escape"
                && !k.repeat
                && s.esc
                    .try_update_value(|e| e.press(clock::monotonic_ms()))
                    .unwrap_or(false);
            s.send(InputKind::KeyDown {
                key: k.key,
                code: k.code,
                m: k.mods,
                rep: k.repeat,
            });
            if release {
                s.with_rt(&|rt| rt.release_control());
            }
        })
        .on_as("keyup", move |ev: web_sys::KeyboardEvent| {
            if !granted() {
                return;
            }
            let k = platform::input::key(&ev);
            // A key that went down before a composition began is let go whatever the IME
            // does with its release: never left down on the host's computer.
            if k.for_ime() && !s.held(|c| c.holds_key(&k.code)) {
                return;
            }
            platform::input::prevent(&ev);
            s.send(InputKind::KeyUp {
                key: k.key,
                code: k.code,
                m: k.mods,
            });
        })
        .on_as("compositionend", {
            let keys = keys.clone();
            move |ev: web_sys::CompositionEvent| {
                if let (true, Some(text)) = (granted(), platform::input::composed_text(&ev)) {
                    s.send(InputKind::Text { text });
                }
                platform::dom::clear_value(&keys);
            }
        })
        // Text put in without a composition (some input methods insert it directly): sent as
        // text too; out of control, dropped. Nothing stays in the field either way.
        .on("input", {
            let keys = keys.clone();
            move |ev| {
                if platform::dom::is_composing(&ev) {
                    return;
                }
                let text = platform::dom::take_value(&keys);
                if granted() && !text.is_empty() {
                    s.send(InputKind::Text { text });
                }
            }
        });

    let video = video
        .bind_str("data-testid", move || {
            if s.covering.get() {
                "remote-video-covered"
            } else {
                "remote-video"
            }
        })
        .on("playing", {
            let v = v.clone();
            move |_| {
                s.with_rt(&|rt| rt.on_playing(true));
                // What surrounds the picture comes once its first frame is on screen, not in
                // the layout and paint that would show it.
                if s.settled.try_get_untracked() == Some(false) {
                    media::after_frame_presented(&v, move || {
                        s.settled.try_set(true);
                        let _ = s.settle.try_set_value(None);
                    });
                }
            }
        })
        .on("emptied", move |_| s.with_rt(&|rt| rt.on_playing(false)))
        .on("resize", move |_| {
            s.bump.try_update(|n| *n += 1);
        })
        .on("loadeddata", move |_| {
            if s.covering.try_get_untracked() == Some(true) {
                // Presented at the next paint or two.
                let end_cover = end_cover.clone();
                s.uncover
                    .set_value(Some(platform::timer::Timer::after(50, end_cover)));
            }
        });

    let frame = frame
        .child(
            el("div")
                .class("zoomable")
                .bind_attr("style", move || {
                    let (x, y) = s.pan.get();
                    Some(format!(
                        "transform: translate({}px, {}px) scale({});",
                        fixed(x, 2),
                        fixed(y, 2),
                        fixed(s.zoom.get(), 4)
                    ))
                })
                .child(video)
                .child(standby)
                .child(surface(v.clone(), s.bump, s.zoom, s.view.cursors)),
        )
        .child(ime)
        .child(
            // One polite live region that stays, so each message is read out as it changes.
            el("div")
                .attr("aria-live", "polite")
                .region(
                    move || {
                        // Nothing of the session can be known without the server: say that, not
                        // that the host is awaited (or, later, that the session is not live).
                        let status = s.channel.signals.status.get();
                        match (s.phase(), status) {
                            (GuestPhase::WaitingForHost, ConnectionStatus::Reconnecting { .. }) => {
                                Some(("no-server", NO_SERVER_SENTENCE))
                            }
                            // The host cannot see us, so it will not connect (nor let us in):
                            // say why, instead of what we wait for.
                            (phase, ConnectionStatus::Unseen) if waiting_words(phase).is_some() => {
                                Some(("presence-full", PRESENCE_FULL_SENTENCE))
                            }
                            (phase, _) => waiting_words(phase),
                        }
                    },
                    |words| {
                        words
                            .map(|(testid, text)| {
                                el("div").class("overlay-msg").testid(testid).text(text)
                            })
                            .into_iter()
                            .collect()
                    },
                )
                .region(
                    move || s.view.media_problem.get(),
                    |problem| {
                        problem
                            .map(|text| {
                                el("div")
                                    .class("overlay-msg")
                                    .testid("media-problem")
                                    .text(&text)
                            })
                            .into_iter()
                            .collect()
                    },
                ),
        )
        .show(
            move || s.show_stats.get() && s.settled.get(),
            move || vec![stats_overlay(s.view)],
        );

    let control = if s.is_controller {
        controller_bar(s)
    } else {
        // Viewers cannot ask, but what they hold is still measured and readable.
        el("span").class("sr-state").text("Control: ").child(
            el("span")
                .testid("control-state")
                .bind_text(move || s.view.control.get().as_str().to_owned()),
        )
    };
    let controls = el("div").class("contents").show(
        move || s.settled.get(),
        move || vec![viewer_controls(s, fr.clone(), v.clone())],
    );
    vec![control, frame, controls]
}

/// What the picture's place says while there is no picture yet.
fn waiting_words(phase: GuestPhase) -> Option<(&'static str, &'static str)> {
    Some(match phase {
        GuestPhase::WaitingForHost => ("waiting", "Waiting for the host…"),
        GuestPhase::WaitingForAdmission => ("waiting-admission", "Waiting for the host to let you in"),
        GuestPhase::WaitingForShare => ("waiting-share", "Waiting for the host to share their screen…"),
        GuestPhase::ShareLate => (
            "share-late",
            "The host hasn't started sharing yet — you'll see their screen as soon as they do.",
        ),
        GuestPhase::Connecting => ("connecting", "Connecting to the host…"),
        GuestPhase::ConnectLate => (
            "connect-late",
            "Still can't reach the host — this network may block WebRTC (a relay-only server may help). Still trying…",
        ),
        GuestPhase::Paused => ("share-paused", "The host paused sharing"),
        GuestPhase::HostUnable => (
            "share-unable",
            "The host's browser can't encrypt their screen, so it can't be shown — they need to reload their page.",
        ),
        _ => return None,
    })
}

/// Under the picture: where it comes from, encryption, zoom, fullscreen, voice, leave, stats.
/// The picture's box and what it plays, as laid out now.
fn layout_of(fr: &HtmlElement, v: &HtmlVideoElement) -> VideoLayout {
    let (bx, by, bw, bh) = platform::dom::rect(fr);
    let (vw, vh) = media::video_size(v);
    VideoLayout {
        box_x: bx,
        box_y: by,
        box_w: bw,
        box_h: bh,
        video_w: f64::from(vw),
        video_h: f64::from(vh),
    }
}

fn viewer_controls(s: Stage, frame: HtmlElement, v: HtmlVideoElement) -> El {
    let zoom = {
        let frame = frame.clone();
        move |k: f64| s.set_zoom(s.zoom.get_untracked() * k, layout_of(&frame, &v))
    };
    let channel = s.channel;
    let view = s.view;
    el("div")
        .class("viewer-controls")
        .child(
            el("span")
                .class("badge")
                .testid("session-mode")
                .bind_text(move || topology_word(view.topology.get()).to_owned()),
        )
        .child(e2ee_badge(move || {
            if channel.signals.foreign_host.get() {
                "decrypt-failed"
            } else {
                view.e2ee.get().map_or("waiting-key", |s| s.as_str())
            }
        }))
        .child(
            el("button")
                .attr("aria-label", "Zoom out")
                .on("click", {
                    let zoom = zoom.clone();
                    move |_| zoom(0.8)
                })
                .text("−"),
        )
        .child(
            el("span")
                .class("zoom")
                .testid("zoom-level")
                .bind_text(move || format!("{}%", fixed(s.zoom.get() * 100.0, 0))),
        )
        .child(
            el("button")
                .attr("aria-label", "Zoom in")
                .on("click", {
                    let zoom = zoom.clone();
                    move |_| zoom(1.25)
                })
                .text("+"),
        )
        .child(el("button").on("click", move |_| zoom(0.0)).text("Fit"))
        .child(
            el("button")
                .testid("fullscreen")
                // The stage, not the picture alone: a controller keeps its bar (control's
                // state, Release) in fullscreen, and everyone the controls.
                .on("click", move |_| {
                    platform::dom::toggle_fullscreen(frame.parent_element())
                })
                .text("Fullscreen"),
        )
        .child(voice_controls(
            view.voice,
            Callback::new(move |on: bool| s.with_rt(&|rt| rt.set_mic(on))),
            Callback::new(move |()| s.with_rt(&|rt| rt.unblock_sound())),
        ))
        .child(
            el("button")
                .class("danger")
                .testid("leave-session")
                .on("click", move |_| s.with_rt(&|rt| rt.leave()))
                .text("Leave"),
        )
        .child(
            el("label")
                .class("inline")
                .child(
                    el("input")
                        .attr("type", "checkbox")
                        .bind_prop("checked", move || s.show_stats.get())
                        .on("change", move |_| {
                            s.show_stats.try_update(|on| *on = !*on);
                        }),
                )
                .text(" Stats"),
        )
}

/// `session-mode`'s word.
pub(crate) fn topology_word(t: Topology) -> &'static str {
    match t {
        Topology::P2p => "p2p",
        Topology::Sfu => "sfu",
    }
}

fn stats_overlay(view: GuestSignals) -> El {
    el("div").class("stats").testid("stats-overlay").region(
        move || view.stats.get(),
        |stats| match stats {
            None => vec![el("span").text("Measuring…")],
            Some(s) => vec![
                el("span")
                    .class("quality-dot")
                    .testid("quality-dot")
                    .attr("data-quality", s.quality.as_str())
                    .attr("title", s.quality.as_str()),
                el("span").text(&format!("{}×{}", s.width, s.height)),
                el("span").text(&format!("{} fps", fixed(s.fps, 0))),
                el("span").text(&format!("{} Mbps", fixed(s.bitrate_kbps / 1000.0, 1))),
                el("span").text(
                    &s.rtt_ms
                        .map_or("RTT –".to_owned(), |r| format!("RTT {} ms", fixed(r, 0))),
                ),
                el("span").text(&format!("loss {} %", fixed(s.loss_percent, 1))),
            ],
        },
    )
}

/// Controller: request / release, and the state everyone can read.
fn controller_bar(s: Stage) -> El {
    let (state, agent, outcome) = (s.view.control, s.view.agent, s.view.control_outcome);
    el("div")
        .class("controller-bar")
        .bind_str("data-state", move || state.get().as_str())
        .child(
            el("span")
                .class("sr-state")
                // Read out as it changes (requested, granted, none).
                .attr("aria-live", "polite")
                .text("Control: ")
                .child(
                    el("span")
                        .testid("control-state")
                        .bind_text(move || state.get().as_str().to_owned()),
                )
                .text(" · Agent: ")
                .child(el("span").testid("agent-state").bind_text(move || {
                    if agent.get() { "connected" } else { "absent" }.to_owned()
                })),
        )
        .child(
            el("span")
                .class("agent-note")
                .testid("agent-sentence")
                .bind_text(move || {
                    if s.phase() == GuestPhase::Paused {
                        // Nothing shared: the agent drives nothing, the host sees no pointer
                        // (voice still goes both ways).
                        "Your input reaches nothing until the host shares again."
                    } else if agent.get() {
                        "Your input drives the host's computer."
                    } else {
                        // Not started, or started but unable to drive what is shared (a
                        // window, a tab, a screen it cannot tell): the host's page says which.
                        "The host sees your pointer only: their PairUX agent isn't driving their screen."
                    }
                    .to_owned()
                }),
        )
        .region(move || (state.get(), outcome.get()), {
            // The first build is the page's: it takes no focus.
            let built = std::rc::Rc::new(std::cell::Cell::new(false));
            move |(held, outcome): (ControlState, Option<pairux_core::control::ControlOutcome>)| {
                let refocus = |b: &El| {
                    if built.get() {
                        refocus_if_lost(b);
                    }
                };
                let release = move |_| s.with_rt(&|rt| rt.release_control());
                let out = match held {
                    ControlState::None => {
                        let request = el("button")
                            .class("primary")
                            .testid("request-control")
                            // Live, and the control channel open with its challenge (in
                            // SFU mode the picture can play before that connection is up).
                            .bind_flag("disabled", move || {
                                s.phase() != GuestPhase::Live || !s.view.control_ready.get()
                            })
                            .on("click", move |_| s.with_rt(&|rt| rt.request_control()))
                            .text("Request control");
                        refocus(&request);
                        // How the host ended it, when it did: not a silent switch back.
                        let told = outcome.map(|o| {
                            el("span")
                                .class("control-outcome")
                                .testid("control-outcome")
                                .attr("role", "status")
                                .text(o.sentence())
                        });
                        [Some(request), told].into_iter().flatten().collect()
                    }
                    ControlState::Requested => {
                        let cancel = el("button")
                            .testid("release-control")
                            .on("click", release)
                            .text("Cancel request");
                        refocus(&cancel);
                        vec![
                            el("span")
                                .class("waiting")
                                .text("Waiting for the host to answer…"),
                            cancel,
                        ]
                    }
                    ControlState::Granted => vec![
                        el("span")
                            .class("badge granted")
                            .attr("role", "status")
                            .attr("title", "Press Esc twice to give control back")
                            .text("You have control — Esc-Esc to release"),
                        input_latency(s.view.input_latency),
                        el("button")
                            .testid("release-control")
                            .on("click", release)
                            .text("Release control"),
                    ],
                };
                built.set(true);
                out
            }
        })
}

/// The button a region just made takes the keyboard if the one pressed went with the old
/// content (focus fell to the page's body): a keyboard user stays where they were.
fn refocus_if_lost(button: &El) {
    let button: HtmlElement = button.cast();
    wasm_bindgen_futures::spawn_local(async move {
        if platform::dom::focus_lost() && button.is_connected() {
            platform::dom::focus(&button);
        }
    });
}

/// `input-latency`: how long our input takes to be on the host's page and back, measured
/// while we hold control (`data-ms`: the figure; absent until the first answer).
fn input_latency(reading: RwSignal<Option<u64>>) -> El {
    el("span")
        .class("input-latency")
        .testid("input-latency")
        .attr(
            "title",
            "How long your input takes to reach the host's screen and come back (median of the last pings)",
        )
        .bind_attr("data-ms", move || reading.get().map(|ms| ms.to_string()))
        .bind_text(move || match reading.get() {
            Some(ms) => format!("Input round trip {ms} ms"),
            None => "Input round trip …".to_owned(),
        })
}

/// A guest's view: the remote cursors laid exactly over the picture of `video`, unscaled by
/// the viewer's zoom.
fn surface(
    video: HtmlVideoElement,
    bump: RwSignal<u32>,
    zoom: RwSignal<f64>,
    cursors: RwSignal<VecMap<String, CursorView>>,
) -> El {
    // Whose cursors there are: changes when a holder comes or goes, not when a pointer moves.
    let ids = move || cursors.with(|c| c.keys().cloned().collect::<Vec<_>>());
    el("div")
        .class("surface")
        .bind_attr("style", {
            let style = super::control::surface_style(move || Some(video.clone()), bump);
            move || Some(style())
        })
        .attr("aria-hidden", "true")
        .list(ids, String::clone, move |id| {
            remote_cursor(cursors, zoom, id.clone())
        })
}

/// Keyed by participant: a move updates attributes, it does not rebuild. The position is two
/// custom properties the stylesheet turns into a transform (a composited move: no layout, no
/// paint).
fn remote_cursor(
    cursors: RwSignal<VecMap<String, CursorView>>,
    zoom: RwSignal<f64>,
    id: String,
) -> El {
    let at = super::control::cursor_at(cursors, id.clone());
    let field = move |f| super::control::field_of(at, f);
    let name = field(|c| c.name.clone());
    el("div")
        .class("cursor")
        .testid(&format!("remote-cursor-{id}"))
        .bind_attr("data-x", field(|c| super::control::exact(c.x)))
        .bind_attr("data-y", field(|c| super::control::exact(c.y)))
        .bind_attr("style", move || {
            at.with(|c| {
                c.as_ref().map(|c| {
                    format!(
                        "--cursor-x:{};--cursor-y:{};--c:{};--cursor-s:{}",
                        super::control::exact(c.x),
                        super::control::exact(c.y),
                        c.color,
                        fixed(1.0 / zoom.get(), 4)
                    )
                })
            })
        })
        .markup(CURSOR)
        .child(
            el("span")
                .class("cursor-name")
                .bind_text(move || name().unwrap_or_default()),
        )
}

/// What a guest reads when nobody hosts under its link's host key but someone holding the
/// room key hosts under another (a link whose `h` is not this host's, or a link holder posing
/// as the host): the link cannot tell the real host, so it shows nobody's screen.
const UNCONFIRMED_SENTENCE: &str =
    "This link can't confirm who is hosting: the host it names isn't here. Check the link with the host.";

/// What a guest reads while its page cannot reach the signalling server and knows nothing yet
/// of the session.
const NO_SERVER_SENTENCE: &str = "Can't reach the PairUX server — retrying…";
const PRESENCE_FULL_SENTENCE: &str =
    "The server has no room for more people in this session, so the host can't see you yet. \
     You'll join as soon as someone leaves.";

/// What a guest reads when the host's page runs a newer version of the app (a deploy since
/// this page was loaded): a reload gets it.
const NEWER_HOST_SENTENCE: &str =
    "The host is on a newer version of PairUX. Reload this page to join.";

/// What a guest reads when the host's page runs an older version of the app than this one.
const OLDER_HOST_SENTENCE: &str =
    "The host is on an older version of PairUX. Ask the host to reload their page, then reload this one.";

/// What a guest reads when two people claimed the host role together through two different
/// handovers of it (a former host signed it over twice): nothing tells which is real, so it
/// shows nobody's screen; one of them being alone later proves nothing either.
const FORKED_SENTENCE: &str =
    "Two people claim to host this session, and this page can't tell which is real. Ask the person who invited you, then reload.";

const CURSOR: &str = r#"<svg viewBox="0 0 16 20" width="16" height="20"><path d="M1 1 L1 17 L5 13 L8 19 L11 18 L8 12 L14 12 Z"/></svg>"#;
