//! The middle of the session page: the host's preview and controls, or a participant's view
//! of the shared screen with fit, zoom, fullscreen and the stats overlay.

use leptos::html;
use leptos::prelude::*;
use pairux_core::access::Want;
use pairux_core::config::ClientConfig;
use pairux_core::focus::FocusFollower;
use pairux_core::identity::PublicKey;
use pairux_core::link::ControllerSecret;
use pairux_core::roster::Participant;
use pairux_core::session::{Quality, ShareState, StartMode, WIRE_VERSION};
use pairux_core::{Role, SessionLink};

use super::control::{AgentPanel, ControlPanel, Diagnostics, HostSurface};
use super::ErrorBanner;
use crate::platform::{self, media};
use crate::realtime::SessionChannel;
use crate::session::access::Access;
use crate::session::guest::{GuestRuntime, GuestSignals};
use crate::session::host::{HostRuntime, HostSignals};
use crate::session::host_control::ControlSignals;
use crate::state::{AppState, ConnectionStatus, SessionEntry};

/// Host: local preview, share state, quality, end.
#[component]
pub fn HostStage(
    me: String,
    channel: SessionChannel,
    entry: SessionEntry,
    /// What the host runtime reports (shared with the participant list's connection states).
    view: HostSignals,
    /// The host runtime, once started (shared with the participant list's Remove / Admit).
    runtime: StoredValue<Option<HostRuntime>, LocalStorage>,
) -> impl IntoView {
    let state = AppState::expect();
    Effect::new(move || state.set_session_over(view.ended.get() || view.moved.get()));
    let control = ControlSignals::new();
    // The host's own link always carries the controller secret it generated.
    let secret: ControllerSecret = entry
        .link
        .controller
        .clone()
        .expect("a host's link is generated with a controller secret");
    let preview = NodeRef::<html::Video>::new();
    // A host whose browser cannot encrypt media is told at once (nothing would be sent).
    let error = RwSignal::new(
        (!platform::transform::TransformApi::supported())
            .then(|| platform::transform::UNSUPPORTED_SENTENCE.to_owned()),
    );
    // Re-measures the preview's letterbox when its size changes.
    let bump = RwSignal::new(0u32);

    // How the transform worker reports our sending transforms (`Err`: no worker, or it failed;
    // final, since a failed worker's later reports are dropped at the source).
    let sending = RwSignal::new(None::<Result<pairux_core::e2ee::E2eeState, ()>>);
    // A worker that failed handles no frame: nothing leaves, and the host is told why (a
    // banner of its own, which no later error or new capture replaces).
    let worker_failed = move || matches!(sending.get(), Some(Err(())));
    // The capture made by the click on the landing page, if any.
    let first_capture = state.capture.try_update_value(Option::take).flatten();
    let first_capture = StoredValue::new_local(first_capture);
    // Sharing stops too, so guests read that it is paused instead of waiting on a picture
    // that cannot come; it cannot be started again in this tab. A capture not yet handed to
    // the runtime (config.json still loading) stops at once.
    let failed = move || {
        sending.try_set(Some(Err(())));
        if let Some(capture) = first_capture.try_update_value(Option::take).flatten() {
            capture.stop();
        }
        runtime.try_with_value(|rt| {
            if let Some(rt) = rt {
                rt.media_failed();
            }
        });
    };
    match platform::transform::page_worker() {
        Ok(worker) => {
            worker.on_state(move |participant, state| {
                if participant == platform::transform::SENDING {
                    sending.set(Some(Ok(state)));
                }
            });
            worker.on_failure(move |_| failed());
        }
        Err(_) => failed(),
    }

    let (link, mode) = (entry.link.clone(), entry.mode);
    Effect::new(move |_| {
        let Some(config) = channel.config.get() else {
            return;
        };
        if runtime.with_value(Option::is_some) {
            return;
        }
        let capture = first_capture.try_update_value(Option::take).flatten();
        // The first request pins the start mode for the focus (SFU pins itself when publishing).
        let open_want = match mode {
            StartMode::Auto => Want::Auto,
            StartMode::P2p => Want::P2p,
            StartMode::Sfu => Want::Ice,
        };
        let access = Access::start(&config, &link, open_want);
        let topology = mode.topology(config.sfu.is_some());
        let rt = HostRuntime::start(
            me.clone(),
            access,
            &link,
            topology,
            channel,
            capture,
            view,
            secret.clone(),
            control,
            focus_follower(&config, &link),
        );
        runtime.set_value(Some(rt));
    });
    follow_roster(channel, runtime, HostRuntime::on_roster);
    // Our socket back after a gap: what we broadcast while it was down may have expired unsent.
    let was_down = StoredValue::new(false);
    Effect::new(move |_| match channel.signals.status.get() {
        ConnectionStatus::Reconnecting { .. } => was_down.set_value(true),
        ConnectionStatus::Connected | ConnectionStatus::Unseen if was_down.get_value() => {
            was_down.set_value(false);
            runtime.with_value(|rt| {
                if let Some(rt) = rt {
                    rt.on_rejoined();
                }
            });
        }
        _ => {}
    });
    // Keep the preview on whatever is shared now.
    Effect::new(move |_| {
        let _ = view.share.get();
        let _ = channel.config.get();
        if let Some(video) = preview.get() {
            let stream = runtime.with_value(|rt| rt.as_ref().and_then(HostRuntime::preview));
            media::attach(&video, stream.as_ref());
        }
    });

    // Emergency: Ctrl+Shift+Escape revokes everyone, wherever focus is.
    let hotkey = window_event_listener(leptos::ev::keydown, move |ev| {
        let key = platform::input::key(&ev);
        if key.key == "Escape" && key.ctrl && key.shift {
            platform::input::prevent(&ev);
            runtime.try_with_value(|rt| {
                if let Some(rt) = rt {
                    rt.revoke_all();
                }
            });
        }
    });
    on_cleanup(move || hotkey.remove());
    let leaving = window_event_listener(leptos::ev::pagehide, move |_| {
        runtime.try_with_value(|rt| {
            if let Some(rt) = rt {
                rt.leave();
            }
        });
    });
    on_cleanup(move || leaving.remove());
    // A host page the browser kept and shows again (back/forward cache) has left its session
    // (`pagehide`): it starts over rather than stay in a channel saying nothing to anyone.
    let shown = window_event_listener(leptos::ev::pageshow, move |ev| {
        platform::location::reload_if_restored(&ev)
    });
    on_cleanup(move || shown.remove());
    // A capture picked on the landing page and not yet handed to the runtime (config.json
    // still loading) stops too when the page stops showing the session (the runtime's own
    // stops with it: `HostSession`).
    on_cleanup(move || {
        if let Some(capture) = first_capture.try_update_value(Option::take).flatten() {
            capture.stop();
        }
    });

    let share_again = move |_| {
        leptos::task::spawn_local(async move {
            match media::capture_screen().await {
                Ok(capture) => {
                    error.set(None);
                    runtime.with_value(|rt| {
                        if let Some(rt) = rt {
                            rt.share(capture);
                        }
                    });
                }
                Err(err) => error.set(Some(format!("Screen sharing did not start ({err})."))),
            }
        });
    };
    let ended_entry = StoredValue::new(entry.clone());
    // Ending asks first while anyone else is here: "End the session for everyone?" with End
    // now / Keep the session; unanswered, it ends after END_CONFIRM_MS (a click on
    // `end-session` alone still ends the session — see ARCHITECTURE "Leaving, removing, ending").
    let confirming = RwSignal::new(false);
    let confirm_timer = StoredValue::new_local(None::<platform::timer::Timer>);
    let end_now = move || {
        confirming.set(false);
        confirm_timer.set_value(None);
        runtime.with_value(|rt| {
            if let Some(rt) = rt {
                rt.end();
            }
        });
        // An ended session is not resumed by a reload of this tab.
        ended_entry.with_value(SessionEntry::forget);
    };
    let guests_here = move || {
        channel
            .signals
            .roster
            .with_untracked(|r| r.participants().iter().any(|p| p.role != Role::Host))
    };
    let end = move |_| {
        if confirming.get_untracked() || !guests_here() {
            end_now();
            return;
        }
        confirming.set(true);
        confirm_timer.set_value(Some(platform::timer::Timer::after(END_CONFIRM_MS, end_now)));
    };
    let keep = move |_| {
        confirming.set(false);
        confirm_timer.set_value(None);
    };
    let on_quality = move |ev: leptos::ev::Event| {
        if let Some(q) = Quality::parse(&event_target_value(&ev)) {
            runtime.with_value(|rt| match rt {
                Some(rt) => rt.set_quality(q),
                // Picked before the session started (config.json not in yet): the runtime
                // starts with it.
                None => view.quality.set(q),
            });
        }
    };
    // Until config.json is in (the server down, say) nothing has started: there is no session
    // to end nor anyone to share with, and the buttons say so rather than take a click that
    // would do nothing. The banner or the connection badge says what is awaited.
    let starting = move || channel.config.with(Option::is_none);

    view! {
        <Show
            when=move || !view.ended.get() && !view.moved.get()
            fallback=move || if view.moved.get() {
                view! {
                    <div class="notice" data-testid="session-moved" role="status">
                        <h2>"You're hosting this session in another tab"</h2>
                        <p>"This tab stopped sharing so that guests follow the other one. Reload this tab to host from here again: you'll let each person in again."</p>
                    </div>
                }.into_any()
            } else {
                view! {
                    <div class="notice" data-testid="session-ended" role="status">
                        <h2>"You ended the session"</h2>
                        <p>"Everyone has been disconnected. " <a href="/">"Start a new one"</a></p>
                    </div>
                }.into_any()
            }
        >
            <Show when=move || {
                worker_failed() || error.get().is_some() || channel.signals.config_unreadable.get()
            }>
                <ErrorBanner message=Signal::derive(move || {
                    if worker_failed() {
                        platform::transform::FAILED_SENTENCE.to_owned()
                    } else if channel.signals.config_unreadable.get() {
                        crate::realtime::CONFIG_SENTENCE.to_owned()
                    } else {
                        error.get().unwrap_or_default()
                    }
                })/>
            </Show>
            // Someone is here on a newer version of the app (a deploy since this page was
            // loaded; a claim nobody can check, so it only informs): reloading resumes this
            // session as its host, in the newer version.
            <Show when=move || channel.signals.other_version.get().is_some_and(|v| v > WIRE_VERSION)>
                <div class="banner banner-info" role="status" data-testid="version-notice">
                    <span>
                        "Someone opened your link in a newer version of PairUX and can't join this page. Reload to let them in: the session carries on, and you pick your screen again."
                    </span>
                    <button on:click=move |_| drop(platform::location::reload())>"Reload"</button>
                </div>
            </Show>
            <ControlPanel control roster=channel.signals.roster runtime/>
            <AgentPanel agent=view.agent runtime/>
            <div class="preview-wrap">
                <video
                    node_ref=preview
                    class="preview"
                    data-testid="local-preview"
                    muted
                    autoplay
                    playsinline
                    aria-label="What you are sharing"
                    on:resize=move |_| bump.update(|n| *n += 1)
                    on:loadedmetadata=move |_| bump.update(|n| *n += 1)
                ></video>
                <HostSurface video=preview bump cursors=control.cursors marks=control.marks overlay=control.overlay/>
                <Show when=move || view.share.get() == ShareState::Paused>
                    <div class="paused-overlay">
                        <p>"Sharing is paused — nobody sees your screen."</p>
                        <button class="primary" data-testid="share-again" on:click=share_again
                            disabled=move || worker_failed() || starting()>
                            "Share your screen"
                        </button>
                    </div>
                </Show>
            </div>
            <div class="host-controls">
                <span class="badge" data-testid="share-state" data-state=move || match view.share.get() {
                    ShareState::Sharing => "sharing",
                    ShareState::Paused => "paused",
                }>
                    {move || match view.share.get() {
                        ShareState::Sharing => "● Sharing",
                        ShareState::Paused => "Paused",
                    }}
                </span>
                <label class="inline">
                    "Quality "
                    <select data-testid="quality" on:change=on_quality>
                        {Quality::ALL
                            .into_iter()
                            .map(|q| view! {
                                <option value=q.as_str() selected=q == Quality::default()>{q.label()}</option>
                            })
                            .collect_view()}
                    </select>
                </label>
                <span class="badge" data-testid="session-mode">{move || super::guest::topology_word(view.topology.get())}</span>
                {move || view.sfu_problem.get().map(|text| view! {
                    <span class="notice" data-testid="media-problem">{text}</span>
                })}
                {super::drawn(|| super::guest::e2ee_badge(move || {
                    if platform::transform::TransformApi::detect()
                        == platform::transform::TransformApi::Unsupported
                    {
                        return "off";
                    }
                    // What the worker measured on our sending transforms: `ok` only once
                    // frames were encrypted and sent.
                    match sending.get() {
                        Some(Ok(state)) => state.as_str(),
                        Some(Err(())) => "off",
                        None => "waiting-key",
                    }
                }))}
                {super::drawn(|| super::guest::voice_controls(
                    view.voice,
                    Callback::new(move |on: bool| runtime.with_value(|rt| {
                        if let Some(rt) = rt {
                            rt.set_mic(on);
                        }
                    })),
                    Callback::new(move |()| runtime.with_value(|rt| {
                        if let Some(rt) = rt {
                            rt.unblock_sound();
                        }
                    })),
                ))}
                <button class="danger" data-testid="end-session" on:click=end disabled=starting>"End session"</button>
            </div>
            <Show when=move || confirming.get()>
                {
                    // The keyboard goes to "Keep the session": the next Enter keeps it, and the
                    // panel's deadline does not run out on someone tabbing to it.
                    let keep_button = NodeRef::<leptos::html::Button>::new();
                    keep_button.on_load(|b| platform::dom::focus(&b));
                    view! {
                        <div class="end-confirm" role="alertdialog" aria-label="End the session" data-testid="end-session-confirm-panel">
                            <p>
                                <strong>"End the session for everyone?"</strong>
                                {format!(" It ends in {} s unless you keep it.", END_CONFIRM_MS / 1000)}
                            </p>
                            <button class="danger" data-testid="end-session-confirm" on:click=move |_| end_now()>
                                "End now"
                            </button>
                            <button class="primary" data-testid="end-session-cancel" node_ref=keep_button on:click=keep>
                                "Keep the session"
                            </button>
                        </div>
                    }
                }
            </Show>
            <Diagnostics control/>
        </Show>
    }
}

