//! The PairUX browser client.
use leptos::prelude::*;

#[component]
pub fn App() -> impl IntoView {
    view! { <main>"PairUX"</main> }
}
