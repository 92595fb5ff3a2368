//! UI components. They read signals and call actions; they never call web-sys directly.

mod banner;
mod control;
mod guest;
mod icons;
mod landing;
mod session;
mod stage;

use leptos::prelude::*;

use crate::platform;
use crate::state::{opened_from_location, page_for_path, AppState, Opened, Page};

pub use banner::ErrorBanner;

/// The full app: every page and role. index.html's loader starts it for the landing page, a
/// host's session and any path that is not a session; a guest's session page gets the guest
/// app ([`start_guest_app`]).
#[component]
pub fn App() -> impl IntoView {
    shell()
}

/// Starts the guest app. A guest's session page joins before it is drawn ([`crate::boot`]):
/// its channel and runtime start now, under a root that the page, once mounted, is a child
/// of (so it finds them, and the page's state, in context); any other page mounts at once.
pub fn start_guest_app() {
    // Effects and tasks made before the mount need Leptos's executor (the mount starts it too,
    // and a second start is a no-op).
    let _ = any_spawner::Executor::init_wasm_bindgen();
    let root = Owner::new();
    let head_start = root.with(|| {
        let state = open_page();
        let entry = match (state.opened.get_untracked(), state.page.get_untracked()) {
            (Opened::Session(entry), Page::Session { id })
                if entry.role != pairux_core::Role::Host
                    && entry.link.session.to_string() == id
                    && platform::transform::TransformApi::supported() =>
            {
                entry
            }
            _ => return false,
        };
        stage::GuestSetup::head_start(&entry);
        true
    });
    let mount = move || {
        root.with(|| {
            let state = use_context::<AppState>().unwrap_or_else(open_page);
            platform::el::mount_to_body(&guest::guest_app(state));
        });
        // The root lives as long as the page.
        std::mem::forget(root);
    };
    if head_start {
        crate::boot::draw_when_ready(mount);
    } else {
        mount();
    }
}

/// The full app's root: the page's state, routes.
///
/// Two routes do not need a router crate: the page is a signal set from the path at start,
/// by [`AppState::enter`] and on back/forward.
fn shell() -> impl IntoView {
    let state = open_page();
    view! {
            <div class="app">
                <header class="topbar">
                    <a class="brand" href="/">
                        <span class="brand-mark" aria-hidden="true"></span>
                        "PairUX"
                    </a>
                </header>
                <main class="content">
                    {move || state.link_ignored.get().then(|| drawn(move || guest::link_ignored(state)))}
                    {move || match state.page.get() {
                        Page::Landing => view! { <landing::Landing/> }.into_any(),
                        Page::Session { id } => view! { <session::SessionPage id/> }.into_any(),
                        Page::NotFound => drawn(guest::not_found),
                    }}
                </main>
            </div>
    }
}

/// Reads (and scrubs) the opened link, provides the page's state, and follows back/forward and
/// fragments pasted into the address bar.
fn open_page() -> AppState {
    let opened = read_address_bar();
    if let Opened::Session(entry) = &opened {
        entry.remember();
    }
    let state = AppState::new(opened, page_for_path(&current_path()));
    provide_context(state);
    // Only a new path is a new page: a fragment change fires `popstate` too, and setting the
    // same page again would draw the session anew (a host's would lose its capture).
    platform::el::on_window("popstate", move |_| {
        platform::el::set_if_changed(state.page, page_for_path(&current_path()));
    });
    // A fragment typed or pasted into the address bar of an open page reloads nothing. It is
    // scrubbed at once; it may open a session only where none is open, so a `hashchange` can
    // never move a tab that is in a session into another session or another role. Once the
    // tab's session is over for it (it left, was removed, the host ended, or the link it
    // opened did not work), a pasted link opens: the tab loads again with it.
    platform::el::on_window("hashchange", move |_| {
        let next = read_address_bar();
        if matches!(state.opened.get_untracked(), Opened::Session(_)) {
            if !state.session_over.get_untracked() {
                state.link_ignored.set(true);
                return;
            }
            if let Opened::Session(entry) = &next {
                if entry.remember() {
                    if let Err(err) = platform::location::reload() {
                        leptos::logging::error!("cannot open the link: {err}");
                    }
                    return;
                }
            }
        }
        if let Opened::Session(entry) = &next {
            entry.remember();
        }
        if let opened @ (Opened::Session(_) | Opened::Refused { .. }) = next {
            state.opened.set(opened);
        }
    });
    state
}

/// A part drawn by [`platform::el`] ([`guest`]) inside a Leptos view: `build` makes it now,
/// under the calling owner and untracked (like a component), and it goes in its place once
/// that is in the page.
pub(crate) fn drawn(build: impl FnOnce() -> platform::el::El) -> AnyView {
    let part = untrack(build);
    let slot = NodeRef::<leptos::html::Div>::new();
    // Its only content: Leptos keeps a slot of the same type when the view around it is
    // made again, and the part it held then has gone with its owner.
    slot.on_load(move |div| part.fill(&div));
    view! { <div class="contents" node_ref=slot></div> }.into_any()
}

/// What the address bar holds, its secrets removed from it.
fn read_address_bar() -> Opened {
    match platform::location::take_opened_at() {
        Ok(at) => opened_from_location(&at.path, &at.fragment, || {
            crate::state::SessionEntry::remembered(&at.path)
        }),
        Err(err) => {
            leptos::logging::error!("cannot read the address bar: {err}");
            Opened::Nothing
        }
    }
}

fn current_path() -> String {
    platform::location::path().unwrap_or_else(|_| "/".to_owned())
}