/// How long "End the session for everyone?" waits for an answer before ending anyway.
const END_CONFIRM_MS: u64 = 3_000;

/// Hands each change of the session's verified roster to its runtime, once that has started
/// (host and guest alike).
fn follow_roster<R: 'static>(
    channel: SessionChannel,
    runtime: StoredValue<Option<R>, LocalStorage>,
    on_roster: fn(&R, &[&Participant]),
) {
    platform::el::effect(move || {
        let roster = channel.signals.roster.read();
        let mut people = roster.participants();
        // Two hosts' handovers parted here: no host is followed (`SessionIdentity::parted`).
        if channel.signals.forked_host.get() {
            people.retain(|p| p.role != pairux_core::Role::Host);
        }
        runtime.with_value(|rt| {
            if let Some(rt) = rt {
                on_roster(rt, &people);
            }
        });
    });
}

/// A guest's session apart from its page: the channel, the runtime (started once the config is
/// here) and what it reports. The guest app's head start makes it before the page is drawn
/// ([`crate::boot`]); the session page takes that one, or makes its own.
#[derive(Clone)]
pub struct GuestSetup {
    session: pairux_core::SessionId,
    pub me: String,
    pub channel: SessionChannel,
    pub view: GuestSignals,
    pub(crate) runtime: StoredValue<Option<GuestRuntime>, LocalStorage>,
    /// Whether what goes around the picture is drawn yet: a guest's page draws the picture
    /// first and the rest once it plays (or [`SETTLE_MS`] after the page), so that building
    /// and laying that out never stands before the first frame.
    pub settled: RwSignal<bool>,
}

