//! The middle of the session page: the host's preview and controls, or a participant's view
//! of the shared screen with fit, zoom, fullscreen and the stats overlay.

use leptos::html;
use leptos::prelude::*;
use pairux_core::access::Want;
use pairux_core::config::ClientConfig;
use pairux_core::control::{ControlState, EscEsc, InputKind, VideoLayout, ViewTransform};
use pairux_core::display::fixed;
use pairux_core::focus::FocusFollower;
use pairux_core::identity::PublicKey;
use pairux_core::link::ControllerSecret;
use pairux_core::roster::Participant;
use pairux_core::session::{GuestPhase, Quality, ShareState, StartMode, Topology};
use pairux_core::{Role, SessionLink};

use super::control::{AgentPanel, ControlPanel, ControllerBar, Diagnostics, HostSurface, Surface};
use super::ErrorBanner;
use crate::platform::{self, clock, media};
use crate::realtime::SessionChannel;
use crate::session::access::Access;
use crate::session::guest::{GuestRuntime, GuestSignals};
use crate::session::host::{HostRuntime, HostSignals};
use crate::session::host_control::ControlSignals;
use crate::session::voice::{Mic, VoiceSignals};
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
            runtime.with_value(|rt| {
                if let Some(rt) = rt {
                    rt.set_quality(q);
                }
            });
        }
    };

    view! {
        <Show
            when=move || !view.ended.get()
            fallback=|| view! {
                <div class="notice" data-testid="session-ended" role="status">
                    <h2>"You ended the session"</h2>
                    <p>"Everyone has been disconnected. " <a href="/">"Start a new one"</a></p>
                </div>
            }
        >
            <Show when=move || worker_failed() || error.get().is_some()>
                <ErrorBanner message=Signal::derive(move || {
                    if worker_failed() {
                        platform::transform::FAILED_SENTENCE.to_owned()
                    } else {
                        error.get().unwrap_or_default()
                    }
                })/>
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
                            disabled=worker_failed>
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
                <span class="badge" data-testid="session-mode">{move || topology_word(view.topology.get())}</span>
                {move || view.sfu_problem.get().map(|text| view! {
                    <span class="notice" data-testid="media-problem">{text}</span>
                })}
                <E2eeBadge state=Signal::derive(move || {
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
                })/>
                <VoiceControls
                    voice=view.voice
                    toggle=Callback::new(move |on: bool| runtime.with_value(|rt| {
                        if let Some(rt) = rt {
                            rt.set_mic(on);
                        }
                    }))
                    unblock=Callback::new(move |()| runtime.with_value(|rt| {
                        if let Some(rt) = rt {
                            rt.unblock_sound();
                        }
                    }))
                />
                <button class="danger" data-testid="end-session" on:click=end>"End session"</button>
            </div>
            <Show when=move || confirming.get()>
                <div class="end-confirm" role="alertdialog" aria-label="End the session" data-testid="end-session-confirm-panel">
                    <p>
                        <strong>"End the session for everyone?"</strong>
                        {format!(" It ends in {} s unless you keep it.", END_CONFIRM_MS / 1000)}
                    </p>
                    <button class="danger" data-testid="end-session-confirm" on:click=move |_| end_now()>
                        "End now"
                    </button>
                    <button class="primary" data-testid="end-session-cancel" on:click=keep>
                        "Keep the session"
                    </button>
                </div>
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
    Effect::new(move |_| {
        let roster = channel.signals.roster.read();
        let people = roster.participants();
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
    runtime: StoredValue<Option<GuestRuntime>, LocalStorage>,
    /// Whether what goes around the picture is drawn yet: a guest's page draws the picture
    /// first and the rest once it plays (or [`SETTLE_MS`] after the page), so that building
    /// and laying that out never stands before the first frame.
    pub settled: RwSignal<bool>,
}

/// The latest the rest of a guest's page is drawn after the picture.
const SETTLE_MS: u64 = 1_000;

/// The head start's setup, until the session page takes it (once).
#[derive(Clone, Copy)]
struct HeadStart(StoredValue<Option<GuestSetup>, LocalStorage>);

impl GuestSetup {
    /// Joins `entry`'s session (the calling owner keeps it).
    pub fn start(entry: &SessionEntry) -> Self {
        let me = crate::realtime::new_participant_id();
        let channel = crate::realtime::use_session_channel(entry, &me);
        let view = GuestSignals::new();
        let runtime = StoredValue::new_local(None::<GuestRuntime>);
        let link = entry.link.clone();
        let secret = entry.link.controller.clone();
        let id = me.clone();
        Effect::new(move |_| {
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
        let hidden = window_event_listener(leptos::ev::pagehide, move |_| {
            runtime.try_with_value(|rt| {
                if let Some(rt) = rt {
                    rt.page_hidden();
                }
            });
        });
        // A page the browser kept and shows again (back/forward cache) has no connection
        // left: it starts over.
        let shown = window_event_listener(leptos::ev::pageshow, move |ev| {
            let kept = js_sys::Reflect::get(&ev, &"persisted".into())
                .ok()
                .and_then(|v| v.as_bool())
                .unwrap_or(false);
            if kept {
                let _ = platform::location::reload();
            }
        });
        on_cleanup(move || {
            hidden.remove();
            shown.remove();
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
        Effect::new(move |_| {
            if !matches!(
                status.get(),
                ConnectionStatus::Connecting | ConnectionStatus::Connected
            ) {
                crate::boot::ready();
            }
        });
        // Its first run sees the roster from before any presence (unless one came already).
        Effect::new(move |before: Option<()>| {
            let roster = roster.read();
            let synced = before.is_some() || !roster.is_empty();
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

/// Viewer or controller: the shared screen, fit to the window, with zoom/pan, stats, remote
/// cursors, and (for controllers) requesting control and driving the host.
#[component]
pub fn GuestStage(
    /// The session: channel, runtime and what it reports.
    setup: GuestSetup,
    entry: SessionEntry,
) -> impl IntoView {
    let GuestSetup {
        channel,
        view,
        runtime,
        settled,
        ..
    } = setup;
    let settle =
        StoredValue::new_local(Some(platform::timer::Timer::after(SETTLE_MS, move || {
            settled.try_set(true);
        })));
    let video = NodeRef::<html::Video>::new();
    // Plays a new picture unseen until it decodes, then covers the main element while that
    // switches to it: no frozen or black frame when the picture's source moves.
    let standby = NodeRef::<html::Video>::new();
    let covering = RwSignal::new(false);
    let uncover = StoredValue::new_local(None::<platform::timer::Timer>);
    let frame = NodeRef::<html::Div>::new();
    let zoom = RwSignal::new(1.0_f64);
    let pan = RwSignal::new((0.0_f64, 0.0_f64));
    let drag = StoredValue::new(None::<(f64, f64, f64, f64)>);
    let show_stats = RwSignal::new(true);
    let bump = RwSignal::new(0u32);
    let esc = StoredValue::new(EscEsc::default());
    let is_controller = entry.role == Role::Controller;

    // The main element shows the new picture: the standby steps back and lets it go.
    let end_cover = move || {
        if covering.get_untracked() {
            covering.set(false);
            uncover.set_value(None);
            if let Some(el) = standby.get_untracked() {
                media::attach(&el, None);
            }
        }
    };
    Effect::new(move |_| {
        let next = view.next.get();
        if let Some(el) = standby.get() {
            if next.is_some() || !covering.get_untracked() {
                media::attach(&el, next.as_ref());
            }
        }
    });
    Effect::new(move |_| {
        let stream = view.stream.get();
        let Some(el) = video.get() else { return };
        let warm = standby.get_untracked().filter(|s| {
            matches!((s.src_object(), &stream), (Some(a), Some(b)) if js_sys::Object::is(&a, b))
        });
        if warm.is_some() {
            // The standby already shows frames of it: it covers the switch.
            covering.set(true);
            uncover.set_value(Some(platform::timer::Timer::after(2_000, end_cover)));
        }
        media::attach(&el, stream.as_ref());
    });
    let with_rt = move |f: &dyn Fn(&GuestRuntime)| {
        runtime.with_value(|rt| {
            if let Some(rt) = rt {
                f(rt);
            }
        });
    };
    let granted = move || view.control.get() == ControlState::Granted;
    // Take the keyboard as soon as control is granted.
    Effect::new(move |_| {
        if granted() {
            if let Some(el) = frame.get() {
                platform::dom::focus(&el);
            }
        }
    });

    // Where a client point falls on the shared surface, through letterbox, zoom and pan.
    let to_surface = move |x: f64, y: f64| -> Option<(f64, f64)> {
        let el = frame.get_untracked()?;
        let v = video.get_untracked()?;
        let (bx, by, bw, bh) = platform::dom::rect(&el);
        let (vw, vh) = media::video_size(&v);
        let layout = VideoLayout {
            box_x: bx,
            box_y: by,
            box_w: bw,
            box_h: bh,
            video_w: f64::from(vw),
            video_h: f64::from(vh),
        };
        let (pan_x, pan_y) = pan.get_untracked();
        layout.normalize(
            ViewTransform {
                zoom: zoom.get_untracked(),
                pan_x,
                pan_y,
            },
            x,
            y,
        )
    };
    let send = move |kind: InputKind| with_rt(&|rt| rt.input(kind.clone()));

    let set_zoom = move |z: f64| {
        let z = z.clamp(1.0, 6.0);
        zoom.set(z);
        if z == 1.0 {
            pan.set((0.0, 0.0));
        }
    };
    let on_wheel = move |ev: leptos::ev::WheelEvent| {
        let (p, dx, dy, ctrl) = platform::input::wheel(&ev);
        if granted() {
            platform::input::prevent(&ev);
            if let Some((x, y)) = to_surface(p.x, p.y) {
                send(InputKind::Wheel { x, y, dx, dy });
            }
        } else if ctrl {
            platform::input::prevent(&ev);
            set_zoom(zoom.get_untracked() * if dy < 0.0 { 1.15 } else { 1.0 / 1.15 });
        }
    };
    let on_down = move |ev: leptos::ev::PointerEvent| {
        let p = platform::input::pointer(&ev);
        if granted() {
            if let (Some((x, y)), Some(b)) = (to_surface(p.x, p.y), p.button) {
                platform::input::prevent(&ev);
                if let Some(el) = frame.get_untracked() {
                    platform::dom::focus(&el);
                }
                send(InputKind::Down { x, y, b });
            }
        } else if zoom.get_untracked() > 1.0 {
            let (px, py) = pan.get_untracked();
            drag.set_value(Some((p.x, p.y, px, py)));
        }
    };
    let on_move = move |ev: leptos::ev::PointerEvent| {
        let p = platform::input::pointer(&ev);
        if granted() {
            if let Some((x, y)) = to_surface(p.x, p.y) {
                send(InputKind::Move { x, y });
            }
        } else if let Some((x0, y0, px, py)) = drag.get_value() {
            pan.set((px + p.x - x0, py + p.y - y0));
        }
    };
    let on_up = move |ev: leptos::ev::PointerEvent| {
        drag.set_value(None);
        let p = platform::input::pointer(&ev);
        if granted() {
            if let (Some((x, y)), Some(b)) = (to_surface(p.x, p.y), p.button) {
                send(InputKind::Up { x, y, b });
            }
        }
    };
    let on_dbl = move |ev: leptos::ev::MouseEvent| {
        let p = platform::input::pointer(&ev);
        if granted() {
            if let (Some((x, y)), Some(b)) = (to_surface(p.x, p.y), p.button) {
                send(InputKind::Dbl { x, y, b });
            }
        }
    };
    let on_menu = move |ev: leptos::ev::MouseEvent| {
        if granted() {
            platform::input::prevent(&ev);
        }
    };
    let on_key_down = move |ev: leptos::ev::KeyboardEvent| {
        if !granted() {
            return;
        }
        let k = platform::input::key(&ev);
        // While focus is in the video, the browser acts on nothing the host should get.
        platform::input::prevent(&ev);
        if k.composing {
            return;
        }
        let release = k.key == "Escape"
            && !k.repeat
            && esc
                .try_update_value(|e| e.press(clock::monotonic_ms()))
                .unwrap_or(false);
        send(InputKind::KeyDown {
            key: k.key,
            code: k.code,
            m: k.mods,
            rep: k.repeat,
        });
        if release {
            with_rt(&|rt| rt.release_control());
        }
    };
    let on_key_up = move |ev: leptos::ev::KeyboardEvent| {
        if !granted() {
            return;
        }
        let k = platform::input::key(&ev);
        platform::input::prevent(&ev);
        if !k.composing {
            send(InputKind::KeyUp {
                key: k.key,
                code: k.code,
                m: k.mods,
            });
        }
    };
    let on_composed = move |ev: leptos::ev::CompositionEvent| {
        if let (true, Some(text)) = (granted(), platform::input::composed_text(&ev)) {
            send(InputKind::Text { text });
        }
    };
    let fullscreen = move |_| {
        if let Some(el) = frame.get() {
            platform::dom::toggle_fullscreen(&el);
        }
    };

    let phase = move || view.phase.get();
    // A host is there but our key cannot read it: the link's key is wrong.
    let wrong_key = move || {
        channel.signals.foreign_host.get()
            && matches!(phase(), GuestPhase::WaitingForHost | GuestPhase::NotLive)
    };
    let supported = platform::transform::TransformApi::supported();
    let final_message = move || match phase() {
        _ if !supported => Some(("error", platform::transform::UNSUPPORTED_SENTENCE)),
        _ if view.e2ee_failed.get() => Some(("error", platform::transform::FAILED_SENTENCE)),
        _ if wrong_key() => Some(("error", "Can't decrypt — check the link.")),
        GuestPhase::Full => Some(("error", "This session is full — ask the host to make room.")),
        GuestPhase::NotLive => Some((
            "error",
            "This session isn't live — the host may not have started it yet, or it has ended.",
        )),
        GuestPhase::Ended => Some(("ended", "The host ended the session.")),
        GuestPhase::HostLeft => Some(("left", "The host has left.")),
        GuestPhase::Left => Some(("you-left", "You left the session.")),
        GuestPhase::Removed => Some(("removed", "The host removed you")),
        GuestPhase::Denied => Some(("denied", "The host didn't let you in")),
        _ => None,
    };

    view! {
        {move || match final_message() {
            Some(("error", text)) if view.e2ee_failed.get() => view! {
                <ErrorBanner message=text.to_owned()/>
                <E2eeBadge state=Signal::stored("off")/>
            }
            .into_any(),
            Some(("error", text)) if wrong_key() => view! {
                <ErrorBanner message=text.to_owned()/>
                <E2eeBadge state=Signal::stored("decrypt-failed")/>
            }
            .into_any(),
            Some(("error", text)) => view! { <ErrorBanner message=text.to_owned()/> }.into_any(),
            Some((kind, text)) => view! {
                <div class="notice" data-testid="session-ended" data-reason=kind role="status">
                    <h2>{text}</h2>
                    {(kind == "you-left").then(|| view! {
                        <p>
                            <button class="primary" data-testid="rejoin-session"
                                on:click=move |_| {
                                    if let Err(err) = platform::location::reload() {
                                        leptos::logging::error!("cannot reload: {err}");
                                    }
                                }>"Rejoin"</button>
                        </p>
                    })}
                    <p><a href="/">"Go to the start page"</a></p>
                </div>
            }
            .into_any(),
            None => ().into_any(),
        }}
        <Show when=move || supported && !view.e2ee_failed.get() && !phase().is_final() && !wrong_key()>
            {if is_controller {
                view! {
                    <ControllerBar
                        state=view.control
                        agent=view.agent
                        live=Signal::derive(move || phase() == GuestPhase::Live)
                        request=move || with_rt(&|rt| rt.request_control())
                        release=move || with_rt(&|rt| rt.release_control())
                    />
                }
                .into_any()
            } else {
                // Viewers cannot ask, but what they hold is still measured and readable.
                view! {
                    <span class="sr-state">
                        "Control: "
                        <span data-testid="control-state">{move || view.control.get().as_str()}</span>
                    </span>
                }
                .into_any()
            }}
            <div
                class=move || {
                    if granted() { "viewer controlling" } else if zoom.get() > 1.0 { "viewer zoomed" } else { "viewer" }
                }
                node_ref=frame
                tabindex="0"
                aria-label="Shared screen"
                on:wheel=on_wheel
                on:pointerdown=on_down
                on:pointermove=on_move
                on:pointerup=on_up
                on:dblclick=on_dbl
                on:contextmenu=on_menu
                on:keydown=on_key_down
                on:keyup=on_key_up
                on:compositionend=on_composed
            >
                <div
                    class="zoomable"
                    style:transform=move || {
                        let (x, y) = pan.get();
                        format!(
                            "translate({}px, {}px) scale({})",
                            fixed(x, 2),
                            fixed(y, 2),
                            fixed(zoom.get(), 4)
                        )
                    }
                >
                    <video
                        node_ref=video
                        data-testid=move || if covering.get() { "remote-video-covered" } else { "remote-video" }
                        muted
                        autoplay
                        playsinline
                        on:playing=move |_| {
                            with_rt(&|rt| rt.on_playing(true));
                            // What surrounds the picture comes once its first frame is on
                            // screen, not in the layout and paint that would show it.
                            if let Some(el) = video.get_untracked().filter(|_| !settled.get_untracked()) {
                                media::after_frame_presented(&el, move || {
                                    settled.try_set(true);
                                    let _ = settle.try_set_value(None);
                                });
                            }
                        }
                        on:emptied=move |_| with_rt(&|rt| rt.on_playing(false))
                        on:resize=move |_| bump.update(|n| *n += 1)
                        on:loadeddata=move |_| {
                            if covering.get_untracked() {
                                // Presented at the next paint or two.
                                uncover.set_value(Some(platform::timer::Timer::after(50, end_cover)));
                            }
                        }
                    ></video>
                    <video
                        node_ref=standby
                        class=move || if covering.get() { "standby shown" } else { "standby" }
                        data-testid=move || if covering.get() { "remote-video" } else { "remote-video-next" }
                        muted
                        autoplay
                        playsinline
                    ></video>
                    <Surface video bump zoom=zoom.into() cursors=view.cursors/>
                </div>
                {move || {
                    let (testid, text) = match phase() {
                        GuestPhase::WaitingForHost => ("waiting", "Waiting for the host…"),
                        GuestPhase::WaitingForAdmission => {
                            ("waiting-admission", "Waiting for the host to let you in")
                        }
                        GuestPhase::WaitingForShare => {
                            ("waiting-share", "Waiting for the host to share their screen…")
                        }
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
                        _ => return None,
                    };
                    Some(view! { <div class="overlay-msg" data-testid=testid>{text}</div> })
                }}
                {move || view.media_problem.get().map(|text| view! {
                    <div class="overlay-msg" data-testid="media-problem">{text}</div>
                })}
                <Show when=move || show_stats.get() && settled.get()>
                    <StatsOverlay view/>
                </Show>
            </div>
            <Show when=move || settled.get()>
            <div class="viewer-controls">
                <span class="badge" data-testid="session-mode">{move || topology_word(view.topology.get())}</span>
                <E2eeBadge state=Signal::derive(move || {
                    if channel.signals.foreign_host.get() {
                        "decrypt-failed"
                    } else {
                        view.e2ee.get().map_or("waiting-key", |s| s.as_str())
                    }
                })/>
                <button on:click=move |_| set_zoom(zoom.get_untracked() / 1.25) aria-label="Zoom out">"−"</button>
                <span class="zoom" data-testid="zoom-level">{move || format!("{}%", fixed(zoom.get() * 100.0, 0))}</span>
                <button on:click=move |_| set_zoom(zoom.get_untracked() * 1.25) aria-label="Zoom in">"+"</button>
                <button on:click=move |_| set_zoom(1.0)>"Fit"</button>
                <button on:click=fullscreen data-testid="fullscreen">"Fullscreen"</button>
                <VoiceControls
                    voice=view.voice
                    toggle=Callback::new(move |on: bool| with_rt(&|rt| rt.set_mic(on)))
                    unblock=Callback::new(move |()| with_rt(&|rt| rt.unblock_sound()))
                />
                <button class="danger" data-testid="leave-session" on:click=move |_| with_rt(&|rt| rt.leave())>
                    "Leave"
                </button>
                <label class="inline">
                    <input type="checkbox" prop:checked=show_stats on:change=move |_| show_stats.update(|s| *s = !*s)/>
                    " Stats"
                </label>
            </div>
            </Show>
        </Show>
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

/// `session-mode`'s word.
fn topology_word(t: Topology) -> &'static str {
    match t {
        Topology::P2p => "p2p",
        Topology::Sfu => "sfu",
    }
}

/// `e2ee-state`: the word tests read, and what it means for people.
#[component]
fn E2eeBadge(state: Signal<&'static str>) -> impl IntoView {
    let label = move || match state.get() {
        "ok" => "End-to-end encrypted",
        "waiting-key" => "Waiting for the key…",
        "decrypt-failed" => "Can't decrypt — check the link",
        _ => "Not encrypted",
    };
    view! {
        <span class="badge e2ee" data-state=state title=label>
            <span data-testid="e2ee-state" class="e2ee-word">{state}</span>
            // Shown by the stylesheet only while the state is `ok`.
            {super::icons::lock()}
            <span class="e2ee-label">{label}</span>
        </span>
    }
}

#[component]
fn StatsOverlay(view: GuestSignals) -> impl IntoView {
    view! {
        <div class="stats" data-testid="stats-overlay">
            {move || match view.stats.get() {
                None => view! { <span>"Measuring…"</span> }.into_any(),
                Some(s) => view! {
                    <span class="quality-dot" data-testid="quality-dot" data-quality=s.quality.as_str()
                        title=s.quality.as_str()></span>
                    <span>{format!("{}×{}", s.width, s.height)}</span>
                    <span>{format!("{} fps", fixed(s.fps, 0))}</span>
                    <span>{format!("{} Mbps", fixed(s.bitrate_kbps / 1000.0, 1))}</span>
                    <span>{s.rtt_ms.map_or("RTT –".to_owned(), |r| format!("RTT {} ms", fixed(r, 0)))}</span>
                    <span>{format!("loss {} %", fixed(s.loss_percent, 1))}</span>
                }
                .into_any(),
            }}
        </div>
    }
}

/// `mic-toggle` (off until the person turns it on; the browser asks for the microphone only
/// then), what went wrong with it, and a way to hear the session when the browser held sound
/// back (`sound-blocked`).
#[component]
fn VoiceControls(
    voice: VoiceSignals,
    toggle: Callback<bool>,
    unblock: Callback<()>,
) -> impl IntoView {
    let on = move || voice.mic.with(|m| *m == Mic::On);
    view! {
        <button
            class="mic"
            class:on=on
            data-testid="mic-toggle"
            data-state=move || voice.mic.with(|m| m.as_str())
            aria-pressed=move || on().to_string()
            disabled=move || voice.mic.with(|m| *m == Mic::Starting)
            on:click=move |_| toggle.run(!on())
        >
            {move || if on() { "Mute" } else { "Unmute" }}
        </button>
        {move || voice.mic.with(|m| match m {
            Mic::Failed(text) => Some(view! {
                <span class="notice" data-testid="mic-problem" role="status">{text.clone()}</span>
            }),
            _ => None,
        })}
        <Show when=move || voice.blocked.get()>
            <button data-testid="sound-blocked" on:click=move |_| unblock.run(())>
                "Sound is off — click to hear the session"
            </button>
        </Show>
    }
}
