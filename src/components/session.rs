//! `/s/<id>`: the session page. Shows the session for a usable link, a clear banner otherwise.

use leptos::prelude::*;
use pairux_core::Role;

use super::guest;
use super::stage::HostStage;
use crate::platform;
use pairux_core::roster::{Participant, Roster};

use crate::realtime::use_session_channel;
use crate::session::host::HostRuntime;
use crate::state::{AppState, SessionEntry};
use pairux_core::control::{Answered, Guarded, Question};
use pairux_core::session::{Asking, StartMode};

#[component]
pub fn SessionPage(id: String) -> impl IntoView {
    let state = AppState::expect();
    move || match guest::session_entry(state, &id) {
        // A guest's page is the guest app's (drawn without Leptos).
        Ok(entry) if entry.role != Role::Host => super::drawn(|| guest::session_view(entry)),
        Ok(entry) => view! { <HostSession entry/> }.into_any(),
        Err(error) => super::drawn(|| guest::refused(error)),
    }
}

/// A host's session page: invitations, the share and control (the stage), join requests, and
/// the parts guests see too.
#[component]
fn HostSession(entry: SessionEntry) -> impl IntoView {
    let runtime = StoredValue::new_local(None::<HostRuntime>);
    // The page stops showing the session (the browser's Back): the host leaves it as a
    // reload would, and nothing it captured stays on. Registered before the session channel,
    // whose cleanup drops its link: cleanups run in order, and the host's goodbye goes on it.
    on_cleanup(move || {
        runtime.try_with_value(|rt| {
            if let Some(rt) = rt {
                rt.close();
            }
        });
    });
    let joined_at = crate::state::host_join_time(&entry.link, crate::platform::clock::wall_ms());
    let channel = use_session_channel(&entry, joined_at);
    let me = channel.me();
    let mode = entry.mode;
    let view = crate::session::host::HostSignals::new();
    // The host's Remove of a participant (by id).
    let remove: guest::Remove = StoredValue::new_local(Box::new(move |id: &str| {
        on_runtime(runtime, |rt| rt.remove(id))
    }));
    let invites = entry.clone();
    // What the last offer of the host role could not do, in words (the offer may come from
    // the question a guarded click opened, or from the click itself).
    let hand_over_error = RwSignal::new(None::<&'static str>);
    // The page's last press (pointer or key down), by its event time: a guarded act is judged
    // by the press that made its click (`HostRuntime::ask`). In the capture phase, so no
    // handler can keep a press from it.
    let pressed = StoredValue::new(0.0_f64);
    // (`mousedown` too: a click made by assistive technology comes with no pointer event.)
    for event in ["pointerdown", "mousedown", "keydown"] {
        platform::el::on_window_capture(event, move |ev| pressed.set_value(ev.time_stamp()));
    }
    view! {
        <section class="session" data-role="host">
            <div class="session-head">
                <h1>"Your session"</h1>
                <span class="role-chip">"host"</span>
                {super::drawn(|| guest::connection_badge(channel.signals.status))}
            </div>
            <div class="session-body">
                <div class="stage">
                    // Once ended, nothing of the session is offered any more: no links to it,
                    // no one to remove or hand the role to.
                    <Show when=move || !view.ended.get()>
                        <InviteLinks entry=invites.clone()/>
                    </Show>
                    <HostStage me=me.clone() channel entry view runtime/>
                </div>
                <aside class="side" hidden=move || view.ended.get()>
                    {super::drawn(|| guest::name_field(channel))}
                    <GuardQuestion question=view.question clashed=view.clashed roster=channel.signals.roster mode error=hand_over_error pressed runtime/>
                    <JoinRequests asking=view.asking roster=channel.signals.roster pressed runtime/>
                    <HandOver handing=view.handing handed=view.handed declined=view.declined error=hand_over_error mode roster=channel.signals.roster pressed runtime/>
                    {super::drawn(|| guest::participant_list(
                        channel.signals.roster,
                        me,
                        Some(peer_states(view, channel.signals.roster)),
                        view.voice.speaking,
                        Some(remove),
                    ))}
                </aside>
            </div>
            {super::drawn(|| guest::trust_counters(channel, true))}
        </section>
    }
}

/// What each row of the host's list says of the connection to that person: `removed` for
/// someone this host removed, else the host's own connection's state, and for a viewer it let
/// in that has none while the video server forwards the picture, `sfu` (its connection is to
/// the server, which this page does not measure) rather than `none`. Someone waiting to be let
/// in or refused gets no `sfu`.
fn peer_states(
    view: crate::session::host::HostSignals,
    roster: RwSignal<Roster>,
) -> Memo<pairux_core::vecmap::VecMap<String, String>> {
    Memo::new(move |_| {
        let mut states = view.peers.get();
        if view.topology.get() == pairux_core::session::Topology::Sfu {
            view.seated.with(|seated| {
                roster.with(|r| {
                    for p in r.participants() {
                        if p.role == Role::Viewer
                            && seated.contains(&p.id)
                            && !states.contains_key(&p.id)
                        {
                            states.insert(p.id.clone(), "sfu".to_owned());
                        }
                    }
                });
            });
        }
        view.removed.with(|removed| {
            for id in removed.iter() {
                states.insert(id.clone(), "removed".to_owned());
            }
        });
        states
    })
}

/// The host's "<name> asks to join" requests (after a removal nobody new gets in without the
/// host's OK): Admit (`admit-<pid>`) or Deny (`deny-join-<pid>`).
#[component]
fn JoinRequests(
    asking: RwSignal<Vec<Asking>>,
    roster: RwSignal<Roster>,
    /// When the page's last press came (a guarded act is judged by it).
    pressed: StoredValue<f64>,
    runtime: StoredValue<Option<HostRuntime>, LocalStorage>,
) -> impl IntoView {
    // `keyboard`: the click was made with a key (on what had focus).
    let act = move |id: String, admit: bool, keyboard: bool| {
        on_runtime(runtime, |rt| match admit {
            true => {
                if rt.ask(Guarded::Admit(id.clone()), pressed.get_value(), keyboard) {
                    rt.admit(&id);
                }
            }
            false => rt.deny_join(&id),
        })
    };
    view! {
        <For each=move || asking.get() key=|a| (a.id.clone(), a.removed_before) let:a>
            {
                let id = a.id.clone();
                let name = move || {
                    roster.with(|r| r.get(&id).map(Participant::display_name).unwrap_or_default())
                };
                let (admit_id, deny_id) = (a.id.clone(), a.id.clone());
                view! {
                    <div class="join-request" role="alert" data-testid=format!("join-request-{}", a.id)>
                        <p>
                            <strong>{name}</strong>
                            " asks to join"
                            {a.removed_before.then_some(" (you removed them earlier)")}
                        </p>
                        <button class="primary" data-testid=format!("admit-{}", a.id)
                            on:click=move |ev| act(admit_id.clone(), true, by_key(&ev))>"Admit"</button>
                        <button data-testid=format!("deny-join-{}", a.id)
                            on:click=move |_| act(deny_id.clone(), false, false)>"Deny"</button>
                    </div>
                }
            }
        </For>
    }
}

/// The question a guarded click opens while a controller drives this computer
/// (`guard-question`; `pairux_core::control::ActionGuard`): the click may have been the
/// controller's, injected by the agent, so the act waits for the host's answer and control is
/// paused meanwhile. Yes (`guard-confirm`) counts once the question is armed, judged by the
/// press that made the click; No (`guard-cancel`, focused) at once.
#[component]
fn GuardQuestion(
    question: RwSignal<Option<Question>>,
    /// Two different acts were clicked while one was asked: neither was done.
    clashed: RwSignal<bool>,
    roster: RwSignal<Roster>,
    mode: StartMode,
    error: RwSignal<Option<&'static str>>,
    /// When the page's last press came: an answer is judged by the press that made it.
    pressed: StoredValue<f64>,
    runtime: StoredValue<Option<HostRuntime>, LocalStorage>,
) -> impl IntoView {
    // Named as on the button clicked: with a tag of the key when someone present shows the
    // same name, and that person's colour — a controller named after someone else reads as
    // someone else here too.
    let name = move |id: &str| roster.with(|r| super::control::name_of(r, id));
    // A Yes pressed before it counted (a press already made when the question opened) says
    // so, rather than nothing.
    let too_soon = RwSignal::new(false);
    let answer = move |yes: bool| {
        on_runtime(runtime, |rt| match rt.answer(pressed.get_value(), yes) {
            Answered::Do(Guarded::HandOver(id)) => error.set(rt.offer_host(&id, mode).err()),
            Answered::Do(Guarded::Admit(id)) => rt.admit(&id),
            Answered::TooSoon => too_soon.set(true),
            Answered::Dropped | Answered::Nothing => {}
        });
        clashed.set(false);
    };
    Effect::new(move |_| {
        if question.with(Option::is_none) {
            too_soon.set(false);
        }
    });
    // The note that two acts clashed goes after a while, or with the next act.
    let clash_timer = StoredValue::new_local(None::<platform::timer::Timer>);
    Effect::new(move |_| {
        let timer = clashed
            .get()
            .then(|| platform::timer::Timer::after(10_000, move || clashed.set(false)));
        clash_timer.set_value(timer);
    });
    let no = NodeRef::<leptos::html::Button>::new();
    Effect::new(move |_| {
        if let Some(button) = no.get() {
            let _ = button.focus();
        }
    });
    let act = move || question.with(|q| q.as_ref().map(|q| q.act.clone()));
    let armed = move || question.with(|q| q.as_ref().is_some_and(|q| q.armed));
    view! {
        <Show when=move || question.with(Option::is_some)>
            <div class="guard-question" role="alertdialog" aria-label="Confirm" data-testid="guard-question"
                data-act=move || match act() {
                    Some(Guarded::HandOver(_)) => "hand-over",
                    Some(Guarded::Admit(_)) => "admit",
                    None => "",
                }>
                <p>
                    <span class="swatch" aria-hidden="true" style=move || match act() {
                        Some(Guarded::HandOver(id) | Guarded::Admit(id)) =>
                            format!("background:{}", pairux_core::display::colour_for(&id)),
                        None => String::new(),
                    }></span>
                    <strong>{move || match act() {
                        Some(Guarded::HandOver(id)) => format!("Make {} host?", name(&id)),
                        Some(Guarded::Admit(id)) => format!("Let {} in?", name(&id)),
                        None => String::new(),
                    }}</strong>
                    " Someone can control this computer, or could a moment ago, so that click \
                    may have been theirs. Until you answer, nobody's control reaches it."
                </p>
                <div class="row">
                    <button class="primary" data-testid="guard-confirm" disabled=move || !armed()
                        on:click=move |_| answer(true)>
                        {move || match act() {
                            Some(Guarded::HandOver(_)) => "Yes, hand it over",
                            _ => "Yes, let them in",
                        }}
                    </button>
                    <button data-testid="guard-cancel" node_ref=no on:click=move |_| answer(false)>"No"</button>
                </div>
                <Show when=move || too_soon.get()>
                    <p class="guard-too-soon" role="status" data-testid="guard-too-soon">
                        "That press came before Yes could count. Press Yes again."
                    </p>
                </Show>
            </div>
        </Show>
        <Show when=move || clashed.get()>
            <p class="guard-clash" role="alert" data-testid="guard-clash">
                "Two different things were clicked while PairUX was asking, so it did neither. \
                Click the one you meant again."
            </p>
        </Show>
    }
}

/// Whether a click was made with a key (Enter, Space) on what had focus, not a pointer.
fn by_key(ev: &leptos::ev::MouseEvent) -> bool {
    ev.detail() == 0
}

/// The host role, handed to a controller: "Make <name> host" per controller
/// (`hand-over-<pid>`); once offered, who to (`handing`, `data-to`) until they take it — this
/// tab then reloads as a controller.
#[component]
fn HandOver(
    handing: RwSignal<Option<String>>,
    handed: RwSignal<Option<String>>,
    declined: RwSignal<Option<String>>,
    /// What the last offer could not do, in words.
    error: RwSignal<Option<&'static str>>,
    mode: StartMode,
    roster: RwSignal<Roster>,
    /// When the page's last press came (a guarded act is judged by it).
    pressed: StoredValue<f64>,
    runtime: StoredValue<Option<HostRuntime>, LocalStorage>,
) -> impl IntoView {
    // Two controllers may share a name: theirs then carries a tag of the key their metas are
    // verified under, and each button the colour of that person's cursor.
    let controllers = move || {
        roster.with(|r| {
            let mut people = r.participants();
            people.retain(|p| p.role == Role::Controller);
            let names = pairux_core::roster::distinct_names(&people);
            people
                .iter()
                .map(|p| p.id.clone())
                .zip(names)
                .collect::<Vec<_>>()
        })
    };
    // The last name seen for each id: the person handed the role leaves the session to come
    // back as host (or closes the tab), and the line still says whom it waits for.
    // (One is enough: only the person offered or handed the role is named out of the list.)
    let known = StoredValue::new(None::<(String, String)>);
    let name = move |id: &str| {
        let now = roster.with(|r| r.get(id).map(Participant::display_name));
        match now {
            Some(n) => {
                known.set_value(Some((id.to_owned(), n.clone())));
                n
            }
            None => known.with_value(|k| match k {
                Some((at, n)) if at == id => n.clone(),
                _ => String::new(),
            }),
        }
    };
    // Asked again first while a controller drives this computer (the click may be theirs).
    let offer = move |id: String, ev: leptos::ev::MouseEvent| {
        on_runtime(runtime, |rt| {
            if rt.ask(
                Guarded::HandOver(id.clone()),
                pressed.get_value(),
                by_key(&ev),
            ) {
                error.set(rt.offer_host(&id, mode).err());
            }
        })
    };
    let shown = move || {
        handing.with(Option::is_some)
            || handed.with(Option::is_some)
            || declined.with(Option::is_some)
            || !controllers().is_empty()
    };
    view! {
        <Show when=shown>
            <div class="hand-over" data-testid="hand-over">
                <h2>"Hand over hosting"</h2>
                {move || match (handed.get(), handing.get()) {
                    (Some(id), _) => {
                        let who = name(&id);
                        let to = "Handing over to ";
                        let then = ": this tab becomes a controller when they start hosting; \
                            until then you keep hosting.";
                        // Signed to them: they alone can take it, and if their tab could not
                        // keep it, it can be offered to them again.
                        let again = id.clone();
                        view! {
                            {hand_over_line("handed", id.clone(), who.clone(), to, then)}
                            <button data-testid=format!("hand-over-{id}")
                                on:click=move |ev| offer(again.clone(), ev)>
                                {format!("Offer it to {who} again")}
                            </button>
                        }
                            .into_any()
                    }
                    (None, Some(id)) => {
                        let who = name(&id);
                        view! {
                            {hand_over_line("handing", id, who, "Offered to ", ": waiting for their answer.")}
                            <button data-testid="cancel-hand-over"
                                on:click=move |_| on_runtime(runtime, HostRuntime::cancel_hand_over)>
                                "Cancel the offer"
                            </button>
                        }
                            .into_any()
                    }
                    (None, None) => {
                        view! {
                            {move || declined.get().map(|who| view! {
                                <p class="handing" role="status" data-testid="hand-over-declined">
                                    <strong>{who}</strong>" isn't taking over now."
                                </p>
                            })}
                            <For each=controllers key=|c| c.clone() let:c>
                                {
                                    let id = c.0.clone();
                                    view! {
                                        <button data-testid=format!("hand-over-{}", c.0)
                                            title="They share their screen and decide who controls it; you become a controller"
                                            on:click=move |ev| offer(id.clone(), ev)>
                                            <span class="swatch" aria-hidden="true"
                                                style=format!("background:{}", pairux_core::display::colour_for(&c.0))></span>
                                            {format!("Make {} host", c.1)}
                                        </button>
                                    }
                                }
                            </For>
                        }
                            .into_any()
                    }
                }}
                {move || error.get().map(|e| view! {
                    <p class="error" role="alert" data-testid="hand-over-error">{e}</p>
                })}
            </div>
        </Show>
    }
}

/// A line of the handover panel (`testid`, `data-to`: to whom): `before` <name> `after`.
fn hand_over_line(
    testid: &'static str,
    id: String,
    who: String,
    before: &'static str,
    after: &'static str,
) -> impl IntoView {
    view! {
        <p class="handing" role="status" data-testid=testid data-to=id>
            {before} <strong>{who}</strong> {after}
        </p>
    }
}

/// Runs `f` on the host runtime, once it has started.
fn on_runtime(
    runtime: StoredValue<Option<HostRuntime>, LocalStorage>,
    f: impl FnOnce(&HostRuntime),
) {
    runtime.with_value(|rt| {
        if let Some(rt) = rt {
            f(rt);
        }
    });
}

#[component]
fn InviteLinks(entry: SessionEntry) -> impl IntoView {
    let origin = platform::location::origin().unwrap_or_default();
    let controller = format!(
        "{origin}{}",
        entry.link.controller_link().unwrap_or_default()
    );
    let viewer = format!("{origin}{}", entry.link.viewer_link());
    view! {
        <div class="invites">
            <CopyLink label="Invite controllers" hint="Can ask for control — copy only, never shown" testid="invite-controller-link" url=controller masked=true/>
            <CopyLink label="Invite viewers" hint="View only" testid="invite-viewer-link" url=viewer masked=false/>
        </div>
    }
}

/// A read-only link with a copy button that confirms the copy. A `masked` link is drawn as
/// dots (a password field: not shown, not selectable for copying), because the host's page
/// may itself be what is shared — the copy button is the only way to take it.
#[component]
fn CopyLink(
    label: &'static str,
    hint: &'static str,
    testid: &'static str,
    url: String,
    masked: bool,
) -> impl IntoView {
    let copied = RwSignal::new(None::<bool>);
    let input_id = format!("{testid}-field");
    let copy = {
        let url = url.clone();
        move |_| {
            let url = url.clone();
            leptos::task::spawn_local(async move {
                copied.set(Some(platform::clipboard::copy(&url).await.is_ok()));
            });
        }
    };
    view! {
        <div class="invite">
            <label for=input_id.clone()>{label} <span class="hint">{hint}</span></label>
            <div class="row">
                <input
                    id=input_id
                    readonly
                    data-testid=testid
                    value=url
                    type=if masked { "password" } else { "text" }
                    autocomplete="off"
                />
                <button on:click=copy data-testid=format!("copy-{testid}")
                    aria-label=format!("Copy link: {label}")>
                    {move || match copied.get() {
                        Some(true) => "Copied",
                        // A masked link cannot be selected: trying again is the way.
                        Some(false) if masked => "Copy failed — try again",
                        Some(false) => "Select and copy",
                        None => "Copy",
                    }}
                </button>
                <span class="sr-only" role="status">
                    {move || match copied.get() {
                        Some(true) => "Link copied",
                        Some(false) => "The browser refused to copy the link",
                        None => "",
                    }}
                </span>
            </div>
        </div>
    }
}