/// The latest the rest of a guest's page is drawn after the picture.
pub(crate) const SETTLE_MS: u64 = 1_000;

/// The head start's setup, until the session page takes it (once).
#[derive(Clone, Copy)]
struct HeadStart(StoredValue<Option<GuestSetup>, LocalStorage>);

impl GuestSetup {
    /// Joins `entry`'s session (the calling owner keeps it).
    pub fn start(entry: &SessionEntry) -> Self {
        let channel = crate::realtime::use_session_channel(entry, platform::clock::wall_ms());
        let me = channel.me();
        let view = GuestSignals::new();
        let runtime = StoredValue::new_local(None::<GuestRuntime>);
        let link = entry.link.clone();
        let secret = entry.link.controller.clone();
        let id = me.clone();
        platform::el::effect(move || {
            let Some(config) = channel.config.get() else {
                return;
            };
            // A browser that cannot decrypt gets no connection at all (fail closed); the page
            // says why.
            if runtime.with_value(Option::is_none) && platform::transform::TransformApi::supported()
            {
                let access = Access::start(&config, &link, Want::Ice);
                let rt = GuestRuntime::start(
                    id.clone(),
                    access,
                    &link,
                    channel,
                    view,
                    secret.clone(),
                    focus_follower(&config, &link),
                );
                runtime.set_value(Some(rt));
            }
        });
        follow_roster(channel, runtime, GuestRuntime::on_roster);
        // A tab that goes (closed, reloaded, navigated away) closes its connections first, so
        // the host stops encoding for it at once: a torn-down tab sends nothing, and its
        // connection would keep an encoder busy on the host until ICE consent fails, seconds
        // later. Presence goes with the socket.
        platform::el::on_window("pagehide", move |_| {
            runtime.try_with_value(|rt| {
                if let Some(rt) = rt {
                    rt.page_hidden();
                }
            });
        });
        // A page the browser kept and shows again (back/forward cache) has no connection
        // left: it starts over.
        platform::el::on_window("pageshow", move |ev| {
            platform::location::reload_if_restored(&ev)
        });
        GuestSetup {
            session: entry.link.session,
            me,
            channel,
            view,
            runtime,
            settled: RwSignal::new(false),
        }
    }

