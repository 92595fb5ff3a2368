//! The middle of the session page: the host's preview and controls, or a participant's view
//! of the shared screen with fit, zoom, fullscreen and the stats overlay.

use leptos::html;
use leptos::prelude::*;
use pairux_core::session::{GuestPhase, Quality, ShareState};

use super::ErrorBanner;
use crate::platform::{self, media};
use crate::realtime::SessionChannel;
use crate::session::guest::{GuestRuntime, GuestSignals};
use crate::session::host::{HostRuntime, HostSignals};
use crate::state::AppState;

/// Host: local preview, share state, quality, end.
#[component]
pub fn HostStage(me: String, channel: SessionChannel) -> impl IntoView {
    let state = AppState::expect();
    let view = HostSignals::new();
    let runtime = StoredValue::new_local(None::<HostRuntime>);
    let preview = NodeRef::<html::Video>::new();
    let error = RwSignal::new(None::<String>);

    // The capture made by the click on the landing page, if any.
    let first_capture = state.capture.try_update_value(Option::take).flatten();
    let first_capture = StoredValue::new_local(first_capture);
    Effect::new(move |_| {
        let Some(config) = channel.config.get() else {
            return;
        };
        if runtime.with_value(Option::is_some) {
            return;
        }
        let capture = first_capture.try_update_value(Option::take).flatten();
        let rt = HostRuntime::start(me.clone(), config, channel, capture, view);
        runtime.set_value(Some(rt));
    });
    Effect::new(move |_| {
        let roster = channel.signals.roster.read();
        let people = roster.participants();
        runtime.with_value(|rt| {
            if let Some(rt) = rt {
                rt.on_roster(&people);
            }
        });
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
    let end = move |_| {
        runtime.with_value(|rt| {
            if let Some(rt) = rt {
                rt.end();
            }
        });
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
            <Show when=move || error.get().is_some()>
                <ErrorBanner message=Signal::derive(move || error.get().unwrap_or_default())/>
            </Show>
            <div class="preview-wrap">
                <video
                    node_ref=preview
                    class="preview"
                    data-testid="local-preview"
                    muted
                    autoplay
                    playsinline
                    aria-label="What you are sharing"
                ></video>
                <Show when=move || view.share.get() == ShareState::Paused>
                    <div class="paused-overlay">
                        <p>"Sharing is paused — nobody sees your screen."</p>
                        <button class="primary" data-testid="share-again" on:click=share_again>
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
                <span class="badge" data-testid="session-mode">"p2p"</span>
                <button class="danger" data-testid="end-session" on:click=end>"End session"</button>
            </div>
        </Show>
    }
}

/// Viewer or controller: the shared screen, fit to the window, with zoom/pan and stats.
#[component]
pub fn GuestStage(me: String, channel: SessionChannel) -> impl IntoView {
    let view = GuestSignals::new();
    let runtime = StoredValue::new_local(None::<GuestRuntime>);
    let video = NodeRef::<html::Video>::new();
    let frame = NodeRef::<html::Div>::new();
    let zoom = RwSignal::new(1.0_f64);
    let pan = RwSignal::new((0.0_f64, 0.0_f64));
    let drag = StoredValue::new(None::<(f64, f64, f64, f64)>);
    let show_stats = RwSignal::new(true);

    Effect::new(move |_| {
        let Some(config) = channel.config.get() else {
            return;
        };
        if runtime.with_value(Option::is_none) {
            runtime.set_value(Some(GuestRuntime::start(me.clone(), config, channel, view)));
        }
    });
    Effect::new(move |_| {
        let roster = channel.signals.roster.read();
        let people = roster.participants();
        runtime.with_value(|rt| {
            if let Some(rt) = rt {
                rt.on_roster(&people);
            }
        });
    });
    Effect::new(move |_| {
        let stream = view.stream.get();
        if let Some(el) = video.get() {
            media::attach(&el, stream.as_ref());
        }
    });
    let playing = move |on: bool| {
        runtime.with_value(|rt| {
            if let Some(rt) = rt {
                rt.on_playing(on);
            }
        });
    };

    let set_zoom = move |z: f64| {
        let z = z.clamp(1.0, 6.0);
        zoom.set(z);
        if z == 1.0 {
            pan.set((0.0, 0.0));
        }
    };
    let on_wheel = move |ev: leptos::ev::WheelEvent| {
        if ev.ctrl_key() {
            ev.prevent_default();
            set_zoom(zoom.get_untracked() * if ev.delta_y() < 0.0 { 1.15 } else { 1.0 / 1.15 });
        }
    };
    let on_down = move |ev: leptos::ev::PointerEvent| {
        if zoom.get_untracked() > 1.0 {
            let (px, py) = pan.get_untracked();
            let (x, y) = platform::dom::client_xy(&ev);
            drag.set_value(Some((x, y, px, py)));
        }
    };
    let on_move = move |ev: leptos::ev::PointerEvent| {
        if let Some((x0, y0, px, py)) = drag.get_value() {
            let (x, y) = platform::dom::client_xy(&ev);
            pan.set((px + x - x0, py + y - y0));
        }
    };
    let on_up = move |_| drag.set_value(None);
    let fullscreen = move |_| {
        if let Some(el) = frame.get() {
            platform::dom::toggle_fullscreen(&el);
        }
    };

    let phase = move || view.phase.get();
    let final_message = move || match phase() {
        GuestPhase::Full => Some(("error", "This session is full — ask the host to make room.")),
        GuestPhase::NotLive => Some((
            "error",
            "This session isn't live — the host may not have started it yet, or it has ended.",
        )),
        GuestPhase::Ended => Some(("ended", "The host ended the session.")),
        GuestPhase::HostLeft => Some(("left", "The host has left.")),
        _ => None,
    };

    view! {
        {move || match final_message() {
            Some(("error", text)) => view! { <ErrorBanner message=text.to_owned()/> }.into_any(),
            Some((kind, text)) => view! {
                <div class="notice" data-testid="session-ended" data-reason=kind role="status">
                    <h2>{text}</h2>
                    <p><a href="/">"Go to the start page"</a></p>
                </div>
            }
            .into_any(),
            None => ().into_any(),
        }}
        <Show when=move || !phase().is_final()>
            <div
                class=move || { if zoom.get() > 1.0 { "viewer zoomed" } else { "viewer" } }
                node_ref=frame
                on:wheel=on_wheel
                on:pointerdown=on_down
                on:pointermove=on_move
                on:pointerup=on_up
                on:pointerleave=on_up
            >
                <video
                    node_ref=video
                    data-testid="remote-video"
                    muted
                    autoplay
                    playsinline
                    on:playing=move |_| playing(true)
                    on:emptied=move |_| playing(false)
                    style:transform=move || {
                        let (x, y) = pan.get();
                        format!("translate({x}px, {y}px) scale({})", zoom.get())
                    }
                ></video>
                {move || {
                    let (testid, text) = match phase() {
                        GuestPhase::WaitingForHost => ("waiting", "Waiting for the host…"),
                        GuestPhase::Connecting => ("connecting", "Connecting to the host…"),
                        GuestPhase::Paused => ("share-paused", "The host paused sharing"),
                        _ => return None,
                    };
                    Some(view! { <div class="overlay-msg" data-testid=testid>{text}</div> })
                }}
                <Show when=move || show_stats.get()>
                    <StatsOverlay view/>
                </Show>
            </div>
            <div class="viewer-controls">
                <span class="badge" data-testid="session-mode">"p2p"</span>
                <button on:click=move |_| set_zoom(zoom.get_untracked() / 1.25) aria-label="Zoom out">"−"</button>
                <span class="zoom" data-testid="zoom-level">{move || format!("{:.0}%", zoom.get() * 100.0)}</span>
                <button on:click=move |_| set_zoom(zoom.get_untracked() * 1.25) aria-label="Zoom in">"+"</button>
                <button on:click=move |_| set_zoom(1.0)>"Fit"</button>
                <button on:click=fullscreen data-testid="fullscreen">"Fullscreen"</button>
                <label class="inline">
                    <input type="checkbox" prop:checked=show_stats on:change=move |_| show_stats.update(|s| *s = !*s)/>
                    " Stats"
                </label>
            </div>
        </Show>
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
                    <span>{format!("{:.0} fps", s.fps)}</span>
                    <span>{format!("{:.1} Mbps", s.bitrate_kbps / 1000.0)}</span>
                    <span>{s.rtt_ms.map_or("RTT –".to_owned(), |r| format!("RTT {r:.0} ms"))}</span>
                    <span>{format!("loss {:.1} %", s.loss_percent)}</span>
                }
                .into_any(),
            }}
        </div>
    }
}
