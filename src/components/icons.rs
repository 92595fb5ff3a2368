//! Small line icons drawn inline (SVG, `currentColor`), instead of emoji: an emoji needs a colour
//! font, and where none is installed the browser searches every font for the glyph at the page's
//! first layout (10–40 ms of a guest's main thread before its first frame, measured in a trace),
//! then draws a box anyway.

use leptos::prelude::*;

/// A padlock (the end-to-end encryption badge).
pub fn lock() -> impl IntoView {
    view! {
        <svg class="icon" viewBox="0 0 24 24" aria-hidden="true">
            <rect x="5" y="11" width="14" height="10" rx="2"></rect>
            <path d="M8 11V7a4 4 0 0 1 8 0v4"></path>
        </svg>
    }
}

/// A microphone, struck through when `on` is false.
pub fn mic(on: bool) -> impl IntoView {
    view! {
        <svg class="icon" viewBox="0 0 24 24" aria-hidden="true">
            <rect x="9" y="3" width="6" height="11" rx="3"></rect>
            <path d="M5 11a7 7 0 0 0 14 0M12 18v3"></path>
            {(!on).then(|| view! { <path d="M4 4l16 16"></path> })}
        </svg>
    }
}
