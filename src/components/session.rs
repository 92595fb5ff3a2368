//! `/s/<id>`: the session page. Shows the session for a usable link, a clear banner otherwise.

use leptos::prelude::*;
use pairux_core::{LinkError, Role, SessionId};

use super::stage::{GuestSetup, GuestStage, HostStage};
use super::ErrorBanner;
use crate::platform;
use pairux_core::roster::{Participant, Roster};

use crate::realtime::{new_participant_id, use_session_channel};
use crate::session::host::HostRuntime;
use crate::state::{AppState, ConnectionStatus, Opened, SessionEntry};
use pairux_core::session::Asking;

#[component]
pub fn SessionPage(id: String) -> impl IntoView {
    let state = AppState::expect();
    let current = move || {
        match state.opened.get() {
            Opened::Session(entry) if entry.link.session.to_string() == id => Ok(entry),
            Opened::Refused { error, .. } => Err(error),
            // Reached without a fragment (typed, bookmarked, or navigated to): no key.
            _ => Err(SessionId::parse(&id).err().unwrap_or(LinkError::MissingKey)),
        }
    };
    move || match current() {
        Ok(entry) => view! { <SessionView entry/> }.into_any(),
        Err(error) => {
            // The socket, worker and connection index.html made for this link have nobody to serve.
            platform::websocket::discard_early_socket();
            platform::transform::discard_early_worker();
            platform::peer::discard_early_peer();
            view! {
            <section class="card narrow">
                <ErrorBanner message=error.user_message().to_owned()/>
                <p><a href="/">"Go to the start page"</a></p>
            </section>
            }
            .into_any()
        }
    }
}

#[component]
fn SessionView(entry: SessionEntry) -> impl IntoView {
    let role = entry.role;
    // A guest's session may have started before the page (the guest app's head start).
    let guest = (role != Role::Host).then(|| GuestSetup::take_or_start(&entry));
    let me = guest
        .as_ref()
        .map_or_else(new_participant_id, |g| g.me.clone());
    let channel = match &guest {
        Some(g) => g.channel,
        None => use_session_channel(&entry, &me),
    };
    let host_view = crate::session::host::HostSignals::new();
    let speaking = guest
        .as_ref()
        .map_or(host_view.voice.speaking, |g| g.view.voice.speaking);
    // The host's parts come from the full app ([`super::FullApp`]); the guest app has none and
    // reloads as the full app if it ever opens a host's session.
    let host = (role == Role::Host).then(|| {
        use_context::<super::FullApp>().map(|full| {
            (full.host)(HostArgs {
                me: me.clone(),
                channel,
                entry: entry.clone(),
                view: host_view,
            })
        })
    });
    // A guest's page draws the picture first ([`GuestSetup::settled`]).
    let settled = guest.as_ref().map(|g| g.settled);
    let later = move || settled.is_none_or(|s| s.get());
    let (stage, requests, remove) = match (host, guest) {
        (Some(Some(parts)), _) => (parts.stage, Some(parts.requests), Some(parts.remove)),
        (None, Some(setup)) => (
            view! { <GuestStage setup entry=entry.clone()/> }.into_any(),
            None,
            None,
        ),
        _ => (super::needs_full_app(), None, None),
    };
    view! {
        <section class="session" data-role=role.as_str()>
            <div class="session-head">
                <h1>{match role {
                    Role::Host => "Your session",
                    Role::Controller => "Joined as controller",
                    Role::Viewer => "Joined as viewer",
                }}</h1>
                <span class="role-chip">{role.as_str()}</span>
                <ConnectionBadge status=channel.signals.status/>
            </div>
            <div class="session-body">
                <div class="stage">{stage}</div>
                <aside class="side">
                    <Show when=later>
                        <NameField channel/>
                    </Show>
                    {requests}
                    <Show when=later>
                        <ParticipantList
                            roster=channel.signals.roster
                            me=me.clone()
                            peers=(role == Role::Host).then_some(host_view.peers)
                            remove
                            speaking
                        />
                    </Show>
                </aside>
            </div>
            <Show when=later>
                <TrustCounters channel/>
            </Show>
        </section>
    }
}