    /// The guest app's head start: joins now, for the session page to take, and says when the
    /// page may be drawn ([`crate::boot::ready`]) short of an answer to the host: as soon as
    /// the connection is in trouble, or the first presence shows no host to answer.
    pub fn head_start(entry: &SessionEntry) {
        let setup = GuestSetup::start(entry);
        let (status, roster) = (setup.channel.signals.status, setup.channel.signals.roster);
        platform::el::effect(move || {
            if !matches!(
                status.get(),
                ConnectionStatus::Connecting | ConnectionStatus::Connected
            ) {
                crate::boot::ready();
            }
        });
        // Its first run sees the roster from before any presence (unless one came already).
        let mut before = false;
        platform::el::effect(move || {
            let roster = roster.read();
            let synced = std::mem::replace(&mut before, true) || !roster.is_empty();
            if synced && !roster.participants().iter().any(|p| p.role == Role::Host) {
                crate::boot::ready();
            }
        });
        provide_context(HeadStart(StoredValue::new_local(Some(setup))));
    }

    /// The head start's setup for `entry`'s session if there is one not yet taken, else a new one.
    /// Either goes with the calling page: the head start's belongs to the root, so the page
    /// leaves its channel and drops its runtime when it goes, as it would its own.
    pub fn take_or_start(entry: &SessionEntry) -> Self {
        let Some(setup) = use_context::<HeadStart>()
            .and_then(|HeadStart(kept)| kept.try_update_value(Option::take).flatten())
        else {
            return GuestSetup::start(entry);
        };
        let (channel, runtime) = (setup.channel, setup.runtime);
        let release = move || {
            runtime.try_update_value(|rt| drop(rt.take()));
            channel.leave();
        };
        if setup.session != entry.link.session {
            // Not this page's session (the head start only starts the page's own): let it go.
            release();
            return GuestSetup::start(entry);
        }
        on_cleanup(release);
        setup
    }
}

/// The check of the focus's decisions, when config.json names a focus key.
fn focus_follower(config: &ClientConfig, link: &SessionLink) -> Option<FocusFollower> {
    let key = config.focus_key.as_deref()?;
    match PublicKey::parse(key) {
        Some(key) => Some(FocusFollower::new(key, link.session)),
        None => {
            leptos::logging::error!("config.json's focusKey is not a public key; focus ignored");
            None
        }
    }
}
