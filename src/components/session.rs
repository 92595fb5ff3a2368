//! `/s/<id>`: the session page. Shows the session for a usable link, a clear banner otherwise.

use leptos::prelude::*;
use pairux_core::{LinkError, Role, SessionId};

use super::ErrorBanner;
use crate::platform;
use crate::state::{AppState, Opened, SessionEntry};

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
        Err(error) => view! {
            <section class="card narrow">
                <ErrorBanner message=error.user_message().to_owned()/>
                <p><a href="/">"Go to the start page"</a></p>
            </section>
        }
        .into_any(),
    }
}

#[component]
fn SessionView(entry: SessionEntry) -> impl IntoView {
    let role = entry.role;
    view! {
        <section class="session" data-role=role.as_str()>
            <div class="session-head">
                <h1>{match role {
                    Role::Host => "Your session",
                    Role::Controller => "Joined as controller",
                    Role::Viewer => "Joined as viewer",
                }}</h1>
                <span class="role-chip">{role.as_str()}</span>
            </div>
            {(role == Role::Host).then(|| view! { <InviteLinks entry=entry.clone()/> })}
        </section>
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
            <CopyLink label="Invite controllers" hint="Can ask for control" testid="invite-controller-link" url=controller/>
            <CopyLink label="Invite viewers" hint="View only" testid="invite-viewer-link" url=viewer/>
        </div>
    }
}

/// A read-only link with a copy button that confirms the copy.
#[component]
fn CopyLink(
    label: &'static str,
    hint: &'static str,
    testid: &'static str,
    url: String,
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
                <input id=input_id readonly data-testid=testid value=url/>
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
