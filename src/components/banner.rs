//! The error banner: one sentence a person understands, and a way on.

use leptos::prelude::*;

#[component]
pub fn ErrorBanner(#[prop(into)] message: Signal<String>) -> impl IntoView {
    view! {
        <div class="banner banner-error" role="alert" data-testid="error-banner">
            <span class="banner-icon" aria-hidden="true"></span>
            <span>{message}</span>
        </div>
    }
}