/// What the host's parts of the session page are built from.
pub struct HostArgs {
    me: String,
    channel: crate::realtime::SessionChannel,
    entry: SessionEntry,
    view: crate::session::host::HostSignals,
}

/// The host's Remove of a participant (by id).
type Remove = StoredValue<Box<dyn Fn(&str)>, LocalStorage>;

/// The host's parts of the session page: the stage (invitations, the share, control), the
/// join requests, and a participant's Remove.
pub struct HostParts {
    stage: AnyView,
    requests: AnyView,
    remove: Remove,
}

/// Builds the host's parts (named only by the full app, [`super::App`]).
pub fn host_parts(args: HostArgs) -> HostParts {
    let HostArgs {
        me,
        channel,
        entry,
        view,
    } = args;
    let runtime = StoredValue::new_local(None::<HostRuntime>);
    HostParts {
        stage: view! {
            <InviteLinks entry=entry.clone()/>
            <HostStage me channel entry view runtime/>
        }
        .into_any(),
        requests: view! {
            <JoinRequests asking=view.asking roster=channel.signals.roster runtime/>
        }
        .into_any(),
        remove: StoredValue::new_local(Box::new(move |id: &str| {
            runtime.with_value(|rt| {
                if let Some(rt) = rt {
                    rt.remove(id);
                }
            })
        })),
    }
}

/// `connection-state`: a word for tests (`data-state`) and a sentence for people.
#[component]
fn ConnectionBadge(status: RwSignal<ConnectionStatus>) -> impl IntoView {
    view! {
        <span
            class="connection"
            data-testid="connection-state"
            data-state=move || status.get().as_str()
            role="status"
            aria-live="polite"
        >
            <span class="dot" aria-hidden="true"></span>
            {move || status.get().label()}
        </span>
    }
}

/// `display-name`: what everyone sees this person as. Enter or leaving the field applies it
/// live for everyone; it is remembered on this device for the next session.
#[component]
fn NameField(channel: crate::realtime::SessionChannel) -> impl IntoView {
    let apply = move |ev: leptos::ev::Event| {
        // Cleared: the current name stays here, the remembered one is forgotten.
        if let Some(name) = platform::storage::remember_name(&event_target_value(&ev)) {
            channel.set_name(&name);
        }
    };
    view! {
        <label class="name-field">
            "Your name"
            <input
                type="text"
                data-testid="display-name"
                maxlength="80"
                autocomplete="nickname"
                value=channel.name()
                on:change=apply
            />
        </label>
    }
}

/// `participant-list`: everyone in the session, host first, then by arrival.
#[component]
fn ParticipantList(
    roster: RwSignal<Roster>,
    me: String,
    /// The host's view of each participant's peer connection (`connectionState`).
    peers: Option<RwSignal<pairux_core::vecmap::VecMap<String, String>>>,
    /// Whose voice is heard now.
    speaking: RwSignal<pairux_core::vecmap::VecSet<String>>,
    /// The host's Remove: each guest gets a button.
    remove: Option<Remove>,
) -> impl IntoView {
    let people =
        move || -> Vec<Participant> { roster.read().participants().into_iter().cloned().collect() };
    view! {
        <div class="participants" aria-labelledby="participants-title">
            <h2 id="participants-title">
                "People " <span class="count">{move || roster.read().participants().len()}</span>
            </h2>
            <ul data-testid="participant-list">
                <For
                    each=people
                    key=|p| (p.id.clone(), p.role, p.profile.to_string())
                    let:p
                >
                    <li
                        data-testid=format!("participant-{}", p.id)
                        data-role=p.role.as_str()
                        class:me=p.id == me
                        class:speaking={
                            let id = p.id.clone();
                            move || speaking.with(|s| s.contains(&id))
                        }
                        data-speaking={
                            let id = p.id.clone();
                            move || speaking.with(|s| s.contains(&id)).to_string()
                        }
                    >
                        {
                            let on = p.profile.get("mic").and_then(serde_json::Value::as_bool) == Some(true);
                            view! {
                                <span
                                    class="mic-state"
                                    class:on=on
                                    data-testid=format!("mic-state-{}", p.id)
                                    data-state=if on { "on" } else { "off" }
                                    title=if on { "Microphone on" } else { "Muted" }
                                    aria-label=if on { "Microphone on" } else { "Muted" }
                                >
                                    {super::icons::mic(on)}
                                </span>
                            }
                        }
                        <span class="name">{p.display_name()}</span>
                        {(p.id == me).then_some(view! { <span class="you">" (you)"</span> })}
                        <span class="role-chip small">{p.role.as_str()}</span>
                        {peers.filter(|_| p.id != me).map(|peers| {
                            let id = p.id.clone();
                            let state = Signal::derive(move || {
                                peers.with(|m| m.get(&id).cloned().unwrap_or_else(|| "none".to_owned()))
                            });
                            view! {
                                <span
                                    class="peer-state"
                                    data-testid=format!("peer-state-{}", p.id)
                                    data-state=state
                                    title="Connection to this person"
                                >
                                    {state}
                                </span>
                            }
                        })}
                        {remove.filter(|_| p.id != me && p.role != Role::Host).map(|remove| {
                            let id = p.id.clone();
                            view! {
                                <button
                                    class="remove small"
                                    data-testid=format!("remove-participant-{}", p.id)
                                    title="Remove from the session: their video and control stop now"
                                    on:click=move |_| remove.with_value(|remove| remove(&id))
                                >
                                    "Remove"
                                </button>
                            }
                        })}
                    </li>
                </For>
            </ul>
        </div>
    }
}

