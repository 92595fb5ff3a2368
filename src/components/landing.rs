//! `/`: start a session as host, or join one with a pasted link.

use leptos::prelude::*;
use pairux_core::link::GENERATE_RANDOM_LEN;
use pairux_core::session::StartMode;
use pairux_core::SessionLink;

use super::ErrorBanner;
use crate::platform::{self, media};
use crate::state::{AppState, SessionEntry};

#[component]
pub fn Landing() -> impl IntoView {
    let state = AppState::expect();
    // Told before sharing: a browser that cannot encrypt media end to end cannot host.
    let supported = platform::transform::TransformApi::supported();
    let error =
        RwSignal::new((!supported).then(|| platform::transform::UNSUPPORTED_SENTENCE.to_owned()));
    let busy = RwSignal::new(!supported);
    let mode = RwSignal::new(StartMode::default());
    // Whether this server has a video server: without one the SFU route cannot be picked (the
    // session would go direct without a word).
    let sfu_here = RwSignal::new(None::<bool>);
    leptos::task::spawn_local(async move {
        if let Ok(config) = platform::fetch::config().await {
            let here = config.sfu.is_some();
            if !here && mode.try_get_untracked() == Some(StartMode::Sfu) {
                mode.try_set(StartMode::Auto);
            }
            sfu_here.try_set(Some(here));
        }
    });
    let unavailable = move |m: StartMode| m == StartMode::Sfu && sfu_here.get() == Some(false);
    // `/?pattern=code`, read once: the legibility benchmark shares the code pages
    // (bench/legibility.mjs); nobody else sees the button.
    let code_pages = platform::location::query_param("pattern").as_deref() == Some("code");

    let open = move |entry: SessionEntry| state.enter(entry);

    // One click: pick what to share, then the session exists. Options never block it.
    let host_with = move |source: Source| {
        let mut random = [0u8; GENERATE_RANDOM_LEN];
        if let Err(err) = platform::random::fill(&mut random) {
            error.set(Some(format!(
                "This browser could not create a secure session ({err})."
            )));
            return;
        }
        busy.set(true);
        leptos::task::spawn_local(async move {
            let capture = match source {
                Source::Screen => media::capture_screen().await,
                Source::TestPattern => media::capture_test_pattern().await,
                Source::CodePages => media::capture_code_page().await,
            };
            busy.set(false);
            match capture {
                Ok(capture) => {
                    state.capture.set_value(Some(capture));
                    let (link, host) = SessionLink::generate(&random);
                    open(SessionEntry::host(link, host, mode.get_untracked()));
                }
                Err(err) => error.set(Some(format!(
                    "Nothing is shared yet: the screen picker was closed or refused ({err})."
                ))),
            }
        });
    };

    let pasted = RwSignal::new(String::new());
    let join = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        match SessionLink::parse_href(&pasted.get_untracked()) {
            Ok(link) => open(SessionEntry::guest(link)),
            Err(err) => error.set(Some(err.user_message().to_owned())),
        }
    };

    view! {
        <section class="hero">
            <h1>"Pair on one screen, from anywhere."</h1>
            <p class="lede">
                "Share your screen with a link. Your partner sees it in a second, asks for control, "
                "and drives — encrypted end to end."
            </p>
        </section>
        <Show when=move || error.get().is_some()>
            <ErrorBanner message=Signal::derive(move || error.get().unwrap_or_default())/>
        </Show>
        <div class="choices">
            <section class="card">
                <h2>"Host"</h2>
                <p>"Share a screen, window or tab and invite people with a link."</p>
                <div class="row">
                    <button
                        class="primary"
                        data-testid="start-session"
                        disabled=move || busy.get()
                        on:click=move |_| host_with(Source::Screen)
                    >
                        "Start session"
                    </button>
                    <button
                        data-testid="start-test-pattern"
                        disabled=move || busy.get()
                        on:click=move |_| host_with(Source::TestPattern)
                        title="Shares a moving test image instead of your screen, to check a connection"
                    >
                        "Share a test pattern"
                    </button>
                    {code_pages.then(|| view! {
                        <button
                            data-testid="start-code-pattern"
                            disabled=move || busy.get()
                            on:click=move |_| host_with(Source::CodePages)
                            title="Shares pages of source code (the legibility benchmark)"
                        >
                            "Share code pages"
                        </button>
                    })}
                </div>
                <fieldset class="modes">
                    <legend>"Video route"</legend>
                    {[
                        (StartMode::Auto, "mode-auto", "Auto", "Direct for small sessions; the server decides when to switch"),
                        (StartMode::P2p, "mode-p2p", "Direct (P2P)", "Your browser sends to each person: lowest latency, a handful of people"),
                        (StartMode::Sfu, "mode-sfu", "Video server (SFU)", "Your browser sends once; the server fans out to many"),
                    ]
                        .into_iter()
                        .map(|(m, testid, label, title)| view! {
                            <label
                                class="inline"
                                title=move || if unavailable(m) {
                                    "This server has no video server: sessions here go direct"
                                } else {
                                    title
                                }
                            >
                                <input
                                    type="radio"
                                    name="mode"
                                    data-testid=testid
                                    disabled=move || unavailable(m)
                                    // The attribute too, for what reads the markup.
                                    checked=move || mode.get() == m
                                    prop:checked=move || mode.get() == m
                                    on:change=move |_| mode.set(m)
                                />
                                " " {label}
                            </label>
                        })
                        .collect_view()}
                </fieldset>
            </section>
            <section class="card">
                <h2>"Your name"</h2>
                <p>"What others see next to your cursor and in the list. Optional; kept on this device only."</p>
                <input
                    type="text"
                    data-testid="display-name"
                    aria-label="Your name"
                    maxlength=super::guest::MAX_NAME_CHARS_ATTR
                    autocomplete="nickname"
                    placeholder="e.g. Ada"
                    value=platform::storage::remembered_name().unwrap_or_default()
                    on:change=move |ev| {
                        platform::storage::remember_name(&event_target_value(&ev));
                    }
                />
            </section>
            <section class="card">
                <h2>"Join"</h2>
                <form on:submit=join>
                    <label for="join-link">"Session link"</label>
                    <div class="row">
                        <input
                            id="join-link"
                            type="text"
                            inputmode="url"
                            autocomplete="off"
                            spellcheck="false"
                            placeholder="https://…/s/…#k=…"
                            data-testid="join-link-input"
                            bind:value=pasted
                        />
                        <button type="submit" data-testid="join-link">"Join with a link"</button>
                    </div>
                </form>
            </section>
        </div>
    }
}

#[derive(Clone, Copy)]
enum Source {
    Screen,
    TestPattern,
    CodePages,
}
