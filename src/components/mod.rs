//! UI components. They read signals and call actions; they never call web-sys directly.

mod banner;
mod landing;
mod session;

use leptos::prelude::*;
use leptos_router::components::{Route, Router, Routes};
use leptos_router::path;

use crate::platform;
use crate::state::{opened_from_location, AppState, Opened};

pub use banner::ErrorBanner;

/// The app root: reads (and scrubs) the opened link once, provides state, routes.
#[component]
pub fn App() -> impl IntoView {
    let state = AppState::new(read_address_bar());
    provide_context(state);
    // A link pasted into the address bar of an open session page changes only the fragment,
    // which reloads nothing: read (and scrub) it again.
    let _ = window_event_listener(leptos::ev::hashchange, move |_| {
        if let opened @ (Opened::Session(_) | Opened::Refused { .. }) = read_address_bar() {
            state.opened.set(opened);
        }
    });
    view! {
        <Router>
            <div class="app">
                <header class="topbar">
                    <a class="brand" href="/">
                        <span class="brand-mark" aria-hidden="true"></span>
                        "PairUX"
                    </a>
                </header>
                <main class="content">
                    <Routes fallback=|| view! { <NotFound/> }>
                        <Route path=path!("/") view=landing::Landing/>
                        <Route path=path!("/s/:id") view=session::SessionPage/>
                    </Routes>
                </main>
            </div>
        </Router>
    }
}

/// What the address bar holds, its secrets removed from it.
fn read_address_bar() -> Opened {
    match platform::location::take_opened_at() {
        Ok(at) => opened_from_location(&at.path, &at.fragment),
        Err(err) => {
            leptos::logging::error!("cannot read the address bar: {err}");
            Opened::Nothing
        }
    }
}

#[component]
fn NotFound() -> impl IntoView {
    view! {
        <section class="card narrow">
            <h1>"Nothing here"</h1>
            <p>"This page does not exist. " <a href="/">"Go to the start page"</a> "."</p>
        </section>
    }
}