/// The host's "<name> asks to join" requests (after a removal nobody new gets in without the
/// host's OK): Admit (`admit-<pid>`) or Deny (`deny-join-<pid>`).
#[component]
fn JoinRequests(
    asking: RwSignal<Vec<Asking>>,
    roster: RwSignal<Roster>,
    runtime: StoredValue<Option<HostRuntime>, LocalStorage>,
) -> impl IntoView {
    let act = move |id: String, admit: bool| {
        runtime.with_value(|rt| {
            if let Some(rt) = rt {
                if admit {
                    rt.admit(&id);
                } else {
                    rt.deny_join(&id);
                }
            }
        });
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
                            on:click=move |_| act(admit_id.clone(), true)>"Admit"</button>
                        <button data-testid=format!("deny-join-{}", a.id)
                            on:click=move |_| act(deny_id.clone(), false)>"Deny"</button>
                    </div>
                }
            }
        </For>
    }
}

/// What this page refused to believe, for everyone (diagnostics): presence metas and signals
/// that failed verification, by reason. Counts live in data attributes for tests and tools.
#[component]
fn TrustCounters(channel: crate::realtime::SessionChannel) -> impl IntoView {
    let roster = channel.signals.roster;
    let signals = channel.dropped_signals;
    view! {
        <details class="diagnostics trust">
            <summary>"Security — what this page ignored"</summary>
            {move || {
                let r = roster.with(|r| r.counters());
                let s = signals.get();
                view! {
                    <p
                        class="counters"
                        data-testid="trust-counters"
                        data-impostor-host=r.impostor_host
                        data-shadowed=r.shadowed
                        data-unreadable=r.unreadable
                        data-bad-signature=r.bad_signature
                        data-invalid-meta=r.invalid
                        data-forged-signals=s.forged
                        data-replayed-signals=s.replayed
                        data-stale-signals=s.stale
                        data-unauthentic-signals=s.unauthentic
                        data-malformed-signals=s.malformed
                    >
                        {format!(
                            "presence: impostor hosts {} · shadowing metas {} · unreadable {} · bad signatures {} · invalid {}; signals: forged {} · replayed {} · stale {} · unauthentic {} · malformed {}",
                            r.impostor_host, r.shadowed, r.unreadable, r.bad_signature, r.invalid,
                            s.forged, s.replayed, s.stale, s.unauthentic, s.malformed
                        )}
                    </p>
                }
            }}
        </details>
    }
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
                <button on:click=copy data-testid=format!("copy-{testid}")>
                    {move || match copied.get() {
                        Some(true) => "Copied",
                        Some(false) => "Select and copy",
                        None => "Copy",
                    }}
                </button>
            </div>
        </div>
    }
}
