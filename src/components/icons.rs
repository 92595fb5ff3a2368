//! Small line icons drawn inline (SVG, `currentColor`), instead of emoji: an emoji needs a colour
//! font, and where none is installed the browser searches every font for the glyph at the page's
//! first layout (10–40 ms of a guest's main thread before its first frame, measured in a trace),
//! then draws a box anyway. Each icon is a constant string of markup (never data from anyone):
//! as Leptos views, with their attributes typed one by one, the three cost ~1.7 KB of gzipped
//! wasm.

use crate::platform::el::{el, El};

const LOCK: &str = r#"<svg class="icon" viewBox="0 0 24 24" aria-hidden="true"><rect x="5" y="11" width="14" height="10" rx="2"/><path d="M8 11V7a4 4 0 0 1 8 0v4"/></svg>"#;
const MIC: &str = r#"<svg class="icon" viewBox="0 0 24 24" aria-hidden="true"><rect x="9" y="3" width="6" height="11" rx="3"/><path d="M5 11a7 7 0 0 0 14 0M12 18v3"/></svg>"#;
const MIC_OFF: &str = r#"<svg class="icon" viewBox="0 0 24 24" aria-hidden="true"><rect x="9" y="3" width="6" height="11" rx="3"/><path d="M5 11a7 7 0 0 0 14 0M12 18v3M4 4l16 16"/></svg>"#;

/// A padlock (the end-to-end encryption badge).
pub fn lock() -> El {
    el("span").class("icon-box").markup(LOCK)
}

/// A microphone, struck through when `on` is false.
pub fn mic(on: bool) -> El {
    el("span")
        .class("icon-box")
        .markup(if on { MIC } else { MIC_OFF })
}
